//! A PostgreSQL cluster owned by one fault run (initdb + pg_ctl on a free port in a temporary
//! directory), so stopping it hurts no other test: the suite's shared cluster
//! (scripts/pg.sh) is never touched. As root it runs as the `postgres` system user, which
//! PostgreSQL requires.

use crate::ports::free_tcp_port;
use crate::process::Cmd;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

const DB: &str = "hanko";

pub struct OwnedPostgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// The newest /usr/lib/postgresql/<major>/bin holding initdb.
fn bindir() -> Result<PathBuf> {
    let initdb = crate::postgres::versioned_tool("initdb")?;
    initdb
        .parent()
        .map(Path::to_path_buf)
        .context("initdb has no parent directory")
}

impl OwnedPostgres {
    /// initdb, start on a free port, create the database.
    pub async fn start() -> Result<OwnedPostgres> {
        let bin = bindir()?;
        let dir = tempfile::Builder::new()
            .prefix("hanko-faults-pg-")
            .tempdir()
            .context("creating the PostgreSQL directory")?;
        if is_root() {
            Cmd::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .run_ok()
                .await?;
        }
        let mut pg = OwnedPostgres { dir, bin, port: 0 };
        pg.owner(&pg.bin.join("initdb"))
            .arg("-D")
            .arg(pg.data())
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .timeout(Duration::from_secs(120))
            .run_ok()
            .await
            .context("initdb")?;
        let mut last = None;
        for _ in 0..5 {
            pg.port = free_tcp_port()?;
            match pg.start_again().await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e.context("PostgreSQL did not start on a free port"));
        }
        Cmd::new(pg.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(pg.port.to_string())
            .arg(DB)
            .timeout(Duration::from_secs(60))
            .run_ok()
            .await
            .context("createdb")?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn owner(&self, program: &Path) -> Cmd {
        if is_root() {
            Cmd::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(program)
        } else {
            Cmd::new(program)
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DB}", self.port)
    }

    /// Start (again) on the same port and data. fsync is off (the data is thrown away), but
    /// synchronous_commit stays on: an immediate stop must not lose a committed transaction,
    /// or a "lost certificate" would be the rig's doing, not hanko's.
    pub async fn start_again(&self) -> Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        self.owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .timeout(Duration::from_secs(90))
            .run_ok()
            .await
            .context("pg_ctl start")?;
        Ok(())
    }

    /// `pg_ctl stop -m immediate`: every connection is cut at once, like a database crash.
    pub async fn stop(&self) -> Result<()> {
        self.owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "60", "stop"])
            .timeout(Duration::from_secs(90))
            .run_ok()
            .await
            .context("pg_ctl stop")?;
        Ok(())
    }

    /// Rows of a query, fields split on tabs (psql -At).
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        let out = Cmd::new(self.bin.join("psql"))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-d"])
            .arg(self.url())
            .arg("-c")
            .arg(sql)
            .timeout(Duration::from_secs(120))
            .run_ok()
            .await
            .with_context(|| format!("psql: {sql}"))?;
        Ok(out
            .stdout
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect())
    }

    /// One number from a `SELECT count(*) …`.
    pub async fn count(&self, sql: &str) -> Result<u64> {
        let rows = self.query(sql).await?;
        let Some(v) = rows.first().and_then(|r| r.first()) else {
            bail!("no row from {sql}");
        };
        v.trim().parse().with_context(|| format!("{sql} gave {v}"))
    }
}

impl Drop for OwnedPostgres {
    fn drop(&mut self) {
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            std::process::Command::new(self.bin.join("pg_ctl"))
        };
        let _ = cmd
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
