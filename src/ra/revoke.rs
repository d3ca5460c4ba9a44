//! Revocation requests over ACME (RFC 8555 7.6; CP 4.9.1, 4.9.2, 4.9.12, 7.2.2). The three
//! requesters and their rules are decided here; the write itself is
//! `revoke_write::write_revocation`, shared with `hanko admin revoke` and the bad-key
//! revoker.

use super::revoke_write::{write_revocation, Revocation, Source};
use super::{Ra, RaError, RaResult};
use crate::audit::Actor;
use crate::core::RevocationReason;
use crate::policy::keys::key_hash;
use crate::storage::queries as q;
use crate::storage::StorageError;

/// Who signed the revocation request.
pub enum RevocationRequester {
    /// An account (`kid`): the issuing account, or one holding valid authorizations for
    /// every name in the certificate.
    Account(String),
    /// The certificate's own key (`jwk`), proving possession of it: key compromise.
    CertificateKey { spki_der: Vec<u8> },
}

pub struct RevokeRequest {
    pub certificate_der: Vec<u8>,
    /// RFC 5280 CRLReason code as sent; absent means unspecified.
    pub reason: Option<i64>,
    pub requester: RevocationRequester,
}

/// The reason a subscriber asked for (CP 7.2.2, Table 7.2-2-4): absent or 0 is unspecified;
/// keyCompromise, affiliationChanged, superseded and cessationOfOperation may be chosen;
/// privilegeWithdrawn is the CA's alone, certificateHold is never used (CP 4.9.13: no
/// suspension), and anything else is not a reason: `badRevocationReason` (RFC 8555 7.6).
pub fn subscriber_reason(code: Option<i64>) -> RaResult<RevocationReason> {
    let Some(code) = code else {
        return Ok(RevocationReason::Unspecified);
    };
    let chosen = u8::try_from(code)
        .ok()
        .and_then(RevocationReason::from_code)
        .filter(|r| r.subscriber_may_choose());
    chosen.ok_or_else(|| {
        let why = match code {
            6 => "certificateHold is never used: this CA does not suspend certificates \
                  (CP 4.9.13)"
                .to_string(),
            9 => "privilegeWithdrawn is chosen by the CA, not by the subscriber (CP 7.2.2)"
                .to_string(),
            _ => format!("reason code {code} is not a revocation reason this CA accepts"),
        };
        RaError::BadRevocationReason(format!(
            "{why}; use 0 (or none), 1, 3, 4 or 5 (CP 4.9.1, 7.2.2)"
        ))
    })
}

impl Ra {
    pub async fn revoke(&self, req: RevokeRequest) -> RaResult<()> {
        let requested = subscriber_reason(req.reason)?;
        let serial_hex = serial_of(&req.certificate_der)?;
        let now = self.clock.now();
        let txn = self.storage.begin().await?;
        let cert = q::certificate(&txn, &serial_hex)
            .await?
            .filter(|c| c.der == req.certificate_der)
            .ok_or_else(|| {
                RaError::NotFound("this CA did not issue that certificate".to_string())
            })?;
        let rev = match &req.requester {
            RevocationRequester::CertificateKey { spki_der } => {
                if key_hash(spki_der) != cert.key_hash {
                    return Err(RaError::Unauthorized(
                        "the request is not signed by the certificate's key".to_string(),
                    ));
                }
                // Whoever signs with the certificate's key holds it: the key is compromised
                // (CP 4.9.12, first method). The key is blocked in the same transaction and
                // the bad-key revoker revokes every other certificate with it. An existing
                // revocation for another reason is upgraded (CP 7.2.2).
                Revocation {
                    reason: RevocationReason::KeyCompromise,
                    requested: Some(requested),
                    at: None,
                    source: Source::CertificateKey,
                    actor: Actor::System,
                    block_key: true,
                }
            }
            RevocationRequester::Account(account_id) => {
                // RFC 8555 7.6: an account asks once; a revoked certificate is answered
                // alreadyRevoked. Upgrades need proof of the key or an operator.
                if cert.revoked_at.is_some() {
                    return Err(RaError::AlreadyRevoked(
                        "the certificate is already revoked".to_string(),
                    ));
                }
                self.account_revocation(&txn, account_id, &cert, requested)
                    .await?
            }
        };
        match write_revocation(&txn, now, &cert, &rev).await {
            Ok(_) => {}
            Err(RaError::AlreadyRevoked(why)) if rev.block_key => {
                // Already revoked for keyCompromise: the key is still proven compromised,
                // so it is blocked all the same (idempotent), then alreadyRevoked.
                let spki = super::revoke_write::certificate_spki(&cert.der)?;
                let note = format!("certificate {} revoked for keyCompromise", cert.serial);
                super::keys::block_key_in(&txn, now, &spki, "revocation", &note, &rev.actor)
                    .await?;
                txn.commit().await.map_err(StorageError::from)?;
                return Err(RaError::AlreadyRevoked(why));
            }
            Err(e) => return Err(e),
        }
        txn.commit().await.map_err(StorageError::from)?;
        // CP 4.9.10: the OCSP pre-signer re-signs at once rather than at its next poll.
        self.revocations.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// The issuing account chooses among the subscriber reasons; another account with valid
    /// authorizations for every name may revoke too, but only as cessationOfOperation (it
    /// controls the names, not the subscriber's key or affiliation; CP 4.9.2, Table 7.2-2-4).
    ///
    /// A subscriber's own keyCompromise (reason 1 with `kid`) revokes this certificate with
    /// that reason but does NOT block the key: CP 4.9.12 accepts as demonstration of key
    /// compromise the private key, a CSR or challenge signed with it, or a verifiable
    /// vulnerability — an account signature shows control of the account, not of the
    /// certificate key. Blocking revokes every certificate with the key, including other
    /// subscribers', so it needs that proof: the subscriber can give it by signing the
    /// request with the certificate key (then the key is blocked), or an operator who
    /// verified a report runs `hanko admin block-key`. Boulder draws the same line.
    async fn account_revocation<C: sea_orm::ConnectionTrait>(
        &self,
        txn: &C,
        account_id: &str,
        cert: &crate::storage::entities::certificate::Model,
        requested: RevocationReason,
    ) -> RaResult<Revocation> {
        let actor = Actor::Account(account_id.to_string());
        if account_id == cert.account_id {
            return Ok(Revocation {
                reason: requested,
                requested: None,
                at: None,
                source: Source::Subscriber,
                actor,
                block_key: false,
            });
        }
        let names: Vec<String> = serde_json::from_str(&cert.names)
            .map_err(|e| RaError::Internal(format!("stored names unreadable: {e}")))?;
        let held = q::valid_authorized_names(txn, account_id, self.clock.now()).await?;
        if names.is_empty() || !names.iter().all(|n| held.contains(n)) {
            return Err(RaError::Unauthorized(
                "this account did not issue the certificate and does not hold valid \
                 authorizations for all its names"
                    .to_string(),
            ));
        }
        Ok(Revocation {
            reason: RevocationReason::CessationOfOperation,
            requested: Some(requested),
            at: None,
            source: Source::AuthorizedAccount,
            actor,
            block_key: false,
        })
    }
}

/// The serial (lowercase hex of its DER content octets) of a certificate.
pub(crate) fn serial_of(der: &[u8]) -> RaResult<String> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|_| RaError::Malformed("certificate is not valid DER".to_string()))?;
    Ok(hex::encode(cert.tbs_certificate.raw_serial()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_choose_only_their_reasons() {
        use RevocationReason as R;
        assert_eq!(subscriber_reason(None).expect("absent"), R::Unspecified);
        for (code, reason) in [
            (0, R::Unspecified),
            (1, R::KeyCompromise),
            (3, R::AffiliationChanged),
            (4, R::Superseded),
            (5, R::CessationOfOperation),
        ] {
            assert_eq!(subscriber_reason(Some(code)).expect("allowed"), reason);
        }
        for code in [2, 6, 7, 8, 9, 10, -1, 256, 1 << 40] {
            assert!(
                matches!(
                    subscriber_reason(Some(code)),
                    Err(RaError::BadRevocationReason(_))
                ),
                "{code}"
            );
        }
        let Err(RaError::BadRevocationReason(hold)) = subscriber_reason(Some(6)) else {
            panic!("certificateHold accepted");
        };
        assert!(hold.contains("certificateHold"), "{hold}");
    }
}
