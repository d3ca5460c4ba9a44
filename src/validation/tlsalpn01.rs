//! tls-alpn-01 (RFC 8737; BR 3.2.2.4.20 "TLS Using ALPN"): connect to the domain's address
//! on port 443 (configurable for tests), offer SNI = the domain and ALPN exactly
//! `acme-tls/1`, and check the self-signed challenge certificate the server presents: a
//! subjectAltName with exactly one entry, the dNSName being validated (RFC 8737 3), and the
//! critical acmeIdentifier extension (id-pe-acmeIdentifier, OID 1.3.6.1.5.5.7.1.31, RFC 8737
//! 6.1) whose value is a DER OCTET STRING holding SHA-256 of the key authorization.

use super::evidence::{Evidence, TlsFacts};
use super::http01::error_chain;
use super::perspective::Context;
use super::tls::ACME_TLS_ALPN;
use super::ChallengeCheck;
use crate::core::{FailureKind, ValidationFailure};
use rustls::pki_types::ServerName;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// id-pe-acmeIdentifier (RFC 8737 6.1).
const ACME_IDENTIFIER_OID: &str = "1.3.6.1.5.5.7.1.31";

pub(crate) async fn validate(
    context: &Context,
    host: &str,
    request: &ChallengeCheck,
    evidence: &mut Evidence,
) -> Result<(), ValidationFailure> {
    let port = context.config.tlsalpn01_port;
    evidence.port = Some(port);
    let addresses = context.dns.addresses_into(host, evidence).await?;
    let budget = Duration::from_secs(context.config.timeout_seconds.max(1));
    let (tcp, used) = connect_any(&addresses, port, budget / 2).await?;
    evidence.address_used = Some(used.to_string());
    let facts = evidence.tls.insert(TlsFacts {
        sni: host.to_string(),
        alpn_offered: String::from_utf8_lossy(ACME_TLS_ALPN).into_owned(),
        ..TlsFacts::default()
    });
    let server_name = ServerName::try_from(host.to_string()).map_err(|e| {
        ValidationFailure::new(
            FailureKind::RejectedIdentifier,
            format!("{host:?} cannot be sent as SNI: {e}"),
        )
    })?;
    let connector = TlsConnector::from(context.alpn_tls.clone());
    let stream = connector.connect(server_name, tcp).await.map_err(|e| {
        ValidationFailure::new(
            FailureKind::Tls,
            format!(
                "TLS handshake with {used} for {host} failed: {}",
                error_chain(&e)
            ),
        )
    })?;
    let (_, session) = stream.get_ref();
    let alpn = session.alpn_protocol();
    facts.alpn_negotiated = alpn.map(|p| String::from_utf8_lossy(p).into_owned());
    facts.protocol_version = session.protocol_version().map(|v| format!("{v:?}"));
    // RFC 8737 3: the server must negotiate acme-tls/1; a server that ignores ALPN is not
    // answering the challenge.
    if alpn != Some(ACME_TLS_ALPN) {
        return Err(ValidationFailure::new(
            FailureKind::Unauthorized,
            format!("server at {used} did not negotiate ALPN protocol \"acme-tls/1\" for {host}"),
        ));
    }
    let certificate = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or_else(|| {
            ValidationFailure::new(FailureKind::Tls, format!("{used} presented no certificate"))
        })?;
    check_certificate(
        certificate.as_ref(),
        host,
        &request.key_authorization,
        facts,
    )
}

/// The first address that accepts a TCP connection, each tried for at most `each`.
async fn connect_any(
    addresses: &[IpAddr],
    port: u16,
    each: Duration,
) -> Result<(TcpStream, SocketAddr), ValidationFailure> {
    let mut errors = Vec::new();
    for ip in addresses {
        let target = SocketAddr::new(*ip, port);
        match tokio::time::timeout(each, TcpStream::connect(target)).await {
            Ok(Ok(stream)) => return Ok((stream, target)),
            Ok(Err(e)) => errors.push(format!("{target}: {e}")),
            Err(_) => errors.push(format!("{target}: timed out")),
        }
    }
    Err(ValidationFailure::new(
        FailureKind::Connection,
        format!("could not connect: {}", errors.join("; ")),
    ))
}

/// RFC 8737 3 checks on the presented certificate; facts go to the evidence as they are read.
fn check_certificate(
    der: &[u8],
    host: &str,
    key_authorization: &str,
    facts: &mut TlsFacts,
) -> Result<(), ValidationFailure> {
    facts.certificate_sha256 = Some(hex::encode(Sha256::digest(der)));
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| unauthorized(format!("the certificate presented cannot be parsed: {e}")))?;
    facts.subject = Some(cert.subject().to_string());
    check_san(&cert, host, facts)?;
    check_acme_identifier(&cert, key_authorization, facts)
}

/// Exactly one subjectAltName entry, a dNSName equal to `host` ignoring case (RFC 8737 3).
fn check_san(
    cert: &X509Certificate<'_>,
    host: &str,
    facts: &mut TlsFacts,
) -> Result<(), ValidationFailure> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| unauthorized(format!("bad subjectAltName extension: {e}")))?
        .ok_or_else(|| unauthorized("the certificate has no subjectAltName extension"))?;
    let names = &san.value.general_names;
    facts.san_entries = names.iter().map(describe_name).collect();
    match names.as_slice() {
        [GeneralName::DNSName(name)] if name.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(unauthorized(format!(
            "the certificate's subjectAltName must hold exactly the dNSName {host}, found [{}]",
            facts.san_entries.join(", ")
        ))),
    }
}

/// The critical acmeIdentifier extension with SHA-256(key authorization) (RFC 8737 3, 6.1).
fn check_acme_identifier(
    cert: &X509Certificate<'_>,
    key_authorization: &str,
    facts: &mut TlsFacts,
) -> Result<(), ValidationFailure> {
    let extension = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == ACME_IDENTIFIER_OID)
        .ok_or_else(|| unauthorized("the certificate has no acmeIdentifier extension"))?;
    facts.acme_identifier_critical = Some(extension.critical);
    facts.acme_identifier_value = Some(hex::encode(extension.value));
    if !extension.critical {
        return Err(unauthorized("the acmeIdentifier extension is not critical"));
    }
    // extnValue must be exactly the DER encoding OCTET STRING (SIZE (32)): tag 0x04, length
    // 0x20, then the digest. Anything else (other lengths, BER forms, trailing bytes) fails.
    let expected = Sha256::digest(key_authorization.as_bytes());
    match extension.value {
        [0x04, 0x20, digest @ ..] if digest.len() == 32 => {
            if digest == &expected[..] {
                Ok(())
            } else {
                Err(unauthorized(format!(
                    "the acmeIdentifier extension holds {}, expected SHA-256 of the key \
                     authorization {}",
                    hex::encode(digest),
                    hex::encode(expected)
                )))
            }
        }
        _ => Err(unauthorized(
            "the acmeIdentifier extension is not a DER OCTET STRING of 32 bytes",
        )),
    }
}

fn describe_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::IPAddress(bytes) => format!("IP:{}", hex::encode(bytes)),
        GeneralName::RFC822Name(m) => format!("email:{m}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        other => format!("{other:?}"),
    }
}

fn unauthorized(detail: impl Into<String>) -> ValidationFailure {
    ValidationFailure::new(FailureKind::Unauthorized, detail)
}
