//! The audit log (CPS 5.4, REQUIREMENTS §15): append-only, hash-chained events written in the
//! same transaction as the state change they record (DESIGN invariant 4). Each event's hash
//! covers the previous hash, so editing or deleting any row breaks every hash after it.
//! Owns: `audit_events`, `audit_head`. Must not touch: other tables. Cannot be switched off.

use crate::storage::entities::{audit_event, audit_head};
use crate::storage::StorageError;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Who caused an event.
#[derive(Debug, Clone)]
pub enum Actor {
    /// An ACME account, by id.
    Account(String),
    /// The CA software itself (background jobs, validation).
    System,
    /// An operator acting through the CLI.
    Operator(String),
}

impl Actor {
    fn as_string(&self) -> String {
        match self {
            Actor::Account(id) => format!("account:{id}"),
            Actor::System => "system".to_string(),
            Actor::Operator(name) => format!("operator:{name}"),
        }
    }
}

/// Append one event inside the caller's transaction. On PostgreSQL the chain head row is
/// locked (`FOR UPDATE`) until commit, so concurrent appenders queue instead of forking the
/// chain; SQLite serialises writers itself.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    at: DateTime<Utc>,
    actor: &Actor,
    event: &str,
    details: Value,
) -> Result<i64, StorageError> {
    let mut head_query = audit_head::Entity::find_by_id(1);
    if txn.get_database_backend() == DbBackend::Postgres {
        head_query = head_query.lock_exclusive();
    }
    let head = head_query
        .one(txn)
        .await?
        .ok_or_else(|| StorageError::Corrupt("audit chain head row is missing".to_string()))?;
    // Microseconds: the precision both backends store, so the hash recomputes exactly.
    let at = at.trunc_subsecs(6);
    let seq = head.seq + 1;
    let actor = actor.as_string();
    let details = details.to_string();
    let hash = event_hash(&head.hash, seq, at, &actor, event, &details);
    // Neither write reads its row back (sea-orm's `insert`/`update` would on SQLite): every
    // state change appends here inside the single writer's transaction.
    audit_event::Entity::insert(audit_event::ActiveModel {
        seq: Set(seq),
        at: Set(at),
        actor: Set(actor),
        event: Set(event.to_string()),
        details: Set(details),
        prev_hash: Set(head.hash.clone()),
        hash: Set(hash.clone()),
    })
    .exec_without_returning(txn)
    .await?;
    let moved = audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Seq, Expr::value(seq))
        .col_expr(audit_head::Column::Hash, Expr::value(hash))
        .filter(audit_head::Column::Id.eq(head.id))
        .exec(txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(StorageError::Corrupt(
            "audit chain head row vanished during the append".to_string(),
        ));
    }
    Ok(seq)
}

/// SHA-256 over the previous hash and every field, each length-prefixed so no two different
/// events can serialise to the same bytes.
fn event_hash(
    prev: &str,
    seq: i64,
    at: DateTime<Utc>,
    actor: &str,
    event: &str,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    for field in [prev, &seq.to_string(), &at, actor, event, details] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("audit event {seq}: {reason}")]
    Broken { seq: i64, reason: String },
}

/// Verify the whole chain: sequence numbers contiguous from 1, each `prev_hash` equal to the
/// previous event's hash, each hash recomputed from the row, and the head pointing at the
/// last event. Returns the number of events checked.
pub async fn verify_chain<C: ConnectionTrait>(
    c: &C,
) -> Result<Result<i64, ChainError>, StorageError> {
    let head = audit_head::Entity::find_by_id(1)
        .one(c)
        .await?
        .ok_or_else(|| StorageError::Corrupt("audit chain head row is missing".to_string()))?;
    let mut prev = hanko_migrations::GENESIS.to_string();
    let mut expected_seq = 1i64;
    const PAGE: u64 = 1000;
    loop {
        let rows = audit_event::Entity::find()
            .order_by_asc(audit_event::Column::Seq)
            .offset((expected_seq - 1) as u64)
            .limit(PAGE)
            .all(c)
            .await?;
        let n = rows.len() as u64;
        for row in rows {
            if let Err(reason) = check_row(&row, expected_seq, &prev) {
                return Ok(Err(ChainError::Broken {
                    seq: row.seq,
                    reason,
                }));
            }
            prev = row.hash;
            expected_seq += 1;
        }
        if n < PAGE {
            break;
        }
    }
    let last = expected_seq - 1;
    if head.seq != last || head.hash != prev {
        return Ok(Err(ChainError::Broken {
            seq: head.seq,
            reason: format!(
                "head points at event {} but the log ends at {last}",
                head.seq
            ),
        }));
    }
    Ok(Ok(last))
}

fn check_row(row: &audit_event::Model, expected_seq: i64, prev: &str) -> Result<(), String> {
    if row.seq != expected_seq {
        return Err(format!("expected event {expected_seq}: events are missing"));
    }
    if row.prev_hash != prev {
        return Err("prev_hash does not match the previous event's hash".to_string());
    }
    let recomputed = event_hash(prev, row.seq, row.at, &row.actor, &row.event, &row.details);
    if recomputed != row.hash {
        return Err("hash does not match the event's contents (modified)".to_string());
    }
    Ok(())
}

/// Events in chain order, optionally only those whose name starts with `prefix` (`hanko
/// audit list`). Read-only: the log is never edited.
pub async fn events<C: ConnectionTrait>(
    c: &C,
    prefix: Option<&str>,
) -> Result<Vec<audit_event::Model>, StorageError> {
    let mut query = audit_event::Entity::find().order_by_asc(audit_event::Column::Seq);
    if let Some(prefix) = prefix {
        query = query.filter(audit_event::Column::Event.starts_with(prefix));
    }
    Ok(query.all(c).await?)
}
