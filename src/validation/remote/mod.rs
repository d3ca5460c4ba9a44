//! Remote perspectives (BR 3.2.2.9): the primary asks each one over HTTPS with mutual TLS
//! (both sides present a certificate from a configured CA) to run the same check from its
//! own network, with its own resolver and no cache shared with any other perspective.
//!
//! Files: `protocol.rs` (the JSON both sides speak), `credentials.rs` (PEM loading, expiry
//! checks, the rustls client and server configurations), `client.rs` (`RemotePerspective`,
//! a `Perspective` over reqwest), `server.rs` (the axum router of `hanko perspective`).

mod client;
mod credentials;
mod protocol;
mod server;

pub use client::RemotePerspective;
pub use credentials::{client_tls, server_tls};
pub use protocol::{WireRequest, WireResponse, WireResult};
pub use server::router;

/// Path of the validation endpoint on a perspective.
pub const VALIDATE_PATH: &str = "/v1/validate";
/// Largest request or answer body either side reads, in bytes (evidence is a few KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[cfg(test)]
mod tests;
