//! The JWS authentication every ACME POST goes through (RFC 8555 6.2–6.5), and the
//! extractors built on it: `AccountRequest` (authenticate → the `kid`'s account) and
//! `PostAsGet` (the same with an empty payload, 6.3) for the handlers of `handlers.rs`.

use super::jws::{AccountKey, KeyRef, ParsedJws};
use super::nonce::NonceError;
use super::problem::Problem;
use super::routes::AppState;
use crate::core::AccountStatus;
use crate::ra::AccountView;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, RawPathParams, Request};
use axum::http::{header, request::Parts, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

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

/// A POST signed with the `kid` of an existing, valid account (RFC 8555 6.2), for the
/// resource the request was routed to; its payload is the handler's to read.
pub struct AccountRequest {
    pub jws: ParsedJws,
    pub account: AccountView,
}

/// A POST-as-GET (RFC 8555 6.3): an `AccountRequest` whose payload is the empty string.
pub struct PostAsGet {
    pub account: AccountView,
}

impl FromRequest<Arc<AppState>> for AccountRequest {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let path = signed_path(&mut parts, state).await?;
        let headers = parts.headers.clone();
        // The body limit's rejection stays axum's (413), as for a handler taking `Bytes`;
        // `routes::as_problem` turns it into a problem document.
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let authed = authenticate(state, &headers, &path, &body, KeyMode::Kid)
            .await
            .map_err(IntoResponse::into_response)?;
        let account = authed
            .account()
            .map_err(IntoResponse::into_response)?
            .clone();
        Ok(AccountRequest {
            jws: authed.jws,
            account,
        })
    }
}

impl FromRequest<Arc<AppState>> for PostAsGet {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Response> {
        let request = AccountRequest::from_request(req, state).await?;
        if !request.jws.payload_is_empty {
            return Err(Problem::malformed("POST-as-GET requires an empty payload").into_response());
        }
        Ok(PostAsGet {
            account: request.account,
        })
    }
}

/// Routes whose JWS url includes the query: the orders list, where a followed `next` link
/// carries its cursor (RFC 8555 6.4, 7.1.2.1). Elsewhere a query is not part of the url.
const QUERY_IS_SIGNED: &[&str] = &["/acme/acct/{id}/orders"];

/// The path the JWS `url` must name (RFC 8555 6.4): the route's template with its
/// parameters filled in percent-decoded, as axum's `Path` hands them to the handlers.
async fn signed_path<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, Response> {
    let template = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .ok_or_else(|| Problem::not_found("resource").into_response())?;
    let mut path = if template.contains('{') {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        fill_template(&template, &params)
    } else {
        template.clone()
    };
    if QUERY_IS_SIGNED.contains(&template.as_str()) {
        if let Some(query) = parts.uri.query() {
            path = format!("{path}?{query}");
        }
    }
    Ok(path)
}

/// `/acme/order/{id}` with `id` = `x` → `/acme/order/x`, segment by segment.
fn fill_template(template: &str, params: &RawPathParams) -> String {
    template
        .split('/')
        .map(|segment| {
            segment
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .and_then(|name| params.iter().find(|(key, _)| *key == name))
                .map_or(segment, |(_, value)| value)
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt;

    /// The path `signed_path` computes for a POST to `uri`, through a real axum router.
    async fn signed(uri: &str) -> String {
        async fn echo(req: Request) -> Result<String, Response> {
            let (mut parts, _) = req.into_parts();
            signed_path(&mut parts, &()).await
        }
        let app = axum::Router::new()
            .route("/acme/acct/{id}/orders", post(echo))
            .route("/acme/order/{id}", post(echo))
            .route("/acme/new-order", post(echo));
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let res = app.oneshot(req).await.expect("response");
        let body = axum::body::to_bytes(res.into_body(), 4096)
            .await
            .expect("body");
        String::from_utf8(body.to_vec()).expect("utf-8")
    }

    /// The url a client must sign is what the handlers formatted before the extractor
    /// existed: decoded path parameters, and the query only on the orders list.
    #[tokio::test]
    async fn signed_path_is_the_routed_path_with_decoded_parameters() {
        assert_eq!(signed("/acme/order/a%2Fb?x=1").await, "/acme/order/a/b");
        assert_eq!(signed("/acme/order/-Lq3").await, "/acme/order/-Lq3");
        assert_eq!(
            signed("/acme/acct/A_-/orders?cursor=2").await,
            "/acme/acct/A_-/orders?cursor=2"
        );
        assert_eq!(signed("/acme/acct/A/orders").await, "/acme/acct/A/orders");
        assert_eq!(signed("/acme/new-order?x").await, "/acme/new-order");
    }
}
