//! OCSP requests (RFC 6960 4.1, RFC 5019 2.1): the DER from a POST body or from the base64
//! path segment of a GET, down to the one serial they ask about.

use super::asn1::{CertId, OcspRequest, ID_SHA1, ID_SHA256};
use crate::core::Serial;
use base64::Engine;
use der::{Decode, Encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Largest request accepted: one CertID with a nonce is ~120 bytes; RFC 5019 2.1 allows a
/// GET of at most 255 bytes of base64. 4 KiB leaves room for signed requests and
/// extensions without letting a body grow the server's memory.
pub const MAX_REQUEST_BYTES: usize = 4096;

/// Why a request gets no status.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not a well-formed single-certificate OCSPRequest: `malformedRequest`.
    #[error("malformed OCSP request: {0}")]
    Malformed(String),
    /// Well-formed, but about a certificate of another issuer (or a serial no certificate
    /// of ours can have): `unauthorized` (RFC 5019 2.2.3).
    #[error("OCSP request for another issuer")]
    NotOurs,
}

fn malformed(m: impl Into<String>) -> RequestError {
    RequestError::Malformed(m.into())
}

/// The issuer's CertID hashes (RFC 6960 4.1.1): of the DER subject Name and of the
/// subjectPublicKey BIT STRING value, in SHA-1 (RFC 5019 2.1.1) and SHA-256.
#[derive(Clone, Debug)]
pub struct IssuerHashes {
    sha1_name: Vec<u8>,
    sha1_key: Vec<u8>,
    sha256_name: Vec<u8>,
    sha256_key: Vec<u8>,
}

impl IssuerHashes {
    pub fn from_certificate_der(der: &[u8]) -> Result<IssuerHashes, String> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| format!("issuer certificate does not parse: {e}"))?;
        let tbs = &cert.tbs_certificate;
        let name = tbs
            .subject
            .to_der()
            .map_err(|e| format!("issuer subject: {e}"))?;
        let key = tbs.subject_public_key_info.subject_public_key.raw_bytes();
        Ok(IssuerHashes {
            sha1_name: Sha1::digest(&name).to_vec(),
            sha1_key: Sha1::digest(key).to_vec(),
            sha256_name: Sha256::digest(&name).to_vec(),
            sha256_key: Sha256::digest(key).to_vec(),
        })
    }

    /// SHA-1 of the issuer's key: the CertID issuerKeyHash our responses carry.
    pub fn sha1_name(&self) -> &[u8] {
        &self.sha1_name
    }

    pub fn sha1_key(&self) -> &[u8] {
        &self.sha1_key
    }

    fn matches(&self, id: &CertId) -> bool {
        let (name, key) = if id.hash_algorithm.oid == ID_SHA1 {
            (&self.sha1_name, &self.sha1_key)
        } else if id.hash_algorithm.oid == ID_SHA256 {
            (&self.sha256_name, &self.sha256_key)
        } else {
            return false;
        };
        id.issuer_name_hash.as_bytes() == name.as_slice()
            && id.issuer_key_hash.as_bytes() == key.as_slice()
    }
}

/// The serial a DER OCSPRequest asks about. RFC 5019 2.1.1: exactly one Request; more is
/// refused as malformed rather than answered in part.
pub fn parse(der: &[u8], issuer: &IssuerHashes) -> Result<Serial, RequestError> {
    if der.len() > MAX_REQUEST_BYTES {
        return Err(malformed("too large"));
    }
    let request = OcspRequest::from_der(der).map_err(|e| malformed(e.to_string()))?;
    let list = &request.tbs_request.request_list;
    let [single] = list.as_slice() else {
        return Err(malformed(format!(
            "{} requests in one (RFC 5019: one)",
            list.len()
        )));
    };
    let id = &single.req_cert;
    if id.hash_algorithm.oid != ID_SHA1 && id.hash_algorithm.oid != ID_SHA256 {
        return Err(malformed(format!(
            "CertID hash algorithm {} (SHA-1 or SHA-256 expected)",
            id.hash_algorithm.oid
        )));
    }
    if !issuer.matches(id) {
        return Err(RequestError::NotOurs);
    }
    let bytes = id.serial_number.as_bytes();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(malformed("negative serial number"));
    }
    // Longer than 20 octets, or zero: no certificate of ours has it (CP 7.1).
    Serial::from_der_bytes(bytes).ok_or(RequestError::NotOurs)
}

/// The DER of a GET request's path segment (RFC 5019 5: `url-encoding of base64 encoding
/// of the DER`). Percent-escapes are decoded; standard base64 with or without padding,
/// and the URL-safe alphabet that some clients send, are accepted.
pub fn decode_get(segment: &str) -> Result<Vec<u8>, RequestError> {
    if segment.len() > 2 * MAX_REQUEST_BYTES {
        return Err(malformed("too large"));
    }
    let text = percent_decode(segment).ok_or_else(|| malformed("bad percent-encoding"))?;
    let text: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let trimmed = text.trim_end_matches('=');
    let engine = if trimmed.contains(['-', '_']) {
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
    } else {
        &base64::engine::general_purpose::STANDARD_NO_PAD
    };
    engine
        .decode(trimmed)
        .map_err(|e| malformed(format!("base64: {e}")))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
