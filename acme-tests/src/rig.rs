//! `Rig`: the usual pair for a client test, a BIND9 serving the test zone and a hanko that
//! resolves through it. Each rig has its own ports and directories, so tests run in parallel.

use crate::bind9::{Bind9, Zone};
use crate::server::{HankoOptions, HankoServer};
use anyhow::{Context, Result};
use std::path::Path;

/// The test zone. It must sit under an ICANN public suffix (`com`), or hanko's name policy
/// rejects it; BIND is authoritative for it (and for `com`) only inside the test.
pub const ZONE: &str = "hanko-ci.com";

/// Hosts given explicit A records in the test zone (see `Zone` for why not only a wildcard).
pub const DEFAULT_HOSTS: &[&str] = &[
    "www", "api", "dns", "tls", "mail", "http", "alpn", "lego", "certbot",
];

#[derive(Debug, Clone, Default)]
pub struct RigOptions {
    /// Extra hosts for the zone, besides `DEFAULT_HOSTS`.
    pub hosts: Vec<String>,
    /// Everything else hanko is started with; `dns_resolvers` is set to the rig's BIND.
    pub hanko: HankoOptions,
}

/// BIND9 + hanko. Field order matters: the server stops first, and on a panic its log is
/// printed before BIND's.
pub struct Rig {
    pub server: HankoServer,
    pub bind: Bind9,
}

impl Rig {
    pub async fn start(opts: RigOptions) -> Result<Rig> {
        let zone = Zone::new(ZONE).hosts(DEFAULT_HOSTS).hosts(&opts.hosts);
        let bind = Bind9::start(&[zone])
            .await
            .context("starting BIND9 for the test zone")?;
        let mut hanko = opts.hanko;
        hanko.dns_resolvers = vec![bind.addr()];
        let server = HankoServer::start(hanko).await.context("starting hanko")?;
        Ok(Rig { server, bind })
    }

    /// `host.hanko-ci.com`.
    pub fn name(host: &str) -> String {
        format!("{host}.{ZONE}")
    }

    pub fn directory_url(&self) -> String {
        self.server.directory_url()
    }

    pub fn root_pem(&self) -> std::path::PathBuf {
        self.server.root_pem_path()
    }

    /// A new empty directory for one client's state, removed with the rig.
    pub fn client_dir(&self, name: &str) -> Result<std::path::PathBuf> {
        let dir = self.server.scratch_dir().join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    pub fn scratch_dir(&self) -> &Path {
        self.server.scratch_dir()
    }
}

/// A rig with default options, an ES256 account and an http-01 responder on the CA's
/// http-01 port: the start of most client-flow tests.
pub async fn start_with_account() -> Result<(
    Rig,
    crate::acme_client::Account,
    crate::http01::Http01Responder,
)> {
    let rig = Rig::start(RigOptions::default())
        .await
        .context("rig start")?;
    let client = crate::acme_client::AcmeClient::connect(&rig.server)
        .await
        .context("fetching the directory")?;
    let account = client
        .create_account(crate::acme_client::Key::es256())
        .await
        .context("account")?;
    let responder = crate::http01::Http01Responder::start(rig.server.http01_port())
        .await
        .context("http-01 responder")?;
    Ok((rig, account, responder))
}
