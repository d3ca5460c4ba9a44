//! The ASN.1 of RFC 6960 4.1.1 and 4.2.1 as `der` structures. Hand-written rather than the
//! `x509-ocsp` crate: it is not in our vetted dependency set, and the dozen structures we
//! need are short; CHOICEs with IMPLICIT tags (CertStatus, ResponderID) are kept as `Any`
//! and built/inspected by hand, where the derive macros are least obvious.

use der::asn1::{Any, BitString, GeneralizedTime, Int, ObjectIdentifier, OctetString};
use der::{Enumerated, Sequence};
use spki::AlgorithmIdentifierOwned;

/// id-pkix-ocsp-basic (RFC 6960 4.2.1).
pub const ID_PKIX_OCSP_BASIC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-sha1 (RFC 5019 2.1.1: CertID hashes are SHA-1).
pub const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// id-sha256 (RFC 5758), accepted in requests too.
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// OCSPResponseStatus (RFC 6960 4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enumerated)]
#[repr(u32)]
pub enum OcspResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
    SigRequired = 5,
    Unauthorized = 6,
}

/// CertID (RFC 6960 4.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct CertId {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub issuer_name_hash: OctetString,
    pub issuer_key_hash: OctetString,
    pub serial_number: Int,
}

/// Request (RFC 6960 4.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct Request {
    pub req_cert: CertId,
    #[asn1(context_specific = "0", optional = "true")]
    pub single_request_extensions: Option<Any>,
}

/// TBSRequest (RFC 6960 4.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TbsRequest {
    #[asn1(context_specific = "0", optional = "true")]
    pub version: Option<u8>,
    #[asn1(context_specific = "1", optional = "true")]
    pub requestor_name: Option<Any>,
    pub request_list: Vec<Request>,
    #[asn1(context_specific = "2", optional = "true")]
    pub request_extensions: Option<Any>,
}

/// OCSPRequest (RFC 6960 4.1.1). A signature, if any, is ignored (CP 4.9.9: requests need
/// not be signed; RFC 5019 2.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct OcspRequest {
    pub tbs_request: TbsRequest,
    #[asn1(context_specific = "0", optional = "true")]
    pub optional_signature: Option<Any>,
}

/// ResponseBytes (RFC 6960 4.2.1).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct ResponseBytes {
    pub response_type: ObjectIdentifier,
    pub response: OctetString,
}

/// OCSPResponse (RFC 6960 4.2.1).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct OcspResponse {
    pub response_status: OcspResponseStatus,
    #[asn1(context_specific = "0", optional = "true")]
    pub response_bytes: Option<ResponseBytes>,
}

/// SingleResponse (RFC 6960 4.2.1); `cert_status` is the CertStatus CHOICE's TLV.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SingleResponse {
    pub cert_id: CertId,
    pub cert_status: Any,
    pub this_update: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true")]
    pub next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", optional = "true")]
    pub single_extensions: Option<Any>,
}

/// ResponseData (RFC 6960 4.2.1); `responder_id` is the ResponderID CHOICE's TLV.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct ResponseData {
    #[asn1(context_specific = "0", optional = "true")]
    pub version: Option<u8>,
    pub responder_id: Any,
    pub produced_at: GeneralizedTime,
    pub responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", optional = "true")]
    pub response_extensions: Option<Any>,
}

/// BasicOCSPResponse (RFC 6960 4.2.1); `certs` holds whole DER certificates.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct BasicOcspResponse {
    pub tbs_response_data: ResponseData,
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
    #[asn1(context_specific = "0", optional = "true")]
    pub certs: Option<Vec<Any>>,
}
