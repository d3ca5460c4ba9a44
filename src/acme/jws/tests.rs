//! JWS tests: a tiny signer for every key type, then one test per RFC 8555 6.2 rule.

use super::strict::b64url_encode;
use super::*;
use serde_json::json;
use std::sync::OnceLock;

const URL: &str = "https://ca.example/acme/new-order";

/// Test-only signing keys for each algorithm we verify.
enum TestKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

fn rsa_2048() -> &'static rsa::RsaPrivateKey {
    // RSA key generation is slow; one key serves every test.
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa"))
}

/// Uncompressed SEC1 point of a P-521 key (p521's `verifying_key` needs a feature we lack).
fn p521_point(k: &p521::ecdsa::SigningKey) -> Vec<u8> {
    use p521::elliptic_curve::sec1::ToEncodedPoint;
    p521::PublicKey::from_secret_scalar(k.as_nonzero_scalar())
        .to_encoded_point(false)
        .as_bytes()
        .to_vec()
}

fn b64(bytes: &[u8]) -> String {
    b64url_encode(bytes)
}

impl TestKey {
    fn rsa() -> Self {
        TestKey::Rsa(Box::new(rsa_2048().clone()))
    }
    fn p256() -> Self {
        TestKey::P256(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }
    fn p384() -> Self {
        TestKey::P384(p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }
    fn p521() -> Self {
        TestKey::P521(p521::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }
    fn ed25519() -> Self {
        TestKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn alg(&self) -> &'static str {
        match self {
            TestKey::Rsa(_) => "RS256",
            TestKey::P256(_) => "ES256",
            TestKey::P384(_) => "ES384",
            TestKey::P521(_) => "ES512",
            TestKey::Ed25519(_) => "EdDSA",
        }
    }

    fn jwk(&self) -> Value {
        use rsa::traits::PublicKeyParts;
        let ec = |crv: &str, point: &[u8], len: usize| {
            json!({"kty": "EC", "crv": crv,
                   "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..])})
        };
        match self {
            TestKey::Rsa(k) => json!({"kty": "RSA",
                "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be())}),
            TestKey::P256(k) => ec(
                "P-256",
                k.verifying_key().to_encoded_point(false).as_bytes(),
                32,
            ),
            TestKey::P384(k) => ec(
                "P-384",
                k.verifying_key().to_encoded_point(false).as_bytes(),
                48,
            ),
            TestKey::P521(k) => ec("P-521", p521_point(k).as_slice(), 66),
            TestKey::Ed25519(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.verifying_key().as_bytes())})
            }
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        use signature::{SignatureEncoding, Signer};
        match self {
            TestKey::Rsa(k) => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone())
                .sign(input)
                .to_vec(),
            TestKey::P256(k) => Signer::<p256::ecdsa::Signature>::sign(k, input).to_vec(),
            TestKey::P384(k) => Signer::<p384::ecdsa::Signature>::sign(k, input).to_vec(),
            TestKey::P521(k) => Signer::<p521::ecdsa::Signature>::sign(k, input).to_vec(),
            TestKey::Ed25519(k) => k.sign(input).to_bytes().to_vec(),
        }
    }

    /// Header with this key's `alg` and `jwk`, a nonce and `URL`.
    fn jwk_header(&self) -> Value {
        json!({"alg": self.alg(), "jwk": self.jwk(), "nonce": "abc", "url": URL})
    }

    /// A flattened JWS over `header` (raw JSON text) and `payload`, signed by this key.
    fn sign_raw(&self, header: &str, payload: &[u8]) -> Vec<u8> {
        let (p, pl) = (b64(header.as_bytes()), b64(payload));
        let sig = b64(&self.sign(format!("{p}.{pl}").as_bytes()));
        json!({"protected": p, "payload": pl, "signature": sig})
            .to_string()
            .into_bytes()
    }

    fn sign_jws(&self, header: &Value, payload: &[u8]) -> Vec<u8> {
        self.sign_raw(&header.to_string(), payload)
    }
}

fn parse_err(body: &[u8]) -> JwsError {
    ParsedJws::parse(body).expect_err("parse should fail")
}

fn is_malformed(e: &JwsError) -> bool {
    matches!(e, JwsError::Malformed(_))
}

#[test]
fn valid_jws_of_each_allowed_key_type_verifies() {
    for key in [
        TestKey::rsa(),
        TestKey::p256(),
        TestKey::p384(),
        TestKey::ed25519(),
    ] {
        let body = key.sign_jws(&key.jwk_header(), br#"{"termsOfServiceAgreed":true}"#);
        let jws = ParsedJws::parse(&body).unwrap_or_else(|e| panic!("{}: {e}", key.alg()));
        assert_eq!(jws.alg, key.alg());
        assert_eq!(jws.url, URL);
        assert_eq!(jws.nonce.as_deref(), Some("abc"));
        assert!(!jws.payload_is_empty);
        assert_eq!(
            jws.payload_json().expect("json")["termsOfServiceAgreed"],
            true
        );
        let verified = jws
            .verify_with_embedded_key()
            .unwrap_or_else(|e| panic!("{}: {e}", key.alg()));
        assert_eq!(verified.thumbprint.len(), 43, "SHA-256 in base64url");
    }
}

#[test]
fn kid_jws_verifies_with_the_account_key() {
    let key = TestKey::p256();
    let account = AccountKey::from_jwk(&key.jwk()).expect("key");
    let header =
        json!({"alg": "ES256", "kid": "https://ca.example/acct/1", "nonce": "n", "url": URL});
    let jws = ParsedJws::parse(&key.sign_jws(&header, b"")).expect("parse");
    assert!(matches!(&jws.key, KeyRef::Kid(k) if k == "https://ca.example/acct/1"));
    assert_eq!(jws.verify(&account), Ok(()));
    assert!(is_malformed(
        &jws.verify_with_embedded_key().expect_err("kid")
    ));
}

#[test]
fn es512_verification_path_works_but_policy_refuses_p521_accounts() {
    let key = TestKey::p521();
    assert!(matches!(
        AccountKey::from_jwk(&key.jwk()),
        Err(JwsError::BadPublicKey(_))
    ));
    // Built by hand to exercise ES512 verification, which key policy never lets through.
    let point = match &key {
        TestKey::P521(k) => p521_point(k),
        _ => unreachable!(),
    };
    let spki = jwk::tests_support::ec_spki_p521(&point);
    let account = AccountKey {
        jwk: key.jwk(),
        thumbprint: String::new(),
        spki_der: spki,
    };
    let header = json!({"alg": "ES512", "kid": "k", "url": URL});
    let jws = ParsedJws::parse(&key.sign_jws(&header, b"{}")).expect("parse");
    assert_eq!(jws.verify(&account), Ok(()));
}

#[test]
fn wrong_signature_is_bad_signature() {
    for key in [
        TestKey::rsa(),
        TestKey::p256(),
        TestKey::p384(),
        TestKey::ed25519(),
    ] {
        let other = match key {
            TestKey::Rsa(_) => TestKey::Rsa(Box::new(
                rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa"),
            )),
            TestKey::P256(_) => TestKey::p256(),
            TestKey::P384(_) => TestKey::p384(),
            _ => TestKey::ed25519(),
        };
        // Header names `key`, signature made by `other`.
        let body = other.sign_jws(&key.jwk_header(), b"{}");
        let jws = ParsedJws::parse(&body).expect("parse");
        assert_eq!(
            jws.verify_with_embedded_key().map(|_| ()),
            Err(JwsError::BadSignature),
            "{}",
            key.alg()
        );
    }
}

#[test]
fn truncated_or_extended_ecdsa_signature_is_bad_signature() {
    let key = TestKey::p256();
    let account = AccountKey::from_jwk(&key.jwk()).expect("key");
    let header = json!({"alg": "ES256", "kid": "k", "url": URL}).to_string();
    let (p, pl) = (b64(header.as_bytes()), b64(b"{}"));
    let sig = key.sign(format!("{p}.{pl}").as_bytes());
    for bad in [sig[..63].to_vec(), [sig.clone(), vec![0]].concat(), vec![]] {
        let body = json!({"protected": p, "payload": pl, "signature": b64(&bad)}).to_string();
        let jws = ParsedJws::parse(body.as_bytes()).expect("parse");
        assert_eq!(jws.verify(&account), Err(JwsError::BadSignature));
    }
}

#[test]
fn disallowed_algorithms_are_bad_signature_algorithm() {
    let key = TestKey::p256();
    for alg in ["none", "HS256", "RS384", "PS256", "es256", ""] {
        let mut header = key.jwk_header();
        header["alg"] = json!(alg);
        let err = parse_err(&key.sign_jws(&header, b"{}"));
        assert_eq!(err, JwsError::BadSignatureAlgorithm(alg.to_string()));
    }
}

#[test]
fn alg_must_match_key_type() {
    let ec = TestKey::p256();
    let mut header = ec.jwk_header();
    header["alg"] = json!("RS256");
    let jws = ParsedJws::parse(&ec.sign_jws(&header, b"{}")).expect("parse");
    assert_eq!(
        jws.verify_with_embedded_key().map(|_| ()),
        Err(JwsError::BadSignatureAlgorithm("RS256".into()))
    );
    // ES384 with a P-256 key: same family, wrong curve.
    header["alg"] = json!("ES384");
    let jws = ParsedJws::parse(&ec.sign_jws(&header, b"{}")).expect("parse");
    assert!(matches!(
        jws.verify_with_embedded_key(),
        Err(JwsError::BadSignatureAlgorithm(_))
    ));
}

#[test]
fn body_shape_rules() {
    let key = TestKey::p256();
    let good: Value =
        serde_json::from_slice(&key.sign_jws(&key.jwk_header(), b"{}")).expect("json");
    let with = |name: &str, value: Value| {
        let mut body = good.clone();
        body[name] = value;
        body.to_string().into_bytes()
    };
    let (p, pl, s) = (&good["protected"], &good["payload"], &good["signature"]);
    let p_str = p.as_str().expect("p");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unprotected header", with("header", json!({"kid": "x"}))),
        (
            "general serialization",
            json!({"payload": pl, "signatures": [{"protected": p, "signature": s}]})
                .to_string()
                .into_bytes(),
        ),
        (
            "compact string",
            json!(format!(
                "{}.{}.{}",
                p_str,
                pl.as_str().expect("pl"),
                s.as_str().expect("s")
            ))
            .to_string()
            .into_bytes(),
        ),
        (
            "compact raw",
            format!(
                "{}.{}.{}",
                p_str,
                pl.as_str().expect("pl"),
                s.as_str().expect("s")
            )
            .into_bytes(),
        ),
        (
            "missing signature",
            json!({"protected": p, "payload": pl})
                .to_string()
                .into_bytes(),
        ),
        ("non-string payload", with("payload", json!({}))),
        (
            "padded base64",
            with("protected", json!(format!("{p_str}="))),
        ),
        ("standard base64 alphabet", with("signature", json!("ab+/"))),
        ("whitespace in base64", with("payload", json!("e30 "))),
        (
            "duplicate body member",
            format!(r#"{{"protected":{p},"protected":{p},"payload":{pl},"signature":{s}}}"#)
                .into_bytes(),
        ),
        ("array body", b"[]".to_vec()),
        ("empty body", b"".to_vec()),
    ];
    for (name, body) in cases {
        assert!(is_malformed(&parse_err(&body)), "{name}");
    }
}

#[test]
fn protected_header_rules() {
    let key = TestKey::p256();
    let jwk = key.jwk().to_string();
    let cases: Vec<(&str, String)> = vec![
        (
            "crit",
            json!({"alg": "ES256", "jwk": key.jwk(), "url": URL, "crit": ["b64"], "b64": false})
                .to_string(),
        ),
        (
            "b64 without crit",
            json!({"alg": "ES256", "jwk": key.jwk(), "url": URL, "b64": true}).to_string(),
        ),
        (
            "jwk and kid",
            json!({"alg": "ES256", "jwk": key.jwk(), "kid": "k", "url": URL}).to_string(),
        ),
        (
            "neither jwk nor kid",
            json!({"alg": "ES256", "url": URL}).to_string(),
        ),
        (
            "kid not a string",
            json!({"alg": "ES256", "kid": 1, "url": URL}).to_string(),
        ),
        (
            "missing url",
            json!({"alg": "ES256", "jwk": key.jwk()}).to_string(),
        ),
        (
            "url not a string",
            json!({"alg": "ES256", "jwk": key.jwk(), "url": 5}).to_string(),
        ),
        (
            "nonce not a string",
            json!({"alg": "ES256", "jwk": key.jwk(), "url": URL, "nonce": 5}).to_string(),
        ),
        (
            "missing alg",
            json!({"jwk": key.jwk(), "url": URL}).to_string(),
        ),
        (
            "x5c key source",
            json!({"alg": "ES256", "jwk": key.jwk(), "url": URL, "x5c": []}).to_string(),
        ),
        ("header not an object", "[]".to_string()),
        ("header not JSON", "{".to_string()),
        (
            "duplicate header member",
            format!(r#"{{"alg":"ES256","jwk":{jwk},"url":"{URL}","url":"https://evil/"}}"#),
        ),
        (
            "duplicate alg",
            format!(r#"{{"alg":"none","alg":"ES256","jwk":{jwk},"url":"{URL}"}}"#),
        ),
        (
            "duplicate inside jwk",
            format!(r#"{{"alg":"ES256","jwk":{{"kty":"EC","kty":"EC"}},"url":"{URL}"}}"#),
        ),
    ];
    for (name, header) in cases {
        assert!(
            is_malformed(&parse_err(&key.sign_raw(&header, b"{}"))),
            "{name}"
        );
    }
}

#[test]
fn nonce_is_optional_at_parse_time() {
    let key = TestKey::ed25519();
    let header = json!({"alg": "EdDSA", "jwk": key.jwk(), "url": URL});
    let jws = ParsedJws::parse(&key.sign_jws(&header, b"{}")).expect("parse");
    assert_eq!(jws.nonce, None);
}

#[test]
fn post_as_get_payload_is_empty() {
    let key = TestKey::p384();
    let jws = ParsedJws::parse(&key.sign_jws(&key.jwk_header(), b"")).expect("parse");
    assert!(jws.payload_is_empty);
    assert!(jws.payload.is_empty());
    assert!(jws.payload_json().is_err());
    assert!(jws.verify_with_embedded_key().is_ok());
    // "{}" is an (empty) object, not POST-as-GET.
    let jws = ParsedJws::parse(&key.sign_jws(&key.jwk_header(), b"{}")).expect("parse");
    assert!(!jws.payload_is_empty);
}

#[test]
fn bad_public_keys() {
    let good = TestKey::p256().jwk();
    let mut with_d = good.clone();
    with_d["d"] = json!("AAAA");
    let rsa_1024 = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).expect("rsa");
    let small = TestKey::Rsa(Box::new(rsa_1024)).jwk();
    let mut short_x = good.clone();
    short_x["x"] = json!("AAAA");
    let mut off_curve = good.clone();
    off_curve["y"] = json!(b64(&[1u8; 32]));
    let mut leading_zero = TestKey::rsa().jwk();
    leading_zero["e"] = json!("AAEAAQ");
    let cases: Vec<(&str, Value)> = vec![
        ("private member d", with_d),
        ("RSA 1024", small),
        ("oct", json!({"kty": "oct", "k": "AAAA"})),
        ("oct without k", json!({"kty": "oct"})),
        ("unknown kty", json!({"kty": "XYZ"})),
        ("Ed448", json!({"kty": "OKP", "crv": "Ed448", "x": "AAAA"})),
        (
            "secp256k1",
            json!({"kty": "EC", "crv": "secp256k1", "x": "AAAA", "y": "AAAA"}),
        ),
        ("short coordinate", short_x),
        ("point off the curve", off_curve),
        ("leading zero in e", leading_zero),
        ("not an object", json!("key")),
    ];
    for (name, jwk) in cases {
        assert!(
            matches!(AccountKey::from_jwk(&jwk), Err(JwsError::BadPublicKey(_))),
            "{name}"
        );
    }
    // The same keys inside a JWS header: BadPublicKey from parse.
    let key = TestKey::p256();
    let mut header = key.jwk_header();
    header["jwk"]["d"] = json!("AAAA");
    assert!(matches!(
        parse_err(&key.sign_jws(&header, b"{}")),
        JwsError::BadPublicKey(_)
    ));
}

/// RFC 7638 3.1's example key and thumbprint (members beyond the required ones are ignored).
#[test]
fn rfc7638_example_thumbprint() {
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    let expected = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    assert_eq!(jwk_thumbprint(&jwk).expect("thumbprint"), expected);
    let key = AccountKey::from_jwk(&jwk).expect("the RFC key passes account key policy");
    assert_eq!(key.thumbprint, expected);
    assert_eq!(
        key.jwk.as_object().map(|o| o.len()),
        Some(3),
        "only e, kty, n kept"
    );
}

#[test]
fn key_change_inner_jws() {
    let (old, new) = (TestKey::p256(), TestKey::ed25519());
    let url = "https://ca.example/acme/key-change";
    let inner_payload = json!({"account": "https://ca.example/acct/1", "oldKey": old.jwk()});
    let inner_header = json!({"alg": "EdDSA", "jwk": new.jwk(), "url": url});
    let inner = new.sign_jws(&inner_header, inner_payload.to_string().as_bytes());
    let outer_header =
        json!({"alg": "ES256", "kid": "https://ca.example/acct/1", "nonce": "n", "url": url});
    let outer = ParsedJws::parse(&old.sign_jws(&outer_header, &inner)).expect("outer");
    let change = parse_key_change(&outer).expect("key change");
    assert_eq!(change.account, "https://ca.example/acct/1");
    assert_eq!(
        change.old_key_thumbprint,
        AccountKey::from_jwk(&old.jwk()).expect("old").thumbprint
    );
    assert_eq!(
        change.new_key.jwk,
        AccountKey::from_jwk(&new.jwk()).expect("new").jwk
    );

    let bad_inner = |header: Value, payload: Value, signer: &TestKey| {
        let inner = signer.sign_jws(&header, payload.to_string().as_bytes());
        let outer = ParsedJws::parse(&old.sign_jws(&outer_header, &inner)).expect("outer");
        parse_key_change(&outer).expect_err("inner should fail")
    };
    let mut with_nonce = inner_header.clone();
    with_nonce["nonce"] = json!("n");
    assert!(is_malformed(&bad_inner(
        with_nonce,
        inner_payload.clone(),
        &new
    )));
    let mut other_url = inner_header.clone();
    other_url["url"] = json!("https://ca.example/other");
    assert!(is_malformed(&bad_inner(
        other_url,
        inner_payload.clone(),
        &new
    )));
    let kid_header = json!({"alg": "EdDSA", "kid": "k", "url": url});
    assert!(is_malformed(&bad_inner(
        kid_header,
        inner_payload.clone(),
        &new
    )));
    let no_old_key = json!({"account": "https://ca.example/acct/1"});
    assert!(is_malformed(&bad_inner(
        inner_header.clone(),
        no_old_key,
        &new
    )));
    // Inner JWS signed by the old key, not the new `jwk`.
    assert_eq!(
        bad_inner(
            inner_header.clone(),
            inner_payload.clone(),
            &TestKey::ed25519()
        ),
        JwsError::BadSignature
    );
}

/// Every prefix of a valid body, and single-byte corruptions, must give an error, not a panic.
#[test]
fn garbage_never_panics() {
    for key in [TestKey::rsa(), TestKey::p256(), TestKey::ed25519()] {
        let body = key.sign_jws(&key.jwk_header(), br#"{"a":1}"#);
        for end in 0..body.len() {
            let _ = ParsedJws::parse(&body[..end])
                .and_then(|j| j.verify_with_embedded_key().map(|_| ()));
        }
        for i in (0..body.len()).step_by(7) {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut bad = body.clone();
                bad[i] ^= flip;
                if let Ok(jws) = ParsedJws::parse(&bad) {
                    let _ = jws.verify_with_embedded_key();
                    let _ = jws.payload_json();
                    let _ = parse_key_change(&jws);
                }
            }
        }
    }
    for junk in [
        &b"\xff\xfe"[..],
        b"{\"protected\":\"\xff\"}",
        b"null",
        b"{}",
        b"\"\"",
    ] {
        assert!(ParsedJws::parse(junk).is_err());
    }
}

/// RFC 8037 A.3: the Ed25519 example key's RFC 7638 thumbprint (OKP canonical form).
#[test]
fn rfc8037_ed25519_thumbprint() {
    let jwk = json!({"kty": "OKP", "crv": "Ed25519",
                     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let expected = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
    assert_eq!(jwk_thumbprint(&jwk).expect("thumbprint"), expected);
    assert_eq!(
        AccountKey::from_jwk(&jwk).expect("key").thumbprint,
        expected
    );
}

/// serde_json's recursion limit holds for our duplicate-checking visitor too: deep nesting is
/// an error, not a stack overflow.
#[test]
fn deeply_nested_json_is_an_error() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(is_malformed(&parse_err(deep.as_bytes())));
    let header = format!(r#"{{"alg":"ES256","kid":"k","url":"{URL}","x":{deep}}}"#);
    assert!(is_malformed(&parse_err(
        &TestKey::p256().sign_raw(&header, b"{}")
    )));
}
