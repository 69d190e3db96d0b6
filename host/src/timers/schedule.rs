//! When a declared timer fires: a fixed interval, or a cron expression with
//! seconds in the gateway's time zone.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Local, TimeZone, Utc};

/// The shortest interval `timers.every` accepts.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The time zone cron expressions are read in: the config's `timezone`
/// (an IANA name such as `Asia/Shanghai`), else the machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    #[default]
    Local,
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Reads an IANA name; empty means the machine's zone.
    ///
    /// # Errors
    /// A name that is not in the IANA database.
    pub fn parse(name: &str) -> Result<Zone, String> {
        if name.is_empty() {
            return Ok(Zone::Local);
        }
        chrono_tz::Tz::from_str(name)
            .map(Zone::Named)
            .map_err(|_| format!("timezone = {name:?} is not an IANA time zone name (e.g. \"Asia/Shanghai\", \"UTC\")"))
    }

    /// The zone's name, for logs and the admin API.
    pub fn name(&self) -> String {
        match self {
            Zone::Local => iana_local().unwrap_or_else(|| "local".to_string()),
            Zone::Named(tz) => tz.name().to_string(),
        }
    }
}

/// The machine's zone name, when `TZ` says it.
fn iana_local() -> Option<String> {
    std::env::var("TZ").ok().filter(|t| !t.is_empty())
}

/// A declared timer's schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<cron::Schedule>),
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        match (self, other) {
            (Schedule::Every(a), Schedule::Every(b)) => a == b,
            (Schedule::Cron(a), Schedule::Cron(b)) => a.source() == b.source(),
            _ => false,
        }
    }
}

impl Schedule {
    /// An interval of `ms` milliseconds.
    ///
    /// # Errors
    /// Shorter than `MIN_INTERVAL`.
    pub fn every(ms: u64) -> Result<Schedule, String> {
        let d = Duration::from_millis(ms);
        if d < MIN_INTERVAL {
            return Err(format!(
                "interval {ms} ms is shorter than the shortest, {} ms",
                MIN_INTERVAL.as_millis()
            ));
        }
        Ok(Schedule::Every(d))
    }

    /// A cron expression with seconds: `sec min hour day month weekday [year]`.
    ///
    /// # Errors
    /// An expression the parser refuses, or one that never fires.
    pub fn cron(expr: &str) -> Result<Schedule, String> {
        let s = cron::Schedule::from_str(expr.trim()).map_err(|e| {
            format!("cron expression {expr:?}: {e} (six or seven fields: sec min hour day month weekday [year], e.g. \"0 30 8 * * *\")")
        })?;
        if s.upcoming(Utc).next().is_none() {
            return Err(format!("cron expression {expr:?} never fires"));
        }
        Ok(Schedule::Cron(Box::new(s)))
    }

    /// The first time after `now_ms` it fires, in ms since the Unix epoch.
    pub fn next_after(&self, now_ms: u64, zone: Zone) -> Option<u64> {
        match self {
            Schedule::Every(d) => now_ms.checked_add(d.as_millis() as u64),
            Schedule::Cron(s) => {
                let now = i64::try_from(now_ms).ok()?;
                match zone {
                    Zone::Local => next_cron(s, Local.timestamp_millis_opt(now).single()?),
                    Zone::Named(tz) => next_cron(s, tz.timestamp_millis_opt(now).single()?),
                }
            }
        }
    }

    /// How it was declared, for logs.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {} ms", d.as_millis()),
            Schedule::Cron(s) => format!("cron {:?}", s.source()),
        }
    }
}

fn next_cron<Z: TimeZone>(s: &cron::Schedule, after: DateTime<Z>) -> Option<u64> {
    let next = s.after(&after).next()?;
    u64::try_from(next.timestamp_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_reads_seconds_in_the_zone() {
        let s = Schedule::cron("0 0 8 * * *").unwrap();
        let shanghai = Zone::parse("Asia/Shanghai").unwrap();
        // 2026-12-05 23:59:59 UTC is 07:59:59 on the 6th in Shanghai.
        let now = 1_764_979_199_000 + 365 * 86_400_000;
        let at = Utc.timestamp_millis_opt(now as i64).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-05T23:59:59+00:00");
        assert_eq!(s.next_after(now, shanghai), Some(now + 1000));
        assert_eq!(
            s.next_after(now, Zone::parse("UTC").unwrap()),
            Some(now + 1000 + 8 * 3_600_000)
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        let e = Schedule::cron("0 8 * *").unwrap_err();
        assert!(e.contains("six or seven fields"), "{e}");
        assert!(Schedule::every(999).unwrap_err().contains("1000 ms"));
        assert_eq!(
            Schedule::every(1000).unwrap().next_after(5, Zone::Local),
            Some(1005)
        );
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert_eq!(Zone::parse("").unwrap(), Zone::Local);
    }
}
