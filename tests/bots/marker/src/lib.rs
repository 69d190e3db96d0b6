//! Marker: replies `v1:<content>` to every message, or `v2:<content>` when
//! built with the `v2` feature. The gateway's hot-swap tests load one build,
//! swap in the other and watch the tag change.

use openqq_bot::{Bot, Config, Decision, Message};

/// The tag this build puts in front of every reply.
pub const TAG: &str = if cfg!(feature = "v2") { "v2" } else { "v1" };

/// The marker bot; it keeps no state.
pub struct Marker;

impl Bot for Marker {
    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Marker)
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        Some(Decision::reply(format!("{TAG}:{}", msg.content)))
    }
}

openqq_bot::export_bot!(Marker);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    #[test]
    fn tags_every_message_with_the_build() {
        let _host = MockHost::new();
        let mut bot = Marker::init(&Config::default()).unwrap();
        let reply = bot.on_message(&testing::group_message(9, 1, "a", "hello"));
        let want = if cfg!(feature = "v2") {
            "v2:hello"
        } else {
            "v1:hello"
        };
        assert_eq!(reply, Some(Decision::reply(want)));
    }
}
