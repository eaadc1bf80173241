//! Node processes: spawned with `PR_SET_PDEATHSIG` so none outlives the harness, signalled by PID
//! (SIGKILL for crashes, SIGSTOP/SIGCONT for pauses), stdout read as JSON-line events.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::mpsc::UnboundedSender;

use super::error::HarnessError;
use crate::clock::monotonic_ns;
use crate::event::{Event, EventKind};

/// One running incarnation of a node.
pub struct NodeProcess {
    /// `n3`.
    pub name: String,
    pub pid: u32,
    alive: Arc<AtomicBool>,
    stdin: Option<ChildStdin>,
}

impl NodeProcess {
    /// Starts `binary node --config CONFIG`; its events flow into `events`.
    pub fn spawn(
        name: &str,
        binary: &Path,
        config: &Path,
        events: UnboundedSender<Event>,
    ) -> Result<Self, HarnessError> {
        let args = ["node".as_ref(), "--config".as_ref(), config.as_os_str()];
        Self::spawn_args(name, binary, &args, events)
    }

    /// Starts `binary ARGS...` as the process named `name` (a member, or the store); the JSON-line
    /// events it prints flow into `events`.
    pub fn spawn_args(
        name: &str,
        binary: &Path,
        args: &[&std::ffi::OsStr],
        events: UnboundedSender<Event>,
    ) -> Result<Self, HarnessError> {
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // SAFETY: the hook makes only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(crate::spawn::die_with_parent());
        }
        let mut child = cmd.spawn().map_err(|source| HarnessError::Spawn {
            node: name.to_string(),
            binary: binary.display().to_string(),
            source,
        })?;
        let pid = child.id().expect("a just-spawned child has a pid");
        let _ = events.send(Event::new(
            monotonic_ns(),
            name,
            EventKind::ProcessStart { pid },
        ));
        let alive = Arc::new(AtomicBool::new(true));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdin = child.stdin.take();
        let reader_events = events.clone();
        let reader_name = name.to_string();
        let reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let ev = serde_json::from_str::<Event>(&line).unwrap_or_else(|_| {
                    Event::new(
                        monotonic_ns(),
                        reader_name.clone(),
                        EventKind::Unparsed {
                            line: line.chars().take(200).collect(),
                        },
                    )
                });
                let _ = reader_events.send(ev);
            }
        });
        let watch_alive = alive.clone();
        let owner = name.to_string();
        tokio::spawn(async move {
            let status = child.wait().await;
            // Let the stdout reader deliver what the process wrote before it died.
            let _ = reader.await;
            watch_alive.store(false, Ordering::SeqCst);
            use std::os::unix::process::ExitStatusExt;
            let (code, signal) = match status {
                Ok(s) => (s.code(), s.signal()),
                Err(_) => (None, None),
            };
            let _ = events.send(Event::new(
                monotonic_ns(),
                owner,
                EventKind::ProcessExit { pid, code, signal },
            ));
        });
        Ok(Self {
            name: name.to_string(),
            pid,
            alive,
            stdin,
        })
    }

    /// Whether the process is still running (possibly stopped).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Sends a signal by PID, if the process is still ours.
    pub fn signal(&self, sig: libc::c_int) {
        if self.is_alive() {
            // SAFETY: kill(2) on a PID we spawned and have not reaped.
            unsafe { libc::kill(self.pid as libc::pid_t, sig) };
        }
    }

    /// SIGKILL (a crash).
    pub fn kill(&self) {
        // A stopped process dies from SIGKILL too.
        self.signal(libc::SIGKILL);
    }

    /// SIGSTOP (a pause).
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT (end of a pause).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Sends a control command as a JSON line on the node's stdin.
    pub async fn control(&mut self, json: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(format!("{json}\n").as_bytes()).await;
            let _ = stdin.flush().await;
        }
    }

    /// Kills the process and waits (bounded) until it is reaped.
    pub async fn stop(mut self) {
        self.stdin.take();
        self.resume();
        self.kill();
        for _ in 0..200 {
            if !self.is_alive() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod unparsed_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    /// A member that prints something other than an event line (a panic message, a stray debug
    /// print): the line is on the timeline as `unparsed`, not dropped.
    #[tokio::test]
    async fn a_line_that_is_not_an_event_is_recorded_not_dropped() {
        let dir = std::env::temp_dir().join(format!("electune-unparsed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("fake-node");
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'thread main panicked'\necho '{\"t\":5,\"src\":\"n1\",\"ev\":\"leader\",\"term\":1}'\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let p = NodeProcess::spawn("n1", &script, &dir.join("config.json"), tx).unwrap();
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            let done = matches!(e.kind, EventKind::ProcessExit { .. });
            seen.push(e.kind);
            if done {
                break;
            }
        }
        p.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            seen.contains(&EventKind::Unparsed {
                line: "thread main panicked".into()
            }),
            "{seen:?}"
        );
        assert!(seen.contains(&EventKind::Leader { term: 1 }), "{seen:?}");
    }
}
