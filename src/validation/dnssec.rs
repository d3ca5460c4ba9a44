//! DNSSEC at start (BR SC-085, REQUIREMENTS §4): a publicly-trusted profile refuses to run
//! without DNSSEC validation once the dated table requires it, and in `validating-resolver`
//! mode every configured resolver must prove it validates by answering the probe name's SOA
//! with AD=1. The mechanism (trust the AD bit of a local validating Unbound) and why are in
//! ARCHITECTURE.md "DNSSEC".

use super::dns_client::DnsClient;
use super::SetupError;
use crate::config::{Config, DnssecMode};
use crate::policy::dated;
use chrono::{DateTime, Utc};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::Name;
use std::time::Duration;

/// Pure: a publicly-trusted profile with `validation.dnssec = "off"` while `policy::dated`
/// requires DNSSEC validation (SC-085, from 2026-03-15) is refused, naming the profile.
pub fn check_publicly_trusted_dnssec(
    config: &Config,
    now: DateTime<Utc>,
) -> Result<(), SetupError> {
    if config.validation.dnssec != DnssecMode::Off || !dated::dnssec_required(now) {
        return Ok(());
    }
    match config.ca.profiles.iter().find(|(_, p)| p.publicly_trusted) {
        Some((name, _)) => Err(SetupError::Dnssec(format!(
            "profile {name:?} is publicly trusted, but validation.dnssec = \"off\": the BRs \
             require DNSSEC validation for CAA and DNS-based validation since 2026-03-15 \
             (SC-085); set validation.dnssec = \"validating-resolver\" and point \
             validation.dns_resolvers at a validating resolver (README \"DNSSEC\")"
        ))),
        None => Ok(()),
    }
}

/// Everything DNSSEC needs at start: the profile check, then (validating mode) the probe of
/// every resolver. `hanko serve` calls this before it accepts requests.
pub async fn check_start(config: &Config, now: DateTime<Utc>) -> Result<(), SetupError> {
    check_publicly_trusted_dnssec(config, now)?;
    let validation = &config.validation;
    if validation.dnssec == DnssecMode::Off {
        if dated::dnssec_required(now) {
            tracing::warn!("DNSSEC validation is OFF (validation.dnssec = \"off\"): private PKI or development only");
        }
        return Ok(());
    }
    // The AD bit is only trustworthy from a resolver the operator names (RFC 6840 5.7):
    // never from whatever /etc/resolv.conf happens to list.
    if validation.dns_resolvers.is_empty() {
        return Err(SetupError::Dnssec(
            "validation.dnssec = \"validating-resolver\" needs validation.dns_resolvers: the \
             validating resolvers whose AD bit hanko trusts"
                .to_string(),
        ));
    }
    let probe = Name::from_ascii(absolute(&validation.dnssec_probe_name)).map_err(|e| {
        SetupError::Dnssec(format!(
            "validation.dnssec_probe_name {:?} is not a DNS name: {e}",
            validation.dnssec_probe_name
        ))
    })?;
    let client = DnsClient::new(Vec::new(), Duration::from_secs(3));
    for server in &validation.dns_resolvers {
        probe_one(&client, *server, &probe, &validation.dnssec_probe_name).await?;
    }
    tracing::info!(resolvers = ?validation.dns_resolvers, probe = %validation.dnssec_probe_name,
                   "DNSSEC: every resolver validates (AD=1 on the probe)");
    Ok(())
}

async fn probe_one(
    client: &DnsClient,
    server: std::net::SocketAddr,
    probe: &Name,
    shown: &str,
) -> Result<(), SetupError> {
    let refuse = |why: String| {
        SetupError::Dnssec(format!(
            "validation.dnssec = \"validating-resolver\", but resolver {server} \
             (validation.dns_resolvers) {why} for SOA {shown} (validation.dnssec_probe_name); \
             it must be a DNSSEC-validating resolver with the trust anchor for that name"
        ))
    };
    let response = client
        .query_server(server, probe, RecordType::SOA, false)
        .await
        .map_err(|e| refuse(format!("did not answer ({e})")))?;
    if response.rcode != ResponseCode::NoError {
        return Err(refuse(format!("answered {}", response.rcode)));
    }
    if !response.authentic_data {
        return Err(refuse("answered without AD=1 (not validated)".to_string()));
    }
    Ok(())
}

fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

#[cfg(test)]
mod tests {
    use super::{check_publicly_trusted_dnssec, check_start};
    use crate::config::{Config, DnssecMode, ProfileConfig};
    use crate::validation::test_support::{dns_server, Zone};
    use chrono::Utc;

    #[tokio::test]
    async fn probe_needs_ad_from_every_resolver() {
        let zone = || Zone::default().with_txt("signed.test", "x");
        let validating = dns_server(zone().with_authentic()).await;
        let plain = dns_server(zone()).await;
        let mut config = config(false, DnssecMode::ValidatingResolver);
        config.validation.dnssec_probe_name = "signed.test".to_string();
        config.validation.dns_resolvers = vec![validating.addr];
        check_start(&config, Utc::now()).await.expect("AD=1 passes");
        config.validation.dns_resolvers = vec![validating.addr, plain.addr];
        let err = check_start(&config, Utc::now())
            .await
            .expect_err("AD=0 refused");
        let text = err.to_string();
        assert!(
            text.contains(&plain.addr.to_string()) && text.contains("AD=1"),
            "{text}"
        );
        config.validation.dns_resolvers.clear();
        assert!(
            check_start(&config, Utc::now()).await.is_err(),
            "no resolver named"
        );
    }

    fn config(publicly_trusted: bool, dnssec: DnssecMode) -> Config {
        let mut config = Config::default();
        config.validation.dnssec = dnssec;
        config.ca.profiles.insert(
            "dv".to_string(),
            ProfileConfig {
                publicly_trusted,
                ..ProfileConfig::default()
            },
        );
        config
    }

    #[test]
    fn publicly_trusted_profile_needs_dnssec_once_required() {
        let after = crate::core::utc(2026, 3, 15, 0, 0, 0);
        let before = crate::core::utc(2026, 3, 14, 23, 59, 59);
        let err = check_publicly_trusted_dnssec(&config(true, DnssecMode::Off), after)
            .expect_err("refused");
        assert!(err.to_string().contains("validation.dnssec"), "{err}");
        assert!(check_publicly_trusted_dnssec(&config(true, DnssecMode::Off), before).is_ok());
        let on = config(true, DnssecMode::ValidatingResolver);
        assert!(check_publicly_trusted_dnssec(&on, after).is_ok());
        assert!(check_publicly_trusted_dnssec(&config(false, DnssecMode::Off), after).is_ok());
    }
}
