//! The inner JWS of a key rollover (RFC 8555 7.3.5), built on the strict JWS parser.

use super::jws::{AccountKey, JwsError, KeyRef, ParsedJws};
use serde_json::Value;

pub struct KeyChange {
    /// The `account` member: the account URL.
    pub account: String,
    pub old_key: AccountKey,
    pub new_key: AccountKey,
}

/// Parse and verify the inner JWS carried as the outer JWS's payload: signed by the new key
/// (`jwk`), no `nonce`, the same `url` as the outer JWS, payload `{account, oldKey}`.
pub fn parse_key_change(outer: &ParsedJws) -> Result<KeyChange, JwsError> {
    let inner = ParsedJws::parse(&outer.payload)?;
    let KeyRef::Jwk(new_key) = &inner.key else {
        return Err(JwsError::Malformed(
            "keyChange inner JWS must carry the new key as jwk".to_string(),
        ));
    };
    if inner.nonce.is_some() {
        return Err(JwsError::Malformed(
            "keyChange inner JWS must not have a nonce".to_string(),
        ));
    }
    if inner.url != outer.url {
        return Err(JwsError::Malformed(
            "keyChange inner JWS url differs from the outer url".to_string(),
        ));
    }
    inner.verify(new_key)?;
    let payload = inner.payload_json()?;
    let account = payload
        .get("account")
        .and_then(Value::as_str)
        .ok_or_else(|| JwsError::Malformed("keyChange payload lacks account".to_string()))?
        .to_string();
    let old_jwk = payload
        .get("oldKey")
        .ok_or_else(|| JwsError::Malformed("keyChange payload lacks oldKey".to_string()))?;
    let old_key = AccountKey::from_jwk(old_jwk)?;
    Ok(KeyChange {
        account,
        old_key,
        new_key: new_key.clone(),
    })
}
