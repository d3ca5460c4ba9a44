//! The ACME front end (RFC 8555): axum routes, JWS verification, nonces, the directory,
//! and `problem.rs`, the one place that turns errors into problem documents.
//! Owns: HTTP. Must not touch: storage directly (goes through `ra`).

pub mod jws;
