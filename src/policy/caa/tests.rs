//! RFC 8659 / RFC 8657 examples and edge cases for the CAA decision.

use super::*;

const ACCT: &str = "https://ca.example/acme/acct/7";

fn rec(flags: u8, tag: &str, value: &str) -> CaaRecord {
    CaaRecord {
        flags,
        tag: tag.to_string(),
        value: value.to_string(),
    }
}

fn ours() -> Vec<String> {
    vec!["ca.example".to_string(), "ca2.example".to_string()]
}

fn decide_with(records: &[CaaRecord], method: &str, wildcard: bool) -> CaaDecision {
    let issuers = ours();
    decide(&CaaInput {
        domain: "example.com",
        records,
        issuer_domains: &issuers,
        account_uri: ACCT,
        method,
        wildcard,
    })
}

fn d(records: &[CaaRecord]) -> CaaDecision {
    decide_with(records, "http-01", false)
}

fn permits(records: &[CaaRecord]) -> bool {
    d(records).permits()
}

#[test]
fn empty_rrset_permits() {
    assert!(permits(&[]));
    assert_eq!(d(&[]).reason(), "no CAA records for example.com");
}

#[test]
fn issue_for_this_ca_permits_other_refuses_with_the_record_named() {
    assert!(permits(&[rec(0, "issue", "ca.example")]));
    assert!(permits(&[rec(0, "issue", "ca2.example")]));
    let refused = d(&[rec(0, "issue", "other-ca.example")]);
    assert_eq!(
        refused,
        CaaDecision::Refuse(
            "CAA record for example.com prevents issuance: 0 issue \"other-ca.example\""
                .to_string()
        )
    );
}

#[test]
fn several_issue_records_any_match_permits() {
    let rrset = [
        rec(0, "issue", "other-ca.example"),
        rec(0, "issue", "ca.example"),
    ];
    assert!(permits(&rrset));
    let none = d(&[rec(0, "issue", "a.example"), rec(0, "issue", "b.example")]);
    assert!(!none.permits());
    assert!(none
        .reason()
        .contains("0 issue \"a.example\", 0 issue \"b.example\""));
}

#[test]
fn rfc8659_examples() {
    // 4.2: only ca1.example.net may issue for certs.example.com.
    assert!(!permits(&[rec(0, "issue", "ca1.example.net")]));
    // 4.2: "nocerts.example.com CAA 0 issue \";\"" forbids everyone.
    assert!(!permits(&[rec(0, "issue", ";")]));
    // 4.2: an issue with parameters (tbs=Unknown) for another CA.
    assert!(!permits(&[rec(
        0,
        "issue",
        "ca1.example.net; account=230123"
    )]));
    assert!(permits(&[rec(0, "issue", "ca.example; account=230123")]));
    // 4.1 example with an unknown critical property.
    let critical = [rec(0, "issue", "ca.example"), rec(128, "tbs", "Unknown")];
    assert!(!permits(&critical));
    // 4.4: iodef alone does not restrict.
    assert!(permits(&[rec(0, "iodef", "mailto:security@example.com")]));
}

#[test]
fn empty_issuer_forbids_everyone() {
    for v in [";", "", "  ", " ; ", ";  key=v"] {
        let out = d(&[rec(0, "issue", v)]);
        assert!(!out.permits(), "{v:?}");
    }
    // A ";" record next to one naming this CA: the other record still permits.
    assert!(permits(&[
        rec(0, "issue", ";"),
        rec(0, "issue", "ca.example")
    ]));
}

#[test]
fn tag_names_are_case_insensitive() {
    assert!(!permits(&[rec(0, "ISSUE", "other.example")]));
    assert!(permits(&[rec(0, "Issue", "ca.example")]));
    assert!(!decide_with(&[rec(0, "IssueWild", "other.example")], "dns-01", true).permits());
    // A known tag in capitals with the critical flag is still known.
    assert!(permits(&[rec(128, "ISSUE", "ca.example")]));
    assert!(permits(&[rec(128, "IODEF", "mailto:a@example.com")]));
}

#[test]
fn issuer_domain_is_case_insensitive() {
    assert!(permits(&[rec(0, "issue", "CA.Example")]));
    assert!(permits(&[rec(0, "issue", "ca.EXAMPLE;")]));
}

#[test]
fn critical_flag() {
    // Unknown tag without the flag: ignored.
    assert!(permits(&[rec(0, "tbs", "x")]));
    assert!(permits(&[
        rec(0, "issue", "ca.example"),
        rec(0, "future", "x")
    ]));
    // Unknown tag with the flag: refuses even when issue names this CA, and says why.
    let out = d(&[rec(0, "issue", "ca.example"), rec(128, "future", "x")]);
    assert!(!out.permits());
    assert!(
        out.reason().contains("128 future \"x\""),
        "{}",
        out.reason()
    );
    assert!(out.reason().contains("critical"));
    // Other flag bits are not the critical flag.
    assert!(permits(&[rec(1, "future", "x")]));
    assert!(!permits(&[rec(129, "future", "x")]));
}

#[test]
fn iodef_is_recorded_never_decides() {
    assert!(permits(&[rec(0, "iodef", "mailto:x@example.com")]));
    assert!(!permits(&[
        rec(0, "iodef", "mailto:x@example.com"),
        rec(0, "issue", "other.example"),
    ]));
}

#[test]
fn issuewild_wins_for_wildcards_only() {
    let rrset = [
        rec(0, "issue", "ca.example"),
        rec(0, "issuewild", "other.example"),
    ];
    assert!(decide_with(&rrset, "dns-01", false).permits());
    assert!(!decide_with(&rrset, "dns-01", true).permits());
    let reversed = [
        rec(0, "issue", "other.example"),
        rec(0, "issuewild", "ca.example"),
    ];
    assert!(!decide_with(&reversed, "dns-01", false).permits());
    assert!(decide_with(&reversed, "dns-01", true).permits());
    // Without issuewild, issue governs wildcards too.
    assert!(!decide_with(&[rec(0, "issue", "other.example")], "dns-01", true).permits());
    assert!(decide_with(&[rec(0, "issue", "ca.example")], "dns-01", true).permits());
    // issuewild alone does not restrict a non-wildcard name.
    assert!(decide_with(&[rec(0, "issuewild", ";")], "http-01", false).permits());
}

#[test]
fn unparsable_value_matches_no_issuer_but_counts_as_issue() {
    for v in [
        "ca.example.",
        "-ca.example",
        "ca-.example",
        "ca..example",
        "ca.example foo",
        "ca.example; key",
        "ca.example; key=a b",
        "ca.example; key=v;",
        "ca.example; =v",
        "ca.example;; key=v",
        "ca_example",
        "ca.example, other",
        "ca.\u{e9}xample",
    ] {
        let out = d(&[rec(0, "issue", v)]);
        assert!(!out.permits(), "{v:?} should not parse into this CA");
    }
}

#[test]
fn whitespace_rules() {
    for v in [
        "ca.example",
        "  ca.example",
        "\tca.example\t",
        "ca.example ;",
        "ca.example;",
        "ca.example ; key=value",
        "ca.example;key=value",
        "ca.example; key = value ",
        "ca.example; a=1 ; b=2",
        "ca.example;\ta=1;b=2\t",
        "ca.example; a=",
        "ca.example; a=x=y",
    ] {
        assert!(permits(&[rec(0, "issue", v)]), "{v:?} should permit");
    }
}

#[test]
fn parser_returns_parameters() {
    let v = parse_issue_value(" ca.example ; accounturi = https://x/1 ; b=c ").unwrap();
    assert_eq!(v.issuer.as_deref(), Some("ca.example"));
    assert_eq!(
        v.params,
        vec![
            ("accounturi".to_string(), "https://x/1".to_string()),
            ("b".to_string(), "c".to_string())
        ]
    );
    assert_eq!(
        parse_issue_value(";"),
        Some(IssueValue {
            issuer: None,
            params: vec![]
        })
    );
    assert_eq!(parse_issue_value("a b"), None);
}

#[test]
fn accounturi_must_match_exactly() {
    let ok = format!("ca.example; accounturi={ACCT}");
    assert!(permits(&[rec(0, "issue", &ok)]));
    for other in [
        "https://ca.example/acme/acct/8",
        "https://ca.example/acme/acct/70",
        "https://CA.example/acme/acct/7",
        "https://ca.example/acme/acct/7/",
        "http://ca.example/acme/acct/7",
    ] {
        let v = format!("ca.example; accounturi={other}");
        let out = d(&[rec(0, "issue", &v)]);
        assert!(!out.permits(), "{other}");
        assert!(out.reason().contains("accounturi"), "{}", out.reason());
        assert!(out.reason().contains(&v), "{}", out.reason());
    }
    // A second record for this CA with the right account still permits.
    let wrong = "ca.example; accounturi=https://ca.example/acme/acct/8";
    assert!(permits(&[rec(0, "issue", wrong), rec(0, "issue", &ok)]));
    // Twice in one record: unusable.
    let twice = format!("ca.example; accounturi={ACCT}; accounturi={ACCT}");
    assert!(!permits(&[rec(0, "issue", &twice)]));
    // The parameter tag is matched case-insensitively, so it still restricts.
    let upper = "ca.example; AccountURI=https://ca.example/acme/acct/8";
    assert!(!permits(&[rec(0, "issue", upper)]));
    // An accounturi for another CA's record does not matter.
    let foreign = format!("other.example; accounturi={ACCT}");
    assert!(!permits(&[rec(0, "issue", &foreign)]));
}

#[test]
fn validationmethods_must_include_the_method() {
    let rrset = |v: &str| [rec(0, "issue", v)];
    assert!(decide_with(
        &rrset("ca.example; validationmethods=http-01"),
        "http-01",
        false
    )
    .permits());
    assert!(decide_with(
        &rrset("ca.example; validationmethods=dns-01,http-01"),
        "http-01",
        false
    )
    .permits());
    let out = decide_with(
        &rrset("ca.example; validationmethods=dns-01"),
        "http-01",
        false,
    );
    assert!(!out.permits());
    assert!(
        out.reason().contains("validationmethods"),
        "{}",
        out.reason()
    );
    assert!(out
        .reason()
        .contains("0 issue \"ca.example; validationmethods=dns-01\""));
    for bad in [
        "ca.example; validationmethods=",
        "ca.example; validationmethods=dns-01,",
        "ca.example; validationmethods=,http-01",
        "ca.example; validationmethods=HTTP-01",
        "ca.example; validationmethods=http-01_x",
        "ca.example; validationmethods=http-01; validationmethods=http-01",
    ] {
        assert!(
            !decide_with(&rrset(bad), "http-01", false).permits(),
            "{bad}"
        );
    }
}

#[test]
fn both_parameters_and_unknown_parameters() {
    let v = format!("ca.example; accounturi={ACCT}; validationmethods=tls-alpn-01,http-01; x-y=z");
    assert!(decide_with(&[rec(0, "issue", &v)], "tls-alpn-01", false).permits());
    assert!(!decide_with(&[rec(0, "issue", &v)], "dns-01", false).permits());
    assert!(permits(&[rec(0, "issue", "ca.example; policy=ev; tbs=1")]));
}

#[test]
fn display_escapes_quotes() {
    assert_eq!(
        rec(0, "issue", "a\"b\\c").to_string(),
        "0 issue \"a\\\"b\\\\c\""
    );
}

fn facts() -> LookupFailureFacts {
    LookupFailureFacts {
        retried: true,
        dnssec_bogus: false,
        signed_to_root: Some(false),
        outside_ca_infrastructure: true,
        permit_configured: true,
    }
}

#[test]
fn lookup_failure_permits_only_when_every_condition_holds() {
    assert!(decide_lookup_failure(&facts()).permits());
    let cases: [(LookupFailureFacts, &str); 6] = [
        (
            LookupFailureFacts {
                retried: false,
                ..facts()
            },
            "not retried",
        ),
        (
            LookupFailureFacts {
                dnssec_bogus: true,
                ..facts()
            },
            "DNSSEC-bogus",
        ),
        (
            LookupFailureFacts {
                signed_to_root: Some(true),
                ..facts()
            },
            "signed to the root",
        ),
        (
            LookupFailureFacts {
                signed_to_root: None,
                ..facts()
            },
            "unknown",
        ),
        (
            LookupFailureFacts {
                outside_ca_infrastructure: false,
                ..facts()
            },
            "CA's infrastructure",
        ),
        (
            LookupFailureFacts {
                permit_configured: false,
                ..facts()
            },
            "not configured",
        ),
    ];
    for (f, why) in cases {
        let out = decide_lookup_failure(&f);
        assert!(!out.permits(), "{f:?}");
        assert!(out.reason().contains(why), "{}", out.reason());
    }
}

#[test]
fn lookup_failure_names_every_failed_condition() {
    let all_bad = LookupFailureFacts {
        retried: false,
        dnssec_bogus: true,
        signed_to_root: Some(true),
        outside_ca_infrastructure: false,
        permit_configured: false,
    };
    let out = decide_lookup_failure(&all_bad);
    assert!(!out.permits());
    assert_eq!(out.reason().matches("; ").count(), 4, "{}", out.reason());
}
