//! The bad-key revoker (CP 4.9.12, 4.9.1 item 3; REQUIREMENTS §10). When a key is blocked —
//! by a revocation signed with it, by an operator's keyCompromise revocation, or by
//! `hanko admin block-key` — every unexpired certificate with that public key is revoked
//! for keyCompromise, and its subscriber is owed a notice. `hanko serve` runs it in the
//! background; it polls `blocked_keys` for rows without `revoked_through`.
//!
//! Several processes may run it at once: each certificate is changed by a conditional
//! update inside `ra::revoke_write::write_revocation`, so it is revoked (and audited, and
//! noticed) exactly once, and a process that loses the race skips it.
//!
//! Certificates already revoked for another reason are upgraded to keyCompromise, keeping
//! their earlier date (CP 7.2.2: "later evidence" of compromise updates the reason; the
//! CA SHOULD update the date when the key was compromised before it, and a known-compromised
//! key is never shown as good for longer than before). A revocation scheduled for a future
//! date is brought forward to now.
//!
//! The notices are rows in `revocation_notices`: there is no mailer yet, so they wait there
//! (`sent_at` NULL) for the one that will send them.

use crate::config::RevocationConfig;
use crate::core::{Clock, RevocationReason};
use crate::ra::revoke_write::{write_revocation, Revocation, Source};
use crate::ra::{RaError, RaResult};
use crate::storage::entities::blocked_key;
use crate::storage::queries as q;
use crate::storage::{Storage, StorageError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Keys handled per poll; the rest wait for the next one.
const KEYS_PER_POLL: u64 = 50;

pub struct BadKeyRevoker {
    storage: Storage,
    clock: Arc<dyn Clock>,
    batch: u64,
    settle: chrono::Duration,
}

/// Start the revoker: one pass at once, then one every `bad_key_poll_seconds`, until `stop`.
pub fn spawn(
    storage: Storage,
    clock: Arc<dyn Clock>,
    config: &RevocationConfig,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let revoker = BadKeyRevoker::new(storage, clock, config);
    let poll = Duration::from_secs(config.bad_key_poll_seconds.max(1));
    tokio::spawn(async move {
        loop {
            match revoker.run_once().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(revoked = n, "bad-key revoker: certificates revoked"),
                Err(e) => tracing::warn!(error = %e, "bad-key revoker pass failed; retrying"),
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    })
}

/// Whether a key's sweep may be marked done: once the settle time since it was blocked has
/// passed, no issuance that started before the block can still be running.
pub fn sweep_complete(
    blocked_at: DateTime<Utc>,
    now: DateTime<Utc>,
    settle: chrono::Duration,
) -> bool {
    now >= blocked_at + settle
}

impl BadKeyRevoker {
    pub fn new(storage: Storage, clock: Arc<dyn Clock>, config: &RevocationConfig) -> Self {
        let settle_seconds = i64::try_from(config.bad_key_settle_seconds).unwrap_or(i64::MAX);
        BadKeyRevoker {
            storage,
            clock,
            batch: config.bad_key_batch_size.max(1),
            settle: chrono::Duration::try_seconds(settle_seconds)
                .unwrap_or(chrono::Duration::days(1)),
        }
    }

    /// One pass over the pending blocked keys: the number of certificates revoked.
    pub async fn run_once(&self) -> RaResult<usize> {
        let keys = q::blocked_keys_pending(self.storage.reader(), KEYS_PER_POLL).await?;
        let mut revoked = 0;
        for key in &keys {
            revoked += self.sweep_key(key).await?;
        }
        Ok(revoked)
    }

    /// Revoke every unexpired certificate with this key not yet revoked for keyCompromise,
    /// page by page; then, once settled, record `revoked_through`.
    async fn sweep_key(&self, key: &blocked_key::Model) -> RaResult<usize> {
        let started = self.clock.now();
        let mut after = String::new();
        let mut revoked = 0;
        loop {
            let page = q::certificates_to_revoke_for_key(
                self.storage.reader(),
                &key.key_hash,
                started,
                &after,
                self.batch,
            )
            .await?;
            for cert in &page {
                if self.revoke_one(&cert.serial, &key.key_hash).await? {
                    revoked += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() as u64 == self.batch => after = last.serial.clone(),
                _ => break,
            }
        }
        if sweep_complete(key.created_at, started, self.settle) {
            let txn = self.storage.begin().await?;
            q::mark_key_revoked_through(&txn, &key.key_hash, started).await?;
            txn.commit().await.map_err(StorageError::from)?;
            tracing::info!(key_sha256 = %key.key_hash, "bad-key revoker: key done");
        }
        Ok(revoked)
    }

    /// Revoke one certificate in its own transaction: `true` when this process did it.
    async fn revoke_one(&self, serial: &str, key_hash: &str) -> RaResult<bool> {
        let now = self.clock.now();
        let txn = self.storage.begin().await?;
        // Re-read inside the transaction: the page may be stale.
        let Some(cert) = q::certificate(&txn, serial).await? else {
            return Ok(false);
        };
        if cert.key_hash != key_hash || cert.not_after <= now {
            return Ok(false);
        }
        let rev = Revocation {
            reason: RevocationReason::KeyCompromise,
            requested: None,
            at: None,
            source: Source::BadKeyRevoker,
            actor: crate::audit::Actor::System,
            block_key: false,
        };
        match write_revocation(&txn, now, &cert, &rev).await {
            Ok(_) => {
                txn.commit().await.map_err(StorageError::from)?;
                Ok(true)
            }
            // Another process (or the request itself) got there first.
            Err(RaError::AlreadyRevoked(_)) => Ok(false),
            Err(RaError::Malformed(why)) => {
                tracing::warn!(serial, why, "bad-key revoker: certificate skipped");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
#[path = "bad_key_tests.rs"]
mod tests;
