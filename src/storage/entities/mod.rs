//! sea-orm entities, one per table (schema in `migrations/`).
pub mod account;
pub mod audit_event;
pub mod audit_head;
pub mod authorization;
pub mod certificate;
pub mod challenge;
pub mod order;
pub mod order_authorization;
pub mod serial;
pub mod validation_attempt;
