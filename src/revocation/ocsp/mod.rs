//! The OCSP responder and pre-signer (RFC 6960, RFC 5019; CP 4.9.9, 4.9.10, 7.3).
//! Responses are signed ahead of time by a background task of `hanko serve` (`presign`),
//! stored in `ocsp_responses` and served from there (`http`); a request for an issued
//! serial without a stored response is signed on demand and stored.
//! Never `good` for a serial the CA did not issue: those get `unauthorized`.

pub mod asn1;
pub mod cache;
pub mod http;
pub mod presign;
pub mod request;
pub mod responder;
pub mod response;
pub mod schedule;
#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::core::{Clock, Serial};
use crate::issuance::Issuer;
use crate::metrics::Metrics;
use crate::storage::entities::ocsp_response;
use crate::storage::queries as q;
use crate::storage::{Storage, StorageError};
use request::IssuerHashes;
use response::{CertStatus, SignedResponse};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    #[error("OCSP encoding: {0}")]
    Encoding(String),
    #[error("OCSP signing: {0}")]
    Signing(#[from] crate::issuance::signer::SignerError),
    #[error("OCSP responder certificate: {0}")]
    Responder(String),
    #[error("OCSP storage: {0}")]
    Storage(#[from] StorageError),
    #[error("OCSP signing task: {0}")]
    Task(String),
}

/// Requests for unused serials are logged at most this often (per process): a flood of
/// them is counted in full by the metric, not written line by line to the disk.
const UNKNOWN_LOG_INTERVAL_SECONDS: i64 = 10;
/// Concurrent on-demand signings; beyond this a request gets `tryLater`.
const ON_DEMAND_SIGNINGS: usize = 8;

/// Everything the responder, the pre-signer and `admin ocsp refresh` share.
pub struct Ocsp {
    storage: Storage,
    config: Arc<Config>,
    issuer: Issuer,
    issuer_id: String,
    hashes: IssuerHashes,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    responders: responder::Responders,
    cache: cache::ResponseCache,
    on_demand: tokio::sync::Semaphore,
    /// Unix second of the last "unknown serial" log line, and lines suppressed since.
    unknown_logged_at: AtomicI64,
    unknown_suppressed: AtomicI64,
}

impl Ocsp {
    pub fn new(
        storage: Storage,
        config: Arc<Config>,
        issuer: Issuer,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Ocsp>, OcspError> {
        let hashes = IssuerHashes::from_certificate_der(&issuer.certificate_der)
            .map_err(OcspError::Encoding)?;
        let capacity = config.ocsp.cache_entries;
        Ok(Arc::new(Ocsp {
            issuer_id: crate::issuance::issuer_id(&issuer),
            storage,
            config,
            issuer,
            hashes,
            clock,
            metrics,
            responders: responder::Responders::default(),
            cache: cache::ResponseCache::new(capacity),
            on_demand: tokio::sync::Semaphore::new(ON_DEMAND_SIGNINGS),
            unknown_logged_at: AtomicI64::new(0),
            unknown_suppressed: AtomicI64::new(0),
        }))
    }

    pub fn issuer_hashes(&self) -> &IssuerHashes {
        &self.hashes
    }

    fn validity(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.config.ocsp.validity_hours))
    }

    /// The status to sign for `serial_hex`; None when the CA never issued it (CP 4.9.9:
    /// never `good`). A future-dated revocation is `good` until its date (CP 4.9.5).
    pub async fn status_of(&self, serial_hex: &str) -> Result<Option<CertStatus>, OcspError> {
        let subject = q::ocsp_subject(self.storage.reader(), serial_hex).await?;
        if !subject.issued {
            return Ok(None);
        }
        let now = self.clock.now();
        Ok(Some(match subject.revocation {
            Some(r) if r.revoked_at <= now => CertStatus::Revoked {
                at: r.revoked_at,
                reason: r.reason,
            },
            _ => CertStatus::Good,
        }))
    }

    /// Sign fresh responses for `serials` and store them; serials the CA did not issue
    /// are skipped. Returns how many were stored.
    pub async fn sign_and_store(&self, serials: &[String]) -> Result<usize, OcspError> {
        let signer = self.responders.current(self).await?;
        let mut work = Vec::with_capacity(serials.len());
        for hex in serials {
            let (Some(serial), Some(status)) = (Serial::from_hex(hex), self.status_of(hex).await?)
            else {
                continue;
            };
            work.push((hex.clone(), serial, status));
        }
        let hashes = self.hashes.clone();
        let now = self.clock.now();
        let validity = self.validity();
        let for_task = signer.clone();
        // Signing blocks (the HSM): one blocking task per batch.
        let signed = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|(hex, serial, status)| {
                    response::sign(&for_task, &hashes, &serial, status, now, validity)
                        .map(|r| (hex, r))
                })
                .collect::<Result<Vec<_>, OcspError>>()
        })
        .await
        .map_err(|e| OcspError::Task(e.to_string()))??;
        let count = signed.len();
        let models: Vec<_> = signed
            .into_iter()
            .map(|(hex, r)| Arc::new(stored_model(hex, &r, &signer.id)))
            .collect();
        let txn = self.storage.begin().await?;
        for m in &models {
            q::store_ocsp_response(&txn, (**m).clone()).await?;
        }
        txn.commit().await.map_err(StorageError::from)?;
        // After the commit: the responder of this process serves the new bytes at once.
        for m in models {
            self.cache.put(m);
        }
        Ok(count)
    }

    /// A request for an issued serial with no usable stored response: sign it now and
    /// store it, at most `ON_DEMAND_SIGNINGS` at a time. None when it is not ours to
    /// answer; `TryLater` when too many are being signed.
    async fn sign_on_demand(
        &self,
        serial_hex: &str,
    ) -> Result<Option<Arc<ocsp_response::Model>>, OnDemand> {
        if self.status_of(serial_hex).await?.is_none() {
            return Ok(None);
        }
        let _permit = self.on_demand.try_acquire().map_err(|_| OnDemand::Busy)?;
        self.sign_and_store(&[serial_hex.to_string()]).await?;
        let stored = q::ocsp_response(self.storage.reader(), serial_hex)
            .await
            .map_err(OcspError::from)?;
        Ok(stored.map(Arc::new))
    }

    /// The stored response of `serial_hex` still within its validity: from the cache, else
    /// one primary-key read (then cached).
    async fn stored(
        &self,
        serial_hex: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Arc<ocsp_response::Model>>, OcspError> {
        if let Some(m) = self.cache.get(serial_hex, now) {
            return Ok(Some(m));
        }
        let Some(m) = q::ocsp_response(self.storage.reader(), serial_hex).await? else {
            return Ok(None);
        };
        if m.next_update <= now {
            return Ok(None);
        }
        let m = Arc::new(m);
        self.cache.put(m.clone());
        Ok(Some(m))
    }

    /// Drop cached responses that any process has re-signed since the last sync.
    pub async fn sync_cache(&self) -> Result<(), OcspError> {
        let now = self.clock.now();
        let Some(since) = self.cache.begin_sync(now) else {
            return Ok(());
        };
        for serial in q::ocsp_serials_produced_since(self.storage.reader(), since).await? {
            self.cache.forget(&serial);
        }
        Ok(())
    }

    /// Count and (rate-limited) log a request for a serial the CA never used.
    fn note_unknown_serial(&self, serial: &str) {
        self.metrics.ocsp_unknown_serial_requests.inc();
        let now = self.clock.now().timestamp();
        let last = self.unknown_logged_at.load(Ordering::Relaxed);
        if now - last >= UNKNOWN_LOG_INTERVAL_SECONDS
            && self
                .unknown_logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let suppressed = self.unknown_suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(
                serial,
                suppressed,
                "OCSP request for a serial this CA never issued"
            );
        } else {
            self.unknown_suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

enum OnDemand {
    Busy,
    Failed(OcspError),
}

impl From<OcspError> for OnDemand {
    fn from(e: OcspError) -> Self {
        OnDemand::Failed(e)
    }
}

fn stored_model(serial: String, r: &SignedResponse, responder_id: &str) -> ocsp_response::Model {
    ocsp_response::Model {
        serial,
        der: r.der.clone(),
        cert_status: r.status.label().to_string(),
        this_update: r.this_update,
        next_update: r.next_update,
        produced_at: r.produced_at,
        responder_id: responder_id.to_string(),
    }
}
