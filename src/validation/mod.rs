//! Domain-control validation: http-01 (BR 3.2.2.4.19), dns-01 (BR 3.2.2.4.7), tls-alpn-01
//! (RFC 8737, BR 3.2.2.4.20), run through a `Perspective` so multi-perspective corroboration
//! (BR 3.2.2.9) can be added without touching the validators.
//! Owns: outbound validation traffic and the evidence it yields. Must not touch: storage,
//! orders or authorizations (it returns evidence; `ra` records it).
//!
//! Files: `perspective.rs` (the local vantage point and the dispatch), `resolve.rs` (DNS and
//! the address policy of DESIGN invariant 6), `http01.rs`, `dns01.rs`, `tlsalpn01.rs` (one
//! method each), `tls.rs` (the certificate-agnostic TLS client both http-01 and tls-alpn-01
//! use), `evidence.rs` (what an attempt records for the CPS 5.5 archive).

mod dns01;
mod evidence;
mod http01;
mod perspective;
mod resolve;
mod tls;
mod tlsalpn01;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use perspective::{LocalPerspective, LOCAL_PERSPECTIVE_ID};
pub use resolve::{reserved_address_reason, AUTHORIZED_PORTS};

use crate::config::ValidationConfig;
use crate::core::{ChallengeType, Clock, Identifier, ValidationFailure};
use std::sync::Arc;

/// What a perspective is asked to check.
#[derive(Debug, Clone)]
pub struct ValidationRequest {
    pub challenge_type: ChallengeType,
    pub identifier: Identifier,
    /// The challenge token (RFC 8555 8.1), base64url, ≥ 128 bits.
    pub token: String,
    /// `token || '.' || base64url(JWK_Thumbprint(accountKey))` (RFC 8555 8.1).
    pub key_authorization: String,
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
/// ones (later) are reached over mutual TLS.
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
}

/// Entry point used by `ra`: today the primary perspective decides alone.
pub struct Validator {
    primary: Arc<dyn Perspective>,
}

impl Validator {
    /// Builds the local perspective (id `"local"`) as the primary one: its own DNS resolver
    /// from `config.dns_resolvers` and its TLS client settings.
    pub fn new(config: &ValidationConfig, clock: Arc<dyn Clock>) -> Result<Validator, SetupError> {
        let local = LocalPerspective::new(config, clock)?;
        Ok(Validator::with_perspective(Arc::new(local)))
    }

    pub fn with_perspective(primary: Arc<dyn Perspective>) -> Validator {
        Validator { primary }
    }

    pub async fn validate(&self, request: &ValidationRequest) -> Outcome {
        self.primary.validate(request).await
    }
}
