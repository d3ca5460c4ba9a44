//! Certificate profiles (CP 7.1, draft-ietf-acme-profiles): listed in the directory, chosen
//! with `profile` in newOrder, versioned (a profile in use cannot change under its name),
//! and introduced and retired with audit events.

use acme_tests::acme_client::{AcmeClient, Key};
use acme_tests::process::Cmd;
use acme_tests::server::{hanko_binary, HankoOptions, HankoServer};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn options(work: &Path, profiles: &str, default: &str) -> HankoOptions {
    HankoOptions {
        work_dir: Some(work.to_path_buf()),
        env: vec![
            ("HANKO_CA__PROFILES".into(), profiles.into()),
            ("HANKO_CA__DEFAULT_PROFILE".into(), default.into()),
        ],
        ..HankoOptions::default()
    }
}

const V1: &str = "{dv = {validity_days = 90, description = \"DV\"}, \
                  ov = {validation = \"ov\", common_name = true, description = \"OV\"}}";

/// `hanko audit list --event profile.` on the server's database: (event, profile) pairs.
async fn profile_events(work: &Path) -> Vec<(String, String)> {
    let out = Cmd::new(hanko_binary().expect("hanko"))
        .args(["audit", "list", "--event", "profile."])
        .env("HANKO_STORAGE__DATA_DIR", work.join("data"))
        .env("HANKO_LOG__LEVEL", "warn")
        .timeout(Duration::from_secs(60))
        .run_ok()
        .await
        .expect("hanko audit list");
    out.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            (
                v["event"].as_str().unwrap_or_default().to_string(),
                v["details"]["profile"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_are_listed_chosen_versioned_and_audited() {
    let work = tempfile::tempdir().expect("tempdir");
    let server = HankoServer::start(options(work.path(), V1, "dv"))
        .await
        .expect("first start");
    let client = AcmeClient::connect(&server).await.expect("directory");
    let meta = &client.directory["meta"]["profiles"];
    assert_eq!(meta["dv"], "DV", "{meta}");
    assert_eq!(meta["ov"], "OV", "{meta}");
    let account = client.create_account(Key::es256()).await.expect("account");
    let url = client.url("newOrder");
    let ids = json!([{"type": "dns", "value": "www.hanko-ci.com"}]);
    // An unknown profile is refused with the draft's error type.
    let rsp = account
        .post(&url, Some(&json!({"identifiers": ids, "profile": "ev"})))
        .await
        .expect("newOrder");
    rsp.assert_problem(400, "invalidProfile");
    // OV needs a vetted organisation bound to the account (CP 3.2.2.1).
    let rsp = account
        .post(&url, Some(&json!({"identifiers": ids, "profile": "ov"})))
        .await
        .expect("newOrder");
    rsp.assert_problem(403, "unauthorized");
    // The chosen profile is echoed in the order.
    let rsp = account
        .post(&url, Some(&json!({"identifiers": ids, "profile": "dv"})))
        .await
        .expect("newOrder");
    rsp.assert_status(201);
    assert_eq!(rsp.str("profile"), Some("dv"), "{rsp}");
    server.stop(Duration::from_secs(20)).expect("clean stop");

    // Changing "dv" under the same name is refused: a new version needs a new name.
    let changed = "{dv = {validity_days = 30, description = \"DV\"}, \
                   ov = {validation = \"ov\", common_name = true, description = \"OV\"}}";
    let err = match HankoServer::start(options(work.path(), changed, "dv")).await {
        Ok(_) => panic!("a changed profile must stop the start"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("profile \\\"dv\\\" differs") || err.contains("profile \"dv\" differs"),
        "{err}"
    );

    // Retire "dv", introduce "dv-2": the server starts and the directory follows.
    let v2 = "{dv-2 = {validity_days = 30, description = \"DV, 30 days\"}, \
              ov = {validation = \"ov\", common_name = true, description = \"OV\"}}";
    let server = HankoServer::start(options(work.path(), v2, "dv-2"))
        .await
        .expect("start with dv-2");
    let client = AcmeClient::connect(&server).await.expect("directory");
    let meta = &client.directory["meta"]["profiles"];
    assert!(meta.get("dv").is_none(), "{meta}");
    assert_eq!(meta["dv-2"], "DV, 30 days", "{meta}");
    server.stop(Duration::from_secs(20)).expect("clean stop");

    let events = profile_events(work.path()).await;
    let pair = |e: &str, p: &str| (e.to_string(), p.to_string());
    assert_eq!(
        events,
        vec![
            pair("profile.introduced", "dv"),
            pair("profile.introduced", "ov"),
            pair("profile.introduced", "dv-2"),
            pair("profile.retired", "dv"),
        ],
        "{events:?}"
    );
}
