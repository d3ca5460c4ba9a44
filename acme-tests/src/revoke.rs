//! Issuing a certificate with a chosen key and revoking it through ACME revokeCert
//! (RFC 8555 7.6), shared by the revocation and CRL tests.

use crate::acme_client::{b64, json_payload, leaf_der, Account, Key, KeyId, Resp};
use crate::http01::Http01Responder;
use crate::rig::Rig;
use anyhow::{bail, Context, Result};
use serde_json::json;

/// An issued certificate: serial (hex, from its URL), DER, and the chain as downloaded.
pub struct Issued {
    pub serial: String,
    pub der: Vec<u8>,
    pub chain_pem: String,
}

/// Issue a certificate for `host.hanko-ci.com` whose key is `key` (http-01 on `responder`).
pub async fn issue(
    account: &Account,
    responder: &Http01Responder,
    host: &str,
    key: &rcgen::KeyPair,
) -> Result<Issued> {
    let name = Rig::name(host);
    let (_, order_url) = account.create_order(&[&name]).await.context("order")?;
    let order = account
        .make_ready(responder, &order_url)
        .await
        .context("authorizations")?;
    let csr = crate::pki::csr_der(key, &[&name]).context("csr")?;
    let rsp = account.finalize(&order, &csr).await.context("finalize")?;
    if rsp.status != 200 {
        bail!("finalize {name}:\n{rsp}");
    }
    let order = account
        .poll_status(&order_url, &["ready", "processing"])
        .await
        .context("poll order")?;
    let Some(url) = order.str("certificate") else {
        bail!("order for {name} has no certificate:\n{order}");
    };
    let serial = url.rsplit('/').next().unwrap_or_default().to_string();
    let chain = account.post_as_get(url).await.context("download")?;
    if chain.status != 200 {
        bail!("certificate download:\n{chain}");
    }
    Ok(Issued {
        serial,
        der: leaf_der(&chain.text).context("leaf")?,
        chain_pem: chain.text,
    })
}

/// revokeCert signed by the account (`kid`), with `reason` when given.
pub async fn revoke_by_account(
    account: &Account,
    cert: &Issued,
    reason: Option<i64>,
) -> Result<Resp> {
    let mut payload = json!({"certificate": b64(&cert.der)});
    if let Some(r) = reason {
        payload["reason"] = json!(r);
    }
    let url = account.client.url("revokeCert");
    account.post(&url, Some(&payload)).await
}

/// revokeCert signed by the certificate's key (`jwk`).
pub async fn revoke_by_key(
    account: &Account,
    cert: &Issued,
    key: &rcgen::KeyPair,
    reason: i64,
) -> Result<Resp> {
    let key = Key::from_rcgen(key)?;
    let url = account.client.url("revokeCert");
    let payload = json!({"certificate": b64(&cert.der), "reason": reason});
    account
        .client
        .post_signed(&url, &key, KeyId::Jwk, &json_payload(&payload), |_| {})
        .await
}
