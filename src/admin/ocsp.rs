//! `hanko admin ocsp refresh [--all]`: re-sign due OCSP responses (or every stored one)
//! from a separate process on the same database and issuer key as `hanko serve`.

use crate::config::Config;
use crate::core::SystemClock;
use crate::metrics::Metrics;
use crate::revocation::ocsp::presign::Scope;
use crate::revocation::ocsp::Ocsp;
use clap::Subcommand;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum OcspCommand {
    /// Sign responses that are missing, behind a revocation or due for refresh; with
    /// `--all`, every stored response too.
    Refresh {
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(config: &Config, command: OcspCommand) -> anyhow::Result<()> {
    let OcspCommand::Refresh { all } = command;
    let config = Arc::new(config.clone());
    let issuer = crate::bootstrap::issuer_setup(&config).await?.issuer;
    let storage = crate::bootstrap::open(&config).await?;
    let ocsp = Ocsp::new(
        storage.clone(),
        config.clone(),
        issuer,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )?;
    let scope = if all { Scope::All } else { Scope::Due };
    let bar = match ocsp.pending(scope).await? {
        0 => indicatif::ProgressBar::new_spinner(),
        n => indicatif::ProgressBar::new(n),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("OCSP responses signed");
    let tick = |n: u64| bar.inc(n);
    let result = match scope {
        Scope::All => ocsp.refresh_all(&tick).await,
        Scope::Due => ocsp.presign_pass(&tick).await,
    };
    bar.finish();
    storage.close().await;
    let signed = result?;
    println!("signed {signed} OCSP responses");
    Ok(())
}
