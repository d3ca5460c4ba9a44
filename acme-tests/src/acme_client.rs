//! A raw ACME (RFC 8555) client for conformance tests: it builds every flattened JWS by hand
//! so a test can add, remove or change any protected-header member (or the body itself)
//! before it is signed and sent, and it returns the raw answer (status, headers, JSON body)
//! without interpreting it. Nothing here retries or repairs a request: a conformance test
//! must see exactly what the server answered.
//!
//! Layers, bottom up: [`Key`] (account keys and signatures), [`sign_jws`] (flattened JWS),
//! [`AcmeClient`] (HTTP with nonces, unauthenticated), [`Account`] (requests signed with a
//! `kid`, and the usual workflow helpers: orders, polling, http-01, finalize, download).

use crate::http01::Http01Responder;
use crate::server::HankoServer;
use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use rsa::signature::SignatureEncoding;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// RFC 8555 6.7 error namespace.
pub const ACME_ERROR: &str = "urn:ietf:params:acme:error:";
/// RFC 8555 6.2 request media type.
pub const JOSE_JSON: &str = "application/jose+json";
/// How long polling waits for a state change: generous for a debug build on a busy machine.
pub const POLL_DEADLINE: Duration = Duration::from_secs(30);
/// Upper bound on one Retry-After wait, so a silly header cannot stall a test.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// base64url without padding (RFC 7515 2).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key of one of the JWS algorithms RFC 8555 clients use.
pub enum Key {
    Es256(p256::ecdsa::SigningKey),
    Es384(p384::ecdsa::SigningKey),
    /// P-521: hanko's key policy refuses it for accounts; kept to test that refusal.
    Es512(p521::ecdsa::SigningKey),
    Rs256(Box<rsa::RsaPrivateKey>),
    EdDsa(ed25519_dalek::SigningKey),
}

impl Key {
    /// ECDSA P-256 (`ES256`), the default account key.
    pub fn es256() -> Key {
        Key::Es256(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// ECDSA P-384 (`ES384`).
    pub fn es384() -> Key {
        Key::Es384(p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// ECDSA P-521 (`ES512`).
    pub fn es512() -> Key {
        Key::Es512(p521::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// RSA of `bits` bits (`RS256`); 2048 for a normal account, 1024 to test key policy.
    pub fn rsa(bits: usize) -> Result<Key> {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
            .with_context(|| format!("generating RSA-{bits}"))?;
        Ok(Key::Rs256(Box::new(key)))
    }

    /// Ed25519 (`EdDSA`, RFC 8037).
    pub fn ed25519() -> Key {
        Key::EdDsa(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The P-256 key of an rcgen key pair (a CSR key), to sign revokeCert with it.
    pub fn from_rcgen(key: &rcgen::KeyPair) -> Result<Key> {
        use p256::pkcs8::DecodePrivateKey;
        let sk = p256::ecdsa::SigningKey::from_pkcs8_der(&key.serialize_der())
            .context("the rcgen key is not a P-256 PKCS#8 key")?;
        Ok(Key::Es256(sk))
    }

    /// The JWS `alg` for this key (RFC 7518 3.1, RFC 8037 3.1).
    pub fn alg(&self) -> &'static str {
        match self {
            Key::Es256(_) => "ES256",
            Key::Es384(_) => "ES384",
            Key::Es512(_) => "ES512",
            Key::Rs256(_) => "RS256",
            Key::EdDsa(_) => "EdDSA",
        }
    }

    /// The public JWK with exactly the RFC 7638 required members, in canonical order; also
    /// the thumbprint input.
    fn canonical_jwk(&self) -> String {
        let ec = |crv: &str, point: &[u8]| {
            // SEC1 uncompressed: 0x04 || x || y, both coordinates full length.
            let (x, y) = point[1..].split_at((point.len() - 1) / 2);
            format!(
                r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                b64(x),
                b64(y)
            )
        };
        match self {
            Key::Es256(k) => ec(
                "P-256",
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            Key::Es384(k) => ec(
                "P-384",
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            Key::Es512(k) => ec(
                "P-521",
                p521::ecdsa::VerifyingKey::from(k)
                    .to_encoded_point(false)
                    .as_bytes(),
            ),
            Key::Rs256(k) => {
                use rsa::traits::PublicKeyParts;
                format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    b64(k.e().to_bytes_be()),
                    b64(k.n().to_bytes_be())
                )
            }
            Key::EdDsa(k) => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                b64(k.verifying_key().to_bytes())
            ),
        }
    }

    /// The public key as a JWK (RFC 7517).
    pub fn jwk(&self) -> Value {
        // The canonical form is JSON we wrote ourselves; it always parses.
        serde_json::from_str(&self.canonical_jwk()).unwrap_or(Value::Null)
    }

    /// RFC 7638 SHA-256 thumbprint, base64url.
    pub fn thumbprint(&self) -> String {
        b64(Sha256::digest(self.canonical_jwk().as_bytes()))
    }

    /// The JWS signature over `input` (ECDSA as fixed-size R || S, RFC 7518 3.4).
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Key::Es256(k) => Signer::<p256::ecdsa::Signature>::sign(k, input).to_vec(),
            Key::Es384(k) => Signer::<p384::ecdsa::Signature>::sign(k, input).to_vec(),
            Key::Es512(k) => Signer::<p521::ecdsa::Signature>::sign(k, input).to_vec(),
            Key::Rs256(k) => rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone())
                .sign(input)
                .to_vec(),
            Key::EdDsa(k) => Signer::<ed25519_dalek::Signature>::sign(k, input)
                .to_bytes()
                .to_vec(),
        }
    }
}

/// How a JWS names its key (RFC 8555 6.2).
#[derive(Clone, Copy, Debug)]
pub enum KeyId<'a> {
    /// Embed the public key (`jwk`): newAccount, revokeCert by certificate key.
    Jwk,
    /// The account URL (`kid`).
    Kid(&'a str),
}

/// The protected header RFC 8555 6.2 asks for: `alg`, `jwk` or `kid`, `nonce`, `url`.
pub fn protected_header(key: &Key, id: KeyId<'_>, nonce: &str, url: &str) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("alg".into(), json!(key.alg()));
    match id {
        KeyId::Jwk => h.insert("jwk".into(), key.jwk()),
        KeyId::Kid(kid) => h.insert("kid".into(), json!(kid)),
    };
    h.insert("nonce".into(), json!(nonce));
    h.insert("url".into(), json!(url));
    h
}

/// A flattened JWS (RFC 7515 7.2.2) of `payload` (raw bytes; empty for POST-as-GET) under
/// the given protected header, signed with `key` whatever the header says.
pub fn sign_jws(key: &Key, protected: &Map<String, Value>, payload: &[u8]) -> Value {
    let protected = b64(Value::Object(protected.clone()).to_string());
    let payload = b64(payload);
    let signature = b64(key.sign(format!("{protected}.{payload}").as_bytes()));
    json!({"protected": protected, "payload": payload, "signature": signature})
}

/// A JSON payload as bytes (what `sign_jws` takes).
pub fn json_payload(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// One HTTP answer, uninterpreted.
#[derive(Debug, Clone)]
pub struct Resp {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    /// The body parsed as JSON; `Null` when it is not JSON.
    pub body: Value,
}

impl Resp {
    /// A header's value (the first one), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header (e.g. `Link`).
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    pub fn nonce(&self) -> Option<&str> {
        self.header("replay-nonce")
    }

    /// The problem document's `type`, if any.
    pub fn problem_type(&self) -> Option<&str> {
        self.body.get("type").and_then(Value::as_str)
    }

    /// A string member of the JSON body.
    pub fn str(&self, member: &str) -> Option<&str> {
        self.body.get(member).and_then(Value::as_str)
    }

    /// Panic (with the whole answer) on any 5xx: never acceptable for client input.
    #[track_caller]
    pub fn assert_no_5xx(&self) -> &Self {
        assert!(
            self.status < 500,
            "server error for {}:\n{self}",
            self.what()
        );
        self
    }

    /// Assert the HTTP status (and that it is not 5xx).
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        self.assert_no_5xx();
        assert_eq!(
            self.status,
            status,
            "unexpected status for {}:\n{self}",
            self.what()
        );
        self
    }

    /// Assert an RFC 7807 problem: HTTP status, `type` = `urn:ietf:params:acme:error:<kind>`,
    /// Content-Type application/problem+json and the body's `status` equal to the HTTP one.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, kind: &str) -> &Self {
        self.assert_status(status);
        let want = format!("{ACME_ERROR}{kind}");
        assert_eq!(
            self.problem_type(),
            Some(want.as_str()),
            "unexpected problem type for {}:\n{self}",
            self.what()
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "problem document media type (RFC 7807 3) for {}:\n{self}",
            self.what()
        );
        if let Some(s) = self.body.get("status") {
            assert_eq!(
                s,
                &json!(status),
                "body status for {}:\n{self}",
                self.what()
            );
        }
        self
    }

    fn what(&self) -> String {
        format!("{} {}", self.method, self.url)
    }
}

impl std::fmt::Display for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "HTTP {} for {} {}", self.status, self.method, self.url)?;
        for (k, v) in &self.headers {
            writeln!(f, "{k}: {}", v.to_str().unwrap_or("<binary>"))?;
        }
        let shown: String = self.text.chars().take(4000).collect();
        write!(f, "\n{shown}")
    }
}

/// An ACME client bound to one server's directory; no account.
#[derive(Clone)]
pub struct AcmeClient {
    http: reqwest::Client,
    /// The directory object (RFC 8555 7.1.1) as fetched.
    pub directory: Value,
    /// `https://127.0.0.1:PORT`.
    pub base: String,
}

impl AcmeClient {
    /// Fetch the directory of `server`, over HTTPS that trusts only its development root.
    pub async fn connect(server: &HankoServer) -> Result<AcmeClient> {
        let http = server.client().clone();
        let mut client = AcmeClient {
            http,
            directory: Value::Null,
            base: server.base_url(),
        };
        let dir = client.get(&server.directory_url()).await?;
        if dir.status != 200 || !dir.body.is_object() {
            bail!("GET directory:\n{dir}");
        }
        client.directory = dir.body;
        Ok(client)
    }

    /// A resource URL from the directory (`newNonce`, `newAccount`, `newOrder`, …).
    pub fn url(&self, resource: &str) -> String {
        self.directory
            .get(resource)
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| panic!("directory has no {resource:?}: {}", self.directory))
    }

    /// Send any request; the body is sent as is, with `content_type` when given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Resp> {
        let mut req = self.http.request(method.clone(), url);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        if !body.is_empty() {
            req = req.body(body);
        }
        let rsp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = rsp.status().as_u16();
        let headers = rsp.headers().clone();
        let text = rsp
            .text()
            .await
            .with_context(|| format!("reading body of {method} {url}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            method: method.to_string(),
            url: url.to_string(),
            status,
            headers,
            text,
            body,
        })
    }

    pub async fn get(&self, url: &str) -> Result<Resp> {
        self.send(reqwest::Method::GET, url, None, Vec::new()).await
    }

    pub async fn head(&self, url: &str) -> Result<Resp> {
        self.send(reqwest::Method::HEAD, url, None, Vec::new())
            .await
    }

    /// POST raw bytes with the given Content-Type (for malformed-body tests).
    pub async fn post_raw(&self, url: &str, content_type: &str, body: Vec<u8>) -> Result<Resp> {
        self.send(reqwest::Method::POST, url, Some(content_type), body)
            .await
    }

    /// POST a JWS (or any JSON) as `application/jose+json`.
    pub async fn post_jws(&self, url: &str, jws: &Value) -> Result<Resp> {
        self.post_raw(url, JOSE_JSON, json_payload(jws)).await
    }

    /// A fresh nonce from HEAD newNonce (RFC 8555 7.2).
    pub async fn nonce(&self) -> Result<String> {
        let rsp = self.head(&self.url("newNonce")).await?;
        match rsp.nonce() {
            Some(n) if rsp.status == 200 => Ok(n.to_string()),
            _ => bail!("HEAD newNonce gave no nonce:\n{rsp}"),
        }
    }

    /// Sign `payload` for `url` with a fresh nonce and POST it. `tamper` sees the protected
    /// header before signing and may change anything in it.
    pub async fn post_signed(
        &self,
        url: &str,
        key: &Key,
        id: KeyId<'_>,
        payload: &[u8],
        tamper: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<Resp> {
        let nonce = self.nonce().await?;
        let mut header = protected_header(key, id, &nonce, url);
        tamper(&mut header);
        self.post_jws(url, &sign_jws(key, &header, payload)).await
    }

    /// newAccount (RFC 8555 7.3) signed with `key`'s `jwk`, with this payload.
    pub async fn new_account_raw(&self, key: &Key, payload: &Value) -> Result<Resp> {
        let url = self.url("newAccount");
        self.post_signed(&url, key, KeyId::Jwk, &json_payload(payload), |_| {})
            .await
    }

    /// Create an account for `key` (terms agreed, one contact); fails unless 201 + Location.
    pub async fn create_account(&self, key: Key) -> Result<Account> {
        let payload = json!({
            "termsOfServiceAgreed": true,
            "contact": [format!("mailto:{}", crate::CONTACT_EMAIL)],
        });
        let rsp = self.new_account_raw(&key, &payload).await?;
        let kid = match rsp.location() {
            Some(loc) if rsp.status == 201 => loc.to_string(),
            _ => bail!("newAccount should be 201 with Location:\n{rsp}"),
        };
        Ok(Account {
            client: self.clone(),
            key,
            kid,
        })
    }
}

/// An account: its key and `kid`, and the requests it signs.
pub struct Account {
    pub client: AcmeClient,
    pub key: Key,
    pub kid: String,
}

impl Account {
    /// POST `payload` (JSON) or, when `None`, POST-as-GET (empty payload, RFC 8555 6.3).
    pub async fn post(&self, url: &str, payload: Option<&Value>) -> Result<Resp> {
        let bytes = payload.map(json_payload).unwrap_or_default();
        self.post_bytes(url, &bytes, |_| {}).await
    }

    /// POST raw payload bytes with a kid-signed header that `tamper` may change.
    pub async fn post_bytes(
        &self,
        url: &str,
        payload: &[u8],
        tamper: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<Resp> {
        self.client
            .post_signed(url, &self.key, KeyId::Kid(&self.kid), payload, tamper)
            .await
    }

    pub async fn post_as_get(&self, url: &str) -> Result<Resp> {
        self.post(url, None).await
    }

    /// The key authorization for an http-01 token (RFC 8555 8.1).
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.key.thumbprint())
    }

    /// newOrder for these DNS names (no assertion on the answer).
    pub async fn new_order(&self, names: &[&str]) -> Result<Resp> {
        let identifiers: Vec<Value> = names
            .iter()
            .map(|n| json!({"type": "dns", "value": n}))
            .collect();
        self.new_order_identifiers(Value::Array(identifiers)).await
    }

    /// newOrder with a hand-written `identifiers` array.
    pub async fn new_order_identifiers(&self, identifiers: Value) -> Result<Resp> {
        let url = self.client.url("newOrder");
        self.post(&url, Some(&json!({ "identifiers": identifiers })))
            .await
    }

    /// newOrder that must succeed: the order object and its URL.
    pub async fn create_order(&self, names: &[&str]) -> Result<(Value, String)> {
        let rsp = self.new_order(names).await?;
        match rsp.location() {
            Some(loc) if rsp.status == 201 => Ok((rsp.body.clone(), loc.to_string())),
            _ => bail!("newOrder {names:?} should be 201 with Location:\n{rsp}"),
        }
    }

    /// POST-as-GET `url` until `done` holds, honouring Retry-After (capped), for at most
    /// `POLL_DEADLINE`. Returns the last answer that satisfied `done`.
    pub async fn poll(&self, url: &str, done: impl Fn(&Resp) -> bool) -> Result<Resp> {
        let deadline = Instant::now() + POLL_DEADLINE;
        loop {
            let rsp = self.post_as_get(url).await?;
            if done(&rsp) {
                return Ok(rsp);
            }
            if rsp.status >= 500 || Instant::now() >= deadline {
                bail!("gave up polling {url} after {POLL_DEADLINE:?}; last answer:\n{rsp}");
            }
            let wait = rsp
                .header("retry-after")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_millis(250))
                .clamp(Duration::from_millis(100), MAX_RETRY_AFTER);
            tokio::time::sleep(wait).await;
        }
    }

    /// Poll until the JSON `status` leaves the given transient states.
    pub async fn poll_status(&self, url: &str, transient: &[&str]) -> Result<Resp> {
        self.poll(url, |r| {
            r.status != 200 || !r.str("status").is_some_and(|s| transient.contains(&s))
        })
        .await
    }

    /// The http-01 challenge object of an authorization.
    pub async fn http01_challenge(&self, authz_url: &str) -> Result<Value> {
        let authz = self.post_as_get(authz_url).await?;
        if authz.status != 200 {
            bail!("authorization {authz_url}:\n{authz}");
        }
        authz.body["challenges"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "http-01"))
            .cloned()
            .with_context(|| format!("no http-01 challenge in {}", authz.body))
    }

    /// Publish the http-01 answer on `responder` (the real key authorization, or `body`
    /// when given) and tell the server the challenge is ready (POST `{}`, RFC 8555 7.5.1).
    pub async fn answer_http01(
        &self,
        responder: &Http01Responder,
        authz_url: &str,
        body: Option<&str>,
    ) -> Result<Resp> {
        let chall = self.http01_challenge(authz_url).await?;
        let token = chall["token"].as_str().context("challenge without token")?;
        let url = chall["url"].as_str().context("challenge without url")?;
        let key_auth = self.key_authorization(token);
        responder.insert(token, body.unwrap_or(&key_auth));
        self.post(url, Some(&json!({}))).await
    }

    /// Answer http-01 for every authorization of an order and wait until it is `ready`.
    pub async fn make_ready(&self, responder: &Http01Responder, order_url: &str) -> Result<Value> {
        let order = self.post_as_get(order_url).await?;
        for authz in order.body["authorizations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let authz = authz.as_str().context("authorization URL")?;
            let rsp = self.answer_http01(responder, authz, None).await?;
            if rsp.status != 200 {
                bail!("challenge response:\n{rsp}");
            }
            let done = self.poll_status(authz, &["pending"]).await?;
            if done.str("status") != Some("valid") {
                bail!("authorization did not become valid:\n{done}");
            }
        }
        let order = self.poll_status(order_url, &["pending"]).await?;
        if order.str("status") != Some("ready") {
            bail!("order did not become ready:\n{order}");
        }
        Ok(order.body)
    }

    /// The keyChange request of RFC 8555 7.3.5: outer JWS by the account (kid), payload an
    /// inner JWS by the new key (jwk, no nonce, same url) over {account, oldKey}.
    pub async fn key_change(&self, new_key: &Key) -> Result<Resp> {
        let url = self.client.url("keyChange");
        let mut inner_header = protected_header(new_key, KeyId::Jwk, "", &url);
        inner_header.remove("nonce");
        let inner_payload = json!({"account": self.kid, "oldKey": self.key.jwk()});
        let inner = sign_jws(new_key, &inner_header, &json_payload(&inner_payload));
        self.post_bytes(&url, &json_payload(&inner), |_| {}).await
    }

    /// newOrder (with `profile` when given, draft-ietf-acme-profiles) → http-01 for every
    /// name → finalize with a fresh key → poll until the order leaves ready/processing.
    /// Returns the final order whatever its status, its URL and the certificate's key.
    pub async fn order_and_finalize(
        &self,
        responder: &Http01Responder,
        names: &[&str],
        profile: Option<&str>,
    ) -> Result<(Resp, String, rcgen::KeyPair)> {
        let identifiers: Vec<Value> = names
            .iter()
            .map(|n| json!({"type": "dns", "value": n}))
            .collect();
        let mut payload = json!({ "identifiers": identifiers });
        if let Some(profile) = profile {
            payload["profile"] = json!(profile);
        }
        let rsp = self
            .post(&self.client.url("newOrder"), Some(&payload))
            .await?;
        let order_url = match rsp.location() {
            Some(loc) if rsp.status == 201 => loc.to_string(),
            _ => bail!("newOrder {names:?} should be 201 with Location:\n{rsp}"),
        };
        let order = self.make_ready(responder, &order_url).await?;
        let (key, csr_der) = csr(names)?;
        let rsp = self.finalize(&order, &csr_der).await?;
        if rsp.status != 200 {
            bail!("finalize:\n{rsp}");
        }
        let order = self
            .poll_status(&order_url, &["ready", "processing"])
            .await?;
        Ok((order, order_url, key))
    }

    /// The whole flow, which must succeed: the downloaded PEM chain and the certificate's key.
    pub async fn issue(
        &self,
        responder: &Http01Responder,
        names: &[&str],
        profile: Option<&str>,
    ) -> Result<(String, rcgen::KeyPair)> {
        let (order, _, key) = self.order_and_finalize(responder, names, profile).await?;
        let url = match (order.str("status"), order.str("certificate")) {
            (Some("valid"), Some(url)) => url.to_string(),
            _ => bail!("order did not become valid with a certificate:\n{order}"),
        };
        let cert = self.post_as_get(&url).await?;
        if cert.status != 200 {
            bail!("certificate download:\n{cert}");
        }
        Ok((cert.text, key))
    }

    /// POST the CSR (DER) to the order's finalize URL (RFC 8555 7.4).
    pub async fn finalize(&self, order: &Value, csr_der: &[u8]) -> Result<Resp> {
        let url = order["finalize"]
            .as_str()
            .context("order without finalize")?;
        self.post(url, Some(&json!({ "csr": b64(csr_der) }))).await
    }
}

/// A fresh P-256 key and a CSR (DER) for `names`, with an empty subject.
pub fn csr(names: &[&str]) -> Result<(rcgen::KeyPair, Vec<u8>)> {
    let key = rcgen::KeyPair::generate().context("generating CSR key")?;
    let der = crate::pki::csr_der(&key, names).context("signing CSR")?;
    Ok((key, der))
}

/// The DER of the first certificate in a PEM chain.
pub fn leaf_der(chain_pem: &str) -> Result<Vec<u8>> {
    let first = crate::split_pem_chain(chain_pem)?
        .into_iter()
        .next()
        .context("empty chain")?;
    let b64_body: String = first.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64_body.trim())
        .context("PEM body is not base64")
}

/// The status line and head of a raw HTTP/1.1 exchange, plus the body bytes received.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub text: String,
}

impl RawResponse {
    /// The answer as a [`Resp`] (headers parsed, body as JSON when it is), so raw answers
    /// go through the same assertions as reqwest's.
    pub fn into_resp(self, method: &str, url: &str) -> Resp {
        let (head, body) = self.text.split_once("\r\n\r\n").unwrap_or((&self.text, ""));
        let mut headers = reqwest::header::HeaderMap::new();
        for line in head.lines().skip(1) {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if let (Ok(k), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()),
                reqwest::header::HeaderValue::from_str(v.trim()),
            ) {
                headers.append(k, v);
            }
        }
        Resp {
            method: method.to_string(),
            url: url.to_string(),
            status: self.status,
            headers,
            text: body.to_string(),
            body: serde_json::from_str(body).unwrap_or(Value::Null),
        }
    }
}

/// POST `body_len` bytes of `fill` to `path` over a hand-driven HTTPS/1.1 connection,
/// announcing the full Content-Length but sending only a first part before reading the
/// answer. A server that refuses by Content-Length answers at once (reqwest would instead
/// report the broken pipe of its unfinished upload, hiding the answer); a server that
/// reads the body gets the rest after `patience`.
pub async fn post_oversized(
    server: &HankoServer,
    path: &str,
    body_len: usize,
    fill: u8,
    patience: Duration,
) -> Result<RawResponse> {
    let root = server.root_pem_path();
    let port = server.port();
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        oversized_blocking(&root, port, &path, body_len, fill, patience)
    })
    .await
    .context("raw HTTPS task")?
}

fn oversized_blocking(
    root: &std::path::Path,
    port: u16,
    path: &str,
    body_len: usize,
    fill: u8,
    patience: Duration,
) -> Result<RawResponse> {
    let (mut conn, mut sock) = tls_connect_blocking(root, port)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {JOSE_JSON}\r\n\
         Content-Length: {body_len}\r\nConnection: close\r\n\r\n"
    );
    tls_send(&mut conn, &mut sock, head.as_bytes()).context("sending the request head")?;
    // More than common body limits, far less than the announced length. A server that
    // stops reading makes later writes fail; that is expected, so write errors are ignored.
    let first = body_len.min(256 * 1024);
    let _ = tls_send(&mut conn, &mut sock, &vec![fill; first]);
    sock.set_read_timeout(Some(patience))?;
    let (mut received, timed_out) = tls_receive(&mut conn, &mut sock);
    if timed_out && received.is_empty() {
        // The server waits for the whole body: send the rest and wait for the answer.
        sock.set_read_timeout(Some(POLL_DEADLINE))?;
        let _ = tls_send(&mut conn, &mut sock, &vec![fill; body_len - first]);
        received = tls_receive(&mut conn, &mut sock).0;
    }
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no HTTP status line in {text:?}"))?;
    Ok(RawResponse { status, text })
}

/// A hand-driven TLS connection to 127.0.0.1:`port`, trusting only `root` (PEM), with the
/// handshake done and a read timeout of `POLL_DEADLINE`: for tests that must control every
/// byte and every pause (oversized bodies, slow clients), which reqwest cannot.
pub fn tls_connect_blocking(
    root: &std::path::Path,
    port: u16,
) -> Result<(rustls::ClientConnection, std::net::TcpStream)> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(root)? {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)?;
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(POLL_DEADLINE))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).context("TLS handshake")?;
    }
    Ok((conn, sock))
}

/// Encrypt and write `data`, without ever reading.
pub fn tls_send(
    conn: &mut rustls::ClientConnection,
    sock: &mut std::net::TcpStream,
    mut data: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    while !data.is_empty() {
        let n = conn.writer().write(data)?;
        data = &data[n..];
        while conn.wants_write() {
            conn.write_tls(sock)?;
        }
    }
    Ok(())
}

/// Read plaintext until the peer closes, resets, or the socket read times out (then the
/// flag is true); never writes, so a peer that stopped reading cannot make it fail.
pub fn tls_receive(
    conn: &mut rustls::ClientConnection,
    sock: &mut std::net::TcpStream,
) -> (Vec<u8>, bool) {
    use std::io::{ErrorKind, Read};
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => return (out, false),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return (out, false),
            }
        }
        match conn.read_tls(sock) {
            Ok(0) => return (out, false),
            Ok(_) => {
                if conn.process_new_packets().is_err() {
                    return (out, false);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (out, true)
            }
            Err(_) => return (out, false),
        }
    }
}

/// A fresh server with default options and a client that has read its directory: the
/// starting point of every conformance test.
pub async fn start_default() -> (HankoServer, AcmeClient) {
    use crate::OrFail;
    let server = HankoServer::start(crate::server::HankoOptions::default())
        .await
        .or_fail("hanko start");
    let client = AcmeClient::connect(&server)
        .await
        .or_fail("fetching the directory");
    (server, client)
}
