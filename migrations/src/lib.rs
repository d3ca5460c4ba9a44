//! Schema migrations for Hanko, one file per change (sea-orm-migration). Run on every start
//! by `hanko serve` and by `hanko migrate`.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261121_000001_initial;
mod m20261121_000002_issuer;
mod m20261121_000003_revocation;
mod m20261121_000005_ocsp;
mod m20261208_000006_caa_checked;

/// Hash that precedes the first audit event.
pub use m20261121_000001_initial::GENESIS;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_initial::Migration),
            Box::new(m20261121_000002_issuer::Migration),
            Box::new(m20261121_000003_revocation::Migration),
            Box::new(m20261121_000005_ocsp::Migration),
            Box::new(m20261208_000006_caa_checked::Migration),
        ]
    }
}
