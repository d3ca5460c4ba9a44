//! dns-01 (RFC 8555 8.4; BR 3.2.2.4.7 "DNS Change"): the subscriber publishes
//! base64url(SHA-256(key authorization)) in a TXT record at `_acme-challenge.<domain>`; the
//! challenge is valid when any TXT value there equals it.

use super::dns_client::{AnswerData, Lookup};
use super::evidence::Evidence;
use super::perspective::Context;
use super::resolve::fqdn;
use super::ChallengeCheck;
use crate::core::{FailureKind, ValidationFailure};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hickory_resolver::proto::rr::{RData, RecordType};
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
    let values = txt_values(context, &name, evidence).await?;
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

/// The TXT values at `name` through the stub client, so the answer's DNSSEC status is known
/// and recorded (SC-085); a bogus answer fails with a `dns` problem, never as absence.
async fn txt_values(
    context: &Context,
    name: &str,
    evidence: &mut Evidence,
) -> Result<Vec<String>, ValidationFailure> {
    let qname = fqdn(name)?;
    let lookup: Lookup = context
        .stub
        .lookup(&qname, RecordType::TXT, context.validating())
        .await
        .map_err(|f| f.to_failure(RecordType::TXT))?;
    evidence.dnssec = Some(lookup.dnssec);
    if lookup.nx_domain() {
        return Err(ValidationFailure::new(
            FailureKind::Unauthorized,
            format!("no TXT record found at {name} (NXDOMAIN)"),
        ));
    }
    // Each record's character-strings joined (RFC 8555 8.4 puts the digest in one TXT
    // RDATA; long values may be split across strings, RFC 1035 3.3.14).
    let values: Vec<String> = lookup
        .response
        .records_at(&qname, RecordType::TXT)
        .filter_map(|data| match data {
            AnswerData::Other(RData::TXT(txt)) => {
                let bytes: Vec<u8> = txt
                    .txt_data()
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect();
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => None,
        })
        .collect();
    if values.is_empty() {
        return Err(ValidationFailure::new(
            FailureKind::Unauthorized,
            format!("no TXT record found at {name}"),
        ));
    }
    Ok(values)
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
