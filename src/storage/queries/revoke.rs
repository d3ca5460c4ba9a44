//! Queries of the revocation paths and the bad-key revoker (CP 4.9.1, 4.9.12, 7.2.2). The
//! state changes are conditional updates: when two processes (or the ACME path and the
//! bad-key revoker) race on one certificate, exactly one of them changes it and the other
//! sees zero rows affected.

use super::R;
use crate::storage::entities::{blocked_key, certificate, revocation_notice};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

/// Mark a certificate revoked if it is not yet: `true` when this call did it.
pub async fn revoke_certificate_if_unrevoked<C: ConnectionTrait>(
    c: &C,
    serial_hex: &str,
    revoked_at: DateTime<Utc>,
    reason: Option<i16>,
) -> R<bool> {
    let result = certificate::Entity::update_many()
        .col_expr(certificate::Column::RevokedAt, Expr::value(revoked_at))
        .col_expr(certificate::Column::RevocationReason, Expr::value(reason))
        .filter(certificate::Column::Serial.eq(serial_hex))
        .filter(certificate::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Change an existing revocation (an upgrade to keyCompromise, CP 7.2.2) only if it is still
/// the one the caller read (`old_at`, `old_reason`): `true` when this call changed it.
pub async fn change_revocation_if_unchanged<C: ConnectionTrait>(
    c: &C,
    serial_hex: &str,
    (old_at, old_reason): (DateTime<Utc>, Option<i16>),
    (new_at, new_reason): (DateTime<Utc>, Option<i16>),
) -> R<bool> {
    let same_reason = match old_reason {
        Some(code) => certificate::Column::RevocationReason.eq(code),
        None => certificate::Column::RevocationReason.is_null(),
    };
    let result = certificate::Entity::update_many()
        .col_expr(certificate::Column::RevokedAt, Expr::value(new_at))
        .col_expr(
            certificate::Column::RevocationReason,
            Expr::value(new_reason),
        )
        .filter(certificate::Column::Serial.eq(serial_hex))
        .filter(certificate::Column::RevokedAt.eq(old_at))
        .filter(same_reason)
        .exec(c)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A subscriber owed a notice of this revocation (CP 4.9.12).
pub async fn insert_revocation_notice<C: ConnectionTrait>(
    c: &C,
    m: revocation_notice::Model,
) -> R<()> {
    revocation_notice::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn revocation_notices_for_serial<C: ConnectionTrait>(
    c: &C,
    serial_hex: &str,
) -> R<Vec<revocation_notice::Model>> {
    Ok(revocation_notice::Entity::find()
        .filter(revocation_notice::Column::Serial.eq(serial_hex))
        .order_by_asc(revocation_notice::Column::CreatedAt)
        .all(c)
        .await?)
}

/// Blocked keys whose certificates the bad-key revoker has not finished revoking.
pub async fn blocked_keys_pending<C: ConnectionTrait>(
    c: &C,
    limit: u64,
) -> R<Vec<blocked_key::Model>> {
    Ok(blocked_key::Entity::find()
        .filter(blocked_key::Column::RevokedThrough.is_null())
        .order_by_asc(blocked_key::Column::CreatedAt)
        .limit(limit)
        .all(c)
        .await?)
}

/// Record that every certificate with this key has been revoked (once: a second process
/// finishing the same key changes nothing).
pub async fn mark_key_revoked_through<C: ConnectionTrait>(
    c: &C,
    key_hash: &str,
    at: DateTime<Utc>,
) -> R<bool> {
    let result = blocked_key::Entity::update_many()
        .col_expr(blocked_key::Column::RevokedThrough, Expr::value(at))
        .filter(blocked_key::Column::KeyHash.eq(key_hash))
        .filter(blocked_key::Column::RevokedThrough.is_null())
        .exec(c)
        .await?;
    Ok(result.rows_affected == 1)
}

/// One page (by serial, after `after`) of the unexpired certificates with this key that
/// are not yet revoked for keyCompromise as of `now`: not revoked, revoked for another
/// reason, or revoked only from a future date (CP 4.9.12, 7.2.2). Uses the
/// `certificates_key_hash` index.
pub async fn certificates_to_revoke_for_key<C: ConnectionTrait>(
    c: &C,
    key_hash: &str,
    now: DateTime<Utc>,
    after: &str,
    limit: u64,
) -> R<Vec<certificate::Model>> {
    let pending = Condition::any()
        .add(certificate::Column::RevokedAt.is_null())
        .add(certificate::Column::RevokedAt.gt(now))
        .add(certificate::Column::RevocationReason.is_null())
        .add(certificate::Column::RevocationReason.ne(1i16));
    Ok(certificate::Entity::find()
        .filter(certificate::Column::KeyHash.eq(key_hash))
        .filter(certificate::Column::NotAfter.gt(now))
        .filter(certificate::Column::Serial.gt(after))
        .filter(pending)
        .order_by_asc(certificate::Column::Serial)
        .limit(limit)
        .all(c)
        .await?)
}
