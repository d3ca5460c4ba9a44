//! OCSP responder (RFC 6960, RFC 5019; CP 4.9.9, 4.9.10, 7.3) against the real binary and
//! the `openssl ocsp` CLI: good, revoked (time and reason), `unauthorized` for unused
//! serials, GET and POST, caching headers, delegated responders and their rotation.

use acme_tests::acme_client::{b64, leaf_der, Account, AcmeClient};
use acme_tests::http01::Http01Responder;
use acme_tests::rig::{Rig, RigOptions};
use acme_tests::server::HankoOptions;
use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

async fn start(env: &[(&str, &str)]) -> Result<(Rig, Account, Http01Responder)> {
    start_on(env, None).await
}

async fn start_on(
    env: &[(&str, &str)],
    postgres_url: Option<String>,
) -> Result<(Rig, Account, Http01Responder)> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !env.iter().any(|(k, _)| k == "HANKO_OCSP__POLL_SECONDS") {
        env.push(("HANKO_OCSP__POLL_SECONDS".into(), "1".into()));
    }
    let hanko = HankoOptions {
        env,
        postgres_url,
        ..Default::default()
    };
    let rig = Rig::start(RigOptions {
        hanko,
        ..Default::default()
    })
    .await?;
    let client = AcmeClient::connect(&rig.server).await?;
    let account = client
        .create_account(acme_tests::acme_client::Key::es256())
        .await?;
    let responder = Http01Responder::start(rig.server.http01_port()).await?;
    Ok((rig, account, responder))
}

/// Files the openssl CLI needs: the issuer (PEM) and the root as CAfile.
struct Pki {
    dir: PathBuf,
    issuer: PathBuf,
    root: PathBuf,
}

async fn pki(rig: &Rig) -> Result<Pki> {
    let dir = rig.client_dir("ocsp")?;
    let der = reqwest::get(rig.server.status_url("/ca/issuer.der"))
        .await?
        .bytes()
        .await?;
    let issuer_der = dir.join("issuer.der");
    std::fs::write(&issuer_der, &der)?;
    let issuer = dir.join("issuer.pem");
    run(Command::new("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(&issuer_der)
        .arg("-out")
        .arg(&issuer))?;
    Ok(Pki {
        dir,
        issuer,
        root: rig.root_pem(),
    })
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().context("running openssl")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{cmd:?} failed:\n{text}");
    }
    Ok(text)
}

/// `openssl ocsp` POST for a serial (hex), verified against the issuer chain.
fn post_status(pki: &Pki, url: &str, serial_hex: &str) -> Result<String> {
    run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-resp_text", "-issuer"])
        .arg(&pki.issuer)
        .args(["-CAfile"])
        .arg(&pki.root)
        .args(["-serial", &format!("0x{serial_hex}"), "-url", url]))
}

/// GET: the request from `openssl ocsp -reqout`, base64 in the path; returns the response
/// headers and the `openssl ocsp -respin` verification text.
async fn get_status(
    pki: &Pki,
    base: &str,
    serial_hex: &str,
) -> Result<(reqwest::header::HeaderMap, String, Vec<u8>)> {
    let req = pki.dir.join(format!("{serial_hex}.req"));
    run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(&pki.issuer)
        .args(["-serial", &format!("0x{serial_hex}"), "-reqout"])
        .arg(&req))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&req)?);
    let encoded = b64
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D");
    let resp = reqwest::get(format!("{base}/{encoded}")).await?;
    if resp.status() != 200 {
        bail!("GET status {}", resp.status());
    }
    let headers = resp.headers().clone();
    let body = resp.bytes().await?.to_vec();
    let respin = pki.dir.join(format!("{serial_hex}.resp"));
    std::fs::write(&respin, &body)?;
    let text = run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-resp_text", "-respin"])
        .arg(&respin)
        .args(["-reqin"])
        .arg(&req)
        .arg("-issuer")
        .arg(&pki.issuer)
        .arg("-CAfile")
        .arg(&pki.root))?;
    Ok((headers, text, body))
}

fn serial_of(chain_pem: &str) -> Result<(String, Vec<u8>)> {
    let der = leaf_der(chain_pem)?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&der).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((hex::encode(cert.raw_serial()), der))
}

async fn poll(what: &str, mut f: impl AsyncFnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    loop {
        if f().await? {
            return Ok(());
        }
        if start.elapsed() > DEADLINE {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn good_revoked_and_unauthorized_over_get_and_post() -> Result<()> {
    statuses(start(&[]).await?).await
}

#[tokio::test(flavor = "multi_thread")]
async fn good_revoked_and_unauthorized_on_postgres() -> Result<()> {
    let Some(url) = acme_tests::postgres::fresh_database().await? else {
        eprintln!(
            "SKIPPED good_revoked_and_unauthorized_on_postgres: {} is not set; run \
             scripts/test.sh for the PostgreSQL battery",
            acme_tests::postgres::POSTGRES_URL_ENV
        );
        return Ok(());
    };
    statuses(start_on(&[], Some(url)).await?).await
}

/// CP 4.9.10: a revocation is re-signed at once, not at the pre-signer's next poll: with a
/// one-hour poll the revoked status still shows up within the deadline.
#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_is_signed_at_once_not_at_the_next_poll() -> Result<()> {
    let (rig, account, responder) = start(&[("HANKO_OCSP__POLL_SECONDS", "3600")]).await?;
    let pki = pki(&rig).await?;
    let url = rig.server.status_url("/ocsp");
    let (chain, _key) = account
        .issue(&responder, &[&Rig::name("www")], None)
        .await?;
    let (serial, der) = serial_of(&chain)?;
    // Signed on demand: nothing else would sign it within the hour.
    let text = post_status(&pki, &url, &serial)?;
    assert!(text.contains(": good"), "{text}");
    let last = revoke_and_await(&account, &pki, &url, &serial, &der, 4).await?;
    assert!(last.contains("Reason: superseded"), "{last}");
    Ok(())
}

/// Revoke through ACME with `reason`, then poll POST until OCSP says revoked; returns the
/// `openssl ocsp` text of that answer.
async fn revoke_and_await(
    account: &Account,
    pki: &Pki,
    url: &str,
    serial: &str,
    der: &[u8],
    reason: u8,
) -> Result<String> {
    let revoke = account.client.url("revokeCert");
    let r = account
        .post(
            &revoke,
            Some(&json!({"certificate": b64(der), "reason": reason})),
        )
        .await?;
    assert_eq!(r.status, 200, "{r}");
    let mut last = String::new();
    poll("the revoked status", async || {
        last = post_status(pki, url, serial)?;
        Ok(last.contains(": revoked"))
    })
    .await?;
    Ok(last)
}

async fn statuses((rig, account, responder): (Rig, Account, Http01Responder)) -> Result<()> {
    let pki = pki(&rig).await?;
    let url = rig.server.status_url("/ocsp");
    let (chain, _key) = account
        .issue(&responder, &[&Rig::name("www")], None)
        .await?;
    let (serial, der) = serial_of(&chain)?;

    // Good by POST once pre-signed (or signed on demand), verified against the root.
    let text = post_status(&pki, &url, &serial)?;
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains(": good"), "{text}");
    assert!(!text.contains("Nonce"), "{text}");

    // GET: same status, and caching headers that match nextUpdate (RFC 5019 6.2).
    let (headers, text, body) = get_status(&pki, &url, &serial).await?;
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(h("content-type"), "application/ocsp-response");
    let cc = h("cache-control");
    assert!(
        cc.contains("public") && cc.contains("no-transform") && cc.contains("must-revalidate"),
        "{cc}"
    );
    let max_age: i64 = cc
        .split(',')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .context("max-age")?
        .parse()?;
    let next_update = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Next Update: "))
        .context("Next Update")?;
    let expires = httpdate_secs(&h("expires"))?;
    assert_eq!(
        expires,
        openssl_time_secs(next_update)?,
        "Expires = nextUpdate"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    assert!(
        (expires - now - max_age).abs() <= 5,
        "max-age {max_age} vs Expires {expires}"
    );
    assert!(!h("etag").is_empty() && !h("last-modified").is_empty());
    lint_ocsp(&pki, &body)?;

    // A random serial never issued: unauthorized, counted in metrics.
    let unused = format!("7f{}", hex::encode(rand::random::<[u8; 17]>()));
    let out = post_status(&pki, &url, &unused);
    let text = match out {
        Ok(t) => t,
        Err(e) => e.to_string(),
    };
    assert!(text.contains("unauthorized"), "{text}");
    let metrics = rig
        .server
        .client()
        .get(format!("{}/metrics", rig.server.base_url()))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("hanko_ocsp_unknown_serial_requests_total") && !l.ends_with(" 0")
        ),
        "{metrics}"
    );
    assert!(
        rig.server.log_tail(400).contains(&unused),
        "the unused serial is logged"
    );

    // Garbage: malformedRequest, not a 500.
    let resp = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/ocsp-request")
        .body(vec![0x30, 0x01])
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.bytes().await?.as_ref(),
        &[0x30, 0x03, 0x0a, 0x01, 0x01]
    );

    // Revoke (keyCompromise by the account): visible promptly with time and reason.
    let last = revoke_and_await(&account, &pki, &url, &serial, &der, 1).await?;
    assert!(last.contains("Revocation Time:"), "{last}");
    assert!(last.contains("Reason: keyCompromise"), "{last}");
    let (_, text, body) = get_status(&pki, &url, &serial).await?;
    assert!(text.contains(": revoked"), "{text}");
    // No reasonCode in singleExtensions: the only reason is RevokedInfo's.
    assert!(!text.contains("CRL Reason Code"), "{text}");
    lint_ocsp(&pki, &body)?;
    Ok(())
}

/// pkilint `lint_ocsp_response`: nothing at WARNING or above.
fn lint_ocsp(pki: &Pki, der: &[u8]) -> Result<()> {
    let python = acme_tests::pkilint::python()?;
    let path = pki.dir.join("lint.ocsp");
    std::fs::write(&path, der)?;
    let out = Command::new(python)
        .args([
            "-m",
            "pkilint.bin.lint_ocsp_response",
            "lint",
            "-s",
            "WARNING",
            "--document-format",
            "DER",
        ])
        .arg(&path)
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "pkilint: {text}"
    );
    Ok(())
}

fn httpdate_secs(s: &str) -> Result<i64> {
    Ok(chrono::DateTime::parse_from_rfc2822(&s.replace("GMT", "+0000"))?.timestamp())
}

/// openssl prints `Nov 28 08:00:00 2026 GMT`.
fn openssl_time_secs(s: &str) -> Result<i64> {
    let t = chrono::NaiveDateTime::parse_from_str(
        s.trim().trim_end_matches(" GMT"),
        "%b %e %H:%M:%S %Y",
    )?;
    Ok(t.and_utc().timestamp())
}

#[tokio::test(flavor = "multi_thread")]
async fn delegated_responder_signs_and_is_rotated_near_expiry() -> Result<()> {
    let env = [
        ("HANKO_OCSP__SIGNER", "delegated"),
        ("HANKO_OCSP__RESPONDER_VALIDITY_DAYS", "10"),
        ("HANKO_OCSP__RESPONDER_ROTATE_DAYS", "5"),
    ];
    let (rig, account, responder) = start(&env).await?;
    let pki = pki(&rig).await?;
    let url = rig.server.status_url("/ocsp");
    let (chain, _) = account
        .issue(&responder, &[&Rig::name("api")], None)
        .await?;
    let (serial, _) = serial_of(&chain)?;
    let (_, text, body) = get_status(&pki, &url, &serial).await?;
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );
    let first = responder_serial(&body)?;
    lint_ocsp(&pki, &body)?;
    // `hanko admin ocsp refresh --all`, a second process on the same data, where 10 days
    // left is fewer than the 15 to keep: it rotates the responder and re-signs with it.
    let out = acme_tests::process::Cmd::new(acme_tests::server::hanko_binary()?)
        .args(["admin", "ocsp", "refresh", "--all"])
        .env("HANKO_STORAGE__DATA_DIR", rig.server.data_dir())
        .env("HANKO_OCSP__SIGNER", "delegated")
        .env("HANKO_OCSP__RESPONDER_VALIDITY_DAYS", "30")
        .env("HANKO_OCSP__RESPONDER_ROTATE_DAYS", "15")
        .timeout(Duration::from_secs(120))
        .run()
        .await?;
    assert_eq!(out.status.and_then(|s| s.code()), Some(0), "{out}");
    assert!(out.stdout.contains("signed"), "{out}");
    // The serving process picks up another process's re-signing within about a second.
    let (mut text, mut body, mut second) = (String::new(), Vec::new(), first.clone());
    poll("responses of the rotated responder", async || {
        (_, text, body) = get_status(&pki, &url, &serial).await?;
        second = responder_serial(&body)?;
        Ok(second != first)
    })
    .await?;
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );
    assert_ne!(
        first, second,
        "a new responder certificate signs after rotation"
    );
    lint_ocsp(&pki, &body)?;
    drop(responder);
    rig.server.stop(Duration::from_secs(10))?;
    Ok(())
}

/// The serial of the responder certificate embedded in a response (`certs`).
fn responder_serial(der: &[u8]) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("r.der");
    std::fs::write(&path, der)?;
    let text = run(Command::new("openssl")
        .args(["ocsp", "-noverify", "-resp_text", "-respin"])
        .arg(&path))?;
    let serial = text
        .lines()
        .skip_while(|l| l.trim() != "Serial Number:")
        .nth(1)
        .map(|l| l.trim().to_string());
    serial.context(format!("no responder certificate in response:\n{text}"))
}
