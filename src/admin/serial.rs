//! `hanko admin serial <hex>`: what the CA knows about a serial number, as JSON.

use super::InputError;
use crate::config::Config;
use crate::storage::queries as q;
use serde_json::json;

/// What an operator needs to answer "what happened to this serial?" (and what the crash
/// tests check): the serial's state, its precertificate and certificate, by SHA-256.
pub(super) async fn show(config: &Config, serial: &str) -> anyhow::Result<()> {
    let serial = serial.to_ascii_lowercase();
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InputError(format!("{serial:?} is not a hex serial number")).into());
    }
    let storage = crate::bootstrap::open(config).await?;
    let c = storage.reader();
    let record = q::serial(c, &serial).await?;
    let precert = q::precertificate(c, &serial).await?;
    let cert = q::certificate(c, &serial).await?;
    let revoked = q::revoked_certificate(c, &serial).await?;
    let notices = q::revocation_notices_for_serial(c, &serial).await?;
    storage.close().await;
    let Some(record) = record else {
        return Err(InputError(format!("serial {serial} is unknown to this CA")).into());
    };
    let sha = |der: &[u8]| {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(der))
    };
    let out = json!({
        "serial": record.serial,
        "status": record.status,
        "order": record.order_id,
        "account": record.account_id,
        "reserved_at": record.created_at,
        "lint_certificate_sha256": precert.as_ref().map(|p| sha(&p.lint_der)),
        "precertificate_sha256": precert.as_ref().and_then(|p| p.der.as_deref().map(sha)),
        "certificate_sha256": cert.as_ref().map(|c| sha(&c.der)),
        "revoked_at": cert.as_ref().and_then(|c| c.revoked_at),
        "revocation": revoked.map(|r| json!({"revoked_at": r.revoked_at, "reason": r.reason,
            "source": r.source, "recorded_at": r.recorded_at, "crl_shard": r.crl_shard})),
        "revocation_notices": notices.iter().map(|n| json!({"account": n.account_id,
            "reason": n.reason, "created_at": n.created_at})).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
