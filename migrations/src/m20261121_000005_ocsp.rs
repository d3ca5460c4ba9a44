//! OCSP (issue #4): an index on `ocsp_responses.produced_at`, so each responder process
//! can find the responses re-signed since it last looked (by itself or by another process)
//! and drop them from its in-memory cache, without scanning the table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OcspResponses {
    Table,
    ProducedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ocsp_responses_produced_at")
                .table(OcspResponses::Table)
                .col(OcspResponses::ProducedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ocsp_responses_produced_at")
                .table(OcspResponses::Table)
                .to_owned(),
        )
        .await
    }
}
