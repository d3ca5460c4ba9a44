//! lego (Debian's 4.9.1) against hanko: http-01, tls-alpn-01 (RFC 8737) and dns-01 through
//! the RFC 2136 provider into the rig's BIND9, plus revocation. Chains are checked with
//! `openssl verify` against the development root.

use acme_tests::clients::Lego;
use acme_tests::OrFail;
use acme_tests::{openssl_verify_chain, Rig, RigOptions};
use anyhow::{ensure, Context, Result};

#[tokio::test]
async fn lego_http01_then_revoke() {
    let rig = Rig::start(RigOptions::default())
        .await
        .or_fail("test rig start");
    http01_then_revoke(&rig)
        .await
        .or_fail("lego http-01 issuance and revocation");
}

async fn http01_then_revoke(rig: &Rig) -> Result<()> {
    let lego = Lego::new(rig, "lego-http01")?;
    let (www, api) = (Rig::name("www"), Rig::name("api"));
    let names = [www.as_str(), api.as_str()];
    let listen = format!("127.0.0.1:{}", rig.server.http01_port());
    lego.cmd(&names)
        .args(["--http", "--http.port", &listen, "run"])
        .run_ok()
        .await
        .context("lego --http run")?;
    openssl_verify_chain(
        &rig.root_pem(),
        &lego.bundle(&www)?,
        &names,
        rig.scratch_dir(),
        "lego-http01",
    )
    .await?;

    lego.cmd(&names)
        .args(["revoke", "--keep", "--reason", "1"])
        .run_ok()
        .await
        .context("lego revoke")?;
    // A second revocation must be refused (alreadyRevoked, RFC 8555 7.6).
    let again = lego
        .cmd(&names)
        .args(["revoke", "--keep", "--reason", "1"])
        .run()
        .await?;
    ensure!(
        !again.success() && again.combined().contains("alreadyRevoked"),
        "second revocation should fail with alreadyRevoked:\n{again}"
    );
    Ok(())
}

#[tokio::test]
async fn lego_tls_alpn01() {
    let rig = Rig::start(RigOptions::default())
        .await
        .or_fail("test rig start");
    tls_alpn01(&rig).await.or_fail("lego tls-alpn-01 issuance");
}

async fn tls_alpn01(rig: &Rig) -> Result<()> {
    let lego = Lego::new(rig, "lego-tlsalpn01")?;
    let (tls, alpn) = (Rig::name("tls"), Rig::name("alpn"));
    let names = [tls.as_str(), alpn.as_str()];
    let listen = format!("127.0.0.1:{}", rig.server.tlsalpn01_port());
    lego.cmd(&names)
        .args(["--tls", "--tls.port", &listen, "run"])
        .run_ok()
        .await
        .context("lego --tls run")?;
    openssl_verify_chain(
        &rig.root_pem(),
        &lego.bundle(&tls)?,
        &names,
        rig.scratch_dir(),
        "lego-tlsalpn01",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn lego_dns01_rfc2136() {
    let rig = Rig::start(RigOptions::default())
        .await
        .or_fail("test rig start");
    dns01_rfc2136(&rig)
        .await
        .or_fail("lego dns-01 (RFC 2136) issuance");
}

async fn dns01_rfc2136(rig: &Rig) -> Result<()> {
    let lego = Lego::new(rig, "lego-dns01")?;
    let (lego_name, mail) = (Rig::name("lego"), Rig::name("mail"));
    let names = [lego_name.as_str(), mail.as_str()];
    let nameserver = rig.bind.addr().to_string();
    let key = rig.bind.tsig();
    lego.cmd(&names)
        .args(["--dns", "rfc2136", "--dns.resolvers", &nameserver])
        // BIND is not on port 53, so lego cannot ask the zone's NS records directly; the
        // CA checks the record itself through the same BIND.
        .arg("--dns.disable-cp")
        .arg("run")
        .env("RFC2136_NAMESERVER", &nameserver)
        .env("RFC2136_TSIG_KEY", &key.name)
        .env("RFC2136_TSIG_SECRET", &key.secret)
        // miekg/dns names algorithms as FQDNs.
        .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
        .env("RFC2136_PROPAGATION_TIMEOUT", "60")
        .env("RFC2136_POLLING_INTERVAL", "1")
        .env("RFC2136_TTL", "60")
        .env("RFC2136_DNS_TIMEOUT", "10")
        // lego solves rfc2136 challenges one after another with this pause (default 60 s).
        .env("RFC2136_SEQUENCE_INTERVAL", "1")
        .run_ok()
        .await
        .context("lego --dns rfc2136 run")?;
    openssl_verify_chain(
        &rig.root_pem(),
        &lego.bundle(&lego_name)?,
        &names,
        rig.scratch_dir(),
        "lego-dns01",
    )
    .await?;
    let log = rig.bind.log_tail(2000);
    ensure!(
        log.contains(&format!(
            "adding an RR at '_acme-challenge.{lego_name}' TXT"
        )),
        "BIND log shows no TXT update for _acme-challenge.{lego_name}:\n{log}"
    );
    Ok(())
}
