//! A minimal http-01 responder (RFC 8555 8.3) for library-driven tests: serves
//! `/.well-known/acme-challenge/<token>` with its key authorization on 127.0.0.1:PORT and
//! records every request so a test can assert the CA really came to look.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const PREFIX: &str = "/.well-known/acme-challenge/";
/// The CA sends a short GET; anything longer is not a validation request.
const MAX_REQUEST_HEAD: usize = 8192;

#[derive(Default)]
struct State {
    tokens: HashMap<String, String>,
    /// (Host header, path) of every request seen.
    requests: Vec<(String, String)>,
}

/// Serves key authorizations until dropped.
pub struct Http01Responder {
    port: u16,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Http01Responder {
    /// Listen on 127.0.0.1:`port` (the CA's configured http-01 port).
    pub async fn start(port: u16) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .with_context(|| format!("binding http-01 responder to 127.0.0.1:{port}"))?;
        let state = Arc::new(Mutex::new(State::default()));
        let accept_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&accept_state)));
            }
        });
        Ok(Http01Responder { port, state, task })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Publish `key_authorization` for `token`.
    pub fn insert(&self, token: &str, key_authorization: &str) {
        self.lock()
            .tokens
            .insert(token.to_string(), key_authorization.to_string());
    }

    /// Stop serving `token` (its challenge is done).
    pub fn remove(&self, token: &str) {
        self.lock().tokens.remove(token);
    }

    /// (Host, path) of every request received so far.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Http01Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let host = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let body = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.requests.push((host, path.clone()));
        path.strip_prefix(PREFIX)
            .and_then(|token| st.tokens.get(token).cloned())
    };
    let response = match body {
        Some(body) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_string(),
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
