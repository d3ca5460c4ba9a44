//! Issuance latency against a running hanko (started by scripts/bench.sh, not by us).
//!
//! One account, then N sequential orders, each for K fresh names under the test zone:
//! newOrder → http-01 answered in-process → poll ready → finalize (rcgen CSR) → download.
//! Prints percentiles of the end-to-end and finalize→certificate latencies; exits non-zero
//! if any order fails.
//!
//! Usage: issuance_latency --directory URL --root PEM --http01-port P [--orders N] [--names K]

use acme_tests::{Http01Responder, CONTACT_EMAIL, ZONE};
use anyhow::{bail, ensure, Context, Result};
use instant_acme::{Account, ChallengeType, Identifier, NewAccount, NewOrder, Order, OrderStatus};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Client-side poll interval while waiting for `ready` or a certificate. Short and fixed
/// (ignoring Retry-After) because we measure the server, not a polite client's back-off;
/// it bounds the measurement error of each wait to about this much.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// One order taking longer than this counts as failed, so a stuck server ends the run.
const ORDER_TIMEOUT: Duration = Duration::from_secs(60);
/// Stop early after this many failed orders: the figures would mean nothing anyway.
const MAX_FAILURES: usize = 5;

struct Args {
    directory: String,
    root: PathBuf,
    http01_port: u16,
    orders: usize,
    names: usize,
}

fn parse_args() -> Result<Args> {
    const USAGE: &str = "usage: issuance_latency --directory URL --root PEM --http01-port P \
                         [--orders N (100)] [--names K (1)]";
    let (mut directory, mut root, mut http01_port) = (None, None, None);
    let (mut orders, mut names) = (100usize, 1usize);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = || format!("bad value {value:?} for {flag}");
        match flag.as_str() {
            "--directory" => directory = Some(value),
            "--root" => root = Some(PathBuf::from(value)),
            "--http01-port" => http01_port = Some(value.parse().with_context(bad)?),
            "--orders" => orders = value.parse().with_context(bad)?,
            "--names" => names = value.parse().with_context(bad)?,
            _ => bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    ensure!(
        orders > 0 && names > 0,
        "--orders and --names must be positive"
    );
    Ok(Args {
        directory: directory.with_context(|| format!("--directory is required\n{USAGE}"))?,
        root: root.with_context(|| format!("--root is required\n{USAGE}"))?,
        http01_port: http01_port.with_context(|| format!("--http01-port is required\n{USAGE}"))?,
        orders,
        names,
    })
}

/// Latencies of one successful order.
struct Sample {
    total: Duration,
    finalize_to_cert: Duration,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    acme_tests::init_crypto();
    let responder = Http01Responder::start(args.http01_port).await?;
    let contact = format!("mailto:{CONTACT_EMAIL}");
    let (account, _credentials) = Account::builder_with_root(&args.root)
        .with_context(|| format!("ACME client trusting {}", args.root.display()))?
        .create(
            &NewAccount {
                contact: &[&contact],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            args.directory.clone(),
            None,
        )
        .await
        .context("newAccount")?;

    // A per-run tag keeps names fresh across runs against the same server, so no order is
    // served from a reused (already valid) authorization.
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000_000)
        .unwrap_or_default();
    let mut samples = Vec::with_capacity(args.orders);
    let mut failures = 0;
    let started = Instant::now();
    for i in 0..args.orders {
        let names: Vec<String> = (0..args.names)
            .map(|j| format!("b{run}-o{i}-n{j}.{ZONE}"))
            .collect();
        match tokio::time::timeout(ORDER_TIMEOUT, one_order(&account, &responder, &names)).await {
            Ok(Ok(sample)) => samples.push(sample),
            Ok(Err(e)) => {
                failures += 1;
                eprintln!("order {i} ({}) failed: {e:#}", names.join(", "));
            }
            Err(_) => {
                failures += 1;
                eprintln!("order {i} timed out after {ORDER_TIMEOUT:?}");
            }
        }
        if failures >= MAX_FAILURES {
            eprintln!("giving up after {failures} failed orders");
            break;
        }
    }
    let wall = started.elapsed();

    println!(
        "issuance_latency: {} orders x {} name(s), sequential, http-01, poll every {} ms",
        args.orders,
        args.names,
        POLL_INTERVAL.as_millis()
    );
    println!(
        "{:<22}{:>9}{:>9}{:>9}{:>9}{:>9}",
        "latency (ms)", "p50", "p90", "p99", "max", "mean"
    );
    print_row("order end-to-end", samples.iter().map(|s| s.total));
    print_row(
        "finalize→certificate",
        samples.iter().map(|s| s.finalize_to_cert),
    );
    println!(
        "ok {} / failed {failures}; wall time {:.2} s ({:.2} orders/s)",
        samples.len(),
        wall.as_secs_f64(),
        samples.len() as f64 / wall.as_secs_f64()
    );
    if failures > 0 {
        bail!("{failures} order(s) failed");
    }
    Ok(())
}

async fn one_order(
    account: &Account,
    responder: &Http01Responder,
    names: &[String],
) -> Result<Sample> {
    let start = Instant::now();
    let identifiers: Vec<Identifier> = names.iter().cloned().map(Identifier::Dns).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .context("newOrder")?;

    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.context("fetching authorization")?;
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .context("no http-01 challenge offered")?;
        responder.insert(&challenge.token, challenge.key_authorization().as_str());
        challenge
            .set_ready()
            .await
            .context("responding to challenge")?;
    }
    wait_for(&mut order, OrderStatus::Ready).await?;

    let key = rcgen::KeyPair::generate().context("generating certificate key")?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).context("CSR parameters")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).context("building CSR")?;

    let finalize = Instant::now();
    order.finalize_csr(csr.der()).await.context("finalize")?;
    // hanko usually answers `valid` at once; `certificate()` refreshes while `processing`.
    let chain = loop {
        match order
            .certificate()
            .await
            .context("downloading certificate")?
        {
            Some(chain) => break chain,
            None => tokio::time::sleep(POLL_INTERVAL).await,
        }
    };
    let done = Instant::now();
    ensure!(
        chain.contains("BEGIN CERTIFICATE"),
        "certificate download is not PEM"
    );
    Ok(Sample {
        total: done - start,
        finalize_to_cert: done - finalize,
    })
}

/// Poll the order until it reaches `want`; any other final state is an error.
async fn wait_for(order: &mut Order, want: OrderStatus) -> Result<()> {
    loop {
        let state = order.refresh().await.context("polling order")?;
        if state.status == want {
            return Ok(());
        }
        if let Some(error) = &state.error {
            bail!("order is {:?}: {error:?}", state.status);
        }
        if state.status == OrderStatus::Invalid {
            bail!("order became invalid");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Nearest-rank percentile of sorted values (`p` in 0..=100).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn print_row(label: &str, values: impl Iterator<Item = Duration>) {
    let mut sorted: Vec<Duration> = values.collect();
    if sorted.is_empty() {
        println!("{label:<22}  (no successful orders)");
        return;
    }
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = sorted.iter().sum::<Duration>() / sorted.len() as u32;
    println!(
        "{label:<22}{:>9.1}{:>9.1}{:>9.1}{:>9.1}{:>9.1}",
        ms(percentile(&sorted, 50)),
        ms(percentile(&sorted, 90)),
        ms(percentile(&sorted, 99)),
        ms(percentile(&sorted, 100)),
        ms(mean)
    );
}
