//! The command line as an operator meets it: `hanko check-config` names the bad key and where
//! it came from (file or environment variable) and exits 2; good files pass.

use acme_tests::process::Cmd;
use acme_tests::server::hanko_binary;
use acme_tests::OrFail;
use std::path::Path;
use std::time::Duration;

async fn check_config(file: &Path, env: &[(&str, &str)]) -> (bool, Option<i32>, String) {
    let mut cmd = Cmd::new(hanko_binary().or_fail("locate hanko"))
        .arg("check-config")
        .arg(file)
        .timeout(Duration::from_secs(60));
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.run().await.or_fail("run hanko check-config");
    (
        out.success(),
        out.status.and_then(|s| s.code()),
        out.combined(),
    )
}

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[tokio::test]
async fn example_configs_pass_check_config() {
    for file in ["config/dev.toml", "config/production.toml"] {
        let (ok, _, text) = check_config(&repo_file(file), &[]).await;
        assert!(ok, "{file}: {text}");
        assert!(text.contains("configuration is valid"), "{text}");
    }
}

#[tokio::test]
async fn unknown_key_in_file_is_named_with_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[validation]\nhttp01_prot = 80\n").expect("write");
    let (ok, code, text) = check_config(&file, &[]).await;
    assert!(!ok);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("validation.http01_prot"), "{text}");
    assert!(text.contains(&file.display().to_string()), "{text}");
}

#[tokio::test]
async fn bad_environment_override_names_the_variable() {
    let (ok, code, text) = check_config(
        &repo_file("config/dev.toml"),
        &[("HANKO_VALIDATION__DNS_RESOLVERS", "[\"not-an-address\"]")],
    )
    .await;
    assert!(!ok);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("HANKO_VALIDATION__DNS_RESOLVERS"), "{text}");
    assert!(text.contains("validation.dns_resolvers"), "{text}");
}
