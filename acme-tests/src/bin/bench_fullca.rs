//! The full-pipeline CA for scripts/bench-peers.sh, prepared once per benchmark run: a
//! SoftHSM2 token with keys from `hanko ceremony` (root P-384, issuing CA P-256), the pkilint
//! settings, three local RFC 6962 test logs of three operators (acme-tests/src/ctlog.rs),
//! a validating Unbound (DNSSEC, SC-085) and five remote perspectives (BR 3.2.2.9),
//! all exactly as `FullCa` sets them up for the suite and scripts/bench-pipeline.sh.
//!
//! It writes `<out>/fullca.env` — `export HANKO_…='…'` lines for `hanko serve`, plus
//! `BENCH_FULLCA_DATA` (the data directory the ceremonies wrote; the script copies it per
//! round so each server starts fresh) and `BENCH_FULLCA_TRUST` (the listener's CA, for
//! hanko-load's `--ca-bundle`) — prints `ready` and then serves the CT logs until SIGTERM
//! or SIGINT, when it removes the token and directories. The script starts `hanko serve`
//! itself so that it can sample that process's /proc figures.
//!
//! Usage: bench_fullca --out DIR   (`$HANKO_BIN` is the hanko that does the ceremonies)

use acme_tests::fullca::{FullCa, Hierarchy, LogSpec};
use anyhow::{bail, Context, Result};
use std::fmt::Write;
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};

fn out_dir() -> Result<PathBuf> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next(), args.next()) {
        (Some("--out"), Some(dir), None) => Ok(PathBuf::from(dir)),
        _ => bail!("usage: bench_fullca --out DIR"),
    }
}

/// Single-quoted for sh: `'` becomes `'\''`.
fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let out = out_dir()?;
    let logs = LogSpec::three_operators();
    // Signal handlers first: a SIGTERM during the ceremonies must still drop `FullCa`.
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    eprintln!("bench_fullca: SoftHSM2 token, ceremonies, 3 CT logs …");
    let ca = FullCa::prepare(Hierarchy::Ecdsa, &logs).await?;
    let mut env = String::new();
    for (key, value) in ca.env(&logs) {
        writeln!(env, "export {key}={}", sh_quote(&value))?;
    }
    let data = ca.work_dir().join("data");
    writeln!(
        env,
        "BENCH_FULLCA_DATA={}",
        sh_quote(&data.display().to_string())
    )?;
    // `FullCa::prepare` writes the listener's CA there (fullca::listener_certificate).
    let trust = ca.dir().join("listener-ca.pem");
    writeln!(
        env,
        "BENCH_FULLCA_TRUST={}",
        sh_quote(&trust.display().to_string())
    )?;
    // hanko's resolver (the validating Unbound; the five perspectives resolve through it
    // too) and the validation ports the perspectives connect to: the script must give
    // hanko-load's http-01 responder that port.
    let (http01, tlsalpn01) = ca.validation_ports();
    writeln!(env, "BENCH_FULLCA_RESOLVER={}", ca.unbound.addr())?;
    writeln!(env, "BENCH_FULLCA_HTTP01_PORT={http01}")?;
    writeln!(env, "BENCH_FULLCA_TLSALPN01_PORT={tlsalpn01}")?;
    std::fs::create_dir_all(&out)?;
    let path = out.join("fullca.env");
    std::fs::write(&path, env).with_context(|| format!("writing {}", path.display()))?;
    println!("ready {}", path.display());
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    drop(ca);
    Ok(())
}
