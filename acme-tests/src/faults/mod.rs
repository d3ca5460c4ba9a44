//! `hanko-faults`: faults under load (issue #5 item 6, docs/FAULTS.md). A full-pipeline hanko
//! (SoftHSM, pkilint, three local CT logs, BIND9 as its resolver) on a PostgreSQL cluster of
//! its own serves `hanko-load` while, one after another with calm in between:
//! (a) the server is SIGKILLed and restarted on the same ports and database;
//! (b) PostgreSQL is stopped (immediate) and started again;
//! (c) one CT log answers 503, then the DNS resolver (BIND9) is stopped and started again.
//! Afterwards the checks of `checks.rs` run and the figures are printed.

pub mod checks;
pub mod dns;
pub mod pg;
pub mod report;

use crate::fullca::{FullCa, Hierarchy, LogSpec};
use crate::ports::free_tcp_port;
use crate::server::HankoServer;
use anyhow::{ensure, Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "hanko-faults",
    about = "Faults under load against a full-pipeline hanko"
)]
pub struct Args {
    /// Concurrent hanko-load subscribers.
    #[arg(long, default_value_t = 8)]
    pub subscribers: usize,
    /// Seconds each fault is held.
    #[arg(long, default_value_t = 8.0)]
    pub hold: f64,
    /// Seconds of calm load before the first fault, between faults and after the last.
    #[arg(long, default_value_t = 20.0)]
    pub calm: f64,
    /// After the load: how long orders may stay `processing` before it counts as stuck.
    #[arg(long, default_value_t = 60.0)]
    pub recovery_deadline: f64,
    /// Directory for the CSV, certificates, PNG and logs (a temporary one when absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A fault as it happened, in seconds from the load's start.
#[derive(Debug, Clone)]
pub struct FaultWindow {
    pub name: &'static str,
    pub start: f64,
    pub end: f64,
    /// What the injection confirmed (e.g. "CT log refused 12 submissions").
    pub note: String,
}

/// Everything the run measured.
pub struct FaultRun {
    pub windows: Vec<FaultWindow>,
    pub load: crate::load::RunResult,
    pub findings: checks::Findings,
    /// Time from the end of the load until no order or challenge was `processing`.
    pub settle: Duration,
    pub stuck_orders: u64,
    pub stuck_challenges: u64,
    pub recovered_orders: u64,
    pub sweep_recoveries: usize,
    pub audit_ok: bool,
    pub audit_output: String,
    pub panics: usize,
    pub leaky_5xx: Vec<String>,
    pub recovery_deadline: Duration,
    /// Submissions the CT log in outage answered with 503: shows the fault met traffic.
    pub ct_refused: u64,
}

impl FaultRun {
    /// Every invariant held, and the CT fault met traffic (else it proved nothing).
    pub fn ok(&self) -> bool {
        self.findings.ok()
            && self.ct_refused > 0
            && self.stuck_orders == 0
            && self.stuck_challenges == 0
            && self.audit_ok
            && self.panics == 0
            && self.leaky_5xx.is_empty()
    }
}

struct Rig {
    ca: FullCa,
    specs: Vec<LogSpec>,
    pg: pg::OwnedPostgres,
    opts: crate::server::HankoOptions,
}

impl Rig {
    async fn start_server(&self) -> Result<HankoServer> {
        HankoServer::start(self.opts.clone()).await
    }
}

/// Run the whole thing: set up, load with faults, check.
pub async fn run(args: &Args) -> Result<FaultRun> {
    crate::init_crypto();
    let tmp = tempfile::Builder::new().prefix("hanko-faults-").tempdir()?;
    let out = args.out.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&out)?;
    let specs = LogSpec::three_operators();
    let ca = FullCa::prepare(Hierarchy::Ecdsa, &specs).await?;
    let pg = pg::OwnedPostgres::start().await?;
    std::fs::create_dir_all(ca.work_dir())?;
    let mut opts = ca.options(&specs);
    opts.postgres_url = Some(pg.url());
    // Fixed ports: a restarted server must answer at the same URLs (account ids contain the
    // port) and validate against the same responder.
    opts.port = Some(free_tcp_port()?);
    opts.status_port = Some(free_tcp_port()?);
    // The CA's http-01 port is fixed for its life (its remote perspectives connect there too).
    let http01 = opts
        .http01_port
        .context("FullCa options name the http-01 port")?;
    let mut rig = Rig {
        ca,
        specs,
        pg,
        opts,
    };
    let mut server = rig.start_server().await.context("starting hanko")?;
    let csv = out.join("load.csv");
    // The faults follow a plan from the load's start; a slow restart shifts what follows
    // (each fault still gets at least half the calm before it), and the load runs long
    // enough for the plan plus a margin for such shifts.
    let duration = args.calm + 4.0 * (args.hold + args.calm) + args.hold + args.calm;
    let load_args = crate::load::Args::parse_from([
        "hanko-load".to_string(),
        "--directory".into(),
        server.directory_url(),
        "--ca-bundle".into(),
        server.root_pem_path().display().to_string(),
        "--subscribers".into(),
        args.subscribers.to_string(),
        "--duration".into(),
        format!("{duration}"),
        "--http01-port".into(),
        http01.to_string(),
        "--error-pause-ms".into(),
        "250".into(),
        "--csv".into(),
        csv.display().to_string(),
        "--png".into(),
        out.join("load.png").display().to_string(),
        "--label".into(),
        "under faults".into(),
    ]);
    let load_start = Instant::now();
    let load = tokio::spawn(crate::load::run(load_args));
    let at = |i: Instant| i.duration_since(load_start).as_secs_f64();
    let hold = Duration::from_secs_f64(args.hold);
    let calm = Duration::from_secs_f64(args.calm);
    let mut windows = Vec::new();
    let mut next = load_start + calm;
    let settle = |prev_end: Instant, next: &mut Instant| {
        *next = (*next + hold + calm).max(prev_end + calm / 2);
    };

    tokio::time::sleep_until(next.into()).await;
    // (a) SIGKILL, then the same ports, directory and database.
    let t0 = Instant::now();
    server.kill()?;
    tokio::time::sleep(hold).await;
    let t1 = Instant::now();
    server = rig
        .start_server()
        .await
        .context("restarting hanko after SIGKILL")?;
    windows.push(FaultWindow {
        name: "server SIGKILL",
        start: at(t0),
        end: at(t1),
        note: format!("restart took {:.1} s", t1.elapsed().as_secs_f64()),
    });

    settle(t1, &mut next);
    tokio::time::sleep_until(next.into()).await;
    // (b) the database unavailable.
    let t0 = Instant::now();
    rig.pg.stop().await?;
    let refused = rig.pg.count("SELECT 1").await.is_err();
    ensure!(refused, "PostgreSQL still answers after pg_ctl stop");
    tokio::time::sleep(hold).await;
    let t1 = Instant::now();
    rig.pg.start_again().await?;
    windows.push(FaultWindow {
        name: "PostgreSQL down",
        start: at(t0),
        end: at(t1),
        note: "pg_ctl stop -m immediate; psql refused".to_string(),
    });
    settle(t1, &mut next);
    tokio::time::sleep_until(next.into()).await;
    // (c) one CT log in an outage (503).
    let t0 = Instant::now();
    rig.ca.logs[0].set_unavailable(true);
    tokio::time::sleep(hold).await;
    rig.ca.logs[0].set_unavailable(false);
    let t1 = Instant::now();
    let ct_refused = rig.ca.logs[0].refused_count();
    windows.push(FaultWindow {
        name: "CT log 503",
        start: at(t0),
        end: at(t1),
        note: format!(
            "{} answered 503 to {} submissions",
            rig.ca.logs[0].name(),
            ct_refused
        ),
    });
    settle(t1, &mut next);
    tokio::time::sleep_until(next.into()).await;
    // (c) the resolver down.
    let t0 = Instant::now();
    dns::stop(&mut rig.ca.bind).await?;
    tokio::time::sleep(hold).await;
    let t1 = Instant::now();
    dns::start(&mut rig.ca.bind).await?;
    windows.push(FaultWindow {
        name: "DNS resolver down",
        start: at(t0),
        end: at(t1),
        note: "named stopped (SIGTERM) and silent, restarted on the same port".to_string(),
    });

    let load = load.await.context("load task")??;
    finish(args, &rig, &server, windows, load, ct_refused).await
}

async fn finish(
    args: &Args,
    rig: &Rig,
    server: &HankoServer,
    windows: Vec<FaultWindow>,
    load: crate::load::RunResult,
    ct_refused: u64,
) -> Result<FaultRun> {
    let recovery_deadline = Duration::from_secs_f64(args.recovery_deadline);
    let (settle, stuck_orders, stuck_challenges) =
        checks::wait_no_processing(&rig.pg, recovery_deadline).await?;
    let received: Vec<&crate::load::flow::Issued> = load
        .outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    let mut findings = checks::check_database(&rig.pg, &received).await?;
    let tls = crate::load::http::Tls::from_bundle(&server.root_pem_path())?;
    checks::check_downloads(&tls, &received, &mut findings, 8).await?;
    let recovered_orders = rig
        .pg
        .count("SELECT count(*) FROM audit_events WHERE event = 'issuance.failed' AND details LIKE '%interrupted%'")
        .await?;
    let audit = rig
        .ca
        .cli(&["audit", "verify"], &rig.specs)
        .env("HANKO_STORAGE__URL", rig.pg.url())
        .run()
        .await?;
    let logs = server_logs(&rig.ca.work_dir());
    let panics = logs.matches("panicked").count();
    let sweep_recoveries = logs
        .matches("recovered work left unfinished in the running server")
        .count();
    let leaky_5xx = load
        .outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().err())
        .filter(|f| f.kind.ends_with(":serverInternal") && leaks(&f.detail))
        .map(|f| f.detail.clone())
        .collect();
    Ok(FaultRun {
        windows,
        load,
        findings,
        settle,
        stuck_orders,
        stuck_challenges,
        recovered_orders,
        sweep_recoveries,
        audit_ok: audit.success(),
        audit_output: audit.combined().trim().to_string(),
        panics,
        leaky_5xx,
        recovery_deadline,
        ct_refused,
    })
}

/// A 5xx detail that names internals (the database, SQL, a pool, a file path).
fn leaks(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "sql",
        "postgres",
        "database",
        "pool",
        "connection refused",
        "/tmp/",
        "panicked",
    ]
    .iter()
    .any(|w| d.contains(w))
}

fn server_logs(dir: &std::path::Path) -> String {
    let mut all = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("hanko") && name.ends_with(".log") {
                all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    all
}
