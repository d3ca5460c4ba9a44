//! The issuance cycle after finalize (DESIGN.md): serial (already reserved by `finalize`) →
//! TBS → lint certificate (stored) → precertificate (HSM, stored) → CT logs → SCT list →
//! final certificate (HSM) → recorded. Each step that creates or reveals a signed artefact
//! is recorded first (DESIGN invariant 1), so a crash anywhere leaves nothing signed that the
//! database does not know, and every step writes its audit event in the same transaction.

use super::{Ra, RaError, RaResult};
use crate::audit::Actor;
use crate::core::{FailureKind, OrderStatus, ValidationFailure};
use crate::issuance::{
    ct::Sct, IssuanceError, IssuanceRequest, IssuedCertificate, LintedCertificate,
};
use crate::storage::entities::{certificate, precertificate};
use crate::storage::queries as q;
use crate::storage::StorageError;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;

/// Why an issuance stopped, and what the subscriber is told.
struct Failure {
    /// Logged and audited (operators read it).
    internal: String,
    /// The order's error detail (the subscriber reads it; nothing internal).
    public: String,
    /// A precertificate was signed: its serial stays `reserved` (never `failed`), so OCSP
    /// answers it as issued (CP 4.9.10) and it is never reused.
    precertificate_signed: bool,
}

impl Failure {
    fn from_ra(e: RaError, precertificate_signed: bool) -> Failure {
        Failure {
            internal: e.to_string(),
            public: "the certificate could not be issued; please submit a new order".to_string(),
            precertificate_signed,
        }
    }

    fn from_issuance(e: IssuanceError, precertificate_signed: bool) -> Failure {
        let public = match &e {
            // The findings name rules, not internals; the subscriber can report them.
            IssuanceError::LintFailed(codes) => {
                format!("the certificate failed pre-issuance linting and was not issued: {codes}")
            }
            IssuanceError::Ct(_) => "the certificate could not be logged to Certificate \
                                     Transparency; please retry later"
                .to_string(),
            IssuanceError::Profile(why) => why.clone(),
            _ => "the certificate could not be issued; please submit a new order".to_string(),
        };
        Failure {
            internal: e.to_string(),
            public,
            precertificate_signed,
        }
    }
}

/// Run blocking signer/linter work off the async workers (PKCS#11 and the lint worker
/// block).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IssuanceError> + Send + 'static,
    precertificate_signed: bool,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::from_issuance(e, precertificate_signed)),
        Err(e) => Err(Failure::from_ra(
            RaError::Internal(format!("issuance task failed: {e}")),
            precertificate_signed,
        )),
    }
}

impl Ra {
    /// The background issuance task spawned by `finalize`.
    pub(super) async fn issue(
        self: Arc<Self>,
        account_id: String,
        order_id: String,
        request: IssuanceRequest,
    ) {
        // Until this task ends, the recovery sweep leaves the order alone (recovery.rs).
        let _in_flight = self.in_flight.enter(&order_id);
        let started = std::time::Instant::now();
        let serial_hex = request.serial.to_hex();
        match self.run_issuance(&account_id, &order_id, request).await {
            Ok(()) => {
                self.metrics
                    .issuance_seconds
                    .observe(started.elapsed().as_secs_f64());
                tracing::info!(order = %order_id, serial = %serial_hex, "certificate issued");
            }
            Err(f) => {
                tracing::error!(order = %order_id, serial = %serial_hex, error = %f.internal,
                    "issuance failed");
                if let Err(e) = self.fail_issuance(&order_id, &serial_hex, &f).await {
                    tracing::error!(order = %order_id, error = %e,
                        "could not record issuance failure");
                }
            }
        }
    }

    async fn run_issuance(
        &self,
        account_id: &str,
        order_id: &str,
        request: IssuanceRequest,
    ) -> Result<(), Failure> {
        let ca = Arc::clone(&self.ca);
        let now = self.clock.now();
        let req = request.clone();
        let t = Instant::now();
        let linted = blocking(move || ca.lint(ca.prepare(&req, now)?), false).await?;
        self.metrics.step("lint", t);
        self.store_lint_certificate(&linted)
            .await
            .map_err(|e| Failure::from_ra(e, false))?;
        let ca = Arc::clone(&self.ca);
        let t = Instant::now();
        let signed = blocking(move || ca.sign(linted), false).await?;
        self.metrics.step("sign", t);
        let issued = if signed.precertificate {
            self.store_precertificate(&signed)
                .await
                .map_err(|e| Failure::from_ra(e, true))?;
            let t = Instant::now();
            let scts = self.collect_scts(&signed).await?;
            self.metrics.step("ct", t);
            let ca = Arc::clone(&self.ca);
            let t = Instant::now();
            let issued = blocking(move || ca.sign_final(&signed, &scts), true).await?;
            self.metrics.step("sign_final", t);
            issued
        } else {
            signed
        };
        let t = Instant::now();
        self.record_issued(account_id, order_id, &issued, &request)
            .await
            .map_err(|e| Failure::from_ra(e, true))?;
        self.metrics.step("record", t);
        self.submit_final_best_effort(&issued);
        Ok(())
    }

    /// DESIGN invariant 1: the lint certificate (the TBS to be signed) is recorded before
    /// the issuer's key signs anything with this serial.
    async fn store_lint_certificate(&self, linted: &LintedCertificate) -> RaResult<()> {
        let now = self.clock.now();
        let serial_hex = linted.serial().to_hex();
        let txn = self.storage.begin().await?;
        q::insert_precertificate(
            &txn,
            precertificate::Model {
                serial: serial_hex.clone(),
                lint_der: linted.lint_der.clone(),
                der: None,
                created_at: now,
                signed_at: None,
            },
        )
        .await?;
        self.audit(
            &txn,
            &Actor::System,
            "issuance.linted",
            json!({"serial": serial_hex, "linter": self.ca.linter().map(|l| l.name().to_string()),
                   "findings": linted.findings,
                   "lint_sha256": hex::encode(Sha256::digest(&linted.lint_der))}),
        )
        .await?;
        txn.commit().await.map_err(StorageError::from)?;
        Ok(())
    }

    /// The signed precertificate is recorded before it leaves the process (CT submission).
    async fn store_precertificate(&self, precert: &IssuedCertificate) -> RaResult<()> {
        let now = self.clock.now();
        let serial_hex = precert.serial.to_hex();
        let txn = self.storage.begin().await?;
        // The other half of invariant 5: a serial already failed (its order given up by
        // recovery) never gets a precertificate stored, so this one is discarded before it
        // can reach a CT log.
        q::lock_serial(&txn, &serial_hex).await?;
        let status = q::serial(&txn, &serial_hex).await?.map(|s| s.status);
        if status.as_deref() != Some("reserved") {
            return Err(RaError::Internal(format!(
                "serial {serial_hex} is {status:?}, not reserved: precertificate discarded"
            )));
        }
        let mut m = q::precertificate(&txn, &serial_hex)
            .await?
            .ok_or_else(|| RaError::Internal(format!("lint record of {serial_hex} vanished")))?;
        m.der = Some(precert.der.clone());
        m.signed_at = Some(now);
        q::update_precertificate(&txn, m).await?;
        self.audit(
            &txn,
            &Actor::System,
            "precertificate.signed",
            json!({"serial": serial_hex, "sha256": hex::encode(Sha256::digest(&precert.der))}),
        )
        .await?;
        txn.commit().await.map_err(StorageError::from)?;
        Ok(())
    }

    /// CP 4.4.2: SCTs from the configured logs until the CT policy is met; audited with the
    /// logs that answered.
    async fn collect_scts(&self, precert: &IssuedCertificate) -> Result<Vec<Sct>, Failure> {
        let ct = self.ca.ct().ok_or_else(|| {
            Failure::from_ra(
                RaError::Internal("precertificate without CT logs".to_string()),
                true,
            )
        })?;
        let scts = ct
            .submit_precertificate(&self.ca.ct_chain(&precert.der))
            .await
            .map_err(|e| Failure::from_issuance(e.into(), true))?;
        let serial_hex = precert.serial.to_hex();
        let logs: Vec<_> = scts
            .iter()
            .map(|s| json!({"log": s.log_name, "operator": s.operator, "timestamp": s.timestamp}))
            .collect();
        let audited = async {
            let txn = self.storage.begin().await?;
            self.audit(
                &txn,
                &Actor::System,
                "ct.scts_received",
                json!({"serial": serial_hex, "scts": logs}),
            )
            .await?;
            txn.commit().await.map_err(StorageError::from)?;
            Ok::<(), RaError>(())
        };
        audited.await.map_err(|e| Failure::from_ra(e, true))?;
        Ok(scts)
    }

    /// RFC 6962 3.1 / CP 4.4.2: the final certificate goes to the logs too, best effort; a
    /// failure is logged, never an issuance failure.
    fn submit_final_best_effort(&self, issued: &IssuedCertificate) {
        let Some(ct) = self.ca.ct().cloned() else {
            return;
        };
        if !self.config.ct.submit_final || issued.precertificate {
            return;
        }
        let chain = self.ca.ct_chain(&issued.der);
        let serial_hex = issued.serial.to_hex();
        self.tasks.spawn(async move {
            for (log, outcome) in ct.submit_final(&chain).await {
                match outcome {
                    Ok(_) => tracing::debug!(serial = %serial_hex, log = %log,
                        "final certificate logged"),
                    Err(e) => tracing::warn!(serial = %serial_hex, log = %log, error = %e,
                        "final certificate not logged (best effort)"),
                }
            }
        });
    }

    async fn record_issued(
        &self,
        account_id: &str,
        order_id: &str,
        issued: &IssuedCertificate,
        request: &IssuanceRequest,
    ) -> RaResult<()> {
        let now = self.clock.now();
        let serial_hex = issued.serial.to_hex();
        let chain_pem = format!("{}{}", issued.pem, self.ca.chain_pem());
        let txn = self.storage.begin().await?;
        q::insert_certificate(
            &txn,
            certificate::Model {
                serial: serial_hex.clone(),
                account_id: account_id.to_string(),
                order_id: order_id.to_string(),
                der: issued.der.clone(),
                chain_pem,
                // The canonical SPKI hash, the blocked-keys table's key (a compressed EC point in
                // a CSR must not give the same key a second hash).
                key_hash: crate::policy::keys::key_hash(&request.public_key_der),
                names: json!(request.names).to_string(),
                not_before: issued.not_before,
                not_after: issued.not_after,
                issued_at: now,
                revoked_at: None,
                revocation_reason: None,
            },
        )
        .await?;
        q::set_serial_status(&txn, &serial_hex, "issued").await?;
        let mut m = q::order(&txn, order_id)
            .await?
            .ok_or_else(|| RaError::Internal(format!("order {order_id} vanished")))?;
        m.status = OrderStatus::Processing
            .transition(OrderStatus::Valid)
            .map_err(|e| RaError::Internal(e.to_string()))?
            .as_str()
            .to_string();
        m.certificate_serial = Some(serial_hex.clone());
        m.updated_at = now;
        q::update_order(&txn, m).await?;
        self.audit(
            &txn,
            &Actor::System,
            "certificate.issued",
            json!({"order": order_id, "account": account_id, "serial": serial_hex,
                   "names": request.names, "profile": request.profile,
                   "not_before": issued.not_before, "not_after": issued.not_after,
                   "sha256": hex::encode(Sha256::digest(&issued.der))}),
        )
        .await?;
        txn.commit().await.map_err(StorageError::from)?;
        Ok(())
    }

    /// Fail a processing order cleanly. The serial stays known and is never reused: `failed`
    /// when nothing was signed with it, still `reserved` when a precertificate exists.
    async fn fail_issuance(
        &self,
        order_id: &str,
        serial_hex: &str,
        failure: &Failure,
    ) -> RaResult<()> {
        let txn = self.storage.begin().await?;
        // DESIGN invariant 5: a serial whose precertificate was stored (and may be in CT
        // logs) stays `reserved`, whatever the caller believes: it is read under the serial's
        // lock, in the transaction that decides. A recovery sweep of another process (or a
        // commit whose acknowledgement was lost) can then never mark it failed.
        q::lock_serial(&txn, serial_hex).await?;
        let stored = q::precertificate(&txn, serial_hex)
            .await?
            .is_some_and(|p| p.der.is_some());
        let precertificate_signed = failure.precertificate_signed || stored;
        if let Some(mut m) = q::order(&txn, order_id).await? {
            if m.status == OrderStatus::Processing.as_str() {
                m.status = OrderStatus::Invalid.as_str().to_string();
                m.error = Some(
                    json!(ValidationFailure::new(
                        FailureKind::ServerInternal,
                        failure.public.clone()
                    ))
                    .to_string(),
                );
                m.updated_at = self.clock.now();
                q::update_order(&txn, m).await?;
            }
        }
        if !precertificate_signed {
            q::set_serial_status(&txn, serial_hex, "failed").await?;
        }
        self.audit(
            &txn,
            &Actor::System,
            "issuance.failed",
            json!({"order": order_id, "serial": serial_hex, "reason": failure.internal,
                   "precertificate_signed": precertificate_signed}),
        )
        .await?;
        txn.commit().await.map_err(StorageError::from)?;
        Ok(())
    }

    /// Start-up recovery of an issuance interrupted by a crash: fail the order cleanly. A
    /// signed precertificate keeps its serial `reserved` (precertificate only).
    pub(super) async fn fail_interrupted_issuance(
        &self,
        order_id: &str,
        serial_hex: &str,
    ) -> RaResult<()> {
        // Whether a precertificate was stored is read by fail_issuance under the serial's
        // lock, not here outside the transaction.
        let failure = Failure::from_ra(
            RaError::Internal("issuance interrupted by a restart".to_string()),
            false,
        );
        self.fail_issuance(order_id, serial_hex, &failure).await
    }
}
