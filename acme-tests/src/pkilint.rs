//! pkilint's command-line tools as an independent check of what the CA issued (issue #3
//! item 8): every precertificate and certificate must lint clean at WARNING level for its
//! document type. The virtualenv comes from the test command (HANKO_TEST_PKILINT_PYTHON);
//! a missing pkilint is a test failure, never a skip.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// The virtualenv's python, from HANKO_TEST_PKILINT_PYTHON or the repository's `.venv`.
pub fn python() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HANKO_TEST_PKILINT_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if local.is_file() {
        return Ok(local);
    }
    bail!(
        "pkilint is not installed: run scripts/test.sh (it creates .venv) or set \
         HANKO_TEST_PKILINT_PYTHON to a python with pkilint"
    )
}

fn tool(name: &str) -> Result<PathBuf> {
    let python = python()?;
    let bin = python
        .parent()
        .context("python has no directory")?
        .join(name);
    if !bin.is_file() {
        bail!("{} not found beside {}", name, python.display());
    }
    Ok(bin)
}

/// Lint a DER certificate as `cert_type` (pkilint's `-t`, e.g. `DV-PRE-CERTIFICATE`) and
/// return the findings at WARNING or above as `SEVERITY code @ node path` (empty when
/// clean).
pub fn lint_serverauth_certificate(der: &[u8], cert_type: &str) -> Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("cert.der");
    std::fs::write(&file, der)?;
    let out = std::process::Command::new(tool("lint_cabf_serverauth_cert")?)
        .args(["lint", "-t", cert_type, "-s", "WARNING", "-f", "JSON"])
        .args(["--document-format", "DER"])
        .arg(&file)
        .output()
        .context("running lint_cabf_serverauth_cert")?;
    findings("lint_cabf_serverauth_cert", &out)
}

/// Lint a DER CRL (`lint_crl lint -t CRL -p <profile>`, profile `BR` or `PKIX`) and return
/// the findings at WARNING or above, as `lint_serverauth_certificate` does.
pub fn lint_crl(der: &[u8], profile: &str) -> Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("shard.crl");
    std::fs::write(&file, der)?;
    let out = std::process::Command::new(tool("lint_crl")?)
        .args([
            "lint", "-t", "CRL", "-p", profile, "-s", "WARNING", "-f", "JSON",
        ])
        .args(["--document-format", "DER"])
        .arg(&file)
        .output()
        .context("running lint_crl")?;
    findings("lint_crl", &out)
}

/// `SEVERITY code @ node path` for every finding of a pkilint JSON report.
fn findings(tool: &str, out: &std::process::Output) -> Result<Vec<String>> {
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{tool} gave no JSON report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let mut findings = Vec::new();
    for result in report["results"].as_array().into_iter().flatten() {
        let path = result["node_path"].as_str().unwrap_or("?");
        for f in result["finding_descriptions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            findings.push(format!(
                "{} {} @ {path}",
                f["severity"].as_str().unwrap_or("?"),
                f["code"].as_str().unwrap_or("?")
            ));
        }
    }
    Ok(findings)
}
