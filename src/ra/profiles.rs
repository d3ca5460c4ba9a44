//! Versioned certificate profiles (CP 7.1): a profile, once introduced, never changes under
//! its name. `sync_profiles` runs at start: new names are introduced, names gone from the
//! configuration are retired, and a changed profile under a known name stops the start —
//! the operator gives the new version a new name. Each introduction and retirement is audited.

use super::{Ra, RaError, RaResult};
use crate::audit::Actor;
use crate::config::ProfileConfig;
use crate::storage::entities::profile;
use crate::storage::queries as q;
use crate::storage::StorageError;
use serde_json::json;
use sha2::{Digest, Sha256};

/// What the certificates of a profile depend on, as canonical JSON. The description is
/// only prose shown in the directory, so editing it is not a new version.
pub(crate) fn profile_fingerprint(profile: &ProfileConfig) -> RaResult<(String, String)> {
    let mut shape = profile.clone();
    shape.description = String::new();
    let canonical = serde_json::to_string(&shape)
        .map_err(|e| RaError::Internal(format!("profile serialisation: {e}")))?;
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    Ok((hash, canonical))
}

impl Ra {
    /// Reconcile the configured profiles with those recorded (see the module comment).
    pub async fn sync_profiles(&self) -> RaResult<()> {
        let now = self.clock.now();
        let txn = self.storage.begin().await?;
        let known = q::profiles(&txn).await?;
        for (name, config) in &self.config.ca.profiles {
            let (hash, canonical) = profile_fingerprint(config)?;
            match known.iter().find(|p| &p.name == name) {
                Some(p) if p.config_hash != hash => {
                    return Err(RaError::Internal(format!(
                        "profile {name:?} differs from the version introduced at {} \
                         (recorded settings: {}); a profile in use cannot change: give the \
                         new version a new name (e.g. \"{name}-2\") and remove this one to \
                         retire it (CP 7.1)",
                        p.introduced_at, p.config
                    )));
                }
                Some(p) if p.retired_at.is_some() => {
                    let mut m = p.clone();
                    m.retired_at = None;
                    q::update_profile(&txn, m).await?;
                    self.audit(
                        &txn,
                        &Actor::System,
                        "profile.reintroduced",
                        json!({"profile": name, "config_sha256": hash}),
                    )
                    .await?;
                }
                Some(_) => {}
                None => {
                    q::insert_profile(
                        &txn,
                        profile::Model {
                            name: name.clone(),
                            config_hash: hash.clone(),
                            config: canonical.clone(),
                            introduced_at: now,
                            retired_at: None,
                        },
                    )
                    .await?;
                    self.audit(
                        &txn,
                        &Actor::System,
                        "profile.introduced",
                        json!({"profile": name, "config_sha256": hash, "config": canonical}),
                    )
                    .await?;
                    tracing::info!(profile = %name, "certificate profile introduced");
                }
            }
        }
        for p in known.iter().filter(|p| p.retired_at.is_none()) {
            if !self.config.ca.profiles.contains_key(&p.name) {
                let mut m = p.clone();
                m.retired_at = Some(now);
                q::update_profile(&txn, m).await?;
                self.audit(
                    &txn,
                    &Actor::System,
                    "profile.retired",
                    json!({"profile": p.name, "config_sha256": p.config_hash}),
                )
                .await?;
                tracing::info!(profile = %p.name, "certificate profile retired");
            }
        }
        txn.commit().await.map_err(StorageError::from)?;
        Ok(())
    }
}
