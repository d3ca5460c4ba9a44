//! Signature verification for the algorithms we accept: on CSRs (RFC 8555 7.4, RFC 2986
//! 4.2) and as a self-check on everything we sign. Deliberately a short allow-list: RSA
//! PKCS#1 v1.5 with SHA-256/384/512 (RFC 4055 5) and ECDSA P-256/P-384 with SHA-256/384
//! (RFC 5758 3.2). Anything else (SHA-1, MD5, RSA-PSS, Ed25519, other curves) is refused.

use der::asn1::ObjectIdentifier;
use pkcs8::DecodePublicKey;
use sha2::{Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifier, SubjectPublicKeyInfoRef};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// Verify `signature` over `message` by the key in `spki_der` under `algorithm`. The error
/// is a short sentence safe to show a subscriber.
pub(crate) fn verify_signature<P>(
    spki_der: &[u8],
    algorithm: &AlgorithmIdentifier<P>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String>
where
    P: der::Encode,
{
    let spki = SubjectPublicKeyInfoRef::try_from(spki_der)
        .map_err(|_| "public key is not a valid SubjectPublicKeyInfo".to_string())?;
    let params_encoded = match &algorithm.parameters {
        None => None,
        Some(p) => Some(
            p.to_der()
                .map_err(|_| "bad algorithm parameters".to_string())?,
        ),
    };
    let oid = algorithm.oid;
    if oid == SHA256_WITH_RSA || oid == SHA384_WITH_RSA || oid == SHA512_WITH_RSA {
        // RFC 4055 5: parameters MUST be NULL; RFC 8017 tolerates absent, so do we.
        if params_encoded.as_deref().is_some_and(|p| p != [0x05, 0x00]) {
            return Err("RSA signature algorithm parameters must be NULL".to_string());
        }
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err("signature algorithm is RSA but the key is not".to_string());
        }
        let hash = match oid {
            o if o == SHA256_WITH_RSA => Hash::Sha256,
            o if o == SHA384_WITH_RSA => Hash::Sha384,
            _ => Hash::Sha512,
        };
        verify_rsa(spki_der, hash, message, signature)
    } else if oid == ECDSA_WITH_SHA256 || oid == ECDSA_WITH_SHA384 {
        // RFC 5758 3.2: the parameters field MUST be absent.
        if params_encoded.is_some() {
            return Err("ECDSA signature algorithm parameters must be absent".to_string());
        }
        if spki.algorithm.oid != EC_PUBLIC_KEY {
            return Err("signature algorithm is ECDSA but the key is not".to_string());
        }
        let hash = if oid == ECDSA_WITH_SHA256 {
            Hash::Sha256
        } else {
            Hash::Sha384
        };
        let curve = spki
            .algorithm
            .parameters_oid()
            .map_err(|_| "EC key without a named curve".to_string())?;
        verify_ecdsa(spki_der, curve, hash, message, signature)
    } else {
        Err(format!(
            "signature algorithm {oid} is not accepted (RSA PKCS#1 v1.5 with SHA-256/384/512, \
             ECDSA with SHA-256/384 only)"
        ))
    }
}

fn verify_rsa(spki_der: &[u8], hash: Hash, message: &[u8], sig: &[u8]) -> Result<(), String> {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use signature::Verifier;
    let key = rsa::RsaPublicKey::from_public_key_der(spki_der)
        .map_err(|_| "RSA public key cannot be parsed".to_string())?;
    let sig = Signature::try_from(sig).map_err(|_| "malformed RSA signature".to_string())?;
    let result = match hash {
        Hash::Sha256 => VerifyingKey::<Sha256>::new(key).verify(message, &sig),
        Hash::Sha384 => VerifyingKey::<Sha384>::new(key).verify(message, &sig),
        Hash::Sha512 => VerifyingKey::<Sha512>::new(key).verify(message, &sig),
    };
    result.map_err(|_| "signature does not verify".to_string())
}

fn verify_ecdsa(
    spki_der: &[u8],
    curve: ObjectIdentifier,
    hash: Hash,
    message: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    use ring::signature as ring_sig;
    let bad_key = |_| "EC public key cannot be parsed".to_string();
    let bad_sig = |_| "malformed ECDSA signature (expected DER Ecdsa-Sig-Value)".to_string();
    // The point and the DER signature are checked with RustCrypto first, so a bad key or a
    // malformed signature keeps its own message; the arithmetic is ring's (assembly P-256 and
    // P-384): every issuance verifies the CSR and self-checks its precertificate, certificate
    // and OCSP response, and the pure-Rust verify was the largest part of hanko's own CPU
    // under load (issue #5, docs/PEERS.md). ring hashes the message itself and truncates a
    // longer digest to the curve order (SEC 1 4.1.4), so P-256 with SHA-384 and P-384 with
    // SHA-256 (certbot's default) both work.
    let (point, algorithm): (Vec<u8>, &'static ring_sig::EcdsaVerificationAlgorithm) =
        if curve == SECP256R1 {
            let key = p256::PublicKey::from_public_key_der(spki_der).map_err(bad_key)?;
            p256::ecdsa::Signature::from_der(sig).map_err(bad_sig)?;
            let algorithm = match hash {
                Hash::Sha384 => &ring_sig::ECDSA_P256_SHA384_ASN1,
                _ => &ring_sig::ECDSA_P256_SHA256_ASN1,
            };
            (key.to_sec1_bytes().into_vec(), algorithm)
        } else if curve == SECP384R1 {
            let key = p384::PublicKey::from_public_key_der(spki_der).map_err(bad_key)?;
            p384::ecdsa::Signature::from_der(sig).map_err(bad_sig)?;
            let algorithm = match hash {
                Hash::Sha384 => &ring_sig::ECDSA_P384_SHA384_ASN1,
                _ => &ring_sig::ECDSA_P384_SHA256_ASN1,
            };
            (key.to_sec1_bytes().into_vec(), algorithm)
        } else {
            return Err(format!(
                "EC curve {curve} is not accepted (P-256, P-384 only)"
            ));
        };
    ring_sig::UnparsedPublicKey::new(algorithm, point)
        .verify(message, sig)
        .map_err(|_| "signature does not verify".to_string())
}
