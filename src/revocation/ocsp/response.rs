//! OCSP responses (RFC 6960 4.2, RFC 5019 2.2, CP 7.3, BR 7.3): a BasicOCSPResponse with
//! one SingleResponse, responderID byKey, no nonce (pre-signed, RFC 5019 2.2.1) and no
//! singleExtensions (BR 7.3: in particular no reasonCode there; the reason is in
//! RevokedInfo).

use super::asn1::{
    BasicOcspResponse, CertId, OcspResponse, OcspResponseStatus, ResponseBytes, ResponseData,
    SingleResponse, ID_PKIX_OCSP_BASIC, ID_SHA1,
};
use super::request::IssuerHashes;
use super::OcspError;
use crate::core::Serial;
use crate::issuance::signer::Signer;
use chrono::{DateTime, Utc};
use der::asn1::{Any, BitString, GeneralizedTime, Int, OctetString};
use der::{Decode, Encode, Tag, TagNumber};
use sha1::{Digest, Sha1};
use spki::AlgorithmIdentifierOwned;
use std::sync::Arc;

/// What a response says about a serial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    /// revocationTime and the RFC 5280 CRLReason; None (unspecified) omits
    /// revocationReason (BR 7.2.2, CP 7.2.2).
    Revoked {
        at: DateTime<Utc>,
        reason: Option<i16>,
    },
}

impl CertStatus {
    /// `ocsp_responses.cert_status`.
    pub fn label(&self) -> &'static str {
        match self {
            CertStatus::Good => "good",
            CertStatus::Revoked { .. } => "revoked",
        }
    }
}

/// Who signs: the issuing CA key, or a delegated responder whose certificate goes in
/// `certs` (RFC 6960 4.2.2.2).
#[derive(Clone)]
pub struct ResponseSigner {
    pub signer: Arc<dyn Signer>,
    /// `ocsp_responses.responder_id`: `issuer` or the `ocsp_responders.id`.
    pub id: String,
    /// The delegated responder's certificate; None when the issuer signs.
    pub certificate_der: Option<Vec<u8>>,
    /// ResponderID byKey: SHA-1 of the signer's subjectPublicKey BIT STRING value.
    key_hash: Vec<u8>,
}

impl ResponseSigner {
    pub fn new(
        signer: Arc<dyn Signer>,
        id: String,
        certificate_der: Option<Vec<u8>>,
    ) -> Result<ResponseSigner, OcspError> {
        let spki = spki::SubjectPublicKeyInfoOwned::from_der(&signer.public_key_der())
            .map_err(|e| OcspError::Encoding(format!("signer public key: {e}")))?;
        let key_hash = Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec();
        Ok(ResponseSigner {
            signer,
            id,
            certificate_der,
            key_hash,
        })
    }
}

/// A signed response and the times the HTTP headers and the schedule need.
#[derive(Clone, Debug)]
pub struct SignedResponse {
    pub der: Vec<u8>,
    pub status: CertStatus,
    pub this_update: DateTime<Utc>,
    pub next_update: DateTime<Utc>,
    pub produced_at: DateTime<Utc>,
}

fn enc(what: &'static str) -> impl Fn(der::Error) -> OcspError {
    move |e| OcspError::Encoding(format!("{what}: {e}"))
}

pub(crate) fn generalized(at: DateTime<Utc>) -> Result<GeneralizedTime, OcspError> {
    let secs = u64::try_from(at.timestamp())
        .map_err(|_| OcspError::Encoding("time before 1970".to_string()))?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs)).map_err(enc("time"))
}

/// The SHA-1 CertID of `serial` under `issuer` (RFC 5019 2.2.1).
pub fn cert_id(issuer: &IssuerHashes, serial: &Serial) -> Result<CertId, OcspError> {
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: ID_SHA1,
            parameters: Some(Any::from(der::asn1::Null)),
        },
        issuer_name_hash: OctetString::new(issuer.sha1_name()).map_err(enc("name hash"))?,
        issuer_key_hash: OctetString::new(issuer.sha1_key()).map_err(enc("key hash"))?,
        serial_number: Int::new(serial.as_bytes()).map_err(enc("serial"))?,
    })
}

/// CertStatus CHOICE (RFC 6960 4.2.1): good [0] IMPLICIT NULL, revoked [1] IMPLICIT
/// RevokedInfo { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }.
fn cert_status_der(status: &CertStatus) -> Result<Any, OcspError> {
    match status {
        CertStatus::Good => Any::new(context(0, false), Vec::new()).map_err(enc("good")),
        CertStatus::Revoked { at, reason } => {
            let mut body = generalized(*at)?.to_der().map_err(enc("revocationTime"))?;
            // unspecified (0) is never encoded (BR 7.2.2); codes are below 128.
            if let Some(code) = reason.filter(|c| (1..=10).contains(c)) {
                body.extend([0xa0, 0x03, 0x0a, 0x01, code as u8]);
            }
            Any::new(context(1, true), body).map_err(enc("revoked"))
        }
    }
}

fn context(number: u8, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber::new(number),
    }
}

/// ResponderID byKey [2] EXPLICIT KeyHash (RFC 6960 4.2.1; RFC 5019 2.2.3 prefers byKey).
fn responder_id(key_hash: &[u8]) -> Result<Any, OcspError> {
    let inner = OctetString::new(key_hash)
        .and_then(|o| o.to_der())
        .map_err(enc("responderID"))?;
    Any::new(context(2, true), inner).map_err(enc("responderID"))
}

/// Build and sign the response for `serial` (blocking: the signer may be an HSM).
/// thisUpdate = producedAt = `now`, nextUpdate = `now + validity` (CP 4.9.10).
pub fn sign(
    signer: &ResponseSigner,
    issuer: &IssuerHashes,
    serial: &Serial,
    status: CertStatus,
    now: DateTime<Utc>,
    validity: chrono::Duration,
) -> Result<SignedResponse, OcspError> {
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let next_update = now + validity;
    let data = ResponseData {
        version: None,
        responder_id: responder_id(&signer.key_hash)?,
        produced_at: generalized(now)?,
        responses: vec![SingleResponse {
            cert_id: cert_id(issuer, serial)?,
            cert_status: cert_status_der(&status)?,
            this_update: generalized(now)?,
            next_update: Some(generalized(next_update)?),
            single_extensions: None,
        }],
        response_extensions: None,
    };
    let tbs = data.to_der().map_err(enc("ResponseData"))?;
    let algorithm = signer.signer.algorithm();
    let signature = signer.signer.sign(&tbs)?;
    crate::issuance::verify_signature(
        &signer.signer.public_key_der(),
        &algorithm,
        &tbs,
        &signature,
    )
    .map_err(|e| OcspError::Encoding(format!("signer self-check failed: {e}")))?;
    let certs = match &signer.certificate_der {
        Some(der) => Some(vec![
            Any::from_der(der).map_err(enc("responder certificate"))?
        ]),
        None => None,
    };
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature).map_err(enc("signature"))?,
        certs,
    };
    let response = OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic.to_der().map_err(enc("BasicOCSPResponse"))?)
                .map_err(enc("responseBytes"))?,
        }),
    };
    Ok(SignedResponse {
        der: response.to_der().map_err(enc("OCSPResponse"))?,
        status,
        this_update: now,
        next_update,
        produced_at: now,
    })
}

/// An unsigned error response (RFC 6960 4.2.1): only the status.
pub fn error_response(status: OcspResponseStatus) -> Vec<u8> {
    // SEQUENCE { ENUMERATED status }: fixed five bytes, cannot fail.
    vec![0x30, 0x03, 0x0a, 0x01, status as u8]
}
