//! The public key in a PEM file an operator hands us (`hanko admin block-key`): a public
//! key, a private key (the public key is derived from it), a certificate or a CSR. Nothing
//! is verified, not even a signature: a reported key is blocked whatever wraps it
//! (CP 4.9.12). The result is the canonical SubjectPublicKeyInfo
//! (`policy::keys::canonical_spki`), the form the blocked-keys list is keyed by.

use crate::policy::keys::canonical_spki;
use der::asn1::{BitStringRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode};
use pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use x509_cert::request::CertReq;
use x509_cert::Certificate;

const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct KeyFileError {
    pub detail: String,
}

fn bad(detail: impl Into<String>) -> KeyFileError {
    KeyFileError {
        detail: detail.into(),
    }
}

/// SEC1 ECPrivateKey (RFC 5915 3), read only to learn the curve: `p256`/`p384` accept a
/// scalar of the other curve's length when no public key is embedded.
#[derive(der::Sequence)]
struct EcPrivateKey<'a> {
    version: u8,
    private_key: OctetStringRef<'a>,
    #[asn1(context_specific = "0", optional = "true")]
    parameters: Option<ObjectIdentifier>,
    #[asn1(context_specific = "1", optional = "true")]
    public_key: Option<BitStringRef<'a>>,
}

/// The one public key in a PEM file. Blocks of other kinds (`EC PARAMETERS`, …) are
/// skipped; several blocks are fine when they all hold the same key (a certificate with
/// its private key), an error when they hold different ones (which one was meant?).
pub fn public_key_from_pem(pem: &[u8]) -> Result<Vec<u8>, KeyFileError> {
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for (index, block) in x509_parser::pem::Pem::iter_from_buffer(pem).enumerate() {
        let block = block.map_err(|e| bad(format!("PEM block {} is not valid: {e}", index + 1)))?;
        labels.push(block.label.clone());
        let Some(spki) = spki_of_block(&block.label, &block.contents)
            .map_err(|e| bad(format!("{} (PEM block {}): {e}", block.label, index + 1)))?
        else {
            continue;
        };
        let spki = canonical_spki(&spki).map_err(|e| bad(e.detail))?;
        if !found.contains(&spki) {
            found.push(spki);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 if labels.is_empty() => Err(bad("no PEM block found (expected -----BEGIN …-----)")),
        0 => Err(bad(format!(
            "no public key, private key, certificate or certificate request found (PEM blocks: {})",
            labels.join(", ")
        ))),
        n => Err(bad(format!(
            "the file holds {n} different keys; give a file with one key"
        ))),
    }
}

/// The SPKI in one PEM block, `None` for labels that hold no key.
fn spki_of_block(label: &str, der: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let spki = match label {
        "PUBLIC KEY" => spki::SubjectPublicKeyInfoRef::from_der(der)
            .and_then(|s| s.to_der())
            .map_err(|e| e.to_string())?,
        "RSA PUBLIC KEY" => rsa::RsaPublicKey::from_pkcs1_der(der)
            .map_err(|e| e.to_string())
            .and_then(|k| rsa_spki(&k))?,
        "PRIVATE KEY" => pkcs8_public_key(der)?,
        "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|e| e.to_string())
            .and_then(|k| rsa_spki(&k.to_public_key()))?,
        "EC PRIVATE KEY" => sec1_public_key(der)?,
        "CERTIFICATE" => Certificate::from_der(der)
            .and_then(|c| c.tbs_certificate.subject_public_key_info.to_der())
            .map_err(|e| e.to_string())?,
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => CertReq::from_der(der)
            .and_then(|r| r.info.public_key.to_der())
            .map_err(|e| e.to_string())?,
        "ENCRYPTED PRIVATE KEY" => {
            return Err("encrypted private keys are not read; give the public key \
                        (openssl pkey -pubout) or the certificate instead"
                .to_string())
        }
        _ => return Ok(None),
    };
    Ok(Some(spki))
}

fn rsa_spki(key: &rsa::RsaPublicKey) -> Result<Vec<u8>, String> {
    key.to_public_key_der()
        .map(|d| d.into_vec())
        .map_err(|e| e.to_string())
}

/// PKCS#8 (RFC 5958): RSA, P-256, P-384 or Ed25519.
fn pkcs8_public_key(der: &[u8]) -> Result<Vec<u8>, String> {
    let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|e| e.to_string())?;
    let oid = info.algorithm.oid;
    let curve = info
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let spki = match (oid, curve) {
        (RSA_ENCRYPTION, _) => rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|e| e.to_string())
            .and_then(|k| rsa_spki(&k.to_public_key()))?,
        (EC_PUBLIC_KEY, Some(SECP256R1)) => p256::SecretKey::from_pkcs8_der(der)
            .map_err(|e| e.to_string())?
            .public_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?
            .into_vec(),
        (EC_PUBLIC_KEY, Some(SECP384R1)) => p384::SecretKey::from_pkcs8_der(der)
            .map_err(|e| e.to_string())?
            .public_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?
            .into_vec(),
        (ED25519, _) => ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map_err(|e| e.to_string())?
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?
            .into_vec(),
        (oid, curve) => {
            return Err(format!(
                "private key algorithm {oid}{} is not supported",
                curve.map(|c| format!(" (curve {c})")).unwrap_or_default()
            ))
        }
    };
    Ok(spki)
}

/// SEC1 (RFC 5915): P-256 or P-384, named by its parameters.
fn sec1_public_key(der: &[u8]) -> Result<Vec<u8>, String> {
    let parsed = EcPrivateKey::from_der(der).map_err(|e| e.to_string())?;
    if parsed.version != 1 {
        return Err(format!(
            "ECPrivateKey version {} (RFC 5915: 1)",
            parsed.version
        ));
    }
    // RFC 5915 3: parameters SHOULD be present (OpenSSL writes them; RustCrypto does not);
    // without them the curve follows from the fixed length of the private key octets.
    let curve = match (parsed.parameters, parsed.private_key.as_bytes().len()) {
        (Some(curve), _) => curve,
        (None, 32) => SECP256R1,
        (None, 48) => SECP384R1,
        (None, n) => {
            return Err(format!(
                "EC private key of {n} octets without curve parameters"
            ))
        }
    };
    let encoded = match curve {
        SECP256R1 => p256::SecretKey::from_sec1_der(der)
            .map_err(|e| e.to_string())?
            .public_key()
            .to_public_key_der(),
        SECP384R1 => p384::SecretKey::from_sec1_der(der)
            .map_err(|e| e.to_string())?
            .public_key()
            .to_public_key_der(),
        other => return Err(format!("EC curve {other} is not supported")),
    };
    // Derived from the scalar; an embedded public key, if any, was checked against it by
    // p256/p384.
    encoded.map(|d| d.into_vec()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};

    fn rsa_key() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("keygen")
    }

    fn spki_of(key: &rsa::RsaPrivateKey) -> Vec<u8> {
        key.to_public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec()
    }

    fn read(pem: &str) -> Result<Vec<u8>, KeyFileError> {
        public_key_from_pem(pem.as_bytes())
    }

    #[test]
    fn rsa_public_and_private_key_forms() {
        let key = rsa_key();
        let spki = spki_of(&key);
        let public = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        assert_eq!(read(&public), Ok(spki.clone()), "PUBLIC KEY");
        let pkcs1_public = key
            .to_public_key()
            .to_pkcs1_pem(LineEnding::LF)
            .expect("pem");
        assert_eq!(read(&pkcs1_public), Ok(spki.clone()), "RSA PUBLIC KEY");
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).expect("pem");
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(read(&pkcs8), Ok(spki.clone()), "PRIVATE KEY");
        let pkcs1 = key.to_pkcs1_pem(LineEnding::LF).expect("pem");
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert_eq!(read(&pkcs1), Ok(spki), "RSA PRIVATE KEY");
    }

    #[test]
    fn ec_and_ed25519_private_keys() {
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ED25519,
        ] {
            let key = rcgen::KeyPair::generate_for(alg).expect("keygen");
            assert_eq!(
                read(&key.serialize_pem()),
                Ok(key.public_key_der()),
                "PKCS#8 {alg:?}"
            );
        }
        // SEC1, as `openssl ecparam -genkey` writes it: EC PARAMETERS first.
        let p256 = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let sec1 = p256.to_sec1_pem(LineEnding::LF).expect("pem");
        let with_params = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
            *sec1
        );
        let spki = p256
            .public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        assert_eq!(read(&with_params), Ok(spki), "EC PRIVATE KEY P-256");
        let p384 = p384::SecretKey::random(&mut rand::rngs::OsRng);
        let sec1 = p384.to_sec1_pem(LineEnding::LF).expect("pem");
        let spki = p384
            .public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        assert_eq!(read(&sec1), Ok(spki), "EC PRIVATE KEY P-384");
    }

    fn openssl(args: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Keys as OpenSSL writes them (SEC1 with curve parameters, after an EC PARAMETERS
    /// block), compared with OpenSSL's own SubjectPublicKeyInfo of the same key.
    #[test]
    fn openssl_ec_private_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        for curve in ["prime256v1", "secp384r1"] {
            let path = dir.path().join(format!("{curve}.pem"));
            let path = path.to_str().expect("utf-8 path");
            openssl(&["ecparam", "-name", curve, "-genkey", "-out", path]);
            let pem = std::fs::read_to_string(path).expect("read");
            assert!(pem.contains("BEGIN EC PARAMETERS") && pem.contains("BEGIN EC PRIVATE KEY"));
            let spki = openssl(&["pkey", "-in", path, "-pubout", "-outform", "DER"]);
            assert_eq!(read(&pem), Ok(spki), "{curve}");
        }
    }

    #[test]
    fn certificate_and_certificate_request() {
        let key = rcgen::KeyPair::generate().expect("keygen");
        let params =
            rcgen::CertificateParams::new(vec!["www.hanko-ci.com".to_string()]).expect("params");
        let csr = params
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("pem");
        assert!(csr.contains("BEGIN CERTIFICATE REQUEST"));
        assert_eq!(read(&csr), Ok(key.public_key_der()), "CERTIFICATE REQUEST");
        let cert = params.self_signed(&key).expect("cert").pem();
        assert_eq!(read(&cert), Ok(key.public_key_der()), "CERTIFICATE");
        // A certificate with its own private key: one key, fine.
        let both = format!("{cert}{}", key.serialize_pem());
        assert_eq!(read(&both), Ok(key.public_key_der()));
    }

    #[test]
    fn two_different_keys_are_refused() {
        let a = rcgen::KeyPair::generate().expect("keygen");
        let b = rcgen::KeyPair::generate().expect("keygen");
        let err =
            read(&format!("{}{}", a.public_key_pem(), b.serialize_pem())).expect_err("two keys");
        assert!(err.detail.contains("2 different keys"), "{err}");
    }

    #[test]
    fn files_without_a_usable_key_are_refused_with_reasons() {
        let err = read("just some text\n").expect_err("no PEM");
        assert!(err.detail.contains("no PEM block"), "{err}");
        let err =
            read("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")
                .expect_err("no key");
        assert!(err.detail.contains("PEM blocks: EC PARAMETERS"), "{err}");
        let err = read("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .expect_err("bad cert");
        assert!(err.detail.starts_with("CERTIFICATE (PEM block 1)"), "{err}");
        let err = read(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .expect_err("encrypted");
        assert!(err.detail.contains("encrypted private keys"), "{err}");
    }
}
