//! The mTLS credentials of both sides: PEM files read once at start, the leaf certificate
//! checked for its validity period (a clear start-up error naming the key and the file,
//! rather than handshakes failing later), and the rustls configurations built on ring.
//! Each side trusts only the CA configured for the other (no system roots).

use crate::config::{PerspectiveRoleConfig, RemoteConfig};
use crate::validation::SetupError;
use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn error(key: &str, file: &Path, message: impl Into<String>) -> SetupError {
    SetupError::Credential {
        key: key.to_string(),
        file: file.display().to_string(),
        message: message.into(),
    }
}

fn required<'a>(key: &str, path: &'a Option<PathBuf>) -> Result<&'a Path, SetupError> {
    path.as_deref().ok_or_else(|| SetupError::Credential {
        key: key.to_string(),
        file: "(not set)".to_string(),
        message: "required for remote perspectives (mutual TLS)".to_string(),
    })
}

fn read(key: &str, file: &Path) -> Result<Vec<u8>, SetupError> {
    std::fs::read(file).map_err(|e| error(key, file, format!("cannot read: {e}")))
}

/// A PEM certificate chain whose first certificate is valid at `now`.
fn certificates(
    key: &str,
    file: &Path,
    now: DateTime<Utc>,
) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let pem = read(key, file)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(key, file, format!("not a PEM certificate: {e}")))?;
    let Some(leaf) = certs.first() else {
        return Err(error(key, file, "no certificate in the file"));
    };
    check_validity(key, file, leaf, now)?;
    Ok(certs)
}

fn check_validity(
    key: &str,
    file: &Path,
    cert: &CertificateDer<'_>,
    now: DateTime<Utc>,
) -> Result<(), SetupError> {
    use x509_parser::prelude::FromDer;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref())
        .map_err(|e| error(key, file, format!("unparsable certificate: {e}")))?;
    let validity = parsed.validity();
    let now = now.timestamp();
    if now > validity.not_after.timestamp() {
        return Err(error(
            key,
            file,
            format!("certificate expired at {}", validity.not_after),
        ));
    }
    if now < validity.not_before.timestamp() {
        return Err(error(
            key,
            file,
            format!("certificate not valid before {}", validity.not_before),
        ));
    }
    Ok(())
}

fn private_key(key: &str, file: &Path) -> Result<PrivateKeyDer<'static>, SetupError> {
    let pem = read(key, file)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| error(key, file, format!("not a PEM private key: {e}")))
}

fn roots(key: &str, file: &Path, now: DateTime<Utc>) -> Result<RootCertStore, SetupError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(key, file, now)? {
        store
            .add(cert)
            .map_err(|e| error(key, file, format!("unusable CA certificate: {e}")))?;
    }
    Ok(store)
}

/// The primary's client configuration: the configured CA as the only root, the client
/// certificate presented to every perspective.
pub fn client_tls(
    remote: &RemoteConfig,
    now: DateTime<Utc>,
) -> Result<rustls::ClientConfig, SetupError> {
    let (cert_key, key_key, ca_key) = (
        "validation.remote.client_cert",
        "validation.remote.client_key",
        "validation.remote.ca",
    );
    let cert_file = required(cert_key, &remote.client_cert)?;
    let key_file = required(key_key, &remote.client_key)?;
    let ca_file = required(ca_key, &remote.ca)?;
    let chain = certificates(cert_key, cert_file, now)?;
    let key = private_key(key_key, key_file)?;
    let roots = roots(ca_key, ca_file, now)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SetupError::Http(format!("TLS client: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| {
            error(
                key_key,
                key_file,
                format!("does not match the certificate: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A perspective's listener configuration: its certificate, and a client verifier that
/// requires a certificate chaining to `perspective.client_ca` (no certificate, no handshake).
pub fn server_tls(
    role: &PerspectiveRoleConfig,
    now: DateTime<Utc>,
) -> Result<rustls::ServerConfig, SetupError> {
    let chain = certificates("perspective.tls_cert", &role.tls_cert, now)?;
    let key = private_key("perspective.tls_key", &role.tls_key)?;
    let roots = roots("perspective.client_ca", &role.client_ca, now)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| error("perspective.client_ca", &role.client_ca, e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SetupError::Http(format!("TLS server: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            error(
                "perspective.tls_key",
                &role.tls_key,
                format!("does not match the certificate: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
