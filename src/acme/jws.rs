//! Strict JWS for ACME (RFC 8555 6.2–6.5, RFC 7515, RFC 7638). Our own small code: generic
//! JOSE crates accept forms RFC 8555 forbids (compact/general serialization, unprotected
//! headers, `crit`, HMAC algorithms), so we parse and verify exactly what 6.2 allows.

use serde_json::Value;

/// Algorithms RFC 8555 6.2 lets us accept; any other `alg` is `badSignatureAlgorithm`.
pub const ALLOWED_ALGORITHMS: &[&str] = &["RS256", "ES256", "ES384", "ES512", "EdDSA"];

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

impl ParsedJws {
    /// Parse a flattened JWS JSON body (RFC 8555 6.2). Checks: JSON object with exactly
    /// `protected`, `payload`, `signature`; no `header`; protected header has `alg` in the
    /// allow-list, `url`, no `crit`, exactly one of `jwk`/`kid`; `jwk` passes key policy.
    pub fn parse(body: &[u8]) -> Result<ParsedJws, JwsError> {
        let _ = body;
        Err(JwsError::Malformed("not implemented yet".to_string()))
    }

    /// Verify the signature with `key`; `alg` must fit the key type.
    pub fn verify(&self, key: &AccountKey) -> Result<(), JwsError> {
        let _ = (key, &self.signing_input, &self.signature);
        Err(JwsError::BadSignature)
    }

    /// Payload parsed as JSON (an empty payload is an error here).
    pub fn payload_json(&self) -> Result<Value, JwsError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| JwsError::Malformed(format!("payload is not JSON: {e}")))
    }
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

impl AccountKey {
    /// Build from a JWK JSON object; rejects private members, unknown kty/crv and keys that
    /// fail `policy::keys::check_spki`.
    pub fn from_jwk(jwk: &Value) -> Result<AccountKey, JwsError> {
        let _ = jwk;
        Err(JwsError::BadPublicKey("not implemented yet".to_string()))
    }
}
