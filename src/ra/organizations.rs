//! Vetted organisations and their ACME accounts (CP 3.2.2.1, 3.2.5): the identity an OV
//! certificate's subject carries comes from here, never from the CSR, and only while the
//! vetting is younger than the dated reuse limit (BR 4.2.1: 398 days from 2026-03-15).
//! Operators create organisations and bind accounts with `hanko admin org …`.

use super::{Ra, RaError, RaResult};
use crate::audit::{self, Actor};
use crate::issuance::OrganizationSubject;
use crate::policy::dated;
use crate::storage::entities::organization;
use crate::storage::queries as q;
use crate::storage::{Storage, StorageError};
use chrono::{DateTime, Utc};
use serde_json::json;

/// What an RA officer records after vetting an organisation.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub legal_name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub state: String,
    pub locality: String,
    /// The source the identity was verified against (CP 3.2.2.1).
    pub source: String,
    pub vetted_at: DateTime<Utc>,
}

/// Record a vetted organisation (audited). Returns its id.
pub async fn create_organization(
    storage: &Storage,
    actor: &Actor,
    org: NewOrganization,
    now: DateTime<Utc>,
) -> RaResult<String> {
    let bad = |m: &str| Err(RaError::Malformed(m.to_string()));
    if org.country.len() != 2 || !org.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return bad("country must be an ISO 3166-1 alpha-2 code such as JP");
    }
    for (what, value) in [
        ("legal name", &org.legal_name),
        ("state", &org.state),
        ("locality", &org.locality),
        ("source", &org.source),
    ] {
        // RFC 5280 upper bounds are 64 (O) and 128 (ST, L); keep to the tighter one.
        if value.trim().is_empty() || value.chars().count() > 64 {
            return Err(RaError::Malformed(format!(
                "{what} must be 1 to 64 characters"
            )));
        }
    }
    if org.vetted_at > now {
        return bad("vetted-at is in the future");
    }
    let id = crate::core::random_id();
    let txn = storage.begin().await?;
    q::insert_organization(
        &txn,
        organization::Model {
            id: id.clone(),
            legal_name: org.legal_name.clone(),
            country: org.country.clone(),
            state: org.state.clone(),
            locality: org.locality.clone(),
            source: org.source.clone(),
            vetted_at: org.vetted_at,
            created_at: now,
        },
    )
    .await?;
    audit::append(
        &txn,
        now,
        actor,
        "organization.vetted",
        json!({"organization": id, "legal_name": org.legal_name, "country": org.country,
               "state": org.state, "locality": org.locality, "source": org.source,
               "vetted_at": org.vetted_at}),
    )
    .await?;
    txn.commit().await.map_err(StorageError::from)?;
    Ok(id)
}

/// Bind an ACME account to a vetted organisation (audited).
pub async fn bind_account(
    storage: &Storage,
    actor: &Actor,
    account_id: &str,
    organization_id: &str,
    now: DateTime<Utc>,
) -> RaResult<()> {
    let txn = storage.begin().await?;
    q::organization(&txn, organization_id)
        .await?
        .ok_or_else(|| RaError::NotFound(format!("no organisation {organization_id}")))?;
    let mut account = q::account(&txn, account_id)
        .await?
        .ok_or_else(|| RaError::NotFound(format!("no account {account_id}")))?;
    let previous = account.organization_id.replace(organization_id.to_string());
    q::update_account(&txn, account).await?;
    audit::append(
        &txn,
        now,
        actor,
        "organization.account_bound",
        json!({"organization": organization_id, "account": account_id, "previous": previous}),
    )
    .await?;
    txn.commit().await.map_err(StorageError::from)?;
    Ok(())
}

impl Ra {
    /// The OV subject identity for `account_id`, refusing when the account has no vetted
    /// organisation or its vetting is older than the dated reuse limit.
    pub(crate) async fn organization_subject(
        &self,
        account_id: &str,
    ) -> RaResult<OrganizationSubject> {
        let c = self.storage.reader();
        let not_permitted = |why: String| RaError::Unauthorized(why);
        let account = q::account(c, account_id)
            .await?
            .ok_or_else(|| RaError::AccountDoesNotExist(format!("no account {account_id}")))?;
        let org_id = account.organization_id.ok_or_else(|| {
            not_permitted(
                "this account is not bound to a vetted organisation, so it cannot use an OV \
                 profile; ask the CA's RA to vet your organisation"
                    .to_string(),
            )
        })?;
        let org = q::organization(c, &org_id)
            .await?
            .ok_or_else(|| RaError::Internal(format!("organisation {org_id} vanished")))?;
        let now = self.clock.now();
        let max_days = i64::from(dated::max_ov_identity_reuse_days(now));
        if now - org.vetted_at > chrono::Duration::days(max_days) {
            return Err(not_permitted(format!(
                "the vetting of your organisation ({}) is older than {max_days} days and \
                 must be renewed before OV issuance (BR 4.2.1)",
                org.vetted_at.format("%Y-%m-%d")
            )));
        }
        Ok(OrganizationSubject {
            country: org.country,
            state: org.state,
            locality: org.locality,
            organization: org.legal_name,
        })
    }
}
