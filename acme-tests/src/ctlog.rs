//! A small RFC 6962 CT log for tests: `POST /ct/v1/add-pre-chain` and `/ct/v1/add-chain`
//! on 127.0.0.1 (ephemeral port), answering with SCTs that carry REAL ECDSA P-256 signatures
//! from its own key. The signed data (RFC 6962 3.2) is computed here from the submitted
//! chain with a hand-written DER walker, independently of hanko's x509 code, so a client
//! whose SCTs verify against this log builds the same bytes a real log signs.
//!
//! Like a real log it answers 400 to malformed submissions: no chain, bad base64, not a
//! certificate, a precertificate without the poison or without its issuer, a
//! precertificate sent to add-chain.

use crate::pki::der_tlv as tlv;
use anyhow::{anyhow, bail, ensure, Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// DER contents of OBJECT IDENTIFIER 1.3.6.1.4.1.11129.2.4.3 (RFC 6962 3.1 poison).
const POISON_OID: [u8; 10] = [0x2B, 0x06, 0x01, 0x04, 0x01, 0xD6, 0x79, 0x02, 0x04, 0x03];

/// How the log behaves towards every submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogBehaviour {
    Normal,
    /// Nothing listens on its port: connections are refused.
    Down,
    /// Answers correctly after the delay.
    Slow(Duration),
    /// Answers with a well-formed SCT whose signature does not verify.
    InvalidSct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionKind {
    Pre,
    Final,
}

/// A submission the log accepted (parsed; recorded on arrival, before any delay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub kind: SubmissionKind,
    pub chain: Vec<Vec<u8>>,
}

struct Shared {
    key: SigningKey,
    log_id: [u8; 32],
    behaviour: LogBehaviour,
    submissions: Mutex<Vec<Submission>>,
    /// Switched on by `set_unavailable` (fault tests): every submission gets 503 until it is
    /// switched off again, as a log in an outage answers.
    unavailable: AtomicBool,
    /// Submissions answered 503 while unavailable.
    refused: AtomicU64,
}

/// A running test log; the server stops when this is dropped.
pub struct TestCtLog {
    name: String,
    operator: String,
    url: String,
    public_key_der: Vec<u8>,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestCtLog {
    /// Start a log named `name` (its operator is `name` too unless `with_operator`).
    pub async fn start(name: &str, behaviour: LogBehaviour) -> TestCtLog {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let public_key_der = match key.verifying_key().to_public_key_der() {
            Ok(der) => der.into_vec(),
            Err(e) => panic!("test log {name}: SPKI encoding: {e}"),
        };
        let shared = Arc::new(Shared {
            key,
            log_id: Sha256::digest(&public_key_der).into(),
            behaviour,
            submissions: Mutex::new(Vec::new()),
            unavailable: AtomicBool::new(false),
            refused: AtomicU64::new(0),
        });
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => panic!("test log {name}: bind 127.0.0.1: {e}"),
        };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(e) => panic!("test log {name}: local address: {e}"),
        };
        let task = if behaviour == LogBehaviour::Down {
            // The port was ours a moment ago and nothing listens on it now: refused.
            drop(listener);
            None
        } else {
            let app = Router::new()
                .route("/ct/v1/add-pre-chain", post(add_pre_chain))
                .route("/ct/v1/add-chain", post(add_chain))
                .with_state(shared.clone());
            Some(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }))
        };
        TestCtLog {
            name: name.to_string(),
            operator: name.to_string(),
            url: format!("http://{address}"),
            public_key_der,
            shared,
            task,
        }
    }

    pub fn with_operator(mut self, operator: &str) -> TestCtLog {
        self.operator = operator.to_string();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// The submission prefix (`<url>/ct/v1/add-pre-chain` is the endpoint).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The log's public key, base64 DER SubjectPublicKeyInfo (as log lists publish it).
    pub fn public_key_b64(&self) -> String {
        B64.encode(&self.public_key_der)
    }

    /// RFC 6962 3.2: SHA-256 of the DER public key.
    pub fn log_id(&self) -> [u8; 32] {
        self.shared.log_id
    }

    /// Switch the log into (or out of) an outage: while on, every submission is answered
    /// `503 Service Unavailable` without an SCT (fault tests, docs/FAULTS.md).
    pub fn set_unavailable(&self, on: bool) {
        self.shared.unavailable.store(on, Ordering::SeqCst);
    }

    /// How many submissions were answered 503 by `set_unavailable`.
    pub fn refused_count(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    pub fn submissions(&self) -> Vec<Submission> {
        match self.shared.submissions.lock() {
            Ok(list) => list.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Drop for TestCtLog {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn add_pre_chain(State(shared): State<Arc<Shared>>, body: Bytes) -> (StatusCode, String) {
    answer(&shared, SubmissionKind::Pre, &body).await
}

async fn add_chain(State(shared): State<Arc<Shared>>, body: Bytes) -> (StatusCode, String) {
    answer(&shared, SubmissionKind::Final, &body).await
}

async fn answer(shared: &Shared, kind: SubmissionKind, body: &[u8]) -> (StatusCode, String) {
    if shared.unavailable.load(Ordering::SeqCst) {
        shared.refused.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "log unavailable (test outage)".to_string(),
        );
    }
    let (chain, entry) = match parse_chain(body).and_then(|chain| {
        let entry = match kind {
            SubmissionKind::Pre => precert_entry(&chain)?,
            SubmissionKind::Final => x509_entry(&chain)?,
        };
        Ok((chain, entry))
    }) {
        Ok(parsed) => parsed,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e:#}")),
    };
    // Recorded on arrival, before a slow log's delay: tests watch for a submission to know
    // the CA has signed a precertificate and is waiting for its SCTs.
    if let Ok(mut list) = shared.submissions.lock() {
        list.push(Submission { kind, chain });
    }
    if let LogBehaviour::Slow(delay) = shared.behaviour {
        tokio::time::sleep(delay).await;
    }
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // InvalidSct: a genuine signature, but over another timestamp than the one stated.
    let signed_timestamp = match shared.behaviour {
        LogBehaviour::InvalidSct => timestamp + 1,
        _ => timestamp,
    };
    let signature: Signature = shared.key.sign(&signed_data(signed_timestamp, &entry));
    let der = signature.to_der();
    let mut digitally_signed = vec![4, 3]; // sha256, ecdsa (RFC 5246 7.4.1.4.1)
    digitally_signed.extend((der.as_bytes().len() as u16).to_be_bytes());
    digitally_signed.extend(der.as_bytes());
    let response = serde_json::json!({
        "sct_version": 0,
        "id": B64.encode(shared.log_id),
        "timestamp": timestamp,
        "extensions": "",
        "signature": B64.encode(digitally_signed),
    });
    (StatusCode::OK, response.to_string())
}

fn parse_chain(body: &[u8]) -> Result<Vec<Vec<u8>>> {
    let json: serde_json::Value = serde_json::from_slice(body).context("body is not JSON")?;
    let chain = json
        .get("chain")
        .and_then(|c| c.as_array())
        .ok_or_else(|| anyhow!("no \"chain\" array"))?;
    ensure!(!chain.is_empty(), "empty chain");
    chain
        .iter()
        .map(|c| {
            let b64 = c
                .as_str()
                .ok_or_else(|| anyhow!("chain entry is not a string"))?;
            let der = B64.decode(b64).context("chain entry is not base64")?;
            certificate_fields(&der).context("chain entry is not a certificate")?;
            Ok(der)
        })
        .collect()
}

/// RFC 6962 3.2 signed_entry, told apart by `LogEntryType`.
enum Entry {
    X509(Vec<u8>),
    Precert {
        issuer_key_hash: [u8; 32],
        tbs: Vec<u8>,
    },
}

fn x509_entry(chain: &[Vec<u8>]) -> Result<Entry> {
    let leaf = &chain[0];
    let (_, extensions) = split_extensions(&certificate_fields(leaf)?)?;
    ensure!(
        poison_index(&extensions)?.is_none(),
        "add-chain with a precertificate (use add-pre-chain)"
    );
    Ok(Entry::X509(leaf.clone()))
}

fn precert_entry(chain: &[Vec<u8>]) -> Result<Entry> {
    ensure!(
        chain.len() >= 2,
        "add-pre-chain needs the issuer after the precertificate"
    );
    let fields = certificate_fields(&chain[0])?;
    let issuer_fields = certificate_fields(&chain[1])?;
    let offset = usize::from(fields.first().is_some_and(|f| f.0 == 0xA0));
    let issuer_offset = usize::from(issuer_fields.first().is_some_and(|f| f.0 == 0xA0));
    let name = |f: &[Tlv], i: usize| f.get(i).map(|t| t.1.clone());
    ensure!(
        name(&fields, 2 + offset) == name(&issuer_fields, 4 + issuer_offset),
        "the precertificate's issuer is not chain[1]'s subject"
    );
    let spki = issuer_fields
        .get(5 + issuer_offset)
        .ok_or_else(|| anyhow!("issuer has no SubjectPublicKeyInfo"))?;
    let (before, extensions) = split_extensions(&fields)?;
    let poison = poison_index(&extensions)?.ok_or_else(|| anyhow!("no poison extension"))?;
    let mut tbs_content: Vec<u8> = before.iter().flat_map(|f| f.1.clone()).collect();
    let kept: Vec<u8> = extensions
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != poison)
        .flat_map(|(_, e)| e.1.clone())
        .collect();
    if !kept.is_empty() {
        tbs_content.extend(tlv(0xA3, &tlv(0x30, &kept)));
    }
    Ok(Entry::Precert {
        issuer_key_hash: Sha256::digest(&spki.1).into(),
        tbs: tlv(0x30, &tbs_content),
    })
}

fn signed_data(timestamp: u64, entry: &Entry) -> Vec<u8> {
    let mut out = vec![0, 0]; // v1, certificate_timestamp
    out.extend(timestamp.to_be_bytes());
    let (entry_type, hash, der): (u16, &[u8], &[u8]) = match entry {
        Entry::X509(der) => (0, &[], der),
        Entry::Precert {
            issuer_key_hash,
            tbs,
        } => (1, issuer_key_hash, tbs),
    };
    out.extend(entry_type.to_be_bytes());
    out.extend(hash);
    out.extend(&(der.len() as u32).to_be_bytes()[1..]);
    out.extend(der);
    out.extend([0, 0]); // no CtExtensions
    out
}

/// (tag, whole encoding, contents) of one DER element.
#[derive(Clone)]
struct Tlv(u8, Vec<u8>, Vec<u8>);

/// The TBSCertificate's fields of a DER Certificate.
fn certificate_fields(der: &[u8]) -> Result<Vec<Tlv>> {
    let cert = single(der, 0x30)?;
    let parts = children(&cert.2)?;
    ensure!(
        parts.len() == 3 && parts[0].0 == 0x30,
        "Certificate is not SEQUENCE {{ tbs, algorithm, signature }}"
    );
    let fields = children(&parts[0].2)?;
    ensure!(fields.len() >= 6, "TBSCertificate has too few fields");
    Ok(fields)
}

/// The fields before the [3] extensions, and the Extension elements (none if absent).
fn split_extensions(fields: &[Tlv]) -> Result<(Vec<Tlv>, Vec<Tlv>)> {
    match fields.iter().position(|f| f.0 == 0xA3) {
        None => Ok((fields.to_vec(), Vec::new())),
        Some(i) => {
            ensure!(
                i == fields.len() - 1,
                "extensions are not the last TBS field"
            );
            let list = single(&fields[i].2, 0x30)?;
            Ok((fields[..i].to_vec(), children(&list.2)?))
        }
    }
}

/// The poison's index; it must be critical with value NULL (RFC 6962 3.1).
fn poison_index(extensions: &[Tlv]) -> Result<Option<usize>> {
    let mut found = None;
    for (i, extension) in extensions.iter().enumerate() {
        let parts = children(&extension.2)?;
        ensure!(
            parts.first().is_some_and(|p| p.0 == 0x06),
            "extension without OID"
        );
        if parts[0].2 != POISON_OID {
            continue;
        }
        ensure!(found.is_none(), "two poison extensions");
        let critical = parts.len() == 3 && parts[1].0 == 0x01 && parts[1].2 == [0xFF];
        ensure!(critical, "poison extension is not critical");
        ensure!(
            parts[parts.len() - 1].2 == [0x05, 0x00],
            "poison value is not NULL"
        );
        found = Some(i);
    }
    Ok(found)
}

fn single(der: &[u8], tag: u8) -> Result<Tlv> {
    let (element, rest) = read_tlv(der)?;
    ensure!(rest.is_empty(), "bytes after the element");
    ensure!(
        element.0 == tag,
        "tag {:#04x}, expected {tag:#04x}",
        element.0
    );
    Ok(element)
}

fn children(mut content: &[u8]) -> Result<Vec<Tlv>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (element, rest) = read_tlv(content)?;
        out.push(element);
        content = rest;
    }
    Ok(out)
}

/// One DER element (low tag numbers only, definite minimal lengths).
fn read_tlv(input: &[u8]) -> Result<(Tlv, &[u8])> {
    let (&tag, rest) = input.split_first().ok_or_else(|| anyhow!("truncated"))?;
    ensure!(tag & 0x1F != 0x1F, "high tag numbers are not supported");
    let (&first, mut rest) = rest.split_first().ok_or_else(|| anyhow!("truncated"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        ensure!((1..=3).contains(&n) && rest.len() >= n, "bad length");
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        ensure!(len >= 0x80 && rest[0] != 0, "length not minimal (DER)");
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        bail!("truncated element");
    }
    let header = input.len() - rest.len();
    let (content, after) = rest.split_at(len);
    Ok((
        Tlv(tag, input[..header + len].to_vec(), content.to_vec()),
        after,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;
    use p256::pkcs8::DecodePublicKey;

    // The CT reference implementation's test log key, CA and precertificate with the SCT
    // its log issued (certificate-transparency-go testdata, Apache-2.0; the same vectors
    // hanko's own CT unit tests use): our DER walker must build the bytes it signed.
    const LOG_KEY_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmXg8sUUzwBYaWrRb+V0IopzQ6o3UyEJ04r5ZrRXGdpYM8K+hB0pXrGRLI0eeWz+3skXrS0IO83AhA3GpRL6s6w==";
    const PRECERT_SCT_TIMESTAMP: u64 = 0x0000_013d_db27_df93;
    const PRECERT_SCT_SIGNATURE: &str = "30450220482f6751af35dba65436be1fd6640f3dbf9a41429495924530288fa3e5e23e06022100e4edc0db3ac572b1e2f5e8ab6a680653987dcf41027dfeffa105519d89edbf08";

    fn pem(text: &str) -> Vec<u8> {
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        B64.decode(body).expect("base64")
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn precert_entry_matches_the_reference_log() {
        let precert = pem(include_str!("../../src/issuance/ct/testdata/precert.pem"));
        let ca = pem(include_str!("../../src/issuance/ct/testdata/ca.pem"));
        let entry = precert_entry(&[precert.clone(), ca.clone()]).expect("entry");
        let key =
            VerifyingKey::from_public_key_der(&B64.decode(LOG_KEY_B64).expect("b64")).expect("key");
        let signature = Signature::from_der(&hex(PRECERT_SCT_SIGNATURE)).expect("sig");
        let data = signed_data(PRECERT_SCT_TIMESTAMP, &entry);
        key.verify(&data, &signature)
            .expect("reference SCT verifies");
        assert!(key
            .verify(&signed_data(PRECERT_SCT_TIMESTAMP + 1, &entry), &signature)
            .is_err());
        // The reference CA certificate is no precertificate.
        assert!(precert_entry(&[ca.clone(), ca.clone()]).is_err());
        // …and a precertificate is refused on add-chain.
        assert!(x509_entry(&[precert]).is_err());
        assert!(x509_entry(&[ca]).is_ok());
    }

    #[test]
    fn der_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let encoded = tlv(0x04, &content);
            let (element, rest) = read_tlv(&encoded).expect("read");
            assert!(rest.is_empty());
            assert_eq!(element.2, content);
            assert_eq!(element.1, encoded);
        }
        assert!(
            read_tlv(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).is_err(),
            "non-minimal"
        );
        assert!(read_tlv(&[0x04, 0x05, 1]).is_err(), "truncated");
    }
}
