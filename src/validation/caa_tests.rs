//! The CAA relevant-RRset search (RFC 8659 3) and the DNSSEC handling of the stub client
//! against the in-crate DNS responder: climbing, CNAMEs, SERVFAIL retry, bogus answers. The
//! assertions are on the records and questions seen, not on the decision (`policy::caa`).

use super::caa::relevant_rrset;
use super::dns_client::{DnsClient, Dnssec, LookupFailure};
use super::test_support::{dns_server, Zone};
use super::{CaaParams, ValidationRequest, Validator};
use crate::config::{DnssecMode, ValidationConfig};
use crate::core::{FailureKind, Identifier, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const HOST: &str = "www.hanko-test.com";

fn client(addr: SocketAddr) -> DnsClient {
    DnsClient::new(vec![addr], Duration::from_millis(1500))
}

#[tokio::test]
async fn climbs_to_the_parent_and_stops_at_the_first_rrset() {
    let zone = Zone::default()
        .with_caa("hanko-test.com", 0, "issue", b"ca.example")
        .with_caa("hanko-test.com", 128, "tbs", b"x")
        .with_caa("com", 0, "issue", b"never-reached.example");
    let dns = dns_server(zone.clone()).await;
    let found = relevant_rrset(&client(dns.addr), false, HOST)
        .await
        .expect("search");
    assert_eq!(found.relevant_name.as_deref(), Some("hanko-test.com"));
    let seen: Vec<_> = found
        .records
        .iter()
        .map(|r| (r.flags, r.tag.as_str()))
        .collect();
    assert_eq!(seen, [(0, "issue"), (128, "tbs")]);
    assert_eq!(found.records[0].value, "ca.example");
    assert_eq!(
        zone.questions(),
        ["www.hanko-test.com CAA", "hanko-test.com CAA"]
    );
    assert_eq!(found.queried[0].rcode, "NXDomain");
    assert_eq!(found.dnssec(), Dnssec::Unchecked);
}

#[tokio::test]
async fn no_caa_anywhere_is_an_empty_rrset_up_to_the_tld() {
    let zone = Zone::default().with_txt("hanko-test.com", "v=spf1");
    let dns = dns_server(zone.clone()).await;
    let found = relevant_rrset(&client(dns.addr), false, HOST)
        .await
        .expect("search");
    assert!(found.records.is_empty() && found.relevant_name.is_none());
    assert_eq!(
        zone.questions(),
        ["www.hanko-test.com CAA", "hanko-test.com CAA", "com CAA"]
    );
}

#[tokio::test]
async fn cname_target_records_count_for_the_alias() {
    let zone = Zone::default()
        .with_cname(HOST, "edge.cdn-test.net")
        .with_caa("edge.cdn-test.net", 0, "issue", b"cdn-ca.example")
        .with_caa("hanko-test.com", 0, "issue", b"ca.example");
    let dns = dns_server(zone).await;
    let found = relevant_rrset(&client(dns.addr), false, HOST)
        .await
        .expect("search");
    assert_eq!(found.relevant_name.as_deref(), Some(HOST));
    assert_eq!(found.records[0].value, "cdn-ca.example");
    assert_eq!(found.queried[0].aliases, ["edge.cdn-test.net."]);
}

#[tokio::test]
async fn climbing_continues_from_the_alias_parent_not_the_target_parent() {
    // RFC 8659 3: the target's parent (cdn-test.net) is never searched.
    let zone = Zone::default()
        .with_cname(HOST, "edge.cdn-test.net")
        .with_caa("cdn-test.net", 0, "issue", b"wrong-parent.example")
        .with_caa("hanko-test.com", 0, "issue", b"ca.example");
    let dns = dns_server(zone.clone()).await;
    let found = relevant_rrset(&client(dns.addr), false, HOST)
        .await
        .expect("search");
    assert_eq!(found.relevant_name.as_deref(), Some("hanko-test.com"));
    assert_eq!(found.records[0].value, "ca.example");
    assert!(!zone.questions().iter().any(|q| q.contains("cdn-test.net")));
}

#[tokio::test]
async fn truncated_udp_answer_is_asked_again_over_tcp() {
    let zone = Zone::default()
        .with_caa("hanko-test.com", 0, "issue", b"ca.example")
        .with_truncated_udp();
    let dns = dns_server(zone.clone()).await;
    let found = relevant_rrset(&client(dns.addr), false, HOST)
        .await
        .expect("search over TCP");
    assert_eq!(found.records[0].value, "ca.example");
    // Each name once over UDP (truncated) and once over TCP.
    assert_eq!(zone.questions().len(), 4, "{:?}", zone.questions());
}

#[tokio::test]
async fn one_servfail_is_retried() {
    let zone = Zone::default()
        .with_servfail_times("hanko-test.com", 1)
        .with_caa("hanko-test.com", 0, "issue", b"ca.example")
        .with_authentic();
    let dns = dns_server(zone.clone()).await;
    let found = relevant_rrset(&client(dns.addr), true, HOST)
        .await
        .expect("search after retry");
    assert_eq!(found.queried[1].attempts, 2);
    assert_eq!(found.dnssec(), Dnssec::Secure);
    assert_eq!(
        zone.questions(),
        [
            "www.hanko-test.com CAA",
            "hanko-test.com CAA",
            "hanko-test.com CAA"
        ]
    );
}

#[tokio::test]
async fn persistent_servfail_fails_after_one_retry_and_a_cd_query() {
    let zone = Zone::default().with_servfail(HOST);
    let dns = dns_server(zone.clone()).await;
    let failure = relevant_rrset(&client(dns.addr), true, HOST)
        .await
        .expect_err("lookup failure");
    assert!(matches!(failure.failure, LookupFailure::Failed { .. }));
    assert_eq!(
        zone.questions(),
        [
            "www.hanko-test.com CAA",
            "www.hanko-test.com CAA",
            "www.hanko-test.com CAA +cd"
        ]
    );
}

#[tokio::test]
async fn servfail_explained_by_cd_is_bogus() {
    let zone = Zone::default().with_bogus("hanko-test.com").with_caa(
        "hanko-test.com",
        0,
        "issue",
        b"ca.example",
    );
    let dns = dns_server(zone).await;
    let failure = relevant_rrset(&client(dns.addr), true, HOST)
        .await
        .expect_err("bogus");
    assert_eq!(
        failure.failure,
        LookupFailure::Bogus {
            name: "hanko-test.com".to_string()
        }
    );
    assert_eq!(failure.partial.queried.len(), 1);
}

fn caa_request() -> ValidationRequest {
    ValidationRequest {
        identifier: Identifier::dns(HOST),
        challenge: None,
        caa: Some(CaaParams {
            issuer_domains: vec!["ca.example".to_string()],
            account_uri: "https://ca.example/acme/acct/1".to_string(),
            method: "http-01".to_string(),
            wildcard: false,
        }),
    }
}

async fn validate(zone: Zone, dnssec: DnssecMode) -> super::Outcome {
    let dns = dns_server(zone).await;
    let config = ValidationConfig {
        dns_resolvers: vec![dns.addr],
        timeout_seconds: 5,
        dnssec,
        ..ValidationConfig::default()
    };
    let validator = Validator::new(&config, Arc::new(SystemClock)).expect("validator");
    let mut corroboration = validator.validate(&caa_request()).await;
    corroboration.perspectives.remove(0).outcome
}

#[tokio::test]
async fn perspective_records_the_caa_search_in_the_evidence() {
    let zone = Zone::default()
        .with_caa("hanko-test.com", 0, "issue", b"ca.example")
        .with_authentic();
    let outcome = validate(zone, DnssecMode::ValidatingResolver).await;
    let caa = &outcome.evidence["caa"];
    assert_eq!(caa["relevant_name"], "hanko-test.com");
    assert_eq!(caa["records"][0]["value"], "ca.example");
    assert_eq!(caa["dnssec"], "secure");
    assert_eq!(caa["queried"].as_array().map(Vec::len), Some(2));
    let decision = caa["decision"].as_str().unwrap_or_default();
    // The decision itself belongs to policy::caa; the outcome must agree with it.
    match (decision, &outcome.result) {
        ("permit", Ok(())) => {}
        ("refuse", Err(f)) => assert_eq!(f.kind, FailureKind::Caa),
        other => panic!("decision and result disagree: {other:?}"),
    }
}

#[tokio::test]
async fn perspective_refuses_a_bogus_caa_answer_with_a_dns_problem() {
    let zone = Zone::default()
        .with_bogus(HOST)
        .with_caa(HOST, 0, "issue", b"ca.example");
    let outcome = validate(zone, DnssecMode::ValidatingResolver).await;
    let failure = outcome.result.expect_err("bogus never permits");
    assert_eq!(failure.kind, FailureKind::Dns);
    assert!(
        failure
            .detail
            .contains("DNSSEC validation failed for www.hanko-test.com"),
        "{}",
        failure.detail
    );
    assert_eq!(outcome.evidence["caa"]["dnssec"], "bogus");
    assert_eq!(outcome.evidence["caa"]["decision"], "refuse");
}
