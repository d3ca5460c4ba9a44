//! DNSSEC validation (BR SC-085, issue #12 item 3) with real parts: BIND9 serves a zone
//! signed with dnssec-keygen/dnssec-signzone, a signed zone whose signatures are broken and
//! an unsigned zone; Unbound validates them against test trust anchors and is hanko's
//! resolver with `validation.dnssec = "validating-resolver"`. Signed-and-valid passes, bogus
//! fails with a `dns` problem naming DNSSEC, unsigned passes, a CAA record in the signed
//! zone still refuses (`caa`), and a bogus CAA RRset under valid addresses never permits. Also: hanko refuses to start
//! when its resolver does not validate. One set-up serves the whole file.

use acme_tests::acme_client::{Account, AcmeClient, Key};
use acme_tests::unbound::{dig_flags, dig_status};
use acme_tests::{
    sign_zone, Bind9, Corrupt, HankoOptions, HankoServer, Http01Responder, OrFail, SignedZone,
    Unbound, Zone,
};
use serde_json::Value;

const SIGNED: &str = "signed.hanko-dnssec.com";
const BOGUS: &str = "bogus.hanko-dnssec.com";
const PLAIN: &str = "plain.hanko-dnssec.com";
const CAA_BOGUS: &str = "caa-bogus.hanko-dnssec.com";

fn dnssec_env(probe: &str) -> Vec<(String, String)> {
    vec![
        (
            "HANKO_VALIDATION__DNSSEC".to_string(),
            "validating-resolver".to_string(),
        ),
        (
            "HANKO_VALIDATION__DNSSEC_PROBE_NAME".to_string(),
            probe.to_string(),
        ),
    ]
}

/// A signed zone with `extra` records (relative names) added before signing.
async fn signed_zone(origin: &str, hosts: &[&str], extra: &str, corrupt: Corrupt) -> SignedZone {
    let mut zone = Zone::new(origin).hosts(hosts);
    zone.text = Some(format!("{}{extra}", zone.zone_file()));
    sign_zone(&zone, corrupt).await.or_fail("signing")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_passes_bogus_fails_with_dns_problem_unsigned_passes() {
    // A CAA record read through the validating resolver still decides (RFC 8659 4).
    let refusing = "refused IN CAA 0 issue \"other-ca.example\"\n";
    let signed = signed_zone(SIGNED, &["refused"], refusing, Corrupt::Nothing).await;
    let bogus = signed_zone(BOGUS, &[], "", Corrupt::AllData).await;
    // Valid addresses, but a bogus CAA RRset that would permit: it must not (BR 3.2.2.8).
    let permitting = "www IN CAA 0 issue \"hanko.invalid\"\n";
    let caa_bogus = signed_zone(CAA_BOGUS, &["www"], permitting, Corrupt::Only("CAA")).await;
    let zones = [&signed, &bogus, &caa_bogus].map(|z| z.zone.clone());
    let bind = Bind9::start(&[&zones[..], &[Zone::new(PLAIN)]].concat())
        .await
        .or_fail("BIND9");
    let stubs: Vec<String> = bind.zones().iter().map(|z| z.origin.clone()).collect();
    let anchors = [&signed, &bogus, &caa_bogus].map(|z| z.trust_anchor.clone());
    let unbound = Unbound::start(bind.addr(), &stubs, &anchors, SIGNED)
        .await
        .or_fail("Unbound");
    rig_sanity(&unbound).await;

    // A resolver that does not validate (BIND itself) fails the start-up probe.
    let refused = HankoServer::start(HankoOptions {
        dns_resolvers: vec![bind.addr()],
        env: dnssec_env(SIGNED),
        ..HankoOptions::default()
    })
    .await;
    let text = match refused {
        Ok(_) => panic!("hanko started with a non-validating resolver"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        text.contains("validation.dnssec_probe_name") && text.contains("AD=1"),
        "start-up error should name the probe and AD: {text}"
    );

    let server = HankoServer::start(HankoOptions {
        dns_resolvers: vec![unbound.addr()],
        env: dnssec_env(SIGNED),
        ..HankoOptions::default()
    })
    .await
    .or_fail("hanko");
    let responder = Http01Responder::start(server.http01_port())
        .await
        .or_fail("responder");
    let account = AcmeClient::connect(&server)
        .await
        .or_fail("directory")
        .create_account(Key::es256())
        .await
        .or_fail("account");

    for name in [format!("www.{SIGNED}"), format!("www.{PLAIN}")] {
        let (_, order_url) = account.create_order(&[&name]).await.or_fail("order");
        account
            .make_ready(&responder, &order_url)
            .await
            .or_fail(&format!("http-01 for {name}"));
    }
    let error = failed_http01(&account, &responder, &format!("refused.{SIGNED}")).await;
    assert_eq!(error["type"], "urn:ietf:params:acme:error:caa", "{error}");
    // All data bogus: the address lookup (A or AAAA) fails; bogus CAA alone: the CAA lookup.
    for (name, rrset) in [
        (format!("www.{BOGUS}"), "A"),
        (format!("www.{CAA_BOGUS}"), "CAA"),
    ] {
        let error = failed_http01(&account, &responder, &name).await;
        assert_eq!(error["type"], "urn:ietf:params:acme:error:dns", "{error}");
        let detail = error["detail"].as_str().unwrap_or_default();
        let expected = format!("DNSSEC validation failed for {name} (the {rrset}");
        assert!(detail.contains(&expected), "{detail}");
    }
}

/// Orders `name`, answers http-01 correctly, and returns the challenge's error once the
/// authorization is invalid.
async fn failed_http01(account: &Account, responder: &Http01Responder, name: &str) -> Value {
    let (order, _) = account.create_order(&[name]).await.or_fail("order");
    let authz = order["authorizations"][0].as_str().unwrap_or_default();
    account
        .answer_http01(responder, authz, None)
        .await
        .or_fail("challenge response")
        .assert_status(200);
    let done = account
        .poll_status(authz, &["pending"])
        .await
        .or_fail("authorization");
    assert_eq!(done.str("status"), Some("invalid"), "{name}: {done}");
    let chall = account.http01_challenge(authz).await.or_fail("challenge");
    chall["error"].clone()
}

/// The rig itself: the signed zone validates (AD), the broken one is SERVFAIL, the unsigned
/// one answers without AD. Without this, a passing hanko test could mean a rig that does not
/// validate at all.
async fn rig_sanity(unbound: &Unbound) {
    let signed = unbound
        .dig(&format!("www.{SIGNED}"), "A")
        .await
        .or_fail("dig");
    assert!(
        dig_flags(&signed.stdout).contains(&"ad".to_string()),
        "{}",
        signed.stdout
    );
    let bogus = unbound
        .dig(&format!("www.{BOGUS}"), "A")
        .await
        .or_fail("dig");
    assert_eq!(
        dig_status(&bogus.stdout).as_deref(),
        Some("SERVFAIL"),
        "{}",
        bogus.stdout
    );
    let plain = unbound
        .dig(&format!("www.{PLAIN}"), "A")
        .await
        .or_fail("dig");
    assert_eq!(
        dig_status(&plain.stdout).as_deref(),
        Some("NOERROR"),
        "{}",
        plain.stdout
    );
    assert!(
        !dig_flags(&plain.stdout).contains(&"ad".to_string()),
        "{}",
        plain.stdout
    );
}
