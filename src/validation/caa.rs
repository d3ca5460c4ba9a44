//! CAA lookup (BR 3.2.2.8, RFC 8659 3): find the relevant RRset for a name, then hand it to
//! the pure decision in `policy::caa`. Records are parsed from raw RDATA here (RFC 8659 4.1),
//! so a tag or value hickory would reject still reaches the decision, where it fails to match
//! (RFC 8659 4.2) or, with the critical flag, blocks (RFC 8659 4.1).

use super::dns_client::{AnswerData, DnsClient, Dnssec, LookupFailure};
use super::resolve::fqdn;
use super::CaaParams;
use crate::core::{FailureKind, ValidationFailure};
use crate::policy::caa::{self as policy, CaaDecision, CaaInput, CaaRecord, LookupFailureFacts};
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::Name;
use serde::Serialize;

/// One name asked during the climb.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct QueriedName {
    pub name: String,
    /// `NoError`, `NXDomain` (the rcode of the answer used).
    pub rcode: String,
    /// CNAME targets the resolver followed for this name (RFC 8659 3).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub records: usize,
    pub dnssec: Dnssec,
    pub attempts: u32,
}

/// The outcome of the search (RFC 8659 3).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct RelevantRrset {
    pub queried: Vec<QueriedName>,
    /// The name whose CAA RRset is relevant; `None` when no name up the tree has one.
    pub relevant_name: Option<String>,
    pub records: Vec<CaaRecord>,
}

impl RelevantRrset {
    /// The weakest DNSSEC status of the answers the search relied on.
    pub fn dnssec(&self) -> Dnssec {
        self.queried
            .iter()
            .map(|q| q.dnssec)
            .reduce(Dnssec::min)
            .unwrap_or(Dnssec::Unchecked)
    }
}

/// A search that stopped on a lookup failure (after the retry).
#[derive(Debug, Clone)]
pub(crate) struct SearchFailure {
    /// The names answered before the failure.
    pub partial: RelevantRrset,
    pub failure: LookupFailure,
}

/// Parses one CAA RDATA (RFC 8659 4.1): flags, tag length, tag, value. `None` when the
/// lengths do not fit: such an answer cannot be read, so the lookup fails.
pub(crate) fn parse_rdata(raw: &[u8]) -> Option<CaaRecord> {
    let (&flags, rest) = raw.split_first()?;
    let (&tag_len, rest) = rest.split_first()?;
    let tag_len = usize::from(tag_len);
    // RFC 8659 4.1: "The tag length MUST be at least 1".
    if tag_len == 0 || rest.len() < tag_len {
        return None;
    }
    let (tag, value) = rest.split_at(tag_len);
    Some(CaaRecord {
        flags,
        tag: String::from_utf8_lossy(tag).into_owned(),
        value: String::from_utf8_lossy(value).into_owned(),
    })
}

/// The names searched for `host`: the name itself, then each parent, up to but excluding the
/// root (RFC 8659 3). A CNAME does not change this list: the resolver follows the alias for
/// each name asked, and climbing continues from the original name's parent.
pub(crate) fn search_names(host: &str) -> Vec<String> {
    let host = host.trim_end_matches('.');
    let mut names = Vec::new();
    let mut rest = host;
    while !rest.is_empty() {
        names.push(rest.to_string());
        rest = rest.split_once('.').map_or("", |(_, parent)| parent);
    }
    names
}

/// The relevant-RRset search of RFC 8659 3 through `client`.
pub(crate) async fn relevant_rrset(
    client: &DnsClient,
    validating: bool,
    host: &str,
) -> Result<RelevantRrset, SearchFailure> {
    let mut found = RelevantRrset::default();
    for candidate in search_names(host) {
        let name = fqdn(&candidate).map_err(|e| SearchFailure {
            partial: found.clone(),
            failure: LookupFailure::Failed {
                name: candidate.clone(),
                why: e.detail,
            },
        })?;
        let records = match ask(client, validating, &name, &mut found).await {
            Ok(records) => records,
            Err(failure) => {
                return Err(SearchFailure {
                    partial: found,
                    failure,
                })
            }
        };
        if !records.is_empty() {
            found.relevant_name = Some(candidate);
            found.records = records;
            return Ok(found);
        }
    }
    Ok(found)
}

/// CAA at one name (following the resolver's CNAME chain), recorded in `found.queried`.
async fn ask(
    client: &DnsClient,
    validating: bool,
    name: &Name,
    found: &mut RelevantRrset,
) -> Result<Vec<CaaRecord>, LookupFailure> {
    let lookup = client.lookup(name, RecordType::CAA, validating).await?;
    let shown = name.to_ascii().trim_end_matches('.').to_string();
    let mut records = Vec::new();
    for data in lookup.response.records_at(name, RecordType::CAA) {
        let AnswerData::Caa(raw) = data else { continue };
        let record = parse_rdata(raw).ok_or_else(|| LookupFailure::Failed {
            name: shown.clone(),
            why: "malformed CAA RDATA in the answer".to_string(),
        })?;
        records.push(record);
    }
    found.queried.push(QueriedName {
        name: shown,
        rcode: format!("{:?}", lookup.response.rcode),
        aliases: lookup.response.aliases(name),
        records: records.len(),
        dnssec: lookup.dnssec,
        attempts: lookup.attempts,
    });
    Ok(records)
}

/// The CAA check of one name: search, decide, and the evidence object (CPS 5.5).
pub(crate) async fn check(
    client: &DnsClient,
    validating: bool,
    host: &str,
    params: &CaaParams,
) -> (Result<(), ValidationFailure>, serde_json::Value) {
    match relevant_rrset(client, validating, host).await {
        Ok(found) => {
            let decision = policy::decide(&CaaInput {
                domain: found.relevant_name.as_deref().unwrap_or(host),
                records: &found.records,
                issuer_domains: &params.issuer_domains,
                account_uri: &params.account_uri,
                method: &params.method,
                wildcard: params.wildcard,
            });
            let evidence = evidence(&found, found.dnssec(), &decision, None);
            let result = match decision {
                CaaDecision::Permit(_) => Ok(()),
                CaaDecision::Refuse(reason) => Err(ValidationFailure::new(
                    FailureKind::Caa,
                    // The reason names the record and where it was found; name the
                    // requested host too when the record sits at a parent (RFC 8659 3).
                    match found.relevant_name.as_deref() {
                        Some(at) if at != host => format!("{host}: {reason}"),
                        _ => reason,
                    },
                )),
            };
            (result, evidence)
        }
        Err(SearchFailure { partial, failure }) => lookup_failed(host, partial, &failure),
    }
}

/// BR 3.2.2.8: a failed lookup permits issuance only under the policy's conditions.
fn lookup_failed(
    host: &str,
    partial: RelevantRrset,
    failure: &LookupFailure,
) -> (Result<(), ValidationFailure>, serde_json::Value) {
    let facts = LookupFailureFacts {
        retried: true,
        dnssec_bogus: failure.is_bogus(),
        // Proving the zone unsigned to the root needs the DS chain; not established here.
        signed_to_root: None,
        // Through a stub client we only see our own resolver's SERVFAIL or silence, which is
        // the CA's infrastructure as far as we can tell (BR 3.2.2.8).
        outside_ca_infrastructure: false,
        permit_configured: false,
    };
    let decision = policy::decide_lookup_failure(&facts);
    let dnssec = if failure.is_bogus() {
        "bogus"
    } else {
        "unknown"
    };
    let mut json = evidence(&partial, Dnssec::Unchecked, &decision, Some(failure));
    json["dnssec"] = serde_json::json!(dnssec);
    let result = if decision.permits() {
        Ok(())
    } else {
        let mut f = failure.to_failure(RecordType::CAA);
        f.detail = format!("{} (CAA check for {host})", f.detail);
        Err(f)
    };
    (result, json)
}

fn evidence(
    found: &RelevantRrset,
    dnssec: Dnssec,
    decision: &CaaDecision,
    failure: Option<&LookupFailure>,
) -> serde_json::Value {
    let (verdict, reason) = match decision {
        CaaDecision::Permit(r) => ("permit", r),
        CaaDecision::Refuse(r) => ("refuse", r),
    };
    let mut json = serde_json::json!({
        "queried": found.queried,
        "relevant_name": found.relevant_name,
        "records": found.records,
        "dnssec": dnssec,
        "decision": verdict,
        "reason": reason,
    });
    if let Some(failure) = failure {
        json["lookup_failure"] = serde_json::json!(format!("{failure:?}"));
    }
    json
}

#[cfg(test)]
mod tests {
    use super::{parse_rdata, search_names};

    #[test]
    fn search_climbs_to_but_excludes_the_root() {
        assert_eq!(
            search_names("a.b.example.com."),
            ["a.b.example.com", "b.example.com", "example.com", "com"]
        );
    }

    #[test]
    fn rdata_is_parsed_raw() {
        let r = parse_rdata(b"\x80\x05ISSUEca.example; x=\xff").expect("record");
        assert_eq!((r.flags, r.tag.as_str()), (128, "ISSUE"));
        assert_eq!(r.value, "ca.example; x=\u{fffd}");
        // A tag hickory would refuse still reaches the decision.
        assert_eq!(parse_rdata(b"\x00\x03a-bx").expect("record").tag, "a-b");
        assert_eq!(
            parse_rdata(b"\x00\x05issue").expect("empty value").value,
            ""
        );
        assert!(parse_rdata(b"\x00\x00").is_none());
        assert!(parse_rdata(b"\x00\x09issue").is_none());
        assert!(parse_rdata(b"\x00").is_none());
    }
}
