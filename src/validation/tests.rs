//! End-to-end tests of the local perspective against real servers on 127.0.0.1 (ephemeral
//! ports): http-01 (RFC 8555 8.3, BR 3.2.2.4.19), dns-01 (RFC 8555 8.4), tls-alpn-01
//! (RFC 8737) and the address policy (DESIGN invariant 6). Names resolve through the test DNS
//! responder, so the code paths are the production ones.

use super::test_support::{
    challenge_certificate, dns_server, http_and_https_server, http_server, silent_server,
    tls_server, Reply, Zone,
};
use super::{ChallengeCheck, Outcome, ValidationRequest, Validator};
use crate::config::{DnssecMode, ValidationConfig};
use crate::core::{ChallengeType, FailureKind, Identifier, SystemClock};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

const HOST: &str = "www.hanko-test.com";
const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const THUMBPRINT: &str = "nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";
const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn key_authorization() -> String {
    format!("{TOKEN}.{THUMBPRINT}")
}

fn challenge_path() -> String {
    format!("/.well-known/acme-challenge/{TOKEN}")
}

fn request(challenge_type: ChallengeType) -> ValidationRequest {
    ValidationRequest {
        identifier: Identifier::dns(HOST),
        challenge: Some(ChallengeCheck {
            challenge_type,
            token: TOKEN.to_string(),
            key_authorization: key_authorization(),
        }),
        caa: None,
    }
}

fn config(dns: SocketAddr) -> ValidationConfig {
    ValidationConfig {
        dns_resolvers: vec![dns],
        allow_private_addresses: true,
        timeout_seconds: 5,
        ..ValidationConfig::default()
    }
}

fn zone() -> Zone {
    Zone::default().with_a(HOST, LOCALHOST)
}

/// The primary perspective's outcome (the only one without remote perspectives).
fn primary(mut corroboration: super::Corroboration) -> Outcome {
    corroboration.perspectives.remove(0).outcome
}

/// Runs one validation with `config` adjusted by `adjust`.
async fn run(
    dns: SocketAddr,
    kind: ChallengeType,
    adjust: impl FnOnce(&mut ValidationConfig),
) -> Outcome {
    let mut cfg = config(dns);
    adjust(&mut cfg);
    let validator = Validator::new(&cfg, Arc::new(SystemClock)).expect("validator");
    primary(validator.validate(&request(kind)).await)
}

/// http-01 against a server with `routes`, the challenge port set to the server's.
async fn http01(routes: HashMap<String, Reply>) -> Outcome {
    let dns = dns_server(zone()).await;
    let web = http_server(routes).await;
    let port = web.addr.port();
    run(dns.addr, ChallengeType::Http01, |c| c.http01_port = port).await
}

fn routes(entries: Vec<(String, Reply)>) -> HashMap<String, Reply> {
    entries.into_iter().collect()
}

#[track_caller]
fn assert_fails(outcome: &Outcome, kind: FailureKind, detail_contains: &str) {
    let failure = outcome.result.clone().expect_err("validation should fail");
    assert_eq!(failure.kind, kind, "detail: {}", failure.detail);
    assert!(
        failure.detail.contains(detail_contains),
        "detail {:?} should contain {detail_contains:?}",
        failure.detail
    );
    assert_eq!(outcome.evidence["result"], "invalid");
    assert_eq!(outcome.evidence["error"]["detail"], failure.detail.as_str());
}

#[track_caller]
fn assert_valid(outcome: &Outcome) {
    if let Err(e) = &outcome.result {
        panic!("expected valid, got {e}; evidence {:#}", outcome.evidence);
    }
    assert_eq!(outcome.evidence["result"], "valid");
}

// ---- http-01 -------------------------------------------------------------------------------

#[tokio::test]
async fn http01_success_records_evidence() {
    let body = format!("{}\r\n  ", key_authorization()); // trailing whitespace is trimmed
    let outcome = http01(routes(vec![(challenge_path(), Reply::ok(body))])).await;
    assert_valid(&outcome);
    let ev = &outcome.evidence;
    assert_eq!(ev["perspective"], "local");
    assert_eq!(ev["method"], "http-01");
    assert_eq!(ev["hostname"], HOST);
    assert_eq!(ev["addresses_resolved"][0], "127.0.0.1");
    assert!(ev["address_used"]
        .as_str()
        .is_some_and(|a| a.starts_with("127.0.0.1:")));
    assert_eq!(ev["http_requests"][0]["status"], 200);
    assert!(ev["http_requests"][0]["url"]
        .as_str()
        .is_some_and(|u| u.starts_with("http://www.hanko-test.com:")));
    for field in ["started", "finished"] {
        let stamp = ev[field].as_str().expect("timestamp");
        assert!(
            chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
            "{stamp}"
        );
    }
}

#[tokio::test]
async fn http01_wrong_body_is_unauthorized() {
    let outcome = http01(routes(vec![(challenge_path(), Reply::ok("nope"))])).await;
    assert_fails(&outcome, FailureKind::Unauthorized, "did not match");
}

#[tokio::test]
async fn http01_not_found_is_unauthorized() {
    let outcome = http01(HashMap::new()).await;
    assert_fails(&outcome, FailureKind::Unauthorized, "HTTP 404");
    assert_eq!(outcome.evidence["http_requests"][0]["status"], 404);
}

#[tokio::test]
async fn http01_follows_302_on_same_server() {
    let outcome = http01(routes(vec![
        (challenge_path(), Reply::redirect(302, "/elsewhere/key")),
        ("/elsewhere/key".to_string(), Reply::ok(key_authorization())),
    ]))
    .await;
    assert_valid(&outcome);
    let hops = outcome.evidence["http_requests"].as_array().expect("hops");
    assert_eq!(hops.len(), 2);
    assert_eq!(hops[0]["status"], 302);
    assert_eq!(hops[0]["location"], "/elsewhere/key");
    assert!(hops[1]["url"]
        .as_str()
        .is_some_and(|u| u.ends_with("/elsewhere/key")));
    assert_eq!(outcome.evidence["redirects_followed"], 1);
}

#[tokio::test]
async fn http01_redirect_to_unauthorized_port_is_refused() {
    let target = format!("http://{HOST}:8081/key");
    let outcome = http01(routes(vec![(
        challenge_path(),
        Reply::redirect(301, &target),
    )]))
    .await;
    assert_fails(&outcome, FailureKind::Unauthorized, "port 8081");
    // The refused hop was never requested.
    assert_eq!(
        outcome.evidence["http_requests"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn http01_redirect_to_ftp_is_refused() {
    let target = format!("ftp://{HOST}/key");
    let outcome = http01(routes(vec![(
        challenge_path(),
        Reply::redirect(307, &target),
    )]))
    .await;
    assert_fails(&outcome, FailureKind::Unauthorized, "only http and https");
}

#[tokio::test]
async fn http01_redirect_to_ip_literal_is_refused() {
    let outcome = http01(routes(vec![(
        challenge_path(),
        Reply::redirect(308, "http://127.0.0.1/key"),
    )]))
    .await;
    assert_fails(&outcome, FailureKind::Unauthorized, "IP addresses");
}

#[tokio::test]
async fn http01_redirect_loop_stops_at_limit() {
    let outcome = http01(routes(vec![(
        challenge_path(),
        Reply::redirect(302, &challenge_path()),
    )]))
    .await;
    assert_fails(&outcome, FailureKind::Unauthorized, "too many redirects");
    // The first request plus `http01_max_redirects` (default 10) followed hops.
    assert_eq!(
        outcome.evidence["http_requests"].as_array().map(Vec::len),
        Some(11)
    );
}

#[tokio::test]
async fn http01_follows_redirect_to_https_without_checking_certificate() {
    // BR 3.2.2.4.19 allows https hops; like Let's Encrypt we keep TLS on but accept a
    // self-signed certificate. The test server speaks TLS on the same port ("{port}").
    let dns = dns_server(zone()).await;
    let location = format!("https://{HOST}:{{port}}/secure");
    let web = http_and_https_server(
        routes(vec![
            (challenge_path(), Reply::redirect(301, &location)),
            ("/secure".to_string(), Reply::ok(key_authorization())),
        ]),
        HOST,
    )
    .await;
    let port = web.addr.port();
    let outcome = run(dns.addr, ChallengeType::Http01, |c| c.http01_port = port).await;
    assert_valid(&outcome);
    let hops = outcome.evidence["http_requests"].as_array().expect("hops");
    assert_eq!(hops.len(), 2);
    assert_eq!(
        hops[1]["url"],
        format!("https://{HOST}:{port}/secure").as_str()
    );
    assert_eq!(hops[1]["status"], 200);
}

#[tokio::test]
async fn http01_silent_server_times_out_as_connection() {
    let dns = dns_server(zone()).await;
    let silent = silent_server().await;
    let port = silent.addr.port();
    let outcome = run(dns.addr, ChallengeType::Http01, |c| {
        c.http01_port = port;
        c.timeout_seconds = 1;
    })
    .await;
    assert_fails(&outcome, FailureKind::Connection, "timed out");
}

#[tokio::test]
async fn http01_oversized_body_is_refused() {
    let big = vec![b'a'; ValidationConfig::default().http01_max_body_bytes + 1];
    let outcome = http01(routes(vec![(challenge_path(), Reply::ok(big))])).await;
    assert_fails(
        &outcome,
        FailureKind::IncorrectResponse,
        "larger than 8192 bytes",
    );
}

#[tokio::test]
async fn http01_oversized_body_without_length_is_refused() {
    let mut reply = Reply::ok(vec![b'a'; 100_000]);
    reply.content_length = false;
    let outcome = http01(routes(vec![(challenge_path(), reply)])).await;
    assert_fails(
        &outcome,
        FailureKind::IncorrectResponse,
        "larger than 8192 bytes",
    );
}

#[tokio::test]
async fn http01_connection_refused_is_connection() {
    let dns = dns_server(zone()).await;
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr").port()
    };
    let outcome = run(dns.addr, ChallengeType::Http01, |c| c.http01_port = port).await;
    assert_fails(&outcome, FailureKind::Connection, "");
}

#[tokio::test]
async fn http01_private_address_refused_by_policy() {
    let dns = dns_server(zone()).await;
    let web = http_server(routes(vec![(
        challenge_path(),
        Reply::ok(key_authorization()),
    )]))
    .await;
    let port = web.addr.port();
    let outcome = run(dns.addr, ChallengeType::Http01, |c| {
        c.http01_port = port;
        c.allow_private_addresses = false;
    })
    .await;
    assert_fails(&outcome, FailureKind::Dns, "no valid IP addresses");
    assert_eq!(outcome.evidence["addresses_resolved"][0], "127.0.0.1");
    assert!(outcome.evidence["addresses_refused"][0]
        .as_str()
        .is_some_and(|r| r.contains("loopback")));
}

#[tokio::test]
async fn http01_unknown_name_is_dns_failure() {
    let dns = dns_server(Zone::default()).await;
    let outcome = run(dns.addr, ChallengeType::Http01, |_| {}).await;
    assert_fails(&outcome, FailureKind::Dns, "NXDOMAIN");
}

// ---- dns-01 --------------------------------------------------------------------------------

fn expected_txt() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(key_authorization().as_bytes()))
}

#[tokio::test]
async fn dns01_success_records_txt_values() {
    let name = format!("_acme-challenge.{HOST}");
    let dns = dns_server(
        zone()
            .with_txt(&name, "unrelated")
            .with_txt(&name, &expected_txt()),
    )
    .await;
    let outcome = run(dns.addr, ChallengeType::Dns01, |_| {}).await;
    assert_valid(&outcome);
    assert_eq!(outcome.evidence["txt_name"], name.as_str());
    let seen = outcome.evidence["txt_values"].as_array().expect("values");
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().any(|v| v == expected_txt().as_str()));
}

#[tokio::test]
async fn dns01_wrong_value_is_unauthorized() {
    let name = format!("_acme-challenge.{HOST}");
    let dns = dns_server(zone().with_txt(&name, "not-the-digest")).await;
    let outcome = run(dns.addr, ChallengeType::Dns01, |_| {}).await;
    assert_fails(&outcome, FailureKind::Unauthorized, "incorrect TXT record");
    assert_eq!(outcome.evidence["txt_values"][0], "not-the-digest");
}

#[tokio::test]
async fn dns01_missing_record_is_unauthorized() {
    let dns = dns_server(zone()).await;
    let outcome = run(dns.addr, ChallengeType::Dns01, |_| {}).await;
    assert_fails(&outcome, FailureKind::Unauthorized, "no TXT record found");
}

#[tokio::test]
async fn dns01_servfail_is_dns_failure() {
    let name = format!("_acme-challenge.{HOST}");
    let dns = dns_server(zone().with_servfail(&name)).await;
    let outcome = run(dns.addr, ChallengeType::Dns01, |_| {}).await;
    assert_fails(&outcome, FailureKind::Dns, "DNS problem");
}

#[tokio::test]
async fn dns01_records_dnssec_status_and_refuses_bogus() {
    let name = format!("_acme-challenge.{HOST}");
    let validating = |c: &mut ValidationConfig| c.dnssec = DnssecMode::ValidatingResolver;
    let dns = dns_server(zone().with_txt(&name, &expected_txt()).with_authentic()).await;
    let outcome = run(dns.addr, ChallengeType::Dns01, validating).await;
    assert_valid(&outcome);
    assert_eq!(outcome.evidence["dnssec"], "secure");
    let dns = dns_server(zone().with_txt(&name, &expected_txt()).with_bogus(&name)).await;
    let outcome = run(dns.addr, ChallengeType::Dns01, validating).await;
    assert_fails(
        &outcome,
        FailureKind::Dns,
        "DNSSEC validation failed for _acme-challenge",
    );
    let dns = dns_server(zone().with_txt(&name, &expected_txt())).await;
    let outcome = run(dns.addr, ChallengeType::Dns01, |_| {}).await;
    assert_eq!(outcome.evidence["dnssec"], "unchecked");
}

#[tokio::test]
async fn http01_bogus_address_is_a_dnssec_failure() {
    let dns = dns_server(zone().with_bogus(HOST)).await;
    let outcome = run(dns.addr, ChallengeType::Http01, |c| {
        c.dnssec = DnssecMode::ValidatingResolver
    })
    .await;
    assert_fails(
        &outcome,
        FailureKind::Dns,
        "DNSSEC validation failed for www.hanko-test.com",
    );
}

#[tokio::test]
async fn http01_servfail_is_dns_failure() {
    let dns = dns_server(Zone::default().with_servfail(HOST)).await;
    let outcome = run(dns.addr, ChallengeType::Http01, |_| {}).await;
    assert_fails(&outcome, FailureKind::Dns, "DNS problem looking up");
}

// ---- tls-alpn-01 ---------------------------------------------------------------------------

async fn tlsalpn01(digest: Option<&[u8]>, san: &str, alpn: &[&[u8]]) -> Outcome {
    let dns = dns_server(zone()).await;
    let (cert, key) = challenge_certificate(san, digest);
    let server = tls_server(cert, key, alpn).await;
    let port = server.addr.port();
    run(dns.addr, ChallengeType::TlsAlpn01, |c| {
        c.tlsalpn01_port = port
    })
    .await
}

fn key_authorization_digest() -> Vec<u8> {
    Sha256::digest(key_authorization().as_bytes()).to_vec()
}

#[tokio::test]
async fn tlsalpn01_success_records_certificate_facts() {
    let digest = key_authorization_digest();
    let outcome = tlsalpn01(Some(&digest), HOST, &[b"acme-tls/1"]).await;
    assert_valid(&outcome);
    let tls = &outcome.evidence["tls"];
    assert_eq!(tls["sni"], HOST);
    assert_eq!(tls["alpn_negotiated"], "acme-tls/1");
    assert_eq!(tls["san_entries"][0], format!("DNS:{HOST}").as_str());
    assert_eq!(tls["acme_identifier_critical"], true);
    assert!(tls["certificate_sha256"].is_string());
}

#[tokio::test]
async fn tlsalpn01_wrong_digest_is_unauthorized() {
    let digest = [7u8; 32];
    let outcome = tlsalpn01(Some(&digest), HOST, &[b"acme-tls/1"]).await;
    assert_fails(
        &outcome,
        FailureKind::Unauthorized,
        "acmeIdentifier extension holds",
    );
}

#[tokio::test]
async fn tlsalpn01_missing_extension_is_unauthorized() {
    let outcome = tlsalpn01(None, HOST, &[b"acme-tls/1"]).await;
    assert_fails(
        &outcome,
        FailureKind::Unauthorized,
        "no acmeIdentifier extension",
    );
}

#[tokio::test]
async fn tlsalpn01_wrong_san_is_unauthorized() {
    let digest = key_authorization_digest();
    let outcome = tlsalpn01(Some(&digest), "other.hanko-test.com", &[b"acme-tls/1"]).await;
    assert_fails(&outcome, FailureKind::Unauthorized, "subjectAltName");
}

#[tokio::test]
async fn tlsalpn01_without_alpn_is_refused() {
    let digest = key_authorization_digest();
    let outcome = tlsalpn01(Some(&digest), HOST, &[]).await;
    assert_fails(
        &outcome,
        FailureKind::Unauthorized,
        "did not negotiate ALPN",
    );
}

#[tokio::test]
async fn tlsalpn01_other_alpn_only_fails_handshake() {
    // A server that speaks ALPN but not acme-tls/1 aborts with no_application_protocol
    // (RFC 7301 3.2), which surfaces as a TLS failure.
    let digest = key_authorization_digest();
    let outcome = tlsalpn01(Some(&digest), HOST, &[b"h2"]).await;
    assert_fails(&outcome, FailureKind::Tls, "handshake");
}

// ---- identifiers ---------------------------------------------------------------------------

#[tokio::test]
async fn non_dns_identifier_is_rejected() {
    let dns = dns_server(zone()).await;
    let validator = Validator::new(&config(dns.addr), Arc::new(SystemClock)).expect("validator");
    let mut req = request(ChallengeType::Http01);
    req.identifier = Identifier {
        kind: "ip".to_string(),
        value: "127.0.0.1".to_string(),
    };
    let outcome = primary(validator.validate(&req).await);
    assert_fails(&outcome, FailureKind::RejectedIdentifier, "identifier type");
}

#[test]
fn validator_builds_outside_a_runtime() {
    // `ra` may build the validator before its runtime starts; nothing here may need one.
    let cfg = config(SocketAddr::from((LOCALHOST, 53)));
    assert!(Validator::new(&cfg, Arc::new(SystemClock)).is_ok());
}
