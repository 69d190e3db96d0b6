//! Native test support: a mock gateway and message builders.
//!
//! Every thread has its own [`MockHost`]; the test harness runs each test on
//! its own thread, so tests do not see each other's logs or contacts. The
//! [`host`](crate::host) functions use it on native targets only; this module
//! does not exist on wasm32.
//!
//! ```
//! use openqq_bot::testing::{self, MockHost};
//! use openqq_bot::{Destination, host};
//!
//! let mock = MockHost::new();
//! mock.add_friend(testing::friend(10001, "Alice"));
//! assert_eq!(host::send(Destination::friend(10001), "hi"), Ok(1));
//! assert_eq!(
//!     host::send(Destination::friend(42), "hi"),
//!     Err("friend not found".to_owned())
//! );
//! assert_eq!(mock.sends().len(), 2);
//! ```
//!
//! The mock also keeps the bot's [`kv`](crate::kv) store in memory, with the
//! gateway's rules and default quotas ([`MockHost::kv_quota`] changes them),
//! and its [`timer`](crate::timer)s on a clock the test moves:
//!
//! ```
//! use std::time::Duration;
//! use openqq_bot::testing::{self, Due, MockHost};
//! use openqq_bot::{Bot, Config, Decision, Message, kv, timer};
//!
//! struct Nag;
//! impl Bot for Nag {
//!     fn init(_: &Config) -> Result<Self, String> {
//!         timer::every("tick", Duration::from_secs(60))?;
//!         Ok(Nag)
//!     }
//!     fn on_message(&mut self, _: &Message) -> Option<Decision> {
//!         timer::after("nag", Duration::from_secs(90), "drink water").ok()?;
//!         None
//!     }
//!     fn on_timer(&mut self, name: &str, _payload: &str) {
//!         kv::increment(name, 1).unwrap();
//!     }
//! }
//!
//! let host = MockHost::new();
//! let mut bot: Nag = host.init(&Config::default()).unwrap();
//! bot.on_message(&testing::friend_message(1, "a", "hi"));
//! let fired = host.advance_firing(&mut bot, Duration::from_secs(120));
//! assert_eq!(
//!     fired,
//!     [Due::new("tick", ""), Due::new("nag", "drink water"), Due::new("tick", "")]
//! );
//! assert_eq!(kv::get_str("tick"), Ok(Some("2".to_owned())));
//! ```
//!
//! [`moderation`](crate::moderation) calls are checked with the gateway's
//! rules and recorded ([`MockHost::moderations`]). [`http`](crate::http)
//! requests are recorded ([`MockHost::http_requests`]) and answered with what
//! the test registered per URL:
//!
//! ```
//! use openqq_bot::http::Request;
//! use openqq_bot::testing::{self, MockHost};
//!
//! let mock = MockHost::new();
//! let url = "https://api.example.com/v1/joke";
//! mock.http_respond(url, testing::http_json(200, &serde_json::json!({"joke": "…"})));
//! let joke: serde_json::Value = Request::get(url).send().unwrap().json().unwrap();
//! assert_eq!(joke["joke"], "…");
//! assert_eq!(mock.http_requests()[0].url, url);
//! ```
//!
//! Grants are not enforced
//! unless a test asks ([`MockHost::enforce_grants`] with [`Grants`]); then a
//! bot's call beyond them is refused with the gateway's `denied: …` words,
//! and [`MockHost::on_message`] tells the mock which chat is being handled.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::{
    Bot, Chat, ChatKind, Config, Destination, Friend, Group, GroupRole, Level, Member, MemberRole,
    Message, Person,
};

pub(crate) mod addressing;
mod grants;
pub(crate) mod host;
pub(crate) mod http;
pub(crate) mod kv;
pub(crate) mod moderation;
pub(crate) mod timers;

pub use grants::Grants;
pub use http::{http_json, http_response};
pub use moderation::{Moderated, Moderation};
pub use timers::{DeclaredTimer, Due, PendingTimer, Schedule};

/// The QQ number of the mock account (the simulator's seed account).
pub const SELF_QQ: u64 = 1_234_567;

/// The `time` of built messages, in seconds since the Unix epoch.
pub const MESSAGE_TIME: u64 = 1_700_000_000;

/// A line a bot logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub text: String,
}

/// A message a bot sent with [`host::send`](crate::host::send), and what the
/// mock answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub to: Destination,
    pub content: String,
    pub result: Result<u64, String>,
}

struct State {
    whoami: Person,
    friends: Vec<Friend>,
    groups: Vec<Group>,
    members: Vec<(u64, Member)>,
    now_ms: u64,
    send_failure: Option<String>,
    next_msg_id: u64,
    logs: Vec<LogLine>,
    sends: Vec<Sent>,
    kv: kv::Kv,
    timers: timers::Timers,
    moderations: Vec<Moderated>,
    /// `None` until a test enforces grants.
    grants: Option<Grants>,
    handling: grants::Handling,
    denials: Vec<String>,
    web: http::Web,
    /// What each message addresses, by message id (`MockHost::address`).
    addressed: std::collections::HashMap<String, crate::Addressed>,
    /// The number in the next built message's id (`test-1`, `test-2`, …).
    next_message: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            whoami: Person {
                id: format!("u{SELF_QQ}"),
                qq: Some(SELF_QQ),
                name: "小灰".to_owned(),
            },
            friends: Vec::new(),
            groups: Vec::new(),
            members: Vec::new(),
            now_ms: MESSAGE_TIME * 1000,
            send_failure: None,
            next_msg_id: 1,
            logs: Vec::new(),
            sends: Vec::new(),
            kv: kv::Kv::default(),
            timers: timers::Timers::default(),
            moderations: Vec::new(),
            grants: None,
            handling: grants::Handling::default(),
            denials: Vec::new(),
            web: http::Web::default(),
            addressed: std::collections::HashMap::new(),
            next_message: 1,
        }
    }
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|state| f(&mut state.borrow_mut()))
}

/// The current thread's mock gateway: what the bot logged and sent, and the
/// contacts its look-ups find.
///
/// By default the account is 小灰 ([`SELF_QQ`]), there are no contacts, the
/// clock reads [`MESSAGE_TIME`] and sends succeed with message ids 1, 2, …
/// when their destination is known. The KV store is empty, with the gateway's
/// default quotas (keys 256 bytes, values 64 KiB, 1 MiB in all); there are no
/// timers, and at most 1000 one-shot timers may be pending. Grants are not
/// enforced.
///
/// The clock moves only when the test moves it ([`set_now_ms`](Self::set_now_ms),
/// [`advance`](Self::advance), [`advance_firing`](Self::advance_firing)).
/// Unlike the gateway, the mock does not refuse timer declarations outside
/// `init`, and does not run cron schedules (fire those by calling
/// `bot.on_timer(name, "")`).
#[derive(Debug)]
pub struct MockHost {
    // The state is per thread, so a handle must not travel.
    _thread_bound: PhantomData<*const ()>,
}

impl MockHost {
    /// Resets the current thread's mock to its defaults and returns a handle.
    #[allow(clippy::new_without_default)] // `new` resets state; `default` would hide that.
    pub fn new() -> Self {
        with_state(|s| *s = State::default());
        MockHost {
            _thread_bound: PhantomData,
        }
    }

    /// Sets what `whoami` answers.
    pub fn set_whoami(&self, person: Person) {
        with_state(|s| s.whoami = person);
    }

    /// Adds a friend that `friend` finds and `send` reaches.
    pub fn add_friend(&self, friend: Friend) {
        with_state(|s| s.friends.push(friend));
    }

    /// Adds a group that `group` finds and `send` reaches.
    pub fn add_group(&self, group: Group) {
        with_state(|s| s.groups.push(group));
    }

    /// Adds a member of group `group` (a number) that `group_member` finds.
    pub fn add_member(&self, group: u64, member: Member) {
        with_state(|s| s.members.push((group, member)));
    }

    /// Sets what `now_ms` answers.
    pub fn set_now_ms(&self, now_ms: u64) {
        with_state(|s| s.now_ms = now_ms);
    }

    /// Makes every later send fail with `reason`.
    pub fn fail_sends(&self, reason: impl Into<String>) {
        let reason = reason.into();
        with_state(|s| s.send_failure = Some(reason));
    }

    /// Undoes [`fail_sends`](Self::fail_sends).
    pub fn succeed_sends(&self) {
        with_state(|s| s.send_failure = None);
    }

    /// Everything logged so far, oldest first.
    pub fn logs(&self) -> Vec<LogLine> {
        with_state(|s| s.logs.clone())
    }

    /// Whether a line at `level` containing `needle` was logged.
    pub fn logged(&self, level: Level, needle: &str) -> bool {
        with_state(|s| {
            s.logs
                .iter()
                .any(|l| l.level == level && l.text.contains(needle))
        })
    }

    /// Every send so far, failed ones included, oldest first.
    pub fn sends(&self) -> Vec<Sent> {
        with_state(|s| s.sends.clone())
    }

    /// What `now_ms` answers.
    pub fn now_ms(&self) -> u64 {
        with_state(|s| s.now_ms)
    }

    /// Builds the bot as the gateway does at a load or a swap: the
    /// declarations of an earlier version are dropped, then [`Bot::init`]
    /// runs (and declares its timers). The KV and one-shot timers stay, as
    /// they do in the gateway.
    ///
    /// # Errors
    ///
    /// Whatever `init` returns.
    pub fn init<B: Bot>(&self, config: &Config) -> Result<B, String> {
        with_state(|s| s.timers.declared.clear());
        B::init(config)
    }
}

/// A friend with QQ number `qq` and nick `nick`, no remark.
pub fn friend(qq: u64, nick: &str) -> Friend {
    Friend {
        id: format!("u{qq}"),
        qq,
        nick: nick.to_owned(),
        markname: String::new(),
        category: "我的好友".to_owned(),
    }
}

/// A group with number `number`, where the account has `role`.
pub fn group(number: u64, name: &str, role: GroupRole) -> Group {
    Group {
        id: format!("g{number}"),
        number,
        name: name.to_owned(),
        role,
    }
}

/// A group member with QQ number `qq` and nick `nick`, no card.
pub fn member(qq: u64, nick: &str, role: MemberRole) -> Member {
    Member {
        id: format!("m{qq}"),
        qq,
        nick: nick.to_owned(),
        card: String::new(),
        role,
    }
}

fn message(kind: ChatKind, qq: u64, name: &str, content: &str) -> Message {
    // Each built message has an id of its own, so what a test says one
    // addresses (`MockHost::address`) is about that one only.
    let (receiver, n) = with_state(|s| {
        s.next_message += 1;
        (s.whoami.clone(), s.next_message - 1)
    });
    Message {
        id: format!("test-{n}"),
        kind,
        time: MESSAGE_TIME,
        content: content.to_owned(),
        sender: Person {
            id: format!("u{qq}"),
            qq: Some(qq),
            name: name.to_owned(),
        },
        receiver,
        group: None,
        discuss: None,
    }
}

fn group_chat(number: u64) -> Chat {
    Chat {
        id: format!("g{number}"),
        number: Some(number),
        name: format!("group {number}"),
    }
}

/// A private message from friend `qq` called `name`.
pub fn friend_message(qq: u64, name: &str, content: &str) -> Message {
    message(ChatKind::Friend, qq, name, content)
}

/// A message in group `group` from member `qq` called `name`.
pub fn group_message(group: u64, qq: u64, name: &str, content: &str) -> Message {
    Message {
        group: Some(group_chat(group)),
        ..message(ChatKind::Group, qq, name, content)
    }
}

/// A message in the discussion with session id `discuss` from `qq`.
pub fn discuss_message(discuss: &str, qq: u64, name: &str, content: &str) -> Message {
    Message {
        discuss: Some(Chat {
            id: discuss.to_owned(),
            number: None,
            name: format!("discuss {discuss}"),
        }),
        ..message(ChatKind::Discuss, qq, name, content)
    }
}

/// A temp message from `qq`, a stranger met in group `group`.
pub fn sess_message(group: u64, qq: u64, name: &str, content: &str) -> Message {
    Message {
        group: Some(group_chat(group)),
        ..message(ChatKind::Sess, qq, name, content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, GroupTemp, host};

    #[test]
    fn look_ups_answer_from_the_fixture() {
        let mock = MockHost::new();
        mock.add_friend(friend(10001, "Alice"));
        mock.add_group(group(555, "Rust", GroupRole::Manage));
        mock.add_member(555, member(10002, "Bob", MemberRole::Member));
        mock.set_now_ms(42);

        assert_eq!(host::whoami().qq, Some(SELF_QQ));
        assert_eq!(host::friend(10001).map(|f| f.nick), Some("Alice".into()));
        assert_eq!(host::friend(1), None);
        assert_eq!(host::group(555).map(|g| g.role), Some(GroupRole::Manage));
        assert_eq!(host::group_member(555, 10002).map(|m| m.qq), Some(10002));
        assert_eq!(host::group_member(556, 10002), None);
        assert_eq!(host::now_ms(), 42);
    }

    #[test]
    fn sends_resolve_like_the_gateway() {
        let mock = MockHost::new();
        mock.add_group(group(555, "Rust", GroupRole::Attend));
        mock.add_member(555, member(10002, "Bob", MemberRole::Member));

        assert_eq!(host::send(Destination::group(555), "a"), Ok(1));
        assert_eq!(
            host::send(Destination::Group(Address::Id("g555".into())), "b"),
            Ok(2)
        );
        assert_eq!(
            host::send(Destination::group(555), ""),
            Err("content missing".into())
        );
        let temp = |qq| {
            Destination::GroupTemp(GroupTemp {
                group: Address::Number(555),
                member: Address::Number(qq),
            })
        };
        assert_eq!(host::send(temp(10002), "c"), Ok(3));
        assert_eq!(
            host::send(temp(10003), "c"),
            Err("group member not found".into())
        );
        mock.fail_sends("backend down");
        assert_eq!(
            host::send(Destination::group(555), "d"),
            Err("backend down".into())
        );
        mock.succeed_sends();
        assert_eq!(host::send(Destination::group(555), "e"), Ok(4));

        let sends = mock.sends();
        assert_eq!(sends.len(), 7);
        assert_eq!(sends[0].content, "a");
        assert_eq!(sends[0].to, Destination::group(555));
    }

    /// Records each timer call with the clock's reading; `chain` re-arms

    #[test]
    fn logs_are_recorded_per_thread() {
        let mock = MockHost::new();
        crate::info!("hello {}", 1);
        crate::warn!("careful");
        assert_eq!(
            mock.logs(),
            [
                LogLine {
                    level: Level::Info,
                    text: "hello 1".into()
                },
                LogLine {
                    level: Level::Warn,
                    text: "careful".into()
                },
            ]
        );
        assert!(mock.logged(Level::Warn, "care"));
        assert!(!mock.logged(Level::Error, "care"));
        std::thread::spawn(|| assert!(MockHost::new().logs().is_empty()))
            .join()
            .unwrap();
    }
}
