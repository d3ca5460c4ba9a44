//! `hanko::issuance::ct` against real RFC 6962 logs: the acme-tests test log, started
//! in-process on 127.0.0.1, signs with its own P-256 key over signed data it computes with
//! its own DER code. Precertificates come from rcgen (an independent implementation), with
//! the poison extension (RFC 6962 3.1) as a critical custom extension.

use acme_tests::ctlog::{LogBehaviour, SubmissionKind, TestCtLog};
use hanko::config::{CtConfig, CtLogConfig};
use hanko::issuance::ct::{
    check_correspondence, decode_sct_list_extension_value, replace_poison_with_sct_list,
    sct_list_extension_value, CtError, CtSubmitter, LogFailure, Sct,
};
use rcgen::{BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, KeyPair};
use std::time::Duration;

const POISON_ARCS: [u64; 10] = [1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];

/// (precertificate DER, final certificate DER, issuer DER): a CA and two leaves for the
/// same name, the first poisoned.
fn certificates() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "CT Integration CA");
    let ca = ca.self_signed(&ca_key).expect("ca");
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = || CertificateParams::new(vec!["ct.example.com".to_string()]).expect("params");
    let mut pre = leaf();
    let mut poison = CustomExtension::from_oid_content(&POISON_ARCS, vec![0x05, 0x00]);
    poison.set_criticality(true);
    pre.custom_extensions.push(poison);
    let precert = pre.signed_by(&leaf_key, &ca, &ca_key).expect("precert");
    let cert = leaf().signed_by(&leaf_key, &ca, &ca_key).expect("cert");
    (
        precert.der().to_vec(),
        cert.der().to_vec(),
        ca.der().to_vec(),
    )
}

fn config(logs: &[(&TestCtLog, u64)], min_distinct_operators: usize) -> CtConfig {
    CtConfig {
        logs: logs
            .iter()
            .map(|(log, timeout_ms)| CtLogConfig {
                name: log.name().to_string(),
                url: log.url().to_string(),
                public_key: log.public_key_b64(),
                operator: log.operator().to_string(),
                timeout_ms: *timeout_ms,
            })
            .collect(),
        min_distinct_operators,
        submit_final: true,
    }
}

fn tbs_of(der: &[u8]) -> Vec<u8> {
    use der::{Decode, Encode};
    x509_cert::Certificate::from_der(der)
        .expect("certificate")
        .tbs_certificate
        .to_der()
        .expect("tbs")
}

#[tokio::test]
async fn three_normal_logs_give_verified_scts_that_embed() {
    let a = TestCtLog::start("alpha", LogBehaviour::Normal).await;
    let b = TestCtLog::start("beta", LogBehaviour::Normal).await;
    let c = TestCtLog::start("gamma", LogBehaviour::Normal).await;
    let submitter =
        CtSubmitter::new(&config(&[(&a, 5000), (&b, 5000), (&c, 5000)], 3)).expect("submitter");
    assert!(submitter.is_enabled());
    let (precert, _, issuer) = certificates();
    let chain = vec![precert.clone(), issuer.clone()];
    let scts = submitter.submit_precertificate(&chain).await.expect("SCTs");

    let logs: Vec<(&str, [u8; 32])> = scts
        .iter()
        .map(|s| (s.log_name.as_str(), s.log_id))
        .collect();
    assert_eq!(
        logs,
        [
            ("alpha", a.log_id()),
            ("beta", b.log_id()),
            ("gamma", c.log_id())
        ]
    );
    for log in [&a, &b, &c] {
        let submissions = log.submissions();
        assert_eq!(submissions.len(), 1, "{}", log.name());
        assert_eq!(submissions[0].kind, SubmissionKind::Pre);
        assert_eq!(submissions[0].chain, chain, "the chain as sent");
    }

    // The list encodes, decodes to the same SCTs, and the final TBS built from it
    // corresponds to the precertificate (RFC 6962 3.2).
    let value = sct_list_extension_value(&scts).expect("list");
    let back: Vec<Sct> = decode_sct_list_extension_value(&value)
        .expect("decode")
        .iter()
        .zip(&scts)
        .map(|(bytes, s)| Sct::from_tls(bytes, &s.log_name, &s.operator).expect("sct"))
        .collect();
    assert_eq!(back, scts);
    let precert_tbs = tbs_of(&precert);
    let final_tbs = replace_poison_with_sct_list(&precert_tbs, &value).expect("final TBS");
    check_correspondence(&precert_tbs, &final_tbs).expect("corresponds");
}

/// The scenario: one log down, one slower than its timeout, one answering with a bad
/// signature, and two good logs of two operators.
async fn troubled_logs() -> Vec<(TestCtLog, u64)> {
    vec![
        (TestCtLog::start("down", LogBehaviour::Down).await, 5000),
        (
            TestCtLog::start("slow", LogBehaviour::Slow(Duration::from_secs(30))).await,
            300,
        ),
        (
            TestCtLog::start("forger", LogBehaviour::InvalidSct).await,
            5000,
        ),
        (TestCtLog::start("good-a", LogBehaviour::Normal).await, 5000),
        (TestCtLog::start("good-b", LogBehaviour::Normal).await, 5000),
    ]
}

fn refs(logs: &[(TestCtLog, u64)]) -> Vec<(&TestCtLog, u64)> {
    logs.iter().map(|(l, t)| (l, *t)).collect()
}

#[tokio::test]
async fn policy_is_met_by_the_good_logs_despite_down_slow_and_invalid_ones() {
    let logs = troubled_logs().await;
    let submitter = CtSubmitter::new(&config(&refs(&logs), 2)).expect("submitter");
    let (precert, _, issuer) = certificates();
    let scts = submitter
        .submit_precertificate(&[precert, issuer])
        .await
        .expect("policy met by good-a and good-b");
    let names: Vec<&str> = scts.iter().map(|s| s.log_name.as_str()).collect();
    assert_eq!(
        names,
        ["good-a", "good-b"],
        "no SCT from slow, forger or down"
    );
    // (Whether the forger's answer arrived before the policy was met is a race; its refusal
    // is asserted in `failed_policy_lists_what_each_log_did`.)
}

#[tokio::test]
async fn failed_policy_lists_what_each_log_did() {
    let logs = troubled_logs().await;
    // Three operators required: only two logs can deliver, so every outcome is reported.
    let submitter = CtSubmitter::new(&config(&refs(&logs), 3)).expect("submitter");
    let (precert, _, issuer) = certificates();
    let err = submitter
        .submit_precertificate(&[precert, issuer])
        .await
        .expect_err("policy cannot be met");
    let CtError::PolicyNotMet {
        required,
        operators,
        outcomes,
    } = &err
    else {
        panic!("expected PolicyNotMet, got {err}");
    };
    assert_eq!((*required, *operators), (3, 2));
    let by_name = |name: &str| {
        outcomes
            .iter()
            .find(|o| o.log == name)
            .unwrap_or_else(|| panic!("{name} missing from {err}"))
            .result
            .clone()
    };
    assert!(
        matches!(by_name("down"), Err(LogFailure::Request(_))),
        "{err}"
    );
    assert_eq!(by_name("slow"), Err(LogFailure::Timeout { ms: 300 }));
    assert!(
        matches!(by_name("forger"), Err(LogFailure::InvalidSct(_))),
        "{err}"
    );
    assert_eq!(by_name("good-a"), Ok(()));
    assert_eq!(by_name("good-b"), Ok(()));
    let text = err.to_string();
    for needle in [
        "CT policy not met",
        "\"down\"",
        "\"slow\"",
        "\"forger\"",
        "300 ms",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
}

#[tokio::test]
async fn one_reachable_operator_does_not_meet_the_policy() {
    // Two logs share an operator: two valid SCTs, still one operator.
    let a1 = TestCtLog::start("a1", LogBehaviour::Normal)
        .await
        .with_operator("A");
    let a2 = TestCtLog::start("a2", LogBehaviour::Normal)
        .await
        .with_operator("A");
    let b = TestCtLog::start("b", LogBehaviour::Down)
        .await
        .with_operator("B");
    let submitter =
        CtSubmitter::new(&config(&[(&a1, 5000), (&a2, 5000), (&b, 5000)], 2)).expect("submitter");
    let (precert, _, issuer) = certificates();
    let err = submitter
        .submit_precertificate(&[precert, issuer])
        .await
        .expect_err("one operator only");
    let text = err.to_string();
    assert!(
        text.contains("CT policy not met") && text.contains("from 1 distinct log operator"),
        "{text}"
    );
    assert_eq!(a1.submissions().len() + a2.submissions().len(), 2);
}

#[tokio::test]
async fn chains_that_are_not_precertificates_are_refused_before_any_log_call() {
    let a = TestCtLog::start("a", LogBehaviour::Normal).await;
    let b = TestCtLog::start("b", LogBehaviour::Normal).await;
    let submitter = CtSubmitter::new(&config(&[(&a, 5000), (&b, 5000)], 2)).expect("submitter");
    let (_, cert, issuer) = certificates();
    let err = submitter
        .submit_precertificate(&[cert, issuer.clone()])
        .await
        .expect_err("no poison");
    assert!(matches!(err, CtError::Chain(_)), "{err}");
    let err = submitter
        .submit_precertificate(&[issuer])
        .await
        .expect_err("no issuer");
    assert!(matches!(err, CtError::Chain(_)), "{err}");
    assert!(a.submissions().is_empty() && b.submissions().is_empty());
}

#[tokio::test]
async fn final_submission_is_best_effort_and_reports_each_log() {
    let good = TestCtLog::start("good", LogBehaviour::Normal).await;
    let down = TestCtLog::start("down", LogBehaviour::Down).await;
    let submitter =
        CtSubmitter::new(&config(&[(&good, 5000), (&down, 5000)], 2)).expect("submitter");
    let (precert, cert, issuer) = certificates();
    let outcomes = submitter
        .submit_final(&[cert.clone(), issuer.clone()])
        .await;
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].0, "good");
    let sct = outcomes[0]
        .1
        .as_ref()
        .expect("verified SCT over the x509_entry");
    assert_eq!(sct.log_id, good.log_id());
    assert_eq!(outcomes[1].0, "down");
    let err = outcomes[1].1.as_ref().expect_err("down");
    assert!(err.to_string().contains("\"down\""), "{err}");
    let submissions = good.submissions();
    assert_eq!(submissions.len(), 1);
    assert_eq!(submissions[0].kind, SubmissionKind::Final);
    assert_eq!(submissions[0].chain, [cert, issuer.clone()]);

    // A log refusing the submission (a precertificate on add-chain) is an HTTP 400 outcome.
    let outcomes = submitter.submit_final(&[precert, issuer]).await;
    match &outcomes[0].1 {
        Err(CtError::Log {
            failure: LogFailure::Status { status: 400, .. },
            ..
        }) => {}
        other => panic!("expected HTTP 400 from the log, got {other:?}"),
    }
    assert!(submitter
        .submit_final(&[])
        .await
        .iter()
        .all(|(_, r)| r.is_err()));
}
