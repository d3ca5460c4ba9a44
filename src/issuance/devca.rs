//! The development CA hierarchy created on first start: a root and an intermediate with
//! software keys, clearly labelled development-only, and the HTTPS certificate of the ACME
//! listener for localhost/127.0.0.1.

use super::{IssuanceError, Issuer};
use std::path::{Path, PathBuf};

pub struct DevHierarchy {
    pub root_pem: String,
    /// `<data_dir>/ca/root.pem`
    pub root_path: PathBuf,
    pub intermediate: Issuer,
    /// True when this call created the hierarchy (first start).
    pub created: bool,
}

/// Load the hierarchy from `<data_dir>/ca/`, creating it on first start.
pub fn load_or_create(data_dir: &Path) -> Result<DevHierarchy, IssuanceError> {
    let _ = data_dir;
    Err(IssuanceError::Issuer("not implemented yet".to_string()))
}

/// A TLS server certificate for the ACME listener, for `localhost` and 127.0.0.1/::1,
/// chaining to the development root. Returns (certificate chain PEM, PKCS#8 key PEM).
pub fn listener_certificate(hierarchy: &DevHierarchy) -> Result<(String, String), IssuanceError> {
    let _ = hierarchy;
    Err(IssuanceError::Issuer("not implemented yet".to_string()))
}
