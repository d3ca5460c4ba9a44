//! The HTTP client each simulated subscriber gives instant-acme: hyper with TLS trusting only
//! the given bundle, HTTP/1.1 and HTTP/2 by ALPN like instant-acme's own client, plus
//! TCP_NODELAY. instant-acme's default connector leaves Nagle on, and a JWS POST written in
//! two segments then waits for the server's delayed ACK (~40 ms on Linux) — a client
//! artefact that would dominate every step's latency.

use anyhow::{Context, Result};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, HttpClient};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;

/// TLS settings shared by every subscriber's client (one session cache, so reconnecting
/// subscribers may resume TLS sessions as real clients of one machine would).
#[derive(Clone)]
pub struct Tls(rustls::ClientConfig);

impl Tls {
    /// Trust exactly the certificates in the PEM bundle at `path`.
    pub fn from_bundle(path: &Path) -> Result<Tls> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading CA bundle {}", path.display()))?
        {
            roots
                .add(cert.with_context(|| format!("parsing CA bundle {}", path.display()))?)
                .context("adding a CA certificate")?;
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls(config))
    }

    /// A new client with its own connection pool: one per simulated subscriber account.
    pub fn client(&self) -> Box<dyn HttpClient> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(self.0.clone())
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Box::new(Client::builder(TokioExecutor::new()).build::<_, BodyWrapper<bytes::Bytes>>(https))
    }
}
