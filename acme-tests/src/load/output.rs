//! Per-issuance records on disk, written as they happen (a run that is killed keeps what it
//! saw): the CSV, and a JSON-lines side file with every issued certificate's serial, URL and
//! PEM chain, so the fault tests can check that none was lost.

use super::flow::{Outcome, Step};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub struct Records {
    csv: BufWriter<File>,
    certs: BufWriter<File>,
    pub certs_path: PathBuf,
}

/// `run.csv` → `run.certs.jsonl`.
pub fn certs_path_for(csv: &Path) -> PathBuf {
    csv.with_extension("certs.jsonl")
}

/// The CSV header: fixed columns, then one `<step>_ms` column per step.
pub fn header() -> String {
    let mut cols = vec![
        "index",
        "subscriber",
        "start_unix_ms",
        "start_offset_ms",
        "end_offset_ms",
        "names",
        "outcome",
        "failed_step",
        "error_type",
        "serial",
        "certificate_url",
        "revoked",
    ]
    .into_iter()
    .map(str::to_string)
    .collect::<Vec<_>>();
    cols.extend(
        Step::ALL
            .iter()
            .map(|s| format!("{}_ms", s.name().replace('-', "_"))),
    );
    cols.join(",")
}

/// One CSV row. Error types are URNs or short words without commas; anything else is
/// stripped of commas and quotes so the row stays parseable without a CSV library.
pub fn row(o: &Outcome) -> String {
    let clean = |s: &str| s.replace([',', '"', '\n', '\r'], " ");
    let ms = |v: Option<std::time::Duration>| {
        v.map(|d| format!("{:.3}", d.as_secs_f64() * 1000.0))
            .unwrap_or_default()
    };
    let start_unix = o
        .started
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let (outcome, step, kind, serial, url, revoked) = match &o.result {
        Ok(i) => (
            "ok",
            String::new(),
            String::new(),
            i.serial.clone(),
            clean(&i.certificate_url),
            i.revoked.to_string(),
        ),
        Err(f) => (
            "error",
            f.step.name().to_string(),
            clean(&f.kind),
            String::new(),
            String::new(),
            String::new(),
        ),
    };
    let mut fields = vec![
        o.index.to_string(),
        o.subscriber.to_string(),
        start_unix.to_string(),
        ms(Some(o.start_offset)),
        ms(Some(o.end_offset)),
        o.names.to_string(),
        outcome.to_string(),
        step,
        kind,
        serial,
        url,
        revoked,
    ];
    fields.extend(Step::ALL.iter().map(|s| ms(o.step(*s))));
    fields.join(",")
}

impl Records {
    pub fn create(csv: &Path) -> Result<Records> {
        let certs_path = certs_path_for(csv);
        let open = |p: &Path| {
            File::create(p)
                .map(BufWriter::new)
                .with_context(|| format!("creating {}", p.display()))
        };
        let mut records = Records {
            csv: open(csv)?,
            certs: open(&certs_path)?,
            certs_path,
        };
        writeln!(records.csv, "{}", header()).context("writing the CSV header")?;
        records.csv.flush()?;
        Ok(records)
    }

    /// Append one outcome (and its certificate), flushed at once.
    pub fn write(&mut self, o: &Outcome) -> Result<()> {
        writeln!(self.csv, "{}", row(o)).context("writing a CSV row")?;
        self.csv.flush()?;
        if let Ok(i) = &o.result {
            let line = serde_json::json!({
                "serial": i.serial,
                "certificate_url": i.certificate_url,
                "revoked": i.revoked,
                "chain_pem": i.chain_pem,
                "order_url": i.order_url,
                "account_credentials": i.account_credentials,
            });
            writeln!(self.certs, "{line}").context("writing the certificate file")?;
            self.certs.flush()?;
        }
        Ok(())
    }
}
