//! Status values and the transitions RFC 8555 7.1.6 allows. Every status change in `ra` goes
//! through `transition`, so an impossible change is an error rather than a silent write.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatusError {
    #[error("{what}: transition {from} -> {to} is not allowed by RFC 8555 7.1.6")]
    Transition {
        what: &'static str,
        from: String,
        to: String,
    },
    #[error("unknown {what} status {value:?}")]
    Unknown { what: &'static str, value: String },
}

macro_rules! status_enum {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = StatusError;
            fn from_str(s: &str) -> Result<Self, StatusError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(StatusError::Unknown { what: $what, value: s.to_string() }),
                }
            }
        }
    };
}

status_enum!(AccountStatus, "account", {
    Valid => "valid", Deactivated => "deactivated", Revoked => "revoked",
});
status_enum!(OrderStatus, "order", {
    Pending => "pending", Ready => "ready", Processing => "processing",
    Valid => "valid", Invalid => "invalid",
});
status_enum!(AuthzStatus, "authorization", {
    Pending => "pending", Valid => "valid", Invalid => "invalid",
    Deactivated => "deactivated", Expired => "expired", Revoked => "revoked",
});
status_enum!(ChallengeStatus, "challenge", {
    Pending => "pending", Processing => "processing", Valid => "valid", Invalid => "invalid",
});
status_enum!(ChallengeType, "challenge type", {
    Http01 => "http-01", Dns01 => "dns-01", TlsAlpn01 => "tls-alpn-01",
});

fn refuse<T: fmt::Display>(what: &'static str, from: T, to: T) -> StatusError {
    StatusError::Transition {
        what,
        from: from.to_string(),
        to: to.to_string(),
    }
}

impl AccountStatus {
    /// RFC 8555 7.1.6: valid -> deactivated (client) or revoked (server); both final.
    pub fn transition(self, to: AccountStatus) -> Result<AccountStatus, StatusError> {
        use AccountStatus::*;
        match (self, to) {
            (Valid, Deactivated) | (Valid, Revoked) => Ok(to),
            _ => Err(refuse("account", self, to)),
        }
    }
}

impl OrderStatus {
    /// RFC 8555 7.1.6: pending -> ready (all authorizations valid) -> processing (finalize)
    /// -> valid (certificate issued); pending/ready/processing -> invalid on error/expiry.
    pub fn transition(self, to: OrderStatus) -> Result<OrderStatus, StatusError> {
        use OrderStatus::*;
        match (self, to) {
            (Pending, Ready) | (Ready, Processing) | (Processing, Valid) => Ok(to),
            (Pending, Invalid) | (Ready, Invalid) | (Processing, Invalid) => Ok(to),
            _ => Err(refuse("order", self, to)),
        }
    }
}

impl AuthzStatus {
    /// RFC 8555 7.1.6: pending -> valid | invalid; pending or valid -> expired | deactivated
    /// | revoked.
    pub fn transition(self, to: AuthzStatus) -> Result<AuthzStatus, StatusError> {
        use AuthzStatus::*;
        match (self, to) {
            (Pending, Valid) | (Pending, Invalid) => Ok(to),
            (Pending | Valid, Expired | Deactivated | Revoked) => Ok(to),
            _ => Err(refuse("authorization", self, to)),
        }
    }
}

impl ChallengeStatus {
    /// RFC 8555 7.1.6: pending -> processing (client responds) -> valid | invalid. A pending
    /// challenge may also become invalid when its authorization fails through another path.
    pub fn transition(self, to: ChallengeStatus) -> Result<ChallengeStatus, StatusError> {
        use ChallengeStatus::*;
        match (self, to) {
            (Pending, Processing) | (Processing, Valid) | (Processing, Invalid) => Ok(to),
            (Pending, Invalid) => Ok(to),
            _ => Err(refuse("challenge", self, to)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_machine_follows_rfc8555_7_1_6() {
        use OrderStatus::*;
        assert!(Pending.transition(Ready).is_ok());
        assert!(Ready.transition(Processing).is_ok());
        assert!(Processing.transition(Valid).is_ok());
        assert!(Pending.transition(Processing).is_err());
        assert!(Pending.transition(Valid).is_err());
        assert!(Valid.transition(Invalid).is_err());
        assert!(Invalid.transition(Pending).is_err());
    }

    #[test]
    fn authz_and_challenge_machines() {
        assert!(AuthzStatus::Valid
            .transition(AuthzStatus::Deactivated)
            .is_ok());
        assert!(AuthzStatus::Invalid.transition(AuthzStatus::Valid).is_err());
        assert!(AuthzStatus::Deactivated
            .transition(AuthzStatus::Valid)
            .is_err());
        assert!(ChallengeStatus::Valid
            .transition(ChallengeStatus::Processing)
            .is_err());
        assert!(ChallengeStatus::Pending
            .transition(ChallengeStatus::Valid)
            .is_err());
        assert!(AccountStatus::Deactivated
            .transition(AccountStatus::Valid)
            .is_err());
    }

    #[test]
    fn status_round_trips_through_text() {
        for s in ["pending", "ready", "processing", "valid", "invalid"] {
            assert_eq!(s.parse::<OrderStatus>().map(|o| o.as_str()), Ok(s));
        }
        assert_eq!("tls-alpn-01".parse(), Ok(ChallengeType::TlsAlpn01));
        assert!("bogus".parse::<ChallengeType>().is_err());
    }
}
