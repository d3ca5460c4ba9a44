//! `hanko admin serial <hex>`: what the CA knows about a serial number, as JSON.

use super::InputError;
use crate::config::Config;
use crate::storage::queries as q;
use serde_json::json;

/// For each name of the serial's order, every validation attempt of its authorization: which
/// perspective (and RIR) saw what, when, with what result — domain control and CAA, the
/// finalize re-checks included (BR 3.2.2.9: an auditor can see who corroborated each name).
async fn validations(
    c: &impl sea_orm::ConnectionTrait,
    order_id: &str,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for authz in q::authorizations_for_order(c, order_id).await? {
        let mut attempts = Vec::new();
        for chall in q::challenges_for_authz(c, &authz.id).await? {
            for a in q::validation_attempts_for_challenge(c, &chall.id).await? {
                let evidence: serde_json::Value =
                    serde_json::from_str(&a.evidence).unwrap_or(serde_json::Value::Null);
                attempts.push(json!({
                    "challenge": chall.id, "method": evidence.get("method"),
                    "perspective": a.perspective, "rir": evidence.get("rir"),
                    "result": a.result, "at": a.created_at,
                    "caa": evidence.get("caa").and_then(|c| c.get("decision")),
                }));
            }
        }
        out.push(json!({
            "identifier": authz.identifier, "authorization": authz.id,
            "status": authz.status, "caa_checked_at": authz.caa_checked_at,
            "attempts": attempts,
        }));
    }
    Ok(out)
}

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
    let validations = match &record {
        Some(r) => validations(c, &r.order_id).await?,
        None => Vec::new(),
    };
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
        "validations": validations,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
