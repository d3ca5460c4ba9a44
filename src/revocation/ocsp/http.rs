//! OCSP over HTTP (RFC 5019 5–6, RFC 6960 A.1): POST `application/ocsp-request` to the
//! path of `ca.ocsp_url`, or GET `<path>/<url-encoded base64 DER>`. Answers come from
//! `ocsp_responses` with one primary-key read; RFC 5019 6.2 caching headers derive from
//! the response's own thisUpdate/nextUpdate.

use super::asn1::OcspResponseStatus;
use super::request::{self, RequestError, MAX_REQUEST_BYTES};
use super::response::error_response;
use super::{Ocsp, OnDemand};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use axum::Router;
use chrono::{DateTime, Utc};
use std::sync::Arc;

const OCSP_RESPONSE: &str = "application/ocsp-response";

/// The OCSP routes at the path of `ocsp_url` (may be the root: then GET is `/<b64>` and
/// POST is `/`; the CRL and CA-certificate routes, being static, still win).
pub fn routes(ocsp_url: &str, ocsp: Arc<Ocsp>) -> Result<Router, String> {
    let base = crate::revocation::http::url_path(ocsp_url)?;
    let post_path = if base.is_empty() {
        "/".to_string()
    } else {
        base.clone()
    };
    Ok(Router::new()
        .route(&post_path, post(by_post))
        .route(&format!("{base}/{{*request}}"), get(by_get).post(by_post))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(Handler { ocsp, base }))
}

#[derive(Clone)]
struct Handler {
    ocsp: Arc<Ocsp>,
    base: String,
}

async fn by_get(State(h): State<Handler>, uri: Uri, headers: HeaderMap) -> Response {
    // The raw path, not axum's decoded segment: we decode percent-escapes ourselves.
    let segment = uri
        .path()
        .strip_prefix(h.base.as_str())
        .map(|s| s.trim_start_matches('/'))
        .unwrap_or("");
    match request::decode_get(segment) {
        Ok(der) => answer(&h.ocsp, &der, &headers).await,
        Err(e) => refuse(&h.ocsp, &e),
    }
}

async fn by_post(State(h): State<Handler>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&h.ocsp, &body, &headers).await
}

fn refuse(ocsp: &Ocsp, e: &RequestError) -> Response {
    let (status, result) = match e {
        RequestError::Malformed(_) => (OcspResponseStatus::MalformedRequest, "malformed"),
        RequestError::NotOurs => (OcspResponseStatus::Unauthorized, "other_issuer"),
    };
    tracing::debug!(error = %e, "OCSP request refused");
    ocsp.metrics.ocsp_request(result);
    error(status)
}

/// RFC 5019 2.2.3 / RFC 6960 2.3: error responses are unsigned, never cached.
fn error(status: OcspResponseStatus) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, OCSP_RESPONSE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        error_response(status),
    )
        .into_response()
}

async fn answer(ocsp: &Ocsp, der: &[u8], headers: &HeaderMap) -> Response {
    let serial = match request::parse(der, ocsp.issuer_hashes()) {
        Ok(s) => s,
        Err(e) => return refuse(ocsp, &e),
    };
    let hex = serial.to_hex();
    let now = ocsp.clock.now();
    let stored = match ocsp.stored(&hex, now).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "OCSP response lookup failed");
            ocsp.metrics.ocsp_request("error");
            return error(OcspResponseStatus::TryLater);
        }
    };
    let found = match stored {
        Some(m) => Some(m),
        None => match ocsp.sign_on_demand(&hex).await {
            Ok(found) => found,
            Err(OnDemand::Busy) => {
                ocsp.metrics.ocsp_request("busy");
                return error(OcspResponseStatus::TryLater);
            }
            Err(OnDemand::Failed(e)) => {
                tracing::error!(serial = %hex, error = %e, "OCSP on-demand signing failed");
                ocsp.metrics.ocsp_request("error");
                return error(OcspResponseStatus::TryLater);
            }
        },
    };
    let Some(m) = found else {
        ocsp.note_unknown_serial(&hex);
        ocsp.metrics.ocsp_request("unauthorized");
        return error(OcspResponseStatus::Unauthorized);
    };
    ocsp.metrics.ocsp_request(&m.cert_status);
    let (this_update, next_update, produced_at) = (m.this_update, m.next_update, m.produced_at);
    ocsp.metrics
        .ocsp_served_age_seconds
        .observe((now - produced_at).num_milliseconds().max(0) as f64 / 1000.0);
    let etag = format!("\"{hex}-{}\"", produced_at.timestamp());
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, m.der.clone()).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(OCSP_RESPONSE),
    );
    let max_age = (next_update - now).num_seconds().max(0);
    insert(
        h,
        header::CACHE_CONTROL,
        &format!("max-age={max_age}, public, no-transform, must-revalidate"),
    );
    insert(h, header::LAST_MODIFIED, &http_date(this_update));
    insert(h, header::EXPIRES, &http_date(next_update));
    insert(h, header::ETAG, &etag);
    response
}

fn insert(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// RFC 9110 5.6.7 IMF-fixdate.
fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
