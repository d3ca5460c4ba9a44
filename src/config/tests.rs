use super::*;
use std::io::Write;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

#[test]
fn defaults_match_the_documented_values() {
    let c = Config::load_with_env(None, env(&[])).expect("defaults load");
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:14000");
    assert_eq!(c.validation.http01_port, 80);
    assert_eq!(c.validation.tlsalpn01_port, 443);
    assert!(c.validation.dns_resolvers.is_empty());
    assert_eq!(c.storage.data_dir, PathBuf::from("./data"));
    assert!(c.database_url().starts_with("sqlite://./data/hanko.db"));
    assert_eq!(c.base_url(), "https://127.0.0.1:14000");
}

#[test]
fn unknown_key_in_file_names_file_and_key() {
    let f = file("[server]\nlisten = \"127.0.0.1:1\"\nlistn = \"x\"\n");
    let err = Config::load_with_env(Some(f.path()), env(&[])).expect_err("must fail");
    let text = err.to_string();
    assert!(text.contains(&f.path().display().to_string()), "{text}");
    assert!(text.contains("server.listn"), "{text}");
}

#[test]
fn unknown_section_is_rejected() {
    let f = file("[sever]\nlisten = \"127.0.0.1:1\"\n");
    let text = Config::load_with_env(Some(f.path()), env(&[]))
        .expect_err("must fail")
        .to_string();
    assert!(text.contains("sever"), "{text}");
}

#[test]
fn environment_overrides_file_and_lists_use_array_syntax() {
    let f = file("[validation]\nhttp01_port = 8080\n");
    let c = Config::load_with_env(
        Some(f.path()),
        env(&[
            ("HANKO_VALIDATION__HTTP01_PORT", "5002"),
            ("HANKO_VALIDATION__DNS_RESOLVERS", "[\"127.0.0.1:8053\"]"),
            ("HANKO_STORAGE__DATA_DIR", "/tmp/x"),
            ("UNRELATED", "1"),
        ]),
    )
    .expect("loads");
    assert_eq!(c.validation.http01_port, 5002);
    assert_eq!(
        c.validation.dns_resolvers,
        vec!["127.0.0.1:8053".parse().unwrap()]
    );
    assert_eq!(c.storage.data_dir, PathBuf::from("/tmp/x"));
}

#[test]
fn unknown_key_from_environment_names_the_variable() {
    let text = Config::load_with_env(None, env(&[("HANKO_SERVER__NOPE", "1")]))
        .expect_err("must fail")
        .to_string();
    assert!(text.contains("HANKO_SERVER__NOPE"), "{text}");
    assert!(text.contains("server.nope"), "{text}");
}

#[test]
fn wrong_type_names_the_key() {
    let f = file("[validation]\nhttp01_port = \"eighty\"\n");
    let text = Config::load_with_env(Some(f.path()), env(&[]))
        .expect_err("must fail")
        .to_string();
    assert!(text.contains("validation.http01_port"), "{text}");
}

#[test]
fn backdating_beyond_48_hours_is_refused() {
    let f = file("[ca.profiles.dv]\nbackdate_seconds = 200000\n");
    let text = Config::load_with_env(Some(f.path()), env(&[]))
        .expect_err("must fail")
        .to_string();
    assert!(text.contains("backdate_seconds"), "{text}");
}

#[test]
fn every_example_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("config dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            Config::load_with_env(Some(&path), env(&[]))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 1, "no example configs in {}", dir.display());
}

#[test]
fn bad_list_element_from_environment_names_the_variable() {
    let text = Config::load_with_env(
        None,
        env(&[("HANKO_VALIDATION__DNS_RESOLVERS", "[\"nope\"]")]),
    )
    .expect_err("must fail")
    .to_string();
    assert!(text.contains("HANKO_VALIDATION__DNS_RESOLVERS"), "{text}");
}

#[test]
fn remote_perspectives_need_credentials_and_known_keys() {
    let f = file(
        "[[validation.remote.perspectives]]\nid = \"p1\"\nrir = \"RIPE\"\nurl = \"https://127.0.0.1:9001\"\n",
    );
    let err = Config::load_with_env(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("validation.remote.client_cert"), "{err}");
    let f = file("[validation.remote]\nclient_crt = \"x\"\n");
    let err = Config::load_with_env(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("client_crt"), "{err}");
    let f = file(
        "[[validation.remote.perspectives]]\nid = \"p1\"\nrir = \"Mars\"\nurl = \"https://127.0.0.1:9001\"\n",
    );
    let err = Config::load_with_env(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("perspectives[0].rir"), "{err}");
}
