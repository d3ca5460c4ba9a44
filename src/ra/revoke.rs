//! Revocation requests (RFC 8555 7.6; CP 4.9.1, 4.9.2, 7.2.2).

use super::{Ra, RaError, RaResult};
use crate::audit::Actor;
use crate::core::RevocationReason;
use crate::storage::entities::revoked_certificate;
use crate::storage::queries as q;
use crate::storage::StorageError;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Who signed the revocation request.
pub enum RevocationRequester {
    /// An account (`kid`): the issuing account, or one holding valid authorizations for
    /// every name in the certificate.
    Account(String),
    /// The certificate's own key (`jwk`), proving possession of it: key compromise.
    CertificateKey { spki_der: Vec<u8> },
}

pub struct RevokeRequest {
    pub certificate_der: Vec<u8>,
    /// RFC 5280 CRLReason code; absent means unspecified.
    pub reason: Option<u8>,
    pub requester: RevocationRequester,
}

impl Ra {
    pub async fn revoke(&self, req: RevokeRequest) -> RaResult<()> {
        let reason = match req.reason {
            None => RevocationReason::Unspecified,
            Some(code) => RevocationReason::from_code(code)
                .filter(|r| r.subscriber_may_choose())
                .ok_or_else(|| {
                    RaError::BadRevocationReason(format!(
                        "reason code {code} is not allowed; use 0, 1, 3, 4 or 5 (CP 4.9.1)"
                    ))
                })?,
        };
        let serial_hex = serial_of(&req.certificate_der)?;
        let now = self.clock.now();
        let txn = self.storage.begin().await?;
        let mut cert = q::certificate(&txn, &serial_hex)
            .await?
            .filter(|c| c.der == req.certificate_der)
            .ok_or_else(|| {
                RaError::NotFound("this CA did not issue that certificate".to_string())
            })?;
        if cert.revoked_at.is_some() {
            return Err(RaError::AlreadyRevoked(
                "the certificate is already revoked".to_string(),
            ));
        }
        let (actor, reason, source) = match &req.requester {
            RevocationRequester::CertificateKey { spki_der } => {
                if hex::encode(Sha256::digest(spki_der)) != cert.key_hash {
                    return Err(RaError::Unauthorized(
                        "the request is not signed by the certificate's key".to_string(),
                    ));
                }
                // Possession of the private key proves it is in the requester's hands: key
                // compromise (CP 4.9.12).
                (Actor::System, RevocationReason::KeyCompromise, "certificate_key")
            }
            RevocationRequester::Account(account_id) if *account_id == cert.account_id => {
                (Actor::Account(account_id.clone()), reason, "subscriber")
            }
            RevocationRequester::Account(account_id) => {
                let names: Vec<String> = serde_json::from_str(&cert.names)
                    .map_err(|e| RaError::Internal(format!("stored names unreadable: {e}")))?;
                let held = q::valid_authorized_names(&txn, account_id, now).await?;
                if !names.iter().all(|n| held.contains(n)) {
                    return Err(RaError::Unauthorized(
                        "this account did not issue the certificate and does not hold valid \
                         authorizations for all its names"
                            .to_string(),
                    ));
                }
                (
                    Actor::Account(account_id.clone()),
                    RevocationReason::CessationOfOperation,
                    "authorized_account",
                )
            }
        };
        let serial_row = q::serial(&txn, &serial_hex).await?;
        cert.revoked_at = Some(now);
        cert.revocation_reason = Some(i16::from(reason.code()));
        let not_after = cert.not_after;
        q::update_certificate(&txn, cert).await?;
        // What CRL shards and OCSP responses are generated from (CP 7.2). Unspecified is
        // recorded as no reason: CRL entries then carry no reasonCode (RFC 5280 5.3.1).
        q::record_revocation(
            &txn,
            revoked_certificate::Model {
                serial: serial_hex.clone(),
                issuer_id: serial_row
                    .as_ref()
                    .and_then(|s| s.issuer_id.clone())
                    .unwrap_or_else(|| self.issuer_id.clone()),
                crl_shard: serial_row.and_then(|s| s.crl_shard).unwrap_or(0),
                revoked_at: now,
                reason: (reason != RevocationReason::Unspecified)
                    .then(|| i16::from(reason.code())),
                not_after,
                recorded_at: now,
                source: source.to_string(),
            },
        )
        .await?;
        self.audit(&txn, &actor, "certificate.revoked",
            json!({"serial": serial_hex, "reason": reason, "reason_code": reason.code(), "at": now})).await?;
        txn.commit().await.map_err(StorageError::from)?;
        tracing::info!(serial = %serial_hex, reason = ?reason, "certificate revoked");
        Ok(())
    }
}

fn serial_of(der: &[u8]) -> RaResult<String> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|_| RaError::Malformed("certificate is not valid DER".to_string()))?;
    Ok(hex::encode(cert.tbs_certificate.raw_serial()))
}
