//! The built-in lease store as a process of the process backend (`electune store`): started
//! before the members, reached by each member through its own proxy (`nX_to_store`), ended by
//! PID with the cluster.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::error::HarnessError;
use super::process::NodeProcess;
use crate::event::Event;
use crate::profile::STORE_NAME;

/// How long the store may take to accept connections after it was spawned.
const START_LIMIT: Duration = Duration::from_secs(5);

/// The running store.
pub struct StoreProcess {
    addr: SocketAddr,
    process: NodeProcess,
}

impl StoreProcess {
    /// Starts `binary store --listen 127.0.0.1:PORT` and waits (bounded) until it accepts
    /// connections; what it prints flows into `events`.
    pub async fn start(
        binary: &Path,
        port: u16,
        events: UnboundedSender<Event>,
    ) -> Result<Self, HarnessError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listen = addr.to_string();
        let args = ["store".as_ref(), "--listen".as_ref(), listen.as_ref()];
        let process = NodeProcess::spawn_args(STORE_NAME, binary, &args, events)?;
        let until = Instant::now() + START_LIMIT;
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(Self { addr, process });
            }
            if !process.is_alive() || Instant::now() > until {
                return Err(HarnessError::io(format!(
                    "starting the lease store on {addr} (pid {})",
                    process.pid
                ))(std::io::Error::from(
                    std::io::ErrorKind::TimedOut,
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Where the store listens (the upstream of the `nX_to_store` proxies).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid
    }

    /// The measured window starts: the store counts its load from now on.
    pub async fn measure(&mut self) {
        self.process.control(r#"{"cmd":"measure"}"#).await;
    }

    /// Asks the store to print its load since [`StoreProcess::measure`] as a `StoreLoad` event.
    pub async fn report(&mut self) {
        self.process.control(r#"{"cmd":"report"}"#).await;
    }

    /// Kills the store by PID and waits (bounded) until it is reaped.
    pub async fn stop(self) {
        self.process.stop().await;
    }
}
