//! `hanko-load`: the ACME load generator (see `acme_tests::load`).
//!
//! Example, against a hanko started by scripts/load.sh:
//!   hanko-load --directory https://127.0.0.1:14000/directory --ca-bundle root.pem \
//!       --http01-port 5002 --subscribers 32 --duration 30 --csv run.csv --png run.png
//!
//! Exits non-zero when any issuance failed (after writing the report and files).

use anyhow::{bail, Result};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<()> {
    let args = acme_tests::load::Args::parse();
    let result = acme_tests::load::run(args).await?;
    print!("{}", result.report);
    if result.summary.failed > 0 {
        bail!("{} issuance(s) failed", result.summary.failed);
    }
    Ok(())
}
