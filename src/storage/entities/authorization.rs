//! `authorizations` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub identifier: String,
    pub status: String,
    pub expires: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// When CAA last permitted issuance for this name (BR 3.2.2.8); `None`: never.
    pub caa_checked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
