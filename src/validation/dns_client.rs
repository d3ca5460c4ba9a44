//! Our own small stub DNS client for the lookups whose DNSSEC status matters (CAA, BR
//! 3.2.2.8; dns-01 TXT, BR 3.2.2.4.7; SC-085). hickory-resolver hides the response header, so
//! it can neither report the AD bit nor ask again with CD=1; this client can. It asks the
//! configured recursive resolver with RD=1 and AD=1 (RFC 6840 5.7: AD in a query asks the
//! resolver to report AD without requesting DNSSEC records), over UDP with an id and question
//! check (RFC 5452 9.1), falling back to TCP when the answer is truncated (RFC 7766 5).
//!
//! Answer records are decoded by hickory-proto except CAA, whose RDATA is kept as raw octets:
//! hickory's CAA parser rejects tags and values that RFC 8659 4.1/4.2 says must simply fail to
//! match, and one such record would otherwise make the whole answer unreadable.

use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::op::{Edns, Header, Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{DNSClass, RData, RecordType};
use hickory_resolver::proto::serialize::binary::{BinDecodable, BinDecoder, Restrict};
use hickory_resolver::Name;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// EDNS UDP payload size advertised (the DNS Flag Day 2020 value, avoiding IP fragmentation).
const UDP_PAYLOAD: u16 = 1232;
/// Largest TCP answer read (the 16-bit length prefix allows no more, RFC 1035 4.2.2).
const MAX_TCP: usize = 65535;

/// One answer-section record: decoded data, or the raw RDATA of a CAA record.
#[derive(Debug, Clone)]
pub(crate) enum AnswerData {
    Caa(Vec<u8>),
    Other(RData),
}

#[derive(Debug, Clone)]
pub(crate) struct AnswerRecord {
    pub name: Name,
    pub record_type: RecordType,
    pub data: AnswerData,
}

/// What the resolver answered.
#[derive(Debug, Clone)]
pub(crate) struct DnsResponse {
    pub rcode: ResponseCode,
    /// AD bit: the resolver validated the answer with DNSSEC (RFC 4035 3.2.3).
    pub authentic_data: bool,
    pub answers: Vec<AnswerRecord>,
    /// The resolver that answered.
    pub server: SocketAddr,
}

impl DnsResponse {
    /// The owner name at the end of the CNAME chain that starts at `name` (RFC 1034 3.6.2:
    /// the resolver returns the chain, then the records of the type asked at its end).
    pub fn canonical_name(&self, name: &Name) -> Name {
        let mut current = name.clone();
        // A chain longer than the answer itself would be a loop; stop there.
        for _ in 0..=self.answers.len() {
            let next = self.answers.iter().find_map(|r| match &r.data {
                AnswerData::Other(RData::CNAME(target)) if r.name == current => {
                    Some(target.0.clone())
                }
                _ => None,
            });
            match next {
                Some(target) => current = target,
                None => break,
            }
        }
        current
    }

    /// The CNAME targets followed from `name`, in order.
    pub fn aliases(&self, name: &Name) -> Vec<String> {
        let mut seen = Vec::new();
        let mut current = name.clone();
        for _ in 0..self.answers.len() {
            let next = self.answers.iter().find_map(|r| match &r.data {
                AnswerData::Other(RData::CNAME(target)) if r.name == current => {
                    Some(target.0.clone())
                }
                _ => None,
            });
            let Some(target) = next else { break };
            seen.push(target.to_ascii());
            current = target;
        }
        seen
    }

    /// Records of `record_type` owned by the end of `name`'s CNAME chain.
    pub fn records_at<'a>(
        &'a self,
        name: &Name,
        record_type: RecordType,
    ) -> impl Iterator<Item = &'a AnswerData> + 'a {
        let owner = self.canonical_name(name);
        self.answers
            .iter()
            .filter(move |r| r.record_type == record_type && r.name == owner)
            .map(|r| &r.data)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum DnsError {
    #[error("timed out after {0} ms")]
    Timeout(u128),
    #[error("network error: {0}")]
    Io(String),
    #[error("malformed answer: {0}")]
    Malformed(String),
    #[error("no resolver configured")]
    NoResolver,
}

/// The stub client: the resolvers to ask, in order, and the per-query timeout.
#[derive(Debug, Clone)]
pub(crate) struct DnsClient {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl DnsClient {
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration) -> DnsClient {
        DnsClient { servers, timeout }
    }

    /// Asks each resolver in turn until one answers; the last error otherwise. A SERVFAIL is
    /// an answer (the caller decides whether to retry or ask with CD=1).
    pub async fn query(
        &self,
        name: &Name,
        record_type: RecordType,
        checking_disabled: bool,
    ) -> Result<DnsResponse, DnsError> {
        let mut last = DnsError::NoResolver;
        for server in &self.servers {
            match self
                .query_server(*server, name, record_type, checking_disabled)
                .await
            {
                Ok(response) => return Ok(response),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// One question to one resolver: UDP, then TCP when the UDP answer is truncated.
    pub async fn query_server(
        &self,
        server: SocketAddr,
        name: &Name,
        record_type: RecordType,
        checking_disabled: bool,
    ) -> Result<DnsResponse, DnsError> {
        let id: u16 = rand::random();
        let packet = build_query(id, name, record_type, checking_disabled)?;
        let timeout = self.timeout;
        let udp = tokio::time::timeout(
            timeout,
            exchange_udp(server, &packet, id, name, record_type),
        )
        .await
        .map_err(|_| DnsError::Timeout(timeout.as_millis()))??;
        let (header, answers) = match udp {
            Some(parsed) => parsed,
            None => tokio::time::timeout(
                timeout,
                exchange_tcp(server, &packet, id, name, record_type),
            )
            .await
            .map_err(|_| DnsError::Timeout(timeout.as_millis()))??,
        };
        Ok(DnsResponse {
            rcode: header.response_code(),
            authentic_data: header.authentic_data(),
            answers,
            server,
        })
    }
}

fn build_query(
    id: u16,
    name: &Name,
    record_type: RecordType,
    checking_disabled: bool,
) -> Result<Vec<u8>, DnsError> {
    let mut message = Message::new();
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .set_authentic_data(true)
        .set_checking_disabled(checking_disabled)
        .add_query(Query::query(name.clone(), record_type))
        .set_edns(edns);
    message
        .to_vec()
        .map_err(|e| DnsError::Malformed(format!("building the query: {e}")))
}

type Parsed = (Header, Vec<AnswerRecord>);

/// `None` when the answer is truncated (TC=1) and TCP must be used.
async fn exchange_udp(
    server: SocketAddr,
    packet: &[u8],
    id: u16,
    name: &Name,
    record_type: RecordType,
) -> Result<Option<Parsed>, DnsError> {
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(bind).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(packet).await.map_err(io)?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        // A datagram with the wrong id or question is not our answer (RFC 5452 9.1): keep
        // waiting for the right one until the timeout.
        let Ok((header, answers)) = parse_response(&buf[..n], id, name, record_type) else {
            continue;
        };
        if header.truncated() {
            return Ok(None);
        }
        return Ok(Some((header, answers)));
    }
}

async fn exchange_tcp(
    server: SocketAddr,
    packet: &[u8],
    id: u16,
    name: &Name,
    record_type: RecordType,
) -> Result<Parsed, DnsError> {
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len = u16::try_from(packet.len())
        .map_err(|_| DnsError::Malformed("query too long".to_string()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await.map_err(io)?;
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await.map_err(io)?;
    let len = usize::from(u16::from_be_bytes(prefix)).min(MAX_TCP);
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await.map_err(io)?;
    parse_response(&buf, id, name, record_type)
}

fn io(e: std::io::Error) -> DnsError {
    DnsError::Io(e.to_string())
}

/// Header, question check and the answer section (authority and additional are not needed).
pub(crate) fn parse_response(
    bytes: &[u8],
    id: u16,
    name: &Name,
    record_type: RecordType,
) -> Result<Parsed, DnsError> {
    let bad = |what: &str| DnsError::Malformed(what.to_string());
    let mut decoder = BinDecoder::new(bytes);
    let header = Header::read(&mut decoder).map_err(|e| bad(&format!("header: {e}")))?;
    if header.id() != id || header.message_type() != MessageType::Response {
        return Err(bad("not the answer to our query (id)"));
    }
    if header.query_count() != 1 {
        return Err(bad("answer does not carry exactly one question"));
    }
    let question = Query::read(&mut decoder).map_err(|e| bad(&format!("question: {e}")))?;
    if question.name() != name
        || question.query_type() != record_type
        || question.query_class() != DNSClass::IN
    {
        return Err(bad("answer is for another question"));
    }
    let mut answers = Vec::with_capacity(usize::from(header.answer_count()));
    for _ in 0..header.answer_count() {
        answers.push(read_record(&mut decoder)?);
    }
    Ok((header, answers))
}

/// One resource record (RFC 1035 4.1.3), CAA RDATA kept raw.
fn read_record(decoder: &mut BinDecoder<'_>) -> Result<AnswerRecord, DnsError> {
    let bad = |e: String| DnsError::Malformed(format!("answer record: {e}"));
    let name = Name::read(decoder).map_err(|e| bad(e.to_string()))?;
    let record_type = RecordType::from(
        decoder
            .read_u16()
            .map_err(|e| bad(e.to_string()))?
            .unverified(/* any type value is representable */),
    );
    let _class = decoder.read_u16().map_err(|e| bad(e.to_string()))?;
    let _ttl = decoder.read_u32().map_err(|e| bad(e.to_string()))?;
    let length = decoder
        .read_u16()
        .map_err(|e| bad(e.to_string()))?
        .unverified(/* bounded by read_vec / RData::read against the buffer */);
    let data = if record_type == RecordType::CAA {
        let raw = decoder
            .read_vec(usize::from(length))
            .map_err(|e| bad(e.to_string()))?
            .unverified(/* kept raw, parsed by caa::parse_rdata */);
        AnswerData::Caa(raw)
    } else {
        let rdata = RData::read(decoder, record_type, Restrict::new(length))
            .map_err(|e| bad(e.to_string()))?;
        AnswerData::Other(rdata)
    };
    Ok(AnswerRecord {
        name,
        record_type,
        data,
    })
}

/// The DNSSEC status of one answer as the validating resolver reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Dnssec {
    /// AD=1 from a validating resolver.
    Secure,
    /// AD=0 from a validating resolver: the zone is not signed to a trust anchor.
    Insecure,
    /// `validation.dnssec = "off"`: nobody checked.
    Unchecked,
}

impl Dnssec {
    /// The weaker of two statuses (a chain of lookups is only as secure as its weakest one).
    pub fn min(self, other: Dnssec) -> Dnssec {
        use Dnssec::*;
        match (self, other) {
            (Unchecked, _) | (_, Unchecked) => Unchecked,
            (Insecure, _) | (_, Insecure) => Insecure,
            _ => Secure,
        }
    }
}

/// A lookup that got a usable answer (NOERROR or NXDOMAIN).
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    pub response: DnsResponse,
    pub dnssec: Dnssec,
    /// Queries sent before this answer (1, or 2 after a retry).
    pub attempts: u32,
}

impl Lookup {
    pub fn nx_domain(&self) -> bool {
        self.response.rcode == ResponseCode::NXDomain
    }
}

/// A lookup that failed even after the retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupFailure {
    /// The resolver answered SERVFAIL, and with CD=1 it answered: the data exists but fails
    /// DNSSEC validation (RFC 4035 5.5). Never a permission (BR 3.2.2.8).
    Bogus { name: String },
    /// SERVFAIL, REFUSED, timeout, malformed answer… (the `why`).
    Failed { name: String, why: String },
}

impl LookupFailure {
    /// The `dns` failure a subscriber sees (RFC 8555 6.7 `dns`).
    pub fn to_failure(&self, record_type: RecordType) -> crate::core::ValidationFailure {
        use crate::core::{FailureKind, ValidationFailure};
        let detail = match self {
            LookupFailure::Bogus { name } => format!(
                "DNS problem: DNSSEC validation failed for {name} (the {record_type} answer is \
                 DNSSEC-bogus)"
            ),
            LookupFailure::Failed { name, why } => {
                format!("DNS problem: looking up {record_type} for {name}: {why}")
            }
        };
        ValidationFailure::new(FailureKind::Dns, detail)
    }

    pub fn is_bogus(&self) -> bool {
        matches!(self, LookupFailure::Bogus { .. })
    }
}

impl DnsClient {
    /// `query` with the policy every validation lookup follows: NOERROR and NXDOMAIN are
    /// answers; anything else is asked once more (BR 3.2.2.8 "retried at least once"); a
    /// SERVFAIL that persists is asked again with CD=1 when `validating`, and an answer then
    /// means the data is DNSSEC-bogus.
    pub async fn lookup(
        &self,
        name: &Name,
        record_type: RecordType,
        validating: bool,
    ) -> Result<Lookup, LookupFailure> {
        let shown = name.to_ascii().trim_end_matches('.').to_string();
        let mut why = String::new();
        let mut servfail = false;
        for attempt in 1..=2u32 {
            match self.query(name, record_type, false).await {
                Ok(r) if matches!(r.rcode, ResponseCode::NoError | ResponseCode::NXDomain) => {
                    let dnssec = match (validating, r.authentic_data) {
                        (false, _) => Dnssec::Unchecked,
                        (true, true) => Dnssec::Secure,
                        (true, false) => Dnssec::Insecure,
                    };
                    return Ok(Lookup {
                        response: r,
                        dnssec,
                        attempts: attempt,
                    });
                }
                Ok(r) => {
                    servfail = r.rcode == ResponseCode::ServFail;
                    why = format!("{} from resolver {}", r.rcode, r.server);
                }
                Err(e) => {
                    servfail = false;
                    why = e.to_string();
                }
            }
        }
        if validating && servfail {
            if let Ok(r) = self.query(name, record_type, true).await {
                if matches!(r.rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
                    return Err(LookupFailure::Bogus { name: shown });
                }
            }
        }
        Err(LookupFailure::Failed { name: shown, why })
    }
}

impl DnsClient {
    /// The configured resolvers (`validation.dns_resolvers`), or the system's when none are
    /// configured; the per-query timeout leaves room for a retry and a CD=1 query inside
    /// the attempt budget (DESIGN invariant 6).
    pub fn from_config(
        config: &crate::config::ValidationConfig,
    ) -> Result<DnsClient, super::SetupError> {
        let servers = if config.dns_resolvers.is_empty() {
            let (system, _) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| super::SetupError::Resolver(e.to_string()))?;
            let mut servers: Vec<SocketAddr> = system
                .name_servers()
                .iter()
                .map(|ns| ns.socket_addr)
                .collect();
            servers.dedup();
            servers
        } else {
            config.dns_resolvers.clone()
        };
        let per_query = (config.timeout_seconds.max(1) * 1000 / 4).max(500);
        Ok(DnsClient::new(servers, Duration::from_millis(per_query)))
    }
}
