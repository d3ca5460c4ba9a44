//! JSON resources (RFC 8555 7.1) from RA views.

use super::problem::failure_document;
use crate::ra::{AccountView, AuthorizationView, ChallengeView, OrderView};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

pub struct Urls {
    pub base: String,
}

impl Urls {
    pub fn account(&self, id: &str) -> String {
        crate::config::account_url(&self.base, id)
    }
    pub fn orders(&self, account_id: &str) -> String {
        format!("{}/acme/acct/{account_id}/orders", self.base)
    }
    pub fn order(&self, id: &str) -> String {
        format!("{}/acme/order/{id}", self.base)
    }
    pub fn finalize(&self, id: &str) -> String {
        format!("{}/acme/order/{id}/finalize", self.base)
    }
    pub fn authz(&self, id: &str) -> String {
        format!("{}/acme/authz/{id}", self.base)
    }
    pub fn challenge(&self, id: &str) -> String {
        format!("{}/acme/chall/{id}", self.base)
    }
    pub fn certificate(&self, serial: &str) -> String {
        format!("{}/acme/cert/{serial}", self.base)
    }
    pub fn directory(&self) -> String {
        format!("{}/directory", self.base)
    }
    pub fn path(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn account(urls: &Urls, a: &AccountView) -> Value {
    json!({
        "status": a.status.as_str(),
        "contact": a.contact,
        "termsOfServiceAgreed": true,
        "orders": urls.orders(&a.id),
        "createdAt": ts(a.created_at),
    })
}

pub fn order(urls: &Urls, o: &OrderView) -> Value {
    let mut v = json!({
        "status": o.status.as_str(),
        "expires": ts(o.expires),
        "identifiers": o.identifiers,
        "authorizations": o.authz_ids.iter().map(|a| urls.authz(a)).collect::<Vec<_>>(),
        "finalize": urls.finalize(&o.id),
        "profile": o.profile,
    });
    if let Some(serial) = &o.certificate_serial {
        v["certificate"] = json!(urls.certificate(serial));
    }
    if let Some(e) = &o.error {
        v["error"] = failure_document(e);
    }
    v
}

pub fn authorization(urls: &Urls, a: &AuthorizationView) -> Value {
    json!({
        "identifier": a.identifier,
        "status": a.status.as_str(),
        "expires": ts(a.expires),
        "challenges": a.challenges.iter().map(|c| challenge(urls, c)).collect::<Vec<_>>(),
    })
}

pub fn challenge(urls: &Urls, c: &ChallengeView) -> Value {
    let mut v = json!({
        "type": c.kind.as_str(),
        "url": urls.challenge(&c.id),
        "status": c.status.as_str(),
        "token": c.token,
    });
    if let Some(t) = c.validated {
        v["validated"] = json!(ts(t));
    }
    if let Some(e) = &c.error {
        v["error"] = failure_document(e);
    }
    v
}
