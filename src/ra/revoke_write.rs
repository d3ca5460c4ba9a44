//! The one place a revocation is written (CP 4.9, 7.2.2). Every path — ACME revokeCert by
//! the subscriber, by another authorized account or by the certificate key, `hanko admin
//! revoke`, and the bad-key revoker — calls [`write_revocation`] inside its transaction, so
//! the `certificates` columns, the `revoked_certificates` row the CRL shards and OCSP
//! responses are made from, the blocking of the key, the subscriber's notice and the audit
//! event always commit together (DESIGN invariant 4).

use super::keys::block_key_in;
use super::{RaError, RaResult};
use crate::audit::{self, Actor};
use crate::core::RevocationReason;
use crate::policy::keys::key_hash;
use crate::storage::entities::{certificate, revocation_notice, revoked_certificate};
use crate::storage::queries as q;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::json;

/// Which path revoked the certificate: `revoked_certificates.source` and the audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The issuing account (RFC 8555 7.6, `kid`).
    Subscriber,
    /// Another account holding valid authorizations for every name (RFC 8555 7.6).
    AuthorizedAccount,
    /// A request signed by the certificate's own key (RFC 8555 7.6, `jwk`).
    CertificateKey,
    /// An operator (`hanko admin revoke`).
    Admin,
    /// The background job revoking every certificate of a blocked key (CP 4.9.12).
    BadKeyRevoker,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Subscriber => "subscriber",
            Source::AuthorizedAccount => "authorized_account",
            Source::CertificateKey => "certificate_key",
            Source::Admin => "admin",
            Source::BadKeyRevoker => "bad_key_revoker",
        }
    }

    /// The subscriber is owed a notice whenever someone other than the issuing account
    /// revoked its certificate (CP 4.9.12 for key compromise; CP 4.9.5 asks the CA to work
    /// with the subscriber on every other revocation it decides).
    pub fn notifies_subscriber(self) -> bool {
        self != Source::Subscriber
    }
}

/// What a path asks for.
#[derive(Debug, Clone)]
pub struct Revocation {
    /// The reason applied.
    pub reason: RevocationReason,
    /// The reason the requester asked for, when a rule replaced it (audited).
    pub requested: Option<RevocationReason>,
    /// The revocationDate asked for. `None`: now for a new revocation, and for an upgrade
    /// the existing date or now, whichever is earlier.
    pub at: Option<DateTime<Utc>>,
    pub source: Source,
    pub actor: Actor,
    /// Block the certificate's key in the same transaction (source `revocation`), so the
    /// bad-key revoker revokes every other certificate with it (CP 4.9.12).
    pub block_key: bool,
}

/// The change [`plan`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A certificate not revoked before, revoked from `at`.
    Revoke { at: DateTime<Utc> },
    /// An existing revocation upgraded to keyCompromise from `at` (never later than before).
    Upgrade { at: DateTime<Utc> },
}

impl Change {
    pub fn at(self) -> DateTime<Utc> {
        match self {
            Change::Revoke { at } | Change::Upgrade { at } => at,
        }
    }
}

/// The revocation rules, pure:
/// - a new revocation happens now, or on a future date (CP 4.9.5: "revoke on the specified
///   date"); only keyCompromise may be backdated (CP 7.2.2: the date the key was first
///   compromised), and never to before the certificate's notBefore;
/// - an existing revocation may only be upgraded to keyCompromise (CP 7.2.2: later evidence
///   of compromise), its date kept or moved earlier, never later, so no relying party ever
///   sees a certificate that was revoked become valid again; anything else is refused.
pub fn plan(
    existing: Option<(DateTime<Utc>, Option<i16>)>,
    reason: RevocationReason,
    at: Option<DateTime<Utc>>,
    not_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RaResult<Change> {
    let compromise = reason == RevocationReason::KeyCompromise;
    let change = match existing {
        None => {
            let at = at.unwrap_or(now);
            if at < now && !compromise {
                return Err(RaError::Malformed(format!(
                    "revocation date {at} is in the past: only a keyCompromise revocation \
                     may be backdated (CP 7.2.2); omit the date to revoke now, or give a \
                     future date (CP 4.9.5)"
                )));
            }
            Change::Revoke { at }
        }
        Some((old_at, old_reason)) => {
            let old = describe(old_reason);
            if !compromise {
                return Err(RaError::AlreadyRevoked(format!(
                    "the certificate is already revoked ({old}, from {old_at}); an existing \
                     revocation may only be upgraded to keyCompromise (CP 7.2.2)"
                )));
            }
            let at = match at {
                None => old_at.min(now),
                Some(t) if t > old_at => {
                    return Err(RaError::AlreadyRevoked(format!(
                        "the certificate is already revoked ({old}, from {old_at}); an \
                         upgrade may only move the revocation date earlier, not to {t}"
                    )))
                }
                Some(t) => t,
            };
            if old_reason == Some(1) && at >= old_at {
                return Err(RaError::AlreadyRevoked(format!(
                    "the certificate is already revoked for keyCompromise from {old_at}"
                )));
            }
            Change::Upgrade { at }
        }
    };
    if change.at() < not_before {
        return Err(RaError::Malformed(format!(
            "revocation date {} is before the certificate's notBefore {not_before}",
            change.at()
        )));
    }
    Ok(change)
}

/// The reason as stored: unspecified is NULL, so neither a CRL entry nor an OCSP response
/// carries a reasonCode (CP 7.2.2, RFC 5280 5.3.1).
pub fn stored_reason(reason: RevocationReason) -> Option<i16> {
    (reason != RevocationReason::Unspecified).then(|| i16::from(reason.code()))
}

fn describe(stored: Option<i16>) -> String {
    match stored
        .and_then(|c| u8::try_from(c).ok())
        .and_then(RevocationReason::from_code)
    {
        Some(r) => serde_json::to_value(r)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{r:?}")),
        None if stored.is_none() => "unspecified".to_string(),
        None => format!("reason code {stored:?}"),
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub serial: String,
    pub change: Change,
    pub reason: RevocationReason,
    /// The revocation before an upgrade: (date, stored reason).
    pub previous: Option<(DateTime<Utc>, Option<i16>)>,
    /// The key was blocked by this call (false when it was blocked before, or not asked).
    pub key_blocked: bool,
}

/// Write `rev` for `cert` (read inside `txn`) — see the module comment. The update is
/// conditional on the revocation state read, so of two racing writers one wins and the
/// other gets `AlreadyRevoked`.
pub async fn write_revocation<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    cert: &certificate::Model,
    rev: &Revocation,
) -> RaResult<Written> {
    let previous = cert.revoked_at.map(|at| (at, cert.revocation_reason));
    let change = plan(previous, rev.reason, rev.at, cert.not_before, now)?;
    let reason = stored_reason(rev.reason);
    let changed = match (change, previous) {
        (Change::Upgrade { at }, Some(old)) => {
            q::change_revocation_if_unchanged(txn, &cert.serial, old, (at, reason)).await?
        }
        _ => q::revoke_certificate_if_unrevoked(txn, &cert.serial, change.at(), reason).await?,
    };
    if !changed {
        return Err(RaError::AlreadyRevoked(
            "the certificate's revocation was changed concurrently".to_string(),
        ));
    }
    record(txn, now, cert, change.at(), reason, rev.source).await?;
    let key_blocked = if rev.block_key {
        let spki = certificate_spki(&cert.der)?;
        let why = format!("certificate {} revoked for keyCompromise", cert.serial);
        block_key_in(txn, now, &spki, "revocation", &why, &rev.actor).await?
    } else {
        false
    };
    let notice = rev.source.notifies_subscriber();
    if notice {
        q::insert_revocation_notice(
            txn,
            revocation_notice::Model {
                id: crate::core::random_id(),
                serial: cert.serial.clone(),
                account_id: cert.account_id.clone(),
                reason: i16::from(rev.reason.code()),
                created_at: now,
                sent_at: None,
            },
        )
        .await?;
    }
    let event = match change {
        Change::Revoke { .. } => "certificate.revoked",
        Change::Upgrade { .. } => "certificate.revocation_upgraded",
    };
    let details = json!({
        "serial": cert.serial, "account": cert.account_id,
        "reason": rev.reason, "reason_code": rev.reason.code(),
        "revoked_at": change.at(), "source": rev.source.as_str(),
        "requested_reason": rev.requested,
        "previous_reason": previous.map(|(_, r)| describe(r)),
        "previous_revoked_at": previous.map(|(at, _)| at),
        "key_blocked": key_blocked, "subscriber_notice": notice,
    });
    audit::append(txn, now, &rev.actor, event, details).await?;
    tracing::info!(serial = %cert.serial, reason = ?rev.reason, source = rev.source.as_str(),
                   at = %change.at(), event, "certificate revocation written");
    Ok(Written {
        serial: cert.serial.clone(),
        change,
        reason: rev.reason,
        previous,
        key_blocked,
    })
}

/// The `revoked_certificates` row (the CRL/OCSP contract): shard and issuer from the
/// `serials` row; `recorded_at` = now so the CRL and OCSP generators see the change.
async fn record<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    cert: &certificate::Model,
    at: DateTime<Utc>,
    reason: Option<i16>,
    source: Source,
) -> RaResult<()> {
    let serial_row = q::serial(txn, &cert.serial).await?;
    let issuer_id = match serial_row.as_ref().and_then(|s| s.issuer_id.clone()) {
        Some(id) => id,
        // Issued before serials recorded their issuer: the issuer is the second
        // certificate of the stored chain.
        None => chain_issuer_id(&cert.chain_pem)?,
    };
    q::record_revocation(
        txn,
        revoked_certificate::Model {
            serial: cert.serial.clone(),
            issuer_id,
            crl_shard: serial_row.and_then(|s| s.crl_shard).unwrap_or(0),
            revoked_at: at,
            reason,
            not_after: cert.not_after,
            recorded_at: now,
            source: source.as_str().to_string(),
        },
    )
    .await?;
    Ok(())
}

/// The DER SubjectPublicKeyInfo of a certificate.
pub fn certificate_spki(der: &[u8]) -> RaResult<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|_| RaError::Malformed("certificate is not valid DER".to_string()))?;
    Ok(cert.tbs_certificate.subject_pki.raw.to_vec())
}

/// `issuance::issuer_id` of the certificate that issued the leaf of `chain_pem`.
fn chain_issuer_id(chain_pem: &str) -> RaResult<String> {
    let issuer = x509_parser::pem::Pem::iter_from_buffer(chain_pem.as_bytes())
        .nth(1)
        .and_then(Result::ok)
        .ok_or_else(|| RaError::Internal("stored chain has no issuer certificate".into()))?;
    Ok(key_hash(&certificate_spki(&issuer.contents)?))
}

#[cfg(test)]
#[path = "revoke_write_tests.rs"]
mod tests;
