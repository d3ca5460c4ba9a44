//! `ocsp_responders` table: delegated OCSP responder certificates (CP Table 7.1-2), rotated
//! before their 125-day limit.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocsp_responders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub issuer_id: String,
    pub certificate_der: Vec<u8>,
    /// Where the responder's private key is: `pkcs11:<label>` on the `[hsm]` token, or
    /// `file:<path>` for the development hierarchy's software key.
    pub key_ref: String,
    pub not_before: DateTimeUtc,
    pub not_after: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
