//! Misbehave: a test fixture that breaks the rules on command, so the
//! gateway's end-to-end tests can check traps, deadlines, memory limits and
//! host calls.
//!
//! Commands (the whole text, trailing spaces and newlines ignored):
//!
//! | text | does |
//! |---|---|
//! | `/trap` | panics with `misbehave: trap requested` |
//! | `/loop` | loops forever |
//! | `/oom` | allocates 1 MiB chunks forever and keeps them |
//! | `/ok` | replies `ok` |
//! | `/send <qq> <text>` | sends `<text>` to friend `<qq>`; replies `sent <msg_id>` or `send failed: <reason>` |
//! | `/whoami` | replies `<name> <qq>` of the bot's account (`?` for an unknown qq) |
//! | `/count` | replies `count <n>`: the n-th `/count` this instance answered (shows which instance runs) |
//!
//! Anything else passes. Config `fail_init = "true"` makes `init` fail with
//! `misbehave: init refused`; `trap_init = "true"` makes it panic (a trap in
//! `init`) with `misbehave: init trapped`.

use std::hint::black_box;

use openqq_bot::{Bot, Config, Decision, Destination, Message, host};

/// The misbehave bot; `hoard` keeps what `/oom` allocated alive, `counted`
/// how many `/count`s this instance answered.
#[derive(Debug, Default)]
pub struct Misbehave {
    hoard: Vec<Vec<u8>>,
    counted: u64,
}

impl Bot for Misbehave {
    fn init(config: &Config) -> Result<Self, String> {
        if config.parse_or("fail_init", false)? {
            return Err("misbehave: init refused".into());
        }
        if config.parse_or("trap_init", false)? {
            panic!("misbehave: init trapped");
        }
        Ok(Misbehave::default())
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        let text = msg.text();
        match text {
            "/trap" => panic!("misbehave: trap requested"),
            "/loop" => spin(),
            "/oom" => self.hoard_forever(),
            "/ok" => Some(Decision::reply("ok")),
            "/count" => {
                self.counted += 1;
                Some(Decision::reply(format!("count {}", self.counted)))
            }
            "/whoami" => {
                let me = host::whoami();
                let qq = me.qq.map_or_else(|| "?".to_owned(), |qq| qq.to_string());
                Some(Decision::reply(format!("{} {qq}", me.name)))
            }
            _ => text.strip_prefix("/send ").map(send),
        }
    }
}

/// Never returns; `black_box` keeps the optimiser from proving the loop empty.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

impl Misbehave {
    /// Allocates until the memory limit traps the instance.
    fn hoard_forever(&mut self) -> ! {
        loop {
            // Non-zero bytes so every page is really written.
            self.hoard.push(black_box(vec![0xA5; 1 << 20]));
            black_box(&self.hoard);
        }
    }
}

/// `/send <qq> <text>`: the rest of the text after the qq goes as is.
fn send(args: &str) -> Decision {
    let Some((qq, text)) = args.split_once(' ') else {
        return Decision::reply("usage: /send <qq> <text>");
    };
    let Ok(qq) = qq.parse::<u64>() else {
        return Decision::reply(format!("send failed: bad qq {qq:?}"));
    };
    match host::send(Destination::friend(qq), text) {
        Ok(id) => Decision::reply(format!("sent {id}")),
        Err(why) => Decision::reply(format!("send failed: {why}")),
    }
}

openqq_bot::export_bot!(Misbehave);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    fn bot() -> Misbehave {
        Misbehave::init(&Config::default()).unwrap()
    }

    fn says(text: &str) -> Option<Decision> {
        bot().on_message(&testing::friend_message(1, "a", text))
    }

    #[test]
    fn ok_and_pass() {
        let _host = MockHost::new();
        assert_eq!(says("/ok\n"), Some(Decision::reply("ok")));
        let mut one = bot();
        let mut count = || one.on_message(&testing::friend_message(1, "a", "/count"));
        assert_eq!(count(), Some(Decision::reply("count 1")));
        assert_eq!(count(), Some(Decision::reply("count 2")));
        assert_eq!(says("hello"), None);
        assert_eq!(says("/send"), None);
    }

    #[test]
    #[should_panic(expected = "misbehave: trap requested")]
    fn trap_panics() {
        let _host = MockHost::new();
        says("/trap");
    }

    #[test]
    fn send_reports_the_outcome() {
        let host = MockHost::new();
        host.add_friend(testing::friend(10001, "Alice"));
        assert_eq!(
            says("/send 10001 hi there"),
            Some(Decision::reply("sent 1"))
        );
        assert_eq!(host.sends()[0].content, "hi there");
        assert_eq!(
            says("/send 42 hi"),
            Some(Decision::reply("send failed: friend not found"))
        );
        assert_eq!(
            says("/send x hi"),
            Some(Decision::reply("send failed: bad qq \"x\""))
        );
        assert_eq!(
            says("/send 10001"),
            Some(Decision::reply("usage: /send <qq> <text>"))
        );
    }

    #[test]
    fn whoami_names_the_account() {
        let host = MockHost::new();
        assert_eq!(says("/whoami"), Some(Decision::reply("小灰 1234567")));
        host.set_whoami(openqq_bot::Person {
            id: "x".into(),
            qq: None,
            name: "bot".into(),
        });
        assert_eq!(says("/whoami"), Some(Decision::reply("bot ?")));
    }

    #[test]
    fn fail_init_refuses() {
        let _host = MockHost::new();
        let config = Config::from_iter([("fail_init", "true")]);
        assert_eq!(
            Misbehave::init(&config).unwrap_err(),
            "misbehave: init refused"
        );
        let config = Config::from_iter([("fail_init", "false")]);
        assert!(Misbehave::init(&config).is_ok());
    }
}
