//! Multi-perspective issuance corroboration (BR 3.2.2.9, issue #12 item 4), black-box: a
//! primary `hanko serve` and five `hanko perspective` processes on 127.0.0.1 over mutual TLS.
//! DNS views: the primary and p1–p3 resolve through the "good" responder; p4 and p5 each
//! through their own responder, whose dns-01 TXT answer each phase sets to the right or a
//! wrong value. One shared set-up, several phases (each hanko process costs start-up time):
//! all agree → valid and issued; one dissent → still issues; two dissents → invalid with a
//! problem naming both; a perspective down counts as a dissent; a caller without a client
//! certificate is refused.

use acme_tests::acme_client::{b64, csr, Account, AcmeClient, Key, Resp};
use acme_tests::dns01::DnsResponder;
use acme_tests::mpic::{MpicPki, Perspective};
use acme_tests::{HankoOptions, HankoServer, OrFail, ZONE};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

fn addr(dns: &DnsResponder) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], dns.port()))
}

/// What the bad views publish in a phase: the right TXT value, or a wrong one.
#[derive(Clone, Copy, PartialEq)]
enum View {
    Agrees,
    Dissents,
}

struct Rig {
    good: DnsResponder,
    bad4: DnsResponder,
    bad5: DnsResponder,
    account: Account,
}

impl Rig {
    /// newOrder for `host` → dns-01 with the views of this phase → the authorization and
    /// the order once validation finished.
    async fn validate(&self, host: &str, p4: View, p5: View) -> (Resp, String, Value) {
        let name = format!("{host}.{ZONE}");
        let (order, order_url) = self.account.create_order(&[&name]).await.or_fail("order");
        let authz_url = order["authorizations"][0]
            .as_str()
            .expect("authz url")
            .to_string();
        let authz = self.account.post_as_get(&authz_url).await.or_fail("authz");
        let chall = authz.body["challenges"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "dns-01"))
            .cloned()
            .unwrap_or_else(|| panic!("no dns-01 challenge: {}", authz.body));
        let token = chall["token"].as_str().expect("token");
        // RFC 8555 8.4: the TXT value is base64url(SHA-256(key authorization)).
        let value = b64(Sha256::digest(self.account.key_authorization(token)));
        let wrong = b64(Sha256::digest(b"someone else's key authorization"));
        self.good.insert(&name, &value);
        for (dns, view) in [(&self.bad4, p4), (&self.bad5, p5)] {
            dns.insert(&name, if view == View::Agrees { &value } else { &wrong });
        }
        let url = chall["url"].as_str().expect("challenge url");
        let rsp = self
            .account
            .post(url, Some(&json!({})))
            .await
            .or_fail("challenge");
        assert_eq!(rsp.status, 200, "{rsp}");
        let done = self
            .account
            .poll_status(&authz_url, &["pending"])
            .await
            .or_fail("poll authz");
        let order = self.account.post_as_get(&order_url).await.or_fail("order");
        (done, order_url, order.body)
    }

    /// Finalize a ready order; it must become valid with a certificate.
    async fn issue(&self, host: &str, order_url: &str, order: &Value) {
        let name = format!("{host}.{ZONE}");
        assert_eq!(order["status"], "ready", "{order}");
        let (_key, csr_der) = csr(&[&name]).or_fail("csr");
        let rsp = self
            .account
            .finalize(order, &csr_der)
            .await
            .or_fail("finalize");
        assert_eq!(rsp.status, 200, "{rsp}");
        let done = self
            .account
            .poll_status(order_url, &["ready", "processing"])
            .await
            .or_fail("poll order");
        assert_eq!(done.str("status"), Some("valid"), "{done}");
        assert!(done.str("certificate").is_some(), "{done}");
    }
}

/// The error of the authorization's dns-01 challenge.
fn challenge_error(authz: &Resp) -> Value {
    authz.body["challenges"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "dns-01"))
        .map(|c| c["error"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn five_perspectives_corroborate_dissent_and_refuse_strangers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = MpicPki::create(&dir.path().join("pki")).or_fail("test PKI");
    let good = DnsResponder::start(0, ZONE).await.or_fail("good DNS");
    let bad4 = DnsResponder::start(0, ZONE).await.or_fail("DNS of p4");
    let bad5 = DnsResponder::start(0, ZONE).await.or_fail("DNS of p5");
    let plan = [
        ("p1", "ARIN", addr(&good)),
        ("p2", "RIPE", addr(&good)),
        ("p3", "APNIC", addr(&good)),
        ("p4", "LACNIC", addr(&bad4)),
        ("p5", "AFRINIC", addr(&bad5)),
    ];
    let mut perspectives = Vec::new();
    for (id, rir, resolver) in plan {
        let p = Perspective::start(&pki, id, rir, resolver)
            .await
            .or_fail(id);
        perspectives.push(p);
    }
    let listed: Vec<(&str, &str, SocketAddr)> = plan
        .iter()
        .zip(&perspectives)
        .map(|((id, rir, _), p)| (*id, *rir, p.addr))
        .collect();
    let server = HankoServer::start(HankoOptions {
        dns_resolvers: vec![addr(&good)],
        env: vec![(
            "HANKO_VALIDATION__REMOTE".to_string(),
            pki.remote_env(&listed, 5),
        )],
        ..HankoOptions::default()
    })
    .await
    .or_fail("primary");
    let client = AcmeClient::connect(&server).await.or_fail("directory");
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let rig = Rig {
        good,
        bad4,
        bad5,
        account,
    };

    // All six agree: valid, and the certificate is issued.
    let (authz, order_url, order) = rig.validate("all", View::Agrees, View::Agrees).await;
    assert_eq!(authz.str("status"), Some("valid"), "{authz}");
    rig.issue("all", &order_url, &order).await;

    // One dissent of five remotes is allowed: still issues.
    let (authz, order_url, order) = rig.validate("one", View::Dissents, View::Agrees).await;
    assert_eq!(authz.str("status"), Some("valid"), "{authz}");
    rig.issue("one", &order_url, &order).await;

    // Two dissents: invalid, and the problem names both perspectives.
    let (authz, _, order) = rig.validate("two", View::Dissents, View::Dissents).await;
    assert_eq!(authz.str("status"), Some("invalid"), "{authz}");
    assert_eq!(order["status"], "invalid", "{order}");
    let error = challenge_error(&authz);
    let detail = error["detail"].as_str().unwrap_or_default();
    assert_eq!(
        error["type"], "urn:ietf:params:acme:error:unauthorized",
        "{error}"
    );
    assert!(detail.contains("p4") && detail.contains("p5"), "{detail}");
    assert!(!detail.contains("p1 "), "{detail}");

    // A perspective that is down counts as a dissent: p5 stopped + p4 dissenting fails,
    // naming p5 as not answering.
    perspectives[4].stop().await.or_fail("stopping p5");
    let (authz, _, _) = rig.validate("down", View::Dissents, View::Agrees).await;
    assert_eq!(authz.str("status"), Some("invalid"), "{authz}");
    let detail = challenge_error(&authz)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(detail.contains("p4, p5"), "{detail}");
    assert!(
        detail.contains("remote perspective p5 (AFRINIC): request failed"),
        "{detail}"
    );
    // …while p5 down alone is the one allowed dissent.
    let (authz, _, _) = rig.validate("down-only", View::Agrees, View::Agrees).await;
    assert_eq!(authz.str("status"), Some("valid"), "{authz}");

    // A caller without a client certificate is refused in the handshake; with the
    // primary's certificate the same request is answered.
    let url = format!("https://{}/health", perspectives[0].addr);
    let anonymous = pki.client(false).or_fail("client").get(&url).send().await;
    assert!(
        anonymous.is_err(),
        "perspective answered a caller without a certificate"
    );
    let known = pki.client(true).or_fail("client").get(&url).send().await;
    let body = known.expect("health").text().await.expect("body");
    assert!(body.contains(r#""id":"p1""#), "{body}");

    // Per-perspective metrics: p5 (down, then dissenting) has failures counted.
    let metrics = server
        .client()
        .get(format!("{}/metrics", server.base_url()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    assert!(
        metrics.contains(r#"hanko_perspective_failures_total{perspective="p5"}"#),
        "{metrics}"
    );
}

/// Start-up refusals, each a process that exits at once: a perspective with an expired
/// certificate names the key and the file; a primary with a publicly-trusted profile and no
/// remote perspectives names what the date requires (BR 3.2.2.9).
#[tokio::test]
async fn start_up_refuses_expired_credentials_and_too_few_perspectives() {
    use acme_tests::{server::hanko_binary, Cmd};
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = MpicPki::create(&dir.path().join("pki")).or_fail("test PKI");
    pki.leaf_valid("old", rcgen::ExtendedKeyUsagePurpose::ServerAuth, false)
        .or_fail("expired certificate");
    let hanko = hanko_binary().or_fail("hanko binary");
    let out = Cmd::new(&hanko)
        .arg("perspective")
        .env("HANKO_PERSPECTIVE__LISTEN", "127.0.0.1:1")
        .env("HANKO_PERSPECTIVE__ID", "old")
        .env("HANKO_PERSPECTIVE__RIR", "RIPE")
        .env("HANKO_PERSPECTIVE__TLS_CERT", pki.path("old.pem"))
        .env("HANKO_PERSPECTIVE__TLS_KEY", pki.path("old.key"))
        .env("HANKO_PERSPECTIVE__CLIENT_CA", pki.path("ca.pem"))
        .run()
        .await
        .or_fail("hanko perspective");
    let text = out.combined();
    assert!(!out.success(), "{text}");
    assert!(text.contains("perspective.tls_cert"), "{text}");
    assert!(
        text.contains("old.pem") && text.contains("expired"),
        "{text}"
    );

    let out = Cmd::new(&hanko)
        .arg("serve")
        .current_dir(dir.path())
        .env("HANKO_SERVER__LISTEN", "127.0.0.1:1")
        .env("HANKO_SERVER__HTTP_LISTEN", "127.0.0.1:2")
        .env("HANKO_STORAGE__DATA_DIR", dir.path().join("data"))
        .env("HANKO_CA__PROFILES", "{dv = {publicly_trusted = true}}")
        .run()
        .await
        .or_fail("hanko serve");
    let text = out.combined();
    assert!(!out.success(), "{text}");
    assert!(
        text.contains("publicly-trusted profile(s) dv: 0 remote perspectives configured"),
        "{text}"
    );
    // Every missing piece at once, not only the first (DNSSEC is off here too).
    assert!(text.contains("validation.dnssec = \"off\""), "{text}");
}
