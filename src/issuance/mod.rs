//! Issuance: CSR checks, TBS building per profile, signing through `Signer`, and the
//! development CA hierarchy. Pipeline (DESIGN.md): serial (stored by `ra` first) → TBS →
//! sign. Lint, precertificate and CT slot in between `prepare` and `issue`.
//! Owns: certificate bytes. Must not touch: storage (callers record serials and results).

pub mod csr;
pub mod devca;
pub mod signer;

use crate::config::CaConfig;
use crate::core::Serial;
use chrono::{DateTime, Utc};
use signer::Signer;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    #[error("unknown profile {0:?}")]
    UnknownProfile(String),
    #[error("certificate encoding: {0}")]
    Encoding(String),
    #[error("signing: {0}")]
    Signing(#[from] signer::SignerError),
    #[error("issuer: {0}")]
    Issuer(String),
}

/// An issuing CA certificate and the key that signs under it.
#[derive(Clone)]
pub struct Issuer {
    /// DER of the issuing CA certificate; its subject bytes become every issued
    /// certificate's issuer bytes unchanged (CP 7.1.4).
    pub certificate_der: Vec<u8>,
    pub certificate_pem: String,
    pub signer: Arc<dyn Signer>,
}

/// What `ra` asks to have issued. Names are already checked against the order.
#[derive(Debug, Clone)]
pub struct IssuanceRequest {
    pub serial: Serial,
    pub names: Vec<String>,
    /// DER SubjectPublicKeyInfo from the CSR (already through key policy).
    pub public_key_der: Vec<u8>,
    pub profile: String,
}

/// A to-be-signed certificate. Only `CertificateAuthority::issue` consumes it, so nothing
/// is signed that was not prepared (DESIGN invariant 2).
pub struct PreparedCertificate {
    pub serial: Serial,
    pub tbs_der: Vec<u8>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub serial: Serial,
    pub der: Vec<u8>,
    /// Leaf PEM only; the chain is `CertificateAuthority::chain_pem`.
    pub pem: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

pub struct CertificateAuthority {
    config: CaConfig,
    issuer: Issuer,
}

impl CertificateAuthority {
    pub fn new(config: &CaConfig, issuer: Issuer) -> Result<CertificateAuthority, IssuanceError> {
        Ok(CertificateAuthority {
            config: config.clone(),
            issuer,
        })
    }

    /// Build the TBS for `request` under its profile at `now` (validity from the profile,
    /// capped by the dated BR maximum and the issuer's notAfter).
    pub fn prepare(
        &self,
        request: &IssuanceRequest,
        now: DateTime<Utc>,
    ) -> Result<PreparedCertificate, IssuanceError> {
        let _ = (request, now, &self.config);
        Err(IssuanceError::Encoding("not implemented yet".to_string()))
    }

    /// Sign a prepared certificate. Blocking (HSM/crypto): call from `spawn_blocking`.
    pub fn issue(&self, prepared: PreparedCertificate) -> Result<IssuedCertificate, IssuanceError> {
        let _ = prepared;
        Err(IssuanceError::Encoding("not implemented yet".to_string()))
    }

    /// PEM of the certificates that follow the leaf in a served chain (the intermediate).
    pub fn chain_pem(&self) -> &str {
        &self.issuer.certificate_pem
    }
}
