//! The CAA re-check at finalize against a real database, with an injected clock and a
//! perspective that answers as told: checks younger than 8 h are trusted, older ones (or
//! none) are repeated and recorded, a refusal fails the order with a `caa` error.

use super::caa_recheck::caa_recheck_due;
use super::{Ra, RaError};
use crate::config::Config;
use crate::core::{Clock, FailureKind, ManualClock, ValidationFailure};
use crate::issuance::CertificateAuthority;
use crate::metrics::Metrics;
use crate::storage::entities::validation_attempt;
use crate::storage::entities::{account, audit_event, authorization, challenge, order};
use crate::storage::queries as q;
use crate::storage::Storage;
use crate::validation::{Outcome, Perspective, ValidationRequest, Validator};
use chrono::{DateTime, Duration, DurationRound, Utc};
use sea_orm::EntityTrait;
use std::sync::{Arc, Mutex};

/// Records every request; refuses with a CAA reason when `refuse` is set.
#[derive(Default)]
struct FakeCaa {
    seen: Mutex<Vec<ValidationRequest>>,
    refuse: Mutex<bool>,
}

#[async_trait::async_trait]
impl Perspective for FakeCaa {
    fn id(&self) -> &str {
        "fake"
    }
    async fn validate(&self, request: &ValidationRequest) -> Outcome {
        self.seen.lock().unwrap().push(request.clone());
        let result = if *self.refuse.lock().unwrap() {
            Err(ValidationFailure::new(
                FailureKind::Caa,
                "CAA record for example.com prevents issuance: 0 issue \"other-ca.example\"",
            ))
        } else {
            Ok(())
        };
        Outcome {
            result,
            evidence: serde_json::json!({"caa": {"records": ["0 issue \"x\""]}}),
        }
    }
}

struct Rig {
    ra: Arc<Ra>,
    clock: Arc<ManualClock>,
    caa: Arc<FakeCaa>,
    config: Arc<Config>,
    _dir: tempfile::TempDir,
}

const ACCOUNT: &str = "acct1";
const ORDER: &str = "order1";
const AUTHZ: &str = "authz1";
const CHALL: &str = "chall1";

async fn rig(caa_checked_at: Option<Duration>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let storage = Storage::connect(&url, 4).await.unwrap();
    storage.migrate().await.unwrap();
    let mut config = Config::default();
    config.storage.data_dir = dir.path().to_path_buf();
    config.acme.caa_identities = vec!["ca.example".to_string()];
    let config = Arc::new(config);
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    let clock = Arc::new(ManualClock::at(now));
    let caa = Arc::new(FakeCaa::default());
    let issuer = crate::issuance::devca::load_or_create(dir.path())
        .unwrap()
        .intermediate;
    let ca = Arc::new(CertificateAuthority::new(&config.ca, issuer).unwrap());
    let ra = Ra::new(
        storage.clone(),
        config.clone(),
        clock.clone(),
        Arc::new(Validator::with_perspective(caa.clone())),
        ca,
        Arc::new(Metrics::new()),
    );
    seed(&storage, now, caa_checked_at.map(|ago| now - ago)).await;
    Rig {
        ra,
        clock,
        caa,
        config,
        _dir: dir,
    }
}

/// A ready order with one valid authorization, validated by http-01.
async fn seed(storage: &Storage, now: DateTime<Utc>, caa_checked_at: Option<DateTime<Utc>>) {
    let c = storage.reader();
    q::insert_account(
        c,
        account::Model {
            id: ACCOUNT.into(),
            key_thumbprint: "tp".into(),
            jwk: "{}".into(),
            contact: "[]".into(),
            status: "valid".into(),
            terms_version: "v1".into(),
            terms_agreed_at: now,
            created_at: now,
            organization_id: None,
        },
    )
    .await
    .unwrap();
    let authz = authorization::Model {
        id: AUTHZ.into(),
        account_id: ACCOUNT.into(),
        identifier: "example.com".into(),
        status: "valid".into(),
        expires: now + Duration::days(30),
        created_at: now,
        caa_checked_at,
    };
    let kinds = [("chall0", "dns-01", "pending"), (CHALL, "http-01", "valid")];
    let challenges = kinds
        .iter()
        .map(|(id, kind, status)| challenge::Model {
            id: id.to_string(),
            authz_id: AUTHZ.into(),
            kind: kind.to_string(),
            status: status.to_string(),
            token: "tok".into(),
            validated: None,
            error: None,
            created_at: now,
        })
        .collect();
    q::insert_authorization(c, authz, challenges).await.unwrap();
    let order = order::Model {
        id: ORDER.into(),
        account_id: ACCOUNT.into(),
        status: "ready".into(),
        expires: now + Duration::days(7),
        identifiers: r#"[{"type":"dns","value":"example.com"}]"#.into(),
        profile: "default".into(),
        error: None,
        certificate_serial: None,
        created_at: now,
        updated_at: now,
    };
    q::insert_order(c, order, &[AUTHZ.to_string()])
        .await
        .unwrap();
}

impl Rig {
    fn asked(&self) -> usize {
        self.caa.seen.lock().unwrap().len()
    }
    async fn authz(&self) -> authorization::Model {
        q::authorization(self.ra.storage.reader(), AUTHZ)
            .await
            .unwrap()
            .unwrap()
    }
    async fn events(&self, name: &str) -> Vec<serde_json::Value> {
        audit_event::Entity::find()
            .all(self.ra.storage.reader())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event == name)
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect()
    }
    async fn attempts(&self) -> Vec<validation_attempt::Model> {
        validation_attempt::Entity::find()
            .all(self.ra.storage.reader())
            .await
            .unwrap()
    }
}

#[test]
fn due_after_eight_hours_or_never_checked() {
    let now = Utc::now();
    assert!(caa_recheck_due(None, now));
    assert!(!caa_recheck_due(Some(now), now));
    assert!(!caa_recheck_due(Some(now - Duration::hours(8)), now));
    assert!(caa_recheck_due(
        Some(now - Duration::hours(8) - Duration::seconds(1)),
        now
    ));
}

#[tokio::test]
async fn advancing_past_eight_hours_triggers_the_recheck() {
    let rig = rig(Some(Duration::hours(1))).await;
    rig.ra.recheck_caa(ORDER).await.unwrap();
    assert_eq!(rig.asked(), 0, "a 1 h old check is trusted");
    rig.clock.advance(Duration::hours(7));
    rig.ra.recheck_caa(ORDER).await.unwrap();
    assert_eq!(rig.asked(), 0, "exactly 8 h old is still within the limit");

    rig.clock.advance(Duration::seconds(1));
    rig.ra.recheck_caa(ORDER).await.unwrap();
    assert_eq!(rig.asked(), 1, "older than 8 h: checked again");
    let req = rig.caa.seen.lock().unwrap()[0].clone();
    assert!(req.challenge.is_none(), "CAA only");
    let params = req.caa.expect("CAA parameters");
    assert_eq!(
        params.method, "http-01",
        "the method that validated the authz"
    );
    assert_eq!(params.account_uri, rig.config.account_url(ACCOUNT));
    assert_eq!(params.issuer_domains, vec!["ca.example".to_string()]);
    assert_eq!(rig.authz().await.caa_checked_at, Some(rig.clock.now()));
    let attempts = rig.attempts().await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].challenge_id, CHALL);
    assert_eq!(attempts[0].result, "valid");
    let events = rig.events("caa.recheck").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["result"], "permit");
    assert_eq!(
        events[0]["perspectives"][0]["evidence"]["caa"]["records"][0],
        "0 issue \"x\""
    );

    // Fresh again: no second lookup.
    rig.ra.recheck_caa(ORDER).await.unwrap();
    assert_eq!(rig.asked(), 1);
}

#[tokio::test]
async fn never_checked_is_rechecked() {
    let rig = rig(None).await;
    rig.ra.recheck_caa(ORDER).await.unwrap();
    assert_eq!(rig.asked(), 1);
    assert!(rig.authz().await.caa_checked_at.is_some());
}

#[tokio::test]
async fn a_refusal_fails_the_order_with_a_caa_error() {
    let rig = rig(Some(Duration::hours(9))).await;
    *rig.caa.refuse.lock().unwrap() = true;
    let err = rig.ra.recheck_caa(ORDER).await.unwrap_err();
    let RaError::Caa(detail) = err else {
        panic!("expected a CAA error, got {err:?}");
    };
    assert!(detail.contains("example.com"), "{detail}");
    assert!(detail.contains("0 issue \"other-ca.example\""), "{detail}");
    let order = q::order(rig.ra.storage.reader(), ORDER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.status, "invalid");
    let error: ValidationFailure = serde_json::from_str(order.error.as_deref().unwrap()).unwrap();
    assert_eq!(error.kind, FailureKind::Caa);
    // The old check time stays: the refusal did not renew it.
    let authz = rig.authz().await;
    assert_eq!(
        authz.caa_checked_at,
        Some(rig.clock.now() - Duration::hours(9))
    );
    assert_eq!(rig.attempts().await[0].result, "invalid");
    assert_eq!(rig.events("caa.recheck").await[0]["result"], "refuse");
    assert_eq!(rig.events("order.status").await.len(), 1);
}
