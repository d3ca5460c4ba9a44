//! Development-only software keys (CPS 6.2: a publicly-trusted CA key lives in an HSM).
//!
//! `is_hardware_backed()` is always false, so nothing that asks for a publicly-trusted
//! signer can mistake one of these for an HSM key. The private key leaves only through
//! `to_pkcs8_pem`, which exists for the development hierarchy's own key files (devca).

use super::{Signer, SignerError};
use der::asn1::{AnyRef, ObjectIdentifier};
use p256::elliptic_curve::zeroize::Zeroizing;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::Sha256;
use spki::AlgorithmIdentifierOwned;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// RFC 5758 3.2: ecdsa-with-SHA256 / -SHA384, parameters absent.
pub(crate) const ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const ECDSA_WITH_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// RFC 4055 5: sha256WithRSAEncryption, parameters NULL.
pub(crate) const SHA256_WITH_RSA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// Smallest RSA modulus we generate or load (BR 6.1.5).
const MIN_RSA_BITS: usize = 2048;

/// The key types a software signer can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA P-256, signing ecdsa-with-SHA256.
    EcdsaP256,
    /// ECDSA P-384, signing ecdsa-with-SHA384.
    EcdsaP384,
    /// RSA with this modulus size (≥ 2048), signing sha256WithRSAEncryption.
    Rsa(usize),
}

enum Key {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

/// A software signing key. Development only: never fit for publicly-trusted issuance.
pub struct SoftwareSigner {
    key: Key,
    spki_der: Vec<u8>,
    /// The form that signs, built once from `key` (which stays the source of truth for the
    /// PKCS#8 export, kind and algorithm).
    signing: Signing,
}

/// EC keys sign through ring: its assembly P-256/P-384 is several times faster than the
/// pure-Rust arithmetic, and a development CA signs a precertificate, a certificate and an
/// OCSP response for every issuance (issue #5, docs/PEERS.md). RSA keeps its PKCS#1 v1.5
/// signing key, so a signature does not copy the private key.
enum Signing {
    Ecdsa(ring::signature::EcdsaKeyPair),
    Rsa(rsa::pkcs1v15::SigningKey<Sha256>),
}

/// The ring key pair of an EC key (its private scalar and uncompressed public point).
fn ring_key_pair(
    algorithm: &'static ring::signature::EcdsaSigningAlgorithm,
    scalar: &[u8],
    point: &[u8],
) -> Result<Signing, SignerError> {
    ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
        algorithm,
        scalar,
        point,
        &ring::rand::SystemRandom::new(),
    )
    .map(Signing::Ecdsa)
    .map_err(|e| SignerError::Key(format!("EC key refused by ring: {e}")))
}

impl std::fmt::Debug for SoftwareSigner {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl KeyKind {
    /// The kind of the key in a DER SubjectPublicKeyInfo (for a mirror key of the same
    /// algorithm and size, CP 4.3.1.2).
    pub fn from_spki_der(spki_der: &[u8]) -> Result<KeyKind, SignerError> {
        use der::Decode;
        let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(key_err)?;
        match spki.algorithm.oid {
            RSA_ENCRYPTION => {
                use pkcs8::DecodePublicKey;
                use rsa::traits::PublicKeyParts;
                let key = rsa::RsaPublicKey::from_public_key_der(spki_der).map_err(key_err)?;
                Ok(KeyKind::Rsa(key.n().bits()))
            }
            EC_PUBLIC_KEY => match spki.algorithm.parameters_oid().map_err(key_err)? {
                SECP256R1 => Ok(KeyKind::EcdsaP256),
                SECP384R1 => Ok(KeyKind::EcdsaP384),
                other => Err(SignerError::Key(format!("unsupported curve {other}"))),
            },
            other => Err(SignerError::Key(format!(
                "unsupported key algorithm {other}"
            ))),
        }
    }
}

fn key_err(e: impl std::fmt::Display) -> SignerError {
    SignerError::Key(e.to_string())
}

impl SoftwareSigner {
    /// Generate a fresh key from the OS CSPRNG.
    pub fn generate(kind: KeyKind) -> Result<SoftwareSigner, SignerError> {
        let mut rng = rand::rngs::OsRng;
        let key = match kind {
            KeyKind::EcdsaP256 => Key::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            KeyKind::EcdsaP384 => Key::P384(p384::ecdsa::SigningKey::random(&mut rng)),
            KeyKind::Rsa(bits) => {
                if bits < MIN_RSA_BITS || bits % 8 != 0 {
                    return Err(SignerError::Key(format!(
                        "RSA keys must be at least {MIN_RSA_BITS} bits and a multiple of 8"
                    )));
                }
                Key::Rsa(Box::new(
                    rsa::RsaPrivateKey::new(&mut rng, bits).map_err(key_err)?,
                ))
            }
        };
        SoftwareSigner::from_key(key)
    }

    /// Load a PKCS#8 PEM private key (P-256, P-384 or RSA ≥ 2048).
    pub fn from_pkcs8_pem(pem: &str) -> Result<SoftwareSigner, SignerError> {
        let (label, doc) = pkcs8::SecretDocument::from_pem(pem).map_err(key_err)?;
        if label != "PRIVATE KEY" {
            return Err(SignerError::Key(format!(
                "expected a PKCS#8 \"PRIVATE KEY\" PEM, found {label:?}"
            )));
        }
        let info = pkcs8::PrivateKeyInfo::try_from(doc.as_bytes()).map_err(key_err)?;
        let der = doc.as_bytes();
        let key = if info.algorithm.oid == RSA_ENCRYPTION {
            let key = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(key_err)?;
            Key::Rsa(Box::new(key))
        } else if info.algorithm.oid == EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|_| SignerError::Key("EC key without a named curve".to_string()))?;
            match curve {
                SECP256R1 => {
                    Key::P256(p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(key_err)?)
                }
                SECP384R1 => {
                    Key::P384(p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(key_err)?)
                }
                other => return Err(SignerError::Key(format!("unsupported EC curve {other}"))),
            }
        } else {
            return Err(SignerError::Key(format!(
                "unsupported key algorithm {}",
                info.algorithm.oid
            )));
        };
        SoftwareSigner::from_key(key)
    }

    fn from_key(key: Key) -> Result<SoftwareSigner, SignerError> {
        let spki = match &key {
            Key::P256(k) => k.verifying_key().to_public_key_der(),
            Key::P384(k) => k.verifying_key().to_public_key_der(),
            Key::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                if k.n().bits() < MIN_RSA_BITS {
                    return Err(SignerError::Key(format!(
                        "RSA key of {} bits is below {MIN_RSA_BITS}",
                        k.n().bits()
                    )));
                }
                k.to_public_key().to_public_key_der()
            }
        }
        .map_err(key_err)?;
        let signing = match &key {
            Key::P256(k) => ring_key_pair(
                &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &k.to_bytes(),
                k.verifying_key().to_encoded_point(false).as_bytes(),
            )?,
            Key::P384(k) => ring_key_pair(
                &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                &k.to_bytes(),
                k.verifying_key().to_encoded_point(false).as_bytes(),
            )?,
            Key::Rsa(k) => Signing::Rsa(rsa::pkcs1v15::SigningKey::new((**k).clone())),
        };
        Ok(SoftwareSigner {
            key,
            spki_der: spki.into_vec(),
            signing,
        })
    }

    /// Export the private key as PKCS#8 PEM. Only the development hierarchy calls this, to
    /// write its own key files (mode 0600); no service path exports a key (invariant 8).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, SignerError> {
        match &self.key {
            Key::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            Key::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
            Key::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(key_err)
    }

    pub fn kind(&self) -> KeyKind {
        match &self.key {
            Key::P256(_) => KeyKind::EcdsaP256,
            Key::P384(_) => KeyKind::EcdsaP384,
            Key::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                KeyKind::Rsa(k.n().bits())
            }
        }
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        match &self.key {
            Key::P256(_) => AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            Key::P384(_) => AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA384,
                parameters: None,
            },
            Key::Rsa(_) => AlgorithmIdentifierOwned {
                oid: SHA256_WITH_RSA,
                parameters: Some(AnyRef::NULL.into()),
            },
        }
    }

    fn public_key_der(&self) -> Vec<u8> {
        self.spki_der.clone()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        use signature::{SignatureEncoding, Signer as _};
        match &self.signing {
            // ECDSA hashed with the curve's own digest (SHA-256 for P-256, SHA-384 for
            // P-384); X.509 carries the DER Ecdsa-Sig-Value (RFC 5758 3.2), which is ring's
            // ASN.1 form. k comes from the OS CSPRNG through ring.
            Signing::Ecdsa(pair) => pair
                .sign(&ring::rand::SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| SignerError::Failed("ECDSA signing failed".to_string())),
            Signing::Rsa(k) => k
                .try_sign(message)
                .map(|sig| sig.to_vec())
                .map_err(|e| SignerError::Failed(e.to_string())),
        }
    }

    fn is_hardware_backed(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuance::verify::verify_signature;

    #[test]
    fn ecdsa_keys_sign_verifiable_der_signatures_and_round_trip_pem() {
        for kind in [KeyKind::EcdsaP256, KeyKind::EcdsaP384] {
            let signer = SoftwareSigner::generate(kind).expect("generate");
            assert!(!signer.is_hardware_backed());
            let sig = signer.sign(b"hello").expect("sign");
            assert_eq!(sig[0], 0x30, "DER Ecdsa-Sig-Value");
            verify_signature(
                &signer.public_key_der(),
                &signer.algorithm(),
                b"hello",
                &sig,
            )
            .expect("verifies");
            let pem = signer.to_pkcs8_pem().expect("pem");
            let again = SoftwareSigner::from_pkcs8_pem(&pem).expect("load");
            assert_eq!(again.public_key_der(), signer.public_key_der());
            assert_eq!(again.kind(), kind);
        }
    }

    #[test]
    fn rsa_key_signs_pkcs1_sha256_with_null_params() {
        let signer = SoftwareSigner::generate(KeyKind::Rsa(2048)).expect("generate");
        let alg = signer.algorithm();
        assert_eq!(alg.oid, SHA256_WITH_RSA);
        assert_eq!(alg.parameters, Some(AnyRef::NULL.into()));
        let sig = signer.sign(b"hello").expect("sign");
        assert_eq!(sig.len(), 256);
        verify_signature(&signer.public_key_der(), &alg, b"hello", &sig).expect("verifies");
        let pem = signer.to_pkcs8_pem().expect("pem");
        let again = SoftwareSigner::from_pkcs8_pem(&pem).expect("load");
        assert_eq!(again.kind(), KeyKind::Rsa(2048));
    }

    #[test]
    fn refuses_small_rsa_and_garbage() {
        assert!(SoftwareSigner::generate(KeyKind::Rsa(1024)).is_err());
        assert!(SoftwareSigner::from_pkcs8_pem("not a pem").is_err());
        let cert_label = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert!(SoftwareSigner::from_pkcs8_pem(cert_label).is_err());
    }
}
