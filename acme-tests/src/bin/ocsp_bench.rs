//! OCSP benchmark set-up (issue #4 "Speed"): a data directory with `--count` issued
//! certificates whose responses the real pre-signer (`hanko admin ocsp refresh`, the same
//! `presign_pass` as `hanko serve`) has signed, plus what wrk and nginx need:
//! `<out>/hanko_paths.txt` (GET `/ocsp/<url-encoded base64 OCSPRequest>`),
//! `<out>/nginx_paths.txt` and `<out>/www/<serial>.der` (the same stored responses as
//! static files). scripts/bench-ocsp.sh runs it, then `hanko serve`, nginx and wrk.
//!
//! Usage: ocsp_bench --data DIR --out DIR [--count N (100000)]
//! Uses the hanko of `$HANKO_BIN` (the release build).

use acme_tests::pki::der_tlv as tlv;
use anyhow::{bail, Context, Result};
use base64::Engine;
use sha1::{Digest, Sha1};
use sqlx::Connection;
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    data: PathBuf,
    out: PathBuf,
    count: usize,
}

fn parse_args() -> Result<Args> {
    let (mut data, mut out, mut count) = (None, None, 100_000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = Some(PathBuf::from(value)),
            "--out" => out = Some(PathBuf::from(value)),
            "--count" => count = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(Args {
        data: data.context("--data DIR")?,
        out: out.context("--out DIR")?,
        count,
    })
}

fn hanko(args: &[&str], data: &std::path::Path) -> Result<String> {
    let bin = acme_tests::server::hanko_binary()?;
    let out = std::process::Command::new(bin)
        .args(args)
        .env("HANKO_STORAGE__DATA_DIR", data)
        .env("HANKO_OCSP__BATCH_SIZE", "2000")
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running hanko")?;
    if !out.status.success() {
        bail!("hanko {args:?} failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A serial as hanko makes them: 19 octets, the first 0x01..=0x7f.
fn random_serial() -> Vec<u8> {
    let mut bytes: [u8; 19] = rand::random();
    bytes[0] = 1 + (bytes[1] % 0x7f);
    bytes.to_vec()
}

async fn populate(db: &std::path::Path, count: usize) -> Result<Vec<String>> {
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let now = chrono::Utc::now();
    let not_after = now + chrono::Duration::days(90);
    let mut serials = Vec::with_capacity(count);
    for chunk in 0..count.div_ceil(10_000) {
        let mut tx = conn.begin().await?;
        for _ in 0..10_000.min(count - chunk * 10_000) {
            let serial = hex::encode(random_serial());
            // Only what OCSP reads: serial, notAfter (the DER is never parsed).
            sqlx::query(
                "INSERT INTO certificates (serial, account_id, order_id, der, chain_pem, \
                 key_hash, names, not_before, not_after, issued_at) \
                 VALUES (?, 'bench', 'bench', x'00', '', '', 'bench.hanko-ci.com', ?, ?, ?)",
            )
            .bind(&serial)
            .bind(now)
            .bind(not_after)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            serials.push(serial);
        }
        tx.commit().await?;
    }
    Ok(serials)
}

/// OCSPRequest { TBSRequest { requestList { Request { CertID (SHA-1) } } } }.
fn request_der(name_hash: &[u8], key_hash: &[u8], serial: &[u8]) -> Vec<u8> {
    let sha1_alg = tlv(
        0x30,
        &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00],
    );
    let cert_id = tlv(
        0x30,
        &[
            sha1_alg,
            tlv(0x04, name_hash),
            tlv(0x04, key_hash),
            tlv(0x02, serial),
        ]
        .concat(),
    );
    tlv(0x30, &tlv(0x30, &tlv(0x30, &tlv(0x30, &cert_id))))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.data)?;
    hanko(&["migrate"], &args.data)?;
    let started = Instant::now();
    let serials = populate(&args.data.join("hanko.db"), args.count).await?;
    println!(
        "inserted {} certificates in {:?}",
        serials.len(),
        started.elapsed()
    );
    let started = Instant::now();
    let out = hanko(&["admin", "ocsp", "refresh"], &args.data)?;
    println!("pre-signed ({}) in {:?}", out.trim(), started.elapsed());

    let pem = std::fs::read(args.data.join("ca").join("intermediate.pem"))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cert = pem.parse_x509().map_err(|e| anyhow::anyhow!("{e}"))?;
    let name_hash = Sha1::digest(cert.subject().as_raw());
    let key_hash = Sha1::digest(&cert.public_key().subject_public_key.data);

    let www = args.out.join("www");
    std::fs::create_dir_all(&www)?;
    let url = format!("sqlite://{}", args.data.join("hanko.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT serial, der FROM ocsp_responses")
        .fetch_all(&mut conn)
        .await?;
    if rows.len() < serials.len() {
        bail!(
            "{} responses stored for {} certificates",
            rows.len(),
            serials.len()
        );
    }
    let (mut hanko_paths, mut nginx_paths) = (String::new(), String::new());
    for (serial, der) in &rows {
        std::fs::write(www.join(format!("{serial}.der")), der)?;
        let req = request_der(&name_hash, &key_hash, &hex::decode(serial)?);
        let b64 = base64::engine::general_purpose::STANDARD.encode(req);
        let encoded = b64
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D");
        hanko_paths.push_str(&format!("/ocsp/{encoded}\n"));
        nginx_paths.push_str(&format!("/{serial}.der\n"));
    }
    std::fs::write(args.out.join("hanko_paths.txt"), hanko_paths)?;
    std::fs::write(args.out.join("nginx_paths.txt"), nginx_paths)?;
    println!(
        "wrote {} request paths and static responses to {}",
        rows.len(),
        args.out.display()
    );
    Ok(())
}
