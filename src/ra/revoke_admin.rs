//! Revocation by an operator (`hanko admin revoke`; CP 4.9.1, 4.9.5, 7.2.2): any reason of
//! CP 7.2.2 including privilegeWithdrawn, a future date (revoked on that date, CP 4.9.5),
//! and the upgrade of an earlier revocation to keyCompromise with a backdated date. Needs
//! only storage, so it runs without a server.

use super::revoke::serial_of;
use super::revoke_write::{write_revocation, Change, Revocation, Source, Written};
use super::{RaError, RaResult};
use crate::audit::Actor;
use crate::core::RevocationReason;
use crate::storage::queries as q;
use crate::storage::{Storage, StorageError};
use chrono::{DateTime, SecondsFormat, Utc};

/// The operator's request.
pub struct AdminRevoke {
    /// Serial number, hex (any case).
    pub serial: Option<String>,
    /// The certificate itself (DER); when both are given they must agree.
    pub certificate_der: Option<Vec<u8>>,
    pub reason: RevocationReason,
    pub at: Option<DateTime<Utc>>,
    pub operator: String,
}

/// The reasons an operator may give (CP 7.2.2), by RFC 5280 name (any case) or code.
/// certificateHold is refused with the reason why (CP 4.9.13).
pub fn parse_admin_reason(text: &str) -> Result<RevocationReason, String> {
    use RevocationReason as R;
    let reason = match text.to_ascii_lowercase().as_str() {
        "unspecified" | "0" => R::Unspecified,
        "keycompromise" | "1" => R::KeyCompromise,
        "affiliationchanged" | "3" => R::AffiliationChanged,
        "superseded" | "4" => R::Superseded,
        "cessationofoperation" | "5" => R::CessationOfOperation,
        "privilegewithdrawn" | "9" => R::PrivilegeWithdrawn,
        "certificatehold" | "6" => {
            return Err("certificateHold is never used: this CA does not suspend \
                        certificates (CP 4.9.13, 7.2.2)"
                .to_string())
        }
        _ => {
            return Err(format!(
                "{text:?} is not a revocation reason; use unspecified, keyCompromise, \
                 affiliationChanged, superseded, cessationOfOperation or privilegeWithdrawn"
            ))
        }
    };
    Ok(reason)
}

/// Revoke (or upgrade the revocation of) one certificate, in one transaction with its
/// audit event. keyCompromise also blocks the key: the operator has verified the report
/// (CP 4.9.12), so the bad-key revoker revokes every other certificate with it.
pub async fn admin_revoke(
    storage: &Storage,
    now: DateTime<Utc>,
    req: AdminRevoke,
) -> RaResult<Written> {
    let serial = identify(req.serial.as_deref(), req.certificate_der.as_deref())?;
    let txn = storage.begin().await?;
    let cert = q::certificate(&txn, &serial)
        .await?
        .ok_or_else(|| RaError::NotFound(format!("no certificate with serial {serial}")))?;
    if let Some(der) = &req.certificate_der {
        if *der != cert.der {
            return Err(RaError::NotFound(format!(
                "the certificate given is not the one this CA issued with serial {serial}"
            )));
        }
    }
    let rev = Revocation {
        reason: req.reason,
        requested: None,
        at: req.at,
        source: Source::Admin,
        actor: Actor::Operator(req.operator),
        block_key: req.reason == RevocationReason::KeyCompromise,
    };
    let written = write_revocation(&txn, now, &cert, &rev).await?;
    txn.commit().await.map_err(StorageError::from)?;
    Ok(written)
}

/// The serial from `--serial` and/or `--cert`, which must agree.
fn identify(serial: Option<&str>, der: Option<&[u8]>) -> RaResult<String> {
    let from_cert = der.map(serial_of).transpose()?;
    let given = match serial {
        Some(s) => {
            let s = s.trim().to_ascii_lowercase();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(RaError::Malformed(format!(
                    "{s:?} is not a hex serial number"
                )));
            }
            Some(s)
        }
        None => None,
    };
    match (given, from_cert) {
        (Some(a), Some(b)) if a != b => Err(RaError::Malformed(format!(
            "serial {a} does not match the certificate's serial {b}"
        ))),
        (Some(s), _) | (None, Some(s)) => Ok(s),
        (None, None) => Err(RaError::Malformed(
            "name the certificate: a serial number and/or --cert".to_string(),
        )),
    }
}

/// The one-line summary printed by `hanko admin revoke`.
pub fn summary(w: &Written, now: DateTime<Utc>) -> String {
    let reason = serde_json::to_value(w.reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let at = w.change.at().to_rfc3339_opts(SecondsFormat::Secs, true);
    let what = match (w.change, w.previous) {
        (Change::Upgrade { .. }, Some((old_at, _))) => format!(
            "revocation upgraded to {reason} from {at} (was from {})",
            old_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        _ if w.change.at() > now => format!("revoked ({reason}) from {at} (scheduled)"),
        _ => format!("revoked ({reason}) from {at}"),
    };
    let key = if w.key_blocked { "; key blocked" } else { "" };
    format!("serial {}: {what}{key}", w.serial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_have_every_reason_but_certificate_hold() {
        assert_eq!(
            parse_admin_reason("privilegeWithdrawn").expect("9"),
            RevocationReason::PrivilegeWithdrawn
        );
        assert_eq!(
            parse_admin_reason("KEYCOMPROMISE").expect("1"),
            RevocationReason::KeyCompromise
        );
        assert_eq!(
            parse_admin_reason("0").expect("0"),
            RevocationReason::Unspecified
        );
        let hold = parse_admin_reason("certificateHold").expect_err("hold");
        assert!(hold.contains("never used"), "{hold}");
        assert!(parse_admin_reason("removeFromCRL").is_err());
    }

    #[test]
    fn the_serial_and_the_certificate_must_agree() {
        assert_eq!(identify(Some("0A1b"), None).expect("hex"), "0a1b");
        assert!(identify(Some("xyz"), None).is_err());
        assert!(identify(None, None).is_err());
        assert!(identify(None, Some(b"not der")).is_err());
    }
}
