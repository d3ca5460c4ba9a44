//! CSR checks at finalize (RFC 8555 7.4): signature, key policy, names equal to the order's.
//!
//! The CSR is parsed strictly as DER PKCS#10 (RFC 2986). Only the public key and the names
//! are taken from it: every other field of the certificate comes from the profile, so
//! other requested extensions (key usage, basic constraints, …) are ignored, not copied.

use super::verify::verify_signature;
use crate::policy::keys::{check_spki, KeyUse};
use const_oid::db::rfc4519::COMMON_NAME as ID_AT_COMMON_NAME;
use const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME;
use der::asn1::{AnyRef, Ia5StringRef, ObjectIdentifier, PrintableStringRef, Utf8StringRef};
use der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use std::collections::BTreeSet;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo};

/// PKCS#9 extensionRequest (RFC 2985 5.4.2): where a CSR carries its SANs.
const EXTENSION_REQUEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct CsrError {
    /// Safe to show the subscriber (rendered as `badCSR`).
    pub detail: String,
}

fn bad(detail: impl Into<String>) -> CsrError {
    CsrError {
        detail: detail.into(),
    }
}

#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// DER SubjectPublicKeyInfo of the requested key.
    pub public_key_der: Vec<u8>,
    /// The dNSName SANs (and CN if present), lower-cased, sorted, deduplicated.
    pub names: Vec<String>,
}

/// Parse and check a DER CSR against the order's names (lower-case, any order).
pub fn check_csr(der: &[u8], order_names: &[String]) -> Result<CheckedCsr, CsrError> {
    let signed = signed_portion(der)?;
    let request = CertReq::from_der(der)
        .map_err(|e| bad(format!("CSR is not a valid DER PKCS#10 request: {e}")))?;
    let public_key_der = request
        .info
        .public_key
        .to_der()
        .map_err(|_| bad("CSR public key cannot be encoded"))?;
    // Key policy before the signature check, so a refused key gets the policy's reason.
    check_spki(&public_key_der, KeyUse::Subscriber)
        .map_err(|e| bad(format!("CSR public key refused: {}", e.detail)))?;
    let signature = request
        .signature
        .as_bytes()
        .ok_or_else(|| bad("CSR signature is not a whole number of octets"))?;
    // RFC 2986 4.2: the signature covers the DER CertificationRequestInfo exactly as sent.
    verify_signature(&public_key_der, &request.algorithm, signed, signature)
        .map_err(|e| bad(format!("CSR signature: {e}")))?;
    let names = requested_names(&request.info)?;
    compare_with_order(&names, order_names)?;
    Ok(CheckedCsr {
        public_key_der,
        names: names.into_iter().collect(),
    })
}

/// The names a DER CSR requests (SANs and CN, as `check_csr` reads them) without checking its
/// key or signature. Only for `crate::fuzzing`: a mutated CSR almost never keeps a valid
/// signature, and this lets it reach the SAN/CN decoders anyway.
#[doc(hidden)]
pub fn requested_names_unverified(der: &[u8]) -> Result<Vec<String>, CsrError> {
    let request = CertReq::from_der(der)
        .map_err(|e| bad(format!("CSR is not a valid DER PKCS#10 request: {e}")))?;
    requested_names(&request.info).map(|names| names.into_iter().collect())
}

/// The raw CertificationRequestInfo TLV (the signed bytes), after checking the outer
/// structure and that the version is v1 (0) (RFC 2986 4.1).
fn signed_portion(der: &[u8]) -> Result<&[u8], CsrError> {
    let not_csr = |_| bad("CSR is not a DER PKCS#10 request");
    let outer = AnyRef::from_der(der).map_err(not_csr)?;
    if outer.tag() != Tag::Sequence {
        return Err(bad("CSR is not a DER PKCS#10 request"));
    }
    let content = outer.value();
    let mut reader = SliceReader::new(content).map_err(not_csr)?;
    let info = reader.tlv_bytes().map_err(not_csr)?;
    let info_any = AnyRef::from_der(info).map_err(not_csr)?;
    if info_any.tag() != Tag::Sequence {
        return Err(bad("CSR is not a DER PKCS#10 request"));
    }
    let mut fields = SliceReader::new(info_any.value()).map_err(not_csr)?;
    match fields.decode::<i64>() {
        Ok(0) => Ok(info),
        Ok(v) => Err(bad(format!(
            "CSR version must be v1 (0), found {v} (RFC 2986 4.1)"
        ))),
        Err(_) => Err(bad("CSR version must be v1 (0) (RFC 2986 4.1)")),
    }
}

/// dNSName SANs from the extensionRequest plus the CN, lower-cased and deduplicated.
fn requested_names(info: &CertReqInfo) -> Result<BTreeSet<String>, CsrError> {
    let mut names = BTreeSet::new();
    for extension in requested_extensions(info)? {
        if extension.extn_id == ID_CE_SUBJECT_ALT_NAME {
            let san = SubjectAltName::from_der(extension.extn_value.as_bytes())
                .map_err(|e| bad(format!("CSR subjectAltName is malformed: {e}")))?;
            for general_name in &san.0 {
                names.insert(dns_name(general_name)?);
            }
        }
    }
    // CP 7.1.4: the CN is a copy of a SAN; whatever it says must be a name of the order.
    if let Some(cn) = common_name(&info.subject)? {
        names.insert(cn.to_ascii_lowercase());
    }
    if names.is_empty() {
        return Err(bad("CSR contains no DNS names"));
    }
    Ok(names)
}

/// The extensions in the extensionRequest attribute, refusing duplicates (RFC 5280 4.2:
/// a certificate must not include more than one instance of an extension).
fn requested_extensions(info: &CertReqInfo) -> Result<Vec<Extension>, CsrError> {
    let mut found: Option<Vec<Extension>> = None;
    for attribute in info.attributes.iter() {
        if attribute.oid != EXTENSION_REQUEST {
            continue;
        }
        if found.is_some() || attribute.values.len() != 1 {
            return Err(bad("CSR has more than one extensionRequest"));
        }
        let value = attribute
            .values
            .get(0)
            .ok_or_else(|| bad("CSR extensionRequest is empty"))?;
        let extensions: Vec<Extension> = value
            .decode_as()
            .map_err(|e| bad(format!("CSR extensionRequest is malformed: {e}")))?;
        let mut seen = BTreeSet::new();
        for extension in &extensions {
            if !seen.insert(extension.extn_id) {
                return Err(bad(format!(
                    "CSR requests extension {} more than once",
                    extension.extn_id
                )));
            }
        }
        found = Some(extensions);
    }
    Ok(found.unwrap_or_default())
}

/// A SAN entry, which must be a dNSName: no IP addresses (CP 3.2.2.5), no email, URI or
/// other name forms in a TLS certificate (BR 7.1.2.7.12).
fn dns_name(general_name: &GeneralName) -> Result<String, CsrError> {
    match general_name {
        GeneralName::DnsName(name) => {
            let name = name.as_str();
            if name.is_empty() {
                return Err(bad("CSR contains an empty DNS name"));
            }
            Ok(name.to_ascii_lowercase())
        }
        GeneralName::IpAddress(_) => Err(bad(
            "CSR requests an IP address; only DNS names can be certified (CP 3.2.2.5)",
        )),
        GeneralName::Rfc822Name(_) => Err(bad(
            "CSR requests an email address; only DNS names can be certified",
        )),
        GeneralName::UniformResourceIdentifier(_) => {
            Err(bad("CSR requests a URI; only DNS names can be certified"))
        }
        _ => Err(bad(
            "CSR requests an unsupported subjectAltName type; only DNS names can be certified",
        )),
    }
}

/// The subject's commonName, if any. At most one; a directory string we can read.
fn common_name(subject: &Name) -> Result<Option<String>, CsrError> {
    let mut found = None;
    for rdn in &subject.0 {
        for atv in rdn.0.iter() {
            if atv.oid != ID_AT_COMMON_NAME {
                continue;
            }
            if found.is_some() {
                return Err(bad("CSR subject has more than one commonName"));
            }
            found = Some(directory_string(&atv.value)?);
        }
    }
    Ok(found)
}

fn directory_string(value: &der::Any) -> Result<String, CsrError> {
    let unreadable = |_| bad("CSR commonName is not a valid string");
    let text = match value.tag() {
        Tag::Utf8String => value
            .decode_as::<Utf8StringRef<'_>>()
            .map_err(unreadable)?
            .as_str(),
        Tag::PrintableString => value
            .decode_as::<PrintableStringRef<'_>>()
            .map_err(unreadable)?
            .as_str(),
        Tag::Ia5String => value
            .decode_as::<Ia5StringRef<'_>>()
            .map_err(unreadable)?
            .as_str(),
        _ => {
            return Err(bad(
                "CSR commonName must be a UTF8String, PrintableString or IA5String",
            ))
        }
    };
    Ok(text.to_string())
}

/// RFC 8555 7.4: the CSR must name exactly the order's identifiers.
fn compare_with_order(names: &BTreeSet<String>, order_names: &[String]) -> Result<(), CsrError> {
    let order: BTreeSet<String> = order_names.iter().map(|n| n.to_ascii_lowercase()).collect();
    if *names == order {
        return Ok(());
    }
    let join = |set: Vec<&String>| {
        set.into_iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<&String> = order.difference(names).collect();
    let extra: Vec<&String> = names.difference(&order).collect();
    let mut detail = "CSR names do not match the order's identifiers".to_string();
    if !missing.is_empty() {
        detail.push_str(&format!("; missing from the CSR: {}", join(missing)));
    }
    if !extra.is_empty() {
        detail.push_str(&format!("; not in the order: {}", join(extra)));
    }
    Err(bad(detail))
}

#[cfg(test)]
#[path = "csr_tests.rs"]
mod tests;
