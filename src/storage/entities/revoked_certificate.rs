//! `revoked_certificates` table: what CRL shards and OCSP responses say (CP 7.2, 4.10.1).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub serial: String,
    pub issuer_id: String,
    pub crl_shard: i32,
    /// The revocationDate: may lie in the future (revoked on that date, CP 4.9.5) or in the
    /// past (a reason upgraded to keyCompromise with a backdated date, CP 7.2.2).
    pub revoked_at: DateTimeUtc,
    /// RFC 5280 CRLReason code; NULL is unspecified (no reasonCode entry extension).
    pub reason: Option<i16>,
    /// The certificate's notAfter: the entry stays on its CRL until then (CP 4.10.1).
    pub not_after: DateTimeUtc,
    /// When this row was last written: CRLs and OCSP generated before it are stale.
    pub recorded_at: DateTimeUtc,
    /// `subscriber`, `authorized_account`, `certificate_key`, `admin`, `bad_key_revoker`.
    pub source: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
