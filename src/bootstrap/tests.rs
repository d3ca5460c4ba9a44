//! The entry layer's one rule, checked on the source: nothing below it reaches up.

use std::path::Path;

/// The layers below the entry layer (ARCHITECTURE.md, "Modules of src/").
const LOWER: &[&str] = &[
    "acme",
    "ra",
    "policy",
    "validation",
    "issuance",
    "revocation",
    "storage",
    "audit",
    "core",
    "config",
];

/// Paths of the entry layer: `cli`, `bootstrap` (the roles) and `admin`, plus the name
/// `server` the serve role had before #12, so it cannot come back below.
const ENTRY: &[&str] = &[
    "crate::cli",
    "crate::bootstrap",
    "crate::admin",
    "crate::server",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The offending lines (`file:line: text`) in `files`; `use super::super::…` paths out of
/// a lower module would need a `crate::` path or a re-export through `lib.rs` to reach the
/// entry layer, so `crate::` paths (and `hanko::` in doc tests) are what is searched.
fn offenders(files: &[std::path::PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            // `use crate::{admin, core};` names the module without `crate::admin`.
            let grouped = line
                .split_once("use crate::{")
                .map(|(_, list)| list.split(|c: char| !(c.is_alphanumeric() || c == '_')))
                .is_some_and(|mut names| {
                    names.any(|n| ENTRY.iter().any(|e| e.trim_start_matches("crate::") == n))
                });
            let hit = grouped
                || ENTRY.iter().any(|entry| {
                    line.contains(entry) || line.contains(&entry.replace("crate::", "hanko::"))
                });
            if hit {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn lower_layers_do_not_reach_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for module in LOWER {
        let dir = src.join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let file = src.join(format!("{module}.rs"));
        if file.is_file() {
            files.push(file);
        }
    }
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let found = offenders(&files);
    assert!(
        found.is_empty(),
        "modules below the entry layer must not use cli/bootstrap/admin/server:\n{}",
        found.join("\n")
    );
}

/// The check can fail: a lower-layer file that reaches up is reported.
#[test]
fn the_check_finds_a_reach_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.rs");
    std::fs::write(
        &bad,
        "fn f() {}\nuse crate::{core, admin};\nlet s = crate::bootstrap::open;\n",
    )
    .expect("write");
    let good = dir.path().join("good.rs");
    std::fs::write(&good, "use crate::core::Serial;\n// see cli.rs\n").expect("write");
    let found = offenders(&[bad, good]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("bad.rs:2:"), "{found:?}");
    assert!(found[1].contains("bad.rs:3:"), "{found:?}");
}
