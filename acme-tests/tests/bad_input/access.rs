//! Rows about who may touch what, and how: cross-account URLs, methods, unknown paths.

use super::csrs;
use super::*;
use reqwest::Method;

/// Account B on account A's resources: not found (RFC 8555 7.1 leaves the choice; 404
/// does not reveal that the resource exists), or unauthorized where the URL is an account.
pub fn cross_account() -> Vec<Case> {
    let not_found = Some("malformed");
    vec![
        b_post(
            "B reads A's order",
            404,
            not_found,
            |c| c.ready_order_url.clone(),
            None,
        ),
        b_post(
            "B reads A's authorization",
            404,
            not_found,
            |c| c.authz_url.clone(),
            None,
        ),
        b_post(
            "B deactivates A's authorization",
            404,
            not_found,
            |c| c.authz_url.clone(),
            Some(json!({"status": "deactivated"})),
        ),
        b_post(
            "B reads A's challenge",
            404,
            not_found,
            |c| c.chall_url.clone(),
            None,
        ),
        b_post(
            "B answers A's challenge",
            404,
            not_found,
            |c| c.chall_url.clone(),
            Some(json!({})),
        ),
        case("B finalizes A's order", 404, not_found, |c| async move {
            let csr = csrs::plain(&[csrs::NAME]);
            c.b.post(&c.finalize_url(), Some(&json!({"csr": b64(csr)})))
                .await
        }),
        b_post(
            "B reads A's account",
            403,
            Some("unauthorized"),
            |c| c.a.kid.clone(),
            None,
        ),
        b_post(
            "B updates A's account",
            403,
            Some("unauthorized"),
            |c| c.a.kid.clone(),
            Some(json!({"contact": []})),
        ),
        b_post(
            "B lists A's orders",
            403,
            Some("unauthorized"),
            |c| format!("{}/orders", c.a.kid),
            None,
        ),
        // Certificates are public (they are in CT logs); RFC 8555 7.4.2 asks no ownership.
        b_post(
            "B downloads A's certificate",
            200,
            None,
            |c| c.cert_url.clone(),
            None,
        ),
        case("B keyChange to A's key", 409, MALFORMED, |c| async move {
            // The new key is A's: the inner JWS is signed with A's key.
            c.b.key_change(&c.a.key).await
        }),
        case("A's key signs as B's kid", 400, MALFORMED, |c| async move {
            let url = c.url("newOrder");
            let payload = json_payload(
                &json!({"identifiers": [{"type": "dns", "value": "www.hanko-ci.com"}]}),
            );
            c.client
                .post_signed(&url, &c.a.key, KeyId::Kid(&c.b.kid), &payload, |_| {})
                .await
        }),
    ]
}

pub fn methods_and_paths() -> Vec<Case> {
    let get = |name: &str, target: fn(&Ctx) -> String| {
        raw(
            format!("GET {name}"),
            405,
            MALFORMED,
            Method::GET,
            target,
            None,
            Vec::new(),
        )
    };
    let long_path = format!("/acme/{}", "a".repeat(8000));
    vec![
        get("newAccount", |c| c.url("newAccount")),
        get("newOrder", |c| c.url("newOrder")),
        get("revokeCert", |c| c.url("revokeCert")),
        get("keyChange", |c| c.url("keyChange")),
        get("account", |c| c.a.kid.clone()),
        get("order", |c| c.ready_order_url.clone()),
        get("authorization", |c| c.authz_url.clone()),
        get("certificate", |c| c.cert_url.clone()),
        raw(
            "DELETE directory",
            405,
            MALFORMED,
            Method::DELETE,
            |c| c.path("/directory"),
            None,
            Vec::new(),
        ),
        raw(
            "PUT newNonce",
            405,
            MALFORMED,
            Method::PUT,
            |c| c.url("newNonce"),
            None,
            Vec::new(),
        ),
        a_json(
            "POST-as-GET order with {}",
            400,
            MALFORMED,
            |c| c.ready_order_url.clone(),
            json!({}),
        ),
        a_json(
            "POST-as-GET certificate with {}",
            400,
            MALFORMED,
            |c| c.cert_url.clone(),
            json!({}),
        ),
        a_json(
            "POST-as-GET orders with {}",
            400,
            MALFORMED,
            |c| format!("{}/orders", c.a.kid),
            json!({}),
        ),
        a_post(
            "POST-as-GET order with payload \"null\"",
            400,
            MALFORMED,
            |c| c.ready_order_url.clone(),
            b"null".to_vec(),
        ),
        raw(
            "GET unknown path",
            404,
            MALFORMED,
            Method::GET,
            |c| c.path("/acme/no-such-thing"),
            None,
            Vec::new(),
        ),
        raw(
            "POST unknown path",
            404,
            MALFORMED,
            Method::POST,
            |c| c.path("/acme/new-account/extra"),
            Some(JOSE_JSON),
            b"{}".to_vec(),
        ),
        raw(
            "GET order without id",
            404,
            MALFORMED,
            Method::GET,
            |c| c.path("/acme/order/"),
            None,
            Vec::new(),
        ),
        raw(
            "GET path with %00",
            404,
            MALFORMED,
            Method::GET,
            |c| c.path("/acme/%00"),
            None,
            Vec::new(),
        ),
        case("GET an 8000-byte path", 404, MALFORMED, move |c| {
            let url = c.path(&long_path);
            async move { c.client.get(&url).await }
        }),
        a_post(
            "POST-as-GET unknown order",
            404,
            MALFORMED,
            |c| c.path("/acme/order/does-not-exist"),
            Vec::new(),
        ),
        a_post(
            "POST-as-GET unknown certificate",
            404,
            MALFORMED,
            |c| c.path("/acme/cert/00"),
            Vec::new(),
        ),
    ]
}
