//! After the faults: what hanko-load received against what the database and the (restarted)
//! server say. No certificate lost (in the database byte-identical, and downloadable through
//! ACME with the issuing account), no serial used twice, no order left `processing`.

use super::pg::OwnedPostgres;
use crate::load::flow::{serial_hex, Issued};
use crate::load::http::Tls;
use anyhow::{Context, Result};
use instant_acme::{Account, AccountCredentials};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// What the checks found; every list should be empty.
#[derive(Debug, Default)]
pub struct Findings {
    pub received: usize,
    pub in_database: usize,
    pub downloaded: usize,
    /// Received but missing from the database, or stored with other bytes.
    pub lost: Vec<String>,
    /// Received but not downloadable (or different) through ACME.
    pub not_downloadable: Vec<String>,
    pub duplicate_serials: Vec<String>,
    pub db_certificates: u64,
    pub db_precertificates: u64,
    pub db_serials: u64,
    pub serials_by_status: Vec<(String, u64)>,
}

impl Findings {
    pub fn ok(&self) -> bool {
        self.lost.is_empty()
            && self.not_downloadable.is_empty()
            && self.duplicate_serials.is_empty()
    }
}

fn hex_of(field: &str) -> Vec<u8> {
    hex::decode(field.trim()).unwrap_or_default()
}

/// Database against what was received, and serial uniqueness everywhere.
pub async fn check_database(pg: &OwnedPostgres, received: &[&Issued]) -> Result<Findings> {
    let mut f = Findings {
        received: received.len(),
        ..Findings::default()
    };
    // Bytes as hex: psql -At would split a PEM's newlines into rows.
    let rows = pg
        .query("SELECT serial, encode(der, 'hex'), encode(convert_to(chain_pem, 'UTF8'), 'hex') FROM certificates")
        .await?;
    f.db_certificates = rows.len() as u64;
    let mut stored: HashMap<String, (Vec<u8>, Vec<u8>)> = HashMap::new();
    let mut der_serials: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        let (serial, der, chain) = (r[0].clone(), hex_of(&r[1]), hex_of(&r[2]));
        // The DER's own serial must be the row's, and unique across certificates.
        let inner = serial_hex(&der).unwrap_or_else(|_| format!("unparseable:{serial}"));
        if inner != serial {
            f.duplicate_serials
                .push(format!("certificate row {serial} holds serial {inner}"));
        }
        *der_serials.entry(inner).or_default() += 1;
        stored.insert(serial, (der, chain));
    }
    for (s, n) in &der_serials {
        if *n > 1 {
            f.duplicate_serials
                .push(format!("{n} certificates carry serial {s}"));
        }
    }
    let pre = pg
        .query("SELECT serial, encode(der, 'hex') FROM precertificates WHERE der IS NOT NULL")
        .await?;
    f.db_precertificates = pre.len() as u64;
    let mut pre_serials = HashSet::new();
    for r in &pre {
        let inner = serial_hex(&hex_of(&r[1])).unwrap_or_default();
        if inner != r[0] || !pre_serials.insert(inner.clone()) {
            f.duplicate_serials
                .push(format!("precertificate row {} holds serial {inner}", r[0]));
        }
    }
    // Every certificate and signed precertificate has its serial, of the same order; no
    // serial carries two orders' certificates; no certificate or signed precertificate on a
    // serial marked failed (a lint record alone may be: the issuance failed before the
    // signature, DESIGN invariant 5).
    let orphans = pg
        .query(
            "SELECT 'certificate ' || c.serial FROM certificates c LEFT JOIN serials s ON s.serial = c.serial \
               WHERE s.serial IS NULL OR s.order_id <> c.order_id OR s.status <> 'issued' \
             UNION ALL SELECT 'precertificate ' || p.serial FROM precertificates p \
               LEFT JOIN serials s ON s.serial = p.serial \
               WHERE p.der IS NOT NULL AND (s.serial IS NULL OR s.status = 'failed') \
             UNION ALL SELECT 'order ' || order_id FROM certificates GROUP BY order_id HAVING count(*) > 1",
        )
        .await?;
    f.duplicate_serials.extend(
        orphans
            .into_iter()
            .map(|r| format!("{} (serial/record mismatch)", r[0])),
    );
    f.db_serials = pg.count("SELECT count(*) FROM serials").await?;
    f.serials_by_status = pg
        .query("SELECT status, count(*) FROM serials GROUP BY status ORDER BY status")
        .await?
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap_or(0)))
        .collect();
    let mut seen = HashSet::new();
    for &r in received {
        if !seen.insert(r.serial.clone()) {
            f.duplicate_serials
                .push(format!("hanko-load received serial {} twice", r.serial));
        }
        let leaf = crate::acme_client::leaf_der(&r.chain_pem).unwrap_or_default();
        match stored.get(&r.serial) {
            Some((der, chain)) if *der == leaf && *chain == r.chain_pem.as_bytes() => {
                f.in_database += 1
            }
            Some(_) => f
                .lost
                .push(format!("{}: stored with other bytes", r.serial)),
            None => f.lost.push(format!("{}: not in the database", r.serial)),
        }
    }
    Ok(f)
}

/// POST-as-GET every received certificate again through ACME, as its own account, from the
/// restarted server: order URL → certificate URL → chain, compared byte for byte.
pub async fn check_downloads(
    tls: &Tls,
    received: &[&Issued],
    f: &mut Findings,
    concurrency: usize,
) -> Result<()> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for r in received.iter().map(|&r| r.clone()) {
        let (gate, tls) = (gate.clone(), tls.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let result = download(&tls, &r).await;
            (r.serial, result)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (serial, result) = done.context("download task")?;
        match result {
            Ok(()) => f.downloaded += 1,
            Err(e) => f.not_downloadable.push(format!("{serial}: {e:#}")),
        }
    }
    Ok(())
}

async fn download(tls: &Tls, r: &Issued) -> Result<()> {
    // A few tries: the server was just restarted and may be busy with the sweep.
    let mut last = None;
    for _ in 0..3 {
        let attempt = async {
            let credentials: AccountCredentials =
                serde_json::from_str(&r.account_credentials).context("account credentials")?;
            let account = Account::builder_with_http(tls.client())
                .from_credentials(credentials)
                .await
                .context("account from credentials")?;
            let mut order = account
                .order(r.order_url.clone())
                .await
                .context("fetching the order")?;
            let chain = order
                .certificate()
                .await
                .context("downloading the certificate")?
                .context("order has no certificate")?;
            anyhow::ensure!(chain == r.chain_pem, "downloaded chain differs");
            Ok(())
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt")))
}

/// Poll until no order (and no challenge) is `processing`, up to `deadline`. Returns the
/// wait, or the orders still stuck.
pub async fn wait_no_processing(
    pg: &OwnedPostgres,
    deadline: Duration,
) -> Result<(Duration, u64, u64)> {
    let start = Instant::now();
    loop {
        let orders = pg
            .count("SELECT count(*) FROM orders WHERE status = 'processing'")
            .await?;
        let challenges = pg
            .count("SELECT count(*) FROM challenges WHERE status = 'processing'")
            .await?;
        if (orders == 0 && challenges == 0) || start.elapsed() >= deadline {
            return Ok((start.elapsed(), orders, challenges));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
