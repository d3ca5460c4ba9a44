//! The zlint backend: the configured `lint.zlint` binary, run once per document with the
//! DER on stdin (`zlint -format der -`); it prints one JSON object mapping each lint's
//! name to `{"result": …, "details": …}` (zlint v3 `lint.LintResult`).
//!
//! zlint lints certificates only: CRLs and OCSP responses are `LintError::Unsupported`.
//! Untested against a real zlint binary (none can be installed here); the output parsing
//! is tested on a sample written from zlint v3's `lint/result.go`, and the process
//! handling with real programs (`cat`, `sleep`).

use super::{DocumentKind, Finding, LintError, Severity};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// zlint's message (`log.Fatalf`) when the input is not a certificate.
const PARSE_FAILURE: &str = "unable to parse certificate";
const POLL_INTERVAL: Duration = Duration::from_millis(5);

pub(super) struct Zlint {
    binary: PathBuf,
    timeout: Duration,
    version: String,
}

impl Zlint {
    /// Check that the binary runs and ask its version (`zlint -version` prints
    /// `ZLint version <v>`).
    pub fn start(binary: &Path, timeout: Duration) -> Result<Zlint, LintError> {
        let output = run_with_timeout(Command::new(binary).arg("-version"), &[], timeout)
            .map_err(|e| LintError::Start(format!("{}: {e}", binary.display())))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text
            .trim()
            .strip_prefix("ZLint version ")
            .filter(|_| output.status.success())
            .ok_or_else(|| {
                LintError::Start(format!(
                    "{} -version printed {:?}, not `ZLint version …`",
                    binary.display(),
                    text.trim()
                ))
            })?
            .to_string();
        tracing::info!(binary = %binary.display(), %version, "zlint found");
        Ok(Zlint {
            binary: binary.to_path_buf(),
            timeout,
            version,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn lint(&self, kind: DocumentKind, der: &[u8]) -> Result<Vec<Finding>, LintError> {
        if !kind.is_certificate() {
            return Err(LintError::Unsupported {
                linter: "zlint",
                kind,
            });
        }
        let output = run_with_timeout(
            Command::new(&self.binary).args(["-format", "der", "-"]),
            der,
            self.timeout,
        )
        .map_err(|e| LintError::Failed(format!("zlint: {e}")))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            // A document zlint cannot parse is a FATAL finding, as with pkilint.
            if stderr.contains(PARSE_FAILURE) {
                return Ok(vec![Finding {
                    code: "hanko.lint.undecodable_document".to_string(),
                    severity: Severity::Fatal,
                    message: stderr.trim().to_string(),
                    path: String::new(),
                }]);
            }
            return Err(LintError::Failed(format!(
                "zlint exited with {}: {}",
                output.status,
                stderr.trim()
            )));
        }
        parse_output(&output.stdout)
    }
}

#[derive(serde::Deserialize)]
struct LintResult {
    result: String,
    #[serde(default)]
    details: String,
}

/// Findings from zlint's JSON: every lint whose result is not pass, NA (not applicable)
/// or NE (not effective at the certificate's date). zlint names its notice level `info`.
pub(super) fn parse_output(stdout: &[u8]) -> Result<Vec<Finding>, LintError> {
    let results: BTreeMap<String, LintResult> = serde_json::from_slice(stdout)
        .map_err(|e| LintError::Failed(format!("zlint output is not its JSON: {e}")))?;
    let mut findings = Vec::new();
    for (name, result) in results {
        let severity = match result.result.as_str() {
            "pass" | "NA" | "NE" => continue,
            "info" | "notice" => Severity::Notice,
            "warn" => Severity::Warning,
            "error" => Severity::Error,
            "fatal" => Severity::Fatal,
            other => {
                return Err(LintError::Failed(format!(
                    "zlint lint {name} has an unknown result {other:?}"
                )))
            }
        };
        findings.push(Finding {
            code: name,
            severity,
            message: result.details,
            path: String::new(),
        });
    }
    Ok(findings)
}

/// Run `command` with `input` on stdin, collecting stdout and stderr; kill it after
/// `timeout`. Output is drained by threads, so a large report cannot fill a pipe and
/// stall the child.
pub(super) fn run_with_timeout(
    command: &mut Command,
    input: &[u8],
    timeout: Duration,
) -> Result<Output, String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run: {e}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buffer = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buffer);
            }
            buffer
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        // Closing stdin (end of the thread) tells the child the input is complete.
        std::thread::spawn(move || stdin.write_all(&input))
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no result within {} s (killed)", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(POLL_INTERVAL),
            Err(e) => return Err(format!("waiting for it: {e}")),
        }
    };
    if let Some(writer) = writer {
        // A child that exits without reading its input is judged by its output alone.
        let _ = writer.join();
    }
    let join = |handle: std::thread::JoinHandle<Vec<u8>>| handle.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by hand from zlint v3's output format (`lint.LintResult`: `result` is one
    /// of NA, NE, pass, info, warn, error, fatal; `details` optional). Not captured from
    /// a real zlint run.
    const SAMPLE: &str = r#"{
        "e_sub_cert_aia_missing": {"result": "pass"},
        "e_ev_valid_time_too_long": {"result": "NA"},
        "e_sub_cert_valid_time_longer_than_398_days": {"result": "error", "details": "validity 730 days"},
        "n_subject_common_name_included": {"result": "info"},
        "w_sub_cert_aia_does_not_contain_issuing_ca_url": {"result": "warn"},
        "e_dnsname_not_valid_tld": {"result": "NE"},
        "e_cert_unique_identifier_version_not_2_or_3": {"result": "fatal", "details": "bad"}
    }"#;

    #[test]
    fn parses_zlint_json_into_findings() {
        let findings = parse_output(SAMPLE.as_bytes()).expect("parse");
        let got: Vec<(&str, Severity, &str)> = findings
            .iter()
            .map(|f| (f.code.as_str(), f.severity, f.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "e_cert_unique_identifier_version_not_2_or_3",
                    Severity::Fatal,
                    "bad"
                ),
                (
                    "e_sub_cert_valid_time_longer_than_398_days",
                    Severity::Error,
                    "validity 730 days"
                ),
                ("n_subject_common_name_included", Severity::Notice, ""),
                (
                    "w_sub_cert_aia_does_not_contain_issuing_ca_url",
                    Severity::Warning,
                    ""
                ),
            ]
        );
    }

    #[test]
    fn refuses_unknown_results_and_non_json() {
        let unknown = parse_output(br#"{"e_x": {"result": "reserved"}}"#);
        assert!(matches!(unknown, Err(LintError::Failed(m)) if m.contains("reserved")));
        assert!(parse_output(b"unable to parse PEM").is_err());
        assert!(parse_output(br#"{"e_x": {"details": "no result"}}"#).is_err());
    }

    #[test]
    fn runs_a_real_program_with_input_and_kills_it_on_timeout() {
        let input = vec![b'x'; 300_000]; // larger than a pipe buffer, both ways
        let output = run_with_timeout(&mut Command::new("cat"), &input, Duration::from_secs(20))
            .expect("cat");
        assert!(output.status.success());
        assert_eq!(output.stdout, input);

        let started = Instant::now();
        let err = run_with_timeout(Command::new("sleep").arg("30"), b"", Duration::from_secs(1))
            .expect_err("timeout");
        assert!(err.contains("no result within 1 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_missing_binary_fails_at_start_and_crls_are_unsupported() {
        let err = Zlint::start(Path::new("/nonexistent/zlint"), Duration::from_secs(5))
            .err()
            .expect("start must fail");
        assert!(err.to_string().contains("/nonexistent/zlint"), "{err}");
        // `true` runs but does not print a zlint version.
        let err = Zlint::start(Path::new("true"), Duration::from_secs(5))
            .err()
            .expect("not zlint");
        assert!(err.to_string().contains("ZLint version"), "{err}");
        let zlint = Zlint {
            binary: PathBuf::from("/nonexistent/zlint"),
            timeout: Duration::from_secs(5),
            version: "test".into(),
        };
        assert!(matches!(
            zlint.lint(DocumentKind::Crl, b"0"),
            Err(LintError::Unsupported {
                kind: DocumentKind::Crl,
                ..
            })
        ));
    }
}
