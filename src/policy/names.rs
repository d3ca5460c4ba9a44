//! Identifier policy (REQUIREMENTS §2; CP 3.1.1, 3.2.2.4–3.2.2.6, 4.2.2, 7.1.4).
//!
//! Case: RFC 8555 7.1.4 and RFC 4343 make DNS names case-insensitive. We accept any ASCII case
//! and judge the lower-cased form (`normalize`); callers store and certify that form, so a
//! SAN is always lower-case and one name has one spelling.
//!
//! Public suffixes: a name must sit strictly below a suffix in the ICANN section of the Public
//! Suffix List. When the longest matching PSL rule is in the PRIVATE section (`github.io`,
//! `s3.amazonaws.com`), we judge the name by the ICANN suffix beneath that private one (`io`,
//! `com`): private entries are registrations inside ICANN domains, and their owners can get
//! certificates. If no ICANN suffix is found, the name is refused.

use crate::core::Identifier;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct NameError {
    /// Safe to show the subscriber: names the identifier and the rule.
    pub detail: String,
}

/// RFC 1035 2.3.4 / RFC 5280 4.2.1.6 as applied by BR 7.1.4.2: at most 253 octets in text
/// form (255 on the wire).
const MAX_NAME_LEN: usize = 253;
/// RFC 1035 2.3.4: 63 octets per label.
const MAX_LABEL_LEN: usize = 63;
/// How much of a rejected name we echo in a detail (the caller caps bodies; this caps noise).
const MAX_ECHO_LEN: usize = 300;

/// Special-use and infrastructure domains that are never publicly resolvable names of a
/// subscriber (IANA Special-Use Domain Names registry; CP 4.2.2, 7.1.4 "Internal Name").
/// `onion` has its own rule (CP 3.2.2.4) and is checked separately for a clearer detail.
/// All of `arpa` (RFC 3172) is infrastructure: `in-addr.arpa`/`ip6.arpa` name IP addresses
/// (CP 3.2.2.5) and `home.arpa` (RFC 8375) is for home networks.
const SPECIAL_USE: &[(&str, &str)] = &[
    ("localhost", "RFC 6761 6.3"),
    ("local", "RFC 6762"),
    ("test", "RFC 6761 6.2"),
    ("invalid", "RFC 6761 6.4"),
    ("example", "RFC 6761 6.5"),
    ("example.com", "RFC 6761 6.5"),
    ("example.net", "RFC 6761 6.5"),
    ("example.org", "RFC 6761 6.5"),
    ("alt", "RFC 9476"),
    ("internal", "ICANN reserved for private use"),
    ("arpa", "RFC 3172 infrastructure domain"),
];

fn reject(name: &str, rule: impl std::fmt::Display) -> NameError {
    let shown: String = name.chars().take(MAX_ECHO_LEN).collect();
    NameError {
        detail: format!("identifier {shown:?}: {rule}"),
    }
}

/// The form we judge and certify: ASCII lower-case (RFC 4343). Non-ASCII characters are left
/// as they are, for `check_identifier` to refuse as U-labels.
pub fn normalize(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Accept only `dns` identifiers that are fully-qualified, LDH/A-label names under an ICANN
/// public suffix; reject wildcards, IP addresses, `.onion`, U-labels and over-long names.
/// Any ASCII case is accepted: the rules apply to `normalize(&identifier.value)`.
pub fn check_identifier(identifier: &Identifier) -> Result<(), NameError> {
    match identifier.kind.as_str() {
        "dns" => check_dns_name(&normalize(&identifier.value)),
        "ip" => Err(reject(
            &identifier.value,
            "IP addresses are not allowed (CP 3.2.2.5)",
        )),
        other => Err(reject(
            &identifier.value,
            format!("identifier type {other:?} is not supported; only \"dns\" is"),
        )),
    }
}

/// The rules for a (lower-cased) DNS name, in the order a subscriber can best act on them.
pub fn check_dns_name(name: &str) -> Result<(), NameError> {
    check_form(name)?;
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        check_label(name, label)?;
    }
    if labels.len() < 2 {
        return Err(reject(
            name,
            "not a fully-qualified domain name: an Internal Name (CP 4.2.2, 7.1.4)",
        ));
    }
    check_special_use(name)?;
    check_public_suffix(name)
}

/// Whole-name rules that make label checks pointless or their details misleading.
fn check_form(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(reject(name, "the name is empty"));
    }
    if name.contains('*') {
        return Err(reject(name, "wildcard names are not allowed (CP 3.2.2.6)"));
    }
    if name.ends_with('.') {
        return Err(reject(
            name,
            "remove the trailing dot: identifiers are written without the root label",
        ));
    }
    if name.parse::<IpAddr>().is_ok() || name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
        return Err(reject(name, "IP addresses are not allowed (CP 3.2.2.5)"));
    }
    if !name.is_ascii() {
        let hint = idna::domain_to_ascii_strict(name)
            .map(|a| format!("; its A-label form is {a:?}"))
            .unwrap_or_default();
        return Err(reject(
            name,
            format!("internationalized names must be sent as A-labels (xn--…), not U-labels (CP 3.1.1){hint}"),
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(reject(
            name,
            format!("the name is longer than {MAX_NAME_LEN} octets (RFC 1035 2.3.4)"),
        ));
    }
    Ok(())
}

/// LDH labels and A-labels only (CP 3.1.1 item 5, RFC 5890 2.3.1, BR 7.1.4.2).
fn check_label(name: &str, label: &str) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(reject(name, "empty label (two dots, or a leading dot)"));
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(reject(
            name,
            format!("label {label:?} is longer than {MAX_LABEL_LEN} octets (RFC 1035 2.3.4)"),
        ));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(reject(
            name,
            format!("label {label:?} has the character {c:?}: only letters, digits and hyphens are allowed (RFC 5890 2.3.1, BR 7.1.4.2)"),
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(reject(
            name,
            format!("label {label:?} starts or ends with a hyphen (RFC 5890 2.3.1)"),
        ));
    }
    if label.get(2..4) == Some("--") {
        return match label.strip_prefix("xn--") {
            Some(punycode) => check_a_label(punycode)
                .map_err(|why| reject(name, format!("label {label:?} is not a valid A-label: {why} (RFC 5890 2.3.2.1, CP 3.1.1)"))),
            None => Err(reject(
                name,
                format!("label {label:?} is a reserved LDH label (\"--\" in positions 3–4, RFC 5890 2.3.1)"),
            )),
        };
    }
    Ok(())
}

/// An A-label must decode to a valid U-label that encodes back to exactly the same A-label
/// (RFC 5891 5.4 / RFC 5890 2.3.2.1). `idna` implements UTS #46 non-transitional processing
/// with STD3 rules and CheckHyphens; its mapping step changes any character IDNA2008 does
/// not allow as-is (upper case, compatibility forms), which breaks the round trip.
fn check_a_label(punycode: &str) -> Result<(), String> {
    let ulabel = idna::punycode::decode_to_string(punycode)
        .ok_or_else(|| "it is not valid Punycode".to_string())?;
    if ulabel.is_empty() || ulabel.is_ascii() {
        return Err("it decodes to plain ASCII (a \"fake A-label\")".to_string());
    }
    if let Some(c) = ulabel.chars().find(|c| is_symbol_outside_idna2008(*c)) {
        return Err(format!(
            "it contains {c:?} (U+{:04X}), a symbol IDNA2008 disallows (RFC 5892)",
            u32::from(c)
        ));
    }
    let reencoded = idna::domain_to_ascii_strict(&ulabel)
        .map_err(|_| format!("its U-label {ulabel:?} is not valid under IDNA2008"))?;
    if reencoded != format!("xn--{punycode}") {
        return Err(format!(
            "its U-label {ulabel:?} encodes to {reencoded:?}, not to itself"
        ));
    }
    Ok(())
}

/// UTS #46 keeps some symbols (emoji, dingbats, arrows) valid for web compatibility that
/// IDNA2008 DISALLOWS (RFC 5892 2.3: category So/Sm etc.). Without a Unicode category table
/// we refuse the symbol blocks that hold them; the two letters in those blocks stay allowed.
fn is_symbol_outside_idna2008(c: char) -> bool {
    const PVALID_IN_SYMBOL_BLOCKS: [char; 2] = ['\u{214E}', '\u{2184}'];
    let symbol_block = matches!(c,
        '\u{00A0}'..='\u{00BF}'     // Latin-1 punctuation and symbols
        | '\u{2000}'..='\u{2BFF}'   // punctuation, arrows, math, technical, dingbats, braille
        | '\u{1F000}'..='\u{1FAFF}' // emoji, pictographs, playing cards
        | '\u{E000}'..='\u{F8FF}'); // private use
    symbol_block && !PVALID_IN_SYMBOL_BLOCKS.contains(&c)
}

fn has_suffix(name: &str, suffix: &str) -> bool {
    name == suffix
        || name
            .strip_suffix(suffix)
            .is_some_and(|head| head.ends_with('.'))
}

/// `.onion` (CP 3.2.2.4, RFC 7686) and the special-use domains in `SPECIAL_USE`.
fn check_special_use(name: &str) -> Result<(), NameError> {
    if has_suffix(name, "onion") {
        return Err(reject(
            name,
            "\".onion\" names are not allowed (CP 3.2.2.4, RFC 7686)",
        ));
    }
    if let Some((domain, why)) = SPECIAL_USE.iter().find(|(d, _)| has_suffix(name, d)) {
        return Err(reject(
            name,
            format!("names under the special-use domain \"{domain}\" ({why}) cannot be publicly certified: an Internal Name (CP 4.2.2, 7.1.4)"),
        ));
    }
    // RFC 3696 2: a top-level domain is never all-numeric; such names are IP-address
    // look-alikes (e.g. "127.1") that some resolvers treat as addresses (CP 3.2.2.5).
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(reject(
            name,
            "an all-numeric top-level label looks like an IP address (CP 3.2.2.5)",
        ));
    }
    Ok(())
}

/// The name must lie strictly below an ICANN-section public suffix (REQUIREMENTS §2); a name
/// under no known TLD is an Internal Name (CP 4.2.2, 7.1.4).
fn check_public_suffix(name: &str) -> Result<(), NameError> {
    let Some(suffix) = icann_suffix(name) else {
        return Err(reject(
            name,
            "does not end in a public suffix in the ICANN section of the Public Suffix List: an Internal Name (CP 4.2.2, 7.1.4)",
        ));
    };
    if suffix.len() >= name.len() {
        return Err(reject(
            name,
            "is itself a public suffix; only names below one can be certified (CP 3.2.2.6)",
        ));
    }
    Ok(())
}

/// The ICANN-section public suffix of `name`, looking beneath a PRIVATE-section match (see
/// the module comment). `None` when the TLD is unknown to the list.
fn icann_suffix(name: &str) -> Option<&str> {
    let mut tail = name;
    loop {
        let found = psl::suffix(tail.as_bytes())?;
        let text = std::str::from_utf8(found.as_bytes()).ok()?;
        match found.typ()? {
            psl::Type::Icann => return Some(text),
            // A private rule matched: retry on the private suffix minus its first label,
            // which moves one level towards the ICANN entry that contains it.
            psl::Type::Private => tail = text.split_once('.')?.1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str) -> Result<(), NameError> {
        check_identifier(&Identifier::dns(name))
    }

    /// Exactly 253 octets: 3 × 63 + 57 + ".com" + 3 dots.
    fn max_len_name() -> String {
        let name = format!(
            "{a}.{a}.{a}.{b}.com",
            a = "a".repeat(63),
            b = "b".repeat(57)
        );
        assert_eq!(name.len(), MAX_NAME_LEN);
        name
    }

    fn a_label(ulabel: &str) -> String {
        format!(
            "xn--{}.hanko-ci.com",
            idna::punycode::encode_str(ulabel).expect("punycode")
        )
    }

    #[test]
    fn accepted_names() {
        for name in [
            "www.hanko-ci.com",
            "hanko-ci.com",
            "a.b.example.co.uk",
            "WWW.Hanko-CI.com",
            "xn--bcher-kva.example.de", // bücher
            "xn--80ak6aa92e.com",       // Cyrillic label
            "foo.xn--p1ai",             // IDN TLD (.рф)
            "foo.github.io",            // PRIVATE suffix github.io, ICANN io
            "github.io",                // registrable under ICANN io
            "a1-b2.example.jp",
            "0.hanko-ci.com",
            "x.example.ck", // below the *.ck wildcard
            "www.ck",       // the !www.ck exception
            &format!("{}.com", "a".repeat(63)),
            &max_len_name(),
        ] {
            assert_eq!(check(name), Ok(()), "{name}");
        }
    }

    /// (identifier type, value, a fragment the detail must contain).
    #[test]
    fn rejected_names() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("a{}", max_len_name());
        let not_nfc = a_label("bu\u{308}cher"); // decomposed ü: IDNA2008 wants NFC
        let upper_ulabel = a_label("\u{dc}bel"); // upper-case Ü in the U-label
        let hyphen_ulabel = a_label("\u{fc}b--c"); // "--" in positions 3-4 of the U-label
        let space_ulabel = a_label("\u{fc}\u{3000}b"); // ideographic space
        let cases: Vec<(&str, &str, &str)> = vec![
            (
                "ip",
                "192.0.2.1",
                "IP addresses are not allowed (CP 3.2.2.5)",
            ),
            ("email", "a@example.com", "type \"email\""),
            ("dns", "", "empty"),
            ("dns", "www.example.com.", "trailing dot"),
            ("dns", "*.example.com", "CP 3.2.2.6"),
            ("dns", "www.*.example.com", "CP 3.2.2.6"),
            ("dns", "ww*.example.com", "CP 3.2.2.6"),
            ("dns", "192.0.2.1", "CP 3.2.2.5"),
            ("dns", "2001:db8::1", "CP 3.2.2.5"),
            ("dns", "[2001:db8::1]", "CP 3.2.2.5"),
            ("dns", "127.1", "CP 3.2.2.5"),
            ("dns", "bücher.example.de", "A-label"),
            ("dns", "bücher.example.de", "xn--bcher-kva"),
            ("dns", &long_label, "longer than 63"),
            ("dns", &long_name, "longer than 253"),
            ("dns", "a..example.com", "empty label"),
            ("dns", ".example.com", "empty label"),
            ("dns", "under_score.example.com", "'_'"),
            ("dns", "sp ace.example.com", "' '"),
            ("dns", "-lead.example.com", "hyphen"),
            ("dns", "trail-.example.com", "hyphen"),
            ("dns", "ab--cd.example.com", "reserved LDH label"),
            ("dns", "xn--abc.example.com", "not a valid A-label"),
            ("dns", "xn--.example.com", "hyphen"),
            ("dns", "xn--abc-.example.com", "hyphen"), // a "fake A-label" of "abc"
            ("dns", "xn--ls8h.example.com", "symbol"), // 💩
            ("dns", &not_nfc, "encodes to"),
            ("dns", &upper_ulabel, "encodes to"),
            ("dns", &hyphen_ulabel, "not valid under IDNA2008"),
            ("dns", &space_ulabel, "not a valid A-label"),
            ("dns", "foo.onion", "CP 3.2.2.4"),
            ("dns", "x.y.onion", "CP 3.2.2.4"),
            ("dns", "foo.internal", "Internal Name"),
            ("dns", "host.test", "Internal Name"),
            ("dns", "x.local", "Internal Name"),
            ("dns", "x.example", "Internal Name"),
            ("dns", "www.example.com", "RFC 6761"),
            ("dns", "localhost", "Internal Name"),
            ("dns", "router.home.arpa", "arpa"),
            ("dns", "1.2.0.192.in-addr.arpa", "arpa"),
            ("dns", "server.corp", "Internal Name"),
            ("dns", "intranet", "Internal Name"),
            ("dns", "com", "Internal Name"),
            ("dns", "example.com", "RFC 6761"),
            ("dns", "co.uk", "itself a public suffix"),
            ("dns", "foo.ck", "itself a public suffix"),
            ("dns", "uk", "Internal Name"),
        ];
        for (kind, value, fragment) in cases {
            let id = Identifier {
                kind: kind.to_string(),
                value: value.to_string(),
            };
            let err = check_identifier(&id).expect_err(value);
            assert!(err.detail.contains(fragment), "{value}: {}", err.detail);
            if !value.is_empty() {
                let shown: String = value.chars().take(20).collect();
                assert!(
                    err.detail.contains(&shown),
                    "detail names the identifier: {}",
                    err.detail
                );
            }
        }
    }

    #[test]
    fn normalize_lower_cases_ascii_only() {
        assert_eq!(normalize("WWW.Example.COM"), "www.example.com");
        assert_eq!(normalize("BÜCHER.de"), "bÜcher.de");
    }

    #[test]
    fn long_input_is_echoed_shortened() {
        let err = check(&"a.".repeat(10_000)).expect_err("too long");
        assert!(
            err.detail.len() < MAX_ECHO_LEN + 200,
            "{}",
            err.detail.len()
        );
    }
}
