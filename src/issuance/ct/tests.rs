//! Unit tests of the RFC 6962 encodings, SCT verification, the correspondence check and the
//! policy. Interoperability vectors: `testdata/` holds the CT reference implementation's test
//! CA, certificate and precertificate (certificate-transparency-go `testdata/certs.go`,
//! Apache-2.0) with the SCTs its test log (key `LOG_KEY_B64`) issued for them, so the
//! signed-data construction is checked against a log we did not write.

use super::client::PolicyTracker;
use super::correspondence::precert_entry;
use super::sct::{signed_data, LogKey, SignedEntry};
use super::*;
use crate::config::{CtConfig, CtLogConfig};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use x509_cert::ext::Extension;
use x509_cert::TbsCertificate;

const LOG_KEY_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmXg8sUUzwBYaWrRb+V0IopzQ6o3U\
                           yEJ04r5ZrRXGdpYM8K+hB0pXrGRLI0eeWz+3skXrS0IO83AhA3GpRL6s6w==";
const CERT_SCT_HEX: &str = "00df1c2ec11500945247a96168325ddc5c7959e8f7c6d388fc002e0bbd3f74d7\
                            640000013ddb27ded900000403004730450220606e10ae5c2d5a1b0aed49dc49\
                            37f48de71a4e9784e9c208dfbfe9ef536cf7f2022100beb29c72d7d06d61d06b\
                            db38a069469aa86fe12e18bb7cc45689a2c0187ef5a5";
const PRECERT_SCT_HEX: &str = "00df1c2ec11500945247a96168325ddc5c7959e8f7c6d388fc002e0bbd3f74d7\
                               640000013ddb27df9300000403004730450220482f6751af35dba65436be1fd6\
                               640f3dbf9a41429495924530288fa3e5e23e06022100e4edc0db3ac572b1e2f5\
                               e8ab6a680653987dcf41027dfeffa105519d89edbf08";

fn pem_der(pem: &str) -> Vec<u8> {
    der::pem::decode_vec(pem.as_bytes()).expect("pem").1
}

fn reference_ca() -> Vec<u8> {
    pem_der(include_str!("testdata/ca.pem"))
}

fn reference_key() -> LogKey {
    LogKey::from_base64(LOG_KEY_B64).expect("reference log key")
}

fn known_sct() -> Sct {
    Sct {
        log_name: "test".to_string(),
        operator: "op".to_string(),
        log_id: [0x11; 32],
        timestamp: 0x0102_0304_0506_0708,
        extensions: vec![],
        signature: vec![4, 3, 0, 2, 0xAA, 0xBB],
    }
}

#[test]
fn sct_encodes_to_the_exact_rfc6962_bytes() {
    let mut expected = vec![0x00];
    expected.extend([0x11; 32]);
    expected.extend([1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x00, 4, 3, 0, 2, 0xAA, 0xBB]);
    assert_eq!(known_sct().to_tls().expect("encode"), expected);

    // SignedCertificateTimestampList: u16 list length, u16 SCT length, SCT; in an OCTET
    // STRING (RFC 6962 3.3).
    let value = sct_list_extension_value(&[known_sct()]).expect("list");
    assert_eq!(expected.len(), 49);
    let mut list = vec![0x00, 51, 0x00, 49];
    list.extend(&expected);
    assert_eq!(value[..2], [0x04, 53]);
    assert_eq!(value[2..], list[..]);
}

#[test]
fn sct_list_round_trips() {
    let mut second = known_sct();
    second.log_id = [0x22; 32];
    second.extensions = vec![9, 9, 9];
    let value = sct_list_extension_value(&[known_sct(), second.clone()]).expect("list");
    let decoded = decode_sct_list_extension_value(&value).expect("decode");
    assert_eq!(decoded.len(), 2);
    let back: Vec<Sct> = decoded
        .iter()
        .map(|b| Sct::from_tls(b, "test", "op").expect("sct"))
        .collect();
    assert_eq!(back, vec![known_sct(), second]);
    assert!(sct_list_extension_value(&[]).is_err(), "empty list");
    // Truncated and padded lists are refused.
    let mut padded = value.clone();
    padded[1] += 1;
    padded.push(0);
    assert!(decode_sct_list_extension_value(&padded).is_err());
    assert!(decode_sct_list_extension_value(&value[..value.len() - 1]).is_err());
}

#[test]
fn malformed_digitally_signed_is_refused() {
    let mut sct = known_sct();
    sct.signature = vec![4, 3, 0, 5, 0xAA]; // length says 5, one byte follows
    assert!(sct.to_tls().is_err());
    let mut bytes = known_sct().to_tls().expect("encode");
    bytes.push(0);
    assert!(Sct::from_tls(&bytes, "t", "o").is_err(), "trailing byte");
    bytes[0] = 1;
    assert!(
        Sct::from_tls(&bytes[..bytes.len() - 1], "t", "o").is_err(),
        "v2"
    );
}

#[test]
fn signed_data_matches_rfc6962_layout() {
    let x509 = signed_data(0x0A0B, &SignedEntry::X509(vec![0x30, 0x00]), &[]).expect("x509");
    assert_eq!(
        x509,
        [0, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0x0B, 0, 0, 0, 0, 2, 0x30, 0x00, 0, 0]
    );
    let entry = SignedEntry::Precert {
        issuer_key_hash: [0x77; 32],
        tbs: vec![0x30, 0x01, 0x05],
    };
    let pre = signed_data(1, &entry, &[0xEE]).expect("precert");
    let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];
    expected.extend([0x77; 32]);
    expected.extend([0, 0, 3, 0x30, 0x01, 0x05, 0, 1, 0xEE]);
    assert_eq!(pre, expected);
    assert!(
        signed_data(1, &SignedEntry::X509(vec![]), &[]).is_err(),
        "empty cert"
    );
}

#[test]
fn reference_log_sct_over_a_certificate_verifies() {
    let bytes = hex::decode(CERT_SCT_HEX).expect("hex");
    let sct = Sct::from_tls(&bytes, "reference", "google").expect("parse");
    assert_eq!(
        sct.to_tls().expect("encode"),
        bytes,
        "byte-exact round trip"
    );
    assert_eq!(sct.log_id, reference_key().log_id());
    let cert = pem_der(include_str!("testdata/cert.pem"));
    reference_key()
        .verify(&sct, &SignedEntry::X509(cert.clone()))
        .expect("reference SCT verifies");

    let mut later = sct.clone();
    later.timestamp += 1;
    let err = reference_key()
        .verify(&later, &SignedEntry::X509(cert))
        .expect_err("altered timestamp");
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn reference_log_sct_over_a_precertificate_verifies() {
    // Checks poison removal and issuer_key_hash against the reference log's signature.
    let bytes = hex::decode(PRECERT_SCT_HEX).expect("hex");
    let sct = Sct::from_tls(&bytes, "reference", "google").expect("parse");
    let precert = pem_der(include_str!("testdata/precert.pem"));
    let entry = precert_entry(&precert, &reference_ca()).expect("entry");
    reference_key()
        .verify(&sct, &entry)
        .expect("precert SCT verifies");

    // The same SCT is not a signature over the entry with the poison left in.
    let SignedEntry::Precert {
        issuer_key_hash, ..
    } = &entry
    else {
        panic!("precert entry expected");
    };
    let raw_tbs = x509_cert::Certificate::from_der(&precert)
        .expect("cert")
        .tbs_certificate
        .to_der()
        .expect("tbs");
    let with_poison = SignedEntry::Precert {
        issuer_key_hash: *issuer_key_hash,
        tbs: raw_tbs,
    };
    assert!(reference_key().verify(&sct, &with_poison).is_err());
}

#[test]
fn sct_from_another_log_key_is_refused() {
    let bytes = hex::decode(CERT_SCT_HEX).expect("hex");
    let sct = Sct::from_tls(&bytes, "reference", "google").expect("parse");
    let cert = pem_der(include_str!("testdata/cert.pem"));
    let other = p256_log_key();
    let err = other
        .verify(&sct, &SignedEntry::X509(cert.clone()))
        .expect_err("wrong key");
    assert!(err.contains("log id"), "{err}");
    // Even under the right id, another key's signature does not verify.
    let mut forged = sct.clone();
    forged.log_id = other.log_id();
    let err = other
        .verify(&forged, &SignedEntry::X509(cert))
        .expect_err("wrong key");
    assert!(err.contains("does not verify"), "{err}");
}

fn p256_log_key() -> LogKey {
    use pkcs8::EncodePublicKey;
    let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let der = key
        .verifying_key()
        .to_public_key_der()
        .expect("spki")
        .into_vec();
    LogKey::from_spki_der(&der).expect("key")
}

#[test]
fn rsa_log_sct_verifies_and_weak_keys_are_refused() {
    use pkcs8::EncodePublicKey;
    use signature::{SignatureEncoding, Signer};
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa");
    let spki = private
        .to_public_key()
        .to_public_key_der()
        .expect("spki")
        .into_vec();
    let key = LogKey::from_spki_der(&spki).expect("rsa log key");
    let entry = SignedEntry::X509(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    let message = signed_data(42, &entry, &[]).expect("data");
    let sig = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private)
        .sign(&message)
        .to_vec();
    let mut signature = vec![4, 1];
    signature.extend((sig.len() as u16).to_be_bytes());
    signature.extend(&sig);
    let mut sct = Sct {
        log_name: "rsa".to_string(),
        operator: "op".to_string(),
        log_id: key.log_id(),
        timestamp: 42,
        extensions: vec![],
        signature,
    };
    key.verify(&sct, &entry).expect("RSA SCT verifies");
    sct.signature[1] = 3; // claims ECDSA under an RSA key
    assert!(key.verify(&sct, &entry).is_err());

    let small = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).expect("rsa");
    let small = small.to_public_key().to_public_key_der().expect("spki");
    assert!(LogKey::from_spki_der(small.as_bytes()).is_err(), "1024-bit");
    let p384 = p384::SecretKey::random(&mut rand::rngs::OsRng)
        .public_key()
        .to_public_key_der()
        .expect("spki");
    let err = LogKey::from_spki_der(p384.as_bytes()).expect_err("P-384");
    assert!(err.contains("P-256"), "{err}");
    assert!(LogKey::from_base64("not base64!").is_err());
}

// ---- correspondence ------------------------------------------------------------------

const POISON: ObjectIdentifier = ObjectIdentifier::new_unwrap(POISON_OID);
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap(SCT_LIST_OID);

/// A precertificate (rcgen, independent of our TBS builder) with SAN, key usage, EKU and
/// the poison; returns (precert DER, issuer DER).
pub(super) fn rcgen_precert() -> (Vec<u8>, Vec<u8>) {
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "CT Test CA");
    let ca = ca.self_signed(&ca_key).expect("ca");
    let mut leaf = CertificateParams::new(vec!["www.example.com".to_string()]).expect("params");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let mut poison =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3], vec![5, 0]);
    poison.set_criticality(true);
    leaf.custom_extensions.push(poison);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = leaf.signed_by(&leaf_key, &ca, &ca_key).expect("leaf");
    (leaf.der().to_vec(), ca.der().to_vec())
}

fn precert_tbs() -> TbsCertificate {
    let (precert, _) = rcgen_precert();
    x509_cert::Certificate::from_der(&precert)
        .expect("cert")
        .tbs_certificate
}

fn final_for(pre: &TbsCertificate) -> TbsCertificate {
    let value = sct_list_extension_value(&[known_sct()]).expect("list");
    let der = replace_poison_with_sct_list(&pre.to_der().expect("der"), &value).expect("final");
    TbsCertificate::from_der(&der).expect("decode")
}

fn check(pre: &TbsCertificate, fin: &TbsCertificate) -> Result<(), CtError> {
    check_correspondence(&pre.to_der().expect("der"), &fin.to_der().expect("der"))
}

fn extensions(tbs: &mut TbsCertificate) -> &mut Vec<Extension> {
    tbs.extensions.as_mut().expect("extensions")
}

#[test]
fn correspondence_holds_for_a_proper_pair() {
    let pre = precert_tbs();
    let fin = final_for(&pre);
    let pre_exts = pre.extensions.as_ref().expect("exts");
    let fin_exts = fin.extensions.as_ref().expect("exts");
    let at = pre_exts
        .iter()
        .position(|e| e.extn_id == POISON)
        .expect("poison");
    assert_eq!(fin_exts[at].extn_id, SCT_LIST, "same position");
    assert!(!fin_exts[at].critical);
    assert!(pre_exts.len() >= 4, "SAN, KU, EKU, poison at least");
    check(&pre, &fin).expect("corresponds");
}

fn assert_names(result: Result<(), CtError>, needle: &str) {
    let err = result.expect_err("must not correspond").to_string();
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn correspondence_names_a_changed_serial() {
    let pre = precert_tbs();
    let mut fin = final_for(&pre);
    fin.serial_number = x509_cert::serial_number::SerialNumber::new(&[0x01, 0x02]).expect("sn");
    assert_names(check(&pre, &fin), "serial number differs");
}

#[test]
fn correspondence_names_a_changed_extension_order() {
    let pre = precert_tbs();
    let mut fin = final_for(&pre);
    let at = pre
        .extensions
        .as_ref()
        .expect("e")
        .iter()
        .position(|e| e.extn_id == POISON);
    let (a, b) = if at == Some(0) { (1, 2) } else { (0, 1) };
    extensions(&mut fin).swap(a, b);
    assert_names(check(&pre, &fin), &format!("extension {a} differs"));
}

#[test]
fn correspondence_names_a_missing_sct_extension() {
    let pre = precert_tbs();
    let mut fin = final_for(&pre);
    extensions(&mut fin).retain(|e| e.extn_id != SCT_LIST);
    let err = check(&pre, &fin).expect_err("missing").to_string();
    assert!(
        err.contains("SCT list") || err.contains("count differs"),
        "{err}"
    );

    // The precertificate itself (poison still in) is not a final certificate either.
    assert_names(check(&pre, &pre), "poison");
}

#[test]
fn correspondence_names_a_critical_sct_extension() {
    let pre = precert_tbs();
    let mut fin = final_for(&pre);
    for e in extensions(&mut fin)
        .iter_mut()
        .filter(|e| e.extn_id == SCT_LIST)
    {
        e.critical = true;
    }
    assert_names(check(&pre, &fin), "is critical");
}

#[test]
fn correspondence_refuses_a_malformed_sct_list_and_other_changes() {
    let pre = precert_tbs();
    let mut fin = final_for(&pre);
    for e in extensions(&mut fin)
        .iter_mut()
        .filter(|e| e.extn_id == SCT_LIST)
    {
        e.extn_value = OctetString::new(vec![0x04, 0x02, 0x00, 0x00]).expect("os");
    }
    assert_names(check(&pre, &fin), "SCT list");

    let mut fin = final_for(&pre);
    fin.subject = fin.issuer.clone();
    assert_names(check(&pre, &fin), "subject differs");

    let mut fin = final_for(&pre);
    let last = extensions(&mut fin).len() - 1;
    extensions(&mut fin)[last].critical = !extensions(&mut fin)[last].critical;
    let err = check(&pre, &fin).expect_err("criticality").to_string();
    assert!(err.contains("differs") || err.contains("critical"), "{err}");
}

#[test]
fn precert_entry_requires_the_poison_and_the_issuer() {
    let (precert, issuer) = rcgen_precert();
    let entry = precert_entry(&precert, &issuer).expect("entry");
    let SignedEntry::Precert { tbs, .. } = entry else {
        panic!("precert entry expected");
    };
    let tbs = TbsCertificate::from_der(&tbs).expect("tbs");
    assert!(tbs
        .extensions
        .expect("exts")
        .iter()
        .all(|e| e.extn_id != POISON));
    // A certificate without poison is not a precertificate.
    let cert = pem_der(include_str!("testdata/cert.pem"));
    let err = precert_entry(&cert, &reference_ca()).expect_err("no poison");
    assert!(err.to_string().contains("poison"), "{err}");
    // The issuer must be the precertificate's issuer.
    let err = precert_entry(&precert, &reference_ca()).expect_err("wrong issuer");
    assert!(err.to_string().contains("issuer"), "{err}");
}

// ---- policy and configuration ----------------------------------------------------------

fn sct_from(operator: &str, log: &str) -> Sct {
    Sct {
        log_name: log.to_string(),
        operator: operator.to_string(),
        ..known_sct()
    }
}

#[test]
fn policy_needs_distinct_operators_not_just_scts() {
    let mut policy = PolicyTracker::new(2, 3);
    assert!(!policy.record(1, Ok(sct_from("A", "a2"))));
    assert!(
        !policy.record(0, Ok(sct_from("A", "a1"))),
        "same operator twice"
    );
    assert!(policy.record(2, Ok(sct_from("B", "b1"))), "second operator");
    let scts = policy.into_scts();
    let names: Vec<&str> = scts.iter().map(|s| s.log_name.as_str()).collect();
    assert_eq!(names, ["a2", "b1"], "one per operator, configuration order");

    let mut policy = PolicyTracker::new(2, 3);
    assert!(!policy.record(0, Ok(sct_from("A", "a1"))));
    assert!(!policy.record(1, Err(LogFailure::Timeout { ms: 5 })));
    assert!(!policy.record(2, Ok(sct_from("A", "a2"))));
}

fn log_config(name: &str, operator: &str, key: &str) -> CtLogConfig {
    CtLogConfig {
        name: name.to_string(),
        url: format!("http://127.0.0.1:9/{name}"),
        public_key: key.to_string(),
        operator: operator.to_string(),
        timeout_ms: 1000,
    }
}

#[test]
fn configuration_errors_name_the_log_and_the_policy() {
    let config = CtConfig {
        logs: vec![
            log_config("one", "A", LOG_KEY_B64),
            log_config("two", "B", "AAAA"),
        ],
        ..CtConfig::default()
    };
    let err = CtSubmitter::new(&config)
        .err()
        .expect("bad key")
        .to_string();
    assert!(err.contains("\"two\""), "{err}");

    let config = CtConfig {
        logs: vec![
            log_config("one", "A", LOG_KEY_B64),
            log_config("two", "A", LOG_KEY_B64),
        ],
        min_distinct_operators: 2,
        ..CtConfig::default()
    };
    let err = CtSubmitter::new(&config)
        .err()
        .expect("one operator")
        .to_string();
    assert!(err.contains("min_distinct_operators"), "{err}");

    let disabled = CtSubmitter::new(&CtConfig::default()).expect("no logs");
    assert!(!disabled.is_enabled());
    let config = CtConfig {
        logs: vec![log_config("one", "A", LOG_KEY_B64)],
        min_distinct_operators: 1,
        ..CtConfig::default()
    };
    assert!(CtSubmitter::new(&config).expect("one log").is_enabled());
}

// ---- response size cap (DESIGN invariant 6) --------------------------------------------

/// A "log" that answers every request with `body_len` bytes, announced by Content-Length or
/// streamed chunked without one.
async fn oversized_log(body_len: usize, chunked: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 8192];
            let _ = socket.read(&mut request).await;
            let body = vec![b'x'; body_len];
            let response = if chunked {
                let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for chunk in body.chunks(4096) {
                    r.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
                    r.extend(chunk);
                    r.extend(b"\r\n");
                }
                r.extend(b"0\r\n\r\n");
                r
            } else {
                let mut r =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\n\r\n").into_bytes();
                r.extend(body);
                r
            };
            let _ = socket.write_all(&response).await;
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn responses_above_the_cap_are_refused() {
    for chunked in [false, true] {
        let mut log = log_config("big", "A", LOG_KEY_B64);
        log.url = oversized_log(1024 * 1024, chunked).await;
        let config = CtConfig {
            logs: vec![log],
            min_distinct_operators: 1,
            ..CtConfig::default()
        };
        let submitter = CtSubmitter::new(&config).expect("submitter");
        let cert = pem_der(include_str!("testdata/cert.pem"));
        let outcomes = submitter.submit_final(&[cert, reference_ca()]).await;
        match &outcomes[0].1 {
            Err(CtError::Log {
                failure: LogFailure::TooLarge(_),
                ..
            }) => {}
            other => panic!("chunked={chunked}: expected TooLarge, got {other:?}"),
        }
    }
}
