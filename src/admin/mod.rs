//! `hanko admin …`: operator actions on the CA's data, for the person on call at 3 a.m.
//! Each change is written to the audit log with the operator's name. One file per area:
//! `keys` (block-key), `orgs`, `revoke`, `serial`, `crl`, `ocsp`, and `ceremony` (the
//! arguments of `hanko ceremony`; the ceremony itself is `issuance::ceremony`).
//! Owns: argument shapes and output of these commands. Must not touch: workflow rules
//! (delegates to `ra`, `revocation`, `issuance`; they never call back into `admin`).

pub mod ceremony;
pub mod crl;
mod keys;
pub mod ocsp;
pub mod orgs;
mod revoke;
mod serial;

use crate::config::Config;
use clap::Subcommand;
use std::path::PathBuf;

/// The operator's input is unusable (a file without a key, a bad date, …): exit code 2, as
/// for a bad configuration, so scripts can tell it from a failure of the CA itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Block a key reported compromised (CP 4.9.12): afterwards it is refused as an account
    /// key and in CSRs. Idempotent.
    BlockKey {
        /// PEM file holding the key: a public key, a private key (the public key is derived),
        /// a certificate or a certificate request. Nothing in it is verified.
        #[arg(long)]
        file: PathBuf,
        /// Why the key is blocked; kept with the entry and in the audit event.
        #[arg(long, default_value = "reported compromised")]
        reason: String,
        /// Who is acting, for the audit log (`operator:<name>`).
        #[arg(long, default_value = "cli")]
        operator: String,
    },
    /// Revoke a certificate (CP 4.9.1, 4.9.5, 7.2.2), or upgrade an earlier revocation to
    /// keyCompromise with a backdated date. keyCompromise also blocks the key, and the
    /// running server then revokes every other certificate with it (CP 4.9.12).
    Revoke {
        /// Serial number (hex); may be omitted when --cert is given.
        serial: Option<String>,
        /// PEM file of the certificate (checked against the issued one).
        #[arg(long)]
        cert: Option<PathBuf>,
        /// unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation
        /// or privilegeWithdrawn (never certificateHold).
        #[arg(long)]
        reason: String,
        /// Revocation date (RFC 3339): a future date revokes on that date (CP 4.9.5); an
        /// earlier date only for keyCompromise, the date of compromise (CP 7.2.2).
        #[arg(long)]
        at: Option<String>,
        #[arg(long, default_value = "cli")]
        operator: String,
    },
    /// Vetted organisations for OV certificates (CP 3.2.2.1).
    Org {
        #[command(subcommand)]
        command: orgs::OrgCommand,
    },
    /// CRL shards (CP 4.9.7): regenerate now.
    Crl {
        #[command(subcommand)]
        command: crl::CrlCommand,
    },
    /// Show what the CA knows about a serial number (hex): its state, order, whether a
    /// precertificate and a certificate exist. JSON on stdout.
    Serial { serial: String },
    /// OCSP responses (CP 4.9.10): `refresh [--all]`.
    Ocsp {
        #[command(subcommand)]
        command: ocsp::OcspCommand,
    },
}

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::BlockKey {
            file,
            reason,
            operator,
        } => keys::block_key(config, &file, &reason, &operator).await,
        AdminCommand::Revoke {
            serial,
            cert,
            reason,
            at,
            operator,
        } => {
            revoke::revoke(
                config,
                serial,
                cert.as_deref(),
                &reason,
                at.as_deref(),
                operator,
            )
            .await
        }
        AdminCommand::Org { command } => orgs::run(config, command).await,
        AdminCommand::Serial { serial } => serial::show(config, &serial).await,
        AdminCommand::Crl {
            command: crl::CrlCommand::Regenerate { shard, operator },
        } => crl::regenerate(config, shard, &operator).await,
        AdminCommand::Ocsp { command } => ocsp::run(config, command).await,
    }
}
