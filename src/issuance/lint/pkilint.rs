//! The pkilint backend: `lint.workers` long-running Python processes running `worker.py`
//! (shipped in the binary, passed with `-c`), each speaking JSON lines on stdin/stdout
//! (protocol in worker.py). A warm worker lints a certificate in milliseconds; starting
//! one (importing pkilint, building the validators) takes seconds, so it happens once.
//!
//! Each worker is used under its own Mutex (one request in flight per worker). A worker
//! that dies, answers garbage or exceeds the timeout is killed and replaced, and the
//! request is sent once more; a second failure is a `LintError::Failed`.

use super::{DocumentKind, Finding, LintError, Severity};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

const WORKER_SCRIPT: &str = include_str!("worker.py");
/// Starting a worker imports pkilint and builds every validator set: seconds, more on a
/// loaded machine. The per-document timeout would be too tight for it.
const STARTUP_TIMEOUT_FLOOR: Duration = Duration::from_secs(60);
/// Lines of the worker's stderr kept to explain a death (a Python traceback).
const STDERR_TAIL_LINES: usize = 20;

pub(super) struct Pool {
    python: PathBuf,
    timeout: Duration,
    /// `None` after a failure until the next request starts a replacement.
    slots: Vec<Mutex<Option<Process>>>,
    next: AtomicUsize,
    version: String,
}

impl Pool {
    /// Start `workers` (≥ 1) workers and wait until each is ready.
    pub fn start(python: &Path, workers: usize, timeout: Duration) -> Result<Pool, LintError> {
        let mut slots = Vec::with_capacity(workers);
        let mut version = String::new();
        for _ in 0..workers {
            let process = Process::spawn(python, timeout)?;
            version.clone_from(&process.version);
            slots.push(Mutex::new(Some(process)));
        }
        if slots.is_empty() {
            return Err(LintError::Config("lint.workers must be at least 1".into()));
        }
        Ok(Pool {
            python: python.to_path_buf(),
            timeout,
            slots,
            next: AtomicUsize::new(0),
            version,
        })
    }

    /// pkilint's version as the worker reports it.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn lint(&self, kind: DocumentKind, der: &[u8]) -> Result<Vec<Finding>, LintError> {
        let mut slot = self.acquire();
        let mut first_failure = None;
        for _attempt in 0..2 {
            let process = match slot.as_mut() {
                Some(process) => process,
                None => slot.insert(Process::spawn(&self.python, self.timeout)?),
            };
            match process.request(kind, der, self.timeout) {
                Ok(findings) => return Ok(findings),
                Err(Failure::Answer(message)) => return Err(LintError::Failed(message)),
                Err(Failure::Dead(message)) => {
                    tracing::warn!(pid = process.pid, %message, "pkilint worker failed; restarting it");
                    // Dropping the process kills it; the next attempt starts a new one.
                    *slot = None;
                    if let Some(first) = &first_failure {
                        return Err(LintError::Failed(format!(
                            "pkilint worker failed twice on one {kind:?} document: {first}; then: {message}"
                        )));
                    }
                    first_failure = Some(message);
                }
            }
        }
        Err(LintError::Failed(format!(
            "pkilint worker failed on a {kind:?} document: {}",
            first_failure.unwrap_or_default()
        )))
    }

    /// A free worker if there is one, else wait for the next in turn.
    fn acquire(&self) -> MutexGuard<'_, Option<Process>> {
        let count = self.slots.len().max(1);
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        for offset in 0..count {
            if let Some(slot) = self.slots.get((start + offset) % count) {
                match slot.try_lock() {
                    Ok(guard) => return guard,
                    // A panic elsewhere cannot leave a worker half-used in a way that
                    // matters: the next failure replaces it.
                    Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                    Err(TryLockError::WouldBlock) => continue,
                }
            }
        }
        self.slots[start]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    pub fn pids(&self) -> Vec<u32> {
        self.slots
            .iter()
            .filter_map(|slot| {
                let guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
                guard.as_ref().map(|p| p.pid)
            })
            .collect()
    }
}

/// Why a request got no findings.
enum Failure {
    /// The worker is dead, hung or out of step: kill it and retry on a new one.
    Dead(String),
    /// The worker is fine but refused the request or answered something we cannot use;
    /// asking again would give the same answer.
    Answer(String),
}

#[derive(Serialize)]
struct Request<'a> {
    id: u64,
    kind: &'a str,
    der_b64: String,
}

#[derive(Deserialize)]
struct Ready {
    ready: bool,
    pkilint: String,
    python: String,
}

#[derive(Deserialize)]
struct Answer {
    id: Option<u64>,
    findings: Option<Vec<WireFinding>>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct WireFinding {
    code: String,
    severity: String,
    message: String,
    path: String,
}

/// One worker process and the threads draining its output.
struct Process {
    child: Child,
    pid: u32,
    stdin: ChildStdin,
    /// stdout lines, read by a thread so a read can time out.
    lines: Receiver<Result<String, String>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: Option<JoinHandle<()>>,
    next_id: u64,
    version: String,
}

impl Process {
    fn spawn(python: &Path, timeout: Duration) -> Result<Process, LintError> {
        // -I (isolated): no PYTHONPATH, user site-packages or current directory on the
        // path, so only the configured interpreter's own packages are imported.
        let mut child = Command::new(python)
            .arg("-I")
            .arg("-c")
            .arg(WORKER_SCRIPT)
            .args(DocumentKind::ALL.iter().map(|k| k.pkilint_name()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LintError::Start(format!("{}: {e}", python.display())))?;
        let pid = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LintError::Start("worker pipes missing".into()));
        };
        let (lines, stderr_tail, stderr_reader) = match drain(pid, stdout, stderr) {
            Ok(drained) => drained,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LintError::Start(format!(
                    "cannot start reader threads: {e}"
                )));
            }
        };
        let mut process = Process {
            child,
            pid,
            stdin,
            lines,
            stderr_tail,
            stderr_reader: Some(stderr_reader),
            next_id: 0,
            version: String::new(),
        };
        process
            .await_ready(timeout.max(STARTUP_TIMEOUT_FLOOR))
            .map_err(|m| LintError::Start(format!("pkilint worker ({}): {m}", python.display())))?;
        Ok(process)
    }

    /// Wait for the ready line (pkilint imported, validators built) and take the version.
    fn await_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let line = match self.read_line(timeout) {
            Ok(line) => line,
            Err(Failure::Dead(m) | Failure::Answer(m)) => return Err(m),
        };
        let ready: Ready = serde_json::from_str(&line)
            .map_err(|e| format!("unexpected first line {line:?}: {e}"))?;
        if !ready.ready {
            return Err(format!("not ready: {line}"));
        }
        tracing::info!(pid = self.pid, pkilint = %ready.pkilint, python = %ready.python, "pkilint worker ready");
        self.version = ready.pkilint;
        Ok(())
    }

    fn request(
        &mut self,
        kind: DocumentKind,
        der: &[u8],
        timeout: Duration,
    ) -> Result<Vec<Finding>, Failure> {
        self.next_id += 1;
        let id = self.next_id;
        let request = Request {
            id,
            kind: kind.pkilint_name(),
            der_b64: base64::engine::general_purpose::STANDARD.encode(der),
        };
        let mut line = serde_json::to_string(&request)
            .map_err(|e| Failure::Answer(format!("cannot encode the request: {e}")))?;
        line.push('\n');
        if let Err(e) = self
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
        {
            return Err(Failure::Dead(format!(
                "cannot write to the worker: {e}{}",
                self.death_report()
            )));
        }
        let line = self.read_line(timeout)?;
        let answer: Answer = serde_json::from_str(&line)
            .map_err(|e| Failure::Dead(format!("unreadable answer {line:?}: {e}")))?;
        if answer.id != Some(id) {
            return Err(Failure::Dead(format!(
                "answer for request {:?} while waiting for {id}",
                answer.id
            )));
        }
        match (answer.findings, answer.error) {
            (Some(findings), None) => findings.into_iter().map(to_finding).collect(),
            (None, Some(error)) => Err(Failure::Answer(format!("the worker refused: {error}"))),
            _ => Err(Failure::Dead(format!("malformed answer {line:?}"))),
        }
    }

    fn read_line(&mut self, timeout: Duration) -> Result<String, Failure> {
        match self.lines.recv_timeout(timeout) {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(e)) => Err(Failure::Dead(format!("reading from the worker: {e}"))),
            Err(RecvTimeoutError::Timeout) => Err(Failure::Dead(format!(
                "no answer within {} s (worker killed)",
                timeout.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => Err(Failure::Dead(format!(
                "the worker closed its output{}",
                self.death_report()
            ))),
        }
    }

    /// Kill the worker (if it still runs), reap it and describe how it ended with the last
    /// lines it wrote to stderr.
    fn death_report(&mut self) -> String {
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| format!("unknown status: {e}"));
        // The process is gone, so its stderr is closed and the reader ends.
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let tail = self
            .stderr_tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ");
        if tail.is_empty() {
            format!(" ({status})")
        } else {
            format!(" ({status}; stderr: {tail})")
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Drained = (
    Receiver<Result<String, String>>,
    Arc<Mutex<VecDeque<String>>>,
    JoinHandle<()>,
);

/// Threads that drain the worker's output: stdout lines into a channel (so a read can time
/// out), stderr into the log and a tail kept for error messages. Both end at EOF, when the
/// worker exits.
fn drain(pid: u32, stdout: ChildStdout, stderr: ChildStderr) -> std::io::Result<Drained> {
    let (sender, lines) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("pkilint-{pid}-out"))
        .spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let failed = line.is_err();
                if sender.send(line.map_err(|e| e.to_string())).is_err() || failed {
                    break;
                }
            }
        })?;
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let writer = Arc::clone(&tail);
    let stderr_reader = std::thread::Builder::new()
        .name(format!("pkilint-{pid}-err"))
        .spawn(move || log_stderr(pid, stderr, &writer))?;
    Ok((lines, tail, stderr_reader))
}

fn log_stderr(pid: u32, stderr: ChildStderr, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        tracing::warn!(pid, "pkilint worker stderr: {line}");
        let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

fn to_finding(wire: WireFinding) -> Result<Finding, Failure> {
    let severity = match wire.severity.as_str() {
        "INFO" => Severity::Info,
        "NOTICE" => Severity::Notice,
        "WARNING" => Severity::Warning,
        "ERROR" => Severity::Error,
        "FATAL" => Severity::Fatal,
        other => {
            return Err(Failure::Answer(format!(
                "finding {} has an unknown severity {other:?}",
                wire.code
            )))
        }
    };
    Ok(Finding {
        code: wire.code,
        severity,
        message: wire.message,
        path: wire.path,
    })
}
