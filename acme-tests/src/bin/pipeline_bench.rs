//! Issuance through the full pipeline (issue #3 "Speed"): CA keys in SoftHSM2 (from
//! `hanko ceremony`), the warm pkilint worker, three local RFC 6962 test logs of three
//! operators. Authorizations are validated once per name, then `--concurrency` workers keep
//! that many orders in flight until `--orders` certificates are issued.
//!
//! Prints finalize→certificate p50/p90/p99/max, sustained issuances per second, and the
//! server's own per-step times (`hanko_issuance_step_seconds`: lint, sign, ct, sign_final,
//! record). Uses the hanko of `$HANKO_BIN` (scripts/bench.sh passes the release build).
//!
//! Usage: pipeline_bench [--orders N (400)] [--concurrency C (16)] [--hierarchy ecdsa|rsa]

use acme_tests::acme_client::{b64, Account, AcmeClient, Key};
use acme_tests::fullca::{FullCa, Hierarchy, LogSpec};
use acme_tests::http01::Http01Responder;
use acme_tests::rig::{Rig, DEFAULT_HOSTS};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn parse_args() -> Result<(usize, usize, Hierarchy)> {
    let (mut orders, mut concurrency, mut hierarchy) = (400, 16, Hierarchy::Ecdsa);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--orders" => orders = value.parse()?,
            "--concurrency" => concurrency = value.parse()?,
            "--hierarchy" => {
                hierarchy = match value.as_str() {
                    "ecdsa" => Hierarchy::Ecdsa,
                    "rsa" => Hierarchy::Rsa,
                    other => bail!("--hierarchy {other}: ecdsa or rsa"),
                }
            }
            other => bail!("unknown flag {other}"),
        }
    }
    Ok((orders, concurrency.max(1), hierarchy))
}

fn csr(names: &[&str]) -> Result<Vec<u8>> {
    let key = rcgen::KeyPair::generate()?;
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    Ok(params.serialize_request(&key)?.der().to_vec())
}

/// One order for `name` (its authorization already valid): newOrder → finalize → valid.
/// Returns the finalize→certificate time.
async fn one_order(account: &Account, name: &str) -> Result<Duration> {
    let url = account.client.url("newOrder");
    let rsp = account
        .post(
            &url,
            Some(&json!({"identifiers": [{"type": "dns", "value": name}]})),
        )
        .await?;
    let order_url = rsp.location().context("order URL")?.to_string();
    if rsp.str("status") != Some("ready") {
        bail!("order not ready (authorization not reused?):\n{rsp}");
    }
    let finalize = rsp.body["finalize"]
        .as_str()
        .context("finalize")?
        .to_string();
    let csr = csr(&[name])?;
    let started = Instant::now();
    let mut rsp = account
        .post(&finalize, Some(&json!({"csr": b64(&csr)})))
        .await?;
    while rsp.str("status") == Some("processing") {
        tokio::time::sleep(Duration::from_millis(20)).await;
        rsp = account.post_as_get(&order_url).await?;
    }
    let took = started.elapsed();
    if rsp.str("status") != Some("valid") {
        bail!("order did not become valid:\n{rsp}");
    }
    Ok(took)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Mean and bucket-estimated median of each `hanko_issuance_step_seconds` step.
fn step_report(metrics: &str) -> Vec<String> {
    let mut out = Vec::new();
    for step in ["lint", "sign", "ct", "sign_final", "record"] {
        let label = format!("step=\"{step}\"");
        let value = |suffix: &str| -> Option<f64> {
            metrics
                .lines()
                .find(|l| {
                    l.starts_with(&format!("hanko_issuance_step_seconds_{suffix}{{"))
                        && l.contains(&label)
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
        };
        let (Some(sum), Some(count)) = (value("sum"), value("count")) else {
            continue;
        };
        let buckets: Vec<(f64, f64)> = metrics
            .lines()
            .filter(|l| l.starts_with("hanko_issuance_step_seconds_bucket{") && l.contains(&label))
            .filter_map(|l| {
                let le = l.split("le=\"").nth(1)?.split('"').next()?.parse().ok()?;
                let n = l.rsplit(' ').next()?.parse().ok()?;
                Some((le, n))
            })
            .collect();
        let median = buckets
            .iter()
            .find(|(_, n)| *n >= count / 2.0)
            .map(|(le, _)| *le)
            .unwrap_or(f64::NAN);
        out.push(format!(
            "  {step:<10} mean {:>7.2} ms   median ≤ {:>7.2} ms   (n = {count})",
            sum / count * 1000.0,
            median * 1000.0
        ));
    }
    out
}

#[tokio::main]
async fn main() -> Result<()> {
    let (orders, concurrency, hierarchy) = parse_args()?;
    let logs = LogSpec::three_operators();
    eprintln!("pipeline_bench: setting up SoftHSM2, ceremonies, 3 CT logs, BIND9 …");
    let ca = FullCa::prepare(hierarchy, &logs).await?;
    let server = ca.start(&logs).await?;
    let client = AcmeClient::connect(&server).await?;
    let account = Arc::new(client.create_account(Key::es256()).await?);
    let responder = Http01Responder::start(server.http01_port()).await?;
    let names: Vec<String> = DEFAULT_HOSTS.iter().map(|h| Rig::name(h)).collect();
    // Validate each name once; later orders reuse the valid authorizations.
    for name in &names {
        let (_, url) = account.create_order(&[name]).await?;
        account.make_ready(&responder, &url).await?;
    }
    // Warm-up: one issuance per worker, not measured.
    for name in names.iter().take(concurrency.min(names.len())) {
        one_order(&account, name).await?;
    }
    eprintln!("pipeline_bench: {orders} orders, {concurrency} in flight");
    let next = Arc::new(AtomicUsize::new(0));
    let names = Arc::new(names);
    let wall = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (account, next, names) = (account.clone(), next.clone(), names.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= orders {
                    return Ok::<_, anyhow::Error>(times);
                }
                times.push(one_order(&account, &names[i % names.len()]).await?);
            }
        }));
    }
    let mut times = Vec::new();
    for w in workers {
        times.extend(w.await??);
    }
    let elapsed = wall.elapsed();
    times.sort();
    let metrics = server
        .client()
        .get(format!("{}/metrics", server.base_url()))
        .send()
        .await?
        .text()
        .await?;
    println!(
        "pipeline_bench ({hierarchy:?} HSM hierarchy, pkilint, 3 CT logs): {} issuances in {:.1} s",
        times.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "  sustained: {:.1} issuances/s with {concurrency} orders in flight",
        times.len() as f64 / elapsed.as_secs_f64()
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  finalize→certificate: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.90)),
        ms(percentile(&times, 0.99)),
        ms(percentile(&times, 1.0))
    );
    println!("  server-side steps (hanko_issuance_step_seconds):");
    for line in step_report(&metrics) {
        println!("{line}");
    }
    drop(server);
    Ok(())
}
