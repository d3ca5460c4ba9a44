//! `HankoServer`: the real `hanko serve` binary in a temporary data directory, configured
//! only through `HANKO_<SECTION>__<KEY>` environment variables (src/config/mod.rs).

use crate::ports::free_tcp_port;
use crate::process::Daemon;
use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long `start` waits for `/health`. A first start creates the development hierarchy
/// and runs migrations; in a debug build on a loaded 2-core machine that takes a while.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Lines of the server log shown when something fails.
const LOG_TAIL_LINES: usize = 120;

/// Settings a test can choose; everything else is hanko's defaults.
#[derive(Debug, Clone)]
pub struct HankoOptions {
    /// Port the CA connects to for http-01; a free port when `None`.
    pub http01_port: Option<u16>,
    /// Port the CA connects to for tls-alpn-01; a free port when `None`.
    pub tlsalpn01_port: Option<u16>,
    /// DNS resolvers for validation and CAA (normally the test BIND9).
    pub dns_resolvers: Vec<SocketAddr>,
    /// `postgres://…` database; SQLite in the data directory when `None`.
    pub postgres_url: Option<String>,
    /// Extra `HANKO_*` variables, applied last.
    pub env: Vec<(String, String)>,
    pub start_timeout: Duration,
    /// Program to run instead of the located `hanko` (the harness self-test's stand-in).
    pub binary: Option<PathBuf>,
    /// Trust this root (PEM) for the HTTPS listener instead of the development root the
    /// server writes (an HSM-backed CA with its own listener certificate).
    pub trust_root: Option<PathBuf>,
    /// Run in this directory (data in `<dir>/data`) and keep it, so a restarted server
    /// finds the same database; a fresh temporary directory when `None`.
    pub work_dir: Option<PathBuf>,
    /// The HTTPS port; a free one when `None`. A restarted server takes its predecessor's
    /// port, since every ACME URL (account ids included) contains it.
    pub port: Option<u16>,
    /// The plain-HTTP status port (CRLs, OCSP, CA certificate: `server.http_listen`); a
    /// free one when `None`. Unless the test's `env` says otherwise, `ca.crl_base_url`,
    /// `ca.ocsp_url` and `ca.ca_issuers_url` point at it.
    pub status_port: Option<u16>,
}

impl Default for HankoOptions {
    fn default() -> Self {
        HankoOptions {
            http01_port: None,
            tlsalpn01_port: None,
            dns_resolvers: Vec::new(),
            postgres_url: None,
            env: Vec::new(),
            start_timeout: DEFAULT_START_TIMEOUT,
            binary: None,
            trust_root: None,
            work_dir: None,
            port: None,
            status_port: None,
        }
    }
}

/// A running `hanko serve`. Stopped (SIGTERM, then SIGKILL) on drop; if the test is
/// panicking at that point, the tail of the server log is printed to stderr.
pub struct HankoServer {
    daemon: Daemon,
    port: u16,
    status_port: u16,
    http01_port: u16,
    tlsalpn01_port: u16,
    data_dir: PathBuf,
    trust_root: Option<PathBuf>,
    client: reqwest::Client,
    work_dir: PathBuf,
    // Last field: removed after the process is gone (fields drop in declaration order).
    // None when the test chose the directory (it outlives this server).
    _dir: Option<TempDir>,
}

impl HankoServer {
    /// Start hanko and wait until `/health` answers 200 over HTTPS that verifies against
    /// the development root it wrote.
    pub async fn start(opts: HankoOptions) -> Result<Self> {
        // A port handed out free can be taken by another test process before hanko binds
        // it (ports.rs); hanko then exits with "Address already in use". Start again: ports
        // the test left to us are chosen afresh, fixed ones may have been freed meanwhile.
        let mut attempt = 1;
        loop {
            match Self::start_once(opts.clone()).await {
                Err(e) if attempt < 3 && format!("{e:#}").contains("Address already in use") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                result => return result,
            }
        }
    }

    async fn start_once(opts: HankoOptions) -> Result<Self> {
        crate::init_crypto();
        let bin = match &opts.binary {
            Some(bin) => bin.clone(),
            None => hanko_binary()?,
        };
        let (dir, work_dir) = match &opts.work_dir {
            Some(w) => (None, w.clone()),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("hanko-test-")
                    .tempdir()
                    .context("creating temporary directory for hanko")?;
                let path = dir.path().to_path_buf();
                (Some(dir), path)
            }
        };
        let data_dir = work_dir.join("data");
        let port = match opts.port {
            Some(p) => p,
            None => free_tcp_port()?,
        };
        let status_port = match opts.status_port {
            Some(p) => p,
            None => free_tcp_port()?,
        };
        let http01_port = match opts.http01_port {
            Some(p) => p,
            None => free_tcp_port()?,
        };
        let tlsalpn01_port = match opts.tlsalpn01_port {
            Some(p) => p,
            None => free_tcp_port()?,
        };

        let mut command = std::process::Command::new(&bin);
        command.arg("serve").current_dir(&work_dir);
        // Only our settings reach the server: an operator's HANKO_* in the developer's
        // shell must not change what the test checks.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HANKO_") {
                command.env_remove(key);
            }
        }
        let resolvers = opts
            .dns_resolvers
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut env = vec![
            (
                "HANKO_SERVER__LISTEN".to_string(),
                format!("127.0.0.1:{port}"),
            ),
            (
                "HANKO_STORAGE__DATA_DIR".to_string(),
                data_dir.display().to_string(),
            ),
            (
                "HANKO_VALIDATION__HTTP01_PORT".to_string(),
                http01_port.to_string(),
            ),
            (
                "HANKO_VALIDATION__TLSALPN01_PORT".to_string(),
                tlsalpn01_port.to_string(),
            ),
            (
                "HANKO_VALIDATION__DNS_RESOLVERS".to_string(),
                format!("[{resolvers}]"),
            ),
            // Test names resolve to 127.0.0.1, which a public CA must refuse.
            (
                "HANKO_VALIDATION__ALLOW_PRIVATE_ADDRESSES".to_string(),
                "true".to_string(),
            ),
            (
                "HANKO_SERVER__HTTP_LISTEN".to_string(),
                format!("127.0.0.1:{status_port}"),
            ),
            (
                "HANKO_CA__CRL_BASE_URL".to_string(),
                format!("http://127.0.0.1:{status_port}/crl"),
            ),
            (
                "HANKO_CA__OCSP_URL".to_string(),
                format!("http://127.0.0.1:{status_port}/ocsp"),
            ),
            (
                "HANKO_CA__CA_ISSUERS_URL".to_string(),
                format!("http://127.0.0.1:{status_port}/ca/issuer.der"),
            ),
            ("HANKO_LOG__FORMAT".to_string(), "json".to_string()),
            (
                "HANKO_LOG__LEVEL".to_string(),
                "info,hanko=debug".to_string(),
            ),
        ];
        if let Some(url) = &opts.postgres_url {
            env.push(("HANKO_STORAGE__URL".to_string(), url.clone()));
        }
        env.extend(opts.env.iter().cloned());
        command.envs(env);

        // A restarted server in the same directory gets a log of its own.
        let mut log = work_dir.join("hanko.log");
        let mut n = 1;
        while log.exists() {
            n += 1;
            log = work_dir.join(format!("hanko-{n}.log"));
        }
        let daemon = Daemon::spawn("hanko", command, &log)?;
        let mut server = HankoServer {
            daemon,
            port,
            status_port,
            http01_port,
            tlsalpn01_port,
            data_dir,
            trust_root: opts.trust_root.clone(),
            // Replaced once the root exists; until then nothing can be verified.
            client: reqwest::Client::new(),
            work_dir,
            _dir: dir,
        };
        server
            .wait_ready(opts.start_timeout)
            .await
            .with_context(|| {
                format!(
                    "hanko ({}) did not become ready on 127.0.0.1:{port}\n--- hanko log ({}), last {LOG_TAIL_LINES} lines ---\n{}",
                    bin.display(),
                    server.daemon.log_path().display(),
                    server.daemon.log_tail(LOG_TAIL_LINES)
                )
            })?;
        Ok(server)
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let health = format!("{}/health", self.base_url());
        let mut client: Option<reqwest::Client> = None;
        let mut last_error = String::from("root certificate not written yet");
        loop {
            if let Some(status) = self.daemon.exited()? {
                bail!("hanko exited during start-up with {status}");
            }
            if client.is_none() && self.root_pem_path().is_file() {
                // The file may be half-written; a parse failure just means "try again".
                match client_trusting(&self.root_pem_path()) {
                    Ok(c) => client = Some(c),
                    Err(e) => last_error = format!("{e:#}"),
                }
            }
            if let Some(c) = &client {
                match c.get(&health).timeout(Duration::from_secs(5)).send().await {
                    Ok(rsp) if rsp.status() == reqwest::StatusCode::OK => {
                        self.client = c.clone();
                        return Ok(());
                    }
                    Ok(rsp) => last_error = format!("GET {health}: HTTP {}", rsp.status()),
                    Err(e) => last_error = format!("GET {health}: {}", error_chain(&e)),
                }
            }
            if Instant::now() >= deadline {
                bail!("not ready after {timeout:?}; last attempt: {last_error}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn directory_url(&self) -> String {
        format!("{}/directory", self.base_url())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The plain-HTTP status port (CRLs, OCSP, CA certificate).
    pub fn status_port(&self) -> u16 {
        self.status_port
    }

    /// `http://127.0.0.1:<status port><path>`.
    pub fn status_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.status_port)
    }

    /// Port the CA uses for http-01; the client under test must serve there.
    pub fn http01_port(&self) -> u16 {
        self.http01_port
    }

    /// Port the CA uses for tls-alpn-01; the client under test must serve there.
    pub fn tlsalpn01_port(&self) -> u16 {
        self.tlsalpn01_port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The root the listener chains to: `HankoOptions::trust_root`, else the development
    /// root the server created (`<data_dir>/ca/root.pem`).
    pub fn root_pem_path(&self) -> PathBuf {
        match &self.trust_root {
            Some(root) => root.clone(),
            None => self.data_dir.join("ca").join("root.pem"),
        }
    }

    /// A scratch directory that lives as long as the server, for client state.
    pub fn scratch_dir(&self) -> &Path {
        &self.work_dir
    }

    /// SIGKILL: a crash, for recovery tests. The directory stays (with `work_dir`).
    pub fn kill(mut self) -> Result<()> {
        self.daemon.kill()
    }

    /// An HTTPS client that trusts only the listener's root (the development root unless
    /// `HankoOptions::listener_root` says otherwise).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn log_path(&self) -> &Path {
        self.daemon.log_path()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.daemon.log_tail(lines)
    }

    /// Graceful shutdown: SIGTERM and wait (up to `grace`). Errors if the server had to be
    /// killed or exited unsuccessfully.
    pub fn stop(mut self, grace: Duration) -> Result<ExitStatus> {
        match self.daemon.terminate(grace)? {
            Some(status) if status.success() => Ok(status),
            Some(status) => bail!(
                "hanko exited with {status} on SIGTERM\n--- hanko log ---\n{}",
                self.log_tail(LOG_TAIL_LINES)
            ),
            None => bail!(
                "hanko did not exit within {grace:?} of SIGTERM and was killed\n--- hanko log ---\n{}",
                self.log_tail(LOG_TAIL_LINES)
            ),
        }
    }
}

impl Drop for HankoServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- hanko log ({}), last {LOG_TAIL_LINES} lines ---\n{}\n--- end of hanko log ---",
                self.daemon.log_path().display(),
                self.daemon.log_tail(LOG_TAIL_LINES)
            );
        }
    }
}

/// Where the `hanko` binary is: `$HANKO_BIN`, else next to the test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/hanko`). Cargo only sets
/// `CARGO_BIN_EXE_*` for binaries of the test's own package, so we look it up ourselves.
pub fn hanko_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("HANKO_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("HANKO_BIN={} is not a file", path.display());
        }
        return Ok(path);
    }
    let exe = std::env::current_exe().context("locating the test executable")?;
    let mut candidates = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        candidates.push(dir.join("hanko"));
    }
    for candidate in &candidates {
        if candidate.is_file() {
            return Ok(candidate.clone());
        }
    }
    bail!(
        "hanko binary not found (looked at {}); build it first with \
         `cargo build --workspace` (scripts/test.sh does) or set HANKO_BIN",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A reqwest client that trusts exactly the certificates in `root_pem` (ring provider).
pub fn client_trusting(root_pem: &Path) -> Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for cert in CertificateDer::pem_file_iter(root_pem)
        .with_context(|| format!("reading {}", root_pem.display()))?
    {
        let cert = cert.with_context(|| format!("parsing {}", root_pem.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("adding {} as a trust anchor", root_pem.display()))?;
        count += 1;
    }
    if count == 0 {
        bail!("{} holds no certificate", root_pem.display());
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("rustls protocol versions")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building reqwest client")
}

/// reqwest hides the interesting part (TLS or connect error) in the source chain.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
