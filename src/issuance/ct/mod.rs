//! Certificate Transparency (RFC 6962; CP 4.4.2; REQUIREMENTS §9): submit the
//! precertificate to the configured logs, verify each SCT, stop once the CT policy is met
//! (SCTs from `ct.min_distinct_operators` distinct log operators), encode the SCT list
//! extension, check the precertificate ↔ certificate correspondence before the final
//! signature (DESIGN invariant 3), and submit the final certificate, best effort.
//!
//! Owns: the RFC 6962 wire formats and the HTTP calls to logs. Must not touch: storage,
//! signing (callers build and sign the precertificate and the certificate).

mod client;
mod correspondence;
mod sct;
#[cfg(test)]
mod tests;

pub use client::CtSubmitter;
pub use correspondence::{check_correspondence, replace_poison_with_sct_list};
pub use sct::{decode_sct_list_extension_value, sct_list_extension_value, Sct};

/// RFC 6962 3.1: the precertificate poison extension (critical, value ASN.1 NULL).
pub const POISON_OID: &str = "1.3.6.1.4.1.11129.2.4.3";
/// RFC 6962 3.3: the embedded SignedCertificateTimestampList extension (non-critical).
pub const SCT_LIST_OID: &str = "1.3.6.1.4.1.11129.2.4.2";

#[derive(Debug, thiserror::Error)]
pub enum CtError {
    /// The `[ct]` configuration cannot be used; the message names the log.
    #[error("CT configuration: {0}")]
    Config(String),
    #[error("no CT logs are configured")]
    NoLogs,
    /// The submitted chain is not what the endpoint needs (no issuer, no poison, …).
    #[error("CT submission chain: {0}")]
    Chain(String),
    /// One log's failure (the outcomes of `CtSubmitter::submit_final`).
    #[error("CT log {log:?}: {failure}")]
    Log { log: String, failure: LogFailure },
    #[error(
        "CT policy not met: valid SCTs from {operators} distinct log operator(s), {required} \
         required; {}",
        describe_outcomes(outcomes)
    )]
    PolicyNotMet {
        required: usize,
        operators: usize,
        outcomes: Vec<LogOutcome>,
    },
    #[error("SCT encoding: {0}")]
    Encoding(String),
    /// RFC 6962 3.2: the final certificate does not match the precertificate.
    #[error("precertificate and certificate do not correspond (RFC 6962 3.2): {0}")]
    Correspondence(String),
}

/// What went wrong with one log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogFailure {
    #[error("no answer within {ms} ms")]
    Timeout { ms: u64 },
    /// Connection refused, TLS failure, reset, …
    #[error("request failed: {0}")]
    Request(String),
    #[error("HTTP status {status}: {body:?}")]
    Status { status: u16, body: String },
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The SCT is well-formed but not this log's valid signature over our entry.
    #[error("invalid SCT: {0}")]
    InvalidSct(String),
}

/// One log's part in a precertificate submission that did not meet the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOutcome {
    pub log: String,
    pub operator: String,
    /// `Ok` when the log returned an SCT that verified.
    pub result: Result<(), LogFailure>,
}

fn describe_outcomes(outcomes: &[LogOutcome]) -> String {
    outcomes
        .iter()
        .map(|o| {
            let what = match &o.result {
                Ok(()) => "valid SCT".to_string(),
                Err(failure) => failure.to_string(),
            };
            format!("log {:?} (operator {:?}): {what}", o.log, o.operator)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
