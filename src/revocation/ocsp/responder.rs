//! Who signs OCSP responses (CP 7.3, RFC 6960 4.2.2.2): the issuing CA key, or a delegated
//! responder certificate that the CA issues itself (CP Table 7.1-2) and replaces when
//! fewer than `ocsp.responder_rotate_days` of its validity remain (`schedule`).
//! Several processes may rotate at the same moment; each then uses the newest row
//! (`schedule::responder_decision` is deterministic), so they converge on one responder.

use super::response::ResponseSigner;
use super::schedule::{responder_decision, ResponderDecision, ResponderValidity};
use super::{Ocsp, OcspError};
use crate::config::OcspSigner;
use crate::issuance::signer::pkcs11::{KeySpec, Pkcs11Token};
use crate::issuance::signer::software::{KeyKind, SoftwareSigner};
use crate::issuance::signer::Signer;
use crate::storage::entities::ocsp_responder;
use crate::storage::queries as q;
use crate::storage::StorageError;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// How often the delegated responder's remaining validity is checked.
const RECHECK_SECONDS: i64 = 60;

/// The signer in use, re-checked every `RECHECK_SECONDS`.
#[derive(Default)]
pub struct Responders {
    current: tokio::sync::Mutex<Option<(ResponseSigner, DateTime<Utc>)>>,
}

fn responder_err(e: impl std::fmt::Display) -> OcspError {
    OcspError::Responder(e.to_string())
}

impl Responders {
    pub async fn current(&self, ocsp: &Ocsp) -> Result<ResponseSigner, OcspError> {
        let now = ocsp.clock.now();
        let mut guard = self.current.lock().await;
        if let Some((signer, checked)) = guard.as_ref() {
            if (now - *checked).num_seconds() < RECHECK_SECONDS {
                return Ok(signer.clone());
            }
        }
        let signer = match ocsp.config.ocsp.signer {
            OcspSigner::Issuer => {
                ResponseSigner::new(ocsp.issuer.signer.clone(), "issuer".to_string(), None)?
            }
            OcspSigner::Delegated => {
                let keep = guard.take().map(|(s, _)| s);
                delegated(ocsp, keep, now).await?
            }
        };
        *guard = Some((signer.clone(), now));
        Ok(signer)
    }

    /// Forget the cached signer (the next use re-reads `ocsp_responders`).
    pub async fn reset(&self) {
        *self.current.lock().await = None;
    }
}

async fn delegated(
    ocsp: &Ocsp,
    keep: Option<ResponseSigner>,
    now: DateTime<Utc>,
) -> Result<ResponseSigner, OcspError> {
    let rotate_days = ocsp.config.ocsp.responder_rotate_days;
    let mut rows = q::ocsp_responders(ocsp.storage.reader(), &ocsp.issuer_id).await?;
    let mut decision = responder_decision(now, &validities(&rows), rotate_days);
    if let ResponderDecision::Rotate { meanwhile } = &decision {
        tracing::info!(replacing = ?meanwhile, "issuing a delegated OCSP responder certificate");
        issue(ocsp, now).await?;
        rows = q::ocsp_responders(ocsp.storage.reader(), &ocsp.issuer_id).await?;
        decision = responder_decision(now, &validities(&rows), rotate_days);
    }
    let ResponderDecision::Use(id) = decision else {
        return Err(responder_err("a new responder certificate is not usable"));
    };
    if let Some(signer) = keep.filter(|s| s.id == id) {
        return Ok(signer);
    }
    let row = rows
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| responder_err("responder row vanished"))?;
    let key = load_key(ocsp, &row.key_ref).await?;
    ResponseSigner::new(key, row.id, Some(row.certificate_der))
}

fn validities(rows: &[ocsp_responder::Model]) -> Vec<ResponderValidity> {
    rows.iter()
        .map(|r| ResponderValidity {
            id: r.id.clone(),
            not_before: r.not_before,
            not_after: r.not_after,
            created_at: r.created_at,
        })
        .collect()
}

/// The responder key named by `key_ref`: `pkcs11:<label>` on the `[hsm]` token or
/// `file:<path>` (development hierarchy).
async fn load_key(ocsp: &Ocsp, key_ref: &str) -> Result<Arc<dyn Signer>, OcspError> {
    if let Some(path) = key_ref.strip_prefix("file:") {
        let pem =
            std::fs::read_to_string(path).map_err(|e| responder_err(format!("{path}: {e}")))?;
        return Ok(Arc::new(SoftwareSigner::from_pkcs8_pem(&pem)?));
    }
    if let Some(label) = key_ref.strip_prefix("pkcs11:") {
        let hsm = ocsp.config.hsm.clone();
        let label = label.to_string();
        let signer = tokio::task::spawn_blocking(move || {
            Pkcs11Token::open(&hsm).and_then(|t| t.signer(&label))
        })
        .await
        .map_err(|e| OcspError::Task(e.to_string()))??;
        return Ok(Arc::new(signer));
    }
    Err(responder_err(format!("unknown key reference {key_ref:?}")))
}

/// Generate a responder key (in the HSM when the CA is there, else a software key file in
/// the data directory), have the issuing key sign its certificate, and record it with its
/// audit event in one transaction.
async fn issue(ocsp: &Ocsp, now: DateTime<Utc>) -> Result<(), OcspError> {
    let label = format!(
        "ocsp-{}-{}",
        now.format("%Y%m%dT%H%M%SZ"),
        &crate::core::random_id()[..8]
    );
    let (key, key_ref) = generate_key(ocsp, &label).await?;
    let issuer = ocsp.issuer.clone();
    let days = ocsp.config.ocsp.responder_validity_days;
    let spki = key.public_key_der();
    let certificate_der = tokio::task::spawn_blocking(move || {
        crate::issuance::ocsp_responder_certificate(&issuer, &spki, now, days)
    })
    .await
    .map_err(|e| OcspError::Task(e.to_string()))?
    .map_err(responder_err)?;
    let cert = x509_parser::parse_x509_certificate(&certificate_der)
        .map_err(|e| responder_err(format!("new certificate does not parse: {e}")))?
        .1;
    let not_before = DateTime::from_timestamp(cert.validity().not_before.timestamp(), 0);
    let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0);
    let (Some(not_before), Some(not_after)) = (not_before, not_after) else {
        return Err(responder_err("validity out of range"));
    };
    let serial = cert.raw_serial_as_string().replace(':', "");
    let row = ocsp_responder::Model {
        id: label.clone(),
        issuer_id: ocsp.issuer_id.clone(),
        certificate_der,
        key_ref: key_ref.clone(),
        not_before,
        not_after,
        created_at: ocsp.clock.now(),
    };
    let txn = ocsp.storage.begin().await?;
    q::insert_ocsp_responder(&txn, row).await?;
    crate::audit::append(
        &txn,
        now,
        &crate::audit::Actor::System,
        "ocsp.responder_issued",
        serde_json::json!({
            "id": label,
            "serial": serial,
            "key_ref": key_ref,
            "hardware_backed": key.is_hardware_backed(),
            "not_before": not_before.to_rfc3339(),
            "not_after": not_after.to_rfc3339(),
        }),
    )
    .await?;
    txn.commit().await.map_err(StorageError::from)?;
    Ok(())
}

async fn generate_key(ocsp: &Ocsp, label: &str) -> Result<(Arc<dyn Signer>, String), OcspError> {
    if ocsp.config.ca.dev_hierarchy {
        let signer = SoftwareSigner::generate(KeyKind::EcdsaP256)?;
        let pem = signer.to_pkcs8_pem()?;
        let dir = ocsp.config.storage.data_dir.join("ocsp");
        let path = dir.join(format!("{label}.key.pem"));
        write_private(&dir, &path, pem.as_bytes())?;
        return Ok((Arc::new(signer), format!("file:{}", path.display())));
    }
    let hsm = ocsp.config.hsm.clone();
    let owned = label.to_string();
    let signer = tokio::task::spawn_blocking(move || {
        Pkcs11Token::open(&hsm).and_then(|t| t.generate_key(&owned, KeySpec::EcP256))
    })
    .await
    .map_err(|e| OcspError::Task(e.to_string()))??;
    Ok((Arc::new(signer), format!("pkcs11:{label}")))
}

fn write_private(
    dir: &std::path::Path,
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<(), OcspError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| responder_err(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)
}
