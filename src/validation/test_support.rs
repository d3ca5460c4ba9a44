//! Test servers for the validation tests, all on 127.0.0.1 with ephemeral ports: a tiny
//! authoritative UDP DNS responder (A and TXT from a map, RFC 1035 4.1) so tests resolve
//! real-looking names like `www.hanko-test.com`, a minimal HTTP/1.1 server for http-01
//! (RFC 8555 8.3) and a TLS server presenting a chosen certificate for tls-alpn-01 (RFC 8737).
//! Each server task is aborted when its handle drops.

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, CNAME, NULL, TXT};
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use hickory_resolver::proto::serialize::binary::BinEncodable;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Aborts the server task on drop so no test leaks a listener.
pub(crate) struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Records served by the DNS responder; names are lower case without the trailing dot.
#[derive(Default, Clone)]
pub(crate) struct Zone {
    pub a: HashMap<String, Vec<Ipv4Addr>>,
    pub txt: HashMap<String, Vec<String>>,
    /// Names answered with SERVFAIL.
    pub servfail: Vec<String>,
    /// CAA records as raw RDATA (RFC 8659 4.1), so tests can serve what hickory would refuse.
    pub caa: HashMap<String, Vec<Vec<u8>>>,
    /// Aliases: the responder follows them as a recursive resolver does (RFC 1034 3.6.2).
    pub cname: HashMap<String, String>,
    /// Names answered with SERVFAIL for their first N queries, then normally.
    pub servfail_times: HashMap<String, usize>,
    /// Names whose data is "DNSSEC-bogus": SERVFAIL unless the query has CD=1 (RFC 4035 3.2.2).
    pub bogus: Vec<String>,
    /// Set AD=1 on every answer (a validating resolver vouching for the data).
    pub authentic: bool,
    /// Answer UDP with TC=1 and no records, so the client must ask again over TCP.
    pub truncate_udp: bool,
    /// Every question received: `name TYPE` plus ` +cd` when CD=1.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Zone {
    pub fn with_a(mut self, name: &str, ip: Ipv4Addr) -> Zone {
        self.a.entry(name.to_string()).or_default().push(ip);
        self
    }

    pub fn with_txt(mut self, name: &str, value: &str) -> Zone {
        self.txt
            .entry(name.to_string())
            .or_default()
            .push(value.to_string());
        self
    }

    pub fn with_servfail(mut self, name: &str) -> Zone {
        self.servfail.push(name.to_string());
        self
    }

    /// A CAA record with `flags`, `tag` and `value` octets.
    pub fn with_caa(mut self, name: &str, flags: u8, tag: &str, value: &[u8]) -> Zone {
        let mut rdata = vec![flags, u8::try_from(tag.len()).expect("tag length")];
        rdata.extend_from_slice(tag.as_bytes());
        rdata.extend_from_slice(value);
        self.caa.entry(name.to_string()).or_default().push(rdata);
        self
    }

    pub fn with_cname(mut self, name: &str, target: &str) -> Zone {
        self.cname.insert(name.to_string(), target.to_string());
        self
    }

    pub fn with_servfail_times(mut self, name: &str, times: usize) -> Zone {
        self.servfail_times.insert(name.to_string(), times);
        self
    }

    pub fn with_bogus(mut self, name: &str) -> Zone {
        self.bogus.push(name.to_string());
        self
    }

    pub fn with_truncated_udp(mut self) -> Zone {
        self.truncate_udp = true;
        self
    }

    pub fn with_authentic(mut self) -> Zone {
        self.authentic = true;
        self
    }

    /// The questions received so far.
    pub fn questions(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn knows(&self, name: &str) -> bool {
        self.a.contains_key(name)
            || self.txt.contains_key(name)
            || self.caa.contains_key(name)
            || self.cname.contains_key(name)
    }

    /// Whether this query of `name` gets SERVFAIL (counting down `servfail_times`).
    fn fails(&mut self, name: &str, checking_disabled: bool) -> bool {
        if let Some(left) = self.servfail_times.get_mut(name) {
            if *left > 0 {
                *left -= 1;
                return true;
            }
        }
        self.servfail.iter().any(|n| n == name)
            || (!checking_disabled && self.bogus.iter().any(|n| n == name))
    }
}

/// Starts the DNS responder: A and TXT from `zone`, an empty NOERROR for other types of a
/// known name, NXDOMAIN for unknown names.
pub(crate) async fn dns_server(zone: Zone) -> Server {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS");
    let addr = socket.local_addr().expect("DNS addr");
    // TCP on the same port for truncated answers (RFC 7766); best effort if it is taken.
    let tcp = TcpListener::bind(addr).await.ok();
    let zone = Arc::new(Mutex::new(zone));
    let task = tokio::spawn(async move {
        if let Some(tcp) = tcp {
            tokio::spawn(serve_dns_tcp(tcp, zone.clone()));
        }
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let reply = match zone.lock() {
                Ok(mut zone) => udp_answer(&mut zone, &buf[..n]),
                Err(_) => None,
            };
            if let Some(reply) = reply {
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    });
    Server { addr, task }
}

/// Over UDP a `truncate_udp` zone answers TC=1 with no records (RFC 1035 4.2.1).
fn udp_answer(zone: &mut Zone, packet: &[u8]) -> Option<Vec<u8>> {
    let reply = dns_answer(zone, packet)?;
    if !zone.truncate_udp {
        return Some(reply);
    }
    let mut message = Message::from_vec(&reply).ok()?;
    message.take_answers();
    message.set_truncated(true);
    message.to_bytes().ok()
}

async fn serve_dns_tcp(listener: TcpListener, zone: Arc<Mutex<Zone>>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let mut prefix = [0u8; 2];
        if stream.read_exact(&mut prefix).await.is_err() {
            continue;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        if stream.read_exact(&mut query).await.is_err() {
            continue;
        }
        let reply = match zone.lock() {
            Ok(mut zone) => dns_answer(&mut zone, &query),
            Err(_) => None,
        };
        if let Some(reply) = reply {
            let mut framed = u16::try_from(reply.len())
                .unwrap_or(0)
                .to_be_bytes()
                .to_vec();
            framed.extend_from_slice(&reply);
            let _ = stream.write_all(&framed).await;
        }
    }
}

fn dns_answer(zone: &mut Zone, packet: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(packet).ok()?;
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_authoritative(true)
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true);
    let question = query.queries().first()?.clone();
    let name = question
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_lowercase();
    reply.add_query(question.clone());
    let cd = query.checking_disabled();
    if let Ok(mut log) = zone.log.lock() {
        let flag = if cd { " +cd" } else { "" };
        log.push(format!("{name} {}{flag}", question.query_type()));
    }
    if zone.fails(&name, cd) {
        reply.set_response_code(ResponseCode::ServFail);
        return reply.to_bytes().ok();
    }
    reply.set_authentic_data(zone.authentic);
    if !zone.knows(&name) {
        reply.set_response_code(ResponseCode::NXDomain);
        return reply.to_bytes().ok();
    }
    // Follow aliases as a recursive resolver does: the chain, then the data at its end.
    let mut owner = question.name().clone();
    let mut current = name;
    for _ in 0..8 {
        let Some(target) = zone.cname.get(&current).cloned() else {
            break;
        };
        let target_name = hickory_resolver::Name::from_ascii(format!("{target}.")).ok()?;
        let rdata = RData::CNAME(CNAME(target_name.clone()));
        reply.add_answer(Record::from_rdata(owner, 60, rdata));
        owner = target_name;
        current = target;
    }
    for rdata in zone_data(zone, &current, question.query_type()) {
        reply.add_answer(Record::from_rdata(owner.clone(), 60, rdata));
    }
    reply.to_bytes().ok()
}

/// The records of `record_type` at `name`.
fn zone_data(zone: &Zone, name: &str, record_type: RecordType) -> Vec<RData> {
    match record_type {
        RecordType::A => zone
            .a
            .get(name)
            .into_iter()
            .flatten()
            .map(|ip| RData::A(A(*ip)))
            .collect(),
        RecordType::TXT => zone
            .txt
            .get(name)
            .into_iter()
            .flatten()
            .map(|v| RData::TXT(TXT::new(vec![v.clone()])))
            .collect(),
        // Raw RDATA: served as an unknown-type record so any octets go out unchanged.
        RecordType::CAA => zone
            .caa
            .get(name)
            .into_iter()
            .flatten()
            .map(|raw| RData::Unknown {
                code: RecordType::CAA,
                rdata: NULL::with(raw.clone()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One canned HTTP response.
#[derive(Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send `Content-Length`; without it the body runs until the connection closes.
    pub content_length: bool,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            content_length: true,
        }
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Location".to_string(), location.to_string())],
            body: Vec::new(),
            content_length: true,
        }
    }
}

/// Starts an HTTP/1.1 server answering each path from `routes` (404 otherwise), one request
/// per connection.
pub(crate) async fn http_server(routes: HashMap<String, Reply>) -> Server {
    serve_web(routes, None).await
}

/// As `http_server`, and on the same port HTTPS with a self-signed certificate for `name`:
/// a connection whose first byte is a TLS handshake record (0x16) gets TLS. This lets a test
/// redirect from http to https without a second, unauthorised port.
pub(crate) async fn http_and_https_server(routes: HashMap<String, Reply>, name: &str) -> Server {
    let (cert, key) = challenge_certificate(name, None);
    serve_web(routes, Some(tls_acceptor(cert, key, &[b"http/1.1"]))).await
}

async fn serve_web(routes: HashMap<String, Reply>, tls: Option<TlsAcceptor>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind HTTP");
    let addr = listener.local_addr().expect("HTTP addr");
    let routes = Arc::new(routes);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (routes, tls) = (routes.clone(), tls.clone());
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                let is_tls = matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16);
                match tls {
                    Some(acceptor) if is_tls => {
                        if let Ok(tls_stream) = acceptor.accept(stream).await {
                            serve_http(tls_stream, routes, addr.port()).await;
                        }
                    }
                    _ => serve_http(stream, routes, addr.port()).await,
                }
            });
        }
    });
    Server { addr, task }
}

/// Answers one request; `{port}` in a header value becomes the server's own port.
async fn serve_http<S>(mut stream: S, routes: Arc<HashMap<String, Reply>>, port: u16)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16384 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let reply = routes.get(&path).cloned().unwrap_or(Reply {
        status: 404,
        headers: Vec::new(),
        body: b"not found".to_vec(),
        content_length: true,
    });
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        let value = value.replace("{port}", &port.to_string());
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.content_length {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&reply.body).await;
    let _ = stream.shutdown().await;
}

/// A self-signed certificate for `name`, with the acmeIdentifier extension holding `digest`
/// when given (RFC 8737 3).
pub(crate) fn challenge_certificate(
    name: &str,
    digest: Option<&[u8]>,
) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).expect("params");
    if let Some(digest) = digest {
        params
            .custom_extensions
            .push(rcgen::CustomExtension::new_acme_identifier(digest));
    }
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.der().clone(), der)
}

/// Presents one certificate whatever the SNI.
#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Starts a TLS server presenting `cert` and offering the `alpn` protocols (none: the server
/// ignores ALPN). It completes the handshake and closes.
pub(crate) async fn tls_server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    alpn: &[&[u8]],
) -> Server {
    let acceptor = tls_acceptor(cert, key, alpn);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind TLS");
    let addr = listener.local_addr().expect("TLS addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut buf = [0u8; 64];
                    let _ = tls.read(&mut buf).await;
                }
            });
        }
    });
    Server { addr, task }
}

/// A TLS acceptor presenting `cert` whatever the SNI, offering `alpn` (empty: ALPN ignored).
fn tls_acceptor(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    alpn: &[&[u8]],
) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // `with_single_cert` would parse the certificate with webpki, which rejects the critical
    // acmeIdentifier extension; serve it as-is instead, as a real challenge responder does.
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .expect("signing key");
    let certified = Arc::new(CertifiedKey::new(vec![cert], signing_key));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(FixedCert(certified)));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsAcceptor::from(Arc::new(config))
}

/// Starts a TCP server that accepts connections and never answers (for timeouts).
pub(crate) async fn silent_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind silent");
    let addr = listener.local_addr().expect("silent addr");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Server { addr, task }
}
