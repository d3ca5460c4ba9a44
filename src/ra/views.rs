//! What the RA hands the front end: plain data, rendered to JSON by `acme`.

use crate::core::{
    AccountStatus, AuthzStatus, ChallengeStatus, ChallengeType, Identifier, OrderStatus,
    ValidationFailure,
};
use crate::storage::entities::{account, authorization, challenge, order};
use chrono::{DateTime, Utc};
use std::str::FromStr;

use super::{RaError, RaResult};

#[derive(Debug, Clone)]
pub struct AccountView {
    pub id: String,
    pub status: AccountStatus,
    pub contact: Vec<String>,
    pub jwk: serde_json::Value,
    pub thumbprint: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct OrderView {
    pub id: String,
    pub account_id: String,
    pub status: OrderStatus,
    pub expires: DateTime<Utc>,
    pub identifiers: Vec<Identifier>,
    pub authz_ids: Vec<String>,
    pub profile: String,
    pub error: Option<ValidationFailure>,
    pub certificate_serial: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuthorizationView {
    pub id: String,
    pub account_id: String,
    pub identifier: Identifier,
    pub status: AuthzStatus,
    pub expires: DateTime<Utc>,
    pub challenges: Vec<ChallengeView>,
}

#[derive(Debug, Clone)]
pub struct ChallengeView {
    pub id: String,
    pub authz_id: String,
    pub kind: ChallengeType,
    pub status: ChallengeStatus,
    pub token: String,
    pub validated: Option<DateTime<Utc>>,
    pub error: Option<ValidationFailure>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RaError {
    RaError::Internal(format!("stored {what} is unreadable: {e}"))
}

pub(crate) fn parse_status<T: FromStr>(what: &str, s: &str) -> RaResult<T>
where
    T::Err: std::fmt::Display,
{
    T::from_str(s).map_err(|e| corrupt(what, e))
}

pub(crate) fn parse_failure(raw: &Option<String>) -> RaResult<Option<ValidationFailure>> {
    raw.as_deref()
        .map(|s| serde_json::from_str(s).map_err(|e| corrupt("error", e)))
        .transpose()
}

impl AccountView {
    pub(crate) fn from_model(m: &account::Model) -> RaResult<AccountView> {
        Ok(AccountView {
            id: m.id.clone(),
            status: parse_status("account status", &m.status)?,
            contact: serde_json::from_str(&m.contact).map_err(|e| corrupt("contact", e))?,
            jwk: serde_json::from_str(&m.jwk).map_err(|e| corrupt("jwk", e))?,
            thumbprint: m.key_thumbprint.clone(),
            created_at: m.created_at,
        })
    }
}

impl OrderView {
    pub(crate) fn from_model(m: &order::Model, authz_ids: Vec<String>) -> RaResult<OrderView> {
        Ok(OrderView {
            id: m.id.clone(),
            account_id: m.account_id.clone(),
            status: parse_status("order status", &m.status)?,
            expires: m.expires,
            identifiers: serde_json::from_str(&m.identifiers)
                .map_err(|e| corrupt("identifiers", e))?,
            authz_ids,
            profile: m.profile.clone(),
            error: parse_failure(&m.error)?,
            certificate_serial: m.certificate_serial.clone(),
        })
    }
}

impl ChallengeView {
    pub(crate) fn from_model(m: &challenge::Model) -> RaResult<ChallengeView> {
        Ok(ChallengeView {
            id: m.id.clone(),
            authz_id: m.authz_id.clone(),
            kind: parse_status("challenge type", &m.kind)?,
            status: parse_status("challenge status", &m.status)?,
            token: m.token.clone(),
            validated: m.validated,
            error: parse_failure(&m.error)?,
        })
    }
}

impl AuthorizationView {
    pub(crate) fn from_models(
        m: &authorization::Model,
        challenges: &[challenge::Model],
    ) -> RaResult<AuthorizationView> {
        let status: AuthzStatus = parse_status("authorization status", &m.status)?;
        // RFC 8555 7.1.4: a valid authorization lists only the challenge that validated it.
        let challenges = challenges
            .iter()
            .filter(|c| status != AuthzStatus::Valid || c.status == "valid")
            .map(ChallengeView::from_model)
            .collect::<RaResult<Vec<_>>>()?;
        Ok(AuthorizationView {
            id: m.id.clone(),
            account_id: m.account_id.clone(),
            identifier: Identifier::dns(m.identifier.clone()),
            status,
            expires: m.expires,
            challenges,
        })
    }
}
