//! CAA (RFC 8659, RFC 8657, BR 3.2.2.8) with real clients: BIND9 serves CAA records (added
//! by RFC 2136 updates), hanko runs with `acme.caa_identities = ["ca.example"]` (the issue's
//! done-criterion: defaults plus `HANKO_ACME__CAA_IDENTITIES`), certbot and lego order
//! http-01 certificates. Refused: `issue` for another CA (at the name and at a parent),
//! `accounturi` of another account, `validationmethods` without http-01, an unknown critical
//! tag. Allowed: this CA's domain, no CAA, CAA at a parent, `accounturi` of the account.
//! One BIND9 and one hanko for the whole file; the cases run one after another because
//! every client binds the one http-01 port the CA connects to.

use acme_tests::clients::{Certbot, Lego};
use acme_tests::OrFail;
use acme_tests::{CmdOutput, HankoOptions, Rig, RigOptions};
use anyhow::{ensure, Context, Result};
use std::path::{Path, PathBuf};

/// Hosts that get explicit A records: a name with a CAA record no longer matches the zone's
/// wildcard A (RFC 4592), so every name used here is listed.
const HOSTS: &[&str] = &[
    "nocaa",
    "own",
    "other",
    "crit",
    "acctok",
    "acctother",
    "methods",
    "parent-ok",
    "www.parent-ok",
    "parent-no",
    "www.parent-no",
];

#[tokio::test]
async fn caa_refuses_and_allows_with_certbot_and_lego() {
    let rig = Rig::start(RigOptions {
        hosts: HOSTS.iter().map(|h| h.to_string()).collect(),
        hanko: HankoOptions {
            env: vec![(
                "HANKO_ACME__CAA_IDENTITIES".to_string(),
                r#"["ca.example"]"#.to_string(),
            )],
            ..HankoOptions::default()
        },
    })
    .await
    .or_fail("test rig start");
    cases(&rig).await.or_fail("CAA cases");
}

async fn cases(rig: &Rig) -> Result<()> {
    caa(rig, "own", &[r#"0 issue "ca.example""#]).await?;
    caa(rig, "other", &[r#"0 issue "other-ca.example""#]).await?;
    caa(
        rig,
        "crit",
        &[r#"0 issue "ca.example""#, r#"128 tbs "unknown""#],
    )
    .await?;
    caa(
        rig,
        "methods",
        &[r#"0 issue "ca.example; validationmethods=dns-01""#],
    )
    .await?;
    caa(rig, "parent-ok", &[r#"0 issue "ca.example""#]).await?;
    caa(
        rig,
        "parent-no",
        &[
            r#"0 iodef "mailto:x@hanko-ci.com""#,
            r#"0 issue "other-ca.example""#,
        ],
    )
    .await?;
    let other_account = format!("{}/acme/acct/someone-else", rig.server.base_url());
    caa(
        rig,
        "acctother",
        &[&format!(
            r#"0 issue "ca.example; accounturi={other_account}""#
        )],
    )
    .await?;

    // The done-criterion, with certbot: refused by `issue` for another CA with a `caa`
    // problem naming the record; issued for this CA's domain.
    let certbot = Certbot::new(rig, "certbot")?;
    certbot_issue(&certbot, rig, "own")
        .await
        .context("certbot: CAA names this CA")?;
    refused(
        certbot_try_issue(&certbot, rig, "other").await?,
        &certbot.log(),
        "other-ca.example",
    )
    .context("certbot: CAA names another CA")?;
    refused(
        certbot_try_issue(&certbot, rig, "crit").await?,
        &certbot.log(),
        "128 tbs",
    )
    .context("certbot: unknown critical tag")?;

    // lego: no CAA issues and registers the account whose URL `acctok` then names.
    let lego = Lego::new(rig, "lego")?;
    lego_issue(&lego, rig, &Rig::name("nocaa"))
        .await
        .context("lego: no CAA")?;
    let own_account = lego_account_uri(&lego)?;
    caa(
        rig,
        "acctok",
        &[&format!(
            r#"0 issue "ca.example; accounturi={own_account}""#
        )],
    )
    .await?;
    lego_issue(&lego, rig, &Rig::name("acctok"))
        .await
        .context("lego: accounturi of this account")?;
    refused(
        lego_try_issue(&lego, rig, &Rig::name("acctother")).await?,
        "",
        "accounturi",
    )
    .context("lego: accounturi of another account")?;
    refused(
        lego_try_issue(&lego, rig, &Rig::name("methods")).await?,
        "",
        "validationmethods",
    )
    .context("lego: validationmethods without http-01")?;
    // The relevant RRset is the parent's when the name has none (RFC 8659 3).
    lego_issue(&lego, rig, &Rig::name("www.parent-ok"))
        .await
        .context("lego: CAA at a parent")?;
    refused(
        lego_try_issue(&lego, rig, &Rig::name("www.parent-no")).await?,
        "",
        "other-ca.example",
    )
    .context("lego: CAA for another CA at a parent")?;
    Ok(())
}

/// Publish `records` (presentation format after the type) as `host`'s CAA RRset.
async fn caa(rig: &Rig, host: &str, records: &[&str]) -> Result<()> {
    let name = Rig::name(host);
    let commands: String = records
        .iter()
        .map(|r| format!("update add {name}. 60 CAA {r}\n"))
        .collect();
    rig.bind.nsupdate(&commands).await?;
    let seen = rig.bind.query(&name, "CAA").await?;
    ensure!(
        seen.len() == records.len(),
        "BIND serves {seen:?} at {name}, want {records:?}"
    );
    Ok(())
}

/// The client failed with an RFC 8555 `caa` problem whose detail quotes `needle`.
fn refused(out: CmdOutput, log: &str, needle: &str) -> Result<()> {
    let seen = format!("{}\n{log}", out.combined());
    ensure!(
        !out.success(),
        "issuance should have been refused by CAA:\n{out}"
    );
    ensure!(
        seen.contains("urn:ietf:params:acme:error:caa") || seen.contains("Type:   caa"),
        "no caa problem in the client's output:\n{out}"
    );
    ensure!(
        seen.contains("prevents issuance") && seen.contains(needle),
        "the caa problem does not name the refusing record ({needle}):\n{out}"
    );
    Ok(())
}

/// `certbot certonly` for `host` with the standalone http-01 server on the rig's port.
async fn certbot_try_issue(certbot: &Certbot, rig: &Rig, host: &str) -> Result<CmdOutput> {
    let port = rig.server.http01_port().to_string();
    certbot
        .cmd("certonly")
        .args(["--standalone", "--preferred-challenges", "http"])
        .args(["--http-01-port", &port, "--http-01-address", "127.0.0.1"])
        .args(["--cert-name", host, "-d", &Rig::name(host)])
        .run()
        .await
}

async fn certbot_issue(certbot: &Certbot, rig: &Rig, host: &str) -> Result<()> {
    certbot_try_issue(certbot, rig, host).await?.ok()?;
    let cert = certbot.live(host).join("cert.pem");
    ensure!(
        cert.exists(),
        "certbot saved no certificate at {}",
        cert.display()
    );
    Ok(())
}

/// `lego run` for `name` with its http-01 server on the rig's port.
async fn lego_try_issue(lego: &Lego, rig: &Rig, name: &str) -> Result<CmdOutput> {
    let listen = format!("127.0.0.1:{}", rig.server.http01_port());
    lego.cmd(&[name])
        .args(["--http", "--http.port", &listen, "run"])
        .run()
        .await
}

async fn lego_issue(lego: &Lego, rig: &Rig, name: &str) -> Result<()> {
    lego_try_issue(lego, rig, name).await?.ok()?;
    let cert = lego.dir.join("certificates").join(format!("{name}.crt"));
    ensure!(
        cert.exists(),
        "lego saved no certificate at {}",
        cert.display()
    );
    Ok(())
}

/// The account URL lego registered (`accounts/<server>/<email>/account.json`).
fn lego_account_uri(lego: &Lego) -> Result<String> {
    let file = find_file(&lego.dir.join("accounts"), "account.json")?
        .context("lego wrote no account.json")?;
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
    json["registration"]["uri"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no registration.uri in {}", file.display()))
}

fn find_file(dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name)? {
                return Ok(Some(found));
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}
