//! Test helpers: CSRs built field by field (for the malformed cases rcgen will not make)
//! and from rcgen (for the ordinary case, from an independent implementation).

use const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME;
use der::asn1::{Any, Ia5String, OctetString, SetOfVec};
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};

const EXTENSION_REQUEST: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");

type SignFn = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// A key able to sign a CSR.
pub struct TestKey {
    pub algorithm: AlgorithmIdentifierOwned,
    pub spki_der: Vec<u8>,
    pub sign: SignFn,
}

pub fn p256_key() -> TestKey {
    use crate::issuance::signer::{software::*, Signer};
    let signer = SoftwareSigner::generate(KeyKind::EcdsaP256).expect("key");
    TestKey {
        algorithm: signer.algorithm(),
        spki_der: signer.public_key_der(),
        sign: Box::new(move |m| signer.sign(m).expect("sign")),
    }
}

/// An RSA key of any size (the software signer refuses < 2048; tests need 1024 too).
pub fn rsa_key(bits: usize) -> TestKey {
    use pkcs8::EncodePublicKey;
    use signature::{SignatureEncoding, Signer};
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).expect("rsa");
    let spki_der = key
        .to_public_key()
        .to_public_key_der()
        .expect("spki")
        .into_vec();
    let signing = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
    TestKey {
        algorithm: AlgorithmIdentifierOwned {
            oid: crate::issuance::signer::software::SHA256_WITH_RSA,
            parameters: Some(der::asn1::AnyRef::NULL.into()),
        },
        spki_der,
        sign: Box::new(move |m| signing.sign(m).to_vec()),
    }
}

pub fn dns(name: &str) -> GeneralName {
    GeneralName::DnsName(Ia5String::new(name).expect("ascii"))
}

pub fn san_extension(names: Vec<GeneralName>) -> Extension {
    Extension {
        extn_id: ID_CE_SUBJECT_ALT_NAME,
        critical: false,
        extn_value: OctetString::new(SubjectAltName(names).to_der().expect("san")).expect("os"),
    }
}

/// Build and sign a CSR. `version` other than 0 is patched into the encoding before
/// signing (x509-cert cannot express it).
pub fn build_csr(key: &TestKey, subject: Name, extensions: Vec<Extension>, version: u8) -> Vec<u8> {
    let mut attributes = SetOfVec::new();
    if !extensions.is_empty() {
        let value = Any::encode_from(&extensions).expect("extensions");
        let values = SetOfVec::try_from(vec![value]).expect("set");
        attributes
            .insert(Attribute {
                oid: EXTENSION_REQUEST,
                values,
            })
            .expect("attr");
    }
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key: SubjectPublicKeyInfoOwned::from_der(&key.spki_der).expect("spki"),
        attributes,
    };
    let mut info_der = info.to_der().expect("info");
    if version != 0 {
        let mut reader = der::SliceReader::new(&info_der).expect("reader");
        let header = <der::Header as Decode>::decode(&mut reader).expect("header");
        let header_len = usize::try_from(header.encoded_len().expect("len")).expect("usize");
        // header, then INTEGER 02 01 00: patch the value octet.
        assert_eq!(&info_der[header_len..header_len + 3], &[2, 1, 0]);
        info_der[header_len + 2] = version;
    }
    let signature = (key.sign)(&info_der);
    let mut body = info_der;
    body.extend(key.algorithm.to_der().expect("alg"));
    body.extend(
        der::asn1::BitString::from_bytes(&signature)
            .expect("bits")
            .to_der()
            .expect("bits"),
    );
    let header = der::Header::new(
        der::Tag::Sequence,
        der::Length::try_from(body.len()).expect("len"),
    )
    .expect("header");
    let mut out = header.to_der().expect("header");
    out.extend(body);
    if version == 0 {
        CertReq::from_der(&out).expect("well-formed CSR");
    }
    out
}

pub fn cn(name: &str) -> Name {
    crate::issuance::tbs::build_name(&[(const_oid::db::rfc4519::COMMON_NAME, name)]).expect("name")
}

pub fn empty_name() -> Name {
    x509_cert::name::RdnSequence(Vec::new())
}

/// A CSR from rcgen (P-256) for `names`, CN = first name; also returns rcgen's SPKI.
pub fn rcgen_csr(names: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    let mut dn = rcgen::DistinguishedName::new();
    if let Some(first) = names.first() {
        dn.push(rcgen::DnType::CommonName, *first);
    }
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).expect("csr");
    (csr.der().to_vec(), key.public_key_der())
}

pub fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}
