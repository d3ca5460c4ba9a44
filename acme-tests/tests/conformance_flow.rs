//! RFC 8555 section 7 conformance, black-box: directory, accounts (terms, contacts,
//! onlyReturnExisting, update, keyChange, deactivation), orders, http-01 validation,
//! finalize, download, revocation; plus `/health` and `/metrics`. Every answer is checked
//! for its exact status and problem type. Tests that validate run a `Rig` (BIND9 serving
//! `hanko-ci.com` → 127.0.0.1) and the harness's http-01 responder.

use acme_tests::acme_client::{
    b64, csr, json_payload, leaf_der, protected_header, sign_jws, Account, AcmeClient, Key, KeyId,
    Resp,
};
use acme_tests::{openssl_verify_chain, HankoServer, Http01Responder, OrFail, Rig};
use anyhow::Result;
use serde_json::{json, Value};

async fn start() -> (HankoServer, AcmeClient) {
    acme_tests::acme_client::start_default().await
}

/// A rig (BIND9 + hanko), an account and an http-01 responder on the CA's port.
async fn start_rig() -> (Rig, Account, Http01Responder) {
    acme_tests::rig::start_with_account()
        .await
        .or_fail("rig with an account")
}

/// A certificate issued through the whole flow, with the key of its CSR.
struct Issued {
    chain: String,
    cert_key: rcgen::KeyPair,
}

/// newOrder → http-01 for every name → finalize → poll → download; all must succeed.
async fn issue(account: &Account, responder: &Http01Responder, names: &[&str]) -> Result<Issued> {
    let (chain, cert_key) = account.issue(responder, names, None).await?;
    Ok(Issued { chain, cert_key })
}

fn revoke_payload(chain: &str, reason: Option<u8>) -> Value {
    let der = leaf_der(chain).or_fail("leaf DER");
    match reason {
        Some(r) => json!({"certificate": b64(der), "reason": r}),
        None => json!({"certificate": b64(der)}),
    }
}

async fn revoke(account: &Account, payload: &Value) -> Resp {
    let url = account.client.url("revokeCert");
    account
        .post(&url, Some(payload))
        .await
        .or_fail("revokeCert")
}

// ---- Directory (RFC 8555 7.1.1) ----

#[tokio::test]
async fn directory_lists_resources_and_meta() {
    let (_server, client) = start().await;
    let dir = &client.directory;
    for resource in [
        "newNonce",
        "newAccount",
        "newOrder",
        "revokeCert",
        "keyChange",
    ] {
        let url = dir[resource].as_str().unwrap_or_default();
        assert!(url.starts_with("https://"), "{resource}: {dir}");
    }
    let meta = &dir["meta"];
    assert!(
        meta["termsOfService"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "meta.termsOfService: {dir}"
    );
    let profiles = meta["profiles"].as_object();
    assert!(
        profiles.is_some_and(|p| !p.is_empty() && p.values().all(Value::is_string)),
        "meta.profiles (draft-ietf-acme-profiles: name → description): {dir}"
    );
    assert_eq!(meta["externalAccountRequired"], json!(false), "{dir}");
    assert!(
        meta["caaIdentities"].is_array(),
        "meta.caaIdentities: {dir}"
    );
}

// ---- Accounts (RFC 8555 7.3) ----

#[tokio::test]
async fn new_account_without_terms_agreement_is_user_action_required() {
    let (_server, client) = start().await;
    for payload in [json!({}), json!({"termsOfServiceAgreed": false})] {
        let rsp = client
            .new_account_raw(&Key::es256(), &payload)
            .await
            .or_fail("newAccount");
        rsp.assert_problem(403, "userActionRequired");
        let tos = client.directory["meta"]["termsOfService"].clone();
        assert_eq!(rsp.body["instance"], tos, "instance = terms URL:\n{rsp}");
    }
}

#[tokio::test]
async fn new_account_201_then_same_key_200_same_location() {
    let (_server, client) = start().await;
    let key = Key::es256();
    let agreed = json!({"termsOfServiceAgreed": true});
    let first = client
        .new_account_raw(&key, &agreed)
        .await
        .or_fail("newAccount");
    first.assert_status(201);
    let location = first
        .location()
        .unwrap_or_else(|| panic!("no Location:\n{first}"));
    assert_eq!(first.str("status"), Some("valid"), "{first}");
    let again = client
        .new_account_raw(&key, &agreed)
        .await
        .or_fail("newAccount again");
    again.assert_status(200);
    assert_eq!(again.location(), Some(location), "{again}");
    let existing = client
        .new_account_raw(&key, &json!({"onlyReturnExisting": true}))
        .await
        .or_fail("onlyReturnExisting");
    existing.assert_status(200);
    assert_eq!(existing.location(), Some(location), "{existing}");
}

#[tokio::test]
async fn only_return_existing_with_unknown_key_is_account_does_not_exist() {
    let (_server, client) = start().await;
    let rsp = client
        .new_account_raw(&Key::es256(), &json!({"onlyReturnExisting": true}))
        .await
        .or_fail("newAccount");
    rsp.assert_problem(400, "accountDoesNotExist");
}

#[tokio::test]
async fn tel_contact_is_unsupported_contact() {
    let (_server, client) = start().await;
    let payload = json!({"termsOfServiceAgreed": true, "contact": ["tel:+81312345678"]});
    let rsp = client
        .new_account_raw(&Key::es256(), &payload)
        .await
        .or_fail("newAccount");
    rsp.assert_problem(400, "unsupportedContact");
}

#[tokio::test]
async fn garbage_mailto_contact_is_invalid_contact() {
    let (_server, client) = start().await;
    for contact in [
        "mailto:not-an-address",
        "mailto:@hanko-ci.com",
        "mailto:a@b@hanko-ci.com",
        "mailto:ops@hanko-ci.com?subject=x",
        "mailto:ops@localhost",
    ] {
        let payload = json!({"termsOfServiceAgreed": true, "contact": [contact]});
        let rsp = client
            .new_account_raw(&Key::es256(), &payload)
            .await
            .or_fail("newAccount");
        rsp.assert_problem(400, "invalidContact");
    }
}

#[tokio::test]
async fn account_post_as_get_and_contact_update() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let rsp = account.post_as_get(&account.kid).await.or_fail("account");
    rsp.assert_status(200);
    assert_eq!(rsp.str("status"), Some("valid"), "{rsp}");
    assert!(
        rsp.str("orders").is_some(),
        "account without orders URL:\n{rsp}"
    );

    let new_contact = json!(["mailto:admin@hanko-ci.com"]);
    let rsp = account
        .post(&account.kid, Some(&json!({"contact": new_contact})))
        .await
        .or_fail("contact update");
    rsp.assert_status(200);
    assert_eq!(rsp.body["contact"], new_contact, "{rsp}");
    let rsp = account.post_as_get(&account.kid).await.or_fail("account");
    assert_eq!(rsp.body["contact"], new_contact, "update not kept:\n{rsp}");

    let rsp = account
        .post(
            &account.kid,
            Some(&json!({"contact": ["tel:+81312345678"]})),
        )
        .await
        .or_fail("bad contact update");
    rsp.assert_problem(400, "unsupportedContact");
}

/// An edit of a protected header.
type HeaderEdit = Box<dyn Fn(&mut serde_json::Map<String, Value>)>;

async fn key_change(account: &Account, new_key: &Key) -> Resp {
    account.key_change(new_key).await.or_fail("keyChange")
}

#[tokio::test]
async fn key_change_rolls_the_account_key_over() {
    let (_server, client) = start().await;
    let old = client.create_account(Key::es256()).await.or_fail("account");
    let new_key = Key::es256();
    let rsp = key_change(&old, &new_key).await;
    rsp.assert_status(200);

    // The old key no longer signs for the account: its signature does not verify against
    // the account's (new) key, which the server reports as malformed (RFC 8555 6.2).
    old.post_as_get(&old.kid)
        .await
        .or_fail("old key")
        .assert_problem(400, "malformed");
    // And it no longer finds the account.
    client
        .new_account_raw(&old.key, &json!({"onlyReturnExisting": true}))
        .await
        .or_fail("onlyReturnExisting with old key")
        .assert_problem(400, "accountDoesNotExist");

    let kid = old.kid.clone();
    let new = Account {
        client: client.clone(),
        key: new_key,
        kid: kid.clone(),
    };
    let rsp = new.post_as_get(&kid).await.or_fail("new key");
    rsp.assert_status(200);
    let found = client
        .new_account_raw(&new.key, &json!({"onlyReturnExisting": true}))
        .await
        .or_fail("onlyReturnExisting with new key");
    found.assert_status(200);
    assert_eq!(found.location(), Some(kid.as_str()), "{found}");
}

#[tokio::test]
async fn key_change_to_another_accounts_key_is_409_with_its_location() {
    let (_server, client) = start().await;
    let first = client
        .create_account(Key::es256())
        .await
        .or_fail("first account");
    let other = client
        .create_account(Key::es256())
        .await
        .or_fail("second account");
    let rsp = key_change(&first, &other.key).await;
    rsp.assert_status(409);
    assert_eq!(
        rsp.location(),
        Some(other.kid.as_str()),
        "409 must point at the account holding the key (RFC 8555 7.3.5):\n{rsp}"
    );
    // The first account keeps its key.
    first
        .post_as_get(&first.kid)
        .await
        .or_fail("first account")
        .assert_status(200);
}

#[tokio::test]
async fn key_change_inner_jws_rules_are_malformed() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let url = client.url("keyChange");
    let new_key = Key::es256();
    let payload = json!({"account": account.kid, "oldKey": account.key.jwk()});
    // (what, inner header edit, signing key)
    let cases: [(&str, HeaderEdit); 3] = [
        (
            "inner nonce",
            Box::new(|h| {
                h.insert("nonce".into(), json!("AAAA"));
            }),
        ),
        (
            "inner url differs",
            Box::new(|h| {
                h.insert("url".into(), json!("https://127.0.0.1/other"));
            }),
        ),
        (
            "inner kid instead of jwk",
            Box::new(|h| {
                h.remove("jwk");
                h.insert("kid".into(), json!("https://127.0.0.1/acme/acct/x"));
            }),
        ),
    ];
    for (what, edit) in cases {
        let mut header = protected_header(&new_key, KeyId::Jwk, "", &url);
        header.remove("nonce");
        edit(&mut header);
        let inner = sign_jws(&new_key, &header, &json_payload(&payload));
        let rsp = account
            .post_bytes(&url, &json_payload(&inner), |_| {})
            .await
            .or_fail(what);
        assert_eq!(rsp.status, 400, "{what}:\n{rsp}");
        rsp.assert_problem(400, "malformed");
    }
    // Wrong oldKey.
    let wrong = json!({"account": account.kid, "oldKey": Key::es256().jwk()});
    let mut header = protected_header(&new_key, KeyId::Jwk, "", &url);
    header.remove("nonce");
    let inner = sign_jws(&new_key, &header, &json_payload(&wrong));
    account
        .post_bytes(&url, &json_payload(&inner), |_| {})
        .await
        .or_fail("wrong oldKey")
        .assert_problem(400, "malformed");
}

#[tokio::test]
async fn account_deactivation_then_kid_is_unauthorized() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let rsp = account
        .post(&account.kid, Some(&json!({"status": "deactivated"})))
        .await
        .or_fail("deactivate");
    rsp.assert_status(200);
    assert_eq!(rsp.str("status"), Some("deactivated"), "{rsp}");
    // RFC 8555 7.3.6: 401 (Unauthorized), type unauthorized.
    account
        .post_as_get(&account.kid)
        .await
        .or_fail("deactivated account")
        .assert_problem(401, "unauthorized");
}

/// RFC 8555 7.3.6: "the server MUST NOT accept further requests authorized by that
/// account's key" — newAccount with that key included (it must not hand the account back).
#[tokio::test]
async fn deactivated_account_key_is_refused_by_new_account() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    account
        .post(&account.kid, Some(&json!({"status": "deactivated"})))
        .await
        .or_fail("deactivate")
        .assert_status(200);
    for payload in [
        json!({"termsOfServiceAgreed": true}),
        json!({"onlyReturnExisting": true}),
    ] {
        client
            .new_account_raw(&account.key, &payload)
            .await
            .or_fail("newAccount with the deactivated key")
            .assert_problem(401, "unauthorized");
    }
}

// ---- Orders (RFC 8555 7.1.2.1, 7.4) ----

#[tokio::test]
async fn orders_list_contains_created_orders() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let (_, a) = account
        .create_order(&["www.hanko-ci.com"])
        .await
        .or_fail("order a");
    let (_, b) = account
        .create_order(&["api.hanko-ci.com"])
        .await
        .or_fail("order b");
    let me = account.post_as_get(&account.kid).await.or_fail("account");
    let orders_url = me
        .str("orders")
        .unwrap_or_else(|| panic!("no orders URL:\n{me}"));
    let rsp = account.post_as_get(orders_url).await.or_fail("orders");
    rsp.assert_status(200);
    let list: Vec<&str> = rsp.body["orders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        list.contains(&a.as_str()) && list.contains(&b.as_str()),
        "{rsp}"
    );

    // Another account cannot read this list.
    let other = client
        .create_account(Key::es256())
        .await
        .or_fail("other account");
    other
        .post_as_get(orders_url)
        .await
        .or_fail("other's orders")
        .assert_problem(403, "unauthorized");
}

/// RFC 8555 7.1.2.1: a long orders list is paginated with Link rel="next"; following that
/// link is a POST-as-GET whose JWS `url` is the link itself (RFC 8555 6.4), query included.
#[tokio::test]
async fn orders_list_next_page_link_is_usable() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let mut created = Vec::new();
    for i in 0..101 {
        let name = format!("h{i}.hanko-ci.com");
        let (_, url) = account.create_order(&[&name]).await.or_fail("order");
        created.push(url);
    }
    let orders_url = format!("{}/orders", account.kid);
    let first = account.post_as_get(&orders_url).await.or_fail("orders");
    first.assert_status(200);
    let next = first
        .header_all("link")
        .iter()
        .find(|l| l.contains("rel=\"next\""))
        .and_then(|l| l.split(['<', '>']).nth(1).map(str::to_string))
        .unwrap_or_else(|| panic!("101 orders but no Link rel=\"next\":\n{first}"));
    let second = account
        .post_as_get(&next)
        .await
        .or_fail("orders, next page");
    second.assert_status(200);
    let mut listed: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|r| r.body["orders"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    listed.sort();
    created.sort();
    assert_eq!(listed, created, "both pages together list every order once");
}

#[tokio::test]
async fn finalize_of_pending_order_is_order_not_ready() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let (order, _) = account
        .create_order(&["www.hanko-ci.com"])
        .await
        .or_fail("order");
    let (_, csr_der) = csr(&["www.hanko-ci.com"]).or_fail("CSR");
    account
        .finalize(&order, &csr_der)
        .await
        .or_fail("finalize")
        .assert_problem(403, "orderNotReady");
}

#[tokio::test]
async fn authorization_deactivation() {
    let (_server, client) = start().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let (order, order_url) = account
        .create_order(&["www.hanko-ci.com"])
        .await
        .or_fail("order");
    let authz = order["authorizations"][0].as_str().unwrap_or_default();
    let rsp = account
        .post(authz, Some(&json!({"status": "deactivated"})))
        .await
        .or_fail("deactivate authorization");
    rsp.assert_status(200);
    assert_eq!(rsp.str("status"), Some("deactivated"), "{rsp}");
    let again = account.post_as_get(authz).await.or_fail("authorization");
    assert_eq!(again.str("status"), Some("deactivated"), "{again}");
    // RFC 8555 7.1.6: an authorization in a final state other than valid invalidates the order.
    let order = account.post_as_get(&order_url).await.or_fail("order");
    assert_eq!(order.str("status"), Some("invalid"), "{order}");
}

// ---- Validation, finalize, download (RFC 8555 7.4, 7.5, 8.3) ----

#[tokio::test]
async fn full_http01_issuance() {
    let (rig, account, responder) = start_rig().await;
    let names = ["www.hanko-ci.com", "api.hanko-ci.com"];
    let (order, order_url) = account.create_order(&names).await.or_fail("order");
    assert_eq!(order["status"], "pending", "{order}");

    for authz in order["authorizations"].as_array().into_iter().flatten() {
        let authz = authz.as_str().unwrap_or_default();
        let rsp = account
            .answer_http01(&responder, authz, None)
            .await
            .or_fail("challenge response");
        rsp.assert_status(200);
        let status = rsp.str("status").unwrap_or_default();
        assert!(
            status == "processing" || status == "valid",
            "challenge after POST {{}} should be processing or valid:\n{rsp}"
        );
        let done = account
            .poll_status(authz, &["pending"])
            .await
            .or_fail("authorization");
        assert_eq!(done.str("status"), Some("valid"), "{done}");
    }
    let ready = account
        .poll_status(&order_url, &["pending"])
        .await
        .or_fail("order");
    assert_eq!(ready.str("status"), Some("ready"), "{ready}");
    let seen = responder.requests();
    assert!(
        !seen.is_empty(),
        "the CA never fetched the http-01 resource"
    );

    // A CSR whose names differ from the order's.
    let (_, wrong) = csr(&["www.hanko-ci.com", "mail.hanko-ci.com"]).or_fail("CSR");
    account
        .finalize(&ready.body, &wrong)
        .await
        .or_fail("finalize wrong CSR")
        .assert_problem(400, "badCSR");

    let (_, csr_der) = csr(&names).or_fail("CSR");
    let rsp = account
        .finalize(&ready.body, &csr_der)
        .await
        .or_fail("finalize");
    rsp.assert_status(200);
    let status = rsp.str("status").unwrap_or_default();
    assert!(
        status == "processing" || status == "valid",
        "finalize answer:\n{rsp}"
    );
    let valid = account
        .poll_status(&order_url, &["ready", "processing"])
        .await
        .or_fail("order after finalize");
    assert_eq!(valid.str("status"), Some("valid"), "{valid}");
    let cert_url = valid
        .str("certificate")
        .unwrap_or_else(|| panic!("valid order without certificate:\n{valid}"));
    let cert = account.post_as_get(cert_url).await.or_fail("download");
    cert.assert_status(200);
    assert_eq!(
        cert.header("content-type"),
        Some("application/pem-certificate-chain"),
        "{cert}"
    );
    openssl_verify_chain(
        &rig.root_pem(),
        &cert.text,
        &names,
        rig.scratch_dir(),
        "flow",
    )
    .await
    .or_fail("openssl verify");
}

#[tokio::test]
async fn http01_wrong_body_makes_challenge_authz_and_order_invalid() {
    let (_rig, account, responder) = start_rig().await;
    let (order, order_url) = account
        .create_order(&["www.hanko-ci.com"])
        .await
        .or_fail("order");
    let authz = order["authorizations"][0].as_str().unwrap_or_default();
    account
        .answer_http01(&responder, authz, Some("not.the-key-authorization"))
        .await
        .or_fail("challenge response")
        .assert_status(200);
    let done = account
        .poll_status(authz, &["pending"])
        .await
        .or_fail("authorization");
    assert_eq!(done.str("status"), Some("invalid"), "{done}");
    let chall = account.http01_challenge(authz).await.or_fail("challenge");
    let chall_url = chall["url"].as_str().unwrap_or_default();
    let chall = account
        .poll_status(chall_url, &["pending", "processing"])
        .await
        .or_fail("challenge");
    assert_eq!(chall.str("status"), Some("invalid"), "{chall}");
    assert_eq!(
        chall.body["error"]["type"], "urn:ietf:params:acme:error:unauthorized",
        "challenge error (RFC 8555 8.3):\n{chall}"
    );
    let order = account.post_as_get(&order_url).await.or_fail("order");
    assert_eq!(order.str("status"), Some("invalid"), "{order}");
}

// ---- Revocation (RFC 8555 7.6; CP 4.9) ----

#[tokio::test]
async fn revoke_by_account_then_already_revoked() {
    let (_rig, account, responder) = start_rig().await;
    let issued = issue(&account, &responder, &["www.hanko-ci.com"])
        .await
        .or_fail("issuance");
    let payload = revoke_payload(&issued.chain, Some(4));
    revoke(&account, &payload).await.assert_status(200);
    revoke(&account, &payload)
        .await
        .assert_problem(400, "alreadyRevoked");
}

#[tokio::test]
async fn revoke_with_certificate_hold_is_bad_revocation_reason() {
    let (_rig, account, responder) = start_rig().await;
    let issued = issue(&account, &responder, &["www.hanko-ci.com"])
        .await
        .or_fail("issuance");
    // certificateHold (6) is never allowed (CP 4.9.13); 2 (cACompromise) and 9
    // (privilegeWithdrawn) are not the subscriber's to choose; 7 does not exist.
    for reason in [6, 2, 7, 9, 10] {
        revoke(&account, &revoke_payload(&issued.chain, Some(reason)))
            .await
            .assert_problem(400, "badRevocationReason");
    }
    // Still revocable with a good reason afterwards.
    revoke(&account, &revoke_payload(&issued.chain, Some(1)))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn revoke_signed_with_certificate_key() {
    let (_rig, account, responder) = start_rig().await;
    let issued = issue(&account, &responder, &["www.hanko-ci.com"])
        .await
        .or_fail("issuance");
    let cert_key = Key::from_rcgen(&issued.cert_key).or_fail("certificate key");
    let client = &account.client;
    let url = client.url("revokeCert");
    let payload = json_payload(&revoke_payload(&issued.chain, None));
    // Another key (not the certificate's, no account) must be refused.
    let stranger = Key::es256();
    let rsp = client
        .post_signed(&url, &stranger, KeyId::Jwk, &payload, |_| {})
        .await
        .or_fail("revoke with a stranger's key");
    rsp.assert_problem(403, "unauthorized");
    let rsp = client
        .post_signed(&url, &cert_key, KeyId::Jwk, &payload, |_| {})
        .await
        .or_fail("revoke with the certificate key");
    rsp.assert_status(200);
    client
        .post_signed(&url, &cert_key, KeyId::Jwk, &payload, |_| {})
        .await
        .or_fail("revoke again")
        .assert_problem(400, "alreadyRevoked");
}

#[tokio::test]
async fn revoke_by_unrelated_account_is_unauthorized() {
    let (_rig, account, responder) = start_rig().await;
    let issued = issue(&account, &responder, &["www.hanko-ci.com"])
        .await
        .or_fail("issuance");
    let stranger = account
        .client
        .create_account(Key::es256())
        .await
        .or_fail("second account");
    revoke(&stranger, &revoke_payload(&issued.chain, None))
        .await
        .assert_problem(403, "unauthorized");
}

// ---- Operations ----

#[tokio::test]
async fn health_and_request_metrics() {
    let (server, client) = start().await;
    let health = client
        .get(&format!("{}/health", server.base_url()))
        .await
        .or_fail("/health");
    health.assert_status(200);
    client.create_account(Key::es256()).await.or_fail("account");
    let metrics = client
        .get(&format!("{}/metrics", server.base_url()))
        .await
        .or_fail("/metrics");
    metrics.assert_status(200);
    let counter = |endpoint: &str, status: u16| {
        metrics.text.lines().any(|l| {
            l.starts_with("hanko_http_requests_total{")
                && l.contains(&format!("endpoint=\"{endpoint}\""))
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(counter("/acme/new-account", 201), "{}", metrics.text);
    assert!(counter("/acme/new-nonce", 200), "{}", metrics.text);
    assert!(counter("/directory", 200), "{}", metrics.text);
}
