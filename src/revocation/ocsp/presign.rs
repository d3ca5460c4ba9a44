//! The pre-signer (CP 4.9.10, RFC 5019 2.2): every `ocsp.poll_seconds` it signs, in
//! batches of `ocsp.batch_size`, first the responses behind a revocation (at once), then
//! serials newly issued (or whose precertificate was signed) that have none, then those
//! due for refresh (`schedule::refresh_at`). Responses of expired certificates are no
//! longer refreshed: their status cannot change and RFC 6960 2.2 lets responders stop.

use super::schedule::refresh_lead;
use super::{Ocsp, OcspError};
use crate::storage::queries as q;
use chrono::Duration;
use std::sync::Arc;

/// A revocation written within this window is compared with its response with
/// `SKEW_MARGIN` of slack: the row's recorded_at is taken before its transaction
/// commits, so a response signed just before the commit can carry a later producedAt.
const RECENT: Duration = Duration::seconds(120);
const SKEW_MARGIN: Duration = Duration::seconds(10);
/// How often the oldest-response gauge is recomputed (a scan of `ocsp_responses`).
const GAUGE_EVERY: Duration = Duration::seconds(60);

/// Which stored responses a pass re-signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Behind a revocation, missing, or due (the background task).
    Due,
    /// Every stored response too (`admin ocsp refresh --all`).
    All,
}

impl Ocsp {
    /// Serials whose stored response a revocation has overtaken.
    async fn behind_revocations(&self, limit: u64) -> Result<Vec<String>, OcspError> {
        let now = self.clock.now();
        let reader = self.storage.reader();
        let mut serials = q::responses_behind_revocations(reader, now, limit).await?;
        for (serial, recorded_at, produced_at) in
            q::recent_revocations_with_response(reader, now - RECENT).await?
        {
            if recorded_at + SKEW_MARGIN > produced_at && !serials.contains(&serial) {
                serials.push(serial);
            }
        }
        serials.truncate(limit as usize);
        Ok(serials)
    }

    /// One pass over everything due; returns the number of responses signed. `progress`
    /// is told each batch's size.
    pub async fn presign_pass(&self, progress: &(dyn Fn(u64) + Sync)) -> Result<usize, OcspError> {
        let limit = self.config.ocsp.batch_size as u64;
        let mut total = 0;
        loop {
            let now = self.clock.now();
            let due_by = now + refresh_lead(self.validity());
            let mut batch = self.behind_revocations(limit).await?;
            let mut full = batch.len() as u64 == limit;
            if !full {
                let lacking = q::serials_lacking_response(
                    self.storage.reader(),
                    now,
                    limit - batch.len() as u64,
                )
                .await?;
                batch.extend(lacking);
            }
            full = batch.len() as u64 == limit;
            if !full {
                let due = q::responses_due(
                    self.storage.reader(),
                    now,
                    due_by,
                    limit - batch.len() as u64,
                )
                .await?;
                batch.extend(due);
            }
            batch.sort();
            batch.dedup();
            if batch.is_empty() {
                return Ok(total);
            }
            let signed = self.sign_and_store(&batch).await?;
            total += signed;
            progress(batch.len() as u64);
            // A full batch of serials that cannot be signed (not ours after all) would
            // come back forever: stop the pass.
            if (batch.len() as u64) < limit || signed == 0 {
                return Ok(total);
            }
        }
    }

    /// `admin ocsp refresh --all`: re-sign every stored response, then whatever is due.
    pub async fn refresh_all(&self, progress: &(dyn Fn(u64) + Sync)) -> Result<usize, OcspError> {
        let limit = self.config.ocsp.batch_size as u64;
        let mut after = String::new();
        let mut total = 0;
        loop {
            let batch = q::stored_response_serials(self.storage.reader(), &after, limit).await?;
            let Some(last) = batch.last() else { break };
            after = last.clone();
            total += self.sign_and_store(&batch).await?;
            progress(batch.len() as u64);
        }
        Ok(total + self.presign_pass(progress).await?)
    }

    /// How many responses a pass of `scope` would touch at most (for a progress bar).
    pub async fn pending(&self, scope: Scope) -> Result<u64, OcspError> {
        use sea_orm::{EntityTrait, PaginatorTrait};
        let stored = crate::storage::entities::ocsp_response::Entity::find()
            .count(self.storage.reader())
            .await
            .map_err(crate::storage::StorageError::from)?;
        Ok(match scope {
            Scope::All => stored,
            Scope::Due => 0,
        })
    }

    pub(crate) async fn update_gauge(&self) -> Result<(), OcspError> {
        let oldest = q::oldest_ocsp_response(self.storage.reader(), self.clock.now()).await?;
        let age = oldest.map_or(0, |t| (self.clock.now() - t).num_seconds());
        self.metrics.ocsp_oldest_response_age_seconds.set(age);
        Ok(())
    }
}

/// Run the pre-signer, and the responder cache's sync every second, until `stopping` is
/// cancelled.
/// `revocations` changes when this process commits a revocation: the next pass starts at
/// once instead of after `ocsp.poll_seconds` (CP 4.9.10: re-signed at once on revocation).
pub fn spawn(
    ocsp: Arc<Ocsp>,
    mut revocations: tokio::sync::watch::Receiver<u64>,
    stopping: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let (for_sync, sync_stop) = (ocsp.clone(), stopping.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = sync_stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = for_sync.sync_cache().await {
                tracing::warn!(error = %e, "OCSP responder cache sync");
            }
        }
    });
    tokio::spawn(async move {
        let poll = std::time::Duration::from_secs(ocsp.config.ocsp.poll_seconds);
        let mut gauge_at = ocsp.clock.now() - GAUGE_EVERY;
        loop {
            match ocsp.presign_pass(&|_| {}).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(signed = n, "OCSP responses pre-signed"),
                Err(e) => tracing::error!(error = %e, "OCSP pre-signing failed; retrying"),
            }
            if ocsp.clock.now() - gauge_at >= GAUGE_EVERY {
                gauge_at = ocsp.clock.now();
                if let Err(e) = ocsp.update_gauge().await {
                    tracing::warn!(error = %e, "OCSP response age gauge");
                }
            }
            tokio::select! {
                _ = stopping.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
                // Err: the RA is gone (shutting down); the poll and the stop still work.
                Ok(()) = revocations.changed() => {}
            }
        }
    })
}
