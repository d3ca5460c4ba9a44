//! The development CA hierarchy created on first start: a root and an intermediate with
//! software keys, clearly labelled development-only, and the HTTPS certificate of the ACME
//! listener for localhost/127.0.0.1.
//!
//! Software keys are for development only (CPS 6.2); `SoftwareSigner::is_hardware_backed`
//! is false for all of them. The key files are the one place a private key is written out.

use super::signer::software::{KeyKind, SoftwareSigner};
use super::signer::Signer;
use super::tbs::{self, CaKind, CertificatePlan, IssuerInfo, LeafSpec, San};
use super::{IssuanceError, Issuer};
use crate::core::Serial;
use chrono::{DateTime, Utc};
use const_oid::db::rfc4519::{
    COMMON_NAME as ID_AT_COMMON_NAME, COUNTRY_NAME as ID_AT_COUNTRY_NAME,
    ORGANIZATION_NAME as ID_AT_ORGANIZATION_NAME,
};
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use x509_cert::name::Name;

const ORGANIZATION: &str = "Hanko Development CA (NOT FOR PRODUCTION)";
const ROOT_CN: &str = "Hanko Development Root (NOT FOR PRODUCTION)";
const INTERMEDIATE_CN: &str = "Hanko Development Intermediate (NOT FOR PRODUCTION)";
const ROOT_DAYS: u32 = 3650;
const INTERMEDIATE_DAYS: u32 = 5 * 365;
const LISTENER_DAYS: u32 = 30;
/// Backdate of the development certificates, for clock skew between local processes.
const BACKDATE_SECONDS: u64 = 3600;

const ROOT_CERT: &str = "root.pem";
const ROOT_KEY: &str = "root.key.pem";
const INTERMEDIATE_CERT: &str = "intermediate.pem";
const INTERMEDIATE_KEY: &str = "intermediate.key.pem";
const FILES: [&str; 4] = [ROOT_CERT, ROOT_KEY, INTERMEDIATE_CERT, INTERMEDIATE_KEY];

pub struct DevHierarchy {
    pub root_pem: String,
    /// `<data_dir>/ca/root.pem`
    pub root_path: PathBuf,
    pub intermediate: Issuer,
    /// True when this call created the hierarchy (first start).
    pub created: bool,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> IssuanceError {
    IssuanceError::Issuer(format!("{what} {}: {e}", path.display()))
}

/// Load the hierarchy from `<data_dir>/ca/`, creating it on first start.
pub fn load_or_create(data_dir: &Path) -> Result<DevHierarchy, IssuanceError> {
    let ca_dir = data_dir.join("ca");
    let present: Vec<&str> = FILES
        .iter()
        .copied()
        .filter(|f| ca_dir.join(f).exists())
        .collect();
    match present.len() {
        0 => create(data_dir, &ca_dir),
        n if n == FILES.len() => load(&ca_dir, false),
        _ => Err(incomplete(&ca_dir, &present)),
    }
}

fn incomplete(ca_dir: &Path, present: &[&str]) -> IssuanceError {
    let missing: Vec<&str> = FILES
        .iter()
        .copied()
        .filter(|f| !present.contains(f))
        .collect();
    IssuanceError::Issuer(format!(
        "development CA directory {} is incomplete: has {}, missing {}; restore the missing \
         files or remove the directory to create a new hierarchy",
        ca_dir.display(),
        present.join(", "),
        missing.join(", ")
    ))
}

/// Create the hierarchy in a scratch directory and rename it into place, so a crash
/// leaves either no `ca/` or a complete one (rename(2) of a directory is atomic).
fn create(data_dir: &Path, ca_dir: &Path) -> Result<DevHierarchy, IssuanceError> {
    std::fs::create_dir_all(data_dir).map_err(|e| io_err("cannot create", data_dir, e))?;
    let scratch = data_dir.join(format!(
        ".ca.partial-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let result = write_new_hierarchy(&scratch, Utc::now()).and_then(|()| {
        std::fs::rename(&scratch, ca_dir).map_err(|e| io_err("cannot move into place", ca_dir, e))
    });
    match result {
        Ok(()) => {
            sync_dir(data_dir);
            load(ca_dir, true)
        }
        Err(err) => {
            // Best effort: the scratch directory is ours alone.
            let _ = std::fs::remove_dir_all(&scratch);
            // Another process may have won the race to create the same hierarchy.
            if FILES.iter().all(|f| ca_dir.join(f).exists()) {
                return load(ca_dir, false);
            }
            Err(err)
        }
    }
}

fn write_new_hierarchy(dir: &Path, now: DateTime<Utc>) -> Result<(), IssuanceError> {
    std::fs::create_dir(dir).map_err(|e| io_err("cannot create", dir, e))?;
    let root_key = SoftwareSigner::generate(KeyKind::EcdsaP384)?;
    let root_der = root_certificate(&root_key, now)?;
    let root_info = IssuerInfo::from_certificate_der(&root_der)?;
    let intermediate_key = SoftwareSigner::generate(KeyKind::EcdsaP256)?;
    let intermediate_der = intermediate_certificate(&root_key, &root_info, &intermediate_key, now)?;
    write_file(&dir.join(ROOT_CERT), pem(&root_der)?.as_bytes(), false)?;
    write_file(
        &dir.join(ROOT_KEY),
        root_key.to_pkcs8_pem()?.as_bytes(),
        true,
    )?;
    write_file(
        &dir.join(INTERMEDIATE_CERT),
        pem(&intermediate_der)?.as_bytes(),
        false,
    )?;
    let key_pem = intermediate_key.to_pkcs8_pem()?;
    write_file(&dir.join(INTERMEDIATE_KEY), key_pem.as_bytes(), true)?;
    sync_dir(dir);
    Ok(())
}

fn load(ca_dir: &Path, created: bool) -> Result<DevHierarchy, IssuanceError> {
    let read = |name: &str| {
        let path = ca_dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| io_err("cannot read", &path, e))
    };
    let root_pem = read(ROOT_CERT)?;
    let root_der = pem_to_der(&root_pem, ROOT_CERT)?;
    let root_key = SoftwareSigner::from_pkcs8_pem(&read(ROOT_KEY)?)?;
    let root_info = IssuerInfo::from_certificate_der(&root_der)?;
    if root_info.spki_der != root_key.public_key_der() {
        return Err(IssuanceError::Issuer(format!(
            "{ROOT_KEY} does not match {ROOT_CERT} in {}",
            ca_dir.display()
        )));
    }
    let certificate_pem = read(INTERMEDIATE_CERT)?;
    let certificate_der = pem_to_der(&certificate_pem, INTERMEDIATE_CERT)?;
    let signer = SoftwareSigner::from_pkcs8_pem(&read(INTERMEDIATE_KEY)?)?;
    let info = IssuerInfo::from_certificate_der(&certificate_der)?;
    if info.spki_der != signer.public_key_der() {
        return Err(IssuanceError::Issuer(format!(
            "{INTERMEDIATE_KEY} does not match {INTERMEDIATE_CERT} in {}",
            ca_dir.display()
        )));
    }
    Ok(DevHierarchy {
        root_pem,
        root_path: ca_dir.join(ROOT_CERT),
        intermediate: Issuer {
            certificate_der,
            certificate_pem,
            signer: Arc::new(signer),
        },
        created,
    })
}

/// A TLS server certificate for the ACME listener, for `localhost` and 127.0.0.1/::1,
/// chaining to the development root. Returns (certificate chain PEM, PKCS#8 key PEM).
pub fn listener_certificate(hierarchy: &DevHierarchy) -> Result<(String, String), IssuanceError> {
    let issuer = &hierarchy.intermediate;
    let info = IssuerInfo::from_certificate_der(&issuer.certificate_der)?;
    // The listener's key is the server's own, not a subscriber's (CPS 6.1.1 is about
    // subscriber keys), so generating it here is fine.
    let key = SoftwareSigner::generate(KeyKind::EcdsaP256)?;
    let spki = spki_of(&key)?;
    let spec = LeafSpec {
        sans: vec![
            San::Dns("localhost".to_string()),
            San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            San::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ],
        client_auth: false,
        organization: None,
        policy: None,
        subject_key_identifier: true,
        common_name: true,
        crl_url: None,
        ocsp_url: None,
        ca_issuers_url: None,
        ct: tbs::CtMarker::None,
    };
    let now = Utc::now();
    let (not_before, not_after) =
        tbs::validity_window(now, BACKDATE_SECONDS, LISTENER_DAYS, info.not_after)?;
    let tbs_der = tbs::leaf_tbs(
        &info,
        issuer.signer.algorithm(),
        &Serial::random(),
        spki,
        &spec,
        (not_before, not_after),
    )?;
    let der = tbs::sign_certificate(issuer.signer.as_ref(), &tbs_der)?;
    let mut chain = pem(&der)?;
    chain.push_str(&issuer.certificate_pem);
    let key_pem = key.to_pkcs8_pem()?;
    Ok((chain, key_pem.to_string()))
}

/// The self-signed development root (BR 7.1.2.1 shape, ECDSA P-384).
fn root_certificate(key: &SoftwareSigner, now: DateTime<Utc>) -> Result<Vec<u8>, IssuanceError> {
    let subject = dev_name(ROOT_CN)?;
    let spki = spki_of(key)?;
    let key_id = tbs::key_identifier(&spki);
    let far_future = now + chrono::Duration::days(i64::from(ROOT_DAYS) + 1);
    ca_certificate(CaCertificate {
        kind: CaKind::Root,
        signer: key,
        issuer: subject.clone(),
        issuer_key_id: &key_id,
        issuer_not_after: far_future,
        subject,
        spki,
        days: ROOT_DAYS,
        now,
    })
}

/// The development intermediate (BR 7.1.2.2 shape, ECDSA P-256), signed by the root.
fn intermediate_certificate(
    root_key: &SoftwareSigner,
    root: &IssuerInfo,
    key: &SoftwareSigner,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, IssuanceError> {
    ca_certificate(CaCertificate {
        kind: CaKind::Intermediate,
        signer: root_key,
        issuer: root.subject.clone(),
        issuer_key_id: &root.key_identifier,
        issuer_not_after: root.not_after,
        subject: dev_name(INTERMEDIATE_CN)?,
        spki: spki_of(key)?,
        days: INTERMEDIATE_DAYS,
        now,
    })
}

struct CaCertificate<'a> {
    kind: CaKind,
    signer: &'a SoftwareSigner,
    issuer: Name,
    issuer_key_id: &'a [u8],
    issuer_not_after: DateTime<Utc>,
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    days: u32,
    now: DateTime<Utc>,
}

/// The CA profile builder: the same certificate plan (and so the same TBS encoder and
/// signing path) as the HSM ceremony's CA certificates.
fn ca_certificate(ca: CaCertificate<'_>) -> Result<Vec<u8>, IssuanceError> {
    let (not_before, not_after) =
        tbs::validity_window(ca.now, BACKDATE_SECONDS, ca.days, ca.issuer_not_after)?;
    let extensions = tbs::ca_extensions(ca.kind, ca.issuer_key_id, &ca.spki)?;
    CertificatePlan {
        serial: Serial::random(),
        algorithm: ca.signer.algorithm(),
        issuer: ca.issuer,
        not_before,
        not_after,
        subject: ca.subject,
        spki: ca.spki,
        extensions,
    }
    .sign(ca.signer)
}

fn dev_name(common_name: &str) -> Result<Name, IssuanceError> {
    tbs::build_name(&[
        (ID_AT_COUNTRY_NAME, "JP"),
        (ID_AT_ORGANIZATION_NAME, ORGANIZATION),
        (ID_AT_COMMON_NAME, common_name),
    ])
}

fn spki_of(key: &SoftwareSigner) -> Result<SubjectPublicKeyInfoOwned, IssuanceError> {
    SubjectPublicKeyInfoOwned::from_der(&key.public_key_der())
        .map_err(|e| IssuanceError::Encoding(format!("public key: {e}")))
}

/// PEM (RFC 7468 "CERTIFICATE") of a DER certificate.
pub(crate) fn pem(der: &[u8]) -> Result<String, IssuanceError> {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .map_err(|e| IssuanceError::Encoding(format!("PEM: {e}")))
}

/// The DER of a one-certificate PEM text; `file` names it in errors.
pub(crate) fn pem_to_der(text: &str, file: &str) -> Result<Vec<u8>, IssuanceError> {
    let (label, der) = der::pem::decode_vec(text.as_bytes())
        .map_err(|e| IssuanceError::Issuer(format!("{file}: not a PEM certificate: {e}")))?;
    if label != "CERTIFICATE" {
        return Err(IssuanceError::Issuer(format!(
            "{file}: expected a CERTIFICATE PEM, found {label:?}"
        )));
    }
    // Re-encoding check: a certificate we cannot round-trip is not one we wrote.
    let cert = x509_cert::Certificate::from_der(&der)
        .map_err(|e| IssuanceError::Issuer(format!("{file}: {e}")))?;
    if cert.to_der().ok().as_deref() != Some(der.as_slice()) {
        return Err(IssuanceError::Issuer(format!("{file}: not DER")));
    }
    Ok(der)
}

/// Write a file durably; private keys are created 0600 from the start (never widened).
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), IssuanceError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .map_err(|e| io_err("cannot create", path, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("cannot write", path, e))
}

/// fsync a directory so renames and new entries survive a crash; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
#[path = "devca_tests.rs"]
mod tests;
