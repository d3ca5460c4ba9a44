//! The wire protocol between the primary and a remote perspective: `POST /v1/validate` with
//! a `WireRequest`, answered by a `WireResponse`. Both are JSON objects with no unknown
//! members, so a version mismatch fails loudly instead of validating something else.

use crate::core::{ChallengeType, FailureKind, Identifier, ValidationFailure};
use crate::validation::{CaaParams, ChallengeCheck, Outcome, ValidationRequest};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WireRequest {
    pub identifier: Identifier,
    pub challenge: Option<WireChallenge>,
    pub caa: Option<CaaParams>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WireChallenge {
    /// The ACME challenge type name (`http-01`, `dns-01`, `tls-alpn-01`).
    #[serde(rename = "type")]
    pub challenge_type: String,
    pub token: String,
    pub key_authorization: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WireResponse {
    /// The answering perspective's configured id (the primary checks it).
    pub id: String,
    pub rir: String,
    pub result: WireResult,
    /// The perspective's evidence object (CPS 5.5), recorded by the primary as is.
    pub evidence: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "lowercase", deny_unknown_fields)]
pub enum WireResult {
    Ok,
    Failure { kind: FailureKind, detail: String },
}

impl From<&ValidationRequest> for WireRequest {
    fn from(request: &ValidationRequest) -> Self {
        WireRequest {
            identifier: request.identifier.clone(),
            challenge: request.challenge.as_ref().map(|c| WireChallenge {
                challenge_type: c.challenge_type.as_str().to_string(),
                token: c.token.clone(),
                key_authorization: c.key_authorization.clone(),
            }),
            caa: request.caa.clone(),
        }
    }
}

impl WireRequest {
    /// The request to run locally; an unknown challenge type is refused.
    pub fn into_request(self) -> Result<ValidationRequest, String> {
        let challenge = match self.challenge {
            None => None,
            Some(c) => Some(ChallengeCheck {
                challenge_type: c
                    .challenge_type
                    .parse::<ChallengeType>()
                    .map_err(|e| e.to_string())?,
                token: c.token,
                key_authorization: c.key_authorization,
            }),
        };
        Ok(ValidationRequest {
            identifier: self.identifier,
            challenge,
            caa: self.caa,
        })
    }
}

impl WireResponse {
    pub fn from_outcome(id: &str, rir: &str, outcome: Outcome) -> Self {
        WireResponse {
            id: id.to_string(),
            rir: rir.to_string(),
            result: match outcome.result {
                Ok(()) => WireResult::Ok,
                Err(f) => WireResult::Failure {
                    kind: f.kind,
                    detail: f.detail,
                },
            },
            evidence: outcome.evidence,
        }
    }

    pub fn result(&self) -> Result<(), ValidationFailure> {
        match &self.result {
            WireResult::Ok => Ok(()),
            WireResult::Failure { kind, detail } => {
                Err(ValidationFailure::new(*kind, detail.clone()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_through_json() {
        let request = ValidationRequest {
            identifier: Identifier::dns("a.example"),
            challenge: Some(ChallengeCheck {
                challenge_type: ChallengeType::Dns01,
                token: "tok".into(),
                key_authorization: "tok.thumb".into(),
            }),
            caa: Some(CaaParams {
                issuer_domains: vec!["ca.example".into()],
                account_uri: "https://ca.example/acct/1".into(),
                method: "dns-01".into(),
                wildcard: false,
            }),
        };
        let json = serde_json::to_string(&WireRequest::from(&request)).expect("json");
        assert!(json.contains(r#""type":"dns-01""#), "{json}");
        let back: WireRequest = serde_json::from_str(&json).expect("parse");
        let back = back.into_request().expect("request");
        assert_eq!(back.identifier, request.identifier);
        assert_eq!(back.caa, request.caa);
        let c = back.challenge.expect("challenge");
        assert_eq!(c.challenge_type, ChallengeType::Dns01);
        assert_eq!(c.key_authorization, "tok.thumb");
    }

    #[test]
    fn unknown_members_and_challenge_types_are_refused() {
        let extra =
            r#"{"identifier":{"type":"dns","value":"a"},"challenge":null,"caa":null,"x":1}"#;
        assert!(serde_json::from_str::<WireRequest>(extra).is_err());
        let bad = r#"{"identifier":{"type":"dns","value":"a"},"caa":null,
                      "challenge":{"type":"email-01","token":"t","key_authorization":"k"}}"#;
        let parsed: WireRequest = serde_json::from_str(bad).expect("parse");
        assert!(parsed.into_request().is_err());
    }

    #[test]
    fn failure_answers_round_trip() {
        let r = WireResponse {
            id: "p1".into(),
            rir: "RIPE".into(),
            result: WireResult::Failure {
                kind: FailureKind::IncorrectResponse,
                detail: "wrong".into(),
            },
            evidence: serde_json::json!({}),
        };
        let json = serde_json::to_string(&r).expect("json");
        assert!(json.contains(r#""status":"failure""#), "{json}");
        let back: WireResponse = serde_json::from_str(&json).expect("parse");
        assert_eq!(
            back.result().unwrap_err().kind,
            FailureKind::IncorrectResponse
        );
    }
}
