//! The DNS fault: the test BIND9 (the resolver hanko's validation uses) stopped, confirmed
//! silent, then started again on the same port with the same configuration and zones
//! (`Bind9::stop` / `Bind9::start_again`).

use crate::bind9::Bind9;
use anyhow::{ensure, Result};

/// Stop named and confirm it no longer answers for the test zone.
pub async fn stop(bind: &mut Bind9) -> Result<()> {
    bind.stop().await?;
    let answer = bind.query(crate::rig::ZONE, "SOA").await;
    ensure!(
        !answer.is_ok_and(|a| !a.is_empty()),
        "named still answers after it was stopped"
    );
    Ok(())
}

/// Start named again; returns when the zones answer.
pub async fn start(bind: &mut Bind9) -> Result<()> {
    bind.start_again().await
}
