//! JWK → public key (RFC 7517, RFC 7518 6), RFC 7638 thumbprints, and signature
//! verification per `alg` (RFC 7518 3.3, 3.4; RFC 8037 3.1). Every JWK becomes a DER
//! SubjectPublicKeyInfo first so account keys pass the same `policy::keys::check_spki` as
//! CSR keys (REQUIREMENTS §6: "the same rules for account keys").

use super::strict::{b64url_decode, b64url_encode};
use super::{AccountKey, JwsError};
use crate::policy::keys::{check_spki, KeyUse};
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier};
use der::{Decode, Encode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// JWK members that carry private or symmetric key material (RFC 7518 6.2.2, 6.3.2, 6.4;
/// RFC 8037 2). A JWS header must only ever carry a public key (RFC 8555 6.2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The public key material of a JWK, reduced to what RFC 7638 3.2 hashes.
enum PublicJwk<'a> {
    Rsa { n: &'a str, e: &'a str },
    Ec(EcCurve, &'a str, &'a str),
    Ed25519 { x: &'a str },
}

#[derive(Clone, Copy)]
enum EcCurve {
    P256,
    P384,
    P521,
}

impl EcCurve {
    fn from_crv(crv: &str) -> Option<Self> {
        match crv {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Coordinate length in octets; RFC 7518 6.2.1.2 requires the full size.
    fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::P256 => SECP256R1,
            Self::P384 => SECP384R1,
            Self::P521 => SECP521R1,
        }
    }
}

fn bad_key(detail: impl Into<String>) -> JwsError {
    JwsError::BadPublicKey(detail.into())
}

fn member<'a>(jwk: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str, JwsError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| bad_key(format!("JWK member {name:?} is missing or not a string")))
}

/// Classify a JWK object and pick out its public members; refuses private members.
fn public_jwk(jwk: &Value) -> Result<PublicJwk<'_>, JwsError> {
    let obj = jwk
        .as_object()
        .ok_or_else(|| bad_key("JWK is not a JSON object"))?;
    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
        return Err(bad_key(format!(
            "JWK carries the private member {private:?}; send only the public key"
        )));
    }
    match member(obj, "kty")? {
        "RSA" => Ok(PublicJwk::Rsa {
            n: member(obj, "n")?,
            e: member(obj, "e")?,
        }),
        "EC" => {
            let crv = member(obj, "crv")?;
            let curve = EcCurve::from_crv(crv)
                .ok_or_else(|| bad_key(format!("EC curve {crv:?} is not supported")))?;
            Ok(PublicJwk::Ec(curve, member(obj, "x")?, member(obj, "y")?))
        }
        "OKP" => match member(obj, "crv")? {
            "Ed25519" => Ok(PublicJwk::Ed25519 {
                x: member(obj, "x")?,
            }),
            crv => Err(bad_key(format!("OKP curve {crv:?} is not supported"))),
        },
        "oct" => Err(bad_key(
            "symmetric (kty \"oct\") keys cannot sign ACME requests",
        )),
        kty => Err(bad_key(format!("JWK key type {kty:?} is not supported"))),
    }
}

impl PublicJwk<'_> {
    /// RFC 7638 3.2/3.3: required members only, lexicographic order, no whitespace. Values
    /// were checked to be strict base64url (and kty/crv come from a fixed set), so no JSON
    /// escaping is ever needed; we format by hand rather than trust map ordering.
    fn canonical_json(&self) -> String {
        match self {
            PublicJwk::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            PublicJwk::Ec(curve, x, y) => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{x}","y":"{y}"}}"#,
                curve.name()
            ),
            PublicJwk::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
        }
    }

    /// DER SubjectPublicKeyInfo (RFC 5280 4.1, RFC 3279/5480/8410) for key policy.
    fn spki_der(&self) -> Result<Vec<u8>, JwsError> {
        match self {
            PublicJwk::Rsa { n, e } => rsa_spki(n, e),
            PublicJwk::Ec(curve, x, y) => {
                let x = b64url_decode("JWK member \"x\"", x).map_err(bad_key)?;
                let y = b64url_decode("JWK member \"y\"", y).map_err(bad_key)?;
                let len = curve.coordinate_len();
                if x.len() != len || y.len() != len {
                    return Err(bad_key(format!(
                        "{} coordinates must be {len} octets each (RFC 7518 6.2.1.2)",
                        curve.name()
                    )));
                }
                // SEC1 uncompressed point: 0x04 || x || y. check_spki validates the point.
                let point = [&[0x04][..], &x, &y].concat();
                let curve_oid = curve.oid();
                let params = AnyRef::from(&curve_oid);
                encode_spki(EC_PUBLIC_KEY, Some(params), &point)
            }
            PublicJwk::Ed25519 { x } => {
                let x = b64url_decode("JWK member \"x\"", x).map_err(bad_key)?;
                if x.len() != 32 {
                    return Err(bad_key("Ed25519 \"x\" must be 32 octets (RFC 8037 2)"));
                }
                encode_spki(ED25519, None, &x)
            }
        }
    }
}

/// RSA `n`/`e` are base64urlUInt (RFC 7518 2, 6.3.1): no leading zero octets. Refusing them
/// keeps one JWK (and so one thumbprint) per key.
fn rsa_spki(n: &str, e: &str) -> Result<Vec<u8>, JwsError> {
    use rsa::pkcs8::EncodePublicKey;
    let n = b64url_decode("JWK member \"n\"", n).map_err(bad_key)?;
    let e = b64url_decode("JWK member \"e\"", e).map_err(bad_key)?;
    if n.first().is_none_or(|b| *b == 0) || e.first().is_none_or(|b| *b == 0) {
        return Err(bad_key(
            "RSA \"n\" and \"e\" must be non-empty without leading zero octets (RFC 7518 6.3.1)",
        ));
    }
    let key = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .map_err(|err| bad_key(format!("RSA public key is not usable: {err}")))?;
    key.to_public_key_der()
        .map(|doc| doc.into_vec())
        .map_err(|err| bad_key(format!("cannot encode RSA public key: {err}")))
}

fn encode_spki(
    oid: ObjectIdentifier,
    parameters: Option<AnyRef<'_>>,
    key: &[u8],
) -> Result<Vec<u8>, JwsError> {
    let subject_public_key =
        BitStringRef::from_bytes(key).map_err(|e| bad_key(format!("public key: {e}")))?;
    SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef { oid, parameters },
        subject_public_key,
    }
    .to_der()
    .map_err(|e| bad_key(format!("cannot encode public key: {e}")))
}

/// RFC 7638 SHA-256 thumbprint (base64url, no padding) of a public JWK, without key policy:
/// lets a caller compare a stored or presented key (keyChange `oldKey`, RFC 8555 7.3.5) even
/// when that key would no longer pass policy.
pub fn jwk_thumbprint(jwk: &Value) -> Result<String, JwsError> {
    let public = public_jwk(jwk)?;
    check_members_are_base64url(&public)?;
    Ok(b64url_encode(&Sha256::digest(
        public.canonical_json().as_bytes(),
    )))
}

fn check_members_are_base64url(public: &PublicJwk<'_>) -> Result<(), JwsError> {
    let members: &[&str] = match public {
        PublicJwk::Rsa { n, e } => &[n, e],
        PublicJwk::Ec(_, x, y) => &[x, y],
        PublicJwk::Ed25519 { x } => &[x],
    };
    for m in members {
        b64url_decode("JWK member", m).map_err(bad_key)?;
    }
    Ok(())
}

impl AccountKey {
    /// Build from a JWK JSON object; rejects private members, unknown kty/crv and keys that
    /// fail `policy::keys::check_spki` (account rules: RSA ≥ 2048, P-256, P-384, Ed25519).
    pub fn from_jwk(jwk: &Value) -> Result<AccountKey, JwsError> {
        let public = public_jwk(jwk)?;
        let spki_der = public.spki_der()?;
        check_spki(&spki_der, KeyUse::Account).map_err(|e| bad_key(e.detail))?;
        let canonical = public.canonical_json();
        let jwk = serde_json::from_str(&canonical)
            .map_err(|e| bad_key(format!("cannot rebuild the JWK: {e}")))?;
        Ok(AccountKey {
            jwk,
            thumbprint: b64url_encode(&Sha256::digest(canonical.as_bytes())),
            spki_der,
        })
    }
}

/// Verify `signature` over `input` with the SPKI key under `alg` (RFC 7518 3.1). The key type
/// must fit `alg`, else `BadSignatureAlgorithm` (RFC 8555 6.2).
pub(crate) fn verify_signature(
    spki_der: &[u8],
    alg: &str,
    input: &[u8],
    signature: &[u8],
) -> Result<(), JwsError> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| bad_key(format!("stored key is not a SubjectPublicKeyInfo: {e}")))?;
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad_key("public key has unused bits"))?;
    let oid = spki.algorithm.oid;
    let curve = spki
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    match (alg, oid, curve) {
        ("RS256", RSA_ENCRYPTION, _) => verify_rs256(spki_der, input, signature),
        ("ES256", EC_PUBLIC_KEY, Some(SECP256R1)) => {
            p256::PublicKey::from_sec1_bytes(key_bytes)
                .map_err(|_| bad_key("invalid P-256 point"))?;
            verify_ecdsa_ring(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                key_bytes,
                input,
                signature,
            )
        }
        ("ES384", EC_PUBLIC_KEY, Some(SECP384R1)) => {
            p384::PublicKey::from_sec1_bytes(key_bytes)
                .map_err(|_| bad_key("invalid P-384 point"))?;
            verify_ecdsa_ring(
                &ring::signature::ECDSA_P384_SHA384_FIXED,
                key_bytes,
                input,
                signature,
            )
        }
        ("ES512", EC_PUBLIC_KEY, Some(SECP521R1)) => {
            let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                .map_err(|_| bad_key("invalid P-521 point"))?;
            verify_ecdsa::<p521::ecdsa::Signature, _>(&key, input, signature)
        }
        ("EdDSA", ED25519, _) => verify_ed25519(key_bytes, input, signature),
        _ => Err(JwsError::BadSignatureAlgorithm(alg.to_owned())),
    }
}

/// RS256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 3.3); the signature is exactly the
/// modulus length (RFC 8017 8.2.2 step 1).
fn verify_rs256(spki_der: &[u8], input: &[u8], signature: &[u8]) -> Result<(), JwsError> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    use signature::Verifier;
    let key = rsa::RsaPublicKey::from_public_key_der(spki_der)
        .map_err(|e| bad_key(format!("RSA key: {e}")))?;
    if signature.len() != key.size() {
        return Err(JwsError::BadSignature);
    }
    let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| JwsError::BadSignature)?;
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
        .verify(input, &sig)
        .map_err(|_| JwsError::BadSignature)
}

/// ECDSA: the JWS signature is the fixed-size big-endian R || S (RFC 7518 3.4), not DER;
/// `from_slice` refuses any other length and zero scalars.
fn verify_ecdsa<S, K>(key: &K, input: &[u8], signature: &[u8]) -> Result<(), JwsError>
where
    S: for<'a> TryFrom<&'a [u8]>,
    K: signature::Verifier<S>,
{
    let sig = S::try_from(signature).map_err(|_| JwsError::BadSignature)?;
    key.verify(input, &sig).map_err(|_| JwsError::BadSignature)
}

/// ES256/ES384 with ring: every ACME request is verified, and ring's assembly P-256/P-384
/// costs a fraction of the pure-Rust arithmetic (docs/PEERS.md: `p256` field arithmetic was
/// 17% of the server's CPU under load). The point is checked first with the RustCrypto
/// crate, so a bad key is still `badPublicKey`, not a bad signature. `*_FIXED` takes exactly
/// the R || S form of RFC 7518 3.4 and refuses any other length.
fn verify_ecdsa_ring(
    alg: &'static ring::signature::EcdsaVerificationAlgorithm,
    point: &[u8],
    input: &[u8],
    signature: &[u8],
) -> Result<(), JwsError> {
    ring::signature::UnparsedPublicKey::new(alg, point)
        .verify(input, signature)
        .map_err(|_| JwsError::BadSignature)
}

/// EdDSA with Ed25519 (RFC 8037 3.1). `verify_strict` refuses small-order keys and
/// non-canonical signatures (RFC 8032 5.1.7), so one message has one valid signature form.
fn verify_ed25519(key: &[u8], input: &[u8], signature: &[u8]) -> Result<(), JwsError> {
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| bad_key("Ed25519 key must be 32 octets"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| bad_key("invalid Ed25519 point"))?;
    let sig =
        ed25519_dalek::Signature::from_slice(signature).map_err(|_| JwsError::BadSignature)?;
    key.verify_strict(input, &sig)
        .map_err(|_| JwsError::BadSignature)
}

#[cfg(test)]
pub(super) mod tests_support {
    /// SPKI for a P-521 point, which `from_jwk` (key policy) never produces.
    pub(in crate::acme::jws) fn ec_spki_p521(point: &[u8]) -> Vec<u8> {
        let curve = super::SECP521R1;
        super::encode_spki(super::EC_PUBLIC_KEY, Some((&curve).into()), point).expect("P-521 SPKI")
    }
}
