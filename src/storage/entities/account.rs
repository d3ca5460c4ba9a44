//! `accounts` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub key_thumbprint: String,
    pub jwk: String,
    pub contact: String,
    pub status: String,
    pub terms_version: String,
    pub terms_agreed_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// The vetted organisation this account may request OV certificates for (CP 3.2.2.1).
    pub organization_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
