//! Multi-perspective issuance corroboration rigs (BR 3.2.2.9): a throw-away mTLS PKI made
//! with rcgen (one CA for both sides, as `scripts/mpic-local.sh` does with openssl) and
//! `hanko perspective` processes on 127.0.0.1, each with its own resolver.

use crate::process::Daemon;
use crate::server::hanko_binary;
use anyhow::{bail, Context, Result};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The PKI: `ca.pem`, `primary.{pem,key}` (clientAuth) and one serverAuth certificate per
/// perspective, in `dir`.
pub struct MpicPki {
    dir: PathBuf,
    ca_key: KeyPair,
    ca: rcgen::Certificate,
}

impl MpicPki {
    pub fn create(dir: &Path) -> Result<MpicPki> {
        std::fs::create_dir_all(dir)?;
        let ca_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "hanko MPIC test CA");
        let ca = params.self_signed(&ca_key)?;
        std::fs::write(dir.join("ca.pem"), ca.pem())?;
        let pki = MpicPki {
            dir: dir.to_path_buf(),
            ca_key,
            ca,
        };
        pki.leaf("primary", ExtendedKeyUsagePurpose::ClientAuth)?;
        Ok(pki)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes `<name>.pem` and `<name>.key`, for 127.0.0.1 and localhost.
    pub fn leaf(&self, name: &str, purpose: ExtendedKeyUsagePurpose) -> Result<()> {
        self.leaf_valid(name, purpose, true)
    }

    /// As `leaf`; `valid = false` makes a certificate that expired in 2021.
    pub fn leaf_valid(
        &self,
        name: &str,
        purpose: ExtendedKeyUsagePurpose,
        valid: bool,
    ) -> Result<()> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?;
        params.extended_key_usages = vec![purpose];
        if !valid {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.ca, &self.ca_key)?;
        std::fs::write(self.path(&format!("{name}.pem")), cert.pem())?;
        std::fs::write(self.path(&format!("{name}.key")), key.serialize_pem())?;
        Ok(())
    }

    /// An HTTPS client that trusts the test CA, with the primary's client certificate
    /// (`with_identity`) or without one.
    pub fn client(&self, with_identity: bool) -> Result<reqwest::Client> {
        crate::init_crypto();
        let ca = std::fs::read(self.path("ca.pem"))?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
            .timeout(Duration::from_secs(5));
        if with_identity {
            let mut pem = std::fs::read(self.path("primary.pem"))?;
            pem.extend(std::fs::read(self.path("primary.key"))?);
            builder = builder.identity(reqwest::Identity::from_pem(&pem)?);
        }
        Ok(builder.build()?)
    }

    /// The primary's `[validation.remote]` as one inline TOML table, for
    /// `HANKO_VALIDATION__REMOTE` (the environment override takes TOML values).
    pub fn remote_env(&self, perspectives: &[(&str, &str, SocketAddr)], timeout_s: u64) -> String {
        let list: Vec<String> = perspectives
            .iter()
            .map(|(id, rir, addr)| {
                format!(r#"{{id = "{id}", rir = "{rir}", url = "https://{addr}"}}"#)
            })
            .collect();
        format!(
            r#"{{client_cert = "{}", client_key = "{}", ca = "{}", timeout_seconds = {timeout_s}, perspectives = [{}]}}"#,
            self.path("primary.pem").display(),
            self.path("primary.key").display(),
            self.path("ca.pem").display(),
            list.join(", ")
        )
    }
}

/// A running `hanko perspective`, stopped on drop.
pub struct Perspective {
    pub id: String,
    pub addr: SocketAddr,
    daemon: Daemon,
}

impl Perspective {
    /// Starts perspective `id` (its certificate is made here) resolving through `resolver`,
    /// and waits until `/health` answers over mTLS.
    pub async fn start(
        pki: &MpicPki,
        id: &str,
        rir: &str,
        resolver: SocketAddr,
    ) -> Result<Perspective> {
        Perspective::start_with_ports(pki, id, rir, resolver, None).await
    }

    /// As `start`, connecting for http-01 and tls-alpn-01 to `ports` (the primary's test
    /// ports) instead of 80 and 443: every perspective must reach what the primary reaches.
    pub async fn start_with_ports(
        pki: &MpicPki,
        id: &str,
        rir: &str,
        resolver: SocketAddr,
        ports: Option<(u16, u16)>,
    ) -> Result<Perspective> {
        pki.leaf(id, ExtendedKeyUsagePurpose::ServerAuth)?;
        let ports = ports
            .map(|(http, alpn)| format!("http01_port = {http}\ntlsalpn01_port = {alpn}\n"))
            .unwrap_or_default();
        let port = crate::free_tcp_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let config = format!(
            "[perspective]\nlisten = \"{addr}\"\nid = \"{id}\"\nrir = \"{rir}\"\n\
             tls_cert = \"{}\"\ntls_key = \"{}\"\nclient_ca = \"{}\"\n\n\
             [validation]\ndns_resolvers = [\"{resolver}\"]\nallow_private_addresses = true\n\
             timeout_seconds = 5\n{ports}\n[log]\nformat = \"json\"\nlevel = \"info,hanko=debug\"\n",
            pki.path(&format!("{id}.pem")).display(),
            pki.path(&format!("{id}.key")).display(),
            pki.path("ca.pem").display(),
        );
        let file = pki.path(&format!("{id}.toml"));
        std::fs::write(&file, config)?;
        let mut command = std::process::Command::new(hanko_binary()?);
        command.arg("perspective").arg("--config").arg(&file);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HANKO_") {
                command.env_remove(key);
            }
        }
        let daemon = Daemon::spawn(id, command, &pki.path(&format!("{id}.log")))?;
        let mut perspective = Perspective {
            id: id.to_string(),
            addr,
            daemon,
        };
        perspective.wait_ready(pki).await.with_context(|| {
            format!(
                "perspective {id} on {addr}\n--- log ---\n{}",
                perspective.daemon.log_tail(40)
            )
        })?;
        Ok(perspective)
    }

    async fn wait_ready(&mut self, pki: &MpicPki) -> Result<()> {
        let client = pki.client(true)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("https://{}/health", self.addr);
        loop {
            if let Some(status) = self.daemon.exited()? {
                bail!("exited during start-up with {status}");
            }
            if let Ok(rsp) = client.get(&url).send().await {
                if rsp.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!("not ready after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM and wait: the perspective is down.
    pub async fn stop(&mut self) -> Result<()> {
        self.daemon.stop(Duration::from_secs(5)).await?;
        Ok(())
    }

    pub fn log_tail(&self, n: usize) -> String {
        self.daemon.log_tail(n)
    }
}
