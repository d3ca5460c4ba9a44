//! The one place errors become RFC 7807 problem documents with RFC 8555 6.7 error types
//! (DESIGN invariant 7). 5xx bodies carry no internals: the cause goes to the log.

use super::jws::{JwsError, ALLOWED_ALGORITHMS};
use crate::core::{FailureKind, ValidationFailure};
use crate::ra::RaError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

const NS: &str = "urn:ietf:params:acme:error:";

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// RFC 8555 6.7 type without the namespace, e.g. `badNonce`.
    pub kind: &'static str,
    pub detail: String,
    /// Rarely used parts, boxed to keep `Result<_, Problem>` small.
    pub more: Box<Extras>,
}

#[derive(Debug, Default)]
pub struct Extras {
    /// Extra members: `subproblems`, `algorithms`, `instance`.
    pub members: Map<String, Value>,
    pub location: Option<String>,
    pub allow: Option<&'static str>,
    pub terms_link: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            kind,
            detail: detail.into(),
            more: Box::default(),
        }
    }

    pub fn malformed(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "malformed", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "unauthorized", detail)
    }

    pub fn bad_nonce(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "badNonce", detail)
    }

    pub fn not_found(what: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "malformed",
            format!("{what} not found"),
        )
    }

    /// 405 with the methods the resource does support (RFC 9110 15.5.6).
    pub fn method_not_allowed(allow: &'static str) -> Problem {
        let detail = if allow == "POST" {
            "use POST (POST-as-GET for reads, RFC 8555 6.3)".to_string()
        } else {
            format!("this resource supports {allow} only")
        };
        let mut p = Problem::new(StatusCode::METHOD_NOT_ALLOWED, "malformed", detail);
        p.more.allow = Some(allow);
        p
    }

    /// A deactivated (or revoked) account's key: 401 (RFC 8555 7.3.6).
    pub fn account_not_valid(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn unsupported_media_type() -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "malformed",
            "Content-Type must be application/jose+json (RFC 8555 6.2)",
        )
    }

    /// An internal failure: logged in full here, answered without internals.
    pub fn internal(cause: &dyn std::fmt::Display) -> Problem {
        tracing::error!(error = %cause, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "serverInternal",
            "the server could not process the request; the error has been logged",
        )
    }

    pub fn body(&self) -> Value {
        let mut body = self.more.members.clone();
        body.insert("type".into(), json!(format!("{NS}{}", self.kind)));
        body.insert("detail".into(), json!(self.detail));
        body.insert("status".into(), json!(self.status.as_u16()));
        Value::Object(body)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        let mut res = (self.status, body).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(loc) = self
            .more
            .location
            .as_deref()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            h.insert(header::LOCATION, loc);
        }
        if let Some(allow) = self.more.allow {
            h.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(tos) = self.more.terms_link.as_deref() {
            if let Ok(v) = HeaderValue::from_str(&format!("<{tos}>;rel=\"terms-of-service\"")) {
                h.append(header::LINK, v);
            }
        }
        res
    }
}

impl From<JwsError> for Problem {
    fn from(e: JwsError) -> Problem {
        match e {
            JwsError::Malformed(d) => Problem::malformed(d),
            JwsError::BadSignatureAlgorithm(alg) => {
                let mut p = Problem::new(
                    StatusCode::BAD_REQUEST,
                    "badSignatureAlgorithm",
                    format!("JWS algorithm {alg:?} is not supported"),
                );
                p.more
                    .members
                    .insert("algorithms".into(), json!(ALLOWED_ALGORITHMS));
                p
            }
            JwsError::BadPublicKey(d) => Problem::new(StatusCode::BAD_REQUEST, "badPublicKey", d),
            JwsError::BadSignature => Problem::malformed("JWS signature verification failed"),
        }
    }
}

impl From<RaError> for Problem {
    fn from(e: RaError) -> Problem {
        use StatusCode as S;
        match e {
            RaError::Malformed(d) => Problem::malformed(d),
            RaError::Unauthorized(d) => Problem::unauthorized(d),
            RaError::NotFound(d) => Problem::new(S::NOT_FOUND, "malformed", d),
            RaError::AccountNotValid(d) => Problem::account_not_valid(d),
            RaError::AccountDoesNotExist(d) => {
                Problem::new(S::BAD_REQUEST, "accountDoesNotExist", d)
            }
            RaError::OrderNotReady(d) => Problem::new(S::FORBIDDEN, "orderNotReady", d),
            RaError::BadCsr(d) => Problem::new(S::BAD_REQUEST, "badCSR", d),
            RaError::BadPublicKey(d) => Problem::new(S::BAD_REQUEST, "badPublicKey", d),
            RaError::RejectedIdentifier {
                detail,
                subproblems,
            } => {
                // RFC 8555 6.7: an unknown identifier type is unsupportedIdentifier, a known
                // type the policy refuses is rejectedIdentifier; the top-level type is the
                // subproblems' when they agree (6.7.1).
                let all_unsupported =
                    !subproblems.is_empty() && subproblems.iter().all(|r| r.unsupported);
                let kind = |unsupported: bool| match unsupported {
                    true => "unsupportedIdentifier",
                    false => "rejectedIdentifier",
                };
                let mut p = Problem::new(S::BAD_REQUEST, kind(all_unsupported), detail);
                if !subproblems.is_empty() {
                    let subs: Vec<Value> = subproblems
                        .into_iter()
                        .map(|r| {
                            json!({"type": format!("{NS}{}", kind(r.unsupported)),
                                   "detail": r.detail, "identifier": r.identifier})
                        })
                        .collect();
                    p.more.members.insert("subproblems".into(), json!(subs));
                }
                p
            }
            RaError::InvalidContact(d) => Problem::new(S::BAD_REQUEST, "invalidContact", d),
            RaError::UnsupportedContact(d) => Problem::new(S::BAD_REQUEST, "unsupportedContact", d),
            RaError::UserActionRequired { detail, instance } => {
                let mut p = Problem::new(S::FORBIDDEN, "userActionRequired", detail);
                p.more.members.insert("instance".into(), json!(instance));
                p.more.terms_link = Some(instance);
                p
            }
            RaError::BadRevocationReason(d) => {
                Problem::new(S::BAD_REQUEST, "badRevocationReason", d)
            }
            RaError::AlreadyRevoked(d) => Problem::new(S::BAD_REQUEST, "alreadyRevoked", d),
            RaError::InvalidProfile(d) => Problem::new(S::BAD_REQUEST, "invalidProfile", d),
            RaError::Caa(d) => Problem::new(S::FORBIDDEN, "caa", d),
            RaError::Conflict { detail, account_id } => {
                let mut p = Problem::new(S::CONFLICT, "malformed", detail);
                p.more.location = Some(account_id);
                p
            }
            e @ (RaError::Storage(_) | RaError::Internal(_)) => Problem::internal(&e),
        }
    }
}

/// A stored validation failure as the problem document embedded in a challenge or order
/// (RFC 8555 7.1.5, 8.2).
pub fn failure_document(f: &ValidationFailure) -> Value {
    let (kind, status) = match f.kind {
        FailureKind::Dns => ("dns", 400),
        FailureKind::Connection => ("connection", 400),
        FailureKind::IncorrectResponse => ("incorrectResponse", 400),
        FailureKind::Unauthorized => ("unauthorized", 403),
        FailureKind::Tls => ("tls", 400),
        FailureKind::Caa => ("caa", 403),
        FailureKind::RejectedIdentifier => ("rejectedIdentifier", 400),
        FailureKind::ServerInternal => ("serverInternal", 500),
    };
    json!({"type": format!("{NS}{kind}"), "detail": f.detail, "status": status})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Identifier;
    use crate::ra::IdentifierRefusal;

    fn refusal(kind: &str, value: &str) -> IdentifierRefusal {
        IdentifierRefusal {
            identifier: Identifier {
                kind: kind.into(),
                value: value.into(),
            },
            detail: format!("{value} refused"),
            unsupported: kind != "dns" && kind != "ip",
        }
    }

    fn problem(subproblems: Vec<IdentifierRefusal>) -> Problem {
        Problem::from(RaError::RejectedIdentifier {
            detail: "refused".into(),
            subproblems,
        })
    }

    fn sub_types(p: &Problem) -> Vec<String> {
        p.more.members["subproblems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["type"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(NS)
                    .to_string()
            })
            .collect()
    }

    /// RFC 8555 6.7 / 6.7.1: unknown types are unsupportedIdentifier, policy refusals
    /// rejectedIdentifier, and the top level says which when all subproblems agree.
    #[test]
    fn identifier_problem_types_follow_the_subproblems() {
        let unknown = problem(vec![refusal("email", "ops@hanko-ci.com")]);
        assert_eq!(unknown.kind, "unsupportedIdentifier");
        assert_eq!(sub_types(&unknown), ["unsupportedIdentifier"]);

        let policy = problem(vec![refusal("ip", "192.0.2.1")]);
        assert_eq!(policy.kind, "rejectedIdentifier");

        let mixed = problem(vec![
            refusal("email", "ops@hanko-ci.com"),
            refusal("dns", "localhost"),
        ]);
        assert_eq!(mixed.kind, "rejectedIdentifier");
        assert_eq!(
            sub_types(&mixed),
            ["unsupportedIdentifier", "rejectedIdentifier"]
        );
        assert_eq!(problem(Vec::new()).kind, "rejectedIdentifier");
    }

    /// A CAA refusal at finalize is RFC 8555's `caa` problem (6.7), 403.
    #[test]
    fn caa_refusal_is_the_caa_problem() {
        let p = Problem::from(RaError::Caa("CAA record for x prevents issuance".into()));
        assert_eq!(p.kind, "caa");
        assert_eq!(p.status, StatusCode::FORBIDDEN);
    }
}
