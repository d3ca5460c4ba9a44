//! The plain-HTTP status listener (`server.http_listen`): CRL shards, OCSP and the issuing
//! CA certificate, at the paths of `ca.crl_base_url`, `ca.ocsp_url` and
//! `ca.ca_issuers_url`. Relying parties fetch these over HTTP, not HTTPS (CP 2.2, 4.10.2;
//! RFC 5280 4.2.1.13 and 4.2.2.1, RFC 5019 5: avoiding a circular dependency on TLS).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The path part of a configured URL (`http://host/crl` → `/crl`), without a trailing
/// slash; `""` for the root.
pub fn url_path(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    Ok(parsed.path().trim_end_matches('/').to_string())
}

/// `GET <path of ca.ca_issuers_url>`: the issuing CA certificate, DER
/// (`application/pkix-cert`, RFC 2585 4.1; BR 7.1.2.7.7 caIssuers).
pub fn ca_certificate_route(ca_issuers_url: &str, issuer_der: Vec<u8>) -> Result<Router, String> {
    let path = url_path(ca_issuers_url)?;
    if path.is_empty() {
        return Err(format!("ca.ca_issuers_url {ca_issuers_url:?} has no path"));
    }
    let body = bytes::Bytes::from(issuer_der);
    Ok(Router::new().route(
        &path,
        get(move || {
            let body = body.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/pkix-cert"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    body,
                )
            }
        }),
    ))
}

/// Serve `router` over plain HTTP on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.fallback(|| async { not_found() });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths() {
        assert_eq!(url_path("http://crl.hanko-ci.com/crl/").unwrap(), "/crl");
        assert_eq!(url_path("http://ocsp.hanko-ci.com").unwrap(), "");
        assert!(url_path("not a url").is_err());
    }
}
