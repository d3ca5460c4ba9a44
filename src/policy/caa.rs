//! CAA decisions (BR 3.2.2.8, RFC 8659, RFC 8657) over records that `validation` fetched:
//! whether the relevant RRset lets this CA issue for a name, and what a failed lookup means.
//! Pure: no DNS, no clock, no storage.

use serde::{Deserialize, Serialize};

/// One CAA resource record as received (RFC 8659 4.1). `value` is the raw value octets read
/// as UTF-8 (lossily: a value that is not UTF-8 cannot parse as an issuer and so matches
/// nothing, RFC 8659 4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaaRecord {
    pub flags: u8,
    pub tag: String,
    pub value: String,
}

/// Everything the decision needs besides the records.
#[derive(Debug, Clone, Copy)]
pub struct CaaInput<'a> {
    /// The relevant RRset (RFC 8659 3); empty when no name up the tree has CAA records.
    pub records: &'a [CaaRecord],
    /// The CA's issuer domain names (`acme.caa_identities`).
    pub issuer_domains: &'a [String],
    /// The requesting account's URL (RFC 8657 3, `accounturi`).
    pub account_uri: &'a str,
    /// The validation method name (RFC 8657 4, `validationmethods`).
    pub method: &'a str,
    /// The name is requested as a wildcard (`issuewild`, RFC 8659 4.3).
    pub wildcard: bool,
}

/// The decision, with a reason that names the record that decided (for the problem detail,
/// the evidence and the audit log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", content = "reason", rename_all = "lowercase")]
pub enum CaaDecision {
    Permit(String),
    Refuse(String),
}

impl CaaDecision {
    pub fn permits(&self) -> bool {
        matches!(self, CaaDecision::Permit(_))
    }
}

/// Facts about a CAA lookup that failed even after the retry (BR 3.2.2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupFailureFacts {
    /// The lookup was retried at least once.
    pub retried: bool,
    /// A validating resolver reported the answer as DNSSEC-bogus.
    pub dnssec_bogus: bool,
    /// Whether the domain's zone is DNSSEC-signed to the root; `None` when unknown.
    pub signed_to_root: Option<bool>,
    /// The failure happened outside the CA's infrastructure.
    pub outside_ca_infrastructure: bool,
    /// The operator allows the BR's permission on lookup failure at all.
    pub permit_configured: bool,
}

/// Whether `input.records` let this CA issue (RFC 8659 4, RFC 8657).
pub fn decide(input: &CaaInput<'_>) -> CaaDecision {
    // TODO(#12): the RFC 8659 / RFC 8657 evaluation (being written on the `caa-policy` branch).
    let _ = input;
    CaaDecision::Refuse("CAA evaluation is not implemented yet".to_string())
}

/// What a lookup failure means (BR 3.2.2.8): permission only when every condition holds.
pub fn decide_lookup_failure(facts: &LookupFailureFacts) -> CaaDecision {
    // TODO(#12): being written on the `caa-policy` branch.
    let _ = facts;
    CaaDecision::Refuse("CAA lookup failed".to_string())
}
