//! The end-of-run report: throughput, per-step percentiles, errors by problem type.

use super::flow::{Outcome, Step};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Nearest-rank percentile of sorted values (`p` in 0..=100); zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Latencies of `step` over the successful issuances, sorted.
pub fn sorted_step(outcomes: &[Outcome], step: Step) -> Vec<Duration> {
    let mut v: Vec<Duration> = outcomes
        .iter()
        .filter(|o| o.result.is_ok())
        .filter_map(|o| o.step(step))
        .collect();
    v.sort();
    v
}

/// Failures counted by (problem type, step).
pub fn errors(outcomes: &[Outcome]) -> BTreeMap<(String, Step), usize> {
    let mut map = BTreeMap::new();
    for o in outcomes {
        if let Err(f) = &o.result {
            *map.entry((f.kind.clone(), f.step)).or_insert(0) += 1;
        }
    }
    map
}

/// The summary figures the report and the benchmark script read.
pub struct Summary {
    pub ok: usize,
    pub failed: usize,
    pub wall: Duration,
    pub issuances_per_second: f64,
    /// Issuances completed after the ramp, per second after the ramp (the held load).
    pub held_per_second: Option<f64>,
}

pub fn summarize(outcomes: &[Outcome], wall: Duration, ramp: Duration) -> Summary {
    let ok = outcomes.iter().filter(|o| o.result.is_ok()).count();
    let secs = wall.as_secs_f64().max(1e-9);
    let held_ok = outcomes
        .iter()
        .filter(|o| o.result.is_ok() && o.end_offset >= ramp)
        .count();
    let held_secs = wall.saturating_sub(ramp).as_secs_f64();
    Summary {
        ok,
        failed: outcomes.len() - ok,
        wall,
        issuances_per_second: ok as f64 / secs,
        held_per_second: (!ramp.is_zero() && held_secs > 0.0).then(|| held_ok as f64 / held_secs),
    }
}

/// The text report printed at the end.
pub fn render(outcomes: &[Outcome], summary: &Summary, header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    let _ = writeln!(
        out,
        "issuances: {} ok, {} failed in {:.2} s → {:.2} issuances/s",
        summary.ok,
        summary.failed,
        summary.wall.as_secs_f64(),
        summary.issuances_per_second
    );
    if let Some(held) = summary.held_per_second {
        let _ = writeln!(out, "after the ramp: {held:.2} issuances/s");
    }
    let _ = writeln!(
        out,
        "{:<20}{:>7}{:>10}{:>10}{:>10}{:>10}",
        "latency (ms)", "n", "p50", "p90", "p99", "max"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for step in Step::ALL {
        let v = sorted_step(outcomes, step);
        if v.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{:<20}{:>7}{:>10.1}{:>10.1}{:>10.1}{:>10.1}",
            step.name(),
            v.len(),
            ms(percentile(&v, 50.0)),
            ms(percentile(&v, 90.0)),
            ms(percentile(&v, 99.0)),
            ms(percentile(&v, 100.0))
        );
    }
    let errors = errors(outcomes);
    if errors.is_empty() {
        let _ = writeln!(out, "errors: none");
    } else {
        let _ = writeln!(out, "errors by problem type (step):");
        for ((kind, step), n) in errors {
            let short = kind
                .strip_prefix(crate::acme_client::ACME_ERROR)
                .unwrap_or(&kind);
            let _ = writeln!(out, "  {n:>6}  {short} ({})", step.name());
        }
    }
    out
}

/// hanko-load's own CPU time so far (user + system, in clock ticks: /proc/self/stat fields
/// 14 and 15, proc(5)), or None off Linux. On a machine the server shares, the load
/// generator's share of the cores bounds what any server can reach (docs/PEERS.md).
pub fn own_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so fields 14 and 15 are at indexes 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The machine-readable summary (`--summary-json`), read by scripts/bench-peers.sh:
/// issuances/s, per-step percentiles in milliseconds over the successful issuances (the
/// same nearest-rank figures as the text report), and errors by problem type and step.
pub fn summary_json(outcomes: &[Outcome], summary: &Summary, label: &str) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut steps = Map::new();
    for step in Step::ALL {
        let v = sorted_step(outcomes, step);
        if v.is_empty() {
            continue;
        }
        steps.insert(
            step.name().to_string(),
            json!({
                "n": v.len(),
                "p50_ms": ms(percentile(&v, 50.0)),
                "p90_ms": ms(percentile(&v, 90.0)),
                "p99_ms": ms(percentile(&v, 99.0)),
                "max_ms": ms(percentile(&v, 100.0)),
            }),
        );
    }
    let errors: Vec<Value> = errors(outcomes)
        .into_iter()
        .map(|((kind, step), n)| json!({"type": kind, "step": step.name(), "count": n}))
        .collect();
    json!({
        "label": label,
        "ok": summary.ok,
        "failed": summary.failed,
        "wall_seconds": summary.wall.as_secs_f64(),
        "issuances_per_second": summary.issuances_per_second,
        "held_per_second": summary.held_per_second,
        "steps": steps,
        "errors": errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_ticks_grow_with_work() {
        let before = own_cpu_ticks().expect("/proc/self/stat");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut x = 0u64;
        // Busy until the counter moves (one tick is 10 ms of CPU at USER_HZ 100); the
        // deadline only bounds a counter that never moves, whatever the machine's load.
        while own_cpu_ticks().expect("/proc/self/stat") == before {
            assert!(
                std::time::Instant::now() < deadline,
                "CPU ticks never moved"
            );
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        assert!(own_cpu_ticks().expect("/proc/self/stat") > before, "{x}");
    }

    #[test]
    fn nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn summary_json_has_the_figures_of_the_report() {
        use crate::load::flow::{Failure, Issued};
        let ok = |i: usize, ms: u64| Outcome {
            index: i,
            subscriber: 0,
            started: std::time::SystemTime::now(),
            start_offset: Duration::ZERO,
            end_offset: Duration::from_millis(ms),
            names: 1,
            steps: vec![
                (Step::CertificateReady, Duration::from_millis(ms)),
                (Step::EndToEnd, Duration::from_millis(2 * ms)),
            ],
            result: Ok(Issued {
                serial: String::new(),
                certificate_url: String::new(),
                chain_pem: String::new(),
                revoked: false,
                order_url: String::new(),
                account_credentials: String::new(),
            }),
        };
        let mut outcomes: Vec<Outcome> = (1..=100).map(|i| ok(i, i as u64)).collect();
        let mut failed = ok(101, 1);
        failed.result = Err(Failure {
            step: Step::Finalize,
            kind: "urn:ietf:params:acme:error:badCSR".into(),
            detail: String::new(),
        });
        outcomes.push(failed);
        let summary = summarize(&outcomes, Duration::from_secs(10), Duration::ZERO);
        let v = summary_json(&outcomes, &summary, "x");
        assert_eq!(v["ok"], 100);
        assert_eq!(v["failed"], 1);
        assert_eq!(v["issuances_per_second"], 10.0);
        assert_eq!(v["steps"]["certificate-ready"]["p99_ms"], 99.0);
        assert_eq!(v["steps"]["end-to-end"]["p50_ms"], 100.0);
        assert!(v["steps"].get("download").is_none());
        assert_eq!(v["errors"][0]["step"], "finalize");
        assert_eq!(v["errors"][0]["count"], 1);
    }
}
