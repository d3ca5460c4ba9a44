//! http-01 (RFC 8555 8.3; BR 3.2.2.4.19 "Agreed-Upon Change to Website - ACME"): GET
//! `http://<domain>/.well-known/acme-challenge/<token>` and compare the body, trailing
//! whitespace trimmed, with the key authorization.
//!
//! BR 3.2.2.4.19 rules enforced here: only a 2xx final status counts; redirects are followed
//! by hand, only on 301/302/307/308, only to http or https URLs on Authorized Ports (80, 443,
//! plus the configured `http01_port` so test rigs on high ports work), and at most
//! `http01_max_redirects` of them. Every hop's host is resolved by our resolver and passes the
//! address policy (DESIGN invariant 6) before any connection; IP-literal redirect targets are
//! refused (only domain names are validated, CP 3.2.2.5). https hops do not check the
//! certificate (see `tls.rs`). The body read stops at `http01_max_body_bytes`.

use super::evidence::{Evidence, HttpHop};
use super::perspective::{is_hostname, Context};
use super::resolve::AUTHORIZED_PORTS;
use super::ChallengeCheck;
use crate::core::{FailureKind, ValidationFailure};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::{Host, Url};

const USER_AGENT: &str = concat!("Hanko-Validation/", env!("CARGO_PKG_VERSION"));

/// Path prefix of the challenge resource (RFC 8555 8.3).
const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

pub(crate) async fn validate(
    context: &Context,
    host: &str,
    request: &ChallengeCheck,
    evidence: &mut Evidence,
) -> Result<(), ValidationFailure> {
    let config = &context.config;
    evidence.port = Some(config.http01_port);
    let first = format!(
        "http://{host}:{}{CHALLENGE_PATH}{}",
        config.http01_port, request.token
    );
    let mut url = Url::parse(&first).map_err(|e| {
        ValidationFailure::new(FailureKind::ServerInternal, format!("bad URL {first}: {e}"))
    })?;
    let mut redirects = 0usize;
    loop {
        let response = fetch(context, &url, evidence).await?;
        let status = response.status();
        if is_followed_redirect(status) {
            if redirects >= config.http01_max_redirects {
                return Err(ValidationFailure::new(
                    FailureKind::Unauthorized,
                    format!(
                        "too many redirects: more than {} starting from {first}",
                        config.http01_max_redirects
                    ),
                ));
            }
            url = redirect_target(context, &url, &response)?;
            redirects += 1;
            evidence.redirects_followed = Some(redirects);
            continue;
        }
        if !status.is_success() {
            return Err(ValidationFailure::new(
                FailureKind::Unauthorized,
                format!("invalid response from {url}: HTTP {}", status.as_u16()),
            ));
        }
        let body = read_capped(response, config.http01_max_body_bytes, &url).await?;
        if let Some(hop) = evidence.http_requests.last_mut() {
            hop.body_bytes = Some(body.len());
        }
        return compare_body(&body, &request.key_authorization, &url);
    }
}

/// BR 3.2.2.4.19: redirects "MUST be the result of" 301, 302, 307 or 308.
fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 307 | 308)
}

/// One request: resolve the URL's host, apply the address policy, connect only to the
/// addresses that passed, and record the hop.
async fn fetch(
    context: &Context,
    url: &Url,
    evidence: &mut Evidence,
) -> Result<reqwest::Response, ValidationFailure> {
    let first_hop = evidence.http_requests.is_empty();
    evidence.http_requests.push(HttpHop {
        url: url.to_string(),
        ..HttpHop::default()
    });
    let host = match url.host() {
        Some(Host::Domain(d)) => d.to_string(),
        _ => return Err(failure(FailureKind::Unauthorized, url, "no host name")),
    };
    let resolved = context.dns.addresses(&host).await?;
    let seen: Vec<String> = resolved.all.iter().map(IpAddr::to_string).collect();
    if first_hop {
        evidence.addresses_resolved = seen.clone();
        evidence.addresses_refused = resolved.refused.clone();
    }
    if let Some(hop) = evidence.http_requests.last_mut() {
        hop.addresses_resolved = seen;
        hop.addresses_refused = resolved.refused.clone();
    }
    let client = build_client(context, &host, resolved.usable(&host)?)?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| request_failure(&e, url))?;
    let used = response.remote_addr().map(|a| a.to_string());
    if first_hop {
        evidence.address_used = used.clone();
    }
    if let Some(hop) = evidence.http_requests.last_mut() {
        hop.address_used = used;
        hop.status = Some(response.status().as_u16());
        hop.location = response
            .headers()
            .get(LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    Ok(response)
}

/// A client pinned to the addresses our resolver returned and the policy allowed: reqwest
/// never resolves names itself, so nothing bypasses DESIGN invariant 6. Automatic redirects
/// are off; we follow them by hand under BR 3.2.2.4.19.
fn build_client(
    context: &Context,
    host: &str,
    addresses: &[IpAddr],
) -> Result<reqwest::Client, ValidationFailure> {
    // Port 0: reqwest substitutes the URL's port (or the scheme's default).
    let sockets: Vec<SocketAddr> = addresses.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
    let budget = Duration::from_secs(context.config.timeout_seconds.max(1));
    reqwest::Client::builder()
        .use_preconfigured_tls(context.http_tls.clone())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .http1_only()
        .referer(false)
        .pool_max_idle_per_host(0)
        .user_agent(USER_AGENT)
        .timeout(budget)
        .connect_timeout(budget)
        .resolve_to_addrs(host, &sockets)
        .build()
        .map_err(|e| {
            ValidationFailure::new(FailureKind::ServerInternal, format!("HTTP client: {e}"))
        })
}

/// The next URL of a redirect, checked against BR 3.2.2.4.19 before it is requested.
fn redirect_target(
    context: &Context,
    from: &Url,
    response: &reqwest::Response,
) -> Result<Url, ValidationFailure> {
    let location = response
        .headers()
        .get(LOCATION)
        .ok_or_else(|| {
            failure(
                FailureKind::IncorrectResponse,
                from,
                "redirect without Location",
            )
        })?
        .to_str()
        .map_err(|_| {
            failure(
                FailureKind::IncorrectResponse,
                from,
                "Location is not ASCII",
            )
        })?;
    let next = from.join(location).map_err(|e| {
        failure(
            FailureKind::IncorrectResponse,
            from,
            &format!("bad Location {location:?}: {e}"),
        )
    })?;
    check_redirect(context, &next)?;
    Ok(next)
}

fn check_redirect(context: &Context, next: &Url) -> Result<(), ValidationFailure> {
    let refuse = |why: String| {
        ValidationFailure::new(
            FailureKind::Unauthorized,
            format!("redirect to {next} refused: {why} (BR 3.2.2.4.19)"),
        )
    };
    if !matches!(next.scheme(), "http" | "https") {
        return Err(refuse(format!(
            "scheme {:?}; only http and https are allowed",
            next.scheme()
        )));
    }
    match next.host() {
        Some(Host::Domain(d)) if is_hostname(d) => {}
        Some(Host::Domain(d)) => return Err(refuse(format!("{d:?} is not a valid host name"))),
        Some(_) => return Err(refuse("IP addresses are not validated".to_string())),
        None => return Err(refuse("no host".to_string())),
    }
    let port = next.port_or_known_default().unwrap_or(0);
    if !AUTHORIZED_PORTS.contains(&port) && port != context.config.http01_port {
        return Err(refuse(format!(
            "port {port} is not an Authorized Port (80, 443)"
        )));
    }
    Ok(())
}

/// The body, refusing to read more than `max` bytes (DESIGN invariant 6: size cap).
async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
    url: &Url,
) -> Result<Vec<u8>, ValidationFailure> {
    let too_big = || {
        failure(
            FailureKind::IncorrectResponse,
            url,
            &format!("response body larger than {max} bytes"),
        )
    };
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| request_failure(&e, url))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// RFC 8555 8.3: the body must equal the key authorization after trailing whitespace is
/// trimmed.
fn compare_body(body: &[u8], key_authorization: &str, url: &Url) -> Result<(), ValidationFailure> {
    if body.trim_ascii_end() == key_authorization.as_bytes() {
        return Ok(());
    }
    let seen: String = String::from_utf8_lossy(body).chars().take(64).collect();
    Err(ValidationFailure::new(
        FailureKind::Unauthorized,
        format!(
            "the key authorization file at {url} did not match this challenge: expected \
             {key_authorization:?}, got {seen:?}"
        ),
    ))
}

fn failure(kind: FailureKind, url: &Url, why: &str) -> ValidationFailure {
    ValidationFailure::new(kind, format!("fetching {url}: {why}"))
}

/// Maps a transport error: a TLS failure on an https hop is `tls`; refused, reset or timed
/// out connections are `connection` (RFC 8555 6.7).
fn request_failure(error: &reqwest::Error, url: &Url) -> ValidationFailure {
    let detail = error_chain(error);
    let kind = if error.is_timeout() {
        FailureKind::Connection
    } else if has_tls_error(error) {
        FailureKind::Tls
    } else {
        FailureKind::Connection
    };
    failure(kind, url, &detail)
}

/// "outer: inner: innermost", skipping repeats (reqwest and hyper nest the same text).
pub(crate) fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn has_tls_error(error: &(dyn StdError + 'static)) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = next {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // io::Error hides its payload from `source()`; look inside explicitly.
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return true;
            }
        }
        next = e.source();
    }
    false
}
