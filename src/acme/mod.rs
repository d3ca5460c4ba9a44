//! The ACME front end (RFC 8555): axum routes, JWS verification, nonces, the directory,
//! and `problem.rs`, the one place that turns errors into problem documents.
//! Owns: HTTP. Must not touch: storage directly (goes through `ra`).

pub mod auth;
mod handlers;
pub mod jws;
pub mod nonce;
pub mod problem;
pub mod render;
pub mod routes;

pub use routes::{router, AppState};
