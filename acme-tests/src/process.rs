//! External commands: short-lived ones run with a timeout and captured output (`Cmd`), and
//! long-lived daemons that are stopped when their owner is dropped (`Daemon`).

use anyhow::{bail, Context, Result};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Default limit for one external client run. Clients poll the CA themselves; a debug build
/// on a busy 2-core CI machine can be slow, so this is generous on purpose.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// Find an executable on PATH (plus the sbin directories, where `named` lives), or fail with
/// a message that says how to get it.
pub fn require_tool(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from);
    for dir in std::env::split_paths(&path).chain(extra) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "required tool `{name}` not found on PATH; scripts/test.sh installs it \
         (Debian packages: certbot python3-certbot-dns-rfc2136 lego bind9 bind9-utils \
         bind9-dnsutils postgresql openssl)"
    )
}

/// A command to run to completion with a timeout; output is captured, also on timeout.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    timeout: Duration,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command line as a shell-like string, for messages.
    pub fn display(&self) -> String {
        let mut s = self.program.to_string_lossy().into_owned();
        for arg in &self.args {
            s.push(' ');
            s.push_str(&arg.to_string_lossy());
        }
        s
    }

    /// Run to completion (or timeout, after which the process is killed). Only failing to
    /// start is an error here; check the status with `CmdOutput::ok`.
    pub async fn run(&self) -> Result<CmdOutput> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group, so a timeout can kill helpers the command started too
            // (they would otherwise hold the output pipes open).
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.display()))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        // Readers run as tasks so that output read before a timeout is kept.
        let out_task = child
            .stdout
            .take()
            .map(|pipe| tokio::spawn(drain(pipe, Arc::clone(&stdout))));
        let err_task = child
            .stderr
            .take()
            .map(|pipe| tokio::spawn(drain(pipe, Arc::clone(&stderr))));
        let status = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(status) => {
                Some(status.with_context(|| format!("waiting for `{}`", self.display()))?)
            }
            Err(_elapsed) => {
                if let Some(pid) = child.id() {
                    kill_group(pid);
                }
                let _ = child.kill().await;
                None
            }
        };
        // A daemonised grandchild may keep a pipe open; don't let it hang the test.
        let readers = async {
            for task in [out_task, err_task].into_iter().flatten() {
                let _ = task.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), readers).await;
        let take = |buf: &Arc<Mutex<Vec<u8>>>| {
            let bytes = buf.lock().unwrap_or_else(|p| p.into_inner());
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Ok(CmdOutput {
            cmdline: self.display(),
            status,
            timeout: self.timeout,
            elapsed: started.elapsed(),
            stdout: take(&stdout),
            stderr: take(&stderr),
        })
    }

    /// Run and require exit status 0; the error carries the full output.
    pub async fn run_ok(&self) -> Result<CmdOutput> {
        self.run().await?.ok()
    }
}

/// SIGKILL a whole process group (its leader's pid is the group id, see `process_group(0)`).
fn kill_group(pgid: u32) {
    // dash's builtin takes no `--`; a negative pid after the signal names a group.
    signal(&format!("-KILL -{pgid}"));
}

/// Send a signal with the shell's `kill` builtin: std has no signal API, this crate avoids
/// libc, and /usr/bin/kill (procps) is missing from minimal Debian images.
fn signal(kill_args: &str) {
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill {kill_args}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

async fn drain(mut pipe: impl AsyncRead + Unpin, sink: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => sink
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(&buf[..n]),
        }
    }
}

/// What a finished (or timed-out) command produced.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    pub cmdline: String,
    /// `None` when the command was killed after its timeout.
    pub status: Option<ExitStatus>,
    pub timeout: Duration,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Ok(self) on exit status 0, otherwise an error that shows everything.
    pub fn ok(self) -> Result<Self> {
        if self.success() {
            Ok(self)
        } else {
            Err(anyhow::anyhow!("{self}"))
        }
    }

    /// stdout and stderr together, for searching messages whose stream varies by version.
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => writeln!(
                f,
                "`{}` exited with {status} after {:.1?}",
                self.cmdline, self.elapsed
            )?,
            None => writeln!(
                f,
                "`{}` timed out after {:?} and was killed",
                self.cmdline, self.timeout
            )?,
        }
        writeln!(
            f,
            "--- stdout (last 60 lines) ---\n{}",
            tail_lines(&self.stdout, 60)
        )?;
        write!(
            f,
            "--- stderr (last 60 lines) ---\n{}",
            tail_lines(&self.stderr, 60)
        )
    }
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last `n` lines of a log file (at most its last 256 KiB are read).
pub fn tail_file(path: &Path, n: usize) -> String {
    const MAX: u64 = 256 * 1024;
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => tail_lines(&text, n),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// A long-running child process (hanko, named) whose stdout and stderr go to a log file.
/// Dropping it sends SIGTERM, waits briefly, then kills it, so no test leaves daemons behind.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Option<Child>,
    log_path: PathBuf,
}

impl Daemon {
    /// Spawn `command` with its output appended to `log_path`.
    pub fn spawn(name: &str, mut command: std::process::Command, log_path: &Path) -> Result<Self> {
        let log = File::create(log_path)
            .with_context(|| format!("creating log file {}", log_path.display()))?;
        let log_err = log.try_clone().context("duplicating log file handle")?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        Ok(Daemon {
            name: name.to_string(),
            child: Some(child),
            log_path: log_path.to_owned(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn log_tail(&self, n: usize) -> String {
        tail_file(&self.log_path, n)
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Result<Option<ExitStatus>> {
        match &mut self.child {
            Some(child) => child
                .try_wait()
                .with_context(|| format!("checking whether {} is running", self.name)),
            None => bail!("{} was already stopped", self.name),
        }
    }

    /// SIGKILL at once (a crash, for recovery tests) and reap the process.
    pub fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("{} was already stopped", self.name);
        };
        let _ = child.kill();
        child
            .wait()
            .with_context(|| format!("waiting for {} after SIGKILL", self.name))?;
        Ok(())
    }

    /// `terminate` for async callers: the wait sleeps on tokio instead of blocking a runtime
    /// worker (a fault test stops a daemon while the load runs on the same runtime).
    pub async fn stop(&mut self, grace: Duration) -> Result<Option<ExitStatus>> {
        let Some(pid) = self.pid() else {
            bail!("{} was already stopped", self.name);
        };
        signal(&format!("-TERM {pid}"));
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited()? {
                self.child = None;
                return Ok(Some(status));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill()?;
        Ok(None)
    }

    /// SIGTERM, then wait up to `grace` for the exit; SIGKILL after that. Returns the exit
    /// status, or `None` when the process had to be killed.
    pub fn terminate(&mut self, grace: Duration) -> Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            bail!("{} was already stopped", self.name);
        };
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        signal(&format!("-TERM {}", child.id()));
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        Ok(None)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate(Duration::from_secs(5));
        }
    }
}
