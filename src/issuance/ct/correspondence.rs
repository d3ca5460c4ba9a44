//! The precertificate ↔ certificate relation of RFC 6962 3.1/3.2: the log signs the
//! precertificate's TBSCertificate with the poison extension removed, and the final
//! certificate must be that same TBSCertificate with the poison replaced, at the same
//! position, by the SCT list extension (DESIGN invariant 3: checked before the final
//! signature).

use super::sct::{decode_sct_list_extension_value, SignedEntry};
use super::{CtError, POISON_OID, SCT_LIST_OID};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::ext::Extension;
use x509_cert::{Certificate, TbsCertificate};

const POISON: ObjectIdentifier = ObjectIdentifier::new_unwrap(POISON_OID);
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap(SCT_LIST_OID);
/// RFC 6962 3.1: the poison extension's extnValue is ASN.1 NULL.
const POISON_VALUE: [u8; 2] = [0x05, 0x00];

/// The `precert_entry` a log signs for `precert_der` issued by `issuer_der` (RFC 6962 3.2).
/// Hanko issues precertificates with the issuing CA itself (no Precertificate Signing
/// Certificate), so the issuer key hash is that of `issuer_der`'s SPKI.
pub(crate) fn precert_entry(precert_der: &[u8], issuer_der: &[u8]) -> Result<SignedEntry, CtError> {
    let precert = Certificate::from_der(precert_der)
        .map_err(|e| CtError::Chain(format!("precertificate does not parse: {e}")))?;
    let issuer = Certificate::from_der(issuer_der)
        .map_err(|e| CtError::Chain(format!("issuer certificate does not parse: {e}")))?;
    if precert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Err(CtError::Chain(
            "the precertificate's issuer is not the second certificate's subject".to_string(),
        ));
    }
    let spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| CtError::Chain(format!("issuer SPKI: {e}")))?;
    let mut tbs = precert.tbs_certificate;
    let extensions = tbs.extensions.take().unwrap_or_default();
    let position = poison_position(&extensions).map_err(CtError::Chain)?;
    let mut remaining = extensions;
    remaining.remove(position);
    // RFC 5280 4.1: an empty extensions field is omitted, never encoded empty.
    tbs.extensions = (!remaining.is_empty()).then_some(remaining);
    let tbs = tbs
        .to_der()
        .map_err(|e| CtError::Chain(format!("re-encoding the TBSCertificate: {e}")))?;
    Ok(SignedEntry::Precert {
        issuer_key_hash: Sha256::digest(&spki).into(),
        tbs,
    })
}

/// The final certificate's TBSCertificate for a precertificate TBS: the poison extension
/// replaced, at its position, by the non-critical SCT list extension with `sct_list_value`
/// (from [`super::sct_list_extension_value`]). The result passes [`check_correspondence`].
pub fn replace_poison_with_sct_list(
    precert_tbs_der: &[u8],
    sct_list_value: &[u8],
) -> Result<Vec<u8>, CtError> {
    let bad = |what: String| CtError::Correspondence(what);
    let mut tbs = TbsCertificate::from_der(precert_tbs_der)
        .map_err(|e| bad(format!("precertificate TBS does not parse: {e}")))?;
    let extensions = tbs.extensions.get_or_insert_with(Vec::new);
    let position = poison_position(extensions).map_err(bad)?;
    extensions[position] = Extension {
        extn_id: SCT_LIST,
        critical: false,
        extn_value: OctetString::new(sct_list_value.to_vec())
            .map_err(|e| bad(format!("SCT list value: {e}")))?,
    };
    tbs.to_der()
        .map_err(|e| bad(format!("encoding the final TBS: {e}")))
}

/// RFC 6962 3.2 check before the final signature: `final_tbs_der` equals `precert_tbs_der`
/// field by field, except that the precertificate's poison extension (critical, NULL) is
/// replaced at the same position by a non-critical SCT list extension holding a well-formed
/// list. The error names the first difference.
pub fn check_correspondence(precert_tbs_der: &[u8], final_tbs_der: &[u8]) -> Result<(), CtError> {
    let bad = |what: String| CtError::Correspondence(what);
    let pre = TbsCertificate::from_der(precert_tbs_der)
        .map_err(|e| bad(format!("precertificate TBS does not parse: {e}")))?;
    let fin = TbsCertificate::from_der(final_tbs_der)
        .map_err(|e| bad(format!("final TBS does not parse: {e}")))?;
    if pre.version != fin.version {
        return Err(bad(format!(
            "version differs: precertificate {:?}, final {:?}",
            pre.version, fin.version
        )));
    }
    compare("serial number", &pre.serial_number, &fin.serial_number)?;
    compare("signature algorithm", &pre.signature, &fin.signature)?;
    compare("issuer", &pre.issuer, &fin.issuer)?;
    compare("validity", &pre.validity, &fin.validity)?;
    compare("subject", &pre.subject, &fin.subject)?;
    compare(
        "subject public key info",
        &pre.subject_public_key_info,
        &fin.subject_public_key_info,
    )?;
    compare(
        "issuerUniqueID",
        &pre.issuer_unique_id,
        &fin.issuer_unique_id,
    )?;
    compare(
        "subjectUniqueID",
        &pre.subject_unique_id,
        &fin.subject_unique_id,
    )?;
    compare_extensions(
        pre.extensions.as_deref().unwrap_or_default(),
        fin.extensions.as_deref().unwrap_or_default(),
    )
}

fn compare_extensions(pre: &[Extension], fin: &[Extension]) -> Result<(), CtError> {
    let bad = |what: String| CtError::Correspondence(what);
    let poison_at = poison_position(pre).map_err(|e| bad(format!("precertificate: {e}")))?;
    if let Some(i) = pre.iter().position(|e| e.extn_id == SCT_LIST) {
        return Err(bad(format!(
            "precertificate extension {i} is an SCT list; only the final certificate carries one"
        )));
    }
    if let Some(i) = fin.iter().position(|e| e.extn_id == POISON) {
        return Err(bad(format!(
            "final certificate extension {i} is the CT poison (RFC 6962 3.1)"
        )));
    }
    for i in 0..pre.len().max(fin.len()) {
        let (Some(p), Some(f)) = (pre.get(i), fin.get(i)) else {
            return Err(bad(format!(
                "extension count differs: precertificate {}, final {} (first unmatched at \
                 position {i}: {})",
                pre.len(),
                fin.len(),
                describe(pre.get(i).or(fin.get(i)))
            )));
        };
        if i == poison_at {
            check_sct_list_extension(i, f)?;
        } else if p != f {
            return Err(bad(format!(
                "extension {i} differs: precertificate {}, final {}",
                describe(Some(p)),
                describe(Some(f))
            )));
        }
    }
    Ok(())
}

/// The extension that replaces the poison: the SCT list, non-critical, well-formed.
fn check_sct_list_extension(i: usize, f: &Extension) -> Result<(), CtError> {
    let bad = |what: String| CtError::Correspondence(what);
    if f.extn_id != SCT_LIST {
        return Err(bad(format!(
            "extension {i} should be the SCT list replacing the poison, final has {}",
            describe(Some(f))
        )));
    }
    if f.critical {
        return Err(bad(format!(
            "extension {i} (SCT list) is critical; RFC 6962 3.3 makes it non-critical"
        )));
    }
    decode_sct_list_extension_value(f.extn_value.as_bytes())
        .map_err(|e| bad(format!("extension {i} (SCT list): {e}")))?;
    Ok(())
}

/// The index of the single poison extension, which must be critical with a NULL value.
fn poison_position(extensions: &[Extension]) -> Result<usize, String> {
    let mut found = extensions
        .iter()
        .enumerate()
        .filter(|(_, e)| e.extn_id == POISON);
    let Some((position, poison)) = found.next() else {
        return Err(format!("no CT poison extension ({POISON_OID})"));
    };
    if found.next().is_some() {
        return Err("more than one CT poison extension".to_string());
    }
    if !poison.critical {
        return Err("the CT poison extension is not critical (RFC 6962 3.1)".to_string());
    }
    if poison.extn_value.as_bytes() != POISON_VALUE {
        return Err("the CT poison extension's value is not ASN.1 NULL (05 00)".to_string());
    }
    Ok(position)
}

fn compare<T: Encode>(field: &str, pre: &T, fin: &T) -> Result<(), CtError> {
    let encode = |v: &T| {
        v.to_der()
            .map_err(|e| CtError::Correspondence(format!("{field}: {e}")))
    };
    let (p, f) = (encode(pre)?, encode(fin)?);
    if p != f {
        return Err(CtError::Correspondence(format!(
            "{field} differs: precertificate {}, final {}",
            hex::encode(p),
            hex::encode(f)
        )));
    }
    Ok(())
}

fn describe(extension: Option<&Extension>) -> String {
    match extension {
        None => "none".to_string(),
        Some(e) => format!(
            "{}{} ({} value bytes)",
            e.extn_id,
            if e.critical { " critical" } else { "" },
            e.extn_value.as_bytes().len()
        ),
    }
}
