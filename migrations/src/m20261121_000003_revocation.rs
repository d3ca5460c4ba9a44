//! Revocation and status (issue #4): each serial's CRL shard and issuer (CP 4.9.7: the
//! certificate's CRLDP names its shard, and only that shard lists it), revocation records
//! that the CRL shards are generated from (CP 7.2), CRL shard state with its monotonic CRL
//! number and a lease so several processes never sign the same number twice, pre-signed OCSP
//! responses (CP 4.9.10, RFC 5019), delegated OCSP responder certificates, subscriber
//! notices owed after key compromise (CP 4.9.12), and the bad-key revoker's progress.

use crate::columns::{id, text, time};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000003_revocation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Certificates issued before sharding named `0.crl`: a NULL shard reads as 0, and a
        // NULL issuer as the CA's current issuer.
        for column in [
            ColumnDef::new(Serials::CrlShard).integer().take(),
            ColumnDef::new(Serials::IssuerId).string().take(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Serials::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        // One row per revoked certificate: the CRL generator streams a shard's rows, so it
        // never reads the certificates table (CP 4.10.1: kept until the certificate expires).
        m.create_table(
            Table::create()
                .table(RevokedCertificates::Table)
                .col(id(RevokedCertificates::Serial))
                .col(
                    ColumnDef::new(RevokedCertificates::IssuerId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RevokedCertificates::CrlShard)
                        .integer()
                        .not_null(),
                )
                .col(time(RevokedCertificates::RevokedAt))
                .col(ColumnDef::new(RevokedCertificates::Reason).small_integer())
                .col(time(RevokedCertificates::NotAfter))
                .col(time(RevokedCertificates::RecordedAt))
                .col(
                    ColumnDef::new(RevokedCertificates::Source)
                        .string()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("revoked_certificates_shard")
                .table(RevokedCertificates::Table)
                .col(RevokedCertificates::IssuerId)
                .col(RevokedCertificates::CrlShard)
                .col(RevokedCertificates::Serial)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("revoked_certificates_recorded")
                .table(RevokedCertificates::Table)
                .col(RevokedCertificates::RecordedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CrlShards::Table)
                .col(
                    ColumnDef::new(CrlShards::IssuerId)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(CrlShards::Shard).integer().not_null())
                .col(
                    ColumnDef::new(CrlShards::CrlNumber)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(CrlShards::ThisUpdate).timestamp_with_time_zone())
                .col(ColumnDef::new(CrlShards::NextUpdate).timestamp_with_time_zone())
                .col(ColumnDef::new(CrlShards::Der).binary())
                .col(ColumnDef::new(CrlShards::Entries).big_integer().not_null())
                .col(ColumnDef::new(CrlShards::LeaseHolder).string())
                .col(ColumnDef::new(CrlShards::LeaseExpires).timestamp_with_time_zone())
                .col(time(CrlShards::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(CrlShards::IssuerId)
                        .col(CrlShards::Shard),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OcspResponses::Table)
                .col(id(OcspResponses::Serial))
                .col(ColumnDef::new(OcspResponses::Der).binary().not_null())
                .col(
                    ColumnDef::new(OcspResponses::CertStatus)
                        .string()
                        .not_null(),
                )
                .col(time(OcspResponses::ThisUpdate))
                .col(time(OcspResponses::NextUpdate))
                .col(time(OcspResponses::ProducedAt))
                .col(
                    ColumnDef::new(OcspResponses::ResponderId)
                        .string()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ocsp_responses_next_update")
                .table(OcspResponses::Table)
                .col(OcspResponses::NextUpdate)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OcspResponders::Table)
                .col(id(OcspResponders::Id))
                .col(
                    ColumnDef::new(OcspResponders::IssuerId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OcspResponders::CertificateDer)
                        .binary()
                        .not_null(),
                )
                .col(text(OcspResponders::KeyRef))
                .col(time(OcspResponders::NotBefore))
                .col(time(OcspResponders::NotAfter))
                .col(time(OcspResponders::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RevocationNotices::Table)
                .col(id(RevocationNotices::Id))
                .col(
                    ColumnDef::new(RevocationNotices::Serial)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RevocationNotices::AccountId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RevocationNotices::Reason)
                        .small_integer()
                        .not_null(),
                )
                .col(time(RevocationNotices::CreatedAt))
                .col(ColumnDef::new(RevocationNotices::SentAt).timestamp_with_time_zone())
                .to_owned(),
        )
        .await?;
        // Set when the bad-key revoker has revoked every certificate with the key.
        m.alter_table(
            Table::alter()
                .table(BlockedKeys::Table)
                .add_column(ColumnDef::new(BlockedKeys::RevokedThrough).timestamp_with_time_zone())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(BlockedKeys::Table)
                .drop_column(BlockedKeys::RevokedThrough)
                .to_owned(),
        )
        .await?;
        for table in [
            RevocationNotices::Table.into_iden(),
            OcspResponders::Table.into_iden(),
            OcspResponses::Table.into_iden(),
            CrlShards::Table.into_iden(),
            RevokedCertificates::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [Serials::CrlShard, Serials::IssuerId] {
            m.alter_table(
                Table::alter()
                    .table(Serials::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Serials {
    Table,
    CrlShard,
    IssuerId,
}

#[derive(DeriveIden)]
enum RevokedCertificates {
    Table,
    Serial,
    IssuerId,
    CrlShard,
    RevokedAt,
    Reason,
    NotAfter,
    RecordedAt,
    Source,
}

#[derive(DeriveIden)]
enum CrlShards {
    Table,
    IssuerId,
    Shard,
    CrlNumber,
    ThisUpdate,
    NextUpdate,
    Der,
    Entries,
    LeaseHolder,
    LeaseExpires,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OcspResponses {
    Table,
    Serial,
    Der,
    CertStatus,
    ThisUpdate,
    NextUpdate,
    ProducedAt,
    ResponderId,
}

#[derive(DeriveIden)]
enum OcspResponders {
    Table,
    Id,
    IssuerId,
    CertificateDer,
    KeyRef,
    NotBefore,
    NotAfter,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RevocationNotices {
    Table,
    Id,
    Serial,
    AccountId,
    Reason,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum BlockedKeys {
    Table,
    RevokedThrough,
}
