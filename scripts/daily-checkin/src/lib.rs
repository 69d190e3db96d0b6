//! Daily check-in: a morning post to configured groups on a cron timer, and
//! `签到` streaks per group member kept in the bot's KV store.
//!
//! Config (every key optional):
//!
//! ```toml
//! [bots.config]
//! groups = [552603]                      # where the morning post goes (groups.0, …)
//! cron = "0 0 8 * * *"                   # when (sec min hour dom month dow), the default
//! text = "早上好！今天也记得签到 (send 签到)"  # what, the default
//! utc_offset_hours = 8                   # where a day starts (-12..=14), the default
//! ```
//!
//! - With `groups` set, `init` declares the cron timer `morning`; when it
//!   fires, `text` is sent to each group with `host::send` (a failed send is
//!   logged). The cron runs in the gateway's `timezone`.
//! - `签到` (the whole text) in a group records the sender's check-in for
//!   today — the day in UTC+`utc_offset_hours` of the gateway's clock, so set
//!   it to the gateway's `timezone` — and answers `<name> 签到成功！连续 3
//!   天，共 10 天 / …`: checked in yesterday too, the streak grows; a day
//!   missed, it starts over at 1; the total always grows. A second `签到` the
//!   same day answers `<name>，今天已经签到过了 / …` and changes nothing.
//! - Everything else passes untouched, `签到` in other chats too.
//!
//! KV layout: `c/<group number>/<qq>` → JSON `{"last_day":…,"streak":…,
//! "total":…}` (`last_day`: days since 1970-01-01 in that offset). A full
//! store is reported (`签到本已满 / store full: …`); a record that does not
//! decode is logged and starts over.

use std::time::Duration;

use openqq_bot::{Bot, Config, Decision, Destination, Level, Message, Throttle, host, kv, timer};
use serde::{Deserialize, Serialize};

/// The name of the declared cron timer.
pub const TIMER: &str = "morning";
pub const DEFAULT_CRON: &str = "0 0 8 * * *";
pub const DEFAULT_TEXT: &str = "早上好！今天也记得签到 (send 签到)";
pub const DEFAULT_UTC_OFFSET_HOURS: i64 = 8;
const COMMAND: &str = "签到";
const DAY_SECONDS: i64 = 86_400;

/// The daily-checkin bot: where to post, what, and where a day starts.
#[derive(Debug)]
pub struct DailyCheckin {
    groups: Vec<u64>,
    text: String,
    utc_offset_hours: i64,
    /// Warnings that could otherwise come with every message.
    store_trouble: Throttle,
    bad_records: Throttle,
}

/// One member's check-ins in one group, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The day of the last check-in (days since the epoch, in the offset).
    #[serde(default)]
    pub last_day: i64,
    /// Days in a row, ending at `last_day`.
    #[serde(default)]
    pub streak: u32,
    /// Days checked in, ever.
    #[serde(default)]
    pub total: u32,
}

impl Record {
    /// The record after checking in on `today`, or `None` when already
    /// checked in that day.
    pub fn check_in(self, today: i64) -> Option<Record> {
        if self.total > 0 && self.last_day == today {
            return None;
        }
        let streak = if self.total > 0 && self.last_day == today - 1 {
            self.streak.saturating_add(1)
        } else {
            1
        };
        Some(Record {
            last_day: today,
            streak,
            total: self.total.saturating_add(1),
        })
    }
}

impl Bot for DailyCheckin {
    fn init(config: &Config) -> Result<Self, String> {
        let mut groups = Vec::new();
        for (index, number) in config.prefixed("groups.") {
            let number = number.trim().parse().map_err(|e| {
                format!("config `groups.{index}`: {e} (got {number:?}); want a group number")
            })?;
            groups.push(number);
        }
        let text = config.get_or("text", DEFAULT_TEXT).to_owned();
        if text.trim().is_empty() {
            return Err("config `text` must not be empty".into());
        }
        let utc_offset_hours = config.parse_or("utc_offset_hours", DEFAULT_UTC_OFFSET_HOURS)?;
        if !(-12..=14).contains(&utc_offset_hours) {
            return Err(format!(
                "config `utc_offset_hours` = {utc_offset_hours}: want -12 to 14"
            ));
        }
        let cron = config.get_or("cron", DEFAULT_CRON);
        if groups.is_empty() {
            openqq_bot::info!("daily-checkin: no `groups`, so no morning post");
        } else {
            timer::cron(TIMER, cron).map_err(|e| format!("config `cron` = {cron:?}: {e}"))?;
            openqq_bot::info!(
                "daily-checkin: morning post at `{cron}` to {} groups",
                groups.len()
            );
        }
        Ok(DailyCheckin {
            groups,
            text,
            utc_offset_hours,
            store_trouble: Throttle::new(Duration::from_secs(60)),
            bad_records: Throttle::new(Duration::from_secs(60)),
        })
    }

    fn on_timer(&mut self, name: &str, _payload: &str) {
        if name != TIMER {
            openqq_bot::debug!("daily-checkin: ignoring timer `{name}`");
            return;
        }
        for &group in &self.groups {
            if let Err(e) = host::send(Destination::group(group), &self.text) {
                openqq_bot::warn!("daily-checkin: cannot post to group {group}: {e}");
            }
        }
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        if !msg.is_group() || msg.text().trim() != COMMAND {
            return None;
        }
        let (group, qq) = (msg.group_number()?, msg.sender_qq()?);
        let name = match msg.sender_name() {
            "" => qq.to_string(),
            name => name.to_owned(),
        };
        Some(Decision::reply(self.check_in(group, qq, &name)))
    }
}

impl DailyCheckin {
    /// Today, as days since 1970-01-01 in UTC+`utc_offset_hours`.
    fn today(&self) -> i64 {
        let secs = i64::try_from(host::now_ms() / 1000).unwrap_or(i64::MAX);
        secs.saturating_add(self.utc_offset_hours * 3600)
            .div_euclid(DAY_SECONDS)
    }

    fn check_in(&mut self, group: u64, qq: u64, name: &str) -> String {
        let key = format!("c/{group}/{qq}");
        let record = match kv::get_json::<Record>(&key) {
            Ok(record) => record.unwrap_or_default(),
            Err(e @ kv::Error::Decode(_)) => {
                self.bad_records.log(
                    Level::Warn,
                    &format!("daily-checkin: starting `{key}` over: {e}"),
                );
                Record::default()
            }
            Err(e) => return self.store_failed(&e),
        };
        let Some(next) = record.check_in(self.today()) else {
            return format!(
                "{name}，今天已经签到过了 / already checked in today: 连续 {} 天，共 {} 天",
                record.streak, record.total
            );
        };
        if let Err(e) = kv::set_json(&key, &next) {
            return self.store_failed(&e);
        }
        format!(
            "{name} 签到成功！连续 {s} 天，共 {t} 天 / checked in: {s} in a row, {t} in all",
            s = next.streak,
            t = next.total
        )
    }

    fn store_failed(&mut self, e: &kv::Error) -> String {
        if let kv::Error::Quota(why) = e {
            return format!("签到本已满 / store full: {why}");
        }
        self.store_trouble
            .log(Level::Warn, &format!("daily-checkin: {e}"));
        format!("签到失败 / check-in failed: {e}")
    }
}

openqq_bot::export_bot!(DailyCheckin);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::GroupRole;
    use openqq_bot::testing::{self, MockHost, Schedule};

    const G: u64 = 552603;
    /// 2023-11-15 00:00:00 UTC+8, a day boundary in the default offset.
    const MIDNIGHT_CST_MS: u64 = 1_699_977_600_000;
    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    fn bot(pairs: &[(&str, &str)]) -> DailyCheckin {
        DailyCheckin::init(&pairs.iter().copied().collect()).unwrap()
    }

    fn say(b: &mut DailyCheckin, qq: u64, text: &str) -> Option<String> {
        b.on_message(&testing::group_message(G, qq, "Bob", text))
            .and_then(|d| d.reply)
    }

    fn ok(streak: u32, total: u32) -> Option<String> {
        Some(format!(
            "Bob 签到成功！连续 {streak} 天，共 {total} 天 / checked in: {streak} in a row, {total} in all"
        ))
    }

    #[test]
    fn init_declares_the_morning_cron_only_with_groups() {
        let host = MockHost::new();
        let _: DailyCheckin = host.init(&Config::default()).unwrap();
        assert!(host.declared_timers().is_empty());

        let _: DailyCheckin = host
            .init(&Config::from_iter([("groups.0", "552603")]))
            .unwrap();
        let declared = host.declared_timers();
        assert_eq!(declared.len(), 1);
        assert_eq!(declared[0].name, TIMER);
        assert_eq!(declared[0].schedule, Schedule::Cron(DEFAULT_CRON.into()));

        let _: DailyCheckin = host
            .init(&Config::from_iter([
                ("groups.0", "1"),
                ("cron", "0 30 7 * * 1-5"),
            ]))
            .unwrap();
        assert_eq!(
            host.declared_timers()[0].schedule,
            Schedule::Cron("0 30 7 * * 1-5".into())
        );
    }

    #[test]
    fn the_morning_timer_posts_to_every_group() {
        let host = MockHost::new();
        host.add_group(testing::group(G, "a", GroupRole::Attend));
        host.add_group(testing::group(7, "b", GroupRole::Attend));
        let mut b: DailyCheckin = host
            .init(&Config::from_iter([
                ("groups.0", "552603"),
                ("groups.1", "7"),
                ("groups.2", "404"),
            ]))
            .unwrap();
        b.on_timer("something else", "");
        assert!(host.sends().is_empty());
        b.on_timer(TIMER, "");
        let sends = host.sends();
        let to: Vec<_> = sends.iter().map(|s| s.to.clone()).collect();
        assert_eq!(
            to,
            [
                Destination::group(G),
                Destination::group(7),
                Destination::group(404)
            ]
        );
        assert!(sends.iter().all(|s| s.content == DEFAULT_TEXT));
        assert!(host.logged(Level::Warn, "cannot post to group 404: group not found"));

        let mut custom = bot(&[("groups.0", "7"), ("text", "起床啦")]);
        custom.on_timer(TIMER, "");
        assert_eq!(
            host.sends().last().map(|s| s.content.as_str()),
            Some("起床啦")
        );
    }

    #[test]
    fn streaks_grow_day_by_day_and_start_over_after_a_gap() {
        let host = MockHost::new();
        host.set_now_ms(MIDNIGHT_CST_MS + 9 * 3_600_000);
        let mut b = bot(&[]);
        assert_eq!(say(&mut b, 1, "签到"), ok(1, 1));
        assert_eq!(
            say(&mut b, 1, "签到\n"),
            Some("Bob，今天已经签到过了 / already checked in today: 连续 1 天，共 1 天".into())
        );
        host.advance(DAY);
        assert_eq!(say(&mut b, 1, "签到"), ok(2, 2));
        host.advance(DAY);
        assert_eq!(say(&mut b, 1, " 签到 "), ok(3, 3));
        host.advance(DAY * 2); // a day missed
        assert_eq!(say(&mut b, 1, "签到"), ok(1, 4));
        assert_eq!(
            kv::get_json::<Record>(&format!("c/{G}/1")),
            Ok(Some(Record {
                last_day: 19_676 + 4, // 2023-11-15 + 4 days
                streak: 1,
                total: 4
            }))
        );
        // A fresh instance (a swap) continues from the store.
        let mut b = bot(&[]);
        host.advance(DAY);
        assert_eq!(say(&mut b, 1, "签到"), ok(2, 5));
    }

    #[test]
    fn days_start_at_midnight_in_the_configured_offset() {
        let host = MockHost::new();
        // 23:59 and 00:01 in UTC+8 are two days there, one day in UTC.
        host.set_now_ms(MIDNIGHT_CST_MS - 60_000);
        let mut cst = bot(&[]);
        let mut utc = bot(&[("utc_offset_hours", "0")]);
        assert_eq!(say(&mut cst, 1, "签到"), ok(1, 1));
        assert_eq!(say(&mut utc, 2, "签到"), ok(1, 1));
        host.advance(Duration::from_secs(120));
        assert_eq!(say(&mut cst, 1, "签到"), ok(2, 2));
        assert!(say(&mut utc, 2, "签到").unwrap().contains("已经签到过了"));
        // UTC's next day starts 8 hours after CST's.
        host.advance(HOUR * 8);
        assert_eq!(say(&mut utc, 2, "签到"), ok(2, 2));
    }

    #[test]
    fn records_are_per_group_and_member_and_only_in_groups() {
        let host = MockHost::new();
        let mut b = bot(&[]);
        assert_eq!(say(&mut b, 1, "签到"), ok(1, 1));
        assert_eq!(say(&mut b, 2, "签到"), ok(1, 1));
        let other = testing::group_message(G + 1, 1, "Bob", "签到");
        assert_eq!(b.on_message(&other).and_then(|d| d.reply), ok(1, 1));
        assert_eq!(host.kv_entries().len(), 3);
        for msg in [
            testing::friend_message(1, "Bob", "签到"),
            testing::sess_message(G, 1, "Bob", "签到"),
            testing::discuss_message("d", 1, "Bob", "签到"),
            testing::group_message(G, 1, "Bob", "签到了"),
        ] {
            assert_eq!(b.on_message(&msg), None);
        }
        let mut nameless = testing::group_message(G, 3, "", "签到");
        nameless.sender.name.clear();
        let reply = b.on_message(&nameless).and_then(|d| d.reply).unwrap();
        assert!(reply.starts_with("3 签到成功！"), "{reply}");
    }

    #[test]
    fn store_trouble_is_told() {
        let host = MockHost::new();
        let mut b = bot(&[]);
        host.kv_quota(64, 10);
        let reply = say(&mut b, 1, "签到").unwrap();
        assert!(
            reply.starts_with("签到本已满 / store full: ") && reply.contains("kv_max_total_bytes"),
            "{reply}"
        );
        host.kv_quota(64, 1 << 20);
        host.kv_fail(Some(kv::Error::Denied("no".into())));
        assert_eq!(
            say(&mut b, 1, "签到"),
            Some("签到失败 / check-in failed: denied: no".into())
        );
        host.kv_fail(None);
        // A record another version wrote in another shape starts over.
        kv::set_str(&format!("c/{G}/1"), "{\"last_day\": \"yesterday\"}").unwrap();
        assert_eq!(say(&mut b, 1, "签到"), ok(1, 1));
        assert!(host.logged(Level::Warn, "starting `c/552603/1` over"));
    }

    #[test]
    fn bad_config_fails_init() {
        let _host = MockHost::new();
        for (pairs, needle) in [
            (vec![("groups.0", "abc")], "groups.0"),
            (vec![("text", " ")], "text"),
            (vec![("utc_offset_hours", "15")], "utc_offset_hours"),
            (vec![("utc_offset_hours", "8.5")], "utc_offset_hours"),
            (vec![("groups.0", "1"), ("cron", "at eight")], "cron"),
        ] {
            let err = DailyCheckin::init(&pairs.into_iter().collect()).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn check_in_arithmetic() {
        let new = Record::default();
        assert_eq!(
            new.check_in(0),
            Some(Record {
                last_day: 0,
                streak: 1,
                total: 1
            }),
            "day 0 is a real day"
        );
        let r = Record {
            last_day: 10,
            streak: 4,
            total: 9,
        };
        assert_eq!(r.check_in(10), None);
        assert_eq!(
            r.check_in(11),
            Some(Record {
                last_day: 11,
                streak: 5,
                total: 10
            })
        );
        assert_eq!(
            r.check_in(13),
            Some(Record {
                last_day: 13,
                streak: 1,
                total: 10
            })
        );
    }
}
