//! Hanko: an ACME (RFC 8555) certificate authority. See ARCHITECTURE.md for the module map.
pub mod acme;
pub mod admin;
pub mod audit;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod core;
pub mod fuzzing;
pub mod issuance;
pub mod metrics;
pub mod policy;
pub mod ra;
pub mod revocation;
pub mod server;
pub mod storage;
pub mod validation;
