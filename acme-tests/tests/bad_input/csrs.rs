//! Hostile CSRs for the finalize rows: every one is for the ready order's name
//! (`api.hanko-ci.com`) except for the defect it carries.

use acme_tests::pki::der_tlv as tlv;
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair};

/// The name of the ready order the finalize rows use.
pub const NAME: &str = "api.hanko-ci.com";

const OID_SAN: &[u64] = &[2, 5, 29, 17];

/// A subjectAltName extension value with these dNSName bytes, unchecked: an IA5String may
/// only hold ASCII, so non-ASCII bytes make it malformed on purpose.
fn san_value(names: &[&[u8]]) -> Vec<u8> {
    let inner: Vec<u8> = names.iter().flat_map(|n| tlv(0x82, n)).collect();
    tlv(0x30, &inner)
}

fn sign(params: CertificateParams) -> Vec<u8> {
    let key = KeyPair::generate().unwrap_or_else(|e| panic!("CSR key: {e}"));
    params
        .serialize_request(&key)
        .unwrap_or_else(|e| panic!("CSR: {e}"))
        .der()
        .to_vec()
}

fn params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut p = CertificateParams::new(names).unwrap_or_else(|e| panic!("CSR params: {e}"));
    p.distinguished_name = DistinguishedName::new();
    p
}

/// A well-formed CSR for `names`.
pub fn plain(names: &[&str]) -> Vec<u8> {
    sign(params(names))
}

/// The SAN for NAME plus a second subjectAltName extension (RFC 5280 4.2: at most one).
pub fn duplicate_san() -> Vec<u8> {
    let mut p = params(&[NAME]);
    p.custom_extensions.push(CustomExtension::from_oid_content(
        OID_SAN,
        san_value(&[NAME.as_bytes()]),
    ));
    sign(p)
}

/// NAME plus an extension of a private OID marked critical.
pub fn unknown_critical_extension() -> Vec<u8> {
    let mut p = params(&[NAME]);
    let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![5, 0]);
    ext.set_criticality(true);
    p.custom_extensions.push(ext);
    sign(p)
}

/// A good CSR with one bit of its signature flipped.
pub fn bad_signature() -> Vec<u8> {
    let mut der = plain(&[NAME]);
    if let Some(last) = der.last_mut() {
        *last ^= 0x01;
    }
    der
}

/// Only a SAN extension holding these raw dNSName bytes (no SAN from rcgen).
pub fn raw_san(name: &[u8]) -> Vec<u8> {
    let mut p = params(&[]);
    p.custom_extensions.push(CustomExtension::from_oid_content(
        OID_SAN,
        san_value(&[name]),
    ));
    sign(p)
}

/// NAME as SAN, and a commonName (UTF8String) that is `cn`.
pub fn with_cn(cn: &str) -> Vec<u8> {
    let mut p = params(&[NAME]);
    p.distinguished_name.push(DnType::CommonName, cn);
    sign(p)
}
