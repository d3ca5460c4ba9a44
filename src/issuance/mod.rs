//! Issuance: CSR checks, TBS building per profile, signing through `Signer`, and the
//! development CA hierarchy. Pipeline (DESIGN.md): serial (stored by `ra` first) → TBS →
//! sign. Lint, precertificate and CT slot in between `prepare` and `issue`.
//! Owns: certificate bytes. Must not touch: storage (callers record serials and results).

pub mod ceremony;
pub mod csr;
pub mod devca;
pub mod signer;
mod tbs;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod verify;

use crate::config::{CaConfig, HsmConfig, ProfileConfig};
use crate::core::Serial;
use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier;
use der::Decode;
use signer::Signer;
use spki::SubjectPublicKeyInfoOwned;
use std::sync::Arc;
use tbs::{IssuerInfo, LeafSpec, San};

/// CP 7.1 (Table 7.1-1): notBefore at most 48 hours before signing.
const MAX_BACKDATE_SECONDS: u64 = 48 * 3600;

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

impl Issuer {
    /// The HSM-backed issuing CA named by `ca.issuer` (used when `ca.dev_hierarchy` is
    /// false): its certificate from the PEM file, its key found by label on the `[hsm]`
    /// token. Blocking: opens the token and logs in. `CertificateAuthority::new` then checks
    /// that the key is the certificate's.
    pub fn from_hsm(ca: &CaConfig, hsm: &HsmConfig) -> Result<Issuer, IssuanceError> {
        let issuer = ca.issuer.as_ref().ok_or_else(|| {
            IssuanceError::Issuer(
                "ca.dev_hierarchy = false requires ca.issuer (certificate and key_label of \
                 the HSM-backed issuing CA)"
                    .to_string(),
            )
        })?;
        let name = format!("ca.issuer.certificate {}", issuer.certificate.display());
        let text = std::fs::read_to_string(&issuer.certificate)
            .map_err(|e| IssuanceError::Issuer(format!("{name}: {e}")))?;
        let certificate_der = devca::pem_to_der(&text, &name)?;
        let token = signer::pkcs11::Pkcs11Token::open(hsm)?;
        let signer = token.signer(&issuer.key_label)?;
        Ok(Issuer {
            certificate_pem: devca::pem(&certificate_der)?,
            certificate_der,
            signer: Arc::new(signer),
        })
    }
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
    issuer_info: IssuerInfo,
    policy_oid: ObjectIdentifier,
}

impl CertificateAuthority {
    /// Check the configuration and the issuer once, so `prepare` cannot fail on them later:
    /// the CA certificate parses and has an SKI, its key is the signer's, the CP OID parses.
    pub fn new(config: &CaConfig, issuer: Issuer) -> Result<CertificateAuthority, IssuanceError> {
        let issuer_info = IssuerInfo::from_certificate_der(&issuer.certificate_der)?;
        if issuer_info.spki_der != issuer.signer.public_key_der() {
            return Err(IssuanceError::Issuer(
                "the signer's key is not the issuing CA certificate's key".to_string(),
            ));
        }
        let policy_oid = ObjectIdentifier::new(&config.policy_oid).map_err(|e| {
            IssuanceError::Issuer(format!("ca.policy_oid {:?}: {e}", config.policy_oid))
        })?;
        for (name, profile) in &config.profiles {
            if profile.backdate_seconds > MAX_BACKDATE_SECONDS {
                return Err(IssuanceError::Issuer(format!(
                    "profile {name:?}: backdate_seconds above 48 hours (CP 7.1)"
                )));
            }
        }
        Ok(CertificateAuthority {
            config: config.clone(),
            issuer,
            issuer_info,
            policy_oid,
        })
    }

    /// Build the TBS for `request` under its profile at `now` (validity from the profile,
    /// capped by the dated BR maximum and the issuer's notAfter).
    pub fn prepare(
        &self,
        request: &IssuanceRequest,
        now: DateTime<Utc>,
    ) -> Result<PreparedCertificate, IssuanceError> {
        let profile = self.profile(&request.profile)?;
        if request.names.is_empty() {
            return Err(IssuanceError::Encoding("no names to certify".to_string()));
        }
        let spki = SubjectPublicKeyInfoOwned::from_der(&request.public_key_der)
            .map_err(|e| IssuanceError::Encoding(format!("public key: {e}")))?;
        // BR 6.3.2 via the dated table: the profile may ask for less, never for more.
        let days = profile
            .validity_days
            .min(crate::policy::dated::max_subscriber_validity_days(now));
        let (not_before, not_after) = tbs::validity_window(
            now,
            profile.backdate_seconds,
            days,
            self.issuer_info.not_after,
        )?;
        let sans: Vec<San> = request.names.iter().cloned().map(San::Dns).collect();
        let spec = self.leaf_spec(profile, sans);
        let tbs_der = tbs::leaf_tbs(
            &self.issuer_info,
            self.issuer.signer.algorithm(),
            &request.serial,
            spki,
            &spec,
            (not_before, not_after),
        )?;
        Ok(PreparedCertificate {
            serial: request.serial.clone(),
            tbs_der,
            not_before,
            not_after,
        })
    }

    /// Sign a prepared certificate. Blocking (HSM/crypto): call from `spawn_blocking`.
    pub fn issue(&self, prepared: PreparedCertificate) -> Result<IssuedCertificate, IssuanceError> {
        let der = tbs::sign_certificate(self.issuer.signer.as_ref(), &prepared.tbs_der)?;
        let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der)
            .map_err(|e| IssuanceError::Encoding(format!("PEM: {e}")))?;
        Ok(IssuedCertificate {
            serial: prepared.serial,
            der,
            pem,
            not_before: prepared.not_before,
            not_after: prepared.not_after,
        })
    }

    /// PEM of the certificates that follow the leaf in a served chain (the intermediate).
    pub fn chain_pem(&self) -> &str {
        &self.issuer.certificate_pem
    }

    fn profile(&self, name: &str) -> Result<&ProfileConfig, IssuanceError> {
        self.config
            .profiles
            .get(name)
            .ok_or_else(|| IssuanceError::UnknownProfile(name.to_string()))
    }

    fn leaf_spec(&self, profile: &ProfileConfig, sans: Vec<San>) -> LeafSpec {
        LeafSpec {
            sans,
            client_auth: profile.client_auth,
            policy: Some((self.policy_oid, self.config.cps_uri.clone())),
            // TODO(#4): the certificate's CRL shard instead of a single CRL.
            crl_url: Some(format!(
                "{}/0.crl",
                self.config.crl_base_url.trim_end_matches('/')
            )),
            ocsp_url: Some(self.config.ocsp_url.clone()),
            ca_issuers_url: Some(self.config.ca_issuers_url.clone()),
        }
    }
}
