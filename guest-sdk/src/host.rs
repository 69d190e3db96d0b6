//! What a bot may ask of the gateway.
//!
//! On wasm32 these call the component's imports. On native targets they go to
//! the current thread's [`MockHost`](crate::testing::MockHost), so bots can be
//! unit-tested without wasm (the generated import stubs only panic there).

#[cfg(target_arch = "wasm32")]
use crate::bindings::openqq::bot::host as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::host as imp;
use crate::{Destination, Friend, Group, Level, Member, Person};

/// Writes one line to the gateway's log, tagged with the bot's name and the
/// id of the message being handled. Lines longer than 4 KiB are cut.
///
/// The [`info!`](crate::info) family of macros formats and calls this.
pub fn log(level: Level, text: &str) {
    imp::log(level, text);
}

/// Sends `content` to `to` through the gateway's outbox and waits for QQ's
/// answer, returning the gateway's message id.
///
/// The send counts against the bot's deadline; to answer the sender, return a
/// [`Decision`](crate::Decision) instead.
///
/// # Errors
///
/// Why it failed: `friend not found`, `group not found`, `discuss not
/// found`, `group member not found`, `discuss member not found`, `content
/// missing`, or the backend's reason.
pub fn send(to: Destination, content: &str) -> Result<u64, String> {
    imp::send(&to, content)
}

/// The bot's own account.
pub fn whoami() -> Person {
    imp::whoami()
}

/// A friend of the account, by QQ number.
pub fn friend(qq: u64) -> Option<Friend> {
    imp::friend(qq)
}

/// A group the account is in, by group number.
pub fn group(number: u64) -> Option<Group> {
    imp::group(number)
}

/// A member of a group, by group number and QQ number.
pub fn group_member(group: u64, qq: u64) -> Option<Member> {
    imp::group_member(group, qq)
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    imp::now_ms()
}
