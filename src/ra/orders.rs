//! Orders (RFC 8555 7.4): creation with policy checks and authorization reuse, status
//! refresh, listing, finalize and the issuance task.

use super::views::{parse_status, OrderView};
use super::{IdentifierRefusal, Ra, RaError, RaResult};
use crate::audit::Actor;
use crate::config::ValidationLevel;
use crate::core::{
    random_id, random_token, AuthzStatus, ChallengeStatus, ChallengeType, FailureKind, Identifier,
    OrderStatus, Serial, ValidationFailure,
};
use crate::issuance::{csr, IssuanceRequest};
use crate::policy::names;
use crate::storage::entities::{authorization, challenge, order, serial};
use crate::storage::queries as q;
use crate::storage::StorageError;
use chrono::Duration;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Orders listed per page in the account's orders list (RFC 8555 7.1.2.1).
pub const ORDERS_PAGE: u64 = 100;

impl Ra {
    pub async fn new_order(
        &self,
        account_id: &str,
        identifiers: Vec<Identifier>,
        profile: Option<String>,
    ) -> RaResult<OrderView> {
        let identifiers = check_identifiers(identifiers, self.config.acme.max_identifiers)?;
        let profile = profile.unwrap_or_else(|| self.config.ca.default_profile.clone());
        let Some(profile_config) = self.config.ca.profiles.get(&profile) else {
            return Err(RaError::InvalidProfile(format!(
                "unknown profile {profile:?}"
            )));
        };
        if profile_config.validation == ValidationLevel::Ov {
            // Refuse up front rather than after the subscriber has proved control.
            self.organization_subject(account_id).await?;
        }
        let now = self.clock.now();
        let expires = now + Duration::seconds(self.config.acme.order_lifetime_seconds as i64);
        let txn = self.storage.begin().await?;
        let mut authz_ids = Vec::with_capacity(identifiers.len());
        let mut all_valid = true;
        for ident in &identifiers {
            if let Some(existing) =
                q::reusable_authorization(&txn, account_id, &ident.value, now).await?
            {
                authz_ids.push(existing.id);
                continue;
            }
            all_valid = false;
            let authz_id = random_id();
            let authz = authorization::Model {
                id: authz_id.clone(),
                account_id: account_id.to_string(),
                identifier: ident.value.clone(),
                status: AuthzStatus::Pending.as_str().to_string(),
                expires,
                created_at: now,
                caa_checked_at: None,
            };
            let challenges = [
                ChallengeType::Http01,
                ChallengeType::Dns01,
                ChallengeType::TlsAlpn01,
            ]
            .into_iter()
            .map(|kind| challenge::Model {
                id: random_id(),
                authz_id: authz_id.clone(),
                kind: kind.as_str().to_string(),
                status: ChallengeStatus::Pending.as_str().to_string(),
                token: random_token(),
                validated: None,
                error: None,
                created_at: now,
            })
            .collect();
            q::insert_authorization(&txn, authz, challenges).await?;
            authz_ids.push(authz_id);
        }
        let status = if all_valid {
            OrderStatus::Ready
        } else {
            OrderStatus::Pending
        };
        let model = order::Model {
            id: random_id(),
            account_id: account_id.to_string(),
            status: status.as_str().to_string(),
            expires,
            identifiers: json!(identifiers).to_string(),
            profile: profile.clone(),
            error: None,
            certificate_serial: None,
            created_at: now,
            updated_at: now,
        };
        q::insert_order(&txn, model.clone(), &authz_ids).await?;
        self.audit(
            &txn,
            &Actor::Account(account_id.to_string()),
            "order.created",
            json!({"order": model.id, "identifiers": identifiers, "profile": profile,
                   "authorizations": authz_ids}),
        )
        .await?;
        txn.commit().await.map_err(StorageError::from)?;
        tracing::info!(order = %model.id, account = %account_id, names = identifiers.len(), "order created");
        OrderView::from_model(&model, authz_ids)
    }

    /// The order, with its status brought up to date (authorization outcomes, expiry).
    pub async fn order(&self, account_id: &str, order_id: &str) -> RaResult<OrderView> {
        let m = q::order(self.storage.reader(), order_id)
            .await?
            .filter(|m| m.account_id == account_id)
            .ok_or_else(|| RaError::NotFound(format!("order {order_id} not found")))?;
        let status: OrderStatus = parse_status("order status", &m.status)?;
        let authzs = q::authorizations_for_order(self.storage.reader(), order_id).await?;
        // Decide on what was read; take the (single, on SQLite) writer only when the status
        // moves, and re-read only then.
        let (due, _) = Self::due_status(&m, &authzs, status, self.clock.now());
        if due == status {
            return OrderView::from_model(&m, authzs.into_iter().map(|a| a.id).collect());
        }
        let txn = self.storage.begin().await?;
        self.refresh_order(&txn, order_id).await?;
        txn.commit().await.map_err(StorageError::from)?;
        self.load_order(order_id).await
    }

    async fn load_order(&self, order_id: &str) -> RaResult<OrderView> {
        let c = self.storage.reader();
        let m = q::order(c, order_id)
            .await?
            .ok_or_else(|| RaError::NotFound(format!("order {order_id} not found")))?;
        let authz_ids = q::authorizations_for_order(c, order_id)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        OrderView::from_model(&m, authz_ids)
    }

    /// The status a pending/ready order should have at `now`, from its authorizations and
    /// expiry (RFC 8555 7.1.6), with the error to record when it becomes invalid.
    fn due_status(
        m: &order::Model,
        authzs: &[authorization::Model],
        from: OrderStatus,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (OrderStatus, Option<ValidationFailure>) {
        if !matches!(from, OrderStatus::Pending | OrderStatus::Ready) {
            return (from, None);
        }
        if m.expires <= now {
            let e = ValidationFailure::new(FailureKind::Unauthorized, "the order expired");
            return (OrderStatus::Invalid, Some(e));
        }
        if let Some(bad) = authzs
            .iter()
            .find(|a| a.status != "valid" && a.status != "pending")
        {
            let e = ValidationFailure::new(
                FailureKind::Unauthorized,
                format!("authorization for {} is {}", bad.identifier, bad.status),
            );
            return (OrderStatus::Invalid, Some(e));
        }
        if authzs
            .iter()
            .all(|a| a.status == "valid" && a.expires > now)
        {
            return (OrderStatus::Ready, None);
        }
        (from, None)
    }

    /// Recompute a pending/ready order's status from its authorizations and expiry
    /// (RFC 8555 7.1.6) and persist a change with its audit event.
    pub(crate) async fn refresh_order<C: sea_orm::ConnectionTrait>(
        &self,
        txn: &C,
        order_id: &str,
    ) -> RaResult<()> {
        let Some(mut m) = q::order(txn, order_id).await? else {
            return Ok(());
        };
        let from: OrderStatus = parse_status("order status", &m.status)?;
        let now = self.clock.now();
        let authzs = q::authorizations_for_order(txn, order_id).await?;
        let (to, error) = Self::due_status(&m, &authzs, from, now);
        if to == from {
            return Ok(());
        }
        from.transition(to)
            .map_err(|e| RaError::Internal(e.to_string()))?;
        m.status = to.as_str().to_string();
        m.error = error.as_ref().map(|e| json!(e).to_string());
        m.updated_at = now;
        q::update_order(txn, m.clone()).await?;
        self.audit(
            txn,
            &Actor::System,
            "order.status",
            json!({"order": order_id, "from": from.as_str(), "to": to.as_str(), "error": error}),
        )
        .await
    }

    /// One page of the account's order ids (RFC 8555 7.1.2.1) and whether more follow.
    pub async fn list_orders(&self, account_id: &str, page: u64) -> RaResult<(Vec<String>, bool)> {
        let mut ids = q::order_ids_for_account(
            self.storage.reader(),
            account_id,
            page * ORDERS_PAGE,
            ORDERS_PAGE + 1,
        )
        .await?;
        let more = ids.len() as u64 > ORDERS_PAGE;
        ids.truncate(ORDERS_PAGE as usize);
        Ok((ids, more))
    }

    /// Finalize (RFC 8555 7.4): check the CSR, reserve the serial (stored before anything is
    /// signed with it, DESIGN invariant 1), move the order to processing and issue in the
    /// background. Waits briefly so fast issuance answers `valid` at once.
    pub async fn finalize(
        self: &Arc<Self>,
        account_id: &str,
        order_id: &str,
        csr_der: &[u8],
    ) -> RaResult<OrderView> {
        let view = self.order(account_id, order_id).await?;
        if view.status != OrderStatus::Ready {
            return Err(RaError::OrderNotReady(format!(
                "order is {}, not ready: complete its authorizations first",
                view.status
            )));
        }
        // CP 3.2.2.1: the OV subject comes from the vetted record, checked again here since
        // the vetting may have aged out after newOrder.
        // BR 3.2.2.9: the dated number of remote perspectives, at this instant (the clock
        // is injected, so a new minimum applies in a running server at its date).
        if self
            .config
            .ca
            .profiles
            .get(&view.profile)
            .is_some_and(|p| p.publicly_trusted)
        {
            crate::validation::check_mpic_for_issuance(
                &self.config.validation.remote,
                self.clock.now(),
            )
            .map_err(|e| RaError::Unauthorized(format!("issuance refused: {e}")))?;
        }
        let organization = match self.config.ca.profiles.get(&view.profile) {
            Some(p) if p.validation == ValidationLevel::Ov => {
                Some(self.organization_subject(account_id).await?)
            }
            Some(_) => None,
            None => {
                return Err(RaError::InvalidProfile(format!(
                    "profile {:?} has been retired; submit a new order",
                    view.profile
                )))
            }
        };
        let names: Vec<String> = view.identifiers.iter().map(|i| i.value.clone()).collect();
        let checked = csr::check_csr(csr_der, &names).map_err(|e| RaError::BadCsr(e.detail))?;
        // Before the serial is reserved: a blocked key must not cost a serial (CP 4.9.12).
        self.ensure_csr_key_not_blocked(&checked.public_key_der)
            .await?;
        // BR 3.2.2.8: CAA no older than 8 h at issuance; before the serial, since a refusal
        // ends the order.
        self.recheck_caa(order_id).await?;
        let serial = Serial::random();
        let crl_shard = crate::issuance::shard_of(&serial, self.config.crl.shards);
        let now = self.clock.now();
        let txn = self.storage.begin().await?;
        let mut m = q::order(&txn, order_id)
            .await?
            .ok_or_else(|| RaError::NotFound(format!("order {order_id} not found")))?;
        // Re-check inside the transaction: two concurrent finalizes must not both proceed.
        if m.status != OrderStatus::Ready.as_str() {
            return Err(RaError::OrderNotReady(format!("order is {}", m.status)));
        }
        m.status = OrderStatus::Processing.as_str().to_string();
        m.updated_at = now;
        q::update_order(&txn, m).await?;
        q::insert_serial(
            &txn,
            serial::Model {
                serial: serial.to_hex(),
                account_id: account_id.to_string(),
                order_id: order_id.to_string(),
                status: "reserved".to_string(),
                created_at: now,
                crl_shard: Some(crl_shard as i32),
                issuer_id: Some(self.issuer_id.clone()),
            },
        )
        .await?;
        self.audit(
            &txn,
            &Actor::Account(account_id.to_string()),
            "issuance.requested",
            json!({"order": order_id, "serial": serial.to_hex(), "names": names,
                   "key_sha256": hex::encode(Sha256::digest(&checked.public_key_der))}),
        )
        .await?;
        txn.commit().await.map_err(StorageError::from)?;
        let request = IssuanceRequest {
            serial,
            names,
            public_key_der: checked.public_key_der,
            profile: view.profile.clone(),
            organization,
            crl_shard,
        };
        let ra = Arc::clone(self);
        let (account, order) = (account_id.to_string(), order_id.to_string());
        let handle = self
            .tasks
            .spawn(async move { ra.issue(account, order, request).await });
        // Answer with the final state when issuance is quick; otherwise `processing` with
        // Retry-After, and the client polls (RFC 8555 7.4).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), handle).await;
        self.load_order(order_id).await
    }

    /// The PEM chain of an issued certificate (RFC 8555 7.4.2).
    pub async fn certificate_chain(&self, serial_hex: &str) -> RaResult<String> {
        q::certificate(self.storage.reader(), serial_hex)
            .await?
            .map(|c| c.chain_pem)
            .ok_or_else(|| RaError::NotFound(format!("certificate {serial_hex} not found")))
    }
}

/// The identifiers of a newOrder (RFC 8555 7.4): lower-case, deduplicate and check every
/// one against the name policy (CP 3.2.2.4-3.2.2.6); collect all rejections so the client
/// sees every bad name at once (RFC 8555 6.7.1 subproblems). Sorted by value. A free
/// function so the fuzz target (`crate::fuzzing::identifier`) judges exactly this.
pub fn check_identifiers(
    identifiers: Vec<Identifier>,
    max_identifiers: usize,
) -> RaResult<Vec<Identifier>> {
    if identifiers.is_empty() {
        return Err(RaError::Malformed(
            "an order needs at least one identifier".to_string(),
        ));
    }
    if identifiers.len() > max_identifiers {
        return Err(RaError::RejectedIdentifier {
            detail: format!("an order may have at most {} identifiers", max_identifiers),
            subproblems: Vec::new(),
        });
    }
    let mut out: Vec<Identifier> = Vec::new();
    let mut rejected = Vec::new();
    for ident in identifiers {
        let ident = Identifier {
            kind: ident.kind,
            value: names::normalize(&ident.value),
        };
        match names::check_identifier(&ident) {
            Ok(()) => {
                if !out.contains(&ident) {
                    out.push(ident);
                }
            }
            Err(e) => rejected.push(IdentifierRefusal {
                // "dns" and "ip" are the RFC 8555 / RFC 8738 types: an IP address is a
                // known type our policy refuses (CP 3.2.2.5); any other type is unknown.
                unsupported: !matches!(ident.kind.as_str(), "dns" | "ip"),
                identifier: ident,
                detail: e.detail,
            }),
        }
    }
    if !rejected.is_empty() {
        let detail = rejected
            .iter()
            .map(|r| format!("{}: {}", r.identifier.value, r.detail))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(RaError::RejectedIdentifier {
            detail: format!("the CA will not issue for these identifiers: {detail}"),
            subproblems: rejected,
        });
    }
    out.sort_by(|a, b| a.value.cmp(&b.value));
    Ok(out)
}
