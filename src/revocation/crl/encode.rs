//! CertificateList encoding (RFC 5280 5.1; BR 7.2; CP 7.2), streaming.
//!
//! The TBSCertList is hand-encoded as DER: entries arrive page by page from the database and
//! are appended to one buffer as they come, so a shard with 100,000 entries costs one
//! buffer of its encoded size and no per-entry structures (x509-cert's `TbsCertList` would
//! need every `RevokedCert` materialised first, then encoded again). Every field has a fixed
//! shape, so the encoding is short and checked by parsing back in the tests.

use super::CrlError;
use crate::issuance::signer::Signer;
use chrono::{DateTime, Datelike, Utc};

/// id-ce-cRLReasons (RFC 5280 5.3.1).
const OID_REASON_CODE: &[u8] = &[0x55, 0x1d, 0x15];
/// id-ce-cRLNumber (RFC 5280 5.2.3).
const OID_CRL_NUMBER: &[u8] = &[0x55, 0x1d, 0x14];
/// id-ce-issuingDistributionPoint (RFC 5280 5.2.5).
const OID_IDP: &[u8] = &[0x55, 0x1d, 0x1c];
/// id-ce-authorityKeyIdentifier (RFC 5280 5.2.1).
const OID_AKI: &[u8] = &[0x55, 0x1d, 0x23];

/// What every CRL of one issuer shares: taken from the issuing CA certificate once.
#[derive(Clone)]
pub struct CrlIssuer {
    /// The CA certificate's subject, its raw DER: the CRL's issuer must be byte-identical
    /// (RFC 5280 5.1.2.3, CP 7.1.4), so it is copied, never re-encoded.
    pub name_der: Vec<u8>,
    /// The CA's subjectKeyIdentifier: the AKI keyIdentifier (RFC 5280 5.2.1).
    pub key_identifier: Vec<u8>,
    /// DER AlgorithmIdentifier of the signer (RFC 5280 5.1.1.2 = 5.1.2.2).
    pub algorithm_der: Vec<u8>,
}

impl CrlIssuer {
    /// From the issuing CA certificate; checks that `signer` holds that certificate's key.
    pub fn from_certificate(cert_der: &[u8], signer: &dyn Signer) -> Result<CrlIssuer, CrlError> {
        use der::Encode;
        use x509_parser::extensions::ParsedExtension;
        let bad = |m: String| CrlError::Issuer(m);
        let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
            .map_err(|e| bad(format!("CA certificate does not parse: {e}")))?;
        if cert.public_key().raw != signer.public_key_der().as_slice() {
            return Err(bad("the signer's key is not the CA certificate's".into()));
        }
        let key_identifier = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.0.to_vec()),
                _ => None,
            })
            .ok_or_else(|| bad("CA certificate has no subjectKeyIdentifier".into()))?;
        let algorithm_der = signer
            .algorithm()
            .to_der()
            .map_err(|e| bad(format!("signature algorithm: {e}")))?;
        Ok(CrlIssuer {
            name_der: cert.subject().as_raw().to_vec(),
            key_identifier,
            algorithm_der,
        })
    }
}

/// One CRL being built: entries are appended, then `finish` wraps and signs.
pub struct CrlBuilder {
    entries: Vec<u8>,
    count: u64,
}

impl Default for CrlBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl CrlBuilder {
    pub fn new() -> Self {
        CrlBuilder {
            entries: Vec::with_capacity(64 * 1024),
            count: 0,
        }
    }

    pub fn entries(&self) -> u64 {
        self.count
    }

    /// Append one revokedCertificates entry (RFC 5280 5.1.2.6): `serial` as DER INTEGER
    /// content octets, and a reasonCode entry extension only when a reason is recorded —
    /// unspecified (None) carries none (RFC 5280 5.3.1, BR 7.2.2).
    pub fn push(
        &mut self,
        serial: &[u8],
        revoked_at: DateTime<Utc>,
        reason: Option<u8>,
    ) -> Result<(), CrlError> {
        if serial.is_empty() || serial.len() > 20 || serial[0] & 0x80 != 0 {
            return Err(CrlError::Encoding(format!(
                "serial {} is not a positive INTEGER of at most 20 octets",
                hex::encode(serial)
            )));
        }
        let mut entry = Vec::with_capacity(64);
        tlv(0x02, serial, &mut entry);
        time(revoked_at, &mut entry);
        if let Some(code) = reason {
            // Extensions ::= SEQUENCE OF Extension; reasonCode is never critical.
            let mut value = Vec::with_capacity(3);
            tlv(0x0a, &[code], &mut value);
            let ext = extension(OID_REASON_CODE, false, &value);
            tlv(0x30, &ext, &mut entry);
        }
        tlv(0x30, &entry, &mut self.entries);
        self.count += 1;
        Ok(())
    }

    /// The TBSCertList (RFC 5280 5.1.2): v2, the issuer's name bytes, times, the entries
    /// (omitted when none, 5.1.2.6), and AKI, CRLNumber and a critical
    /// IssuingDistributionPoint naming `idp_url` with onlyContainsUserCerts (BR 7.2.2).
    pub fn tbs(
        &self,
        issuer: &CrlIssuer,
        this_update: DateTime<Utc>,
        next_update: DateTime<Utc>,
        crl_number: i64,
        idp_url: &str,
    ) -> Result<Vec<u8>, CrlError> {
        let mut body = Vec::with_capacity(self.entries.len() + 512);
        tlv(0x02, &[0x01], &mut body); // Version v2
        body.extend_from_slice(&issuer.algorithm_der);
        body.extend_from_slice(&issuer.name_der);
        time(this_update, &mut body);
        time(next_update, &mut body);
        if self.count > 0 {
            tlv(0x30, &self.entries, &mut body);
        }
        let mut exts = Vec::with_capacity(256);
        exts.extend(aki_extension(&issuer.key_identifier));
        exts.extend(crl_number_extension(crl_number)?);
        exts.extend(idp_extension(idp_url));
        let mut seq = Vec::with_capacity(exts.len() + 4);
        tlv(0x30, &exts, &mut seq);
        tlv(0xa0, &seq, &mut body); // crlExtensions [0] EXPLICIT
        let mut tbs = Vec::with_capacity(body.len() + 6);
        tlv(0x30, &body, &mut tbs);
        Ok(tbs)
    }
}

/// CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }.
pub fn certificate_list(tbs: &[u8], issuer: &CrlIssuer, signature: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(tbs.len() + signature.len() + 32);
    body.extend_from_slice(tbs);
    body.extend_from_slice(&issuer.algorithm_der);
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(signature);
    tlv(0x03, &bits, &mut body);
    let mut out = Vec::with_capacity(body.len() + 6);
    tlv(0x30, &body, &mut out);
    out
}

fn aki_extension(key_id: &[u8]) -> Vec<u8> {
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
    let mut kid = Vec::new();
    tlv(0x80, key_id, &mut kid);
    let mut value = Vec::new();
    tlv(0x30, &kid, &mut value);
    extension(OID_AKI, false, &value)
}

fn crl_number_extension(n: i64) -> Result<Vec<u8>, CrlError> {
    // RFC 5280 5.2.3: a non-negative INTEGER of at most 20 octets, monotonically increasing.
    if n < 0 {
        return Err(CrlError::Encoding(format!("CRL number {n} is negative")));
    }
    let mut value = Vec::new();
    tlv(0x02, &positive_integer(n as u64), &mut value);
    Ok(extension(OID_CRL_NUMBER, false, &value))
}

fn idp_extension(url: &str) -> Vec<u8> {
    // IssuingDistributionPoint ::= SEQUENCE {
    //   distributionPoint [0] DistributionPointName (a CHOICE: explicit tag),
    //     fullName [0] IMPLICIT GeneralNames { uniformResourceIdentifier [6] IA5String },
    //   onlyContainsUserCerts [1] IMPLICIT BOOLEAN TRUE }
    // Critical (RFC 5280 5.2.5): relying parties must know this CRL covers one shard only.
    let mut uri = Vec::new();
    tlv(0x86, url.as_bytes(), &mut uri);
    let mut full_name = Vec::new();
    tlv(0xa0, &uri, &mut full_name);
    let mut dp = Vec::new();
    tlv(0xa0, &full_name, &mut dp);
    dp.extend_from_slice(&[0x81, 0x01, 0xff]);
    let mut value = Vec::new();
    tlv(0x30, &dp, &mut value);
    extension(OID_IDP, true, &value)
}

/// Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }.
/// DER omits `critical` when FALSE (X.690 11.5).
fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(oid.len() + value.len() + 8);
    tlv(0x06, oid, &mut body);
    if critical {
        body.extend_from_slice(&[0x01, 0x01, 0xff]);
    }
    tlv(0x04, value, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    tlv(0x30, &body, &mut out);
    out
}

/// Minimal positive INTEGER content octets.
fn positive_integer(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    let mut out = Vec::with_capacity(9);
    if bytes[first] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[first..]);
    out
}

/// RFC 5280 5.1.2.4/5.1.2.6: UTCTime through 2049, GeneralizedTime from 2050, in whole
/// seconds, Zulu.
fn time(t: DateTime<Utc>, out: &mut Vec<u8>) {
    if t.year() < 2050 {
        tlv(0x17, t.format("%y%m%d%H%M%SZ").to_string().as_bytes(), out);
    } else {
        tlv(0x18, t.format("%Y%m%d%H%M%SZ").to_string().as_bytes(), out);
    }
}

/// Tag, DER definite length, content.
fn tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
        out.push(0x80 | (8 - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
    out.extend_from_slice(content);
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
