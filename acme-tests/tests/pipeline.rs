//! The issuer pipeline end to end (issue #3): HSM keys from `hanko ceremony`, pkilint before
//! every signature, precertificates to RFC 6962 test logs, SCTs embedded in the final
//! certificate. Every precertificate and certificate issued here is also linted by the
//! pkilint CLI, independently of the CA, at WARNING level for its document type.

use acme_tests::acme_client::{leaf_der, Account, AcmeClient, Key};
use acme_tests::ctlog::{LogBehaviour, SubmissionKind};
use acme_tests::fullca::{FullCa, Hierarchy, LogSpec, CP_MANDATED_FINDINGS};
use acme_tests::http01::Http01Responder;
use acme_tests::pki::openssl_verify_chain;
use acme_tests::rig::Rig;
use acme_tests::server::HankoServer;
use anyhow::Result;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// One log down, one slower than its timeout and one answering with an invalid SCT
/// (issue #3 item 6), of three more operators.
fn bad_logs() -> Vec<LogSpec> {
    vec![
        LogSpec::new("down", "Operator C", LogBehaviour::Down),
        LogSpec::new(
            "slow",
            "Operator D",
            LogBehaviour::Slow(Duration::from_secs(30)),
        )
        .timeout_ms(500),
        LogSpec::new("liar", "Operator E", LogBehaviour::InvalidSct),
    ]
}

/// Two good logs from distinct operators (the default CT policy), then the bad ones.
fn five_logs() -> Vec<LogSpec> {
    let mut logs = vec![
        LogSpec::new("good-a", "Operator A", LogBehaviour::Normal),
        LogSpec::new("good-b", "Operator B", LogBehaviour::Normal),
    ];
    logs.extend(bad_logs());
    logs
}

fn csr_for(key: &rcgen::KeyPair, names: &[&str]) -> Vec<u8> {
    acme_tests::pki::csr_der(key, names).expect("CSR")
}

async fn account(server: &HankoServer) -> (Account, Http01Responder) {
    let client = AcmeClient::connect(server).await.expect("directory");
    let account = client.create_account(Key::es256()).await.expect("account");
    let responder = Http01Responder::start(server.http01_port())
        .await
        .expect("http-01 responder");
    (account, responder)
}

/// newOrder with a profile → http-01 → finalize; the final order (any status) and its URL.
async fn order_and_finalize(
    account: &Account,
    responder: &Http01Responder,
    names: &[&str],
    profile: &str,
) -> Result<(Value, String)> {
    let (order, url, _) = account
        .order_and_finalize(responder, names, Some(profile))
        .await?;
    Ok((order.body, url))
}

/// pkilint's findings at WARNING and above, minus those the CP mandates.
fn lint(der: &[u8], cert_type: &str) -> Vec<String> {
    acme_tests::pkilint::lint_serverauth_certificate(der, cert_type)
        .expect("pkilint")
        .into_iter()
        .filter(|f| {
            !CP_MANDATED_FINDINGS
                .iter()
                .any(|(code, _)| f.contains(code))
        })
        .collect()
}

/// `openssl x509 -text` of a DER certificate.
async fn x509_text(dir: &std::path::Path, der: &[u8]) -> String {
    let file = dir.join(format!("{}.der", hex::encode(&Sha256::digest(der)[..8])));
    std::fs::write(&file, der).expect("write");
    let out = acme_tests::process::Cmd::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&file)
        .run_ok()
        .await
        .expect("openssl x509 -text");
    out.stdout
}

/// `openssl x509 -checkend`: true when the certificate is still valid `seconds` from now.
async fn expires_after(dir: &std::path::Path, der: &[u8], seconds: u64) -> bool {
    let file = dir.join("checkend.der");
    std::fs::write(&file, der).expect("write");
    let out = acme_tests::process::Cmd::new("openssl")
        .args([
            "x509",
            "-inform",
            "DER",
            "-noout",
            "-checkend",
            &seconds.to_string(),
            "-in",
        ])
        .arg(&file)
        .run()
        .await
        .expect("openssl x509 -checkend");
    out.success()
}

/// Issue DV, OV and short-lived certificates under `hierarchy` with five logs; check each
/// chain, the embedded SCTs, and lint every precertificate and certificate with pkilint.
async fn issue_every_profile(hierarchy: Hierarchy) {
    let logs = five_logs();
    let ca = FullCa::prepare(hierarchy, &logs).await.expect("CA set-up");
    let server = ca.start(&logs).await.expect("hanko start");
    let (account, responder) = account(&server).await;

    // OV: bind the account to a vetted organisation first (CP 3.2.2.1).
    let out = ca
        .cli(
            &[
                "admin",
                "org",
                "create",
                "--legal-name",
                "Hanko CI KK",
                "--country",
                "JP",
                "--state",
                "Tokyo",
                "--locality",
                "Chiyoda-ku",
                "--source",
                "test registry #1",
            ],
            &logs,
        )
        .run_ok()
        .await
        .expect("admin org create");
    let org_id = out.stdout.trim().to_string();
    let account_id = account
        .kid
        .rsplit('/')
        .next()
        .expect("account id")
        .to_string();
    ca.cli(
        &[
            "admin",
            "org",
            "bind",
            "--account",
            &account_id,
            "--org",
            &org_id,
        ],
        &logs,
    )
    .run_ok()
    .await
    .expect("admin org bind");

    let cases = [
        ("dv", Rig::name("www"), "DV"),
        ("ov", Rig::name("api"), "OV"),
        ("shortlived", Rig::name("http"), "DV"),
    ];
    for (profile, name, level) in &cases {
        let (chain, _) = account
            .issue(&responder, &[name], Some(profile))
            .await
            .unwrap_or_else(|e| panic!("issuance under {profile}: {e:#}"));
        openssl_verify_chain(&ca.root_pem, &chain, &[name], ca.dir(), profile)
            .await
            .unwrap_or_else(|e| panic!("{profile} chain: {e:#}"));
        let leaf = leaf_der(&chain).expect("leaf");
        let findings = lint(&leaf, &format!("{level}-FINAL-CERTIFICATE"));
        assert!(findings.is_empty(), "{profile} certificate: {findings:#?}");
        let text = x509_text(ca.dir(), &leaf).await;
        // RFC 6962 3.3: the SCTs of exactly the two good logs are embedded.
        assert_eq!(
            text.matches("Signed Certificate Timestamp:").count(),
            2,
            "{profile}: {text}"
        );
        if *profile == "dv" {
            auditor_sees_who_corroborated(&ca, &logs, &serial_of(&ca, &leaf).await, name).await;
        }
        if *profile == "ov" {
            assert!(
                text.contains("C = JP, ST = Tokyo, L = Chiyoda-ku, O = Hanko CI KK"),
                "{text}"
            );
        }
        // Short-lived: at most 7 days from 2026-03-15 (dated BR table), so it expires
        // within a week; the others do not.
        let expires_within_a_week = !expires_after(ca.dir(), &leaf, 7 * 86_400).await;
        assert_eq!(
            expires_within_a_week,
            *profile == "shortlived",
            "{profile}: {text}"
        );
    }
    // Every precertificate the logs received lints clean as a precertificate.
    let pre: Vec<Vec<u8>> = ca.logs[0]
        .submissions()
        .into_iter()
        .filter(|s| s.kind == SubmissionKind::Pre)
        .map(|s| s.chain[0].clone())
        .collect();
    assert_eq!(pre.len(), cases.len(), "one precertificate per issuance");
    for (der, (profile, _, level)) in pre.iter().zip(&cases) {
        let findings = lint(der, &format!("{level}-PRE-CERTIFICATE"));
        assert!(
            findings.is_empty(),
            "{profile} precertificate: {findings:#?}"
        );
        assert!(x509_text(ca.dir(), der)
            .await
            .contains("CT Precertificate Poison"));
    }
    // The final certificates follow, best effort (RFC 6962 4.1 add-chain).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let finals = ca.logs[1]
            .submissions()
            .into_iter()
            .filter(|s| s.kind == SubmissionKind::Final)
            .count();
        if finals == cases.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "final certificates logged: {finals}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = ca.cli(&["audit", "verify"], &logs).run_ok().await;
    out.expect("hanko audit verify");
    // CPS 6.2: the start of serve activated the HSM issuing key, and the log says so.
    let out = ca
        .cli(&["audit", "list", "--event", "ca.key_activated"], &logs)
        .run_ok()
        .await
        .expect("hanko audit list");
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(events.len(), 1, "{}", out.stdout);
    assert_eq!(
        events[0]["details"]["hardware_backed"], true,
        "{}",
        out.stdout
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn ecdsa_hierarchy_issues_dv_ov_shortlived_that_lint_clean() {
    issue_every_profile(Hierarchy::Ecdsa).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rsa_hierarchy_issues_dv_ov_shortlived_that_lint_clean() {
    issue_every_profile(Hierarchy::Rsa).await;
}

/// BR 3.2.2.9: for a certificate, `hanko admin serial` shows which perspectives corroborated
/// each name — the primary and the five remote ones (one per RIR), each with its result and
/// its CAA decision.
async fn auditor_sees_who_corroborated(ca: &FullCa, logs: &[LogSpec], serial: &str, name: &str) {
    let record = serial_record(ca, logs, serial).await;
    let validations = record["validations"].as_array().expect("validations");
    assert_eq!(validations.len(), 1, "{record:#}");
    assert_eq!(validations[0]["identifier"], name, "{record:#}");
    let attempts = validations[0]["attempts"].as_array().expect("attempts");
    let mut seen: Vec<(String, String)> = attempts
        .iter()
        .map(|a| {
            assert_eq!(a["result"], "valid", "{a:#}");
            assert_eq!(a["caa"], "permit", "{a:#}");
            let rir = a["rir"].as_str().unwrap_or("-").to_string();
            (
                a["perspective"].as_str().expect("perspective").to_string(),
                rir,
            )
        })
        .collect();
    seen.sort();
    let mut expected: Vec<(String, String)> = ca
        .perspectives
        .iter()
        .zip(acme_tests::fullca::RIRS)
        .map(|(p, rir)| (p.id.clone(), rir.to_string()))
        .collect();
    expected.push(("local".to_string(), "-".to_string()));
    expected.sort();
    assert_eq!(seen, expected, "{record:#}");
}

/// `hanko admin serial <hex>` as JSON.
async fn serial_record(ca: &FullCa, logs: &[LogSpec], serial: &str) -> Value {
    let out = ca
        .cli(&["admin", "serial", serial], logs)
        .run_ok()
        .await
        .expect("hanko admin serial");
    serde_json::from_str(&out.stdout).expect("serial JSON")
}

/// The serial (hex) of a DER certificate, through openssl.
async fn serial_of(ca: &FullCa, der: &[u8]) -> String {
    let text = x509_text(ca.dir(), der).await;
    let mut lines = text.lines();
    lines
        .find(|l| l.trim() == "Serial Number:")
        .and_then(|_| lines.next())
        .map(|l| l.trim().replace(':', ""))
        .expect("serial in openssl output")
}

#[tokio::test(flavor = "multi_thread")]
async fn ct_policy_not_met_fails_the_order_and_keeps_the_precertificate_known() {
    let logs = bad_logs();
    let ca = FullCa::prepare(Hierarchy::Ecdsa, &logs)
        .await
        .expect("CA set-up");
    let server = ca.start(&logs).await.expect("hanko start");
    let (account, responder) = account(&server).await;
    let name = Rig::name("www");
    let (order, _) = order_and_finalize(&account, &responder, &[&name], "dv")
        .await
        .expect("order");
    assert_eq!(order["status"], "invalid", "{order}");
    let detail = order["error"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("Certificate Transparency"), "{order}");
    // The precertificate went out to the invalid-SCT log: the CA must know it, and its
    // serial stays reserved (precertificate only), never failed or reused.
    let submitted = ca.logs[2]
        .submissions()
        .into_iter()
        .find(|s| s.kind == SubmissionKind::Pre)
        .expect("the invalid-SCT log saw the precertificate");
    let precert = &submitted.chain[0];
    let serial = serial_of(&ca, precert).await;
    let record = serial_record(&ca, &logs, &serial).await;
    assert_eq!(record["status"], "reserved", "{record}");
    assert_eq!(
        record["precertificate_sha256"],
        hex::encode(Sha256::digest(precert)),
        "{record}"
    );
    assert!(record["certificate_sha256"].is_null(), "{record}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lint_error_blocks_issuance_before_any_real_signature() {
    let logs = five_logs();
    let ca = FullCa::prepare(Hierarchy::Ecdsa, &logs)
        .await
        .expect("CA set-up");
    // An internal name in the CPS URI: pkilint's cabf.internal_domain_name (ERROR).
    let mut opts = ca.options(&logs);
    opts.env.push((
        "HANKO_CA__CPS_URI".into(),
        "https://cps.hanko.internal/cps".into(),
    ));
    std::fs::create_dir_all(ca.work_dir()).expect("dir");
    let server = HankoServer::start(opts).await.expect("hanko start");
    let (account, responder) = account(&server).await;
    let name = Rig::name("www");
    let (order, _) = order_and_finalize(&account, &responder, &[&name], "dv")
        .await
        .expect("order");
    assert_eq!(order["status"], "invalid", "{order}");
    let detail = order["error"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("pre-issuance linting"), "{order}");
    assert!(detail.contains("cabf.internal_domain_name"), "{order}");
    // Nothing reached a log: the issuer's key signed nothing.
    for log in &ca.logs {
        assert!(
            log.submissions().is_empty(),
            "{} saw a submission",
            log.name()
        );
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_between_precertificate_and_certificate_recovers_cleanly() {
    // Both logs hold their answer long enough for the test to kill the CA while it waits,
    // i.e. after the precertificate is signed and before the final certificate.
    let logs = vec![
        LogSpec::new(
            "slow-a",
            "Operator A",
            LogBehaviour::Slow(Duration::from_secs(60)),
        )
        .timeout_ms(120_000),
        LogSpec::new(
            "slow-b",
            "Operator B",
            LogBehaviour::Slow(Duration::from_secs(60)),
        )
        .timeout_ms(120_000),
    ];
    let ca = FullCa::prepare(Hierarchy::Ecdsa, &logs)
        .await
        .expect("CA set-up");
    let server = ca.start(&logs).await.expect("hanko start");
    let (account, responder) = account(&server).await;
    let name = Rig::name("www");
    let url = account.client.url("newOrder");
    let rsp = account
        .post(
            &url,
            Some(&json!({"identifiers": [{"type": "dns", "value": name}]})),
        )
        .await
        .expect("newOrder");
    let order_url = rsp.location().expect("order URL").to_string();
    let order = account
        .make_ready(&responder, &order_url)
        .await
        .expect("ready");
    let key = rcgen::KeyPair::generate().expect("key");
    let finalize_url = order["finalize"]
        .as_str()
        .expect("finalize URL")
        .to_string();
    let csr = csr_for(&key, &[&name]);
    // finalize waits up to 5 s for issuance; the logs take 60 s, so it answers processing.
    let rsp = account
        .post(
            &finalize_url,
            Some(&json!({"csr": acme_tests::acme_client::b64(&csr)})),
        )
        .await
        .expect("finalize");
    assert_eq!(rsp.status, 200, "{rsp}");
    assert_eq!(rsp.str("status"), Some("processing"), "{rsp}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let precert = loop {
        if let Some(s) = ca.logs[0].submissions().into_iter().next() {
            break s.chain[0].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no precertificate reached the log"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let port = server.port();
    server.kill().expect("SIGKILL");

    // The crash left a precertificate the world has seen; the database knows it.
    let serial = serial_of(&ca, &precert).await;
    let record = serial_record(&ca, &logs, &serial).await;
    assert_eq!(record["status"], "reserved", "{record}");
    assert_eq!(
        record["precertificate_sha256"],
        hex::encode(Sha256::digest(&precert)),
        "{record}"
    );
    assert!(record["certificate_sha256"].is_null(), "{record}");

    // Restart: recovery fails the order cleanly; the serial stays reserved.
    let server = ca.restart(&logs, port).await.expect("hanko restart");
    let client = AcmeClient::connect(&server).await.expect("directory");
    let account = Account {
        client,
        key: account.key,
        kid: account.kid,
    };
    let order = account
        .poll_status(&order_url, &["processing"])
        .await
        .expect("order after restart");
    assert_eq!(order.str("status"), Some("invalid"), "{order}");
    let record = serial_record(&ca, &logs, &serial).await;
    assert_eq!(record["status"], "reserved", "{record}");
    assert!(record["certificate_sha256"].is_null(), "{record}");
    ca.cli(&["audit", "verify"], &logs)
        .run_ok()
        .await
        .expect("hanko audit verify");
    drop(server);
}
