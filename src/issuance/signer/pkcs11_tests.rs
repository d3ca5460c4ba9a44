//! PKCS#11 signer against a real SoftHSM2 token per test (softhsm_test_support).

use super::*;
use crate::core::Serial;
use crate::issuance::signer::softhsm_test_support::{SoftHsm, USER_PIN};
use crate::issuance::tbs::{self, CaKind, CertificatePlan};
use crate::issuance::verify::verify_signature;
use chrono::Utc;
use const_oid::db::rfc4519::COMMON_NAME;
use cryptoki::context::Function;
use cryptoki::object::{AttributeType, KeyType, ObjectClass};
use der::asn1::OctetString;
use der::{Decode, Encode};
use pkcs8::EncodePublicKey;
use spki::SubjectPublicKeyInfoOwned;
use std::sync::atomic::AtomicUsize;

fn open(name: &str, sessions: usize) -> (SoftHsm, Arc<Pkcs11Token>) {
    let hsm = SoftHsm::new(name);
    let token = Pkcs11Token::open(&hsm.config(sessions)).expect("open token");
    (hsm, token)
}

fn err_text<T>(result: Result<T, SignerError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A self-signed CA certificate (BR 7.1.2.1 shape) signed by `signer` in the HSM.
fn self_signed(signer: &Pkcs11Signer) -> Vec<u8> {
    let spki = SubjectPublicKeyInfoOwned::from_der(&signer.public_key_der()).expect("spki");
    let key_id = tbs::key_identifier(&spki);
    let name = tbs::build_name(&[(COMMON_NAME, "Hanko HSM test root")]).expect("name");
    let now = Utc::now();
    CertificatePlan {
        serial: Serial::random(),
        algorithm: signer.algorithm(),
        issuer: name.clone(),
        not_before: now,
        not_after: now + chrono::Duration::days(30),
        subject: name,
        extensions: tbs::ca_extensions(CaKind::Root, &key_id, &spki).expect("extensions"),
        spki,
    }
    .sign(signer)
    .expect("sign certificate in the HSM")
}

/// Verify a certificate's signature with our verifier and with OpenSSL (-x509_strict).
fn assert_certificate_verifies(der: &[u8], expected_alg: ObjectIdentifier) {
    let cert = x509_cert::Certificate::from_der(der).expect("parse");
    assert_eq!(cert.signature_algorithm.oid, expected_alg);
    let tbs = cert.tbs_certificate.to_der().expect("tbs");
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("spki");
    verify_signature(
        &spki,
        &cert.signature_algorithm,
        &tbs,
        cert.signature.raw_bytes(),
    )
    .expect("signature verifies");
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = crate::issuance::devca::pem(der).expect("pem");
    crate::issuance::tests::openssl_verify(dir.path(), &pem, &[&pem], &["-x509_strict"]);
}

/// Attributes of the private and public key objects labelled `label`.
fn key_attributes(token: &Pkcs11Token, label: &str) -> (Vec<Attribute>, Vec<Attribute>) {
    token
        .run(|session, _| {
            let private = find_private_key(session, label)?;
            let public = session.find_objects(&label_template(ObjectClass::PUBLIC_KEY, label))?;
            assert_eq!(public.len(), 1, "one public key labelled {label}");
            let wanted = [
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Sign,
                AttributeType::Id,
            ];
            Ok((
                session.get_attributes(private, &wanted)?,
                session.get_attributes(public[0], &[AttributeType::Id, AttributeType::Token])?,
            ))
        })
        .expect("read key attributes")
}

#[test]
fn generated_keys_are_non_extractable_and_sign_verifiable_certificates() {
    let (_hsm, token) = open("gen", 2);
    for (label, spec, alg) in [
        ("rsa", KeySpec::Rsa(2048), SHA256_WITH_RSA),
        ("p256", KeySpec::EcP256, ECDSA_WITH_SHA256),
        ("p384", KeySpec::EcP384, ECDSA_WITH_SHA384),
    ] {
        let signer = token.generate_key(label, spec).expect("generate");
        assert!(signer.is_hardware_backed());
        assert_eq!(signer.algorithm().oid, alg);
        assert_eq!(signer.key_description(), spec.to_string());
        if spec == KeySpec::Rsa(2048) {
            // RFC 4055 5: parameters NULL, as the software signer.
            assert_eq!(signer.algorithm().parameters, Some(AnyRef::NULL.into()));
        } else {
            assert_eq!(signer.algorithm().parameters, None);
            assert_eq!(
                signer.sign(b"x").expect("sign")[0],
                0x30,
                "DER Ecdsa-Sig-Value"
            );
        }
        assert_certificate_verifies(&self_signed(&signer), alg);

        let (private, public) = key_attributes(&token, label);
        for expected in [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::NeverExtractable(true),
            Attribute::Sign(true),
        ] {
            assert!(
                private.contains(&expected),
                "{label}: {expected:?} in {private:?}"
            );
        }
        let id = |attrs: &[Attribute]| {
            attrs.iter().find_map(|a| match a {
                Attribute::Id(id) => Some(id.clone()),
                _ => None,
            })
        };
        let private_id = id(&private).expect("private CKA_ID");
        assert_eq!(private_id.len(), 16);
        assert_eq!(Some(private_id), id(&public), "same CKA_ID on both halves");

        // Found again by label, the key is the same one.
        let again = token.signer(label).expect("load by label");
        assert_eq!(again.public_key_der(), signer.public_key_der());
    }
}

#[test]
fn rsa_public_key_is_derived_from_the_private_key_when_the_public_object_is_gone() {
    let (_hsm, token) = open("nopub", 1);
    let generated = token.generate_key("rsa", KeySpec::Rsa(2048)).expect("rsa");
    let p256 = token.generate_key("ec", KeySpec::EcP256).expect("ec");
    let destroy_public = |label: &str| {
        token
            .run(|session, _| {
                for handle in
                    session.find_objects(&label_template(ObjectClass::PUBLIC_KEY, label))?
                {
                    session.destroy_object(handle)?;
                }
                Ok(())
            })
            .expect("destroy public key");
    };
    destroy_public("rsa");
    let loaded = token
        .signer("rsa")
        .expect("RSA from CKA_MODULUS/CKA_PUBLIC_EXPONENT");
    assert_eq!(loaded.public_key_der(), generated.public_key_der());
    assert_certificate_verifies(&self_signed(&loaded), SHA256_WITH_RSA);
    // An EC private key carries no point, so without its public half there is no SPKI.
    destroy_public("ec");
    let err = err_text(token.signer("ec"));
    assert!(
        err.contains("\"ec\"") && err.contains("no EC point"),
        "{err}"
    );
    drop(p256);
}

#[test]
fn wrong_pin_is_a_clear_error() {
    let hsm = SoftHsm::new("wrongpin");
    let mut config = hsm.config(1);
    let file = hsm.dir.path().join("wrong-pin");
    std::fs::write(&file, "9876\n").expect("write");
    config.pin_file = Some(file);
    let err = err_text(Pkcs11Token::open(&config));
    assert!(err.contains("PIN is incorrect"), "{err}");
    assert!(err.contains(&hsm.label), "names the token: {err}");
    assert!(!err.contains("9876"), "never shows the PIN: {err}");
}

#[test]
fn pin_comes_from_the_file_or_the_environment_and_missing_sources_are_named() {
    let hsm = SoftHsm::new("source");
    // From the file (first line, trimmed; later lines ignored).
    let mut config = hsm.config(1);
    let file = hsm.dir.path().join("pin-with-spaces");
    std::fs::write(&file, format!("  {USER_PIN}  \nsecond line\n")).expect("write");
    config.pin_file = Some(file);
    let token = Pkcs11Token::open(&config).expect("PIN from file");
    assert!(!format!("{token:?}").to_lowercase().contains("pin"));
    drop(token);

    // From the environment variable named by hsm.pin_env.
    let var = format!("HANKO_TEST_PIN_{:08X}", rand::random::<u32>());
    std::env::set_var(&var, USER_PIN);
    let mut config = hsm.config(1);
    config.pin_file = None;
    config.pin_env = Some(var.clone());
    let token = Pkcs11Token::open(&config).expect("PIN from environment");
    token.generate_key("k", KeySpec::EcP256).expect("logged in");
    std::env::remove_var(&var);
    let err = err_text(Pkcs11Token::open(&config));
    assert!(err.contains(&var) && err.contains("hsm.pin_env"), "{err}");

    config.pin_env = None;
    let err = err_text(Pkcs11Token::open(&config));
    assert!(
        err.contains("hsm.pin_file") && err.contains("hsm.pin_env"),
        "{err}"
    );

    let empty = hsm.dir.path().join("empty");
    std::fs::write(&empty, "\n").expect("write");
    config.pin_file = Some(empty);
    let err = err_text(Pkcs11Token::open(&config));
    assert!(err.contains("empty PIN"), "{err}");
}

#[test]
fn unknown_token_and_key_labels_are_named() {
    let (hsm, token) = open("labels", 1);
    let err = err_text(token.signer("no-such-key"));
    assert!(err.contains("\"no-such-key\""), "{err}");
    let mut config = hsm.config(1);
    config.token_label = "no-such-token".to_string();
    let err = err_text(Pkcs11Token::open(&config));
    assert!(err.contains("\"no-such-token\""), "{err}");
    assert!(err.contains(&hsm.label), "lists the tokens present: {err}");
    config.module = None;
    assert!(err_text(Pkcs11Token::open(&config)).contains("hsm.module"));
}

#[test]
fn a_second_key_with_the_same_label_is_refused() {
    let (_hsm, token) = open("dup", 1);
    let first = token.generate_key("ca", KeySpec::EcP256).expect("first");
    let err = err_text(token.generate_key("ca", KeySpec::EcP384));
    assert!(
        err.contains("already holds an object labelled \"ca\""),
        "{err}"
    );
    // The first key is untouched and still the only one.
    let loaded = token.signer("ca").expect("load");
    assert_eq!(loaded.public_key_der(), first.public_key_der());
    let err = err_text(token.generate_key("odd", KeySpec::Rsa(1024)));
    assert!(err.contains("2048, 3072 or 4096"), "{err}");
}

#[test]
fn a_lost_login_is_repaired_and_signing_succeeds() {
    let (_hsm, token) = open("logout", 2);
    let signer = token.generate_key("k", KeySpec::EcP256).expect("generate");
    signer.sign(b"before").expect("sign");
    let generation = token.generation.load(Ordering::SeqCst);
    // C_Logout on any session logs out every session of the application (PKCS#11 2.40
    // 5.6): what the pool sees when the HSM drops the login. (cryptoki 0.10 exposes no
    // C_CloseAllSessions, and unsafe code is forbidden.)
    let other = token
        .pkcs11
        .open_rw_session(token.slot)
        .expect("open a session");
    other.logout().expect("logout");
    drop(other);
    {
        let lease = token.checkout().expect("checkout");
        let state = lease
            .session
            .as_ref()
            .expect("session")
            .get_session_info()
            .expect("info")
            .session_state();
        assert!(matches!(state, SessionState::RwPublic), "{state:?}");
    }
    for i in 0..4u8 {
        let message = [b'm', i];
        let signature = signer.sign(&message).expect("sign after the logout");
        verify_signature(
            &signer.public_key_der(),
            &signer.algorithm(),
            &message,
            &signature,
        )
        .expect("verifies");
    }
    assert!(token.generation.load(Ordering::SeqCst) > generation);
}

#[test]
fn closed_sessions_are_reopened_and_handles_looked_up_again() {
    let (_hsm, token) = open("closed", 2);
    let signer = token
        .generate_key("k", KeySpec::Rsa(2048))
        .expect("generate");
    signer.sign(b"before").expect("sign");
    {
        // Close every session of the slot (C_CloseSession on each: SoftHSM then logs the
        // token out and forgets object handles, as after C_CloseAllSessions).
        let mut first = token.checkout().expect("checkout");
        let mut second = token.checkout().expect("checkout");
        first.session = None;
        second.session = None;
    }
    assert!(lock(&token.pool.entries).iter().all(Option::is_none));
    let signature = signer
        .sign(b"after")
        .expect("sign after all sessions closed");
    verify_signature(
        &signer.public_key_der(),
        &signer.algorithm(),
        b"after",
        &signature,
    )
    .expect("verifies");
}

#[test]
fn run_replaces_a_lost_session_and_retries_exactly_once() {
    let (_hsm, token) = open("retry", 1);
    let before = token
        .run(|session, _| Ok(session.to_string()))
        .expect("handle");
    let lost = |rv| OpError::Hsm(CkError::Pkcs11(rv, Function::Sign));
    let calls = AtomicUsize::new(0);
    let after = token
        .run(|session, _| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(lost(RvError::SessionHandleInvalid));
            }
            Ok(session.to_string())
        })
        .expect("retried in a new session");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_ne!(after, before, "a new session handle");
    for rv in [
        RvError::SessionClosed,
        RvError::DeviceRemoved,
        RvError::TokenNotPresent,
        RvError::UserNotLoggedIn,
    ] {
        calls.store(0, Ordering::SeqCst);
        let err = err_text(token.run(|_, _| -> Result<(), OpError> {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(lost(rv))
        }));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "{rv:?} retried once: {err}"
        );
    }
    // Any other failure in a healthy session is returned at once.
    calls.store(0, Ordering::SeqCst);
    let err = err_text(token.run(|_, _| -> Result<(), OpError> {
        calls.fetch_add(1, Ordering::SeqCst);
        Err(lost(RvError::MechanismInvalid))
    }));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "{err}");
    assert!(err.contains("MechanismInvalid"), "{err}");
    assert_eq!(
        lock(&token.pool.entries).len(),
        1,
        "the pool keeps its size"
    );
}

#[test]
fn eight_threads_share_two_sessions() {
    let (_hsm, token) = open("threads", 2);
    let signer = Arc::new(token.generate_key("k", KeySpec::EcP256).expect("generate"));
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let signer = Arc::clone(&signer);
            std::thread::spawn(move || {
                for i in 0..5u8 {
                    let message = [t, i];
                    let signature = signer.sign(&message).expect("sign");
                    verify_signature(
                        &signer.public_key_der(),
                        &signer.algorithm(),
                        &message,
                        &signature,
                    )
                    .expect("verifies");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    assert_eq!(lock(&token.pool.entries).len(), 2, "all sessions returned");
}

#[test]
fn ec_point_may_be_wrapped_or_bare_and_other_curves_are_refused() {
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let point = key.public_key().to_sec1_bytes().to_vec();
    let expected = key
        .public_key()
        .to_public_key_der()
        .expect("spki")
        .into_vec();
    let params = SECP256R1.to_der().expect("oid");
    let wrapped = OctetString::new(point.clone())
        .expect("octets")
        .to_der()
        .expect("der");
    for ec_point in [wrapped, point] {
        let attrs = vec![
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(params.clone()),
            Attribute::EcPoint(ec_point),
        ];
        assert_eq!(spki_from_attributes(attrs, "k").expect("spki"), expected);
    }
    let p521 = ObjectIdentifier::new_unwrap("1.3.132.0.35")
        .to_der()
        .expect("oid");
    let attrs = vec![
        Attribute::KeyType(KeyType::EC),
        Attribute::EcParams(p521),
        Attribute::EcPoint(vec![4; 133]),
    ];
    let err = err_text(spki_from_attributes(attrs, "k"));
    assert!(err.contains("1.3.132.0.35"), "{err}");
}

#[test]
fn key_spec_names() {
    for (name, spec, shown) in [
        ("p256", KeySpec::EcP256, "ECDSA P-256"),
        ("p384", KeySpec::EcP384, "ECDSA P-384"),
        ("rsa2048", KeySpec::Rsa(2048), "RSA-2048"),
        ("rsa3072", KeySpec::Rsa(3072), "RSA-3072"),
        ("rsa4096", KeySpec::Rsa(4096), "RSA-4096"),
    ] {
        assert_eq!(name.parse::<KeySpec>(), Ok(spec));
        assert_eq!(spec.to_string(), shown);
    }
    assert!("rsa1024".parse::<KeySpec>().is_err());
    assert!("P256".parse::<KeySpec>().is_err());
}

/// Signatures per second through the pool, on 1 thread and on every core, for comparison
/// with `openssl speed -seconds 3 [-multi N] ecdsap256 rsa2048`:
/// `cargo test --release -p hanko --lib hsm_signing_throughput -- --ignored --nocapture`
#[test]
#[ignore = "benchmark"]
fn hsm_signing_throughput() {
    let (_hsm, token) = open("bench", 4);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    for (label, spec) in [("p256", KeySpec::EcP256), ("rsa", KeySpec::Rsa(2048))] {
        let signer = Arc::new(token.generate_key(label, spec).expect("generate"));
        for threads in [1, cores] {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let signer = Arc::clone(&signer);
                    std::thread::spawn(move || {
                        let mut count = 0u64;
                        while std::time::Instant::now() < deadline {
                            signer.sign(b"benchmark message").expect("sign");
                            count += 1;
                        }
                        count
                    })
                })
                .collect();
            let total: u64 = workers.into_iter().map(|w| w.join().expect("join")).sum();
            println!(
                "{spec}: {total} signatures in 3 s on {threads} thread(s) = {:.0}/s",
                total as f64 / 3.0
            );
        }
    }
}
