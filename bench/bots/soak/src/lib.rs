//! Soak: the well-behaved bot of `openqq-bench soak`. It answers every
//! message with `v1:<message id>` (`v2:<message id>` when built with the `v2`
//! feature), except messages whose content starts with `pass`, which it
//! passes on (to the webhook).
//!
//! The message id, not the content, is in the reply: the hostile bot's
//! commands (`/loop`, `/trap`) must be the whole text, so the content cannot
//! carry a number, and the id is what the soak accounts by.

use openqq_bot::{Bot, Config, Decision, Message};

/// The tag this build puts in front of every reply.
pub const TAG: &str = if cfg!(feature = "v2") { "v2" } else { "v1" };

/// The soak bot; it keeps no state.
pub struct Soak;

impl Bot for Soak {
    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Soak)
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        if msg.content.starts_with("pass") {
            return None;
        }
        Some(Decision::reply(format!("{TAG}:{}", msg.id)))
    }
}

openqq_bot::export_bot!(Soak);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    #[test]
    fn tags_the_id_and_passes_pass() {
        let _host = MockHost::new();
        let mut bot = Soak::init(&Config::default()).unwrap();
        let mut msg = testing::group_message(9, 1, "a", "/loop");
        msg.id = "10042".into();
        assert_eq!(
            bot.on_message(&msg),
            Some(Decision::reply(format!("{TAG}:10042")))
        );
        msg.content = "pass 7".into();
        assert_eq!(bot.on_message(&msg), None);
    }
}
