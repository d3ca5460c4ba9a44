//! `hanko-load`: N concurrent simulated subscribers driving any ACME server (RFC 8555)
//! through complete issuances — new account → new order (1..=k names) → authorizations →
//! http-01 → finalize → certificate → optional revocation — at a held concurrency (closed
//! loop) or a target rate of new orders (open loop), with a linear ramp. Reports per-step
//! latency percentiles, throughput and errors by problem type; writes a CSV (one row per
//! issuance), a JSON-lines file of every issued certificate, and a PNG chart.
//!
//! http-01 is answered by a built-in responder on `--http01-port`; dns-01 by a built-in
//! authoritative DNS responder on `--dns-port` (which the server must use as its resolver).
//! The DNS responder also answers A 127.0.0.1 for every name under `--domain-suffix`, so with
//! http-01 it can stand in for a DNS server too.

pub mod chart;
pub mod flow;
pub mod http;
pub mod output;
pub mod report;
pub mod schedule;

use crate::dns01::DnsResponder;
use crate::http01::Http01Responder;
use anyhow::{bail, ensure, Context, Result};
use flow::{Context as FlowContext, Outcome};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Challenge {
    #[value(name = "http-01")]
    Http01,
    #[value(name = "dns-01")]
    Dns01,
}

/// Command line of `hanko-load`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "hanko-load",
    about = "ACME load generator: complete issuances by N subscribers"
)]
pub struct Args {
    /// The ACME directory URL.
    #[arg(long)]
    pub directory: String,
    /// PEM bundle trusted for the server's TLS certificate.
    #[arg(long)]
    pub ca_bundle: PathBuf,
    /// Concurrent simulated subscribers.
    #[arg(long, default_value_t = 8)]
    pub subscribers: usize,
    /// Target new orders per second (open loop, at most `subscribers` in flight); without
    /// it, each subscriber starts its next issuance as soon as the last one ends.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds over which concurrency (or the rate) climbs linearly to its target.
    #[arg(long, default_value_t = 0.0)]
    pub ramp: f64,
    /// Run for this many seconds.
    #[arg(long, required_unless_present = "issuances")]
    pub duration: Option<f64>,
    /// Run this many issuance attempts (successful or not).
    #[arg(long)]
    pub issuances: Option<usize>,
    /// Names per order: random in 1..=K.
    #[arg(long, default_value_t = 1)]
    pub names: usize,
    /// Challenge type. dns-01 needs `--dns-port`.
    #[arg(long, value_enum, default_value_t = Challenge::Http01)]
    pub challenge: Challenge,
    /// Start the built-in DNS responder on 127.0.0.1:PORT (UDP and TCP), authoritative for
    /// `--domain-suffix`: TXT `_acme-challenge.<name>` for dns-01, A 127.0.0.1 for every
    /// name. The server under test must use it as its resolver.
    #[arg(long)]
    pub dns_port: Option<u16>,
    /// Port of the built-in http-01 responder on 127.0.0.1 (the server's http-01 port).
    #[arg(long, default_value_t = 5002)]
    pub http01_port: u16,
    /// Share of issued certificates to revoke (0..=1).
    #[arg(long, default_value_t = 0.0)]
    pub revoke_fraction: f64,
    /// Names are `s<subscriber>-<random>.<suffix>`; the server must resolve them to us.
    #[arg(long, default_value = crate::rig::ZONE)]
    pub domain_suffix: String,
    /// Account contact (`mailto:` URL); none when empty.
    #[arg(long, default_value = "mailto:ops@hanko-ci.com")]
    pub contact: String,
    /// One CSV row per issuance; certificates go to `<FILE minus extension>.certs.jsonl`.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// PNG chart of latency percentiles and throughput over time.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Font for the chart's text; without it the chart has no text.
    #[arg(
        long,
        default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    )]
    pub font: PathBuf,
    /// Pause this long (ms) after a failed issuance before the subscriber starts its next
    /// one, so a server that is down is not hammered by a tight loop of refused connections
    /// (the fault driver, docs/FAULTS.md, uses it).
    #[arg(long, default_value_t = 0)]
    pub error_pause_ms: u64,
    /// A label for the report and chart title (e.g. the server's name).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Write the summary as JSON here (issuances/s, per-step percentiles, errors by type).
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
}

impl Args {
    fn check(&self) -> Result<()> {
        ensure!(self.subscribers > 0, "--subscribers must be at least 1");
        ensure!(self.names > 0, "--names must be at least 1");
        ensure!(
            (0.0..=1.0).contains(&self.revoke_fraction),
            "--revoke-fraction must be within 0..=1"
        );
        ensure!(self.ramp >= 0.0, "--ramp must not be negative");
        if let Some(r) = self.rate {
            ensure!(r > 0.0 && r.is_finite(), "--rate must be positive");
        }
        if let Some(d) = self.duration {
            ensure!(d > 0.0 && d.is_finite(), "--duration must be positive");
        }
        if self.challenge == Challenge::Dns01 && self.dns_port.is_none() {
            bail!("--challenge dns-01 needs --dns-port (the server's resolver)");
        }
        if self.issuances == Some(0) {
            bail!("--issuances must be at least 1");
        }
        Ok(())
    }
}

/// Everything a run produced.
pub struct RunResult {
    pub outcomes: Vec<Outcome>,
    pub summary: report::Summary,
    pub report: String,
}

/// Run the load as `args` say, print progress, write the files; the report is returned.
pub async fn run(args: Args) -> Result<RunResult> {
    args.check()?;
    crate::init_crypto();
    let http01 = Arc::new(Http01Responder::start(args.http01_port).await?);
    let dns = match args.dns_port {
        Some(port) => Some(Arc::new(
            DnsResponder::start(port, &args.domain_suffix).await?,
        )),
        None => None,
    };
    let ctx = Arc::new(FlowContext {
        directory: args.directory.clone(),
        tls: http::Tls::from_bundle(&args.ca_bundle)?,
        challenge: args.challenge,
        http01,
        dns,
        max_names: args.names,
        domain_suffix: args.domain_suffix.clone(),
        revoke_fraction: args.revoke_fraction,
        contact: (!args.contact.is_empty()).then(|| args.contact.clone()),
    });
    let records = match &args.csv {
        Some(path) => Some(output::Records::create(path)?),
        None => None,
    };
    let progress = progress_bar(&args);
    let start = Instant::now();
    let budget = Arc::new(schedule::Budget::new(
        args.duration.map(|d| start + Duration::from_secs_f64(d)),
        args.issuances,
    ));
    let shared = Arc::new(Shared {
        outcomes: Mutex::new(Vec::new()),
        records: Mutex::new(records),
        progress: progress.clone(),
    });
    let pacer = args.rate.map(|rate| {
        let permits = Arc::new(Semaphore::new(0));
        let task = tokio::spawn(pace(
            permits.clone(),
            rate,
            args.ramp,
            args.subscribers,
            start,
            budget.clone(),
        ));
        (permits, task)
    });
    let ramp = Duration::from_secs_f64(args.ramp);
    let pause = Duration::from_millis(args.error_pause_ms);
    let mut workers = Vec::new();
    for sub in 0..args.subscribers {
        let delay = match pacer {
            Some(_) => Duration::ZERO,
            None => schedule::subscriber_start_delay(sub, args.subscribers, ramp),
        };
        let permits = pacer.as_ref().map(|(p, _)| p.clone());
        let (ctx, budget, shared) = (ctx.clone(), budget.clone(), shared.clone());
        workers.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            subscriber(sub, &ctx, &budget, permits, &shared, start, pause).await
        }));
    }
    let ticker = tokio::spawn(tick(progress.clone(), args.duration));
    for w in workers {
        w.await.context("subscriber task")??;
    }
    let wall = start.elapsed();
    ticker.abort();
    if let Some((permits, task)) = pacer {
        task.abort();
        permits.close();
    }
    progress.finish_and_clear();
    let outcomes = std::mem::take(&mut *shared.outcomes.lock().unwrap_or_else(|p| p.into_inner()));
    finish(&args, outcomes, wall, ramp)
}

fn finish(
    args: &Args,
    mut outcomes: Vec<Outcome>,
    wall: Duration,
    ramp: Duration,
) -> Result<RunResult> {
    // Taken before the report and chart are drawn: the CPU of the load itself.
    let cpu_ticks = report::own_cpu_ticks();
    outcomes.sort_by_key(|o| o.index);
    let summary = report::summarize(&outcomes, wall, ramp);
    let mode = match args.rate {
        Some(r) => format!("open loop at {r}/s, at most {} in flight", args.subscribers),
        None => format!("closed loop, {} subscribers", args.subscribers),
    };
    let label = if args.label.is_empty() {
        String::new()
    } else {
        format!(" {}", args.label)
    };
    let header = format!(
        "hanko-load{label}: {mode}, ramp {} s, 1..={} names, {:?}, revoke {}",
        args.ramp, args.names, args.challenge, args.revoke_fraction
    );
    let mut text = report::render(&outcomes, &summary, header.trim());
    if let Some(png) = &args.png {
        let font = chart::load_font(&args.font);
        let buckets = chart::buckets(&outcomes, wall);
        chart::draw(
            png,
            &buckets,
            chart::bucket_width(wall),
            font,
            header.trim(),
        )?;
        text.push_str(&format!("chart: {}\n", png.display()));
        if !font {
            text.push_str(&format!(
                "(no font at {}: the chart has no text) {}\n",
                args.font.display(),
                chart::LEGEND
            ));
        }
    }
    if let Some(path) = &args.summary_json {
        let mut json = report::summary_json(&outcomes, &summary, &args.label);
        json["cpu_ticks"] = cpu_ticks.into();
        std::fs::write(path, format!("{json:#}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(csv) = &args.csv {
        text.push_str(&format!(
            "csv: {}; certificates: {}\n",
            csv.display(),
            output::certs_path_for(csv).display()
        ));
    }
    Ok(RunResult {
        outcomes,
        summary,
        report: text,
    })
}

struct Shared {
    outcomes: Mutex<Vec<Outcome>>,
    records: Mutex<Option<output::Records>>,
    progress: ProgressBar,
}

impl Shared {
    fn record(&self, o: Outcome) -> Result<()> {
        if let Err(f) = &o.result {
            // Every failure in full above the bar, so a broken setup is readable at once.
            self.progress.println(format!(
                "issuance {} failed at {}: {} — {}",
                o.index,
                f.step.name(),
                f.kind,
                f.detail
            ));
        }
        if let Some(r) = self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            r.write(&o)?;
        }
        self.progress.inc(1);
        self.outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(o);
        Ok(())
    }
}

async fn subscriber(
    sub: usize,
    ctx: &FlowContext,
    budget: &schedule::Budget,
    permits: Option<Arc<Semaphore>>,
    shared: &Shared,
    start: Instant,
    pause: Duration,
) -> Result<()> {
    loop {
        if let Some(p) = &permits {
            // Closed semaphore or exhausted budget: the run is over.
            let acquired = tokio::select! {
                a = p.acquire() => a.ok(),
                _ = wait_exhausted(budget) => None,
            };
            match acquired {
                Some(permit) => permit.forget(),
                None => return Ok(()),
            }
        }
        let Some(index) = budget.take(Instant::now()) else {
            return Ok(());
        };
        // A safety net over the flow's own poll deadlines, so one stuck request cannot
        // hold the run forever.
        let outcome = match tokio::time::timeout(
            flow::POLL_DEADLINE * 3,
            flow::issue(ctx, index, sub, start),
        )
        .await
        {
            Ok(o) => o,
            Err(_) => stuck(index, sub, start),
        };
        let failed = outcome.result.is_err();
        shared.record(outcome)?;
        if failed && pause > Duration::ZERO {
            tokio::time::sleep(pause).await;
        }
    }
}

fn stuck(index: usize, subscriber: usize, start: Instant) -> Outcome {
    Outcome {
        index,
        subscriber,
        started: std::time::SystemTime::now(),
        start_offset: start.elapsed().saturating_sub(flow::POLL_DEADLINE * 3),
        end_offset: start.elapsed(),
        names: 0,
        steps: Vec::new(),
        result: Err(flow::Failure {
            step: flow::Step::EndToEnd,
            kind: "timeout".into(),
            detail: format!("no answer within {:?}", flow::POLL_DEADLINE * 3),
        }),
    }
}

async fn wait_exhausted(budget: &schedule::Budget) {
    while !budget.exhausted(Instant::now()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Open loop: hand out start permits following `schedule::starts_due`. Starts that find every
/// subscriber busy are dropped rather than queued (at most `cap` permits wait), so an
/// overloaded server shows as a rate below target, not as an ever-growing backlog.
async fn pace(
    permits: Arc<Semaphore>,
    rate: f64,
    ramp: f64,
    cap: usize,
    start: Instant,
    budget: Arc<schedule::Budget>,
) {
    let mut emitted = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    while !budget.exhausted(Instant::now()) {
        tick.tick().await;
        let due = schedule::starts_due(start.elapsed().as_secs_f64(), rate, ramp).floor() as u64;
        let new = due.saturating_sub(emitted);
        emitted = due;
        let room = cap.saturating_sub(permits.available_permits());
        permits.add_permits((new as usize).min(room));
    }
}

fn progress_bar(args: &Args) -> ProgressBar {
    let (len, template) = match (args.issuances, args.duration) {
        (Some(n), _) => (
            n as u64,
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} issuances ({per_sec}) {msg}",
        ),
        (None, _) => (
            u64::MAX,
            "{spinner} [{elapsed_precise}] {pos} issuances ({per_sec}) {msg}",
        ),
    };
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Keep the bar (and its elapsed time) moving while issuances are slow.
async fn tick(bar: ProgressBar, duration: Option<f64>) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    loop {
        interval.tick().await;
        if let Some(d) = duration {
            bar.set_message(format!("of {d:.0} s"));
        }
        bar.tick();
    }
}
