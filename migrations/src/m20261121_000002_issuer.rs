//! The issuer pipeline (issue #3): blocked keys (REQUIREMENTS §6), precertificates and
//! their lint certificates (DESIGN invariant 1), versioned profiles (CP 7.1) and vetted
//! organisations for OV subjects (CP 3.2.2.1), bound to accounts.

use crate::columns::{id, text, time};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000002_issuer"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Keys reported compromised or otherwise refused; keyed by the SHA-256 (hex) of the
        // DER SubjectPublicKeyInfo, the same hash `certificates.key_hash` holds.
        m.create_table(
            Table::create()
                .table(BlockedKeys::Table)
                .col(id(BlockedKeys::KeyHash))
                .col(ColumnDef::new(BlockedKeys::SpkiDer).binary().not_null())
                .col(ColumnDef::new(BlockedKeys::Source).string().not_null())
                .col(text(BlockedKeys::Reason))
                .col(time(BlockedKeys::CreatedAt))
                .to_owned(),
        )
        .await?;
        // The lint certificate is stored before the precertificate is signed; the signed
        // precertificate is stored before it leaves the process (CT submission).
        m.create_table(
            Table::create()
                .table(Precertificates::Table)
                .col(id(Precertificates::Serial))
                .col(ColumnDef::new(Precertificates::LintDer).binary().not_null())
                .col(ColumnDef::new(Precertificates::Der).binary())
                .col(time(Precertificates::CreatedAt))
                .col(ColumnDef::new(Precertificates::SignedAt).timestamp_with_time_zone())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Profiles::Table)
                .col(id(Profiles::Name))
                .col(ColumnDef::new(Profiles::ConfigHash).string().not_null())
                .col(text(Profiles::Config))
                .col(time(Profiles::IntroducedAt))
                .col(ColumnDef::new(Profiles::RetiredAt).timestamp_with_time_zone())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(id(Organizations::Id))
                .col(text(Organizations::LegalName))
                .col(ColumnDef::new(Organizations::Country).string().not_null())
                .col(text(Organizations::State))
                .col(text(Organizations::Locality))
                .col(text(Organizations::Source))
                .col(time(Organizations::VettedAt))
                .col(time(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .add_column(ColumnDef::new(Accounts::OrganizationId).string())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Accounts::Table)
                .drop_column(Accounts::OrganizationId)
                .to_owned(),
        )
        .await?;
        for table in [
            Organizations::Table.into_iden(),
            Profiles::Table.into_iden(),
            Precertificates::Table.into_iden(),
            BlockedKeys::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum BlockedKeys {
    Table,
    KeyHash,
    SpkiDer,
    Source,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Precertificates {
    Table,
    Serial,
    LintDer,
    Der,
    CreatedAt,
    SignedAt,
}

#[derive(DeriveIden)]
enum Profiles {
    Table,
    Name,
    ConfigHash,
    Config,
    IntroducedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    LegalName,
    Country,
    State,
    Locality,
    Source,
    VettedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    OrganizationId,
}
