//! certbot (Debian's) against hanko: http-01 with the standalone authenticator, dns-01 via
//! RFC 2136 updates into the rig's BIND9, and revocation. Every issued chain is checked
//! with `openssl verify` against the development root.

use acme_tests::clients::Certbot;
use acme_tests::pki::openssl_verify_files;
use acme_tests::OrFail;
use acme_tests::{openssl_verify_chain, Rig, RigOptions};
use anyhow::{ensure, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Check the lineage certbot saved: fullchain as served, and cert + chain files.
async fn verify_lineage(
    certbot: &Certbot,
    cert_name: &str,
    names: &[&str],
    work: &Path,
) -> Result<()> {
    let live = certbot.live(cert_name);
    let fullchain = std::fs::read_to_string(live.join("fullchain.pem"))
        .with_context(|| format!("reading {}/fullchain.pem", live.display()))?;
    openssl_verify_chain(&certbot.root_pem, &fullchain, names, work, cert_name).await?;
    openssl_verify_files(
        &certbot.root_pem,
        &live.join("chain.pem"),
        &live.join("cert.pem"),
    )
    .await
}

#[tokio::test]
async fn certbot_http01_standalone_then_revoke() {
    let rig = Rig::start(RigOptions::default())
        .await
        .or_fail("test rig start");
    http01_then_revoke(&rig)
        .await
        .or_fail("certbot http-01 issuance and revocation");
}

async fn http01_then_revoke(rig: &Rig) -> Result<()> {
    let certbot = Certbot::new(rig, "certbot-http01")?;
    let names = [Rig::name("www"), Rig::name("api")];
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let port = rig.server.http01_port().to_string();
    let mut cmd = certbot
        .cmd("certonly")
        .args(["--standalone", "--preferred-challenges", "http"])
        .args(["--http-01-port", &port, "--http-01-address", "127.0.0.1"])
        .args(["--cert-name", "http01"]);
    for name in &names {
        cmd = cmd.args(["-d", name]);
    }
    certbot.run(cmd, "certbot certonly --standalone").await?;
    verify_lineage(&certbot, "http01", &names, rig.scratch_dir()).await?;

    let cert_path = certbot.live("http01").join("cert.pem");
    certbot
        .cmd("revoke")
        .arg("--cert-path")
        .arg(&cert_path)
        .args(["--reason", "keycompromise", "--no-delete-after-revoke"])
        .run_ok()
        .await
        .context("certbot revoke")?;

    // Revoking again must be refused with alreadyRevoked (RFC 8555 7.6): proof that the
    // first revocation was recorded, not just acknowledged.
    let again = certbot
        .cmd("revoke")
        .arg("--cert-path")
        .arg(&cert_path)
        .args(["--reason", "keycompromise", "--no-delete-after-revoke"])
        .run()
        .await?;
    let seen = format!("{}\n{}", again.combined(), certbot.log()).to_ascii_lowercase();
    ensure!(
        !again.success() && (seen.contains("alreadyrevoked") || seen.contains("already revoked")),
        "second revocation should fail with alreadyRevoked:\n{again}"
    );
    Ok(())
}

#[tokio::test]
async fn certbot_dns01_rfc2136() {
    let rig = Rig::start(RigOptions::default())
        .await
        .or_fail("test rig start");
    dns01_rfc2136(&rig)
        .await
        .or_fail("certbot dns-01 (RFC 2136) issuance");
}

async fn dns01_rfc2136(rig: &Rig) -> Result<()> {
    let certbot = Certbot::new(rig, "certbot-dns01")?;
    let credentials = certbot.dir.join("rfc2136.ini");
    let key = rig.bind.tsig();
    std::fs::write(
        &credentials,
        format!(
            "dns_rfc2136_server = 127.0.0.1\n\
             dns_rfc2136_port = {port}\n\
             dns_rfc2136_name = {name}\n\
             dns_rfc2136_secret = {secret}\n\
             dns_rfc2136_algorithm = HMAC-SHA256\n",
            port = rig.bind.port(),
            name = key.name,
            secret = key.secret,
        ),
    )
    .context("writing certbot RFC 2136 credentials")?;
    // certbot warns about (and a future version refuses) world-readable credentials.
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600))
        .context("chmod 600 credentials")?;

    // Two names in one order (hanko's CP 3.2.2.6 excludes wildcards, so no `*.`).
    let (base, other) = (Rig::name("dns"), Rig::name("certbot"));
    let names = [base.as_str(), other.as_str()];
    let cmd = certbot
        .cmd("certonly")
        .args(["--dns-rfc2136", "--dns-rfc2136-credentials"])
        .arg(&credentials)
        .args(["--dns-rfc2136-propagation-seconds", "1"])
        .args(["--preferred-challenges", "dns"])
        .args(["--cert-name", "dns01"])
        .args(["-d", &base, "-d", &other]);
    certbot.run(cmd, "certbot certonly --dns-rfc2136").await?;
    verify_lineage(&certbot, "dns01", &names, rig.scratch_dir()).await?;

    // The records really went through RFC 2136 into our BIND (and were cleaned up).
    let log = rig.bind.log_tail(2000);
    ensure!(
        log.contains(&format!("adding an RR at '_acme-challenge.{base}' TXT")),
        "BIND log shows no TXT update for _acme-challenge.{base}:\n{log}"
    );
    let left = rig
        .bind
        .query(&format!("_acme-challenge.{base}"), "TXT")
        .await?;
    ensure!(left.is_empty(), "certbot left TXT records behind: {left:?}");
    Ok(())
}
