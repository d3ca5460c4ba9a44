//! `hanko admin revoke` (CP 4.9.1, 4.9.5, 7.2.2): the operator's input is checked here; the
//! rules are `ra::revoke_admin` and the one writer `ra::revoke_write`.

use super::InputError;
use crate::config::Config;
use crate::core::{Clock, SystemClock};
use chrono::{DateTime, Utc};
use std::path::Path;

/// `admin revoke`: the input is checked before the database is opened; refusals of the
/// revocation rules are the operator's input errors (exit 2).
pub(super) async fn revoke(
    config: &Config,
    serial: Option<String>,
    cert: Option<&Path>,
    reason: &str,
    at: Option<&str>,
    operator: String,
) -> anyhow::Result<()> {
    use crate::ra::revoke_admin::{admin_revoke, parse_admin_reason, summary, AdminRevoke};
    let reason = parse_admin_reason(reason).map_err(|e| InputError(format!("--reason: {e}")))?;
    let at = match at {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| InputError(format!("--at {t:?}: {e}")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let certificate_der = match cert {
        Some(path) => Some(read_certificate(path)?),
        None => None,
    };
    let storage = crate::bootstrap::open(config).await?;
    let now = SystemClock.now();
    let request = AdminRevoke {
        serial,
        certificate_der,
        reason,
        at,
        operator,
    };
    let result = admin_revoke(&storage, now, request).await;
    storage.close().await;
    match result {
        Ok(written) => println!("{}", summary(&written, now)),
        Err(
            crate::ra::RaError::Malformed(why)
            | crate::ra::RaError::NotFound(why)
            | crate::ra::RaError::AlreadyRevoked(why),
        ) => return Err(InputError(why).into()),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The DER of the (first) certificate in a PEM file.
fn read_certificate(path: &Path) -> Result<Vec<u8>, InputError> {
    let pem = std::fs::read(path)
        .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?;
    x509_parser::pem::Pem::iter_from_buffer(&pem)
        .filter_map(Result::ok)
        .find(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
        .ok_or_else(|| InputError(format!("{}: no CERTIFICATE in the file", path.display())))
}
