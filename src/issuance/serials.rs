//! Identities fixed when a serial is reserved (`ra::orders::finalize`) and written into
//! the certificate by `tbs` (the CRLDP shard), then read by `revocation` (CRL shards, OCSP):
//! a serial's CRL shard and the issuer's id. They live here, with `Issuer` and the
//! certificate bytes, because both `ra` and `revocation` already depend on `issuance` and
//! `issuance` depends on neither.

use super::Issuer;
use crate::core::Serial;

/// The shard a serial belongs to (CP 4.9.7): stable for a given shard count, spread evenly
/// because serials are random. Chosen once at reservation and stored with the serial
/// (`serials.crl_shard`), so a later change of `crl.shards` never moves a certificate.
pub fn shard_of(serial: &Serial, shards: u32) -> u32 {
    let bytes = serial.as_bytes();
    // Skip the first octet: `Serial::random` derives it from the second.
    let tail = bytes.get(1..).unwrap_or(bytes);
    let mut acc = [0u8; 8];
    for (slot, b) in acc.iter_mut().zip(tail.iter()) {
        *slot = *b;
    }
    (u64::from_be_bytes(acc) % u64::from(shards.max(1))) as u32
}

/// The issuer's identity in `serials.issuer_id`, `revoked_certificates` and `crl_shards`:
/// the SHA-256 (hex) of its canonical SubjectPublicKeyInfo, the hash `blocked_keys` and
/// `certificates.key_hash` use for every key (`policy::keys::key_hash`).
pub fn issuer_id(issuer: &Issuer) -> String {
    crate::policy::keys::key_hash(&issuer.signer.public_key_der())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        let mut counts = [0u32; 8];
        for _ in 0..8000 {
            let serial = Serial::random();
            let shard = shard_of(&serial, 8);
            assert_eq!(shard, shard_of(&serial, 8));
            counts[shard as usize] += 1;
        }
        // 1000 expected per shard; a uniform spread stays well inside ±25%.
        assert!(counts.iter().all(|c| (750..1250).contains(c)), "{counts:?}");
        assert_eq!(shard_of(&Serial::random(), 1), 0);
    }
}
