//! Wall-clock time as Openqq speaks it: seconds (or milliseconds) since the
//! Unix epoch. A clock before 1970 reads as 0 rather than failing: these
//! stamps go into reports and logs, never into decisions.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, now.
pub fn unix_now() -> u64 {
    unix_secs(SystemTime::now())
}

/// Milliseconds since the epoch, now.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Seconds since the epoch at `t`.
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_the_epoch_reads_as_zero() {
        let early = UNIX_EPOCH - std::time::Duration::from_secs(5);
        assert_eq!(unix_secs(early), 0);
        assert!(unix_now() > 1_700_000_000);
        assert!(unix_now_ms() / 1000 >= unix_now() - 1);
    }
}
