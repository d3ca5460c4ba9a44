//! Revocation records (CP 4.9, 7.2.2): what every CRL shard and OCSP response is made from.

use super::R;
use crate::storage::entities::revoked_certificate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel};

/// Insert or replace the revocation record of `m.serial` (a reason upgraded to
/// keyCompromise rewrites the row with the new reason and date, CP 7.2.2).
pub async fn record_revocation<C: ConnectionTrait>(c: &C, m: revoked_certificate::Model) -> R<()> {
    revoked_certificate::Entity::insert(m.into_active_model())
        .on_conflict(
            OnConflict::column(revoked_certificate::Column::Serial)
                .update_columns([
                    revoked_certificate::Column::RevokedAt,
                    revoked_certificate::Column::Reason,
                    revoked_certificate::Column::RecordedAt,
                    revoked_certificate::Column::Source,
                ])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn revoked_certificate<C: ConnectionTrait>(
    c: &C,
    serial_hex: &str,
) -> R<Option<revoked_certificate::Model>> {
    Ok(revoked_certificate::Entity::find_by_id(serial_hex)
        .one(c)
        .await?)
}
