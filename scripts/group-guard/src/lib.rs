//! Group guard: mutes group members who flood the chat or use banned words.
//!
//! Config (every key optional):
//!
//! ```toml
//! [bots.config]
//! max_messages = 5     # K: more than K messages ...
//! window_seconds = 10  # T: ... within T seconds is flooding
//! shutup_seconds = 60  # N: how long to mute
//! banned = ["spam", "广告"]
//! welcome = "欢迎 {name} 入群"   # greet members who join ({name}: card or nick)
//! forgive_after_hours = 24      # strikes older than this are forgotten
//! max_shutup_seconds = 2592000  # the longest mute (30 days, QQ's limit)
//! ```
//!
//! Group messages only; everything else passes. A member whose message
//! contains a banned word gets `<name>，请文明发言`; a member who sends more
//! than K messages within T seconds (by the messages' own `time`) gets
//! `<name>，请勿刷屏`. Either way the reply comes with a mute, and the
//! member's count starts over, so a mute the gateway cannot carry out (the
//! bot is no admin) does not make the bot answer every further message.
//!
//! Repeat offenders are muted longer: each mute is a strike, and the n-th
//! strike within `forgive_after_hours` of the one before mutes for N·2ⁿ⁻¹
//! seconds (60, 120, 240, …), at most `max_shutup_seconds`; from the second
//! strike on the reply says so: `<name>，请勿刷屏（第 2 次，禁言 120 秒）`.
//! A quiet `forgive_after_hours` starts the member over at one strike.
//!
//! With `welcome` set, a member who joins a group (an `on-event`
//! `new-group-member`) is greeted in that group with `host::send`.
//!
//! Flood counts live in the instance's memory, per group and member, at most
//! K+1 timestamps each; quiet members are forgotten once more than
//! [`MAX_TRACKED`] are tracked. A rebuilt instance starts them from zero,
//! which costs at most one window. Strikes live in the bot's KV store —
//! `strikes/<group number>/<qq>` → JSON `{"count":…,"last_ms":…}` — so they
//! survive swaps, rebuilds and restarts (members known only by session id
//! get no strikes). If the store fails, the mute is N seconds and the
//! failure is logged.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use openqq_bot::{
    Address, Bot, Config, Decision, Destination, Event, Level, Message, Throttle, host, kv,
};
use serde::{Deserialize, Serialize};

const DEFAULT_MAX_MESSAGES: usize = 5;
const DEFAULT_WINDOW_SECONDS: u64 = 10;
const DEFAULT_SHUTUP_SECONDS: u32 = 60;
const DEFAULT_FORGIVE_AFTER_HOURS: u64 = 24;
/// QQ's longest mute: 30 days.
pub const QQ_MAX_SHUTUP_SECONDS: u32 = 30 * 24 * 3600;

/// A member's mutes in one group, as stored in the KV.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strikes {
    /// Mutes in a row, none more than the forgiveness time after the last.
    pub count: u32,
    /// When the last one was, on the gateway's clock (ms since the epoch).
    pub last_ms: u64,
}

/// How many (group, member) counters to keep before forgetting quiet ones.
pub const MAX_TRACKED: usize = 4096;

/// Whom a counter belongs to: stable numbers when known, session ids otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MemberKey {
    group: Address,
    member: Address,
}

impl MemberKey {
    fn of(msg: &Message) -> Self {
        let group = match (msg.group_number(), msg.group_id()) {
            (Some(number), _) => Address::Number(number),
            (None, id) => Address::Id(id.unwrap_or_default().to_owned()),
        };
        let member = match msg.sender_qq() {
            Some(qq) => Address::Number(qq),
            None => Address::Id(msg.sender_id().to_owned()),
        };
        MemberKey { group, member }
    }
}

/// The group-guard bot: its limits and the recent message times per member.
#[derive(Debug)]
pub struct GroupGuard {
    max_messages: usize,
    window_seconds: u64,
    shutup_seconds: u32,
    banned: Vec<String>,
    /// Times of each member's recent messages, oldest first, at most K+1.
    recent: HashMap<MemberKey, VecDeque<u64>>,
    /// The greeting for new members; `{name}` is replaced.
    welcome: Option<String>,
    forgive_after_ms: u64,
    max_shutup_seconds: u32,
    /// A failing store would otherwise warn at every mute.
    store_trouble: Throttle,
}

impl Bot for GroupGuard {
    fn init(config: &Config) -> Result<Self, String> {
        let max_messages = config.parse_or("max_messages", DEFAULT_MAX_MESSAGES)?;
        let window_seconds = config.parse_or("window_seconds", DEFAULT_WINDOW_SECONDS)?;
        let shutup_seconds = config.parse_or("shutup_seconds", DEFAULT_SHUTUP_SECONDS)?;
        if max_messages == 0 {
            return Err("config `max_messages` must be at least 1".into());
        }
        if window_seconds == 0 {
            return Err("config `window_seconds` must be at least 1".into());
        }
        if shutup_seconds < 60 {
            openqq_bot::warn!("shutup_seconds = {shutup_seconds}: QQ refuses mutes under 60 s");
        }
        let forgive_after_hours: u64 =
            config.parse_or("forgive_after_hours", DEFAULT_FORGIVE_AFTER_HOURS)?;
        if forgive_after_hours == 0 {
            return Err("config `forgive_after_hours` must be at least 1".into());
        }
        let max_shutup_seconds = config.parse_or("max_shutup_seconds", QQ_MAX_SHUTUP_SECONDS)?;
        if max_shutup_seconds < shutup_seconds {
            return Err(format!(
                "config `max_shutup_seconds` = {max_shutup_seconds} is under `shutup_seconds` = {shutup_seconds}"
            ));
        }
        let banned = config
            .prefixed("banned.")
            .map(|(_, word)| word)
            .filter(|word| !word.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(GroupGuard {
            max_messages,
            window_seconds,
            shutup_seconds,
            banned,
            recent: HashMap::new(),
            welcome: config
                .get("welcome")
                .filter(|w| !w.is_empty())
                .map(str::to_owned),
            forgive_after_ms: forgive_after_hours.saturating_mul(3_600_000),
            max_shutup_seconds,
            store_trouble: Throttle::new(Duration::from_secs(60)),
        })
    }

    fn on_event(&mut self, event: &Event) {
        let (Some(welcome), Event::NewGroupMember(change)) = (&self.welcome, event) else {
            return;
        };
        let m = &change.member;
        let name = if m.card.is_empty() { &m.nick } else { &m.card };
        let text = welcome.replace("{name}", name);
        if let Err(e) = host::send(Destination::group(change.group.number), &text) {
            openqq_bot::warn!("cannot welcome {} in {}: {e}", m.qq, change.group.number);
        }
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        if !msg.is_group() {
            return None;
        }
        let key = MemberKey::of(msg);
        if self.banned.iter().any(|w| msg.content.contains(w.as_str())) {
            self.recent.remove(&key);
            return Some(self.mute(msg, "请文明发言"));
        }
        if self.flooding(key, msg.time) {
            return Some(self.mute(msg, "请勿刷屏"));
        }
        self.forget_quiet(msg.time);
        None
    }
}

impl GroupGuard {
    /// Records a message at `now` and says whether its sender went over the
    /// limit; if so the sender's count starts over.
    fn flooding(&mut self, key: MemberKey, now: u64) -> bool {
        let window = self.window_seconds;
        let times = self.recent.entry(key.clone()).or_default();
        // Times from the future (clock skew) count as now.
        times.retain(|&t| now.saturating_sub(t) < window);
        times.push_back(now);
        while times.len() > self.max_messages + 1 {
            times.pop_front();
        }
        if times.len() > self.max_messages {
            self.recent.remove(&key);
            return true;
        }
        false
    }

    /// Keeps memory bounded: past [`MAX_TRACKED`] counters, drop those with
    /// nothing inside the window, and everything if that is not enough.
    fn forget_quiet(&mut self, now: u64) {
        if self.recent.len() <= MAX_TRACKED {
            return;
        }
        let window = self.window_seconds;
        self.recent.retain(|_, times| {
            times
                .back()
                .is_some_and(|&t| now.saturating_sub(t) < window)
        });
        if self.recent.len() > MAX_TRACKED {
            openqq_bot::warn!(
                "{} members active at once; forgetting all flood counts",
                self.recent.len()
            );
            self.recent.clear();
        }
    }

    fn mute(&mut self, msg: &Message, why: &str) -> Decision {
        let name = match (msg.sender_name(), msg.sender_qq()) {
            ("", Some(qq)) => qq.to_string(),
            ("", None) => msg.sender_id().to_owned(),
            (name, _) => name.to_owned(),
        };
        let strikes = match (msg.group_number(), msg.sender_qq()) {
            (Some(group), Some(qq)) => self.strike(group, qq),
            _ => 1,
        };
        let seconds = self.shutup_for(strikes);
        let text = if strikes > 1 {
            format!("{name}，{why}（第 {strikes} 次，禁言 {seconds} 秒）")
        } else {
            format!("{name}，{why}")
        };
        Decision::reply(text).shutup(seconds)
    }

    /// The mute for the `strikes`-th strike: N·2ⁿ⁻¹ seconds, capped.
    fn shutup_for(&self, strikes: u32) -> u32 {
        let doublings = strikes.saturating_sub(1).min(31);
        self.shutup_seconds
            .saturating_mul(1 << doublings)
            .min(self.max_shutup_seconds)
    }

    /// Records a strike against `qq` in `group` and returns how many in a
    /// row; 1 when the store fails.
    fn strike(&mut self, group: u64, qq: u64) -> u32 {
        let key = format!("strikes/{group}/{qq}");
        let now = host::now_ms();
        let before = match kv::get_json::<Strikes>(&key) {
            Ok(found) => found.unwrap_or_default(),
            Err(e @ kv::Error::Decode(_)) => {
                // Another shape (an older version?): start over.
                self.store_trouble
                    .log(Level::Warn, &format!("group-guard: starting over: {e}"));
                Strikes::default()
            }
            Err(e) => return self.store_failed(&key, &e),
        };
        let count = if now.saturating_sub(before.last_ms) > self.forgive_after_ms {
            1
        } else {
            before.count.saturating_add(1)
        };
        let after = Strikes {
            count,
            last_ms: now,
        };
        if let Err(e) = kv::set_json(&key, &after) {
            return self.store_failed(&key, &e);
        }
        count
    }

    fn store_failed(&mut self, key: &str, e: &kv::Error) -> u32 {
        self.store_trouble.log(
            Level::Warn,
            &format!("group-guard: cannot count the strike `{key}`: {e}; muting for the base time"),
        );
        1
    }
}

openqq_bot::export_bot!(GroupGuard);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    fn guard(pairs: &[(&str, &str)]) -> GroupGuard {
        GroupGuard::init(&pairs.iter().copied().collect()).unwrap()
    }

    #[test]
    fn welcomes_new_members_when_configured() {
        let host = MockHost::new();
        let joined = |card: &str| {
            let mut member = testing::member(42, "新人", openqq_bot::MemberRole::Member);
            member.card = card.to_owned();
            Event::NewGroupMember(openqq_bot::MemberChange {
                group: testing::group(552603, "g", openqq_bot::GroupRole::Manage),
                member,
            })
        };
        guard(&[]).on_event(&joined(""));
        assert!(host.sends().is_empty(), "no welcome configured");
        let mut bot = guard(&[("welcome", "欢迎 {name}")]);
        bot.on_event(&joined(""));
        bot.on_event(&joined("卡片"));
        bot.on_event(&Event::Login);
        let sends = host.sends();
        assert_eq!(sends.len(), 2);
        assert_eq!(sends[0].to, Destination::group(552603));
        assert_eq!(sends[0].content, "欢迎 新人");
        assert_eq!(sends[1].content, "欢迎 卡片");
    }

    fn said(group: u64, qq: u64, time: u64, text: &str) -> Message {
        let mut msg = testing::group_message(group, qq, "Bob", text);
        msg.time = time;
        msg
    }

    #[test]
    fn more_than_k_within_t_is_flooding() {
        let _host = MockHost::new();
        let mut g = guard(&[("max_messages", "3"), ("window_seconds", "10")]);
        for t in [100, 101, 102] {
            assert_eq!(g.on_message(&said(9, 1, t, "hi")), None);
        }
        assert_eq!(
            g.on_message(&said(9, 1, 109, "hi")),
            Some(Decision::reply("Bob，请勿刷屏").shutup(60))
        );
        // The count starts over after a mute.
        assert_eq!(g.on_message(&said(9, 1, 109, "hi")), None);
    }

    #[test]
    fn messages_outside_the_window_do_not_count() {
        let _host = MockHost::new();
        let mut g = guard(&[("max_messages", "3"), ("window_seconds", "10")]);
        for t in [100, 101, 102, 110, 111, 112, 120] {
            assert_eq!(g.on_message(&said(9, 1, t, "hi")), None, "at {t}");
        }
    }

    #[test]
    fn counts_are_per_group_and_member() {
        let _host = MockHost::new();
        let mut g = guard(&[("max_messages", "2")]);
        assert_eq!(g.on_message(&said(9, 1, 100, "a")), None);
        assert_eq!(g.on_message(&said(9, 2, 100, "a")), None);
        assert_eq!(g.on_message(&said(8, 1, 100, "a")), None);
        assert_eq!(g.on_message(&said(9, 1, 100, "a")), None);
        assert!(g.on_message(&said(9, 1, 100, "a")).is_some());
    }

    #[test]
    fn banned_words_mute_at_once() {
        let _host = MockHost::new();
        let mut g = guard(&[("banned.0", "广告"), ("shutup_seconds", "600")]);
        assert_eq!(
            g.on_message(&said(9, 1, 100, "看广告")),
            Some(Decision::reply("Bob，请文明发言").shutup(600))
        );
    }

    #[test]
    fn other_chats_pass() {
        let _host = MockHost::new();
        let mut g = guard(&[("max_messages", "1"), ("banned.0", "spam")]);
        for _ in 0..5 {
            assert_eq!(g.on_message(&testing::friend_message(1, "a", "spam")), None);
            assert_eq!(
                g.on_message(&testing::sess_message(9, 1, "a", "spam")),
                None
            );
            assert_eq!(
                g.on_message(&testing::discuss_message("d", 1, "a", "spam")),
                None
            );
        }
    }

    #[test]
    fn names_fall_back_to_the_qq_number() {
        let _host = MockHost::new();
        let mut g = guard(&[("banned.0", "spam")]);
        let mut msg = said(9, 10001, 100, "spam");
        msg.sender.name.clear();
        let reply = g.on_message(&msg).and_then(|d| d.reply);
        assert_eq!(reply.as_deref(), Some("10001，请文明发言"));
    }

    #[test]
    fn memory_stays_bounded() {
        let _host = MockHost::new();
        let mut g = guard(&[]);
        for qq in 0..(MAX_TRACKED as u64 * 3) {
            // Each member is quiet by the time the next one speaks.
            g.on_message(&said(9, qq, qq * 100, "hi"));
            assert!(g.recent.len() <= MAX_TRACKED);
        }
        for qq in 0..(MAX_TRACKED as u64 * 2) {
            // All at once: nothing is quiet, so everything is forgotten.
            g.on_message(&said(8, qq, 1_000_000, "hi"));
            assert!(g.recent.len() <= MAX_TRACKED);
        }
    }

    fn spam(g: &mut GroupGuard, group: u64, qq: u64) -> Option<Decision> {
        g.on_message(&said(group, qq, 100, "spam"))
    }

    #[test]
    fn repeat_offenders_are_muted_longer_across_instances() {
        let host = MockHost::new();
        let config = [("banned.0", "spam")];
        let mut g = guard(&config);
        assert_eq!(
            spam(&mut g, 9, 1),
            Some(Decision::reply("Bob，请文明发言").shutup(60))
        );
        // A swap, a rebuild or a restart: a fresh instance, the same store.
        let mut g = guard(&config);
        host.advance(Duration::from_secs(3600));
        assert_eq!(
            spam(&mut g, 9, 1),
            Some(Decision::reply("Bob，请文明发言（第 2 次，禁言 120 秒）").shutup(120))
        );
        // Flooding is a strike too.
        let mut g = guard(&[("banned.0", "spam"), ("max_messages", "1")]);
        g.on_message(&said(9, 1, 200, "hi"));
        assert_eq!(
            g.on_message(&said(9, 1, 200, "hi")),
            Some(Decision::reply("Bob，请勿刷屏（第 3 次，禁言 240 秒）").shutup(240))
        );
        assert_eq!(
            kv::get_json::<Strikes>("strikes/9/1"),
            Ok(Some(Strikes {
                count: 3,
                last_ms: host.now_ms()
            }))
        );
        // Other members and other groups have their own strikes.
        assert_eq!(spam(&mut g, 9, 2).and_then(|d| d.shutup), Some(60));
        assert_eq!(spam(&mut g, 8, 1).and_then(|d| d.shutup), Some(60));
    }

    #[test]
    fn strikes_are_forgiven_and_mutes_capped() {
        let host = MockHost::new();
        let mut g = guard(&[
            ("banned.0", "spam"),
            ("forgive_after_hours", "2"),
            ("max_shutup_seconds", "300"),
        ]);
        let mutes: Vec<_> = (0..5)
            .map(|_| {
                host.advance(Duration::from_secs(7200)); // just within 2 hours
                spam(&mut g, 9, 1).and_then(|d| d.shutup)
            })
            .collect();
        assert_eq!(
            mutes,
            [Some(60), Some(120), Some(240), Some(300), Some(300)]
        );
        host.advance(Duration::from_secs(7201));
        assert_eq!(
            spam(&mut g, 9, 1),
            Some(Decision::reply("Bob，请文明发言").shutup(60))
        );
        // Far past any doubling, still capped and no overflow.
        let mut g = guard(&[("banned.0", "spam")]);
        for _ in 0..40 {
            spam(&mut g, 7, 1);
        }
        assert_eq!(
            spam(&mut g, 7, 1).and_then(|d| d.shutup),
            Some(QQ_MAX_SHUTUP_SECONDS)
        );
    }

    #[test]
    fn a_failing_store_mutes_for_the_base_time() {
        let host = MockHost::new();
        let mut g = guard(&[("banned.0", "spam")]);
        spam(&mut g, 9, 1);
        host.kv_fail(Some(kv::Error::Store("disk full".into())));
        for _ in 0..3 {
            assert_eq!(spam(&mut g, 9, 1).and_then(|d| d.shutup), Some(60));
        }
        let warned: Vec<_> = host
            .logs()
            .into_iter()
            .filter(|l| l.level == Level::Warn)
            .collect();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].text.contains("strikes/9/1"), "{warned:?}");
        host.kv_fail(None);
        assert_eq!(spam(&mut g, 9, 1).and_then(|d| d.shutup), Some(120));
        // A member known by session id only gets no strikes.
        let mut anon = said(9, 5, 100, "spam");
        anon.sender.qq = None;
        for _ in 0..2 {
            assert_eq!(g.on_message(&anon).and_then(|d| d.shutup), Some(60));
        }
        assert_eq!(host.kv_entries().len(), 1);
    }

    #[test]
    fn bad_limits_fail_init() {
        let _host = MockHost::new();
        for (key, value) in [
            ("max_messages", "0"),
            ("max_messages", "many"),
            ("window_seconds", "0"),
            ("shutup_seconds", "-1"),
            ("forgive_after_hours", "0"),
            ("max_shutup_seconds", "59"),
        ] {
            let err = GroupGuard::init(&Config::from_iter([(key, value)])).unwrap_err();
            assert!(err.contains(key), "{err}");
        }
    }
}
