//! Settings of multi-perspective issuance corroboration (BR 3.2.2.9): the primary's view of
//! its remote perspectives (`[validation.remote]`) and the `hanko perspective` role
//! (`[perspective]`). Credential files are read (and checked for expiry) at start by
//! `validation::remote::credentials`, not here.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `[validation.remote]`: how the primary reaches its remote perspectives over mutual TLS.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    /// PEM chain the primary presents to every perspective (its mTLS client certificate).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// PEM of the CA that issued the perspectives' server certificates: the only root the
    /// primary trusts for them.
    pub ca: Option<PathBuf>,
    /// Seconds one remote perspective gets to answer (connect + validate + reply); a
    /// perspective that does not answer in time counts as not corroborating.
    pub timeout_seconds: u64,
    /// The remote perspectives; empty means the primary decides alone (development only:
    /// publicly-trusted profiles refuse to start and to issue).
    pub perspectives: Vec<RemotePerspectiveConfig>,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            client_cert: None,
            client_key: None,
            ca: None,
            timeout_seconds: 15,
            perspectives: Vec::new(),
        }
    }
}

/// `[[validation.remote.perspectives]]`: one remote perspective.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RemotePerspectiveConfig {
    /// Stable id, recorded with every outcome (and the metrics label).
    pub id: String,
    /// Its Regional Internet Registry region (BR 3.2.2.9): ARIN, RIPE, APNIC, LACNIC, AFRINIC.
    pub rir: String,
    /// Base URL, `https://host:port`; the request goes to `<url>/v1/validate`.
    pub url: String,
}

/// `[perspective]`: settings of the `hanko perspective` role. It validates with its own
/// `[validation]` section (own resolvers, own address policy).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PerspectiveRoleConfig {
    /// Address of the mTLS listener.
    pub listen: SocketAddr,
    /// This perspective's id; answers carry it, and the primary checks it.
    pub id: String,
    /// Its RIR region.
    pub rir: String,
    /// PEM chain and key of the listener (issued by the CA the primary trusts).
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// PEM of the CA whose certificates callers must present (unauthenticated callers are
    /// refused in the TLS handshake).
    pub client_ca: PathBuf,
}

/// The RIR regions BR 3.2.2.9 counts.
pub const RIRS: [&str; 5] = ["ARIN", "RIPE", "APNIC", "LACNIC", "AFRINIC"];

/// Cross-field rules of `[validation.remote]` and `[perspective]`: `(key, message)`.
pub(crate) fn check(
    remote: &RemoteConfig,
    role: Option<&PerspectiveRoleConfig>,
) -> Result<(), (String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in remote.perspectives.iter().enumerate() {
        let key = |k: &str| format!("validation.remote.perspectives[{i}].{k}");
        if p.id.is_empty() || !seen.insert(p.id.as_str()) {
            return Err((key("id"), format!("{:?} is empty or used twice", p.id)));
        }
        check_rir(&p.rir).map_err(|m| (key("rir"), m))?;
        if !p.url.starts_with("https://") || p.url.ends_with('/') {
            return Err((
                key("url"),
                "must be an https URL without a trailing slash".into(),
            ));
        }
    }
    if !remote.perspectives.is_empty() {
        for (name, value) in [
            ("client_cert", &remote.client_cert),
            ("client_key", &remote.client_key),
            ("ca", &remote.ca),
        ] {
            if value.is_none() {
                return Err((
                    format!("validation.remote.{name}"),
                    "required when remote perspectives are configured (mutual TLS)".into(),
                ));
            }
        }
    }
    if remote.timeout_seconds == 0 {
        return Err((
            "validation.remote.timeout_seconds".into(),
            "must be at least 1".into(),
        ));
    }
    if let Some(role) = role {
        check_rir(&role.rir).map_err(|m| ("perspective.rir".to_string(), m))?;
        if role.id.is_empty() {
            return Err(("perspective.id".into(), "must not be empty".into()));
        }
    }
    Ok(())
}

fn check_rir(rir: &str) -> Result<(), String> {
    if RIRS.contains(&rir) {
        Ok(())
    } else {
        Err(format!("{rir:?} is not one of {}", RIRS.join(", ")))
    }
}
