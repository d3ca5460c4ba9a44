//! Typed configuration: one TOML file (optional) overlaid with `HANKO_<SECTION>__<KEY>`
//! environment variables. Unknown keys are errors that name the key and where it came from.
//! Owns: reading settings. Must not touch: anything else; no other module reads files or
//! environment variables for settings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod mpic;
mod revocation;
pub use mpic::{PerspectiveRoleConfig, RemoteConfig, RemotePerspectiveConfig, RIRS};
pub use revocation::RevocationConfig;
pub use revocation::{CrlConfig, OcspConfig, OcspSigner};

/// Prefix of environment overrides: `HANKO_SERVER__LISTEN=127.0.0.1:8443`.
pub const ENV_PREFIX: &str = "HANKO_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("config file {file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{origin}: key `{key}`: {message}")]
    Key {
        origin: String,
        key: String,
        message: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub validation: ValidationConfig,
    pub acme: AcmeConfig,
    pub ca: CaConfig,
    pub hsm: HsmConfig,
    pub lint: LintConfig,
    pub ct: CtConfig,
    pub crl: CrlConfig,
    pub ocsp: OcspConfig,
    pub revocation: RevocationConfig,
    pub log: LogConfig,
    /// The `hanko perspective` role (BR 3.2.2.9); unused by `hanko serve`.
    pub perspective: Option<PerspectiveRoleConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the ACME HTTPS listener binds.
    pub listen: SocketAddr,
    /// Base URL clients reach us at; every JWS `url` is checked against it (RFC 8555 6.4).
    /// Default: `https://<listen>`.
    pub base_url: Option<String>,
    /// PEM chain and key for the ACME listener; default: a development certificate for
    /// localhost/127.0.0.1 issued from the development hierarchy.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Seconds a client gets to send a request before the connection is dropped.
    pub request_timeout_seconds: u64,
    /// Largest accepted request body (JWS), in bytes.
    pub max_body_bytes: usize,
    /// Seconds allowed for in-flight requests and validations to finish on SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// Address of the plain-HTTP listener for CRLs, OCSP and the CA certificates (CP 2.2,
    /// 4.10.2: relying parties fetch them over HTTP); the paths are those of
    /// `ca.crl_base_url`, `ca.ocsp_url` and `ca.ca_issuers_url`. Unset: not served.
    pub http_listen: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 14000)),
            base_url: None,
            tls_cert: None,
            tls_key: None,
            request_timeout_seconds: 30,
            max_body_bytes: 64 * 1024,
            shutdown_grace_seconds: 10,
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 14080))),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite://…` or `postgres://…`; default: SQLite at `<data_dir>/hanko.db`.
    pub url: Option<String>,
    pub data_dir: PathBuf,
    pub max_connections: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: None,
            data_dir: PathBuf::from("./data"),
            max_connections: 16,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// Port http-01 connects to (RFC 8555 8.3 says 80; tests move it).
    pub http01_port: u16,
    /// Port tls-alpn-01 connects to (RFC 8737 3 says 443; tests move it).
    pub tlsalpn01_port: u16,
    /// Resolvers as `ip:port`; empty means the system resolver configuration.
    pub dns_resolvers: Vec<SocketAddr>,
    /// Per-attempt timeout for one validation, in seconds (DESIGN invariant 6).
    pub timeout_seconds: u64,
    /// Largest http-01 response body read, in bytes.
    pub http01_max_body_bytes: usize,
    /// Most redirects followed by http-01 (BR 3.2.2.4.19).
    pub http01_max_redirects: usize,
    /// Allow connecting to loopback/private/reserved addresses. Off for a public CA
    /// (DESIGN invariant 6); test rigs turn it on.
    pub allow_private_addresses: bool,
    /// Validations run at once; more wait in the queue.
    pub concurrency: usize,
    /// DNSSEC for CAA and dns-01 lookups (BR 3.2.2.8, SC-085): `"off"`, or
    /// `"validating-resolver"`: every resolver in `dns_resolvers` is a validating resolver
    /// (Unbound with the IANA root anchor) whose AD bit hanko trusts; a SERVFAIL that an
    /// answer with CD=1 explains is reported as DNSSEC-bogus. Publicly-trusted profiles
    /// refuse to start with `"off"` once the dated table requires DNSSEC.
    pub dnssec: DnssecMode,
    /// Name whose SOA is asked of every resolver at start in `validating-resolver` mode; the
    /// start is refused unless each answers with AD=1. Default `"."` (the signed root); test
    /// rigs with their own trust anchor name a signed test zone.
    pub dnssec_probe_name: String,
    /// Remote perspectives that corroborate every validation (BR 3.2.2.9).
    pub remote: RemoteConfig,
}

/// How DNSSEC is validated (ARCHITECTURE.md "DNSSEC").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DnssecMode {
    /// No DNSSEC: answers are taken as they come (development, private PKI).
    #[default]
    Off,
    /// Trust the AD bit of the configured local validating resolvers.
    ValidatingResolver,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            http01_port: 80,
            tlsalpn01_port: 443,
            dns_resolvers: Vec::new(),
            timeout_seconds: 10,
            http01_max_body_bytes: 8192,
            http01_max_redirects: 10,
            allow_private_addresses: false,
            concurrency: 32,
            dnssec: DnssecMode::Off,
            dnssec_probe_name: ".".to_string(),
            remote: RemoteConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcmeConfig {
    /// Terms of service URL shown in the directory (CP 9.6.3); newAccount requires agreement.
    pub terms_of_service: String,
    /// Version label of the terms recorded with each agreement.
    pub terms_version: String,
    pub website: Option<String>,
    pub caa_identities: Vec<String>,
    /// Seconds a nonce stays usable.
    pub nonce_lifetime_seconds: u64,
    /// Lifetime of a pending order and its pending authorizations, in seconds.
    pub order_lifetime_seconds: u64,
    /// Lifetime of a valid authorization (reuse period), in days; capped by the dated BR
    /// table (REQUIREMENTS "domain validation reuse").
    pub authz_reuse_days: u32,
    /// Retry-After sent on processing resources, in seconds.
    pub retry_after_seconds: u64,
    /// Most identifiers in one order.
    pub max_identifiers: usize,
    /// Allowed contact URL schemes (RFC 8555 7.3): only mailto is supported.
    pub max_contacts: usize,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig {
            terms_of_service: "https://hanko.invalid/terms/v1".to_string(),
            terms_version: "v1".to_string(),
            website: None,
            caa_identities: vec!["hanko.invalid".to_string()],
            nonce_lifetime_seconds: 600,
            order_lifetime_seconds: 7 * 86400,
            authz_reuse_days: 30,
            retry_after_seconds: 2,
            max_identifiers: 100,
            max_contacts: 4,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaConfig {
    /// Create a development root + intermediate with software keys on first start.
    pub dev_hierarchy: bool,
    /// Profiles by name; the default config has one DV profile.
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// Profile used when an order names none.
    pub default_profile: String,
    /// CP OID asserted in certificatePolicies (CP 1.2).
    pub policy_oid: String,
    /// CPS URI qualifier in certificatePolicies (CP 7.1.6.4).
    pub cps_uri: String,
    /// Base URL of the CRL distribution points and OCSP/caIssuers (AIA).
    pub crl_base_url: String,
    pub ocsp_url: String,
    pub ca_issuers_url: String,
    /// The HSM-backed issuing CA (used when `dev_hierarchy` is false): its certificate
    /// (from `hanko ceremony intermediate`) and the label of its key in the `[hsm]` token.
    pub issuer: Option<IssuerConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// PEM of the issuing CA certificate.
    pub certificate: PathBuf,
    /// PKCS#11 CKA_LABEL of the issuing CA's private key.
    pub key_label: String,
}

/// The PKCS#11 token holding CA keys (CPS 6.2). The PIN comes from a file or an environment
/// variable and is never logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HsmConfig {
    /// Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so).
    pub module: Option<PathBuf>,
    /// CKA_LABEL of the token (slot chosen by token label, not by slot number).
    pub token_label: String,
    /// File whose first line is the user PIN.
    pub pin_file: Option<PathBuf>,
    /// Name of an environment variable holding the user PIN (used if `pin_file` is unset).
    pub pin_env: Option<String>,
    /// Sessions kept open for signing.
    pub sessions: usize,
}

impl Default for HsmConfig {
    fn default() -> Self {
        HsmConfig {
            module: None,
            token_label: "hanko".to_string(),
            pin_file: None,
            pin_env: None,
            sessions: 4,
        }
    }
}

/// Pre-issuance linting (CP 4.3.1.2): an external linter kept warm as one worker process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LintConfig {
    /// `pkilint`, `zlint` or `none` (development only: publicly-trusted profiles refuse it).
    pub linter: LinterKind,
    /// Python interpreter of the virtualenv with pkilint installed.
    pub python: PathBuf,
    /// zlint binary (when `linter = "zlint"`).
    pub zlint: Option<PathBuf>,
    /// Seconds one document may take. The worker is then killed and restarted and the
    /// document sent once more; a second failure fails the lint (and stops issuance).
    /// Starting a worker is allowed at least 60 s.
    pub timeout_seconds: u64,
    /// Findings never to block on, each with the reason it is accepted.
    pub ignore: Vec<IgnoredLint>,
    /// The lowest finding severity that stops issuance: `info`, `notice`, `warning`,
    /// `error` or `fatal`. Default `warning` (issue #3: everything issued passes pkilint at
    /// WARNING; REQUIREMENTS §8's minimum is `error`).
    pub block_at: LintSeverity,
    /// pkilint worker processes; each lints one document at a time (at least 1).
    pub workers: usize,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            linter: LinterKind::None,
            python: PathBuf::from("python3"),
            zlint: None,
            timeout_seconds: 10,
            ignore: Vec::new(),
            block_at: LintSeverity::Warning,
            workers: 1,
        }
    }
}

/// Severity of a linter finding, lowest first: pkilint's INFO … FATAL (its DEBUG is not
/// reported), zlint's info … fatal.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum LintSeverity {
    Info,
    Notice,
    Warning,
    Error,
    Fatal,
}

impl LintSeverity {
    /// The name as pkilint prints it (`WARNING`).
    pub fn as_str(self) -> &'static str {
        match self {
            LintSeverity::Info => "INFO",
            LintSeverity::Notice => "NOTICE",
            LintSeverity::Warning => "WARNING",
            LintSeverity::Error => "ERROR",
            LintSeverity::Fatal => "FATAL",
        }
    }
}

impl std::fmt::Display for LintSeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LinterKind {
    Pkilint,
    Zlint,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoredLint {
    /// The linter's finding code, e.g. `cabf.serverauth.subscriber.common_name_present`.
    pub code: String,
    /// Why the CA accepts it (required: an auditor reads this).
    pub reason: String,
}

/// Certificate Transparency (CP 4.4.2, RFC 6962).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CtConfig {
    pub logs: Vec<CtLogConfig>,
    /// The CT policy: SCTs from at least this many distinct log operators.
    pub min_distinct_operators: usize,
    /// Submit the final certificate to the logs afterwards (best effort).
    pub submit_final: bool,
}

impl Default for CtConfig {
    fn default() -> Self {
        CtConfig {
            logs: Vec::new(),
            min_distinct_operators: 2,
            submit_final: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtLogConfig {
    pub name: String,
    /// Submission prefix: `<url>/ct/v1/add-pre-chain` is called.
    pub url: String,
    /// The log's public key, base64 DER SubjectPublicKeyInfo (its log id is its SHA-256).
    pub public_key: String,
    pub operator: String,
    #[serde(default = "default_ct_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_ct_timeout_ms() -> u64 {
    5_000
}

impl Default for CaConfig {
    fn default() -> Self {
        let mut profiles = BTreeMap::new();
        profiles.insert("dv".to_string(), ProfileConfig::default());
        CaConfig {
            dev_hierarchy: true,
            profiles,
            default_profile: "dv".to_string(),
            policy_oid: "1.2.392.200091.100.751.1".to_string(),
            cps_uri: "https://hanko.invalid/repository/cps".to_string(),
            crl_base_url: "http://127.0.0.1:14080/crl".to_string(),
            ocsp_url: "http://127.0.0.1:14080/ocsp".to_string(),
            ca_issuers_url: "http://127.0.0.1:14080/ca/intermediate.der".to_string(),
            issuer: None,
        }
    }
}

/// A certificate profile (CP 7.1). Profiles are versioned by name: once a profile has been
/// used, changing its settings under the same name is refused at start (introduce a new
/// name, e.g. `dv-2027`, and retire the old one by removing it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    /// `dv` (2.23.140.1.2.1) or `ov` (2.23.140.1.2.2, subject from the vetted organisation).
    pub validation: ValidationLevel,
    /// Validity in days; capped by the dated BR maximum (200 days from 2026-03-15), or for
    /// a short-lived profile by the short-lived maximum (7 days from 2026-03-15).
    pub validity_days: u32,
    /// A short-lived certificate profile (BR 7.1.2.7, CP 4.9.1).
    pub short_lived: bool,
    /// Seconds notBefore is backdated, to tolerate client clock skew (CP 7.1: ≤ 48 h).
    pub backdate_seconds: u64,
    /// Also assert clientAuth in EKU.
    pub client_auth: bool,
    /// Include subjectKeyIdentifier (BR 7.1.2.7.6: NOT RECOMMENDED for subscriber
    /// certificates; off by default).
    pub subject_key_identifier: bool,
    /// Put the first SAN in the subject CN (CP 7.1.4: a character-for-character copy). BR
    /// 7.1.2.7.2 calls a CN NOT RECOMMENDED, so it is off by default; without it a DV subject
    /// is empty and the SAN extension critical (RFC 5280 4.2.1.6).
    pub common_name: bool,
    /// Issued under a publicly-trusted hierarchy: refuses to run on a software key, without
    /// a linter, or without CT logs (CPS 6.2, CP 4.3.1.2, 4.4.2).
    pub publicly_trusted: bool,
    pub description: String,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            validation: ValidationLevel::Dv,
            validity_days: 90,
            short_lived: false,
            backdate_seconds: 3600,
            client_auth: false,
            subject_key_identifier: false,
            common_name: false,
            publicly_trusted: false,
            description: "Domain-validated TLS server certificate".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ValidationLevel {
    Dv,
    Ov,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// tracing-subscriber filter, e.g. `info,hanko=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Load from an optional file, then apply `HANKO_*` overrides from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As `load`, with the environment given explicitly (tests pass their own).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (mut table, file_name) = match file {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    file: name.clone(),
                    source,
                })?;
                let table: toml::Table =
                    text.parse()
                        .map_err(|e: toml::de::Error| ConfigError::Syntax {
                            file: name.clone(),
                            message: e.to_string(),
                        })?;
                (table, Some(name))
            }
            None => (toml::Table::new(), None),
        };
        let mut from_env = BTreeMap::new();
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let parsed = parse_env_value(&value);
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(section_table) = entry else {
                return Err(ConfigError::Env {
                    var,
                    message: format!("`{section}` is not a section"),
                });
            };
            section_table.insert(key.clone(), parsed);
            from_env.insert(format!("{section}.{key}"), var);
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let origin = from_env
                    .iter()
                    .find(|(k, _)| {
                        // `validation.dns_resolvers[0]` came from the variable that set
                        // `validation.dns_resolvers`.
                        key.strip_prefix(k.as_str())
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
                    })
                    .map(|(_, var)| format!("environment variable {var}"))
                    .or_else(|| file_name.as_ref().map(|f| format!("config file {f}")))
                    .unwrap_or_else(|| "defaults".to_string());
                let message = e.into_inner().to_string();
                // serde names an unknown field in the message; put it in the key path too.
                let key = match unknown_field(&message) {
                    Some(field) if key == "." || key.is_empty() => field,
                    Some(field) => format!("{key}.{field}"),
                    None => key,
                };
                ConfigError::Key {
                    origin,
                    key,
                    message,
                }
            })?;
        config.check()?;
        Ok(config)
    }

    /// Cross-field rules that serde cannot express.
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Key {
            origin: "configuration".to_string(),
            key: key.to_string(),
            message,
        };
        if !self.ca.profiles.contains_key(&self.ca.default_profile) {
            return Err(bad(
                "ca.default_profile",
                format!("no profile named {:?}", self.ca.default_profile),
            ));
        }
        for (name, profile) in &self.ca.profiles {
            if profile.backdate_seconds > 48 * 3600 {
                return Err(bad(
                    &format!("ca.profiles.{name}.backdate_seconds"),
                    "notBefore may be backdated at most 48 hours (CP 7.1)".to_string(),
                ));
            }
            if profile.validity_days == 0 {
                return Err(bad(
                    &format!("ca.profiles.{name}.validity_days"),
                    "must be at least 1".to_string(),
                ));
            }
        }
        revocation::check(&self.crl, &self.ocsp).map_err(|(key, message)| bad(key, message))?;
        mpic::check(&self.validation.remote, self.perspective.as_ref())
            .map_err(|(key, message)| bad(&key, message))?;
        self.revocation
            .check()
            .map_err(|(key, message)| bad(key, message))?;
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(bad(
                "server.tls_cert",
                "server.tls_cert and server.tls_key go together".to_string(),
            ));
        }
        if let Some(url) = &self.server.base_url {
            if url.ends_with('/') || !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(bad(
                    "server.base_url",
                    "must be an http(s) URL without a trailing slash".to_string(),
                ));
            }
        }
        Ok(())
    }

    /// Whether any configured profile is publicly trusted (BR gates apply).
    pub fn has_publicly_trusted_profile(&self) -> bool {
        self.ca.profiles.values().any(|p| p.publicly_trusted)
    }

    /// The URL prefix every ACME resource URL starts with.
    pub fn base_url(&self) -> String {
        self.server
            .base_url
            .clone()
            .unwrap_or_else(|| format!("https://{}", self.server.listen))
    }

    /// An account's URL exactly as its client sees it (RFC 8555 7.3), which CAA `accounturi`
    /// is compared with (RFC 8657 3); `ra` needs it without depending on `acme`.
    pub fn account_url(&self, account_id: &str) -> String {
        account_url(&self.base_url(), account_id)
    }

    /// The database URL, defaulting to SQLite in the data directory (WAL mode is set by
    /// `storage`).
    pub fn database_url(&self) -> String {
        self.storage.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.storage.data_dir.join("hanko.db").display()
            )
        })
    }
}

/// An environment value is TOML when it parses as one (numbers, booleans, `["a", "b"]`
/// arrays), otherwise a plain string.
fn parse_env_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

#[cfg(test)]
mod tests;

/// The one place the account URL shape lives: `acme` serves it, `ra` compares CAA
/// `accounturi` with it.
pub fn account_url(base_url: &str, account_id: &str) -> String {
    format!("{base_url}/acme/acct/{account_id}")
}
