//! `ocsp_responses` table: the pre-signed response per serial (CP 4.9.10, RFC 5019).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocsp_responses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub serial: String,
    /// The DER OCSPResponse, served as is.
    pub der: Vec<u8>,
    /// `good` or `revoked`.
    pub cert_status: String,
    pub this_update: DateTimeUtc,
    pub next_update: DateTimeUtc,
    pub produced_at: DateTimeUtc,
    /// `issuer` or the `ocsp_responders.id` that signed it.
    pub responder_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
