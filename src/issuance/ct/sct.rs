//! The TLS-encoded structures of RFC 6962 (presentation language of RFC 5246 4): the
//! SignedCertificateTimestamp (3.2), the data a log signs for it (3.2), the
//! SignedCertificateTimestampList of the certificate extension (3.3), and the check of an
//! SCT's DigitallySigned against the log's key (ECDSA P-256 or RSA PKCS#1 v1.5, both with
//! SHA-256: RFC 6962 2.1.4).

use super::CtError;
use crate::issuance::verify::verify_signature;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoRef};

/// RFC 6962 3.2 `Version`: v1(0).
const SCT_VERSION_V1: u8 = 0;
/// RFC 6962 3.2 `SignatureType`: certificate_timestamp(0).
const CERTIFICATE_TIMESTAMP: u8 = 0;
/// RFC 6962 3.1 `LogEntryType`.
const X509_ENTRY: u16 = 0;
const PRECERT_ENTRY: u16 = 1;
/// RFC 5246 7.4.1.4.1 `HashAlgorithm` sha256(4), `SignatureAlgorithm` rsa(1), ecdsa(3).
const HASH_SHA256: u8 = 4;
const SIG_RSA: u8 = 1;
const SIG_ECDSA: u8 = 3;
/// The `opaque <1..2^24-1>` bound of `ASN.1Cert` and `TBSCertificate`.
const MAX_U24: usize = 0xFF_FFFF;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// Below this an RSA log key is refused (the CT log policies ask for 2048 bits).
const MIN_RSA_BITS: usize = 2048;

/// A Signed Certificate Timestamp (RFC 6962 3.2) from one log, with the log's configured
/// name and operator (the CT policy counts distinct operators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    pub log_name: String,
    pub operator: String,
    /// SHA-256 of the log's DER SubjectPublicKeyInfo (RFC 6962 3.2 `LogID`).
    pub log_id: [u8; 32],
    /// Milliseconds since the epoch, as the log stated it.
    pub timestamp: u64,
    /// `CtExtensions` (opaque; empty for every RFC 6962 log).
    pub extensions: Vec<u8>,
    /// The TLS `DigitallySigned` (RFC 5246 4.7): hash algorithm, signature algorithm,
    /// u16 length, signature.
    pub signature: Vec<u8>,
}

impl Sct {
    /// The TLS encoding of the SignedCertificateTimestamp (RFC 6962 3.2), as it appears as a
    /// `SerializedSCT` in the SCT list.
    pub fn to_tls(&self) -> Result<Vec<u8>, CtError> {
        let mut out = Vec::with_capacity(47 + self.extensions.len() + self.signature.len());
        out.push(SCT_VERSION_V1);
        out.extend_from_slice(&self.log_id);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        push_u16_prefixed(&mut out, &self.extensions)
            .map_err(|e| CtError::Encoding(format!("SCT from {:?}: {e}", self.log_name)))?;
        split_digitally_signed(&self.signature)
            .map_err(|e| CtError::Encoding(format!("SCT from {:?}: {e}", self.log_name)))?;
        out.extend_from_slice(&self.signature);
        Ok(out)
    }

    /// Parse a TLS-encoded SignedCertificateTimestamp (v1 only); the whole input must be
    /// consumed. `log_name` and `operator` are what the caller knows of the log.
    pub fn from_tls(bytes: &[u8], log_name: &str, operator: &str) -> Result<Sct, CtError> {
        let bad = |what: &str| CtError::Encoding(format!("SCT: {what}"));
        let mut reader = Reader(bytes);
        if reader.take(1).map_err(|e| bad(&e))? != [SCT_VERSION_V1] {
            return Err(bad("version is not v1(0)"));
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(reader.take(32).map_err(|e| bad(&e))?);
        let mut timestamp = [0u8; 8];
        timestamp.copy_from_slice(reader.take(8).map_err(|e| bad(&e))?);
        let ext_len = reader.u16().map_err(|e| bad(&e))?;
        let extensions = reader.take(ext_len).map_err(|e| bad(&e))?.to_vec();
        let signature = reader.0.to_vec();
        split_digitally_signed(&signature).map_err(|e| bad(&e))?;
        Ok(Sct {
            log_name: log_name.to_string(),
            operator: operator.to_string(),
            log_id,
            timestamp: u64::from_be_bytes(timestamp),
            extensions,
            signature,
        })
    }
}

/// The extnValue contents for extension 1.3.6.1.4.1.11129.2.4.2 (RFC 6962 3.3): a DER OCTET
/// STRING wrapping the TLS-encoded SignedCertificateTimestampList.
pub fn sct_list_extension_value(scts: &[Sct]) -> Result<Vec<u8>, CtError> {
    if scts.is_empty() {
        // `SerializedSCT sct_list <1..2^16-1>`: the list cannot be empty.
        return Err(CtError::Encoding(
            "an SCT list needs at least one SCT".to_string(),
        ));
    }
    let mut list = Vec::new();
    for sct in scts {
        push_u16_prefixed(&mut list, &sct.to_tls()?)
            .map_err(|e| CtError::Encoding(format!("SCT from {:?}: {e}", sct.log_name)))?;
    }
    let mut tls = Vec::with_capacity(list.len() + 2);
    push_u16_prefixed(&mut tls, &list).map_err(|e| CtError::Encoding(format!("SCT list: {e}")))?;
    OctetString::new(tls)
        .and_then(|o| o.to_der())
        .map_err(|e| CtError::Encoding(format!("SCT list OCTET STRING: {e}")))
}

/// The inverse of [`sct_list_extension_value`]: the TLS encoding of each SCT in the list.
/// Refuses trailing bytes, empty lists and empty SCTs.
pub fn decode_sct_list_extension_value(value: &[u8]) -> Result<Vec<Vec<u8>>, CtError> {
    let bad = |what: String| CtError::Encoding(format!("SCT list: {what}"));
    let octets = OctetString::from_der(value).map_err(|e| bad(format!("not DER: {e}")))?;
    let mut outer = Reader(octets.as_bytes());
    let list_len = outer.u16().map_err(bad)?;
    let mut list = Reader(outer.take(list_len).map_err(bad)?);
    if !outer.0.is_empty() {
        return Err(bad("bytes after the list".to_string()));
    }
    let mut scts = Vec::new();
    while !list.0.is_empty() {
        let len = list.u16().map_err(bad)?;
        if len == 0 {
            return Err(bad("empty SerializedSCT".to_string()));
        }
        scts.push(list.take(len).map_err(bad)?.to_vec());
    }
    if scts.is_empty() {
        return Err(bad("no SCT".to_string()));
    }
    Ok(scts)
}

/// What a log signs over besides the timestamp (RFC 6962 3.2 `signed_entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignedEntry {
    /// `x509_entry`: the certificate's DER.
    X509(Vec<u8>),
    /// `precert_entry`: SHA-256 of the issuer's SPKI and the TBSCertificate without the
    /// poison extension.
    Precert {
        issuer_key_hash: [u8; 32],
        tbs: Vec<u8>,
    },
}

/// The input to the log's signature (RFC 6962 3.2, `digitally-signed struct`).
pub(crate) fn signed_data(
    timestamp: u64,
    entry: &SignedEntry,
    extensions: &[u8],
) -> Result<Vec<u8>, String> {
    let mut out = vec![SCT_VERSION_V1, CERTIFICATE_TIMESTAMP];
    out.extend_from_slice(&timestamp.to_be_bytes());
    match entry {
        SignedEntry::X509(der) => {
            out.extend_from_slice(&X509_ENTRY.to_be_bytes());
            push_u24_prefixed(&mut out, der)?;
        }
        SignedEntry::Precert {
            issuer_key_hash,
            tbs,
        } => {
            out.extend_from_slice(&PRECERT_ENTRY.to_be_bytes());
            out.extend_from_slice(issuer_key_hash);
            push_u24_prefixed(&mut out, tbs)?;
        }
    }
    push_u16_prefixed(&mut out, extensions)?;
    Ok(out)
}

/// A CT log's public key: ECDSA P-256 or RSA (>= 2048 bits), the two RFC 6962 2.1.4 allows.
#[derive(Debug, Clone)]
pub(crate) struct LogKey {
    spki_der: Vec<u8>,
    ecdsa: bool,
}

impl LogKey {
    /// From base64 (standard alphabet) DER SubjectPublicKeyInfo, as log lists publish it.
    pub(crate) fn from_base64(b64: &str) -> Result<LogKey, String> {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("public_key is not base64: {e}"))?;
        LogKey::from_spki_der(&der)
    }

    pub(crate) fn from_spki_der(der: &[u8]) -> Result<LogKey, String> {
        let spki = SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| format!("public_key is not a DER SubjectPublicKeyInfo: {e}"))?;
        if spki.algorithm.oid == EC_PUBLIC_KEY {
            let curve = spki.algorithm.parameters_oid().ok();
            if curve != Some(SECP256R1) {
                return Err("EC log keys must be on P-256 (RFC 6962 2.1.4)".to_string());
            }
            p256::PublicKey::from_public_key_der(der)
                .map_err(|e| format!("P-256 public key does not parse: {e}"))?;
            Ok(LogKey {
                spki_der: der.to_vec(),
                ecdsa: true,
            })
        } else if spki.algorithm.oid == RSA_ENCRYPTION {
            use rsa::traits::PublicKeyParts;
            let key = rsa::RsaPublicKey::from_public_key_der(der)
                .map_err(|e| format!("RSA public key does not parse: {e}"))?;
            if key.size() * 8 < MIN_RSA_BITS {
                return Err(format!("RSA log key below {MIN_RSA_BITS} bits"));
            }
            Ok(LogKey {
                spki_der: der.to_vec(),
                ecdsa: false,
            })
        } else {
            Err(format!(
                "log key algorithm {} is neither ECDSA nor RSA (RFC 6962 2.1.4)",
                spki.algorithm.oid
            ))
        }
    }

    /// RFC 6962 3.2: `LogID` is the SHA-256 hash of the log's DER public key.
    pub(crate) fn log_id(&self) -> [u8; 32] {
        Sha256::digest(&self.spki_der).into()
    }

    /// Check `sct` is this log's signature over `entry` at the SCT's timestamp.
    pub(crate) fn verify(&self, sct: &Sct, entry: &SignedEntry) -> Result<(), String> {
        if sct.log_id != self.log_id() {
            return Err(format!(
                "SCT names log id {}, not this log's {}",
                hex::encode(sct.log_id),
                hex::encode(self.log_id())
            ));
        }
        let (hash, sig_alg, signature) = split_digitally_signed(&sct.signature)?;
        let expected_sig = if self.ecdsa { SIG_ECDSA } else { SIG_RSA };
        if hash != HASH_SHA256 || sig_alg != expected_sig {
            return Err(format!(
                "signature algorithm ({hash}, {sig_alg}) is not ({HASH_SHA256}, {expected_sig}) \
                 as this log's key requires (RFC 6962 2.1.4)"
            ));
        }
        let algorithm = AlgorithmIdentifierOwned {
            oid: if self.ecdsa {
                ECDSA_WITH_SHA256
            } else {
                SHA256_WITH_RSA
            },
            parameters: None,
        };
        let message = signed_data(sct.timestamp, entry, &sct.extensions)?;
        verify_signature(&self.spki_der, &algorithm, &message, signature)
    }
}

/// Split a TLS DigitallySigned into (hash algorithm, signature algorithm, signature); the
/// length must cover exactly the rest.
fn split_digitally_signed(bytes: &[u8]) -> Result<(u8, u8, &[u8]), String> {
    let mut reader = Reader(bytes);
    let algorithms = reader.take(2)?;
    let len = reader.u16()?;
    let signature = reader.take(len)?;
    if !reader.0.is_empty() {
        return Err("bytes after the DigitallySigned signature".to_string());
    }
    if signature.is_empty() {
        return Err("empty signature".to_string());
    }
    Ok((algorithms[0], algorithms[1], signature))
}

fn push_u16_prefixed(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| format!("{} bytes exceed the 2^16-1 limit", bytes.len()))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn push_u24_prefixed(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() || bytes.len() > MAX_U24 {
        return Err(format!("{} bytes outside <1..2^24-1>", bytes.len()));
    }
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(bytes);
    Ok(())
}

/// A cursor over TLS-encoded bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err(format!(
                "truncated: {n} bytes needed, {} left",
                self.0.len()
            ));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<usize, String> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
}
