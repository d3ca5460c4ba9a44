//! The evidence one validation attempt records: what was queried, from where, what was seen
//! and which addresses were used (REQUIREMENTS §3, archived per CPS 5.5 and audit-logged).
//! Serialised to the JSON object carried by `Outcome::evidence`.

use crate::core::ValidationFailure;
use serde::Serialize;

/// Everything one attempt saw. Method-specific parts stay out of the JSON when empty.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Evidence {
    pub perspective: String,
    pub method: String,
    pub hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// RFC 3339 timestamps from the perspective's clock (DESIGN invariant 5).
    pub started: String,
    pub finished: String,
    /// Addresses the identifier's own name resolved to (A and AAAA).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses_resolved: Vec<String>,
    /// Addresses dropped by the address policy, with the reason (DESIGN invariant 6).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses_refused: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_used: Option<String>,
    /// http-01: one entry per request, the first one and every redirect hop.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_requests: Vec<HttpHop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirects_followed: Option<usize>,
    /// dns-01: the name queried and every TXT value seen there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txt_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txt_values: Option<Vec<String>>,
    /// tls-alpn-01: facts about the handshake and the certificate presented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFacts>,
    /// dns-01: the DNSSEC status of the TXT answer (`secure`, `insecure`, `unchecked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<super::dns_client::Dnssec>,
    /// CAA (BR 3.2.2.8): names queried, relevant name, records, dnssec, decision, reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caa: Option<serde_json::Value>,
    /// `valid` or `invalid`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ValidationFailure>,
}

/// One http-01 request.
#[derive(Debug, Default, Serialize)]
pub(crate) struct HttpHop {
    pub url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses_resolved: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses_refused: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_used: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<usize>,
}

/// What the tls-alpn-01 handshake and certificate showed (RFC 8737 3).
#[derive(Debug, Default, Serialize)]
pub(crate) struct TlsFacts {
    pub sni: String,
    pub alpn_offered: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_negotiated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// Hex SHA-256 of the DER certificate, so the archive can name exactly what was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub san_entries: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme_identifier_critical: Option<bool>,
    /// Hex of the extension's extnValue bytes (the DER OCTET STRING).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme_identifier_value: Option<String>,
}

impl Evidence {
    pub fn to_json(&self) -> serde_json::Value {
        // Serialising these plain structs cannot fail; fall back to a marker rather than panic.
        serde_json::to_value(self)
            .unwrap_or_else(|e| serde_json::json!({ "evidence_error": e.to_string() }))
    }
}
