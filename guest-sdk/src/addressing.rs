//! Who a message addresses: [`Message::addressing`].
//!
//! 0.2.0's `addressing` import, keyed by the message's id. A separate
//! import rather than fields of [`Message`]: `Message` is shared word for
//! word with the 0.1.0 world, and a changed record would stop bots already
//! built for 0.2.0 from loading; a bot that never asks does not import it.

#[cfg(target_arch = "wasm32")]
use crate::bindings::openqq::bot::addressing as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::addressing as imp;
use crate::{Addressed, Message};

impl Message {
    /// Who this message addresses: the sender's role in the group, the QQ
    /// numbers mentioned, whether the account was (`at_me`; @all is
    /// `at_all`, apart), the message it quotes, and `body`, the text without
    /// a leading mention of the account — what a command parser reads.
    ///
    /// Asks the gateway each time (one cheap call); outside the message
    /// being handled it knows nothing, and the answer is
    /// [`Addressed::plain`]: no role, no mentions, the text as `body`.
    pub fn addressing(&self) -> Addressed {
        imp::of(&self.id).unwrap_or_else(|| Addressed::plain(self))
    }
}

impl Addressed {
    /// What a message addresses when nobody says more: no role, no
    /// mention, no quote; the body is its text.
    pub fn plain(msg: &Message) -> Addressed {
        Addressed {
            role: None,
            mentions: Vec::new(),
            at_me: false,
            at_all: false,
            reply_to: None,
            body: msg.text().to_owned(),
        }
    }

    /// Whether `qq` was mentioned.
    pub fn mentions(&self, qq: u64) -> bool {
        self.mentions.contains(&qq)
    }
}
