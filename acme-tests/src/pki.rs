//! Checking issued chains with OpenSSL, an implementation independent of hanko's own
//! x509 code: `openssl verify -CAfile root.pem -untrusted intermediates.pem leaf.pem`.

use crate::process::{require_tool, Cmd};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Split an `application/pem-certificate-chain` (RFC 8555 7.4.2) into its certificates,
/// each returned as one PEM block with a trailing newline. Text outside blocks is ignored.
/// DER tag-length-value (definite length, short or long form): for test inputs built by
/// hand, including deliberately malformed ones no DER library would produce.
pub fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

pub fn split_pem_chain(pem: &str) -> Result<Vec<String>> {
    let mut certs = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start..];
        let Some(end) = after.find(END) else {
            bail!("unterminated PEM certificate block");
        };
        let block = &after[..end + END.len()];
        certs.push(format!("{block}\n"));
        rest = &after[end + END.len()..];
    }
    if certs.is_empty() {
        bail!("no PEM certificate in chain:\n{pem}");
    }
    Ok(certs)
}

/// What `openssl_verify_chain` established.
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    /// Files written for the check (leaf, intermediates), kept for further openssl use.
    pub leaf_path: PathBuf,
    pub intermediates_path: PathBuf,
    /// dNSName entries of the leaf's subjectAltName, lowercased.
    pub dns_names: Vec<String>,
    /// Number of certificates in the chain as served (leaf included).
    pub chain_len: usize,
}

/// Verify a served chain against `root_pem` for TLS server use, and check that the leaf's
/// SANs are exactly `expected_names` (order ignored). Files go to `work_dir/<label>-*.pem`.
pub async fn openssl_verify_chain(
    root_pem: &Path,
    chain_pem: &str,
    expected_names: &[&str],
    work_dir: &Path,
    label: &str,
) -> Result<VerifiedChain> {
    let openssl = require_tool("openssl")?;
    let certs = split_pem_chain(chain_pem)?;
    if certs.len() < 2 {
        bail!(
            "chain has {} certificate(s); expected leaf + intermediate:\n{chain_pem}",
            certs.len()
        );
    }
    let leaf_path = work_dir.join(format!("{label}-leaf.pem"));
    let intermediates_path = work_dir.join(format!("{label}-intermediates.pem"));
    std::fs::write(&leaf_path, &certs[0])
        .with_context(|| format!("writing {}", leaf_path.display()))?;
    std::fs::write(&intermediates_path, certs[1..].concat())
        .with_context(|| format!("writing {}", intermediates_path.display()))?;

    // -purpose sslserver checks serverAuth EKU and key usage; -x509_strict applies the RFC
    // 5280 profile checks (AKI/SKI, critical basicConstraints) that BR-conforming CAs meet.
    let verify = Cmd::new(&openssl)
        .arg("verify")
        .args(["-purpose", "sslserver", "-x509_strict", "-CAfile"])
        .arg(root_pem)
        .arg("-untrusted")
        .arg(&intermediates_path)
        .arg(&leaf_path)
        .timeout(Duration::from_secs(30))
        .run()
        .await?;
    if !verify.success() || !verify.stdout.contains(": OK") {
        bail!(
            "openssl does not accept the chain for {label}:\n{verify}\n--- chain ---\n{chain_pem}"
        );
    }

    let dns_names = leaf_dns_names(&openssl, &leaf_path).await?;
    let mut got = dns_names.clone();
    got.sort();
    let mut want: Vec<String> = expected_names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    want.sort();
    if got != want {
        bail!("leaf for {label} has SANs {got:?}, expected {want:?}");
    }
    Ok(VerifiedChain {
        leaf_path,
        intermediates_path,
        dns_names,
        chain_len: certs.len(),
    })
}

/// dNSName SANs of a PEM certificate file, via `openssl x509 -ext subjectAltName`.
async fn leaf_dns_names(openssl: &Path, leaf: &Path) -> Result<Vec<String>> {
    let out = Cmd::new(openssl)
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(leaf)
        .timeout(Duration::from_secs(30))
        .run_ok()
        .await?;
    // Output: "X509v3 Subject Alternative Name: \n    DNS:a.example, DNS:b.example".
    Ok(out
        .stdout
        .split([',', '\n'])
        .filter_map(|part| part.trim().strip_prefix("DNS:"))
        .map(str::to_ascii_lowercase)
        .collect())
}

/// `openssl verify` of a leaf file with a separate chain file, as clients store them.
pub async fn openssl_verify_files(root_pem: &Path, chain: &Path, leaf: &Path) -> Result<()> {
    let verify = Cmd::new(require_tool("openssl")?)
        .arg("verify")
        .args(["-purpose", "sslserver", "-x509_strict", "-CAfile"])
        .arg(root_pem)
        .arg("-untrusted")
        .arg(chain)
        .arg(leaf)
        .timeout(Duration::from_secs(30))
        .run()
        .await?;
    if !verify.success() || !verify.stdout.contains(": OK") {
        bail!("openssl does not accept {}:\n{verify}", leaf.display());
    }
    Ok(())
}

/// A DER CSR for `names` signed by `key`, with an empty subject (the names go in the SAN
/// extension only, as a modern ACME client sends them).
pub fn csr_der(key: &rcgen::KeyPair, names: &[&str]) -> Result<Vec<u8>> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    Ok(params.serialize_request(key)?.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_chain_and_ignores_surrounding_text() {
        let pem = format!("junk\n{BEGIN}\nAAAA\n{END}\n\n{BEGIN}\nBBBB\n{END}\ntrailer");
        let certs = split_pem_chain(&pem).expect("two blocks");
        assert_eq!(certs.len(), 2);
        assert!(certs[0].contains("AAAA") && certs[1].contains("BBBB"));
        assert!(certs[1].ends_with(&format!("{END}\n")));
    }

    #[test]
    fn rejects_empty_and_unterminated() {
        assert!(split_pem_chain("nothing").is_err());
        assert!(split_pem_chain(&format!("{BEGIN}\nAAAA\n")).is_err());
    }
}
