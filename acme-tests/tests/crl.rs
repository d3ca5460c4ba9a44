//! Sharded CRLs, black-box (CP 4.9.7, 7.2; RFC 5280 5; BR 7.2; REQUIREMENTS §11): the real
//! `hanko serve` binary with 4 shards polled every second, its CRLs fetched over plain HTTP
//! at the URL each certificate's CRLDP names, and checked with tools independent of hanko:
//! `openssl crl` (signature against the issuer, reasons, IssuingDistributionPoint, AKI, CRL
//! number) and pkilint's `lint_crl -p BR`. CRL numbers are followed across a restart and
//! across two servers plus `hanko admin crl regenerate` sharing one SQLite database.
//!
//! Nothing here asserts a duration: every wait is a poll with a generous deadline.

use acme_tests::acme_client::{Account, AcmeClient, Key};
use acme_tests::process::{require_tool, Cmd};
use acme_tests::revoke::{issue, revoke_by_account, Issued};
use acme_tests::server::hanko_binary;
use acme_tests::{
    free_tcp_port, split_pem_chain, Bind9, HankoOptions, HankoServer, Http01Responder, OrFail, Rig,
    RigOptions, Zone, ZONE,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SHARDS: u32 = 4;
/// How long a revocation may take to show up: the configured delay is 1 s, but a debug
/// build on a loaded 2-core machine is slow, and nothing here measures time.
const DEADLINE: Duration = Duration::from_secs(90);
/// Public-looking CRL URL (pkilint flags 127.0.0.1); its path is served on the status port.
const PUBLIC_CRL_BASE: &str = "http://crl.hanko-ci.com/crl";
const HOSTS: &[&str] = &[
    "shop", "blog", "news", "docs", "status", "cdn", "portal", "store", "media", "help",
];

/// 4 shards, a publisher polling every second and a 1 s publication delay.
fn crl_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("HANKO_CRL__SHARDS", "4"),
        ("HANKO_CRL__POLL_SECONDS", "1"),
        ("HANKO_CRL__PUBLISH_DELAY_SECONDS", "1"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.dedup_by(|a, b| a.0 == b.0);
    env
}

async fn start(extra: &[(&str, &str)]) -> (Rig, Account, Http01Responder) {
    let rig = Rig::start(RigOptions {
        hosts: HOSTS.iter().map(|h| h.to_string()).collect(),
        hanko: HankoOptions {
            env: crl_env(extra),
            ..HankoOptions::default()
        },
    })
    .await
    .or_fail("rig");
    let client = AcmeClient::connect(&rig.server).await.or_fail("directory");
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let responder = Http01Responder::start(rig.server.http01_port())
        .await
        .or_fail("http-01 responder");
    (rig, account, responder)
}

fn http() -> reqwest::Client {
    acme_tests::init_crypto();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// `<status port>/crl/<shard>.crl`: the body when 200, None when 404.
async fn fetch(server: &HankoServer, shard: u32) -> Option<Vec<u8>> {
    let url = server.status_url(&format!("/crl/{shard}.crl"));
    let rsp = http().get(&url).send().await.expect("GET shard");
    match rsp.status().as_u16() {
        200 => Some(rsp.bytes().await.expect("body").to_vec()),
        404 => None,
        s => panic!("GET {url}: HTTP {s}"),
    }
}

/// The shard once `done` holds for it (a 404 counts as not done).
async fn wait_shard(server: &HankoServer, shard: u32, done: impl Fn(&Crl) -> bool) -> Crl {
    let deadline = Instant::now() + DEADLINE;
    let mut last = None;
    loop {
        if let Some(der) = fetch(server, shard).await {
            let crl = Crl::parse(der).await;
            if done(&crl) {
                return crl;
            }
            last = Some(crl.text);
        }
        assert!(
            Instant::now() < deadline,
            "shard {shard} never got there; last served:\n{last:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn all_shards(server: &HankoServer) -> Vec<Crl> {
    let mut out = Vec::new();
    for shard in 0..SHARDS {
        out.push(wait_shard(server, shard, |_| true).await);
    }
    out
}

/// A CRL as served, with what `openssl crl` makes of it.
struct Crl {
    der: Vec<u8>,
    text: String,
    number: u64,
}

impl Crl {
    async fn parse(der: Vec<u8>) -> Crl {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("shard.crl");
        std::fs::write(&file, &der).expect("write crl");
        let text = openssl(&["crl", "-inform", "DER", "-noout", "-text", "-in"], &file).await;
        let number = openssl(
            &["crl", "-inform", "DER", "-noout", "-crlnumber", "-in"],
            &file,
        )
        .await;
        // "crlNumber=0x03": hexadecimal.
        let number = number
            .trim()
            .strip_prefix("crlNumber=0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or_else(|| panic!("no CRL number: {number}"));
        Crl { der, text, number }
    }

    fn hash(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    /// serial (normalized) → reason as openssl prints it (None: no reasonCode).
    fn entries(&self) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        let Some((_, revoked)) = self.text.split_once("Revoked Certificates:") else {
            return out;
        };
        let mut current: Option<String> = None;
        let mut lines = revoked.lines();
        while let Some(line) = lines.next() {
            let line = line.trim();
            if let Some(serial) = line.strip_prefix("Serial Number:") {
                let serial = norm(serial);
                out.insert(serial.clone(), None);
                current = Some(serial);
            } else if line.starts_with("X509v3 CRL Reason Code:") {
                let reason = lines.next().unwrap_or_default().trim().to_string();
                let serial = current.clone().expect("reason outside an entry");
                out.insert(serial, Some(reason));
            } else if line.starts_with("Signature Algorithm:") {
                break;
            }
        }
        out
    }

    fn lists(&self, serial: &str) -> bool {
        self.entries().contains_key(&norm(serial))
    }
}

/// Serial in one spelling: upper-case hex without separators or leading zeros.
fn norm(serial: &str) -> String {
    serial
        .trim()
        .replace(':', "")
        .to_uppercase()
        .trim_start_matches('0')
        .to_string()
}

/// `openssl <args> <file>`, which must succeed: its stdout.
async fn openssl(args: &[&str], file: &Path) -> String {
    let out = Cmd::new(require_tool("openssl").or_fail("openssl"))
        .args(args)
        .arg(file)
        .timeout(Duration::from_secs(30))
        .run_ok()
        .await
        .or_fail("openssl");
    out.stdout
}

/// The URL in the certificate's CRLDP (`openssl x509 -ext crlDistributionPoints`).
async fn crldp(dir: &Path, cert: &Issued) -> String {
    let file = dir.join(format!("{}.der", cert.serial));
    std::fs::write(&file, &cert.der).expect("write cert");
    let text = openssl(
        &[
            "x509",
            "-inform",
            "DER",
            "-noout",
            "-ext",
            "crlDistributionPoints",
            "-in",
        ],
        &file,
    )
    .await;
    let uris: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("URI:"))
        .collect();
    assert_eq!(uris.len(), 1, "one CRLDP URL expected:\n{text}");
    uris[0].to_string()
}

/// The shard a CRLDP URL names under `base`.
fn shard_of(url: &str, base: &str) -> u32 {
    url.strip_prefix(&format!("{base}/"))
        .and_then(|f| f.strip_suffix(".crl"))
        .and_then(|n| n.parse().ok())
        .filter(|n| *n < SHARDS)
        .unwrap_or_else(|| panic!("CRLDP {url} is not a shard under {base}"))
}

/// The issuing CA and the root, for `openssl crl -verify -CAfile`.
fn ca_file(server: &HankoServer, cert: &Issued) -> PathBuf {
    let chain = split_pem_chain(&cert.chain_pem).or_fail("chain");
    let root = std::fs::read_to_string(server.root_pem_path()).expect("root");
    let path = server.scratch_dir().join("crl-ca.pem");
    std::fs::write(&path, format!("{}{root}", chain[1..].concat())).expect("write CA file");
    path
}

/// `openssl crl -verify` against the issuer, and the extensions every shard must carry:
/// a critical IDP with exactly `url` and onlyContainsUserCerts, AKI, CRL number.
async fn check_crl(crl: &Crl, ca: &Path, url: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("shard.crl");
    std::fs::write(&file, &crl.der).expect("write crl");
    let out = Cmd::new(require_tool("openssl").or_fail("openssl"))
        .args(["crl", "-inform", "DER", "-noout", "-verify", "-CAfile"])
        .arg(ca)
        .arg("-in")
        .arg(&file)
        .timeout(Duration::from_secs(30))
        .run()
        .await
        .or_fail("openssl crl -verify");
    assert!(
        out.success() && out.combined().contains("verify OK"),
        "{out}"
    );
    let text = &crl.text;
    let (_, idp) = text
        .split_once("X509v3 Issuing Distribution Point: critical")
        .unwrap_or_else(|| panic!("no critical IDP:\n{text}"));
    // openssl prints the IDP's fields without line breaks between some of them.
    let idp: String = idp
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().starts_with("X509v3") && !l.contains("Revoked Certificates"))
        .collect::<Vec<_>>()
        .join(" ");
    let uris: Vec<&str> = idp
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("URI:"))
        .collect();
    assert_eq!(uris, [url], "IDP: {idp}");
    assert!(idp.contains("Only User Certificates"), "IDP: {idp}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(text.contains("X509v3 CRL Number"), "{text}");
    assert!(text.contains("Version 2 (0x1)"), "{text}");
}

/// The publication directory ends up with exactly the served bytes (the publisher writes
/// it right after storing, so a poll may see the database a moment earlier).
async fn publication_matches(server: &HankoServer, shard: u32) {
    let file = server.data_dir().join("crl").join(format!("{shard}.crl"));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let served = fetch(server, shard).await;
        let written = std::fs::read(&file).ok();
        if served.is_some() && served == written {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never matched the served shard {shard}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn revocations_reach_their_own_shard_only_with_reasons_as_set() {
    let (rig, account, responder) = start(&[]).await;
    let server = &rig.server;
    let base = server.status_url("/crl");
    // (requested reason, what openssl prints; None = no reasonCode, host)
    let cases: [(Option<i64>, Option<&str>, &str); 6] = [
        (None, None, "shop"),
        (Some(0), None, "blog"),
        (Some(1), Some("Key Compromise"), "news"),
        (Some(4), Some("Superseded"), "docs"),
        (Some(5), Some("Cessation Of Operation"), "status"),
        (Some(3), Some("Affiliation Changed"), "cdn"),
    ];
    let mut revoked = Vec::new();
    let mut ca = None;
    for (reason, printed, host) in cases {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = issue(&account, &responder, host, &key)
            .await
            .or_fail("issue");
        let url = crldp(server.scratch_dir(), &cert).await;
        let shard = shard_of(&url, &base);
        let rsp = revoke_by_account(&account, &cert, reason)
            .await
            .or_fail("revokeCert");
        rsp.assert_status(200);
        ca.get_or_insert_with(|| ca_file(server, &cert));
        revoked.push((cert, shard, url, printed));
    }
    let ca = ca.expect("a CA file");
    for (cert, shard, url, printed) in &revoked {
        let crl = wait_shard(server, *shard, |c| c.lists(&cert.serial)).await;
        check_crl(&crl, &ca, url).await;
        assert_eq!(
            crl.entries().get(&norm(&cert.serial)),
            Some(&printed.map(str::to_string)),
            "reason of {} in shard {shard}:\n{}",
            cert.serial,
            crl.text
        );
    }
    // Each serial on its own shard and on no other; every shard valid, empty ones too.
    let shards = all_shards(server).await;
    for (n, crl) in shards.iter().enumerate() {
        check_crl(crl, &ca, &format!("{base}/{n}.crl")).await;
        for (cert, shard, _, _) in &revoked {
            assert_eq!(
                crl.lists(&cert.serial),
                n as u32 == *shard,
                "serial {} (shard {shard}) on shard {n}:\n{}",
                cert.serial,
                crl.text
            );
        }
        publication_matches(server, n as u32).await;
    }
    assert_eq!(fetch(server, SHARDS).await, None, "shard {SHARDS} served");
}

#[tokio::test]
async fn shards_lint_clean_with_pkilint_br() {
    let (rig, account, responder) = start(&[("HANKO_CA__CRL_BASE_URL", PUBLIC_CRL_BASE)]).await;
    let server = &rig.server;
    let mut used = Vec::new();
    for (host, reason) in [("shop", Some(1)), ("blog", None), ("news", Some(4))] {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = issue(&account, &responder, host, &key)
            .await
            .or_fail("issue");
        let shard = shard_of(&crldp(server.scratch_dir(), &cert).await, PUBLIC_CRL_BASE);
        revoke_by_account(&account, &cert, reason)
            .await
            .or_fail("revokeCert")
            .assert_status(200);
        used.push((cert, shard));
    }
    let ca = ca_file(server, &used[0].0);
    let mut linted = (0, 0);
    for shard in 0..SHARDS {
        let mine: Vec<&Issued> = used
            .iter()
            .filter(|(_, s)| *s == shard)
            .map(|(c, _)| c)
            .collect();
        let crl = wait_shard(server, shard, |c| mine.iter().all(|m| c.lists(&m.serial))).await;
        check_crl(&crl, &ca, &format!("{PUBLIC_CRL_BASE}/{shard}.crl")).await;
        if mine.is_empty() {
            assert!(crl.text.contains("No Revoked Certificates"), "{}", crl.text);
            linted.1 += 1;
        } else {
            linted.0 += 1;
        }
        let findings = acme_tests::pkilint::lint_crl(&crl.der, "BR").or_fail("lint_crl");
        assert!(
            findings.is_empty(),
            "lint_crl -p BR on shard {shard}: {findings:?}\n{}",
            crl.text
        );
    }
    // 3 certificates on 4 shards: at least one empty shard and one with entries.
    assert!(linted.0 >= 1 && linted.1 >= 1, "{linted:?}");
}

#[tokio::test]
async fn shards_are_served_with_caching_headers() {
    let server = HankoServer::start(HankoOptions {
        env: crl_env(&[]),
        ..HankoOptions::default()
    })
    .await
    .or_fail("hanko");
    let url = server.status_url("/crl/2.crl");
    wait_shard(&server, 2, |_| true).await;
    let client = http();
    let rsp = client.get(&url).send().await.expect("GET");
    assert_eq!(rsp.status(), 200);
    let header = |rsp: &reqwest::Response, name: &str| -> String {
        rsp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} in {:?}", rsp.headers()))
            .to_string()
    };
    assert_eq!(header(&rsp, "content-type"), "application/pkix-crl");
    let etag = header(&rsp, "etag");
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2);
    let last_modified = header(&rsp, "last-modified");
    assert!(chrono::DateTime::parse_from_rfc2822(&last_modified).is_ok());
    let cache = header(&rsp, "cache-control");
    let max_age: i64 = cache
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no max-age: {cache}"));
    // Caches never keep a CRL longer than the publication delay (1 s here).
    assert!(
        cache.contains("public") && (0..=1).contains(&max_age),
        "{cache}"
    );
    let body = rsp.bytes().await.expect("body").to_vec();
    let crl = Crl::parse(body.clone()).await;
    assert!(crl.text.contains(&format!("URI:{url}")), "{}", crl.text);

    // No revocation here, so the shard stays as it is and the validators hold.
    let rsp = client
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(rsp.status(), 304);
    assert_eq!(header(&rsp, "etag"), etag);
    assert!(rsp.bytes().await.expect("body").is_empty());
    let rsp = client
        .get(&url)
        .header("If-None-Match", "\"something-else\"")
        .send()
        .await
        .expect("GET");
    assert_eq!(rsp.status(), 200);
    assert_eq!(rsp.bytes().await.expect("body").to_vec(), body);
    let rsp = client
        .get(&url)
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .expect("GET");
    assert_eq!(rsp.status(), 304);

    for path in [
        "/crl/4.crl",
        "/crl/99.crl",
        "/crl/x.crl",
        "/crl/-1.crl",
        "/crl/2",
    ] {
        let rsp = client
            .get(server.status_url(path))
            .send()
            .await
            .expect("GET");
        assert_eq!(rsp.status(), 404, "{path}");
    }
}

/// `hanko <args>` on a server's data directory with its CRL settings.
fn hanko_cli(data_dir: &Path, env: &[(String, String)], args: &[&str]) -> Cmd {
    let mut cmd = Cmd::new(hanko_binary().or_fail("locate hanko"))
        .args(args)
        .env("HANKO_STORAGE__DATA_DIR", data_dir)
        .env("HANKO_LOG__LEVEL", "warn")
        .timeout(Duration::from_secs(300));
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd
}

/// `hanko admin crl regenerate`: (shard, CRL number) per line of its report.
async fn regenerate(data_dir: &Path, env: &[(String, String)]) -> BTreeMap<u32, u64> {
    let out = hanko_cli(
        data_dir,
        env,
        &["admin", "crl", "regenerate", "--operator", "oncall"],
    )
    .run()
    .await
    .or_fail("admin crl regenerate");
    assert!(out.success(), "{out}");
    let mut numbers = BTreeMap::new();
    for line in out.stdout.lines() {
        // "shard 3: CRL number 7, 1 entries, 456 bytes"
        let Some((shard, rest)) = line
            .strip_prefix("shard ")
            .and_then(|l| l.split_once(": CRL number "))
        else {
            continue;
        };
        let number = rest.split(',').next().unwrap_or_default();
        numbers.insert(
            shard.parse().expect("shard"),
            number.parse().expect("number"),
        );
    }
    assert_eq!(numbers.len(), SHARDS as usize, "{out}");
    numbers
}

/// Every (shard, CRL number) seen, from any server, with the SHA-256 of its DER: a number
/// must never stand for two different CRLs, and one server never goes back.
#[derive(Default)]
struct Ledger {
    seen: HashMap<(u32, u64), String>,
    latest: HashMap<(String, u32), u64>,
}

impl Ledger {
    fn record(&mut self, source: &str, shard: u32, crl: &Crl) {
        let hash = crl.hash();
        let known = self.seen.entry((shard, crl.number)).or_insert(hash.clone());
        assert_eq!(
            *known, hash,
            "shard {shard} number {} signed twice with different contents",
            crl.number
        );
        let latest = self.latest.entry((source.to_string(), shard)).or_insert(0);
        assert!(
            crl.number >= *latest,
            "{source} served shard {shard} number {} after {latest}",
            crl.number
        );
        *latest = crl.number;
    }

    async fn observe(&mut self, source: &str, server: &HankoServer) -> Vec<u64> {
        let mut numbers = Vec::new();
        for (shard, crl) in all_shards(server).await.iter().enumerate() {
            self.record(source, shard as u32, crl);
            numbers.push(crl.number);
        }
        numbers
    }
}

#[tokio::test]
async fn crl_numbers_grow_across_a_restart() {
    let work = tempfile::tempdir().expect("tempdir");
    let (port, status) = (
        free_tcp_port().expect("port"),
        free_tcp_port().expect("port"),
    );
    let env = crl_env(&[]);
    let opts = HankoOptions {
        env: env.clone(),
        work_dir: Some(work.path().to_path_buf()),
        port: Some(port),
        status_port: Some(status),
        ..HankoOptions::default()
    };
    // The CLI signs with the server's URL: the IDP must name what the CRLDPs say.
    let mut cli_env = env.clone();
    cli_env.push((
        "HANKO_CA__CRL_BASE_URL".to_string(),
        format!("http://127.0.0.1:{status}/crl"),
    ));
    let mut ledger = Ledger::default();
    let server = HankoServer::start(opts.clone()).await.or_fail("hanko");
    let data_dir = server.data_dir().to_path_buf();
    let first = ledger.observe("first", &server).await;
    server.stop(Duration::from_secs(30)).or_fail("stop");

    // Regenerated while no server runs, then served by the restarted one.
    let offline = regenerate(&data_dir, &cli_env).await;
    for (shard, number) in &offline {
        assert!(*number > first[*shard as usize], "{offline:?} vs {first:?}");
    }
    let server = HankoServer::start(opts).await.or_fail("hanko restart");
    let second = ledger.observe("second", &server).await;
    assert_eq!(second, offline.values().copied().collect::<Vec<_>>());

    // And again while it runs: every shard's number goes up, the server serves it.
    let online = regenerate(&data_dir, &cli_env).await;
    for (shard, number) in &online {
        assert!(
            *number > second[*shard as usize],
            "{online:?} vs {second:?}"
        );
        let crl = wait_shard(&server, *shard, |c| c.number >= *number).await;
        ledger.record("second", *shard, &crl);
        assert_eq!(crl.number, *number);
        publication_matches(&server, *shard).await;
    }
}

/// `crl.signed` audit events: (shard, number) in commit order.
async fn signed_events(data_dir: &Path) -> Vec<(u32, u64)> {
    let out = hanko_cli(data_dir, &[], &["audit", "list", "--event", "crl.signed"])
        .run()
        .await
        .or_fail("audit list");
    assert!(out.success(), "{out}");
    out.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            let d = &v["details"];
            (
                d["shard"].as_u64().expect("shard") as u32,
                d["crl_number"].as_u64().expect("number"),
            )
        })
        .collect()
}

#[tokio::test]
async fn two_servers_and_the_cli_never_sign_a_number_twice() {
    let zone = Zone::new(ZONE).hosts(HOSTS);
    let bind = Bind9::start(&[zone]).await.or_fail("bind");
    let work = tempfile::tempdir().expect("tempdir");
    let env = crl_env(&[("HANKO_CA__CRL_BASE_URL", PUBLIC_CRL_BASE)]);
    let opts = HankoOptions {
        env: env.clone(),
        work_dir: Some(work.path().to_path_buf()),
        dns_resolvers: vec![bind.addr()],
        ..HankoOptions::default()
    };
    // One after the other: the first creates the development CA the second then loads.
    let a = HankoServer::start(opts.clone()).await.or_fail("hanko a");
    let b = HankoServer::start(opts).await.or_fail("hanko b");
    let data_dir = a.data_dir().to_path_buf();
    let account = AcmeClient::connect(&a)
        .await
        .or_fail("directory")
        .create_account(Key::es256())
        .await
        .or_fail("account");
    let responder = Http01Responder::start(a.http01_port())
        .await
        .or_fail("http-01 responder");
    let mut ledger = Ledger::default();
    let start = ledger.observe("a", &a).await;
    ledger.observe("b", &b).await;

    for (round, host) in HOSTS.iter().take(3).enumerate() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = issue(&account, &responder, host, &key)
            .await
            .or_fail("issue");
        let shard = shard_of(&crldp(work.path(), &cert).await, PUBLIC_CRL_BASE);
        revoke_by_account(&account, &cert, Some(4))
            .await
            .or_fail("revokeCert")
            .assert_status(200);
        // Both publishers now compete for the shard while the CLI signs every shard.
        let before = ledger.observe("a", &a).await;
        let (numbers, ()) = tokio::join!(regenerate(&data_dir, &env), async {
            for _ in 0..3 {
                ledger.observe("a", &a).await;
                ledger.observe("b", &b).await;
            }
        });
        for (s, number) in &numbers {
            assert!(
                *number > before[*s as usize],
                "round {round}: {numbers:?} vs {before:?}"
            );
        }
        for (name, server) in [("a", &a), ("b", &b)] {
            let crl = wait_shard(server, shard, |c| c.lists(&cert.serial)).await;
            ledger.record(name, shard, &crl);
        }
    }
    let end = ledger.observe("a", &a).await;
    ledger.observe("b", &b).await;
    for s in 0..SHARDS as usize {
        assert!(end[s] > start[s], "{start:?} → {end:?}");
        publication_matches(&a, s as u32).await;
    }
    // What was stored: each number once per shard, in increasing order.
    let events = signed_events(&data_dir).await;
    let mut last: HashMap<u32, u64> = HashMap::new();
    for (shard, number) in &events {
        let prev = last.insert(*shard, *number).unwrap_or(0);
        assert!(
            *number > prev,
            "shard {shard}: {number} stored after {prev}: {events:?}"
        );
    }
    for (shard, number) in ledger.seen.keys() {
        assert!(
            events.contains(&(*shard, *number)),
            "served shard {shard} number {number} has no crl.signed event"
        );
    }
}
