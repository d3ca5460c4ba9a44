//! sea-orm entities, one per table (schema in `migrations/`).
pub mod account;
pub mod audit_event;
pub mod audit_head;
pub mod authorization;
pub mod blocked_key;
pub mod certificate;
pub mod challenge;
pub mod order;
pub mod order_authorization;
pub mod organization;
pub mod precertificate;
pub mod profile;
pub mod serial;
pub mod validation_attempt;
