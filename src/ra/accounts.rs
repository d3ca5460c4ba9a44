//! Accounts (RFC 8555 7.3): creation with terms agreement (CP 9.6.3), lookup, contact
//! update, deactivation and key rollover.

use super::views::AccountView;
use super::{Ra, RaError, RaResult};
use crate::acme::jws::AccountKey;
use crate::audit::Actor;
use crate::core::{random_id, AccountStatus, Identifier};
use crate::policy::names;
use crate::storage::entities::account;
use crate::storage::queries as q;
use serde_json::json;

pub struct NewAccount {
    pub key: AccountKey,
    pub contact: Option<Vec<String>>,
    pub terms_agreed: bool,
    pub only_return_existing: bool,
}

pub enum NewAccountOutcome {
    Created(AccountView),
    /// The key already has an account (RFC 8555 7.3.1: 200 with its Location).
    Existing(AccountView),
}

impl Ra {
    pub async fn new_account(&self, req: NewAccount) -> RaResult<NewAccountOutcome> {
        // A reported-compromised key gets nothing, not even its existing account (CP 4.9.12).
        self.ensure_key_not_blocked(&req.key.spki_der).await?;
        let existing = q::account_by_thumbprint(self.storage.reader(), &req.key.thumbprint).await?;
        if let Some(existing) = existing {
            let view = AccountView::from_model(&existing)?;
            // RFC 8555 7.3.6: a deactivated account's key authorizes nothing, newAccount
            // included.
            if view.status != AccountStatus::Valid {
                return Err(RaError::AccountNotValid(format!(
                    "account is {}",
                    view.status
                )));
            }
            return Ok(NewAccountOutcome::Existing(view));
        }
        if req.only_return_existing {
            return Err(RaError::AccountDoesNotExist(
                "no account exists for this key".to_string(),
            ));
        }
        if !req.terms_agreed {
            return Err(RaError::UserActionRequired {
                detail: "you must agree to the terms of service (termsOfServiceAgreed: true)"
                    .to_string(),
                instance: self.config.acme.terms_of_service.clone(),
            });
        }
        let contact = self.check_contacts(req.contact.unwrap_or_default())?;
        let now = self.clock.now();
        let model = account::Model {
            id: random_id(),
            key_thumbprint: req.key.thumbprint.clone(),
            jwk: req.key.jwk.to_string(),
            contact: json!(contact).to_string(),
            status: AccountStatus::Valid.as_str().to_string(),
            terms_version: self.config.acme.terms_version.clone(),
            terms_agreed_at: now,
            created_at: now,
            organization_id: None,
        };
        let txn = self.storage.begin().await?;
        q::insert_account(&txn, model.clone()).await?;
        self.audit(
            &txn,
            &Actor::Account(model.id.clone()),
            "account.created",
            json!({
                "account": model.id,
                "key_thumbprint": model.key_thumbprint,
                "contact": contact,
                "terms_version": model.terms_version,
                "terms_agreed_at": now,
            }),
        )
        .await?;
        txn.commit()
            .await
            .map_err(crate::storage::StorageError::from)?;
        tracing::info!(account = %model.id, "account created");
        Ok(NewAccountOutcome::Created(AccountView::from_model(&model)?))
    }

    /// The account a `kid` names, if it exists (any status).
    pub async fn account(&self, id: &str) -> RaResult<AccountView> {
        let m = q::account(self.storage.reader(), id)
            .await?
            .ok_or_else(|| RaError::AccountDoesNotExist(format!("account {id} does not exist")))?;
        AccountView::from_model(&m)
    }

    /// Update contacts and/or deactivate (RFC 8555 7.3.2, 7.3.6).
    pub async fn update_account(
        &self,
        id: &str,
        contact: Option<Vec<String>>,
        deactivate: bool,
    ) -> RaResult<AccountView> {
        let txn = self.storage.begin().await?;
        let mut m = q::account(&txn, id)
            .await?
            .ok_or_else(|| RaError::AccountDoesNotExist(format!("account {id} does not exist")))?;
        let mut changes = serde_json::Map::new();
        if let Some(contact) = contact {
            let contact = self.check_contacts(contact)?;
            m.contact = json!(contact).to_string();
            changes.insert("contact".to_string(), json!(contact));
        }
        if deactivate {
            let from: AccountStatus = super::views::parse_status("account status", &m.status)?;
            let to = from
                .transition(AccountStatus::Deactivated)
                .map_err(|e| RaError::Unauthorized(e.to_string()))?;
            m.status = to.as_str().to_string();
            changes.insert("status".to_string(), json!(to.as_str()));
        }
        if !changes.is_empty() {
            q::update_account(&txn, m.clone()).await?;
            changes.insert("account".to_string(), json!(id));
            let event = if deactivate {
                "account.deactivated"
            } else {
                "account.updated"
            };
            self.audit(&txn, &Actor::Account(id.to_string()), event, changes.into())
                .await?;
        }
        txn.commit()
            .await
            .map_err(crate::storage::StorageError::from)?;
        AccountView::from_model(&m)
    }

    /// Replace the account key (RFC 8555 7.3.5). The caller has verified both signatures and
    /// that `old_thumbprint` is the inner JWS's oldKey.
    pub async fn key_change(
        &self,
        id: &str,
        old_thumbprint: &str,
        new_key: &AccountKey,
    ) -> RaResult<AccountView> {
        self.ensure_key_not_blocked(&new_key.spki_der).await?;
        let txn = self.storage.begin().await?;
        let mut m = q::account(&txn, id)
            .await?
            .ok_or_else(|| RaError::AccountDoesNotExist(format!("account {id} does not exist")))?;
        if m.key_thumbprint != old_thumbprint {
            return Err(RaError::Malformed(
                "oldKey is not the account's current key".to_string(),
            ));
        }
        if let Some(other) = q::account_by_thumbprint(&txn, &new_key.thumbprint).await? {
            return Err(RaError::Conflict {
                detail: "the new key is already in use by another account".to_string(),
                account_id: other.id,
            });
        }
        m.key_thumbprint = new_key.thumbprint.clone();
        m.jwk = new_key.jwk.to_string();
        q::update_account(&txn, m.clone()).await?;
        self.audit(
            &txn,
            &Actor::Account(id.to_string()),
            "account.key_changed",
            json!({"account": id, "old_thumbprint": old_thumbprint, "new_thumbprint": new_key.thumbprint}),
        )
        .await?;
        txn.commit()
            .await
            .map_err(crate::storage::StorageError::from)?;
        AccountView::from_model(&m)
    }

    /// RFC 8555 7.3: only `mailto:` contacts, one plain address each, no header fields.
    fn check_contacts(&self, contacts: Vec<String>) -> RaResult<Vec<String>> {
        if contacts.len() > self.config.acme.max_contacts {
            return Err(RaError::InvalidContact(format!(
                "at most {} contacts are allowed",
                self.config.acme.max_contacts
            )));
        }
        for c in &contacts {
            let Some(address) = c.strip_prefix("mailto:") else {
                return Err(RaError::UnsupportedContact(format!(
                    "contact {c:?}: only mailto: URLs are supported"
                )));
            };
            check_email(address).map_err(|why| {
                RaError::InvalidContact(format!(
                    "contact {c:?} is not a valid email address: {why}"
                ))
            })?;
        }
        Ok(contacts)
    }
}

fn check_email(address: &str) -> Result<(), String> {
    if address.contains(['?', ',', '%', ' ', '<', '>']) || !address.is_ascii() {
        return Err("use one plain address without header fields or encoding".to_string());
    }
    let (local, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| "missing @".to_string())?;
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return Err("bad local part".to_string());
    }
    names::check_identifier(&Identifier::dns(domain.to_ascii_lowercase())).map_err(|e| e.detail)
}
