//! SoftHSM2 tokens for tests: a real PKCS#11 module, not a mock (DESIGN "How we test").
//!
//! SoftHSM reads `SOFTHSM2_CONF` and scans its token directory once, in C_Initialize, and a
//! process initialises a module once (`pkcs11::module`). So every test in one process
//! shares one configuration whose token directory belongs to the process
//! (`$TMPDIR/hanko-softhsm-<pid>/tokens`), and each test initialises its own token, with a
//! distinct label, through the module itself (C_InitToken on the free slot, then C_InitPIN
//! as the SO): a token made by `softhsm2-util` after the module was initialised stays
//! invisible to this process, which breaks `cargo test` (many tests, one process) though
//! not nextest (one process per test). The black-box tests' helper
//! (`acme-tests/src/softhsm.rs`) uses softhsm2-util, since there the module is loaded by
//! the `hanko` child process after the token exists.

use super::pkcs11::module;
use crate::config::HsmConfig;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub(crate) const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub(crate) const USER_PIN: &str = "1234";
const SO_PIN: &str = "0000";
const DIR_PREFIX: &str = "hanko-softhsm-";

/// This process's SoftHSM configuration file, created (and exported as SOFTHSM2_CONF)
/// on first use, before any test loads the module.
fn process_conf() -> &'static Path {
    static CONF: OnceLock<PathBuf> = OnceLock::new();
    CONF.get_or_init(|| {
        remove_stale_directories();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        // A directory left by an earlier process with the same pid is stale.
        let _ = std::fs::remove_dir_all(&dir);
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).expect("create SoftHSM token directory");
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
                 slots.removable = false\n",
                tokens.display()
            ),
        )
        .expect("write softhsm2.conf");
        // Set once, before the module is first initialised in this process (SoftHSM reads
        // it in C_Initialize); nothing else in the tests reads this variable.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        conf
    })
}

/// Token directories of test processes that have exited. A process's own directory must
/// outlive its in-process SoftHSM, so it is removed by a later test run instead.
fn remove_stale_directories() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// One initialised SoftHSM token with user PIN `USER_PIN`.
pub(crate) struct SoftHsm {
    pub label: String,
    /// Holds the PIN file; tests may put other files here.
    pub dir: tempfile::TempDir,
    pub pin_file: PathBuf,
}

impl SoftHsm {
    /// A fresh token labelled `<name>-<random>` (≤ 32 characters, the PKCS#11 limit).
    pub fn new(name: &str) -> SoftHsm {
        assert!(name.len() <= 23, "token name {name:?} too long");
        process_conf();
        let label = format!("{name}-{:08x}", rand::random::<u32>());
        init_token(&label);
        let dir = tempfile::tempdir().expect("tempdir");
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, format!("{USER_PIN}\n")).expect("write PIN file");
        SoftHsm {
            label,
            dir,
            pin_file,
        }
    }

    /// `[hsm]` settings for this token, PIN from the file, `sessions` sessions.
    pub fn config(&self, sessions: usize) -> HsmConfig {
        HsmConfig {
            module: Some(PathBuf::from(MODULE)),
            token_label: self.label.clone(),
            pin_file: Some(self.pin_file.clone()),
            pin_env: None,
            sessions,
        }
    }
}

/// C_InitToken on SoftHSM's free slot (it always keeps one), then C_InitPIN as the SO.
fn init_token(label: &str) {
    // Two tests must not initialise the same free slot.
    static CREATE: Mutex<()> = Mutex::new(());
    let _one_at_a_time = CREATE.lock().unwrap_or_else(|p| p.into_inner());
    let pkcs11 = module(Path::new(MODULE)).expect("load SoftHSM (Debian package softhsm2)");
    let slot = pkcs11
        .get_all_slots()
        .expect("slots")
        .into_iter()
        .find(|slot| {
            pkcs11
                .get_token_info(*slot)
                .is_ok_and(|info| !info.token_initialized())
        })
        .expect("SoftHSM offers a free slot");
    let so_pin = AuthPin::new(SO_PIN.to_string());
    pkcs11
        .init_token(slot, &so_pin, label)
        .expect("C_InitToken");
    let session = pkcs11.open_rw_session(slot).expect("SO session");
    session
        .login(UserType::So, Some(&so_pin))
        .expect("SO login");
    session
        .init_pin(&AuthPin::new(USER_PIN.to_string()))
        .expect("C_InitPIN");
    session.logout().expect("SO logout");
}
