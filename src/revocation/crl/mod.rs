//! Sharded CRLs (CP 4.9.7, 7.2; RFC 5280 5; BR 7.2): each issuer's revocations are split into
//! `crl.shards` CRLs, one per CRLDP URL. A shard is generated under a lease held in its
//! `crl_shards` row, numbered stored + 1 and stored only if the lease and the number are
//! still ours, so numbers only grow across restarts and across processes sharing the
//! database. See docs/CRLS.md.

pub mod encode;
pub mod http;
pub mod publisher;
pub mod schedule;

use crate::audit::Actor;
use crate::config::Config;
use crate::core::{Clock, Serial};
use crate::issuance::{crl_shard_url, Issuer};
use crate::storage::queries as q;
use crate::storage::{Storage, StorageError};
use chrono::{DateTime, Duration, DurationRound, Utc};
use encode::{certificate_list, CrlBuilder, CrlIssuer};
use schedule::Due;
use std::path::PathBuf;
use std::sync::Arc;

/// Entries read per database round trip while a shard is encoded.
const PAGE_SIZE: u64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    #[error("CRL issuer: {0}")]
    Issuer(String),
    #[error("CRL encoding: {0}")]
    Encoding(String),
    #[error("signing a CRL: {0}")]
    Signing(String),
    #[error("CRL storage: {0}")]
    Storage(#[from] StorageError),
    #[error("CRL publication directory: {0}")]
    Publish(String),
}

/// A CRL just signed and stored.
#[derive(Debug, Clone)]
pub struct SignedShard {
    pub shard: u32,
    pub crl_number: i64,
    pub entries: u64,
    pub this_update: DateTime<Utc>,
    pub der_len: usize,
}

/// What generating one shard came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Signed(SignedShard),
    /// Another process holds the shard's lease, or signed it meanwhile.
    Busy,
    /// Not due (the publisher re-checks after taking the lease).
    NotDue,
}

/// Everything needed to sign one issuer's shards.
pub struct CrlSigner {
    storage: Storage,
    issuer: CrlIssuer,
    signer: Arc<dyn crate::issuance::signer::Signer>,
    issuer_id: String,
    crl_base_url: String,
    config: crate::config::CrlConfig,
    publish_dir: PathBuf,
    /// This process's name in leases: random per process.
    holder: String,
    clock: Arc<dyn Clock>,
    /// Who the `crl.signed` audit events name: the system, or the operator of
    /// `hanko admin crl regenerate`.
    actor: Actor,
}

impl CrlSigner {
    pub fn new(
        storage: Storage,
        config: &Config,
        issuer: &Issuer,
        clock: Arc<dyn Clock>,
    ) -> Result<CrlSigner, CrlError> {
        let crl_issuer = CrlIssuer::from_certificate(&issuer.certificate_der, &*issuer.signer)?;
        let publish_dir = config
            .crl
            .publish_dir
            .clone()
            .unwrap_or_else(|| config.storage.data_dir.join("crl"));
        Ok(CrlSigner {
            storage,
            issuer: crl_issuer,
            signer: issuer.signer.clone(),
            issuer_id: crate::issuance::issuer_id(issuer),
            crl_base_url: config.ca.crl_base_url.clone(),
            config: config.crl.clone(),
            publish_dir,
            holder: format!("{}:{}", std::process::id(), crate::core::random_id()),
            clock,
            actor: Actor::System,
        })
    }

    pub fn with_actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    pub fn issuer_id(&self) -> &str {
        &self.issuer_id
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn publish_dir(&self) -> &std::path::Path {
        &self.publish_dir
    }

    pub fn schedule_config(&self) -> schedule::ScheduleConfig {
        schedule::ScheduleConfig {
            max_age_hours: self.config.max_age_hours,
            publish_delay_seconds: self.config.publish_delay_seconds,
            poll_seconds: self.config.poll_seconds,
        }
    }

    /// Shards `0..crl.shards` plus every shard already stored for this issuer: a URL once
    /// in a certificate's CRLDP stays served after `crl.shards` shrinks.
    pub async fn shard_list(&self) -> Result<Vec<u32>, CrlError> {
        let stored = q::crl_shard_states(self.storage.reader(), &self.issuer_id).await?;
        let mut shards: Vec<u32> = (0..self.config.shards).collect();
        shards.extend(stored.iter().filter_map(|s| u32::try_from(s.shard).ok()));
        shards.sort_unstable();
        shards.dedup();
        Ok(shards)
    }

    /// Why `shard` is due now, from its stored state and pending revocations.
    pub async fn due(
        &self,
        state: Option<&q::CrlShardState>,
        now: DateTime<Utc>,
    ) -> Result<Option<Due>, CrlError> {
        let this_update = state.and_then(|s| s.this_update);
        let pending = match (state, this_update) {
            (Some(s), Some(t)) => self.pending_since(s.shard, t, now).await?,
            _ => None,
        };
        Ok(schedule::due(
            now,
            this_update,
            pending,
            &self.schedule_config(),
        ))
    }

    /// When the earliest change not yet on the shard's CRL (cut at `this_update`) became
    /// visible: a row recorded (or dated) after thisUpdate; or — once, `COMMIT_SKEW_SECONDS`
    /// after thisUpdate — a row recorded shortly before it, whose transaction may have
    /// committed after the CRL's read. Waiting out the skew before that second look means
    /// the next CRL certainly contains such a row, so it causes one extra signing, not one
    /// per poll.
    async fn pending_since(
        &self,
        shard: i32,
        this_update: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, CrlError> {
        let reader = self.storage.reader();
        let fresh = q::crl_pending_since(reader, &self.issuer_id, shard, this_update, now).await?;
        if fresh.is_some() {
            return Ok(fresh);
        }
        let settled = this_update + chrono::Duration::seconds(schedule::COMMIT_SKEW_SECONDS);
        if now < settled {
            return Ok(None);
        }
        let late = q::crl_pending_since(
            reader,
            &self.issuer_id,
            shard,
            schedule::pending_cutoff(this_update),
            this_update,
        )
        .await?;
        Ok(late.map(|_| settled))
    }

    /// Generate `shard` under its lease if it is due (always when `force`).
    pub async fn generate(&self, shard: u32, force: bool) -> Result<Outcome, CrlError> {
        let shard_i = i32::try_from(shard)
            .map_err(|_| CrlError::Encoding(format!("shard {shard} out of range")))?;
        let now = self.clock.now();
        {
            let txn = self.storage.begin().await?;
            q::ensure_crl_shard(&txn, &self.issuer_id, shard_i, now).await?;
            let lease = now + Duration::seconds(self.config.lease_seconds as i64);
            let taken =
                q::take_crl_lease(&txn, &self.issuer_id, shard_i, &self.holder, now, lease).await?;
            txn.commit().await.map_err(StorageError::from)?;
            if !taken {
                return Ok(Outcome::Busy);
            }
        }
        let result = self.generate_leased(shard, shard_i, force).await;
        // Give the lease back whatever happened; an error here only delays the next
        // generation until the lease expires.
        let released = async {
            let txn = self.storage.begin().await?;
            q::release_crl_lease(&txn, &self.issuer_id, shard_i, &self.holder).await?;
            txn.commit().await.map_err(StorageError::from)
        }
        .await;
        if let Err(e) = released {
            tracing::warn!(shard, error = %e, "releasing a CRL lease failed");
        }
        result
    }

    async fn generate_leased(
        &self,
        shard: u32,
        shard_i: i32,
        force: bool,
    ) -> Result<Outcome, CrlError> {
        let started = std::time::Instant::now();
        // Read the state under the lease: another process may have signed it since the
        // caller looked.
        let state = q::crl_shard_state(self.storage.reader(), &self.issuer_id, shard_i).await?;
        let now = self.clock.now();
        let why = if force {
            Some(Due::Forced)
        } else {
            self.due(state.as_ref(), now).await?
        };
        let Some(why) = why else {
            return Ok(Outcome::NotDue);
        };
        let previous = state.map(|s| s.crl_number).unwrap_or(0);
        // thisUpdate in whole seconds: what the CRL says is what the entries are cut at.
        let this_update = now.duration_trunc(Duration::seconds(1)).unwrap_or(now);
        let next_update = this_update + Duration::hours(i64::from(self.config.lifetime_hours));
        let number = previous + 1;
        let builder = self.read_entries(shard_i, this_update).await?;
        let entries = builder.entries();
        let url = crl_shard_url(&self.crl_base_url, shard);
        let tbs = builder.tbs(&self.issuer, this_update, next_update, number, &url)?;
        drop(builder);
        let der = self.sign(tbs).await?;
        let der_len = der.len();
        if !self
            .store(
                shard_i,
                number,
                this_update,
                next_update,
                der.clone(),
                entries,
            )
            .await?
        {
            return Ok(Outcome::Busy);
        }
        // Still under the lease: no other process writes this file meanwhile.
        if let Err(e) = write_atomically(&self.publish_dir, shard, &der) {
            tracing::error!(shard, error = %e, "writing the CRL to the publication directory");
        }
        tracing::info!(
            shard,
            crl_number = number,
            entries,
            bytes = der_len,
            reason = why.as_str(),
            ms = started.elapsed().as_millis() as u64,
            "CRL signed"
        );
        Ok(Outcome::Signed(SignedShard {
            shard,
            crl_number: number,
            entries,
            this_update,
            der_len,
        }))
    }

    /// Stream the shard's entries into a builder, one page at a time.
    async fn read_entries(
        &self,
        shard_i: i32,
        this_update: DateTime<Utc>,
    ) -> Result<CrlBuilder, CrlError> {
        let mut builder = CrlBuilder::new();
        let mut after: Option<String> = None;
        loop {
            let page = q::crl_entries_page(
                self.storage.reader(),
                &self.issuer_id,
                shard_i,
                this_update,
                after.as_deref(),
                PAGE_SIZE,
            )
            .await?;
            let full = page.len() as u64 == PAGE_SIZE;
            for (serial_hex, revoked_at, reason) in &page {
                let serial = Serial::from_hex(serial_hex).ok_or_else(|| {
                    CrlError::Encoding(format!("stored serial {serial_hex:?} is not valid"))
                })?;
                let reason = reason
                    .and_then(|r| u8::try_from(r).ok())
                    .filter(|r| *r != 0);
                builder.push(serial.as_bytes(), *revoked_at, reason)?;
            }
            if !full {
                return Ok(builder);
            }
            after = page.last().map(|(s, _, _)| s.clone());
        }
    }

    /// Sign off the async workers: an HSM signature blocks.
    async fn sign(&self, tbs: Vec<u8>) -> Result<Vec<u8>, CrlError> {
        let signer = self.signer.clone();
        let issuer = self.issuer.clone();
        tokio::task::spawn_blocking(move || {
            let signature = signer
                .sign(&tbs)
                .map_err(|e| CrlError::Signing(e.to_string()))?;
            Ok(certificate_list(&tbs, &issuer, &signature))
        })
        .await
        .map_err(|e| CrlError::Signing(format!("signing task: {e}")))?
    }

    /// The CRL row and its `crl.signed` audit event, in one transaction, only if the lease
    /// and the number are still ours.
    async fn store(
        &self,
        shard_i: i32,
        number: i64,
        this_update: DateTime<Utc>,
        next_update: DateTime<Utc>,
        der: Vec<u8>,
        entries: u64,
    ) -> Result<bool, CrlError> {
        let now = self.clock.now();
        let txn = self.storage.begin().await?;
        let row = q::SignedCrlRow {
            issuer_id: &self.issuer_id,
            shard: shard_i,
            crl_number: number,
            this_update,
            next_update,
            der,
            entries: entries as i64,
        };
        if !q::store_signed_crl(&txn, row, &self.holder, now).await? {
            tracing::warn!(
                shard = shard_i,
                crl_number = number,
                "CRL discarded: lease lost or number taken meanwhile"
            );
            return Ok(false);
        }
        let details = serde_json::json!({
            "issuer_id": self.issuer_id, "shard": shard_i, "crl_number": number,
            "entries": entries, "this_update": this_update,
        });
        crate::audit::append(&txn, now, &self.actor, "crl.signed", details).await?;
        txn.commit().await.map_err(StorageError::from)?;
        Ok(true)
    }

    /// Regenerate `shards` now (`hanko admin crl regenerate`, the benchmark): same leases and
    /// numbers as the publisher. `progress` is called after each shard.
    pub async fn regenerate(
        &self,
        shards: &[u32],
        mut progress: impl FnMut(&Outcome),
    ) -> Result<Vec<Outcome>, CrlError> {
        let mut outcomes = Vec::with_capacity(shards.len());
        // A publisher may hold a shard for a moment: wait for it, up to one lease.
        let patience = std::time::Duration::from_secs(self.config.lease_seconds + 5);
        for shard in shards {
            let started = std::time::Instant::now();
            let outcome = loop {
                let outcome = self.generate(*shard, true).await?;
                if !matches!(outcome, Outcome::Busy) || started.elapsed() > patience {
                    break outcome;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            };
            progress(&outcome);
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

/// Write `<dir>/<shard>.crl` through a temporary file and a rename, so a sync to a CDN never
/// picks up half a CRL.
pub fn write_atomically(dir: &std::path::Path, shard: u32, der: &[u8]) -> Result<(), CrlError> {
    use std::io::Write;
    let err = |e: std::io::Error| CrlError::Publish(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(err)?;
    let final_path = dir.join(format!("{shard}.crl"));
    let tmp = dir.join(format!(".{shard}.crl.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(der).map_err(err)?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, &final_path).map_err(err)
}

#[cfg(test)]
mod tests;
