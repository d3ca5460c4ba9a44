//! Authorizations and challenges (RFC 8555 7.5): reading, deactivation, responding to a
//! challenge, and the background validation that records its evidence and moves challenge,
//! authorization and orders on together.

use super::views::{parse_status, AuthorizationView, ChallengeView};
use super::{Ra, RaError, RaResult};
use crate::audit::Actor;
use crate::core::{AuthzStatus, ChallengeStatus, ChallengeType, Identifier};
use crate::policy::dated;
use crate::storage::entities::{challenge, validation_attempt};
use crate::storage::queries as q;
use crate::storage::StorageError;
use crate::validation::{CaaParams, ChallengeCheck, Corroboration, ValidationRequest};
use chrono::Duration;
use sea_orm::Set;
use serde_json::json;
use std::sync::Arc;

impl Ra {
    pub async fn authorization(
        &self,
        account_id: &str,
        authz_id: &str,
    ) -> RaResult<AuthorizationView> {
        let c = self.storage.reader();
        let mut m = q::authorization(c, authz_id)
            .await?
            .filter(|m| m.account_id == account_id)
            .ok_or_else(|| RaError::NotFound(format!("authorization {authz_id} not found")))?;
        let status: AuthzStatus = parse_status("authorization status", &m.status)?;
        // Expiry is applied when read (RFC 8555 7.1.6: pending/valid -> expired).
        if matches!(status, AuthzStatus::Pending | AuthzStatus::Valid)
            && m.expires <= self.clock.now()
        {
            m.status = self
                .set_authz_status(authz_id, AuthzStatus::Expired, &Actor::System)
                .await?
                .as_str()
                .to_string();
        }
        let challenges = q::challenges_for_authz(c, authz_id).await?;
        AuthorizationView::from_models(&m, &challenges)
    }

    /// Client deactivation (RFC 8555 7.5.2).
    pub async fn deactivate_authorization(
        &self,
        account_id: &str,
        authz_id: &str,
    ) -> RaResult<AuthorizationView> {
        self.authorization(account_id, authz_id).await?;
        self.set_authz_status(
            authz_id,
            AuthzStatus::Deactivated,
            &Actor::Account(account_id.to_string()),
        )
        .await?;
        self.authorization(account_id, authz_id).await
    }

    async fn set_authz_status(
        &self,
        authz_id: &str,
        to: AuthzStatus,
        actor: &Actor,
    ) -> RaResult<AuthzStatus> {
        let txn = self.storage.begin().await?;
        let mut m = q::authorization(&txn, authz_id)
            .await?
            .ok_or_else(|| RaError::NotFound(format!("authorization {authz_id} not found")))?;
        let from: AuthzStatus = parse_status("authorization status", &m.status)?;
        // A refused transition is the client's request (deactivating an authorization that is
        // no longer pending or valid); expiry only starts from states that allow it.
        from.transition(to)
            .map_err(|e| RaError::Malformed(e.to_string()))?;
        m.status = to.as_str().to_string();
        q::update_authorization(&txn, m).await?;
        self.audit(
            &txn,
            actor,
            "authorization.status",
            json!({"authorization": authz_id, "from": from.as_str(), "to": to.as_str()}),
        )
        .await?;
        for order_id in q::order_ids_for_authz(&txn, authz_id).await? {
            self.refresh_order(&txn, &order_id).await?;
        }
        txn.commit().await.map_err(StorageError::from)?;
        Ok(to)
    }

    pub async fn challenge(&self, account_id: &str, challenge_id: &str) -> RaResult<ChallengeView> {
        let (chall, _) = self.owned_challenge(account_id, challenge_id).await?;
        ChallengeView::from_model(&chall)
    }

    async fn owned_challenge(
        &self,
        account_id: &str,
        challenge_id: &str,
    ) -> RaResult<(
        challenge::Model,
        crate::storage::entities::authorization::Model,
    )> {
        let c = self.storage.reader();
        let not_found = || RaError::NotFound(format!("challenge {challenge_id} not found"));
        let chall = q::challenge(c, challenge_id).await?.ok_or_else(not_found)?;
        let authz = q::authorization(c, &chall.authz_id)
            .await?
            .filter(|a| a.account_id == account_id)
            .ok_or_else(not_found)?;
        Ok((chall, authz))
    }

    /// The client says it is ready (RFC 8555 7.5.1): pending -> processing, then validate in
    /// the background. Responding again to a non-pending challenge changes nothing.
    pub async fn respond_challenge(
        self: &Arc<Self>,
        account_id: &str,
        challenge_id: &str,
    ) -> RaResult<ChallengeView> {
        let (chall, authz) = self.owned_challenge(account_id, challenge_id).await?;
        let authz_view = self.authorization(account_id, &authz.id).await?;
        if authz_view.status != AuthzStatus::Pending {
            return Err(RaError::Malformed(format!(
                "authorization is {}; its challenges can no longer be answered",
                authz_view.status
            )));
        }
        if chall.status != ChallengeStatus::Pending.as_str()
            || authz_view
                .challenges
                .iter()
                .any(|c| c.status == ChallengeStatus::Processing)
        {
            return ChallengeView::from_model(&chall);
        }
        let txn = self.storage.begin().await?;
        let mut m = q::challenge(&txn, challenge_id)
            .await?
            .ok_or_else(|| RaError::NotFound(format!("challenge {challenge_id} not found")))?;
        if m.status != ChallengeStatus::Pending.as_str() {
            return ChallengeView::from_model(&m);
        }
        m.status = ChallengeStatus::Pending
            .transition(ChallengeStatus::Processing)
            .map_err(|e| RaError::Internal(e.to_string()))?
            .as_str()
            .to_string();
        q::update_challenge(&txn, m.clone()).await?;
        self.audit(
            &txn,
            &Actor::Account(account_id.to_string()),
            "challenge.responded",
            json!({"challenge": challenge_id, "authorization": authz.id, "type": m.kind,
                   "identifier": authz.identifier}),
        )
        .await?;
        txn.commit().await.map_err(StorageError::from)?;
        self.spawn_validation(challenge_id.to_string());
        ChallengeView::from_model(&m)
    }

    /// Validate a processing challenge in the background (also used by crash recovery).
    pub(crate) fn spawn_validation(self: &Arc<Self>, challenge_id: String) {
        let ra = Arc::clone(self);
        let guard = self.in_flight.enter(&challenge_id);
        self.tasks.spawn(async move {
            let _in_flight = guard;
            // The perspective bounds concurrent validations (`validation.concurrency`).
            if let Err(e) = ra.validate(&challenge_id).await {
                tracing::error!(challenge = %challenge_id, error = %e, "validation could not be recorded");
            }
        });
    }

    async fn validate(&self, challenge_id: &str) -> RaResult<()> {
        let c = self.storage.reader();
        let chall = q::challenge(c, challenge_id)
            .await?
            .ok_or_else(|| RaError::Internal(format!("challenge {challenge_id} vanished")))?;
        let authz = q::authorization(c, &chall.authz_id).await?.ok_or_else(|| {
            RaError::Internal(format!("authorization {} vanished", chall.authz_id))
        })?;
        let account = q::account(c, &authz.account_id)
            .await?
            .ok_or_else(|| RaError::Internal(format!("account {} vanished", authz.account_id)))?;
        let request = ValidationRequest {
            identifier: Identifier::dns(authz.identifier.clone()),
            challenge: Some(ChallengeCheck {
                challenge_type: parse_status::<ChallengeType>("challenge type", &chall.kind)?,
                token: chall.token.clone(),
                key_authorization: format!("{}.{}", chall.token, account.key_thumbprint),
            }),
            // BR 3.2.2.8: CAA is checked with every domain validation.
            caa: Some(self.caa_params(&authz.account_id, &chall.kind)),
        };
        let started = std::time::Instant::now();
        // The check's time is when it started: the BR's 8 h count from the lookup.
        let checked_at = self.clock.now();
        let outcome = self.validator.validate(&request).await;
        let ok = outcome.result.is_ok();
        self.metrics
            .validations
            .get_or_create(&crate::metrics::ValidationLabels {
                method: chall.kind.clone(),
                result: if ok { "valid" } else { "invalid" }.to_string(),
            })
            .inc();
        tracing::info!(challenge = %challenge_id, identifier = %authz.identifier, method = %chall.kind,
            valid = ok, elapsed_ms = started.elapsed().as_millis() as u64,
            error = outcome.result.as_ref().err().map(|e| e.detail.as_str()).unwrap_or(""),
            "validation attempt");
        self.record_validation(chall, &authz.id, &authz.identifier, checked_at, outcome)
            .await
    }

    /// The CAA parameters for a check on behalf of `account_id` by `method` (RFC 8657): the
    /// CA's issuer domains, the account URL as its client sees it, the ACME method name.
    pub(crate) fn caa_params(&self, account_id: &str, method: &str) -> CaaParams {
        CaaParams {
            issuer_domains: self.config.acme.caa_identities.clone(),
            account_uri: self.config.account_url(account_id),
            method: method.to_string(),
            // The CP refuses wildcard names (3.2.2.6), so no request is a wildcard.
            wildcard: false,
        }
    }

    /// One `validation_attempts` row per perspective asked (BR 3.2.2.9: every attempt is
    /// logged with the perspective, its result and evidence), the primary's first; returns
    /// the perspectives as the audit event shows them.
    pub(crate) async fn insert_attempts<C: sea_orm::ConnectionTrait>(
        &self,
        txn: &C,
        challenge_id: &str,
        outcome: &Corroboration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> RaResult<Vec<serde_json::Value>> {
        let mut perspectives = Vec::with_capacity(outcome.perspectives.len());
        let mut rows = Vec::with_capacity(outcome.perspectives.len());
        for p in &outcome.perspectives {
            let result = if p.outcome.result.is_ok() {
                "valid"
            } else {
                "invalid"
            };
            let mut evidence = p.outcome.evidence.clone();
            if let (Some(rir), Some(obj)) = (&p.rir, evidence.as_object_mut()) {
                obj.insert("rir".to_string(), json!(rir));
            }
            rows.push(validation_attempt::ActiveModel {
                challenge_id: Set(challenge_id.to_string()),
                perspective: Set(p.id.clone()),
                result: Set(result.to_string()),
                error: Set(p
                    .outcome
                    .result
                    .as_ref()
                    .err()
                    .map(|e| json!(e).to_string())),
                evidence: Set(evidence.to_string()),
                created_at: Set(now),
                ..Default::default()
            });
            perspectives.push(json!({
                "id": p.id, "rir": p.rir, "remote": p.remote, "result": result,
                "error": p.outcome.result.as_ref().err(), "evidence": evidence,
            }));
        }
        // One statement for all of them: this runs in the writer's transaction per validation.
        q::insert_validation_attempts(txn, rows).await?;
        Ok(perspectives)
    }

    async fn record_validation(
        &self,
        mut chall: challenge::Model,
        authz_id: &str,
        identifier: &str,
        checked_at: chrono::DateTime<chrono::Utc>,
        outcome: Corroboration,
    ) -> RaResult<()> {
        let now = self.clock.now();
        let txn = self.storage.begin().await?;
        let (chall_to, authz_to) = match &outcome.result {
            Ok(()) => (ChallengeStatus::Valid, AuthzStatus::Valid),
            Err(_) => (ChallengeStatus::Invalid, AuthzStatus::Invalid),
        };
        let error_json = outcome.result.as_ref().err().map(|e| json!(e).to_string());
        let perspectives = self.insert_attempts(&txn, &chall.id, &outcome, now).await?;
        chall.status = ChallengeStatus::Processing
            .transition(chall_to)
            .map_err(|e| RaError::Internal(e.to_string()))?
            .as_str()
            .to_string();
        chall.error = error_json;
        if chall_to == ChallengeStatus::Valid {
            chall.validated = Some(now);
        }
        q::update_challenge(&txn, chall.clone()).await?;
        let mut authz = q::authorization(&txn, authz_id)
            .await?
            .ok_or_else(|| RaError::Internal(format!("authorization {authz_id} vanished")))?;
        let from: AuthzStatus = parse_status("authorization status", &authz.status)?;
        // The authorization may have been deactivated meanwhile; then the result is kept as
        // evidence only.
        if from == AuthzStatus::Pending {
            authz.status = authz_to.as_str().to_string();
            if authz_to == AuthzStatus::Valid {
                // Reuse period: configured, capped by the dated BR maximum (BR 4.2.1).
                let days = self
                    .config
                    .acme
                    .authz_reuse_days
                    .min(dated::max_dcv_reuse_days(now));
                authz.expires = now + Duration::days(i64::from(days));
                // The request carried CAA, so a valid result means CAA permitted.
                authz.caa_checked_at = Some(checked_at);
            }
            q::update_authorization(&txn, authz).await?;
        }
        self.audit(
            &txn,
            &Actor::System,
            "validation.attempt",
            json!({
                "challenge": chall.id, "authorization": authz_id, "identifier": identifier,
                "method": chall.kind, "result": chall_to.as_str(),
                "error": outcome.result.err(), "quorum": outcome.quorum,
                "perspectives": perspectives,
            }),
        )
        .await?;
        for order_id in q::order_ids_for_authz(&txn, authz_id).await? {
            self.refresh_order(&txn, &order_id).await?;
        }
        txn.commit().await.map_err(StorageError::from)?;
        Ok(())
    }
}
