//! Domain-control validation: http-01 (BR 3.2.2.4.19), dns-01 (BR 3.2.2.4.7), tls-alpn-01
//! (RFC 8737, BR 3.2.2.4.20) and CAA (BR 3.2.2.8), run through a `Perspective`: the local
//! primary and the remote perspectives of multi-perspective corroboration (BR 3.2.2.9).
//! Owns: outbound validation traffic and the evidence it yields. Must not touch: storage,
//! orders or authorizations (it returns evidence; `ra` records it).
//!
//! Files: `perspective.rs` (the local vantage point and the dispatch), `resolve.rs` (DNS and
//! the address policy of DESIGN invariant 6), `http01.rs`, `dns01.rs`, `tlsalpn01.rs` (one
//! method each), `tls.rs` (the certificate-agnostic TLS client both http-01 and tls-alpn-01
//! use), `evidence.rs` (what an attempt records for the CPS 5.5 archive), `dns_client.rs`
//! (our stub DNS client: AD/CD bits, for CAA and dns-01), `caa.rs` (the RFC 8659 3 search,
//! decided by `policy::caa`), `dnssec.rs` (the start-up checks of SC-085), `validator.rs` (the fan-out to every
//! perspective and the quorum of `policy::mpic`), `remote/` (the mTLS wire protocol, the
//! `RemotePerspective` client and the `hanko perspective` service).

mod caa;
mod dns01;
mod dns_client;
mod dnssec;
mod evidence;
mod http01;
mod perspective;
pub mod remote;
mod resolve;
mod tls;
mod tlsalpn01;
mod validator;

#[cfg(test)]
mod caa_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use dnssec::{check_publicly_trusted_dnssec, check_start};

/// Everything a publicly-trusted profile needs from validation on `now` (SC-085 DNSSEC, BR
/// 3.2.2.9 remote perspectives), checked from the configuration alone so `hanko serve` and
/// `hanko check-config` can say at once — and before any HSM or database is touched — every
/// piece that is missing, not only the first.
pub fn check_publicly_trusted(
    config: &crate::config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let mut missing = Vec::new();
    if let Err(e) = check_publicly_trusted_dnssec(config, now) {
        missing.push(e.to_string());
    }
    if let Err(e) = check_publicly_trusted_mpic(config, now) {
        missing.push(e);
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "publicly-trusted validation is incomplete:\n  - {}",
        missing.join("\n  - ")
    ))
}
pub use perspective::{LocalPerspective, LOCAL_PERSPECTIVE_ID};
pub use resolve::{reserved_address_reason, AUTHORIZED_PORTS};
pub use validator::{check_mpic_for_issuance, check_publicly_trusted_mpic, Validator};

use crate::core::{ChallengeType, Identifier, ValidationFailure};

/// What a perspective is asked to check: domain control by a challenge, CAA, or both. An
/// authorization's validation asks for both at once (BR 3.2.2.8 and 3.2.2.9: remote
/// perspectives corroborate domain control *and* CAA); the CAA re-check at finalize (BR
/// 3.2.2.8, max(TTL, 8 h)) asks for CAA alone.
#[derive(Debug, Clone)]
pub struct ValidationRequest {
    pub identifier: Identifier,
    /// The domain-control check; `None` for a CAA-only check.
    pub challenge: Option<ChallengeCheck>,
    /// The CAA check (RFC 8659, RFC 8657); `None` only where no issuance follows (tests).
    pub caa: Option<CaaParams>,
}

/// One ACME challenge to check (RFC 8555 8).
#[derive(Debug, Clone)]
pub struct ChallengeCheck {
    pub challenge_type: ChallengeType,
    /// The challenge token (RFC 8555 8.1), base64url, ≥ 128 bits.
    pub token: String,
    /// `token || '.' || base64url(JWK_Thumbprint(accountKey))` (RFC 8555 8.1).
    pub key_authorization: String,
}

/// What the CAA decision needs besides the records (RFC 8659 4, RFC 8657 3–4).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaaParams {
    /// The CA's issuer domain names (`acme.caa_identities`, also shown in the directory).
    pub issuer_domains: Vec<String>,
    /// The requesting account's URL, compared with `accounturi` (RFC 8657 3).
    pub account_uri: String,
    /// The validation method, compared with `validationmethods` (RFC 8657 4): the ACME
    /// challenge type name (`http-01`, `dns-01`, `tls-alpn-01`), or the method the name's
    /// authorization was validated with when CAA is re-checked at finalize.
    pub method: String,
    /// The certificate will carry a wildcard for this name (`issuewild` applies, RFC 8659
    /// 4.3). The CP refuses wildcards (3.2.2.6); kept so the decision is complete.
    pub wildcard: bool,
}

/// The result of one attempt with what was queried and seen (CPS 5.5 archive).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<(), ValidationFailure>,
    /// JSON object: perspective id, method, hostname, resolved addresses, address used, URLs
    /// and redirects followed, records seen, timings.
    pub evidence: serde_json::Value,
}

/// One vantage point that can validate. The local perspective runs in this process; remote
/// ones (`remote::RemotePerspective`) are reached over mutual TLS.
#[async_trait::async_trait]
pub trait Perspective: Send + Sync {
    fn id(&self) -> &str;
    async fn validate(&self, request: &ValidationRequest) -> Outcome;
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("DNS resolver setup: {0}")]
    Resolver(String),
    #[error("HTTP client setup: {0}")]
    Http(String),
    #[error("DNSSEC: {0}")]
    Dnssec(String),
    /// A missing, unreadable or expired mTLS credential, naming the key and the file.
    #[error("{key} ({file}): {message}")]
    Credential {
        key: String,
        file: String,
        message: String,
    },
}

/// One perspective's outcome within a corroborated validation.
#[derive(Debug, Clone)]
pub struct PerspectiveOutcome {
    /// The perspective's configured id (`local` for the primary in this process).
    pub id: String,
    /// Its RIR region (BR 3.2.2.9), for remote perspectives.
    pub rir: Option<String>,
    /// `false` for the primary perspective.
    pub remote: bool,
    pub outcome: Outcome,
}

/// What `Validator::validate` decided and every perspective's part in it (BR 3.2.2.9).
#[derive(Debug, Clone)]
pub struct Corroboration {
    /// Ok only when the primary perspective passed and the remote quorum held.
    pub result: Result<(), ValidationFailure>,
    /// The primary first, then each remote perspective asked.
    pub perspectives: Vec<PerspectiveOutcome>,
    /// The quorum decision as it is recorded in the audit log (JSON object).
    pub quorum: serde_json::Value,
}
