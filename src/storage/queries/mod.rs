//! Queries used by `ra` and `audit`. Each takes any connection or transaction, so callers
//! choose what commits together.

use super::entities::{
    account, authorization, certificate, challenge, order, order_authorization, organization,
    precertificate, profile, serial, validation_attempt,
};
use super::StorageError;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set,
};

mod crl;
mod ocsp;
mod revocation;
pub use crl::*;
pub use ocsp::*;
pub use revocation::*;
mod revoke;
pub use revoke::*;

type R<T> = Result<T, StorageError>;

/// Write every column of a row by its primary key, without reading it back.
///
/// sea-orm's `ActiveModel::update` follows the UPDATE with a SELECT of the row on SQLite (no
/// RETURNING there), and every statement is a round trip to the driver's worker thread while
/// the transaction holds SQLite's single write lock: the re-read made each update cost two
/// hand-offs on the path every issuance serialises on (issue #5, docs/PEERS.md). Callers
/// already hold the model they wrote. A missing row is still an error, as with `update`.
pub async fn update_row<A, C>(c: &C, m: A) -> R<()>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
{
    let statement = sea_orm::Update::one(m.reset_all()).build(c.get_database_backend());
    if c.execute(statement).await?.rows_affected() == 0 {
        return Err(sea_orm::DbErr::RecordNotUpdated.into());
    }
    Ok(())
}

// ---- accounts -------------------------------------------------------------------------------

pub async fn insert_account<C: ConnectionTrait>(c: &C, m: account::Model) -> R<()> {
    account::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn account<C: ConnectionTrait>(c: &C, id: &str) -> R<Option<account::Model>> {
    Ok(account::Entity::find_by_id(id).one(c).await?)
}

pub async fn account_by_thumbprint<C: ConnectionTrait>(
    c: &C,
    thumbprint: &str,
) -> R<Option<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::KeyThumbprint.eq(thumbprint))
        .one(c)
        .await?)
}

pub async fn update_account<C: ConnectionTrait>(c: &C, m: account::Model) -> R<()> {
    update_row(c, m.into_active_model()).await
}

// ---- orders ---------------------------------------------------------------------------------

pub async fn insert_order<C: ConnectionTrait>(
    c: &C,
    m: order::Model,
    authz_ids: &[String],
) -> R<()> {
    let order_id = m.id.clone();
    order::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    // insert_many with no rows would insert one row of defaults (NULLs): skip it.
    if authz_ids.is_empty() {
        return Ok(());
    }
    let links = authz_ids.iter().map(|a| order_authorization::ActiveModel {
        order_id: Set(order_id.clone()),
        authz_id: Set(a.clone()),
    });
    order_authorization::Entity::insert_many(links)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn order<C: ConnectionTrait>(c: &C, id: &str) -> R<Option<order::Model>> {
    Ok(order::Entity::find_by_id(id).one(c).await?)
}

pub async fn update_order<C: ConnectionTrait>(c: &C, m: order::Model) -> R<()> {
    update_row(c, m.into_active_model()).await
}

/// One page of an account's order ids, newest first.
pub async fn order_ids_for_account<C: ConnectionTrait>(
    c: &C,
    account_id: &str,
    offset: u64,
    limit: u64,
) -> R<Vec<String>> {
    Ok(order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(order::Column::AccountId.eq(account_id))
        .order_by_desc(order::Column::CreatedAt)
        .order_by_asc(order::Column::Id)
        .offset(offset)
        .limit(limit)
        .into_tuple::<String>()
        .all(c)
        .await?)
}

pub async fn orders_with_status<C: ConnectionTrait>(c: &C, status: &str) -> R<Vec<order::Model>> {
    Ok(order::Entity::find()
        .filter(order::Column::Status.eq(status))
        .all(c)
        .await?)
}

/// (status, count) over all orders, for metrics.
pub async fn order_counts<C: ConnectionTrait>(c: &C) -> R<Vec<(String, i64)>> {
    Ok(order::Entity::find()
        .select_only()
        .column(order::Column::Status)
        .column_as(Expr::col(order::Column::Id).count(), "n")
        .group_by(order::Column::Status)
        .into_tuple::<(String, i64)>()
        .all(c)
        .await?)
}

pub async fn order_ids_for_authz<C: ConnectionTrait>(c: &C, authz_id: &str) -> R<Vec<String>> {
    Ok(order_authorization::Entity::find()
        .filter(order_authorization::Column::AuthzId.eq(authz_id))
        .all(c)
        .await?
        .into_iter()
        .map(|l| l.order_id)
        .collect())
}

// ---- authorizations and challenges ------------------------------------------------------------

pub async fn insert_authorization<C: ConnectionTrait>(
    c: &C,
    authz: authorization::Model,
    challenges: Vec<challenge::Model>,
) -> R<()> {
    authorization::Entity::insert(authz.into_active_model())
        .exec_without_returning(c)
        .await?;
    if challenges.is_empty() {
        return Ok(());
    }
    challenge::Entity::insert_many(challenges.into_iter().map(|m| m.into_active_model()))
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn authorization<C: ConnectionTrait>(c: &C, id: &str) -> R<Option<authorization::Model>> {
    Ok(authorization::Entity::find_by_id(id).one(c).await?)
}

pub async fn authorizations_for_order<C: ConnectionTrait>(
    c: &C,
    order_id: &str,
) -> R<Vec<authorization::Model>> {
    // One statement (a subquery), not two: this runs inside the writer's transaction each
    // time a validation result moves an order.
    let links = sea_orm::sea_query::Query::select()
        .column(order_authorization::Column::AuthzId)
        .from(order_authorization::Entity)
        .and_where(order_authorization::Column::OrderId.eq(order_id))
        .to_owned();
    let mut authzs = authorization::Entity::find()
        .filter(authorization::Column::Id.in_subquery(links))
        .all(c)
        .await?;
    authzs.sort_by(|a, b| a.identifier.cmp(&b.identifier));
    Ok(authzs)
}

/// A valid, unexpired authorization of this account for this name, for reuse (BR 4.2.1).
pub async fn reusable_authorization<C: ConnectionTrait>(
    c: &C,
    account_id: &str,
    identifier: &str,
    now: DateTime<Utc>,
) -> R<Option<authorization::Model>> {
    Ok(authorization::Entity::find()
        .filter(authorization::Column::AccountId.eq(account_id))
        .filter(authorization::Column::Identifier.eq(identifier))
        .filter(authorization::Column::Status.eq("valid"))
        .filter(authorization::Column::Expires.gt(now))
        .order_by_desc(authorization::Column::Expires)
        .one(c)
        .await?)
}

/// Valid, unexpired authorizations of an account (for revocation by another account that
/// controls every name, RFC 8555 7.6).
pub async fn valid_authorized_names<C: ConnectionTrait>(
    c: &C,
    account_id: &str,
    now: DateTime<Utc>,
) -> R<Vec<String>> {
    Ok(authorization::Entity::find()
        .select_only()
        .column(authorization::Column::Identifier)
        .filter(authorization::Column::AccountId.eq(account_id))
        .filter(authorization::Column::Status.eq("valid"))
        .filter(authorization::Column::Expires.gt(now))
        .into_tuple::<String>()
        .all(c)
        .await?)
}

pub async fn update_authorization<C: ConnectionTrait>(c: &C, m: authorization::Model) -> R<()> {
    update_row(c, m.into_active_model()).await
}

pub async fn challenges_for_authz<C: ConnectionTrait>(
    c: &C,
    authz_id: &str,
) -> R<Vec<challenge::Model>> {
    Ok(challenge::Entity::find()
        .filter(challenge::Column::AuthzId.eq(authz_id))
        .order_by_asc(challenge::Column::Kind)
        .all(c)
        .await?)
}

pub async fn challenge<C: ConnectionTrait>(c: &C, id: &str) -> R<Option<challenge::Model>> {
    Ok(challenge::Entity::find_by_id(id).one(c).await?)
}

pub async fn update_challenge<C: ConnectionTrait>(c: &C, m: challenge::Model) -> R<()> {
    update_row(c, m.into_active_model()).await
}

pub async fn challenges_with_status<C: ConnectionTrait>(
    c: &C,
    status: &str,
) -> R<Vec<challenge::Model>> {
    Ok(challenge::Entity::find()
        .filter(challenge::Column::Status.eq(status))
        .all(c)
        .await?)
}

/// Every perspective's attempt of one validation, in one multi-row INSERT.
pub async fn insert_validation_attempts<C: ConnectionTrait>(
    c: &C,
    rows: Vec<validation_attempt::ActiveModel>,
) -> R<()> {
    if rows.is_empty() {
        return Ok(());
    }
    validation_attempt::Entity::insert_many(rows)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Every attempt recorded for a challenge (one row per perspective asked, CAA re-checks
/// included), oldest first: what an auditor reads to see who corroborated a name.
pub async fn validation_attempts_for_challenge<C: ConnectionTrait>(
    c: &C,
    challenge_id: &str,
) -> R<Vec<validation_attempt::Model>> {
    Ok(validation_attempt::Entity::find()
        .filter(validation_attempt::Column::ChallengeId.eq(challenge_id))
        .order_by_asc(validation_attempt::Column::Id)
        .all(c)
        .await?)
}

// ---- serials and certificates -----------------------------------------------------------------

pub async fn insert_serial<C: ConnectionTrait>(c: &C, m: serial::Model) -> R<()> {
    serial::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn serial<C: ConnectionTrait>(c: &C, serial_hex: &str) -> R<Option<serial::Model>> {
    Ok(serial::Entity::find_by_id(serial_hex).one(c).await?)
}

/// Take the serial's row lock for the rest of the transaction (a no-op UPDATE: PostgreSQL
/// locks the row; SQLite's transactions already hold the database write lock). Every writer
/// of the serial's fate — precertificate stored, issuance failed — takes it first, so the
/// two can never both win on PostgreSQL's READ COMMITTED.
pub async fn lock_serial<C: ConnectionTrait>(c: &C, serial_hex: &str) -> R<()> {
    serial::Entity::update_many()
        .col_expr(
            serial::Column::Status,
            Expr::col(serial::Column::Status).into(),
        )
        .filter(serial::Column::Serial.eq(serial_hex))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn set_serial_status<C: ConnectionTrait>(c: &C, serial_hex: &str, status: &str) -> R<()> {
    serial::Entity::update_many()
        .col_expr(serial::Column::Status, Expr::value(status))
        .filter(serial::Column::Serial.eq(serial_hex))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn insert_certificate<C: ConnectionTrait>(c: &C, m: certificate::Model) -> R<()> {
    certificate::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn certificate<C: ConnectionTrait>(
    c: &C,
    serial_hex: &str,
) -> R<Option<certificate::Model>> {
    Ok(certificate::Entity::find_by_id(serial_hex).one(c).await?)
}

pub async fn update_certificate<C: ConnectionTrait>(c: &C, m: certificate::Model) -> R<()> {
    update_row(c, m.into_active_model()).await
}

pub async fn serials_for_order<C: ConnectionTrait>(c: &C, order_id: &str) -> R<Vec<serial::Model>> {
    Ok(serial::Entity::find()
        .filter(serial::Column::OrderId.eq(order_id))
        .all(c)
        .await?)
}

// ---- precertificates (lint certificate first, then the signed precertificate) -----------------

pub async fn insert_precertificate<C: ConnectionTrait>(c: &C, m: precertificate::Model) -> R<()> {
    precertificate::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn precertificate<C: ConnectionTrait>(
    c: &C,
    serial_hex: &str,
) -> R<Option<precertificate::Model>> {
    Ok(precertificate::Entity::find_by_id(serial_hex)
        .one(c)
        .await?)
}

pub async fn update_precertificate<C: ConnectionTrait>(c: &C, m: precertificate::Model) -> R<()> {
    update_row(c, m.into_active_model()).await
}

// ---- profiles ----------------------------------------------------------------------------------

pub async fn profiles<C: ConnectionTrait>(c: &C) -> R<Vec<profile::Model>> {
    Ok(profile::Entity::find().all(c).await?)
}

pub async fn insert_profile<C: ConnectionTrait>(c: &C, m: profile::Model) -> R<()> {
    profile::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn update_profile<C: ConnectionTrait>(c: &C, m: profile::Model) -> R<()> {
    update_row(c, m.into_active_model()).await
}

// ---- organizations -----------------------------------------------------------------------------

pub async fn insert_organization<C: ConnectionTrait>(c: &C, m: organization::Model) -> R<()> {
    organization::Entity::insert(m.into_active_model())
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn organization<C: ConnectionTrait>(c: &C, id: &str) -> R<Option<organization::Model>> {
    Ok(organization::Entity::find_by_id(id).one(c).await?)
}

// ---- blocked keys (REQUIREMENTS §6, CP 4.9.12) ----------------------------------------------

/// The blocked-keys entry for this SPKI hash (lowercase hex SHA-256 of the DER
/// SubjectPublicKeyInfo, as `certificates.key_hash`).
pub async fn blocked_key<C: ConnectionTrait>(
    c: &C,
    key_hash: &str,
) -> R<Option<super::entities::blocked_key::Model>> {
    Ok(super::entities::blocked_key::Entity::find_by_id(key_hash)
        .one(c)
        .await?)
}

/// Block a key. Idempotent: an already-blocked key keeps its first entry and the answer is
/// `false`; `true` when this call added it.
pub async fn insert_blocked_key<C: ConnectionTrait>(
    c: &C,
    m: super::entities::blocked_key::Model,
) -> R<bool> {
    use super::entities::blocked_key::{Column, Entity};
    use sea_orm::{sea_query::OnConflict, TryInsertResult};
    let result = Entity::insert(m.into_active_model())
        .on_conflict(OnConflict::column(Column::KeyHash).do_nothing().to_owned())
        .do_nothing()
        .exec_without_returning(c)
        .await?;
    Ok(matches!(result, TryInsertResult::Inserted(n) if n > 0))
}
