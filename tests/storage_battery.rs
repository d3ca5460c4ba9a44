//! The storage battery (DESIGN "How we test": one battery, every backend). Each test runs on
//! SQLite and on PostgreSQL; the PostgreSQL cluster comes from scripts/test.sh
//! (`HANKO_TEST_POSTGRES_URL`, required there via `HANKO_TEST_REQUIRE_POSTGRES=1`).

use chrono::{Duration, Utc};
use hanko::audit::{self, Actor};
use hanko::storage::entities::{
    account, authorization, blocked_key, certificate, challenge, order, serial,
};
use hanko::storage::queries as q;
use hanko::storage::Storage;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::json;

struct Db {
    storage: Storage,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Option<Db> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let storage = Storage::connect(&url, 4).await.expect("connect sqlite");
    storage.migrate().await.expect("migrate");
    Some(Db {
        storage,
        _dir: Some(dir),
    })
}

async fn postgres() -> Option<Db> {
    let url = acme_tests::postgres::fresh_database()
        .await
        .expect("PostgreSQL test database")?;
    let storage = Storage::connect(&url, 8).await.expect("connect postgres");
    storage.migrate().await.expect("migrate");
    Some(Db {
        storage,
        _dir: None,
    })
}

/// Generate `mod sqlite` and `mod postgres` with one test per battery function.
macro_rules! battery {
    ($($name:ident),+ $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let db = super::sqlite().await.expect("sqlite");
                super::$name(&db.storage).await;
            })+
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(db) = super::postgres().await else {
                    eprintln!("SKIPPED {}: no PostgreSQL (set HANKO_TEST_POSTGRES_URL)", stringify!($name));
                    return;
                };
                super::$name(&db.storage).await;
            })+
        }
    };
}

battery!(
    migrations_are_idempotent,
    accounts_round_trip_and_thumbprint_is_unique,
    orders_authorizations_and_reuse,
    order_pages_are_newest_first,
    serials_are_unique,
    certificates_round_trip_and_revoke,
    audit_chain_verifies_and_detects_tampering,
    audit_event_rolls_back_with_its_transaction,
    concurrent_audit_appends_keep_one_chain,
    blocked_keys_insert_is_idempotent,
);

fn acct(id: &str, thumb: &str) -> account::Model {
    let now = Utc::now();
    account::Model {
        id: id.into(),
        key_thumbprint: thumb.into(),
        jwk: "{}".into(),
        contact: "[]".into(),
        status: "valid".into(),
        terms_version: "v1".into(),
        terms_agreed_at: now,
        created_at: now,
        organization_id: None,
    }
}

fn ord(id: &str, account: &str, at: chrono::DateTime<Utc>) -> order::Model {
    order::Model {
        id: id.into(),
        account_id: account.into(),
        status: "pending".into(),
        expires: at + Duration::days(7),
        identifiers: json!([{"type": "dns", "value": "a.hanko-ci.com"}]).to_string(),
        profile: "dv".into(),
        error: None,
        certificate_serial: None,
        created_at: at,
        updated_at: at,
    }
}

fn authz(
    id: &str,
    account: &str,
    name: &str,
    status: &str,
    expires: chrono::DateTime<Utc>,
) -> authorization::Model {
    authorization::Model {
        id: id.into(),
        account_id: account.into(),
        identifier: name.into(),
        status: status.into(),
        expires,
        created_at: Utc::now(),
        caa_checked_at: None,
    }
}

fn chall(id: &str, authz: &str, kind: &str) -> challenge::Model {
    challenge::Model {
        id: id.into(),
        authz_id: authz.into(),
        kind: kind.into(),
        status: "pending".into(),
        token: format!("tok-{id}"),
        validated: None,
        error: None,
        created_at: Utc::now(),
    }
}

async fn migrations_are_idempotent(s: &Storage) {
    s.migrate().await.expect("second migrate is a no-op");
    assert_eq!(audit::verify_chain(s.reader()).await.expect("db"), Ok(0));
}

async fn accounts_round_trip_and_thumbprint_is_unique(s: &Storage) {
    q::insert_account(s.reader(), acct("a1", "t1"))
        .await
        .expect("insert");
    let got = q::account_by_thumbprint(s.reader(), "t1")
        .await
        .expect("q")
        .expect("found");
    assert_eq!(got.id, "a1");
    assert!(
        q::insert_account(s.reader(), acct("a2", "t1"))
            .await
            .is_err(),
        "duplicate key thumbprint must fail"
    );
    let mut changed = got.clone();
    changed.status = "deactivated".into();
    q::update_account(s.reader(), changed)
        .await
        .expect("update");
    assert_eq!(
        q::account(s.reader(), "a1")
            .await
            .expect("q")
            .expect("found")
            .status,
        "deactivated"
    );
    assert!(q::account(s.reader(), "nope").await.expect("q").is_none());
}

async fn orders_authorizations_and_reuse(s: &Storage) {
    let now = Utc::now();
    let c = s.reader();
    q::insert_account(c, acct("a1", "t1"))
        .await
        .expect("account");
    q::insert_authorization(
        c,
        authz(
            "z1",
            "a1",
            "a.hanko-ci.com",
            "pending",
            now + Duration::days(7),
        ),
        vec![chall("c1", "z1", "http-01"), chall("c2", "z1", "dns-01")],
    )
    .await
    .expect("authz");
    q::insert_authorization(
        c,
        authz(
            "z2",
            "a1",
            "b.hanko-ci.com",
            "valid",
            now + Duration::days(30),
        ),
        vec![],
    )
    .await
    .expect("authz");
    q::insert_authorization(
        c,
        authz(
            "z3",
            "a1",
            "c.hanko-ci.com",
            "valid",
            now - Duration::seconds(1),
        ),
        vec![],
    )
    .await
    .expect("authz");
    q::insert_order(c, ord("o1", "a1", now), &["z1".into(), "z2".into()])
        .await
        .expect("order");
    let authzs = q::authorizations_for_order(c, "o1").await.expect("q");
    assert_eq!(
        authzs.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["z1", "z2"]
    );
    assert_eq!(q::challenges_for_authz(c, "z1").await.expect("q").len(), 2);
    assert_eq!(q::order_ids_for_authz(c, "z2").await.expect("q"), ["o1"]);
    // Reuse: only valid and unexpired, only the same account.
    assert_eq!(
        q::reusable_authorization(c, "a1", "b.hanko-ci.com", now)
            .await
            .expect("q")
            .map(|a| a.id),
        Some("z2".into())
    );
    assert!(q::reusable_authorization(c, "a1", "a.hanko-ci.com", now)
        .await
        .expect("q")
        .is_none());
    assert!(q::reusable_authorization(c, "a1", "c.hanko-ci.com", now)
        .await
        .expect("q")
        .is_none());
    assert!(q::reusable_authorization(c, "other", "b.hanko-ci.com", now)
        .await
        .expect("q")
        .is_none());
    assert_eq!(
        q::valid_authorized_names(c, "a1", now).await.expect("q"),
        ["b.hanko-ci.com"]
    );
    let counts = q::order_counts(c).await.expect("counts");
    assert_eq!(counts, vec![("pending".to_string(), 1)]);
}

async fn order_pages_are_newest_first(s: &Storage) {
    let now = Utc::now();
    for i in 0..5 {
        q::insert_order(
            s.reader(),
            ord(&format!("o{i}"), "a1", now + Duration::seconds(i)),
            &[],
        )
        .await
        .expect("order");
    }
    let page = q::order_ids_for_account(s.reader(), "a1", 0, 3)
        .await
        .expect("q");
    assert_eq!(page, ["o4", "o3", "o2"]);
    let rest = q::order_ids_for_account(s.reader(), "a1", 3, 3)
        .await
        .expect("q");
    assert_eq!(rest, ["o1", "o0"]);
}

async fn serials_are_unique(s: &Storage) {
    let m = serial::Model {
        serial: "0badc0de".into(),
        account_id: "a1".into(),
        order_id: "o1".into(),
        status: "reserved".into(),
        created_at: Utc::now(),
        crl_shard: Some(3),
        issuer_id: Some("cafe".into()),
    };
    q::insert_serial(s.reader(), m.clone())
        .await
        .expect("insert");
    assert!(
        q::insert_serial(s.reader(), m).await.is_err(),
        "a serial can never be stored twice"
    );
    q::set_serial_status(s.reader(), "0badc0de", "issued")
        .await
        .expect("status");
    assert_eq!(
        q::serial(s.reader(), "0badc0de")
            .await
            .expect("q")
            .expect("found")
            .status,
        "issued"
    );
}

async fn certificates_round_trip_and_revoke(s: &Storage) {
    let now = Utc::now();
    let der: Vec<u8> = (0..=255u8).collect();
    let cert = certificate::Model {
        serial: "01ab".into(),
        account_id: "a1".into(),
        order_id: "o1".into(),
        der: der.clone(),
        chain_pem: "PEM".into(),
        key_hash: "kh".into(),
        names: json!(["a.hanko-ci.com"]).to_string(),
        not_before: now,
        not_after: now + Duration::days(90),
        issued_at: now,
        revoked_at: None,
        revocation_reason: None,
    };
    q::insert_certificate(s.reader(), cert)
        .await
        .expect("insert");
    let mut got = q::certificate(s.reader(), "01ab")
        .await
        .expect("q")
        .expect("found");
    assert_eq!(got.der, der, "DER bytes survive storage unchanged");
    got.revoked_at = Some(now);
    got.revocation_reason = Some(1);
    q::update_certificate(s.reader(), got)
        .await
        .expect("revoke");
    let got = q::certificate(s.reader(), "01ab")
        .await
        .expect("q")
        .expect("found");
    assert_eq!(got.revocation_reason, Some(1));
    assert!(got.revoked_at.is_some());
}

async fn append_in_txn(s: &Storage, event: &str, n: i64) {
    let txn = s.begin().await.expect("begin");
    audit::append(&txn, Utc::now(), &Actor::System, event, json!({"n": n}))
        .await
        .expect("append");
    txn.commit().await.expect("commit");
}

async fn audit_chain_verifies_and_detects_tampering(s: &Storage) {
    for n in 0..5 {
        append_in_txn(s, "test.event", n).await;
    }
    assert_eq!(audit::verify_chain(s.reader()).await.expect("db"), Ok(5));
    // Edit one row's details, as an attacker with database access would.
    s.reader()
        .execute_unprepared("UPDATE audit_events SET details = '{\"n\":99}' WHERE seq = 3")
        .await
        .expect("tamper");
    let broken = audit::verify_chain(s.reader())
        .await
        .expect("db")
        .expect_err("tampering must be detected");
    assert!(
        matches!(broken, audit::ChainError::Broken { seq: 3, .. }),
        "{broken}"
    );
    // Deleting the last row (and leaving the head) is detected too.
    s.reader()
        .execute_unprepared("UPDATE audit_events SET details = '{\"n\":2}' WHERE seq = 3")
        .await
        .expect("restore");
    assert_eq!(audit::verify_chain(s.reader()).await.expect("db"), Ok(5));
    s.reader()
        .execute_unprepared("DELETE FROM audit_events WHERE seq = 5")
        .await
        .expect("delete");
    assert!(
        audit::verify_chain(s.reader()).await.expect("db").is_err(),
        "a deleted event must be detected"
    );
}

async fn audit_event_rolls_back_with_its_transaction(s: &Storage) {
    let txn = s.begin().await.expect("begin");
    q::insert_account(&txn, acct("a1", "t1"))
        .await
        .expect("account");
    audit::append(
        &txn,
        Utc::now(),
        &Actor::System,
        "account.created",
        json!({}),
    )
    .await
    .expect("append");
    txn.rollback().await.expect("rollback");
    assert!(q::account(s.reader(), "a1").await.expect("q").is_none());
    assert_eq!(
        audit::verify_chain(s.reader()).await.expect("db"),
        Ok(0),
        "no audit event survives a rollback"
    );
    let _ = s.reader().begin().await.expect("reader txn").commit().await;
}

async fn concurrent_audit_appends_keep_one_chain(s: &Storage) {
    let mut tasks = Vec::new();
    for n in 0..40 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            append_in_txn(&s, "concurrent", n).await
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(audit::verify_chain(s.reader()).await.expect("db"), Ok(40));
}

async fn blocked_keys_insert_is_idempotent(s: &Storage) {
    let c = s.reader();
    let spki: Vec<u8> = (0..=200u8).collect();
    let hash = "ab".repeat(32);
    let model = |reason: &str| blocked_key::Model {
        key_hash: hash.clone(),
        spki_der: spki.clone(),
        source: "admin".into(),
        reason: reason.into(),
        created_at: Utc::now(),
        revoked_through: None,
    };
    assert!(q::blocked_key(c, &hash).await.expect("q").is_none());
    assert!(
        q::insert_blocked_key(c, model("first"))
            .await
            .expect("insert"),
        "a new key is newly blocked"
    );
    assert!(
        !q::insert_blocked_key(c, model("second"))
            .await
            .expect("blocking again is not an error"),
        "an already-blocked key is not newly blocked"
    );
    let got = q::blocked_key(c, &hash).await.expect("q").expect("found");
    assert_eq!(got.reason, "first", "the first entry is kept");
    assert_eq!(got.spki_der, spki, "DER bytes survive storage unchanged");
    assert!(q::blocked_key(c, &"cd".repeat(32))
        .await
        .expect("q")
        .is_none());
}
