//! Pure schedule decisions: when a stored response is re-signed (CP 4.9.10) and when the
//! delegated responder certificate is replaced (CPS 6.3.2). Functions of (now, stored
//! times, configuration) only, so they are tested without a clock or a database.

use chrono::{DateTime, Duration, Utc};

/// CP 4.9.10: below this validity, refresh at half-life.
const HALF_LIFE_BELOW: Duration = Duration::hours(16);
/// CP 4.9.10: otherwise at least this long before nextUpdate …
const BEFORE_NEXT_UPDATE: Duration = Duration::hours(8);
/// … and at most this long after thisUpdate.
const AFTER_THIS_UPDATE: Duration = Duration::days(4);

/// When a response valid from `this_update` to `next_update` must be replaced: at
/// half-life when its validity is below 16 hours, otherwise at the earlier of
/// nextUpdate − 8 h and thisUpdate + 4 days (CP 4.9.10, BR 4.9.10).
pub fn refresh_at(this_update: DateTime<Utc>, next_update: DateTime<Utc>) -> DateTime<Utc> {
    let validity = next_update - this_update;
    if validity < HALF_LIFE_BELOW {
        this_update + validity / 2
    } else {
        (next_update - BEFORE_NEXT_UPDATE).min(this_update + AFTER_THIS_UPDATE)
    }
}

/// nextUpdate − refresh time for responses of `validity`: a stored response is due when
/// `next_update ≤ now + refresh_lead(validity)`, which the `ocsp_responses.next_update`
/// index answers.
pub fn refresh_lead(validity: Duration) -> Duration {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    (epoch + validity) - refresh_at(epoch, epoch + validity)
}

/// A delegated responder certificate as the rotation decision sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponderValidity {
    pub id: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// When the row was written (sub-second): orders responders issued in one second.
    pub created_at: DateTime<Utc>,
}

/// What to do about the delegated responder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponderDecision {
    /// Sign with this responder.
    Use(String),
    /// Issue a new responder certificate: none is valid, or the newest has fewer than
    /// `ocsp.responder_rotate_days` left. The one still valid, if any, signs until then.
    Rotate { meanwhile: Option<String> },
}

/// The newest valid responder (latest notBefore, then latest created_at, then the greatest
/// id: deterministic, so processes that both issued one agree on the winner), and whether
/// to rotate it.
pub fn responder_decision(
    now: DateTime<Utc>,
    responders: &[ResponderValidity],
    rotate_days: u32,
) -> ResponderDecision {
    let newest = responders
        .iter()
        .filter(|r| r.not_before <= now && now < r.not_after)
        .max_by(|a, b| {
            (a.not_before, a.created_at, &a.id).cmp(&(b.not_before, b.created_at, &b.id))
        });
    match newest {
        Some(r) if r.not_after - now >= Duration::days(i64::from(rotate_days)) => {
            ResponderDecision::Use(r.id.clone())
        }
        other => ResponderDecision::Rotate {
            meanwhile: other.map(|r| r.id.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0)
            .single()
            .expect("date")
    }

    #[test]
    fn short_validity_refreshes_at_half_life() {
        let this = t0();
        assert_eq!(
            refresh_at(this, this + Duration::hours(8)),
            this + Duration::hours(4)
        );
        assert_eq!(
            refresh_at(this, this + Duration::hours(15)),
            this + Duration::minutes(450)
        );
    }

    #[test]
    fn long_validity_refreshes_8h_before_next_update_or_4_days_after_this_update() {
        let this = t0();
        // 16 h: nextUpdate − 8 h = half-life, the boundary of the two rules.
        assert_eq!(
            refresh_at(this, this + Duration::hours(16)),
            this + Duration::hours(8)
        );
        // 3 days: nextUpdate − 8 h comes first.
        assert_eq!(
            refresh_at(this, this + Duration::days(3)),
            this + Duration::hours(64)
        );
        // 7 days: thisUpdate + 4 days comes first.
        assert_eq!(
            refresh_at(this, this + Duration::days(7)),
            this + Duration::days(4)
        );
        // 10 days (CP maximum): still 4 days.
        assert_eq!(
            refresh_at(this, this + Duration::days(10)),
            this + Duration::days(4)
        );
    }

    #[test]
    fn lead_matches_refresh_at() {
        for hours in [8, 12, 16, 24, 72, 96, 168, 240] {
            let v = Duration::hours(hours);
            let this = t0();
            assert_eq!(
                this + v - refresh_lead(v),
                refresh_at(this, this + v),
                "{hours}"
            );
        }
        assert_eq!(refresh_lead(Duration::days(7)), Duration::days(3));
        assert_eq!(refresh_lead(Duration::hours(8)), Duration::hours(4));
    }

    fn responder(id: &str, from_days: i64, to_days: i64) -> ResponderValidity {
        ResponderValidity {
            id: id.to_string(),
            not_before: t0() + Duration::days(from_days),
            not_after: t0() + Duration::days(to_days),
            created_at: t0() + Duration::days(from_days),
        }
    }

    #[test]
    fn rotation_decisions() {
        let now = t0();
        assert_eq!(
            responder_decision(now, &[], 30),
            ResponderDecision::Rotate { meanwhile: None }
        );
        // Valid with 60 days left: keep.
        let fresh = responder("a", -30, 60);
        assert_eq!(
            responder_decision(now, std::slice::from_ref(&fresh), 30),
            ResponderDecision::Use("a".into())
        );
        // 29 days left: rotate, still signing with it meanwhile.
        let old = responder("b", -61, 29);
        assert_eq!(
            responder_decision(now, std::slice::from_ref(&old), 30),
            ResponderDecision::Rotate {
                meanwhile: Some("b".into())
            }
        );
        // Expired and not yet valid ones do not count.
        let expired = responder("c", -100, -1);
        let future = responder("d", 1, 90);
        assert_eq!(
            responder_decision(now, &[expired, future], 30),
            ResponderDecision::Rotate { meanwhile: None }
        );
        // The newest wins; in the same second the later row, then the greater id.
        let later = ResponderValidity {
            id: "0".into(),
            created_at: fresh.created_at + Duration::milliseconds(5),
            ..fresh.clone()
        };
        assert_eq!(
            responder_decision(now, &[old, fresh.clone(), later.clone()], 30),
            ResponderDecision::Use("0".into())
        );
        let twin = ResponderValidity {
            id: "z".into(),
            ..fresh.clone()
        };
        assert_eq!(
            responder_decision(now, &[fresh, twin], 30),
            ResponderDecision::Use("z".into())
        );
    }
}
