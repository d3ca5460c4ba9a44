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
            .sqlx_logging(false);
        Ok(Database::connect(options).await?)
    }

    /// Apply pending migrations from `migrations/`.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        Migrator::up(&self.write, None).await?;
        Ok(())
    }

    /// Start a write transaction. Every state change and its audit event commit in one
    /// (DESIGN invariant 4).
    pub async fn begin(&self) -> Result<DatabaseTransaction, StorageError> {
        Ok(self.write.begin().await?)
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
