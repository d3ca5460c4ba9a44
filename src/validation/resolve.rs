//! DNS for validation and the address policy: one hickory resolver per perspective (BR
//! 3.2.2.9: no DNS cache shared between perspectives), and the refusal of loopback, private,
//! reserved, link-local, multicast and unspecified addresses (DESIGN invariant 6; IANA IPv4/
//! IPv6 Special-Purpose Address Registries, RFC 6890) unless a private-PKI profile allows them.

use super::dns_client::{AnswerData, DnsClient};
use super::evidence::Evidence;
use super::SetupError;
use crate::config::{DnssecMode, ValidationConfig};
use crate::core::{FailureKind, ValidationFailure};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::{ProtoError, ProtoErrorKind};
use hickory_resolver::{Name, ResolveError, TokioResolver};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Ports a validation request may reach (BR 3.2.2.4.19 and the BR definition of "Authorized
/// Ports"). The configured `http01_port` is allowed in addition, so test rigs on high ports
/// can redirect within their own server; production keeps it at 80.
pub const AUTHORIZED_PORTS: [u16; 2] = [80, 443];

/// The resolver a perspective owns plus the address policy applied to what it returns.
pub(crate) struct Dns {
    resolver: TokioResolver,
    allow_private: bool,
    /// In `validating-resolver` mode A/AAAA go through the stub client too, so a bogus
    /// answer is reported as a DNSSEC failure (SC-085) rather than a bare SERVFAIL.
    stub: Option<DnsClient>,
}

/// The addresses a name resolved to, split by the address policy.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    pub all: Vec<IpAddr>,
    pub allowed: Vec<IpAddr>,
    pub refused: Vec<String>,
}

impl Resolved {
    /// The addresses the policy allows, or the failure saying why there are none. Like
    /// Boulder, a name with some public and some reserved addresses is validated over the
    /// public ones only.
    pub fn usable(&self, host: &str) -> Result<&[IpAddr], ValidationFailure> {
        if self.allowed.is_empty() {
            return Err(ValidationFailure::new(
                FailureKind::Dns,
                format!(
                    "no valid IP addresses found for {host}: every address is one the CA may \
                     not connect to ({})",
                    self.refused.join(", ")
                ),
            ));
        }
        Ok(&self.allowed)
    }
}

impl Dns {
    pub fn new(config: &ValidationConfig) -> Result<Dns, SetupError> {
        let stub = match config.dnssec {
            DnssecMode::Off => None,
            DnssecMode::ValidatingResolver => Some(DnsClient::from_config(config)?),
        };
        Ok(Dns {
            resolver: build_resolver(config)?,
            allow_private: config.allow_private_addresses,
            stub,
        })
    }

    /// A and AAAA for `host`, then the address policy. IPv6 first, as Let's Encrypt does, so
    /// a dual-stack host is reached the way most clients will reach it.
    pub async fn addresses(&self, host: &str) -> Result<Resolved, ValidationFailure> {
        let all = match &self.stub {
            Some(stub) => validated_addresses(stub, host).await?,
            None => self.hickory_addresses(host).await?,
        };
        let mut resolved = Resolved::default();
        for ip in all {
            if resolved.all.contains(&ip) {
                continue;
            }
            resolved.all.push(ip);
            match self.refusal(ip) {
                None => resolved.allowed.push(ip),
                Some(why) => resolved.refused.push(format!("{ip} ({why})")),
            }
        }
        Ok(resolved)
    }

    async fn hickory_addresses(&self, host: &str) -> Result<Vec<IpAddr>, ValidationFailure> {
        let name = fqdn(host)?;
        let (v6, v4) = tokio::join!(
            self.resolver.ipv6_lookup(name.clone()),
            self.resolver.ipv4_lookup(name)
        );
        let mut all: Vec<IpAddr> = Vec::new();
        let mut errors = Vec::new();
        match v6 {
            Ok(l) => all.extend(l.iter().map(|r| IpAddr::V6(r.0))),
            Err(e) => errors.push(("AAAA", e)),
        }
        match v4 {
            Ok(l) => all.extend(l.iter().map(|r| IpAddr::V4(r.0))),
            Err(e) => errors.push(("A", e)),
        }
        if all.is_empty() {
            return Err(no_addresses(host, &errors));
        }
        Ok(all)
    }

    /// As `addresses`, recording what was seen in the evidence's top-level fields, and
    /// failing when the policy leaves nothing to connect to.
    pub async fn addresses_into(
        &self,
        host: &str,
        evidence: &mut Evidence,
    ) -> Result<Vec<IpAddr>, ValidationFailure> {
        let resolved = self.addresses(host).await?;
        evidence.addresses_resolved = resolved.all.iter().map(IpAddr::to_string).collect();
        evidence.addresses_refused = resolved.refused.clone();
        resolved.usable(host).map(<[IpAddr]>::to_vec)
    }

    /// Why `ip` is refused, or `None` when the policy lets it through.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_private {
            return None;
        }
        reserved_address_reason(ip)
    }
}

/// An absolute name, so no search domain is ever appended (a validation must query exactly
/// the name being validated).
pub(crate) fn fqdn(host: &str) -> Result<Name, ValidationFailure> {
    Name::from_ascii(format!("{}.", host.trim_end_matches('.'))).map_err(|e| {
        ValidationFailure::new(
            FailureKind::RejectedIdentifier,
            format!("{host:?} is not a valid DNS name: {e}"),
        )
    })
}

/// True when a resolver error only says the name or the record type does not exist
/// (NXDOMAIN, or NOERROR with no answer). hickory reports SERVFAIL, REFUSED and the like as
/// "no records found" too; those are DNS failures, not absence, so they are excluded.
pub(crate) fn is_negative(error: &ResolveError) -> bool {
    let code = match error.proto().map(ProtoError::kind) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => *response_code,
        _ => return false,
    };
    matches!(code, ResponseCode::NXDomain | ResponseCode::NoError)
}

/// AAAA and A through the stub client of a validating resolver. A bogus answer for either
/// family fails the validation even if the other answered: the name's data is not what its
/// zone signed (RFC 4035 5.5).
async fn validated_addresses(
    stub: &DnsClient,
    host: &str,
) -> Result<Vec<IpAddr>, ValidationFailure> {
    let name = fqdn(host)?;
    let (v6, v4) = tokio::join!(
        stub.lookup(&name, RecordType::AAAA, true),
        stub.lookup(&name, RecordType::A, true)
    );
    let mut all = Vec::new();
    let mut failures = Vec::new();
    let mut nx = 0;
    for (lookup, record_type) in [(v6, RecordType::AAAA), (v4, RecordType::A)] {
        match lookup {
            Ok(lookup) => {
                nx += usize::from(lookup.nx_domain());
                all.extend(
                    lookup
                        .response
                        .records_at(&name, record_type)
                        .filter_map(|d| match d {
                            AnswerData::Other(RData::A(a)) => Some(IpAddr::V4(a.0)),
                            AnswerData::Other(RData::AAAA(a)) => Some(IpAddr::V6(a.0)),
                            _ => None,
                        }),
                )
            }
            Err(failure) => failures.push((failure, record_type)),
        }
    }
    if let Some((bogus, record_type)) = failures.iter().find(|(f, _)| f.is_bogus()) {
        return Err(bogus.to_failure(*record_type));
    }
    if !all.is_empty() {
        return Ok(all);
    }
    if let Some((failure, record_type)) = failures.first() {
        return Err(failure.to_failure(*record_type));
    }
    let detail = if nx == 2 {
        format!("DNS problem: NXDOMAIN looking up A/AAAA for {host}")
    } else {
        format!("DNS problem: no A or AAAA records found for {host}")
    };
    Err(ValidationFailure::new(FailureKind::Dns, detail))
}

fn no_addresses(host: &str, errors: &[(&str, ResolveError)]) -> ValidationFailure {
    if !errors.is_empty() && errors.iter().all(|(_, e)| e.is_nx_domain()) {
        return ValidationFailure::new(
            FailureKind::Dns,
            format!("DNS problem: NXDOMAIN looking up A/AAAA for {host}"),
        );
    }
    if errors.iter().all(|(_, e)| is_negative(e)) {
        return ValidationFailure::new(
            FailureKind::Dns,
            format!("DNS problem: no A or AAAA records found for {host}"),
        );
    }
    let details: Vec<String> = errors
        .iter()
        .filter(|(_, e)| !is_negative(e))
        .map(|(t, e)| format!("{t}: {e}"))
        .collect();
    ValidationFailure::new(
        FailureKind::Dns,
        format!("DNS problem looking up {host}: {}", details.join("; ")),
    )
}

fn build_resolver(config: &ValidationConfig) -> Result<TokioResolver, SetupError> {
    let mut builder = if config.dns_resolvers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| SetupError::Resolver(e.to_string()))?
    } else {
        let mut rc = ResolverConfig::new();
        for addr in &config.dns_resolvers {
            // UDP first; TCP for truncated answers and as the fallback on errors.
            rc.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
            rc.add_name_server(NameServerConfig::new(*addr, Protocol::Tcp));
        }
        TokioResolver::builder_with_config(rc, TokioConnectionProvider::default())
    };
    let opts = builder.options_mut();
    // One query may take a third of the attempt budget; two tries fit inside it, leaving time
    // for the connection that follows (DESIGN invariant 6: every outbound call has a timeout).
    let per_query = (config.timeout_seconds.max(1) * 1000 / 3).max(500);
    opts.timeout = Duration::from_millis(per_query);
    opts.attempts = 2;
    opts.try_tcp_on_error = true;
    opts.edns0 = true;
    // Validation must see the zone as it is now: a subscriber fixing a TXT record after a
    // failed attempt must not be refused again from a cached (negative) answer.
    opts.cache_size = 0;
    opts.positive_max_ttl = Some(Duration::ZERO);
    opts.negative_max_ttl = Some(Duration::ZERO);
    // The CA validates through DNS only; a local hosts file is not evidence of control.
    opts.use_hosts_file = ResolveHosts::Never;
    Ok(builder.build())
}

/// Why an address is not one a publicly-trusted CA connects to, or `None` when it is globally
/// reachable. Ranges follow the IANA Special-Purpose Address Registries (RFC 6890 and later).
pub fn reserved_address_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => reserved_v4(v4),
        IpAddr::V6(v6) => reserved_v6(v6),
    }
}

const V4_RESERVED: &[([u8; 4], u32, &str)] = &[
    ([0, 0, 0, 0], 8, "\"this network\", RFC 791"),
    ([10, 0, 0, 0], 8, "private, RFC 1918"),
    ([100, 64, 0, 0], 10, "shared address space, RFC 6598"),
    ([127, 0, 0, 0], 8, "loopback, RFC 1122"),
    ([169, 254, 0, 0], 16, "link-local, RFC 3927"),
    ([172, 16, 0, 0], 12, "private, RFC 1918"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments, RFC 6890"),
    ([192, 0, 2, 0], 24, "documentation, RFC 5737"),
    ([192, 88, 99, 0], 24, "6to4 relay anycast, RFC 7526"),
    ([192, 168, 0, 0], 16, "private, RFC 1918"),
    ([198, 18, 0, 0], 15, "benchmarking, RFC 2544"),
    ([198, 51, 100, 0], 24, "documentation, RFC 5737"),
    ([203, 0, 113, 0], 24, "documentation, RFC 5737"),
    ([224, 0, 0, 0], 4, "multicast, RFC 5771"),
    ([240, 0, 0, 0], 4, "reserved, RFC 1112 (includes broadcast)"),
];

const V6_RESERVED: &[([u16; 8], u32, &str)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified, RFC 4291"),
    ([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback, RFC 4291"),
    ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped, RFC 4291"),
    ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64, RFC 6052"),
    (
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        "local-use NAT64, RFC 8215",
    ),
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only, RFC 6666"),
    (
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments, RFC 2928",
    ),
    (
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        "documentation, RFC 3849",
    ),
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4, RFC 3056"),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation, RFC 9637"),
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "SRv6 SIDs, RFC 9602"),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local, RFC 4193"),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local, RFC 4291"),
    (
        [0xfec0, 0, 0, 0, 0, 0, 0, 0],
        10,
        "site-local (deprecated), RFC 3879",
    ),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast, RFC 4291"),
];

fn reserved_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4_RESERVED.iter().find_map(|(net, len, why)| {
        let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
        (bits & mask == u32::from(Ipv4Addr::from(*net)) & mask).then_some(*why)
    })
}

fn reserved_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    V6_RESERVED.iter().find_map(|(net, len, why)| {
        let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
        (bits & mask == u128::from(Ipv6Addr::from(*net)) & mask).then_some(*why)
    })
}

#[cfg(test)]
mod tests {
    use super::reserved_address_reason;
    use std::net::IpAddr;

    fn reason(s: &str) -> Option<&'static str> {
        reserved_address_reason(s.parse::<IpAddr>().expect("test address"))
    }

    #[test]
    fn reserved_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "172.31.255.255",
            "192.0.2.1",
            "192.168.1.1",
            "198.19.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:8.8.8.8",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(reason(ip).is_some(), "{ip} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert_eq!(reason(ip), None, "{ip} should pass");
        }
    }
}
