//! The real ACME clients the black-box tests drive (certbot and lego from Debian), each with
//! its own state directory in a rig and everything that keeps it local and non-interactive.
//! Tests add the challenge flags and the action to the command these build.

use crate::process::tail_lines;
use crate::{require_tool, Cmd, CmdOutput, Rig, CONTACT_EMAIL};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// One certbot installation state (config, work and logs directories) pointed at a rig.
pub struct Certbot {
    pub dir: PathBuf,
    pub root_pem: PathBuf,
    bin: PathBuf,
    directory_url: String,
}

impl Certbot {
    pub fn new(rig: &Rig, name: &str) -> Result<Self> {
        let dir = rig.client_dir(name)?;
        // An empty config file, so a cli.ini on the machine cannot change the run.
        std::fs::write(dir.join("cli.ini"), "").context("writing empty cli.ini")?;
        Ok(Certbot {
            bin: require_tool("certbot")?,
            dir,
            directory_url: rig.directory_url(),
            root_pem: rig.root_pem(),
        })
    }

    /// `certbot <subcommand>` with everything that keeps it local, non-interactive and
    /// inside our directories.
    pub fn cmd(&self, subcommand: &str) -> Cmd {
        let d = &self.dir;
        Cmd::new(&self.bin)
            .arg(subcommand)
            .arg("--config")
            .arg(d.join("cli.ini"))
            .args(["--server", &self.directory_url])
            .args(["--non-interactive", "--agree-tos", "--no-eff-email"])
            .args(["-m", CONTACT_EMAIL])
            .arg("--config-dir")
            .arg(d.join("config"))
            .arg("--work-dir")
            .arg(d.join("work"))
            .arg("--logs-dir")
            .arg(d.join("logs"))
            // requests (certbot's HTTP library) trusts exactly this bundle.
            .env("REQUESTS_CA_BUNDLE", &self.root_pem)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
    }

    /// Run and require success; on failure attach the tail of certbot's own log, which has
    /// the Python traceback and the ACME responses.
    pub async fn run(&self, cmd: Cmd, what: &str) -> Result<CmdOutput> {
        cmd.run_ok().await.with_context(|| {
            format!(
                "{what}\n--- certbot log (last 40 lines) ---\n{}",
                tail_lines(&self.log(), 40)
            )
        })
    }

    /// The lineage directory certbot keeps for `cert_name`.
    pub fn live(&self, cert_name: &str) -> PathBuf {
        self.dir.join("config").join("live").join(cert_name)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs").join("letsencrypt.log")).unwrap_or_default()
    }
}

/// One lego state directory (`--path`) pointed at a rig.
pub struct Lego {
    pub dir: PathBuf,
    bin: PathBuf,
    directory_url: String,
    root_pem: PathBuf,
}

impl Lego {
    pub fn new(rig: &Rig, name: &str) -> Result<Self> {
        Ok(Lego {
            bin: require_tool("lego")?,
            dir: rig.client_dir(name)?,
            directory_url: rig.directory_url(),
            root_pem: rig.root_pem(),
        })
    }

    /// `lego <global flags> -d name… ` + the caller's challenge flags and action.
    pub fn cmd(&self, names: &[&str]) -> Cmd {
        let mut cmd = Cmd::new(&self.bin)
            .args(["--server", &self.directory_url])
            .args(["--accept-tos", "--email", CONTACT_EMAIL])
            .arg("--path")
            .arg(&self.dir)
            // Go's HTTP client trusts exactly these roots.
            .env("LEGO_CA_CERTIFICATES", &self.root_pem)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        for name in names {
            cmd = cmd.args(["--domains", name]);
        }
        cmd
    }

    /// The bundle lego stored for `first_name` (leaf + issuer, as served).
    pub fn bundle(&self, first_name: &str) -> Result<String> {
        // lego writes `*.x` as `_.x`.
        let file = first_name.replace('*', "_");
        let path = self.dir.join("certificates").join(format!("{file}.crt"));
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }
}
