//! `blocked_keys` table: keys refused for any use (REQUIREMENTS §6, CP 4.9.12).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blocked_keys")]
pub struct Model {
    /// SHA-256 (hex) of the DER SubjectPublicKeyInfo.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    pub spki_der: Vec<u8>,
    /// Who blocked it: `admin`, `revocation`, ...
    pub source: String,
    pub reason: String,
    pub created_at: DateTimeUtc,
    /// When the bad-key revoker finished revoking every certificate with this key.
    pub revoked_through: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
