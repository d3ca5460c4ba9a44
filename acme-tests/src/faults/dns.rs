//! The DNS fault: the test BIND9 (the resolver hanko's validation uses) stopped, then started
//! again on the same port with the same configuration and zones. `Bind9` keeps its process
//! private, so the running named is found by the pid file its configuration names
//! (`<work dir>/named.pid`) and the replacement is a `Daemon` of ours.

use crate::bind9::Bind9;
use crate::process::{require_tool, Cmd, Daemon};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

pub struct DnsFault {
    /// The named started after the outage (the original one is gone by then).
    replacement: Option<Daemon>,
    restarts: usize,
}

impl DnsFault {
    pub fn new() -> DnsFault {
        DnsFault {
            replacement: None,
            restarts: 0,
        }
    }

    /// Stop named (SIGTERM to the pid in its pid file) and wait until it no longer answers.
    pub async fn stop(&mut self, bind: &Bind9) -> Result<()> {
        if let Some(mut d) = self.replacement.take() {
            d.kill()?;
        } else {
            let pid_file = bind.work_dir().join("named.pid");
            let pid = std::fs::read_to_string(&pid_file)
                .with_context(|| format!("reading {}", pid_file.display()))?;
            Cmd::new("kill")
                .args(["-TERM", pid.trim()])
                .run_ok()
                .await
                .context("stopping named")?;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while bind
            .query(crate::rig::ZONE, "SOA")
            .await
            .is_ok_and(|a| !a.is_empty())
        {
            if Instant::now() > deadline {
                bail!("named still answers 30 s after SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Start named again on the same port and configuration; wait until the zone answers.
    pub async fn start(&mut self, bind: &Bind9) -> Result<()> {
        let named = require_tool("named")?;
        let dir = bind.work_dir();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.restarts += 1;
            let mut command = std::process::Command::new(&named);
            command
                .args(["-g", "-4", "-n", "1", "-c"])
                .arg(dir.join("named.conf"))
                .arg("-p")
                .arg(bind.port().to_string())
                .current_dir(dir);
            let log = dir.join(format!("named-restart-{}.log", self.restarts));
            let mut daemon = Daemon::spawn("named", command, &log)?;
            let ready = Instant::now() + Duration::from_secs(15);
            while Instant::now() < ready {
                if bind
                    .query(crate::rig::ZONE, "SOA")
                    .await
                    .is_ok_and(|a| !a.is_empty())
                {
                    self.replacement = Some(daemon);
                    return Ok(());
                }
                if daemon.exited()?.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let tail = daemon.log_tail(30);
            let _ = daemon.kill();
            if Instant::now() > deadline {
                bail!("named did not come back on port {}:\n{tail}", bind.port());
            }
            // The old named may still hold the port for a moment.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Default for DnsFault {
    fn default() -> Self {
        Self::new()
    }
}
