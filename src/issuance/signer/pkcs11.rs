//! CA keys in an HSM reached through PKCS#11 (CPS 6.2), with cryptoki.
//!
//! `Pkcs11Token` is one logged-in token: the module is loaded and initialised once per
//! process (OS locking), the slot is chosen by token label, and a fixed pool of sessions
//! serves signing. `Pkcs11Signer` is one key pair on it, found by CKA_LABEL; it implements
//! `Signer`. `generate_key` creates non-extractable key pairs for the ceremony (CP 4.3.1.1).
//! There is no export path: private keys are created CKA_SENSITIVE and not
//! CKA_EXTRACTABLE, and nothing here ever reads a private value (DESIGN invariant 8).
//!
//! Every PKCS#11 call blocks. `Signer::sign` must run on a blocking thread (the RA calls
//! `CertificateAuthority::issue` inside `spawn_blocking`; `serve` opens the token and the
//! ceremony CLI does all its HSM work there too), never directly on an async worker.

use super::software::{ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, SHA256_WITH_RSA};
use super::{Signer, SignerError};
use crate::config::HsmConfig;
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::asn1::{AnyRef, ObjectIdentifier};
use p256::elliptic_curve::zeroize::Zeroizing;
use sha2::{Digest, Sha256, Sha384};
use spki::AlgorithmIdentifierOwned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// BR 6.1.5: RSA moduli of at least 2048 bits, divisible by 8.
const MIN_RSA_BITS: usize = 2048;
/// Signed once when a signer is created, to prove the public key found is the private
/// key's partner before anything real is signed with it.
const SELF_CHECK_MESSAGE: &[u8] = b"hanko: key pair self-check";

#[path = "pkcs11_keys.rs"]
mod keys;
pub use keys::KeySpec;
use keys::{check_private_key, find_private_key, key_templates, public_key_spki, KeyAlgorithm};
#[cfg(test)]
use keys::{label_template, spki_from_attributes};

fn hsm(message: impl Into<String>) -> SignerError {
    SignerError::Hsm(message.into())
}

/// The PKCS#11 return code's name for messages, e.g. `PinIncorrect`.
fn describe(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => format!("{function}: {rv:?}"),
        other => other.to_string(),
    }
}

/// Load and initialise each PKCS#11 module once per process. C_Initialize may be called
/// only once per process and C_Finalize ends every session of every user of the module,
/// so contexts are shared and kept for the life of the process.
pub(super) fn module(path: &Path) -> Result<Pkcs11, SignerError> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let canonical = std::fs::canonicalize(path)
        .map_err(|e| hsm(format!("hsm.module {}: {e}", path.display())))?;
    let mut modules = MODULES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pkcs11) = modules.get(&canonical) {
        return Ok(pkcs11.clone());
    }
    let pkcs11 = Pkcs11::new(&canonical).map_err(|e| {
        hsm(format!(
            "cannot load PKCS#11 module {}: {e}",
            canonical.display()
        ))
    })?;
    match pkcs11.initialize(CInitializeArgs::OsThreads) {
        // Initialised by other code in this process: usable as it is.
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(hsm(format!(
                "cannot initialise PKCS#11 module {}: {}",
                canonical.display(),
                describe(&e)
            )))
        }
    }
    modules.insert(canonical, pkcs11.clone());
    Ok(pkcs11)
}

/// The user PIN: first line of `hsm.pin_file` (trimmed), else the variable named by
/// `hsm.pin_env`. Held only as an `AuthPin` (a secrecy string: Debug prints a placeholder,
/// and it is zeroised on drop); never logged.
fn read_pin(config: &HsmConfig) -> Result<AuthPin, SignerError> {
    let raw = if let Some(path) = &config.pin_file {
        warn_if_readable_by_others(path);
        let text = std::fs::read_to_string(path)
            .map_err(|e| hsm(format!("hsm.pin_file {}: {e}", path.display())))?;
        Zeroizing::new(text)
    } else if let Some(var) = &config.pin_env {
        let value = std::env::var(var).map_err(|_| {
            hsm(format!(
                "hsm.pin_env: environment variable {var} is not set"
            ))
        })?;
        Zeroizing::new(value)
    } else {
        return Err(hsm(
            "no user PIN configured: set hsm.pin_file or hsm.pin_env",
        ));
    };
    let pin = raw.lines().next().unwrap_or_default().trim();
    if pin.is_empty() {
        let source = match (&config.pin_file, &config.pin_env) {
            (Some(path), _) => format!("hsm.pin_file {}", path.display()),
            (None, Some(var)) => format!("hsm.pin_env variable {var}"),
            (None, None) => "the PIN source".to_string(),
        };
        return Err(hsm(format!("{source} holds an empty PIN")));
    }
    Ok(AuthPin::new(pin.to_string()))
}

/// The PIN activates the CA keys (CPS 6.4): its file should be readable by the CA's user
/// only. Warn rather than refuse, since a secrets manager may mount it otherwise.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(file = %path.display(), mode = format!("{:o}", mode & 0o777),
                    "hsm.pin_file is readable by group or others; restrict it to mode 0400/0600");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Why an operation inside a session failed: the HSM said no (maybe because the session
/// was lost, which `Pkcs11Token::run` repairs), or something of ours.
enum OpError {
    Hsm(CkError),
    Other(SignerError),
}

impl From<CkError> for OpError {
    fn from(e: CkError) -> OpError {
        OpError::Hsm(e)
    }
}

impl From<SignerError> for OpError {
    fn from(e: SignerError) -> OpError {
        OpError::Other(e)
    }
}

/// Return codes after which the session is useless but a new one may work: the session
/// was closed (e.g. C_CloseAllSessions, HSM restart), the token went away and came back,
/// or the login was lost (C_Logout on another session logs out every session).
fn session_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::UserNotLoggedIn,
            _
        )
    )
}

/// A fixed number of sessions; `None` marks one that must be (re)opened.
struct Pool {
    entries: Mutex<Vec<Option<Session>>>,
    freed: Condvar,
}

/// A session checked out of the pool, returned on drop.
struct Lease<'a> {
    pool: &'a Pool,
    session: Option<Session>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut entries = lock(&self.pool.entries);
        entries.push(self.session.take());
        drop(entries);
        self.pool.freed.notify_one();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the pool lock leaves a Vec in a valid state.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One logged-in PKCS#11 token and its session pool.
pub struct Pkcs11Token {
    pkcs11: Pkcs11,
    slot: Slot,
    label: String,
    pin: AuthPin,
    pool: Pool,
    /// Bumped whenever a lost session is replaced: object handles found before may be
    /// stale (SoftHSM drops them when the last session closes or on logout).
    generation: AtomicU64,
}

impl std::fmt::Debug for Pkcs11Token {
    // Never print the PIN.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Token")
            .field("token", &self.label)
            .field("slot", &self.slot.id())
            .finish_non_exhaustive()
    }
}

impl Pkcs11Token {
    /// Load `hsm.module`, find the token labelled `hsm.token_label`, log in with the user
    /// PIN and open `hsm.sessions` sessions. Blocking.
    pub fn open(config: &HsmConfig) -> Result<Arc<Pkcs11Token>, SignerError> {
        let module_path = config
            .module
            .as_ref()
            .ok_or_else(|| hsm("hsm.module is not set (path of the PKCS#11 library)"))?;
        if config.sessions == 0 {
            return Err(hsm("hsm.sessions must be at least 1"));
        }
        let pin = read_pin(config)?;
        let pkcs11 = module(module_path)?;
        let slot = find_slot(&pkcs11, &config.token_label)?;
        let token = Pkcs11Token {
            pkcs11,
            slot,
            label: config.token_label.clone(),
            pin,
            pool: Pool {
                entries: Mutex::new(Vec::with_capacity(config.sessions)),
                freed: Condvar::new(),
            },
            generation: AtomicU64::new(0),
        };
        // Open every session now: a wrong PIN or an exhausted token fails at start, not
        // at the first issuance.
        let mut sessions = Vec::with_capacity(config.sessions);
        for _ in 0..config.sessions {
            sessions.push(Some(token.open_session()?));
        }
        *lock(&token.pool.entries) = sessions;
        tracing::info!(token = %token.label, slot = token.slot.id(), sessions = config.sessions,
            "logged in to the HSM token");
        Ok(Arc::new(token))
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A read-write session logged in as the user. Login state is per application, so a
    /// second session finds the user already logged in, which is fine.
    fn open_session(&self) -> Result<Session, SignerError> {
        let session = self.pkcs11.open_rw_session(self.slot).map_err(|e| {
            hsm(format!(
                "cannot open a session on token {:?}: {}",
                self.label,
                describe(&e)
            ))
        })?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(hsm(format!(
                "login to token {:?} refused: the user PIN is incorrect (CKR_PIN_INCORRECT)",
                self.label
            ))),
            Err(e) => Err(hsm(format!(
                "login to token {:?} failed: {}",
                self.label,
                describe(&e)
            ))),
        }
    }

    /// Wait for a free session (blocks while all are in use).
    fn checkout(&self) -> Result<Lease<'_>, SignerError> {
        let mut entries = lock(&self.pool.entries);
        let entry = loop {
            if let Some(entry) = entries.pop() {
                break entry;
            }
            entries = self
                .pool
                .freed
                .wait(entries)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        };
        drop(entries);
        let mut lease = Lease {
            pool: &self.pool,
            session: entry,
        };
        if lease.session.is_none() {
            // A slot whose re-open failed earlier; on failure the lease returns it empty.
            lease.session = Some(self.open_session()?);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        Ok(lease)
    }

    /// Run `op` in a pooled session. If it fails because the session was lost (see
    /// `session_lost`), or the session turns out no longer to be logged in, the session is
    /// dropped, a new one opened and logged in, and `op` retried once.
    fn run<T>(&self, op: impl Fn(&Session, u64) -> Result<T, OpError>) -> Result<T, SignerError> {
        let mut lease = self.checkout()?;
        let first = match &lease.session {
            Some(session) => op(session, self.generation.load(Ordering::SeqCst)),
            None => return Err(hsm("internal: checked-out session missing")),
        };
        let error = match first {
            Ok(value) => return Ok(value),
            Err(OpError::Hsm(e)) => e,
            Err(OpError::Other(e)) if self.still_logged_in(&lease) => return Err(e),
            Err(OpError::Other(e)) => {
                tracing::warn!(token = %self.label, error = %e, "HSM session no longer logged in");
                CkError::Pkcs11(RvError::UserNotLoggedIn, cryptoki::context::Function::Login)
            }
        };
        let failed = |e: &CkError| hsm(format!("token {:?}: {}", self.label, describe(e)));
        if !session_lost(&error) && self.still_logged_in(&lease) {
            return Err(failed(&error));
        }
        tracing::warn!(token = %self.label, error = %describe(&error),
            "HSM session lost; opening a new one and retrying once");
        // Drop (close) the broken session first; the lease keeps the pool slot.
        lease.session = None;
        let session = self.open_session()?;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let result = op(&session, generation);
        lease.session = Some(session);
        result.map_err(|e| match e {
            OpError::Hsm(e) => failed(&e),
            OpError::Other(e) => e,
        })
    }

    /// Whether the leased session is still a user session. A failure to ask counts as no.
    fn still_logged_in(&self, lease: &Lease<'_>) -> bool {
        let Some(session) = &lease.session else {
            return false;
        };
        matches!(
            session.get_session_info().map(|i| i.session_state()),
            Ok(SessionState::RwUser | SessionState::RoUser)
        )
    }

    /// The signer for the key pair labelled `key_label` (CKA_LABEL). Blocking.
    pub fn signer(self: &Arc<Self>, key_label: &str) -> Result<Pkcs11Signer, SignerError> {
        let found = self.run(|session, generation| {
            let private = find_private_key(session, key_label)?;
            check_private_key(session, private, key_label)?;
            let spki_der = public_key_spki(session, private, key_label)?;
            Ok((spki_der, (generation, private)))
        })?;
        let (spki_der, handle) = found;
        let kind = KeyAlgorithm::of_spki(&spki_der, key_label)?;
        let signer = Pkcs11Signer {
            token: Arc::clone(self),
            label: key_label.to_string(),
            kind,
            spki_der,
            handle: Mutex::new(Some(handle)),
        };
        signer.self_check()?;
        Ok(signer)
    }

    /// Generate a key pair labelled `label` inside the token (CP 4.3.1.1 ceremony):
    /// token objects, private key sensitive, not extractable, sign-only; both halves share
    /// the label and a random CKA_ID. Refuses if any object already has the label.
    pub fn generate_key(
        self: &Arc<Self>,
        label: &str,
        spec: KeySpec,
    ) -> Result<Pkcs11Signer, SignerError> {
        if label.is_empty() {
            return Err(SignerError::Key(
                "a key label must not be empty".to_string(),
            ));
        }
        let (mechanism, public, private) = key_templates(label, spec)?;
        self.run(|session, _| {
            let existing = session.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])?;
            if !existing.is_empty() {
                return Err(OpError::Other(SignerError::Key(format!(
                    "token {:?} already holds an object labelled {label:?}; refusing to \
                     generate a second key with that label",
                    self.label
                ))));
            }
            session.generate_key_pair(&mechanism, &public, &private)?;
            Ok(())
        })?;
        tracing::info!(token = %self.label, label, key = %spec, "generated a key pair in the HSM");
        self.signer(label)
    }
}

/// The slot whose token carries `label` (slots are chosen by token label: slot numbers
/// change, e.g. SoftHSM reassigns them on init).
fn find_slot(pkcs11: &Pkcs11, label: &str) -> Result<Slot, SignerError> {
    let slots = pkcs11
        .get_slots_with_token()
        .map_err(|e| hsm(format!("listing slots: {}", describe(&e))))?;
    let mut seen = Vec::new();
    let mut matching = Vec::new();
    for slot in slots {
        // One unreadable slot (a token removed under us) must not hide the one we want.
        let info = match pkcs11.get_token_info(slot) {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(slot = slot.id(), error = %describe(&e), "skipping unreadable slot");
                continue;
            }
        };
        if info.label() == label {
            matching.push(slot);
        } else if info.token_initialized() {
            seen.push(format!("{:?}", info.label()));
        }
    }
    match matching.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(hsm(format!(
            "no token labelled {label:?} (hsm.token_label); tokens present: {}",
            if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(", ")
            }
        ))),
        more => Err(hsm(format!(
            "{} tokens are labelled {label:?}; token labels must be unique",
            more.len()
        ))),
    }
}

/// One HSM key pair as a `Signer`. Holds the token (and so its sessions) alive.
pub struct Pkcs11Signer {
    token: Arc<Pkcs11Token>,
    label: String,
    kind: KeyAlgorithm,
    spki_der: Vec<u8>,
    /// The private key's handle and the session generation it was found in; looked up
    /// again after a session is replaced (handles may not survive that).
    handle: Mutex<Option<(u64, ObjectHandle)>>,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("token", &self.token.label)
            .field("label", &self.label)
            .field("algorithm", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Signer {
    /// CKA_LABEL of the key pair.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key pair as the ceremony describes it, e.g. "ECDSA P-384" or "RSA-4096".
    pub fn key_description(&self) -> String {
        use pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        match self.kind {
            KeyAlgorithm::P256 => KeySpec::EcP256.to_string(),
            KeyAlgorithm::P384 => KeySpec::EcP384.to_string(),
            KeyAlgorithm::Rsa => match rsa::RsaPublicKey::from_public_key_der(&self.spki_der) {
                Ok(key) => format!("RSA-{}", key.n().bits()),
                Err(_) => "RSA".to_string(),
            },
        }
    }

    /// The private key handle valid in the current session generation.
    fn key_handle(&self, session: &Session, generation: u64) -> Result<ObjectHandle, OpError> {
        let mut cached = lock(&self.handle);
        if let Some((found_in, handle)) = *cached {
            if found_in == generation {
                return Ok(handle);
            }
        }
        let handle = find_private_key(session, &self.label)?;
        *cached = Some((generation, handle));
        Ok(handle)
    }

    fn forget_handle(&self) {
        *lock(&self.handle) = None;
    }

    fn sign_in_session(
        &self,
        session: &Session,
        generation: u64,
        mechanism: &Mechanism<'_>,
        data: &[u8],
    ) -> Result<Vec<u8>, OpError> {
        let key = self.key_handle(session, generation)?;
        match session.sign(mechanism, key, data) {
            // The handle went stale within the same session generation (key re-created):
            // find it again once.
            Err(CkError::Pkcs11(RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid, _)) => {
                self.forget_handle();
                let key = self.key_handle(session, generation)?;
                Ok(session.sign(mechanism, key, data)?)
            }
            other => Ok(other?),
        }
    }

    /// Sign once with the freshly found key and verify against the public key found, so a
    /// label shared by unrelated halves is caught before the key signs anything real.
    fn self_check(&self) -> Result<(), SignerError> {
        let signature = self.sign(SELF_CHECK_MESSAGE)?;
        crate::issuance::verify::verify_signature(
            &self.spki_der,
            &self.algorithm(),
            SELF_CHECK_MESSAGE,
            &signature,
        )
        .map_err(|e| {
            SignerError::Key(format!(
                "key {:?}: the public key does not verify the private key's signature ({e})",
                self.label
            ))
        })
    }
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        match self.kind {
            KeyAlgorithm::Rsa => AlgorithmIdentifierOwned {
                oid: SHA256_WITH_RSA,
                parameters: Some(AnyRef::NULL.into()),
            },
            KeyAlgorithm::P256 => AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            KeyAlgorithm::P384 => AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA384,
                parameters: None,
            },
        }
    }

    fn public_key_der(&self) -> Vec<u8> {
        self.spki_der.clone()
    }

    /// Blocking: call from `spawn_blocking` or a plain thread, never on an async worker.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        // RSA: the HSM hashes (CKM_SHA256_RSA_PKCS, PKCS#1 v1.5, RFC 4055 5). ECDSA: we
        // hash and the HSM signs the digest (CKM_ECDSA), returning r || s (PKCS#11 2.40
        // 2.3.1), which X.509 carries as a DER Ecdsa-Sig-Value (RFC 5758 3.2).
        let (mechanism, data) = match self.kind {
            KeyAlgorithm::Rsa => (Mechanism::Sha256RsaPkcs, message.to_vec()),
            KeyAlgorithm::P256 => (Mechanism::Ecdsa, Sha256::digest(message).to_vec()),
            KeyAlgorithm::P384 => (Mechanism::Ecdsa, Sha384::digest(message).to_vec()),
        };
        let raw = self.token.run(|session, generation| {
            self.sign_in_session(session, generation, &mechanism, &data)
        })?;
        let failed = |what: &str| {
            SignerError::Failed(format!(
                "HSM key {:?} returned a malformed {what} signature",
                self.label
            ))
        };
        match self.kind {
            KeyAlgorithm::Rsa => Ok(raw),
            KeyAlgorithm::P256 => Ok(p256::ecdsa::Signature::from_slice(&raw)
                .map_err(|_| failed("P-256"))?
                .to_der()
                .as_bytes()
                .to_vec()),
            KeyAlgorithm::P384 => Ok(p384::ecdsa::Signature::from_slice(&raw)
                .map_err(|_| failed("P-384"))?
                .to_der()
                .as_bytes()
                .to_vec()),
        }
    }

    fn is_hardware_backed(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[path = "pkcs11_tests.rs"]
mod tests;
