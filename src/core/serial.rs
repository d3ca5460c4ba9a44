//! Certificate serial numbers (CP 7.1, BR 7.1): positive, below 2^159, at least 64 bits of
//! CSPRNG output, non-sequential.

use std::fmt;

/// A serial number as the DER INTEGER content octets (big-endian, minimal, positive).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// Length of a generated serial: 1 fixed prefix byte + 18 random bytes = 152 bits, below
    /// 2^159, with 144 bits from the CSPRNG (well above the 64 the BR ask for).
    pub const RANDOM_BYTES: usize = 18;

    /// A fresh random serial. The first octet is fixed to 0x01..=0x7f so the value is positive
    /// without a leading zero octet and always the same length.
    pub fn random() -> Self {
        use rand::RngCore;
        let mut bytes = vec![0u8; Self::RANDOM_BYTES + 1];
        rand::rngs::OsRng.fill_bytes(&mut bytes[1..]);
        // 0x01..=0x7f keeps the INTEGER positive and minimal; vary it too.
        bytes[0] = 1 + (bytes[1] % 0x7f);
        Serial(bytes)
    }

    /// Parse from DER INTEGER content octets; rejects zero, negative and non-minimal values.
    pub fn from_der_bytes(bytes: &[u8]) -> Option<Self> {
        let first = *bytes.first()?;
        if first & 0x80 != 0 {
            return None;
        }
        if first == 0 && (bytes.len() == 1 || bytes[1] & 0x80 == 0) {
            return None;
        }
        if bytes.len() > 20 {
            return None;
        }
        Some(Serial(bytes.to_vec()))
    }

    pub fn from_hex(hex_str: &str) -> Option<Self> {
        let bytes = hex::decode(hex_str).ok()?;
        Self::from_der_bytes(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lower-case hex of the DER content octets: the key used in storage and URLs.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({})", self.to_hex())
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_positive_below_2_159_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let s = Serial::random();
            assert_eq!(s.as_bytes().len(), 19);
            assert!(s.as_bytes()[0] >= 1 && s.as_bytes()[0] <= 0x7f);
            assert!(Serial::from_der_bytes(s.as_bytes()).is_some());
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn rejects_zero_negative_and_padded() {
        assert!(Serial::from_der_bytes(&[0]).is_none());
        assert!(Serial::from_der_bytes(&[0x80, 1]).is_none());
        assert!(Serial::from_der_bytes(&[0, 1]).is_none());
        assert!(Serial::from_der_bytes(&[0, 0x80]).is_some());
    }
}
