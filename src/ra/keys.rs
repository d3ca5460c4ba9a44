//! Blocked keys (REQUIREMENTS §6, CP 4.9.12): a key reported compromised is refused for any
//! use, as an account key (newAccount, keyChange; RFC 8555 6.7 `badPublicKey`) and as the
//! key of a certificate (finalize; `badCSR`). Keys are identified by the SHA-256 of their
//! canonical DER SubjectPublicKeyInfo (`policy::keys::key_hash`), so one key has one
//! entry however it was encoded when it was reported or presented.

use super::{Ra, RaError, RaResult};
use crate::audit::{self, Actor};
use crate::policy::keys::{canonical_spki, key_hash};
use crate::storage::entities::blocked_key;
use crate::storage::queries as q;
use crate::storage::{Storage, StorageError};
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

/// What the subscriber is told; the same words for both refusals.
const BLOCKED: &str = "this key is blocked: it was reported compromised";

impl Ra {
    /// Refuse a blocked account key: `badPublicKey` (RFC 8555 6.7).
    pub async fn ensure_key_not_blocked(&self, spki_der: &[u8]) -> RaResult<()> {
        if self.is_key_blocked(spki_der).await? {
            return Err(RaError::BadPublicKey(BLOCKED.to_string()));
        }
        Ok(())
    }

    /// Refuse a blocked key in a CSR at finalize: `badCSR` (RFC 8555 7.4).
    pub(crate) async fn ensure_csr_key_not_blocked(&self, spki_der: &[u8]) -> RaResult<()> {
        if self.is_key_blocked(spki_der).await? {
            return Err(RaError::BadCsr(format!(
                "CSR public key refused: {BLOCKED}"
            )));
        }
        Ok(())
    }

    async fn is_key_blocked(&self, spki_der: &[u8]) -> RaResult<bool> {
        let hash = key_hash(spki_der);
        Ok(q::blocked_key(self.storage.reader(), &hash)
            .await?
            .is_some())
    }

    /// Block a key (see [`block_key`]); `true` when it was not blocked before.
    pub async fn block_key(
        &self,
        spki_der: &[u8],
        source: &str,
        reason: &str,
        actor: &Actor,
    ) -> RaResult<bool> {
        block_key(
            &self.storage,
            self.clock.now(),
            spki_der,
            source,
            reason,
            actor,
        )
        .await
    }
}

/// Add a key to the blocked list with its audit event `key.blocked` in one transaction
/// (DESIGN invariant 4). Idempotent: blocking an already-blocked key changes nothing, writes
/// no event and answers `false`. Needs only storage, so operator commands call it without
/// a running RA.
pub async fn block_key(
    storage: &Storage,
    now: DateTime<Utc>,
    spki_der: &[u8],
    source: &str,
    reason: &str,
    actor: &Actor,
) -> RaResult<bool> {
    let txn = storage.begin().await?;
    let inserted = block_key_in(&txn, now, spki_der, source, reason, actor).await?;
    txn.commit().await.map_err(StorageError::from)?;
    Ok(inserted)
}

/// [`block_key`] inside the caller's transaction, so a revocation by the certificate key
/// and the blocking of that key commit together (CP 4.9.12).
pub async fn block_key_in<C: sea_orm::ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    spki_der: &[u8],
    source: &str,
    reason: &str,
    actor: &Actor,
) -> RaResult<bool> {
    let canonical = canonical_spki(spki_der).map_err(|e| RaError::Malformed(e.detail))?;
    let hash = hex::encode(Sha256::digest(&canonical));
    let inserted = q::insert_blocked_key(
        txn,
        blocked_key::Model {
            key_hash: hash.clone(),
            spki_der: canonical,
            source: source.to_string(),
            reason: reason.to_string(),
            created_at: now,
            revoked_through: None,
        },
    )
    .await?;
    if inserted {
        audit::append(
            txn,
            now,
            actor,
            "key.blocked",
            json!({"key_sha256": hash, "source": source, "reason": reason}),
        )
        .await?;
        tracing::info!(key_sha256 = %hash, source, "key blocked");
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::EncodePublicKey;

    async fn storage() -> (Storage, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let storage = Storage::connect(&url, 2).await.expect("connect");
        storage.migrate().await.expect("migrate");
        (storage, dir)
    }

    fn p256_spki() -> Vec<u8> {
        p256::SecretKey::random(&mut rand::rngs::OsRng)
            .public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec()
    }

    #[tokio::test]
    async fn block_is_idempotent_and_audited_once() {
        let (s, _dir) = storage().await;
        let spki = p256_spki();
        let actor = Actor::Operator("test".into());
        let now = Utc::now();
        assert!(block_key(&s, now, &spki, "admin", "leaked", &actor)
            .await
            .expect("block"));
        assert!(!block_key(&s, now, &spki, "admin", "again", &actor)
            .await
            .expect("block again"));
        let row = q::blocked_key(s.reader(), &key_hash(&spki))
            .await
            .expect("q")
            .expect("row");
        assert_eq!((row.reason.as_str(), row.spki_der), ("leaked", spki));
        assert_eq!(
            audit::verify_chain(s.reader()).await.expect("db"),
            Ok(1),
            "one event for the one change"
        );
        assert!(block_key(&s, now, b"junk", "admin", "x", &actor)
            .await
            .is_err());
    }
}
