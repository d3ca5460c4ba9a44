//! The CRL publisher: a background task of `hanko serve` that, every `crl.poll_seconds`,
//! signs each due shard (schedule::due) and keeps the publication directory in step with the
//! database (a shard another process signed is exported here too).

use super::{CrlError, CrlSigner, Outcome};
use crate::metrics::Metrics;
use crate::storage::queries as q;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Run until `stopping` is cancelled.
pub async fn run(
    signer: Arc<CrlSigner>,
    metrics: Arc<Metrics>,
    poll: Duration,
    stopping: tokio_util::sync::CancellationToken,
) {
    let mut exported: HashMap<i32, i64> = HashMap::new();
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopping.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = poll_once(&signer, &metrics, &mut exported).await {
            tracing::error!(error = %e, "CRL publisher poll failed; retrying next poll");
        }
    }
}

/// One pass: sign what is due, export what is newer than the file, update the gauges.
pub async fn poll_once(
    signer: &CrlSigner,
    metrics: &Metrics,
    exported: &mut HashMap<i32, i64>,
) -> Result<(), CrlError> {
    let states = q::crl_shard_states(signer.storage().reader(), signer.issuer_id()).await?;
    let now = signer.clock.now();
    for shard in signer.shard_list().await? {
        let state = states.iter().find(|s| s.shard as i64 == i64::from(shard));
        if signer.due(state, now).await?.is_none() {
            continue;
        }
        match signer.generate(shard, false).await {
            Ok(Outcome::Signed(s)) => {
                exported.insert(shard as i32, s.crl_number);
            }
            Ok(Outcome::Busy | Outcome::NotDue) => {}
            // One shard failing (e.g. the HSM briefly away) must not stop the others.
            Err(e) => tracing::error!(shard, error = %e, "CRL generation failed"),
        }
    }
    let states = q::crl_shard_states(signer.storage().reader(), signer.issuer_id()).await?;
    for state in &states {
        if state.this_update.is_none() {
            continue;
        }
        let labels = crate::metrics::ShardLabels {
            shard: state.shard.to_string(),
        };
        if let Some(t) = state.this_update {
            metrics
                .crl_age_seconds
                .get_or_create(&labels)
                .set((now - t).num_seconds().max(0));
        }
        metrics
            .crl_entries
            .get_or_create(&labels)
            .set(state.entries);
        if exported.get(&state.shard).copied().unwrap_or(0) < state.crl_number {
            export(signer, state.shard, exported).await?;
        }
    }
    Ok(())
}

/// Copy a shard signed elsewhere (another process, `admin crl regenerate`, or before this
/// process started) from the database to the publication directory.
async fn export(
    signer: &CrlSigner,
    shard: i32,
    exported: &mut HashMap<i32, i64>,
) -> Result<(), CrlError> {
    let Some(row) = q::crl_shard(signer.storage().reader(), signer.issuer_id(), shard).await?
    else {
        return Ok(());
    };
    let (Some(der), Ok(shard_u)) = (row.der, u32::try_from(shard)) else {
        return Ok(());
    };
    super::write_atomically(signer.publish_dir(), shard_u, &der)?;
    exported.insert(shard, row.crl_number);
    Ok(())
}
