//! Column shapes every migration uses, so each table states only what is its own.

use sea_orm_migration::prelude::*;

/// A string primary key.
pub fn id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .string()
        .not_null()
        .primary_key()
        .take()
}

/// Required text.
pub fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().take()
}

/// A required timestamp with time zone.
pub fn time(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}
