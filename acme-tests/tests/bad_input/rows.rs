//! The catalogue: every row names its request and the answer RFC 8555 asks for.

use super::csrs;
use super::*;
use reqwest::Method;

pub fn all() -> Vec<Case> {
    let mut rows = Vec::new();
    rows.extend(truncated());
    rows.extend(header_types());
    rows.extend(payload_types());
    rows.extend(sizes_and_depth());
    rows.extend(base64url());
    rows.extend(duplicates_and_members());
    rows.extend(content_types());
    rows.extend(identifiers());
    rows.extend(finalize_csrs());
    rows.extend(replay_and_urls());
    rows.extend(super::access::cross_account());
    rows.extend(super::access::methods_and_paths());
    rows
}

/// The serialized JWS cut at several points (RFC 8555 6.2: must be a flattened JWS).
fn truncated() -> Vec<Case> {
    let mut rows = Vec::new();
    for (label, cut) in [
        ("1 byte", 1usize),
        ("a quarter", 4),
        ("half", 2),
        ("all but one byte", 0),
    ] {
        rows.push(body_edit(
            format!("truncated JWS: {label}"),
            400,
            MALFORMED,
            move |s| {
                let keep = match cut {
                    0 => s.len() - 1,
                    1 => 1,
                    n => s.len() / n,
                };
                s[..keep].to_string()
            },
        ));
    }
    rows.push(jws_edit(
        "truncated protected header",
        400,
        MALFORMED,
        |j| {
            let p = j["protected"].as_str().unwrap_or_default();
            // A multiple of 4 characters: still base64url, but the JSON inside is cut.
            j["protected"] = json!(p[..(p.len() / 2) & !3]);
        },
    ));
    rows.push(jws_edit("truncated signature", 400, MALFORMED, |j| {
        let s = j["signature"].as_str().unwrap_or_default();
        j["signature"] = json!(s[..(s.len() / 2) & !3]);
    }));
    rows.push(jws_edit("empty signature", 400, MALFORMED, |j| {
        j["signature"] = json!("");
    }));
    rows.push(jws_edit("missing payload member", 400, MALFORMED, |j| {
        if let Some(o) = j.as_object_mut() {
            o.remove("payload");
        }
    }));
    rows
}

/// Every protected-header field with a non-string JSON type.
fn header_types() -> Vec<Case> {
    let wrong = [json!(1), json!(["x"]), Value::Null, json!({"a": "b"})];
    let mut rows = Vec::new();
    for field in ["alg", "nonce", "url", "jwk"] {
        for value in &wrong {
            let value = value.clone();
            // A jwk that is not a public key the server supports: badPublicKey (RFC 8555
            // 6.7), whatever its JSON type.
            let kind = if field == "jwk" {
                Some("badPublicKey")
            } else {
                MALFORMED
            };
            rows.push(new_account_header(
                format!("header {field} = {value}"),
                400,
                kind,
                move |h| {
                    h.insert(field.into(), value.clone());
                },
            ));
        }
    }
    for value in wrong {
        rows.push(new_order_header(
            format!("header kid = {value}"),
            400,
            MALFORMED,
            move |h| {
                h.insert("kid".into(), value.clone());
            },
        ));
    }
    rows
}

/// Payload members with the wrong JSON type, for each endpoint that takes a payload.
fn payload_types() -> Vec<Case> {
    let new_account = |name: &str, payload: Value| {
        case(
            format!("newAccount payload {name}"),
            400,
            MALFORMED,
            move |c| {
                let payload = payload.clone();
                async move { c.client.new_account_raw(&Key::es256(), &payload).await }
            },
        )
    };
    let new_order = |c: &Ctx| c.url("newOrder");
    let account = |c: &Ctx| c.a.kid.clone();
    let revoke = |c: &Ctx| c.url("revokeCert");
    vec![
        new_account(
            "termsOfServiceAgreed = \"yes\"",
            json!({"termsOfServiceAgreed": "yes"}),
        ),
        new_account(
            "contact = string",
            json!({"termsOfServiceAgreed": true, "contact": "mailto:ops@hanko-ci.com"}),
        ),
        new_account(
            "contact = [1]",
            json!({"termsOfServiceAgreed": true, "contact": [1]}),
        ),
        new_account(
            "onlyReturnExisting = \"true\"",
            json!({"onlyReturnExisting": "true"}),
        ),
        new_account("is an array", json!([{"termsOfServiceAgreed": true}])),
        new_account("is null", Value::Null),
        a_json(
            "newOrder identifiers = {}",
            400,
            MALFORMED,
            new_order,
            json!({"identifiers": {}}),
        ),
        a_json(
            "newOrder identifiers = null",
            400,
            MALFORMED,
            new_order,
            json!({"identifiers": null}),
        ),
        a_json(
            "newOrder identifiers = [1]",
            400,
            MALFORMED,
            new_order,
            json!({"identifiers": [1]}),
        ),
        a_json(
            "newOrder identifier type = 1",
            400,
            MALFORMED,
            new_order,
            json!({"identifiers": [{"type": 1, "value": "www.hanko-ci.com"}]}),
        ),
        a_json(
            "newOrder identifier value = 5",
            400,
            MALFORMED,
            new_order,
            json!({"identifiers": [{"type": "dns", "value": 5}]}),
        ),
        a_json(
            "newOrder identifier without value",
            400,
            MALFORMED,
            new_order,
            json!({"identifiers": [{"type": "dns"}]}),
        ),
        a_json(
            "newOrder identifiers = []",
            400,
            MALFORMED,
            new_order,
            json!({"identifiers": []}),
        ),
        a_json(
            "newOrder profile = 5",
            400,
            MALFORMED,
            new_order,
            json!({"identifiers": [{"type": "dns", "value": "www.hanko-ci.com"}], "profile": 5}),
        ),
        a_json(
            "finalize csr = 5",
            400,
            MALFORMED,
            Ctx::finalize_url,
            json!({"csr": 5}),
        ),
        a_json(
            "finalize csr = null",
            400,
            MALFORMED,
            Ctx::finalize_url,
            json!({"csr": null}),
        ),
        a_json(
            "finalize csr not base64url",
            400,
            Some("badCSR"),
            Ctx::finalize_url,
            json!({"csr": "MIIB+/=="}),
        ),
        a_json(
            "finalize csr empty",
            400,
            Some("badCSR"),
            Ctx::finalize_url,
            json!({"csr": ""}),
        ),
        a_json(
            "account status = 5",
            400,
            MALFORMED,
            account,
            json!({"status": 5}),
        ),
        a_json(
            "account status = \"valid\"",
            400,
            MALFORMED,
            account,
            json!({"status": "valid"}),
        ),
        a_json(
            "account contact = \"x\"",
            400,
            MALFORMED,
            account,
            json!({"contact": "mailto:ops@hanko-ci.com"}),
        ),
        a_json(
            "revokeCert certificate = 5",
            400,
            MALFORMED,
            revoke,
            json!({"certificate": 5}),
        ),
        a_json(
            "revokeCert reason = \"x\"",
            400,
            MALFORMED,
            revoke,
            json!({"certificate": "AAAA", "reason": "keyCompromise"}),
        ),
        a_json(
            "challenge response = []",
            400,
            MALFORMED,
            |c: &Ctx| c.chall_url.clone(),
            json!([]),
        ),
        a_json(
            "authorization update status = 1",
            400,
            MALFORMED,
            |c: &Ctx| c.authz_url.clone(),
            json!({"status": 1}),
        ),
    ]
}

fn sizes_and_depth() -> Vec<Case> {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    vec![
        oversized("body just over max_body_bytes", 64 * 1024 + 1, b'['),
        oversized("1 MiB body", 1 << 20, b' '),
        raw(
            "10,000 unclosed [",
            400,
            MALFORMED,
            Method::POST,
            |c: &Ctx| c.url("newAccount"),
            Some(JOSE_JSON),
            "[".repeat(10_000).into_bytes(),
        ),
        raw(
            "10,000 nested arrays",
            400,
            MALFORMED,
            Method::POST,
            |c: &Ctx| c.url("newAccount"),
            Some(JOSE_JSON),
            deep(10_000).into_bytes(),
        ),
        raw_header(
            "10,000 nested arrays in the protected header",
            400,
            MALFORMED,
            // Leaked: a row's template lives as long as the test anyway.
            Box::leak(deep(10_000).into_boxed_str()),
            agreed(),
        ),
        case(
            "10,000 nested arrays in the payload",
            400,
            MALFORMED,
            move |c| {
                let payload = format!(
                    "{{\"termsOfServiceAgreed\":true,\"contact\":{}}}",
                    deep(10_000)
                );
                async move {
                    let url = c.url("newAccount");
                    c.client
                        .post_signed(&url, &Key::es256(), KeyId::Jwk, payload.as_bytes(), |_| {})
                        .await
                }
            },
        ),
    ]
}

type Edit = fn(&str) -> String;

/// RFC 7515 2 / RFC 8555 6.1: base64url without padding, nothing else.
fn base64url() -> Vec<Case> {
    let mut rows = Vec::new();
    for field in ["protected", "payload", "signature"] {
        let variants: [(&str, Edit); 5] = [
            ("padding", |s| format!("{s}==")),
            ("+ and /", |s| format!("{}+/{}", &s[..4], &s[4..])),
            ("a space", |s| format!("{} {}", &s[..4], &s[4..])),
            ("a newline", |s| format!("{}\n{}", &s[..4], &s[4..])),
            ("non-ASCII", |s| format!("{}é{}", &s[..4], &s[4..])),
        ];
        for (label, edit) in variants {
            rows.push(jws_edit(
                format!("{field} with {label}"),
                400,
                MALFORMED,
                move |j| {
                    let s = j[field].as_str().unwrap_or_default().to_string();
                    j[field] = json!(edit(&s));
                },
            ));
        }
    }
    rows
}

fn duplicates_and_members() -> Vec<Case> {
    let dup_payload = br#"{"termsOfServiceAgreed":true,"termsOfServiceAgreed":false}"#.to_vec();
    vec![
        body_edit("duplicate \"protected\" member", 400, MALFORMED, |s| {
            s.replacen('{', "{\"protected\":\"e30\",", 1)
        }),
        raw_header(
            "duplicate alg in the protected header",
            400,
            MALFORMED,
            r#"{"alg":"ES256","alg":"none","jwk":{jwk},"nonce":"{nonce}","url":"{url}"}"#,
            agreed(),
        ),
        raw_header(
            "duplicate member inside jwk",
            400,
            MALFORMED,
            r#"{"alg":"ES256","jwk":{"kty":"EC","kty":"EC","crv":"P-256","x":"AA","y":"AA"},"nonce":"{nonce}","url":"{url}"}"#,
            agreed(),
        ),
        case(
            "duplicate member in the payload",
            400,
            MALFORMED,
            move |c| {
                let payload = dup_payload.clone();
                async move {
                    let url = c.url("newAccount");
                    c.client
                        .post_signed(&url, &Key::es256(), KeyId::Jwk, &payload, |_| {})
                        .await
                }
            },
        ),
        new_account_header("header crit", 400, MALFORMED, |h| {
            h.insert("crit".into(), json!(["b64"]));
            h.insert("b64".into(), json!(false));
        }),
        new_account_header("header b64 without crit", 400, MALFORMED, |h| {
            h.insert("b64".into(), json!(false));
        }),
        new_account_header("header x5c", 400, MALFORMED, |h| {
            h.insert("x5c".into(), json!(["MIIB"]));
        }),
        new_account_header("header jku", 400, MALFORMED, |h| {
            h.insert("jku".into(), json!("https://www.hanko-ci.com/jwks"));
        }),
        new_account_header("header x5u", 400, MALFORMED, |h| {
            h.insert("x5u".into(), json!("https://www.hanko-ci.com/x5u"));
        }),
        new_account_header("header both jwk and kid", 400, MALFORMED, |h| {
            h.insert("kid".into(), json!("https://127.0.0.1/acme/acct/1"));
        }),
        new_account_header("header alg none", 400, Some("badSignatureAlgorithm"), |h| {
            h.insert("alg".into(), json!("none"));
        }),
        jws_edit("unprotected header member", 400, MALFORMED, |j| {
            j["header"] = json!({"kid": "x"});
        }),
        // RFC 7515 4: unknown, non-critical header parameters are ignored.
        new_account_header("unknown header member is ignored", 201, None, |h| {
            h.insert("x-hanko-ci".into(), json!("ignored"));
        }),
    ]
}

/// RFC 8555 6.2: application/jose+json (media types are case-insensitive, RFC 9110 8.3.1).
fn content_types() -> Vec<Case> {
    let mut rows = Vec::new();
    for (ct, status, kind) in [
        (None, 415, MALFORMED),
        (Some("application/json"), 415, MALFORMED),
        (Some("text/plain"), 415, MALFORMED),
        (Some("application/jose"), 415, MALFORMED),
        (Some("multipart/form-data; boundary=x"), 415, MALFORMED),
        (Some("application/jose+json; charset=utf-8"), 201, None),
        (Some("Application/JOSE+JSON"), 201, None),
    ] {
        rows.push(case(
            format!("Content-Type {ct:?}"),
            status,
            kind,
            move |c| async move {
                let jws = valid_new_account_jws(&c).await?;
                c.client
                    .send(Method::POST, &c.url("newAccount"), ct, json_payload(&jws))
                    .await
            },
        ));
    }
    rows
}

/// Odd names in newOrder (RFC 8555 7.1.4, CP 3.1: LDH labels, A-labels that decode).
fn identifiers() -> Vec<Case> {
    let mut rows = Vec::new();
    for (label, name) in [
        ("RTL override", "www\u{202e}.hanko-ci.com"),
        ("zero-width joiner", "ww\u{200d}w.hanko-ci.com"),
        ("Cyrillic confusable", "www.h\u{0430}nko-ci.com"),
        ("fullwidth dot", "www\u{ff0e}hanko-ci.com"),
        ("trailing dot", "www.hanko-ci.com."),
        ("empty label", "www..hanko-ci.com"),
        ("xn-- garbage", "xn--zz-zzz-.hanko-ci.com"),
        ("xn-- empty", "xn--.hanko-ci.com"),
        ("NUL byte", "www\u{0}.hanko-ci.com"),
        ("wildcard in the middle", "www.*.hanko-ci.com"),
        ("ip address as dns", "127.0.0.1"),
        (
            "label over 63",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.hanko-ci.com",
        ),
    ] {
        rows.push(a_json(
            format!("newOrder name with {label}"),
            400,
            Some("rejectedIdentifier"),
            |c: &Ctx| c.url("newOrder"),
            json!({"identifiers": [{"type": "dns", "value": name}]}),
        ));
    }
    rows.push(a_json(
        "newOrder uppercase punycode is the same name",
        201,
        None,
        |c: &Ctx| c.url("newOrder"),
        json!({"identifiers": [{"type": "dns", "value": "XN--BCHER-KVA.HANKO-CI.COM"}]}),
    ));
    rows.push(a_json(
        "newOrder identifier type email",
        400,
        // RFC 8555 6.7: an identifier type the server does not know.
        Some("unsupportedIdentifier"),
        |c: &Ctx| c.url("newOrder"),
        json!({"identifiers": [{"type": "email", "value": "ops@hanko-ci.com"}]}),
    ));
    rows
}

/// RFC 8555 7.4: a CSR the CA will not sign is badCSR; the order stays ready.
fn finalize_csrs() -> Vec<Case> {
    let bad = Some("badCSR");
    vec![
        finalize_csr(
            "CSR with duplicate subjectAltName",
            400,
            bad,
            csrs::duplicate_san(),
        ),
        finalize_csr("CSR with a bad signature", 400, bad, csrs::bad_signature()),
        finalize_csr("CSR truncated", 400, bad, {
            let der = csrs::plain(&[csrs::NAME]);
            der[..der.len() / 2].to_vec()
        }),
        finalize_csr(
            "CSR not DER",
            400,
            bad,
            b"-----BEGIN CERTIFICATE REQUEST-----".to_vec(),
        ),
        finalize_csr(
            "CSR SAN with RTL override",
            400,
            bad,
            csrs::raw_san("api\u{202e}.hanko-ci.com".as_bytes()),
        ),
        finalize_csr(
            "CSR SAN with zero-width joiner",
            400,
            bad,
            csrs::raw_san("a\u{200d}pi.hanko-ci.com".as_bytes()),
        ),
        finalize_csr(
            "CSR SAN with Cyrillic confusable",
            400,
            bad,
            csrs::raw_san("\u{0430}pi.hanko-ci.com".as_bytes()),
        ),
        finalize_csr(
            "CSR SAN with trailing dot",
            400,
            bad,
            csrs::raw_san(b"api.hanko-ci.com."),
        ),
        finalize_csr(
            "CSR SAN xn-- garbage",
            400,
            bad,
            csrs::raw_san(b"xn--zz-zzz-.hanko-ci.com"),
        ),
        finalize_csr("CSR SAN empty", 400, bad, csrs::raw_san(b"")),
        finalize_csr(
            "CSR CN with zero-width joiner",
            400,
            bad,
            csrs::with_cn("api.hanko-ci.com\u{200d}"),
        ),
        finalize_csr(
            "CSR CN of another name",
            400,
            bad,
            csrs::with_cn("www.hanko-ci.com"),
        ),
        finalize_csr(
            "CSR for another name",
            400,
            bad,
            csrs::plain(&["www.hanko-ci.com"]),
        ),
        // Last: it succeeds and uses up the order. Requested extensions other than the SAN
        // are not copied into the certificate (the profile decides, CP 7.1), so an unknown
        // critical one asks for nothing the CA would honour; RFC 8555 7.4 does not ask
        // for a refusal.
        finalize_csr(
            "CSR with an unknown critical extension is issued without it",
            200,
            None,
            csrs::unknown_critical_extension(),
        ),
    ]
}

fn replay_and_urls() -> Vec<Case> {
    vec![
        case(
            "replayed JWS (same nonce twice)",
            400,
            Some("badNonce"),
            |c| async move {
                let jws = valid_new_account_jws(&c).await?;
                let url = c.url("newAccount");
                let first = c.client.post_jws(&url, &jws).await?;
                anyhow::ensure!(first.status == 201, "first use of the JWS:\n{first}");
                c.client.post_jws(&url, &jws).await
            },
        ),
        new_account_header("made-up nonce", 400, Some("badNonce"), |h| {
            h.insert("nonce".into(), json!("bm90LWEtbm9uY2U"));
        }),
        new_account_header("url of another resource", 403, Some("unauthorized"), |h| {
            let url = h["url"]
                .as_str()
                .unwrap_or_default()
                .replace("new-account", "new-order");
            h.insert("url".into(), json!(url));
        }),
        new_account_header("url with another host", 403, Some("unauthorized"), |h| {
            let url = h["url"]
                .as_str()
                .unwrap_or_default()
                .replace("127.0.0.1", "localhost");
            h.insert("url".into(), json!(url));
        }),
        new_account_header(
            "url with a trailing slash",
            403,
            Some("unauthorized"),
            |h| {
                let url = format!("{}/", h["url"].as_str().unwrap_or_default());
                h.insert("url".into(), json!(url));
            },
        ),
        new_account_header("url with http scheme", 403, Some("unauthorized"), |h| {
            let url = h["url"]
                .as_str()
                .unwrap_or_default()
                .replace("https:", "http:");
            h.insert("url".into(), json!(url));
        }),
    ]
}
