//! The CAA re-check at finalize (BR 3.2.2.8: a certificate is issued within max(TTL, 8 h) of
//! the CAA check; we ignore the TTL, so 8 h from the dated table). Every authorization of the
//! order, reused ones included, whose last CAA check is older than that (or that was never
//! checked) is checked again, CAA only, before a serial is reserved.

use super::views::parse_status;
use super::{Ra, RaError, RaResult};
use crate::audit::Actor;
use crate::core::{ChallengeStatus, FailureKind, Identifier, OrderStatus, ValidationFailure};
use crate::policy::dated;
use crate::storage::entities::authorization;
use crate::storage::queries as q;
use crate::storage::StorageError;
use crate::validation::{Corroboration, ValidationRequest};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Whether a CAA check made at `checked_at` is too old to issue on at `now` (BR 3.2.2.8).
/// Never checked counts as too old.
pub(crate) fn caa_recheck_due(checked_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match checked_at {
        Some(t) => now - t > dated::max_caa_check_age(now),
        None => true,
    }
}

impl Ra {
    /// Re-check CAA for every authorization of `order_id` whose check is too old. A
    /// refusal marks the order invalid with a `caa` error and answers `RaError::Caa`.
    pub(crate) async fn recheck_caa(&self, order_id: &str) -> RaResult<()> {
        let authzs = q::authorizations_for_order(self.storage.reader(), order_id).await?;
        for authz in authzs {
            if !caa_recheck_due(authz.caa_checked_at, self.clock.now()) {
                continue;
            }
            let challenges = q::challenges_for_authz(self.storage.reader(), &authz.id).await?;
            // RFC 8657 4: the method is the one that validated this authorization.
            let valid = challenges
                .into_iter()
                .find(|c| c.status == ChallengeStatus::Valid.as_str())
                .ok_or_else(|| {
                    RaError::Internal(format!(
                        "authorization {} is valid without a valid challenge",
                        authz.id
                    ))
                })?;
            let request = ValidationRequest {
                identifier: Identifier::dns(authz.identifier.clone()),
                challenge: None,
                caa: Some(self.caa_params(&authz.account_id, &valid.kind)),
            };
            let checked_at = self.clock.now();
            let outcome = self.validator.validate(&request).await;
            self.record_caa_recheck(order_id, &valid.id, authz, checked_at, &outcome)
                .await?;
        }
        Ok(())
    }

    /// Store the re-check (attempt rows on the challenge that validated the authorization,
    /// a `caa.recheck` audit event); on success move `caa_checked_at`, on refusal fail the
    /// order, in one transaction.
    async fn record_caa_recheck(
        &self,
        order_id: &str,
        challenge_id: &str,
        mut authz: authorization::Model,
        checked_at: DateTime<Utc>,
        outcome: &Corroboration,
    ) -> RaResult<()> {
        let now = self.clock.now();
        let txn = self.storage.begin().await?;
        let perspectives = self
            .insert_attempts(&txn, challenge_id, outcome, now)
            .await?;
        let refusal = outcome.result.as_ref().err().map(|e| {
            // Whatever the lookup's own failure kind, not issuing because of CAA is a
            // `caa` problem (RFC 8555 6.7); the detail names the name and the record.
            ValidationFailure::new(
                FailureKind::Caa,
                format!(
                    "CAA re-check for {} at finalize refused issuance: {}",
                    authz.identifier, e.detail
                ),
            )
        });
        self.audit(
            &txn,
            &Actor::System,
            "caa.recheck",
            json!({"order": order_id, "authorization": authz.id, "identifier": authz.identifier,
                   "challenge": challenge_id, "previous_check": authz.caa_checked_at,
                   "result": if refusal.is_none() { "permit" } else { "refuse" },
                   "error": refusal, "quorum": outcome.quorum, "perspectives": perspectives}),
        )
        .await?;
        let authz_id = authz.id.clone();
        match refusal {
            None => {
                authz.caa_checked_at = Some(checked_at);
                q::update_authorization(&txn, authz).await?;
                txn.commit().await.map_err(StorageError::from)?;
                Ok(())
            }
            Some(failure) => {
                self.fail_order(&txn, order_id, &failure).await?;
                txn.commit().await.map_err(StorageError::from)?;
                tracing::info!(order = %order_id, authorization = %authz_id,
                    detail = %failure.detail, "CAA re-check refused issuance");
                Err(RaError::Caa(failure.detail))
            }
        }
    }

    /// ready -> invalid with `failure` as the order's error (RFC 8555 7.1.6).
    async fn fail_order<C: sea_orm::ConnectionTrait>(
        &self,
        txn: &C,
        order_id: &str,
        failure: &ValidationFailure,
    ) -> RaResult<()> {
        let mut m = q::order(txn, order_id)
            .await?
            .ok_or_else(|| RaError::NotFound(format!("order {order_id} not found")))?;
        let from: OrderStatus = parse_status("order status", &m.status)?;
        // Only a ready order: one a concurrent finalize already moved on is left alone.
        if from != OrderStatus::Ready {
            return Err(RaError::OrderNotReady(format!("order is {}", m.status)));
        }
        m.status = OrderStatus::Invalid.as_str().to_string();
        m.error = Some(json!(failure).to_string());
        m.updated_at = self.clock.now();
        q::update_order(txn, m).await?;
        self.audit(
            txn,
            &Actor::System,
            "order.status",
            json!({"order": order_id, "from": from.as_str(), "to": "invalid", "error": failure}),
        )
        .await
    }
}
