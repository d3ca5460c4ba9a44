//! `hanko admin org create | bind`: vetted organisations for OV certificates (CP 3.2.2.1).

use super::InputError;
use crate::audit::Actor;
use crate::config::Config;
use crate::core::{Clock, SystemClock};
use crate::ra::organizations::{self, NewOrganization};
use chrono::{DateTime, Utc};
use clap::Subcommand;

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

pub(super) async fn run(config: &Config, command: OrgCommand) -> anyhow::Result<()> {
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
            let storage = crate::bootstrap::open(config).await?;
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
            let storage = crate::bootstrap::open(config).await?;
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
