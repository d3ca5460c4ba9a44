//! The one signing interface. Implementations: a development software key (`software`) and
//! CA keys in an HSM through PKCS#11 (`pkcs11`, cryptoki). The key never leaves the signer
//! (DESIGN invariant 8).

pub mod pkcs11;
#[cfg(test)]
pub(crate) mod softhsm_test_support;
pub mod software;

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("signing failed: {0}")]
    Failed(String),
    #[error("key: {0}")]
    Key(String),
    /// The HSM or its configuration: module, token, PIN, sessions.
    #[error("HSM: {0}")]
    Hsm(String),
}

pub trait Signer: Send + Sync {
    /// The X.509 signatureAlgorithm this signer produces (e.g. ecdsa-with-SHA256).
    fn algorithm(&self) -> spki::AlgorithmIdentifierOwned;
    /// DER SubjectPublicKeyInfo of the signing key.
    fn public_key_der(&self) -> Vec<u8>;
    /// Sign `message` (hashing included), returning the signature as X.509 carries it (DER
    /// ECDSA-Sig-Value, or the PKCS#1 v1.5 octets). Blocking.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError>;
    /// True only for keys fit for publicly-trusted issuance (HSM-backed).
    fn is_hardware_backed(&self) -> bool;
}
