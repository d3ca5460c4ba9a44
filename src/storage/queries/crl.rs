//! CRL shards (CP 4.9.7, 7.2): shard state, the per-shard generation lease, entries read in
//! pages, and the conditional write that keeps CRL numbers growing across processes.

use super::R;
use crate::storage::entities::{crl_shard, revoked_certificate};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// A shard's row without its DER (the schedule reads every shard each poll).
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct CrlShardState {
    pub shard: i32,
    pub crl_number: i64,
    pub this_update: Option<DateTime<Utc>>,
    pub next_update: Option<DateTime<Utc>>,
    pub entries: i64,
}

/// One revokedCertificates entry as stored.
pub type CrlEntryRow = (String, DateTime<Utc>, Option<i16>);

/// Create the shard's row (number 0, never signed) unless it exists.
pub async fn ensure_crl_shard<C: ConnectionTrait>(
    c: &C,
    issuer_id: &str,
    shard: i32,
    now: DateTime<Utc>,
) -> R<()> {
    let row = crl_shard::ActiveModel {
        issuer_id: Set(issuer_id.to_string()),
        shard: Set(shard),
        crl_number: Set(0),
        this_update: Set(None),
        next_update: Set(None),
        der: Set(None),
        entries: Set(0),
        lease_holder: Set(None),
        lease_expires: Set(None),
        updated_at: Set(now),
    };
    crl_shard::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([crl_shard::Column::IssuerId, crl_shard::Column::Shard])
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec_without_returning(c)
        .await?;
    Ok(())
}

fn state_columns(
    q: sea_orm::Select<crl_shard::Entity>,
) -> sea_orm::Selector<sea_orm::SelectModel<CrlShardState>> {
    q.select_only()
        .columns([
            crl_shard::Column::Shard,
            crl_shard::Column::CrlNumber,
            crl_shard::Column::ThisUpdate,
            crl_shard::Column::NextUpdate,
            crl_shard::Column::Entries,
        ])
        .into_model::<CrlShardState>()
}

/// Every stored shard of `issuer_id`, by shard.
pub async fn crl_shard_states<C: ConnectionTrait>(c: &C, issuer_id: &str) -> R<Vec<CrlShardState>> {
    Ok(state_columns(
        crl_shard::Entity::find()
            .filter(crl_shard::Column::IssuerId.eq(issuer_id))
            .order_by_asc(crl_shard::Column::Shard),
    )
    .all(c)
    .await?)
}

pub async fn crl_shard_state<C: ConnectionTrait>(
    c: &C,
    issuer_id: &str,
    shard: i32,
) -> R<Option<CrlShardState>> {
    Ok(state_columns(crl_shard::Entity::find_by_id((
        issuer_id.to_string(),
        shard,
    )))
    .one(c)
    .await?)
}

/// The whole row, DER included (serving and exporting a shard).
pub async fn crl_shard<C: ConnectionTrait>(
    c: &C,
    issuer_id: &str,
    shard: i32,
) -> R<Option<crl_shard::Model>> {
    Ok(
        crl_shard::Entity::find_by_id((issuer_id.to_string(), shard))
            .one(c)
            .await?,
    )
}

/// Take the shard's lease for `holder` until `until` if it is free or expired: one
/// conditional UPDATE, so of several processes exactly one wins.
pub async fn take_crl_lease<C: ConnectionTrait>(
    c: &C,
    issuer_id: &str,
    shard: i32,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> R<bool> {
    let result = crl_shard::Entity::update_many()
        .col_expr(crl_shard::Column::LeaseHolder, Expr::value(holder))
        .col_expr(crl_shard::Column::LeaseExpires, Expr::value(until))
        .filter(crl_shard::Column::IssuerId.eq(issuer_id))
        .filter(crl_shard::Column::Shard.eq(shard))
        .filter(
            crl_shard::Column::LeaseHolder
                .is_null()
                .or(crl_shard::Column::LeaseExpires.is_null())
                .or(crl_shard::Column::LeaseExpires.lt(now)),
        )
        .exec(c)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Give the lease back (only if `holder` still has it).
pub async fn release_crl_lease<C: ConnectionTrait>(
    c: &C,
    issuer_id: &str,
    shard: i32,
    holder: &str,
) -> R<()> {
    crl_shard::Entity::update_many()
        .col_expr(crl_shard::Column::LeaseHolder, Expr::value(None::<String>))
        .col_expr(
            crl_shard::Column::LeaseExpires,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(crl_shard::Column::IssuerId.eq(issuer_id))
        .filter(crl_shard::Column::Shard.eq(shard))
        .filter(crl_shard::Column::LeaseHolder.eq(holder))
        .exec(c)
        .await?;
    Ok(())
}

/// A signed CRL to store.
pub struct SignedCrlRow<'a> {
    pub issuer_id: &'a str,
    pub shard: i32,
    pub crl_number: i64,
    pub this_update: DateTime<Utc>,
    pub next_update: DateTime<Utc>,
    pub der: Vec<u8>,
    pub entries: i64,
}

/// Store a signed CRL if `holder` still holds the lease and the stored number is still
/// `crl.crl_number - 1` (CP 7.2.2: numbers only grow; nobody else signed in between).
/// False when either changed: the CRL must then be discarded, never published.
pub async fn store_signed_crl<C: ConnectionTrait>(
    c: &C,
    crl: SignedCrlRow<'_>,
    holder: &str,
    now: DateTime<Utc>,
) -> R<bool> {
    let result = crl_shard::Entity::update_many()
        .col_expr(crl_shard::Column::CrlNumber, Expr::value(crl.crl_number))
        .col_expr(crl_shard::Column::ThisUpdate, Expr::value(crl.this_update))
        .col_expr(crl_shard::Column::NextUpdate, Expr::value(crl.next_update))
        .col_expr(crl_shard::Column::Der, Expr::value(crl.der))
        .col_expr(crl_shard::Column::Entries, Expr::value(crl.entries))
        .col_expr(crl_shard::Column::UpdatedAt, Expr::value(now))
        .filter(crl_shard::Column::IssuerId.eq(crl.issuer_id))
        .filter(crl_shard::Column::Shard.eq(crl.shard))
        .filter(crl_shard::Column::LeaseHolder.eq(holder))
        .filter(crl_shard::Column::CrlNumber.eq(crl.crl_number - 1))
        .exec(c)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Up to `limit` entries of a shard with serial > `after`, in serial order (keyset
/// pagination on the (issuer_id, crl_shard, serial) index): revoked by `at` (future-dated
/// revocations appear from their date, CP 4.9.5) and not yet expired at `at` (CP 4.10.1).
pub async fn crl_entries_page<C: ConnectionTrait>(
    c: &C,
    issuer_id: &str,
    shard: i32,
    at: DateTime<Utc>,
    after: Option<&str>,
    limit: u64,
) -> R<Vec<CrlEntryRow>> {
    let mut q = revoked_certificate::Entity::find()
        .select_only()
        .columns([
            revoked_certificate::Column::Serial,
            revoked_certificate::Column::RevokedAt,
            revoked_certificate::Column::Reason,
        ])
        .filter(revoked_certificate::Column::IssuerId.eq(issuer_id))
        .filter(revoked_certificate::Column::CrlShard.eq(shard))
        .filter(revoked_certificate::Column::RevokedAt.lte(at))
        .filter(revoked_certificate::Column::NotAfter.gt(at));
    if let Some(after) = after {
        q = q.filter(revoked_certificate::Column::Serial.gt(after));
    }
    Ok(q.order_by_asc(revoked_certificate::Column::Serial)
        .limit(limit)
        .into_tuple::<CrlEntryRow>()
        .all(c)
        .await?)
}

/// When the earliest change of a shard not on a CRL cut at `since` became visible, if it
/// is visible by `now`: a row recorded after `since` (visible when recorded, or at its
/// revocation date if that is later), or a future-dated revocation whose date lies in
/// (since, now].
pub async fn crl_pending_since<C: ConnectionTrait>(
    c: &C,
    issuer_id: &str,
    shard: i32,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> R<Option<DateTime<Utc>>> {
    use revoked_certificate::Column as Col;
    let base = || {
        revoked_certificate::Entity::find()
            .select_only()
            .filter(Col::IssuerId.eq(issuer_id))
            .filter(Col::CrlShard.eq(shard))
    };
    // Rows visible from when they were recorded.
    let recorded: Option<Option<DateTime<Utc>>> = base()
        .column_as(Col::RecordedAt.min(), "at")
        .filter(Col::RecordedAt.gt(since))
        .filter(Col::RecordedAt.lte(now))
        .filter(Expr::col(Col::RevokedAt).lte(Expr::col(Col::RecordedAt)))
        .into_tuple()
        .one(c)
        .await?;
    // Rows visible from a revocation date after they were recorded (future-dated).
    let dated: Option<Option<DateTime<Utc>>> = base()
        .column_as(Col::RevokedAt.min(), "at")
        .filter(Col::RevokedAt.gt(since))
        .filter(Col::RevokedAt.lte(now))
        .filter(Expr::col(Col::RevokedAt).gt(Expr::col(Col::RecordedAt)))
        .into_tuple()
        .one(c)
        .await?;
    Ok([recorded.flatten(), dated.flatten()]
        .into_iter()
        .flatten()
        .min())
}
