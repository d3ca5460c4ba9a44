//! Submission to CT logs (RFC 6962 4.1 add-chain, 4.2 add-pre-chain): every configured log
//! concurrently, each under its own total timeout and a response-size cap (DESIGN invariant
//! 6), every SCT verified against the log's key before it counts; the CT policy (CP 4.4.2,
//! REQUIREMENTS §9: SCTs from `min_distinct_operators` distinct operators) decides when
//! enough SCTs are in hand.

use super::correspondence::precert_entry;
use super::sct::{LogKey, SignedEntry};
use super::{CtError, LogFailure, LogOutcome, Sct};
use crate::config::CtConfig;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An add-(pre-)chain answer is ~300 bytes of JSON; anything near this is not a log.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How much of an error body goes into the outcome (logs answer errors in plain text/JSON).
const ERROR_BODY_SNIPPET: usize = 200;
const USER_AGENT: &str = concat!("hanko/", env!("CARGO_PKG_VERSION"), " (CT submitter)");

/// Which RFC 6962 endpoint a submission uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    AddPreChain,
    AddChain,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::AddPreChain => "ct/v1/add-pre-chain",
            Endpoint::AddChain => "ct/v1/add-chain",
        }
    }
}

struct Log {
    name: String,
    operator: String,
    base_url: String,
    key: LogKey,
    log_id: [u8; 32],
    timeout_ms: u64,
}

/// Submits (pre)certificates to the configured CT logs. Build once at start-up (it holds the
/// HTTP connection pool) and share it behind an `Arc`.
pub struct CtSubmitter {
    logs: Vec<Log>,
    min_distinct_operators: usize,
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct AddChainResponse {
    sct_version: u8,
    id: String,
    timestamp: u64,
    extensions: String,
    signature: String,
}

impl CtSubmitter {
    /// Parse every log's key (base64 DER SPKI, ECDSA P-256 or RSA) and URL, and check that
    /// the policy can be met by the configured operators. Errors name the log.
    pub fn new(config: &CtConfig) -> Result<CtSubmitter, CtError> {
        let mut logs = Vec::with_capacity(config.logs.len());
        let mut names = BTreeSet::new();
        for log in &config.logs {
            let fail = |reason: String| CtError::Config(format!("ct log {:?}: {reason}", log.name));
            if !names.insert(log.name.as_str()) {
                return Err(fail("configured twice".to_string()));
            }
            let key = LogKey::from_base64(&log.public_key).map_err(fail)?;
            let url = url::Url::parse(&log.url).map_err(|e| fail(format!("url: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
                return Err(fail(format!("url {:?} is not an http(s) prefix", log.url)));
            }
            if log.timeout_ms == 0 {
                return Err(fail("timeout_ms must be above 0".to_string()));
            }
            logs.push(Log {
                name: log.name.clone(),
                operator: log.operator.clone(),
                base_url: log.url.trim_end_matches('/').to_string(),
                log_id: key.log_id(),
                key,
                timeout_ms: log.timeout_ms,
            });
        }
        let operators: BTreeSet<&str> = logs.iter().map(|l| l.operator.as_str()).collect();
        if !logs.is_empty() {
            if config.min_distinct_operators == 0 {
                return Err(CtError::Config(
                    "ct.min_distinct_operators must be at least 1 when logs are configured"
                        .to_string(),
                ));
            }
            if operators.len() < config.min_distinct_operators {
                return Err(CtError::Config(format!(
                    "ct.min_distinct_operators is {} but the logs have {} distinct operator(s): \
                     the CT policy could never be met",
                    config.min_distinct_operators,
                    operators.len()
                )));
            }
        }
        Ok(CtSubmitter {
            logs,
            min_distinct_operators: config.min_distinct_operators,
            http: http_client()?,
        })
    }

    /// Whether any log is configured.
    pub fn is_enabled(&self) -> bool {
        !self.logs.is_empty()
    }

    /// RFC 6962 4.1 add-pre-chain with `chain` = [precertificate, issuer, (root…)] to every
    /// log concurrently. Returns, as soon as the policy is met, one verified SCT per
    /// operator for `min_distinct_operators` operators (in configuration order); otherwise a
    /// `PolicyNotMet` listing what each log did.
    pub async fn submit_precertificate(&self, chain: &[Vec<u8>]) -> Result<Vec<Sct>, CtError> {
        if self.logs.is_empty() {
            return Err(CtError::NoLogs);
        }
        let [precert, issuer, ..] = chain else {
            return Err(CtError::Chain(
                "add-pre-chain needs the precertificate and its issuer".to_string(),
            ));
        };
        let entry = precert_entry(precert, issuer)?;
        let body = request_body(chain);
        let mut pending: FuturesUnordered<_> = self
            .logs
            .iter()
            .enumerate()
            .map(|(i, log)| {
                let (entry, body) = (&entry, &body);
                async move {
                    let result = self.submit(log, Endpoint::AddPreChain, body, entry).await;
                    (i, result)
                }
            })
            .collect();
        let mut policy = PolicyTracker::new(self.min_distinct_operators, self.logs.len());
        while let Some((i, result)) = pending.next().await {
            if policy.record(i, result) {
                // Policy met: the logs still working are dropped (their requests cancelled).
                return Ok(policy.into_scts());
            }
        }
        Err(CtError::PolicyNotMet {
            required: self.min_distinct_operators,
            operators: policy.chosen.len(),
            outcomes: self.outcomes(policy.results),
        })
    }

    /// RFC 6962 4.1 add-chain of the final certificate (`chain` = [certificate, issuer, …])
    /// to every log, best effort: each log's outcome in configuration order, SCTs verified
    /// over the `x509_entry`. Nothing here should fail issuance.
    pub async fn submit_final(&self, chain: &[Vec<u8>]) -> Vec<(String, Result<Sct, CtError>)> {
        let Some(leaf) = chain.first() else {
            return self
                .logs
                .iter()
                .map(|l| {
                    (
                        l.name.clone(),
                        Err(CtError::Chain("empty chain".to_string())),
                    )
                })
                .collect();
        };
        let entry = SignedEntry::X509(leaf.clone());
        let body = request_body(chain);
        let submissions = self.logs.iter().map(|log| async {
            let result = self.submit(log, Endpoint::AddChain, &body, &entry).await;
            let result = result.map_err(|failure| CtError::Log {
                log: log.name.clone(),
                failure,
            });
            (log.name.clone(), result)
        });
        futures::future::join_all(submissions).await
    }

    /// One submission to one log: timeout around everything (connect, send, read).
    async fn submit(
        &self,
        log: &Log,
        endpoint: Endpoint,
        body: &[u8],
        entry: &SignedEntry,
    ) -> Result<Sct, LogFailure> {
        let started = Instant::now();
        let budget = Duration::from_millis(log.timeout_ms);
        let result = match tokio::time::timeout(budget, self.post(log, endpoint, body)).await {
            Err(_) => Err(LogFailure::Timeout { ms: log.timeout_ms }),
            Ok(Err(failure)) => Err(failure),
            Ok(Ok(response)) => sct_from_response(log, &response, entry),
        };
        let latency_ms = started.elapsed().as_millis();
        match &result {
            Ok(sct) => tracing::info!(
                log = %log.name, operator = %log.operator, endpoint = endpoint.path(),
                latency_ms, timestamp = sct.timestamp, "CT submission: SCT verified"
            ),
            Err(failure) => tracing::warn!(
                log = %log.name, operator = %log.operator, endpoint = endpoint.path(),
                latency_ms, error = %failure, "CT submission failed"
            ),
        }
        result
    }

    async fn post(
        &self,
        log: &Log,
        endpoint: Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, LogFailure> {
        let url = format!("{}/{}", log.base_url, endpoint.path());
        let mut response = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| LogFailure::Request(error_chain(&e)))?;
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(LogFailure::TooLarge(MAX_RESPONSE_BYTES));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| LogFailure::Request(error_chain(&e)))?
        {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(LogFailure::TooLarge(MAX_RESPONSE_BYTES));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&bytes)
                .chars()
                .filter(|c| !c.is_control())
                .take(ERROR_BODY_SNIPPET)
                .collect();
            return Err(LogFailure::Status {
                status: status.as_u16(),
                body: text,
            });
        }
        Ok(bytes)
    }

    fn outcomes(&self, results: Vec<Option<Result<(), LogFailure>>>) -> Vec<LogOutcome> {
        self.logs
            .iter()
            .zip(results)
            .map(|(log, result)| LogOutcome {
                log: log.name.clone(),
                operator: log.operator.clone(),
                // Every future has finished when the policy fails; None cannot remain.
                result: result.unwrap_or(Err(LogFailure::Request("not attempted".to_string()))),
            })
            .collect()
    }
}

/// The CT policy over results as they arrive: SCTs from `required` distinct operators, the
/// first valid SCT of each operator kept (a second SCT from an operator adds nothing).
pub(super) struct PolicyTracker {
    required: usize,
    chosen: Vec<(usize, Sct)>,
    results: Vec<Option<Result<(), LogFailure>>>,
}

impl PolicyTracker {
    pub(super) fn new(required: usize, logs: usize) -> PolicyTracker {
        PolicyTracker {
            required,
            chosen: Vec::new(),
            results: vec![None; logs],
        }
    }

    /// Record log `index`'s result; true once the policy is met.
    pub(super) fn record(&mut self, index: usize, result: Result<Sct, LogFailure>) -> bool {
        let outcome = match result {
            Ok(sct) => {
                if !self.chosen.iter().any(|(_, s)| s.operator == sct.operator) {
                    self.chosen.push((index, sct));
                }
                Ok(())
            }
            Err(failure) => Err(failure),
        };
        if let Some(slot) = self.results.get_mut(index) {
            *slot = Some(outcome);
        }
        self.chosen.len() >= self.required
    }

    /// The chosen SCTs in configuration order (a stable SCT list for the same logs).
    pub(super) fn into_scts(mut self) -> Vec<Sct> {
        self.chosen.sort_by_key(|(i, _)| *i);
        self.chosen.into_iter().map(|(_, sct)| sct).collect()
    }
}

/// RFC 6962 4.1: `{"chain": [base64 DER, …]}`.
fn request_body(chain: &[Vec<u8>]) -> Vec<u8> {
    let chain: Vec<String> = chain.iter().map(|der| B64.encode(der)).collect();
    serde_json::json!({ "chain": chain })
        .to_string()
        .into_bytes()
}

/// RFC 6962 4.1 response → SCT, checked: v1, this log's id, signature over `entry`.
fn sct_from_response(log: &Log, body: &[u8], entry: &SignedEntry) -> Result<Sct, LogFailure> {
    let response: AddChainResponse = serde_json::from_slice(body)
        .map_err(|e| LogFailure::Malformed(format!("not an add-chain response: {e}")))?;
    if response.sct_version != 0 {
        return Err(LogFailure::Malformed(format!(
            "sct_version {} is not v1(0)",
            response.sct_version
        )));
    }
    let decode = |field: &str, value: &str| {
        B64.decode(value)
            .map_err(|e| LogFailure::Malformed(format!("{field} is not base64: {e}")))
    };
    let id = decode("id", &response.id)?;
    let log_id: [u8; 32] = id
        .as_slice()
        .try_into()
        .map_err(|_| LogFailure::Malformed(format!("id has {} bytes, not 32", id.len())))?;
    if log_id != log.log_id {
        return Err(LogFailure::InvalidSct(format!(
            "SCT from log id {}, expected {}",
            hex::encode(log_id),
            hex::encode(log.log_id)
        )));
    }
    let sct = Sct {
        log_name: log.name.clone(),
        operator: log.operator.clone(),
        log_id,
        timestamp: response.timestamp,
        extensions: decode("extensions", &response.extensions)?,
        signature: decode("signature", &response.signature)?,
    };
    log.key
        .verify(&sct, entry)
        .map_err(LogFailure::InvalidSct)?;
    Ok(sct)
}

/// reqwest's top-level message hides the cause ("error sending request"); keep the chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// HTTPS to public logs verifies the server against the system's roots, with the ring
/// provider passed explicitly (as validation does): nothing relies on a process-wide
/// rustls default. No redirects (RFC 6962 defines none), no proxy from the environment.
fn http_client() -> Result<reqwest::Client, CtError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        // http:// logs (test rigs) still work; https:// ones fail with a TLS error naming
        // the unknown issuer, which is where an operator would look.
        tracing::warn!("CT: no system root certificates found; https logs cannot be verified");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CtError::Config(format!("CT TLS client: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| CtError::Config(format!("CT HTTP client: {e}")))
}
