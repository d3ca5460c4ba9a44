//! Key and certificate ceremonies on the HSM (CP 4.3.1.1: a root signs only on a deliberate
//! direct command of an authorised person, never from the online service).
//!
//! `hanko ceremony root | intermediate | ocsp-responder` each generate a key pair inside
//! the HSM (non-extractable, `Pkcs11Token::generate_key`), decide every field of the
//! certificate, show the operator exactly what will be signed, ask for "yes" (unless
//! `--yes`), sign in the HSM, verify the signature against the issuing certificate's key
//! and write the PEM. Key generation, signing and a declined signing are audit events
//! (REQUIREMENTS §6: every key event is audited).
//!
//! Owns: ceremony certificate plans, the confirmation, the output file and the ceremony's
//! audit events. Unlike the rest of `issuance`, it writes to storage, the audit log only.

use super::devca::{pem, pem_to_der};
use super::signer::pkcs11::{KeySpec, Pkcs11Signer, Pkcs11Token};
use super::signer::{Signer, SignerError};
use super::tbs::{self, CaKind, CertificatePlan, IssuerInfo};
use super::IssuanceError;
use crate::audit::Actor;
use crate::config::Config;
use crate::core::{Clock, Serial, SystemClock};
use crate::storage::{Storage, StorageError};
use chrono::{DateTime, Utc};
use const_oid::db::rfc4519::{
    COMMON_NAME, COUNTRY_NAME, LOCALITY_NAME, ORGANIZATION_NAME, ST as STATE_OR_PROVINCE_NAME,
};
use der::asn1::{Any, ObjectIdentifier, PrintableStringRef, SetOfVec, Utf8StringRef};
use der::{Decode, Encode};
use serde_json::json;
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use x509_cert::name::Name;

#[path = "ceremony_describe.rs"]
mod describe;

/// CPS 6.3.2: CA certificates are expected to be valid for at most 20 years.
const MAX_CA_DAYS: u32 = 20 * 365 + 5;
/// CPS 6.3.2: an OCSP responder certificate is valid for at most 125 days.
const MAX_OCSP_DAYS: u32 = 125;

/// What a ceremony is asked to do. `admin::ceremony` parses it from `hanko ceremony …`;
/// the field documentation is there (it is the command's help).
#[derive(Debug)]
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

#[derive(Debug)]
pub struct CommonArgs {
    /// Where to write the certificate (PEM); must not exist yet.
    pub out: PathBuf,
    /// Sign without asking for confirmation.
    pub yes: bool,
    /// The operator's name, recorded as the actor of the audit events (else "system").
    pub operator: Option<String>,
}

#[derive(Debug)]
pub struct NewKeyArgs {
    /// CKA_LABEL of the key pair to generate; refused if the token already has it.
    pub key_label: String,
    /// p384, p256, rsa4096, rsa3072 or rsa2048.
    pub key_type: KeySpec,
    /// Validity in days (a day is 86,400 s, CPS 6.3.2).
    pub days: u32,
}

#[derive(Debug)]
pub struct RootArgs {
    pub common: CommonArgs,
    pub key: NewKeyArgs,
    /// Subject, e.g. "C=JP, O=Example, CN=Example Root" (C, ST, L, O, CN; in this order
    /// in the certificate; `\,` for a comma in a value).
    pub subject: String,
}

#[derive(Debug)]
pub struct IntermediateArgs {
    pub common: CommonArgs,
    pub key: NewKeyArgs,
    /// Subject of the intermediate (C, ST, L, O, CN).
    pub subject: String,
    /// The root certificate (PEM) from `hanko ceremony root`.
    pub root_cert: PathBuf,
    /// CKA_LABEL of the root's key in the token.
    pub root_key_label: String,
    /// URL of the root's CRL, for cRLDistributionPoints (BR 7.1.2.11.2).
    pub crl_url: Option<String>,
    /// URL of the root certificate, for authorityInformationAccess caIssuers.
    pub ca_issuers_url: Option<String>,
}

#[derive(Debug)]
pub struct OcspResponderArgs {
    pub common: CommonArgs,
    pub key: NewKeyArgs,
    /// Subject; default: the issuer's, with " OCSP Responder" added to its CN.
    pub subject: Option<String>,
    /// The issuing CA certificate (PEM) on whose behalf the responder signs OCSP responses.
    pub issuer_cert: PathBuf,
    /// CKA_LABEL of the issuing CA's key in the token.
    pub issuer_key_label: String,
}

impl CeremonyCommand {
    pub fn common(&self) -> &CommonArgs {
        match self {
            CeremonyCommand::Root(a) => &a.common,
            CeremonyCommand::Intermediate(a) => &a.common,
            CeremonyCommand::OcspResponder(a) => &a.common,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// A precondition or argument the ceremony refuses; nothing was changed.
    #[error("{0}")]
    Refused(String),
    #[error("not confirmed by the operator: nothing was signed and nothing written")]
    Declined,
    #[error(transparent)]
    Issuance(#[from] IssuanceError),
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error("audit log: {0}")]
    Audit(#[from] StorageError),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

fn refused(message: impl Into<String>) -> CeremonyError {
    CeremonyError::Refused(message.into())
}

/// Run one ceremony on `storage` (opened and migrated by the caller, `admin::ceremony`,
/// before anything else, so no key is generated that could not be audited): the HSM work
/// runs on a blocking thread.
pub async fn run(
    config: Config,
    storage: &Storage,
    command: CeremonyCommand,
) -> Result<(), CeremonyError> {
    let runtime = tokio::runtime::Handle::current();
    let audit_storage = storage.clone();
    tokio::task::spawn_blocking(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut output = std::io::stdout();
        let mut ceremony = Ceremony {
            config: &config,
            storage: &audit_storage,
            runtime,
            clock: &SystemClock,
            input: &mut input,
            output: &mut output,
        };
        ceremony.perform(&command)
    })
    .await
    .unwrap_or_else(|e| Err(refused(format!("the ceremony stopped unexpectedly: {e}"))))
}

/// One ceremony's context. Blocking: runs on a thread where `runtime.block_on` is allowed.
pub(crate) struct Ceremony<'a> {
    pub config: &'a Config,
    pub storage: &'a Storage,
    pub runtime: tokio::runtime::Handle,
    pub clock: &'a dyn Clock,
    pub input: &'a mut dyn BufRead,
    pub output: &'a mut dyn Write,
}

/// The issuing side of a ceremony certificate.
struct IssuingKey<'a> {
    signer: &'a Pkcs11Signer,
    /// The issuer certificate's SPKI (for a root: its own), to verify the result with.
    spki_der: Vec<u8>,
}

impl Ceremony<'_> {
    pub(crate) fn perform(&mut self, command: &CeremonyCommand) -> Result<(), CeremonyError> {
        check_output_is_free(&command.common().out)?;
        match command {
            CeremonyCommand::Root(args) => self.root(args),
            CeremonyCommand::Intermediate(args) => self.intermediate(args),
            CeremonyCommand::OcspResponder(args) => self.ocsp_responder(args),
        }
    }

    fn actor(common: &CommonArgs) -> Actor {
        match &common.operator {
            Some(name) => Actor::Operator(name.clone()),
            None => Actor::System,
        }
    }

    fn root(&mut self, args: &RootArgs) -> Result<(), CeremonyError> {
        let subject = parse_subject(&args.subject)?;
        check_days(args.key.days, MAX_CA_DAYS, "a CA certificate")?;
        let token = self.open_token()?;
        let key = self.generate(&token, &args.key, &args.common)?;
        let spki = spki_of(&key)?;
        let key_id = tbs::key_identifier(&spki);
        let now = self.clock.now();
        // A root has no issuer to outlive; the window is exactly `days` (no backdating for
        // CA certificates: notBefore is the signing time).
        let unbounded = now + chrono::Duration::days(i64::from(args.key.days) + 1);
        let (not_before, not_after) = tbs::validity_window(now, 0, args.key.days, unbounded)?;
        let plan = CertificatePlan {
            serial: Serial::random(),
            algorithm: key.algorithm(),
            issuer: subject.clone(),
            not_before,
            not_after,
            subject,
            extensions: tbs::ca_extensions(CaKind::Root, &key_id, &spki)?,
            spki,
        };
        let issuing = IssuingKey {
            signer: &key,
            spki_der: key.public_key_der(),
        };
        self.conclude("root", &plan, &key, &issuing, &args.common)
    }

    fn intermediate(&mut self, args: &IntermediateArgs) -> Result<(), CeremonyError> {
        let subject = parse_subject(&args.subject)?;
        check_days(args.key.days, MAX_CA_DAYS, "a CA certificate")?;
        let root_der = read_certificate(&args.root_cert)?;
        let root = IssuerInfo::from_certificate_der(&root_der)?;
        let token = self.open_token()?;
        let root_key = issuing_key(&token, &root, &root_der, &args.root_key_label, "root")?;
        let key = self.generate(&token, &args.key, &args.common)?;
        let spki = spki_of(&key)?;
        // No backdating; clamped to the root's notAfter (CP 5.6: nothing outlives its issuer).
        let (not_before, not_after) =
            tbs::validity_window(self.clock.now(), 0, args.key.days, root.not_after)?;
        let mut extensions = tbs::ca_extensions(CaKind::Intermediate, &root.key_identifier, &spki)?;
        extensions.extend(tbs::ca_location_extensions(
            args.crl_url.as_deref(),
            args.ca_issuers_url.as_deref(),
        )?);
        let plan = CertificatePlan {
            serial: Serial::random(),
            algorithm: root_key.algorithm(),
            issuer: root.subject.clone(),
            not_before,
            not_after,
            subject,
            spki,
            extensions,
        };
        let issuing = IssuingKey {
            signer: &root_key,
            spki_der: root.spki_der.clone(),
        };
        self.conclude("intermediate", &plan, &key, &issuing, &args.common)
    }

    fn ocsp_responder(&mut self, args: &OcspResponderArgs) -> Result<(), CeremonyError> {
        check_days(
            args.key.days,
            MAX_OCSP_DAYS,
            "an OCSP responder certificate",
        )?;
        let issuer_der = read_certificate(&args.issuer_cert)?;
        let issuer = IssuerInfo::from_certificate_der(&issuer_der)?;
        let subject = match &args.subject {
            Some(text) => parse_subject(text)?,
            None => responder_subject(&issuer.subject)?,
        };
        let token = self.open_token()?;
        let issuer_key = issuing_key(
            &token,
            &issuer,
            &issuer_der,
            &args.issuer_key_label,
            "issuer",
        )?;
        let key = self.generate(&token, &args.key, &args.common)?;
        let spki = spki_of(&key)?;
        let (not_before, not_after) =
            tbs::validity_window(self.clock.now(), 0, args.key.days, issuer.not_after)?;
        let plan = CertificatePlan {
            serial: Serial::random(),
            algorithm: issuer_key.algorithm(),
            issuer: issuer.subject.clone(),
            not_before,
            not_after,
            subject,
            extensions: tbs::ocsp_responder_extensions(&issuer.key_identifier, &spki)?,
            spki,
        };
        let issuing = IssuingKey {
            signer: &issuer_key,
            spki_der: issuer.spki_der.clone(),
        };
        self.conclude("ocsp-responder", &plan, &key, &issuing, &args.common)
    }

    fn open_token(&mut self) -> Result<std::sync::Arc<Pkcs11Token>, CeremonyError> {
        let token = Pkcs11Token::open(&self.config.hsm)?;
        self.say(&format!("Logged in to HSM token {:?}.", token.label()))?;
        Ok(token)
    }

    /// Generate the ceremony's key pair in the HSM and audit it at once (the key exists
    /// from here on, whatever the operator answers later).
    fn generate(
        &mut self,
        token: &std::sync::Arc<Pkcs11Token>,
        key: &NewKeyArgs,
        common: &CommonArgs,
    ) -> Result<Pkcs11Signer, CeremonyError> {
        self.say(&format!(
            "Generating the {} key pair labelled {:?} in the HSM…",
            key.key_type, key.key_label
        ))?;
        let signer = token.generate_key(&key.key_label, key.key_type)?;
        let spki_sha256 = hex::encode(Sha256::digest(signer.public_key_der()));
        self.audit(
            common,
            "ceremony.key_generated",
            json!({
                "token": token.label(),
                "label": key.key_label,
                "key_type": key.key_type.to_string(),
                "spki_sha256": spki_sha256,
            }),
        )?;
        Ok(signer)
    }

    /// Show the plan, get the operator's yes, sign in the HSM, verify, audit, write.
    fn conclude(
        &mut self,
        kind: &str,
        plan: &CertificatePlan,
        subject_key: &Pkcs11Signer,
        issuing: &IssuingKey<'_>,
        common: &CommonArgs,
    ) -> Result<(), CeremonyError> {
        let tbs_der = plan.tbs_der()?;
        let description = describe::plan(kind, &tbs_der, subject_key, issuing.signer)?;
        self.say(&description)?;
        self.lint(kind, &tbs_der, issuing.signer)?;
        let subject = describe::name_text(&plan.subject);
        if !common.yes && !self.confirm()? {
            self.audit(
                common,
                "ceremony.signing_declined",
                json!({"kind": kind, "serial": plan.serial.to_hex(), "subject": subject}),
            )?;
            return Err(CeremonyError::Declined);
        }
        let der = plan.sign(issuing.signer)?;
        verify_issued(&der, &tbs_der, &issuing.spki_der)?;
        let sha256 = hex::encode(Sha256::digest(&der));
        let pem = pem(&der)?;
        // Audited before the file is written: if writing fails, the certificate is still
        // in the audit log (and printed below), never lost.
        self.audit(
            common,
            "ceremony.certificate_signed",
            json!({
                "kind": kind,
                "serial": plan.serial.to_hex(),
                "subject": subject,
                "issuer": describe::name_text(&plan.issuer),
                "not_before": plan.not_before.to_rfc3339(),
                "not_after": plan.not_after.to_rfc3339(),
                "key_label": subject_key.label(),
                "signed_by": issuing.signer.label(),
                "sha256": sha256,
                "certificate": base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD, &der),
            }),
        )?;
        if let Err(e) = write_new_file(&common.out, pem.as_bytes()) {
            self.say(&format!(
                "Writing the certificate failed; here it is:\n{pem}"
            ))?;
            return Err(e);
        }
        self.say(&format!(
            "Signed and verified. Wrote {} (SHA-256 {sha256}).",
            common.out.display()
        ))
    }

    /// CP 4.3.1.2: CA certificates are linted like every other artefact, before the HSM
    /// signs: the TBS signed by a throwaway key of the issuer's algorithm, linted as its
    /// document type. With `lint.linter = "none"` the ceremony says so and goes on.
    fn lint(
        &mut self,
        kind: &str,
        tbs_der: &[u8],
        issuer: &Pkcs11Signer,
    ) -> Result<(), CeremonyError> {
        use super::lint::{DocumentKind, Linter};
        use super::signer::software::{KeyKind, SoftwareSigner};
        let linter = Linter::start(&self.config.lint)
            .map_err(|e| refused(format!("the linter does not start (lint.*): {e}")))?;
        if !linter.is_enabled() {
            return self.say("Lint: none configured (lint.linter = \"none\"); not linted.");
        }
        let document = match kind {
            "root" => DocumentKind::RootCa,
            "intermediate" => DocumentKind::SubordinateCa,
            _ => DocumentKind::OcspResponder,
        };
        let mirror = SoftwareSigner::generate(KeyKind::from_spki_der(&issuer.public_key_der())?)?;
        let lint_der = tbs::sign_certificate(&mirror, tbs_der)?;
        let report = linter
            .lint(document, &lint_der)
            .map_err(|e| refused(format!("linting failed: {e}")))?;
        let blocking = report.blocking(linter.block_at());
        self.say(&format!("Lint ({}): {}", linter.name(), report.summary()))?;
        if !blocking.is_empty() {
            let codes: Vec<&str> = blocking.iter().map(|f| f.code.as_str()).collect();
            return Err(refused(format!(
                "the certificate does not lint clean ({}); nothing was signed",
                codes.join(", ")
            )));
        }
        Ok(())
    }

    /// `Sign this certificate? Type "yes":` — anything else (or end of input) declines.
    fn confirm(&mut self) -> Result<bool, CeremonyError> {
        let io = |e| CeremonyError::Io("operator terminal".to_string(), e);
        write!(self.output, "Sign this certificate? Type \"yes\": ").map_err(io)?;
        self.output.flush().map_err(io)?;
        let mut answer = String::new();
        self.input.read_line(&mut answer).map_err(io)?;
        Ok(answer.trim() == "yes")
    }

    fn say(&mut self, text: &str) -> Result<(), CeremonyError> {
        writeln!(self.output, "{text}")
            .and_then(|()| self.output.flush())
            .map_err(|e| CeremonyError::Io("writing to the terminal".to_string(), e))
    }

    /// Append one audit event in its own transaction.
    fn audit(
        &self,
        common: &CommonArgs,
        event: &str,
        details: serde_json::Value,
    ) -> Result<(), CeremonyError> {
        let actor = Self::actor(common);
        let at = self.clock.now();
        self.runtime.block_on(async {
            let txn = self.storage.begin().await?;
            crate::audit::append(&txn, at, &actor, event, details).await?;
            txn.commit().await.map_err(StorageError::from)?;
            Ok::<(), StorageError>(())
        })?;
        Ok(())
    }
}

/// The key labelled `label` must be the key of `certificate`, and the certificate a CA
/// that may sign certificates.
fn issuing_key(
    token: &std::sync::Arc<Pkcs11Token>,
    info: &IssuerInfo,
    certificate_der: &[u8],
    label: &str,
    role: &str,
) -> Result<Pkcs11Signer, CeremonyError> {
    let (_, cert) = x509_parser::parse_x509_certificate(certificate_der)
        .map_err(|e| refused(format!("{role} certificate: {e}")))?;
    let is_ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca);
    let can_sign = cert
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|ku| ku.value.key_cert_sign());
    if !is_ca || !can_sign {
        return Err(refused(format!(
            "the {role} certificate is not a CA certificate with keyCertSign"
        )));
    }
    let signer = token.signer(label)?;
    if signer.public_key_der() != info.spki_der {
        return Err(refused(format!(
            "the HSM key labelled {label:?} is not the key of the {role} certificate"
        )));
    }
    Ok(signer)
}

/// The signed certificate carries exactly the planned TBS, and its signature verifies
/// under the issuing certificate's public key (not only the signer's own idea of it).
fn verify_issued(der: &[u8], tbs_der: &[u8], issuer_spki: &[u8]) -> Result<(), CeremonyError> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| refused(format!("signed certificate does not parse: {e}")))?;
    let signed_tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| refused(format!("signed certificate: {e}")))?;
    if signed_tbs != tbs_der {
        return Err(refused(
            "the signed certificate differs from the plan shown",
        ));
    }
    super::verify::verify_signature(
        issuer_spki,
        &cert.signature_algorithm,
        tbs_der,
        cert.signature.raw_bytes(),
    )
    .map_err(|e| {
        refused(format!(
            "the signature does not verify under the issuer's key: {e}"
        ))
    })
}

fn spki_of(key: &Pkcs11Signer) -> Result<SubjectPublicKeyInfoOwned, CeremonyError> {
    SubjectPublicKeyInfoOwned::from_der(&key.public_key_der())
        .map_err(|e| refused(format!("public key of {:?}: {e}", key.label())))
}

fn check_days(days: u32, max: u32, what: &str) -> Result<(), CeremonyError> {
    if days == 0 || days > max {
        return Err(refused(format!(
            "--days {days}: {what} is valid for 1 to {max} days (CPS 6.3.2)"
        )));
    }
    Ok(())
}

/// Refuse before any key is generated if the output exists or cannot be created there.
fn check_output_is_free(out: &Path) -> Result<(), CeremonyError> {
    if out.exists() {
        return Err(refused(format!(
            "--out {} already exists; refusing to overwrite a certificate",
            out.display()
        )));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(refused(format!(
            "--out {}: directory {} does not exist",
            out.display(),
            parent.display()
        )));
    }
    Ok(())
}

fn read_certificate(path: &Path) -> Result<Vec<u8>, CeremonyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CeremonyError::Io(format!("reading {}", path.display()), e))?;
    Ok(pem_to_der(&text, &path.display().to_string())?)
}

fn write_new_file(path: &Path, contents: &[u8]) -> Result<(), CeremonyError> {
    let io = |e| CeremonyError::Io(format!("writing {}", path.display()), e);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io)
}

/// Parse "C=JP, ST=Tokyo, L=Minato, O=Example, CN=Example Root" into a Name with the
/// attributes in the given order (C a PrintableString, the rest UTF8String, via
/// `tbs::build_name`). Only C, ST, L, O and CN are accepted, each at most once; C, O and
/// CN are required (BR 7.1.2.10.2; CP Table 7.1-2). `\,` is a comma inside a value.
pub(crate) fn parse_subject(text: &str) -> Result<Name, CeremonyError> {
    let bad = |m: String| refused(format!("subject {text:?}: {m}"));
    let mut attrs: Vec<(ObjectIdentifier, String)> = Vec::new();
    for part in split_escaped(text) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("{:?} is not KEY=value", part.trim())))?;
        let (key, value) = (key.trim(), value.trim());
        let oid = match key.to_ascii_uppercase().as_str() {
            "C" => COUNTRY_NAME,
            "ST" => STATE_OR_PROVINCE_NAME,
            "L" => LOCALITY_NAME,
            "O" => ORGANIZATION_NAME,
            "CN" => COMMON_NAME,
            _ => {
                return Err(bad(format!(
                    "attribute {key:?} is not accepted (C, ST, L, O, CN)"
                )))
            }
        };
        if value.is_empty() {
            return Err(bad(format!("{key} is empty")));
        }
        if attrs.iter().any(|(o, _)| *o == oid) {
            return Err(bad(format!("{key} appears twice")));
        }
        if oid == COUNTRY_NAME
            && !(value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(bad(format!("C={value} is not a two-letter country code")));
        }
        attrs.push((oid, value.to_string()));
    }
    for (oid, key) in [
        (COUNTRY_NAME, "C"),
        (ORGANIZATION_NAME, "O"),
        (COMMON_NAME, "CN"),
    ] {
        if !attrs.iter().any(|(o, _)| *o == oid) {
            return Err(bad(format!("{key} is required")));
        }
    }
    let refs: Vec<(ObjectIdentifier, &str)> = attrs.iter().map(|(o, v)| (*o, v.as_str())).collect();
    Ok(tbs::build_name(&refs)?)
}

/// Split on commas not preceded by a backslash; `\,` and `\\` unescape.
fn split_escaped(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ',' => parts.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    parts.push(current);
    parts
}

/// The responder's default subject: the issuer's RDNs with " OCSP Responder" appended to
/// the CN (CP Table 7.1-2: C and O as the CA's, CN the responder's name).
pub(super) fn responder_subject(issuer: &Name) -> Result<Name, CeremonyError> {
    let mut rdns = issuer.0.clone();
    let mut found = false;
    for rdn in rdns.iter_mut() {
        let mut atvs = Vec::new();
        for atv in rdn.0.iter() {
            let mut atv = atv.clone();
            if atv.oid == COMMON_NAME {
                let cn = atv
                    .value
                    .decode_as::<Utf8StringRef<'_>>()
                    .map(|s| s.as_str().to_string())
                    .or_else(|_| {
                        atv.value
                            .decode_as::<PrintableStringRef<'_>>()
                            .map(|s| s.as_str().to_string())
                    })
                    .map_err(|_| refused("the issuer's CN is not a UTF8String; give --subject"))?;
                // ub-common-name is 64 (RFC 5280 A.1): shorten a long issuer CN first.
                let keep: String = cn.chars().take(64 - " OCSP Responder".len()).collect();
                let name = format!("{} OCSP Responder", keep.trim_end());
                let utf8 = Utf8StringRef::new(&name).map_err(|e| refused(e.to_string()))?;
                atv.value = Any::encode_from(&utf8).map_err(|e| refused(e.to_string()))?;
                found = true;
            }
            atvs.push(atv);
        }
        rdn.0 = SetOfVec::try_from(atvs).map_err(|e| refused(e.to_string()))?;
    }
    if !found {
        return Err(refused("the issuer's subject has no CN; give --subject"));
    }
    Ok(x509_cert::name::RdnSequence(rdns))
}

/// Whole days of a validity window as CPS 6.3.2 counts them (notAfter − notBefore + 1 s).
fn validity_days(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> i64 {
    ((not_after - not_before).num_seconds() + 1) / 86_400
}

#[cfg(test)]
#[path = "ceremony_tests.rs"]
mod tests;
