//! One etcd member process: its command line, spawning it so that it dies with electune,
//! signals by PID, reaping, and its `/health`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::error::EtcdError;

/// How long a killed member may take to be reaped before electune stops waiting.
const REAP_BOUND: Duration = Duration::from_secs(2);

/// What one member is started with.
#[derive(Debug, Clone)]
pub(crate) struct MemberConfig {
    /// `e1`.
    pub name: String,
    /// The member's directory: `data/` and `etcd.log` are in it.
    pub dir: PathBuf,
    /// Where it serves clients (and the gateway, and `/health`).
    pub client: SocketAddr,
    /// Where its peer listener really is (behind its peer proxy).
    pub peer: SocketAddr,
    /// The peer URL the others know it by: its proxy's.
    pub advertised_peer: SocketAddr,
    /// `e1=http://...,e2=http://...` with every member's advertised (proxy) peer URL.
    pub initial_cluster: String,
    /// Unique per cluster, so that a member of one cluster can never join another.
    pub token: String,
    pub heartbeat: Duration,
    pub election_timeout: Duration,
}

impl MemberConfig {
    /// The member's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    /// The command-line flags (etcd 3.4 `etcd --help`). A restart uses the same ones: etcd
    /// ignores the `--initial-*` flags once its data dir has a WAL.
    pub fn args(&self) -> Vec<OsString> {
        let ms = |d: Duration| d.as_millis().max(1).to_string();
        let client = format!("http://{}", self.client);
        let flags: Vec<(&str, String)> = vec![
            ("--name", self.name.clone()),
            ("--data-dir", self.dir.join("data").display().to_string()),
            ("--listen-client-urls", client.clone()),
            ("--advertise-client-urls", client),
            ("--listen-peer-urls", format!("http://{}", self.peer)),
            (
                "--initial-advertise-peer-urls",
                format!("http://{}", self.advertised_peer),
            ),
            ("--initial-cluster", self.initial_cluster.clone()),
            ("--initial-cluster-state", "new".into()),
            ("--initial-cluster-token", self.token.clone()),
            ("--heartbeat-interval", ms(self.heartbeat)),
            ("--election-timeout", ms(self.election_timeout)),
            // As etcd's functional tester ran its members (functional.yaml `pre-vote: true`) and
            // etcd defaults to from 3.5: a member back from a pause or partition does not
            // disrupt the leader with a higher term.
            ("--pre-vote", "true".into()),
            // Nothing that listens or calls out beyond the two URLs above: no v2 API, no pprof,
            // no metrics listener, no discovery (none is configured).
            ("--enable-v2", "false".into()),
            ("--enable-pprof", "false".into()),
            ("--logger", "zap".into()),
            ("--log-outputs", "stderr".into()),
        ];
        flags
            .into_iter()
            .map(|(k, v)| OsString::from(format!("{k}={v}")))
            .collect()
    }
}

/// A running etcd member, owned by PID: signalled only while it has not been reaped.
pub(crate) struct EtcdProcess {
    child: Child,
    pid: u32,
    reaped: bool,
}

impl EtcdProcess {
    /// Starts `binary` with `config`'s flags, stdout and stderr appended to its log file.
    pub fn spawn(binary: &Path, config: &MemberConfig) -> Result<Self, EtcdError> {
        std::fs::create_dir_all(&config.dir)
            .map_err(EtcdError::io(format!("creating {}", config.dir.display())))?;
        let log_path = config.log_path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(EtcdError::io(format!("opening {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(EtcdError::io(format!("opening {}", log_path.display())))?;
        let mut cmd = Command::new(binary);
        cmd.args(config.args())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // etcd reads every flag from an ETCD_* variable too; one left in the environment must
        // not change the members electune starts.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                cmd.env_remove(key);
            }
        }
        // SAFETY: the hook makes only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(crate::spawn::die_with_parent());
        }
        let child = cmd.spawn().map_err(|source| EtcdError::Spawn {
            member: config.name.clone(),
            binary: binary.to_path_buf(),
            source,
        })?;
        Ok(EtcdProcess {
            pid: child.id(),
            child,
            reaped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process has not exited (it may be stopped). Reaps it if it has.
    pub fn is_running(&mut self) -> bool {
        if !self.reaped && matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
            self.reaped = true;
        }
        !self.reaped
    }

    /// Sends `sig` by PID, unless the process was reaped (its PID may then be someone else's).
    pub fn signal(&mut self, sig: libc::c_int) {
        if self.is_running() {
            // SAFETY: kill(2) on a child we spawned and have not reaped.
            unsafe { libc::kill(self.pid as libc::pid_t, sig) };
        }
    }

    /// SIGKILL (a stopped process dies of it too), then waits until it is reaped, bounded.
    pub async fn kill(mut self) {
        self.signal(libc::SIGKILL);
        let deadline = tokio::time::Instant::now() + REAP_BOUND;
        while self.is_running() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
        let deadline = std::time::Instant::now() + REAP_BOUND;
        while self.is_running() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The end of a log file: its last `lines` lines, at most `max_chars` characters.
pub(crate) fn log_tail(path: &Path, lines: usize, max_chars: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return format!("(cannot read {})", path.display());
    };
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    let skip = tail.chars().count().saturating_sub(max_chars);
    tail.chars().skip(skip).collect()
}

/// `GET /health` on a member's client URL, bounded by `timeout`: `Ok(())` if it says
/// `{"health":"true"}` (etcd 3.4: it has a leader and a quorum read went through), otherwise
/// what it said instead.
pub(crate) async fn health(
    http: &reqwest::Client,
    client: SocketAddr,
    timeout: Duration,
) -> Result<(), String> {
    let get = http.get(format!("http://{client}/health")).send();
    let response = match tokio::time::timeout(timeout, get).await {
        Err(_) => return Err(format!("no answer within {timeout:?}")),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    let body = match tokio::time::timeout(timeout, response.text()).await {
        Ok(Ok(b)) => b,
        _ => return Err(format!("HTTP {status}, body not read")),
    };
    let healthy = serde_json::from_str::<serde_json::Value>(&body)
        .map(|v| v["health"] == "true")
        .unwrap_or(false);
    if status.is_success() && healthy {
        Ok(())
    } else {
        Err(format!("HTTP {status}: {}", body.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_advertise_their_proxy_and_listen_on_loopback() {
        let c = MemberConfig {
            name: "e2".into(),
            dir: "/w/e2".into(),
            client: "127.0.0.1:11001".parse().unwrap(),
            peer: "127.0.0.1:11002".parse().unwrap(),
            advertised_peer: "127.0.0.1:40000".parse().unwrap(),
            initial_cluster: "e1=http://127.0.0.1:39999,e2=http://127.0.0.1:40000".into(),
            token: "tok".into(),
            heartbeat: Duration::from_millis(50),
            election_timeout: Duration::from_millis(500),
        };
        let args: Vec<String> = c
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        for want in [
            "--listen-peer-urls=http://127.0.0.1:11002",
            "--initial-advertise-peer-urls=http://127.0.0.1:40000",
            "--listen-client-urls=http://127.0.0.1:11001",
            "--data-dir=/w/e2/data",
            "--heartbeat-interval=50",
            "--election-timeout=500",
            "--enable-v2=false",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} not in {args:?}");
        }
        assert!(!args
            .iter()
            .any(|a| a.contains(":2379") || a.contains(":2380")));
    }

    #[test]
    fn log_tails_are_bounded() {
        let dir = std::env::temp_dir().join(format!("electune-etcd-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("log");
        std::fs::write(&p, "a\nb\nc\nlong line\n").unwrap();
        assert_eq!(log_tail(&p, 2, 100), "c\nlong line");
        assert_eq!(log_tail(&p, 2, 4), "line");
        assert!(log_tail(&dir.join("none"), 2, 100).contains("cannot read"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
