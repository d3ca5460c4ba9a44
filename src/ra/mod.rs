//! The registration authority: the ACME workflow (RFC 8555 7): accounts, orders,
//! authorizations, challenges, finalize and revocation. Owns every state transition and
//! writes each with its audit event in one transaction (DESIGN invariant 4).
//! Owns: workflow. Must not touch: HTTP (acme), SQL (storage queries only), crypto details
//! (issuance), network validation (validation).

mod accounts;
mod authz;
mod caa_recheck;
#[cfg(test)]
mod caa_recheck_tests;
mod issuance;
pub mod keys;
mod orders;
pub mod organizations;
mod profiles;
mod recovery;
mod revoke;
pub mod revoke_admin;
pub mod revoke_write;
mod views;

pub use accounts::{NewAccount, NewAccountOutcome};
pub use orders::check_identifiers;
pub use revoke::{RevocationRequester, RevokeRequest};
pub use views::{AccountView, AuthorizationView, ChallengeView, OrderView};

use crate::audit::{self, Actor};
use crate::config::Config;
use crate::core::{Clock, Identifier};
use crate::issuance::CertificateAuthority;
use crate::metrics::Metrics;
use crate::storage::{Storage, StorageError};
use crate::validation::Validator;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// One refused identifier of a newOrder (an RFC 8555 6.7.1 subproblem).
#[derive(Debug, Clone)]
pub struct IdentifierRefusal {
    pub identifier: Identifier,
    /// Safe to show the subscriber: names the identifier and the rule.
    pub detail: String,
    /// The identifier type is not one ACME-for-this-CA knows (`unsupportedIdentifier`),
    /// rather than a known type the policy refuses (`rejectedIdentifier`), RFC 8555 6.7.
    pub unsupported: bool,
}

/// Errors in ACME vocabulary, without HTTP: `acme::problem` is the one place that maps these
/// to problem documents (DESIGN invariant 7).
#[derive(Debug, thiserror::Error)]
pub enum RaError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AccountDoesNotExist(String),
    /// The account is deactivated or revoked: its key authorizes nothing (RFC 8555 7.3.6).
    #[error("{0}")]
    AccountNotValid(String),
    #[error("{0}")]
    OrderNotReady(String),
    #[error("{0}")]
    BadCsr(String),
    /// An account key refused after JWS parsing, e.g. a blocked key (RFC 8555 6.7).
    #[error("{0}")]
    BadPublicKey(String),
    #[error("{detail}")]
    RejectedIdentifier {
        detail: String,
        /// Per-identifier reasons (RFC 8555 6.7.1 subproblems).
        subproblems: Vec<IdentifierRefusal>,
    },
    #[error("{0}")]
    InvalidContact(String),
    #[error("{0}")]
    UnsupportedContact(String),
    #[error("{detail}")]
    UserActionRequired { detail: String, instance: String },
    #[error("{0}")]
    BadRevocationReason(String),
    #[error("{0}")]
    AlreadyRevoked(String),
    #[error("{0}")]
    InvalidProfile(String),
    /// CAA forbids issuance (RFC 8659, BR 3.2.2.8); the detail names the name and record.
    #[error("{0}")]
    Caa(String),
    /// The new key of a keyChange already belongs to another account (RFC 8555 7.3.5).
    #[error("{detail}")]
    Conflict { detail: String, account_id: String },
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("internal: {0}")]
    Internal(String),
}

pub type RaResult<T> = Result<T, RaError>;

/// The RA and the services it orchestrates.
pub struct Ra {
    pub(crate) storage: Storage,
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) validator: Arc<Validator>,
    pub(crate) ca: Arc<CertificateAuthority>,
    pub(crate) metrics: Arc<Metrics>,
    /// `revocation::issuer_id` of the issuing CA, stored with every serial.
    pub(crate) issuer_id: String,
    /// Bumped after every revocation this process commits, so the OCSP pre-signer can act
    /// at once (other processes' revocations reach it by polling).
    pub(crate) revocations: tokio::sync::watch::Sender<u64>,
    /// Background work (validations, issuance), awaited on graceful shutdown.
    pub(crate) tasks: TaskTracker,
    /// Orders and challenges a task of this process works on (`recovery::InFlight`): the
    /// running server's recovery sweep leaves them alone.
    pub(crate) in_flight: recovery::InFlight,
}

impl Ra {
    pub fn new(
        storage: Storage,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        validator: Arc<Validator>,
        ca: Arc<CertificateAuthority>,
        metrics: Arc<Metrics>,
    ) -> Arc<Ra> {
        Arc::new(Ra {
            storage,
            config,
            clock,
            validator,
            issuer_id: crate::revocation::issuer_id(ca.issuer()),
            revocations: tokio::sync::watch::Sender::new(0),
            ca,
            metrics,
            tasks: TaskTracker::new(),
            in_flight: recovery::InFlight::default(),
        })
    }

    pub fn ca(&self) -> &Arc<CertificateAuthority> {
        &self.ca
    }

    /// Changes after every revocation this process commits.
    pub fn revocation_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revocations.subscribe()
    }

    pub fn issuer_id(&self) -> &str {
        &self.issuer_id
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Wait (up to `grace`) for background validations and issuances to finish.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                pending = self.tasks.len(),
                "background work still running at shutdown; it will be recovered on next start"
            );
        }
    }

    /// Append an audit event inside `txn`.
    pub(crate) async fn audit<C: sea_orm::ConnectionTrait>(
        &self,
        txn: &C,
        actor: &Actor,
        event: &str,
        details: serde_json::Value,
    ) -> RaResult<()> {
        audit::append(txn, self.clock.now(), actor, event, details).await?;
        Ok(())
    }
}
