//! TBSCertificate building (RFC 5280 4.1) for the profiles of CP 7.1: the TLS subscriber
//! profile (Table 7.1-1), the development CA certificates and the listener certificate.
//! One encoder for all of them, so every certificate we sign follows the same rules for
//! times, names, key identifiers and extension encoding.

use super::signer::Signer;
use super::IssuanceError;
use crate::core::Serial;
use chrono::{DateTime, Utc};
use const_oid::db::rfc4519::{
    COMMON_NAME as ID_AT_COMMON_NAME, COUNTRY_NAME as ID_AT_COUNTRY_NAME,
    LOCALITY_NAME as ID_AT_LOCALITY_NAME, ORGANIZATION_NAME as ID_AT_ORGANIZATION_NAME,
    ST as ID_AT_STATE_OR_PROVINCE_NAME,
};
use const_oid::db::rfc5280::{
    ID_AD_CA_ISSUERS, ID_AD_OCSP, ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH, ID_QT_CPS,
};
use der::asn1::{
    Any, BitString, GeneralizedTime, Ia5String, ObjectIdentifier, OctetString, PrintableStringRef,
    SetOfVec, UtcTime, Utf8StringRef,
};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::net::IpAddr;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::certpolicy::{PolicyInformation, PolicyQualifierInfo};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CertificatePolicies, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// CA/Browser Forum reserved policy identifiers (BR 7.1.6.1): domain-validated and
/// organization-validated TLS.
pub(crate) const DV_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.140.1.2.1");
pub(crate) const OV_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.140.1.2.2");
/// RFC 6962 3.1: the precertificate poison extension (critical, value ASN.1 NULL).
pub(crate) const CT_POISON: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.3");
/// The DER of ASN.1 NULL, the poison extension's whole value (RFC 6962 3.1: "05 00").
const NULL_DER: [u8; 2] = [0x05, 0x00];
/// anyPolicy (RFC 5280 4.2.1.4), asserted by the development intermediate only.
const ANY_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32.0");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// RFC 5280 ub-common-name: a SAN longer than this cannot be copied into the CN.
const MAX_CN_LEN: usize = 64;
const SECONDS_PER_DAY: i64 = 86_400;

fn enc(what: &str) -> impl Fn(der::Error) -> IssuanceError + '_ {
    move |e| IssuanceError::Encoding(format!("{what}: {e}"))
}

/// What a certificate issued under an issuing CA needs from that CA's certificate.
#[derive(Clone, Debug)]
pub(crate) struct IssuerInfo {
    /// The CA's subject, decoded from its certificate; re-encodes to the same bytes.
    pub subject: Name,
    pub not_after: DateTime<Utc>,
    /// The CA's subjectKeyIdentifier: our AKI keyIdentifier (RFC 5280 4.2.1.1).
    pub key_identifier: Vec<u8>,
    pub spki_der: Vec<u8>,
}

impl IssuerInfo {
    pub fn from_certificate_der(der: &[u8]) -> Result<IssuerInfo, IssuanceError> {
        let issuer = |m: String| IssuanceError::Issuer(m);
        let cert = Certificate::from_der(der)
            .map_err(|e| issuer(format!("CA certificate does not parse: {e}")))?;
        let tbs = &cert.tbs_certificate;
        // CP 7.1.4 / RFC 5280 7.1: the issuer field must be byte-identical to the CA's
        // subject. We carry the decoded Name, so prove it re-encodes to the original bytes
        // (a non-DER-sorted multi-valued RDN would not) before using it.
        let (_, parsed) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| issuer(format!("CA certificate does not parse: {e}")))?;
        let encoded = tbs.subject.to_der().map_err(enc("CA subject"))?;
        if encoded != parsed.subject().as_raw() {
            return Err(issuer(
                "CA subject does not re-encode byte-identically (not DER?)".to_string(),
            ));
        }
        let key_identifier = match tbs.get::<SubjectKeyIdentifier>() {
            Ok(Some((_, ski))) => ski.0.as_bytes().to_vec(),
            _ => {
                return Err(issuer(
                    "CA certificate has no usable subjectKeyIdentifier".into(),
                ))
            }
        };
        Ok(IssuerInfo {
            subject: tbs.subject.clone(),
            not_after: from_x509_time(tbs.validity.not_after)?,
            key_identifier,
            spki_der: tbs
                .subject_public_key_info
                .to_der()
                .map_err(enc("CA public key"))?,
        })
    }
}

/// A subjectAltName entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum San {
    Dns(String),
    /// Only for the listener certificate: subscriber certificates never carry IPs (CP 3.2.2.5).
    Ip(IpAddr),
}

/// The vetted organisation identity of an OV subject (CP 3.2.2.1, Table 7.1-1): it comes
/// from the RA's vetted record, never from the CSR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationSubject {
    pub country: String,
    pub state: String,
    pub locality: String,
    pub organization: String,
}

/// Certificate Transparency marker of a leaf TBS (RFC 6962 3.1, 3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CtMarker {
    /// No CT (development profiles without logs).
    None,
    /// A precertificate: the critical poison extension.
    Poison,
}

/// The extension choices of an end-entity certificate.
#[derive(Clone, Debug)]
pub(crate) struct LeafSpec {
    pub sans: Vec<San>,
    pub client_auth: bool,
    /// Subject organisation attributes for OV; None for DV (CN only).
    pub organization: Option<OrganizationSubject>,
    /// (reserved CA/B Forum OID, CP OID, CPS URI) for certificatePolicies; None omits the
    /// extension (listener certificate, which is outside the CP's subscriber profile).
    pub policy: Option<(ObjectIdentifier, ObjectIdentifier, String)>,
    /// subjectKeyIdentifier is optional for subscriber certificates (BR 7.1.2.7.6).
    pub subject_key_identifier: bool,
    /// CN = the first SAN that fits (CP 7.1.4); optional (BR 7.1.2.7.2).
    pub common_name: bool,
    pub crl_url: Option<String>,
    pub ocsp_url: Option<String>,
    pub ca_issuers_url: Option<String>,
    pub ct: CtMarker,
}

/// Which development CA certificate to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CaKind {
    Root,
    Intermediate,
}

/// DER of a v3 TBSCertificate (RFC 5280 4.1.2).
pub(crate) fn encode_tbs(fields: &CertificatePlan) -> Result<Vec<u8>, IssuanceError> {
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(fields.serial.as_bytes()).map_err(enc("serial"))?,
        signature: fields.algorithm.clone(),
        issuer: fields.issuer.clone(),
        validity: Validity {
            not_before: x509_time(fields.not_before)?,
            not_after: x509_time(fields.not_after)?,
        },
        subject: fields.subject.clone(),
        subject_public_key_info: fields.spki.clone(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(fields.extensions.clone()),
    };
    tbs.to_der().map_err(enc("TBSCertificate"))
}

/// DER of a leaf (end-entity) TBS under `issuer`: subject from the SANs, the leaf extensions
/// of `spec`, the issuer's subject bytes unchanged (CP 7.1.4).
pub(crate) fn leaf_tbs(
    issuer: &IssuerInfo,
    algorithm: AlgorithmIdentifierOwned,
    serial: &Serial,
    spki: SubjectPublicKeyInfoOwned,
    spec: &LeafSpec,
    (not_before, not_after): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<u8>, IssuanceError> {
    let subject = leaf_subject(&spec.sans, spec.organization.as_ref(), spec.common_name)?;
    let extensions = leaf_extensions(&issuer.key_identifier, &spki, spec, subject.0.is_empty())?;
    encode_tbs(&CertificatePlan {
        serial: serial.clone(),
        algorithm,
        issuer: issuer.subject.clone(),
        not_before,
        not_after,
        subject,
        spki,
        extensions,
    })
}

/// Sign a TBSCertificate and assemble the Certificate (RFC 5280 4.1.1), keeping the TBS
/// bytes exactly as given. The signature is verified against the signer's public key
/// before the certificate is returned, so a faulty signer cannot hand out garbage.
pub(crate) fn sign_certificate(
    signer: &dyn Signer,
    tbs_der: &[u8],
) -> Result<Vec<u8>, IssuanceError> {
    let algorithm = signer.algorithm();
    let tbs = TbsCertificate::from_der(tbs_der).map_err(enc("prepared TBS"))?;
    if tbs.signature != algorithm {
        return Err(IssuanceError::Encoding(
            "TBS signature algorithm differs from the signer's".to_string(),
        ));
    }
    let signature = signer.sign(tbs_der)?;
    super::verify::verify_signature(&signer.public_key_der(), &algorithm, tbs_der, &signature)
        .map_err(|e| IssuanceError::Encoding(format!("signer self-check failed: {e}")))?;
    let mut body = tbs_der.to_vec();
    body.extend(algorithm.to_der().map_err(enc("signatureAlgorithm"))?);
    let bits = BitString::from_bytes(&signature).map_err(enc("signature"))?;
    body.extend(bits.to_der().map_err(enc("signature"))?);
    let header = der::Header::new(
        der::Tag::Sequence,
        der::Length::try_from(body.len()).map_err(enc("certificate length"))?,
    )
    .map_err(enc("certificate"))?;
    let mut out = header.to_der().map_err(enc("certificate"))?;
    out.extend(body);
    // The result must parse as a certificate whose TBS is the prepared one, unchanged.
    let parsed = Certificate::from_der(&out).map_err(enc("assembled certificate"))?;
    if parsed.tbs_certificate != tbs {
        return Err(IssuanceError::Encoding("assembled TBS changed".to_string()));
    }
    Ok(out)
}

/// RFC 5280 4.1.2.5: UTCTime for dates through 2049, GeneralizedTime from 2050; whole
/// seconds, Zulu.
pub(crate) fn x509_time(at: DateTime<Utc>) -> Result<Time, IssuanceError> {
    let secs = u64::try_from(at.timestamp())
        .map_err(|_| IssuanceError::Encoding("time before 1970".to_string()))?;
    let dt = der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map_err(enc("time"))?;
    if dt.year() < 2050 {
        Ok(Time::UtcTime(
            UtcTime::from_date_time(dt).map_err(enc("UTCTime"))?,
        ))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

pub(crate) fn from_x509_time(time: Time) -> Result<DateTime<Utc>, IssuanceError> {
    let secs = i64::try_from(time.to_unix_duration().as_secs())
        .map_err(|_| IssuanceError::Encoding("time out of range".to_string()))?;
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| IssuanceError::Encoding("time out of range".to_string()))
}

/// The validity window: notBefore = now − backdate; notAfter = notBefore + days − 1 s
/// (CPS 6.3.2 counts notAfter − notBefore + 1 s, a day being 86,400 s), clamped to the
/// issuer's notAfter (CP 5.6: nothing outlives its issuer).
pub(crate) fn validity_window(
    now: DateTime<Utc>,
    backdate_seconds: u64,
    days: u32,
    issuer_not_after: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), IssuanceError> {
    if days == 0 {
        return Err(IssuanceError::Encoding("validity of 0 days".to_string()));
    }
    let backdate = i64::try_from(backdate_seconds)
        .map_err(|_| IssuanceError::Encoding("backdate out of range".to_string()))?;
    let not_before = DateTime::from_timestamp(now.timestamp() - backdate, 0)
        .ok_or_else(|| IssuanceError::Encoding("notBefore out of range".to_string()))?;
    let span = chrono::Duration::seconds(i64::from(days) * SECONDS_PER_DAY - 1);
    let not_after = (not_before + span).min(issuer_not_after);
    if not_after <= not_before || not_after <= now {
        return Err(IssuanceError::Issuer(format!(
            "issuing CA certificate expires at {issuer_not_after}; cannot issue"
        )));
    }
    Ok((not_before, not_after))
}

/// Key identifier: the leftmost 160 bits of the SHA-256 of the subjectPublicKey BIT STRING
/// value (RFC 7093 2 method 1, an allowed alternative to RFC 5280 4.2.1.2's SHA-1; it
/// avoids a SHA-1 dependency and has the usual 20-byte length).
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    digest[..20].to_vec()
}

/// A Name of single-valued RDNs in the given order (most general first, as encoded).
/// countryName is a PrintableString (RFC 5280 X520countryName); the rest UTF8String
/// (RFC 5280 4.1.2.6: UTF8String for new certificates).
pub(crate) fn build_name(attrs: &[(ObjectIdentifier, &str)]) -> Result<Name, IssuanceError> {
    let mut rdns = Vec::with_capacity(attrs.len());
    for (oid, value) in attrs {
        let value = if *oid == ID_AT_COUNTRY_NAME {
            Any::encode_from(&PrintableStringRef::new(value).map_err(enc("country"))?)
        } else {
            Any::encode_from(&Utf8StringRef::new(value).map_err(enc("name"))?)
        }
        .map_err(enc("name"))?;
        let atv = AttributeTypeAndValue { oid: *oid, value };
        let set = SetOfVec::try_from(vec![atv]).map_err(enc("name"))?;
        rdns.push(RelativeDistinguishedName(set));
    }
    Ok(RdnSequence(rdns))
}

/// The subscriber subject: for OV the vetted C, ST, L, O (in the order of BR 7.1.2.7.4;
/// never OU, CP Table 7.1-1), then, when asked for, CN = the first DNS SAN that fits
/// ub-common-name, as a character-for-character copy (CP 7.1.4). An empty subject (DV
/// without CN) makes the SAN extension critical (RFC 5280 4.2.1.6).
pub(crate) fn leaf_subject(
    sans: &[San],
    organization: Option<&OrganizationSubject>,
    common_name: bool,
) -> Result<Name, IssuanceError> {
    let cn = sans
        .iter()
        .filter(|_| common_name)
        .find_map(|san| match san {
            San::Dns(name) if name.len() <= MAX_CN_LEN => Some(name.as_str()),
            _ => None,
        });
    let mut attrs: Vec<(ObjectIdentifier, &str)> = Vec::new();
    if let Some(org) = organization {
        attrs.extend([
            (ID_AT_COUNTRY_NAME, org.country.as_str()),
            (ID_AT_STATE_OR_PROVINCE_NAME, org.state.as_str()),
            (ID_AT_LOCALITY_NAME, org.locality.as_str()),
            (ID_AT_ORGANIZATION_NAME, org.organization.as_str()),
        ]);
    }
    if let Some(cn) = cn {
        attrs.push((ID_AT_COMMON_NAME, cn));
    }
    build_name(&attrs)
}

fn extension<T: Encode + const_oid::AssociatedOid>(
    value: &T,
    critical: bool,
) -> Result<Extension, IssuanceError> {
    let der = value.to_der().map_err(enc("extension"))?;
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(der).map_err(enc("extension"))?,
    })
}

fn uri(url: &str) -> Result<GeneralName, IssuanceError> {
    let ia5 = Ia5String::new(url).map_err(enc("URL must be ASCII"))?;
    Ok(GeneralName::UniformResourceIdentifier(ia5))
}

fn aki(issuer_key_id: &[u8]) -> Result<Extension, IssuanceError> {
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(issuer_key_id).map_err(enc("AKI"))?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    extension(&aki, false)
}

fn ski(spki: &SubjectPublicKeyInfoOwned) -> Result<Extension, IssuanceError> {
    let id = OctetString::new(key_identifier(spki)).map_err(enc("SKI"))?;
    extension(&SubjectKeyIdentifier(id), false)
}

fn san_general_names(sans: &[San]) -> Result<Vec<GeneralName>, IssuanceError> {
    sans.iter()
        .map(|san| match san {
            San::Dns(name) => Ok(GeneralName::DnsName(
                Ia5String::new(name).map_err(enc("dNSName must be ASCII"))?,
            )),
            San::Ip(IpAddr::V4(ip)) => Ok(GeneralName::IpAddress(
                OctetString::new(ip.octets().to_vec()).map_err(enc("iPAddress"))?,
            )),
            San::Ip(IpAddr::V6(ip)) => Ok(GeneralName::IpAddress(
                OctetString::new(ip.octets().to_vec()).map_err(enc("iPAddress"))?,
            )),
        })
        .collect()
}

fn policies(
    (reserved, cp_oid, cps_uri): &(ObjectIdentifier, ObjectIdentifier, String),
) -> Result<Extension, IssuanceError> {
    // BR 7.1.2.7.9: the reserved identifier comes first; the CP OID carries the CPS URI
    // qualifier (CP 7.1.6.4).
    let qualifier = Any::encode_from(&Ia5String::new(cps_uri).map_err(enc("CPS URI"))?)
        .map_err(enc("CPS URI"))?;
    let list = vec![
        PolicyInformation {
            policy_identifier: *reserved,
            policy_qualifiers: None,
        },
        PolicyInformation {
            policy_identifier: *cp_oid,
            policy_qualifiers: Some(vec![PolicyQualifierInfo {
                policy_qualifier_id: ID_QT_CPS,
                qualifier: Some(qualifier),
            }]),
        },
    ];
    extension(&CertificatePolicies(list), false)
}

/// Extensions of an end-entity certificate in a fixed order (CP Table 7.1-1): AKI, SKI
/// (optional), KU, EKU, basicConstraints, certificatePolicies, CRLDP, AIA, SAN, and last the
/// CT poison of a precertificate (whose place the SCT list takes in the final certificate,
/// RFC 6962 3.1).
pub(crate) fn leaf_extensions(
    issuer_key_id: &[u8],
    spki: &SubjectPublicKeyInfoOwned,
    spec: &LeafSpec,
    subject_is_empty: bool,
) -> Result<Vec<Extension>, IssuanceError> {
    let mut exts = vec![aki(issuer_key_id)?];
    if spec.subject_key_identifier {
        exts.push(ski(spki)?);
    }
    // BR 7.1.2.7.11: keyEncipherment only for RSA keys (RSA key transport); critical.
    let mut usage = KeyUsages::DigitalSignature.into();
    if spki.algorithm.oid == RSA_ENCRYPTION {
        usage |= KeyUsages::KeyEncipherment;
    }
    exts.push(extension(&KeyUsage(usage), true)?);
    let mut eku = vec![ID_KP_SERVER_AUTH];
    if spec.client_auth {
        eku.push(ID_KP_CLIENT_AUTH);
    }
    exts.push(extension(&ExtendedKeyUsage(eku), false)?);
    let bc = BasicConstraints {
        ca: false,
        path_len_constraint: None,
    };
    exts.push(extension(&bc, true)?);
    if let Some(policy) = &spec.policy {
        exts.push(policies(policy)?);
    }
    if let Some(url) = &spec.crl_url {
        let dp = DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
            reasons: None,
            crl_issuer: None,
        };
        exts.push(extension(&CrlDistributionPoints(vec![dp]), false)?);
    }
    let mut access = Vec::new();
    for (method, url) in [
        (ID_AD_OCSP, &spec.ocsp_url),
        (ID_AD_CA_ISSUERS, &spec.ca_issuers_url),
    ] {
        if let Some(url) = url {
            access.push(AccessDescription {
                access_method: method,
                access_location: uri(url)?,
            });
        }
    }
    if !access.is_empty() {
        exts.push(extension(&AuthorityInfoAccessSyntax(access), false)?);
    }
    let sans = san_general_names(&spec.sans)?;
    exts.push(extension(&SubjectAltName(sans), subject_is_empty)?);
    if spec.ct == CtMarker::Poison {
        exts.push(Extension {
            extn_id: CT_POISON,
            critical: true,
            extn_value: OctetString::new(NULL_DER.to_vec()).map_err(enc("CT poison"))?,
        });
    }
    Ok(exts)
}

/// The DER of a certificate's TBSCertificate, exactly as signed.
pub(crate) fn tbs_of_certificate(der: &[u8]) -> Result<Vec<u8>, IssuanceError> {
    let cert = Certificate::from_der(der).map_err(enc("certificate"))?;
    cert.tbs_certificate.to_der().map_err(enc("TBSCertificate"))
}

/// Extensions of a development CA certificate (BR 7.1.2.1 root, 7.1.2.10 subordinate),
/// same order as the leaf's. The root's AKI equals its own SKI (BR 7.1.2.1.3).
pub(crate) fn ca_extensions(
    kind: CaKind,
    issuer_key_id: &[u8],
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<Vec<Extension>, IssuanceError> {
    let mut exts = vec![aki(issuer_key_id)?, ski(spki)?];
    let mut usage = KeyUsages::KeyCertSign | KeyUsages::CRLSign;
    if kind == CaKind::Intermediate {
        // digitalSignature lets the intermediate sign OCSP responses directly (BR 7.1.2.10.7).
        usage |= KeyUsages::DigitalSignature;
        exts.push(extension(&KeyUsage(usage), true)?);
        let eku = ExtendedKeyUsage(vec![ID_KP_SERVER_AUTH, ID_KP_CLIENT_AUTH]);
        exts.push(extension(&eku, false)?);
    } else {
        // BR 7.1.2.1.2: a root carries no EKU.
        exts.push(extension(&KeyUsage(usage), true)?);
    }
    let bc = BasicConstraints {
        ca: true,
        // BR 7.1.2.10.4: a subordinate issuing only end-entity certificates has pathLen 0;
        // a root SHOULD NOT carry one (7.1.2.1.4).
        path_len_constraint: (kind == CaKind::Intermediate).then_some(0),
    };
    exts.push(extension(&bc, true)?);
    if kind == CaKind::Intermediate {
        // An affiliated subordinate may assert anyPolicy (BR 7.1.2.10.5), which keeps any
        // CP OID the leaf profile is configured with valid along the path.
        let any = PolicyInformation {
            policy_identifier: ANY_POLICY,
            policy_qualifiers: None,
        };
        exts.push(extension(&CertificatePolicies(vec![any]), false)?);
    }
    Ok(exts)
}

/// A certificate a CA key signs that is not a subscriber certificate: a root, an
/// intermediate, an OCSP responder. Every field is decided before anything is signed, so
/// the ceremony can show the operator exactly what will be signed (CP 4.3.1.1) and the
/// development hierarchy builds its CA certificates the same way.
pub(crate) struct CertificatePlan {
    pub serial: Serial,
    pub algorithm: AlgorithmIdentifierOwned,
    pub issuer: Name,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub subject: Name,
    pub spki: SubjectPublicKeyInfoOwned,
    pub extensions: Vec<Extension>,
}

impl CertificatePlan {
    /// DER of the TBSCertificate this plan describes.
    pub fn tbs_der(&self) -> Result<Vec<u8>, IssuanceError> {
        encode_tbs(self)
    }

    /// Sign with `signer` (whose algorithm the plan names); the signature is verified
    /// before the certificate is returned (`sign_certificate`). Blocking.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Vec<u8>, IssuanceError> {
        sign_certificate(signer, &self.tbs_der()?)
    }
}

/// id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1): relying parties need not check the
/// responder certificate's own revocation status. Its value is NULL.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OcspNoCheck;

impl const_oid::AssociatedOid for OcspNoCheck {
    const OID: ObjectIdentifier = const_oid::db::rfc6960::ID_PKIX_OCSP_NOCHECK;
}

impl Encode for OcspNoCheck {
    fn encoded_len(&self) -> der::Result<der::Length> {
        der::asn1::Null.encoded_len()
    }

    fn encode(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        der::asn1::Null.encode(writer)
    }
}

/// Extensions of the delegated OCSP responder certificate (CP Table 7.1-2, BR 7.1.2.8):
/// AKI, SKI, keyUsage digitalSignature (critical), EKU id-kp-OCSPSigning only,
/// id-pkix-ocsp-nocheck. No certificatePolicies (prohibited by the table) and no
/// basicConstraints (BR 7.1.2.8.2: MAY; absent means not a CA).
pub(crate) fn ocsp_responder_extensions(
    issuer_key_id: &[u8],
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<Vec<Extension>, IssuanceError> {
    Ok(vec![
        aki(issuer_key_id)?,
        ski(spki)?,
        extension(&KeyUsage(KeyUsages::DigitalSignature.into()), true)?,
        extension(
            &ExtendedKeyUsage(vec![const_oid::db::rfc5280::ID_KP_OCSP_SIGNING]),
            false,
        )?,
        extension(&OcspNoCheck, false)?,
    ])
}

/// cRLDistributionPoints and authorityInformationAccess caIssuers for a subordinate CA
/// certificate, pointing at the issuing root's CRL (BR 7.1.2.11.2) and certificate (BR
/// 7.1.2.10.3).
/// Each is omitted when its URL is None.
pub(crate) fn ca_location_extensions(
    crl_url: Option<&str>,
    ca_issuers_url: Option<&str>,
) -> Result<Vec<Extension>, IssuanceError> {
    let mut exts = Vec::new();
    if let Some(url) = crl_url {
        let dp = DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
            reasons: None,
            crl_issuer: None,
        };
        exts.push(extension(&CrlDistributionPoints(vec![dp]), false)?);
    }
    if let Some(url) = ca_issuers_url {
        let access = AccessDescription {
            access_method: ID_AD_CA_ISSUERS,
            access_location: uri(url)?,
        };
        exts.push(extension(&AuthorityInfoAccessSyntax(vec![access]), false)?);
    }
    Ok(exts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn utc_time_before_2050_generalized_from_2050() {
        let t = Utc
            .with_ymd_and_hms(2049, 12, 31, 23, 59, 59)
            .single()
            .expect("date");
        assert!(matches!(x509_time(t), Ok(Time::UtcTime(_))));
        let t = Utc
            .with_ymd_and_hms(2050, 1, 1, 0, 0, 0)
            .single()
            .expect("date");
        assert!(matches!(x509_time(t), Ok(Time::GeneralTime(_))));
    }

    #[test]
    fn validity_counts_the_last_second_and_clamps_to_issuer() {
        let now = Utc
            .with_ymd_and_hms(2026, 4, 1, 12, 0, 0)
            .single()
            .expect("date");
        let far = Utc
            .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
            .single()
            .expect("date");
        let (nb, na) = validity_window(now, 3600, 90, far).expect("window");
        assert_eq!(now - nb, chrono::Duration::seconds(3600));
        assert_eq!((na - nb).num_seconds() + 1, 90 * 86_400);
        let soon = now + chrono::Duration::days(10);
        let (_, na) = validity_window(now, 0, 90, soon).expect("window");
        assert_eq!(na, soon);
        assert!(validity_window(now, 0, 90, now).is_err());
        assert!(validity_window(now, 0, 0, far).is_err());
    }

    #[test]
    fn long_first_name_moves_cn_to_a_short_one_or_empties_subject() {
        let long = format!("{}.example.com", "a".repeat(60));
        let sans = vec![San::Dns(long.clone()), San::Dns("b.example.com".into())];
        let subject = leaf_subject(&sans, None, true).expect("subject");
        assert_eq!(subject.to_string(), "CN=b.example.com");
        let subject = leaf_subject(&[San::Dns(long)], None, true).expect("subject");
        assert!(subject.0.is_empty());
        let subject = leaf_subject(&sans, None, false).expect("subject");
        assert!(subject.0.is_empty());
    }
}
