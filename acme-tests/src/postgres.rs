//! PostgreSQL for the backend runs: scripts/test.sh starts a throwaway cluster and exports
//! `HANKO_TEST_POSTGRES_URL`; each test gets its own fresh database in it, so tests running
//! in parallel never see each other's rows.

use crate::process::{require_tool, Cmd};
use anyhow::{bail, Context, Result};
use rand::RngCore;
use std::path::PathBuf;
use std::time::Duration;

/// URL of a database on the test cluster (any database; we only connect to create ours).
pub const POSTGRES_URL_ENV: &str = "HANKO_TEST_POSTGRES_URL";
/// When set to 1 (scripts/test.sh sets it), a missing PostgreSQL is a failure, not a skip.
pub const REQUIRE_POSTGRES_ENV: &str = "HANKO_TEST_REQUIRE_POSTGRES";

/// A fresh, empty database URL, or `None` when no test cluster is configured and it is not
/// required (a developer's plain `cargo test`). Callers must say loudly that they skipped.
pub async fn fresh_database() -> Result<Option<String>> {
    let Some(base) = std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|u| !u.is_empty())
    else {
        if std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|v| v == "1") {
            bail!("{REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_URL_ENV} is not set");
        }
        return Ok(None);
    };
    let mut suffix = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut suffix);
    let name = format!("hanko_t_{}", hex_lower(&suffix));
    Cmd::new(psql()?)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(&base)
        .arg("-c")
        .arg(format!("CREATE DATABASE {name}"))
        .timeout(Duration::from_secs(60))
        .run_ok()
        .await
        .with_context(|| format!("creating database {name} on {base}"))?;
    Ok(Some(with_database(&base, &name)?))
}

/// Replace the database (path) of a `postgres://…/db?params` URL.
fn with_database(url: &str, db: &str) -> Result<String> {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let Some(scheme_end) = main.find("://") else {
        bail!("{POSTGRES_URL_ENV} is not a URL: {url}");
    };
    let authority_end = main[scheme_end + 3..]
        .find('/')
        .map_or(main.len(), |i| scheme_end + 3 + i);
    let mut out = format!("{}/{db}", &main[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn psql() -> Result<PathBuf> {
    if let Ok(p) = require_tool("psql") {
        return Ok(p);
    }
    // Debian puts the versioned binaries here; the /usr/bin wrappers need
    // postgresql-client-common, which a minimal install may lack.
    versioned_tool("psql")
}

/// `tool` from the newest /usr/lib/postgresql/<major>/bin that has it (Debian's layout; the
/// majors compare as numbers, so 16 is newer than 9).
pub fn versioned_tool(tool: &str) -> Result<PathBuf> {
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let path = e.path().join("bin").join(tool);
                    path.is_file().then_some((major, path))
                })
                .max_by_key(|(major, _)| *major)
        })
        .ok()
        .flatten();
    found
        .map(|(_, path)| path)
        .with_context(|| format!("{tool} not found under /usr/lib/postgresql (install postgresql)"))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database_keeping_params() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/hanko_test", "x").expect("url"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:1/db?sslmode=disable", "x").expect("url"),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:1", "x").expect("url"),
            "postgres://u@h:1/x"
        );
    }
}
