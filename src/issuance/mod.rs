//! Issuance: CSR checks, TBS building per profile, signing through `Signer`, and the
//! development CA hierarchy. Pipeline (DESIGN.md): serial (stored by `ra` first) → TBS →
//! sign. Lint, precertificate and CT slot in between `prepare` and `issue`.
//! Owns: certificate bytes. Must not touch: storage (callers record serials and results).

pub mod ceremony;
pub mod csr;
pub mod ct;
pub mod devca;
pub mod keyfile;
pub mod lint;
mod serials;
pub mod signer;
mod tbs;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod verify;

use crate::config::{CaConfig, HsmConfig, ProfileConfig, ValidationLevel};
use crate::core::Serial;
use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier;
use der::Decode;
pub use serials::{issuer_id, shard_of};
use signer::Signer;
use spki::SubjectPublicKeyInfoOwned;
use std::sync::Arc;
pub use tbs::OrganizationSubject;
use tbs::{CtMarker, IssuerInfo, LeafSpec, San};

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
    /// The order does not meet the profile (e.g. OV without a vetted organisation).
    #[error("profile: {0}")]
    Profile(String),
    /// The lint certificate has findings at or above the blocking severity (CP 4.3.1.2).
    #[error("pre-issuance lint failed: {0}")]
    LintFailed(String),
    /// The linter itself could not run: issuance stops rather than sign unlinted.
    #[error("linter: {0}")]
    Linter(#[from] lint::LintError),
    #[error("certificate transparency: {0}")]
    Ct(#[from] ct::CtError),
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
    /// The vetted organisation for an OV profile (from the RA's records, never the CSR).
    pub organization: Option<OrganizationSubject>,
    /// The CRL shard the certificate's CRLDP names (`issuance::shard_of`, stored with the
    /// serial; CP 4.9.7).
    pub crl_shard: u32,
}

/// A to-be-signed certificate (or precertificate). Only `CertificateAuthority::lint`
/// consumes it, and only a `LintedCertificate` can be signed, so nothing is signed that was
/// not prepared and linted (DESIGN invariant 2).
pub struct PreparedCertificate {
    pub serial: Serial,
    pub tbs_der: Vec<u8>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// True when the TBS carries the CT poison (RFC 6962 3.1).
    pub precertificate: bool,
    lint_kind: lint::DocumentKind,
}

/// A prepared certificate whose lint certificate passed. `lint_der` (the TBS signed by the
/// throwaway key) must be stored before `sign` (DESIGN invariant 1).
pub struct LintedCertificate {
    prepared: PreparedCertificate,
    pub lint_der: Vec<u8>,
    /// Non-blocking findings, for the audit record.
    pub findings: String,
}

impl LintedCertificate {
    pub fn serial(&self) -> &Serial {
        &self.prepared.serial
    }
}

#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub serial: Serial,
    pub der: Vec<u8>,
    /// Leaf PEM only; the chain is `CertificateAuthority::chain_pem`.
    pub pem: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// A precertificate (poisoned; never served to the subscriber).
    pub precertificate: bool,
}

pub struct CertificateAuthority {
    config: CaConfig,
    issuer: Issuer,
    issuer_info: IssuerInfo,
    policy_oid: ObjectIdentifier,
    /// CP 4.3.1.2: the throwaway key of the mirror issuer, the same algorithm (and size) as
    /// the issuer's, so the lint certificate looks exactly like the real one but is worthless.
    lint_signer: signer::software::SoftwareSigner,
    linter: Option<Arc<lint::Linter>>,
    ct: Option<Arc<ct::CtSubmitter>>,
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
        let lint_signer = signer::software::SoftwareSigner::generate(
            signer::software::KeyKind::from_spki_der(&issuer_info.spki_der)?,
        )?;
        Ok(CertificateAuthority {
            config: config.clone(),
            issuer,
            issuer_info,
            policy_oid,
            lint_signer,
            linter: None,
            ct: None,
        })
    }

    /// Lint every certificate with `linter` before signing (CP 4.3.1.2).
    pub fn with_linter(mut self, linter: Arc<lint::Linter>) -> Self {
        self.linter = linter.is_enabled().then_some(linter);
        self
    }

    /// Issue precertificates and embed SCTs from these logs (CP 4.4.2, RFC 6962).
    pub fn with_ct(mut self, ct: Arc<ct::CtSubmitter>) -> Self {
        self.ct = ct.is_enabled().then_some(ct);
        self
    }

    pub fn ct(&self) -> Option<&Arc<ct::CtSubmitter>> {
        self.ct.as_ref()
    }

    /// The chain submitted to CT logs for `leaf_der`: the leaf and its issuer (RFC 6962 4.1).
    pub fn ct_chain(&self, leaf_der: &[u8]) -> Vec<Vec<u8>> {
        vec![leaf_der.to_vec(), self.issuer.certificate_der.clone()]
    }

    /// CPS 6.2, CP 4.3.1.2, 4.4.2: a publicly-trusted profile runs only on an HSM-backed
    /// key, with pre-issuance linting and with CT logs able to meet the CT policy. Checked at
    /// start, so a misconfigured CA refuses to run rather than issue outside its policy.
    pub fn check_publicly_trusted(
        &self,
        linter_enabled: bool,
        ct_ready: bool,
    ) -> Result<(), IssuanceError> {
        let trusted = self
            .config
            .profiles
            .iter()
            .filter(|(_, p)| p.publicly_trusted);
        for (name, _) in trusted {
            let refuse = |why: &str| {
                Err(IssuanceError::Issuer(format!(
                    "profile {name:?} is publicly trusted, but {why}"
                )))
            };
            if !self.issuer.signer.is_hardware_backed() {
                return refuse("the issuing key is a software key, not an HSM key (CPS 6.2)");
            }
            if !linter_enabled {
                return refuse("no linter is configured (lint.linter; CP 4.3.1.2)");
            }
            if !ct_ready {
                return refuse(
                    "the CT logs configured cannot meet the CT policy (ct.logs; CP 4.4.2)",
                );
            }
        }
        Ok(())
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
        // CP Table 7.1-1: an OV subject carries the vetted organisation; a DV subject must not.
        let organization = match (profile.validation, &request.organization) {
            (ValidationLevel::Ov, Some(org)) => Some(org.clone()),
            (ValidationLevel::Ov, None) => {
                return Err(IssuanceError::Profile(format!(
                    "profile {:?} is OV: the account has no vetted organisation",
                    request.profile
                )))
            }
            (ValidationLevel::Dv, _) => None,
        };
        let precertificate = self.ct.is_some();
        let lint_kind = match (profile.validation, precertificate) {
            (ValidationLevel::Dv, true) => lint::DocumentKind::DvPrecertificate,
            (ValidationLevel::Dv, false) => lint::DocumentKind::DvCertificate,
            (ValidationLevel::Ov, true) => lint::DocumentKind::OvPrecertificate,
            (ValidationLevel::Ov, false) => lint::DocumentKind::OvCertificate,
        };
        let spki = SubjectPublicKeyInfoOwned::from_der(&request.public_key_der)
            .map_err(|e| IssuanceError::Encoding(format!("public key: {e}")))?;
        // BR 6.3.2 via the dated table (and BR 1.6.1 "short-lived" for those profiles): the
        // profile may ask for less, never for more.
        let cap = if profile.short_lived {
            crate::policy::dated::max_short_lived_days(now)
        } else {
            crate::policy::dated::max_subscriber_validity_days(now)
        };
        let days = profile.validity_days.min(cap);
        let (not_before, not_after) = tbs::validity_window(
            now,
            profile.backdate_seconds,
            days,
            self.issuer_info.not_after,
        )?;
        let sans: Vec<San> = request.names.iter().cloned().map(San::Dns).collect();
        let mut spec = self.leaf_spec(profile, sans, organization, request.crl_shard);
        if precertificate {
            spec.ct = CtMarker::Poison;
        }
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
            precertificate,
            lint_kind,
        })
    }

    /// CP 4.3.1.2: sign the TBS with the mirror issuer's throwaway key and lint that
    /// certificate; findings at the blocking severity stop issuance. Without a linter (a
    /// development profile; publicly-trusted ones refuse to start so) the lint certificate is
    /// still made and stored. Blocking (child process): call from `spawn_blocking`.
    pub fn lint(&self, prepared: PreparedCertificate) -> Result<LintedCertificate, IssuanceError> {
        let lint_der = tbs::sign_certificate(&self.lint_signer, &prepared.tbs_der)?;
        let mut findings = String::new();
        if let Some(linter) = &self.linter {
            let report = linter.lint(prepared.lint_kind, &lint_der)?;
            let blocking = report.blocking(linter.block_at());
            if !blocking.is_empty() {
                let codes: Vec<String> = blocking
                    .iter()
                    .map(|f| format!("{} ({:?})", f.code, f.severity))
                    .collect();
                return Err(IssuanceError::LintFailed(codes.join(", ")));
            }
            findings = report.summary();
        }
        Ok(LintedCertificate {
            prepared,
            lint_der,
            findings,
        })
    }

    /// Sign a linted (pre)certificate with the issuer's key. Blocking (HSM): call from
    /// `spawn_blocking`.
    pub fn sign(&self, linted: LintedCertificate) -> Result<IssuedCertificate, IssuanceError> {
        let prepared = linted.prepared;
        let der = tbs::sign_certificate(self.issuer.signer.as_ref(), &prepared.tbs_der)?;
        Ok(IssuedCertificate {
            serial: prepared.serial,
            pem: pem_of(&der)?,
            der,
            not_before: prepared.not_before,
            not_after: prepared.not_after,
            precertificate: prepared.precertificate,
        })
    }

    /// Lint then sign: the whole path for a certificate without CT (development profiles).
    pub fn issue(&self, prepared: PreparedCertificate) -> Result<IssuedCertificate, IssuanceError> {
        self.sign(self.lint(prepared)?)
    }

    /// The final certificate of a signed precertificate (RFC 6962 3.1): its TBS is the
    /// precertificate's with the poison replaced by the SCT list, checked field by field
    /// against the precertificate before the issuer signs it (DESIGN invariant 3). The
    /// precertificate's lint therefore covers it (REQUIREMENTS §8). Blocking.
    pub fn sign_final(
        &self,
        precertificate: &IssuedCertificate,
        scts: &[ct::Sct],
    ) -> Result<IssuedCertificate, IssuanceError> {
        if !precertificate.precertificate {
            return Err(IssuanceError::Encoding(
                "sign_final needs a precertificate".to_string(),
            ));
        }
        let precert_tbs = tbs::tbs_of_certificate(&precertificate.der)?;
        let sct_list = ct::sct_list_extension_value(scts)?;
        let final_tbs = ct::replace_poison_with_sct_list(&precert_tbs, &sct_list)?;
        ct::check_correspondence(&precert_tbs, &final_tbs)?;
        let der = tbs::sign_certificate(self.issuer.signer.as_ref(), &final_tbs)?;
        Ok(IssuedCertificate {
            serial: precertificate.serial.clone(),
            pem: pem_of(&der)?,
            der,
            not_before: precertificate.not_before,
            not_after: precertificate.not_after,
            precertificate: false,
        })
    }

    /// The issuing CA: its certificate and signer (CRLs and OCSP responses are signed with
    /// it, CP 7.2, 7.3).
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// PEM of the certificates that follow the leaf in a served chain (the intermediate).
    pub fn chain_pem(&self) -> &str {
        &self.issuer.certificate_pem
    }

    pub fn linter(&self) -> Option<&Arc<lint::Linter>> {
        self.linter.as_ref()
    }

    fn profile(&self, name: &str) -> Result<&ProfileConfig, IssuanceError> {
        self.config
            .profiles
            .get(name)
            .ok_or_else(|| IssuanceError::UnknownProfile(name.to_string()))
    }

    fn leaf_spec(
        &self,
        profile: &ProfileConfig,
        sans: Vec<San>,
        organization: Option<OrganizationSubject>,
        crl_shard: u32,
    ) -> LeafSpec {
        let reserved = match profile.validation {
            ValidationLevel::Dv => tbs::DV_POLICY,
            ValidationLevel::Ov => tbs::OV_POLICY,
        };
        LeafSpec {
            sans,
            client_auth: profile.client_auth,
            organization,
            policy: Some((reserved, self.policy_oid, self.config.cps_uri.clone())),
            subject_key_identifier: profile.subject_key_identifier,
            common_name: profile.common_name,
            // CP 4.9.7: the CRLDP names the certificate's own shard, the same URL as that
            // shard's IssuingDistributionPoint.
            crl_url: Some(crl_shard_url(&self.config.crl_base_url, crl_shard)),
            ocsp_url: Some(self.config.ocsp_url.clone()),
            ca_issuers_url: Some(self.config.ca_issuers_url.clone()),
            ct: CtMarker::None,
        }
    }
}

/// `<crl_base_url>/<shard>.crl`: a shard's URL, in certificates' CRLDP and in the shard's
/// IssuingDistributionPoint (CP 4.9.7).
pub fn crl_shard_url(crl_base_url: &str, shard: u32) -> String {
    format!("{}/{shard}.crl", crl_base_url.trim_end_matches('/'))
}

/// A delegated OCSP responder certificate (CP Table 7.1-2) for `responder_spki_der`,
/// signed by `issuer`'s key: the ceremony's plan (subject = the issuer's with " OCSP
/// Responder" added to its CN, `tbs::ocsp_responder_extensions`), valid `days` from `now`
/// and never past the issuer. Used by `revocation::ocsp` to rotate responders. Blocking.
pub fn ocsp_responder_certificate(
    issuer: &Issuer,
    responder_spki_der: &[u8],
    now: DateTime<Utc>,
    days: u32,
) -> Result<Vec<u8>, IssuanceError> {
    let info = IssuerInfo::from_certificate_der(&issuer.certificate_der)?;
    let spki = SubjectPublicKeyInfoOwned::from_der(responder_spki_der)
        .map_err(|e| IssuanceError::Encoding(format!("responder public key: {e}")))?;
    let subject = ceremony::responder_subject(&info.subject)
        .map_err(|e| IssuanceError::Issuer(e.to_string()))?;
    let (not_before, not_after) = tbs::validity_window(now, 0, days, info.not_after)?;
    let plan = tbs::CertificatePlan {
        serial: Serial::random(),
        algorithm: issuer.signer.algorithm(),
        issuer: info.subject.clone(),
        not_before,
        not_after,
        subject,
        extensions: tbs::ocsp_responder_extensions(&info.key_identifier, &spki)?,
        spki,
    };
    plan.sign(issuer.signer.as_ref())
}

/// Verify a signature by the key in `spki_der` (the check every signer's output gets
/// before it leaves the process); for OCSP responses.
pub fn verify_signature(
    spki_der: &[u8],
    algorithm: &spki::AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    verify::verify_signature(spki_der, algorithm, message, signature)
}

fn pem_of(der: &[u8]) -> Result<String, IssuanceError> {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .map_err(|e| IssuanceError::Encoding(format!("PEM: {e}")))
}
