//! Endpoint handlers (RFC 8555 7). Each authenticates (`auth.rs`: the `AccountRequest` and
//! `PostAsGet` extractors, or `authenticate` for newAccount and revokeCert), decodes its
//! payload, calls `ra` and renders; errors become problems through `problem.rs`.

use super::auth::{authenticate, AccountRequest, KeyMode, PostAsGet};
use super::jws::{KeyRef, ParsedJws};
use super::problem::Problem;
use super::render;
use super::routes::Shared;
use crate::core::{Identifier, OrderStatus};
use crate::ra::{NewAccount, NewAccountOutcome, RevocationRequester, RevokeRequest};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

type Res = Result<Response, Problem>;

fn with_location(status: StatusCode, location: &str, body: Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn retry_after(res: &mut Response, seconds: u64) {
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
}

fn link_up(res: &mut Response, url: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("<{url}>;rel=\"up\"")) {
        res.headers_mut().append(header::LINK, v);
    }
}

/// Decode the payload as `T`; type errors are `malformed` with serde's description.
fn payload<T: for<'de> Deserialize<'de>>(jws: &ParsedJws) -> Result<T, Problem> {
    if jws.payload_is_empty {
        return Err(Problem::malformed("this request needs a JSON payload"));
    }
    let v = jws.payload_json()?;
    serde_json::from_value(v).map_err(|e| Problem::malformed(format!("payload: {e}")))
}

pub async fn directory(state: Shared) -> Json<Value> {
    let u = &state.urls;
    let acme = &state.config.acme;
    let profiles: serde_json::Map<String, Value> = state
        .config
        .ca
        .profiles
        .iter()
        .map(|(name, p)| (name.clone(), json!(p.description)))
        .collect();
    let mut meta = json!({
        "termsOfService": acme.terms_of_service,
        "caaIdentities": acme.caa_identities,
        "externalAccountRequired": false,
        "profiles": profiles,
    });
    if let Some(w) = &acme.website {
        meta["website"] = json!(w);
    }
    Json(json!({
        "newNonce": u.path("/acme/new-nonce"),
        "newAccount": u.path("/acme/new-account"),
        "newOrder": u.path("/acme/new-order"),
        "revokeCert": u.path("/acme/revoke-cert"),
        "keyChange": u.path("/acme/key-change"),
        "meta": meta,
    }))
}

/// RFC 8555 7.2: HEAD answers 200, GET 204; the nonce and no-store come from `decorate`.
pub async fn new_nonce_head() -> StatusCode {
    StatusCode::OK
}

pub async fn new_nonce_get() -> StatusCode {
    StatusCode::NO_CONTENT
}

pub async fn health(state: Shared) -> Response {
    match state.ra.storage().ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

pub async fn metrics(state: Shared) -> Response {
    if let Ok(counts) = crate::storage::queries::order_counts(state.ra.storage().reader()).await {
        for (status, n) in counts {
            state
                .metrics
                .orders
                .get_or_create(&crate::metrics::StatusLabels { status })
                .set(n);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.encode(),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewAccountPayload {
    contact: Option<Vec<String>>,
    terms_of_service_agreed: Option<bool>,
    #[serde(default)]
    only_return_existing: bool,
    external_account_binding: Option<Value>,
}

pub async fn new_account(state: Shared, headers: HeaderMap, body: Bytes) -> Res {
    let authed = authenticate(&state, &headers, "/acme/new-account", &body, KeyMode::Jwk).await?;
    let p: NewAccountPayload = payload(&authed.jws)?;
    if p.external_account_binding.is_some() {
        return Err(Problem::malformed(
            "external account binding is not enabled on this server",
        ));
    }
    let key = authed
        .key
        .ok_or_else(|| Problem::malformed("newAccount must carry a jwk"))?;
    let outcome = state
        .ra
        .new_account(NewAccount {
            key,
            contact: p.contact,
            terms_agreed: p.terms_of_service_agreed.unwrap_or(false),
            only_return_existing: p.only_return_existing,
        })
        .await?;
    let (status, view) = match outcome {
        NewAccountOutcome::Created(v) => (StatusCode::CREATED, v),
        NewAccountOutcome::Existing(v) => (StatusCode::OK, v),
    };
    let url = state.urls.account(&view.id);
    Ok(with_location(
        status,
        &url,
        render::account(&state.urls, &view),
    ))
}

#[derive(Deserialize)]
struct AccountUpdate {
    contact: Option<Vec<String>>,
    status: Option<String>,
}

pub async fn account(state: Shared, Path(id): Path<String>, request: AccountRequest) -> Res {
    let account = &request.account;
    if account.id != id {
        return Err(Problem::unauthorized(
            "the kid does not match this account URL",
        ));
    }
    let view = if request.jws.payload_is_empty {
        account.clone()
    } else {
        let p: AccountUpdate = payload(&request.jws)?;
        let deactivate = match p.status.as_deref() {
            None => false,
            Some("deactivated") => true,
            Some(other) => {
                return Err(Problem::malformed(format!(
                    "status may only be set to \"deactivated\", not {other:?}"
                )))
            }
        };
        state.ra.update_account(&id, p.contact, deactivate).await?
    };
    let url = state.urls.account(&view.id);
    Ok(with_location(
        StatusCode::OK,
        &url,
        render::account(&state.urls, &view),
    ))
}

pub async fn orders(
    state: Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    request: PostAsGet,
) -> Res {
    // The JWS url of a followed `next` link includes the cursor (RFC 8555 6.4, 7.1.2.1):
    // `auth::signed_path` keeps the query for this route.
    if request.account.id != id {
        return Err(Problem::unauthorized("the kid does not match this account"));
    }
    let page: u64 = query
        .as_deref()
        .and_then(|q| q.strip_prefix("cursor="))
        .map(|c| c.parse().map_err(|_| Problem::malformed("bad cursor")))
        .transpose()?
        .unwrap_or(0);
    let (ids, more) = state.ra.list_orders(&id, page).await?;
    let urls: Vec<String> = ids.iter().map(|o| state.urls.order(o)).collect();
    let mut res = Json(json!({ "orders": urls })).into_response();
    if more {
        let next = format!(
            "<{}?cursor={}>;rel=\"next\"",
            state.urls.orders(&id),
            page + 1
        );
        if let Ok(v) = HeaderValue::from_str(&next) {
            res.headers_mut().append(header::LINK, v);
        }
    }
    Ok(res)
}

pub async fn key_change(state: Shared, request: AccountRequest) -> Res {
    let account = request.account;
    let inner = super::jws::parse_key_change(&request.jws)?;
    let kid = state.urls.account(&account.id);
    if inner.account != kid {
        return Err(Problem::unauthorized(
            "keyChange inner payload names a different account",
        ));
    }
    let view = state
        .ra
        .key_change(&account.id, &inner.old_key_thumbprint, &inner.new_key)
        .await
        .map_err(|e| match e {
            crate::ra::RaError::Conflict { detail, account_id } => crate::ra::RaError::Conflict {
                detail,
                account_id: state.urls.account(&account_id),
            },
            other => other,
        })?;
    Ok(with_location(
        StatusCode::OK,
        &kid,
        render::account(&state.urls, &view),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewOrderPayload {
    identifiers: Vec<Identifier>,
    not_before: Option<Value>,
    not_after: Option<Value>,
    profile: Option<String>,
}

pub async fn new_order(state: Shared, request: AccountRequest) -> Res {
    let account = &request.account;
    let p: NewOrderPayload = payload(&request.jws)?;
    if p.not_before.is_some() || p.not_after.is_some() {
        return Err(Problem::malformed(
            "notBefore/notAfter are not supported: validity comes from the profile",
        ));
    }
    let view = state
        .ra
        .new_order(&account.id, p.identifiers, p.profile)
        .await?;
    let url = state.urls.order(&view.id);
    Ok(with_location(
        StatusCode::CREATED,
        &url,
        render::order(&state.urls, &view),
    ))
}

fn order_response(state: &Shared, view: &crate::ra::OrderView) -> Response {
    let url = state.urls.order(&view.id);
    let mut res = with_location(StatusCode::OK, &url, render::order(&state.urls, view));
    if view.status == OrderStatus::Processing {
        retry_after(&mut res, state.config.acme.retry_after_seconds);
    }
    res
}

pub async fn order(state: Shared, Path(id): Path<String>, request: PostAsGet) -> Res {
    let view = state.ra.order(&request.account.id, &id).await?;
    Ok(order_response(&state, &view))
}

#[derive(Deserialize)]
struct FinalizePayload {
    csr: String,
}

pub async fn finalize(state: Shared, Path(id): Path<String>, request: AccountRequest) -> Res {
    let p: FinalizePayload = payload(&request.jws)?;
    let csr = URL_SAFE_NO_PAD
        .decode(p.csr.as_bytes())
        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "badCSR", "csr is not base64url"))?;
    let view = state.ra.finalize(&request.account.id, &id, &csr).await?;
    Ok(order_response(&state, &view))
}

pub async fn authorization(state: Shared, Path(id): Path<String>, request: AccountRequest) -> Res {
    let account_id = &request.account.id;
    let view = if request.jws.payload_is_empty {
        state.ra.authorization(account_id, &id).await?
    } else {
        let p: Value = request.jws.payload_json()?;
        if p.get("status").and_then(Value::as_str) != Some("deactivated") {
            return Err(Problem::malformed(
                "an authorization update may only set status to \"deactivated\"",
            ));
        }
        state.ra.deactivate_authorization(account_id, &id).await?
    };
    Ok(Json(render::authorization(&state.urls, &view)).into_response())
}

pub async fn challenge(state: Shared, Path(id): Path<String>, request: AccountRequest) -> Res {
    let account_id = &request.account.id;
    let view = if request.jws.payload_is_empty {
        state.ra.challenge(account_id, &id).await?
    } else {
        // RFC 8555 7.5.1: the response is an empty JSON object; we ignore its members.
        let p: Value = request.jws.payload_json()?;
        if !p.is_object() {
            return Err(Problem::malformed(
                "challenge response must be a JSON object",
            ));
        }
        state.ra.respond_challenge(account_id, &id).await?
    };
    let mut res = Json(render::challenge(&state.urls, &view)).into_response();
    link_up(&mut res, &state.urls.authz(&view.authz_id));
    if view.status == crate::core::ChallengeStatus::Processing {
        retry_after(&mut res, state.config.acme.retry_after_seconds);
    }
    Ok(res)
}

pub async fn certificate(state: Shared, Path(serial): Path<String>, _: PostAsGet) -> Res {
    let chain = state.ra.certificate_chain(&serial).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
        chain,
    )
        .into_response())
}

#[derive(Deserialize)]
struct RevokePayload {
    certificate: String,
    /// Any integer, so an out-of-range code is `badRevocationReason`, not `malformed`.
    reason: Option<i64>,
}

pub async fn revoke(state: Shared, headers: HeaderMap, body: Bytes) -> Res {
    let authed = authenticate(
        &state,
        &headers,
        "/acme/revoke-cert",
        &body,
        KeyMode::Either,
    )
    .await?;
    let p: RevokePayload = payload(&authed.jws)?;
    let certificate_der = URL_SAFE_NO_PAD
        .decode(p.certificate.as_bytes())
        .map_err(|_| Problem::malformed("certificate is not base64url"))?;
    let requester = match (&authed.jws.key, &authed.account) {
        (KeyRef::Jwk(key), _) => RevocationRequester::CertificateKey {
            spki_der: key.spki_der.clone(),
        },
        (KeyRef::Kid(_), Some(account)) => RevocationRequester::Account(account.id.clone()),
        (KeyRef::Kid(_), None) => return Err(Problem::malformed("unknown account")),
    };
    state
        .ra
        .revoke(RevokeRequest {
            certificate_der,
            reason: p.reason,
            requester,
        })
        .await?;
    Ok(StatusCode::OK.into_response())
}
