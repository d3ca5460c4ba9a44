//! When a shard is (re)generated (CP 4.9.7): a pure function of the clock, the shard's stored
//! thisUpdate, what changed since, and the configuration, so it can be tested without time
//! passing.

use chrono::{DateTime, Duration, Utc};

/// A revocation row whose transaction took its timestamp before a CRL's read but committed
/// after it is not on that CRL although `recorded_at <= thisUpdate`. Rows recorded up to
/// this long before thisUpdate are therefore looked at once more, this long after
/// thisUpdate, and cause one more signing (`CrlSigner::pending_since`).
pub const COMMIT_SKEW_SECONDS: i64 = 30;

/// Why a shard is generated now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Never signed: every CRLDP URL must resolve, empty shards included.
    Never,
    /// Older than `crl.max_age_hours` (CP 4.9.7: at least every 7 days).
    MaxAge,
    /// A revocation became visible after thisUpdate (CP 4.9.7: within
    /// `crl.publish_delay_seconds`).
    Pending,
    /// An operator asked (`hanko admin crl regenerate`).
    Forced,
}

impl Due {
    pub fn as_str(self) -> &'static str {
        match self {
            Due::Never => "never_generated",
            Due::MaxAge => "max_age",
            Due::Pending => "pending_revocation",
            Due::Forced => "forced",
        }
    }
}

/// What the schedule needs from `[crl]`.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleConfig {
    pub max_age_hours: u32,
    pub publish_delay_seconds: u64,
    pub poll_seconds: u64,
}

/// The earliest moment after which rows must be looked at for `pending` changes: rows
/// visible (`max(recorded_at, revoked_at)`) after this and not after now.
pub fn pending_cutoff(this_update: DateTime<Utc>) -> DateTime<Utc> {
    this_update - Duration::seconds(COMMIT_SKEW_SECONDS)
}

/// Whether a shard is due now. `pending_since`: when the earliest change not yet on the
/// shard's CRL became visible (None when there is none). A pending change is acted on at the
/// first poll that sees it, so it is published within `poll_seconds` plus the generation
/// time, which `crl.poll_seconds <= crl.publish_delay_seconds` (config check) keeps inside the
/// promised delay.
pub fn due(
    now: DateTime<Utc>,
    this_update: Option<DateTime<Utc>>,
    pending_since: Option<DateTime<Utc>>,
    config: &ScheduleConfig,
) -> Option<Due> {
    let Some(this_update) = this_update else {
        return Some(Due::Never);
    };
    if now - this_update >= Duration::hours(i64::from(config.max_age_hours)) {
        return Some(Due::MaxAge);
    }
    match pending_since {
        Some(at) if at <= now => Some(Due::Pending),
        _ => None,
    }
}

/// Latest moment a change visible at `visible_at` must be on the CRL (for logs and tests).
pub fn publish_deadline(visible_at: DateTime<Utc>, config: &ScheduleConfig) -> DateTime<Utc> {
    let delay = i64::try_from(config.publish_delay_seconds).unwrap_or(i64::MAX / 2);
    visible_at + Duration::seconds(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cfg() -> ScheduleConfig {
        ScheduleConfig {
            max_age_hours: 24,
            publish_delay_seconds: 300,
            poll_seconds: 15,
        }
    }

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, s).unwrap()
    }

    #[test]
    fn never_generated_shards_are_due() {
        assert_eq!(due(t(0, 0, 0), None, None, &cfg()), Some(Due::Never));
        assert_eq!(
            due(t(0, 0, 0), None, Some(t(0, 0, 0)), &cfg()),
            Some(Due::Never)
        );
    }

    #[test]
    fn fresh_shards_without_changes_wait() {
        assert_eq!(due(t(12, 0, 0), Some(t(11, 0, 0)), None, &cfg()), None);
        // One second short of max age.
        let this = t(0, 0, 1);
        assert_eq!(
            due(
                this + Duration::hours(24) - Duration::seconds(1),
                Some(this),
                None,
                &cfg()
            ),
            None
        );
    }

    #[test]
    fn old_shards_are_regenerated_at_max_age() {
        let this = t(0, 0, 0);
        let now = this + Duration::hours(24);
        assert_eq!(due(now, Some(this), None, &cfg()), Some(Due::MaxAge));
        let c = ScheduleConfig {
            max_age_hours: 168,
            ..cfg()
        };
        assert_eq!(due(now, Some(this), None, &c), None);
        assert_eq!(
            due(this + Duration::days(7), Some(this), None, &c),
            Some(Due::MaxAge)
        );
    }

    #[test]
    fn pending_revocations_are_due_once_visible() {
        let this = t(10, 0, 0);
        assert_eq!(
            due(t(10, 0, 5), Some(this), Some(t(10, 0, 3)), &cfg()),
            Some(Due::Pending)
        );
        // A future-dated revocation is not due before its date.
        assert_eq!(
            due(t(10, 0, 5), Some(this), Some(t(11, 0, 0)), &cfg()),
            None
        );
        assert_eq!(
            due(t(11, 0, 0), Some(this), Some(t(11, 0, 0)), &cfg()),
            Some(Due::Pending)
        );
    }

    #[test]
    fn pending_window_covers_late_commits() {
        let this = t(10, 0, 0);
        assert_eq!(pending_cutoff(this), t(9, 59, 30));
        assert_eq!(publish_deadline(t(10, 0, 0), &cfg()), t(10, 5, 0));
    }
}
