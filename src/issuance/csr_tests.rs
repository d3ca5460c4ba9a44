use super::*;
use crate::issuance::test_support::*;
use der::asn1::{Ia5String, OctetString};
use x509_cert::ext::pkix::name::GeneralName;

fn detail(result: Result<CheckedCsr, CsrError>) -> String {
    result.expect_err("CSR must be refused").detail
}

#[test]
fn good_rcgen_csr_passes_with_names_lowercased_sorted() {
    let (csr, spki) = rcgen_csr(&["www.example.com", "Example.com"]);
    let checked = check_csr(&csr, &strings(&["example.com", "www.example.com"])).expect("good CSR");
    assert_eq!(checked.names, strings(&["example.com", "www.example.com"]));
    assert_eq!(checked.public_key_der, spki);
}

#[test]
fn order_names_compare_case_insensitively_and_in_any_order() {
    let (csr, _) = rcgen_csr(&["a.example.com", "b.example.com"]);
    assert!(check_csr(&csr, &strings(&["B.example.com", "a.example.com"])).is_ok());
}

#[test]
fn names_mismatch_is_refused() {
    let (csr, _) = rcgen_csr(&["a.example.com"]);
    let d = detail(check_csr(&csr, &strings(&["b.example.com"])));
    assert!(d.contains("missing from the CSR: b.example.com"), "{d}");
    assert!(d.contains("not in the order: a.example.com"), "{d}");
}

#[test]
fn extra_name_is_refused() {
    let (csr, _) = rcgen_csr(&["a.example.com", "evil.example.net"]);
    let d = detail(check_csr(&csr, &strings(&["a.example.com"])));
    assert!(d.contains("not in the order: evil.example.net"), "{d}");
}

#[test]
fn missing_name_is_refused() {
    let (csr, _) = rcgen_csr(&["a.example.com"]);
    let d = detail(check_csr(
        &csr,
        &strings(&["a.example.com", "b.example.com"]),
    ));
    assert!(d.contains("missing from the CSR: b.example.com"), "{d}");
}

#[test]
fn cn_outside_the_sans_counts_as_a_name() {
    let key = p256_key();
    let exts = vec![san_extension(vec![dns("a.example.com")])];
    let csr = build_csr(&key, cn("b.example.com"), exts, 0);
    let d = detail(check_csr(&csr, &strings(&["a.example.com"])));
    assert!(d.contains("not in the order: b.example.com"), "{d}");
    // ... and is fine when the order has it too.
    let ok = check_csr(&csr, &strings(&["a.example.com", "b.example.com"])).expect("ok");
    assert_eq!(ok.names, strings(&["a.example.com", "b.example.com"]));
}

#[test]
fn cn_only_csr_is_accepted() {
    let key = p256_key();
    let csr = build_csr(&key, cn("Only.Example.com"), vec![], 0);
    let ok = check_csr(&csr, &strings(&["only.example.com"])).expect("ok");
    assert_eq!(ok.names, strings(&["only.example.com"]));
}

#[test]
fn csr_without_names_is_refused() {
    let key = p256_key();
    let csr = build_csr(&key, empty_name(), vec![], 0);
    assert!(detail(check_csr(&csr, &strings(&["a.example.com"]))).contains("no DNS names"));
}

#[test]
fn bad_signature_is_refused() {
    let (mut csr, _) = rcgen_csr(&["a.example.com"]);
    // The last octet belongs to the signature's s value.
    let last = csr.len() - 1;
    csr[last] ^= 0x01;
    let d = detail(check_csr(&csr, &strings(&["a.example.com"])));
    assert!(d.contains("signature"), "{d}");
}

#[test]
fn tampered_request_info_fails_the_signature() {
    let (mut csr, _) = rcgen_csr(&["a.example.com"]);
    let at = csr
        .windows(13)
        .position(|w| w == b"a.example.com")
        .expect("name in CSR");
    csr[at] = b'b';
    let d = detail(check_csr(&csr, &strings(&["b.example.com"])));
    assert!(d.contains("signature does not verify"), "{d}");
}

#[test]
fn rsa_1024_key_is_refused_by_key_policy() {
    let key = rsa_key(1024);
    let exts = vec![san_extension(vec![dns("a.example.com")])];
    let csr = build_csr(&key, empty_name(), exts, 0);
    let d = detail(check_csr(&csr, &strings(&["a.example.com"])));
    assert!(d.starts_with("CSR public key refused"), "{d}");
}

#[test]
fn rsa_2048_csr_passes() {
    let key = rsa_key(2048);
    let exts = vec![san_extension(vec![dns("a.example.com")])];
    let csr = build_csr(&key, empty_name(), exts, 0);
    assert!(check_csr(&csr, &strings(&["a.example.com"])).is_ok());
}

#[test]
fn ip_email_uri_sans_are_refused() {
    let key = p256_key();
    let cases = [
        (
            GeneralName::IpAddress(OctetString::new(vec![192, 0, 2, 1]).expect("ip")),
            "IP address",
        ),
        (
            GeneralName::Rfc822Name(Ia5String::new("a@example.com").expect("mail")),
            "email",
        ),
        (
            GeneralName::UniformResourceIdentifier(Ia5String::new("https://x").expect("uri")),
            "URI",
        ),
        (
            GeneralName::DirectoryName(cn("a.example.com")),
            "unsupported",
        ),
    ];
    for (general_name, expected) in cases {
        let exts = vec![san_extension(vec![dns("a.example.com"), general_name])];
        let csr = build_csr(&key, empty_name(), exts, 0);
        let d = detail(check_csr(&csr, &strings(&["a.example.com"])));
        assert!(d.contains(expected), "{d}");
    }
}

#[test]
fn duplicate_extensions_are_refused() {
    let key = p256_key();
    let exts = vec![
        san_extension(vec![dns("a.example.com")]),
        san_extension(vec![dns("a.example.com")]),
    ];
    let csr = build_csr(&key, empty_name(), exts, 0);
    let d = detail(check_csr(&csr, &strings(&["a.example.com"])));
    assert!(d.contains("more than once"), "{d}");
}

#[test]
fn version_other_than_v1_is_refused() {
    let key = p256_key();
    let exts = vec![san_extension(vec![dns("a.example.com")])];
    let csr = build_csr(&key, empty_name(), exts, 1);
    let d = detail(check_csr(&csr, &strings(&["a.example.com"])));
    assert!(d.contains("version must be v1"), "{d}");
}

#[test]
fn garbage_never_panics() {
    let names = strings(&["a.example.com"]);
    assert!(check_csr(&[], &names).is_err());
    assert!(check_csr(b"hello", &names).is_err());
    assert!(check_csr(&[0x30, 0x00], &names).is_err());
    assert!(check_csr(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], &names).is_err());
    let (csr, _) = rcgen_csr(&["a.example.com"]);
    // Every truncation and every single-byte corruption must be refused cleanly.
    for len in 0..csr.len() {
        assert!(check_csr(&csr[..len], &names).is_err());
    }
    for i in 0..csr.len() {
        let mut bad = csr.clone();
        bad[i] ^= 0xff;
        let _ = check_csr(&bad, &names);
    }
    // Random SEQUENCE-shaped noise.
    use rand::{Rng, RngCore};
    let mut rng = rand::thread_rng();
    for _ in 0..2000 {
        let mut noise = vec![0u8; rng.gen_range(2..300)];
        rng.fill_bytes(&mut noise);
        noise[0] = 0x30;
        assert!(check_csr(&noise, &names).is_err());
    }
    let mut trailing = csr.clone();
    trailing.push(0);
    assert!(check_csr(&trailing, &names).is_err());
}
