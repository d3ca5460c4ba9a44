//! dns-01 (RFC 8555 8.4; BR 3.2.2.4.7 "DNS Change"): the subscriber publishes
//! base64url(SHA-256(key authorization)) in a TXT record at `_acme-challenge.<domain>`; the
//! challenge is valid when any TXT value there equals it.

use super::evidence::Evidence;
use super::perspective::Context;
use super::resolve::is_negative;
use super::ChallengeCheck;
use crate::core::{FailureKind, ValidationFailure};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Label prefixed to the domain (RFC 8555 8.4).
const CHALLENGE_LABEL: &str = "_acme-challenge";

/// The TXT value a subscriber must publish: base64url without padding (RFC 8555 8.4).
pub(crate) fn expected_txt(key_authorization: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(key_authorization.as_bytes()))
}

pub(crate) async fn validate(
    context: &Context,
    host: &str,
    request: &ChallengeCheck,
    evidence: &mut Evidence,
) -> Result<(), ValidationFailure> {
    let name = format!("{CHALLENGE_LABEL}.{host}");
    evidence.txt_name = Some(name.clone());
    let expected = expected_txt(&request.key_authorization);
    let values = match context.dns.txt(&format!("{name}.")).await {
        Ok(values) => values,
        Err(e) if e.is_nx_domain() => {
            return Err(ValidationFailure::new(
                FailureKind::Unauthorized,
                format!("no TXT record found at {name} (NXDOMAIN)"),
            ))
        }
        Err(e) if is_negative(&e) => {
            return Err(ValidationFailure::new(
                FailureKind::Unauthorized,
                format!("no TXT record found at {name}"),
            ))
        }
        Err(e) => {
            return Err(ValidationFailure::new(
                FailureKind::Dns,
                format!("DNS problem looking up TXT for {name}: {e}"),
            ))
        }
    };
    evidence.txt_values = Some(values.clone());
    // A plain comparison is fine: the expected value is public once published.
    if values.iter().any(|v| v == &expected) {
        return Ok(());
    }
    let seen = match values.as_slice() {
        [] => "no TXT values".to_string(),
        [only] => format!("\"{}\"", excerpt(only)),
        many => format!("{} TXT values, none matching", many.len()),
    };
    Err(ValidationFailure::new(
        FailureKind::Unauthorized,
        format!("incorrect TXT record at {name}: found {seen}, expected \"{expected}\""),
    ))
}

/// A value short enough to put in a problem detail.
fn excerpt(value: &str) -> String {
    const MAX: usize = 100;
    if value.chars().count() <= MAX {
        return value.to_string();
    }
    let cut: String = value.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::expected_txt;

    #[test]
    fn expected_txt_is_unpadded_base64url_of_sha256() {
        // SHA-256("") in base64url without padding.
        assert_eq!(
            expected_txt(""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }
}
