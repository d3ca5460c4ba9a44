//! A throwaway validating resolver (Unbound, `unbound -d`) on 127.0.0.1 and a free port,
//! forwarding the test zones to the test BIND9 through stub zones and validating them with
//! DNSSEC against test trust anchors, as hanko's production resolver does against the IANA
//! root anchor (ARCHITECTURE.md "DNSSEC"). Also `sign_zone`: a BIND9 zone signed with
//! dnssec-keygen/dnssec-signzone, optionally with its signatures broken.

use crate::bind9::Zone;
use crate::ports::free_tcp_udp_port;
use crate::process::{require_tool, Cmd, CmdOutput, Daemon};
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 3;
const LOG_TAIL_LINES: usize = 60;

/// A zone signed for the test, with the file Unbound takes as its trust anchor.
pub struct SignedZone {
    /// The zone with its signed text, ready for `Bind9::start`.
    pub zone: Zone,
    /// The key-signing key's DNSKEY record (dnssec-keygen's `.key` file).
    pub trust_anchor: PathBuf,
    _keys: TempDir,
}

/// Which signatures `sign_zone` breaks after signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corrupt {
    Nothing,
    /// Every RRSIG except those over the DNSKEY RRset: the keys still validate from the
    /// anchor, the data does not (DNSSEC-bogus).
    AllData,
    /// Only the RRSIGs covering this type (e.g. `CAA`): that RRset alone is bogus.
    Only(&'static str),
}

/// Signs `zone` (its `text`, or the generated zone file) with a fresh ECDSA P-256 ZSK and
/// KSK (RFC 6605), then breaks the signatures `corrupt` names.
pub async fn sign_zone(zone: &Zone, corrupt: Corrupt) -> Result<SignedZone> {
    let keygen = require_tool("dnssec-keygen")?;
    let signzone = require_tool("dnssec-signzone")?;
    let keys = tempfile::Builder::new()
        .prefix("hanko-dnssec-")
        .tempdir()
        .context("creating the key directory")?;
    let dir = keys.path();
    let origin = zone.origin.as_str();
    let unsigned = dir.join("zone.db");
    let text = zone.text.clone().unwrap_or_else(|| zone.zone_file());
    std::fs::write(&unsigned, text).context("writing the unsigned zone")?;
    let mut ksk = String::new();
    for flags in [&[][..], &["-f", "KSK"][..]] {
        let out = Cmd::new(&keygen)
            .args([
                "-K",
                &dir.display().to_string(),
                "-a",
                "ECDSAP256SHA256",
                "-n",
                "ZONE",
            ])
            .args(flags)
            .arg(origin)
            .timeout(Duration::from_secs(30))
            .run_ok()
            .await
            .context("dnssec-keygen")?;
        ksk = out.stdout.trim().to_string();
    }
    let signed = dir.join("zone.signed");
    Cmd::new(&signzone)
        .args([
            "-K",
            &dir.display().to_string(),
            // The dsset file goes to the key directory, not the working directory.
            "-d",
            &dir.display().to_string(),
            "-S",
            "-O",
            "full",
            "-o",
            origin,
            "-f",
        ])
        .arg(&signed)
        .arg(&unsigned)
        .timeout(Duration::from_secs(30))
        .run_ok()
        .await
        .context("dnssec-signzone")?;
    let mut text = std::fs::read_to_string(&signed).context("reading the signed zone")?;
    if corrupt != Corrupt::Nothing {
        text = corrupt_signatures(&text, corrupt);
    }
    let mut served = zone.clone();
    served.text = Some(text);
    Ok(SignedZone {
        zone: served,
        trust_anchor: dir.join(format!("{ksk}.key")),
        _keys: keys,
    })
}

/// Flips the first character of the last signature chunk of the RRSIGs `corrupt` names.
fn corrupt_signatures(text: &str, corrupt: Corrupt) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let covered = fields.get(4).copied().unwrap_or_default();
        let is_data_sig = fields.get(3) == Some(&"RRSIG")
            && match corrupt {
                Corrupt::Nothing => false,
                Corrupt::AllData => covered != "DNSKEY",
                Corrupt::Only(rtype) => covered == rtype,
            };
        match (is_data_sig, line.rfind(char::is_whitespace)) {
            (true, Some(at)) => {
                let (head, sig) = line.split_at(at + 1);
                let mut chars = sig.chars();
                let first = chars.next().unwrap_or('A');
                let flipped = if first == 'A' { 'B' } else { 'A' };
                let _ = writeln!(out, "{head}{flipped}{}", chars.as_str());
            }
            _ => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

/// A running Unbound. Stopped on drop; its log is printed if the test is panicking.
pub struct Unbound {
    daemon: Daemon,
    port: u16,
    _dir: TempDir,
}

impl Unbound {
    /// Start Unbound resolving every zone in `stub_zones` through `upstream` (the test
    /// BIND9), validating with `trust_anchors` (zone files of DNSKEY or DS records). Ready
    /// when `ready_name` answers SOA with AD=1.
    pub async fn start(
        upstream: SocketAddr,
        stub_zones: &[String],
        trust_anchors: &[PathBuf],
        ready_name: &str,
    ) -> Result<Self> {
        let unbound = require_tool("unbound")?;
        require_tool("dig")?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&unbound, upstream, stub_zones, trust_anchors, ready_name).await
            {
                Ok(u) => return Ok(u),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("Unbound start not attempted"))).context(
            format!("Unbound did not start after {START_ATTEMPTS} attempts"),
        )
    }

    async fn start_once(
        unbound: &Path,
        upstream: SocketAddr,
        stub_zones: &[String],
        trust_anchors: &[PathBuf],
        ready_name: &str,
    ) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("hanko-unbound-")
            .tempdir()
            .context("creating the Unbound directory")?;
        let port = free_tcp_udp_port()?;
        let conf = dir.path().join("unbound.conf");
        std::fs::write(
            &conf,
            config(dir.path(), port, upstream, stub_zones, trust_anchors),
        )
        .context("writing unbound.conf")?;
        let mut command = std::process::Command::new(unbound);
        command
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .current_dir(dir.path());
        let daemon = Daemon::spawn("unbound", command, &dir.path().join("unbound.log"))?;
        let mut resolver = Unbound {
            daemon,
            port,
            _dir: dir,
        };
        match resolver.wait_ready(ready_name).await {
            Ok(()) => Ok(resolver),
            Err(e) => {
                let log = resolver.daemon.log_tail(LOG_TAIL_LINES);
                Err(e.context(format!(
                    "unbound on 127.0.0.1:{port} not ready\n--- unbound log ---\n{log}"
                )))
            }
        }
    }

    async fn wait_ready(&mut self, name: &str) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.daemon.exited()? {
                bail!("unbound exited during start-up with {status}");
            }
            if let Ok(out) = self.dig(name, "SOA").await {
                if dig_flags(&out.stdout).contains(&"ad".to_string()) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!("no validated SOA answer for {name} after {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The `ip:port` to give hanko as its validating resolver.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.daemon.log_tail(lines)
    }

    /// `dig` through this resolver (full output: status and flags included).
    pub async fn dig(&self, name: &str, rtype: &str) -> Result<CmdOutput> {
        Cmd::new("dig")
            .arg("@127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .args(["+time=2", "+tries=1", "+adflag"])
            .arg(name)
            .arg(rtype)
            .timeout(Duration::from_secs(10))
            .run_ok()
            .await
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- unbound log, last {LOG_TAIL_LINES} lines ---\n{}\n--- end of unbound log ---",
                self.daemon.log_tail(LOG_TAIL_LINES)
            );
        }
    }
}

/// The header flags of a `dig` answer (`;; flags: qr rd ra ad; QUERY: …`).
pub fn dig_flags(output: &str) -> Vec<String> {
    output
        .lines()
        .find_map(|l| l.split(";; flags:").nth(1))
        .and_then(|rest| rest.split(';').next())
        .map(|flags| flags.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The `status:` of a `dig` answer (`NOERROR`, `SERVFAIL`, …).
pub fn dig_status(output: &str) -> Option<String> {
    let rest = output.split("status: ").nth(1)?;
    Some(rest.split(',').next()?.trim().to_string())
}

/// Loopback only, one thread, no privileges dropped, no root hints needed: every name the
/// tests use is under a stub zone. `do-not-query-localhost: no` lets it ask BIND on
/// 127.0.0.1. Nothing is kept (TTL caps 0), so a test that changes or stops BIND sees it at
/// once, as hanko's own resolver settings intend (validation/resolve.rs); BIND stopped and
/// started again (faults) is asked again within a second, not after Unbound's back-off.
fn config(
    dir: &Path,
    port: u16,
    upstream: SocketAddr,
    stub_zones: &[String],
    trust_anchors: &[PathBuf],
) -> String {
    let d = dir.display();
    let mut conf = format!(
        r#"server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    use-syslog: no
    logfile: ""
    verbosity: 1
    val-log-level: 2
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    qname-minimisation: no
    cache-max-ttl: 0
    infra-host-ttl: 1
    infra-keep-probing: yes
    cache-max-negative-ttl: 0
    val-bogus-ttl: 0
    module-config: "validator iterator"
"#
    );
    for anchor in trust_anchors {
        let _ = writeln!(conf, "    trust-anchor-file: \"{}\"", anchor.display());
    }
    conf.push_str("remote-control:\n    control-enable: no\n");
    for zone in stub_zones {
        let _ = writeln!(
            conf,
            "stub-zone:\n    name: \"{zone}.\"\n    stub-addr: {}@{}",
            upstream.ip(),
            upstream.port()
        );
    }
    conf
}
