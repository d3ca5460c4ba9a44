//! `hanko ceremony root | intermediate | ocsp-responder`: the command's arguments (CP 4.3.1.1).
//! The ceremony itself (plan, confirmation, HSM signing, audit) is `issuance::ceremony`; this
//! file only turns the command line into its `CeremonyCommand`.

use crate::config::Config;
use crate::issuance::ceremony as plan;
use crate::issuance::signer::pkcs11::KeySpec;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum CeremonyCommand {
    /// Generate the root key in the HSM and self-sign the root certificate (BR 7.1.2.1).
    Root(RootArgs),
    /// Generate an intermediate key in the HSM; the root key signs its certificate
    /// (BR 7.1.2.10).
    Intermediate(IntermediateArgs),
    /// Generate a delegated OCSP responder key; the issuing CA key signs its certificate
    /// (CP Table 7.1-2).
    OcspResponder(OcspResponderArgs),
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Configuration file ([hsm] and [storage] are used); HANKO_* overrides apply.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where to write the certificate (PEM); must not exist yet.
    #[arg(long)]
    pub out: PathBuf,
    /// Sign without asking for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// The operator's name, recorded as the actor of the audit events (else "system").
    #[arg(long)]
    pub operator: Option<String>,
}

#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// CKA_LABEL of the key pair to generate; refused if the token already has it.
    #[arg(long)]
    pub key_label: String,
    /// p384, p256, rsa4096, rsa3072 or rsa2048.
    #[arg(long)]
    pub key_type: KeySpec,
    /// Validity in days (a day is 86,400 s, CPS 6.3.2).
    #[arg(long)]
    pub days: u32,
}

#[derive(Debug, Args)]
pub struct RootArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub key: NewKeyArgs,
    /// Subject, e.g. "C=JP, O=Example, CN=Example Root" (C, ST, L, O, CN; in this order
    /// in the certificate; `\,` for a comma in a value).
    #[arg(long)]
    pub subject: String,
}

#[derive(Debug, Args)]
pub struct IntermediateArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub key: NewKeyArgs,
    /// Subject of the intermediate (C, ST, L, O, CN).
    #[arg(long)]
    pub subject: String,
    /// The root certificate (PEM) from `hanko ceremony root`.
    #[arg(long)]
    pub root_cert: PathBuf,
    /// CKA_LABEL of the root's key in the token.
    #[arg(long)]
    pub root_key_label: String,
    /// URL of the root's CRL, for cRLDistributionPoints (BR 7.1.2.11.2).
    #[arg(long)]
    pub crl_url: Option<String>,
    /// URL of the root certificate, for authorityInformationAccess caIssuers.
    #[arg(long)]
    pub ca_issuers_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct OcspResponderArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub key: NewKeyArgs,
    /// Subject; default: the issuer's, with " OCSP Responder" added to its CN.
    #[arg(long)]
    pub subject: Option<String>,
    /// The issuing CA certificate (PEM) on whose behalf the responder signs OCSP responses.
    #[arg(long)]
    pub issuer_cert: PathBuf,
    /// CKA_LABEL of the issuing CA's key in the token.
    #[arg(long)]
    pub issuer_key_label: String,
}

impl CeremonyCommand {
    /// The configuration file named on the command line, read before anything else.
    pub fn config(&self) -> Option<&PathBuf> {
        match self {
            CeremonyCommand::Root(a) => a.common.config.as_ref(),
            CeremonyCommand::Intermediate(a) => a.common.config.as_ref(),
            CeremonyCommand::OcspResponder(a) => a.common.config.as_ref(),
        }
    }
}

/// Run the ceremony the command line asks for, on the audit database opened (and migrated)
/// first, as for every role.
pub async fn run(config: Config, command: CeremonyCommand) -> anyhow::Result<()> {
    let storage = crate::bootstrap::open(&config).await?;
    let outcome = plan::run(config, &storage, command.into()).await;
    storage.close().await;
    outcome.map_err(anyhow::Error::from)
}

impl From<CeremonyCommand> for plan::CeremonyCommand {
    fn from(command: CeremonyCommand) -> Self {
        match command {
            CeremonyCommand::Root(a) => plan::CeremonyCommand::Root(plan::RootArgs {
                common: a.common.into(),
                key: a.key.into(),
                subject: a.subject,
            }),
            CeremonyCommand::Intermediate(a) => {
                plan::CeremonyCommand::Intermediate(plan::IntermediateArgs {
                    common: a.common.into(),
                    key: a.key.into(),
                    subject: a.subject,
                    root_cert: a.root_cert,
                    root_key_label: a.root_key_label,
                    crl_url: a.crl_url,
                    ca_issuers_url: a.ca_issuers_url,
                })
            }
            CeremonyCommand::OcspResponder(a) => {
                plan::CeremonyCommand::OcspResponder(plan::OcspResponderArgs {
                    common: a.common.into(),
                    key: a.key.into(),
                    subject: a.subject,
                    issuer_cert: a.issuer_cert,
                    issuer_key_label: a.issuer_key_label,
                })
            }
        }
    }
}

impl From<CommonArgs> for plan::CommonArgs {
    fn from(a: CommonArgs) -> Self {
        plan::CommonArgs {
            out: a.out,
            yes: a.yes,
            operator: a.operator,
        }
    }
}

impl From<NewKeyArgs> for plan::NewKeyArgs {
    fn from(a: NewKeyArgs) -> Self {
        plan::NewKeyArgs {
            key_label: a.key_label,
            key_type: a.key_type,
            days: a.days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct TestCli {
        #[command(subcommand)]
        command: CeremonyCommand,
    }

    fn parse(args: &[&str]) -> CeremonyCommand {
        TestCli::try_parse_from(std::iter::once("ceremony").chain(args.iter().copied()))
            .expect("ceremony arguments")
            .command
    }

    /// Every argument reaches the ceremony under its own name.
    #[test]
    fn arguments_reach_the_ceremony() {
        let command = parse(&[
            "intermediate",
            "--config",
            "c.toml",
            "--out",
            "i.pem",
            "--yes",
            "--operator",
            "alice",
            "--key-label",
            "int",
            "--key-type",
            "p256",
            "--days",
            "30",
            "--subject",
            "CN=I",
            "--root-cert",
            "r.pem",
            "--root-key-label",
            "root",
            "--crl-url",
            "http://crl",
            "--ca-issuers-url",
            "http://ca",
        ]);
        assert_eq!(command.config(), Some(&PathBuf::from("c.toml")));
        let plan::CeremonyCommand::Intermediate(a) = command.into() else {
            panic!("not intermediate");
        };
        assert_eq!(a.common.out, PathBuf::from("i.pem"));
        assert!(a.common.yes);
        assert_eq!(a.common.operator.as_deref(), Some("alice"));
        assert_eq!(a.key.key_label, "int");
        assert_eq!(a.key.key_type, KeySpec::EcP256);
        assert_eq!(a.key.days, 30);
        assert_eq!(a.subject, "CN=I");
        assert_eq!(a.root_cert, PathBuf::from("r.pem"));
        assert_eq!(a.root_key_label, "root");
        assert_eq!(a.crl_url.as_deref(), Some("http://crl"));
        assert_eq!(a.ca_issuers_url.as_deref(), Some("http://ca"));
        let plan::CeremonyCommand::OcspResponder(o) = parse(&[
            "ocsp-responder",
            "--out",
            "o.pem",
            "--key-label",
            "o",
            "--key-type",
            "rsa2048",
            "--days",
            "90",
            "--issuer-cert",
            "i.pem",
            "--issuer-key-label",
            "int",
        ])
        .into() else {
            panic!("not ocsp-responder");
        };
        assert_eq!((o.subject, o.issuer_key_label), (None, "int".to_string()));
        assert_eq!(o.key.key_type, KeySpec::Rsa(2048));
        assert!(parse(&[
            "root",
            "--out",
            "x",
            "--key-label",
            "r",
            "--key-type",
            "p384",
            "--days",
            "1",
            "--subject",
            "CN=R"
        ])
        .config()
        .is_none());
    }
}
