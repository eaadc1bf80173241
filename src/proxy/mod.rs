//! electune's built-in toxiproxy-compatible server: the toxiproxy 2.x HTTP API ([`api`]) over a
//! proxy table ([`registry`]) whose connections ([`link`]) apply toxics ([`toxics`]) with a precise
//! timer ([`timer`]).
//!
//! Differences from Shopify's toxiproxy, all deliberate:
//! - `latency` and `jitter` accept fractional milliseconds (e.g. 0.3); jitter is drawn uniformly
//!   from a continuous range instead of whole milliseconds.
//! - Latency is precise to about 0.1 ms (a dedicated timer thread instead of the runtime's 1 ms
//!   timer wheel).
//! - `timeout` and `reset_peer` hold data instead of dropping it, so that removing them resumes the
//!   stream without a gap: no byte is ever lost or duplicated by a toxic change.
//! - A proxy created without `listen` listens on `127.0.0.1:0`, not on every interface.
//! - Duplicate names inside one `POST /populate` are a 409.
//! - Every value accepted is honoured: attributes must be from 0 to `i64::MAX` (a latency of
//!   `1e30` ms is a 400, not a panic on the first byte); names that could not be used in a URL
//!   are refused at creation; every error, including unknown routes and wrong methods, is
//!   `{"error", "status"}` JSON; a `PATCH` to a listen address that cannot be bound leaves the
//!   proxy as it was. See [`validate`] and [`api`].
//! - `GET /version` lists `capabilities` (`fractional-ms`), which Shopify's toxiproxy does not
//!   send, so electune's client knows whether it may send fractional milliseconds.
//!
//! [`Compat::Strict`] (`electune proxy --strict`) turns the extensions off: attributes are taken
//! exactly as toxiproxy 2.x takes them (64-bit integers, Go's error messages) and no capability is
//! advertised, so electune's client can be tested against toxiproxy's rules without Go.
//!
//! ```no_run
//! # async fn demo() -> Result<(), electune::proxy::Error> {
//! let running = electune::proxy::spawn_local().await?;
//! let client = electune::toxiproxy::Client::new(&running.url()).expect("valid URL");
//! // ... create proxies and toxics with `client` ...
//! running.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod link;
mod registry;
pub mod timer;
mod toxics;
mod validate;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use registry::Registry;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API address is already taken (the CLI exits with code 3).
    #[error("cannot listen on {addr}: address already in use")]
    AddrInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Any other failure to bind.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// How closely the server follows toxiproxy 2.x.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compat {
    /// electune's extensions on: fractional milliseconds for `latency` and `jitter`, advertised
    /// as the `fractional-ms` capability.
    #[default]
    Extended,
    /// Exactly toxiproxy 2.x's rules for toxic attributes and toxicity; no capability advertised.
    Strict,
}

/// A bound, not yet serving, toxiproxy-compatible server.
pub struct ProxyServer {
    listener: TcpListener,
    addr: SocketAddr,
    registry: Arc<Registry>,
}

impl ProxyServer {
    /// Binds the HTTP API to `addr` (port 0 picks a free port), with electune's extensions.
    pub async fn bind(addr: SocketAddr) -> Result<ProxyServer, Error> {
        Self::bind_with(addr, Compat::Extended).await
    }

    /// Binds the HTTP API to `addr` in the given compatibility mode.
    pub async fn bind_with(addr: SocketAddr, compat: Compat) -> Result<ProxyServer, Error> {
        let listener = TcpListener::bind(addr).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                Error::AddrInUse { addr }
            } else {
                Error::Bind { addr, source }
            }
        })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(ProxyServer {
            listener,
            addr,
            registry: Arc::new(Registry::new(compat == Compat::Strict)),
        })
    }

    /// The address the API listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API's base URL, e.g. `http://127.0.0.1:8474` (loopback when bound to every interface).
    pub fn url(&self) -> String {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{a}")
    }

    /// Serves until `shutdown` completes, then closes every proxy listener and connection.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let registry = self.registry.clone();
        let app = api::router(self.registry);
        let signal = async move {
            shutdown.await;
            registry.stop_all().await;
        };
        if let Err(e) = axum::serve(self.listener, app)
            .with_graceful_shutdown(signal)
            .await
        {
            eprintln!("electune proxy: API server failed: {e}");
        }
    }
}

/// A server running in a background task; see [`spawn_local`].
pub struct RunningProxy {
    addr: SocketAddr,
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningProxy {
    /// The API's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The API's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits until every listener and connection is closed.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningProxy {
    /// Signals the server to stop; it closes its listeners and connections in the background.
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `127.0.0.1:0` and serves in a background tokio task (call from within a runtime).
pub async fn spawn_local() -> Result<RunningProxy, Error> {
    spawn_local_with(Compat::Extended).await
}

/// [`spawn_local`] in the given compatibility mode ([`Compat::Strict`] for toxiproxy's rules).
pub async fn spawn_local_with(compat: Compat) -> Result<RunningProxy, Error> {
    let server = ProxyServer::bind_with(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), compat).await?;
    let (tx, rx) = oneshot::channel::<()>();
    let addr = server.local_addr();
    let url = server.url();
    let task = tokio::spawn(server.serve(async move {
        let _ = rx.await;
    }));
    Ok(RunningProxy {
        addr,
        url,
        stop: Some(tx),
        task: Some(task),
    })
}

/// Validates a `POST /proxies/{name}/toxics` body exactly as the server does, without a server:
/// `Ok` with the toxic as JSON, or the error the API would answer, as `(status, message)`. For
/// fuzzing and for clients that want to check a body before sending it.
pub fn check_toxic_body(body: &[u8], strict: bool) -> Result<String, (u16, String)> {
    match registry::parse_new_toxic(body, strict) {
        Ok(t) => Ok(serde_json::to_string(&t).expect("a toxic serializes")),
        Err(e) => Err((e.status.as_u16(), e.message)),
    }
}
