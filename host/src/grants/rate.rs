//! Sends per minute, per bot and per chat (`sends_per_minute`,
//! `sends_per_minute_per_chat`): a bot granted many chats still cannot
//! flood them, nor one of them. GCRA from `governor`: a burst up to the
//! quota, then evenly spaced.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Chat;

/// Chats remembered before the idle ones are forgotten: keeps a bot that
/// sends to ever new chats from growing the map without bound.
const CHATS_KEPT: usize = 4096;

pub struct SendRate {
    per_minute: u32,
    per_chat: u32,
    bot: DefaultDirectRateLimiter,
    chats: DefaultKeyedRateLimiter<Chat>,
}

impl std::fmt::Debug for SendRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendRate")
            .field("per_minute", &self.per_minute)
            .field("per_chat", &self.per_chat)
            .finish_non_exhaustive()
    }
}

impl SendRate {
    pub fn new(per_minute: NonZeroU32, per_chat: NonZeroU32) -> SendRate {
        SendRate {
            per_minute: per_minute.get(),
            per_chat: per_chat.get(),
            bot: RateLimiter::direct(Quota::per_minute(per_minute)),
            chats: RateLimiter::keyed(Quota::per_minute(per_chat)),
        }
    }

    /// Takes one send to `chat` from both quotas, or says which is spent.
    /// A send refused by the chat's quota does not use the bot's; one
    /// refused by the bot's has used the chat's (GCRA cannot give a cell
    /// back): a bot at its overall quota waits a little longer per chat.
    pub fn admit(&self, chat: Chat) -> Result<(), String> {
        if self.chats.len() > CHATS_KEPT {
            self.chats.retain_recent();
        }
        if self.chats.check_key(&chat).is_err() {
            return Err(format!(
                "over sends_per_minute_per_chat = {} for {chat}",
                self.per_chat
            ));
        }
        if self.bot.check().is_err() {
            return Err(format!("over sends_per_minute = {}", self.per_minute));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    #[test]
    fn a_chat_and_the_bot_each_have_their_quota() {
        let rate = SendRate::new(n(5), n(3));
        let (a, b) = (Chat::group(1), Chat::group(2));
        for _ in 0..3 {
            rate.admit(a).unwrap();
        }
        let e = rate.admit(a).unwrap_err();
        assert!(
            e.contains("sends_per_minute_per_chat = 3 for group:1"),
            "{e}"
        );
        rate.admit(b).unwrap();
        rate.admit(b).unwrap();
        let e = rate.admit(b).unwrap_err();
        assert!(e.contains("over sends_per_minute = 5"), "{e}");
    }
}
