//! The entry layer's shared process wiring (like Boulder's `cmd/`): what every role needs
//! before it does its own work — storage opened and migrated, the issuer loaded (development
//! hierarchy or HSM), the issuing pipeline assembled, the key activation audited.
//! Each role is a submodule (`serve`; later `perspective`, the console); `admin/` and the
//! ceremony use the same functions.
//! Owns: process wiring. Must not touch: protocol or workflow rules. Nothing below this
//! layer (acme, ra, policy, validation, issuance, revocation, storage, audit) may use it
//! (`tests::lower_layers_do_not_reach_up`).

pub mod perspective;
pub mod serve;

use crate::config::Config;
use crate::core::{Clock, SystemClock};
use crate::issuance::{devca, CertificateAuthority, Issuer};
use crate::storage::Storage;
use anyhow::Context;
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// Open the database (creating the data directory) and apply any pending migrations:
/// every process of every role runs on the current schema.
pub async fn open(config: &Config) -> anyhow::Result<Storage> {
    let dir = &config.storage.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    let storage = Storage::connect(&config.database_url(), config.storage.max_connections)
        .await
        .context("connecting to the database (storage.url)")?;
    storage.migrate().await.context("running migrations")?;
    Ok(storage)
}

/// The issuing CA: the development hierarchy, or the HSM-backed issuer of `ca.issuer`.
pub struct IssuerSetup {
    pub issuer: Issuer,
    /// Present only for the development hierarchy (it can also mint the listener's
    /// certificate).
    pub hierarchy: Option<devca::DevHierarchy>,
    /// For the start-up log line.
    pub description: String,
}

pub async fn issuer_setup(config: &Arc<Config>) -> anyhow::Result<IssuerSetup> {
    if config.ca.dev_hierarchy {
        let hierarchy = devca::load_or_create(&config.storage.data_dir)
            .context("loading the development CA hierarchy")?;
        if hierarchy.created {
            tracing::warn!(root = %hierarchy.root_path.display(),
                "created a DEVELOPMENT CA hierarchy with software keys: not for production");
        }
        return Ok(IssuerSetup {
            issuer: hierarchy.intermediate.clone(),
            description: format!("development root {}", hierarchy.root_path.display()),
            hierarchy: Some(hierarchy),
        });
    }
    // Opening the token and logging in block: keep them off the async workers.
    let for_hsm = Arc::clone(config);
    let issuer = tokio::task::spawn_blocking(move || Issuer::from_hsm(&for_hsm.ca, &for_hsm.hsm))
        .await
        .context("opening the HSM")?
        .context("loading the HSM-backed issuer (ca.issuer, [hsm])")?;
    let key_label = config
        .ca
        .issuer
        .as_ref()
        .map(|i| i.key_label.clone())
        .unwrap_or_default();
    Ok(IssuerSetup {
        issuer,
        hierarchy: None,
        description: format!(
            "HSM key {key_label:?} on token {:?}",
            config.hsm.token_label
        ),
    })
}

/// The issuing CA with its pre-issuance linter (CP 4.3.1.2) and CT logs (CP 4.4.2), refusing
/// to start a publicly-trusted profile without an HSM key, a linter and enough CT logs.
pub fn issuer_pipeline(config: &Config, issuer: Issuer) -> anyhow::Result<CertificateAuthority> {
    use crate::issuance::{ct::CtSubmitter, lint::Linter};
    let linter = Linter::start(&config.lint).context("starting the linter (lint.*)")?;
    if linter.is_enabled() {
        tracing::info!(linter = %linter.name(), "pre-issuance linting enabled");
    } else {
        tracing::warn!("pre-issuance linting is OFF (lint.linter = \"none\"): development only");
    }
    let ct = Arc::new(CtSubmitter::new(&config.ct).context("CT logs (ct.logs)")?);
    let operators: std::collections::BTreeSet<&str> =
        config.ct.logs.iter().map(|l| l.operator.as_str()).collect();
    let ct_ready = ct.is_enabled() && operators.len() >= config.ct.min_distinct_operators;
    if ct.is_enabled() && !ct_ready {
        anyhow::bail!(
            "ct.logs: {} distinct operators configured, but ct.min_distinct_operators = {}",
            operators.len(),
            config.ct.min_distinct_operators
        );
    }
    let linter_enabled = linter.is_enabled();
    let ca = CertificateAuthority::new(&config.ca, issuer)?
        .with_linter(linter)
        .with_ct(ct);
    ca.check_publicly_trusted(linter_enabled, ct_ready)?;
    Ok(ca)
}

/// CPS 6.2 / REQUIREMENTS §6: every CA key event is audited, activation included — each
/// start of a role that signs logs in to the HSM and puts the issuing key to use.
pub async fn audit_key_activation(storage: &Storage, setup: &IssuerSetup) -> anyhow::Result<()> {
    let spki = setup.issuer.signer.public_key_der();
    let details = serde_json::json!({
        "issuer": setup.description,
        "hardware_backed": setup.issuer.signer.is_hardware_backed(),
        "spki_sha256": crate::policy::keys::key_hash(&spki),
    });
    let txn = storage.begin().await?;
    crate::audit::append(
        &txn,
        SystemClock.now(),
        &crate::audit::Actor::System,
        "ca.key_activated",
        details,
    )
    .await?;
    txn.commit()
        .await
        .map_err(crate::storage::StorageError::from)?;
    Ok(())
}
