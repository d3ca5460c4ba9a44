//! Domain types and the RFC 8555 7.1.6 state machines: identifiers, accounts, orders,
//! authorizations, challenges, serials, revocation reasons.
//! Owns: the vocabulary every other module speaks. Must not touch: I/O, axum, sea-orm.

mod serial;
mod status;

pub use serial::Serial;
pub use status::{
    AccountStatus, AuthzStatus, ChallengeStatus, ChallengeType, OrderStatus, StatusError,
};

use serde::{Deserialize, Serialize};

/// An ACME identifier (RFC 8555 7.1.4). Only `dns` is accepted by policy; the type is kept
/// as a string so that `ip` (RFC 8738) can be parsed and then rejected with a clear error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Identifier {
    pub fn dns(value: impl Into<String>) -> Self {
        Identifier {
            kind: "dns".to_string(),
            value: value.into(),
        }
    }
}

/// Why a validation failed, in the vocabulary of RFC 8555 6.7 (rendered to a problem document
/// only by `acme::problem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    Dns,
    Connection,
    IncorrectResponse,
    Unauthorized,
    Tls,
    Caa,
    RejectedIdentifier,
    ServerInternal,
}

/// A failed validation: the kind and a human-readable detail safe to show the subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct ValidationFailure {
    pub kind: FailureKind,
    pub detail: String,
}

impl ValidationFailure {
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        ValidationFailure {
            kind,
            detail: detail.into(),
        }
    }
}

/// Revocation reasons a CA may use (CP 7.2.2). `certificateHold` (6) is absent by design:
/// the CP forbids suspension (4.9.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// RFC 5280 5.3.1 CRLReason code.
    pub fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
            RevocationReason::PrivilegeWithdrawn => 9,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => RevocationReason::Unspecified,
            1 => RevocationReason::KeyCompromise,
            3 => RevocationReason::AffiliationChanged,
            4 => RevocationReason::Superseded,
            5 => RevocationReason::CessationOfOperation,
            9 => RevocationReason::PrivilegeWithdrawn,
            _ => return None,
        })
    }

    /// Reasons a subscriber may choose through ACME (CP 4.9.1.1, 7.2.2); privilegeWithdrawn
    /// is reserved to the CA.
    pub fn subscriber_may_choose(self) -> bool {
        !matches!(self, RevocationReason::PrivilegeWithdrawn)
    }
}

/// The source of time (DESIGN invariant 5): injected so tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

/// Wall-clock time from the (NTP-synchronised, CPS 6.8) system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

/// A clock tests set and move by hand (DESIGN invariant 5).
#[cfg(test)]
pub(crate) struct ManualClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

#[cfg(test)]
impl ManualClock {
    pub fn at(now: chrono::DateTime<chrono::Utc>) -> ManualClock {
        ManualClock(std::sync::Mutex::new(now))
    }

    pub fn set(&self, now: chrono::DateTime<chrono::Utc>) {
        *self.0.lock().expect("test clock") = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("test clock") += by;
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().expect("test clock")
    }
}

/// A fixed UTC instant for tests of dated rules.
#[cfg(test)]
pub(crate) fn utc(
    y: i32,
    m: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(y, m, d, h, mi, s)
        .single()
        .expect("valid test date")
}

/// A random identifier for URLs and rows: 128 bits from the CSPRNG, base64url.
pub fn random_id() -> String {
    random_b64(16)
}

/// A challenge token: 256 bits from the CSPRNG, base64url (RFC 8555 8.1 asks ≥ 128 bits,
/// BR 3.2.2.4 ≥ 112 bits).
pub fn random_token() -> String {
    random_b64(32)
}

fn random_b64(n: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
