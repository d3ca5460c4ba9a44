//! Smoke tests of the `hanko-load` binary: 20 complete issuances (with some revocations)
//! against a harness-started hanko, with http-01 (the test zone resolved by BIND9) and with
//! dns-01 (hanko-load's own DNS responder as hanko's resolver). Checks the CSV
//! (one row per issuance, all successful, distinct serials), the certificate side file, that
//! every certificate in it is downloadable from the server byte for byte, and the chart.

use acme_tests::acme_client::{AcmeClient, Key};
use acme_tests::ports::{free_tcp_port, free_tcp_udp_port};
use acme_tests::server::{HankoOptions, HankoServer};
use acme_tests::{OrFail, Rig, RigOptions};
use anyhow::{ensure, Context, Result};
use serde_json::Value;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

const ISSUANCES: usize = 20;

#[tokio::test]
async fn hanko_load_issues_and_every_certificate_is_downloadable() {
    let rig = Rig::start(RigOptions::default())
        .await
        .or_fail("test rig start");
    let http01_port = rig.server.http01_port().to_string();
    run_and_check(
        &rig.server,
        &rig.root_pem(),
        &rig.client_dir("hanko-load").or_fail("scratch directory"),
        &["--http01-port", &http01_port],
    )
    .await;
}

/// dns-01 through hanko-load's own DNS responder, which is hanko's only resolver here: no
/// BIND9, so every validation (and hanko's view of the zone) comes from hanko-load.
#[tokio::test]
async fn hanko_load_answers_dns01_with_its_own_dns_responder() {
    let dns_port = free_tcp_udp_port().or_fail("free DNS port");
    let server = HankoServer::start(HankoOptions {
        dns_resolvers: vec![SocketAddr::from(([127, 0, 0, 1], dns_port))],
        ..HankoOptions::default()
    })
    .await
    .or_fail("hanko start");
    let dir = tempfile::tempdir()
        .context("scratch directory")
        .or_fail("scratch directory");
    let dns_port = dns_port.to_string();
    // hanko-load always opens its http-01 responder: a free port, not the fixed default.
    let http01_port = free_tcp_port().or_fail("free http-01 port").to_string();
    run_and_check(
        &server,
        &server.root_pem_path(),
        dir.path(),
        &[
            "--challenge",
            "dns-01",
            "--dns-port",
            &dns_port,
            "--http01-port",
            &http01_port,
        ],
    )
    .await;
}

/// Run ISSUANCES issuances with `extra` flags; check the report, CSV, side file and chart.
async fn run_and_check(server: &HankoServer, root: &Path, dir: &Path, extra: &[&str]) {
    let (csv, png) = (dir.join("run.csv"), dir.join("run.png"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hanko-load"))
        .arg("--directory")
        .arg(server.directory_url())
        .arg("--ca-bundle")
        .arg(root)
        .args(extra)
        .args([
            "--subscribers",
            "4",
            "--names",
            "2",
            "--revoke-fraction",
            "0.25",
        ])
        .args(["--issuances", &ISSUANCES.to_string()])
        .arg("--csv")
        .arg(&csv)
        .arg("--png")
        .arg(&png)
        .output()
        .await
        .context("running hanko-load")
        .or_fail("hanko-load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "hanko-load failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("issuances: {ISSUANCES} ok, 0 failed")),
        "report:\n{stdout}"
    );
    let serials = check_csv(&csv).or_fail("checking the CSV");
    check_certificates(server, &dir.join("run.certs.jsonl"), &serials)
        .await
        .or_fail("checking the certificates");
    let png = std::fs::read(&png)
        .context("reading the chart")
        .or_fail("chart");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the chart is not a PNG"
    );
}

/// Every row successful with all step latencies; returns the serials (all distinct).
fn check_csv(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("empty CSV")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .context(name.to_string())
    };
    let (outcome, serial, url) = (col("outcome")?, col("serial")?, col("certificate_url")?);
    let steps = [
        "new_account_ms",
        "new_order_ms",
        "authz_ms",
        "challenge_valid_ms",
        "finalize_ms",
        "certificate_ready_ms",
        "download_ms",
        "end_to_end_ms",
    ]
    .into_iter()
    .map(col)
    .collect::<Result<Vec<usize>>>()?;
    let mut serials = HashSet::new();
    let mut rows = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        ensure!(
            f.len() == header.len(),
            "row with {} fields: {line}",
            f.len()
        );
        ensure!(f[outcome] == "ok", "failed issuance: {line}");
        for step in &steps {
            let ms: f64 = f[*step]
                .parse()
                .with_context(|| format!("latency in {line}"))?;
            ensure!(ms >= 0.0, "negative latency in {line}");
        }
        ensure!(
            f[url].ends_with(&format!("/{}", f[serial])),
            "certificate URL does not name the serial: {line}"
        );
        ensure!(
            serials.insert(f[serial].to_string()),
            "serial used twice: {line}"
        );
        rows += 1;
    }
    ensure!(rows == ISSUANCES, "{rows} CSV rows, want {ISSUANCES}");
    Ok(serials)
}

/// The side file holds exactly the CSV's serials, and the server returns each chain as the
/// load generator received it.
async fn check_certificates(
    server: &HankoServer,
    path: &Path,
    serials: &HashSet<String>,
) -> Result<()> {
    let client = AcmeClient::connect(server).await?;
    let account = client.create_account(Key::es256()).await?;
    let mut seen = HashSet::new();
    let mut revoked = 0;
    for line in std::fs::read_to_string(path)?.lines() {
        let cert: Value = serde_json::from_str(line)?;
        let serial = cert["serial"].as_str().context("serial")?;
        let url = cert["certificate_url"].as_str().context("URL")?;
        let chain = cert["chain_pem"].as_str().context("chain")?;
        ensure!(serials.contains(serial), "{serial} is not in the CSV");
        ensure!(
            seen.insert(serial.to_string()),
            "{serial} twice in the side file"
        );
        revoked += usize::from(cert["revoked"] == Value::Bool(true));
        let rsp = account.post_as_get(url).await?;
        ensure!(rsp.status == 200, "downloading {serial}:\n{rsp}");
        ensure!(rsp.text == chain, "{serial}: the server's chain differs");
    }
    ensure!(
        seen.len() == serials.len(),
        "{} certificates in the side file",
        seen.len()
    );
    eprintln!(
        "{} certificates downloadable, {revoked} revoked",
        seen.len()
    );
    Ok(())
}
