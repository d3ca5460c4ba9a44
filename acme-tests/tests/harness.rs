//! Self-tests of the harness parts that do not need hanko: BIND9 with RFC 2136 updates, the
//! http-01 responder, command timeouts. If these fail, client-test failures mean nothing.

use acme_tests::OrFail;
use acme_tests::{Bind9, Cmd, HankoOptions, HankoServer, Http01Responder, Zone};
use std::time::{Duration, Instant};

#[tokio::test]
async fn bind9_serves_zone_and_accepts_tsig_updates() {
    let bind = Bind9::start(&[Zone::new("hanko-ci.com").hosts(["www"])])
        .await
        .or_fail("BIND9 start");

    // Static data: apex, explicit host, wildcard.
    for name in ["hanko-ci.com", "www.hanko-ci.com", "anything.hanko-ci.com"] {
        let a = bind.query(name, "A").await.expect("dig A");
        assert_eq!(a, vec!["127.0.0.1".to_string()], "A record of {name}");
    }
    // The parent zone answers (NODATA) instead of REFUSED, for CAA tree climbing.
    let out = Cmd::new("dig")
        .arg("@127.0.0.1")
        .arg("-p")
        .arg(bind.port().to_string())
        .args(["+time=2", "+tries=2", "com.", "CAA"])
        .timeout(Duration::from_secs(15))
        .run_ok()
        .await
        .expect("dig com CAA");
    assert!(
        out.stdout.contains("status: NOERROR"),
        "com. CAA should be NOERROR/NODATA:\n{out}"
    );

    // RFC 2136 update signed with the TSIG key, then read back.
    let name = "_acme-challenge.www.hanko-ci.com";
    bind.nsupdate(&format!(
        "zone hanko-ci.com\nupdate add {name} 60 TXT \"token-value-1\""
    ))
    .await
    .or_fail("signed nsupdate");
    let txt = bind.query(name, "TXT").await.expect("dig TXT");
    assert_eq!(txt, vec!["\"token-value-1\"".to_string()]);
    // Client tests look for this line to prove a dns-01 record went through RFC 2136.
    let log = bind.log_tail(500);
    assert!(
        log.contains(&format!("adding an RR at '{name}' TXT")),
        "named log format changed:\n{log}"
    );

    // The explicit host still resolves although `_acme-challenge.www` now exists.
    let a = bind.query("www.hanko-ci.com", "A").await.expect("dig A");
    assert_eq!(a, vec!["127.0.0.1".to_string()]);

    // Delete again, as clients do in cleanup.
    bind.nsupdate(&format!("zone hanko-ci.com\nupdate delete {name} TXT"))
        .await
        .or_fail("signed delete");
    assert!(bind.query(name, "TXT").await.expect("dig TXT").is_empty());
}

#[tokio::test]
async fn bind9_refuses_unsigned_updates() {
    let bind = Bind9::start(&[Zone::new("hanko-ci.com")])
        .await
        .or_fail("BIND9 start");
    let script = bind.work_dir().join("unsigned.txt");
    std::fs::write(
        &script,
        format!(
            "server 127.0.0.1 {}\nzone hanko-ci.com\nupdate add evil.hanko-ci.com 60 TXT \"x\"\nsend\n",
            bind.port()
        ),
    )
    .expect("write nsupdate script");
    let out = Cmd::new("nsupdate")
        .arg("-t")
        .arg("10")
        .arg(&script)
        .timeout(Duration::from_secs(30))
        .run()
        .await
        .expect("nsupdate runs");
    assert!(!out.success(), "unsigned update must be refused:\n{out}");
    assert!(
        out.combined().contains("REFUSED"),
        "expected REFUSED:\n{out}"
    );
    assert!(bind
        .query("evil.hanko-ci.com", "TXT")
        .await
        .expect("dig TXT")
        .is_empty());
}

#[tokio::test]
async fn two_bind9_instances_run_side_by_side() {
    let a = Bind9::start(&[Zone::new("hanko-ci.com")])
        .await
        .or_fail("first BIND9");
    let b = Bind9::start(&[Zone::new("hanko-ci.com")])
        .await
        .or_fail("second BIND9");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.tsig().secret, b.tsig().secret);
}

#[tokio::test]
async fn http01_responder_serves_tokens() {
    acme_tests::init_crypto();
    let port = acme_tests::free_tcp_port().expect("free port");
    let responder = Http01Responder::start(port).await.expect("responder");
    responder.insert("tok", "tok.thumb");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{port}/.well-known/acme-challenge/tok");
    let rsp = client.get(&url).send().await.expect("GET token");
    assert_eq!(rsp.status(), 200);
    assert_eq!(rsp.text().await.expect("body"), "tok.thumb");
    let missing = format!("http://127.0.0.1:{port}/.well-known/acme-challenge/nope");
    assert_eq!(
        client.get(&missing).send().await.expect("GET").status(),
        404
    );
    assert_eq!(responder.requests().len(), 2);
}

#[tokio::test]
async fn cmd_timeout_kills_and_keeps_output() {
    let started = Instant::now();
    let out = Cmd::new("sh")
        .args(["-c", "echo before; sleep 30"])
        .timeout(Duration::from_secs(1))
        .run()
        .await
        .expect("sh runs");
    assert!(out.status.is_none(), "should have timed out: {out}");
    assert!(out.stdout.contains("before"));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(out.ok().is_err());
}

fn fake_hanko() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-hanko.sh")
}

#[tokio::test]
async fn server_harness_waits_for_tls_health_and_stops() {
    let opts = HankoOptions {
        binary: Some(fake_hanko()),
        dns_resolvers: vec!["127.0.0.1:5353".parse().expect("addr")],
        ..HankoOptions::default()
    };
    let server = HankoServer::start(opts)
        .await
        .or_fail("stand-in server start");
    assert!(server.root_pem_path().is_file());
    assert!(server.directory_url().starts_with("https://127.0.0.1:"));
    // The client verifies the server against root.pem only (no system roots).
    let rsp = server
        .client()
        .get(format!("{}/health", server.base_url()))
        .send()
        .await
        .expect("GET /health over verified TLS");
    assert_eq!(rsp.status(), 200);
    let log = std::fs::read_to_string(server.log_path()).expect("server log");
    assert!(
        log.contains("resolvers=[\"127.0.0.1:5353\"]"),
        "environment reaches the server: {log}"
    );
    let scratch = server.scratch_dir().to_owned();
    drop(server);
    assert!(!scratch.exists(), "temporary directory removed on drop");
}

#[tokio::test]
async fn server_harness_reports_early_exit_with_log() {
    let opts = HankoOptions {
        binary: Some(fake_hanko()),
        env: vec![("FAKE_HANKO_FAIL".to_string(), "1".to_string())],
        ..HankoOptions::default()
    };
    let started = Instant::now();
    let err = match HankoServer::start(opts).await {
        Ok(_) => panic!("a server that exits must not count as started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("exited during start-up"), "{err}");
    assert!(
        err.contains("failing on purpose"),
        "log tail in the error: {err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "fails fast");
}
