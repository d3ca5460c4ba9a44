use super::*;
use crate::issuance::tests::openssl_verify;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::*;

#[test]
fn creates_once_then_loads_the_same_hierarchy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = load_or_create(dir.path()).expect("create");
    assert!(first.created);
    assert_eq!(first.root_path, dir.path().join("ca").join("root.pem"));
    let second = load_or_create(dir.path()).expect("load");
    assert!(!second.created);
    assert_eq!(first.root_pem, second.root_pem);
    assert_eq!(
        first.intermediate.certificate_der,
        second.intermediate.certificate_der
    );
    assert_eq!(
        first.intermediate.signer.public_key_der(),
        second.intermediate.signer.public_key_der()
    );
    assert!(!second.intermediate.signer.is_hardware_backed());
    // Nothing but the four files; no scratch directory left behind.
    let entries = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(entries, 1);
}

#[cfg(unix)]
#[test]
fn key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    load_or_create(dir.path()).expect("create");
    for key in [ROOT_KEY, INTERMEDIATE_KEY] {
        let meta = std::fs::metadata(dir.path().join("ca").join(key)).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{key}");
    }
}

#[test]
fn partial_hierarchy_is_an_error_naming_the_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    load_or_create(dir.path()).expect("create");
    std::fs::remove_file(dir.path().join("ca").join(INTERMEDIATE_KEY)).expect("rm");
    let err = load_or_create(dir.path())
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("missing intermediate.key.pem"), "{err}");
    assert!(err.contains("root.pem"), "{err}");
}

#[test]
fn ca_certificates_have_the_dev_ca_profile_and_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = load_or_create(dir.path()).expect("create");
    let root_der = super::pem_to_der(&h.root_pem, ROOT_CERT).expect("root");
    let (_, root) = parse_x509_certificate(&root_der).expect("root");
    let (_, int) = parse_x509_certificate(&h.intermediate.certificate_der).expect("int");
    assert_eq!(
        root.subject().to_string(),
        "C=JP, O=Hanko Development CA (NOT FOR PRODUCTION), \
         CN=Hanko Development Root (NOT FOR PRODUCTION)"
    );
    assert_eq!(root.issuer().as_raw(), root.subject().as_raw());
    assert_eq!(int.issuer().as_raw(), root.subject().as_raw());
    assert!(int.subject().to_string().ends_with(INTERMEDIATE_CN));
    assert_eq!(
        root.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.10045.4.3.3"
    );
    assert_eq!(
        int.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.10045.4.3.3"
    );

    let bc = root.basic_constraints().expect("bc").expect("bc");
    assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint.is_none());
    let ku = root.key_usage().expect("ku").expect("ku");
    assert!(ku.critical && ku.value.key_cert_sign() && ku.value.crl_sign());
    assert!(!ku.value.digital_signature());
    assert!(root.extended_key_usage().expect("eku").is_none());

    let bc = int.basic_constraints().expect("bc").expect("bc");
    assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0));
    let ku = int.key_usage().expect("ku").expect("ku");
    assert!(ku.critical && ku.value.digital_signature() && ku.value.key_cert_sign());
    let eku = int.extended_key_usage().expect("eku").expect("eku").value;
    assert!(eku.server_auth && eku.client_auth);
    let aki = int
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.clone(),
            _ => None,
        })
        .expect("aki");
    let root_ski = tbs::key_identifier(
        &SubjectPublicKeyInfoOwned::from_der(root.public_key().raw).expect("spki"),
    );
    assert_eq!(aki.0, root_ski.as_slice());

    let root_days = root.validity().not_after.timestamp() - root.validity().not_before.timestamp();
    assert_eq!(root_days + 1, i64::from(ROOT_DAYS) * 86_400);
    let int_days = int.validity().not_after.timestamp() - int.validity().not_before.timestamp();
    assert_eq!(int_days + 1, i64::from(INTERMEDIATE_DAYS) * 86_400);

    openssl_verify(
        dir.path(),
        &h.root_pem,
        &[&h.intermediate.certificate_pem],
        &["-x509_strict"],
    );
}

#[test]
fn listener_certificate_verifies_for_localhost_and_loopback_ips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = load_or_create(dir.path()).expect("create");
    let (chain, key_pem) = listener_certificate(&h).expect("listener");
    assert!(chain.ends_with(&h.intermediate.certificate_pem));
    let leaf_pem = chain
        .strip_suffix(h.intermediate.certificate_pem.as_str())
        .expect("leaf first");
    let key = SoftwareSigner::from_pkcs8_pem(&key_pem).expect("key");
    let leaf_der = super::pem_to_der(leaf_pem, "leaf").expect("der");
    let (_, leaf) = parse_x509_certificate(&leaf_der).expect("leaf");
    assert_eq!(leaf.public_key().raw, key.public_key_der().as_slice());
    let span = leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp();
    assert_eq!(span + 1, i64::from(LISTENER_DAYS) * 86_400);
    let eku = leaf.extended_key_usage().expect("eku").expect("eku").value;
    assert!(eku.server_auth && !eku.client_auth);
    for check in [
        ["-verify_hostname", "localhost"],
        ["-verify_ip", "127.0.0.1"],
        ["-verify_ip", "::1"],
    ] {
        let mut args = vec!["-purpose", "sslserver", "-x509_strict"];
        args.extend(check);
        openssl_verify(
            dir.path(),
            &h.root_pem,
            &[leaf_pem, &h.intermediate.certificate_pem],
            &args,
        );
    }
}
