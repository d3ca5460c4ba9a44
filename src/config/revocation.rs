//! Settings of revocation status: sharded CRLs (CP 4.9.7, 7.2) and the OCSP responder
//! (CP 4.9.9, 4.9.10, 7.3). Bounds from the CP are checked in `check`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Sharded CRLs (CP 4.9.7, 7.2; REQUIREMENTS §11).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrlConfig {
    /// Shards per issuer. A certificate's CRLDP names `<ca.crl_base_url>/<shard>.crl`,
    /// its shard chosen from the serial at reservation and stored with it, so changing this
    /// moves only certificates issued afterwards. Shards once published stay published.
    pub shards: u32,
    /// nextUpdate − thisUpdate, in hours (CP 4.9.7: at most 10 days).
    pub lifetime_hours: u32,
    /// Every shard is re-signed at least this often, in hours, changed or not (CP 4.9.7:
    /// at least every 7 days).
    pub max_age_hours: u32,
    /// A revocation appears on its shard's CRL within this many seconds (CP 4.9.7: within
    /// 24 hours; our default is 5 minutes).
    pub publish_delay_seconds: u64,
    /// How often the publisher looks for work, in seconds.
    pub poll_seconds: u64,
    /// Every signed shard is also written here as `<shard>.crl`, for an operator to sync to a
    /// CDN or object store. Default: `<storage.data_dir>/crl`.
    pub publish_dir: Option<PathBuf>,
    /// Seconds one process holds a shard while it generates it; another process takes over
    /// a lease that has expired (a crashed generator).
    pub lease_seconds: u64,
}

impl Default for CrlConfig {
    fn default() -> Self {
        CrlConfig {
            shards: 16,
            lifetime_hours: 9 * 24,
            max_age_hours: 24,
            publish_delay_seconds: 300,
            poll_seconds: 15,
            publish_dir: None,
            lease_seconds: 120,
        }
    }
}

/// Who signs OCSP responses (CP 7.3, RFC 6960 4.2.2.2).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OcspSigner {
    /// The issuing CA key itself.
    Issuer,
    /// A delegated responder certificate (CP Table 7.1-2, id-pkix-ocsp-nocheck) that the CA
    /// issues itself and rotates before its 125-day limit.
    Delegated,
}

/// The OCSP responder and pre-signer (CP 4.9.9, 4.9.10, 7.3; RFC 6960, RFC 5019).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcspConfig {
    pub signer: OcspSigner,
    /// nextUpdate − thisUpdate of every response, in hours (CP 4.9.10: 8 hours to 10 days).
    /// Responses are refreshed on the CP schedule: at half-life below 16 hours, otherwise at
    /// least 8 hours before nextUpdate and at most 4 days after thisUpdate.
    pub validity_hours: u32,
    /// Validity of a delegated responder certificate, in days (CPS 6.3.2: at most 125).
    pub responder_validity_days: u32,
    /// A delegated responder certificate is replaced when fewer days than this remain.
    pub responder_rotate_days: u32,
    /// How often the pre-signer looks for due responses and new revocations, in seconds.
    pub poll_seconds: u64,
    /// Responses signed per batch by the pre-signer.
    pub batch_size: usize,
    /// Stored responses each `hanko serve` keeps in memory for the responder (about 0.5 to
    /// 1 KiB each); 0 reads the database on every request.
    pub cache_entries: usize,
}

impl Default for OcspConfig {
    fn default() -> Self {
        OcspConfig {
            signer: OcspSigner::Issuer,
            validity_hours: 7 * 24,
            responder_validity_days: 90,
            responder_rotate_days: 30,
            poll_seconds: 15,
            batch_size: 500,
            cache_entries: 100_000,
        }
    }
}

/// Revocation requests and the bad-key revoker (CP 4.9.1, 4.9.12; REQUIREMENTS §10).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevocationConfig {
    /// How often the bad-key revoker looks for newly blocked keys, in seconds. A blocked
    /// key's certificates must be revoked within 24 hours (CP 4.9.1); default 10 seconds.
    pub bad_key_poll_seconds: u64,
    /// Certificates revoked per page by the bad-key revoker.
    pub bad_key_batch_size: u64,
    /// A blocked key is swept again on every poll for this many seconds after it was
    /// blocked, to catch a certificate whose issuance was already past the blocked-key check
    /// when the key was blocked (issuance with CT submission takes up to minutes); only then
    /// is it marked done (`blocked_keys.revoked_through`).
    pub bad_key_settle_seconds: u64,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        RevocationConfig {
            bad_key_poll_seconds: 10,
            bad_key_batch_size: 100,
            bad_key_settle_seconds: 600,
        }
    }
}

impl RevocationConfig {
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.bad_key_poll_seconds == 0 || self.bad_key_poll_seconds > 3600 {
            return Err((
                "revocation.bad_key_poll_seconds",
                "must be between 1 and 3600 (CP 4.9.1: revoked within 24 hours)".to_string(),
            ));
        }
        if self.bad_key_batch_size == 0 {
            return Err((
                "revocation.bad_key_batch_size",
                "must be at least 1".to_string(),
            ));
        }
        Ok(())
    }
}

/// The CP's bounds on these settings: `(key, message)` of the first one broken.
pub(super) fn check(crl: &CrlConfig, ocsp: &OcspConfig) -> Result<(), (&'static str, String)> {
    if crl.shards == 0 || crl.shards > 4096 {
        return Err(("crl.shards", "must be between 1 and 4096".to_string()));
    }
    if crl.lifetime_hours == 0 || crl.lifetime_hours > 240 {
        return Err((
            "crl.lifetime_hours",
            "nextUpdate may be at most 10 days (240 hours) after thisUpdate (CP 4.9.7)".to_string(),
        ));
    }
    if crl.max_age_hours == 0
        || crl.max_age_hours > 7 * 24
        || crl.max_age_hours >= crl.lifetime_hours
    {
        return Err((
            "crl.max_age_hours",
            "must be at most 168 (CP 4.9.7: reissued at least every 7 days) and below \
             crl.lifetime_hours"
                .to_string(),
        ));
    }
    if crl.publish_delay_seconds > 24 * 3600 {
        return Err((
            "crl.publish_delay_seconds",
            "a revocation must reach the CRL within 24 hours (CP 4.9.7)".to_string(),
        ));
    }
    if crl.poll_seconds == 0 || crl.lease_seconds == 0 {
        return Err((
            "crl.poll_seconds",
            "crl.poll_seconds and crl.lease_seconds must be at least 1".to_string(),
        ));
    }
    if crl.poll_seconds > crl.publish_delay_seconds {
        return Err((
            "crl.poll_seconds",
            "must not exceed crl.publish_delay_seconds: a pending revocation is seen at the \
             next poll and must be published within the delay (CP 4.9.7)"
                .to_string(),
        ));
    }
    if !(8..=240).contains(&ocsp.validity_hours) {
        return Err((
            "ocsp.validity_hours",
            "OCSP responses are valid 8 hours to 10 days (CP 4.9.10)".to_string(),
        ));
    }
    if ocsp.responder_validity_days == 0 || ocsp.responder_validity_days > 125 {
        return Err((
            "ocsp.responder_validity_days",
            "a delegated OCSP responder certificate is valid at most 125 days (CPS 6.3.2)"
                .to_string(),
        ));
    }
    if ocsp.responder_rotate_days >= ocsp.responder_validity_days {
        return Err((
            "ocsp.responder_rotate_days",
            "must be below ocsp.responder_validity_days".to_string(),
        ));
    }
    if ocsp.poll_seconds == 0 || ocsp.batch_size == 0 {
        return Err((
            "ocsp.poll_seconds",
            "ocsp.poll_seconds and ocsp.batch_size must be at least 1".to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn load(vars: &[(&str, &str)]) -> Result<Config, super::super::ConfigError> {
        let env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::load_with_env(None, env)
    }

    #[test]
    fn the_bad_key_poll_is_set_from_the_environment_and_bounded() {
        let c = load(&[("HANKO_REVOCATION__BAD_KEY_POLL_SECONDS", "1")]).expect("valid");
        assert_eq!(c.revocation.bad_key_poll_seconds, 1);
        assert_eq!(c.revocation.bad_key_settle_seconds, 600);
        let err = load(&[("HANKO_REVOCATION__BAD_KEY_POLL_SECONDS", "0")]).expect_err("0");
        assert!(
            err.to_string().contains("revocation.bad_key_poll_seconds"),
            "{err}"
        );
        assert!(load(&[("HANKO_REVOCATION__BAD_KEY_BATCH_SIZE", "0")]).is_err());
    }
}
