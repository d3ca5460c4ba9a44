//! A minimal authoritative DNS responder for load runs and library-driven tests, on
//! 127.0.0.1:PORT over UDP and TCP (RFC 1035 4.2), for one zone (`suffix`):
//! - TXT `_acme-challenge.<name>` answers the dns-01 values published for `<name>`
//!   (RFC 8555 8.4);
//! - A for any name in the zone answers 127.0.0.1, so the same responder can stand in for a
//!   real DNS server when the CA validates http-01 against the load generator;
//! - any other type in the zone is NOERROR with no answer, and so is any query for a parent
//!   of the zone (`com`): the CA's CAA search climbs to them (RFC 8659 3) and must get a
//!   clean empty answer, not a failure; a name elsewhere is REFUSED.
//!
//! Messages are parsed and built with hickory-proto (already in the lockfile through hanko's
//! resolver); a query that does not parse is dropped (UDP) or ends the connection (TCP).

use anyhow::{Context, Result};
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinEncodable};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// Short TTL: answers change with every issuance.
const TTL: u32 = 1;
/// The label dns-01 puts in front of the validated name (RFC 8555 8.4).
const CHALLENGE_LABEL: &str = "_acme-challenge.";

#[derive(Default)]
struct State {
    /// Lower-case name without the trailing dot → TXT values.
    txt: HashMap<String, Vec<String>>,
    queries: u64,
}

/// Serves the zone until dropped.
pub struct DnsResponder {
    port: u16,
    state: Arc<Mutex<State>>,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsResponder {
    /// Listen on 127.0.0.1:`port` (0 picks one) for UDP and TCP, authoritative for `suffix`.
    pub async fn start(port: u16, suffix: &str) -> Result<Self> {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .with_context(|| format!("binding the DNS responder to 127.0.0.1:{port}/udp"))?;
        let port = udp.local_addr()?.port();
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .with_context(|| format!("binding the DNS responder to 127.0.0.1:{port}/tcp"))?;
        let zone = Arc::new(normalise(suffix));
        let state = Arc::new(Mutex::new(State::default()));
        let udp_task = tokio::spawn(serve_udp(udp, zone.clone(), state.clone()));
        let tcp_state = state.clone();
        let tcp_task = tokio::spawn(async move {
            while let Ok((stream, _)) = tcp.accept().await {
                tokio::spawn(serve_tcp(stream, zone.clone(), tcp_state.clone()));
            }
        });
        Ok(DnsResponder {
            port,
            state,
            tasks: vec![udp_task, tcp_task],
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Publish `value` (the base64url SHA-256 of the key authorization) at
    /// `_acme-challenge.<name>`; earlier values for the name stay (one per authorization).
    pub fn insert(&self, name: &str, value: &str) {
        self.lock()
            .txt
            .entry(normalise(name))
            .or_default()
            .push(value.to_string());
    }

    /// Withdraw every value published for `name`.
    pub fn remove(&self, name: &str) {
        self.lock().txt.remove(&normalise(name));
    }

    /// Queries answered so far (any type), so a test can see the CA really asked.
    pub fn queries(&self) -> u64 {
        self.lock().queries
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

async fn serve_udp(socket: UdpSocket, zone: Arc<String>, state: Arc<Mutex<State>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(reply) = answer(&buf[..n], &zone, &state) {
            // A lost reply is retried by the resolver, as over any UDP path.
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

/// RFC 1035 4.2.2: each message is preceded by its two-byte length.
async fn serve_tcp(mut stream: TcpStream, zone: Arc<String>, state: Arc<Mutex<State>>) {
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut msg).await.is_err() {
            return;
        }
        let Some(reply) = answer(&msg, &zone, &state) else {
            return;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut out = reply_len.to_be_bytes().to_vec();
        out.extend_from_slice(&reply);
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// The reply to one query message, or None when it is not a query we can parse.
fn answer(query: &[u8], zone: &str, state: &Mutex<State>) -> Option<Vec<u8>> {
    let request = Message::from_bytes(query).ok()?;
    if request.message_type() != MessageType::Query {
        return None;
    }
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .add_queries(request.queries().iter().cloned());
    let Some(q) = request.queries().first() else {
        reply.set_response_code(ResponseCode::FormErr);
        return reply.to_bytes().ok();
    };
    if request.op_code() != OpCode::Query || request.queries().len() != 1 {
        reply.set_response_code(ResponseCode::NotImp);
        return reply.to_bytes().ok();
    }
    let name = normalise(&q.name().to_ascii());
    if zone.ends_with(&format!(".{name}")) {
        // A parent of the zone: NOERROR, no data (see the module comment).
        return reply.to_bytes().ok();
    }
    if name != zone && !name.ends_with(&format!(".{zone}")) {
        reply.set_response_code(ResponseCode::Refused);
        return reply.to_bytes().ok();
    }
    reply.set_authoritative(true);
    let owner: Name = q.name().clone();
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    st.queries += 1;
    match q.query_type() {
        RecordType::TXT => {
            let validated = name.strip_prefix(CHALLENGE_LABEL).unwrap_or("");
            for value in st.txt.get(validated).into_iter().flatten() {
                let rdata = RData::TXT(TXT::new(vec![value.clone()]));
                reply.add_answer(Record::from_rdata(owner.clone(), TTL, rdata));
            }
        }
        RecordType::A if !name.starts_with(CHALLENGE_LABEL) => {
            let rdata = RData::A(A(Ipv4Addr::LOCALHOST));
            reply.add_answer(Record::from_rdata(owner, TTL, rdata));
        }
        _ => {}
    }
    drop(st);
    reply.to_bytes().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    fn query(name: &str, rtype: RecordType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(7)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        m.to_bytes().unwrap()
    }

    fn ask(state: &Mutex<State>, name: &str, rtype: RecordType) -> Message {
        let reply = answer(&query(name, rtype), "hanko-ci.com", state).expect("a reply");
        Message::from_bytes(&reply).unwrap()
    }

    #[test]
    fn answers_txt_a_and_refuses_other_zones() {
        let state = Mutex::new(State::default());
        state
            .lock()
            .unwrap()
            .txt
            .insert("www.hanko-ci.com".into(), vec!["abc".into(), "def".into()]);
        let txt = ask(&state, "_acme-challenge.WWW.hanko-ci.com.", RecordType::TXT);
        assert_eq!(txt.id(), 7);
        let values: Vec<String> = txt
            .answers()
            .iter()
            .map(|r| r.data().as_txt().unwrap().to_string())
            .collect();
        assert_eq!(values, ["abc", "def"]);
        let a = ask(&state, "x.hanko-ci.com.", RecordType::A);
        assert_eq!(
            a.answers()[0].data(),
            &RData::A(A(Ipv4Addr::LOCALHOST)),
            "every name in the zone is 127.0.0.1"
        );
        assert!(ask(&state, "x.hanko-ci.com.", RecordType::AAAA)
            .answers()
            .is_empty());
        assert!(
            ask(&state, "_acme-challenge.y.hanko-ci.com.", RecordType::TXT)
                .answers()
                .is_empty()
        );
        let other = ask(&state, "example.org.", RecordType::A);
        assert_eq!(other.response_code(), ResponseCode::Refused);
        let parent = ask(&state, "com.", RecordType::CAA);
        assert_eq!(parent.response_code(), ResponseCode::NoError);
        assert!(parent.answers().is_empty());
        let lookalike = ask(&state, "ci.com.", RecordType::CAA);
        assert_eq!(lookalike.response_code(), ResponseCode::Refused);
        assert!(answer(b"\x00\x01garbage", "hanko-ci.com", &state).is_none());
        assert_eq!(
            state.lock().unwrap().queries,
            4,
            "in-zone queries are counted"
        );
    }
}
