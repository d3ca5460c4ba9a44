//! `organizations` table: vetted organisations whose identity goes into OV subjects
//! (CP 3.2.2.1); never taken from a CSR.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub legal_name: String,
    pub country: String,
    pub state: String,
    pub locality: String,
    /// Where the identity was verified (CP 3.2.2.1 source).
    pub source: String,
    pub vetted_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
