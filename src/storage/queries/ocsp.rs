//! OCSP queries (CP 4.9.9, 4.9.10): stored responses, the pre-signer's work lists and the
//! delegated responder certificates.

use super::R;
use crate::storage::entities::{
    certificate, ocsp_responder, ocsp_response, precertificate, revoked_certificate, serial,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, JoinType, OnConflict, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};

/// What the CA knows about a serial for OCSP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspSubject {
    /// A certificate, or a signed precertificate (CP 4.9.9: a precertificate's serial is
    /// answered as if the certificate had been issued).
    pub issued: bool,
    pub revocation: Option<revoked_certificate::Model>,
}

/// The one indexed read of the fast path.
pub async fn ocsp_response<C: ConnectionTrait>(
    c: &C,
    serial_hex: &str,
) -> R<Option<ocsp_response::Model>> {
    Ok(ocsp_response::Entity::find_by_id(serial_hex).one(c).await?)
}

/// Insert or replace the stored response of `m.serial`.
pub async fn store_ocsp_response<C: ConnectionTrait>(c: &C, m: ocsp_response::Model) -> R<()> {
    use ocsp_response::Column as Col;
    ocsp_response::Entity::insert(m.into_active_model())
        .on_conflict(
            OnConflict::column(Col::Serial)
                .update_columns([
                    Col::Der,
                    Col::CertStatus,
                    Col::ThisUpdate,
                    Col::NextUpdate,
                    Col::ProducedAt,
                    Col::ResponderId,
                ])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Whether `serial_hex` was issued (certificate, or signed precertificate of a serial not
/// marked failed) and its revocation record.
pub async fn ocsp_subject<C: ConnectionTrait>(c: &C, serial_hex: &str) -> R<OcspSubject> {
    let mut issued = certificate::Entity::find_by_id(serial_hex)
        .one(c)
        .await?
        .is_some();
    if !issued {
        let precert = precertificate::Entity::find_by_id(serial_hex)
            .filter(precertificate::Column::Der.is_not_null())
            .one(c)
            .await?;
        if precert.is_some() {
            let status = serial::Entity::find_by_id(serial_hex).one(c).await?;
            issued = status.is_some_and(|s| s.status != "failed");
        }
    }
    let revocation = super::revoked_certificate(c, serial_hex).await?;
    Ok(OcspSubject { issued, revocation })
}

async fn serial_column<C: ConnectionTrait>(c: &C, stmt: &SelectStatement) -> R<Vec<String>> {
    let rows = c.query_all(c.get_database_backend().build(stmt)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(row.try_get::<String>("", "serial")?);
    }
    Ok(out)
}

fn col<T: sea_orm::sea_query::IntoIden + 'static>(table: &str, column: T) -> Expr {
    Expr::col((Alias::new(table), column))
}

/// Unexpired certificates, and signed precertificates of serials still reserved, that
/// have no stored response yet.
pub async fn serials_lacking_response<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> R<Vec<String>> {
    let certs = Query::select()
        .expr_as(col("c", certificate::Column::Serial), Alias::new("serial"))
        .from_as(certificate::Entity, Alias::new("c"))
        .join_as(
            JoinType::LeftJoin,
            ocsp_response::Entity,
            Alias::new("o"),
            col("o", ocsp_response::Column::Serial)
                .equals((Alias::new("c"), certificate::Column::Serial)),
        )
        .and_where(col("o", ocsp_response::Column::Serial).is_null())
        .and_where(col("c", certificate::Column::NotAfter).gt(now))
        .limit(limit)
        .to_owned();
    let mut out = serial_column(c, &certs).await?;
    if (out.len() as u64) < limit {
        let precerts = Query::select()
            .expr_as(
                col("p", precertificate::Column::Serial),
                Alias::new("serial"),
            )
            .from_as(precertificate::Entity, Alias::new("p"))
            .join_as(
                JoinType::InnerJoin,
                serial::Entity,
                Alias::new("s"),
                col("s", serial::Column::Serial)
                    .equals((Alias::new("p"), precertificate::Column::Serial)),
            )
            .join_as(
                JoinType::LeftJoin,
                ocsp_response::Entity,
                Alias::new("o"),
                col("o", ocsp_response::Column::Serial)
                    .equals((Alias::new("p"), precertificate::Column::Serial)),
            )
            .and_where(col("o", ocsp_response::Column::Serial).is_null())
            .and_where(col("p", precertificate::Column::Der).is_not_null())
            .and_where(col("s", serial::Column::Status).eq("reserved"))
            .limit(limit - out.len() as u64)
            .to_owned();
        out.extend(serial_column(c, &precerts).await?);
    }
    Ok(out)
}

/// Stored responses whose revocation record is newer than they are, or whose
/// future-dated revocation has come due (CP 4.9.10: re-signed at once).
pub async fn responses_behind_revocations<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> R<Vec<String>> {
    let stmt = Query::select()
        .expr_as(
            col("r", revoked_certificate::Column::Serial),
            Alias::new("serial"),
        )
        .from_as(revoked_certificate::Entity, Alias::new("r"))
        .join_as(
            JoinType::InnerJoin,
            ocsp_response::Entity,
            Alias::new("o"),
            col("o", ocsp_response::Column::Serial)
                .equals((Alias::new("r"), revoked_certificate::Column::Serial)),
        )
        .cond_where(
            sea_orm::Condition::any()
                .add(
                    col("r", revoked_certificate::Column::RecordedAt).gt(Expr::col((
                        Alias::new("o"),
                        ocsp_response::Column::ProducedAt,
                    ))),
                )
                .add(
                    sea_orm::Condition::all()
                        .add(col("r", revoked_certificate::Column::RevokedAt).lte(now))
                        .add(col("o", ocsp_response::Column::CertStatus).eq("good")),
                ),
        )
        .limit(limit)
        .to_owned();
    serial_column(c, &stmt).await
}

/// Stored responses due for refresh (`next_update ≤ due_by`, see
/// `schedule::refresh_lead`), skipping those of certificates expired before `now`
/// (their status no longer changes; CP 4.10.1). Oldest first.
pub async fn responses_due<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    due_by: DateTime<Utc>,
    limit: u64,
) -> R<Vec<String>> {
    let stmt = Query::select()
        .expr_as(
            col("o", ocsp_response::Column::Serial),
            Alias::new("serial"),
        )
        .from_as(ocsp_response::Entity, Alias::new("o"))
        .join_as(
            JoinType::LeftJoin,
            certificate::Entity,
            Alias::new("c"),
            col("c", certificate::Column::Serial)
                .equals((Alias::new("o"), ocsp_response::Column::Serial)),
        )
        .and_where(col("o", ocsp_response::Column::NextUpdate).lte(due_by))
        .cond_where(
            sea_orm::Condition::any()
                .add(col("c", certificate::Column::Serial).is_null())
                .add(col("c", certificate::Column::NotAfter).gt(now)),
        )
        .order_by(
            (Alias::new("o"), ocsp_response::Column::NextUpdate),
            sea_orm::Order::Asc,
        )
        .limit(limit)
        .to_owned();
    serial_column(c, &stmt).await
}

/// Stored serials after `after` in key order (for `admin ocsp refresh --all`).
pub async fn stored_response_serials<C: ConnectionTrait>(
    c: &C,
    after: &str,
    limit: u64,
) -> R<Vec<String>> {
    let stmt = Query::select()
        .column(ocsp_response::Column::Serial)
        .from(ocsp_response::Entity)
        .and_where(Expr::col(ocsp_response::Column::Serial).gt(after))
        .order_by(ocsp_response::Column::Serial, sea_orm::Order::Asc)
        .limit(limit)
        .to_owned();
    serial_column(c, &stmt).await
}

/// The oldest producedAt among the stored responses the pre-signer still refreshes (those
/// of unexpired certificates, and precertificate-only serials), for
/// `hanko_ocsp_oldest_response_age_seconds`.
pub async fn oldest_ocsp_response<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
) -> R<Option<DateTime<Utc>>> {
    let stmt = Query::select()
        .expr_as(
            col("o", ocsp_response::Column::ProducedAt),
            Alias::new("produced_at"),
        )
        .from_as(ocsp_response::Entity, Alias::new("o"))
        .join_as(
            JoinType::LeftJoin,
            certificate::Entity,
            Alias::new("c"),
            col("c", certificate::Column::Serial)
                .equals((Alias::new("o"), ocsp_response::Column::Serial)),
        )
        .cond_where(
            sea_orm::Condition::any()
                .add(col("c", certificate::Column::Serial).is_null())
                .add(col("c", certificate::Column::NotAfter).gt(now)),
        )
        .order_by(
            (Alias::new("o"), ocsp_response::Column::ProducedAt),
            sea_orm::Order::Asc,
        )
        .limit(1)
        .to_owned();
    match c.query_one(c.get_database_backend().build(&stmt)).await? {
        Some(row) => Ok(Some(row.try_get::<DateTime<Utc>>("", "produced_at")?)),
        None => Ok(None),
    }
}

pub async fn ocsp_responders<C: ConnectionTrait>(
    c: &C,
    issuer_id: &str,
) -> R<Vec<ocsp_responder::Model>> {
    Ok(ocsp_responder::Entity::find()
        .filter(ocsp_responder::Column::IssuerId.eq(issuer_id))
        .all(c)
        .await?)
}

pub async fn insert_ocsp_responder<C: ConnectionTrait>(c: &C, m: ocsp_responder::Model) -> R<()> {
    ocsp_responder::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// (serial, recorded_at, produced_at) of revocations recorded since `since` that have a
/// stored response: the pre-signer compares them with a margin in Rust.
pub async fn recent_revocations_with_response<C: ConnectionTrait>(
    c: &C,
    since: DateTime<Utc>,
) -> R<Vec<(String, DateTime<Utc>, DateTime<Utc>)>> {
    let revoked = revoked_certificate::Entity::find()
        .filter(revoked_certificate::Column::RecordedAt.gte(since))
        .all(c)
        .await?;
    let mut out = Vec::new();
    for r in revoked {
        if let Some(o) = ocsp_response::Entity::find_by_id(r.serial.as_str())
            .one(c)
            .await?
        {
            out.push((r.serial, r.recorded_at, o.produced_at));
        }
    }
    Ok(out)
}

/// Serials of responses produced at or after `since` (indexed: `ocsp_responses_produced_at`),
/// for the responder's cache.
pub async fn ocsp_serials_produced_since<C: ConnectionTrait>(
    c: &C,
    since: DateTime<Utc>,
) -> R<Vec<String>> {
    let stmt = Query::select()
        .column(ocsp_response::Column::Serial)
        .from(ocsp_response::Entity)
        .and_where(Expr::col(ocsp_response::Column::ProducedAt).gte(since))
        .to_owned();
    serial_column(c, &stmt).await
}
