//! Black-box test harness: starts the real `hanko` binary, a real BIND9 for dns-01 (RFC 2136
//! updates with TSIG), and runs real ACME clients against them (DESIGN.md "How we test").
//!
//! Owns: test processes, their ports and temporary directories. Must not touch: anything
//! outside 127.0.0.1, and nothing of the `hanko` crate's internals (only the binary and its
//! configuration environment).
//!
//! Every helper returns `anyhow::Result` with enough context to read a failure without
//! rerunning: server and BIND logs are attached to start-up errors and printed when a test
//! panics while they are alive.

pub mod acme_client;
pub mod bind9;
pub mod clients;
pub mod ctlog;
pub mod dns01;
pub mod faults;
pub mod fullca;
pub mod http01;
pub mod load;
pub mod mpic;
pub mod pki;
pub mod pkilint;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod revoke;
pub mod rig;
pub mod server;
pub mod softhsm;
pub mod unbound;

pub use bind9::{Bind9, TsigKey, Zone};
pub use http01::Http01Responder;
pub use pki::{openssl_verify_chain, split_pem_chain, VerifiedChain};
pub use ports::{free_tcp_port, free_tcp_udp_port};
pub use process::{require_tool, Cmd, CmdOutput};
pub use rig::{Rig, RigOptions, ZONE};
pub use server::{HankoOptions, HankoServer};
pub use softhsm::SoftHsm;
pub use unbound::{sign_zone, Corrupt, SignedZone, Unbound};

/// Contact address used by every client test; under the test zone so nothing leaves the box.
pub const CONTACT_EMAIL: &str = "ops@hanko-ci.com";

/// Install ring as the process-wide rustls provider. Feature unification across the workspace
/// can enable more than one provider in rustls, and then rustls refuses to pick one on its
/// own; clients built without an explicit provider (instant-acme's) need this.
pub fn init_crypto() {
    // An error means a provider is already installed, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Turn a harness error into a test failure with a readable message: every cause on its own
/// line (server and BIND log tails included), without the backtrace `expect` would print
/// for an `anyhow::Error`, which buries the log.
pub trait OrFail<T> {
    fn or_fail(self, what: &str) -> T;
}

impl<T> OrFail<T> for anyhow::Result<T> {
    #[track_caller]
    fn or_fail(self, what: &str) -> T {
        match self {
            Ok(value) => value,
            Err(error) => {
                let causes: Vec<String> = error.chain().map(|c| c.to_string()).collect();
                panic!("{what} failed:\n{}", causes.join("\ncaused by: "))
            }
        }
    }
}
