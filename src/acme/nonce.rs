//! Anti-replay nonces (RFC 8555 6.5). A nonce is `random || time || HMAC(key, random ||
//! time)`, so any nonce we issued can be checked without storing it; only *used* nonces are
//! remembered, until they would have expired anyway, which makes each single-use. The map is
//! sharded (DashMap), so there is no global lock on the request path.
//! A restart or another process (different key) turns outstanding nonces into `badNonce`,
//! which clients retry with the fresh nonce the error carries.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dashmap::DashMap;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const RANDOM: usize = 12;
const TAG: usize = 16;

#[derive(Debug, PartialEq, Eq)]
pub enum NonceError {
    Unknown,
    Expired,
    Reused,
}

pub struct NonceService {
    key: [u8; 32],
    lifetime: Duration,
    used: DashMap<[u8; RANDOM], u64>,
}

impl NonceService {
    pub fn new(lifetime: Duration) -> NonceService {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        NonceService {
            key,
            lifetime,
            used: DashMap::new(),
        }
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG] {
        let mut out = [0u8; TAG];
        // HMAC accepts keys of any length; new_from_slice cannot fail for a 32-byte key.
        if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) {
            mac.update(body);
            out.copy_from_slice(&mac.finalize().into_bytes()[..TAG]);
        }
        out
    }

    pub fn issue(&self) -> String {
        let mut body = [0u8; RANDOM + 8];
        rand::rngs::OsRng.fill_bytes(&mut body[..RANDOM]);
        body[RANDOM..].copy_from_slice(&Self::now_secs().to_be_bytes());
        let mut all = body.to_vec();
        all.extend_from_slice(&self.tag(&body));
        URL_SAFE_NO_PAD.encode(all)
    }

    /// Check and consume a nonce.
    pub fn consume(&self, nonce: &str) -> Result<(), NonceError> {
        let raw = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| NonceError::Unknown)?;
        if raw.len() != RANDOM + 8 + TAG {
            return Err(NonceError::Unknown);
        }
        let (body, tag) = raw.split_at(RANDOM + 8);
        // Constant-time comparison of the tag.
        let expected = self.tag(body);
        if expected
            .iter()
            .zip(tag)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
        {
            return Err(NonceError::Unknown);
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&body[RANDOM..]);
        let issued = u64::from_be_bytes(issued);
        let expires = issued.saturating_add(self.lifetime.as_secs());
        if Self::now_secs() >= expires {
            return Err(NonceError::Expired);
        }
        let mut id = [0u8; RANDOM];
        id.copy_from_slice(&body[..RANDOM]);
        match self.used.entry(id) {
            dashmap::Entry::Occupied(_) => Err(NonceError::Reused),
            dashmap::Entry::Vacant(v) => {
                v.insert(expires);
                Ok(())
            }
        }
    }

    /// Forget used nonces that have expired anyway (run periodically).
    pub fn prune(&self) {
        let now = Self::now_secs();
        self.used.retain(|_, expires| *expires > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_single_use_and_authenticated() {
        let s = NonceService::new(Duration::from_secs(60));
        let n = s.issue();
        assert_eq!(s.consume(&n), Ok(()));
        assert_eq!(s.consume(&n), Err(NonceError::Reused));
        let other = NonceService::new(Duration::from_secs(60));
        assert_eq!(other.consume(&s.issue()), Err(NonceError::Unknown));
        assert_eq!(s.consume("not-a-nonce"), Err(NonceError::Unknown));
        assert_eq!(s.consume(""), Err(NonceError::Unknown));
    }

    #[test]
    fn expired_nonce_is_refused() {
        let s = NonceService::new(Duration::from_secs(0));
        assert_eq!(s.consume(&s.issue()), Err(NonceError::Expired));
    }
}
