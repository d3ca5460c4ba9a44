//! The remote perspective client and server in one process over real mutual TLS on
//! 127.0.0.1, and the `Validator` fan-out with stand-in perspectives: quorum, the problem
//! naming the dissenters, and the 4 → 5 switch of the dated minimum with a fixed clock.

use super::*;
use crate::config::{PerspectiveRoleConfig, RemoteConfig, RemotePerspectiveConfig};
use crate::core::{FailureKind, Identifier, ManualClock, ValidationFailure};
use crate::validation::{
    check_mpic_for_issuance, Outcome, Perspective, SetupError, ValidationRequest, Validator,
};
use chrono::Utc;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A stand-in perspective answering a fixed result.
struct Fixed {
    id: String,
    result: Result<(), ValidationFailure>,
}

#[async_trait::async_trait]
impl Perspective for Fixed {
    fn id(&self) -> &str {
        &self.id
    }
    async fn validate(&self, _: &ValidationRequest) -> Outcome {
        Outcome {
            result: self.result.clone(),
            evidence: serde_json::json!({"perspective": self.id}),
        }
    }
}

fn fixed(id: &str, ok: bool) -> Arc<dyn Perspective> {
    Arc::new(Fixed {
        id: id.to_string(),
        result: if ok {
            Ok(())
        } else {
            Err(ValidationFailure::new(
                FailureKind::IncorrectResponse,
                format!("{id} saw another TXT value"),
            ))
        },
    })
}

fn request() -> ValidationRequest {
    ValidationRequest {
        identifier: Identifier::dns("a.example"),
        challenge: None,
        caa: None,
    }
}

const RIRS: [&str; 3] = ["ARIN", "RIPE", "APNIC"];

/// The primary passes; remotes p1..pn, the ones in `failing` dissent.
fn validator(n: usize, failing: &[usize]) -> Validator {
    let mut v = Validator::with_perspective(fixed("local", true));
    for i in 1..=n {
        v = v.with_remote(RIRS[i % 3], fixed(&format!("p{i}"), !failing.contains(&i)));
    }
    v
}

#[tokio::test]
async fn one_dissent_of_five_still_corroborates() {
    let c = validator(5, &[4]).validate(&request()).await;
    assert!(c.result.is_ok(), "{:?}", c.result);
    assert_eq!(c.perspectives.len(), 6);
    assert_eq!(c.perspectives[4].rir.as_deref(), Some("RIPE"));
    assert_eq!(c.quorum["dissenting"], serde_json::json!(["p4"]));
    assert_eq!(c.quorum["result"], "valid");
}

#[tokio::test]
async fn two_dissents_of_five_fail_naming_both() {
    let c = validator(5, &[4, 5]).validate(&request()).await;
    let failure = c.result.expect_err("quorum fails");
    assert_eq!(failure.kind, FailureKind::Unauthorized);
    assert!(failure.detail.contains("p4, p5"), "{}", failure.detail);
    assert!(
        failure.detail.contains("p5 saw another TXT value"),
        "{}",
        failure.detail
    );
    assert_eq!(c.quorum["result"], "invalid");
}

#[tokio::test]
async fn a_failing_primary_keeps_its_own_problem() {
    let v =
        Validator::with_perspective(fixed("local", false)).with_remote("ARIN", fixed("p1", true));
    let failure = v.validate(&request()).await.result.expect_err("fails");
    assert_eq!(failure.kind, FailureKind::IncorrectResponse);
}

#[tokio::test]
async fn the_dated_minimum_switches_from_4_to_5_at_the_instant() {
    let before = crate::core::utc(2026, 12, 14, 23, 59, 59);
    let after = crate::core::utc(2026, 12, 15, 0, 0, 0);
    let clock = Arc::new(ManualClock::at(before));
    let v = validator(4, &[]).enforce_dated_minimum(true, clock.clone());
    assert!(v.validate(&request()).await.result.is_ok());
    clock.set(after);
    let failure = v
        .validate(&request())
        .await
        .result
        .expect_err("5 required now");
    assert!(
        failure
            .detail
            .contains("4 remote perspectives asked, 5 required"),
        "{}",
        failure.detail
    );

    // The finalize gate with the same instants.
    let remote = RemoteConfig {
        perspectives: (1..=4)
            .map(|i| RemotePerspectiveConfig {
                id: format!("p{i}"),
                rir: RIRS[i % 3].to_string(),
                url: format!("https://127.0.0.1:{}", 9000 + i),
            })
            .collect(),
        ..RemoteConfig::default()
    };
    assert!(check_mpic_for_issuance(&remote, before).is_ok());
    let refused = check_mpic_for_issuance(&remote, after).expect_err("refused");
    assert!(
        refused.contains("4 remote perspectives configured"),
        "{refused}"
    );
    assert!(refused.contains("5 required on 2026-12-15"), "{refused}");
}

/// A test PKI in a temporary directory: one CA for both sides (as the recipe does).
struct Pki {
    dir: tempfile::TempDir,
    ca_key: KeyPair,
    ca: rcgen::Certificate,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
        Pki { dir, ca_key, ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `<name>.pem` and `<name>.key`.
    fn leaf(&self, name: &str, purpose: ExtendedKeyUsagePurpose, expired: bool) {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("params");
        params.extended_key_usages = vec![purpose];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("sign");
        std::fs::write(self.path(&format!("{name}.pem")), cert.pem()).expect("write");
        std::fs::write(self.path(&format!("{name}.key")), key.serialize_pem()).expect("write");
    }

    fn remote(&self, client: &str, url: &str) -> RemoteConfig {
        RemoteConfig {
            client_cert: Some(self.path(&format!("{client}.pem"))),
            client_key: Some(self.path(&format!("{client}.key"))),
            ca: Some(self.path("ca.pem")),
            timeout_seconds: 5,
            perspectives: vec![RemotePerspectiveConfig {
                id: "p1".into(),
                rir: "RIPE".into(),
                url: url.into(),
            }],
        }
    }
}

/// Serves a stand-in perspective (`ok`) with the role's mTLS; returns its base URL.
async fn serve(pki: &Pki, ok: bool) -> String {
    let role = PerspectiveRoleConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        id: "p1".into(),
        rir: "RIPE".into(),
        tls_cert: pki.path("server.pem"),
        tls_key: pki.path("server.key"),
        client_ca: pki.path("ca.pem"),
    };
    let tls = server_tls(&role, Utc::now()).expect("server tls");
    let app = router("p1", "RIPE", fixed("p1", ok));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
    tokio::spawn(axum_server::from_tcp_rustls(listener, tls).serve(app.into_make_service()));
    format!("https://{addr}")
}

fn remote_perspective(remote: &RemoteConfig) -> RemotePerspective {
    let tls = client_tls(remote, Utc::now()).expect("client tls");
    RemotePerspective::new(&remote.perspectives[0], tls, Duration::from_secs(5)).expect("client")
}

#[tokio::test]
async fn mutual_tls_round_trip_and_refusals() {
    let pki = Pki::new();
    pki.leaf("server", ExtendedKeyUsagePurpose::ServerAuth, false);
    pki.leaf("client", ExtendedKeyUsagePurpose::ClientAuth, false);
    let ok_url = serve(&pki, true).await;
    let bad_url = serve(&pki, false).await;

    let outcome = remote_perspective(&pki.remote("client", &ok_url))
        .validate(&request())
        .await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.evidence["perspective"], "p1");
    let outcome = remote_perspective(&pki.remote("client", &bad_url))
        .validate(&request())
        .await;
    assert_eq!(
        outcome.result.expect_err("dissent").kind,
        FailureKind::IncorrectResponse
    );

    // A caller without a client certificate is refused in the handshake.
    // (The same trust as the primary, only without the client certificate.)
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let anonymous = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client");
    let refused = anonymous.get(format!("{ok_url}/health")).send().await;
    assert!(refused.is_err(), "served a caller without a certificate");
    // With the certificate, /health answers.
    let tls = client_tls(&pki.remote("client", &ok_url), Utc::now()).expect("tls");
    let body = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client")
        .get(format!("{ok_url}/health"))
        .send()
        .await
        .expect("health")
        .text()
        .await
        .expect("body");
    assert!(body.contains(r#""id":"p1""#), "{body}");

    // A perspective that is down does not corroborate.
    let down = remote_perspective(&pki.remote("client", "https://127.0.0.1:1"));
    let failure = down.validate(&request()).await.result.expect_err("down");
    assert_eq!(failure.kind, FailureKind::Connection);
    assert!(
        failure.detail.contains("remote perspective p1 (RIPE)"),
        "{}",
        failure.detail
    );
}

#[test]
fn expired_or_missing_credentials_name_the_key_and_file() {
    let pki = Pki::new();
    pki.leaf("old", ExtendedKeyUsagePurpose::ClientAuth, true);
    let err =
        client_tls(&pki.remote("old", "https://127.0.0.1:1"), Utc::now()).expect_err("expired");
    let text = err.to_string();
    assert!(matches!(err, SetupError::Credential { .. }));
    assert!(text.contains("validation.remote.client_cert"), "{text}");
    assert!(
        text.contains("old.pem") && text.contains("expired"),
        "{text}"
    );
    let missing = client_tls(&pki.remote("absent", "https://127.0.0.1:1"), Utc::now())
        .expect_err("missing")
        .to_string();
    assert!(missing.contains("validation.remote.client_cert") && missing.contains("absent.pem"));
    let _: &Path = pki.dir.path();
}

#[test]
fn start_gate_names_the_profiles_and_allows_private_ones() {
    let now = crate::core::utc(2026, 12, 15, 0, 0, 0);
    let mut config = crate::config::Config::default();
    assert!(crate::validation::check_publicly_trusted_mpic(&config, now).is_ok());
    if let Some(dv) = config.ca.profiles.get_mut("dv") {
        dv.publicly_trusted = true;
    }
    let refused = crate::validation::check_publicly_trusted_mpic(&config, now).expect_err("gate");
    assert!(
        refused.contains("publicly-trusted profile(s) dv"),
        "{refused}"
    );
    assert!(
        refused.contains("0 remote perspectives configured"),
        "{refused}"
    );
    config.validation.remote.perspectives = (1..=5)
        .map(|i| RemotePerspectiveConfig {
            id: format!("p{i}"),
            rir: "ARIN".into(),
            url: format!("https://127.0.0.1:{}", 9000 + i),
        })
        .collect();
    let refused = crate::validation::check_publicly_trusted_mpic(&config, now).expect_err("rir");
    assert!(refused.contains("1 RIR region"), "{refused}");
    config.validation.remote.perspectives[0].rir = "RIPE".into();
    assert!(crate::validation::check_publicly_trusted_mpic(&config, now).is_ok());
}
