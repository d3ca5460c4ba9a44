//! The figures of a fault run, as text.

use super::{FaultRun, FaultWindow};
use crate::load::flow::Outcome;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A phase: from a fault's start to the next fault's start (the fault and the calm after it).
fn phase_of(windows: &[FaultWindow], start: f64) -> usize {
    windows.iter().take_while(|w| w.start <= start).count()
}

/// Seconds from the end of `w` to the end of the first successful issuance that started
/// after it: how long until a fresh subscriber got a certificate again.
pub fn recovery_seconds(w: &FaultWindow, outcomes: &[Outcome]) -> Option<f64> {
    outcomes
        .iter()
        .filter(|o| o.result.is_ok() && o.start_offset.as_secs_f64() >= w.end)
        .map(|o| o.end_offset.as_secs_f64() - w.end)
        .reduce(f64::min)
}

pub fn render(run: &FaultRun) -> String {
    let mut t = String::new();
    let outcomes = &run.load.outcomes;
    let _ = writeln!(t, "== hanko-faults ==");
    let _ = writeln!(t, "faults (seconds from the load's start):");
    for w in &run.windows {
        let rec = recovery_seconds(w, outcomes)
            .map_or("no success afterwards".to_string(), |s| format!("{s:.1} s"));
        let _ = writeln!(
            t,
            "  {:<18} {:>6.1} → {:>6.1}  held {:>4.1} s  recovery (fault end → first new certificate) {rec}  [{}]",
            w.name,
            w.start,
            w.end,
            w.end - w.start,
            w.note
        );
    }
    let mut names = vec!["calm, before faults".to_string()];
    names.extend(
        run.windows
            .iter()
            .map(|w| format!("{} + calm after", w.name)),
    );
    let _ = writeln!(t, "issuances per phase (by start time):");
    let _ = writeln!(
        t,
        "  {:<32} {:>9} {:>9} {:>7}  failures by problem type",
        "phase", "attempted", "succeeded", "failed"
    );
    for (i, name) in names.iter().enumerate() {
        let in_phase: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| phase_of(&run.windows, o.start_offset.as_secs_f64()) == i)
            .collect();
        let ok = in_phase.iter().filter(|o| o.result.is_ok()).count();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for o in &in_phase {
            if let Err(f) = &o.result {
                *kinds
                    .entry(format!("{} at {}", f.kind, f.step.name()))
                    .or_default() += 1;
            }
        }
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n}× {k}")).collect();
        let _ = writeln!(
            t,
            "  {:<32} {:>9} {:>9} {:>7}  {}",
            name,
            in_phase.len(),
            ok,
            in_phase.len() - ok,
            kinds.join("; ")
        );
    }
    let f = &run.findings;
    let _ = writeln!(t, "checks:");
    let _ = writeln!(
        t,
        "  certificates received {}; in the database byte-identical {}; downloaded again through ACME {}; lost {}; not downloadable {}",
        f.received, f.in_database, f.downloaded, f.lost.len(), f.not_downloadable.len()
    );
    let statuses: Vec<String> = f
        .serials_by_status
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    let _ = writeln!(
        t,
        "  database: {} certificates, {} signed precertificates, {} serials ({}); serials used twice or mismatched: {}",
        f.db_certificates,
        f.db_precertificates,
        f.db_serials,
        statuses.join(", "),
        f.duplicate_serials.len()
    );
    let _ = writeln!(
        t,
        "  after the load: no order processing after {:.1} s (bound {:.0} s); still processing: {} orders, {} challenges",
        run.settle.as_secs_f64(),
        run.recovery_deadline.as_secs_f64(),
        run.stuck_orders,
        run.stuck_challenges
    );
    let _ = writeln!(
        t,
        "  orders recovered (failed cleanly as interrupted): {}; running-server sweeps that recovered work: {}",
        run.recovered_orders, run.sweep_recoveries
    );
    let _ = writeln!(
        t,
        "  audit chain: {} ({})",
        if run.audit_ok { "verifies" } else { "BROKEN" },
        run.audit_output.lines().last().unwrap_or("")
    );
    let _ = writeln!(
        t,
        "  server panics: {}; 5xx details naming internals: {}",
        run.panics,
        run.leaky_5xx.len()
    );
    for line in f
        .lost
        .iter()
        .chain(&f.not_downloadable)
        .chain(&f.duplicate_serials)
        .chain(&run.leaky_5xx)
        .take(20)
    {
        let _ = writeln!(t, "  ! {line}");
    }
    let _ = writeln!(t, "result: {}", if run.ok() { "PASS" } else { "FAIL" });
    t.push_str("--- hanko-load report ---\n");
    t.push_str(&run.load.report);
    t
}
