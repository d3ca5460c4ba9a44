//! Ceremonies in-process against a SoftHSM token and a SQLite audit log.

use super::*;
use crate::issuance::signer::softhsm_test_support::SoftHsm;
use crate::issuance::tests::openssl_verify;
use crate::storage::entities::audit_event;
use sea_orm::{EntityTrait, QueryOrder};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::*;

/// The ceremony's input from `hanko ceremony`-style arguments. `admin::ceremony` owns the
/// real parser (and tests it); this one only spares the tests below from naming every field.
fn command(args: &[&str]) -> CeremonyCommand {
    let (kind, rest) = args.split_first().expect("a ceremony kind");
    let mut flags = std::collections::HashMap::new();
    let mut yes = false;
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let name = flag.strip_prefix("--").expect("a --flag");
        if name == "yes" {
            yes = true;
        } else {
            flags.insert(name, it.next().expect("a value").to_string());
        }
    }
    let mut take = |name: &str| flags.remove(name);
    let common = CommonArgs {
        out: take("out").expect("--out").into(),
        yes,
        operator: take("operator"),
    };
    let key = NewKeyArgs {
        key_label: take("key-label").expect("--key-label"),
        key_type: take("key-type")
            .expect("--key-type")
            .parse()
            .expect("key type"),
        days: take("days").expect("--days").parse().expect("days"),
    };
    let command = match *kind {
        "root" => CeremonyCommand::Root(RootArgs {
            common,
            key,
            subject: take("subject").expect("--subject"),
        }),
        "intermediate" => CeremonyCommand::Intermediate(IntermediateArgs {
            common,
            key,
            subject: take("subject").expect("--subject"),
            root_cert: take("root-cert").expect("--root-cert").into(),
            root_key_label: take("root-key-label").expect("--root-key-label"),
            crl_url: take("crl-url"),
            ca_issuers_url: take("ca-issuers-url"),
        }),
        "ocsp-responder" => CeremonyCommand::OcspResponder(OcspResponderArgs {
            common,
            key,
            subject: take("subject"),
            issuer_cert: take("issuer-cert").expect("--issuer-cert").into(),
            issuer_key_label: take("issuer-key-label").expect("--issuer-key-label"),
        }),
        other => panic!("unknown ceremony {other}"),
    };
    assert!(flags.is_empty(), "unknown arguments {flags:?}");
    command
}

struct Rig {
    _hsm: SoftHsm,
    config: Config,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    storage: Storage,
}

fn rig(name: &str) -> Rig {
    let hsm = SoftHsm::new(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.hsm = hsm.config(2);
    config.storage.data_dir = dir.path().join("data");
    std::fs::create_dir_all(&config.storage.data_dir).expect("data dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let storage = runtime.block_on(async {
        let storage = Storage::connect(&config.database_url(), 2)
            .await
            .expect("db");
        storage.migrate().await.expect("migrate");
        storage
    });
    Rig {
        _hsm: hsm,
        config,
        dir,
        runtime,
        storage,
    }
}

impl Rig {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Run a ceremony with `answer` on its input; the result and everything it printed.
    fn perform(&self, args: &[&str], answer: &str) -> (Result<(), CeremonyError>, String) {
        let mut input = answer.as_bytes();
        let mut output = Vec::new();
        let result = Ceremony {
            config: &self.config,
            storage: &self.storage,
            runtime: self.runtime.handle().clone(),
            clock: &SystemClock,
            input: &mut input,
            output: &mut output,
        }
        .perform(&command(args));
        (result, String::from_utf8(output).expect("utf-8"))
    }

    /// (actor, event, details) of every audit event, in order; the chain must verify.
    fn events(&self) -> Vec<(String, String, serde_json::Value)> {
        self.runtime.block_on(async {
            let chain = crate::audit::verify_chain(self.storage.reader())
                .await
                .expect("read chain");
            assert!(chain.is_ok(), "audit chain intact: {chain:?}");
            audit_event::Entity::find()
                .order_by_asc(audit_event::Column::Seq)
                .all(self.storage.reader())
                .await
                .expect("events")
                .into_iter()
                .map(|e| {
                    let details = serde_json::from_str(&e.details).expect("json");
                    (e.actor, e.event, details)
                })
                .collect()
        })
    }

    fn root(&self, label: &str, key_type: &str, days: &str, out: &str) -> Vec<String> {
        [
            "root",
            "--key-label",
            label,
            "--key-type",
            key_type,
            "--subject",
            "C=JP, O=Hanko Test, CN=Hanko Test Root",
            "--days",
            days,
            "--out",
            &self.path(out),
            "--operator",
            "alice",
        ]
        .map(String::from)
        .to_vec()
    }
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn read_pem(path: &str) -> (String, Vec<u8>) {
    let pem = std::fs::read_to_string(path).expect("certificate written");
    let der = super::pem_to_der(&pem, path).expect("PEM");
    (pem, der)
}

/// (OID, critical) of each extension, in order.
fn extension_list(cert: &X509Certificate<'_>) -> Vec<(String, bool)> {
    cert.extensions()
        .iter()
        .map(|e| (e.oid.to_id_string(), e.critical))
        .collect()
}

fn ext(oid: &str, critical: bool) -> (String, bool) {
    (oid.to_string(), critical)
}

#[test]
fn root_intermediate_and_ocsp_responder_chain_and_are_audited() {
    let rig = rig("chain");
    let started = Utc::now().timestamp();
    // The root, confirmed on the terminal.
    let (result, shown) = rig.perform(
        &args(&rig.root("root", "p384", "3650", "root.pem")),
        "yes\n",
    );
    result.expect("root ceremony");
    for expected in [
        "Subject:      C=JP, O=Hanko Test, CN=Hanko Test Root",
        "(3650 days)",
        "ECDSA P-384 in the HSM, label \"root\"",
        "ecdsa-with-SHA384 by HSM key \"root\" (self-signed)",
        "keyUsage (critical): Key Cert Sign, CRL Sign",
        "basicConstraints (critical): CA, no path length limit",
        "Sign this certificate? Type \"yes\": ",
    ] {
        assert!(shown.contains(expected), "{expected:?} in:\n{shown}");
    }
    let (root_pem, root_der) = read_pem(&rig.path("root.pem"));
    let (_, root) = parse_x509_certificate(&root_der).expect("root");
    assert_eq!(root.subject().as_raw(), root.issuer().as_raw());
    // BR 7.1.2.1: AKI, SKI, KU keyCertSign+cRLSign critical, BC cA critical; no EKU or
    // policies; no backdating.
    assert_eq!(
        extension_list(&root),
        [
            ext("2.5.29.35", false),
            ext("2.5.29.14", false),
            ext("2.5.29.15", true),
            ext("2.5.29.19", true)
        ]
    );
    let ku = root.key_usage().expect("ku").expect("ku").value;
    assert!(ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
    assert!(root.validity().not_before.timestamp() >= started);
    let span = root.validity().not_after.timestamp() - root.validity().not_before.timestamp();
    assert_eq!(span + 1, 3650 * 86_400);
    assert!(shown.contains(&root.raw_serial_as_string()), "serial shown");

    // The intermediate, with --yes, and the root's CRL and certificate URLs.
    let (result, shown) = rig.perform(
        &[
            "intermediate",
            "--root-cert",
            &rig.path("root.pem"),
            "--root-key-label",
            "root",
            "--key-label",
            "int",
            "--key-type",
            "p256",
            "--subject",
            "C=JP, ST=Tokyo, O=Hanko Test, CN=Hanko Test Intermediate",
            "--days",
            "1825",
            "--out",
            &rig.path("int.pem"),
            "--crl-url",
            "http://crl.hanko.invalid/root.crl",
            "--ca-issuers-url",
            "http://ca.hanko.invalid/root.der",
            "--operator",
            "alice",
            "--yes",
        ],
        "",
    );
    result.expect("intermediate ceremony");
    assert!(!shown.contains("Type \"yes\""), "--yes does not ask");
    let (int_pem, int_der) = read_pem(&rig.path("int.pem"));
    let (_, int) = parse_x509_certificate(&int_der).expect("int");
    assert_eq!(int.issuer().as_raw(), root.subject().as_raw());
    assert_eq!(
        int.subject().to_string(),
        "C=JP, ST=Tokyo, O=Hanko Test, CN=Hanko Test Intermediate"
    );
    assert_eq!(
        int.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.10045.4.3.3"
    );
    let bc = int.basic_constraints().expect("bc").expect("bc");
    assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0));
    for url in [
        "http://crl.hanko.invalid/root.crl",
        "http://ca.hanko.invalid/root.der",
    ] {
        assert!(shown.contains(url), "{url} shown");
    }
    openssl_verify(rig.dir.path(), &root_pem, &[&int_pem], &["-x509_strict"]);

    // The OCSP responder, default subject.
    let (result, shown) = rig.perform(
        &[
            "ocsp-responder",
            "--issuer-cert",
            &rig.path("int.pem"),
            "--issuer-key-label",
            "int",
            "--key-label",
            "ocsp",
            "--key-type",
            "p256",
            "--days",
            "90",
            "--out",
            &rig.path("ocsp.pem"),
            "--operator",
            "alice",
        ],
        "yes\n",
    );
    result.expect("OCSP responder ceremony");
    assert!(shown.contains("id-pkix-ocsp-nocheck: NULL"), "{shown}");
    let (ocsp_pem, ocsp_der) = read_pem(&rig.path("ocsp.pem"));
    let (_, ocsp) = parse_x509_certificate(&ocsp_der).expect("ocsp");
    assert_eq!(
        ocsp.subject().to_string(),
        "C=JP, ST=Tokyo, O=Hanko Test, CN=Hanko Test Intermediate OCSP Responder"
    );
    assert_ocsp_responder_profile(&ocsp, &int);
    openssl_verify(
        rig.dir.path(),
        &root_pem,
        &[&ocsp_pem, &int_pem],
        &["-x509_strict"],
    );

    let events = rig.events();
    let names: Vec<&str> = events.iter().map(|(_, e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "ceremony.key_generated",
            "ceremony.certificate_signed",
            "ceremony.key_generated",
            "ceremony.certificate_signed",
            "ceremony.key_generated",
            "ceremony.certificate_signed"
        ]
    );
    assert!(events.iter().all(|(actor, _, _)| actor == "operator:alice"));
    let (_, _, signed) = &events[1];
    assert_eq!(signed["kind"], "root");
    assert_eq!(signed["serial"], hex::encode(root.raw_serial()));
    assert_eq!(signed["sha256"], hex::encode(Sha256::digest(&root_der)));
    assert_eq!(signed["subject"], "C=JP, O=Hanko Test, CN=Hanko Test Root");
    assert_eq!(signed["issuer"], "C=JP, O=Hanko Test, CN=Hanko Test Root");
    let (_, _, generated) = &events[4];
    assert_eq!(generated["label"], "ocsp");
    assert_eq!(generated["key_type"], "ECDSA P-256");
    assert_eq!(
        generated["spki_sha256"],
        hex::encode(Sha256::digest(ocsp.public_key().raw))
    );
}

/// CP Table 7.1-2 / BR 7.1.2.8: AKI, SKI, KU digitalSignature (critical), EKU OCSPSigning,
/// id-pkix-ocsp-nocheck NULL; no basicConstraints, no certificatePolicies.
fn assert_ocsp_responder_profile(ocsp: &X509Certificate<'_>, issuer: &X509Certificate<'_>) {
    assert_eq!(
        extension_list(ocsp),
        [
            ext("2.5.29.35", false),
            ext("2.5.29.14", false),
            ext("2.5.29.15", true),
            ext("2.5.29.37", false),
            ext("1.3.6.1.5.5.7.48.1.5", false)
        ]
    );
    let ku = ocsp.key_usage().expect("ku").expect("ku").value;
    assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
    let eku = ocsp.extended_key_usage().expect("eku").expect("eku").value;
    assert!(eku.ocsp_signing && !eku.server_auth && !eku.client_auth && eku.other.is_empty());
    let nocheck = ocsp
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.48.1.5")
        .expect("nocheck");
    assert_eq!(nocheck.value, [0x05, 0x00], "NULL");
    let aki = ocsp
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.clone(),
            _ => None,
        })
        .expect("aki");
    let issuer_ski = issuer
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.clone()),
            _ => None,
        })
        .expect("ski");
    assert_eq!(aki.0, issuer_ski.0);
    let span = ocsp.validity().not_after.timestamp() - ocsp.validity().not_before.timestamp();
    assert_eq!(span + 1, 90 * 86_400);
}

#[test]
fn anything_but_yes_declines_and_writes_nothing() {
    let rig = rig("decline");
    for (i, answer) in ["no\n", "", "YES\n", "yes please\n", "y\n"]
        .iter()
        .enumerate()
    {
        let label = format!("root{i}");
        let out = format!("root{i}.pem");
        let (result, shown) = rig.perform(&args(&rig.root(&label, "p256", "30", &out)), answer);
        assert!(
            matches!(result, Err(CeremonyError::Declined)),
            "{answer:?}: {result:?}"
        );
        assert!(shown.contains("Sign this certificate? Type \"yes\": "));
        assert!(
            !rig.dir.path().join(&out).exists(),
            "{answer:?}: nothing written"
        );
    }
    let events = rig.events();
    assert_eq!(events.len(), 10);
    for pair in events.chunks(2) {
        assert_eq!(pair[0].1, "ceremony.key_generated");
        assert_eq!(pair[1].1, "ceremony.signing_declined");
        assert_eq!(pair[1].2["kind"], "root");
    }
}

#[test]
fn refusals_come_before_any_key_is_generated() {
    let rig = rig("refuse");
    let (result, _) = rig.perform(&args(&rig.root("root", "p256", "30", "root.pem")), "yes\n");
    result.expect("root");
    let other = rig.root("other", "p256", "30", "other.pem");
    rig.perform(&args(&other), "yes\n").0.expect("second root");
    let before = rig.events().len();

    let refuse = |argv: Vec<String>, expected: &str| {
        let (result, _) = rig.perform(&args(&argv), "yes\n");
        let err = match result {
            Err(e) => e.to_string(),
            Ok(()) => panic!("{argv:?} should be refused"),
        };
        assert!(err.contains(expected), "{expected:?} in {err}");
    };
    // An existing output file, a bad subject, too many days.
    refuse(rig.root("new1", "p256", "30", "root.pem"), "already exists");
    let mut bad_subject = rig.root("new2", "p256", "30", "x.pem");
    bad_subject[6] = "C=JP, OU=Ops, O=Hanko, CN=Root".to_string();
    refuse(bad_subject, "\"OU\" is not accepted");
    refuse(rig.root("new3", "p256", "8000", "x.pem"), "1 to 7305 days");
    let ocsp = |days: &str, issuer_label: &str| {
        [
            "ocsp-responder",
            "--issuer-cert",
            &rig.path("root.pem"),
            "--issuer-key-label",
            issuer_label,
            "--key-label",
            "new4",
            "--key-type",
            "p256",
            "--days",
            days,
            "--out",
            &rig.path("ocsp.pem"),
        ]
        .map(String::from)
        .to_vec()
    };
    refuse(ocsp("126", "root"), "1 to 125 days");
    // The issuer key must be the issuer certificate's key.
    refuse(
        ocsp("90", "other"),
        "\"other\" is not the key of the issuer certificate",
    );
    refuse(ocsp("90", "missing"), "\"missing\"");
    // A label already on the token.
    refuse(
        rig.root("other", "p256", "30", "x.pem"),
        "already holds an object labelled",
    );

    assert_eq!(
        rig.events().len(),
        before,
        "nothing audited: nothing happened"
    );
    let token = Pkcs11Token::open(&rig.config.hsm).expect("token");
    for label in ["new1", "new2", "new3", "new4"] {
        assert!(token.signer(label).is_err(), "no key {label} generated");
    }
    assert!(!rig.dir.path().join("x.pem").exists());
}

#[test]
fn rsa_root_signs_sha256_with_rsa_and_intermediates_end_with_their_root() {
    let rig = rig("rsa");
    rig.perform(
        &args(&rig.root("root", "rsa2048", "30", "root.pem")),
        "yes\n",
    )
    .0
    .expect("root");
    let (root_pem, root_der) = read_pem(&rig.path("root.pem"));
    let (_, root) = parse_x509_certificate(&root_der).expect("root");
    assert_eq!(
        root.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.11"
    );
    // Asking for more days than the root has left yields the root's notAfter (CP 5.6).
    let (result, shown) = rig.perform(
        &[
            "intermediate",
            "--root-cert",
            &rig.path("root.pem"),
            "--root-key-label",
            "root",
            "--key-label",
            "int",
            "--key-type",
            "rsa2048",
            "--subject",
            "C=JP, O=Hanko Test, CN=Hanko Test RSA Intermediate",
            "--days",
            "365",
            "--out",
            &rig.path("int.pem"),
            "--yes",
        ],
        "",
    );
    result.expect("intermediate");
    assert!(shown.contains("sha256WithRSAEncryption by HSM key \"root\" (RSA-2048)"));
    let (int_pem, int_der) = read_pem(&rig.path("int.pem"));
    let (_, int) = parse_x509_certificate(&int_der).expect("int");
    assert_eq!(
        int.validity().not_after.timestamp(),
        root.validity().not_after.timestamp()
    );
    openssl_verify(rig.dir.path(), &root_pem, &[&int_pem], &["-x509_strict"]);
    // Without --operator the actor is the system.
    let actors: Vec<String> = rig.events().into_iter().map(|(a, _, _)| a).collect();
    assert_eq!(
        actors,
        ["operator:alice", "operator:alice", "system", "system"]
    );
}

#[test]
fn subjects_keep_their_order_and_encodings_and_refuse_the_unknown() {
    let name = parse_subject("C=JP, ST=Tokyo, L=Minato-ku, O=Example\\, Inc., CN=Example Root")
        .expect("subject");
    let expected = tbs::build_name(&[
        (COUNTRY_NAME, "JP"),
        (STATE_OR_PROVINCE_NAME, "Tokyo"),
        (LOCALITY_NAME, "Minato-ku"),
        (ORGANIZATION_NAME, "Example, Inc."),
        (COMMON_NAME, "Example Root"),
    ])
    .expect("name");
    assert_eq!(name, expected);
    let tags: Vec<der::Tag> = name
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter().map(|atv| der::Tagged::tag(&atv.value)))
        .collect();
    assert_eq!(
        tags,
        [
            der::Tag::PrintableString,
            der::Tag::Utf8String,
            der::Tag::Utf8String,
            der::Tag::Utf8String,
            der::Tag::Utf8String
        ]
    );
    for (text, expected) in [
        ("C=JP, O=Example, CN=Root, OU=Ops", "\"OU\" is not accepted"),
        (
            "C=JP, O=Example, CN=Root, emailAddress=a@b",
            "\"emailAddress\"",
        ),
        ("C=JP, O=Example", "CN is required"),
        ("O=Example, CN=Root", "C is required"),
        ("C=Japan, O=Example, CN=Root", "two-letter country code"),
        ("C=JP, O=Example, CN=Root, CN=Again", "CN appears twice"),
        ("C=JP, O=, CN=Root", "O is empty"),
        ("C=JP, Example, CN=Root", "is not KEY=value"),
    ] {
        let err = match parse_subject(text) {
            Err(e) => e.to_string(),
            Ok(name) => panic!("{text:?} accepted as {name}"),
        };
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn the_ceremony_intermediate_is_an_hsm_issuer_for_serve() {
    use crate::config::IssuerConfig;
    use crate::issuance::signer::software::{KeyKind, SoftwareSigner};
    use crate::issuance::{CertificateAuthority, IssuanceRequest, Issuer};
    let rig = rig("issuer");
    rig.perform(&args(&rig.root("root", "p256", "30", "root.pem")), "yes\n")
        .0
        .expect("root");
    let int_args = [
        "intermediate",
        "--root-cert",
        &rig.path("root.pem"),
        "--root-key-label",
        "root",
        "--key-label",
        "issuing",
        "--key-type",
        "p256",
        "--subject",
        "C=JP, O=Hanko Test, CN=Hanko Test Issuing CA",
        "--days",
        "20",
        "--out",
        &rig.path("int.pem"),
        "--yes",
    ];
    rig.perform(&int_args, "").0.expect("intermediate");

    let mut ca = rig.config.ca.clone();
    let err = Issuer::from_hsm(&ca, &rig.config.hsm)
        .err()
        .expect("no ca.issuer");
    assert!(err.to_string().contains("ca.issuer"), "{err}");
    ca.issuer = Some(IssuerConfig {
        certificate: rig.dir.path().join("int.pem"),
        key_label: "no-such-key".to_string(),
    });
    let err = Issuer::from_hsm(&ca, &rig.config.hsm)
        .err()
        .expect("unknown label");
    assert!(err.to_string().contains("\"no-such-key\""), "{err}");
    // The root's key is on the token but is not the intermediate's.
    ca.issuer = Some(IssuerConfig {
        certificate: rig.dir.path().join("int.pem"),
        key_label: "root".to_string(),
    });
    let issuer = Issuer::from_hsm(&ca, &rig.config.hsm).expect("loads");
    assert!(
        CertificateAuthority::new(&ca, issuer).is_err(),
        "key must match"
    );

    ca.issuer = Some(IssuerConfig {
        certificate: rig.dir.path().join("int.pem"),
        key_label: "issuing".to_string(),
    });
    let issuer = Issuer::from_hsm(&ca, &rig.config.hsm).expect("HSM issuer");
    assert!(issuer.signer.is_hardware_backed());
    let authority = CertificateAuthority::new(&ca, issuer).expect("authority");
    let subscriber = SoftwareSigner::generate(KeyKind::EcdsaP256).expect("key");
    let prepared = authority
        .prepare(
            &IssuanceRequest {
                serial: Serial::random(),
                names: vec!["www.hanko-test.com".to_string()],
                public_key_der: subscriber.public_key_der(),
                profile: "dv".to_string(),
                organization: None,
                crl_shard: 0,
            },
            Utc::now(),
        )
        .expect("prepare");
    let leaf = authority.issue(prepared).expect("signed in the HSM");
    let (_, parsed) = parse_x509_certificate(&leaf.der).expect("leaf");
    // Clamped to the intermediate's 20 days.
    assert!(parsed.validity().not_after.timestamp() <= Utc::now().timestamp() + 20 * 86_400);
    let root_pem = std::fs::read_to_string(rig.path("root.pem")).expect("root");
    openssl_verify(
        rig.dir.path(),
        &root_pem,
        &[&leaf.pem, authority.chain_pem()],
        &["-x509_strict", "-purpose", "sslserver"],
    );
}
