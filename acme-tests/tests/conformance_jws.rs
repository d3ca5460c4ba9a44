//! RFC 8555 6.2–6.5 conformance of the request layer, black-box: hand-built JWS bodies sent
//! to the real `hanko` binary, asserting the exact HTTP status and problem `type` (and, for
//! every answer, that it is not a 5xx). One server per test, so each rule fails on its own.

use acme_tests::acme_client::{
    b64, json_payload, post_oversized, protected_header, sign_jws, AcmeClient, Key, KeyId, Resp,
    JOSE_JSON,
};
use acme_tests::{HankoServer, OrFail};
use hmac_free::hs256;
use serde_json::{json, Map, Value};
use std::time::Duration;

async fn start() -> (HankoServer, AcmeClient) {
    acme_tests::acme_client::start_default().await
}

fn agreed() -> Value {
    json!({"termsOfServiceAgreed": true})
}

/// A correctly signed newAccount JWS for a new key, with the header edited by `tamper`.
async fn new_account_jws(
    client: &AcmeClient,
    key: &Key,
    tamper: impl FnOnce(&mut Map<String, Value>),
) -> Value {
    let nonce = client.nonce().await.or_fail("newNonce");
    let mut header = protected_header(key, KeyId::Jwk, &nonce, &client.url("newAccount"));
    tamper(&mut header);
    sign_jws(key, &header, &json_payload(&agreed()))
}

async fn post_new_account(client: &AcmeClient, jws: &Value) -> Resp {
    client
        .post_jws(&client.url("newAccount"), jws)
        .await
        .or_fail("POST newAccount")
}

/// RFC 8555 6.5: a badNonce answer carries a Replay-Nonce, and that nonce is good for the
/// next request (here: a newAccount that must succeed with it).
async fn assert_replay_nonce_usable(client: &AcmeClient, bad: &Resp) {
    let nonce = bad
        .nonce()
        .unwrap_or_else(|| panic!("badNonce answer without Replay-Nonce:\n{bad}"))
        .to_string();
    let key = Key::es256();
    let header = protected_header(&key, KeyId::Jwk, &nonce, &client.url("newAccount"));
    let rsp = post_new_account(client, &sign_jws(&key, &header, &json_payload(&agreed()))).await;
    rsp.assert_status(201);
}

// ---- Serialization (RFC 8555 6.2: flattened JSON only) ----

#[tokio::test]
async fn compact_serialization_is_malformed() {
    let (_server, client) = start().await;
    let jws = new_account_jws(&client, &Key::es256(), |_| {}).await;
    let compact = format!(
        "{}.{}.{}",
        jws["protected"].as_str().unwrap_or_default(),
        jws["payload"].as_str().unwrap_or_default(),
        jws["signature"].as_str().unwrap_or_default()
    );
    let rsp = client
        .post_raw(&client.url("newAccount"), JOSE_JSON, compact.into_bytes())
        .await
        .or_fail("POST compact JWS");
    rsp.assert_problem(400, "malformed");
}

#[tokio::test]
async fn general_serialization_is_malformed() {
    let (_server, client) = start().await;
    let jws = new_account_jws(&client, &Key::es256(), |_| {}).await;
    let general = json!({
        "payload": jws["payload"],
        "signatures": [{"protected": jws["protected"], "signature": jws["signature"]}],
    });
    post_new_account(&client, &general)
        .await
        .assert_problem(400, "malformed");
}

#[tokio::test]
async fn unprotected_header_member_is_malformed() {
    let (_server, client) = start().await;
    let mut jws = new_account_jws(&client, &Key::es256(), |_| {}).await;
    jws["header"] = json!({"x-extra": "unprotected"});
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "malformed");
}

#[tokio::test]
async fn crit_in_protected_header_is_malformed() {
    let (_server, client) = start().await;
    let jws = new_account_jws(&client, &Key::es256(), |h| {
        h.insert("crit".into(), json!(["exp"]));
        h.insert("exp".into(), json!(1));
    })
    .await;
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "malformed");
}

// ---- Algorithms (RFC 8555 6.2, 6.7.1) ----

#[tokio::test]
async fn alg_none_is_bad_signature_algorithm_with_algorithms_list() {
    let (_server, client) = start().await;
    let key = Key::es256();
    let nonce = client.nonce().await.or_fail("newNonce");
    let mut header = protected_header(&key, KeyId::Jwk, &nonce, &client.url("newAccount"));
    header.insert("alg".into(), json!("none"));
    let jws = json!({
        "protected": b64(Value::Object(header).to_string()),
        "payload": b64(json_payload(&agreed())),
        "signature": "",
    });
    let rsp = post_new_account(&client, &jws).await;
    rsp.assert_problem(400, "badSignatureAlgorithm");
    let algs = rsp.body["algorithms"]
        .as_array()
        .unwrap_or_else(|| panic!("badSignatureAlgorithm without \"algorithms\" array:\n{rsp}"));
    assert!(
        algs.iter().any(|a| a == "ES256") && !algs.iter().any(|a| a == "none"),
        "algorithms list should name what is accepted:\n{rsp}"
    );
}

#[tokio::test]
async fn alg_hs256_is_bad_signature_algorithm() {
    let (_server, client) = start().await;
    let key = Key::es256();
    let nonce = client.nonce().await.or_fail("newNonce");
    let mut header = protected_header(&key, KeyId::Jwk, &nonce, &client.url("newAccount"));
    header.insert("alg".into(), json!("HS256"));
    let protected = b64(Value::Object(header).to_string());
    let payload = b64(json_payload(&agreed()));
    let mac = hs256(
        b"a shared secret",
        format!("{protected}.{payload}").as_bytes(),
    );
    let jws = json!({"protected": protected, "payload": payload, "signature": b64(mac)});
    let rsp = post_new_account(&client, &jws).await;
    rsp.assert_problem(400, "badSignatureAlgorithm");
    assert!(rsp.body["algorithms"].is_array(), "no algorithms:\n{rsp}");
}

// ---- url (RFC 8555 6.4) ----

#[tokio::test]
async fn url_different_from_request_url_is_unauthorized() {
    let (_server, client) = start().await;
    let other = client.url("newOrder");
    let jws = new_account_jws(&client, &Key::es256(), |h| {
        h.insert("url".into(), json!(other));
    })
    .await;
    post_new_account(&client, &jws)
        .await
        .assert_problem(403, "unauthorized");
}

#[tokio::test]
async fn missing_url_is_malformed() {
    let (_server, client) = start().await;
    let jws = new_account_jws(&client, &Key::es256(), |h| {
        h.remove("url");
    })
    .await;
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "malformed");
}

// ---- Nonces (RFC 8555 6.5) ----

#[tokio::test]
async fn missing_nonce_is_bad_nonce() {
    let (_server, client) = start().await;
    let jws = new_account_jws(&client, &Key::es256(), |h| {
        h.remove("nonce");
    })
    .await;
    let rsp = post_new_account(&client, &jws).await;
    rsp.assert_problem(400, "badNonce");
    assert_replay_nonce_usable(&client, &rsp).await;
}

#[tokio::test]
async fn reused_nonce_is_bad_nonce() {
    let (_server, client) = start().await;
    let nonce = client.nonce().await.or_fail("newNonce");
    let url = client.url("newAccount");
    let key = Key::es256();
    let jws = sign_jws(
        &key,
        &protected_header(&key, KeyId::Jwk, &nonce, &url),
        &json_payload(&agreed()),
    );
    post_new_account(&client, &jws).await.assert_status(201);
    // The same nonce again, in a new and otherwise valid request.
    let key2 = Key::es256();
    let jws2 = sign_jws(
        &key2,
        &protected_header(&key2, KeyId::Jwk, &nonce, &url),
        &json_payload(&agreed()),
    );
    let rsp = post_new_account(&client, &jws2).await;
    rsp.assert_problem(400, "badNonce");
    assert_replay_nonce_usable(&client, &rsp).await;
}

#[tokio::test]
async fn made_up_nonce_is_bad_nonce() {
    let (_server, client) = start().await;
    for fake in [
        "made-up-nonce",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "",
    ] {
        let jws = new_account_jws(&client, &Key::es256(), |h| {
            h.insert("nonce".into(), json!(fake));
        })
        .await;
        let rsp = post_new_account(&client, &jws).await;
        rsp.assert_problem(400, "badNonce");
        assert_replay_nonce_usable(&client, &rsp).await;
    }
}

// ---- jwk / kid (RFC 8555 6.2) ----

#[tokio::test]
async fn both_jwk_and_kid_is_malformed() {
    let (_server, client) = start().await;
    let kid = format!("{}/acme/acct/whatever", client.base);
    let jws = new_account_jws(&client, &Key::es256(), |h| {
        h.insert("kid".into(), json!(kid));
    })
    .await;
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "malformed");
}

#[tokio::test]
async fn neither_jwk_nor_kid_is_malformed() {
    let (_server, client) = start().await;
    let jws = new_account_jws(&client, &Key::es256(), |h| {
        h.remove("jwk");
    })
    .await;
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "malformed");
}

#[tokio::test]
async fn new_account_with_kid_is_malformed() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let rsp = account
        .post(&client.url("newAccount"), Some(&agreed()))
        .await
        .or_fail("newAccount with kid");
    rsp.assert_problem(400, "malformed");
}

#[tokio::test]
async fn new_order_with_jwk_is_malformed() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let payload = json!({"identifiers": [{"type": "dns", "value": "www.hanko-ci.com"}]});
    let rsp = client
        .post_signed(
            &client.url("newOrder"),
            &account.key,
            KeyId::Jwk,
            &json_payload(&payload),
            |_| {},
        )
        .await
        .or_fail("newOrder with jwk");
    rsp.assert_problem(400, "malformed");
}

// ---- Key policy (RFC 8555 6.7 badPublicKey; REQUIREMENTS §6) ----

#[tokio::test]
async fn rsa_1024_account_key_is_bad_public_key() {
    let (_server, client) = start().await;
    let key = Key::rsa(1024).or_fail("RSA-1024");
    let rsp = client
        .new_account_raw(&key, &agreed())
        .await
        .or_fail("newAccount");
    rsp.assert_problem(400, "badPublicKey");
}

#[tokio::test]
async fn p521_account_key_is_bad_public_key() {
    let (_server, client) = start().await;
    let rsp = client
        .new_account_raw(&Key::es512(), &agreed())
        .await
        .or_fail("newAccount");
    rsp.assert_problem(400, "badPublicKey");
}

#[tokio::test]
async fn jwk_with_private_member_is_bad_public_key() {
    let (_server, client) = start().await;
    let key = Key::es256();
    let d = match &key {
        Key::Es256(k) => b64(k.to_bytes()),
        _ => unreachable!("es256 key"),
    };
    let jws = new_account_jws(&client, &key, |h| {
        h["jwk"]["d"] = json!(d);
    })
    .await;
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "badPublicKey");
}

#[tokio::test]
async fn allowed_account_key_types_work() {
    let (_server, client) = start().await;
    let keys = [
        Key::es256(),
        Key::es384(),
        Key::rsa(2048).or_fail("RSA-2048"),
        Key::ed25519(),
    ];
    for key in keys {
        let alg = key.alg();
        let account = client
            .create_account(key)
            .await
            .or_fail(&format!("{alg} account"));
        let rsp = account
            .post_as_get(&account.kid)
            .await
            .or_fail("account POST-as-GET");
        rsp.assert_status(200);
        assert_eq!(rsp.str("status"), Some("valid"), "{alg} account:\n{rsp}");
    }
}

// ---- Signatures ----

#[tokio::test]
async fn bad_signature_is_malformed() {
    let (_server, client) = start().await;
    let mut jws = new_account_jws(&client, &Key::es256(), |_| {}).await;
    // Same length, different bytes: the signature of another message.
    let other = Key::es256();
    jws["signature"] = json!(b64(other.sign(b"something else")));
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "malformed");
}

#[tokio::test]
async fn signature_by_another_key_than_jwk_is_malformed() {
    let (_server, client) = start().await;
    let key = Key::es256();
    let impostor = Key::es256();
    let nonce = client.nonce().await.or_fail("newNonce");
    let header = protected_header(&key, KeyId::Jwk, &nonce, &client.url("newAccount"));
    let jws = sign_jws(&impostor, &header, &json_payload(&agreed()));
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "malformed");
}

// ---- HTTP layer (RFC 8555 6.2, 6.3, 7.2) ----

#[tokio::test]
async fn wrong_content_type_is_415() {
    let (_server, client) = start().await;
    let jws = new_account_jws(&client, &Key::es256(), |_| {}).await;
    for ct in ["application/json", "text/plain", "application/jose"] {
        let rsp = client
            .post_raw(&client.url("newAccount"), ct, json_payload(&jws))
            .await
            .or_fail("POST");
        rsp.assert_problem(415, "malformed");
    }
}

#[tokio::test]
async fn kid_of_unknown_account_is_account_does_not_exist() {
    let (_server, client) = start().await;
    let key = Key::es256();
    let kid = format!("{}/acme/acct/no-such-account", client.base);
    let payload = json!({"identifiers": [{"type": "dns", "value": "www.hanko-ci.com"}]});
    let rsp = client
        .post_signed(
            &client.url("newOrder"),
            &key,
            KeyId::Kid(&kid),
            &json_payload(&payload),
            |_| {},
        )
        .await
        .or_fail("newOrder");
    rsp.assert_problem(400, "accountDoesNotExist");
}

#[tokio::test]
async fn deactivated_account_kid_is_unauthorized() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    account
        .post(&account.kid, Some(&json!({"status": "deactivated"})))
        .await
        .or_fail("deactivate")
        .assert_status(200);
    // RFC 8555 7.3.6: "If a server receives a POST or POST-as-GET from a deactivated
    // account, it MUST return an error response with status code 401 (Unauthorized) and
    // type urn:ietf:params:acme:error:unauthorized".
    let rsp = account
        .new_order(&["www.hanko-ci.com"])
        .await
        .or_fail("newOrder");
    rsp.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn post_as_get_with_payload_is_malformed() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let (_, order_url) = account
        .create_order(&["www.hanko-ci.com"])
        .await
        .or_fail("order");
    account
        .post(&order_url, Some(&json!({})))
        .await
        .or_fail("order with {}")
        .assert_problem(400, "malformed");
    let orders = format!("{}/orders", account.kid);
    account
        .post(&orders, Some(&json!({})))
        .await
        .or_fail("orders with {}")
        .assert_problem(400, "malformed");
}

#[tokio::test]
async fn get_on_post_only_resource_is_405_with_allow_post() {
    let (_server, client) = start().await;
    for resource in ["newAccount", "newOrder", "revokeCert", "keyChange"] {
        let rsp = client.get(&client.url(resource)).await.or_fail("GET");
        rsp.assert_problem(405, "malformed");
        assert_eq!(rsp.header("allow"), Some("POST"), "Allow header:\n{rsp}");
    }
}

/// RFC 9110 15.5.6: a 405 answer lists the methods the resource does support in Allow.
#[tokio::test]
async fn post_to_get_only_resource_is_405_with_its_allow() {
    let (server, client) = start().await;
    let cases = [
        (server.directory_url(), vec!["GET"]),
        (client.url("newNonce"), vec!["GET", "HEAD"]),
    ];
    for (url, methods) in cases {
        let jws = new_account_jws(&client, &Key::es256(), |_| {}).await;
        let rsp = client.post_jws(&url, &jws).await.or_fail("POST");
        rsp.assert_status(405);
        let allow: Vec<String> = rsp
            .header("allow")
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .collect();
        for m in methods {
            assert!(
                allow.iter().any(|a| a == m),
                "405 for POST {url}: Allow must list {m}:\n{rsp}"
            );
        }
        assert!(
            !allow.iter().any(|a| a == "POST"),
            "405 for POST {url} must not claim Allow: POST:\n{rsp}"
        );
    }
}

#[tokio::test]
async fn new_nonce_head_200_get_204_no_store() {
    let (_server, client) = start().await;
    let url = client.url("newNonce");
    let head = client.head(&url).await.or_fail("HEAD newNonce");
    let get = client.get(&url).await.or_fail("GET newNonce");
    for (rsp, status) in [(&head, 200), (&get, 204)] {
        rsp.assert_status(status);
        assert!(
            rsp.nonce().is_some_and(|n| !n.is_empty()),
            "no Replay-Nonce:\n{rsp}"
        );
        assert_eq!(
            rsp.header("cache-control"),
            Some("no-store"),
            "RFC 8555 7.2 Cache-Control:\n{rsp}"
        );
    }
    assert_ne!(head.nonce(), get.nonce(), "nonces must differ");
}

#[tokio::test]
async fn garbage_bodies_are_4xx() {
    let (_server, client) = start().await;
    let url = client.url("newAccount");
    let nested_arrays = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let nested_objects = format!("{}1{}", r#"{"a":"#.repeat(3000), "}".repeat(3000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("{}", b"{}".to_vec()),
        ("[]", b"[]".to_vec()),
        ("\"x\"", b"\"x\"".to_vec()),
        ("null", b"null".to_vec()),
        ("not JSON", b"\x00\xff garbage".to_vec()),
        ("nested arrays", nested_arrays.into_bytes()),
        ("nested objects", nested_objects.into_bytes()),
        (
            "members not strings",
            br#"{"protected":1,"payload":[],"signature":{}}"#.to_vec(),
        ),
        (
            "not base64url",
            br#"{"protected":"@@","payload":"","signature":""}"#.to_vec(),
        ),
    ];
    for (what, body) in cases {
        let rsp = client.post_raw(&url, JOSE_JSON, body).await.or_fail(what);
        assert_eq!(rsp.status, 400, "{what}: expected 400 malformed:\n{rsp}");
        rsp.assert_problem(400, "malformed");
    }
}

#[tokio::test]
async fn one_megabyte_body_is_413_or_400() {
    let (server, _client) = start().await;
    let rsp = post_oversized(
        &server,
        "/acme/new-account",
        1 << 20,
        b'a',
        Duration::from_secs(3),
    )
    .await
    .or_fail("POST 1 MB");
    assert!(
        rsp.status == 413 || rsp.status == 400,
        "1 MB body: expected 413 or 400, got:\n{}",
        rsp.text
    );
}

#[tokio::test]
async fn duplicate_header_member_is_malformed() {
    let (_server, client) = start().await;
    let key = Key::es256();
    let nonce = client.nonce().await.or_fail("newNonce");
    let url = client.url("newAccount");
    // RFC 7515 5.2: duplicate Header Parameter names must be rejected.
    let header = format!(
        r#"{{"alg":"ES256","jwk":{},"nonce":"{nonce}","url":"{url}","url":"{url}"}}"#,
        key.jwk()
    );
    let protected = b64(&header);
    let payload = b64(json_payload(&agreed()));
    let sig = b64(key.sign(format!("{protected}.{payload}").as_bytes()));
    let jws = json!({"protected": protected, "payload": payload, "signature": sig});
    post_new_account(&client, &jws)
        .await
        .assert_problem(400, "malformed");
}

/// HMAC-SHA256 (RFC 2104) from sha2, only to produce a well-formed HS256 JWS.
mod hmac_free {
    use sha2::{Digest, Sha256};

    pub fn hs256(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let ih = Sha256::new()
            .chain_update(&inner)
            .chain_update(msg)
            .finalize();
        Sha256::new()
            .chain_update(&outer)
            .chain_update(ih)
            .finalize()
            .to_vec()
    }
}
