//! The local perspective: validation run from this process's own network (the primary
//! perspective of BR 3.2.2.9). It owns its resolver (no DNS cache shared with any other
//! perspective, BR 3.2.2.9), enforces the attempt timeout and concurrency limit (DESIGN
//! invariant 6), dispatches to http-01 (RFC 8555 8.3), dns-01 (RFC 8555 8.4) or tls-alpn-01
//! (RFC 8737), and turns every attempt into an `Outcome` with evidence (CPS 5.5).

use super::dns_client::DnsClient;
use super::evidence::Evidence;
use super::resolve::Dns;
use super::{caa, dns01, http01, tls, tlsalpn01};
use super::{CaaParams, ChallengeCheck, Outcome, Perspective, SetupError, ValidationRequest};
use crate::config::{DnssecMode, ValidationConfig};
use crate::core::{ChallengeType, Clock, FailureKind, ValidationFailure};
use chrono::SecondsFormat;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Id of the in-process perspective, recorded in every evidence object.
pub const LOCAL_PERSPECTIVE_ID: &str = "local";

/// What the method implementations share: settings, DNS and TLS client configurations.
pub(crate) struct Context {
    pub config: ValidationConfig,
    pub dns: Dns,
    /// The stub client for lookups whose DNSSEC status matters (CAA, dns-01 TXT).
    pub stub: DnsClient,
    /// For http-01 redirects to https: any certificate, ALPN http/1.1.
    pub http_tls: rustls::ClientConfig,
    /// For tls-alpn-01: any certificate, ALPN exactly `acme-tls/1` (RFC 8737 3).
    pub alpn_tls: Arc<rustls::ClientConfig>,
}

impl Context {
    /// `validation.dnssec = "validating-resolver"`: the AD bit is trusted.
    pub fn validating(&self) -> bool {
        self.config.dnssec == DnssecMode::ValidatingResolver
    }
}

pub struct LocalPerspective {
    id: String,
    context: Context,
    /// Evidence timestamps (DESIGN invariant 5: time is injected).
    clock: Arc<dyn Clock>,
    /// `config.concurrency` validations at once; more wait here.
    slots: Semaphore,
}

impl LocalPerspective {
    pub fn new(
        config: &ValidationConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<LocalPerspective, SetupError> {
        let context = Context {
            config: config.clone(),
            dns: Dns::new(config)?,
            stub: DnsClient::from_config(config)?,
            http_tls: tls::client_config(&[b"http/1.1"])?,
            alpn_tls: Arc::new(tls::client_config(&[tls::ACME_TLS_ALPN])?),
        };
        Ok(LocalPerspective {
            id: LOCAL_PERSPECTIVE_ID.to_string(),
            context,
            clock,
            slots: Semaphore::new(config.concurrency.max(1)),
        })
    }

    /// The same perspective under another id: a `hanko perspective` process records its
    /// configured id in its evidence.
    pub fn with_id(mut self, id: &str) -> LocalPerspective {
        self.id = id.to_string();
        self
    }

    fn now(&self) -> String {
        self.clock
            .now()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    async fn run(
        &self,
        request: &ValidationRequest,
        evidence: &mut Evidence,
    ) -> Result<(), ValidationFailure> {
        let host = checked_hostname(request)?;
        let config = &self.context.config;
        let budget = Duration::from_secs(config.timeout_seconds.max(1));
        let attempt = async {
            if let Some(challenge) = &request.challenge {
                self.check_challenge(&host, challenge, evidence).await?;
            }
            // BR 3.2.2.8: CAA is checked at validation, after domain control was shown.
            if let Some(params) = &request.caa {
                self.check_caa(&host, params, evidence).await?;
            }
            Ok(())
        };
        match tokio::time::timeout(budget, attempt).await {
            Ok(result) => result,
            Err(_) => Err(ValidationFailure::new(
                FailureKind::Connection,
                format!(
                    "validation of {host} timed out after {} s",
                    config.timeout_seconds.max(1)
                ),
            )),
        }
    }

    async fn check_caa(
        &self,
        host: &str,
        params: &CaaParams,
        evidence: &mut Evidence,
    ) -> Result<(), ValidationFailure> {
        let (result, caa_evidence) =
            caa::check(&self.context.stub, self.context.validating(), host, params).await;
        evidence.caa = Some(caa_evidence);
        result
    }

    async fn check_challenge(
        &self,
        host: &str,
        challenge: &ChallengeCheck,
        evidence: &mut Evidence,
    ) -> Result<(), ValidationFailure> {
        check_token(&challenge.token)?;
        match challenge.challenge_type {
            ChallengeType::Http01 => {
                http01::validate(&self.context, host, challenge, evidence).await
            }
            ChallengeType::Dns01 => dns01::validate(&self.context, host, challenge, evidence).await,
            ChallengeType::TlsAlpn01 => {
                tlsalpn01::validate(&self.context, host, challenge, evidence).await
            }
        }
    }
}

#[async_trait::async_trait]
impl Perspective for LocalPerspective {
    fn id(&self) -> &str {
        &self.id
    }

    async fn validate(&self, request: &ValidationRequest) -> Outcome {
        let mut evidence = Evidence {
            perspective: self.id.clone(),
            method: request
                .challenge
                .as_ref()
                .map_or("caa", |c| c.challenge_type.as_str())
                .to_string(),
            hostname: request.identifier.value.clone(),
            ..Evidence::default()
        };
        // A closed semaphore cannot happen (we never close it); run unthrottled if it did.
        let _slot = self.slots.acquire().await.ok();
        evidence.started = self.now();
        let result = self.run(request, &mut evidence).await;
        evidence.finished = self.now();
        evidence.result = if result.is_ok() { "valid" } else { "invalid" }.to_string();
        evidence.error = result.as_ref().err().cloned();
        Outcome {
            result,
            evidence: evidence.to_json(),
        }
    }
}

/// The identifier as a lower-case LDH host name. Only `dns` identifiers are validated here
/// (IP identifiers, RFC 8738, are refused by the CP 3.2.2.5); checking the syntax also keeps
/// the name from smuggling anything into the http-01 URL or the SNI.
fn checked_hostname(request: &ValidationRequest) -> Result<String, ValidationFailure> {
    let id = &request.identifier;
    if id.kind != "dns" {
        return Err(ValidationFailure::new(
            FailureKind::RejectedIdentifier,
            format!("identifier type {:?} cannot be validated", id.kind),
        ));
    }
    let host = id.value.trim_end_matches('.').to_ascii_lowercase();
    if !is_hostname(&host) {
        return Err(ValidationFailure::new(
            FailureKind::RejectedIdentifier,
            format!("{:?} is not a valid DNS host name", id.value),
        ));
    }
    Ok(host)
}

/// LDH labels of 1–63 octets, 253 octets in all, not an IPv4 literal (RFC 1123 2.1).
pub(crate) fn is_hostname(host: &str) -> bool {
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    labels_ok && host.len() <= 253 && host.parse::<std::net::IpAddr>().is_err()
}

/// Tokens are base64url (RFC 8555 8.1); anything else would change the http-01 URL.
fn check_token(token: &str) -> Result<(), ValidationFailure> {
    let ok = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ValidationFailure::new(
            FailureKind::ServerInternal,
            "challenge token is not base64url",
        ))
    }
}
