//! CSR checks at finalize (RFC 8555 7.4): signature, key policy, names equal to the order's.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct CsrError {
    /// Safe to show the subscriber (rendered as `badCSR`).
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// DER SubjectPublicKeyInfo of the requested key.
    pub public_key_der: Vec<u8>,
    /// The dNSName SANs (and CN if present), lower-cased, sorted, deduplicated.
    pub names: Vec<String>,
}

/// Parse and check a DER CSR against the order's names (lower-case, any order).
pub fn check_csr(der: &[u8], order_names: &[String]) -> Result<CheckedCsr, CsrError> {
    let _ = (der, order_names);
    Err(CsrError {
        detail: "not implemented yet".to_string(),
    })
}
