//! An HSM-backed CA, black-box, on a SoftHSM2 token: `hanko ceremony root`, `intermediate`
//! and `ocsp-responder` (CP 4.3.1.1) make the hierarchy, OpenSSL checks the chains and the
//! OCSP responder profile (CP Table 7.1-2), the audit log holds the ceremony events, and
//! then `hanko serve` with `ca.dev_hierarchy = false` issues a certificate with the HSM
//! key that chains to the HSM root. Once with ECDSA keys, once with RSA keys.

use acme_tests::acme_client::{AcmeClient, Key};
use acme_tests::process::{require_tool, Cmd, CmdOutput};
use acme_tests::server::hanko_binary;
use acme_tests::{
    openssl_verify_chain, split_pem_chain, HankoOptions, Http01Responder, OrFail, Rig, RigOptions,
    SoftHsm,
};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One hierarchy's key types, and the signature algorithm OpenSSL names for each issuer.
struct Keys {
    root: &'static str,
    root_signature: &'static str,
    intermediate: &'static str,
    intermediate_signature: &'static str,
    ocsp: &'static str,
}

/// The ceremony workspace: the token, a config naming it, an audit database.
struct Workspace {
    hsm: SoftHsm,
    config: PathBuf,
}

impl Workspace {
    async fn new() -> Result<Workspace> {
        let hsm = SoftHsm::new("hanko-ci").await?;
        let config = hsm.dir().join("hanko.toml");
        let toml = format!(
            "[storage]\ndata_dir = {:?}\n\n{}",
            hsm.dir().join("data").display().to_string(),
            hsm.hsm_toml()
        );
        std::fs::write(&config, toml).context("writing hanko.toml")?;
        Ok(Workspace { hsm, config })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.hsm.dir().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// `hanko <args…> --config hanko.toml` with SOFTHSM2_CONF; stdin is empty.
    async fn hanko(&self, args: &[&str]) -> Result<CmdOutput> {
        let mut cmd = Cmd::new(hanko_binary()?)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .timeout(Duration::from_secs(120));
        for (key, value) in self.hsm.env() {
            cmd = cmd.env(key, value);
        }
        cmd.run().await
    }

    /// The same, answering the confirmation prompt with `answer`.
    async fn hanko_answering(&self, args: &[&str], answer: &str) -> Result<std::process::Output> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut command = Command::new(hanko_binary()?);
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .envs(self.hsm.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let answer = answer.to_string();
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().context("starting hanko")?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(answer.as_bytes()).context("answering")?;
            }
            child.wait_with_output().context("waiting for hanko")
        })
        .await
        .context("ceremony task")?
    }

    async fn ceremony(&self, args: &[&str]) -> Result<()> {
        let out = self.hanko(args).await?;
        if !out.success() || !out.stdout.contains("Signed and verified.") {
            bail!("ceremony {args:?} failed:\n{out}");
        }
        Ok(())
    }

    /// (actor, event, details) of every audit event, read with Python's sqlite3 (not hanko).
    async fn audit_events(&self) -> Result<Vec<(String, String, Value)>> {
        let script = "import json, sqlite3, sys\n\
            db = sqlite3.connect(sys.argv[1])\n\
            for row in db.execute('SELECT actor, event, details FROM audit_events ORDER BY seq'):\n\
            \x20   print(json.dumps([row[0], row[1], json.loads(row[2])]))\n";
        let out = Cmd::new(require_tool("python3")?)
            .arg("-c")
            .arg(script)
            .arg(self.path("data").join("hanko.db"))
            .run_ok()
            .await?;
        out.stdout
            .lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).context("event row")?;
                Ok((
                    v[0].as_str().unwrap_or_default().to_string(),
                    v[1].as_str().unwrap_or_default().to_string(),
                    v[2].clone(),
                ))
            })
            .collect()
    }
}

async fn openssl(args: &[&str]) -> Result<CmdOutput> {
    Cmd::new(require_tool("openssl")?)
        .args(args)
        .timeout(Duration::from_secs(30))
        .run()
        .await
}

/// `openssl verify -x509_strict` of `cert` against `root` (through `untrusted`).
async fn assert_verifies(root: &Path, untrusted: Option<&Path>, cert: &Path) {
    let root = root.display().to_string();
    let cert = cert.display().to_string();
    let mut args = vec!["verify", "-x509_strict", "-CAfile", &root];
    let untrusted = untrusted.map(|u| u.display().to_string());
    if let Some(u) = &untrusted {
        args.extend(["-untrusted", u]);
    }
    args.push(&cert);
    let out = openssl(&args).await.or_fail("openssl verify");
    assert!(
        out.success() && out.stdout.contains(": OK"),
        "openssl verify {cert}:\n{out}"
    );
}

async fn x509_text(cert: &Path) -> String {
    let path = cert.display().to_string();
    let out = openssl(&["x509", "-noout", "-text", "-in", &path])
        .await
        .or_fail("openssl x509");
    assert!(out.success(), "{out}");
    out.stdout
}

/// The three ceremonies, with one declined run first.
async fn make_hierarchy(ws: &Workspace, keys: &Keys) {
    let subject = "C=JP, O=Hanko CI, CN=Hanko CI Root";
    let declined = ws.arg("declined.pem");
    let root_args = |label: &str, out: &str| {
        [
            "ceremony",
            "root",
            "--key-label",
            label,
            "--key-type",
            keys.root,
            "--subject",
            subject,
            "--days",
            "3650",
            "--out",
            out,
            "--operator",
            "ci",
        ]
        .map(String::from)
    };
    let args = root_args("declined", &declined);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ws
        .hanko_answering(&refs, "no\n")
        .await
        .or_fail("declined root");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Sign this certificate? Type \"yes\":"),
        "{stdout}"
    );
    assert!(stdout.contains("Subject:      C=JP, O=Hanko CI, CN=Hanko CI Root"));
    assert!(!ws.path("declined.pem").exists(), "nothing written");

    let args = root_args("root", &ws.arg("root.pem"));
    let mut refs: Vec<&str> = args.iter().map(String::as_str).collect();
    refs.push("--yes");
    ws.ceremony(&refs).await.or_fail("root ceremony");
    let (root, int, ocsp) = (ws.arg("root.pem"), ws.arg("int.pem"), ws.arg("ocsp.pem"));
    ws.ceremony(&[
        "ceremony",
        "intermediate",
        "--root-cert",
        &root,
        "--root-key-label",
        "root",
        "--key-label",
        "issuing",
        "--key-type",
        keys.intermediate,
        "--subject",
        "C=JP, O=Hanko CI, CN=Hanko CI Issuing CA",
        "--days",
        "1825",
        "--out",
        &int,
        "--crl-url",
        "http://crl.hanko-ci.com/root.crl",
        "--yes",
        "--operator",
        "ci",
    ])
    .await
    .or_fail("intermediate ceremony");
    ws.ceremony(&[
        "ceremony",
        "ocsp-responder",
        "--issuer-cert",
        &int,
        "--issuer-key-label",
        "issuing",
        "--key-label",
        "ocsp",
        "--key-type",
        keys.ocsp,
        "--days",
        "90",
        "--out",
        &ocsp,
        "--yes",
        "--operator",
        "ci",
    ])
    .await
    .or_fail("OCSP responder ceremony");
}

async fn check_hierarchy(ws: &Workspace, keys: &Keys) {
    let (root, int, ocsp) = (ws.path("root.pem"), ws.path("int.pem"), ws.path("ocsp.pem"));
    assert_verifies(&root, None, &int).await;
    assert_verifies(&root, Some(&int), &ocsp).await;
    let root_text = x509_text(&root).await;
    assert!(root_text.contains(&format!("Signature Algorithm: {}", keys.root_signature)));
    let int_text = x509_text(&int).await;
    assert!(int_text.contains(&format!("Signature Algorithm: {}", keys.root_signature)));
    assert!(
        int_text.contains("URI:http://crl.hanko-ci.com/root.crl"),
        "{int_text}"
    );
    assert!(int_text.contains("CA:TRUE, pathlen:0"), "{int_text}");

    // CP Table 7.1-2: KU digitalSignature (critical), EKU OCSPSigning, OCSP No Check;
    // no certificatePolicies, no basicConstraints; 90 days.
    let text = x509_text(&ocsp).await;
    for expected in [
        "X509v3 Key Usage: critical\n                Digital Signature\n",
        "X509v3 Extended Key Usage: \n                OCSP Signing\n",
        "OCSP No Check:",
        "X509v3 Authority Key Identifier:",
        "X509v3 Subject Key Identifier:",
        "Subject: C = JP, O = Hanko CI, CN = Hanko CI Issuing CA OCSP Responder",
        &format!("Signature Algorithm: {}", keys.intermediate_signature),
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    for absent in [
        "Certificate Policies",
        "Basic Constraints",
        "Alternative Name",
    ] {
        assert!(!text.contains(absent), "{absent} in:\n{text}");
    }

    let verify = ws.hanko(&["audit", "verify"]).await.or_fail("audit verify");
    assert!(
        verify.success() && verify.stdout.contains("audit chain intact: 8 events"),
        "{verify}"
    );
    let events = ws.audit_events().await.or_fail("reading the audit log");
    let names: Vec<&str> = events.iter().map(|(_, e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "ceremony.key_generated",
            "ceremony.signing_declined",
            "ceremony.key_generated",
            "ceremony.certificate_signed",
            "ceremony.key_generated",
            "ceremony.certificate_signed",
            "ceremony.key_generated",
            "ceremony.certificate_signed",
        ]
    );
    assert!(events.iter().all(|(actor, _, _)| actor == "operator:ci"));
    let kinds: Vec<&str> = events
        .iter()
        .filter(|(_, e, _)| e == "ceremony.certificate_signed")
        .filter_map(|(_, _, d)| d["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["root", "intermediate", "ocsp-responder"]);
    assert_eq!(events[2].2["label"], "root");
}

/// `hanko serve` on the HSM issuer; one certificate through the whole ACME flow.
async fn serve_and_issue(ws: &Workspace, keys: &Keys, label: &str) {
    let (listener_ca, chain, key) =
        acme_tests::fullca::listener_certificate(ws.hsm.dir()).or_fail("listener");
    let issuer = format!(
        "{{certificate = {:?}, key_label = \"issuing\"}}",
        ws.arg("int.pem")
    );
    let mut env = ws.hsm.hanko_env();
    for (k, v) in [
        ("HANKO_CA__DEV_HIERARCHY", "false".to_string()),
        ("HANKO_CA__ISSUER", issuer),
        ("HANKO_SERVER__TLS_CERT", chain.display().to_string()),
        ("HANKO_SERVER__TLS_KEY", key.display().to_string()),
    ] {
        env.push((k.to_string(), v));
    }
    let opts = RigOptions {
        hanko: HankoOptions {
            env,
            trust_root: Some(listener_ca),
            ..HankoOptions::default()
        },
        ..RigOptions::default()
    };
    let rig = Rig::start(opts).await.or_fail("rig with the HSM issuer");
    let log = std::fs::read_to_string(rig.server.log_path()).unwrap_or_default();
    assert!(
        log.contains("HSM key \\\"issuing\\\""),
        "HSM issuer in use:\n{log}"
    );
    let client = AcmeClient::connect(&rig.server).await.or_fail("directory");
    let account = client.create_account(Key::es256()).await.or_fail("account");
    let responder = Http01Responder::start(rig.server.http01_port())
        .await
        .or_fail("http-01 responder");
    let name = Rig::name("www");
    let (chain, _) = account
        .issue(&responder, &[&name], None)
        .await
        .or_fail("issuance");
    let certs = split_pem_chain(&chain).or_fail("chain");
    assert_eq!(certs.len(), 2, "leaf + HSM intermediate:\n{chain}");
    let int_pem = std::fs::read_to_string(ws.path("int.pem")).expect("int.pem");
    assert_eq!(certs[1].trim(), int_pem.trim(), "the served intermediate");
    let verified =
        openssl_verify_chain(&ws.path("root.pem"), &chain, &[&name], ws.hsm.dir(), label)
            .await
            .or_fail("chain to the HSM root");
    let leaf_text = x509_text(&verified.leaf_path).await;
    assert!(
        leaf_text.contains(&format!(
            "Signature Algorithm: {}",
            keys.intermediate_signature
        )),
        "{leaf_text}"
    );
    rig.server
        .stop(Duration::from_secs(20))
        .or_fail("graceful stop");
}

async fn hsm_hierarchy(keys: Keys, label: &str) {
    let ws = Workspace::new().await.or_fail("SoftHSM workspace");
    make_hierarchy(&ws, &keys).await;
    check_hierarchy(&ws, &keys).await;
    serve_and_issue(&ws, &keys, label).await;
}

#[tokio::test]
async fn ecdsa_hierarchy_from_ceremonies_issues_through_the_hsm() {
    hsm_hierarchy(
        Keys {
            root: "p384",
            root_signature: "ecdsa-with-SHA384",
            intermediate: "p256",
            intermediate_signature: "ecdsa-with-SHA256",
            ocsp: "p256",
        },
        "hsm-ecdsa",
    )
    .await;
}

#[tokio::test]
async fn rsa_hierarchy_from_ceremonies_issues_through_the_hsm() {
    hsm_hierarchy(
        Keys {
            root: "rsa3072",
            root_signature: "sha256WithRSAEncryption",
            intermediate: "rsa2048",
            intermediate_signature: "sha256WithRSAEncryption",
            ocsp: "rsa2048",
        },
        "hsm-rsa",
    )
    .await;
}
