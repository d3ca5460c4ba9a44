//! Bad input catalogue (issue #5 item 5): one table of malformed or hostile requests sent to
//! the real `hanko serve`, each row with the HTTP status and RFC 8555 6.7 problem type it
//! must get. For every answer: no 5xx, and every error is `application/problem+json` with a
//! `detail`. Then slow clients hold connections open, and afterwards the server must still
//! serve (directory, nonce, a complete issuance) with no panic in its log.
//!
//! One server for the whole table (a Rig: BIND9 + hanko, for the issuances the finalize
//! rows need); rows are independent because each builds its request with a fresh nonce.

use acme_tests::acme_client::{
    b64, json_payload, post_oversized, protected_header, sign_jws, tls_connect_blocking,
    tls_receive, tls_send, Account, AcmeClient, Key, KeyId, Resp, ACME_ERROR, JOSE_JSON,
};
use acme_tests::{HankoOptions, Http01Responder, OrFail, Rig, RigOptions};
use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// `server.request_timeout_seconds` for this server: low, so slow clients are dropped soon.
const REQUEST_TIMEOUT_SECONDS: u64 = 3;
/// How long a slow client may be kept before we call it a failure: generous for a debug
/// build on a loaded 2-core machine (hyper's header timer, the TLS handshake timer of 10 s).
const SLOW_CLIENT_BOUND: Duration = Duration::from_secs(90);

/// Everything the rows refer to: two accounts and account A's resources.
struct Ctx {
    rig: Rig,
    client: AcmeClient,
    a: Account,
    b: Account,
    /// A's order that is `ready` (its authorization valid): the finalize rows use it.
    ready_order: Value,
    ready_order_url: String,
    authz_url: String,
    chall_url: String,
    /// A certificate issued to A.
    cert_url: String,
}

impl Ctx {
    fn finalize_url(&self) -> String {
        self.ready_order["finalize"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn url(&self, resource: &str) -> String {
        self.client.url(resource)
    }

    fn path(&self, path: &str) -> String {
        format!("{}{path}", self.client.base)
    }
}

type Fut = Pin<Box<dyn Future<Output = Result<Resp>> + Send>>;

/// One row: a request and the answer it must get (`kind` None: a success status, no problem).
struct Case {
    name: String,
    status: u16,
    kind: Option<&'static str>,
    send: Box<dyn Fn(Arc<Ctx>) -> Fut + Send + Sync>,
}

fn case<F, Fu>(name: impl Into<String>, status: u16, kind: Option<&'static str>, f: F) -> Case
where
    F: Fn(Arc<Ctx>) -> Fu + Send + Sync + 'static,
    Fu: Future<Output = Result<Resp>> + Send + 'static,
{
    Case {
        name: name.into(),
        status,
        kind,
        send: Box::new(move |c| Box::pin(f(c))),
    }
}

const MALFORMED: Option<&str> = Some("malformed");

fn agreed() -> Vec<u8> {
    json_payload(&json!({"termsOfServiceAgreed": true}))
}

type Tamper = Arc<dyn Fn(&mut Map<String, Value>) + Send + Sync>;

/// newAccount for a fresh key, protected header edited by `tamper` before signing.
fn new_account_header(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    tamper: impl Fn(&mut Map<String, Value>) + Send + Sync + 'static,
) -> Case {
    let tamper: Tamper = Arc::new(tamper);
    case(name, status, kind, move |c| {
        let tamper = tamper.clone();
        async move {
            let url = c.url("newAccount");
            let key = Key::es256();
            c.client
                .post_signed(&url, &key, KeyId::Jwk, &agreed(), |h| tamper(h))
                .await
        }
    })
}

/// newOrder signed by A (kid), protected header edited by `tamper`.
fn new_order_header(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    tamper: impl Fn(&mut Map<String, Value>) + Send + Sync + 'static,
) -> Case {
    let tamper: Tamper = Arc::new(tamper);
    case(name, status, kind, move |c| {
        let tamper = tamper.clone();
        async move {
            let payload = json!({"identifiers": [{"type": "dns", "value": "www.hanko-ci.com"}]});
            c.a.post_bytes(&c.url("newOrder"), &json_payload(&payload), |h| tamper(h))
                .await
        }
    })
}

/// A valid newAccount JWS (fresh key and nonce), edited as a JSON value, then sent.
fn jws_edit(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) -> Case {
    let edit = Arc::new(edit);
    case(name, status, kind, move |c| {
        let edit = edit.clone();
        async move {
            let jws = valid_new_account_jws(&c).await?;
            let mut jws = jws;
            edit(&mut jws);
            c.client.post_jws(&c.url("newAccount"), &jws).await
        }
    })
}

/// A valid newAccount JWS serialized, the text edited, the bytes sent.
fn body_edit(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    edit: impl Fn(String) -> String + Send + Sync + 'static,
) -> Case {
    let edit = Arc::new(edit);
    case(name, status, kind, move |c| {
        let edit = edit.clone();
        async move {
            let jws = valid_new_account_jws(&c).await?.to_string();
            let body = edit(jws).into_bytes();
            c.client
                .post_raw(&c.url("newAccount"), JOSE_JSON, body)
                .await
        }
    })
}

async fn valid_new_account_jws(c: &Ctx) -> Result<Value> {
    let key = Key::es256();
    let nonce = c.client.nonce().await?;
    let header = protected_header(&key, KeyId::Jwk, &nonce, &c.url("newAccount"));
    Ok(sign_jws(&key, &header, &agreed()))
}

/// A signed by kid, POST of `payload` (raw bytes; empty = POST-as-GET) to `target(ctx)`.
fn a_post(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    target: fn(&Ctx) -> String,
    payload: Vec<u8>,
) -> Case {
    case(name, status, kind, move |c| {
        let payload = payload.clone();
        async move { c.a.post_bytes(&target(&c), &payload, |_| {}).await }
    })
}

fn a_json(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    target: fn(&Ctx) -> String,
    payload: Value,
) -> Case {
    a_post(name, status, kind, target, json_payload(&payload))
}

/// Account B (kid) POSTing to one of A's resources.
fn b_post(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    target: fn(&Ctx) -> String,
    payload: Option<Value>,
) -> Case {
    case(name, status, kind, move |c| {
        let payload = payload.clone();
        async move { c.b.post(&target(&c), payload.as_ref()).await }
    })
}

/// Any method, URL, Content-Type and body, unsigned.
fn raw(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    method: reqwest::Method,
    target: fn(&Ctx) -> String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
) -> Case {
    case(name, status, kind, move |c| {
        let (method, body) = (method.clone(), body.clone());
        async move { c.client.send(method, &target(&c), content_type, body).await }
    })
}

/// newAccount with a hand-written protected header (`{nonce}`, `{url}`, `{jwk}` filled in)
/// and raw payload bytes, correctly signed.
fn raw_header(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    template: &'static str,
    payload: Vec<u8>,
) -> Case {
    case(name, status, kind, move |c| {
        let payload = payload.clone();
        async move {
            let key = Key::es256();
            let nonce = c.client.nonce().await?;
            let url = c.url("newAccount");
            let header = template
                .replace("{nonce}", &nonce)
                .replace("{url}", &url)
                .replace("{jwk}", &key.jwk().to_string());
            let protected = b64(&header);
            let payload = b64(&payload);
            let sig = b64(key.sign(format!("{protected}.{payload}").as_bytes()));
            let jws = json!({"protected": protected, "payload": payload, "signature": sig});
            c.client.post_jws(&url, &jws).await
        }
    })
}

/// finalize of A's ready order with this CSR (DER).
fn finalize_csr(
    name: impl Into<String>,
    status: u16,
    kind: Option<&'static str>,
    csr: Vec<u8>,
) -> Case {
    a_json(
        name,
        status,
        kind,
        Ctx::finalize_url,
        json!({"csr": b64(csr)}),
    )
}

/// A body over `server.max_body_bytes` (64 KiB by default), through the raw client so the
/// answer is read even when the server stops reading the upload.
fn oversized(name: &str, len: usize, fill: u8) -> Case {
    case(name, 413, MALFORMED, move |c| async move {
        let raw = post_oversized(
            &c.rig.server,
            "/acme/new-account",
            len,
            fill,
            Duration::from_secs(5),
        )
        .await?;
        Ok(raw.into_resp("POST", "/acme/new-account (oversized)"))
    })
}

#[path = "bad_input/access.rs"]
mod access;
#[path = "bad_input/csrs.rs"]
mod csrs;
#[path = "bad_input/rows.rs"]
mod rows;

// ---- the test ----

#[tokio::test]
async fn bad_input_catalogue() {
    let (ctx, responder) = setup().await;
    let ctx = Arc::new(ctx);
    let cases = rows::all();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let rsp = match (case.send)(ctx.clone()).await {
            Ok(rsp) => rsp,
            Err(e) => {
                failures.push(format!("{}: request failed: {e:#}", case.name));
                continue;
            }
        };
        if let Err(why) = check(case, &rsp) {
            failures.push(format!("{}: {why}\n{rsp}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    eprintln!("bad input catalogue: {} cases passed", cases.len());

    slow_clients(&ctx).await;
    still_serves(&ctx, &responder).await;
}

/// The row's expectations plus the catalogue-wide rules: no 5xx; every error is a problem
/// document with a `detail`.
fn check(case: &Case, rsp: &Resp) -> Result<(), String> {
    if rsp.status >= 500 {
        return Err(format!("5xx ({})", rsp.status));
    }
    if rsp.status != case.status {
        return Err(format!("status {} (expected {})", rsp.status, case.status));
    }
    if rsp.status >= 400 {
        problem_shape(rsp)?;
    }
    if let Some(kind) = case.kind {
        let want = format!("{ACME_ERROR}{kind}");
        if rsp.problem_type() != Some(want.as_str()) {
            return Err(format!(
                "problem type {:?} (expected {want})",
                rsp.problem_type()
            ));
        }
    }
    Ok(())
}

fn problem_shape(rsp: &Resp) -> Result<(), String> {
    if rsp.header("content-type") != Some("application/problem+json") {
        return Err(format!(
            "Content-Type {:?}, not application/problem+json",
            rsp.header("content-type")
        ));
    }
    if rsp.str("detail").is_none_or(str::is_empty) {
        return Err("problem document without a detail".into());
    }
    if rsp
        .body
        .get("status")
        .is_some_and(|s| s != &json!(rsp.status))
    {
        return Err("problem status differs from the HTTP status".into());
    }
    Ok(())
}

async fn setup() -> (Ctx, Http01Responder) {
    let opts = RigOptions {
        hanko: HankoOptions {
            env: vec![(
                "HANKO_SERVER__REQUEST_TIMEOUT_SECONDS".into(),
                REQUEST_TIMEOUT_SECONDS.to_string(),
            )],
            ..HankoOptions::default()
        },
        ..RigOptions::default()
    };
    let rig = Rig::start(opts).await.or_fail("rig start");
    let client = AcmeClient::connect(&rig.server).await.or_fail("directory");
    let a = client
        .create_account(Key::es256())
        .await
        .or_fail("account A");
    let b = client
        .create_account(Key::es256())
        .await
        .or_fail("account B");
    let responder = Http01Responder::start(rig.server.http01_port())
        .await
        .or_fail("http-01 responder");
    let (issued, _, _) = a
        .order_and_finalize(&responder, &["www.hanko-ci.com"], None)
        .await
        .or_fail("A's first issuance");
    let cert_url = issued
        .str("certificate")
        .unwrap_or_else(|| panic!("no certificate URL:\n{issued}"))
        .to_string();
    let (_, ready_order_url) = a
        .create_order(&["api.hanko-ci.com"])
        .await
        .or_fail("A's second order");
    let ready_order = a
        .make_ready(&responder, &ready_order_url)
        .await
        .or_fail("making the order ready");
    let authz_url = ready_order["authorizations"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let chall = a.http01_challenge(&authz_url).await.or_fail("challenge");
    let chall_url = chall["url"].as_str().unwrap_or_default().to_string();
    let ctx = Ctx {
        rig,
        client,
        a,
        b,
        ready_order,
        ready_order_url,
        authz_url,
        chall_url,
        cert_url,
    };
    (ctx, responder)
}

// ---- slow clients ----

/// What a slow client does before it stalls.
#[derive(Clone, Copy, Debug)]
enum Stall {
    /// TCP connected, no TLS ClientHello.
    BeforeTls,
    /// TLS up, half a request head.
    HalfHead,
    /// Whole head announcing a body, a tenth of the body.
    HalfBody,
}

/// Open slow connections, check that other clients are served meanwhile, and that the
/// server drops each slow one (closes it, or answers it with a 408 problem) in time.
async fn slow_clients(ctx: &Arc<Ctx>) {
    let root = ctx.rig.server.root_pem_path();
    let port = ctx.rig.server.port();
    let mut held = Vec::new();
    for stall in [Stall::BeforeTls, Stall::HalfHead, Stall::HalfBody]
        .into_iter()
        .cycle()
        .take(9)
    {
        let root = root.clone();
        held.push((
            stall,
            tokio::task::spawn_blocking(move || slow_client(&root, port, stall)),
        ));
    }
    // While they hold their connections, everyone else is served.
    for _ in 0..5 {
        ctx.client
            .get(&ctx.rig.server.directory_url())
            .await
            .or_fail("directory while slow clients hold connections")
            .assert_status(200);
        ctx.client.nonce().await.or_fail("nonce while slow clients");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (stall, task) in held {
        let outcome = task
            .await
            .unwrap_or_else(|e| panic!("slow client {stall:?} task: {e}"))
            .or_fail(&format!("slow client {stall:?}"));
        assert!(
            !outcome.still_open,
            "slow client {stall:?}: the server kept the connection for {SLOW_CLIENT_BOUND:?}"
        );
        if let Some(status) = outcome.status {
            assert_eq!(
                status, 408,
                "slow client {stall:?}: expected no answer or 408, got {status}:\n{}",
                outcome.text
            );
            assert!(
                outcome.text.contains("application/problem+json"),
                "slow client {stall:?}: the 408 is not a problem document:\n{}",
                outcome.text
            );
        }
    }
}

struct SlowOutcome {
    /// True when the server neither answered nor closed within `SLOW_CLIENT_BOUND`.
    still_open: bool,
    status: Option<u16>,
    text: String,
}

fn slow_client(root: &std::path::Path, port: u16, stall: Stall) -> Result<SlowOutcome> {
    use std::io::Read;
    if let Stall::BeforeTls = stall {
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", port))?;
        sock.set_read_timeout(Some(SLOW_CLIENT_BOUND))?;
        let mut buf = [0u8; 64];
        let still_open = match sock.read(&mut buf) {
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            Ok(_) => false,
        };
        return Ok(SlowOutcome {
            still_open,
            status: None,
            text: String::new(),
        });
    }
    let (mut conn, mut sock) = tls_connect_blocking(root, port).context("TLS connect")?;
    let head = match stall {
        Stall::HalfHead => {
            format!("POST /acme/new-account HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Ty")
        }
        _ => format!(
            "POST /acme/new-account HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Type: {JOSE_JSON}\r\nContent-Length: 1000\r\n\r\n{{\"protected\":\"eyJhbGciOi"
        ),
    };
    tls_send(&mut conn, &mut sock, head.as_bytes()).context("sending the first part")?;
    sock.set_read_timeout(Some(SLOW_CLIENT_BOUND))?;
    let (received, timed_out) = tls_receive(&mut conn, &mut sock);
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok());
    Ok(SlowOutcome {
        still_open: timed_out && received.is_empty(),
        status,
        text,
    })
}

// ---- afterwards ----

async fn still_serves(ctx: &Arc<Ctx>, responder: &Http01Responder) {
    let dir = ctx
        .client
        .get(&ctx.rig.server.directory_url())
        .await
        .or_fail("directory after the catalogue");
    dir.assert_status(200);
    assert!(dir.str("newOrder").is_some(), "directory:\n{dir}");
    ctx.client
        .nonce()
        .await
        .or_fail("nonce after the catalogue");
    let account = ctx
        .client
        .create_account(Key::es256())
        .await
        .or_fail("new account after the catalogue");
    let (chain, _) = account
        .issue(responder, &["mail.hanko-ci.com"], None)
        .await
        .or_fail("issuance after the catalogue");
    assert!(chain.contains("BEGIN CERTIFICATE"), "chain:\n{chain}");
    let log = std::fs::read_to_string(ctx.rig.server.log_path()).or_fail_io("server log");
    for needle in ["panicked", "RUST_BACKTRACE"] {
        assert!(
            !log.contains(needle),
            "the server log shows a panic ({needle:?}):\n{}",
            ctx.rig.server.log_tail(200)
        );
    }
}

trait OrFailIo<T> {
    fn or_fail_io(self, what: &str) -> T;
}

impl<T> OrFailIo<T> for std::io::Result<T> {
    fn or_fail_io(self, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}
