//! What the ceremony shows the operator before signing: every field of the TBS, read back
//! from its DER with x509-parser (an implementation independent of the encoder), so what
//! is shown is what will be signed.

use super::{refused, validity_days, CeremonyError};
use crate::issuance::signer::pkcs11::Pkcs11Signer;
use crate::issuance::signer::Signer;
use chrono::DateTime;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use x509_parser::certificate::TbsCertificate;
use x509_parser::der_parser::oid::Oid;
use x509_parser::extensions::{DistributionPointName, ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;

/// A Name as the operator reads it (and OpenSSL prints it): "C=JP, O=…, CN=…", in
/// encoding order.
pub(super) fn name_text(name: &x509_cert::name::Name) -> String {
    use der::Encode;
    let Ok(der) = name.to_der() else {
        return name.to_string();
    };
    match x509_parser::x509::X509Name::from_der(&der) {
        Ok((_, parsed)) => parsed.to_string(),
        Err(_) => name.to_string(),
    }
}

/// The plan in words, one field per line.
pub(super) fn plan(
    kind: &str,
    tbs_der: &[u8],
    subject_key: &Pkcs11Signer,
    issuing_key: &Pkcs11Signer,
) -> Result<String, CeremonyError> {
    let (_, tbs) = TbsCertificate::from_der(tbs_der)
        .map_err(|e| refused(format!("the planned certificate does not parse: {e}")))?;
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "(out of range)".to_string())
    };
    let validity = tbs.validity();
    let days = match (
        DateTime::from_timestamp(validity.not_before.timestamp(), 0),
        DateTime::from_timestamp(validity.not_after.timestamp(), 0),
    ) {
        (Some(nb), Some(na)) => validity_days(nb, na),
        _ => 0,
    };
    let spki_sha256 = hex::encode(Sha256::digest(tbs.public_key().raw));
    let signed_by = if tbs.subject().as_raw() == tbs.issuer().as_raw() {
        format!("{:?} (self-signed)", issuing_key.label())
    } else {
        format!(
            "{:?} ({})",
            issuing_key.label(),
            issuing_key.key_description()
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "=== {kind} certificate to be signed ===");
    let _ = writeln!(out, "Subject:      {}", tbs.subject());
    let _ = writeln!(out, "Issuer:       {}", tbs.issuer());
    let _ = writeln!(out, "Serial:       {}", tbs.raw_serial_as_string());
    let _ = writeln!(out, "Not before:   {}", time(validity.not_before));
    let _ = writeln!(
        out,
        "Not after:    {} ({days} days)",
        time(validity.not_after)
    );
    let _ = writeln!(
        out,
        "Public key:   {} in the HSM, label {:?}",
        subject_key.key_description(),
        subject_key.label()
    );
    let _ = writeln!(out, "SPKI SHA-256: {spki_sha256}");
    let _ = writeln!(
        out,
        "Signature:    {} by HSM key {signed_by}",
        algorithm_name(&issuing_key.algorithm().oid.to_string())
    );
    let _ = writeln!(out, "Extensions:");
    for ext in tbs.extensions() {
        let _ = writeln!(out, "  {}", extension(ext));
    }
    Ok(out)
}

fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".to_string(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".to_string(),
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".to_string(),
        other => other.to_string(),
    }
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn oid_name(oid: &Oid<'_>) -> String {
    let id = oid.to_id_string();
    let name = match id.as_str() {
        "2.5.29.32.0" => "anyPolicy",
        "1.3.6.1.5.5.7.3.1" => "serverAuth",
        "1.3.6.1.5.5.7.3.2" => "clientAuth",
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning",
        "1.3.6.1.5.5.7.48.1" => "OCSP",
        "1.3.6.1.5.5.7.48.2" => "caIssuers",
        _ => return id,
    };
    format!("{name} ({id})")
}

/// One extension in words: its name, "(critical)" when so, and its value.
fn extension(ext: &X509Extension<'_>) -> String {
    let critical = if ext.critical { " (critical)" } else { "" };
    let (name, value) = match ext.parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(aki) => (
            "authorityKeyIdentifier",
            aki.key_identifier
                .as_ref()
                .map_or("(none)".to_string(), |k| colon_hex(k.0)),
        ),
        ParsedExtension::SubjectKeyIdentifier(ski) => ("subjectKeyIdentifier", colon_hex(ski.0)),
        ParsedExtension::KeyUsage(ku) => ("keyUsage", ku.to_string()),
        ParsedExtension::BasicConstraints(bc) => (
            "basicConstraints",
            match (bc.ca, bc.path_len_constraint) {
                (true, Some(n)) => format!("CA, path length {n}"),
                (true, None) => "CA, no path length limit".to_string(),
                (false, _) => "not a CA".to_string(),
            },
        ),
        ParsedExtension::ExtendedKeyUsage(eku) => ("extendedKeyUsage", eku_text(eku)),
        ParsedExtension::CertificatePolicies(policies) => (
            "certificatePolicies",
            policies
                .iter()
                .map(|p| oid_name(&p.policy_id))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ParsedExtension::CRLDistributionPoints(points) => {
            ("cRLDistributionPoints", crl_points_text(points))
        }
        ParsedExtension::AuthorityInfoAccess(aia) => (
            "authorityInfoAccess",
            aia.accessdescs
                .iter()
                .map(|d| format!("{} {}", oid_name(&d.access_method), d.access_location))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ if ext.oid.to_id_string() == "1.3.6.1.5.5.7.48.1.5" => {
            ("id-pkix-ocsp-nocheck", "NULL".to_string())
        }
        _ => {
            return format!(
                "{}{critical}: {}",
                ext.oid.to_id_string(),
                colon_hex(ext.value)
            )
        }
    };
    format!("{name}{critical}: {value}")
}

fn eku_text(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> String {
    let mut uses = Vec::new();
    for (set, name) in [
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.ocsp_signing, "OCSPSigning"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.any, "anyExtendedKeyUsage"),
    ] {
        if set {
            uses.push(name.to_string());
        }
    }
    uses.extend(eku.other.iter().map(oid_name));
    uses.join(", ")
}

fn crl_points_text(points: &x509_parser::extensions::CRLDistributionPoints<'_>) -> String {
    points
        .iter()
        .filter_map(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(
                names
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}
