//! Group moderation beyond a [`Decision`](crate::Decision)'s `shutup`:
//! muting, unmuting and kicking members.
//!
//! Without grants a bot may mute the sender of the message it is handling,
//! in that message's group (as a decision can). Any other member, and
//! [`unmute`] and [`kick`], need the group in the bot's `moderate` grant
//! (the gateway's config: `moderate = ["group:552603"]`); otherwise the call
//! returns an error starting `denied:`. Refusals never trap.
//!
//! A call is checked at once — the grant, the bot's `sends_per_minute`
//! quotas, then QQ's rules: the account must be an admin or the owner of the
//! group, the member an ordinary member — and carried out after the call
//! returns; what QQ answers later is logged by the gateway.
//!
//! ```no_run
//! use openqq_bot::{Bot, Config, Decision, Message, moderation};
//!
//! struct Janitor;
//!
//! impl Bot for Janitor {
//!     fn init(_: &Config) -> Result<Self, String> {
//!         Ok(Janitor)
//!     }
//!     fn on_message(&mut self, msg: &Message) -> Option<Decision> {
//!         let group = msg.group_number()?;
//!         let qq: u64 = msg.text().strip_prefix("kick ")?.trim().parse().ok()?;
//!         Some(Decision::reply(match moderation::kick(group, qq) {
//!             Ok(()) => format!("kicked {qq}"),
//!             Err(why) => format!("cannot kick {qq}: {why}"),
//!         }))
//!     }
//! }
//! ```
//!
//! On native targets these calls go to the thread's
//! [`MockHost`](crate::testing::MockHost), which records them
//! ([`MockHost::moderations`](crate::testing::MockHost::moderations)).

#[cfg(target_arch = "wasm32")]
use crate::bindings::openqq::bot::moderation as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::moderation as imp;

/// Mutes member `member` (QQ number) of group `group` (group number) for
/// `seconds`: 60 s to 30 days, as QQ allows.
///
/// # Errors
///
/// `denied: …` without the grant (or past the bot's quota); a mute out of
/// range; `object not found` (no such group), `member … not found`, or
/// `refused: …` when the account is not an admin there or the member is
/// the owner or an admin.
pub fn mute(group: u64, member: u64, seconds: u32) -> Result<(), String> {
    imp::mute(group, member, seconds)
}

/// Lifts member `member`'s mute in group `group`.
///
/// # Errors
///
/// As [`mute`]; `unmute` always needs the `moderate` grant.
pub fn unmute(group: u64, member: u64) -> Result<(), String> {
    imp::unmute(group, member)
}

/// Removes member `member` from group `group`.
///
/// # Errors
///
/// As [`mute`]; `kick` always needs the `moderate` grant.
pub fn kick(group: u64, member: u64) -> Result<(), String> {
    imp::kick(group, member)
}
