//! Echo: answers `ping` with `pong` and passes everything else on.
//!
//! The text is compared after dropping trailing spaces and newlines, so
//! `"ping\n"` counts; `" ping"` and `"ping pong"` do not.

use openqq_bot::{Bot, Config, Decision, Message};

/// The echo bot; it keeps no state.
pub struct Echo;

impl Bot for Echo {
    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Echo)
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        (msg.text() == "ping").then(|| Decision::reply("pong"))
    }
}

openqq_bot::export_bot!(Echo);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    fn answer(msg: &Message) -> Option<Decision> {
        Echo::init(&Config::default()).unwrap().on_message(msg)
    }

    #[test]
    fn ping_gets_pong_in_every_chat() {
        let _host = MockHost::new();
        let pong = Some(Decision::reply("pong"));
        assert_eq!(answer(&testing::friend_message(1, "a", "ping")), pong);
        assert_eq!(answer(&testing::group_message(9, 1, "a", "ping\n")), pong);
        assert_eq!(
            answer(&testing::discuss_message("d", 1, "a", "ping \r\n")),
            pong
        );
        assert_eq!(answer(&testing::sess_message(9, 1, "a", "ping")), pong);
    }

    #[test]
    fn anything_else_passes() {
        let host = MockHost::new();
        for text in ["", "pong", " ping", "ping pong", "PING", "pingping"] {
            assert_eq!(
                answer(&testing::friend_message(1, "a", text)),
                None,
                "{text:?}"
            );
        }
        assert!(host.logs().is_empty() && host.sends().is_empty());
    }
}
