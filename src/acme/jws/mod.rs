//! Strict JWS for ACME (RFC 8555 6.2–6.5, RFC 7515, RFC 7638). Our own small code: generic
//! JOSE crates accept forms RFC 8555 forbids (compact/general serialization, unprotected
//! headers, `crit`, HMAC algorithms), so we parse and verify exactly what 6.2 allows.
//!
//! Flow: `ParsedJws::parse` (shape, header rules, embedded `jwk` through key policy) →
//! the caller resolves the key (the `jwk`, or the account named by `kid`) and checks `url`
//! and `nonce` → `ParsedJws::verify`. keyChange's inner JWS: `parse_key_change`.

mod jwk;
mod strict;
#[cfg(test)]
mod tests;

pub use jwk::jwk_thumbprint;

use serde_json::{Map, Value};
use strict::b64url_decode;
pub(crate) use strict::json_no_duplicates;

/// Algorithms RFC 8555 6.2 lets us accept; any other `alg` is `badSignatureAlgorithm`.
/// This is also the `algorithms` list of that problem document (RFC 8555 6.7.1).
pub const ALLOWED_ALGORITHMS: &[&str] = &["RS256", "ES256", "ES384", "ES512", "EdDSA"];

/// Header parameters that name a key some other way than `jwk`/`kid` (RFC 7515 4.1.2–4.1.8).
/// RFC 8555 6.2 allows exactly one of `jwk`/`kid`; a second key source is an ambiguity we
/// refuse rather than ignore.
const OTHER_KEY_SOURCES: &[&str] = &["jku", "x5u", "x5c", "x5t", "x5t#S256"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not a flattened JWS, bad base64url, bad JSON, forbidden or missing header fields.
    #[error("malformed JWS: {0}")]
    Malformed(String),
    /// `alg` not in `ALLOWED_ALGORITHMS` (or not matching the key type).
    #[error("unsupported signature algorithm {0:?}")]
    BadSignatureAlgorithm(String),
    /// The key fails key policy or is not a usable public key.
    #[error("bad public key: {0}")]
    BadPublicKey(String),
    #[error("signature verification failed")]
    BadSignature,
}

fn malformed(detail: impl Into<String>) -> JwsError {
    JwsError::Malformed(detail.into())
}

/// The key of a JWS: embedded `jwk` (newAccount, revokeCert by certificate key) or `kid`
/// (an account URL) — exactly one (RFC 8555 6.2).
#[derive(Debug, Clone)]
pub enum KeyRef {
    Jwk(AccountKey),
    Kid(String),
}

/// A parsed, not yet verified, flattened JWS.
#[derive(Debug, Clone)]
pub struct ParsedJws {
    pub alg: String,
    /// `nonce` header (absent only where RFC 8555 allows it: the inner keyChange JWS).
    pub nonce: Option<String>,
    pub url: String,
    pub key: KeyRef,
    /// Decoded payload; empty for POST-as-GET (payload "").
    pub payload: Vec<u8>,
    /// True when the payload field was the empty string (POST-as-GET, RFC 8555 6.3).
    pub payload_is_empty: bool,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

/// The three members of a flattened JWS, still base64url-encoded as received.
struct Flattened<'a> {
    protected: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl ParsedJws {
    /// Parse a flattened JWS JSON body (RFC 8555 6.2). Checks: JSON object with exactly
    /// `protected`, `payload`, `signature`; no `header`; protected header has `alg` in the
    /// allow-list, `url`, no `crit`, exactly one of `jwk`/`kid`; `jwk` passes key policy.
    pub fn parse(body: &[u8]) -> Result<ParsedJws, JwsError> {
        let body = json_no_duplicates(body)
            .map_err(|e| malformed(format!("body is not a JSON object: {e}")))?;
        let parts = flattened(&body)?;
        let header_bytes = b64url_decode("protected", parts.protected).map_err(malformed)?;
        let payload = b64url_decode("payload", parts.payload).map_err(malformed)?;
        let signature = b64url_decode("signature", parts.signature).map_err(malformed)?;
        let header = json_no_duplicates(&header_bytes)
            .map_err(|e| malformed(format!("protected header is not valid JSON: {e}")))?;
        let header = header
            .as_object()
            .ok_or_else(|| malformed("protected header is not a JSON object"))?;
        let (alg, nonce, url, key) = check_header(header)?;
        // RFC 7515 5.2 step 8: the signing input is the received encodings, unchanged.
        let signing_input = [parts.protected.as_bytes(), b".", parts.payload.as_bytes()].concat();
        Ok(ParsedJws {
            alg,
            nonce,
            url,
            key,
            payload_is_empty: parts.payload.is_empty(),
            payload,
            signing_input,
            signature,
        })
    }

    /// Verify the signature with `key`; `alg` must fit the key type.
    pub fn verify(&self, key: &AccountKey) -> Result<(), JwsError> {
        jwk::verify_signature(
            &key.spki_der,
            &self.alg,
            &self.signing_input,
            &self.signature,
        )
    }

    /// Verify with the embedded `jwk` (newAccount, keyChange inner JWS, revokeCert by
    /// certificate key); `Malformed` when the JWS names its key by `kid`.
    pub fn verify_with_embedded_key(&self) -> Result<&AccountKey, JwsError> {
        match &self.key {
            KeyRef::Jwk(key) => self.verify(key).map(|()| key),
            KeyRef::Kid(_) => Err(malformed("this request must carry \"jwk\", not \"kid\"")),
        }
    }

    /// Payload parsed as JSON (an empty payload is an error here). Duplicate member names
    /// are refused, as in the header: one request must mean one thing.
    pub fn payload_json(&self) -> Result<Value, JwsError> {
        json_no_duplicates(&self.payload)
            .map_err(|e| malformed(format!("payload is not JSON: {e}")))
    }
}

/// RFC 8555 6.2: "flattened JSON serialization" only, and no unprotected header. Every other
/// member (`header`, `signatures` of the general serialization, anything unknown) is refused.
fn flattened(body: &Value) -> Result<Flattened<'_>, JwsError> {
    let obj = body.as_object().ok_or_else(|| {
        malformed("body must be a flattened JWS JSON object (RFC 8555 6.2); compact and other forms are not accepted")
    })?;
    if let Some(extra) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "protected" | "payload" | "signature"))
    {
        return Err(malformed(format!(
            "member {extra:?} is not allowed: flattened JWS with only \"protected\", \"payload\" and \"signature\" (RFC 8555 6.2)"
        )));
    }
    let field = |name: &str| {
        obj.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(format!("member {name:?} is missing or not a string")))
    };
    Ok(Flattened {
        protected: field("protected")?,
        payload: field("payload")?,
        signature: field("signature")?,
    })
}

type HeaderFields = (String, Option<String>, String, KeyRef);

/// The protected header rules of RFC 8555 6.2 (and RFC 7515 4.1.11 for `crit`).
fn check_header(header: &Map<String, Value>) -> Result<HeaderFields, JwsError> {
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        Some(_) => return Err(malformed("header \"alg\" must be a string")),
        None => return Err(malformed("header \"alg\" is required (RFC 7515 4.1.1)")),
    };
    // RFC 8555 6.2: MUST NOT accept "none" or MAC-based algorithms; only the allow-list.
    if !ALLOWED_ALGORITHMS.contains(&alg.as_str()) {
        return Err(JwsError::BadSignatureAlgorithm(alg));
    }
    // RFC 7515 4.1.11: a recipient that does not understand a listed extension must reject;
    // we understand none, so any `crit` is refused.
    if header.contains_key("crit") {
        return Err(malformed(
            "header \"crit\" is not supported (RFC 7515 4.1.11)",
        ));
    }
    // RFC 7797 6: "b64" is only valid when listed in "crit", which we refuse above; without
    // it, a recipient that ignores "b64" and one that honours it verify different bytes.
    if header.contains_key("b64") {
        return Err(malformed(
            "header \"b64\" is not supported (RFC 7797 6: it requires \"crit\")",
        ));
    }
    if let Some(other) = OTHER_KEY_SOURCES.iter().find(|m| header.contains_key(**m)) {
        return Err(malformed(format!(
            "header {other:?} is not allowed: identify the key by \"jwk\" or \"kid\" only (RFC 8555 6.2)"
        )));
    }
    let url = match header.get("url") {
        Some(Value::String(url)) => url.clone(),
        Some(_) => return Err(malformed("header \"url\" must be a string")),
        None => return Err(malformed("header \"url\" is required (RFC 8555 6.4)")),
    };
    let nonce = match header.get("nonce") {
        Some(Value::String(nonce)) => Some(nonce.clone()),
        Some(_) => return Err(malformed("header \"nonce\" must be a string")),
        None => None,
    };
    let key = match (header.get("jwk"), header.get("kid")) {
        (Some(jwk), None) => KeyRef::Jwk(AccountKey::from_jwk(jwk)?),
        (None, Some(Value::String(kid))) if !kid.is_empty() => KeyRef::Kid(kid.clone()),
        (None, Some(_)) => return Err(malformed("header \"kid\" must be a non-empty string")),
        _ => {
            return Err(malformed(
                "exactly one of the headers \"jwk\" and \"kid\" is required (RFC 8555 6.2)",
            ))
        }
    };
    Ok((alg, nonce, url, key))
}

/// An account (or certificate) public key taken from a JWK, checked against key policy.
#[derive(Debug, Clone)]
pub struct AccountKey {
    /// The JWK with only its required public members (RFC 7638 3.2), for storage and display.
    pub jwk: Value,
    /// base64url SHA-256 JWK thumbprint (RFC 7638); used in key authorizations.
    pub thumbprint: String,
    /// DER SubjectPublicKeyInfo of the key (for key policy and key comparison).
    pub spki_der: Vec<u8>,
}

/// A verified keyChange inner JWS (RFC 8555 7.3.5). The caller still checks that `account`
/// is the URL of the account that signed the outer JWS (its `kid`) and that `old_key_*` is
/// that account's current key, and that `new_key` is not already used by another account.
#[derive(Debug, Clone)]
pub struct KeyChange {
    /// The new account key: the inner JWS's `jwk`, which signed the inner JWS.
    pub new_key: AccountKey,
    /// Payload `account`.
    pub account: String,
    /// Payload `oldKey`, as received.
    pub old_key_jwk: Value,
    /// RFC 7638 thumbprint of `oldKey`, computed without key policy so that a key that no
    /// longer passes policy can still be replaced.
    pub old_key_thumbprint: String,
}

/// Parse and verify the inner JWS of a keyChange request (RFC 8555 7.3.5): the outer JWS's
/// payload. It must carry `jwk` (the new key) and no `nonce`, its `url` must equal the
/// outer `url`, its signature must verify with its `jwk`, and its payload must be
/// `{"account": <string>, "oldKey": <JWK>}`.
pub fn parse_key_change(outer: &ParsedJws) -> Result<KeyChange, JwsError> {
    let inner = ParsedJws::parse(&outer.payload)?;
    if inner.nonce.is_some() {
        return Err(malformed(
            "the inner keyChange JWS must not have a \"nonce\" (RFC 8555 7.3.5)",
        ));
    }
    if inner.url != outer.url {
        return Err(malformed(
            "the inner keyChange JWS \"url\" must equal the outer \"url\" (RFC 8555 7.3.5)",
        ));
    }
    let new_key = inner.verify_with_embedded_key()?.clone();
    let payload = inner.payload_json()?;
    let account = match payload.get("account") {
        Some(Value::String(account)) => account.clone(),
        _ => return Err(malformed("keyChange payload needs \"account\" (a string)")),
    };
    let old_key_jwk = match payload.get("oldKey") {
        Some(jwk @ Value::Object(_)) => jwk.clone(),
        _ => {
            return Err(malformed(
                "keyChange payload needs \"oldKey\" (a JWK object)",
            ))
        }
    };
    let old_key_thumbprint = jwk_thumbprint(&old_key_jwk)?;
    Ok(KeyChange {
        new_key,
        account,
        old_key_jwk,
        old_key_thumbprint,
    })
}
