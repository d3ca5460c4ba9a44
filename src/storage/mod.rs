//! Persistence through sea-orm on SQLite (embedded default, WAL) or PostgreSQL: entities and
//! queries, no business rules. Errors leave here as `StorageError` and are never shown to
//! clients (acme::problem turns them into a bare serverInternal).
//! Owns: SQL. Must not touch: HTTP, policy decisions, state-machine rules (callers decide).

pub mod entities;
pub mod queries;

use hanko_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    TransactionTrait,
};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database setup: {0}")]
    Setup(String),
}

/// Database handle. SQLite allows one writer at a time, so writes go through a one-connection
/// pool (transactions queue in the pool instead of failing with SQLITE_BUSY), while reads use
/// their own pool and see committed data through WAL. PostgreSQL uses one pool for both.
#[derive(Clone)]
pub struct Storage {
    write: DatabaseConnection,
    read: DatabaseConnection,
    backend: DbBackend,
}

impl Storage {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Storage, StorageError> {
        if url.starts_with("sqlite:") {
            let write = Self::pool(url, 1).await?;
            // WAL: readers never block the writer (REQUIREMENTS: SQLite default, WAL).
            write
                .execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")
                .await?;
            let read = Self::pool(url, max_connections.max(2)).await?;
            Ok(Storage {
                write,
                read,
                backend: DbBackend::Sqlite,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = Self::pool(url, max_connections).await?;
            Ok(Storage {
                write: pool.clone(),
                read: pool,
                backend: DbBackend::Postgres,
            })
        } else {
            Err(StorageError::Setup(
                "storage.url must start with sqlite: or postgres:".to_string(),
            ))
        }
    }

    async fn pool(url: &str, max: u32) -> Result<DatabaseConnection, StorageError> {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .max_connections(max)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .sqlx_logging(false)
            // A SQLite connection is a file handle inside this process: no server can drop
            // it, so the liveness ping sqlx sends on every acquire is only one more hand-off
            // to the driver's worker thread (and the pool pings again on release). PostgreSQL
            // keeps the test: after a database restart it is what replaces dead connections
            // (scripts/faults.sh).
            .test_before_acquire(!url.starts_with("sqlite:"));
        Ok(Database::connect(options).await?)
    }

    /// Apply pending migrations from `migrations/`.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        Migrator::up(&self.write, None).await?;
        Ok(())
    }

    /// Start a write transaction. Every state change and its audit event commit in one
    /// (DESIGN invariant 4).
    ///
    /// On SQLite the transaction takes the database's write lock at once, as `BEGIN
    /// IMMEDIATE` would (sea-orm only issues a deferred `BEGIN`). A deferred transaction
    /// that reads first and writes later cannot be upgraded once another *process* (`hanko
    /// admin …`, the CRL publisher of a second server) has committed since its first read:
    /// SQLite answers SQLITE_BUSY at once, without waiting for the busy timeout. Taking the
    /// lock first makes such writers queue instead. The no-op DELETE takes the lock (SQLite
    /// opens a write transaction for any write statement) on the table nearly every
    /// transaction writes anyway, the audit chain's head.
    pub async fn begin(&self) -> Result<DatabaseTransaction, StorageError> {
        let txn = self.write.begin().await?;
        if self.backend == DbBackend::Sqlite {
            txn.execute_unprepared("DELETE FROM audit_head WHERE 0 = 1")
                .await?;
        }
        Ok(txn)
    }

    /// Connection for reads outside a transaction.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.read
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Cheap liveness check for /health.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.read.ping().await?;
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.write.close().await;
        let _ = self.read.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::entities::blocked_key;
    use crate::storage::queries as q;

    fn key(hash: &str) -> blocked_key::Model {
        blocked_key::Model {
            key_hash: hash.to_string(),
            spki_der: vec![1, 2, 3],
            source: "test".to_string(),
            reason: "test".to_string(),
            created_at: chrono::Utc::now(),
            revoked_through: None,
        }
    }

    /// Two processes on one SQLite file (here: two `Storage`s): a transaction that reads
    /// and then writes must not fail because the other committed in between. Without the
    /// write lock taken in `begin`, `second` commits during the pause and `first`'s write
    /// fails with SQLITE_BUSY (stale WAL snapshot); with it, `second` waits its turn.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_writers_in_two_processes_queue_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let first = Storage::connect(&url, 2).await.unwrap();
        first.migrate().await.unwrap();
        let second = Storage::connect(&url, 2).await.unwrap();

        let txn = first.begin().await.unwrap();
        assert!(q::blocked_key(&txn, "aa").await.unwrap().is_none());
        let other = tokio::spawn(async move {
            let txn = second.begin().await?;
            q::insert_blocked_key(&txn, key("bb")).await?;
            txn.commit().await.map_err(StorageError::from)
        });
        // Give the other writer time to commit if it can (without the lock it does).
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(q::insert_blocked_key(&txn, key("aa")).await.unwrap());
        txn.commit().await.unwrap();
        other.await.unwrap().unwrap();
        assert!(q::blocked_key(first.reader(), "bb")
            .await
            .unwrap()
            .is_some());
    }
}
