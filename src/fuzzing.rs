//! Entry points for the fuzz targets in `fuzz/` and for the stable corpus test
//! `tests/fuzz_corpus.rs` (issue #5 item 4; docs/FUZZING.md). Each function takes raw network
//! bytes and drives exactly the code a request reaches, without I/O: the JWS parser and
//! verifier (RFC 8555 6.2), the finalize CSR checks (RFC 8555 7.4), newOrder identifier
//! policy (RFC 8555 7.1.4, CP 3.2.2) and OCSP request decoding (RFC 6960 4.1, RFC 5019 5).
//!
//! None of them panics on any input: a panic is a bug in hanko. The `assert!`s below are
//! invariants of *accepted* inputs; they fire only when a parser accepts something the
//! policy says it must not, which is also a bug worth a crash report.

use crate::acme::jws::{parse_key_change, KeyRef, ParsedJws, ALLOWED_ALGORITHMS};
use crate::core::Identifier;
use crate::issuance::csr;
use crate::policy::{keys, names};
use crate::revocation::ocsp::request::{self, IssuerHashes};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use std::sync::OnceLock;

/// What the server would do with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check the server applies without a database passed.
    Accepted,
    /// Refused with an error (malformed, policy, signature, other issuer, …).
    Rejected,
}

fn verdict(accepted: bool) -> Verdict {
    if accepted {
        Verdict::Accepted
    } else {
        Verdict::Rejected
    }
}

/// The order the `csr` target finalizes: CSR seeds name exactly these (RFC 8555 7.4).
pub const CSR_ORDER_NAMES: &[&str] = &["hanko-ci.com", "www.hanko-ci.com"];

/// A JWS request body as `acme::auth::authenticate` sees it: `ParsedJws::parse`, then
/// the signature against the embedded `jwk` (a `kid` needs the account database, so a
/// `kid` JWS is accepted once it parses), the payload as JSON, and — when the payload is
/// itself a JWS — the keyChange inner-JWS rules (RFC 8555 7.3.5).
pub fn jws(data: &[u8]) -> Verdict {
    let Ok(parsed) = ParsedJws::parse(data) else {
        return Verdict::Rejected;
    };
    assert!(ALLOWED_ALGORITHMS.contains(&parsed.alg.as_str()));
    assert_eq!(parsed.payload_is_empty, parsed.payload.is_empty());
    // Handlers decode the payload after authentication; run it whatever the signature says
    // so mutated payloads reach the JSON decoder too.
    let _ = parsed.payload_json();
    let _ = parse_key_change(&parsed);
    match &parsed.key {
        KeyRef::Jwk(key) => {
            let verified = parsed.verify_with_embedded_key().is_ok();
            if verified {
                // A verified key passed account key policy (REQUIREMENTS §6).
                assert!(keys::check_spki(&key.spki_der, keys::KeyUse::Account).is_ok());
                assert_eq!(key.thumbprint.len(), 43, "base64url SHA-256");
            }
            verdict(verified)
        }
        KeyRef::Kid(kid) => {
            assert!(!kid.is_empty());
            Verdict::Accepted
        }
    }
}

/// A finalize CSR (DER) against an order for [`CSR_ORDER_NAMES`]: `issuance::csr::check_csr`
/// (structure, key policy, signature, names), then the blocked-key hash input
/// (`policy::keys::canonical_spki`). The name extraction also runs on its own, since a
/// mutated CSR almost never keeps a valid signature and would otherwise stop at it.
pub fn csr(data: &[u8]) -> Verdict {
    let _ = csr::requested_names_unverified(data);
    let order: Vec<String> = CSR_ORDER_NAMES.iter().map(|n| n.to_string()).collect();
    match csr::check_csr(data, &order) {
        Ok(checked) => {
            assert_eq!(checked.names, order, "accepted names equal the order's");
            assert!(keys::canonical_spki(&checked.public_key_der).is_ok());
            Verdict::Accepted
        }
        Err(_) => Verdict::Rejected,
    }
}

/// The identifiers of a newOrder payload.
#[derive(Deserialize)]
struct NewOrderIdentifiers {
    identifiers: Vec<Identifier>,
}

/// Identifier policy, exactly as newOrder applies it (`ra::check_identifiers` with the
/// default `acme.max_identifiers`). Input starting with `{` is a newOrder payload (decoded as
/// the handler does: strict JSON, then `identifiers`); anything else is one `dns` identifier
/// value (UTF-8).
pub fn identifier(data: &[u8]) -> Verdict {
    let identifiers = if data.first() == Some(&b'{') {
        let Ok(value) = crate::acme::jws::json_no_duplicates(data) else {
            return Verdict::Rejected;
        };
        let Ok(order) = serde_json::from_value::<NewOrderIdentifiers>(value) else {
            return Verdict::Rejected;
        };
        order.identifiers
    } else {
        match std::str::from_utf8(data) {
            Ok(name) => vec![Identifier::dns(name)],
            Err(_) => return Verdict::Rejected,
        }
    };
    let max = crate::config::AcmeConfig::default().max_identifiers;
    let Ok(accepted) = crate::ra::check_identifiers(identifiers, max) else {
        return Verdict::Rejected;
    };
    assert!(!accepted.is_empty() && accepted.len() <= max);
    for pair in accepted.windows(2) {
        // Sorted and without duplicates: each name gets one authorization.
        assert!(pair[0].value < pair[1].value, "{pair:?}");
    }
    for ident in &accepted {
        let name = &ident.value;
        assert_eq!(ident.kind, "dns");
        assert!(name.is_ascii() && name.len() <= 253, "{name:?}");
        assert!(!name.contains('*') && !name.ends_with('.'), "{name:?}");
        assert!(name.split('.').count() >= 2, "{name:?}");
        assert!(
            name.split('.').all(|l| !l.is_empty() && l.len() <= 63),
            "{name:?}"
        );
        // Case-insensitive (RFC 4343): the stored form is already normalized.
        assert_eq!(names::normalize(name), *name);
    }
    Verdict::Accepted
}

/// The issuer the `ocsp_request` seeds ask about: a P-256 test CA (CN "Hanko Fuzz Test CA",
/// made with openssl for the corpus: fuzz/seeds/ca.pem).
const OCSP_ISSUER_B64: &str = concat!(
    "MIIB4DCCAYWgAwIBAgIUPl8yQWlaAiWss5w1wFmNWWltuZkwCgYIKoZIzj0EAwIwPTELMAkGA1UEBhMCSlAxETAP",
    "BgNVBAoMCEhhbmtvIENJMRswGQYDVQQDDBJIYW5rbyBGdXp6IFRlc3QgQ0EwHhcNMjYxMTIxMTAwMDA1WhcNMzYx",
    "MTE4MTAwMDA1WjA9MQswCQYDVQQGEwJKUDERMA8GA1UECgwISGFua28gQ0kxGzAZBgNVBAMMEkhhbmtvIEZ1enog",
    "VGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEey8DJFsTYgyMybb3u/ONfNR6NNXLCCcFpBPUE/JtLL",
    "uthjXLEDOUR9JxqkQPvuStt199jdx2nknf/Kbyk572ijYzBhMB0GA1UdDgQWBBQAn4PSkXOnmygN4vreh8lQymr/",
    "YjAfBgNVHSMEGDAWgBQAn4PSkXOnmygN4vreh8lQymr/YjAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIB",
    "BjAKBggqhkjOPQQDAgNJADBGAiEA3qWRIQ8jBeSlfCH1z2hryj+25EoSRsi+yHuTWgT6w6ECIQC8+Ey01k/UZ541",
    "sPClvY+NsCIbl+UpHc00L6YkunpByg==",
);

fn ocsp_issuer() -> Option<&'static IssuerHashes> {
    static ISSUER: OnceLock<Option<IssuerHashes>> = OnceLock::new();
    ISSUER
        .get_or_init(|| {
            let der = STANDARD.decode(OCSP_ISSUER_B64.trim()).ok()?;
            IssuerHashes::from_certificate_der(&der).ok()
        })
        .as_ref()
}

/// An OCSP request as the responder's HTTP layer sees it: the bytes as a POST body (DER),
/// and — when they are UTF-8 — as the path segment of a GET (`request::decode_get`, RFC 5019
/// 5), whose DER is then parsed the same way. Accepted when either form yields a serial of
/// the test issuer.
pub fn ocsp_request(data: &[u8]) -> Verdict {
    let Some(issuer) = ocsp_issuer() else {
        // The embedded issuer certificate is a constant; failing to read it is a build bug.
        panic!("embedded OCSP test issuer does not parse");
    };
    let post = request::parse(data, issuer).is_ok();
    let get = match std::str::from_utf8(data) {
        Ok(segment) => match request::decode_get(segment) {
            Ok(der) => request::parse(&der, issuer).is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    };
    verdict(post || get)
}
