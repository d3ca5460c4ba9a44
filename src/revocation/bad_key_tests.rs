use super::*;
use crate::audit::Actor;
use crate::core::SystemClock;
use crate::storage::entities::{certificate, serial};
use chrono::Duration as Days;
use pkcs8::EncodePublicKey;

async fn storage() -> (Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let storage = Storage::connect(&url, 4).await.expect("connect");
    storage.migrate().await.expect("migrate");
    (storage, dir)
}

/// A certificate row (DER unused by the revoker) with its `serials` row.
async fn certificate(
    s: &Storage,
    serial_hex: &str,
    key_hash: &str,
    not_after: DateTime<Utc>,
    revoked: Option<(DateTime<Utc>, i16)>,
) {
    let now = Utc::now();
    let txn = s.begin().await.expect("begin");
    q::insert_serial(
        &txn,
        serial::Model {
            serial: serial_hex.to_string(),
            account_id: format!("acct-{serial_hex}"),
            order_id: "order".to_string(),
            status: "issued".to_string(),
            created_at: now,
            crl_shard: Some(3),
            issuer_id: Some("issuer".to_string()),
        },
    )
    .await
    .expect("serial");
    q::insert_certificate(
        &txn,
        certificate::Model {
            serial: serial_hex.to_string(),
            account_id: format!("acct-{serial_hex}"),
            order_id: "order".to_string(),
            der: vec![0x30],
            chain_pem: String::new(),
            key_hash: key_hash.to_string(),
            names: "[\"www.hanko-ci.com\"]".to_string(),
            not_before: now - Days::days(30),
            not_after,
            issued_at: now - Days::days(30),
            revoked_at: revoked.map(|r| r.0),
            revocation_reason: revoked.map(|r| r.1),
        },
    )
    .await
    .expect("certificate");
    txn.commit().await.expect("commit");
}

fn config(settle: u64) -> RevocationConfig {
    RevocationConfig {
        bad_key_poll_seconds: 1,
        bad_key_batch_size: 2,
        bad_key_settle_seconds: settle,
    }
}

#[tokio::test]
async fn every_unexpired_certificate_of_a_blocked_key_is_revoked_once() {
    let (s, _dir) = storage().await;
    let spki = p256::SecretKey::random(&mut rand::rngs::OsRng)
        .public_key()
        .to_public_key_der()
        .expect("der")
        .into_vec();
    let hash = crate::policy::keys::key_hash(&spki);
    let now = Utc::now();
    let later = now + Days::days(60);
    let superseded_at = now - Days::days(2);
    for serial in ["01", "02", "03", "04"] {
        certificate(&s, serial, &hash, later, None).await;
    }
    certificate(&s, "05", &hash, later, Some((superseded_at, 4))).await;
    certificate(&s, "06", &hash, now - Days::days(1), None).await; // expired
    certificate(&s, "07", &"ab".repeat(32), later, None).await; // another key
    assert!(crate::ra::keys::block_key(
        &s,
        now,
        &spki,
        "admin",
        "test",
        &Actor::Operator("t".into())
    )
    .await
    .expect("block"));

    // Two revokers at once (as two processes would): each certificate once.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let a = BadKeyRevoker::new(s.clone(), clock.clone(), &config(3600));
    let b = BadKeyRevoker::new(s.clone(), clock.clone(), &config(3600));
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    assert_eq!(ra.expect("a") + rb.expect("b"), 5);
    assert_eq!(a.run_once().await.expect("again"), 0, "idempotent");

    for serial in ["01", "02", "03", "04", "05"] {
        let row = q::revoked_certificate(s.reader(), serial)
            .await
            .expect("q")
            .expect("revoked");
        assert_eq!(
            (
                row.reason,
                row.source.as_str(),
                row.crl_shard,
                row.issuer_id.as_str()
            ),
            (Some(1), "bad_key_revoker", 3, "issuer")
        );
        let notices = q::revocation_notices_for_serial(s.reader(), serial)
            .await
            .expect("notices");
        assert_eq!(notices.len(), 1, "{serial}");
        assert_eq!(notices[0].account_id, format!("acct-{serial}"));
        assert_eq!(notices[0].reason, 1);
    }
    // The earlier superseded revocation keeps its date (CP 7.2.2).
    let upgraded = q::certificate(s.reader(), "05")
        .await
        .expect("q")
        .expect("row");
    assert_eq!(upgraded.revocation_reason, Some(1));
    assert_eq!(upgraded.revoked_at, Some(superseded_at));
    for untouched in ["06", "07"] {
        assert!(q::revoked_certificate(s.reader(), untouched)
            .await
            .expect("q")
            .is_none());
    }
    // Not settled yet: the key stays pending; one key.blocked + 5 revocation events.
    let key = q::blocked_key(s.reader(), &hash)
        .await
        .expect("q")
        .expect("key");
    assert_eq!(key.revoked_through, None);
    assert_eq!(
        crate::audit::verify_chain(s.reader()).await.expect("db"),
        Ok(6)
    );

    // Settled: marked done, and no longer polled.
    let settled = BadKeyRevoker::new(s.clone(), clock, &config(0));
    assert_eq!(settled.run_once().await.expect("settled"), 0);
    let key = q::blocked_key(s.reader(), &hash)
        .await
        .expect("q")
        .expect("key");
    assert!(key.revoked_through.is_some());
    assert!(q::blocked_keys_pending(s.reader(), 10)
        .await
        .expect("q")
        .is_empty());
}

#[test]
fn a_sweep_completes_only_after_the_settle_time() {
    let blocked = Utc::now();
    let settle = chrono::Duration::seconds(600);
    assert!(!sweep_complete(blocked, blocked, settle));
    assert!(!sweep_complete(
        blocked,
        blocked + Days::seconds(599),
        settle
    ));
    assert!(sweep_complete(
        blocked,
        blocked + Days::seconds(600),
        settle
    ));
}
