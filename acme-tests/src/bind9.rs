//! A throwaway BIND9 (`named -g`) on 127.0.0.1 and a free port, authoritative for the test
//! zones, accepting RFC 2136 dynamic updates signed with an HMAC-SHA256 TSIG key (RFC 8945).
//! The CA resolves test names through it, and dns-01 clients publish TXT records into it.

use crate::ports::free_tcp_udp_port;
use crate::process::{require_tool, tail_file, Cmd, Daemon};
use anyhow::{bail, Context, Result};
use base64::Engine;
use rand::RngCore;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Name of the TSIG key every test BIND accepts updates with.
pub const TSIG_KEY_NAME: &str = "hanko-ci-key.";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;
const LOG_TAIL_LINES: usize = 60;

/// A TSIG key (hmac-sha256) shared by BIND and the dns-01 clients.
#[derive(Debug, Clone)]
pub struct TsigKey {
    /// Key name with the trailing dot, as BIND and lego expect it.
    pub name: String,
    /// Base64 secret.
    pub secret: String,
}

impl TsigKey {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        TsigKey {
            name: TSIG_KEY_NAME.to_string(),
            secret: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// BIND's algorithm name.
    pub fn algorithm(&self) -> &'static str {
        "hmac-sha256"
    }

    /// The `-y` argument of nsupdate/dig: `hmac-sha256:name:secret`.
    pub fn nsupdate_arg(&self) -> String {
        format!("{}:{}:{}", self.algorithm(), self.name, self.secret)
    }
}

/// One zone BIND serves. The apex, every listed host and a wildcard get `A 127.0.0.1`.
/// Hosts used for dns-01 should be listed explicitly: once `_acme-challenge.<host>` exists,
/// `<host>` becomes an empty non-terminal and no longer matches the wildcard (RFC 4592 2.2.2),
/// which would break a later http-01 for the same host.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: String,
    pub hosts: Vec<String>,
    /// The zone file as served, instead of the generated one (a zone signed beforehand with
    /// dnssec-signzone, see `unbound::sign_zone`). Such a zone is static: no dynamic updates.
    pub text: Option<String>,
}

impl Zone {
    pub fn new(origin: &str) -> Self {
        Zone {
            origin: origin.trim_end_matches('.').to_ascii_lowercase(),
            hosts: Vec::new(),
            text: None,
        }
    }

    /// Add hosts, given relative to the origin (`www`) or fully (`www.hanko-ci.com`).
    pub fn hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for host in hosts {
            let host = host.as_ref().trim_end_matches('.').to_ascii_lowercase();
            let relative = host
                .strip_suffix(&format!(".{}", self.origin))
                .map(str::to_string)
                .unwrap_or(host);
            if !self.hosts.contains(&relative) {
                self.hosts.push(relative);
            }
        }
        self
    }

    /// The generated zone file: SOA, NS, and `A 127.0.0.1` for the apex, the hosts and `*`.
    pub fn zone_file(&self) -> String {
        let mut z = String::new();
        let origin = &self.origin;
        // Short timers: nothing caches for long in a test.
        let _ = writeln!(z, "$ORIGIN {origin}.\n$TTL 60");
        let _ = writeln!(
            z,
            "@ IN SOA ns1.{origin}. hostmaster.{origin}. 1 3600 600 86400 60"
        );
        let _ = writeln!(z, "@ IN NS ns1.{origin}.");
        let _ = writeln!(z, "ns1 IN A 127.0.0.1");
        let _ = writeln!(z, "@ IN A 127.0.0.1");
        let _ = writeln!(z, "* IN A 127.0.0.1");
        for host in &self.hosts {
            let _ = writeln!(z, "{host} IN A 127.0.0.1");
        }
        z
    }
}

/// A running named. Stopped on drop; its log is printed if the test is panicking.
pub struct Bind9 {
    daemon: Daemon,
    port: u16,
    key: TsigKey,
    zones: Vec<Zone>,
    dir: TempDir,
    conf: PathBuf,
    /// How often `start_again` spawned named (names each restart's log file).
    restarts: usize,
}

impl Bind9 {
    /// Start named serving `zones`, plus an empty zone for every parent of a zone that is
    /// itself not served (e.g. `com`): CAA checks climb the tree (RFC 8659 3) and must get
    /// a clean NOERROR/NODATA there instead of REFUSED from a server without recursion.
    pub async fn start(zones: &[Zone]) -> Result<Self> {
        let named = require_tool("named")?;
        require_tool("dig")?;
        let mut last_error = None;
        // A port can be taken between probing and named binding it; try a fresh one.
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&named, zones).await {
                Ok(bind) => return Ok(bind),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("BIND9 start not attempted"))).context(
            format!("BIND9 did not start after {START_ATTEMPTS} attempts"),
        )
    }

    async fn start_once(named: &Path, zones: &[Zone]) -> Result<Self> {
        let dir = work_dir()?;
        let port = free_tcp_udp_port()?;
        let key = TsigKey::generate();
        let mut all_zones: Vec<Zone> = zones.to_vec();
        for zone in zones {
            let labels: Vec<&str> = zone.origin.split('.').collect();
            for i in 1..labels.len() {
                let parent = labels[i..].join(".");
                if !all_zones.iter().any(|z| z.origin == parent) {
                    all_zones.push(Zone::new(&parent));
                }
            }
        }
        let conf = write_config(dir.path(), port, &key, &all_zones)?;
        let command = named_command(named, &conf, port, dir.path());
        let daemon = Daemon::spawn("named", command, &dir.path().join("named.log"))?;
        let mut bind = Bind9 {
            daemon,
            port,
            key,
            zones: all_zones,
            dir,
            conf,
            restarts: 0,
        };
        match bind.wait_ready(zones).await {
            Ok(()) => Ok(bind),
            Err(e) => {
                let log = bind.daemon.log_tail(LOG_TAIL_LINES);
                Err(e.context(format!(
                    "named on 127.0.0.1:{port} not ready\n--- named log ---\n{log}"
                )))
            }
        }
    }

    /// Stop named cleanly (SIGTERM; SIGKILL after 10 s), as in a resolver outage: queries go
    /// unanswered until `start_again`.
    pub async fn stop(&mut self) -> Result<()> {
        self.daemon.stop(Duration::from_secs(10)).await?;
        Ok(())
    }

    /// Start named again after `stop`: the same port, configuration and zones (journals of
    /// dynamic updates included), ready when every zone answers. The stopped process may hold
    /// the port for a moment, so a start that finds it taken is retried for up to 60 s.
    pub async fn start_again(&mut self) -> Result<()> {
        let named = require_tool("named")?;
        let zones = self.zones.clone();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.restarts += 1;
            let log = self
                .dir
                .path()
                .join(format!("named-restart-{}.log", self.restarts));
            let command = named_command(&named, &self.conf, self.port, self.dir.path());
            self.daemon = Daemon::spawn("named", command, &log)?;
            match self.wait_ready(&zones).await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    let tail = self.daemon.log_tail(LOG_TAIL_LINES);
                    return Err(e.context(format!(
                        "named did not come back on port {}\n--- named log ---\n{tail}",
                        self.port
                    )));
                }
                Err(_) => {
                    let _ = self.daemon.kill();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Ready = every requested zone answers its SOA over UDP.
    async fn wait_ready(&mut self, zones: &[Zone]) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.daemon.exited()? {
                bail!("named exited during start-up with {status}");
            }
            // named keeps running when it cannot bind; fail fast so `start` retries.
            let log = tail_file(self.daemon.log_path(), 200);
            if log.contains("address in use") {
                bail!("port {} is taken", self.port);
            }
            let mut all = true;
            for zone in zones {
                let soa = self.query(&zone.origin, "SOA").await.unwrap_or_default();
                all &= !soa.is_empty();
            }
            if all {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("no SOA answers after {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `ip:port` to give the CA as its resolver and to clients as their nameserver.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn tsig(&self) -> &TsigKey {
        &self.key
    }

    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.daemon.log_tail(lines)
    }

    /// `dig +short` for one name and type; an empty list is NODATA/NXDOMAIN.
    pub async fn query(&self, name: &str, rtype: &str) -> Result<Vec<String>> {
        let out = Cmd::new("dig")
            .arg("@127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .args(["+short", "+time=1", "+tries=1", "+norecurse"])
            .arg(name)
            .arg(rtype)
            .timeout(Duration::from_secs(10))
            .run_ok()
            .await?;
        Ok(out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .map(str::to_string)
            .collect())
    }

    /// Send an RFC 2136 update with `nsupdate -y`, signed with the zone's TSIG key.
    /// `commands` are nsupdate lines such as `update add name 60 TXT "x"`.
    pub async fn nsupdate(&self, commands: &str) -> Result<()> {
        let script = self
            .dir
            .path()
            .join(format!("nsupdate-{}.txt", rand::thread_rng().next_u32()));
        let text = format!(
            "server 127.0.0.1 {}\n{}\nsend\n",
            self.port,
            commands.trim_end()
        );
        std::fs::write(&script, text).with_context(|| format!("writing {}", script.display()))?;
        Cmd::new(require_tool("nsupdate")?)
            .arg("-y")
            .arg(self.key.nsupdate_arg())
            .arg("-t")
            .arg("10")
            .arg(&script)
            .timeout(Duration::from_secs(30))
            .run_ok()
            .await
            .context("nsupdate failed")?;
        Ok(())
    }
}

impl Drop for Bind9 {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- named log, last {LOG_TAIL_LINES} lines ---\n{}\n--- end of named log ---",
                self.daemon.log_tail(LOG_TAIL_LINES)
            );
        }
    }
}

/// A fresh directory for named's config, zones and journals. Debian confines named with an
/// AppArmor profile that allows writes under /var/cache/bind but not /tmp, so use that
/// directory when we may write there (root, as in CI); otherwise the system temp directory.
fn work_dir() -> Result<TempDir> {
    let cache = PathBuf::from("/var/cache/bind");
    if cache.is_dir() {
        if let Ok(dir) = tempfile::Builder::new()
            .prefix("hanko-test-")
            .tempdir_in(&cache)
        {
            return Ok(dir);
        }
    }
    tempfile::Builder::new()
        .prefix("hanko-bind-")
        .tempdir()
        .context("creating BIND9 work directory")
}

/// named in the foreground (-g, log to stderr), IPv4 only (-4), one worker (-n 1: 2-core CI).
fn named_command(named: &Path, conf: &Path, port: u16, dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(named);
    command
        .args(["-g", "-4", "-n", "1", "-c"])
        .arg(conf)
        .arg("-p")
        .arg(port.to_string())
        .current_dir(dir);
    command
}

fn write_config(dir: &Path, port: u16, key: &TsigKey, zones: &[Zone]) -> Result<PathBuf> {
    let d = dir.display();
    let mut conf = format!(
        r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    dnssec-validation no;
    notify no;
}};
// No rndc control channel: parallel test servers would fight over port 953.
controls {{ }};
key "{name}" {{
    algorithm {alg};
    secret "{secret}";
}};
"#,
        name = key.name,
        alg = key.algorithm(),
        secret = key.secret,
    );
    for zone in zones {
        let file = dir.join(format!("{}.zone", zone.origin));
        let text = zone.text.clone().unwrap_or_else(|| zone.zone_file());
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        // A zone given as text (signed beforehand) is served as it is: named must not
        // re-sign or update it.
        let update = match zone.text {
            Some(_) => String::new(),
            None => format!("    allow-update {{ key \"{}\"; }};\n", key.name),
        };
        let _ = writeln!(
            conf,
            "zone \"{origin}\" {{\n    type primary;\n    file \"{file}\";\n{update}}};",
            origin = zone.origin,
            file = file.display(),
        );
    }
    let path = dir.join("named.conf");
    std::fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
