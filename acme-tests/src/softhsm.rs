//! SoftHSM2 tokens for black-box tests: a real PKCS#11 module (DESIGN "How we test"), one
//! token per test in its own temporary directory. SoftHSM finds its token directory
//! through `SOFTHSM2_CONF`, so every child process that loads the module (`hanko ceremony`,
//! `hanko serve`) must get `SoftHsm::env`; `hanko_env` adds the `[hsm]` settings.

use crate::process::{require_tool, Cmd};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// Where Debian's softhsm2 package puts the module.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The user PIN of every test token.
pub const USER_PIN: &str = "1234";
const SO_PIN: &str = "0000";

/// An initialised token (user PIN `USER_PIN`); its directory goes when this is dropped.
pub struct SoftHsm {
    /// `softhsm2.conf` pointing at this token's directory: the value of SOFTHSM2_CONF.
    pub conf_path: PathBuf,
    /// The PKCS#11 module (`hsm.module`).
    pub module: PathBuf,
    /// A file holding the user PIN (`hsm.pin_file`).
    pub pin_file: PathBuf,
    /// The token's label (`hsm.token_label`).
    pub token_label: String,
    dir: TempDir,
}

impl SoftHsm {
    /// `softhsm2-util --init-token --free --label <label>` in a fresh token directory.
    pub async fn new(label: &str) -> Result<SoftHsm> {
        let util = require_tool("softhsm2-util")?;
        let module = PathBuf::from(SOFTHSM_MODULE);
        if !module.is_file() {
            bail!("{SOFTHSM_MODULE} not found; install the Debian package softhsm2");
        }
        let dir = tempfile::Builder::new()
            .prefix("hanko-softhsm-")
            .tempdir()
            .context("creating the SoftHSM directory")?;
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).context("creating the token directory")?;
        let conf_path = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf_path,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .context("writing softhsm2.conf")?;
        Cmd::new(util)
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", SO_PIN, "--pin", USER_PIN])
            .env("SOFTHSM2_CONF", &conf_path)
            .timeout(Duration::from_secs(60))
            .run_ok()
            .await
            .context("softhsm2-util --init-token")?;
        let pin_file = dir.path().join("user-pin");
        std::fs::write(&pin_file, format!("{USER_PIN}\n")).context("writing the PIN file")?;
        Ok(SoftHsm {
            conf_path,
            module,
            pin_file,
            token_label: label.to_string(),
            dir,
        })
    }

    /// A scratch directory that lives as long as the token.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// SOFTHSM2_CONF, for every process that loads the module.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![(
            "SOFTHSM2_CONF".to_string(),
            self.conf_path.display().to_string(),
        )]
    }

    /// `env` plus `HANKO_HSM__*` pointing hanko at this token.
    pub fn hanko_env(&self) -> Vec<(String, String)> {
        let mut env = self.env();
        for (key, value) in [
            ("MODULE", self.module.display().to_string()),
            ("TOKEN_LABEL", self.token_label.clone()),
            ("PIN_FILE", self.pin_file.display().to_string()),
        ] {
            env.push((format!("HANKO_HSM__{key}"), value));
        }
        env
    }

    /// The same settings as a TOML `[hsm]` section.
    pub fn hsm_toml(&self) -> String {
        format!(
            "[hsm]\nmodule = {:?}\ntoken_label = {:?}\npin_file = {:?}\nsessions = 2\n",
            self.module.display().to_string(),
            self.token_label,
            self.pin_file.display().to_string()
        )
    }
}
