//! Unit tests: request parsing (including malformed input) and response encoding, parsed
//! back and verified. The schedule's own tests are in `schedule`.

use super::asn1::*;
use super::request::{self, IssuerHashes, RequestError};
use super::response::{self, CertStatus, ResponseSigner};
use crate::core::Serial;
use crate::issuance::devca;
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use der::asn1::{Any, Int};
use der::{Decode, Encode};

fn dev_issuer() -> (tempfile::TempDir, crate::issuance::Issuer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = devca::load_or_create(dir.path()).expect("dev hierarchy");
    (dir, h.intermediate.clone())
}

fn request_der(hashes: &IssuerHashes, serials: &[&Serial]) -> Vec<u8> {
    let request_list = serials
        .iter()
        .map(|s| Request {
            req_cert: response::cert_id(hashes, s).expect("cert id"),
            single_request_extensions: None,
        })
        .collect();
    OcspRequest {
        tbs_request: TbsRequest {
            version: None,
            requestor_name: None,
            request_list,
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .expect("encode")
}

#[test]
fn parses_a_single_sha1_request_by_post_and_get() {
    let (_d, issuer) = dev_issuer();
    let hashes = IssuerHashes::from_certificate_der(&issuer.certificate_der).expect("hashes");
    let serial = Serial::random();
    let der = request_der(&hashes, &[&serial]);
    assert_eq!(request::parse(&der, &hashes), Ok(serial.clone()));
    let std = base64::engine::general_purpose::STANDARD.encode(&der);
    let escaped = std
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D");
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
    for text in [&std, &escaped, &url_safe] {
        let decoded = request::decode_get(text).expect("decode");
        assert_eq!(
            request::parse(&decoded, &hashes),
            Ok(serial.clone()),
            "{text}"
        );
    }
}

#[test]
fn refuses_malformed_requests_and_other_issuers() {
    let (_d, issuer) = dev_issuer();
    let hashes = IssuerHashes::from_certificate_der(&issuer.certificate_der).expect("hashes");
    let (a, b) = (Serial::random(), Serial::random());
    let malformed = |r: Result<Serial, RequestError>| matches!(r, Err(RequestError::Malformed(_)));
    assert!(malformed(request::parse(b"", &hashes)));
    assert!(malformed(request::parse(b"\x30\x03\x02\x01", &hashes)));
    assert!(malformed(request::parse(&[0x30; 10_000], &hashes)));
    assert!(malformed(request::parse(
        &request_der(&hashes, &[&a, &b]),
        &hashes
    )));
    assert!(malformed(request::parse(
        &request_der(&hashes, &[]),
        &hashes
    )));
    let good = request_der(&hashes, &[&a]);
    assert!(malformed(request::parse(&good[..good.len() - 1], &hashes)));
    assert!(matches!(
        request::decode_get("%zz"),
        Err(RequestError::Malformed(_))
    ));
    assert!(matches!(
        request::decode_get("not base64!"),
        Err(RequestError::Malformed(_))
    ));
    // Another issuer's hashes.
    let (_d2, other) = dev_issuer();
    let other = IssuerHashes::from_certificate_der(&other.certificate_der).expect("hashes");
    assert_eq!(
        request::parse(&request_der(&other, &[&a]), &hashes),
        Err(RequestError::NotOurs)
    );
    // A negative serial, and one longer than any of ours.
    let mut id = response::cert_id(&hashes, &a).expect("id");
    id.serial_number = Int::new(&[0xff, 0x01]).expect("int");
    let neg = OcspRequest {
        tbs_request: TbsRequest {
            version: None,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id.clone(),
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    assert!(malformed(request::parse(
        &neg.to_der().expect("der"),
        &hashes
    )));
    let mut long = neg.clone();
    long.tbs_request.request_list[0].req_cert.serial_number = Int::new(&[0x01; 25]).expect("int");
    assert_eq!(
        request::parse(&long.to_der().expect("der"), &hashes),
        Err(RequestError::NotOurs)
    );
}

fn decode(der: &[u8]) -> BasicOcspResponse {
    let outer = OcspResponse::from_der(der).expect("OCSPResponse");
    assert_eq!(outer.response_status, OcspResponseStatus::Successful);
    let bytes = outer.response_bytes.expect("responseBytes");
    assert_eq!(bytes.response_type, ID_PKIX_OCSP_BASIC);
    BasicOcspResponse::from_der(bytes.response.as_bytes()).expect("basic")
}

#[test]
fn signed_responses_parse_back_and_verify() {
    let (_d, issuer) = dev_issuer();
    let hashes = IssuerHashes::from_certificate_der(&issuer.certificate_der).expect("hashes");
    let signer = ResponseSigner::new(issuer.signer.clone(), "issuer".into(), None).expect("signer");
    let serial = Serial::random();
    let now = Utc
        .with_ymd_and_hms(2026, 11, 21, 8, 0, 0)
        .single()
        .expect("t");
    let revoked_at = now - Duration::hours(2);
    for (status, expect_tag, reason_bytes) in [
        (CertStatus::Good, 0x80u8, None),
        (
            CertStatus::Revoked {
                at: revoked_at,
                reason: Some(1),
            },
            0xa1,
            Some(1u8),
        ),
        (
            CertStatus::Revoked {
                at: revoked_at,
                reason: None,
            },
            0xa1,
            None,
        ),
    ] {
        let signed = response::sign(
            &signer,
            &hashes,
            &serial,
            status.clone(),
            now,
            Duration::hours(72),
        )
        .expect("sign");
        assert_eq!(signed.next_update - signed.this_update, Duration::hours(72));
        let basic = decode(&signed.der);
        assert!(basic.certs.is_none());
        let data = &basic.tbs_response_data;
        assert!(data.response_extensions.is_none(), "no nonce");
        let [single] = data.responses.as_slice() else {
            panic!("one response")
        };
        assert!(
            single.single_extensions.is_none(),
            "no singleExtensions (no reasonCode)"
        );
        assert_eq!(
            single.cert_id,
            response::cert_id(&hashes, &serial).expect("id")
        );
        let status_der = single.cert_status.to_der().expect("der");
        assert_eq!(status_der[0], expect_tag);
        if let CertStatus::Revoked { .. } = status {
            let time = response::generalized(revoked_at)
                .expect("t")
                .to_der()
                .expect("der");
            assert!(status_der.windows(time.len()).any(|w| w == time.as_slice()));
            let reason = [0xa0, 0x03, 0x0a, 0x01];
            let has = status_der.windows(4).position(|w| w == reason);
            assert_eq!(has.map(|i| status_der[i + 4]), reason_bytes);
        }
        // byKey responder id = SHA-1 of the issuer key, and the signature verifies.
        let rid = data.responder_id.to_der().expect("der");
        assert_eq!(&rid[..4], &[0xa2, 0x16, 0x04, 0x14]);
        assert_eq!(&rid[4..], hashes.sha1_key());
        crate::issuance::verify_signature(
            &issuer.signer.public_key_der(),
            &basic.signature_algorithm,
            &data.to_der().expect("tbs"),
            basic.signature.raw_bytes(),
        )
        .expect("signature verifies");
    }
}

#[test]
fn delegated_responder_certificate_is_included() {
    let (_d, issuer) = dev_issuer();
    let hashes = IssuerHashes::from_certificate_der(&issuer.certificate_der).expect("hashes");
    let key = crate::issuance::signer::software::SoftwareSigner::generate(
        crate::issuance::signer::software::KeyKind::EcdsaP256,
    )
    .expect("key");
    use crate::issuance::signer::Signer;
    let now = Utc::now();
    let cert = crate::issuance::ocsp_responder_certificate(&issuer, &key.public_key_der(), now, 90)
        .expect("responder certificate");
    let signer = ResponseSigner::new(std::sync::Arc::new(key), "r1".into(), Some(cert.clone()))
        .expect("signer");
    let signed = response::sign(
        &signer,
        &hashes,
        &Serial::random(),
        CertStatus::Good,
        now,
        Duration::hours(8),
    )
    .expect("sign");
    let basic = decode(&signed.der);
    let certs = basic.certs.expect("certs");
    assert_eq!(certs, vec![Any::from_der(&cert).expect("any")]);
}

#[test]
fn error_responses_are_bare_statuses() {
    for status in [
        OcspResponseStatus::MalformedRequest,
        OcspResponseStatus::Unauthorized,
    ] {
        let der = response::error_response(status);
        let parsed = OcspResponse::from_der(&der).expect("parse");
        assert_eq!(parsed.response_status, status);
        assert!(parsed.response_bytes.is_none());
    }
}

/// Status rules against a real SQLite database: a precertificate-only serial is answered
/// as if issued, failed and unknown serials are not, future revocations are good until due.
#[tokio::test]
async fn status_rules_for_precertificates_failed_and_future_revocations() {
    use crate::storage::entities::{precertificate, revoked_certificate, serial};
    use crate::storage::queries as q;
    let (dir, issuer) = dev_issuer();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let storage = crate::storage::Storage::connect(&url, 2).await.expect("db");
    storage.migrate().await.expect("migrate");
    let now = Utc::now();
    let clock: std::sync::Arc<dyn crate::core::Clock> =
        std::sync::Arc::new(crate::core::SystemClock);
    let ocsp = super::Ocsp::new(
        storage.clone(),
        std::sync::Arc::new(crate::config::Config::default()),
        issuer,
        clock,
        std::sync::Arc::new(crate::metrics::Metrics::new()),
    )
    .expect("ocsp");
    let add = |hex: &str, status: &str, signed: bool| {
        let (hex, status) = (hex.to_string(), status.to_string());
        let storage = storage.clone();
        async move {
            q::insert_serial(
                storage.reader(),
                serial::Model {
                    serial: hex.clone(),
                    account_id: "a".into(),
                    order_id: "o".into(),
                    status,
                    created_at: now,
                    crl_shard: Some(0),
                    issuer_id: None,
                },
            )
            .await
            .expect("serial");
            q::insert_precertificate(
                storage.reader(),
                precertificate::Model {
                    serial: hex,
                    lint_der: vec![1],
                    der: signed.then(|| vec![2]),
                    created_at: now,
                    signed_at: signed.then_some(now),
                },
            )
            .await
            .expect("precert");
        }
    };
    let (pre, failed, unsigned) = (
        Serial::random().to_hex(),
        Serial::random().to_hex(),
        Serial::random().to_hex(),
    );
    add(&pre, "reserved", true).await;
    add(&failed, "failed", true).await;
    add(&unsigned, "reserved", false).await;
    assert_eq!(
        ocsp.status_of(&pre).await.expect("status"),
        Some(CertStatus::Good)
    );
    assert_eq!(ocsp.status_of(&failed).await.expect("status"), None);
    assert_eq!(ocsp.status_of(&unsigned).await.expect("status"), None);
    assert_eq!(
        ocsp.status_of(&Serial::random().to_hex())
            .await
            .expect("status"),
        None
    );
    let revoke = |at| revoked_certificate::Model {
        serial: pre.clone(),
        issuer_id: "i".into(),
        crl_shard: 0,
        revoked_at: at,
        reason: None,
        not_after: now + Duration::days(90),
        recorded_at: now,
        source: "admin".into(),
    };
    q::record_revocation(storage.reader(), revoke(now + Duration::days(1)))
        .await
        .expect("rev");
    assert_eq!(
        ocsp.status_of(&pre).await.expect("status"),
        Some(CertStatus::Good)
    );
    let past = DateTime::from_timestamp(now.timestamp() - 60, 0).expect("t");
    q::record_revocation(storage.reader(), revoke(past))
        .await
        .expect("rev");
    assert_eq!(
        ocsp.status_of(&pre).await.expect("status"),
        Some(CertStatus::Revoked {
            at: past,
            reason: None
        })
    );
    // The pre-signer signs the precertificate-only serial and stores the revoked status.
    assert!(ocsp.presign_pass(&|_| {}).await.expect("pass") >= 1);
    let stored = q::ocsp_response(storage.reader(), &pre)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.cert_status, "revoked");
    assert!(q::ocsp_response(storage.reader(), &failed)
        .await
        .expect("read")
        .is_none());
    ocsp.update_gauge().await.expect("gauge");
    let age = ocsp.metrics.ocsp_oldest_response_age_seconds.get();
    assert!((0..120).contains(&age), "oldest response age {age}");
}

async fn test_ocsp(
    dir: &tempfile::TempDir,
    issuer: crate::issuance::Issuer,
) -> std::sync::Arc<super::Ocsp> {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
    let storage = crate::storage::Storage::connect(&url, 2).await.expect("db");
    storage.migrate().await.expect("migrate");
    super::Ocsp::new(
        storage,
        std::sync::Arc::new(crate::config::Config::default()),
        issuer,
        std::sync::Arc::new(crate::core::SystemClock),
        std::sync::Arc::new(crate::metrics::Metrics::new()),
    )
    .expect("ocsp")
}

/// With an `ocsp_url` without a path (GET `/<b64>`, POST `/`), the static routes of the
/// same listener (CA certificate, CRL shards) still win over the OCSP wildcard.
#[tokio::test]
async fn root_ocsp_routes_coexist_with_static_routes() {
    use axum::body::Body;
    use axum::http::{Method, Request as HttpRequest};
    use tower::ServiceExt;
    let (dir, issuer) = dev_issuer();
    let der = issuer.certificate_der.clone();
    let ocsp = test_ocsp(&dir, issuer).await;
    let router = crate::revocation::http::ca_certificate_route(
        "http://ca.hanko-ci.com/ca/issuer.der",
        der.clone(),
    )
    .expect("ca route")
    .route("/crl/{shard}", axum::routing::get(|| async { "a crl" }))
    .merge(super::http::routes("http://ocsp.hanko-ci.com", ocsp.clone()).expect("ocsp routes"));
    let call = |method: Method, path: String, body: Vec<u8>| {
        let router = router.clone();
        async move {
            let resp = router
                .oneshot(
                    HttpRequest::builder()
                        .method(method)
                        .uri(path)
                        .body(Body::from(body))
                        .expect("req"),
                )
                .await
                .expect("call");
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .expect("body");
            (status, bytes.to_vec())
        }
    };
    assert_eq!(
        call(Method::GET, "/ca/issuer.der".into(), vec![]).await.1,
        der
    );
    assert_eq!(
        call(Method::GET, "/crl/3.crl".into(), vec![]).await.1,
        b"a crl"
    );
    let unauthorized = response::error_response(OcspResponseStatus::Unauthorized);
    let malformed = response::error_response(OcspResponseStatus::MalformedRequest);
    let request = request_der(ocsp.issuer_hashes(), &[&Serial::random()]);
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(&request)
        .replace('/', "%2F");
    assert_eq!(
        call(Method::GET, format!("/{b64}"), vec![]).await,
        (axum::http::StatusCode::OK, unauthorized.clone())
    );
    assert_eq!(
        call(Method::POST, "/".into(), request).await.1,
        unauthorized
    );
    assert_eq!(
        call(Method::GET, "/bm90IG9jc3A=".into(), vec![]).await.1,
        malformed
    );
    let (status, body) = call(Method::POST, "/".into(), vec![0x30; 64 * 1024]).await;
    assert!(
        status == axum::http::StatusCode::PAYLOAD_TOO_LARGE || body == malformed,
        "{status}"
    );
    assert_eq!(ocsp.metrics.ocsp_unknown_serial_requests.get(), 2);
}

/// CA on the HSM (`ca.dev_hierarchy = false`) and `ocsp.signer = "delegated"`: the
/// responder key is generated in the token (`pkcs11:` key_ref), its certificate issued by
/// the CA key and audited, and responses carry it and verify with the token's key.
#[tokio::test]
async fn delegated_responder_key_is_generated_in_the_hsm() {
    use crate::issuance::signer::softhsm_test_support::SoftHsm;
    use crate::storage::queries as q;
    let hsm = SoftHsm::new("ocsp-delegated");
    let (dir, issuer) = dev_issuer();
    let mut config = crate::config::Config::default();
    config.ca.dev_hierarchy = false;
    config.hsm = hsm.config(2);
    config.ocsp.signer = crate::config::OcspSigner::Delegated;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display());
    let storage = crate::storage::Storage::connect(&url, 2).await.expect("db");
    storage.migrate().await.expect("migrate");
    let ocsp = super::Ocsp::new(
        storage.clone(),
        std::sync::Arc::new(config),
        issuer.clone(),
        std::sync::Arc::new(crate::core::SystemClock),
        std::sync::Arc::new(crate::metrics::Metrics::new()),
    )
    .expect("ocsp");
    let signer = ocsp.responders.current(&ocsp).await.expect("responder");
    assert!(signer.signer.is_hardware_backed());
    let rows = q::ocsp_responders(storage.reader(), &ocsp.issuer_id)
        .await
        .expect("rows");
    let [row] = rows.as_slice() else {
        panic!("one responder: {rows:?}")
    };
    assert!(row.key_ref.starts_with("pkcs11:ocsp-"), "{}", row.key_ref);
    assert_eq!(
        signer.certificate_der.as_deref(),
        Some(row.certificate_der.as_slice())
    );
    let days = (row.not_after - row.not_before).num_seconds() + 1;
    assert_eq!(days, 90 * 86_400, "ocsp.responder_validity_days");
    let signed = response::sign(
        &signer,
        ocsp.issuer_hashes(),
        &Serial::random(),
        CertStatus::Good,
        Utc::now(),
        Duration::hours(8),
    )
    .expect("sign");
    let basic = decode(&signed.der);
    crate::issuance::verify_signature(
        &signer.signer.public_key_der(),
        &basic.signature_algorithm,
        &basic.tbs_response_data.to_der().expect("tbs"),
        basic.signature.raw_bytes(),
    )
    .expect("verifies with the token's key");
    // Audited in the same transaction as the row.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let events = crate::storage::entities::audit_event::Entity::find()
        .filter(crate::storage::entities::audit_event::Column::Event.eq("ocsp.responder_issued"))
        .all(storage.reader())
        .await
        .expect("audit");
    assert_eq!(events.len(), 1);
}
