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
//! The mock also keeps the bot's [`kv`] store in memory, with the
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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

use crate::{
    Bot, Chat, ChatKind, Config, Destination, Friend, Group, GroupRole, Level, Member, MemberRole,
    Message, Person, kv,
};

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

/// How a declared timer repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// [`timer::every`](crate::timer::every).
    Every(Duration),
    /// [`timer::cron`](crate::timer::cron), the expression as given. The mock
    /// does not run cron schedules: call `bot.on_timer(name, "")` to fire one.
    Cron(String),
}

/// A timer the bot declared (in `init`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredTimer {
    pub name: String,
    pub schedule: Schedule,
}

/// A one-shot timer the bot set and that has not fired yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingTimer {
    pub name: String,
    pub payload: String,
    /// When it is due, on the mock's clock (ms since the Unix epoch).
    pub due_ms: u64,
}

/// A timer call that came due: what the gateway would pass to
/// [`Bot::on_timer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub name: String,
    pub payload: String,
}

impl Due {
    /// A due call of timer `name` with `payload` (`""` for declared timers).
    pub fn new(name: impl Into<String>, payload: impl Into<String>) -> Self {
        Due {
            name: name.into(),
            payload: payload.into(),
        }
    }
}

/// The gateway's default quotas (`[limits] kv_max_*`).
const KV_MAX_KEY_BYTES: usize = 256;
const KV_MAX_VALUE_BYTES: usize = 64 << 10;
const KV_MAX_TOTAL_BYTES: u64 = 1 << 20;
/// The gateway's `timers_max_pending` default and payload cap.
const TIMERS_MAX_PENDING: usize = 1000;
const TIMER_MAX_PAYLOAD_BYTES: usize = 4 << 10;
/// The gateway rounds shorter one-shot delays up to this.
const TIMER_MIN_DELAY_MS: u64 = 1000;
/// How many timer calls one `advance_firing` makes before it gives up: a
/// timer that re-arms itself with no delay would otherwise loop for ever.
const MAX_FIRINGS: usize = 100_000;

struct Kv {
    entries: BTreeMap<String, Vec<u8>>,
    max_key_bytes: usize,
    max_value_bytes: usize,
    max_total_bytes: u64,
    failure: Option<kv::Error>,
}

impl Default for Kv {
    fn default() -> Self {
        Kv {
            entries: BTreeMap::new(),
            max_key_bytes: KV_MAX_KEY_BYTES,
            max_value_bytes: KV_MAX_VALUE_BYTES,
            max_total_bytes: KV_MAX_TOTAL_BYTES,
            failure: None,
        }
    }
}

/// A declared timer and, for `every`, when it is next due.
struct Declared {
    timer: DeclaredTimer,
    next_ms: Option<u64>,
}

struct Timers {
    declared: Vec<Declared>,
    /// With the order they were set in, which breaks ties between equal
    /// due times.
    pending: Vec<(PendingTimer, u64)>,
    next_seq: u64,
    max_pending: usize,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            declared: Vec::new(),
            pending: Vec::new(),
            next_seq: 0,
            max_pending: TIMERS_MAX_PENDING,
        }
    }
}

impl Timers {
    /// Takes the first call due at or before `until`, oldest first (declared
    /// timers before one-shots due at the same time), with its due time;
    /// re-arms an `every` timer.
    fn take_due(&mut self, until: u64) -> Option<(u64, Due)> {
        let declared = self
            .declared
            .iter_mut()
            .filter_map(|d| d.next_ms.map(|at| (at, d)))
            .filter(|(at, _)| *at <= until)
            .min_by_key(|(at, _)| *at);
        let pending = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| p.due_ms <= until)
            .min_by_key(|(_, (p, seq))| (p.due_ms, *seq))
            .map(|(i, (p, _))| (p.due_ms, i));
        match (declared, pending) {
            (Some((at, d)), p) if p.is_none_or(|(due, _)| at <= due) => {
                if let Schedule::Every(interval) = &d.timer.schedule {
                    d.next_ms = Some(at.saturating_add(crate::timer::millis(*interval)));
                }
                Some((at, Due::new(d.timer.name.clone(), "")))
            }
            (_, Some((due, i))) => {
                let (p, _) = self.pending.remove(i);
                Some((due, Due::new(p.name, p.payload)))
            }
            _ => None,
        }
    }
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
    kv: Kv,
    timers: Timers,
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
            kv: Kv::default(),
            timers: Timers::default(),
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
/// timers, and at most 1000 one-shot timers may be pending.
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

    // ---- KV ----

    /// Sets the value and total quotas (`kv_max_value_bytes`,
    /// `kv_max_total_bytes`: keys and values of all entries), so a bot's
    /// handling of a full store is testable. Entries already stored stay.
    pub fn kv_quota(&self, max_value_bytes: usize, max_total_bytes: u64) {
        with_state(|s| {
            s.kv.max_value_bytes = max_value_bytes;
            s.kv.max_total_bytes = max_total_bytes;
        });
    }

    /// Sets the key quota (`kv_max_key_bytes`).
    pub fn kv_max_key_bytes(&self, max_key_bytes: usize) {
        with_state(|s| s.kv.max_key_bytes = max_key_bytes);
    }

    /// Makes every later KV call fail with `error` (e.g.
    /// [`kv::Error::Denied`] or [`kv::Error::Store`]); `None` undoes it.
    pub fn kv_fail(&self, error: Option<kv::Error>) {
        with_state(|s| s.kv.failure = error);
    }

    /// Every entry of the store, in key order.
    pub fn kv_entries(&self) -> Vec<(String, Vec<u8>)> {
        with_state(|s| {
            s.kv.entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }

    /// The bytes of keys and values stored, as the total quota counts them.
    pub fn kv_used_bytes(&self) -> u64 {
        with_state(|s| kv_used(&s.kv))
    }

    // ---- Timers ----

    /// The timers declared so far, in the order first declared.
    pub fn declared_timers(&self) -> Vec<DeclaredTimer> {
        with_state(|s| s.timers.declared.iter().map(|d| d.timer.clone()).collect())
    }

    /// The one-shot timers not fired yet, soonest first.
    pub fn pending_timers(&self) -> Vec<PendingTimer> {
        with_state(|s| {
            let mut pending = s.timers.pending.clone();
            pending.sort_by_key(|(p, seq)| (p.due_ms, *seq));
            pending.into_iter().map(|(p, _)| p).collect()
        })
    }

    /// Sets how many one-shot timers may be pending (`timers_max_pending`).
    pub fn timers_max_pending(&self, max: usize) {
        with_state(|s| s.timers.max_pending = max);
    }

    /// Moves the clock on by `by` and returns the timer calls that came due
    /// meanwhile, in time order: one-shot timers (now no longer pending) and
    /// every tick of `every` timers. Nothing is called; see
    /// [`advance_firing`](Self::advance_firing) for that.
    pub fn advance(&self, by: Duration) -> Vec<Due> {
        with_state(|s| {
            let until = s.now_ms.saturating_add(crate::timer::millis(by));
            let mut due = Vec::new();
            while let Some((_, d)) = s.timers.take_due(until) {
                due.push(d);
            }
            s.now_ms = until;
            due
        })
    }

    /// Moves the clock on by `by`, calling `bot.on_timer` for each timer
    /// call that comes due, in time order, with the clock at its due time —
    /// as the gateway would. Timers the bot sets meanwhile fire too when they
    /// fall inside. Returns the calls made.
    ///
    /// # Panics
    ///
    /// After 100,000 calls in one go (a timer that re-arms itself with no
    /// delay).
    pub fn advance_firing<B: Bot>(&self, bot: &mut B, by: Duration) -> Vec<Due> {
        let until = with_state(|s| s.now_ms.saturating_add(crate::timer::millis(by)));
        let mut fired = Vec::new();
        loop {
            let next = with_state(|s| {
                let next = s.timers.take_due(until);
                if let Some((at, _)) = &next {
                    s.now_ms = s.now_ms.max(*at);
                }
                next
            });
            let Some((_, due)) = next else { break };
            assert!(
                fired.len() < MAX_FIRINGS,
                "more than {MAX_FIRINGS} timer calls in one advance; does `{}` re-arm itself with no delay?",
                due.name
            );
            bot.on_timer(&due.name, &due.payload);
            fired.push(due);
        }
        with_state(|s| s.now_ms = s.now_ms.max(until));
        fired
    }

    /// Calls `bot.on_timer` for every timer due now, without moving the
    /// clock (e.g. one set with no delay). Returns the calls made.
    pub fn fire_due<B: Bot>(&self, bot: &mut B) -> Vec<Due> {
        self.advance_firing(bot, Duration::ZERO)
    }
}

/// What each entry costs besides its key and value, as the gateway counts it
/// (`storage::kv::ENTRY_OVERHEAD`).
const ENTRY_OVERHEAD: u64 = 32;

fn kv_used(kv: &Kv) -> u64 {
    kv.entries
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64 + ENTRY_OVERHEAD)
        .sum()
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
    let receiver = with_state(|s| s.whoami.clone());
    Message {
        id: "test-1".to_owned(),
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

/// The mock behind [`crate::kv`], with the gateway's rules.
pub(crate) mod mock_kv {
    use super::{ENTRY_OVERHEAD, Kv, kv_used, with_state};
    use crate::kv::Error;

    fn with_kv<T>(f: impl FnOnce(&mut Kv) -> Result<T, Error>) -> Result<T, Error> {
        with_state(|s| match &s.kv.failure {
            Some(e) => Err(e.clone()),
            None => f(&mut s.kv),
        })
    }

    fn check_key(kv: &Kv, key: &str) -> Result<(), Error> {
        if key.is_empty() {
            return Err(Error::Quota("a key must not be empty".to_string()));
        }
        if key.len() > kv.max_key_bytes {
            return Err(Error::Quota(format!(
                "key is {} bytes, over kv_max_key_bytes = {}",
                key.len(),
                kv.max_key_bytes
            )));
        }
        Ok(())
    }

    /// Stores `value` at `key` if the quotas allow it.
    fn put(kv: &mut Kv, key: &str, value: Vec<u8>) -> Result<(), Error> {
        check_key(kv, key)?;
        if value.len() > kv.max_value_bytes {
            return Err(Error::Quota(format!(
                "value is {} bytes, over kv_max_value_bytes = {}",
                value.len(),
                kv.max_value_bytes
            )));
        }
        let old = kv
            .entries
            .get(key)
            .map_or(0, |v| (key.len() + v.len()) as u64 + ENTRY_OVERHEAD);
        let next = kv_used(kv) - old + (key.len() + value.len()) as u64 + ENTRY_OVERHEAD;
        if next > kv.max_total_bytes && next > kv_used(kv) {
            return Err(Error::Quota(format!(
                "the bot's store would hold {next} bytes, over kv_max_total_bytes = {}",
                kv.max_total_bytes
            )));
        }
        kv.entries.insert(key.to_owned(), value);
        Ok(())
    }

    pub(crate) fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
        with_kv(|kv| Ok(kv.entries.get(key).cloned()))
    }

    pub(crate) fn set(key: &str, value: &[u8]) -> Result<(), Error> {
        with_kv(|kv| put(kv, key, value.to_vec()))
    }

    pub(crate) fn delete(key: &str) -> Result<bool, Error> {
        with_kv(|kv| Ok(kv.entries.remove(key).is_some()))
    }

    pub(crate) fn keys(prefix: &str) -> Result<Vec<String>, Error> {
        with_kv(|kv| {
            Ok(kv
                .entries
                .range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k.clone())
                .collect())
        })
    }

    pub(crate) fn increment(key: &str, delta: i64) -> Result<i64, Error> {
        with_kv(|kv| {
            check_key(kv, key)?;
            let current = match kv.entries.get(key) {
                None => 0,
                Some(bytes) => std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .ok_or_else(|| {
                        Error::NotANumber(format!(
                            "`{key}` holds {} bytes that are not a decimal integer",
                            bytes.len()
                        ))
                    })?,
            };
            let next = current.checked_add(delta).ok_or_else(|| {
                Error::NotANumber(format!("`{key}`: {current} + {delta} overflows"))
            })?;
            put(kv, key, next.to_string().into_bytes())?;
            Ok(next)
        })
    }
}

/// The mock behind [`crate::timer`], with the gateway's checks.
pub(crate) mod mock_timers {
    use super::{
        Declared, DeclaredTimer, PendingTimer, Schedule, TIMER_MAX_PAYLOAD_BYTES,
        TIMER_MIN_DELAY_MS, Timers, with_state,
    };
    use std::time::Duration;

    fn declare(timers: &mut Timers, timer: DeclaredTimer, next_ms: Option<u64>) {
        let declared = Declared { timer, next_ms };
        match timers
            .declared
            .iter_mut()
            .find(|d| d.timer.name == declared.timer.name)
        {
            Some(old) => *old = declared,
            None => timers.declared.push(declared),
        }
    }

    pub(crate) fn every(name: &str, interval_ms: u64) -> Result<(), String> {
        if interval_ms < 1000 {
            return Err(format!(
                "timer `{name}`: interval {interval_ms} ms, at least 1000"
            ));
        }
        with_state(|s| {
            let next = s.now_ms.saturating_add(interval_ms);
            let timer = DeclaredTimer {
                name: name.to_owned(),
                schedule: Schedule::Every(Duration::from_millis(interval_ms)),
            };
            declare(&mut s.timers, timer, Some(next));
        });
        Ok(())
    }

    pub(crate) fn cron(name: &str, expression: &str) -> Result<(), String> {
        // The gateway parses the expression; the mock checks its shape only.
        let fields = expression.split_whitespace().count();
        if !(6..=7).contains(&fields) {
            return Err(format!(
                "timer `{name}`: cron `{expression}` has {fields} fields, wants 6 or 7 fields                  (sec min hour day-of-month month day-of-week [year])"
            ));
        }
        with_state(|s| {
            let timer = DeclaredTimer {
                name: name.to_owned(),
                schedule: Schedule::Cron(expression.to_owned()),
            };
            declare(&mut s.timers, timer, None);
        });
        Ok(())
    }

    pub(crate) fn after(name: &str, delay_ms: u64, payload: &str) -> Result<(), String> {
        if payload.len() > TIMER_MAX_PAYLOAD_BYTES {
            return Err(format!(
                "payload is {} bytes, at most {TIMER_MAX_PAYLOAD_BYTES}",
                payload.len()
            ));
        }
        with_state(|s| {
            let t = &mut s.timers;
            let replacing = t.pending.iter().position(|(p, _)| p.name == name);
            if replacing.is_none() && t.pending.len() >= t.max_pending {
                return Err(format!(
                    "{} one-shot timers are pending, at most timers_max_pending = {}",
                    t.pending.len(),
                    t.max_pending
                ));
            }
            if let Some(i) = replacing {
                t.pending.remove(i);
            }
            let seq = t.next_seq;
            t.next_seq += 1;
            let timer = PendingTimer {
                name: name.to_owned(),
                payload: payload.to_owned(),
                due_ms: s.now_ms.saturating_add(delay_ms.max(TIMER_MIN_DELAY_MS)),
            };
            t.pending.push((timer, seq));
            Ok(())
        })
    }

    pub(crate) fn cancel(name: &str) -> bool {
        with_state(|s| {
            let pending = &mut s.timers.pending;
            let before = pending.len();
            pending.retain(|(p, _)| p.name != name);
            pending.len() != before
        })
    }
}

/// The mock behind [`crate::host`], with the signatures of the generated
/// imports.
pub(crate) mod mock {
    use super::{Sent, State, with_state};
    use crate::testing::LogLine;
    use crate::{Address, Destination, Friend, Group, Level, Member, Person};

    pub(crate) fn log(level: Level, text: &str) {
        // A panic inside the mock must not turn the panic hook's log call into
        // a double panic (an abort), so skip the line if the state is busy.
        let _ = super::STATE.try_with(|state| {
            if let Ok(mut s) = state.try_borrow_mut() {
                s.logs.push(LogLine {
                    level,
                    text: text.to_owned(),
                });
            }
        });
    }

    pub(crate) fn send(to: &Destination, content: &str) -> Result<u64, String> {
        with_state(|s| {
            let result = deliver(s, to, content);
            s.sends.push(Sent {
                to: to.clone(),
                content: content.to_owned(),
                result: result.clone(),
            });
            result
        })
    }

    fn deliver(s: &mut State, to: &Destination, content: &str) -> Result<u64, String> {
        if let Some(reason) = &s.send_failure {
            return Err(reason.clone());
        }
        if content.is_empty() {
            return Err("content missing".to_owned());
        }
        let found = match to {
            Destination::Friend(a) => s
                .friends
                .iter()
                .any(|f| matches(a, &f.id, f.qq))
                .then_some(())
                .ok_or("friend not found"),
            Destination::Group(a) => find_group(s, a).map(|_| ()),
            Destination::GroupTemp(t) => find_group(s, &t.group).and_then(|number| {
                s.members
                    .iter()
                    .any(|(g, m)| *g == number && matches(&t.member, &m.id, m.qq))
                    .then_some(())
                    .ok_or("group member not found")
            }),
            // The mock keeps no discussions: these always go through.
            Destination::Discuss(_) | Destination::DiscussTemp(_) => Ok(()),
        };
        found.map_err(str::to_owned)?;
        let id = s.next_msg_id;
        s.next_msg_id += 1;
        Ok(id)
    }

    fn find_group(s: &State, a: &Address) -> Result<u64, &'static str> {
        s.groups
            .iter()
            .find(|g| matches(a, &g.id, g.number))
            .map(|g| g.number)
            .ok_or("group not found")
    }

    fn matches(a: &Address, id: &str, number: u64) -> bool {
        match a {
            Address::Id(want) => want == id,
            Address::Number(want) => *want == number,
        }
    }

    pub(crate) fn whoami() -> Person {
        with_state(|s| s.whoami.clone())
    }

    pub(crate) fn friend(qq: u64) -> Option<Friend> {
        with_state(|s| s.friends.iter().find(|f| f.qq == qq).cloned())
    }

    pub(crate) fn group(number: u64) -> Option<Group> {
        with_state(|s| s.groups.iter().find(|g| g.number == number).cloned())
    }

    pub(crate) fn group_member(group: u64, qq: u64) -> Option<Member> {
        with_state(|s| {
            s.members
                .iter()
                .find(|(g, m)| *g == group && m.qq == qq)
                .map(|(_, m)| m.clone())
        })
    }

    pub(crate) fn now_ms() -> u64 {
        with_state(|s| s.now_ms)
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
    /// itself once, 5 s later.
    struct Clocked {
        calls: Vec<(String, u64)>,
    }

    impl Bot for Clocked {
        fn init(config: &Config) -> Result<Self, String> {
            if let Some(secs) = config.get("every") {
                let secs = secs.parse().map_err(|e| format!("{e}"))?;
                crate::timer::every("tick", Duration::from_secs(secs))?;
            }
            Ok(Clocked { calls: Vec::new() })
        }

        fn on_message(&mut self, _: &Message) -> Option<crate::Decision> {
            None
        }

        fn on_timer(&mut self, name: &str, payload: &str) {
            self.calls.push((name.to_owned(), host::now_ms()));
            if name == "chain" && payload == "first" {
                crate::timer::after("chain", Duration::from_secs(5), "second").unwrap();
            }
        }
    }

    #[test]
    fn timers_fire_at_their_due_time_with_chains() {
        let mock = MockHost::new();
        let t0 = mock.now_ms();
        let mut bot: Clocked = mock.init(&Config::from_iter([("every", "4")])).unwrap();
        crate::timer::after("chain", Duration::from_secs(3), "first").unwrap();
        let fired = mock.advance_firing(&mut bot, Duration::from_secs(10));
        assert_eq!(
            fired,
            [
                Due::new("chain", "first"),
                Due::new("tick", ""),
                // Declared timers go first at equal times.
                Due::new("tick", ""),
                Due::new("chain", "second"),
            ]
        );
        let at: Vec<u64> = bot.calls.iter().map(|(_, at)| at - t0).collect();
        assert_eq!(at, [3_000, 4_000, 8_000, 8_000]);
        assert_eq!(mock.now_ms(), t0 + 10_000);
        assert!(mock.pending_timers().is_empty());

        // A re-init (a swap) drops the old declarations and takes the new.
        let mut bot: Clocked = mock.init(&Config::default()).unwrap();
        assert!(mock.declared_timers().is_empty());
        assert_eq!(mock.advance_firing(&mut bot, Duration::from_secs(60)), []);

        // A timer set with no delay is rounded up to a second, as the
        // gateway does: not due at once, due after a second.
        crate::timer::after("now", Duration::ZERO, "").unwrap();
        assert_eq!(mock.fire_due(&mut bot), []);
        assert_eq!(
            mock.advance_firing(&mut bot, Duration::from_secs(1)),
            [Due::new("now", "")]
        );
    }

    #[test]
    fn advance_counts_every_tick() {
        let mock = MockHost::new();
        crate::timer::every("tick", Duration::from_secs(1)).unwrap();
        assert_eq!(mock.advance(Duration::from_millis(3500)).len(), 3);
        assert_eq!(mock.advance(Duration::from_millis(500)).len(), 1);
    }

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
