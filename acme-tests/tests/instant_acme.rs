//! The instant-acme crate (0.8) driving a full RFC 8555 flow from Rust: account, order for
//! two names, http-01 answered by the harness responder (or dns-01 published with nsupdate),
//! finalize with an rcgen CSR, download, `openssl verify`, revoke. Run on SQLite and, when
//! the test cluster is there, on PostgreSQL; the SQLite run also checks graceful shutdown.

use acme_tests::postgres::{fresh_database, POSTGRES_URL_ENV};
use acme_tests::OrFail;
use acme_tests::{
    openssl_verify_chain, HankoOptions, Http01Responder, Rig, RigOptions, CONTACT_EMAIL,
};
use anyhow::{bail, ensure, Context, Result};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, Order,
    OrderStatus, RetryPolicy, RevocationReason, RevocationRequest,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::time::Duration;

/// Generous: validation and issuance in a debug build on a busy CI machine.
fn retry_policy() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(90))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Solver {
    Http01,
    Dns01,
}

#[tokio::test]
async fn instant_acme_http01_sqlite_then_graceful_shutdown() {
    let rig = Rig::start(RigOptions::default())
        .await
        .or_fail("test rig start");
    full_flow(&rig, Solver::Http01, &["www", "api"])
        .await
        .or_fail("instant-acme http-01 flow on SQLite");
    // The audit chain written by that traffic verifies end to end (`hanko audit verify`,
    // read-only beside the running server), and the JSON log carries request ids.
    let verify =
        acme_tests::process::Cmd::new(acme_tests::server::hanko_binary().or_fail("locate hanko"))
            .args(["audit", "verify"])
            .env("HANKO_STORAGE__DATA_DIR", rig.server.data_dir())
            .timeout(Duration::from_secs(60))
            .run_ok()
            .await
            .or_fail("hanko audit verify");
    let text = verify.combined();
    assert!(text.contains("audit chain intact"), "{text}");
    let log = std::fs::read_to_string(rig.server.log_path()).expect("server log");
    assert!(
        log.contains("\"request_id\""),
        "JSON log lines carry request ids"
    );
    // SIGTERM must end the server cleanly (exit status 0) within its grace period.
    let Rig { server, bind } = rig;
    server
        .stop(Duration::from_secs(30))
        .or_fail("graceful shutdown on SIGTERM");
    drop(bind);
}

#[tokio::test]
async fn instant_acme_dns01_nsupdate() {
    let rig = Rig::start(RigOptions::default())
        .await
        .or_fail("test rig start");
    full_flow(&rig, Solver::Dns01, &["dns", "mail"])
        .await
        .or_fail("instant-acme dns-01 flow");
}

#[tokio::test]
async fn instant_acme_http01_postgres() {
    let Some(url) = fresh_database()
        .await
        .or_fail("creating a fresh PostgreSQL database")
    else {
        // Loud, not silent: scripts/test.sh always provides the cluster (and requires it).
        eprintln!(
            "SKIPPED instant_acme_http01_postgres: {POSTGRES_URL_ENV} is not set; \
             run scripts/test.sh for the PostgreSQL battery"
        );
        return;
    };
    let opts = RigOptions {
        hanko: HankoOptions {
            postgres_url: Some(url),
            ..HankoOptions::default()
        },
        ..RigOptions::default()
    };
    let rig = Rig::start(opts)
        .await
        .or_fail("test rig start on PostgreSQL");
    full_flow(&rig, Solver::Http01, &["www", "api"])
        .await
        .or_fail("instant-acme http-01 flow on PostgreSQL");
}

/// instant-acme's HTTP client has no request timeout of its own; bound the whole flow so a
/// hung request fails the test instead of hanging CI.
const FLOW_TIMEOUT: Duration = Duration::from_secs(300);

async fn full_flow(rig: &Rig, solver: Solver, hosts: &[&str]) -> Result<()> {
    tokio::time::timeout(FLOW_TIMEOUT, flow(rig, solver, hosts))
        .await
        .with_context(|| format!("instant-acme flow did not finish within {FLOW_TIMEOUT:?}"))?
}

async fn flow(rig: &Rig, solver: Solver, hosts: &[&str]) -> Result<()> {
    acme_tests::init_crypto();
    let names: Vec<String> = hosts.iter().map(|h| Rig::name(h)).collect();
    let contact = format!("mailto:{CONTACT_EMAIL}");
    let (account, _credentials) = Account::builder_with_root(rig.root_pem())
        .context("instant-acme client trusting the development root")?
        .create(
            &NewAccount {
                contact: &[&contact],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            rig.directory_url(),
            None,
        )
        .await
        .context("newAccount")?;

    let identifiers: Vec<Identifier> = names.iter().cloned().map(Identifier::Dns).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .context("newOrder")?;
    ensure!(
        order.state().status == OrderStatus::Pending,
        "new order should be pending, is {:?}",
        order.state().status
    );
    // Kept alive until the order is ready: the CA may fetch (and retry) at any time.
    let _responder = solve_challenges(rig, &mut order, solver).await?;

    let chain = finalize_and_download(&mut order, &names).await?;
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let label = format!("instant-acme-{solver:?}").to_ascii_lowercase();
    let verified = openssl_verify_chain(
        &rig.root_pem(),
        &chain,
        &name_refs,
        rig.scratch_dir(),
        &label,
    )
    .await?;
    let leaf = CertificateDer::from_pem_file(&verified.leaf_path).context("reading leaf")?;
    revoke_twice(&account, &leaf).await
}

/// Answer every authorization with `solver`, wait for the order to become ready, and for
/// http-01 check that the CA fetched every token. Returns the responder (if any).
async fn solve_challenges(
    rig: &Rig,
    order: &mut Order,
    solver: Solver,
) -> Result<Option<Http01Responder>> {
    let responder = match solver {
        Solver::Http01 => Some(Http01Responder::start(rig.server.http01_port()).await?),
        Solver::Dns01 => None,
    };
    let kind = match solver {
        Solver::Http01 => ChallengeType::Http01,
        Solver::Dns01 => ChallengeType::Dns01,
    };
    let mut tokens = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.context("fetching authorization")?;
        ensure!(
            authz.status == AuthorizationStatus::Pending,
            "authorization for {} should be pending, is {:?}",
            authz.identifier(),
            authz.status
        );
        let mut challenge = authz
            .challenge(kind.clone())
            .with_context(|| format!("no {kind:?} challenge offered"))?;
        let key_authorization = challenge.key_authorization();
        match &responder {
            Some(responder) => {
                responder.insert(&challenge.token, key_authorization.as_str());
                tokens.push(challenge.token.clone());
            }
            None => {
                let name = format!("_acme-challenge.{}", challenge.identifier());
                let update = format!(
                    "zone {}\nupdate add {name} 60 TXT \"{}\"",
                    acme_tests::ZONE,
                    key_authorization.dns_value()
                );
                rig.bind
                    .nsupdate(&update)
                    .await
                    .with_context(|| format!("publishing TXT at {name}"))?;
            }
        }
        challenge
            .set_ready()
            .await
            .context("responding to challenge")?;
    }

    let status = order
        .poll_ready(&retry_policy())
        .await
        .context("polling order")?;
    if status != OrderStatus::Ready {
        bail!(
            "order is {status:?}, not ready; state: {:#?}",
            order.state()
        );
    }
    if let Some(responder) = &responder {
        let seen = responder.requests();
        for token in &tokens {
            ensure!(
                seen.iter().any(|(_, path)| path.ends_with(token.as_str())),
                "the CA never fetched token {token}; requests seen: {seen:?}"
            );
        }
    }
    Ok(responder)
}

/// Finalize with a fresh P-256 key and an rcgen CSR (no subject, SANs only), then poll
/// for the certificate and return the PEM chain as served.
async fn finalize_and_download(order: &mut Order, names: &[String]) -> Result<String> {
    let key = rcgen::KeyPair::generate().context("generating certificate key")?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).context("CSR parameters")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).context("building CSR")?;
    order.finalize_csr(csr.der()).await.context("finalize")?;
    order
        .poll_certificate(&retry_policy())
        .await
        .context("downloading certificate")
}

/// Revoke with the account key (RFC 8555 7.6); the same request again must be refused
/// with alreadyRevoked, which shows the first revocation was recorded.
async fn revoke_twice(account: &Account, leaf: &CertificateDer<'_>) -> Result<()> {
    let request = || RevocationRequest {
        certificate: leaf,
        reason: Some(RevocationReason::Superseded),
    };
    account.revoke(&request()).await.context("revokeCert")?;
    match account.revoke(&request()).await {
        Err(instant_acme::Error::Api(problem))
            if problem
                .r#type
                .as_deref()
                .is_some_and(|t| t.ends_with(":alreadyRevoked")) =>
        {
            Ok(())
        }
        other => bail!("second revocation should fail with alreadyRevoked, got {other:?}"),
    }
}
