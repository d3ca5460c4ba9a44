//! End-to-end issuance: dev hierarchy → CSR → prepare → issue, checked with x509-parser
//! and the openssl CLI (an independent verifier).

use super::test_support::*;
use super::*;
use crate::config::{ProfileConfig, ValidationLevel};
use chrono::TimeZone;
use std::path::Path;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::*;

pub(crate) fn openssl_verify(dir: &Path, root_pem: &str, chain: &[&str], extra: &[&str]) {
    let root = dir.join("verify-root.pem");
    let untrusted = dir.join("verify-intermediate.pem");
    let leaf = dir.join("verify-leaf.pem");
    std::fs::write(&root, root_pem).expect("write");
    std::fs::write(&leaf, chain[0]).expect("write");
    let mut command = std::process::Command::new("openssl");
    command.arg("verify").args(extra).arg("-CAfile").arg(&root);
    if chain.len() > 1 {
        std::fs::write(&untrusted, chain[1..].concat()).expect("write");
        command.arg("-untrusted").arg(&untrusted);
    }
    let output = command.arg(&leaf).output().expect("run openssl");
    assert!(
        output.status.success(),
        "openssl verify failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn authority(hierarchy: &devca::DevHierarchy, config: &CaConfig) -> CertificateAuthority {
    CertificateAuthority::new(config, hierarchy.intermediate.clone()).expect("CA")
}

fn request(names: &[&str], public_key_der: Vec<u8>, profile: &str) -> IssuanceRequest {
    IssuanceRequest {
        serial: Serial::random(),
        names: strings(names),
        public_key_der,
        profile: profile.to_string(),
        organization: None,
        crl_shard: 0,
    }
}

/// (oid, critical) of every extension, in order.
fn extension_list(cert: &X509Certificate<'_>) -> Vec<(String, bool)> {
    cert.extensions()
        .iter()
        .map(|e| (e.oid.to_id_string(), e.critical))
        .collect()
}

fn key_usage(cert: &X509Certificate<'_>) -> (bool, bool) {
    let ku = cert.key_usage().expect("ku").expect("ku present").value;
    (ku.digital_signature(), ku.key_encipherment())
}

#[test]
fn issues_a_dv_certificate_that_openssl_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let config = CaConfig::default();
    let ca = authority(&hierarchy, &config);
    let (csr, _) = rcgen_csr(&["www.example.com", "example.com"]);
    let checked = csr::check_csr(&csr, &strings(&["example.com", "www.example.com"])).expect("CSR");
    let req = IssuanceRequest {
        serial: Serial::random(),
        names: checked.names.clone(),
        public_key_der: checked.public_key_der.clone(),
        profile: "dv".to_string(),
        organization: None,
        crl_shard: 0,
    };
    let now = Utc::now();
    let prepared = ca.prepare(&req, now).expect("prepare");
    let issued = ca.issue(prepared).expect("issue");
    assert!(issued.pem.starts_with("-----BEGIN CERTIFICATE-----\n"));

    let (_, leaf) = parse_x509_certificate(&issued.der).expect("parse leaf");
    let (_, intermediate) =
        parse_x509_certificate(&hierarchy.intermediate.certificate_der).expect("parse int");
    // CP 7.1.4: issuer bytes are the intermediate's subject bytes, unchanged.
    assert_eq!(leaf.issuer().as_raw(), intermediate.subject().as_raw());
    assert_eq!(leaf.version(), X509Version::V3);
    assert_eq!(leaf.raw_serial(), req.serial.as_bytes());
    // BR 7.1.2.7.2: no CN by default, so the subject is empty and the SAN critical.
    assert_eq!(leaf.subject().to_string(), "");
    assert_eq!(leaf.public_key().raw, checked.public_key_der.as_slice());
    assert_eq!(
        leaf.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.10045.4.3.2"
    );

    let expected = [
        ("2.5.29.35", false),         // AKI (no SKI: BR 7.1.2.7.6)
        ("2.5.29.15", true),          // KU
        ("2.5.29.37", false),         // EKU
        ("2.5.29.19", true),          // basicConstraints
        ("2.5.29.32", false),         // certificatePolicies
        ("2.5.29.31", false),         // CRLDP
        ("1.3.6.1.5.5.7.1.1", false), // AIA
        ("2.5.29.17", true),          // SAN, critical: empty subject
    ];
    let expected: Vec<(String, bool)> = expected.iter().map(|(o, c)| (o.to_string(), *c)).collect();
    assert_eq!(extension_list(&leaf), expected);
    assert_eq!(
        key_usage(&leaf),
        (true, false),
        "no keyEncipherment for ECDSA"
    );
    check_leaf_extension_values(&leaf, &intermediate, &config);

    // 90 days counted as notAfter − notBefore + 1 s (CPS 6.3.2); backdated 1 h.
    let nb = leaf.validity().not_before.timestamp();
    let na = leaf.validity().not_after.timestamp();
    assert_eq!(na - nb + 1, 90 * 86_400);
    assert_eq!(now.timestamp() - nb, 3600);
    assert_eq!(issued.not_before.timestamp(), nb);
    assert_eq!(issued.not_after.timestamp(), na);

    openssl_verify(
        dir.path(),
        &hierarchy.root_pem,
        &[&issued.pem, ca.chain_pem()],
        &[
            "-purpose",
            "sslserver",
            "-x509_strict",
            "-verify_hostname",
            "www.example.com",
        ],
    );
}

fn check_leaf_extension_values(
    leaf: &X509Certificate<'_>,
    intermediate: &X509Certificate<'_>,
    config: &CaConfig,
) {
    let mut seen = 0;
    for ext in leaf.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                let ski = intermediate
                    .extensions()
                    .iter()
                    .find_map(|e| match e.parsed_extension() {
                        ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
                        _ => None,
                    })
                    .expect("intermediate SKI");
                assert_eq!(aki.key_identifier.as_ref().expect("keyid").0, ski);
                seen += 1;
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                assert!(eku.server_auth && !eku.client_auth && eku.other.is_empty());
                seen += 1;
            }
            ParsedExtension::BasicConstraints(bc) => {
                assert!(!bc.ca);
                seen += 1;
            }
            ParsedExtension::CertificatePolicies(policies) => {
                let oids: Vec<String> = policies
                    .iter()
                    .map(|p| p.policy_id.to_id_string())
                    .collect();
                assert_eq!(
                    oids,
                    vec!["2.23.140.1.2.1".to_string(), config.policy_oid.clone()]
                );
                let qualifier = &policies[1].policy_qualifiers.as_ref().expect("cps")[0];
                assert_eq!(
                    qualifier.policy_qualifier_id.to_id_string(),
                    "1.3.6.1.5.5.7.2.1"
                );
                assert!(qualifier.qualifier.ends_with(config.cps_uri.as_bytes()));
                seen += 1;
            }
            ParsedExtension::CRLDistributionPoints(_) => {
                let want = format!("{}/0.crl", config.crl_base_url);
                assert!(contains(ext.value, want.as_bytes()));
                seen += 1;
            }
            ParsedExtension::AuthorityInfoAccess(_) => {
                assert!(contains(ext.value, config.ocsp_url.as_bytes()));
                assert!(contains(ext.value, config.ca_issuers_url.as_bytes()));
                seen += 1;
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                let names: Vec<String> = san.general_names.iter().map(|n| n.to_string()).collect();
                assert_eq!(
                    names,
                    vec!["DNSName(example.com)", "DNSName(www.example.com)"]
                );
                seen += 1;
            }
            _ => {}
        }
    }
    assert_eq!(seen, 7);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn validity_is_capped_by_the_dated_maximum_and_rsa_gets_key_encipherment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let mut config = CaConfig::default();
    config.profiles.insert(
        "long".to_string(),
        ProfileConfig {
            validity_days: 400,
            client_auth: true,
            ..ProfileConfig::default()
        },
    );
    let ca = authority(&hierarchy, &config);
    let key = rsa_key(2048);
    // BR 6.3.2 as of 2026-03-15: at most 200 days.
    let at = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("date");
    let prepared = ca
        .prepare(
            &request(&["a.example.com"], key.spki_der.clone(), "long"),
            at,
        )
        .expect("prepare");
    let issued = ca.issue(prepared).expect("issue");
    let (_, leaf) = parse_x509_certificate(&issued.der).expect("parse");
    let span = leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp();
    assert_eq!(span + 1, 200 * 86_400);
    assert_eq!(key_usage(&leaf), (true, true), "keyEncipherment for RSA");
    let eku = leaf.extended_key_usage().expect("eku").expect("eku").value;
    assert!(eku.server_auth && eku.client_auth);
}

#[test]
fn validity_is_clamped_to_the_issuer_not_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let ca = authority(&hierarchy, &CaConfig::default());
    let (_, intermediate) =
        parse_x509_certificate(&hierarchy.intermediate.certificate_der).expect("parse");
    let issuer_end = intermediate.validity().not_after.timestamp();
    let at = DateTime::from_timestamp(issuer_end - 10 * 86_400, 0).expect("date");
    let prepared = ca
        .prepare(&request(&["a.example.com"], p256_key().spki_der, "dv"), at)
        .expect("prepare");
    assert_eq!(prepared.not_after.timestamp(), issuer_end);
    let after = DateTime::from_timestamp(issuer_end + 1, 0).expect("date");
    assert!(matches!(
        ca.prepare(
            &request(&["a.example.com"], p256_key().spki_der, "dv"),
            after
        ),
        Err(IssuanceError::Issuer(_))
    ));
}

#[test]
fn unknown_profile_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let ca = authority(&hierarchy, &CaConfig::default());
    let req = request(&["a.example.com"], p256_key().spki_der, "nope");
    assert!(matches!(
        ca.prepare(&req, Utc::now()),
        Err(IssuanceError::UnknownProfile(p)) if p == "nope"
    ));
}

#[test]
fn new_refuses_a_signer_that_does_not_match_the_issuer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let mut issuer = hierarchy.intermediate.clone();
    issuer.signer = Arc::new(
        signer::software::SoftwareSigner::generate(signer::software::KeyKind::EcdsaP256)
            .expect("key"),
    );
    assert!(matches!(
        CertificateAuthority::new(&CaConfig::default(), issuer),
        Err(IssuanceError::Issuer(_))
    ));
}

fn org() -> OrganizationSubject {
    OrganizationSubject {
        country: "JP".to_string(),
        state: "Tokyo".to_string(),
        locality: "Chiyoda-ku".to_string(),
        organization: "Hanko Test KK".to_string(),
    }
}

fn profiles_config() -> CaConfig {
    let mut config = CaConfig::default();
    config.profiles.insert(
        "ov".to_string(),
        ProfileConfig {
            validation: ValidationLevel::Ov,
            common_name: true,
            ..ProfileConfig::default()
        },
    );
    config.profiles.insert(
        "short".to_string(),
        ProfileConfig {
            validity_days: 30,
            short_lived: true,
            ..ProfileConfig::default()
        },
    );
    config
}

#[test]
fn ov_profile_takes_the_vetted_organisation_and_the_ov_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let config = profiles_config();
    let ca = authority(&hierarchy, &config);
    let mut req = request(
        &["www.example.com", "example.com"],
        p256_key().spki_der,
        "ov",
    );
    // CP 3.2.2.1: no vetted organisation, no OV certificate.
    assert!(matches!(
        ca.prepare(&req, Utc::now()),
        Err(IssuanceError::Profile(_))
    ));
    req.organization = Some(org());
    let issued = ca
        .issue(ca.prepare(&req, Utc::now()).expect("prepare"))
        .expect("issue");
    let (_, leaf) = parse_x509_certificate(&issued.der).expect("parse");
    // BR 7.1.2.7.4 order; CN is the first SAN, character for character; no OU.
    assert_eq!(
        leaf.subject().to_string(),
        "C=JP, ST=Tokyo, L=Chiyoda-ku, O=Hanko Test KK, CN=www.example.com"
    );
    let policies: Vec<String> = leaf
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::CertificatePolicies(p) => Some(
                p.iter()
                    .map(|p| p.policy_id.to_id_string())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .expect("policies");
    assert_eq!(policies, vec!["2.23.140.1.2.2", config.policy_oid.as_str()]);
    // This profile leaves out the optional SKI (BR 7.1.2.7.6).
    assert!(!extension_list(&leaf)
        .iter()
        .any(|(oid, _)| oid == "2.5.29.14"));
}

#[test]
fn dv_profile_ignores_an_organisation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let ca = authority(&hierarchy, &profiles_config());
    let mut req = request(&["example.com"], p256_key().spki_der, "dv");
    req.organization = Some(org());
    let issued = ca
        .issue(ca.prepare(&req, Utc::now()).expect("prepare"))
        .expect("issue");
    let (_, leaf) = parse_x509_certificate(&issued.der).expect("parse");
    assert_eq!(leaf.subject().to_string(), "");
}

#[test]
fn short_lived_validity_follows_the_dated_table_on_both_sides_of_2026_03_15() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let ca = authority(&hierarchy, &profiles_config());
    let req = request(&["example.com"], p256_key().spki_der, "short");
    let span = |at: DateTime<Utc>| {
        let p = ca.prepare(&req, at).expect("prepare");
        (p.not_after - p.not_before).num_seconds() + 1
    };
    let before = Utc
        .with_ymd_and_hms(2026, 3, 14, 23, 59, 59)
        .single()
        .expect("date");
    let from = Utc
        .with_ymd_and_hms(2026, 3, 15, 0, 0, 0)
        .single()
        .expect("date");
    // BR: short-lived is ≤ 10 days before 2026-03-15 and ≤ 7 days from then on.
    assert_eq!(span(before), 10 * 86_400);
    assert_eq!(span(from), 7 * 86_400);
}

#[test]
fn publicly_trusted_profiles_refuse_a_software_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hierarchy = devca::load_or_create(dir.path()).expect("hierarchy");
    let mut config = CaConfig::default();
    let ca = authority(&hierarchy, &config);
    assert!(ca.check_publicly_trusted(false, false).is_ok());
    if let Some(p) = config.profiles.get_mut("dv") {
        p.publicly_trusted = true;
    }
    let ca = authority(&hierarchy, &config);
    let err = ca
        .check_publicly_trusted(true, true)
        .expect_err("software key");
    assert!(err.to_string().contains("software key"), "{err}");
}
