//! The TLS client used by validation. tls-alpn-01 (RFC 8737 3) expects a self-signed
//! challenge certificate, and http-01 redirects to https are followed without validating the
//! certificate (as Let's Encrypt does; BR 3.2.2.4.19 rests on the random value, not on the
//! certificate). So the chain is not checked, but the handshake signature still is: the
//! server must hold the key of the certificate it presents, and TLS stays on.

use super::SetupError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::SignatureScheme;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, PeerMisbehaved};
use std::sync::Arc;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// ALPN protocol of tls-alpn-01 (RFC 8737 6.2).
pub(crate) const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Accepts any certificate chain; verifies handshake signatures with the provider's
/// algorithms.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The certificate's content is checked by the caller (tls-alpn-01) or is irrelevant
        // (http-01 over https).
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_with_spki(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if !allowed_in_tls13(dss.scheme) {
            return Err(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into());
        }
        self.verify_with_spki(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl AnyCertificate {
    /// Checks the handshake signature with the certificate's public key. rustls's own helpers
    /// parse the whole certificate with webpki, which refuses the critical acmeIdentifier
    /// extension every tls-alpn-01 certificate carries (RFC 8737 3); so take the SPKI out with
    /// x509-parser and verify against it as a raw key. TLS 1.2 schemes may map to several
    /// algorithms (try each, as rustls does); TLS 1.3 uses the first only.
    fn verify_with_spki(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
        tls13: bool,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let bad_signature = || rustls::Error::InvalidCertificate(CertificateError::BadSignature);
        let (_, parsed) = X509Certificate::from_der(cert.as_ref())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let spki = SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
        let key = webpki::RawPublicKeyEntity::try_from(&spki)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let candidates = self
            .provider
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
        let candidates = if tls13 {
            candidates.get(..1).unwrap_or_default()
        } else {
            candidates
        };
        for alg in candidates {
            match key.verify_signature(*alg, message, dss.signature()) {
                Ok(()) => return Ok(HandshakeSignatureValid::assertion()),
                Err(webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => {}
                Err(_) => return Err(bad_signature()),
            }
        }
        Err(bad_signature())
    }
}

/// RFC 8446 4.4.3: CertificateVerify never uses RSASSA-PKCS1-v1_5 or SHA-1 in TLS 1.3.
fn allowed_in_tls13(scheme: SignatureScheme) -> bool {
    use SignatureScheme::*;
    matches!(
        scheme,
        ECDSA_NISTP256_SHA256
            | ECDSA_NISTP384_SHA384
            | ECDSA_NISTP521_SHA512
            | RSA_PSS_SHA256
            | RSA_PSS_SHA384
            | RSA_PSS_SHA512
            | ED25519
            | ED448
    )
}

/// A client configuration with the ring provider, TLS 1.2 and 1.3 (RFC 8737 4 requires at
/// least 1.2), no chain validation, no client certificate and the given ALPN protocols.
pub(crate) fn client_config(alpn: &[&[u8]]) -> Result<ClientConfig, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCertificate {
        provider: provider.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Http(format!("TLS client: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // No session resumption: each validation is a fresh look at the server (BR 3.2.2.9 asks
    // every attempt to stand on its own).
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}
