//! `crl_shards` table: each shard's last CRL, its monotonic number and the generation lease.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crl_shards")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i32,
    /// The number of the last signed CRL (0 before the first); only ever grows (CP 7.2.2).
    pub crl_number: i64,
    pub this_update: Option<DateTimeUtc>,
    pub next_update: Option<DateTimeUtc>,
    pub der: Option<Vec<u8>>,
    pub entries: i64,
    /// The process generating this shard now, and until when its lease holds.
    pub lease_holder: Option<String>,
    pub lease_expires: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
