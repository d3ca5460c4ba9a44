//! `hanko admin crl regenerate [--shard N]`: a separate process on the server's database and
//! issuer key, signing under the same leases and numbering as the publisher.

use crate::audit::Actor;
use crate::config::Config;
use crate::core::SystemClock;
use crate::revocation::crl::{CrlSigner, Outcome};
use clap::Subcommand;
use std::sync::Arc;

/// Shards at or above this count get a progress bar.
const PROGRESS_FROM: usize = 4;

#[derive(Subcommand)]
pub enum CrlCommand {
    /// Sign the shards again now, under the same leases and numbering as `hanko serve`
    /// (safe while servers run on the same database).
    Regenerate {
        /// Only this shard; every shard (0..crl.shards and any published before) if omitted.
        #[arg(long)]
        shard: Option<u32>,
        #[arg(long, default_value = "cli")]
        operator: String,
    },
}

pub async fn regenerate(config: &Config, shard: Option<u32>, operator: &str) -> anyhow::Result<()> {
    let config = Arc::new(config.clone());
    let started = std::time::Instant::now();
    let setup = crate::bootstrap::issuer_setup(&config).await?;
    let storage = crate::bootstrap::open(&config).await?;
    let signer = CrlSigner::new(
        storage.clone(),
        &config,
        &setup.issuer,
        Arc::new(SystemClock),
    )?
    .with_actor(Actor::Operator(operator.to_string()));
    let shards = match shard {
        Some(s) => vec![s],
        None => signer.shard_list().await?,
    };
    let bar = (shards.len() >= PROGRESS_FROM).then(|| {
        let bar = indicatif::ProgressBar::new(shards.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} shards {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let outcomes = signer
        .regenerate(&shards, |o| {
            if let (Some(bar), Outcome::Signed(s)) = (&bar, o) {
                bar.set_message(format!("shard {} #{}", s.shard, s.crl_number));
            }
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        })
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    storage.close().await;
    let mut signed = 0u64;
    let mut entries = 0u64;
    for (shard, outcome) in shards.iter().zip(outcomes?.iter()) {
        match outcome {
            Outcome::Signed(s) => {
                signed += 1;
                entries += s.entries;
                println!(
                    "shard {}: CRL number {}, {} entries, {} bytes",
                    s.shard, s.crl_number, s.entries, s.der_len
                );
            }
            _ => println!("shard {shard}: busy (another process holds it), not signed"),
        }
    }
    println!(
        "signed {signed}/{} shards, {entries} entries in {:.2} s; peak RSS {} kB",
        shards.len(),
        started.elapsed().as_secs_f64(),
        peak_rss_kb().map_or_else(|| "unknown".to_string(), |k| k.to_string())
    );
    if signed < shards.len() as u64 {
        anyhow::bail!("some shards were busy; run again");
    }
    Ok(())
}

/// VmHWM of this process (Linux), for the benchmark's memory figure.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
