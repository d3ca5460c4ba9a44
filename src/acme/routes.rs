//! The router, shared state and response decoration (Replay-Nonce, Link: index). The JWS
//! authentication every POST goes through (RFC 8555 6.2–6.5) is `auth.rs`.

use super::handlers;
use super::nonce::NonceService;
use super::problem::Problem;
use super::render::Urls;
use crate::config::Config;
use crate::metrics::{Metrics, RequestLabels};
use crate::ra::Ra;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
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
