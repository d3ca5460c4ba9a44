//! Key policy for subscriber and account keys (CPS 6.1.5/6.1.6, BR 6.1.1.3).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa { bits: usize },
    EcP256,
    EcP384,
    Ed25519,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct KeyError {
    pub detail: String,
}

/// Check a DER SubjectPublicKeyInfo against the key policy.
/// `allow_ed25519`: account keys may be Ed25519 (RFC 8555 EdDSA); subscriber keys may not
/// (the CP allows RSA and ECDSA only).
pub fn check_spki(spki_der: &[u8], allow_ed25519: bool) -> Result<KeyType, KeyError> {
    let _ = (spki_der, allow_ed25519);
    Err(KeyError {
        detail: "not implemented yet".to_string(),
    })
}
