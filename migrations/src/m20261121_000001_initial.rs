//! The first schema: accounts, orders, authorizations, challenges, validation attempts,
//! serials, certificates and the hash-chained audit log.

use crate::columns::{id, text, time};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000001_initial"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(id(Accounts::Id))
                .col(
                    ColumnDef::new(Accounts::KeyThumbprint)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(text(Accounts::Jwk))
                .col(text(Accounts::Contact))
                .col(ColumnDef::new(Accounts::Status).string().not_null())
                .col(ColumnDef::new(Accounts::TermsVersion).string().not_null())
                .col(time(Accounts::TermsAgreedAt))
                .col(time(Accounts::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Orders::Table)
                .col(id(Orders::Id))
                .col(ColumnDef::new(Orders::AccountId).string().not_null())
                .col(ColumnDef::new(Orders::Status).string().not_null())
                .col(time(Orders::Expires))
                .col(text(Orders::Identifiers))
                .col(ColumnDef::new(Orders::Profile).string().not_null())
                .col(ColumnDef::new(Orders::Error).text())
                .col(ColumnDef::new(Orders::CertificateSerial).string())
                .col(time(Orders::CreatedAt))
                .col(time(Orders::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("orders_account")
                .table(Orders::Table)
                .col(Orders::AccountId)
                .col(Orders::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Authorizations::Table)
                .col(id(Authorizations::Id))
                .col(
                    ColumnDef::new(Authorizations::AccountId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Authorizations::Identifier)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(Authorizations::Status).string().not_null())
                .col(time(Authorizations::Expires))
                .col(time(Authorizations::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("authz_account_identifier")
                .table(Authorizations::Table)
                .col(Authorizations::AccountId)
                .col(Authorizations::Identifier)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OrderAuthorizations::Table)
                .col(
                    ColumnDef::new(OrderAuthorizations::OrderId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OrderAuthorizations::AuthzId)
                        .string()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(OrderAuthorizations::OrderId)
                        .col(OrderAuthorizations::AuthzId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("order_authz_by_authz")
                .table(OrderAuthorizations::Table)
                .col(OrderAuthorizations::AuthzId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Challenges::Table)
                .col(id(Challenges::Id))
                .col(ColumnDef::new(Challenges::AuthzId).string().not_null())
                .col(ColumnDef::new(Challenges::Kind).string().not_null())
                .col(ColumnDef::new(Challenges::Status).string().not_null())
                .col(ColumnDef::new(Challenges::Token).string().not_null())
                .col(ColumnDef::new(Challenges::Validated).timestamp_with_time_zone())
                .col(ColumnDef::new(Challenges::Error).text())
                .col(time(Challenges::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("challenges_authz")
                .table(Challenges::Table)
                .col(Challenges::AuthzId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ValidationAttempts::Table)
                .col(
                    ColumnDef::new(ValidationAttempts::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ValidationAttempts::ChallengeId)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ValidationAttempts::Perspective)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ValidationAttempts::Result)
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(ValidationAttempts::Error).text())
                .col(text(ValidationAttempts::Evidence))
                .col(time(ValidationAttempts::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Serials::Table)
                .col(id(Serials::Serial))
                .col(ColumnDef::new(Serials::AccountId).string().not_null())
                .col(ColumnDef::new(Serials::OrderId).string().not_null())
                .col(ColumnDef::new(Serials::Status).string().not_null())
                .col(time(Serials::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Certificates::Table)
                .col(id(Certificates::Serial))
                .col(ColumnDef::new(Certificates::AccountId).string().not_null())
                .col(ColumnDef::new(Certificates::OrderId).string().not_null())
                .col(ColumnDef::new(Certificates::Der).binary().not_null())
                .col(text(Certificates::ChainPem))
                .col(ColumnDef::new(Certificates::KeyHash).string().not_null())
                .col(text(Certificates::Names))
                .col(time(Certificates::NotBefore))
                .col(time(Certificates::NotAfter))
                .col(time(Certificates::IssuedAt))
                .col(ColumnDef::new(Certificates::RevokedAt).timestamp_with_time_zone())
                .col(ColumnDef::new(Certificates::RevocationReason).small_integer())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("certificates_key_hash")
                .table(Certificates::Table)
                .col(Certificates::KeyHash)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(
                    ColumnDef::new(AuditEvents::Seq)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(time(AuditEvents::At))
                .col(ColumnDef::new(AuditEvents::Actor).string().not_null())
                .col(ColumnDef::new(AuditEvents::Event).string().not_null())
                .col(text(AuditEvents::Details))
                .col(ColumnDef::new(AuditEvents::PrevHash).string().not_null())
                .col(ColumnDef::new(AuditEvents::Hash).string().not_null())
                .to_owned(),
        )
        .await?;
        // One row holding the chain head. Appenders lock it (SELECT … FOR UPDATE on
        // PostgreSQL; SQLite has a single writer) so concurrent transactions cannot fork the
        // chain.
        m.create_table(
            Table::create()
                .table(AuditHead::Table)
                .col(
                    ColumnDef::new(AuditHead::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(AuditHead::Seq).big_integer().not_null())
                .col(ColumnDef::new(AuditHead::Hash).string().not_null())
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(AuditHead::Table)
                .columns([AuditHead::Id, AuditHead::Seq, AuditHead::Hash])
                .values_panic([1.into(), 0i64.into(), GENESIS.into()])
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditHead::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            Certificates::Table.into_iden(),
            Serials::Table.into_iden(),
            ValidationAttempts::Table.into_iden(),
            Challenges::Table.into_iden(),
            OrderAuthorizations::Table.into_iden(),
            Authorizations::Table.into_iden(),
            Orders::Table.into_iden(),
            Accounts::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Hash that precedes the first audit event: 64 hex zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    KeyThumbprint,
    Jwk,
    Contact,
    Status,
    TermsVersion,
    TermsAgreedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    AccountId,
    Status,
    Expires,
    Identifiers,
    Profile,
    Error,
    CertificateSerial,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Authorizations {
    Table,
    Id,
    AccountId,
    Identifier,
    Status,
    Expires,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderAuthorizations {
    Table,
    OrderId,
    AuthzId,
}

#[derive(DeriveIden)]
enum Challenges {
    Table,
    Id,
    AuthzId,
    Kind,
    Status,
    Token,
    Validated,
    Error,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ValidationAttempts {
    Table,
    Id,
    ChallengeId,
    Perspective,
    Result,
    Error,
    Evidence,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Serials {
    Table,
    Serial,
    AccountId,
    OrderId,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Certificates {
    Table,
    Serial,
    AccountId,
    OrderId,
    Der,
    ChainPem,
    KeyHash,
    Names,
    NotBefore,
    NotAfter,
    IssuedAt,
    RevokedAt,
    RevocationReason,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Seq,
    At,
    Actor,
    Event,
    Details,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Seq,
    Hash,
}
