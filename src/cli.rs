//! The command line: `hanko serve`, `perspective`, `check-config`, `migrate`, `audit verify`,
//! `admin …`, `ceremony root|intermediate|ocsp-responder`.
//! The top of the entry layer: it dispatches to the roles in `bootstrap` (`serve`) and to the
//! operator commands in `admin` (ceremonies included).
//! Owns: argument parsing, logging setup, exit codes. Must not touch: behaviour (delegates).

use crate::config::{Config, LogFormat};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hanko",
    version,
    about = "Hanko: an ACME (RFC 8555) certificate authority"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve ACME (all roles). Without --config, embedded defaults apply.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Serve as a remote validation perspective (BR 3.2.2.9) for a primary, over mutual TLS.
    Perspective {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration file (and HANKO_* overrides) without starting anything.
    CheckConfig { file: PathBuf },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Operator actions on the CA's data; each one is written to the audit log.
    Admin {
        /// Configuration file (the server's); without it, defaults and HANKO_* variables.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::admin::AdminCommand,
    },
    /// Key and certificate ceremonies on the HSM (CP 4.3.1.1).
    Ceremony {
        #[command(subcommand)]
        command: Box<crate::admin::ceremony::CeremonyCommand>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the audit hash chain end to end.
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print audit events as JSON lines, oldest first (for the Log Examiner, CPS 5.4).
    List {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only events whose name starts with this, e.g. `profile.` or `ceremony.`.
        #[arg(long)]
        event: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = match &cli.command {
        Command::Serve { config }
        | Command::Migrate { config }
        | Command::Perspective { config } => config.clone(),
        Command::Audit {
            command: AuditCommand::Verify { config } | AuditCommand::List { config, .. },
        } => config.clone(),
        Command::CheckConfig { file } => Some(file.clone()),
        Command::Admin { config, .. } => config.clone(),
        Command::Ceremony { command } => command.config().cloned(),
    };
    let config = match Config::load(config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hanko: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::CheckConfig { file } = &cli.command {
        // The configuration-only gates `serve` applies first (DNSSEC, remote perspectives).
        use crate::core::Clock;
        let now = crate::core::SystemClock.now();
        if let Err(e) = crate::validation::check_publicly_trusted(&config, now) {
            eprintln!("hanko: {}: {e}", file.display());
            return ExitCode::from(2);
        }
        println!("{}: configuration is valid", file.display());
        return ExitCode::SUCCESS;
    }
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hanko: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { .. } => crate::bootstrap::serve::serve(config).await,
            Command::Perspective { .. } => crate::bootstrap::perspective::run(config).await,
            Command::Migrate { .. } => migrate(&config).await,
            Command::Audit {
                command: AuditCommand::Verify { .. },
            } => verify_audit(&config).await,
            Command::Audit {
                command: AuditCommand::List { event, .. },
            } => list_audit(&config, event.as_deref()).await,
            Command::CheckConfig { .. } => Ok(()),
            Command::Admin { command, .. } => crate::admin::run(&config, command).await,
            Command::Ceremony { command } => crate::admin::ceremony::run(config, *command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<crate::admin::InputError>().is_some() => {
            eprintln!("hanko: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fatal");
            eprintln!("hanko: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HANKO_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    crate::bootstrap::open(config).await?.close().await;
    println!("migrations applied");
    Ok(())
}

async fn list_audit(config: &Config, prefix: Option<&str>) -> anyhow::Result<()> {
    let storage = crate::bootstrap::open(config).await?;
    let events = crate::audit::events(storage.reader(), prefix).await;
    storage.close().await;
    for e in events? {
        let details: serde_json::Value =
            serde_json::from_str(&e.details).unwrap_or(serde_json::Value::String(e.details));
        let line = serde_json::json!({"seq": e.seq, "at": e.at, "actor": e.actor,
                                      "event": e.event, "details": details});
        println!("{line}");
    }
    Ok(())
}

async fn verify_audit(config: &Config) -> anyhow::Result<()> {
    let storage = crate::bootstrap::open(config).await?;
    let result = crate::audit::verify_chain(storage.reader()).await?;
    storage.close().await;
    match result {
        Ok(n) => {
            println!("audit chain intact: {n} events");
            Ok(())
        }
        Err(e) => anyhow::bail!("audit chain BROKEN: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Account and organisation ids are base64url and may start with '-' (this broke a CI
    /// run when an account id happened to be "-L…").
    #[test]
    fn org_bind_takes_ids_that_start_with_a_hyphen() {
        let cli = Cli::try_parse_from([
            "hanko",
            "admin",
            "org",
            "bind",
            "--account",
            "-Lq3x",
            "--org",
            "-9_a",
        ])
        .expect("parses");
        match cli.command {
            Command::Admin {
                command:
                    crate::admin::AdminCommand::Org {
                        command: crate::admin::orgs::OrgCommand::Bind { account, org, .. },
                    },
                ..
            } => {
                assert_eq!(account, "-Lq3x");
                assert_eq!(org, "-9_a");
            }
            _ => panic!("not org bind"),
        }
    }
}
