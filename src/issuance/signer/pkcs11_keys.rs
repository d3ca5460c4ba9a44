//! Key objects on the token: finding a key pair by label, checking that the private key
//! can never leave the token, building the SubjectPublicKeyInfo from PKCS#11 attributes,
//! and the templates of the key pairs the ceremony generates.

use super::{OpError, SignerError, MIN_RSA_BITS, SECP256R1, SECP384R1};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use pkcs8::EncodePublicKey;

/// Key pairs the ceremony can generate (BR 6.1.5; CPS 6.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA with this modulus size: 2048, 3072 or 4096.
    Rsa(u32),
    EcP256,
    EcP384,
}

impl std::str::FromStr for KeySpec {
    type Err = String;

    /// The ceremony's names: `p384`, `p256`, `rsa4096`, `rsa3072`, `rsa2048`.
    fn from_str(s: &str) -> Result<KeySpec, String> {
        match s {
            "p256" => Ok(KeySpec::EcP256),
            "p384" => Ok(KeySpec::EcP384),
            "rsa2048" => Ok(KeySpec::Rsa(2048)),
            "rsa3072" => Ok(KeySpec::Rsa(3072)),
            "rsa4096" => Ok(KeySpec::Rsa(4096)),
            other => Err(format!(
                "unknown key type {other:?} (p384, p256, rsa4096, rsa3072 or rsa2048)"
            )),
        }
    }
}

impl std::fmt::Display for KeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySpec::Rsa(bits) => write!(f, "RSA-{bits}"),
            KeySpec::EcP256 => f.write_str("ECDSA P-256"),
            KeySpec::EcP384 => f.write_str("ECDSA P-384"),
        }
    }
}

pub(super) fn label_template(class: ObjectClass, label: &str) -> [Attribute; 2] {
    [
        Attribute::Class(class),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

pub(super) fn find_private_key(session: &Session, label: &str) -> Result<ObjectHandle, OpError> {
    let found = session.find_objects(&label_template(ObjectClass::PRIVATE_KEY, label))?;
    match found.as_slice() {
        [handle] => Ok(*handle),
        [] => Err(OpError::Other(SignerError::Key(format!(
            "no private key labelled {label:?} on the token"
        )))),
        more => Err(OpError::Other(SignerError::Key(format!(
            "{} private keys are labelled {label:?}; key labels must be unique",
            more.len()
        )))),
    }
}

/// A CA private key must never have been extractable in the clear (CPS 6.2, DESIGN
/// invariant 8): CKA_SENSITIVE true and CKA_EXTRACTABLE false, and it must be able to sign.
pub(super) fn check_private_key(
    session: &Session,
    key: ObjectHandle,
    label: &str,
) -> Result<(), OpError> {
    let attrs = session.get_attributes(
        key,
        &[
            AttributeType::Sensitive,
            AttributeType::Extractable,
            AttributeType::Sign,
        ],
    )?;
    let (mut sensitive, mut extractable, mut sign) = (false, true, false);
    for attr in attrs {
        match attr {
            Attribute::Sensitive(v) => sensitive = v,
            Attribute::Extractable(v) => extractable = v,
            Attribute::Sign(v) => sign = v,
            _ => {}
        }
    }
    if !sensitive || extractable || !sign {
        return Err(OpError::Other(SignerError::Key(format!(
            "private key {label:?} must be CKA_SENSITIVE, not CKA_EXTRACTABLE and CKA_SIGN \
             (has sensitive={sensitive}, extractable={extractable}, sign={sign})"
        ))));
    }
    Ok(())
}

/// DER SubjectPublicKeyInfo of the pair: from the public key object with the same label,
/// else from the private key's public attributes (RSA modulus and exponent).
pub(super) fn public_key_spki(
    session: &Session,
    private: ObjectHandle,
    label: &str,
) -> Result<Vec<u8>, OpError> {
    let public = session.find_objects(&label_template(ObjectClass::PUBLIC_KEY, label))?;
    let object = match public.as_slice() {
        [handle] => *handle,
        [] => private,
        more => {
            return Err(OpError::Other(SignerError::Key(format!(
                "{} public keys are labelled {label:?}; key labels must be unique",
                more.len()
            ))))
        }
    };
    let attrs = session.get_attributes(
        object,
        &[
            AttributeType::KeyType,
            AttributeType::Modulus,
            AttributeType::PublicExponent,
            AttributeType::EcParams,
            AttributeType::EcPoint,
        ],
    )?;
    Ok(spki_from_attributes(attrs, label)?)
}

/// Build the SPKI from PKCS#11 attributes: RSA from CKA_MODULUS/CKA_PUBLIC_EXPONENT; EC
/// from CKA_EC_PARAMS (namedCurve) and CKA_EC_POINT (a DER OCTET STRING around the
/// uncompressed point, PKCS#11 2.40 2.3.3; a bare point is accepted too).
pub(super) fn spki_from_attributes(
    attrs: Vec<Attribute>,
    label: &str,
) -> Result<Vec<u8>, SignerError> {
    let key_err = |m: String| SignerError::Key(format!("key {label:?}: {m}"));
    let (mut key_type, mut modulus, mut exponent, mut params, mut point) =
        (None, None, None, None, None);
    for attr in attrs {
        match attr {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Modulus(v) => modulus = Some(v),
            Attribute::PublicExponent(v) => exponent = Some(v),
            Attribute::EcParams(v) => params = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            _ => {}
        }
    }
    match (key_type, modulus, exponent, params, point) {
        (Some(KeyType::RSA), Some(n), Some(e), _, _) => {
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&n),
                rsa::BigUint::from_bytes_be(&e),
            )
            .map_err(|e| key_err(format!("RSA public key: {e}")))?;
            let der = key
                .to_public_key_der()
                .map_err(|e| key_err(e.to_string()))?;
            Ok(der.into_vec())
        }
        (Some(KeyType::EC), _, _, Some(params), Some(point)) => {
            ec_spki(&params, &point).map_err(key_err)
        }
        (Some(KeyType::EC), _, _, _, None) => Err(key_err(
            "no public key object with this label and the private key carries no EC point"
                .to_string(),
        )),
        (Some(other), ..) => Err(key_err(format!("unsupported key type {other}"))),
        (None, ..) => Err(key_err("the token did not report CKA_KEY_TYPE".to_string())),
    }
}

fn ec_spki(params: &[u8], point: &[u8]) -> Result<Vec<u8>, String> {
    let curve = ObjectIdentifier::from_der(params)
        .map_err(|_| "CKA_EC_PARAMS is not a namedCurve OID".to_string())?;
    let wrapped = OctetString::from_der(point).ok();
    let raw = match &wrapped {
        Some(octets) if octets.as_bytes().first() == Some(&0x04) => octets.as_bytes(),
        _ => point,
    };
    let der = if curve == SECP256R1 {
        p256::PublicKey::from_sec1_bytes(raw)
            .map_err(|_| "CKA_EC_POINT is not a valid P-256 point".to_string())?
            .to_public_key_der()
    } else if curve == SECP384R1 {
        p384::PublicKey::from_sec1_bytes(raw)
            .map_err(|_| "CKA_EC_POINT is not a valid P-384 point".to_string())?
            .to_public_key_der()
    } else {
        return Err(format!(
            "unsupported EC curve {curve} (P-256 and P-384 only)"
        ));
    };
    der.map(|d| d.into_vec()).map_err(|e| e.to_string())
}

/// Templates for C_GenerateKeyPair (PKCS#11 2.40 4.8/4.9 attribute tables).
pub(super) fn key_templates(
    label: &str,
    spec: KeySpec,
) -> Result<(Mechanism<'static>, Vec<Attribute>, Vec<Attribute>), SignerError> {
    let id: [u8; 16] = rand::random();
    let common = |extra: Vec<Attribute>| {
        let mut attrs = vec![
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        attrs.extend(extra);
        attrs
    };
    let private = common(vec![
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ]);
    let (mechanism, public) = match spec {
        KeySpec::Rsa(bits) => (Mechanism::RsaPkcsKeyPairGen, common(rsa_public(bits)?)),
        KeySpec::EcP256 | KeySpec::EcP384 => {
            let curve = if spec == KeySpec::EcP256 {
                SECP256R1
            } else {
                SECP384R1
            };
            let params = curve
                .to_der()
                .map_err(|e| SignerError::Key(format!("EC parameters: {e}")))?;
            let public = common(vec![
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::EcParams(params),
            ]);
            (Mechanism::EccKeyPairGen, public)
        }
    };
    Ok((mechanism, public, private))
}

/// The RSA public half's own attributes: size (2048, 3072 or 4096) and exponent 65537.
fn rsa_public(bits: u32) -> Result<Vec<Attribute>, SignerError> {
    if ![2048, 3072, 4096].contains(&bits) {
        return Err(SignerError::Key(format!(
            "RSA keys are 2048, 3072 or 4096 bits, not {bits}"
        )));
    }
    let bits = usize::try_from(bits)
        .ok()
        .and_then(|b| cryptoki::types::Ulong::try_from(b).ok())
        .ok_or_else(|| SignerError::Key("RSA size out of range".to_string()))?;
    Ok(vec![
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::ModulusBits(bits),
        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
    ])
}

/// The signature algorithms an HSM key signs with (matching the software signer's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyAlgorithm {
    /// sha256WithRSAEncryption via CKM_SHA256_RSA_PKCS.
    Rsa,
    /// ecdsa-with-SHA256: SHA-256 here, CKM_ECDSA in the HSM.
    P256,
    /// ecdsa-with-SHA384: SHA-384 here, CKM_ECDSA in the HSM.
    P384,
}

impl KeyAlgorithm {
    pub(super) fn of_spki(spki_der: &[u8], label: &str) -> Result<KeyAlgorithm, SignerError> {
        use pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki_der) {
            let bits = key.n().bits();
            if bits < MIN_RSA_BITS || bits % 8 != 0 {
                return Err(SignerError::Key(format!(
                    "key {label:?}: RSA modulus of {bits} bits (BR 6.1.5: at least \
                     {MIN_RSA_BITS}, divisible by 8)"
                )));
            }
            return Ok(KeyAlgorithm::Rsa);
        }
        if p256::PublicKey::from_public_key_der(spki_der).is_ok() {
            return Ok(KeyAlgorithm::P256);
        }
        if p384::PublicKey::from_public_key_der(spki_der).is_ok() {
            return Ok(KeyAlgorithm::P384);
        }
        Err(SignerError::Key(format!(
            "key {label:?}: not an RSA, P-256 or P-384 key"
        )))
    }
}
