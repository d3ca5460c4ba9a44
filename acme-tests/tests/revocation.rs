//! Revocation, black-box (RFC 8555 7.6; CP 4.9.1, 4.9.5, 4.9.12, 7.2.2; REQUIREMENTS §10):
//! the real `hanko` binary, its ACME revokeCert and `hanko admin revoke`/`block-key`, and
//! the state read back through `hanko admin serial` and `hanko audit list`.
//!
//! Key compromise: three certificates share one key (two accounts); a revocation signed
//! by that key revokes all three for keyCompromise (the bad-key revoker of the running
//! server does the other two), each subscriber is owed a notice, and the key is refused
//! afterwards. Reasons: what a subscriber, another authorized account and an operator may
//! ask, future-dated and upgraded revocations, and what is refused.

use acme_tests::acme_client::{Account, Key, Resp};
use acme_tests::process::Cmd;
use acme_tests::revoke::{self, Issued};
use acme_tests::server::hanko_binary;
use acme_tests::{HankoOptions, HankoServer, Http01Responder, OrFail, Rig, RigOptions};
use chrono::{DateTime, Duration as Days, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const HOSTS: &[&str] = &[
    "shop", "blog", "news", "docs", "status", "cdn", "portal", "store", "media", "help",
];

/// A rig whose bad-key revoker polls every second.
async fn start() -> (Rig, Account, Http01Responder) {
    let hanko = HankoOptions {
        env: vec![(
            "HANKO_REVOCATION__BAD_KEY_POLL_SECONDS".to_string(),
            "1".to_string(),
        )],
        ..HankoOptions::default()
    };
    let rig = Rig::start(RigOptions {
        hosts: HOSTS.iter().map(|h| h.to_string()).collect(),
        hanko,
    })
    .await
    .or_fail("rig");
    let client = acme_tests::acme_client::AcmeClient::connect(&rig.server)
        .await
        .or_fail("directory");
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let responder = Http01Responder::start(rig.server.http01_port())
        .await
        .or_fail("http-01 responder");
    (rig, account, responder)
}

/// Issue a certificate for `host` whose key is `key`.
async fn issue(
    account: &Account,
    responder: &Http01Responder,
    host: &str,
    key: &rcgen::KeyPair,
) -> Issued {
    revoke::issue(account, responder, host, key)
        .await
        .or_fail("issue")
}

/// revokeCert signed by the account (`kid`).
async fn revoke_by_account(account: &Account, cert: &Issued, reason: Option<i64>) -> Resp {
    revoke::revoke_by_account(account, cert, reason)
        .await
        .or_fail("revokeCert")
}

/// revokeCert signed by the certificate's key (`jwk`).
async fn revoke_by_key(
    account: &Account,
    cert: &Issued,
    key: &rcgen::KeyPair,
    reason: i64,
) -> Resp {
    revoke::revoke_by_key(account, cert, key, reason)
        .await
        .or_fail("revokeCert by key")
}

fn hanko(server: &HankoServer, args: &[&str]) -> Cmd {
    Cmd::new(hanko_binary().or_fail("locate hanko"))
        .args(args)
        .env("HANKO_STORAGE__DATA_DIR", server.data_dir())
        .env("HANKO_LOG__LEVEL", "warn")
        .timeout(Duration::from_secs(60))
}

/// `hanko admin serial HEX` as JSON.
async fn serial_state(server: &HankoServer, serial: &str) -> Value {
    let out = hanko(server, &["admin", "serial", serial])
        .run()
        .await
        .or_fail("admin serial");
    assert!(out.success(), "{out}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The stored revocation, polled until `done` holds (generous deadline: the bad-key
/// revoker runs in the background).
async fn wait_revocation(
    server: &HankoServer,
    serial: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = serial_state(server, serial).await;
        if done(&state) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting on {serial}: {state}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn audit(server: &HankoServer, prefix: &str) -> Vec<Value> {
    let out = hanko(server, &["audit", "list", "--event", prefix])
        .run()
        .await
        .or_fail("audit list");
    assert!(out.success(), "{out}");
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn event_for<'a>(events: &'a [Value], serial: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["details"]["serial"] == json!(serial))
        .unwrap_or_else(|| panic!("no event for {serial} in {events:?}"))
}

async fn audit_verifies(server: &HankoServer) {
    let out = hanko(server, &["audit", "verify"])
        .run()
        .await
        .or_fail("verify");
    assert!(
        out.success() && out.stdout.contains("audit chain intact"),
        "{out}"
    );
}

fn account_id(account: &Account) -> String {
    account
        .kid
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_compromised_key_revokes_every_certificate_with_it() {
    let (rig, alice, responder) = start().await;
    let server = &rig.server;
    let bob = alice
        .client
        .create_account(Key::es256())
        .await
        .or_fail("bob");
    let shared = rcgen::KeyPair::generate().expect("key");
    let certs = [
        issue(&alice, &responder, "shop", &shared).await,
        issue(&alice, &responder, "blog", &shared).await,
        issue(&bob, &responder, "news", &shared).await,
    ];
    let owners = [account_id(&alice), account_id(&alice), account_id(&bob)];

    // Signed by the certificate key, asking superseded: revoked keyCompromise, key blocked.
    revoke_by_key(&alice, &certs[1], &shared, 4)
        .await
        .assert_status(200);
    for (cert, owner) in certs.iter().zip(&owners) {
        let state = wait_revocation(server, &cert.serial, |s| {
            s["revocation"]["reason"] == json!(1)
        })
        .await;
        let expected = if cert.serial == certs[1].serial {
            "certificate_key"
        } else {
            "bad_key_revoker"
        };
        assert_eq!(state["revocation"]["source"], json!(expected), "{state}");
        let notices = state["revocation_notices"].as_array().expect("notices");
        assert_eq!(notices.len(), 1, "{state}");
        assert_eq!(notices[0]["account"], json!(owner), "{state}");
        assert_eq!(notices[0]["reason"], json!(1), "{state}");
    }
    let events = audit(server, "certificate.revoked").await;
    let by_key = event_for(&events, &certs[1].serial);
    assert_eq!(by_key["details"]["source"], json!("certificate_key"));
    assert_eq!(by_key["details"]["requested_reason"], json!("superseded"));
    assert_eq!(by_key["details"]["key_blocked"], json!(true));
    for cert in [&certs[0], &certs[2]] {
        let e = event_for(&events, &cert.serial);
        assert_eq!(
            (e["actor"].as_str(), e["details"]["reason"].as_str()),
            (Some("system"), Some("keyCompromise"))
        );
    }
    let blocked = audit(server, "key.blocked").await;
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0]["details"]["source"], json!("revocation"));

    // Asked again: already revoked. The key is refused for a new certificate.
    revoke_by_key(&bob, &certs[2], &shared, 1)
        .await
        .assert_problem(400, "alreadyRevoked");
    let name = Rig::name("docs");
    let (_, order_url) = alice.create_order(&[&name]).await.or_fail("order");
    let order = alice
        .make_ready(&responder, &order_url)
        .await
        .or_fail("ready");
    let csr = acme_tests::pki::csr_der(&shared, &[&name]).or_fail("csr");
    alice
        .finalize(&order, &csr)
        .await
        .or_fail("finalize")
        .assert_problem(400, "badCSR");

    // The same through `hanko admin block-key` for another key.
    let other = rcgen::KeyPair::generate().expect("key");
    let cert = issue(&bob, &responder, "status", &other).await;
    let file = server.scratch_dir().join("other-key.pem");
    std::fs::write(&file, other.serialize_pem()).expect("write key");
    let out = hanko(
        server,
        &["admin", "block-key", "--operator", "oncall", "--file"],
    )
    .arg(&file)
    .run()
    .await
    .or_fail("block-key");
    assert!(out.success(), "{out}");
    let state = wait_revocation(server, &cert.serial, |s| {
        s["revocation"]["reason"] == json!(1)
    })
    .await;
    assert_eq!(
        state["revocation"]["source"],
        json!("bad_key_revoker"),
        "{state}"
    );
    assert_eq!(
        state["revocation_notices"][0]["account"],
        json!(account_id(&bob))
    );
    audit_verifies(server).await;
}

/// `hanko admin revoke` with these arguments: (exit code, stdout + stderr).
async fn admin_revoke(server: &HankoServer, args: &[&str]) -> (Option<i32>, String) {
    let out = hanko(server, &["admin", "revoke", "--operator", "oncall"])
        .args(args)
        .run()
        .await
        .or_fail("admin revoke");
    (out.status.and_then(|s| s.code()), out.combined())
}

#[tokio::test]
async fn revocation_reasons_by_requester() {
    let (rig, alice, responder) = start().await;
    let server = &rig.server;
    let fresh = || rcgen::KeyPair::generate().expect("key");

    // The subscriber: each allowed reason; absent and 0 are stored without a reason.
    let cases: [(Option<i64>, Value, &str); 6] = [
        (None, Value::Null, "shop"),
        (Some(0), Value::Null, "blog"),
        (Some(1), json!(1), "news"),
        (Some(3), json!(3), "docs"),
        (Some(4), json!(4), "status"),
        (Some(5), json!(5), "cdn"),
    ];
    let mut superseded = None;
    for (reason, stored, host) in cases {
        let cert = issue(&alice, &responder, host, &fresh()).await;
        revoke_by_account(&alice, &cert, reason)
            .await
            .assert_status(200);
        let state = serial_state(server, &cert.serial).await;
        assert_eq!(state["revocation"]["reason"], stored, "{reason:?}: {state}");
        assert_eq!(
            state["revocation"]["source"],
            json!("subscriber"),
            "{state}"
        );
        assert_eq!(state["revocation_notices"], json!([]), "{state}");
        if reason == Some(4) {
            superseded = Some((cert, time(&state["revocation"]["revoked_at"])));
        }
    }
    // A subscriber's keyCompromise by account does not block the key (no proof of it).
    assert!(audit(server, "key.blocked").await.is_empty());

    // privilegeWithdrawn, certificateHold and non-reasons are refused; nothing changes.
    let cert = issue(&alice, &responder, "portal", &fresh()).await;
    for code in [9, 6, 2, 11, -1, 70000] {
        revoke_by_account(&alice, &cert, Some(code))
            .await
            .assert_problem(400, "badRevocationReason");
    }
    assert_eq!(
        serial_state(server, &cert.serial).await["revocation"],
        Value::Null
    );

    // Another account: refused without authorizations; with them, cessationOfOperation.
    let bob = alice
        .client
        .create_account(Key::es256())
        .await
        .or_fail("bob");
    let target = issue(&alice, &responder, "store", &fresh()).await;
    revoke_by_account(&bob, &target, Some(1))
        .await
        .assert_problem(403, "unauthorized");
    let name = Rig::name("store");
    let (_, order_url) = bob.create_order(&[&name]).await.or_fail("order");
    bob.make_ready(&responder, &order_url)
        .await
        .or_fail("ready");
    revoke_by_account(&bob, &target, Some(1))
        .await
        .assert_status(200);
    let state = serial_state(server, &target.serial).await;
    assert_eq!(state["revocation"]["reason"], json!(5), "{state}");
    assert_eq!(state["revocation"]["source"], json!("authorized_account"));
    assert_eq!(
        state["revocation_notices"][0]["account"],
        json!(account_id(&alice))
    );
    let events = audit(server, "certificate.revoked").await;
    let e = event_for(&events, &target.serial);
    assert_eq!(
        e["details"]["requested_reason"],
        json!("keyCompromise"),
        "{e}"
    );
    assert_eq!(e["details"]["reason"], json!("cessationOfOperation"), "{e}");
    assert_eq!(
        e["actor"],
        json!(format!("account:{}", account_id(&bob))),
        "{e}"
    );

    // The operator: privilegeWithdrawn; certificateHold never.
    let (code, out) = admin_revoke(server, &[&cert.serial, "--reason", "certificateHold"]).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("certificateHold is never used"), "{out}");
    let (code, out) = admin_revoke(server, &[&cert.serial, "--reason", "privilegeWithdrawn"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "serial {}: revoked (privilegeWithdrawn)",
            cert.serial
        )),
        "{out}"
    );
    let state = serial_state(server, &cert.serial).await;
    assert_eq!(
        (
            &state["revocation"]["reason"],
            &state["revocation"]["source"]
        ),
        (&json!(9), &json!("admin"))
    );
    let e = event_for(&audit(server, "certificate.revoked").await, &cert.serial).clone();
    assert_eq!(e["actor"], json!("operator:oncall"), "{e}");

    // A future date: revoked on that date (CP 4.9.5).
    let later = issue(&alice, &responder, "media", &fresh()).await;
    let when = Utc::now() + Days::days(3);
    let when_text = when.to_rfc3339_opts(SecondsFormat::Secs, true);
    let (code, out) = admin_revoke(
        server,
        &[&later.serial, "--reason", "superseded", "--at", &when_text],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("scheduled"), "{out}");
    let state = serial_state(server, &later.serial).await;
    assert_eq!(
        time(&state["revocation"]["revoked_at"]).timestamp(),
        when.timestamp(),
        "{state}"
    );
    assert!(time(&state["revocation"]["recorded_at"]) < when);
    // Changing it to anything but keyCompromise is refused.
    let (code, out) =
        admin_revoke(server, &[&later.serial, "--reason", "privilegeWithdrawn"]).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("may only be upgraded to keyCompromise"),
        "{out}"
    );

    // Upgrade of the superseded revocation to keyCompromise, backdated (CP 7.2.2).
    let (sup, sup_at) = superseded.expect("superseded case ran");
    let too_early = (sup_at - Days::hours(3)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (code, out) = admin_revoke(
        server,
        &[&sup.serial, "--reason", "keyCompromise", "--at", &too_early],
    )
    .await;
    assert_eq!(code, Some(2), "before notBefore: {out}");
    assert!(out.contains("notBefore"), "{out}");
    let later_than = (sup_at + Days::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (code, out) = admin_revoke(
        server,
        &[
            &sup.serial,
            "--reason",
            "keyCompromise",
            "--at",
            &later_than,
        ],
    )
    .await;
    assert_eq!(code, Some(2), "later date: {out}");
    let compromised = sup_at - Days::minutes(10);
    let at = compromised.to_rfc3339_opts(SecondsFormat::Secs, true);
    let (code, out) = admin_revoke(
        server,
        &[&sup.serial, "--reason", "keyCompromise", "--at", &at],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("revocation upgraded to keyCompromise"),
        "{out}"
    );
    assert!(out.contains("key blocked"), "{out}");
    let state = serial_state(server, &sup.serial).await;
    assert_eq!(state["revocation"]["reason"], json!(1), "{state}");
    assert_eq!(
        time(&state["revocation"]["revoked_at"]).timestamp(),
        compromised.timestamp()
    );
    assert_eq!(state["revocation"]["source"], json!("admin"));
    let upgrades = audit(server, "certificate.revocation_upgraded").await;
    let e = event_for(&upgrades, &sup.serial);
    assert_eq!(e["details"]["previous_reason"], json!("superseded"), "{e}");
    // A downgrade of it is refused, as is the same upgrade again.
    for reason in ["superseded", "keyCompromise"] {
        let (code, out) = admin_revoke(server, &[&sup.serial, "--reason", reason]).await;
        assert_eq!(code, Some(2), "{reason}: {out}");
    }
    assert_eq!(
        serial_state(server, &sup.serial).await["revocation"]["reason"],
        json!(1)
    );
    audit_verifies(server).await;
}
