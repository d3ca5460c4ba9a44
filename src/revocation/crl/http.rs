//! `GET <path of ca.crl_base_url>/<shard>.crl` on the status listener (RFC 5280 4.2.1.13:
//! plain HTTP, `application/pkix-crl` per RFC 2585 4.2), read from the database with a small
//! cache keyed on the CRL number, with validators so relying parties and CDNs can revalidate
//! cheaply (RFC 9110 8.8, 13; RFC 9111 5.2.2.1).

use crate::core::Clock;
use crate::storage::queries as q;
use crate::storage::Storage;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Cached {
    crl_number: i64,
    der: bytes::Bytes,
    etag: String,
}

struct CrlRoute {
    storage: Storage,
    issuer_id: String,
    /// Caches never keep a CRL longer than a revocation may wait to be published.
    max_age_cap: i64,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<i32, Cached>>,
}

/// The router for `<mount>/{shard}.crl`; `mount` is the path of `ca.crl_base_url`, or
/// `revocation::http::SHARED_CRL_MOUNT` when OCSP shares that path (see there).
pub fn routes(
    mount: &str,
    storage: Storage,
    issuer_id: String,
    publish_delay_seconds: u64,
    clock: Arc<dyn Clock>,
) -> Router {
    let path = mount.trim_end_matches('/');
    let state = Arc::new(CrlRoute {
        storage,
        issuer_id,
        max_age_cap: i64::try_from(publish_delay_seconds).unwrap_or(i64::MAX),
        clock,
        cache: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route(&format!("{path}/{{file}}"), get(serve_shard))
        .with_state(state)
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn serve_shard(
    State(route): State<Arc<CrlRoute>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(shard) = file
        .strip_suffix(".crl")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.len() <= 6)
        .and_then(|n| n.parse::<i32>().ok())
    else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    match load(&route, shard).await {
        Ok(Some((cached, this_update, next_update))) => {
            respond(&route, &headers, cached, this_update, next_update)
        }
        Ok(None) => plain(StatusCode::NOT_FOUND, "not found\n"),
        Err(e) => {
            tracing::error!(shard, error = %e, "serving a CRL");
            plain(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable\n")
        }
    }
}

type Loaded = (Cached, DateTime<Utc>, DateTime<Utc>);

async fn load(
    route: &CrlRoute,
    shard: i32,
) -> Result<Option<Loaded>, crate::storage::StorageError> {
    let Some(state) = q::crl_shard_state(route.storage.reader(), &route.issuer_id, shard).await?
    else {
        return Ok(None);
    };
    let (Some(this_update), Some(next_update)) = (state.this_update, state.next_update) else {
        return Ok(None);
    };
    let hit = route
        .cache
        .lock()
        .ok()
        .and_then(|c| c.get(&shard).cloned())
        .filter(|c| c.crl_number == state.crl_number);
    if let Some(hit) = hit {
        return Ok(Some((hit, this_update, next_update)));
    }
    let Some(row) = q::crl_shard(route.storage.reader(), &route.issuer_id, shard).await? else {
        return Ok(None);
    };
    let (Some(der), Some(this_update), Some(next_update)) =
        (row.der, row.this_update, row.next_update)
    else {
        return Ok(None);
    };
    let etag = {
        use sha2::{Digest, Sha256};
        format!("\"{}\"", hex::encode(&Sha256::digest(&der)[..16]))
    };
    let cached = Cached {
        crl_number: row.crl_number,
        der: bytes::Bytes::from(der),
        etag,
    };
    if let Ok(mut cache) = route.cache.lock() {
        cache.insert(shard, cached.clone());
    }
    Ok(Some((cached, this_update, next_update)))
}

fn respond(
    route: &CrlRoute,
    headers: &HeaderMap,
    cached: Cached,
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
) -> Response {
    let now = route.clock.now();
    let max_age = (next_update - now)
        .num_seconds()
        .clamp(0, route.max_age_cap);
    let mut out = HeaderMap::new();
    let mut set = |name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    };
    set(header::ETAG, cached.etag.clone());
    set(header::LAST_MODIFIED, http_date(this_update));
    set(
        header::EXPIRES,
        http_date(next_update.min(now + chrono::Duration::seconds(max_age))),
    );
    set(
        header::CACHE_CONTROL,
        format!("public, max-age={max_age}, no-transform"),
    );
    if not_modified(headers, &cached.etag, this_update) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-crl"),
    );
    (StatusCode::OK, out, cached.der).into_response()
}

/// RFC 9110 13.1.2/13.1.3: If-None-Match wins over If-Modified-Since when both are sent.
fn not_modified(headers: &HeaderMap, etag: &str, this_update: DateTime<Utc>) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        let Ok(inm) = inm.to_str() else {
            return false;
        };
        return inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| this_update <= since.with_timezone(&Utc))
}

/// IMF-fixdate (RFC 9110 5.6.7).
fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn conditional_requests() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        assert_eq!(http_date(t), "Sun, 01 Mar 2026 10:00:00 GMT");
        let mut h = HeaderMap::new();
        assert!(!not_modified(&h, "\"ab\"", t));
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Sun, 01 Mar 2026 10:00:00 GMT"),
        );
        assert!(not_modified(&h, "\"ab\"", t));
        assert!(!not_modified(
            &h,
            "\"ab\"",
            t + chrono::Duration::seconds(1)
        ));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"cd\", W/\"ab\""),
        );
        assert!(not_modified(&h, "\"ab\"", t + chrono::Duration::seconds(1)));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"cd\""));
        assert!(!not_modified(&h, "\"ab\"", t));
    }
}
