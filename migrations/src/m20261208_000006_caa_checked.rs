//! CAA (issue #12): when CAA was last checked for an authorization, so finalize can re-check
//! any name whose check is older than the BR's limit (BR 3.2.2.8: issue within
//! max(TTL, 8 h) of the check). Null: never checked (authorizations validated before CAA was
//! evaluated), which finalize treats as too old.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Authorizations {
    Table,
    CaaCheckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Authorizations::Table)
                .add_column(
                    ColumnDef::new(Authorizations::CaaCheckedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Authorizations::Table)
                .drop_column(Authorizations::CaaCheckedAt)
                .to_owned(),
        )
        .await
    }
}
