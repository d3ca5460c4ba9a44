//! `Validator`: the entry point `ra` uses. It asks the primary perspective and every
//! configured remote perspective concurrently (BR 3.2.2.9), each bounded by its timeout,
//! applies the quorum (`policy::mpic`) and returns the `Corroboration`. Every call asks
//! everyone afresh: a retry never reuses an earlier corroboration.
//!
//! The failure kind when the primary passed but the quorum did not: `caa` when a dissenting
//! perspective was refused by CAA (the subscriber has a CAA record to fix, RFC 8659), else
//! `unauthorized`: the CA could not corroborate control of the name, which is not the
//! subscriber's connection or DNS problem as seen by the primary (RFC 8555 6.7).

use super::remote::{client_tls, RemotePerspective};
use super::{
    Corroboration, LocalPerspective, Outcome, Perspective, PerspectiveOutcome, SetupError,
    ValidationRequest,
};
use crate::config::{Config, RemoteConfig, ValidationConfig};
use crate::core::{Clock, FailureKind, SystemClock, ValidationFailure};
use crate::metrics::Metrics;
use crate::policy::dated::min_remote_perspectives;
use crate::policy::mpic::{self, RemoteResult};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Remote {
    rir: String,
    perspective: Arc<dyn Perspective>,
}

pub struct Validator {
    primary: Arc<dyn Perspective>,
    remotes: Vec<Remote>,
    /// Source of "now" for the dated minimum (DESIGN invariant 5).
    clock: Arc<dyn Clock>,
    /// Apply the dated minimum of remote perspectives to every quorum (set when a
    /// publicly-trusted profile is configured).
    enforce_dated_minimum: bool,
    remote_timeout: Duration,
    metrics: Option<Arc<Metrics>>,
}

impl Validator {
    /// Builds the local perspective (id `"local"`) as the primary one, with its own DNS
    /// resolver from `config.dns_resolvers`, and one `RemotePerspective` per entry of
    /// `config.remote.perspectives` (mTLS credentials read and checked now).
    pub fn new(config: &ValidationConfig, clock: Arc<dyn Clock>) -> Result<Validator, SetupError> {
        let local = LocalPerspective::new(config, clock.clone())?;
        let remote = &config.remote;
        let timeout = Duration::from_secs(remote.timeout_seconds.max(1));
        let mut remotes = Vec::new();
        if !remote.perspectives.is_empty() {
            let tls = client_tls(remote, clock.now())?;
            for p in &remote.perspectives {
                let perspective = RemotePerspective::new(p, tls.clone(), timeout)?;
                remotes.push(Remote {
                    rir: p.rir.clone(),
                    perspective: Arc::new(perspective),
                });
            }
            tracing::info!(
                remote_perspectives = remotes.len(),
                "multi-perspective corroboration on (BR 3.2.2.9)"
            );
        } else {
            tracing::warn!(
                "no remote perspectives configured ([[validation.remote.perspectives]]): the \
                 primary validates alone; development only, publicly-trusted profiles refuse \
                 to start and to issue"
            );
        }
        let mut validator = Validator::with_perspective(Arc::new(local));
        validator.remotes = remotes;
        validator.clock = clock;
        validator.remote_timeout = timeout;
        Ok(validator)
    }

    pub fn with_perspective(primary: Arc<dyn Perspective>) -> Validator {
        Validator {
            primary,
            remotes: Vec::new(),
            clock: Arc::new(SystemClock),
            enforce_dated_minimum: false,
            remote_timeout: Duration::from_secs(RemoteConfig::default().timeout_seconds),
            metrics: None,
        }
    }

    /// Adds a remote perspective (tests use stand-ins; `new` adds the configured ones).
    pub fn with_remote(mut self, rir: &str, perspective: Arc<dyn Perspective>) -> Validator {
        self.remotes.push(Remote {
            rir: rir.to_string(),
            perspective,
        });
        self
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Validator {
        self.metrics = Some(metrics);
        self
    }

    /// Require the dated number of remote perspectives in every quorum, with `clock`.
    pub fn enforce_dated_minimum(mut self, enforce: bool, clock: Arc<dyn Clock>) -> Validator {
        self.enforce_dated_minimum = enforce;
        self.clock = clock;
        self
    }

    async fn ask(&self, perspective: &dyn Perspective, request: &ValidationRequest) -> Outcome {
        let started = Instant::now();
        let outcome = perspective.validate(request).await;
        if let Some(metrics) = &self.metrics {
            metrics.perspective(perspective.id(), outcome.result.is_ok(), started.elapsed());
        }
        outcome
    }

    /// A remote perspective's outcome; no answer within the timeout is a failure.
    async fn ask_remote(&self, remote: &Remote, request: &ValidationRequest) -> Outcome {
        let asked = self.ask(remote.perspective.as_ref(), request);
        // The remote client has its own timeout; this one also covers stand-ins, plus a
        // second of slack so the client's own (more precise) error wins.
        let limit = self.remote_timeout + Duration::from_secs(1);
        tokio::time::timeout(limit, asked)
            .await
            .unwrap_or_else(|_| {
                let detail = format!(
                    "remote perspective {} did not answer within {} s",
                    remote.perspective.id(),
                    limit.as_secs()
                );
                Outcome {
                    evidence: serde_json::json!({"perspective": remote.perspective.id(),
                                             "result": "invalid", "error": detail}),
                    result: Err(ValidationFailure::new(FailureKind::Connection, detail)),
                }
            })
    }

    pub async fn validate(&self, request: &ValidationRequest) -> Corroboration {
        let primary = self.ask(self.primary.as_ref(), request);
        let remotes =
            futures::future::join_all(self.remotes.iter().map(|r| self.ask_remote(r, request)));
        let (primary, remotes) = tokio::join!(primary, remotes);
        let results: Vec<RemoteResult> = self
            .remotes
            .iter()
            .zip(&remotes)
            .map(|(r, o)| RemoteResult {
                id: r.perspective.id().to_string(),
                rir: r.rir.clone(),
                corroborated: o.result.is_ok(),
            })
            .collect();
        let required = if self.enforce_dated_minimum {
            min_remote_perspectives(self.clock.now())
        } else {
            0
        };
        let decision = mpic::decide(primary.result.is_ok(), &results, required);
        let result = match &primary.result {
            Err(failure) => Err(failure.clone()),
            Ok(()) if decision.passed() => Ok(()),
            Ok(()) => Err(quorum_failure(&decision.reasons, &self.remotes, &remotes)),
        };
        let mut perspectives = vec![PerspectiveOutcome {
            id: self.primary.id().to_string(),
            rir: None,
            remote: false,
            outcome: primary,
        }];
        perspectives.extend(self.remotes.iter().zip(remotes).map(|(r, outcome)| {
            PerspectiveOutcome {
                id: r.perspective.id().to_string(),
                rir: Some(r.rir.clone()),
                remote: true,
                outcome,
            }
        }));
        Corroboration {
            result,
            perspectives,
            quorum: serde_json::to_value(&decision)
                .unwrap_or_else(|e| serde_json::json!({"quorum_error": e.to_string()})),
        }
    }
}

/// The subscriber-facing failure naming every dissenting perspective and what it saw.
fn quorum_failure(
    reasons: &[String],
    remotes: &[Remote],
    outcomes: &[Outcome],
) -> ValidationFailure {
    let mut kind = FailureKind::Unauthorized;
    let mut seen = Vec::new();
    for (remote, outcome) in remotes.iter().zip(outcomes) {
        if let Err(failure) = &outcome.result {
            if failure.kind == FailureKind::Caa {
                kind = FailureKind::Caa;
            }
            seen.push(format!(
                "{} ({}): {}",
                remote.perspective.id(),
                remote.rir,
                failure.detail
            ));
        }
    }
    let mut detail = format!(
        "multi-perspective corroboration failed (BR 3.2.2.9): {}",
        reasons.join("; ")
    );
    if !seen.is_empty() {
        detail.push_str(&format!(" [{}]", seen.join("; ")));
    }
    ValidationFailure::new(kind, detail)
}

/// Start-up gate (BR 3.2.2.9): a configuration with a publicly-trusted profile needs at
/// least the dated number of remote perspectives at `now`, over at least 2 RIR regions.
pub fn check_publicly_trusted_mpic(config: &Config, now: DateTime<Utc>) -> Result<(), String> {
    let public: Vec<&str> = config
        .ca
        .profiles
        .iter()
        .filter(|(_, p)| p.publicly_trusted)
        .map(|(name, _)| name.as_str())
        .collect();
    if public.is_empty() {
        return Ok(());
    }
    check_mpic_for_issuance(&config.validation.remote, now)
        .map_err(|e| format!("publicly-trusted profile(s) {}: {e}", public.join(", ")))
}

/// Issuance gate (BR 3.2.2.9), checked at finalize of every publicly-trusted order with the
/// injected clock, so a new dated minimum takes effect at its instant in a running server.
pub fn check_mpic_for_issuance(remote: &RemoteConfig, now: DateTime<Utc>) -> Result<(), String> {
    let configured = remote.perspectives.len();
    let required = min_remote_perspectives(now) as usize;
    if configured < required {
        return Err(format!(
            "{configured} remote perspectives configured ([[validation.remote.perspectives]]), \
             {required} required on {} (BR 3.2.2.9)",
            now.date_naive()
        ));
    }
    let rirs: std::collections::BTreeSet<&str> =
        remote.perspectives.iter().map(|p| p.rir.as_str()).collect();
    if rirs.len() < 2 {
        return Err(format!(
            "remote perspectives span {} RIR region(s) (validation.remote.perspectives[].rir), \
             at least 2 required (BR 3.2.2.9)",
            rirs.len()
        ));
    }
    Ok(())
}
