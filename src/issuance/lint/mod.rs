//! Pre-issuance linting (CP 4.3.1.2, REQUIREMENTS §8): every to-be-signed artefact is
//! linted before the real signature, and a finding at or above `lint.block_at` stops
//! issuance. This module is the linter service; building the lint certificate (the TBS
//! signed by a throwaway key under a mirror issuer) and acting on the report belong to the
//! issuance pipeline.
//!
//! Linters: `pkilint` (default; warm Python workers, see `pkilint.rs`), `zlint` (one
//! process per document, see `zlint.rs`) and `none` (development only: a disabled
//! `Linter` whose reports are empty; publicly-trusted profiles refuse it).
//! Owns: talking to the linter processes. Must not touch: storage, signing keys.

mod pkilint;
#[cfg(test)]
mod tests;
mod zlint;

use crate::config::{IgnoredLint, LintConfig, LinterKind};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

pub use crate::config::LintSeverity as Severity;

/// What the linter must validate a document as. pkilint is told the type explicitly (its
/// own detection is not used): a lint certificate must be checked against the profile we
/// meant to issue, not the one it happens to look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum DocumentKind {
    /// BR 7.1.2.9 precertificate of a DV subscriber certificate.
    DvPrecertificate,
    OvPrecertificate,
    /// BR 7.1.2.7 subscriber certificates. Short-lived ones (BR 7.1.2.7, ≤ 7 days) have no
    /// kind of their own: pkilint recognises them by their validity period.
    DvCertificate,
    OvCertificate,
    /// BR 7.1.2.1 root CA certificate (ceremony).
    RootCa,
    /// BR 7.1.2.6 TLS subordinate CA, unconstrained, operated by the root's own operator
    /// (pkilint's INTERNAL_UNCONSTRAINED_TLS_CA; ceremony).
    SubordinateCa,
    /// BR 7.1.2.8 delegated OCSP responder certificate.
    OcspResponder,
    /// BR 7.2 CRL issued by a subordinate CA (pkilint's BR profile, type CRL).
    Crl,
    /// BR 7.2 CRL issued by a root, covering CA certificates (type ARL).
    Arl,
    /// RFC 6960 / BR 7.3 OCSP response.
    OcspResponse,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 10] = [
        DocumentKind::DvPrecertificate,
        DocumentKind::OvPrecertificate,
        DocumentKind::DvCertificate,
        DocumentKind::OvCertificate,
        DocumentKind::RootCa,
        DocumentKind::SubordinateCa,
        DocumentKind::OcspResponder,
        DocumentKind::Crl,
        DocumentKind::Arl,
        DocumentKind::OcspResponse,
    ];

    /// The worker's name for the kind: pkilint's `CertificateType` member, or CRL, ARL,
    /// OCSP_RESPONSE.
    pub fn pkilint_name(self) -> &'static str {
        match self {
            DocumentKind::DvPrecertificate => "DV_PRE_CERTIFICATE",
            DocumentKind::OvPrecertificate => "OV_PRE_CERTIFICATE",
            DocumentKind::DvCertificate => "DV_FINAL_CERTIFICATE",
            DocumentKind::OvCertificate => "OV_FINAL_CERTIFICATE",
            DocumentKind::RootCa => "ROOT_CA",
            DocumentKind::SubordinateCa => "INTERNAL_UNCONSTRAINED_TLS_CA",
            DocumentKind::OcspResponder => "OCSP_RESPONDER",
            DocumentKind::Crl => "CRL",
            DocumentKind::Arl => "ARL",
            DocumentKind::OcspResponse => "OCSP_RESPONSE",
        }
    }

    /// An X.509 certificate (as opposed to a CRL or an OCSP response).
    pub fn is_certificate(self) -> bool {
        !matches!(
            self,
            DocumentKind::Crl | DocumentKind::Arl | DocumentKind::OcspResponse
        )
    }
}

/// One linter finding, with the code exactly as the linter's CLI prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: String,
    pub severity: Severity,
    /// Empty when the linter gives no detail.
    pub message: String,
    /// Where in the document (pkilint's node path, e.g.
    /// `certificate.tbsCertificate.extensions`); empty for zlint.
    pub path: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.severity)?;
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// The findings on one document, split by the configured ignore list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LintReport {
    /// Findings that count (not on the ignore list).
    pub findings: Vec<Finding>,
    /// Findings whose code is on `lint.ignore`: reported, never blocking.
    pub ignored: Vec<Finding>,
}

impl LintReport {
    /// The findings at or above `at` (ignored ones never block).
    pub fn blocking(&self, at: Severity) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.severity >= at).collect()
    }

    /// One line for logs and error messages: every finding, then the ignored ones.
    pub fn summary(&self) -> String {
        let list = |findings: &[Finding]| {
            findings
                .iter()
                .map(Finding::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut out = match self.findings.len() {
            0 => "no findings".to_string(),
            n => format!("{n} finding(s): {}", list(&self.findings)),
        };
        if !self.ignored.is_empty() {
            out.push_str(&format!(
                " | {} ignored: {}",
                self.ignored.len(),
                list(&self.ignored)
            ));
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("lint configuration: {0}")]
    Config(String),
    #[error("cannot start the linter: {0}")]
    Start(String),
    /// The linter did not lint the document (it died twice, timed out, or answered
    /// something unreadable). Issuance must stop: an unlinted TBS is never signed.
    #[error("linting failed: {0}")]
    Failed(String),
    #[error("{linter} cannot lint {kind:?} documents")]
    Unsupported {
        linter: &'static str,
        kind: DocumentKind,
    },
}

enum Backend {
    Disabled,
    Pkilint(pkilint::Pool),
    Zlint(zlint::Zlint),
}

/// The configured linter. Shared (`Arc`) by every issuance task; `lint` blocks, so call
/// it from `spawn_blocking`.
pub struct Linter {
    backend: Backend,
    name: String,
    ignore: Vec<IgnoredLint>,
    block_at: Severity,
}

impl Linter {
    /// Start the configured linter: for pkilint, spawn `lint.workers` warm workers and wait
    /// until each has built its validators (so a missing or broken pkilint fails here, at
    /// start, not at the first issuance). `linter = "none"` gives a Linter with
    /// `is_enabled() == false` whose reports are always empty.
    pub fn start(config: &LintConfig) -> Result<Arc<Linter>, LintError> {
        check_config(config)?;
        let timeout = Duration::from_secs(config.timeout_seconds);
        let backend = match config.linter {
            LinterKind::None => Backend::Disabled,
            LinterKind::Pkilint => Backend::Pkilint(pkilint::Pool::start(
                &config.python,
                config.workers,
                timeout,
            )?),
            LinterKind::Zlint => {
                let binary = config.zlint.as_ref().ok_or_else(|| {
                    LintError::Config("linter = \"zlint\" needs lint.zlint (the binary)".into())
                })?;
                Backend::Zlint(zlint::Zlint::start(binary, timeout)?)
            }
        };
        let name = match &backend {
            Backend::Disabled => "none".to_string(),
            Backend::Pkilint(pool) => format!("pkilint {}", pool.version()),
            Backend::Zlint(z) => format!("zlint {}", z.version()),
        };
        tracing::info!(linter = %name, block_at = %config.block_at, "pre-issuance linter started");
        for ignored in &config.ignore {
            tracing::warn!(
                code = %ignored.code,
                reason = %ignored.reason,
                "lint findings with this code are ignored: they never block issuance"
            );
        }
        Ok(Arc::new(Linter {
            backend,
            name,
            ignore: config.ignore.clone(),
            block_at: config.block_at,
        }))
    }

    /// Lint one DER document as `kind`. Blocking (talks to a child process): call from
    /// `spawn_blocking`. A document that does not decode is a FATAL finding; a linter that
    /// dies or exceeds `lint.timeout_seconds` is killed, restarted and asked once more,
    /// and `LintError::Failed` reports a second failure.
    pub fn lint(&self, kind: DocumentKind, der: &[u8]) -> Result<LintReport, LintError> {
        let findings = match &self.backend {
            Backend::Disabled => Vec::new(),
            Backend::Pkilint(pool) => pool.lint(kind, der)?,
            Backend::Zlint(z) => z.lint(kind, der)?,
        };
        let (ignored, findings) = findings
            .into_iter()
            .partition(|f| self.ignore.iter().any(|i| i.code == f.code));
        Ok(LintReport { findings, ignored })
    }

    pub fn is_enabled(&self) -> bool {
        !matches!(self.backend, Backend::Disabled)
    }

    /// The linter and the version it reports, e.g. `pkilint 0.13.3`; `none` if disabled.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `lint.block_at`: the lowest severity that stops issuance.
    pub fn block_at(&self) -> Severity {
        self.block_at
    }

    /// The worker processes' ids (tests kill or stop them to prove recovery).
    #[cfg(test)]
    fn worker_pids(&self) -> Vec<u32> {
        match &self.backend {
            Backend::Pkilint(pool) => pool.pids(),
            _ => Vec::new(),
        }
    }
}

fn check_config(config: &LintConfig) -> Result<(), LintError> {
    if config.timeout_seconds == 0 {
        return Err(LintError::Config(
            "lint.timeout_seconds must be at least 1".into(),
        ));
    }
    if config.workers == 0 {
        return Err(LintError::Config("lint.workers must be at least 1".into()));
    }
    for ignored in &config.ignore {
        if ignored.code.trim().is_empty() || ignored.reason.trim().is_empty() {
            return Err(LintError::Config(format!(
                "lint.ignore entry {:?}: both code and reason are required (an auditor reads the reason)",
                ignored.code
            )));
        }
    }
    Ok(())
}
