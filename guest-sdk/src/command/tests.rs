//! The command layer against the mock: triggers, arguments, aliases,
//! help, permissions and cooldowns.

use std::time::Duration;

use super::*;
use crate::testing::{self, MockHost, SELF_QQ};

/// What the commands touched.
#[derive(Default)]
struct Log {
    banned: Vec<(u64, u64)>,
}

fn commands() -> Commands<Log> {
    Commands::new()
        .prefixes(["/", "!"])
        .command(
            Command::new("roll", "Roll a die")
                .alias("r")
                .arg(Arg::uint("sides").optional())
                .cooldown(Duration::from_secs(10))
                .run(|_: &mut Log, call| {
                    Some(Decision::reply(format!(
                        "d{}",
                        call.uint("sides").unwrap_or(6)
                    )))
                }),
        )
        .command(
            Command::new("ban", "Mute a member")
                .arg(Arg::qq("member"))
                .arg(Arg::uint("minutes").optional())
                .permission(Permission::Admin)
                .run(|log: &mut Log, call| {
                    let (who, mins) = (call.qq("member")?, call.uint("minutes").unwrap_or(10));
                    log.banned.push((who, mins));
                    Some(Decision::reply(format!("banned {who} for {mins}")))
                }),
        )
        .command(
            Command::new("say", "Say something")
                .arg(Arg::int("times"))
                .arg(Arg::rest("text"))
                .permission(Permission::Owner)
                .run(|_: &mut Log, call| {
                    Some(Decision::reply(format!(
                        "{}×{}",
                        call.text("text")?,
                        call.int("times")?
                    )))
                }),
        )
        .command(
            Command::new("reload", "Reload")
                .permission(Permission::Operator)
                .run(|_: &mut Log, _| Some(Decision::reply("reloaded"))),
        )
}

fn reply(d: Option<Decision>) -> Option<String> {
    d.and_then(|d| d.reply)
}

fn group(text: &str) -> Message {
    testing::group_message(555, 10002, "Bob", text)
}

#[test]
fn prefixes_aliases_and_typed_arguments() {
    let _mock = MockHost::new();
    let mut c = commands();
    let mut log = Log::default();
    assert_eq!(
        reply(c.handle(&mut log, &group("/roll 20"))),
        Some("d20".into())
    );
    assert_eq!(
        reply(c.handle(&mut log, &testing::group_message(555, 3, "c", "!R"))),
        Some("d6".into())
    );
    assert_eq!(
        reply(c.handle(&mut log, &testing::group_message(555, 4, "d", "/ROLL x"))),
        Some("/roll: sides must be a whole number ≥ 0, not \"x\" — usage: /roll [sides]".into())
    );
    // Not a command, or one nobody declared: passed on.
    assert_eq!(c.handle(&mut log, &group("roll 20")), None);
    assert_eq!(c.handle(&mut log, &group("/dance")), None);
    assert_eq!(c.handle(&mut log, &group("/")), None);
}

#[test]
fn a_mention_of_the_account_starts_a_command_without_prefix() {
    let mock = MockHost::new();
    let mut c = commands();
    let mut log = Log::default();
    let msg = group("@小灰 roll 8");
    assert_eq!(c.handle(&mut log, &msg), None, "no mention known yet");
    mock.mentioning_me(&msg);
    assert_eq!(reply(c.handle(&mut log, &msg)), Some("d8".into()));
    // With a prefix after the mention too.
    let msg = testing::group_message(555, 7, "e", "@小灰 /roll 4");
    mock.mentioning_me(&msg);
    assert_eq!(reply(c.handle(&mut log, &msg)), Some("d4".into()));
}

#[test]
fn permissions_follow_the_role_and_the_operators() {
    let mock = MockHost::new();
    let mut c = commands();
    let mut log = Log::default();
    let ban = |role: Option<MemberRole>| {
        let msg = group("/ban @Carol 5");
        mock.mentioning(&msg, 10003);
        if let Some(r) = role {
            mock.with_role(&msg, r);
        }
        msg
    };
    assert_eq!(
        reply(c.handle(&mut log, &ban(Some(MemberRole::Member)))),
        Some("/ban: for group admins and the owner only".into())
    );
    assert!(log.banned.is_empty());
    assert_eq!(
        reply(c.handle(&mut log, &ban(Some(MemberRole::Admin)))),
        Some("banned 10003 for 5".into())
    );
    assert_eq!(
        reply(c.handle(&mut log, &ban(Some(MemberRole::Owner)))),
        Some("banned 10003 for 5".into())
    );
    // No role (a private chat): refused.
    assert_eq!(
        reply(c.handle(&mut log, &testing::friend_message(10002, "Bob", "/ban 1"))),
        Some("/ban: for group admins and the owner only".into())
    );
    // The owner's command: an admin is refused.
    let say = group("/say 2 hello  world");
    mock.with_role(&say, MemberRole::Admin);
    assert_eq!(
        reply(c.handle(&mut log, &say)),
        Some("/say: for the group's owner only".into())
    );
    mock.with_role(&say, MemberRole::Owner);
    assert_eq!(
        reply(c.handle(&mut log, &say)),
        Some("hello  world×2".into())
    );
    // Operators, from the config: every check passes; others are refused.
    let config = Config::new(vec![("operators.0".into(), "10002".into())]);
    let mut c = commands().configure(&config).unwrap();
    assert_eq!(
        reply(c.handle(&mut log, &group("/reload"))),
        Some("reloaded".into())
    );
    assert_eq!(
        reply(c.handle(&mut log, &testing::friend_message(10002, "Bob", "/ban 9"))),
        Some("banned 9 for 10".into())
    );
    assert_eq!(
        reply(c.handle(&mut log, &testing::group_message(555, 1, "x", "/reload"))),
        Some("/reload: for the bot's operators only".into())
    );
}

#[test]
fn cooldowns_are_per_sender_on_the_gateway_clock() {
    let mock = MockHost::new();
    let mut c = commands();
    let mut log = Log::default();
    assert_eq!(
        reply(c.handle(&mut log, &group("/roll"))),
        Some("d6".into())
    );
    mock.set_now_ms(mock.now_ms() + 3_500);
    assert_eq!(
        reply(c.handle(&mut log, &group("/r 3"))),
        Some("/roll: again in 7 s".into())
    );
    // Someone else is not held back.
    assert_eq!(
        reply(c.handle(&mut log, &testing::group_message(555, 9, "z", "/roll"))),
        Some("d6".into())
    );
    mock.set_now_ms(mock.now_ms() + 6_500);
    assert_eq!(
        reply(c.handle(&mut log, &group("/roll 2"))),
        Some("d2".into())
    );
    // A wrong argument does not start the cooldown.
    mock.set_now_ms(mock.now_ms() + 60_000);
    assert!(reply(c.handle(&mut log, &group("/roll x"))).is_some_and(|r| r.contains("usage")));
    assert_eq!(
        reply(c.handle(&mut log, &group("/roll 3"))),
        Some("d3".into())
    );
}

#[test]
fn help_is_generated_from_the_declarations() {
    let _mock = MockHost::new();
    let mut c = commands();
    let mut log = Log::default();
    let all = reply(c.handle(&mut log, &group("/help"))).expect("help");
    assert_eq!(
        all,
        "Commands:\n\
         /roll [sides] — Roll a die (also /r)\n\
         /ban <@member> [minutes] — Mute a member (admins)\n\
         /say <times> <text…> — Say something (owner)\n\
         /reload — Reload (operators)\n\
         /help [command] — this list, or one command"
    );
    assert_eq!(
        reply(c.handle(&mut log, &group("/help /r"))),
        Some("/roll [sides] — Roll a die\nalso: /r\nonce every 10 s per person".into())
    );
    let mut quiet = commands().without_help();
    assert_eq!(quiet.handle(&mut log, &group("/help")), None);
}

#[test]
fn configure_reads_prefixes_and_operator_strings() {
    let _mock = MockHost::new();
    let config = Config::new(vec![
        ("prefix".into(), "# ！".into()),
        ("operators".into(), "1, 2 3".into()),
    ]);
    let mut c = commands().configure(&config).unwrap();
    let mut log = Log::default();
    assert_eq!(
        reply(c.handle(&mut log, &group("#roll 2"))),
        Some("d2".into())
    );
    assert_eq!(c.handle(&mut log, &group("/roll 2")), None);
    assert_eq!(c.operators, [1, 2, 3]);
    let bad = Config::new(vec![("operators.0".into(), "x".into())]);
    assert!(commands().configure(&bad).is_err());
    // Bare commands from friends when asked.
    let mut c = commands().bare_in_private(true);
    assert_eq!(
        reply(c.handle(&mut log, &testing::friend_message(5, "f", "roll 9"))),
        Some("d9".into())
    );
    assert_eq!(c.handle(&mut log, &group("roll 9")), None);
    let _ = SELF_QQ;
}
