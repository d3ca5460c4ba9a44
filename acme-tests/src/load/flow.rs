//! One simulated subscriber's issuance, step by step (RFC 8555 7.3 → 7.4.2, optionally 7.6),
//! with the latency of each step and, on failure, the step and the problem type.

use super::Challenge;
use crate::dns01::DnsResponder;
use crate::http01::Http01Responder;
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, Order,
    OrderStatus, RevocationRequest,
};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Client-side poll interval while waiting for `ready` or `valid`: short and fixed (ignoring
/// Retry-After) because we measure the server, not a polite client's back-off; it bounds the
/// measurement error of each wait to about this much.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// A wait for a state change longer than this fails the issuance (`timeout`).
pub const POLL_DEADLINE: Duration = Duration::from_secs(60);

/// The measured steps, in flow order; the CSV columns and the report rows follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    NewAccount,
    NewOrder,
    Authz,
    ChallengeValid,
    Finalize,
    CertificateReady,
    Download,
    Revoke,
    EndToEnd,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::NewAccount,
        Step::NewOrder,
        Step::Authz,
        Step::ChallengeValid,
        Step::Finalize,
        Step::CertificateReady,
        Step::Download,
        Step::Revoke,
        Step::EndToEnd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::NewAccount => "new-account",
            Step::NewOrder => "new-order",
            Step::Authz => "authz",
            Step::ChallengeValid => "challenge-valid",
            Step::Finalize => "finalize",
            Step::CertificateReady => "certificate-ready",
            Step::Download => "download",
            Step::Revoke => "revoke",
            Step::EndToEnd => "end-to-end",
        }
    }
}

/// What every subscriber shares.
pub struct Context {
    pub directory: String,
    pub tls: super::http::Tls,
    pub challenge: Challenge,
    pub http01: Arc<Http01Responder>,
    /// The built-in DNS responder, when `--dns-port` was given (always for dns-01).
    pub dns: Option<Arc<DnsResponder>>,
    pub max_names: usize,
    pub domain_suffix: String,
    pub revoke_fraction: f64,
    pub contact: Option<String>,
}

/// An issued certificate.
#[derive(Clone, Debug)]
pub struct Issued {
    /// Hex of the certificate's serial number bytes (as in its DER), lowercase.
    pub serial: String,
    pub certificate_url: String,
    pub chain_pem: String,
    pub revoked: bool,
    /// The order's URL and the issuing account's credentials (instant-acme's JSON), so a
    /// fault test can download the certificate again through ACME after a restart.
    pub order_url: String,
    pub account_credentials: String,
}

/// Why an issuance failed: where, the RFC 8555 6.7 problem type (or a client-side kind such
/// as `transport` or `timeout`), and the text.
#[derive(Clone, Debug)]
pub struct Failure {
    pub step: Step,
    pub kind: String,
    pub detail: String,
}

/// One issuance attempt.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub index: usize,
    pub subscriber: usize,
    pub started: SystemTime,
    /// Offsets from the run start, for the chart.
    pub start_offset: Duration,
    pub end_offset: Duration,
    pub names: usize,
    pub steps: Vec<(Step, Duration)>,
    pub result: Result<Issued, Failure>,
}

impl Outcome {
    pub fn step(&self, step: Step) -> Option<Duration> {
        self.steps.iter().find(|(s, _)| *s == step).map(|(_, d)| *d)
    }
}

/// Records step latencies as the flow goes.
struct Timings(Vec<(Step, Duration)>);

impl Timings {
    async fn time<T, F>(&mut self, step: Step, fut: F) -> Result<T, Failure>
    where
        F: std::future::Future<Output = Result<T, instant_acme::Error>>,
    {
        let t = Instant::now();
        let out = fut.await.map_err(|e| failure(step, &e))?;
        self.0.push((step, t.elapsed()));
        Ok(out)
    }
}

/// The problem type of an instant-acme error, or a client-side kind.
pub fn classify(e: &instant_acme::Error) -> String {
    use instant_acme::Error as E;
    match e {
        E::Api(p) => p.r#type.clone().unwrap_or_else(|| match p.status {
            Some(s) => format!("problem without type (HTTP {s})"),
            None => "problem without type".to_string(),
        }),
        E::Hyper(_) | E::Http(_) => "transport".to_string(),
        // instant-acme wraps the hyper-util client's errors (connection refused or reset,
        // TLS failures) as `Other`.
        E::Other(inner) if inner.is::<hyper_util::client::legacy::Error>() => {
            "transport".to_string()
        }
        E::Timeout(_) => "timeout".to_string(),
        E::Json(_) => "bad JSON".to_string(),
        _ => "client".to_string(),
    }
}

fn failure(step: Step, e: &instant_acme::Error) -> Failure {
    Failure {
        step,
        kind: classify(e),
        detail: e.to_string(),
    }
}

fn fail(step: Step, kind: &str, detail: impl Into<String>) -> Failure {
    Failure {
        step,
        kind: kind.to_string(),
        detail: detail.into(),
    }
}

/// Fresh names `s<sub>-<rand>.<suffix>`, so no authorization is ever reused.
pub fn names_for(subscriber: usize, count: usize, suffix: &str) -> Vec<String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..count)
        .map(|_| {
            let tag: String = (0..10)
                .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
                .collect();
            format!("s{subscriber}-{tag}.{suffix}")
        })
        .collect()
}

/// Run one issuance; never panics, every failure is an `Outcome` with its step.
pub async fn issue(ctx: &Context, index: usize, subscriber: usize, run_start: Instant) -> Outcome {
    let started = SystemTime::now();
    let start_offset = run_start.elapsed();
    let count = {
        use rand::Rng;
        rand::thread_rng().gen_range(1..=ctx.max_names.max(1))
    };
    let names = names_for(subscriber, count, &ctx.domain_suffix);
    let mut timings = Timings(Vec::with_capacity(Step::ALL.len()));
    let t0 = Instant::now();
    let result = flow(ctx, &names, &mut timings).await;
    if result.is_ok() {
        timings.0.push((Step::EndToEnd, t0.elapsed()));
    }
    Outcome {
        index,
        subscriber,
        started,
        start_offset,
        end_offset: run_start.elapsed(),
        names: count,
        steps: timings.0,
        result,
    }
}

async fn flow(ctx: &Context, names: &[String], t: &mut Timings) -> Result<Issued, Failure> {
    let contact: Vec<&str> = ctx.contact.iter().map(String::as_str).collect();
    let builder = Account::builder_with_http(ctx.tls.client());
    let new_account = NewAccount {
        contact: &contact,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = t
        .time(
            Step::NewAccount,
            builder.create(&new_account, ctx.directory.clone(), None),
        )
        .await?;
    let identifiers: Vec<Identifier> = names.iter().cloned().map(Identifier::Dns).collect();
    let mut order = t
        .time(
            Step::NewOrder,
            account.new_order(&NewOrder::new(&identifiers)),
        )
        .await?;
    let mut published = Vec::new();
    let ready = match answer_challenges(ctx, &mut order, t, &mut published).await {
        Ok(started) => wait_for(&mut order, OrderStatus::Ready, Step::ChallengeValid)
            .await
            .map(|()| started),
        Err(e) => Err(e),
    };
    // Withdrawn whatever happened, so a long run's responders keep only live answers.
    withdraw(ctx, &published);
    let challenge_started = ready?;
    t.0.push((Step::ChallengeValid, challenge_started.elapsed()));

    let csr = csr(names).map_err(|e| fail(Step::Finalize, "client", e))?;
    let finalize_started = Instant::now();
    t.time(Step::Finalize, order.finalize_csr(&csr)).await?;
    wait_for(&mut order, OrderStatus::Valid, Step::CertificateReady).await?;
    t.0.push((Step::CertificateReady, finalize_started.elapsed()));
    let certificate_url = order.state().certificate.clone().unwrap_or_default();
    let chain_pem = t
        .time(Step::Download, order.certificate())
        .await?
        .ok_or_else(|| fail(Step::Download, "client", "order valid without certificate"))?;
    let der = crate::acme_client::leaf_der(&chain_pem)
        .map_err(|e| fail(Step::Download, "bad certificate", format!("{e:#}")))?;
    let serial = serial_hex(&der).map_err(|e| fail(Step::Download, "bad certificate", e))?;
    let revoked = if should_revoke(ctx.revoke_fraction) {
        let cert = rustls::pki_types::CertificateDer::from(der);
        let request = RevocationRequest {
            certificate: &cert,
            reason: None,
        };
        t.time(Step::Revoke, account.revoke(&request)).await?;
        true
    } else {
        false
    };
    Ok(Issued {
        serial,
        certificate_url,
        chain_pem,
        revoked,
        order_url: order.url().to_string(),
        account_credentials: serde_json::to_string(&credentials).unwrap_or_default(),
    })
}

/// Fetch every authorization, publish the answer and POST the challenge; returns when the
/// first challenge was posted (the start of `challenge-valid`).
async fn answer_challenges(
    ctx: &Context,
    order: &mut Order,
    t: &mut Timings,
    published: &mut Vec<String>,
) -> Result<Instant, Failure> {
    let mut fetching = Duration::ZERO;
    let mut first_post = None;
    let mut authorizations = order.authorizations();
    loop {
        let fetch = Instant::now();
        let Some(authz) = authorizations.next().await else {
            break;
        };
        let mut authz = authz.map_err(|e| failure(Step::Authz, &e))?;
        fetching += fetch.elapsed();
        if authz.status == AuthorizationStatus::Valid {
            continue;
        }
        let (kind, label) = match ctx.challenge {
            Challenge::Http01 => (ChallengeType::Http01, "http-01"),
            Challenge::Dns01 => (ChallengeType::Dns01, "dns-01"),
        };
        let Identifier::Dns(name) = authz.identifier().identifier.clone() else {
            return Err(fail(
                Step::Authz,
                "client",
                "authorization for a non-DNS identifier",
            ));
        };
        let mut challenge = authz.challenge(kind).ok_or_else(|| {
            fail(
                Step::Authz,
                "client",
                format!("no {label} challenge offered"),
            )
        })?;
        let key_authorization = challenge.key_authorization();
        match (ctx.challenge, &ctx.dns) {
            (Challenge::Http01, _) => {
                ctx.http01
                    .insert(&challenge.token, key_authorization.as_str());
                published.push(challenge.token.clone());
            }
            (Challenge::Dns01, Some(dns)) => {
                dns.insert(&name, &key_authorization.dns_value());
                published.push(name.clone());
            }
            (Challenge::Dns01, None) => {
                return Err(fail(
                    Step::Authz,
                    "client",
                    "dns-01 without a DNS responder",
                ))
            }
        }
        first_post.get_or_insert_with(Instant::now);
        challenge
            .set_ready()
            .await
            .map_err(|e| failure(Step::ChallengeValid, &e))?;
    }
    t.0.push((Step::Authz, fetching));
    Ok(first_post.unwrap_or_else(Instant::now))
}

/// Take down what `answer_challenges` published: http-01 tokens, or the names whose
/// `_acme-challenge` TXT records were set.
fn withdraw(ctx: &Context, published: &[String]) {
    match (ctx.challenge, &ctx.dns) {
        (Challenge::Dns01, Some(dns)) => published.iter().for_each(|n| dns.remove(n)),
        _ => published.iter().for_each(|token| ctx.http01.remove(token)),
    }
}

/// Poll the order until `want`; an error or `invalid` fails `step`.
async fn wait_for(order: &mut Order, want: OrderStatus, step: Step) -> Result<(), Failure> {
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        if order.state().status == want {
            return Ok(());
        }
        if let Some(problem) = &order.state().error {
            let e = instant_acme::Error::Api(problem.clone());
            return Err(failure(step, &e));
        }
        if order.state().status == OrderStatus::Invalid {
            return Err(fail(step, "order invalid", "order became invalid"));
        }
        if Instant::now() >= deadline {
            return Err(fail(
                step,
                "timeout",
                format!("order not {want:?} after {POLL_DEADLINE:?}"),
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
        order.refresh().await.map_err(|e| failure(step, &e))?;
    }
}

fn should_revoke(fraction: f64) -> bool {
    use rand::Rng;
    fraction > 0.0 && rand::thread_rng().gen_bool(fraction.min(1.0))
}

/// A CSR (DER) for `names` under a fresh P-256 key, empty subject.
fn csr(names: &[String]) -> Result<Vec<u8>, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| format!("CSR key: {e}"))?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    crate::pki::csr_der(&key, &refs).map_err(|e| format!("CSR: {e:#}"))
}

/// Hex of a certificate's serial number bytes as in its DER, lowercase (the form hanko's
/// `serials` table and `Issued::serial` use).
pub fn serial_hex(der: &[u8]) -> Result<String, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("parsing the leaf certificate: {e}"))?;
    Ok(hex::encode(cert.raw_serial()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused connection through the load generator's own client is `transport`, so the
    /// fault runs can tell "server gone" from client bugs.
    #[tokio::test]
    async fn refused_connection_is_transport() {
        crate::init_crypto();
        let port = crate::ports::free_tcp_port().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("ca.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&bundle, ca.pem()).unwrap();
        let tls = super::super::http::Tls::from_bundle(&bundle).unwrap();
        let err = Account::builder_with_http(tls.client())
            .create(
                &NewAccount {
                    contact: &[],
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                format!("https://127.0.0.1:{port}/directory"),
                None,
            )
            .await
            .err()
            .expect("nothing listens there");
        assert_eq!(classify(&err), "transport", "{err:?}");
    }
}
