//! Name policy at newOrder (REQUIREMENTS §2; CP 3.1.1, 3.2.2.4–3.2.2.6, 4.2.2, 7.1.4),
//! black-box: each forbidden identifier must be refused with 400 `rejectedIdentifier`
//! (RFC 8555 6.7, 7.4), an identifier type the CA does not know with
//! `unsupportedIdentifier`, several at once with one subproblem each (RFC 8555 6.7.1).

use acme_tests::acme_client::{Account, Key, Resp};
use acme_tests::{HankoServer, OrFail};
use serde_json::{json, Value};

async fn start() -> (HankoServer, Account) {
    let (server, client) = acme_tests::acme_client::start_default().await;
    let account = client.create_account(Key::es256()).await.or_fail("account");
    (server, account)
}

fn dns(value: &str) -> Value {
    json!({"type": "dns", "value": value})
}

async fn order(account: &Account, identifiers: Vec<Value>) -> Resp {
    account
        .new_order_identifiers(Value::Array(identifiers))
        .await
        .or_fail("newOrder")
}

/// One order for `identifier` must be refused as `rejectedIdentifier`.
async fn assert_rejected(identifier: Value) {
    assert_refused(identifier, "rejectedIdentifier").await;
}

/// One order for `identifier` must be refused with problem type `kind`.
async fn assert_refused(identifier: Value, kind: &str) {
    let (_server, account) = start().await;
    let rsp = order(&account, vec![identifier.clone()]).await;
    rsp.assert_problem(400, kind);
    if let Some(subs) = rsp.body.get("subproblems") {
        let named = subs
            .as_array()
            .is_some_and(|s| s.iter().any(|p| p["identifier"] == identifier));
        assert!(named, "subproblems do not name {identifier}:\n{rsp}");
    }
}

macro_rules! rejected {
    ($($test:ident: $identifier:expr;)*) => {$(
        #[tokio::test]
        async fn $test() {
            assert_rejected($identifier).await;
        }
    )*};
}

rejected! {
    wildcard_is_rejected: dns("*.hanko-ci.com");
    ipv4_address_as_dns_is_rejected: dns("192.0.2.1");
    ipv6_address_as_dns_is_rejected: dns("2001:db8::1");
    ip_identifier_type_is_rejected: json!({"type": "ip", "value": "192.0.2.1"});
    onion_is_rejected: dns("expyuzz4wqqyqhjn.onion");
    internal_is_rejected: dns("foo.internal");
    test_tld_is_rejected: dns("x.test");
    localhost_is_rejected: dns("localhost");
    public_suffix_itself_is_rejected: dns("co.uk");
    unknown_tld_is_rejected: dns("host.not-a-real-tld-hanko");
    underscore_is_rejected: dns("a_b.hanko-ci.com");
    leading_hyphen_is_rejected: dns("-lead.hanko-ci.com");
    trailing_hyphen_is_rejected: dns("trail-.hanko-ci.com");
    label_of_64_octets_is_rejected: dns(&format!("{}.hanko-ci.com", "a".repeat(64)));
    name_over_253_octets_is_rejected: dns(&format!("{l}.{l}.{l}.{l}.com", l = "a".repeat(63)));
    u_label_is_rejected: dns("bücher.com");
    fake_a_label_is_rejected: dns("xn--abc.hanko-ci.com");
    reserved_ldh_label_is_rejected: dns("ab--cd.hanko-ci.com");
    empty_label_is_rejected: dns("a..hanko-ci.com");
    trailing_dot_is_rejected: dns("www.hanko-ci.com.");
}

#[tokio::test]
async fn unknown_identifier_type_is_unsupported() {
    let email = json!({"type": "email", "value": "a@hanko-ci.com"});
    assert_refused(email, "unsupportedIdentifier").await;
}

#[tokio::test]
async fn several_bad_identifiers_give_one_subproblem_each() {
    let (_server, account) = start().await;
    let bad = [
        dns("*.hanko-ci.com"),
        dns("192.0.2.1"),
        dns("foo.internal"),
        dns("bücher.com"),
    ];
    let mut all = bad.to_vec();
    all.push(dns("www.hanko-ci.com"));
    let rsp = order(&account, all).await;
    rsp.assert_problem(400, "rejectedIdentifier");
    let subs = rsp.body["subproblems"]
        .as_array()
        .unwrap_or_else(|| panic!("no subproblems array (RFC 8555 6.7.1):\n{rsp}"));
    for ident in &bad {
        let sub = subs
            .iter()
            .find(|s| &s["identifier"] == ident)
            .unwrap_or_else(|| panic!("no subproblem names {ident}:\n{rsp}"));
        assert_eq!(
            sub["type"], "urn:ietf:params:acme:error:rejectedIdentifier",
            "subproblem type for {ident}:\n{rsp}"
        );
        assert!(sub["detail"].is_string(), "subproblem detail:\n{rsp}");
    }
    assert_eq!(
        subs.len(),
        bad.len(),
        "only bad names get subproblems:\n{rsp}"
    );
}

#[tokio::test]
async fn good_names_are_accepted_with_201_and_location() {
    let (_server, account) = start().await;
    // "bücher" as an A-label (RFC 5890), under the test zone.
    let names = ["www.hanko-ci.com", "xn--bcher-kva.hanko-ci.com"];
    let rsp = account.new_order(&names).await.or_fail("newOrder");
    rsp.assert_status(201);
    let location = rsp
        .location()
        .unwrap_or_else(|| panic!("201 without Location:\n{rsp}"));
    assert!(location.starts_with(&account.client.base), "{location}");
    assert_eq!(rsp.str("status"), Some("pending"), "{rsp}");
    let mut got: Vec<&str> = rsp.body["identifiers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["value"].as_str())
        .collect();
    got.sort();
    assert_eq!(got, names, "identifiers echoed:\n{rsp}");
    let authzs = rsp.body["authorizations"].as_array().map_or(0, Vec::len);
    assert_eq!(authzs, 2, "one authorization per name:\n{rsp}");
}

#[tokio::test]
async fn empty_identifier_list_is_malformed() {
    let (_server, account) = start().await;
    order(&account, Vec::new())
        .await
        .assert_problem(400, "malformed");
}
