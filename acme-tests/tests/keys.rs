//! Key policy, black-box (REQUIREMENTS §6, BR 6.1.1.3, CP 4.9.12): RSA keys that can be
//! factored (Fermat, ROCA) are refused as CSR keys with `badCSR` and as account keys with
//! `badPublicKey`; keys put on the blocked list with `hanko admin block-key` are refused at
//! newAccount, keyChange and finalize, an account whose key is blocked can no longer sign a
//! request, and the blocking is in the verified audit log.
//!
//! About the ROCA keys: a published vulnerable modulus comes without its private key, so it
//! cannot sign a CSR. The account path refuses a key before it looks at the signature, so
//! the published modulus (Boulder's goodkey test key) is sent there with a dummy signature.
//! For the CSR path the test builds a key with the structure Infineon's RSALib used (the
//! construction of Nemec et al., CCS 2017: p = k·M + (65537^a mod M), M the product of the
//! first 126 primes for 2048-bit keys); it is a generated key, not a published one.

use acme_tests::acme_client::{b64, json_payload, Account, Key, Resp};
use acme_tests::process::Cmd;
use acme_tests::server::hanko_binary;
use acme_tests::{HankoServer, Http01Responder, OrFail, Rig};
use base64::Engine;
use rsa::BigUint;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The ROCA test modulus of Boulder's goodkey tests (letsencrypt/boulder,
/// goodkey/good_key_test.go, `TestROCA`, commit 03553a03a2dddad0b56be47fe252444d3df44107).
const BOULDER_ROCA_MODULUS: &str = "19089470491547632015867380494603366846979936677899040455785311493700173635637619562546319438505971838982429681121352968394792665704951454132311441831732124044135181992768774222852895664400681270897445415599851900461316070972022018317962889565731866601557238345786316235456299813772607869009873279585912430769332375239444892105064608255089298943707214066350230292124208314161171265468111771687514518823144499250339825049199688099820304852696380797616737008621384107235756455735861506433065173933123259184114000282435500939123478591192413006994709825840573671701120771013072419520134975733578923370992644987545261926257";

// ---- Big-integer helpers for building weak keys --------------------------------------------

fn small_primes(count: usize) -> Vec<u32> {
    (2u32..)
        .filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .take(count)
        .collect()
}

fn random_below(bound: &BigUint) -> BigUint {
    let mut bytes = vec![0u8; bound.to_bytes_be().len() + 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    BigUint::from_bytes_be(&bytes) % bound
}

/// Miller–Rabin with 24 random bases, after trial division (test fixtures only).
fn is_probable_prime(n: &BigUint) -> bool {
    let zero = BigUint::from(0u8);
    let one = BigUint::from(1u8);
    for p in small_primes(100) {
        let p = BigUint::from(p);
        if n == &p {
            return true;
        }
        if n % &p == zero {
            return false;
        }
    }
    let n_minus_1 = n - &one;
    let mut d = n_minus_1.clone();
    let mut s = 0;
    while &d % 2u32 == zero {
        d >>= 1;
        s += 1;
    }
    let two = BigUint::from(2u8);
    'bases: for _ in 0..24 {
        let a = random_below(&(n - 3u32)) + &two;
        let mut x = a.modpow(&d, n);
        if x == one || x == n_minus_1 {
            continue;
        }
        for _ in 1..s {
            x = x.modpow(&two, n);
            if x == n_minus_1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

fn next_prime(from: &BigUint) -> BigUint {
    let mut candidate = from + 1u32;
    if &candidate % 2u32 == BigUint::from(0u8) {
        candidate += 1u32;
    }
    while !is_probable_prime(&candidate) {
        candidate += 2u32;
    }
    candidate
}

/// A valid RSA-2048 key (e = 65537) from two primes, the larger first (ring, which signs
/// the CSR through rcgen, expects p > q).
fn rsa_key_from_primes(a: BigUint, b: BigUint) -> rsa::RsaPrivateKey {
    let (p, q) = if a > b { (a, b) } else { (b, a) };
    // from_p_q computes d and builds the key through from_components, which validates it.
    rsa::RsaPrivateKey::from_p_q(p, q, BigUint::from(65537u32)).expect("valid RSA key")
}

/// Close primes: a random 1024-bit prime (one of a freshly generated key's) and the first
/// prime after it plus 2^20. Fermat's method factors the product in its first round.
fn close_prime_key() -> rsa::RsaPrivateKey {
    let donor = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("keygen");
    let p = rsa::traits::PrivateKeyParts::primes(&donor)[0].clone();
    let q = next_prime(&(&p + (1u32 << 20)));
    rsa_key_from_primes(p, q)
}

/// RSALib's structure (see the module comment): both primes ≡ a power of 65537 modulo every
/// prime dividing M, which is the fingerprint ROCA detectors look for.
fn rsalib_structured_key() -> rsa::RsaPrivateKey {
    let m = small_primes(126)
        .into_iter()
        .fold(BigUint::from(1u8), |acc, p| acc * p);
    let generator = BigUint::from(65537u32);
    // 1024-bit primes with the top two bits set, so n has exactly 2048 bits.
    let low = (BigUint::from(3u8) << 1022) / &m + 1u32;
    let high = (BigUint::from(1u8) << 1024) / &m - 1u32;
    let prime = || loop {
        let k = &low + random_below(&(&high - &low));
        let a = random_below(&(BigUint::from(1u8) << 62));
        let candidate = k * &m + generator.modpow(&a, &m);
        if is_probable_prime(&candidate) {
            return candidate;
        }
    };
    rsa_key_from_primes(prime(), prime())
}

// ---- PEM, CSRs, keys ------------------------------------------------------------------------

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A CSR (DER) for `names` signed by `key`, with an empty subject.
fn csr_for(key: &rcgen::KeyPair, names: &[&str]) -> Vec<u8> {
    acme_tests::pki::csr_der(key, names).expect("CSR")
}

/// The rcgen (ring) signing key for an RSA private key.
fn rcgen_rsa(key: &rsa::RsaPrivateKey) -> rcgen::KeyPair {
    use rsa::pkcs8::EncodePrivateKey;
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .expect("PKCS#8 PEM");
    rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
        .expect("ring accepts the RSA key")
}

/// The SubjectPublicKeyInfo PEM of an ES256 account key.
fn public_key_pem(key: &Key) -> String {
    use p256::pkcs8::EncodePublicKey;
    let Key::Es256(signing) = key else {
        panic!("an ES256 key is expected here")
    };
    let der = signing
        .verifying_key()
        .to_public_key_der()
        .expect("SPKI DER");
    pem("PUBLIC KEY", der.as_bytes())
}

// ---- Server helpers -------------------------------------------------------------------------

/// `hanko` with the server's storage settings (its data directory) and `args`.
fn hanko_cli(server: &HankoServer, args: &[&str]) -> Cmd {
    Cmd::new(hanko_binary().or_fail("locate hanko"))
        .args(args)
        .env("HANKO_STORAGE__DATA_DIR", server.data_dir())
        .env("HANKO_LOG__LEVEL", "warn")
        .timeout(Duration::from_secs(60))
}

/// `hanko admin block-key --file <file>`: must succeed and report a newly blocked key.
/// Returns the SHA-256 it printed.
async fn block_key(server: &HankoServer, file: &Path) -> String {
    let file = file.to_str().expect("utf-8 path");
    let out = hanko_cli(
        server,
        &[
            "admin",
            "block-key",
            "--file",
            file,
            "--reason",
            "test: reported compromised",
            "--operator",
            "keys-test",
        ],
    )
    .run()
    .await
    .or_fail("hanko admin block-key");
    assert!(out.success(), "{out}");
    let line = out.stdout.trim();
    let hash = line
        .strip_prefix("key sha256 ")
        .and_then(|rest| rest.strip_suffix(": blocked"))
        .unwrap_or_else(|| panic!("unexpected output:\n{out}"));
    assert_eq!(hash.len(), 64, "{out}");
    hash.to_string()
}

fn write(server: &HankoServer, name: &str, text: &str) -> PathBuf {
    let path = server.scratch_dir().join(name);
    std::fs::write(&path, text).expect("write key file");
    path
}

/// A rig (BIND9 + hanko), an account and an http-01 responder on the CA's port.
async fn start_rig() -> (Rig, Account, Http01Responder) {
    acme_tests::rig::start_with_account()
        .await
        .or_fail("rig with an account")
}

/// A ready order for `names`: (order object, order URL).
async fn ready_order(
    account: &Account,
    responder: &Http01Responder,
    names: &[&str],
) -> (Value, String) {
    let (_, url) = account.create_order(names).await.or_fail("newOrder");
    let order = account
        .make_ready(responder, &url)
        .await
        .or_fail("order ready");
    (order, url)
}

#[track_caller]
fn assert_detail(rsp: &Resp, needle: &str) {
    let detail = rsp.str("detail").unwrap_or_default();
    assert!(
        detail.contains(needle),
        "detail should mention {needle:?}:\n{rsp}"
    );
}

/// The order is still `ready`: the refused finalize reserved nothing.
async fn assert_still_ready(account: &Account, url: &str) {
    let order = account.post_as_get(url).await.or_fail("order");
    assert_eq!(order.str("status"), Some("ready"), "{order}");
}

// ---- Tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn factorable_rsa_csr_keys_are_bad_csr() {
    let (_rig, account, responder) = start_rig().await;
    let name = Rig::name("www");
    let (order, url) = ready_order(&account, &responder, &[&name]).await;

    let fermat = rcgen_rsa(&close_prime_key());
    let rsp = account
        .finalize(&order, &csr_for(&fermat, &[&name]))
        .await
        .or_fail("finalize");
    rsp.assert_problem(400, "badCSR");
    assert_detail(&rsp, "Fermat");
    assert_still_ready(&account, &url).await;

    let roca = rcgen_rsa(&rsalib_structured_key());
    let rsp = account
        .finalize(&order, &csr_for(&roca, &[&name]))
        .await
        .or_fail("finalize");
    rsp.assert_problem(400, "badCSR");
    assert_detail(&rsp, "ROCA");
    assert_still_ready(&account, &url).await;

    // An ordinary key is then issued for the same order.
    let good = rcgen::KeyPair::generate().expect("keygen");
    account
        .finalize(&order, &csr_for(&good, &[&name]))
        .await
        .or_fail("finalize")
        .assert_status(200);
}

/// The published ROCA modulus as an account key: refused while the JWS is parsed, before
/// the (dummy) signature would be checked, so no private key is needed.
#[tokio::test]
async fn published_roca_modulus_is_refused_as_account_key() {
    let (_server, client) = acme_tests::acme_client::start_default().await;
    let n = BigUint::parse_bytes(BOULDER_ROCA_MODULUS.as_bytes(), 10).expect("decimal");
    let url = client.url("newAccount");
    let nonce = client.nonce().await.or_fail("nonce");
    let header = json!({
        "alg": "RS256",
        "jwk": {"e": "AQAB", "kty": "RSA", "n": b64(n.to_bytes_be())},
        "nonce": nonce,
        "url": url,
    });
    let jws = json!({
        "protected": b64(header.to_string()),
        "payload": b64(json_payload(&json!({"termsOfServiceAgreed": true}))),
        "signature": b64([0u8; 256]),
    });
    let rsp = client.post_jws(&url, &jws).await.or_fail("newAccount");
    rsp.assert_problem(400, "badPublicKey");
    assert_detail(&rsp, "ROCA");
    assert_detail(&rsp, "CVE-2017-15361");
}

async fn key_change(account: &Account, new_key: &Key) -> Resp {
    account.key_change(new_key).await.or_fail("keyChange")
}

#[tokio::test]
async fn blocked_keys_are_refused_and_the_blocking_is_audited() {
    let (rig, account, responder) = start_rig().await;
    let server = &rig.server;
    let client = &account.client;
    let agreed = json!({"termsOfServiceAgreed": true});
    let mut hashes = Vec::new();

    // An account key that already has an account: after blocking, newAccount (which would
    // answer 200 with the existing account) refuses it.
    let existing = client
        .create_account(Key::es256())
        .await
        .or_fail("second account");
    let file = write(server, "existing.pem", &public_key_pem(&existing.key));
    hashes.push(block_key(server, &file).await);
    let rsp = client
        .new_account_raw(&existing.key, &agreed)
        .await
        .or_fail("newAccount");
    rsp.assert_problem(400, "badPublicKey");
    assert_detail(&rsp, "this key is blocked: it was reported compromised");
    // Nor does the key speak for its account any more: every kid request is refused.
    let rsp = existing
        .post_as_get(&existing.kid)
        .await
        .or_fail("account with a blocked key");
    rsp.assert_problem(400, "badPublicKey");
    assert_detail(&rsp, "this key is blocked");

    // A fresh key, blocked before any use: no newAccount, no keyChange to it.
    let fresh = Key::es256();
    let file = write(server, "fresh.pem", &public_key_pem(&fresh));
    hashes.push(block_key(server, &file).await);
    let rsp = client
        .new_account_raw(&fresh, &agreed)
        .await
        .or_fail("newAccount");
    rsp.assert_problem(400, "badPublicKey");
    assert_detail(&rsp, "this key is blocked");
    let rsp = key_change(&account, &fresh).await;
    rsp.assert_problem(400, "badPublicKey");
    assert_detail(&rsp, "this key is blocked");
    // The account still works with its own key.
    account
        .post_as_get(&account.kid)
        .await
        .or_fail("account")
        .assert_status(200);

    // A CSR key reported through its private key file.
    let name = Rig::name("api");
    let (order, url) = ready_order(&account, &responder, &[&name]).await;
    let leaked = rcgen::KeyPair::generate().expect("keygen");
    let file = write(server, "leaked-key.pem", &leaked.serialize_pem());
    hashes.push(block_key(server, &file).await);
    let rsp = account
        .finalize(&order, &csr_for(&leaked, &[&name]))
        .await
        .or_fail("finalize");
    rsp.assert_problem(400, "badCSR");
    assert_detail(&rsp, "this key is blocked: it was reported compromised");
    assert_still_ready(&account, &url).await;

    // Blocking again is fine and changes nothing.
    let again = hanko_cli(server, &["admin", "block-key", "--file"])
        .arg(&file)
        .run()
        .await
        .or_fail("block again");
    assert!(again.success(), "{again}");
    assert!(again.stdout.contains("already blocked"), "{again}");

    // (d) The audit chain verifies, and holds one key.blocked event per key.
    let verify = hanko_cli(server, &["audit", "verify"])
        .run()
        .await
        .or_fail("audit verify");
    assert!(verify.success(), "{verify}");
    assert!(verify.stdout.contains("audit chain intact"), "{verify}");
    let events = key_blocked_events(server).await;
    assert_eq!(events.len(), 3, "{events:?}");
    for (hash, (actor, details)) in hashes.iter().zip(&events) {
        assert_eq!(actor, "operator:keys-test");
        assert_eq!(details["key_sha256"], json!(hash), "{details}");
        assert_eq!(details["source"], json!("admin"), "{details}");
        assert_eq!(details["reason"], json!("test: reported compromised"));
    }
}

/// `key.blocked` events (actor, details), read from the server's SQLite database with
/// Python's sqlite3 module: a reader independent of hanko.
async fn key_blocked_events(server: &HankoServer) -> Vec<(String, Value)> {
    let db = server.data_dir().join("hanko.db");
    let script = "import json, sqlite3, sys\n\
                  c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n\
                  rows = c.execute(\"SELECT actor, details FROM audit_events \
                  WHERE event = 'key.blocked' ORDER BY seq\").fetchall()\n\
                  print(json.dumps(rows))";
    let out = Cmd::new("python3")
        .args(["-c", script])
        .arg(&db)
        .timeout(Duration::from_secs(30))
        .run()
        .await
        .or_fail("python3 sqlite3");
    assert!(out.success(), "{out}");
    let rows: Vec<(String, String)> = serde_json::from_str(out.stdout.trim()).expect("rows");
    rows.into_iter()
        .map(|(actor, details)| (actor, serde_json::from_str(&details).expect("details")))
        .collect()
}

/// A file without a usable key is the operator's mistake: exit 2, a message naming the file,
/// and nothing opened or changed.
#[tokio::test]
async fn block_key_with_a_file_without_a_key_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-key.pem");
    std::fs::write(
        &file,
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
    )
    .expect("write");
    let data = dir.path().join("data");
    let out = Cmd::new(hanko_binary().or_fail("locate hanko"))
        .args(["admin", "block-key", "--file"])
        .arg(&file)
        .env("HANKO_STORAGE__DATA_DIR", &data)
        .timeout(Duration::from_secs(60))
        .run()
        .await
        .or_fail("hanko admin block-key");
    assert_eq!(out.status.and_then(|s| s.code()), Some(2), "{out}");
    assert!(out.stderr.contains(&file.display().to_string()), "{out}");
    assert!(
        out.stderr
            .contains("no public key, private key, certificate"),
        "{out}"
    );
    assert!(
        !data.exists(),
        "the database must not be created for a bad file"
    );
}
