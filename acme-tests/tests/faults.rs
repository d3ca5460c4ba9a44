//! Faults under load, short version (issue #5 item 6; docs/FAULTS.md; the long run is
//! scripts/faults.sh): a full-pipeline hanko on its own PostgreSQL serves hanko-load while the
//! server is SIGKILLed and restarted, PostgreSQL is stopped and started, a CT log answers 503
//! and the DNS resolver is stopped and started. Each injection is confirmed by the driver
//! (the killed server's port, psql refused, the log's 503 count, named silent). Then: no
//! certificate lost, no serial used twice, no order left processing, the audit chain
//! verifies. No durations are asserted; deadlines are generous.

use acme_tests::faults::{self, report, Args};
use acme_tests::OrFail;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_under_load_lose_nothing_and_leave_nothing_stuck() {
    let args = Args {
        subscribers: 4,
        hold: 3.0,
        calm: 4.0,
        recovery_deadline: 120.0,
        out: None,
    };
    let run = faults::run(&args).await.or_fail("fault run");
    let text = report::render(&run);
    println!("{text}");
    let f = &run.findings;
    assert!(f.received > 0, "no certificate was issued at all:\n{text}");
    assert_eq!(f.lost, Vec::<String>::new(), "certificates lost:\n{text}");
    assert_eq!(
        f.not_downloadable,
        Vec::<String>::new(),
        "not downloadable:\n{text}"
    );
    assert_eq!(f.in_database, f.received, "{text}");
    assert_eq!(f.downloaded, f.received, "{text}");
    assert_eq!(
        f.duplicate_serials,
        Vec::<String>::new(),
        "serials:\n{text}"
    );
    assert_eq!(run.stuck_orders, 0, "orders left processing:\n{text}");
    assert!(run.audit_ok, "audit chain:\n{text}");
    assert_eq!(run.panics, 0, "server panicked:\n{text}");
    assert_eq!(run.leaky_5xx, Vec::<String>::new(), "5xx details:\n{text}");
    assert_eq!(
        run.stuck_challenges, 0,
        "challenges left processing:\n{text}"
    );
    assert!(
        run.ct_refused > 0,
        "the CT log outage saw no submission:\n{text}"
    );
    // The server serves again after the last fault.
    let last = &run.windows[3];
    assert!(
        report::recovery_seconds(last, &run.load.outcomes).is_some(),
        "no certificate after the last fault:\n{text}"
    );
}
