//! `hanko-faults`: faults under load (see `acme_tests::faults`, docs/FAULTS.md).
//!
//!   hanko-faults --subscribers 8 --hold 8 --calm 20 --out target/faults
//!
//! Exits non-zero when an invariant failed (after printing the figures).

use anyhow::{bail, Result};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<()> {
    let args = acme_tests::faults::Args::parse();
    let run = acme_tests::faults::run(&args).await?;
    print!("{}", acme_tests::faults::report::render(&run));
    if !run.ok() {
        bail!("an invariant failed under faults (see the checks above)");
    }
    Ok(())
}
