//! `hanko admin block-key` (CP 4.9.12).

use super::InputError;
use crate::audit::Actor;
use crate::config::Config;
use crate::core::{Clock, SystemClock};
use std::path::Path;

/// `admin block-key`: the file is read before the database is opened, so a bad file
/// changes nothing.
pub(super) async fn block_key(
    config: &Config,
    file: &Path,
    reason: &str,
    operator: &str,
) -> anyhow::Result<()> {
    let pem = std::fs::read(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    let spki = crate::issuance::keyfile::public_key_from_pem(&pem)
        .map_err(|e| InputError(format!("{}: {e}", file.display())))?;
    let storage = crate::bootstrap::open(config).await?;
    let actor = Actor::Operator(operator.to_string());
    let now = SystemClock.now();
    let result = crate::ra::keys::block_key(&storage, now, &spki, "admin", reason, &actor).await;
    storage.close().await;
    let hash = crate::policy::keys::key_hash(&spki);
    if result? {
        println!("key sha256 {hash}: blocked");
    } else {
        println!("key sha256 {hash}: already blocked");
    }
    Ok(())
}
