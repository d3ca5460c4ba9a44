//! The signer against a real database: leases, numbering, entries cut at thisUpdate,
//! pending changes. On SQLite always, on PostgreSQL when the harness provides one.

use super::*;
use crate::core::Clock;
use crate::storage::entities::revoked_certificate;
use std::sync::Mutex;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

struct TestClock(Mutex<DateTime<Utc>>);
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct Rig {
    storage: Storage,
    config: Config,
    issuer: Issuer,
    clock: Arc<TestClock>,
    _dir: tempfile::TempDir,
}

async fn rig(postgres: bool) -> Option<Rig> {
    let dir = tempfile::tempdir().unwrap();
    let url = if postgres {
        acme_tests::postgres::fresh_database().await.unwrap()?
    } else {
        format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())
    };
    let storage = Storage::connect(&url, 4).await.unwrap();
    storage.migrate().await.unwrap();
    let mut config = Config::default();
    config.storage.data_dir = dir.path().to_path_buf();
    config.crl.shards = 2;
    config.ca.crl_base_url = "http://crl.hanko-ci.com/crl".into();
    let issuer = crate::issuance::devca::load_or_create(dir.path())
        .unwrap()
        .intermediate;
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    Some(Rig {
        storage,
        config,
        issuer,
        clock: Arc::new(TestClock(Mutex::new(now))),
        _dir: dir,
    })
}

impl Rig {
    fn signer(&self) -> CrlSigner {
        CrlSigner::new(
            self.storage.clone(),
            &self.config,
            &self.issuer,
            self.clock.clone(),
        )
        .unwrap()
    }
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
    fn advance(&self, seconds: i64) {
        *self.clock.0.lock().unwrap() += Duration::seconds(seconds);
    }
    async fn revoke(
        &self,
        serial: &str,
        shard: i32,
        at: DateTime<Utc>,
        reason: Option<i16>,
        not_after: DateTime<Utc>,
    ) {
        let txn = self.storage.begin().await.unwrap();
        q::record_revocation(
            &txn,
            revoked_certificate::Model {
                serial: serial.into(),
                issuer_id: crate::issuance::issuer_id(&self.issuer),
                crl_shard: shard,
                revoked_at: at,
                reason,
                not_after,
                recorded_at: self.now(),
                source: "admin".into(),
            },
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
    async fn listed(&self, shard: i32) -> Vec<(String, Option<u8>)> {
        let row = q::crl_shard(
            self.storage.reader(),
            &crate::issuance::issuer_id(&self.issuer),
            shard,
        )
        .await
        .unwrap()
        .unwrap();
        let der = row.der.unwrap();
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        crl.iter_revoked_certificates()
            .map(|e| {
                (
                    hex::encode(e.raw_serial()),
                    e.reason_code().map(|(_, r)| r.0),
                )
            })
            .collect()
    }
}

fn number(o: &Outcome) -> i64 {
    match o {
        Outcome::Signed(s) => s.crl_number,
        other => panic!("expected a signed CRL, got {other:?}"),
    }
}

async fn leases_and_numbers(r: Rig) {
    let a = r.signer();
    let b = r.signer();
    let id = a.issuer_id().to_string();
    assert_eq!(number(&a.generate(0, false).await.unwrap()), 1);
    // Fresh and unchanged: not due.
    assert!(matches!(
        b.generate(0, false).await.unwrap(),
        Outcome::NotDue
    ));
    assert_eq!(number(&b.generate(0, true).await.unwrap()), 2);
    assert_eq!(number(&a.generate(0, true).await.unwrap()), 3);
    // A held lease keeps the other process out until it expires.
    let now = r.now();
    let until = now + Duration::seconds(120);
    assert!(
        q::take_crl_lease(r.storage.reader(), &id, 0, &a.holder, now, until)
            .await
            .unwrap()
    );
    assert!(
        !q::take_crl_lease(r.storage.reader(), &id, 0, &b.holder, now, until)
            .await
            .unwrap()
    );
    assert!(matches!(b.generate(0, true).await.unwrap(), Outcome::Busy));
    // A write by a holder whose number was overtaken is refused.
    let stale = q::SignedCrlRow {
        issuer_id: &id,
        shard: 0,
        crl_number: 3,
        this_update: now,
        next_update: now,
        der: vec![1],
        entries: 0,
    };
    assert!(
        !q::store_signed_crl(r.storage.reader(), stale, &a.holder, now)
            .await
            .unwrap()
    );
    r.advance(121);
    assert_eq!(
        number(&b.generate(0, true).await.unwrap()),
        4,
        "expired lease taken over"
    );
    assert_eq!(
        q::crl_shard_state(r.storage.reader(), &id, 0)
            .await
            .unwrap()
            .unwrap()
            .crl_number,
        4
    );
    // The other shard numbers on its own.
    assert_eq!(number(&a.generate(1, false).await.unwrap()), 1);
}

async fn entries_and_pending(r: Rig) {
    let s = r.signer();
    let now = r.now();
    let year = now + Duration::days(365);
    r.revoke("0a01", 0, now - Duration::hours(1), Some(1), year)
        .await;
    r.revoke("0a02", 0, now - Duration::hours(1), None, year)
        .await;
    r.revoke("0a03", 1, now - Duration::hours(1), Some(4), year)
        .await;
    r.revoke(
        "0a04",
        0,
        now - Duration::days(3),
        Some(5),
        now - Duration::days(1),
    )
    .await;
    r.revoke("0a05", 0, now + Duration::hours(2), Some(9), year)
        .await;
    s.generate(0, false).await.unwrap();
    assert_eq!(
        r.listed(0).await,
        vec![("0a01".into(), Some(1)), ("0a02".into(), None)]
    );
    // Rows recorded within COMMIT_SKEW_SECONDS before thisUpdate are signed over once more
    // (a late commit could have missed the first CRL), but only once the skew has passed,
    // so one extra signing rather than one per poll; after that the shard is quiet.
    r.advance(1);
    assert!(matches!(
        s.generate(0, false).await.unwrap(),
        Outcome::NotDue
    ));
    r.advance(schedule::COMMIT_SKEW_SECONDS);
    assert!(matches!(
        s.generate(0, false).await.unwrap(),
        Outcome::Signed(_)
    ));
    r.advance(1);
    assert!(matches!(
        s.generate(0, false).await.unwrap(),
        Outcome::NotDue
    ));
    // A new revocation is pending at once.
    r.revoke("0a06", 0, r.now(), Some(3), year).await;
    assert!(matches!(
        s.generate(0, false).await.unwrap(),
        Outcome::Signed(_)
    ));
    assert_eq!(r.listed(0).await.len(), 3);
    r.advance(schedule::COMMIT_SKEW_SECONDS);
    assert!(matches!(
        s.generate(0, false).await.unwrap(),
        Outcome::Signed(_)
    ));
    // The future-dated one becomes pending on its date, then is listed.
    r.advance(3600);
    assert!(matches!(
        s.generate(0, false).await.unwrap(),
        Outcome::NotDue
    ));
    r.advance(3600);
    assert!(matches!(
        s.generate(0, false).await.unwrap(),
        Outcome::Signed(_)
    ));
    assert!(r.listed(0).await.contains(&("0a05".into(), Some(9))));
    // Shard 1's serial is on shard 1 only.
    s.generate(1, false).await.unwrap();
    assert_eq!(r.listed(1).await, vec![("0a03".into(), Some(4))]);
    assert!(!r.listed(0).await.iter().any(|(s, _)| s == "0a03"));
    assert!(r.config.storage.data_dir.join("crl/0.crl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_and_numbers_on_sqlite() {
    leases_and_numbers(rig(false).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_and_pending_on_sqlite() {
    entries_and_pending(rig(false).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_and_numbers_on_postgres() {
    let Some(r) = rig(true).await else {
        eprintln!("SKIPPED: no PostgreSQL (set HANKO_TEST_POSTGRES_URL)");
        return;
    };
    leases_and_numbers(r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_and_pending_on_postgres() {
    let Some(r) = rig(true).await else {
        eprintln!("SKIPPED: no PostgreSQL (set HANKO_TEST_POSTGRES_URL)");
        return;
    };
    entries_and_pending(r).await;
}
