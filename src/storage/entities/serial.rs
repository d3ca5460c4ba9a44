//! `serials` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "serials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub serial: String,
    pub account_id: String,
    pub order_id: String,
    pub status: String,
    pub created_at: DateTimeUtc,
    /// The CRL shard named in the certificate's CRLDP (CP 4.9.7); NULL (issued before
    /// sharding) reads as shard 0.
    pub crl_shard: Option<i32>,
    /// `issuance::issuer_id` of the issuing CA; NULL reads as the current issuer.
    pub issuer_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
