//! `hanko admin …`: operator actions on the CA's data, for the person on call at 3 a.m.
//! Each change is written to the audit log with the operator's name. Owns: argument shapes
//! and output of these commands. Must not touch: workflow rules (delegates to `ra`).

use crate::audit::Actor;
use crate::config::Config;
use crate::core::{Clock, SystemClock};
use crate::ra::organizations::{self, NewOrganization};
use crate::storage::queries as q;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::json;
use std::path::{Path, PathBuf};

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
        command: OrgCommand,
    },
    /// CRL shards (CP 4.9.7): regenerate now.
    Crl {
        #[command(subcommand)]
        command: CrlCommand,
    },
    /// Show what the CA knows about a serial number (hex): its state, order, whether a
    /// precertificate and a certificate exist. JSON on stdout.
    Serial { serial: String },
    /// OCSP responses (CP 4.9.10): `refresh [--all]`.
    Ocsp {
        #[command(subcommand)]
        command: crate::revocation::ocsp::admin::OcspCommand,
    },
}

#[derive(Subcommand)]
pub enum CrlCommand {
    /// Sign the shards again now, under the same leases and numbering as `hanko serve`
    /// (safe while servers run on the same database).
    Regenerate {
        /// Only this shard; every shard (0..crl.shards and any published before) if omitted.
        #[arg(long)]
        shard: Option<u32>,
        #[arg(long, default_value = "cli")]
        operator: String,
    },
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Record a vetted organisation; prints its id.
    Create {
        #[arg(long)]
        legal_name: String,
        /// ISO 3166-1 alpha-2, e.g. JP.
        #[arg(long)]
        country: String,
        #[arg(long)]
        state: String,
        #[arg(long)]
        locality: String,
        /// Where the identity was verified (CP 3.2.2.1), e.g. a registry and its record id.
        #[arg(long)]
        source: String,
        /// When the vetting was completed (RFC 3339); now when omitted.
        #[arg(long)]
        vetted_at: Option<String>,
        #[arg(long, default_value = "cli")]
        operator: String,
    },
    /// Let an ACME account (its id, the last segment of its URL) order OV certificates for
    /// the organisation.
    Bind {
        // Ids are base64url (core::random_id), so one in 32 starts with '-': without
        // allow_hyphen_values clap would read `--account -Lx…` as an unknown flag.
        #[arg(long, allow_hyphen_values = true)]
        account: String,
        #[arg(long, allow_hyphen_values = true)]
        org: String,
        #[arg(long, default_value = "cli")]
        operator: String,
    },
}

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::BlockKey {
            file,
            reason,
            operator,
        } => block_key(config, &file, &reason, &operator).await,
        AdminCommand::Revoke {
            serial,
            cert,
            reason,
            at,
            operator,
        } => {
            revoke(
                config,
                serial,
                cert.as_deref(),
                &reason,
                at.as_deref(),
                operator,
            )
            .await
        }
        AdminCommand::Org { command } => org(config, command).await,
        AdminCommand::Serial { serial } => show_serial(config, &serial).await,
        AdminCommand::Crl {
            command: CrlCommand::Regenerate { shard, operator },
        } => crate::revocation::crl::admin::regenerate(config, shard, &operator).await,
        AdminCommand::Ocsp { command } => {
            crate::revocation::ocsp::admin::run(config, command).await
        }
    }
}

/// `admin block-key`: the file is read before the database is opened, so a bad file
/// changes nothing.
async fn block_key(
    config: &Config,
    file: &Path,
    reason: &str,
    operator: &str,
) -> anyhow::Result<()> {
    let pem = std::fs::read(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    let spki = crate::issuance::keyfile::public_key_from_pem(&pem)
        .map_err(|e| InputError(format!("{}: {e}", file.display())))?;
    let storage = crate::cli::open(config).await?;
    let actor = Actor::Operator(operator.to_string());
    let now = SystemClock.now();
    let result = crate::ra::keys::block_key(&storage, now, &spki, "admin", reason, &actor).await;
    storage.close().await;
    let hash = crate::ra::keys::key_hash(&spki);
    if result? {
        println!("key sha256 {hash}: blocked");
    } else {
        println!("key sha256 {hash}: already blocked");
    }
    Ok(())
}

/// `admin revoke`: the input is checked before the database is opened; refusals of the
/// revocation rules are the operator's input errors (exit 2).
async fn revoke(
    config: &Config,
    serial: Option<String>,
    cert: Option<&Path>,
    reason: &str,
    at: Option<&str>,
    operator: String,
) -> anyhow::Result<()> {
    use crate::ra::revoke_admin::{admin_revoke, parse_admin_reason, summary, AdminRevoke};
    let reason = parse_admin_reason(reason).map_err(|e| InputError(format!("--reason: {e}")))?;
    let at = match at {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| InputError(format!("--at {t:?}: {e}")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let certificate_der = match cert {
        Some(path) => Some(read_certificate(path)?),
        None => None,
    };
    let storage = crate::cli::open(config).await?;
    let now = SystemClock.now();
    let request = AdminRevoke {
        serial,
        certificate_der,
        reason,
        at,
        operator,
    };
    let result = admin_revoke(&storage, now, request).await;
    storage.close().await;
    match result {
        Ok(written) => println!("{}", summary(&written, now)),
        Err(
            crate::ra::RaError::Malformed(why)
            | crate::ra::RaError::NotFound(why)
            | crate::ra::RaError::AlreadyRevoked(why),
        ) => return Err(InputError(why).into()),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The DER of the (first) certificate in a PEM file.
fn read_certificate(path: &Path) -> Result<Vec<u8>, InputError> {
    let pem = std::fs::read(path)
        .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?;
    x509_parser::pem::Pem::iter_from_buffer(&pem)
        .filter_map(Result::ok)
        .find(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
        .ok_or_else(|| InputError(format!("{}: no CERTIFICATE in the file", path.display())))
}

async fn org(config: &Config, command: OrgCommand) -> anyhow::Result<()> {
    let now = SystemClock.now();
    match command {
        OrgCommand::Create {
            legal_name,
            country,
            state,
            locality,
            source,
            vetted_at,
            operator,
        } => {
            let vetted_at = match vetted_at {
                Some(t) => DateTime::parse_from_rfc3339(&t)
                    .map_err(|e| InputError(format!("--vetted-at {t:?}: {e}")))?
                    .with_timezone(&Utc),
                None => now,
            };
            let org = NewOrganization {
                legal_name,
                country,
                state,
                locality,
                source,
                vetted_at,
            };
            let storage = crate::cli::open(config).await?;
            let actor = Actor::Operator(operator);
            let result = organizations::create_organization(&storage, &actor, org, now).await;
            storage.close().await;
            match result {
                Ok(id) => println!("{id}"),
                Err(crate::ra::RaError::Malformed(why)) => return Err(InputError(why).into()),
                Err(e) => return Err(e.into()),
            }
        }
        OrgCommand::Bind {
            account,
            org,
            operator,
        } => {
            let storage = crate::cli::open(config).await?;
            let actor = Actor::Operator(operator);
            let result = organizations::bind_account(&storage, &actor, &account, &org, now).await;
            storage.close().await;
            match result {
                Ok(()) => println!("account {account} bound to organisation {org}"),
                Err(crate::ra::RaError::NotFound(why)) => return Err(InputError(why).into()),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// What an operator needs to answer "what happened to this serial?" (and what the crash
/// tests check): the serial's state, its precertificate and certificate, by SHA-256.
async fn show_serial(config: &Config, serial: &str) -> anyhow::Result<()> {
    let serial = serial.to_ascii_lowercase();
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InputError(format!("{serial:?} is not a hex serial number")).into());
    }
    let storage = crate::cli::open(config).await?;
    let c = storage.reader();
    let record = q::serial(c, &serial).await?;
    let precert = q::precertificate(c, &serial).await?;
    let cert = q::certificate(c, &serial).await?;
    let revoked = q::revoked_certificate(c, &serial).await?;
    let notices = q::revocation_notices_for_serial(c, &serial).await?;
    storage.close().await;
    let Some(record) = record else {
        return Err(InputError(format!("serial {serial} is unknown to this CA")).into());
    };
    let sha = |der: &[u8]| {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(der))
    };
    let out = json!({
        "serial": record.serial,
        "status": record.status,
        "order": record.order_id,
        "account": record.account_id,
        "reserved_at": record.created_at,
        "lint_certificate_sha256": precert.as_ref().map(|p| sha(&p.lint_der)),
        "precertificate_sha256": precert.as_ref().and_then(|p| p.der.as_deref().map(sha)),
        "certificate_sha256": cert.as_ref().map(|c| sha(&c.der)),
        "revoked_at": cert.as_ref().and_then(|c| c.revoked_at),
        "revocation": revoked.map(|r| json!({"revoked_at": r.revoked_at, "reason": r.reason,
            "source": r.source, "recorded_at": r.recorded_at, "crl_shard": r.crl_shard})),
        "revocation_notices": notices.iter().map(|n| json!({"account": n.account_id,
            "reason": n.reason, "created_at": n.created_at})).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
