//! Key policy for subscriber and account keys (CPS 6.1.5/6.1.6 JA, BR 6.1.1.3, 6.1.5,
//! 6.1.6; REQUIREMENTS §6). One entry point, `check_spki`, for CSR keys and for ACME account
//! keys (which arrive as JWKs and are converted to SPKI first), so both follow one rule book.
//! RSA moduli are also checked for the ROCA fingerprint (`roca.rs`) and for Fermat
//! factorisation within 100 rounds (`fermat.rs`), BR 6.1.1.3. The blocked-keys list needs
//! storage, so the RA checks it (`ra::keys`), not this module.

use super::{fermat, roca};
use der::Decode;
use rsa::traits::PublicKeyParts;
use spki::SubjectPublicKeyInfoRef;

const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.101.112");

/// Who the key belongs to: the rules differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// ACME account key (RFC 8555 6.2): RSA ≥ 2048 divisible by 8, P-256, P-384, Ed25519.
    Account,
    /// Key certified in a TLS subscriber certificate (CPS 6.1.5 JA): RSA 2048/3072/4096,
    /// P-256, P-384. No Ed25519: the CP's profile (7.1.3) has no EdDSA.
    Subscriber,
}

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
    /// Safe to show the subscriber.
    pub detail: String,
}

fn reject(detail: impl Into<String>) -> KeyError {
    KeyError {
        detail: detail.into(),
    }
}

/// Check a DER SubjectPublicKeyInfo against the key policy for `key_use`.
pub fn check_spki(spki_der: &[u8], key_use: KeyUse) -> Result<KeyType, KeyError> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|e| {
        reject(format!(
            "public key is not a valid SubjectPublicKeyInfo: {e}"
        ))
    })?;
    let oid = spki.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        check_rsa(spki_der, key_use)
    } else if oid == EC_PUBLIC_KEY {
        check_ec(&spki)
    } else if oid == ED25519 {
        if key_use == KeyUse::Subscriber {
            return Err(reject(
                "Ed25519 keys are not allowed in certificates (CP 7.1.3)",
            ));
        }
        let bytes: [u8; 32] = spki
            .subject_public_key
            .as_bytes()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| reject("Ed25519 public key must be 32 bytes"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| reject("Ed25519 public key is not a valid curve point"))?;
        if key.is_weak() {
            return Err(reject("Ed25519 public key has small order"));
        }
        Ok(KeyType::Ed25519)
    } else {
        Err(reject(format!(
            "key algorithm {oid} is not allowed (RSA, ECDSA P-256/P-384 only)"
        )))
    }
}

/// One encoding per key, so a key has one hash in the blocked-keys list however it is
/// presented (a CSR may carry a compressed EC point, a JWK becomes an uncompressed one):
/// RSA keys re-encoded as the `rsa` crate writes them (NULL parameters, minimal integers),
/// P-256/P-384 points uncompressed with the named curve (RFC 5480 2.2). Other keys, and RSA
/// moduli beyond what the `rsa` crate reads, are returned as given. An error only when the
/// input is not a SubjectPublicKeyInfo at all.
pub fn canonical_spki(spki_der: &[u8]) -> Result<Vec<u8>, KeyError> {
    use pkcs8::EncodePublicKey;
    use rsa::pkcs8::DecodePublicKey;
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|e| {
        reject(format!(
            "public key is not a valid SubjectPublicKeyInfo: {e}"
        ))
    })?;
    let point = spki.subject_public_key.as_bytes();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
    let reencoded = match (spki.algorithm.oid, curve, point) {
        (RSA_ENCRYPTION, _, _) => rsa::RsaPublicKey::from_public_key_der(spki_der)
            .ok()
            .and_then(|k| k.to_public_key_der().ok()),
        (EC_PUBLIC_KEY, Some(SECP256R1), Some(point)) => p256::PublicKey::from_sec1_bytes(point)
            .ok()
            .and_then(|k| k.to_public_key_der().ok()),
        (EC_PUBLIC_KEY, Some(SECP384R1), Some(point)) => p384::PublicKey::from_sec1_bytes(point)
            .ok()
            .and_then(|k| k.to_public_key_der().ok()),
        _ => None,
    };
    Ok(reencoded.map_or_else(|| spki_der.to_vec(), |doc| doc.into_vec()))
}

/// Lowercase hex SHA-256 of the canonical SPKI: the `blocked_keys.key_hash` of this key,
/// the `issuer_id` of an issuer and the `spki_sha256` of audit events. For keys in their
/// usual encoding this equals `certificates.key_hash`. Input that is not an SPKI is hashed
/// as given (the hash of junk blocks nothing).
pub fn key_hash(spki_der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let canonical = canonical_spki(spki_der).unwrap_or_else(|_| spki_der.to_vec());
    hex::encode(Sha256::digest(&canonical))
}

fn check_rsa(spki_der: &[u8], key_use: KeyUse) -> Result<KeyType, KeyError> {
    use rsa::pkcs8::DecodePublicKey;
    // The rsa crate refuses moduli above 4096 bits and exponents outside 2..2^33, which is
    // inside what we allow anyway.
    let key = rsa::RsaPublicKey::from_public_key_der(spki_der)
        .map_err(|e| reject(format!("RSA public key is not usable: {e}")))?;
    let n = key.n();
    let bits = n.bits();
    match key_use {
        KeyUse::Subscriber if ![2048, 3072, 4096].contains(&bits) => {
            return Err(reject(format!(
                "RSA modulus of {bits} bits: must be 2048, 3072 or 4096 (CPS 6.1.5)"
            )))
        }
        KeyUse::Account if bits < 2048 || bits % 8 != 0 => {
            return Err(reject(format!(
                "RSA modulus of {bits} bits: must be at least 2048 and a multiple of 8"
            )))
        }
        _ => {}
    }
    let e = key.e();
    let one = rsa::BigUint::from(1u8);
    let two = rsa::BigUint::from(2u8);
    // BR 6.1.6: the exponent is an odd number ≥ 3; the modulus is odd.
    if e < &rsa::BigUint::from(3u8) || e % &two != one {
        return Err(reject(
            "RSA public exponent must be odd and at least 3 (BR 6.1.6)",
        ));
    }
    if n % &two != one {
        return Err(reject("RSA modulus must be odd (BR 6.1.6)"));
    }
    check_modulus(n)?;
    Ok(KeyType::Rsa { bits })
}

/// Known ways to factor the modulus: small factors (BR 6.1.6), the ROCA fingerprint and
/// Fermat's method within 100 rounds (BR 6.1.1.3). Cheapest first.
fn check_modulus(n: &rsa::BigUint) -> Result<(), KeyError> {
    if let Some(p) =
        small_primes().find(|p| (n % rsa::BigUint::from(*p)) == rsa::BigUint::from(0u8))
    {
        return Err(reject(format!(
            "RSA modulus has the small factor {p} (BR 6.1.6)"
        )));
    }
    if roca::is_fingerprinted(n) {
        return Err(reject(
            "RSA modulus is ROCA-vulnerable (CVE-2017-15361): it was made by a flawed \
             generator (Infineon RSALib) and can be factored; generate a new key (BR 6.1.1.3)",
        ));
    }
    if let Some(found) = fermat::factor(n, fermat::ROUNDS) {
        return Err(reject(format!(
            "RSA modulus factors by Fermat's method (in {} of {} rounds): its primes are too \
             close; generate a new key (BR 6.1.1.3)",
            found.round,
            fermat::ROUNDS
        )));
    }
    Ok(())
}

/// Primes below 752 (BR 6.1.6).
fn small_primes() -> impl Iterator<Item = u32> {
    (2u32..752).filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0))
}

fn check_ec(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<KeyType, KeyError> {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
        .ok_or_else(|| reject("EC key without a named curve (RFC 5480 2.1.1)"))?;
    let point = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| reject("EC public key has unused bits"))?;
    // from_sec1_bytes performs full public key validation: on the curve, not the identity
    // (BR 6.1.6 / NIST SP 800-56A 5.6.2.3.3).
    if curve == SECP256R1 {
        p256::PublicKey::from_sec1_bytes(point)
            .map_err(|_| reject("P-256 public key is not a valid curve point"))?;
        Ok(KeyType::EcP256)
    } else if curve == SECP384R1 {
        p384::PublicKey::from_sec1_bytes(point)
            .map_err(|_| reject("P-384 public key is not a valid curve point"))?;
        Ok(KeyType::EcP384)
    } else {
        Err(reject(format!(
            "EC curve {curve} is not allowed (P-256 or P-384 only)"
        )))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pkcs8::EncodePublicKey;

    fn rsa_spki(bits: usize) -> Vec<u8> {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).expect("rsa keygen");
        key.to_public_key()
            .to_public_key_der()
            .expect("spki")
            .into_vec()
    }

    #[test]
    fn rsa_sizes() {
        assert_eq!(
            check_spki(&rsa_spki(2048), KeyUse::Subscriber),
            Ok(KeyType::Rsa { bits: 2048 })
        );
        assert!(check_spki(&rsa_spki(1024), KeyUse::Account).is_err());
        let odd = rsa_spki(2056);
        assert!(check_spki(&odd, KeyUse::Account).is_ok());
        assert!(check_spki(&odd, KeyUse::Subscriber).is_err());
    }

    #[test]
    fn rsa_with_small_factor_is_rejected() {
        // n = 3 * (a large odd number): a 2048-bit modulus with the factor 3.
        let mut big = rsa::BigUint::from(1u8) << 2046;
        big += rsa::BigUint::from(1u8);
        let n = big * rsa::BigUint::from(3u8);
        let key = rsa::RsaPublicKey::new(n, rsa::BigUint::from(65537u32)).expect("key");
        let der = key.to_public_key_der().expect("der").into_vec();
        let err = check_spki(&der, KeyUse::Subscriber).expect_err("small factor");
        assert!(err.detail.contains("small factor 3"), "{}", err.detail);
    }

    #[test]
    fn roca_modulus_is_rejected_for_both_uses() {
        // The published vulnerable modulus of Boulder's goodkey tests (see roca.rs).
        let n = super::roca::tests::boulder_modulus();
        let key = rsa::RsaPublicKey::new(n, rsa::BigUint::from(65537u32)).expect("key");
        let der = key.to_public_key_der().expect("der").into_vec();
        for key_use in [KeyUse::Subscriber, KeyUse::Account] {
            let err = check_spki(&der, key_use).expect_err("ROCA");
            assert!(err.detail.contains("ROCA-vulnerable"), "{}", err.detail);
            assert!(err.detail.contains("CVE-2017-15361"), "{}", err.detail);
        }
    }

    /// A real, valid RSA-2048 key whose primes are close: a random 1024-bit prime and the
    /// next prime after it plus a million.
    pub(crate) fn close_prime_key() -> rsa::RsaPrivateKey {
        let gap = rsa::BigUint::from(1_000_000u32);
        let (p, q) = super::fermat::tests::primes_with_gap(1024, &gap);
        // from_p_q computes d and goes through from_components, which validates the key.
        let key = rsa::RsaPrivateKey::from_p_q(p, q, rsa::BigUint::from(65537u32))
            .expect("valid RSA key from close primes");
        key.validate().expect("valid");
        key
    }

    #[test]
    fn close_prime_key_is_rejected_by_fermat() {
        let key = close_prime_key();
        assert_eq!(key.n().bits(), 2048);
        let der = key
            .to_public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        for key_use in [KeyUse::Subscriber, KeyUse::Account] {
            let err = check_spki(&der, key_use).expect_err("Fermat");
            assert!(err.detail.contains("Fermat's method"), "{}", err.detail);
            assert!(err.detail.contains("too close"), "{}", err.detail);
        }
    }

    #[test]
    fn ordinary_rsa_keys_pass_the_factoring_checks() {
        for bits in [2048, 3072] {
            assert_eq!(
                check_spki(&rsa_spki(bits), KeyUse::Subscriber),
                Ok(KeyType::Rsa { bits })
            );
        }
    }

    /// Whole-check timing on this machine: `cargo nextest run -p hanko check_spki_timing
    /// --run-ignored only --no-capture`.
    #[test]
    #[ignore = "timing report, not a check"]
    fn check_spki_timing() {
        for bits in [2048, 4096] {
            let der = rsa_spki(bits);
            let runs = 100;
            let start = std::time::Instant::now();
            for _ in 0..runs {
                assert!(check_spki(std::hint::black_box(&der), KeyUse::Subscriber).is_ok());
            }
            eprintln!("check_spki, RSA-{bits}: {:?} each", start.elapsed() / runs);
        }
    }

    #[test]
    fn ec_curves_and_invalid_points() {
        let p256 = p256::SecretKey::random(&mut rand::rngs::OsRng)
            .public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        assert_eq!(check_spki(&p256, KeyUse::Subscriber), Ok(KeyType::EcP256));
        let p384 = p384::SecretKey::random(&mut rand::rngs::OsRng)
            .public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        assert_eq!(check_spki(&p384, KeyUse::Account), Ok(KeyType::EcP384));
        // Corrupt the last coordinate byte: the point leaves the curve.
        let mut bad = p256.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert!(check_spki(&bad, KeyUse::Subscriber).is_err());
    }

    #[test]
    fn ed25519_only_for_accounts() {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let der = key
            .verifying_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        assert_eq!(check_spki(&der, KeyUse::Account), Ok(KeyType::Ed25519));
        assert!(check_spki(&der, KeyUse::Subscriber).is_err());
    }

    #[test]
    fn key_hash_is_the_sha256_of_a_canonical_spki() {
        use sha2::{Digest, Sha256};
        let spki = p256::SecretKey::random(&mut rand::rngs::OsRng)
            .public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        assert_eq!(key_hash(&spki), hex::encode(Sha256::digest(&spki)));
    }

    #[test]
    fn canonical_spki_uncompresses_ec_points_and_keeps_canonical_input() {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let canonical = secret
            .public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        assert_eq!(canonical_spki(&canonical), Ok(canonical.clone()));
        // The same key with a compressed point: a different SPKI, the same canonical form.
        let compressed = secret.public_key().to_encoded_point(true);
        let params = der::asn1::AnyRef::from(&SECP256R1);
        let spki = SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: EC_PUBLIC_KEY,
                parameters: Some(params),
            },
            subject_public_key: der::asn1::BitStringRef::from_bytes(compressed.as_bytes())
                .expect("bits"),
        };
        let compressed_der = der::Encode::to_der(&spki).expect("der");
        assert_ne!(compressed_der, canonical);
        assert_eq!(canonical_spki(&compressed_der), Ok(canonical));
        // RSA and Ed25519 in their usual encodings are already canonical.
        let rsa = rsa_spki(2048);
        assert_eq!(canonical_spki(&rsa), Ok(rsa));
        let ed = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng)
            .verifying_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        assert_eq!(canonical_spki(&ed), Ok(ed));
        assert!(canonical_spki(b"not der").is_err());
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        assert!(check_spki(b"\x30\x03\x02\x01\x00", KeyUse::Account).is_err());
        assert!(check_spki(&[], KeyUse::Account).is_err());
    }
}
