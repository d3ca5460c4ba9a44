//! CAA decisions (BR 3.2.2.8, RFC 8659, RFC 8657) over records that `validation` fetched:
//! whether the relevant RRset lets this CA issue for a name, and what a failed lookup means.
//! Pure: no DNS, no clock, no storage.

use serde::{Deserialize, Serialize};

/// One CAA resource record as received (RFC 8659 4.1). `value` is the raw value octets read
/// as UTF-8 (lossily: a value that is not UTF-8 cannot parse as an issuer and so matches
/// nothing, RFC 8659 4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaaRecord {
    pub flags: u8,
    pub tag: String,
    pub value: String,
}

impl std::fmt::Display for CaaRecord {
    /// Zone-file presentation (`0 issue "ca.example"`), so a reason quotes the record the
    /// way its owner wrote it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let escaped = self.value.replace('\\', "\\\\").replace('"', "\\\"");
        write!(f, "{} {} \"{}\"", self.flags, self.tag, escaped)
    }
}

/// Everything the decision needs besides the records.
#[derive(Debug, Clone, Copy)]
pub struct CaaInput<'a> {
    /// The name the relevant RRset was found at (RFC 8659 3): the requested name or the
    /// ancestor the search climbed to; the requested name when the RRset is empty. Named in
    /// the reason.
    pub domain: &'a str,
    /// The relevant RRset (RFC 8659 3); empty when no name up the tree has CAA records.
    pub records: &'a [CaaRecord],
    /// The CA's issuer domain names (`acme.caa_identities`).
    pub issuer_domains: &'a [String],
    /// The requesting account's URL (RFC 8657 3, `accounturi`).
    pub account_uri: &'a str,
    /// The validation method name (RFC 8657 4, `validationmethods`).
    pub method: &'a str,
    /// The name is requested as a wildcard (`issuewild`, RFC 8659 4.3).
    pub wildcard: bool,
}

/// The decision, with a reason that names the record that decided (for the problem detail,
/// the evidence and the audit log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", content = "reason", rename_all = "lowercase")]
pub enum CaaDecision {
    Permit(String),
    Refuse(String),
}

impl CaaDecision {
    pub fn permits(&self) -> bool {
        matches!(self, CaaDecision::Permit(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            CaaDecision::Permit(r) | CaaDecision::Refuse(r) => r,
        }
    }
}

/// Facts about a CAA lookup that failed even after the retry (BR 3.2.2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupFailureFacts {
    /// The lookup was retried at least once.
    pub retried: bool,
    /// A validating resolver reported the answer as DNSSEC-bogus.
    pub dnssec_bogus: bool,
    /// Whether the domain's zone is DNSSEC-signed to the root; `None` when unknown.
    pub signed_to_root: Option<bool>,
    /// The failure happened outside the CA's infrastructure.
    pub outside_ca_infrastructure: bool,
    /// The operator allows the BR's permission on lookup failure at all.
    pub permit_configured: bool,
}

/// RFC 8659 4.1: the Issuer Critical flag is bit 0, the most significant bit of the flags
/// octet.
const CRITICAL: u8 = 0b1000_0000;

/// The property tags this CA understands (RFC 8659 4.2-4.4). Any other tag with the critical
/// flag blocks issuance (RFC 8659 4.1).
const KNOWN_TAGS: [&str; 3] = ["issue", "issuewild", "iodef"];

/// A parsed `issue` / `issuewild` value (RFC 8659 4.2).
#[derive(Debug, PartialEq, Eq)]
struct IssueValue {
    /// `None` for a value without an issuer-domain-name (`";"`): nobody may issue.
    issuer: Option<String>,
    params: Vec<(String, String)>,
}

/// Whether `input.records` let this CA issue (RFC 8659 4, RFC 8657).
pub fn decide(input: &CaaInput<'_>) -> CaaDecision {
    let domain = input.domain;
    if input.records.is_empty() {
        // RFC 8659 3: no relevant RRset, no restriction.
        return CaaDecision::Permit(format!("no CAA records for {domain}"));
    }
    // RFC 8659 4.1: an unknown critical property blocks, whatever else the RRset says.
    if let Some(rec) = input
        .records
        .iter()
        .find(|r| r.flags & CRITICAL != 0 && !is_known_tag(&r.tag))
    {
        return CaaDecision::Refuse(format!(
            "CAA record for {domain} prevents issuance: {rec} (unknown property with the \
             critical flag, RFC 8659 4.1)"
        ));
    }
    let relevant = relevant_properties(input.records, input.wildcard);
    if relevant.is_empty() {
        // RFC 8659 4: only iodef or unknown non-critical tags: CAA does not restrict.
        return CaaDecision::Permit(format!(
            "CAA records for {domain} do not restrict issuance (no issue property)"
        ));
    }
    let mut near_miss: Option<(&CaaRecord, &'static str)> = None;
    for rec in &relevant {
        match authorizes(rec, input) {
            Ok(()) => {
                return CaaDecision::Permit(format!(
                    "CAA record for {domain} permits issuance: {rec}"
                ))
            }
            Err(Some(why)) if near_miss.is_none() => near_miss = Some((rec, why)),
            Err(_) => {}
        }
    }
    let reason = match near_miss {
        // A record names this CA but its RFC 8657 parameters exclude the request: that
        // record decided, and the client needs to know which parameter.
        Some((rec, why)) => format!("CAA record for {domain} prevents issuance: {rec} ({why})"),
        None if relevant.len() == 1 => {
            format!("CAA record for {domain} prevents issuance: {}", relevant[0])
        }
        None => format!(
            "CAA records for {domain} prevent issuance: {}",
            relevant
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    CaaDecision::Refuse(reason)
}

fn is_known_tag(tag: &str) -> bool {
    // RFC 8659 4.1: tag matching is case-insensitive.
    KNOWN_TAGS.iter().any(|k| k.eq_ignore_ascii_case(tag))
}

/// The properties that govern this request: `issuewild` for a wildcard when the RRset has
/// any (RFC 8659 4.3), otherwise `issue` (RFC 8659 4.2).
fn relevant_properties(records: &[CaaRecord], wildcard: bool) -> Vec<&CaaRecord> {
    let with_tag = |tag: &str| -> Vec<&CaaRecord> {
        records
            .iter()
            .filter(|r| r.tag.eq_ignore_ascii_case(tag))
            .collect()
    };
    if wildcard {
        let wild = with_tag("issuewild");
        if !wild.is_empty() {
            return wild;
        }
    }
    with_tag("issue")
}

/// `Ok` when `rec` authorizes this CA for this request. `Err(Some(why))` when it names this
/// CA but an RFC 8657 parameter excludes the request; `Err(None)` when it does not name this
/// CA (another issuer, no issuer, or an unparsable value, RFC 8659 4.2).
fn authorizes(rec: &CaaRecord, input: &CaaInput<'_>) -> Result<(), Option<&'static str>> {
    let value = parse_issue_value(&rec.value).ok_or(None)?;
    let issuer = value.issuer.ok_or(None)?;
    let ours = input
        .issuer_domains
        .iter()
        .any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(&issuer));
    if !ours {
        return Err(None);
    }
    check_parameters(&value.params, input).map_err(Some)
}

/// RFC 8657 3 and 4; other parameters are ignored (RFC 8659 4.2: CA-specific meaning).
/// Parameter tags are matched case-insensitively so that a differently-cased `accounturi`
/// still restricts rather than being silently ignored. A parameter given twice makes the
/// record unusable (it cannot be read unambiguously), which refuses rather than guesses.
fn check_parameters(params: &[(String, String)], input: &CaaInput<'_>) -> Result<(), &'static str> {
    let named = |key: &str| -> Vec<&str> {
        params
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    match named("accounturi").as_slice() {
        [] => {}
        // RFC 8657 3: the URI must equal the account URL exactly.
        [uri] if *uri == input.account_uri => {}
        [_] => return Err("accounturi names a different account, RFC 8657 3"),
        _ => return Err("accounturi given more than once, RFC 8657 3"),
    }
    match named("validationmethods").as_slice() {
        [] => Ok(()),
        [list] if method_listed(list, input.method) => Ok(()),
        [_] => Err("validationmethods does not include the method used, RFC 8657 4"),
        _ => Err("validationmethods given more than once, RFC 8657 4"),
    }
}

/// RFC 8657 4: `value = [*(label ",") label]`, `label = 1*(ALPHA / DIGIT / "-")`. A
/// malformed list names no method.
fn method_listed(list: &str, method: &str) -> bool {
    let labels: Vec<&str> = list.split(',').collect();
    let well_formed = labels
        .iter()
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    well_formed && labels.contains(&method)
}

/// RFC 8659 4.2:
/// ```text
/// issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
/// parameters = (parameter *WSP ";" *WSP parameters) / parameter
/// parameter = parameter-tag *WSP "=" *WSP parameter-value
/// parameter-value = *(%x21-3A / %x3C-7E)
/// ```
/// `None` when the value does not follow the grammar.
fn parse_issue_value(value: &str) -> Option<IssueValue> {
    let mut rest = skip_wsp(value);
    let (name, after) = take_while(rest, |c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let issuer = if name.is_empty() {
        None
    } else {
        if !name.split('.').all(is_ldh_label) {
            return None;
        }
        Some(name.to_string())
    };
    rest = skip_wsp(after);
    let mut params = Vec::new();
    if rest.is_empty() {
        return Some(IssueValue { issuer, params });
    }
    rest = skip_wsp(rest.strip_prefix(';')?);
    if rest.is_empty() {
        return Some(IssueValue { issuer, params });
    }
    loop {
        let (tag, after) = take_while(rest, |c| c.is_ascii_alphanumeric() || c == '-');
        if !is_ldh_label(tag) {
            return None;
        }
        rest = skip_wsp(skip_wsp(after).strip_prefix('=')?);
        let (val, after) = take_while(rest, |c| matches!(c, '\x21'..='\x3a' | '\x3c'..='\x7e'));
        params.push((tag.to_string(), val.to_string()));
        rest = skip_wsp(after);
        if rest.is_empty() {
            return Some(IssueValue { issuer, params });
        }
        // Another parameter must follow a ";" (no trailing ";" after parameters).
        rest = skip_wsp(rest.strip_prefix(';')?);
    }
}

/// `label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))` (RFC 8659 4.2).
fn is_ldh_label(label: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    alnum(label.chars().next())
        && alnum(label.chars().last())
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn skip_wsp(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

fn take_while(s: &str, keep: impl Fn(char) -> bool) -> (&str, &str) {
    let end = s.find(|c: char| !keep(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// What a lookup failure means (BR 3.2.2.8): permission only when every condition holds —
/// the operator allows it, the lookup was retried, the answer was not DNSSEC-bogus, the
/// zone is known not to be signed to the root, and the failure is outside the CA's
/// infrastructure. A refusal lists every condition that failed.
pub fn decide_lookup_failure(facts: &LookupFailureFacts) -> CaaDecision {
    let mut failed = Vec::new();
    if facts.dnssec_bogus {
        failed.push("the answer was DNSSEC-bogus");
    }
    if !facts.permit_configured {
        failed.push("permission on lookup failure is not configured");
    }
    if !facts.retried {
        failed.push("the lookup was not retried");
    }
    match facts.signed_to_root {
        Some(false) => {}
        Some(true) => failed.push("the zone is DNSSEC-signed to the root"),
        None => failed.push("whether the zone is DNSSEC-signed to the root is unknown"),
    }
    if !facts.outside_ca_infrastructure {
        failed.push("the failure is not shown to be outside the CA's infrastructure");
    }
    if failed.is_empty() {
        CaaDecision::Permit(
            "CAA lookup failed outside the CA's infrastructure after a retry, for a zone not \
             DNSSEC-signed to the root: issuance permitted (BR 3.2.2.8)"
                .to_string(),
        )
    } else {
        CaaDecision::Refuse(format!(
            "CAA lookup failed and issuance is not permitted (BR 3.2.2.8): {}",
            failed.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests;
