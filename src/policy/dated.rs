//! The dated Baseline Requirements values (REQUIREMENTS "Dated BR values in force"): numbers
//! that change by ballot on a date live here, keyed by that date, never as literals elsewhere.
//!
//! The table we implement, quoted from REQUIREMENTS (BR 6.3.2, 4.2.1, 3.2.2.9; SC-080, SC-085):
//!
//! | rule | value | since |
//! |---|---|---|
//! | max TLS subscriber validity | 398 d → **200 d** → 100 d → 47 d | 2026-03-15 / 2027-03-15 / 2029-03-15 |
//! | domain validation reuse | 398 d → **200 d** → 100 d → 10 d | same dates |
//! | subject identity (OV) reuse | 825 d → **398 d** | 2026-03-15 |
//! | remote MPIC perspectives | 3 → **4** → 5 | 2026-03-15 / 2026-06-15 / 2026-12-15 |
//! | DNSSEC validation for CAA and DCV | required | 2026-03-15 (SC-085) |
//! | method 3.2.2.4.2 (WHOIS contact) | not for public TLS | 2025-07-15 (SC-080) |
//! | pre-sign linting | SHALL | 2025-03-15 |
//! | short-lived certificate | ≤ 10 d → ≤ 7 d | 2026-03-15 |
//! | CAA check age at issuance | 8 h (max(TTL, 8 h); we ignore the TTL) | BR 3.2.2.8 |
//!
//! Each row of `TABLE` is the complete set of values in force from its date (00:00:00 UTC)
//! until the next row's date; a ballot that changes a value adds a row. Before 2026-03-15 the
//! BRs asked for 2 remote perspectives; we use 3 from the start (stricter is allowed).

use chrono::{DateTime, NaiveDate, Utc};

/// Every dated BR value in force on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrValues {
    /// Maximum TLS subscriber certificate validity in days (BR 6.3.2).
    pub max_subscriber_validity_days: u32,
    /// Maximum reuse of domain/IP validation data in days (BR 4.2.1, 3.2.2.4).
    pub max_dcv_reuse_days: u32,
    /// Maximum reuse of validated Subject Identity Information in days (BR 4.2.1).
    pub max_ov_identity_reuse_days: u32,
    /// Minimum number of remote MPIC perspectives (BR 3.2.2.9).
    pub min_remote_perspectives: u32,
    /// A short-lived certificate is valid at most this many days (BR 1.6.1, 4.9.1).
    pub max_short_lived_days: u32,
    /// DNSSEC validation required for CAA lookups and DNS-based DCV (BR SC-085).
    pub dnssec_required: bool,
    /// Method 3.2.2.4.2 (email to WHOIS/RDAP domain contact) usable for publicly-trusted TLS
    /// (forbidden by BR SC-080 from 2025-07-15; private-PKI profiles may still use it).
    pub whois_contact_allowed_for_public_tls: bool,
    /// Pre-issuance linting required (BR 4.3.1.2).
    pub presign_linting_required: bool,
    /// A CAA check older than this many hours is repeated before issuance (BR 3.2.2.8:
    /// issue within max(TTL, 8 h) of the check; the TTL is not tracked, so 8 h always).
    pub max_caa_check_age_hours: u32,
}

/// One row: in force from 00:00:00 UTC of (y, m, d) until the next row's date.
#[allow(clippy::too_many_arguments)] // a table row; named columns are in the TABLE comment
const fn row(
    (y, m, d): (i32, u32, u32),
    validity: u32,
    dcv: u32,
    ov: u32,
    mpic: u32,
    short_lived: u32,
    dnssec: bool,
    whois_ok: bool,
    lint: bool,
    caa_hours: u32,
) -> (NaiveDate, BrValues) {
    let since = match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        // Evaluated at compile time: a bad date literal fails the build, never a request.
        None => panic!("invalid date in the dated BR table"),
    };
    let values = BrValues {
        max_subscriber_validity_days: validity,
        max_dcv_reuse_days: dcv,
        max_ov_identity_reuse_days: ov,
        min_remote_perspectives: mpic,
        max_short_lived_days: short_lived,
        dnssec_required: dnssec,
        whois_contact_allowed_for_public_tls: whois_ok,
        presign_linting_required: lint,
        max_caa_check_age_hours: caa_hours,
    };
    (since, values)
}

/// The table, in date order; each row is complete, so a row reads like a day of the BRs.
/// The first row also answers for any earlier date.
#[rustfmt::skip]
const TABLE: [(NaiveDate, BrValues); 8] = [
    //   since            validity  dcv   ov  mpic short  dnssec whois_ok lint   caa_h
    row((2025, 1, 1),     398,      398,  825, 3,  10,    false, true,    false, 8),
    row((2025, 3, 15),    398,      398,  825, 3,  10,    false, true,    true,  8),  // linting SHALL
    row((2025, 7, 15),    398,      398,  825, 3,  10,    false, false,   true,  8),  // SC-080
    row((2026, 3, 15),    200,      200,  398, 3,  7,     true,  false,   true,  8),  // SC-081, SC-085
    row((2026, 6, 15),    200,      200,  398, 4,  7,     true,  false,   true,  8),  // MPIC 4
    row((2026, 12, 15),   200,      200,  398, 5,  7,     true,  false,   true,  8),  // MPIC 5
    row((2027, 3, 15),    100,      100,  398, 5,  7,     true,  false,   true,  8),  // SC-081
    row((2029, 3, 15),    47,       10,   398, 5,  7,     true,  false,   true,  8),  // SC-081
];

/// All dated values in force at `at` (the last row whose date is on or before `at`'s UTC day).
pub fn values_at(at: DateTime<Utc>) -> BrValues {
    let day = at.date_naive();
    TABLE
        .iter()
        .rev()
        .find(|(since, _)| *since <= day)
        .unwrap_or(&TABLE[0])
        .1
}

/// Maximum TLS subscriber certificate validity in days at `at` (BR 6.3.2).
pub fn max_subscriber_validity_days(at: DateTime<Utc>) -> u32 {
    values_at(at).max_subscriber_validity_days
}

/// Maximum domain-validation reuse in days at `at` (BR 4.2.1).
pub fn max_dcv_reuse_days(at: DateTime<Utc>) -> u32 {
    values_at(at).max_dcv_reuse_days
}

/// Maximum reuse of vetted OV subject identity information in days at `at` (BR 4.2.1).
pub fn max_ov_identity_reuse_days(at: DateTime<Utc>) -> u32 {
    values_at(at).max_ov_identity_reuse_days
}

/// Minimum number of remote MPIC perspectives at `at` (BR 3.2.2.9).
pub fn min_remote_perspectives(at: DateTime<Utc>) -> u32 {
    values_at(at).min_remote_perspectives
}

/// Maximum validity of a short-lived certificate in days at `at` (BR 1.6.1).
pub fn max_short_lived_days(at: DateTime<Utc>) -> u32 {
    values_at(at).max_short_lived_days
}

/// Whether DNSSEC validation is required for CAA and DNS-based DCV at `at` (SC-085).
pub fn dnssec_required(at: DateTime<Utc>) -> bool {
    values_at(at).dnssec_required
}

/// Whether method 3.2.2.4.2 (WHOIS/RDAP contact) may be used for public TLS at `at` (SC-080).
pub fn whois_contact_allowed_for_public_tls(at: DateTime<Utc>) -> bool {
    values_at(at).whois_contact_allowed_for_public_tls
}

/// Whether pre-issuance linting is required at `at` (BR 4.3.1.2).
pub fn presign_linting_required(at: DateTime<Utc>) -> bool {
    values_at(at).presign_linting_required
}

/// The oldest a CAA check may be when a certificate is issued, at `at` (BR 3.2.2.8).
pub fn max_caa_check_age(at: DateTime<Utc>) -> chrono::Duration {
    chrono::Duration::hours(i64::from(values_at(at).max_caa_check_age_hours))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// (the last second before 00:00:00 UTC of the date, that midnight).
    fn around(y: i32, m: u32, d: u32) -> (DateTime<Utc>, DateTime<Utc>) {
        let at = Utc
            .with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("date");
        let before = at - chrono::Duration::nanoseconds(1);
        (before, at)
    }

    /// Check `f` changes from `old` to `new` exactly at 00:00:00 UTC of the date.
    fn changes<T: PartialEq + std::fmt::Debug>(
        f: fn(DateTime<Utc>) -> T,
        (y, m, d): (i32, u32, u32),
        old: T,
        new: T,
    ) {
        let (before, at) = around(y, m, d);
        assert_eq!(f(before), old, "just before {y}-{m}-{d}");
        assert_eq!(f(at), new, "at {y}-{m}-{d}");
    }

    #[test]
    fn subscriber_validity() {
        let f = max_subscriber_validity_days;
        changes(f, (2026, 3, 15), 398, 200);
        changes(f, (2027, 3, 15), 200, 100);
        changes(f, (2029, 3, 15), 100, 47);
    }

    #[test]
    fn dcv_reuse() {
        let f = max_dcv_reuse_days;
        changes(f, (2026, 3, 15), 398, 200);
        changes(f, (2027, 3, 15), 200, 100);
        changes(f, (2029, 3, 15), 100, 10);
    }

    #[test]
    fn ov_identity_reuse() {
        changes(max_ov_identity_reuse_days, (2026, 3, 15), 825, 398);
        assert_eq!(max_ov_identity_reuse_days(around(2030, 1, 1).1), 398);
    }

    #[test]
    fn remote_perspectives() {
        let f = min_remote_perspectives;
        changes(f, (2026, 3, 15), 3, 3);
        changes(f, (2026, 6, 15), 3, 4);
        changes(f, (2026, 12, 15), 4, 5);
        assert_eq!(f(around(2029, 3, 15).1), 5);
    }

    #[test]
    fn short_lived() {
        changes(max_short_lived_days, (2026, 3, 15), 10, 7);
    }

    #[test]
    fn booleans() {
        changes(dnssec_required, (2026, 3, 15), false, true);
        changes(
            whois_contact_allowed_for_public_tls,
            (2025, 7, 15),
            true,
            false,
        );
        changes(presign_linting_required, (2025, 3, 15), false, true);
        // Later rows keep the earlier switches.
        let late = values_at(around(2029, 3, 15).1);
        assert!(late.dnssec_required && late.presign_linting_required);
        assert!(!late.whois_contact_allowed_for_public_tls);
    }

    #[test]
    fn table_is_in_date_order() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(values_at(around(2000, 1, 1).0), TABLE[0].1);
    }
}
