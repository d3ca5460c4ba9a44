//! The multi-perspective issuance corroboration quorum (BR 3.2.2.9), as a pure decision over
//! the remote perspectives' results. The caller (`validation::Validator`) asks every
//! perspective afresh for each validation, so no earlier corroboration is ever reused, and
//! counts a perspective that was down, timed out or answered garbage as not corroborating.
//!
//! Rules (BR 3.2.2.9, the quorum table):
//! - the primary perspective must pass;
//! - at least `required` remote perspectives must have been asked (the dated minimum,
//!   `policy::dated::min_remote_perspectives`, when it is enforced; 0 otherwise);
//! - with 2–5 remote perspectives at most 1 may fail to corroborate, with 6 or more at most
//!   2; with a single one (development rigs only) it must corroborate;
//! - with 2 or more remote perspectives, the corroborating ones span at least 2 distinct RIR
//!   regions.

use serde::Serialize;
use std::collections::BTreeSet;

/// One remote perspective's part: did it see the same thing the primary saw?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteResult {
    pub id: String,
    pub rir: String,
    pub corroborated: bool,
}

/// The decision, serialised as the `quorum` object of the `validation.attempt` audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuorumDecision {
    /// `valid` or `invalid`.
    pub result: &'static str,
    pub primary_passed: bool,
    pub remote_required: u32,
    pub remote_asked: usize,
    pub remote_corroborated: usize,
    /// Non-corroborations the quorum table allows for `remote_asked`.
    pub allowed_failures: usize,
    /// Distinct RIR regions of the corroborating perspectives.
    pub corroborating_rirs: Vec<String>,
    /// Ids of the remote perspectives that did not corroborate.
    pub dissenting: Vec<String>,
    /// Why the quorum failed (empty when it held).
    pub reasons: Vec<String>,
}

impl QuorumDecision {
    pub fn passed(&self) -> bool {
        self.result == "valid"
    }
}

/// Non-corroborations allowed with `remotes` remote perspectives (BR 3.2.2.9 table).
pub fn allowed_failures(remotes: usize) -> usize {
    match remotes {
        0 | 1 => 0,
        2..=5 => 1,
        _ => 2,
    }
}

/// Decides the quorum. `required` is the number of remote perspectives the date requires
/// (0 when the dated minimum is not enforced: development without publicly-trusted
/// profiles, where the primary alone may decide).
pub fn decide(primary_passed: bool, remotes: &[RemoteResult], required: u32) -> QuorumDecision {
    let dissenting: Vec<String> = remotes
        .iter()
        .filter(|r| !r.corroborated)
        .map(|r| r.id.clone())
        .collect();
    let rirs: BTreeSet<&str> = remotes
        .iter()
        .filter(|r| r.corroborated)
        .map(|r| r.rir.as_str())
        .collect();
    let allowed = allowed_failures(remotes.len());
    let mut reasons = Vec::new();
    if !primary_passed {
        reasons.push("the primary perspective did not pass".to_string());
    }
    if remotes.len() < required as usize {
        reasons.push(format!(
            "{} remote perspectives asked, {required} required (BR 3.2.2.9)",
            remotes.len()
        ));
    }
    if dissenting.len() > allowed {
        reasons.push(format!(
            "{} of {} remote perspectives did not corroborate (at most {allowed} may): {}",
            dissenting.len(),
            remotes.len(),
            dissenting.join(", ")
        ));
    }
    if remotes.len() >= 2 && rirs.len() < 2 {
        reasons.push(format!(
            "corroborating remote perspectives span {} RIR region(s), at least 2 required",
            rirs.len()
        ));
    }
    QuorumDecision {
        result: if reasons.is_empty() {
            "valid"
        } else {
            "invalid"
        },
        primary_passed,
        remote_required: required,
        remote_asked: remotes.len(),
        remote_corroborated: remotes.len() - dissenting.len(),
        allowed_failures: allowed,
        corroborating_rirs: rirs.into_iter().map(str::to_string).collect(),
        dissenting,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RIRS: [&str; 4] = ["ARIN", "RIPE", "APNIC", "LACNIC"];

    /// `n` remotes over the RIRs in turn, the first `failing` of them dissenting.
    fn remotes(n: usize, failing: usize) -> Vec<RemoteResult> {
        (0..n)
            .map(|i| RemoteResult {
                id: format!("p{}", i + 1),
                rir: RIRS[i % RIRS.len()].to_string(),
                corroborated: i >= failing,
            })
            .collect()
    }

    #[test]
    fn no_remotes_primary_decides_when_none_required() {
        assert!(decide(true, &[], 0).passed());
        assert!(!decide(false, &[], 0).passed());
        let d = decide(true, &[], 4);
        assert!(!d.passed());
        assert!(d.reasons[0].contains("0 remote perspectives asked, 4 required"));
    }

    #[test]
    fn one_remote_must_corroborate() {
        assert!(decide(true, &remotes(1, 0), 0).passed());
        let d = decide(true, &remotes(1, 1), 0);
        assert!(!d.passed());
        assert_eq!(d.dissenting, ["p1"]);
    }

    #[test]
    fn two_remotes_allow_one_failure_but_then_lack_rir_diversity() {
        assert!(decide(true, &remotes(2, 0), 0).passed());
        // One dissent is allowed, but the one corroborating remote is a single RIR.
        let d = decide(true, &remotes(2, 1), 0);
        assert!(!d.passed());
        assert_eq!(d.reasons.len(), 1);
        assert!(d.reasons[0].contains("1 RIR region"));
    }

    #[test]
    fn five_remotes_allow_exactly_one_failure() {
        assert!(decide(true, &remotes(5, 0), 5).passed());
        assert!(decide(true, &remotes(5, 1), 5).passed());
        let d = decide(true, &remotes(5, 2), 5);
        assert!(!d.passed());
        assert_eq!(d.dissenting, ["p1", "p2"]);
        assert!(d.reasons[0].contains("2 of 5 remote perspectives did not corroborate"));
        assert!(d.reasons[0].contains("p1, p2"));
    }

    #[test]
    fn six_and_seven_remotes_allow_two_failures() {
        assert!(decide(true, &remotes(6, 2), 5).passed());
        assert!(!decide(true, &remotes(6, 3), 5).passed());
        assert!(decide(true, &remotes(7, 2), 5).passed());
        let d = decide(true, &remotes(7, 3), 5);
        assert!(!d.passed());
        assert_eq!(d.allowed_failures, 2);
    }

    #[test]
    fn fewer_remotes_than_the_date_requires_fail() {
        let d = decide(true, &remotes(4, 0), 5);
        assert!(!d.passed());
        assert!(d.reasons[0].contains("4 remote perspectives asked, 5 required"));
        assert!(decide(true, &remotes(4, 0), 4).passed());
    }

    #[test]
    fn corroborating_remotes_must_span_two_rirs() {
        let mut same = remotes(5, 0);
        for r in &mut same {
            r.rir = "ARIN".to_string();
        }
        let d = decide(true, &same, 4);
        assert!(!d.passed());
        assert!(d.reasons[0].contains("1 RIR region"));
        // Diversity counts only corroborating perspectives: the only RIPE one dissents.
        same[4].rir = "RIPE".to_string();
        same[4].corroborated = false;
        assert!(!decide(true, &same, 4).passed());
        same[4].corroborated = true;
        assert!(decide(true, &same, 4).passed());
    }

    #[test]
    fn the_primary_must_pass_whatever_the_remotes_say() {
        let d = decide(false, &remotes(5, 0), 4);
        assert!(!d.passed());
        assert_eq!(d.reasons, ["the primary perspective did not pass"]);
    }
}
