use super::*;
use crate::issuance::devca;
use chrono::TimeZone;
use x509_parser::prelude::*;
use x509_parser::revocation_list::CertificateRevocationList;

fn issuer() -> (tempfile::TempDir, crate::issuance::Issuer) {
    let dir = tempfile::tempdir().unwrap();
    let h = devca::load_or_create(dir.path()).unwrap();
    (dir, h.intermediate)
}

fn signed(builder: &CrlBuilder, number: i64) -> (Vec<u8>, crate::issuance::Issuer) {
    let (_dir, issuer) = issuer();
    let crl_issuer = CrlIssuer::from_certificate(&issuer.certificate_der, &*issuer.signer).unwrap();
    let this = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    let tbs = builder
        .tbs(
            &crl_issuer,
            this,
            this + chrono::Duration::days(9),
            number,
            "http://crl.hanko-ci.com/crl/3.crl",
        )
        .unwrap();
    let sig = issuer.signer.sign(&tbs).unwrap();
    (certificate_list(&tbs, &crl_issuer, &sig), issuer)
}

#[test]
fn entries_reasons_and_extensions_parse_back() {
    let mut b = CrlBuilder::new();
    let revoked = Utc.with_ymd_and_hms(2026, 2, 27, 8, 30, 0).unwrap();
    b.push(&[0x11, 0x22, 0x33], revoked, Some(1)).unwrap();
    b.push(&[0x7f; 19], revoked, None).unwrap();
    b.push(&[0x01], revoked, Some(5)).unwrap();
    assert!(
        b.push(&[0x80, 0x01], revoked, None).is_err(),
        "negative serial"
    );
    assert_eq!(b.entries(), 3);
    let (der, issuer) = signed(&b, 300);
    let (rest, crl) = CertificateRevocationList::from_der(&der).unwrap();
    assert!(rest.is_empty());
    assert_eq!(crl.version(), Some(X509Version::V2));
    // Issuer bytes identical to the CA certificate's subject.
    let (_, ca) = parse_x509_certificate(&issuer.certificate_der).unwrap();
    assert_eq!(crl.issuer().as_raw(), ca.subject().as_raw());
    assert_eq!(crl.crl_number().map(|n| n.to_u64_digits()), Some(vec![300]));
    let entries: Vec<_> = crl.iter_revoked_certificates().collect();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].raw_serial(), &[0x11, 0x22, 0x33]);
    assert_eq!(entries[0].revocation_date.timestamp(), revoked.timestamp());
    assert_eq!(
        entries[0].reason_code().map(|(c, r)| (c, r.0)),
        Some((false, 1))
    );
    assert!(
        entries[1].reason_code().is_none(),
        "unspecified carries no reasonCode"
    );
    assert!(entries[1].extensions().is_empty());
    assert_eq!(entries[2].reason_code().map(|(_, r)| r.0), Some(5));
    // AKI = the CA's SKI, IDP critical with the shard URL and onlyContainsUserCerts.
    let mut seen = 0;
    for ext in crl.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                let ski = ca
                    .extensions()
                    .iter()
                    .find_map(|e| match e.parsed_extension() {
                        ParsedExtension::SubjectKeyIdentifier(s) => Some(s.0.to_vec()),
                        _ => None,
                    });
                assert_eq!(aki.key_identifier.as_ref().map(|k| k.0.to_vec()), ski);
                assert!(!ext.critical);
                seen += 1;
            }
            ParsedExtension::IssuingDistributionPoint(idp) => {
                assert!(ext.critical);
                assert!(idp.only_contains_user_certs);
                assert!(!idp.only_contains_ca_certs);
                let Some(DistributionPointName::FullName(names)) = &idp.distribution_point else {
                    panic!("IDP without fullName");
                };
                assert_eq!(
                    names.as_slice(),
                    &[GeneralName::URI("http://crl.hanko-ci.com/crl/3.crl")]
                );
                seen += 1;
            }
            ParsedExtension::CRLNumber(_) => seen += 1,
            other => panic!("unexpected extension {other:?}"),
        }
    }
    assert_eq!(seen, 3);
    // The signature verifies with the issuer's key.
    assert!(crl.verify_signature(ca.public_key()).is_ok());
}

#[test]
fn empty_crls_omit_revoked_certificates() {
    let (der, _) = signed(&CrlBuilder::new(), 1);
    let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
    assert_eq!(crl.iter_revoked_certificates().count(), 0);
    // tbsCertList: … nextUpdate, then at once the [0] extensions: no empty SEQUENCE of
    // entries (RFC 5280 5.1.2.6).
    let tbs = crl.tbs_cert_list.as_ref();
    let next = b"\x17\x0d260310100000Z";
    let at = tbs.windows(next.len()).position(|w| w == next).unwrap();
    assert_eq!(tbs[at + next.len()], 0xa0);
    assert_eq!(
        crl.next_update()
            .map(|t| t.timestamp() - crl.last_update().timestamp()),
        Some(9 * 86400)
    );
}

#[test]
fn long_entries_use_long_lengths_and_generalized_time_after_2049() {
    let mut b = CrlBuilder::new();
    let late = Utc.with_ymd_and_hms(2050, 1, 1, 0, 0, 0).unwrap();
    for i in 0..3000u32 {
        let mut serial = vec![0x01];
        serial.extend_from_slice(&i.to_be_bytes());
        b.push(&serial, late, Some(4)).unwrap();
    }
    let (der, _) = signed(&b, 0x80);
    let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
    assert_eq!(crl.iter_revoked_certificates().count(), 3000);
    let last = crl.iter_revoked_certificates().last().unwrap();
    assert_eq!(last.revocation_date.timestamp(), late.timestamp());
    // 0x80 needs a leading zero octet to stay positive.
    assert_eq!(
        crl.crl_number().map(|n| n.to_u64_digits()),
        Some(vec![0x80])
    );
    assert_eq!(positive_integer(0), vec![0]);
    assert_eq!(positive_integer(0x80), vec![0, 0x80]);
    assert_eq!(positive_integer(0x0102), vec![1, 2]);
}

#[test]
fn a_signer_for_another_key_is_refused() {
    let (_d1, a) = issuer();
    let (_d2, b) = issuer();
    assert!(CrlIssuer::from_certificate(&a.certificate_der, &*b.signer).is_err());
}
