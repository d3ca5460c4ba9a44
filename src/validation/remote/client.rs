//! `RemotePerspective`: a `Perspective` that forwards the request to a `hanko perspective`
//! process over HTTPS with mutual TLS and turns its answer into an `Outcome`. Anything but a
//! well-formed answer from the expected perspective within the timeout (refused connection,
//! TLS failure, timeout, non-200, oversized or malformed body, another id) is a failure, so
//! that perspective does not corroborate (BR 3.2.2.9).

use super::protocol::{WireRequest, WireResponse};
use super::{MAX_BODY_BYTES, VALIDATE_PATH};
use crate::config::RemotePerspectiveConfig;
use crate::core::{FailureKind, ValidationFailure};
use crate::validation::{Outcome, Perspective, SetupError, ValidationRequest};
use std::time::{Duration, Instant};

pub struct RemotePerspective {
    id: String,
    rir: String,
    endpoint: String,
    client: reqwest::Client,
    timeout: Duration,
}

impl RemotePerspective {
    /// One client per perspective, so no connection (and no TLS session) is shared between
    /// perspectives.
    pub fn new(
        config: &RemotePerspectiveConfig,
        tls: rustls::ClientConfig,
        timeout: Duration,
    ) -> Result<RemotePerspective, SetupError> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .map_err(|e| SetupError::Http(format!("perspective {}: {e}", config.id)))?;
        Ok(RemotePerspective {
            id: config.id.clone(),
            rir: config.rir.clone(),
            endpoint: format!("{}{VALIDATE_PATH}", config.url),
            client,
            timeout,
        })
    }

    pub fn rir(&self) -> &str {
        &self.rir
    }

    async fn ask(&self, request: &ValidationRequest) -> Result<WireResponse, String> {
        let body = serde_json::to_vec(&WireRequest::from(request))
            .map_err(|e| format!("encoding the request: {e}"))?;
        let mut response = self
            .client
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {}", error_chain(&e)))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the answer: {}", error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!("answer larger than {MAX_BODY_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(format!("answered HTTP {status}: {text}"));
        }
        let answer: WireResponse =
            serde_json::from_slice(&body).map_err(|e| format!("malformed answer: {e}"))?;
        if answer.id != self.id {
            return Err(format!(
                "answered as perspective {:?}, expected {:?}",
                answer.id, self.id
            ));
        }
        Ok(answer)
    }
}

/// reqwest's Display hides the cause (connection refused, TLS alert); keep the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait::async_trait]
impl Perspective for RemotePerspective {
    fn id(&self) -> &str {
        &self.id
    }

    async fn validate(&self, request: &ValidationRequest) -> Outcome {
        let started = Instant::now();
        // reqwest's timeout covers the whole exchange; the outer one also bounds the body.
        let answer = tokio::time::timeout(self.timeout, self.ask(request))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", self.timeout.as_secs())));
        match answer {
            Ok(answer) => Outcome {
                result: answer.result(),
                evidence: answer.evidence,
            },
            Err(reason) => {
                let detail = format!("remote perspective {} ({}): {reason}", self.id, self.rir);
                Outcome {
                    evidence: serde_json::json!({
                        "perspective": self.id,
                        "endpoint": self.endpoint,
                        "result": "invalid",
                        "error": detail,
                        "elapsed_ms": started.elapsed().as_millis() as u64,
                    }),
                    result: Err(ValidationFailure::new(FailureKind::Connection, detail)),
                }
            }
        }
    }
}
