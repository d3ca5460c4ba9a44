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

/// Where the CRL route is mounted when `ca.crl_base_url` and `ca.ocsp_url` have the same
/// path (typically both the root of their own host names, `http://crl.example/` and
/// `http://ocsp.example/`, served by this one listener): OCSP's GET wildcard
/// `<path>/<base64>` would collide with `<path>/<shard>.crl`, so shard requests are
/// rewritten to this internal prefix before routing. Base64 has no `.`, so a name ending in
/// `.crl` is never an OCSP request.
pub const SHARED_CRL_MOUNT: &str = "/.hanko-crl";

/// The mount of the CRL route: the CRL path itself, unless OCSP shares it.
pub fn crl_mount(crl_path: &str, ocsp_path: &str) -> String {
    if crl_path == ocsp_path {
        SHARED_CRL_MOUNT.to_string()
    } else {
        crl_path.to_string()
    }
}

/// `<crl_path>/<N>.crl` → `<SHARED_CRL_MOUNT>/<N>.crl`; anything else untouched (None).
pub fn shared_crl_rewrite(path: &str, crl_path: &str) -> Option<String> {
    let file = path.strip_prefix(crl_path)?.strip_prefix('/')?;
    (file.ends_with(".crl") && !file.contains('/')).then(|| format!("{SHARED_CRL_MOUNT}/{file}"))
}

/// Serve `router` over plain HTTP on `listener` until `shutdown` resolves. With
/// `shared_crl_path` (the CRL path when OCSP shares it), shard requests are rewritten to
/// `SHARED_CRL_MOUNT` before routing.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shared_crl_path: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::extract::Request;
    use tower::Layer;
    let router = router.fallback(|| async { not_found() });
    let rewrite = tower::util::MapRequestLayer::new(move |mut req: Request| {
        let target = shared_crl_path
            .as_deref()
            .and_then(|crl| shared_crl_rewrite(req.uri().path(), crl));
        if let Some(uri) = target.and_then(|t| t.parse::<axum::http::Uri>().ok()) {
            *req.uri_mut() = uri;
        }
        req
    });
    let service = rewrite.layer(router);
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service(service),
    )
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
    fn shared_paths_mount_crls_apart_and_rewrite_only_shard_files() {
        assert_eq!(crl_mount("/crl", "/ocsp"), "/crl");
        assert_eq!(crl_mount("", ""), SHARED_CRL_MOUNT);
        assert_eq!(
            shared_crl_rewrite("/12.crl", "").as_deref(),
            Some("/.hanko-crl/12.crl")
        );
        assert_eq!(shared_crl_rewrite("/MFQwUjBQ", ""), None);
        assert_eq!(shared_crl_rewrite("/a/12.crl", ""), None);
        assert_eq!(
            shared_crl_rewrite("/status/3.crl", "/status").as_deref(),
            Some("/.hanko-crl/3.crl")
        );
    }

    /// Routes as `hanko serve` builds them with both URLs at the root: registering them
    /// must not panic, shard files reach the CRL route and anything else OCSP's wildcard.
    #[tokio::test]
    async fn crl_and_ocsp_at_the_same_root_path_coexist() {
        let router = Router::new()
            .route(
                &format!("{}/{{file}}", crl_mount("", "")),
                get(|| async { "crl" }),
            )
            .route("/{*request}", get(|| async { "ocsp" }))
            .route("/", axum::routing::post(|| async { "ocsp post" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, Some(String::new()), async {
            let _ = stopped.await;
        }));
        // A bare HTTP/1.0 exchange: the test needs no TLS stack or client configuration.
        let get = |path: &'static str| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let request = format!("GET {path} HTTP/1.0\r\nHost: status\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            answer
                .rsplit("\r\n\r\n")
                .next()
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(get("/7.crl").await, "crl");
        assert_eq!(get("/MFQwUjBQME4wTDAJBgUrDgMCGgUABBQ%3D").await, "ocsp");
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }

    #[test]
    fn url_paths() {
        assert_eq!(url_path("http://crl.hanko-ci.com/crl/").unwrap(), "/crl");
        assert_eq!(url_path("http://ocsp.hanko-ci.com").unwrap(), "");
        assert!(url_path("not a url").is_err());
    }
}
