//! Identifier policy (REQUIREMENTS §2).

use crate::core::Identifier;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct NameError {
    /// Safe to show the subscriber: names the identifier and the rule.
    pub detail: String,
}

/// Accept only `dns` identifiers that are fully-qualified, LDH/A-label names under an ICANN
/// public suffix; reject wildcards, IP addresses, `.onion`, U-labels and over-long names.
pub fn check_identifier(identifier: &Identifier) -> Result<(), NameError> {
    let _ = identifier;
    Err(NameError {
        detail: "not implemented yet".to_string(),
    })
}
