//! `electune calibrate`: measures on this machine what the simulator charges for (see
//! [`Costs`]): the node's persist path (write + fsync of its real storage code), how late a
//! node-style timer wait fires, and what one pass through the built-in proxy adds to a message.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use super::costs::{Costs, Quantiles};
use crate::election::raft::{DurableChange, Entry, EntryKind, HardState, LogChange};
use crate::node::Storage;
use crate::toxiproxy::{Client, NewProxy};

/// Why a calibration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error("measuring fsync in {path}")]
    Storage {
        path: std::path::PathBuf,
        #[source]
        source: crate::node::StorageError,
    },
    #[error("measuring the proxy hop: {0}")]
    Proxy(String),
    #[error("measuring the proxy hop")]
    Io(#[from] std::io::Error),
}

/// How many samples of each.
const FSYNCS: usize = 200;
const TIMER_WAITS: usize = 600;
const ROUND_TRIPS: usize = 3_000;
const PROCESS_STARTS: usize = 40;

/// Persists a vote (hard state) and a log entry `FSYNCS` times with the node's own storage code,
/// in a scratch directory under `dir`.
pub fn fsync(dir: &Path) -> Result<Quantiles, CalibrateError> {
    let scratch = dir.join(format!(".calibrate-{}", std::process::id()));
    let err = |source| CalibrateError::Storage {
        path: scratch.clone(),
        source,
    };
    let (mut storage, _) = Storage::open(&scratch).map_err(err)?;
    let mut us = Vec::with_capacity(FSYNCS);
    for i in 0..FSYNCS as u64 {
        let change = DurableChange {
            hard_state: Some(HardState {
                term: i + 1,
                voted_for: Some(1),
            }),
            log: LogChange {
                append: vec![Entry {
                    term: i + 1,
                    kind: EntryKind::Write { seq: i },
                }],
                ..LogChange::default()
            },
        };
        let t = Instant::now();
        storage.persist(&change).map_err(err)?;
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    drop(storage);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Quantiles::of(&mut us))
}

/// How late a timed wait on a channel fires (what the node's core thread does), for waits of
/// 1–5 ms.
pub fn timer_lateness() -> Quantiles {
    let (_tx, rx) = std::sync::mpsc::channel::<()>();
    let mut us = Vec::with_capacity(TIMER_WAITS);
    for i in 0..TIMER_WAITS {
        let want = Duration::from_micros(1_000 + (i as u64 * 7_919) % 4_000);
        let t = Instant::now();
        let _ = rx.recv_timeout(want);
        us.push(t.elapsed().saturating_sub(want).as_secs_f64() * 1e6);
    }
    Quantiles::of(&mut us)
}

/// Half the extra round-trip time of 64-byte messages through the built-in proxy, against the
/// same echo server reached directly.
pub async fn proxy_hop() -> Result<Quantiles, CalibrateError> {
    let echo = echo_server()?;
    let proxy = crate::proxy::spawn_local()
        .await
        .map_err(|e| CalibrateError::Proxy(e.to_string()))?;
    let client = Client::new(&proxy.url()).map_err(|e| CalibrateError::Proxy(e.to_string()))?;
    let created = client
        .create_proxy(&NewProxy::new("calibrate", "127.0.0.1:0", echo.to_string()))
        .await
        .map_err(|e| CalibrateError::Proxy(e.to_string()))?;
    let through = created.listen.clone();
    let (direct, proxied) = tokio::task::spawn_blocking(move || {
        Ok::<_, std::io::Error>((round_trips(&echo.to_string())?, round_trips(&through)?))
    })
    .await
    .map_err(|e| CalibrateError::Proxy(e.to_string()))??;
    proxy.shutdown().await;
    let mut d = direct;
    let base = Quantiles::of(&mut d).p50_us;
    let mut hop: Vec<f64> = proxied
        .iter()
        .map(|p| ((p - base) / 2.0).max(0.0))
        .collect();
    Ok(Quantiles::of(&mut hop))
}

fn echo_server() -> Result<std::net::SocketAddr, std::io::Error> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    std::thread::spawn(move || {
        // Serves the two connections of one calibration, then ends with them.
        for s in l.incoming().take(2) {
            let Ok(mut s) = s else { return };
            let _ = s.set_nodelay(true);
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while s.read_exact(&mut buf).is_ok() {
                    if s.write_all(&buf).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Round-trip times (µs) of `ROUND_TRIPS` 64-byte messages to `addr`, after a warm-up.
fn round_trips(addr: &str) -> Result<Vec<f64>, std::io::Error> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = [7u8; 64];
    let mut out = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS + 200 {
        let t = Instant::now();
        s.write_all(&buf)?;
        s.read_exact(&mut buf)?;
        if i >= 200 {
            out.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    Ok(out)
}

/// From spawning `electune` to its exit (`--version`): exec, dynamic loading and runtime start,
/// the part of a node's start that does not depend on its cluster.
pub fn process_start() -> Result<Quantiles, CalibrateError> {
    let exe = std::env::current_exe()?;
    let mut us = Vec::with_capacity(PROCESS_STARTS);
    for _ in 0..PROCESS_STARTS {
        let t = Instant::now();
        std::process::Command::new(&exe)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()?;
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(Quantiles::of(&mut us))
}

/// Measures everything and labels it with the host and date.
pub async fn calibrate(dir: &Path, label: String) -> Result<Costs, CalibrateError> {
    let fsync = fsync(dir)?;
    let timer_lateness = tokio::task::spawn_blocking(timer_lateness)
        .await
        .map_err(|e| CalibrateError::Proxy(e.to_string()))?;
    let proxy_hop = proxy_hop().await?;
    let process_start = process_start()?;
    Ok(Costs {
        fsync,
        timer_lateness,
        proxy_hop,
        process_start,
        // A cluster's own timeline measures these (see `Costs::default`); calibrate starts none.
        kill: Costs::default().kill,
        restart: Costs::default().restart,
        source: label,
    })
}
