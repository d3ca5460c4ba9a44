//! The router, shared state, response decoration (Replay-Nonce, Link: index) and the JWS
//! authentication every POST goes through (RFC 8555 6.2–6.5).

use super::handlers;
use super::jws::{AccountKey, KeyRef, ParsedJws};
use super::nonce::{NonceError, NonceService};
use super::problem::Problem;
use super::render::Urls;
use crate::config::Config;
use crate::core::AccountStatus;
use crate::metrics::{Metrics, RequestLabels};
use crate::ra::{AccountView, Ra};
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

pub struct AppState {
    pub ra: Arc<Ra>,
    pub config: Arc<Config>,
    pub nonces: NonceService,
    pub urls: Urls,
    pub metrics: Arc<Metrics>,
}

pub type Shared = State<Arc<AppState>>;

pub fn router(state: Arc<AppState>) -> Router {
    let acme = Router::new()
        .route(
            "/directory",
            get(handlers::directory).fallback(|| async { Problem::method_not_allowed("GET") }),
        )
        .route(
            "/acme/new-nonce",
            get(handlers::new_nonce_get)
                .head(handlers::new_nonce_head)
                .fallback(|| async { Problem::method_not_allowed("GET, HEAD") }),
        )
        .route("/acme/new-account", post(handlers::new_account))
        .route("/acme/acct/{id}", post(handlers::account))
        .route("/acme/acct/{id}/orders", post(handlers::orders))
        .route("/acme/key-change", post(handlers::key_change))
        .route("/acme/new-order", post(handlers::new_order))
        .route("/acme/order/{id}", post(handlers::order))
        .route("/acme/order/{id}/finalize", post(handlers::finalize))
        .route("/acme/authz/{id}", post(handlers::authorization))
        .route("/acme/chall/{id}", post(handlers::challenge))
        .route("/acme/cert/{serial}", post(handlers::certificate))
        .route("/acme/revoke-cert", post(handlers::revoke))
        // RFC 8555 6.3: resources other than directory and newNonce are POST only.
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed("POST") })
        .fallback(|| async { Problem::not_found("resource") })
        // A client gets `request_timeout_seconds` for its whole request (slow senders
        // included) before the server answers 408 and frees the worker; inside `decorate`
        // so the 408 is a problem document.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(state.config.server.request_timeout_seconds),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), decorate));
    Router::new()
        .merge(acme)
        .route("/health", get(handlers::health))
        .route("/metrics", get(handlers::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// Every ACME response carries a fresh nonce (RFC 8555 6.5: required on POST responses and
/// badNonce errors) and a Link to the directory (7.1).
async fn decorate(State(state): Shared, req: Request, next: Next) -> Response {
    let mut res = as_problem(next.run(req).await);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&state.nonces.issue()) {
        h.insert("replay-nonce", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>;rel=\"index\"", state.urls.directory())) {
        h.append(header::LINK, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Errors produced below our handlers (axum's body-size and path rejections, the request
/// timeout) become problem documents too, so every ACME error a client sees is RFC 7807.
fn as_problem(res: Response) -> Response {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let detail = match status.as_u16() {
        408 => "the request took too long",
        413 => "the request body is too large",
        415 => "unsupported media type",
        _ => "the request could not be processed",
    };
    let kind = if status.is_server_error() {
        "serverInternal"
    } else {
        "malformed"
    };
    Problem::new(status, kind, detail).into_response()
}

/// Request counts by route template and status for /metrics.
async fn count(State(state): Shared, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let res = next.run(req).await;
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint,
            status: res.status().as_u16(),
        })
        .inc();
    res
}

/// Which key a request must be signed with (RFC 8555 6.2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// newAccount: `jwk`.
    Jwk,
    /// Everything else: `kid` of an existing, valid account.
    Kid,
    /// revokeCert: either.
    Either,
}

pub struct Authed {
    pub jws: ParsedJws,
    /// Set for `kid` requests.
    pub account: Option<AccountView>,
    /// Set for `jwk` requests.
    pub key: Option<AccountKey>,
}

impl Authed {
    /// The account of a `kid` request (KeyMode::Kid guarantees it).
    pub fn account(&self) -> Result<&AccountView, Problem> {
        self.account
            .as_ref()
            .ok_or_else(|| Problem::malformed("this request must be signed with an account kid"))
    }

    /// POST-as-GET (RFC 8555 6.3): the payload must be the empty string.
    pub fn require_empty(&self) -> Result<(), Problem> {
        if self.jws.payload_is_empty {
            Ok(())
        } else {
            Err(Problem::malformed("POST-as-GET requires an empty payload"))
        }
    }
}

/// Parse, replay-check and verify a JWS POST for `path`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    body: &Bytes,
    mode: KeyMode,
) -> Result<Authed, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // RFC 9110 8.3.1: type and subtype are case-insensitive.
    let media_type = content_type.split(';').next().map(str::trim);
    if !media_type.is_some_and(|t| t.eq_ignore_ascii_case("application/jose+json")) {
        return Err(Problem::unsupported_media_type());
    }
    let jws = ParsedJws::parse(body)?;
    let expected_url = state.urls.path(path);
    if jws.url != expected_url {
        return Err(Problem::unauthorized(format!(
            "JWS url {:?} does not match the request URL {expected_url:?} (RFC 8555 6.4)",
            jws.url
        )));
    }
    let nonce = jws
        .nonce
        .as_deref()
        .ok_or_else(|| Problem::bad_nonce("JWS has no nonce (RFC 8555 6.5)"))?;
    state.nonces.consume(nonce).map_err(|e| {
        Problem::bad_nonce(match e {
            NonceError::Unknown => "nonce was not issued by this server",
            NonceError::Expired => "nonce has expired",
            NonceError::Reused => "nonce has already been used",
        })
    })?;
    match (&jws.key, mode) {
        (KeyRef::Jwk(key), KeyMode::Jwk | KeyMode::Either) => {
            let key = key.clone();
            jws.verify(&key)?;
            Ok(Authed {
                jws,
                account: None,
                key: Some(key),
            })
        }
        (KeyRef::Kid(kid), KeyMode::Kid | KeyMode::Either) => {
            let account = account_for_kid(state, kid).await?;
            let key = AccountKey::from_jwk(&account.jwk)?;
            jws.verify(&key)?;
            // A key blocked after the account was created (admin block-key, a proven key
            // compromise) no longer speaks for the account: CP 4.9.12, RFC 8555 6.7
            // badPublicKey. Recovery is a new account with a new key: a key change would
            // have to be signed by the very key that is no longer trusted.
            state.ra.ensure_key_not_blocked(&key.spki_der).await?;
            Ok(Authed {
                jws,
                account: Some(account),
                key: None,
            })
        }
        (KeyRef::Jwk(_), KeyMode::Kid) => Err(Problem::malformed(
            "this request must be signed with the account's kid, not a jwk (RFC 8555 6.2)",
        )),
        (KeyRef::Kid(_), KeyMode::Jwk) => Err(Problem::malformed(
            "newAccount must be signed with a jwk, not a kid (RFC 8555 6.2)",
        )),
    }
}

async fn account_for_kid(state: &AppState, kid: &str) -> Result<AccountView, Problem> {
    let prefix = state.urls.account("");
    let id = kid
        .strip_prefix(&prefix)
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            Problem::new(
                axum::http::StatusCode::BAD_REQUEST,
                "accountDoesNotExist",
                format!("kid {kid:?} is not an account URL of this server"),
            )
        })?;
    let account = state.ra.account(id).await?;
    if account.status != AccountStatus::Valid {
        // RFC 8555 7.3.6: 401 for requests from a deactivated account.
        return Err(Problem::account_not_valid(format!(
            "account is {}",
            account.status
        )));
    }
    Ok(account)
}
