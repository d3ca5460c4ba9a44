use super::*;
use chrono::Duration;
use RevocationReason as R;

fn times() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = Utc::now();
    (now - Duration::days(10), now)
}

#[test]
fn a_new_revocation_is_now_or_on_a_future_date() {
    let (nb, now) = times();
    assert_eq!(
        plan(None, R::Superseded, None, nb, now).expect("now"),
        Change::Revoke { at: now }
    );
    let later = now + Duration::days(3);
    assert_eq!(
        plan(None, R::PrivilegeWithdrawn, Some(later), nb, now).expect("future"),
        Change::Revoke { at: later }
    );
}

#[test]
fn only_key_compromise_is_backdated_and_never_before_not_before() {
    let (nb, now) = times();
    let earlier = now - Duration::days(2);
    assert!(matches!(
        plan(None, R::Superseded, Some(earlier), nb, now),
        Err(RaError::Malformed(_))
    ));
    assert_eq!(
        plan(None, R::KeyCompromise, Some(earlier), nb, now).expect("backdated"),
        Change::Revoke { at: earlier }
    );
    assert!(matches!(
        plan(None, R::KeyCompromise, Some(nb - Duration::seconds(1)), nb, now),
        Err(RaError::Malformed(d)) if d.contains("notBefore")
    ));
}

#[test]
fn an_existing_revocation_is_only_upgraded_to_key_compromise() {
    let (nb, now) = times();
    let old_at = now - Duration::days(1);
    let superseded = Some((old_at, Some(4)));
    for reason in [
        R::Unspecified,
        R::AffiliationChanged,
        R::Superseded,
        R::CessationOfOperation,
        R::PrivilegeWithdrawn,
    ] {
        assert!(
            matches!(
                plan(superseded, reason, None, nb, now),
                Err(RaError::AlreadyRevoked(_))
            ),
            "{reason:?}"
        );
    }
    // Without a date the upgrade keeps the earlier date.
    assert_eq!(
        plan(superseded, R::KeyCompromise, None, nb, now).expect("upgrade"),
        Change::Upgrade { at: old_at }
    );
    // Backdated to the date of compromise.
    let compromised = now - Duration::days(5);
    assert_eq!(
        plan(superseded, R::KeyCompromise, Some(compromised), nb, now).expect("backdate"),
        Change::Upgrade { at: compromised }
    );
    // Never later than the existing date, never before notBefore.
    assert!(matches!(
        plan(superseded, R::KeyCompromise, Some(now), nb, now),
        Err(RaError::AlreadyRevoked(_))
    ));
    assert!(matches!(
        plan(
            superseded,
            R::KeyCompromise,
            Some(nb - Duration::hours(1)),
            nb,
            now
        ),
        Err(RaError::Malformed(_))
    ));
    // Unspecified (stored NULL) upgrades as well.
    assert_eq!(
        plan(Some((old_at, None)), R::KeyCompromise, None, nb, now).expect("from NULL"),
        Change::Upgrade { at: old_at }
    );
}

#[test]
fn key_compromise_is_changed_only_to_an_earlier_date() {
    let (nb, now) = times();
    let old_at = now - Duration::days(1);
    let compromised = Some((old_at, Some(1)));
    assert!(matches!(
        plan(compromised, R::KeyCompromise, None, nb, now),
        Err(RaError::AlreadyRevoked(_))
    ));
    assert!(matches!(
        plan(compromised, R::KeyCompromise, Some(old_at), nb, now),
        Err(RaError::AlreadyRevoked(_))
    ));
    let earlier = old_at - Duration::hours(3);
    assert_eq!(
        plan(compromised, R::KeyCompromise, Some(earlier), nb, now).expect("earlier"),
        Change::Upgrade { at: earlier }
    );
    // A revocation scheduled for the future is brought forward to now on key compromise.
    let scheduled = Some((now + Duration::days(2), Some(1)));
    assert_eq!(
        plan(scheduled, R::KeyCompromise, None, nb, now).expect("forward"),
        Change::Upgrade { at: now }
    );
}

#[test]
fn unspecified_is_stored_without_a_reason() {
    assert_eq!(stored_reason(R::Unspecified), None);
    assert_eq!(stored_reason(R::KeyCompromise), Some(1));
    assert_eq!(stored_reason(R::PrivilegeWithdrawn), Some(9));
    assert_eq!(describe(None), "unspecified");
    assert_eq!(describe(Some(4)), "superseded");
    assert!(Source::CertificateKey.notifies_subscriber());
    assert!(!Source::Subscriber.notifies_subscriber());
}
