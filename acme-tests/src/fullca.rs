//! `FullCa`: hanko as a publicly-trusted CA would run it (issue #3): CA keys in a SoftHSM2
//! token made by `hanko ceremony`, pkilint before every signature, precertificates logged to
//! in-process RFC 6962 test logs, and BIND9 serving the test zone. Each test gets its own
//! token, logs, DNS and directory; `start` may be called again on the same directory to
//! restart the CA after a crash.

use crate::bind9::{Bind9, Zone};
use crate::ctlog::{LogBehaviour, TestCtLog};
use crate::mpic::{MpicPki, Perspective};
use crate::process::Cmd;
use crate::rig::{DEFAULT_HOSTS, ZONE};
use crate::server::{hanko_binary, HankoOptions, HankoServer};
use crate::softhsm::SoftHsm;
use crate::unbound::{sign_zone, Corrupt, SignedZone, Unbound};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// The two hierarchies the suite issues under (issue #3 item 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    /// Root P-384, issuing CA P-256.
    Ecdsa,
    /// Root RSA-3072, issuing CA RSA-2048.
    Rsa,
}

/// One test CT log: its operator and how it behaves.
#[derive(Debug, Clone)]
pub struct LogSpec {
    pub name: String,
    pub operator: String,
    pub behaviour: LogBehaviour,
    pub timeout_ms: u64,
}

impl LogSpec {
    pub fn new(name: &str, operator: &str, behaviour: LogBehaviour) -> LogSpec {
        LogSpec {
            name: name.to_string(),
            operator: operator.to_string(),
            behaviour,
            timeout_ms: 2_000,
        }
    }

    /// Three well-behaved logs of three operators ("log-A" of "Operator A", …): enough for
    /// the CT policy of every profile, as the benchmarks use them.
    pub fn three_operators() -> Vec<LogSpec> {
        ["A", "B", "C"]
            .iter()
            .map(|op| {
                LogSpec::new(
                    &format!("log-{op}"),
                    &format!("Operator {op}"),
                    LogBehaviour::Normal,
                )
            })
            .collect()
    }

    pub fn timeout_ms(mut self, ms: u64) -> LogSpec {
        self.timeout_ms = ms;
        self
    }
}

/// Public-looking URLs under the test zone: pkilint flags internal names (127.0.0.1,
/// `.invalid`) as errors, and production URLs are public.
pub const CRL_BASE_URL: &str = "http://crl.hanko-ci.com/crl";
pub const OCSP_URL: &str = "http://ocsp.hanko-ci.com";
pub const CA_ISSUERS_URL: &str = "http://repo.hanko-ci.com/issuing.der";
pub const CPS_URI: &str = "https://repo.hanko-ci.com/cps";

/// The findings the CP forces, each a BR "NOT RECOMMENDED" that the CP makes a "MUST":
/// ignored by the CA's configuration with that reason, and by the suite's independent
/// pkilint check. Nothing else is.
pub const CP_MANDATED_FINDINGS: [(&str, &str); 2] = [
    (
        "cabf.serverauth.certificate_policy_qualifier_present",
        "CP 7.1.6.4 requires the CPS URI policy qualifier (BR 7.1.2.7.9: NOT RECOMMENDED)",
    ),
    (
        "cabf.serverauth.ov.common_name_attribute_present",
        "CP Table 7.1-1 requires CN = the first SAN in OV certificates (BR 7.1.2.7.4: NOT RECOMMENDED)",
    ),
];

/// One remote perspective per RIR region: five, the BR 3.2.2.9 minimum from 2026-12-15.
pub const RIRS: [&str; 5] = ["ARIN", "RIPE", "APNIC", "LACNIC", "AFRINIC"];

/// A signed zone whose SOA hanko's start-up DNSSEC probe asks (`validation.dnssec_probe_name`).
pub const DNSSEC_PROBE: &str = "dnssec-probe.hanko-ci.com";

pub struct FullCa {
    pub hsm: SoftHsm,
    /// hanko's resolver: validates DNSSEC (publicly-trusted profiles require it, SC-085)
    /// with the probe zone's anchor; the test zone is unsigned, so its answers are insecure.
    pub unbound: Unbound,
    pub bind: Bind9,
    /// The dated number of remote perspectives (BR 3.2.2.9; publicly-trusted profiles refuse
    /// to start and to issue with fewer), one per RIR, each resolving through `unbound`.
    pub perspectives: Vec<Perspective>,
    mpic: MpicPki,
    /// http-01 and tls-alpn-01 ports, fixed for the CA's life: hanko and every perspective
    /// connect to the same ones, across restarts too.
    validation_ports: (u16, u16),
    _probe: SignedZone,
    pub logs: Vec<TestCtLog>,
    pub root_pem: PathBuf,
    pub issuer_pem: PathBuf,
    listener_ca_pem: PathBuf,
    listener_chain: PathBuf,
    listener_key: PathBuf,
    work: TempDir,
}

impl FullCa {
    /// Token, ceremonies (root and issuing CA, each `--yes`), listener certificate, CT logs
    /// and DNS. Nothing is started for hanko yet.
    pub async fn prepare(hierarchy: Hierarchy, logs: &[LogSpec]) -> Result<FullCa> {
        crate::init_crypto();
        let work = tempfile::Builder::new()
            .prefix("hanko-fullca-")
            .tempdir()
            .context("creating the CA directory")?;
        let hsm = SoftHsm::new("hanko-ci").await?;
        let mut started = Vec::new();
        for spec in logs {
            started.push(
                TestCtLog::start(&spec.name, spec.behaviour)
                    .await
                    .with_operator(&spec.operator),
            );
        }
        let zone = Zone::new(ZONE).hosts(DEFAULT_HOSTS);
        let probe = sign_zone(&Zone::new(DNSSEC_PROBE), Corrupt::Nothing).await?;
        let bind = Bind9::start(&[zone, probe.zone.clone()])
            .await
            .context("starting BIND9")?;
        let stubs: Vec<String> = bind.zones().iter().map(|z| z.origin.clone()).collect();
        let anchors = [probe.trust_anchor.clone()];
        let unbound = Unbound::start(bind.addr(), &stubs, &anchors, DNSSEC_PROBE)
            .await
            .context("starting Unbound")?;
        let (listener_ca_pem, listener_chain, listener_key) = listener_certificate(work.path())?;
        let mpic = MpicPki::create(&work.path().join("mpic"))?;
        let validation_ports = (crate::free_tcp_port()?, crate::free_tcp_port()?);
        let mut perspectives = Vec::new();
        for (i, rir) in RIRS.iter().enumerate() {
            let id = format!("p{}-{}", i + 1, rir.to_ascii_lowercase());
            let resolver = unbound.addr();
            let ports = Some(validation_ports);
            perspectives
                .push(Perspective::start_with_ports(&mpic, &id, rir, resolver, ports).await?);
        }
        let mut ca = FullCa {
            hsm,
            unbound,
            bind,
            perspectives,
            mpic,
            validation_ports,
            _probe: probe,
            logs: started,
            root_pem: work.path().join("root.pem"),
            issuer_pem: work.path().join("issuing.pem"),
            listener_ca_pem,
            listener_chain,
            listener_key,
            work,
        };
        ca.ceremonies(hierarchy, logs).await?;
        Ok(ca)
    }

    async fn ceremonies(&mut self, hierarchy: Hierarchy, logs: &[LogSpec]) -> Result<()> {
        let (root_type, issuing_type, suffix) = match hierarchy {
            Hierarchy::Ecdsa => ("p384", "p256", "ECC"),
            Hierarchy::Rsa => ("rsa3072", "rsa2048", "RSA"),
        };
        let root = self.root_pem.display().to_string();
        let issuing = self.issuer_pem.display().to_string();
        let root_subject = format!("C=JP, O=Hanko CI, CN=Hanko CI Root {suffix}");
        let issuing_subject = format!("C=JP, O=Hanko CI, CN=Hanko CI Issuing {suffix}");
        let out = self
            .cli(
                &[
                    "ceremony",
                    "root",
                    "--yes",
                    "--operator",
                    "ci",
                    "--key-label",
                    "root",
                    "--key-type",
                    root_type,
                    "--days",
                    "3650",
                    "--subject",
                    &root_subject,
                    "--out",
                    &root,
                ],
                logs,
            )
            .run()
            .await?;
        if !out.success() {
            bail!("ceremony root failed:\n{}", out.combined());
        }
        let out = self
            .cli(
                &[
                    "ceremony",
                    "intermediate",
                    "--yes",
                    "--operator",
                    "ci",
                    "--root-cert",
                    &root,
                    "--root-key-label",
                    "root",
                    "--key-label",
                    "issuing",
                    "--key-type",
                    issuing_type,
                    "--days",
                    "1825",
                    "--subject",
                    &issuing_subject,
                    "--crl-url",
                    "http://crl.hanko-ci.com/root.crl",
                    "--ca-issuers-url",
                    "http://repo.hanko-ci.com/root.der",
                    "--out",
                    &issuing,
                ],
                logs,
            )
            .run()
            .await?;
        if !out.success() {
            bail!("ceremony intermediate failed:\n{}", out.combined());
        }
        Ok(())
    }

    /// The http-01 and tls-alpn-01 ports hanko and every perspective connect to.
    pub fn validation_ports(&self) -> (u16, u16) {
        self.validation_ports
    }

    /// `[validation.remote]` naming every running perspective.
    fn remote_env(&self) -> String {
        let list: Vec<(&str, &str, std::net::SocketAddr)> = self
            .perspectives
            .iter()
            .zip(RIRS)
            .map(|(p, rir)| (p.id.as_str(), rir, p.addr))
            .collect();
        self.mpic.remote_env(&list, 10)
    }

    /// The data directory's parent: pass to `HankoOptions::work_dir` to keep the database.
    pub fn work_dir(&self) -> PathBuf {
        self.work.path().join("hanko")
    }

    /// Every setting of the full pipeline, for the server and for `hanko` subcommands.
    pub fn env(&self, logs: &[LogSpec]) -> Vec<(String, String)> {
        let mut env = self.hsm.hanko_env();
        let ct_logs: Vec<String> = logs
            .iter()
            .zip(&self.logs)
            .map(|(spec, log)| {
                format!(
                    "{{name = {:?}, url = {:?}, public_key = {:?}, operator = {:?}, timeout_ms = {}}}",
                    spec.name,
                    log.url(),
                    log.public_key_b64(),
                    spec.operator,
                    spec.timeout_ms
                )
            })
            .collect();
        let python = crate::pkilint::python()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| format!("<{e}>"));
        let profiles = "{\
            dv = {validation = \"dv\", validity_days = 90, publicly_trusted = true}, \
            ov = {validation = \"ov\", validity_days = 198, common_name = true, publicly_trusted = true}, \
            shortlived = {validation = \"dv\", validity_days = 7, short_lived = true, publicly_trusted = true}}";
        let ignores: Vec<String> = CP_MANDATED_FINDINGS
            .iter()
            .map(|(code, reason)| format!("{{code = {code:?}, reason = {reason:?}}}"))
            .collect();
        let ignores = format!("[{}]", ignores.join(", "));
        let pairs = [
            (
                "HANKO_STORAGE__DATA_DIR",
                self.work_dir().join("data").display().to_string(),
            ),
            ("HANKO_CA__DEV_HIERARCHY", "false".to_string()),
            (
                "HANKO_CA__ISSUER",
                format!(
                    "{{certificate = {:?}, key_label = \"issuing\"}}",
                    self.issuer_pem.display().to_string()
                ),
            ),
            ("HANKO_CA__PROFILES", profiles.to_string()),
            ("HANKO_CA__CRL_BASE_URL", CRL_BASE_URL.to_string()),
            ("HANKO_CA__OCSP_URL", OCSP_URL.to_string()),
            ("HANKO_CA__CA_ISSUERS_URL", CA_ISSUERS_URL.to_string()),
            ("HANKO_CA__CPS_URI", CPS_URI.to_string()),
            (
                "HANKO_SERVER__TLS_CERT",
                self.listener_chain.display().to_string(),
            ),
            (
                "HANKO_SERVER__TLS_KEY",
                self.listener_key.display().to_string(),
            ),
            ("HANKO_LINT__LINTER", "pkilint".to_string()),
            ("HANKO_LINT__PYTHON", python),
            ("HANKO_LINT__IGNORE", ignores),
            ("HANKO_CT__LOGS", format!("[{}]", ct_logs.join(", "))),
            (
                "HANKO_VALIDATION__DNSSEC",
                "validating-resolver".to_string(),
            ),
            (
                "HANKO_VALIDATION__DNSSEC_PROBE_NAME",
                DNSSEC_PROBE.to_string(),
            ),
            ("HANKO_VALIDATION__REMOTE", self.remote_env()),
        ];
        env.extend(pairs.into_iter().map(|(k, v)| (k.to_string(), v)));
        env
    }

    /// Options for `HankoServer::start`: the full pipeline on a kept directory.
    pub fn options(&self, logs: &[LogSpec]) -> HankoOptions {
        HankoOptions {
            dns_resolvers: vec![self.unbound.addr()],
            http01_port: Some(self.validation_ports.0),
            tlsalpn01_port: Some(self.validation_ports.1),
            env: self.env(logs),
            trust_root: Some(self.listener_ca_pem.clone()),
            work_dir: Some(self.work_dir()),
            start_timeout: Duration::from_secs(120),
            ..HankoOptions::default()
        }
    }

    pub async fn start(&self, logs: &[LogSpec]) -> Result<HankoServer> {
        std::fs::create_dir_all(self.work_dir())?;
        HankoServer::start(self.options(logs)).await
    }

    /// Start again on the same database and port (after a crash).
    pub async fn restart(&self, logs: &[LogSpec], port: u16) -> Result<HankoServer> {
        let mut opts = self.options(logs);
        opts.port = Some(port);
        HankoServer::start(opts).await
    }

    /// A `hanko` subcommand on this CA's database and token.
    pub fn cli(&self, args: &[&str], logs: &[LogSpec]) -> Cmd {
        let mut cmd = Cmd::new(hanko_binary().unwrap_or_else(|_| PathBuf::from("hanko")))
            .args(args)
            .env("HANKO_LOG__LEVEL", "warn")
            .timeout(Duration::from_secs(120));
        for (k, v) in self.env(logs) {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    pub fn dir(&self) -> &Path {
        self.work.path()
    }
}

/// A throwaway CA and a 127.0.0.1/localhost certificate for the ACME listener: an
/// HSM-backed CA signs subscriber certificates only, so the listener's comes from elsewhere
/// (`server.tls_cert`). Returns (CA PEM path, chain PEM path, key PEM path).
pub fn listener_certificate(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hanko test listener CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    let ca_path = dir.join("listener-ca.pem");
    let chain_path = dir.join("listener-chain.pem");
    let key_path = dir.join("listener-key.pem");
    std::fs::write(&ca_path, ca.pem())?;
    std::fs::write(&chain_path, format!("{}{}", cert.pem(), ca.pem()))?;
    std::fs::write(&key_path, key.serialize_pem())?;
    Ok((ca_path, chain_path, key_path))
}
