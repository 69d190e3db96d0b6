//! `toolbox`: a few chat commands, written with the SDK's command layer.
//!
//! - `/roll [sides]` (alias `/r`): a die, at most once every 10 s per person;
//! - `/add <a> <b>`: whole numbers, possibly negative;
//! - `/warn <@member> [reason…]`: group admins and the owner only; counts
//!   each member's warnings in the KV;
//! - `/who`: what the gateway says the message addresses (role, mentions,
//!   @me, @all, the quoted message);
//! - `/ops`: the bot's operators only;
//! - `/help [command]`: generated from the declarations.
//!
//! Commands start with the prefix (`/` by default; config `prefix`) or with
//! an @-mention of the account (`@小灰 roll`). Config `operators` lists the
//! QQ numbers that pass every permission check.

use std::time::Duration;

use openqq_bot::command::{Arg, Call, Command, Commands, Permission};
use openqq_bot::{Bot, Config, Decision, Message, kv};

/// What the commands keep between messages (nothing yet: warnings are in
/// the KV, which outlives the instance).
#[derive(Default)]
pub struct State;

pub struct Toolbox {
    commands: Commands<State>,
    state: State,
}

fn roll(_: &mut State, call: &Call<'_>) -> Option<Decision> {
    let sides = call.uint("sides").unwrap_or(6).clamp(1, 1_000_000);
    // The gateway's clock is the only source of chance a bot has here.
    let n = openqq_bot::host::now_ms() % sides + 1;
    Some(Decision::reply(format!("🎲 d{sides}: {n}")))
}

fn add(_: &mut State, call: &Call<'_>) -> Option<Decision> {
    let (a, b) = (call.int("a")?, call.int("b")?);
    Some(Decision::reply(match a.checked_add(b) {
        Some(sum) => format!("{a} + {b} = {sum}"),
        None => "too big".to_owned(),
    }))
}

fn warn(_: &mut State, call: &Call<'_>) -> Option<Decision> {
    let member = call.qq("member")?;
    let group = call.msg.group_number()?;
    let count = kv::increment(&format!("warn:{group}:{member}"), 1).unwrap_or(0);
    let reason = call.text("reason").unwrap_or("no reason given");
    Some(Decision::reply(format!(
        "⚠️ {member} warned ({count}): {reason}"
    )))
}

/// The message's addressing, one field a word, so tests can read it.
fn who(_: &mut State, call: &Call<'_>) -> Option<Decision> {
    let a = call.addressing;
    let role = a.role.map_or("none", |r| r.as_str());
    let mentions: Vec<String> = a.mentions.iter().map(u64::to_string).collect();
    let quoted = a.reply_to.as_ref().map_or("none".to_owned(), |q| {
        format!(
            "{}/{}/{}",
            q.id,
            q.sender.map_or("?".to_owned(), |s| s.to_string()),
            q.text.as_deref().unwrap_or("?")
        )
    });
    Some(Decision::reply(format!(
        "role={role} mentions=[{}] at_me={} at_all={} reply={quoted}",
        mentions.join(","),
        a.at_me,
        a.at_all
    )))
}

impl Bot for Toolbox {
    fn init(config: &Config) -> Result<Self, String> {
        let commands = Commands::new()
            .configure(config)?
            .command(
                Command::new("roll", "Roll a die")
                    .alias("r")
                    .arg(Arg::uint("sides").optional())
                    .cooldown(Duration::from_secs(10))
                    .run(roll),
            )
            .command(
                Command::new("add", "Add two whole numbers")
                    .arg(Arg::int("a"))
                    .arg(Arg::int("b"))
                    .run(add),
            )
            .command(
                Command::new("warn", "Warn a member")
                    .arg(Arg::qq("member"))
                    .arg(Arg::rest("reason").optional())
                    .permission(Permission::Admin)
                    .run(warn),
            )
            .command(
                Command::new("who", "What this message addresses")
                    .arg(Arg::rest("anything").optional())
                    .run(who),
            )
            .command(
                Command::new("ops", "Operators only")
                    .permission(Permission::Operator)
                    .run(|_: &mut State, _| Some(Decision::reply("hello, operator"))),
            );
        Ok(Toolbox {
            commands,
            state: State,
        })
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        self.commands.handle(&mut self.state, msg)
    }
}

openqq_bot::export_bot!(Toolbox);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::MemberRole;
    use openqq_bot::testing::{self, MockHost};

    fn say(bot: &mut Toolbox, msg: &Message) -> Option<String> {
        bot.on_message(msg).and_then(|d| d.reply)
    }

    #[test]
    fn commands_answer_and_refuse() {
        let mock = MockHost::new();
        let mut bot = Toolbox::init(&Config::default()).unwrap();
        let g = |text: &str| testing::group_message(552603, 888888, "甲", text);
        assert_eq!(say(&mut bot, &g("/add -2 5")), Some("-2 + 5 = 3".into()));
        assert!(say(&mut bot, &g("/roll 6")).is_some_and(|r| r.starts_with("🎲 d6: ")));
        assert_eq!(say(&mut bot, &g("/r")), Some("/roll: again in 10 s".into()));
        let warn = g("/warn @乙 spam");
        mock.mentioning(&warn, 999999);
        assert_eq!(
            say(&mut bot, &warn),
            Some("/warn: for group admins and the owner only".into())
        );
        mock.with_role(&warn, MemberRole::Admin);
        assert_eq!(
            say(&mut bot, &warn),
            Some("⚠️ 999999 warned (1): spam".into())
        );
        assert_eq!(say(&mut bot, &g("hello")), None);
    }
}
