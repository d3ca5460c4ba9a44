//! CRL benchmark (issue #4 "Speed"): N revoked certificates across the shards of a SQLite
//! database, then one full regeneration and signing of every shard through `hanko admin crl
//! regenerate` — the same code path (CrlSigner::regenerate) and the same binary operators
//! run. Prints wall time, the command's own figures and its peak RSS.
//!
//! Rows are inserted with the `sqlite3` CLI in one statement (a recursive CTE), so filling
//! the database is not what is measured. The issuer is the development (software) key.
//!
//! Usage: crl_bench [--entries N (1000000)] [--shards S (16)]
//! Uses the hanko of `$HANKO_BIN` (scripts/bench-crl.sh passes the release build).

use acme_tests::server::hanko_binary;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn parse_args() -> Result<(u64, u32)> {
    let (mut entries, mut shards) = (1_000_000u64, 16u32);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--entries" => entries = value.parse()?,
            "--shards" => shards = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok((entries, shards))
}

fn hanko(data: &Path, shards: u32) -> Result<Command> {
    let mut cmd = Command::new(hanko_binary()?);
    cmd.env("HANKO_STORAGE__DATA_DIR", data)
        .env("HANKO_CRL__SHARDS", shards.to_string())
        .env("HANKO_LINT__LINTER", "none")
        .env("HANKO_LOG", "warn");
    Ok(cmd)
}

fn sqlite(db: &Path, sql: &str) -> Result<String> {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .context("running sqlite3 (apt install sqlite3)")?;
    if !out.status.success() {
        bail!("sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() -> Result<()> {
    let (entries, shards) = parse_args()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // First run: creates the development CA, the database and every shard's row.
    let status = hanko(&data, shards)?
        .args(["admin", "crl", "regenerate"])
        .output()?;
    if !status.status.success() {
        bail!(
            "first regenerate: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let db = data.join("hanko.db");
    let issuer = sqlite(&db, "SELECT issuer_id FROM crl_shards LIMIT 1")?;
    let started = Instant::now();
    // Serials: 0x01 then 18 random octets, as Serial::random makes them. A quarter carry no
    // reason (unspecified); the rest keyCompromise, superseded or cessationOfOperation.
    sqlite(
        &db,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {entries})
             INSERT OR IGNORE INTO revoked_certificates
               (serial, issuer_id, crl_shard, revoked_at, reason, not_after, recorded_at, source)
             SELECT '01' || lower(hex(randomblob(18))), '{issuer}', i % {shards},
                    strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '-1 day'),
                    CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 1 WHEN 2 THEN 4 ELSE 5 END,
                    strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '+60 days'),
                    strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '-1 day'), 'admin'
             FROM n;"
        ),
    )?;
    let rows = sqlite(&db, "SELECT count(*) FROM revoked_certificates")?;
    println!(
        "populated {rows} revoked_certificates rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let out = hanko(&data, shards)?
        .args(["admin", "crl", "regenerate"])
        .output()?;
    let wall = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "regenerate failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sizes: u64 = std::fs::read_dir(data.join("crl"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let summary = stdout.lines().last().unwrap_or("");
    println!("hanko admin crl regenerate: {summary}");
    println!(
        "full regeneration of {shards} shards ({rows} entries, {:.1} MB of CRLs): {wall:.2} s wall",
        sizes as f64 / 1e6
    );
    Ok(())
}
