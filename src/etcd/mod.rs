//! A real etcd as the lease store: finding the binary ([`EtcdBinary`]), starting a cluster of
//! members on loopback (the harness runs them as `crate::harness::EtcdCluster`, peer traffic
//! through proxies), and the lease
//! store client that performs one [`crate::store::StoreRequest`] against etcd's v3 JSON gateway as
//! the Kubernetes API server would underneath ([`EtcdLeaseStore`]). `--etcd URL` (an etcd the user
//! runs) is an [`EtcdEndpoint`]. The etcd election recipe's requests ([`crate::store::kv`])
//! go to a real etcd through [`EtcdKvClient`].
//!
//! Wiring, for the process backend:
//! ```text
//! let binary = EtcdBinary::find()?;                       // EtcdError::Missing → exit 3
//! let etcd = harness::EtcdCluster::start(harness::EtcdSpec::new(binary, 3, dir, &prefix), &net).await?;
//! // a proxy per (node → store member) link, upstream etcd.client_addr(j)
//! let store = EtcdLeaseStore::new(EtcdEndpoint::from_addr(proxy_listen), "lease-name")?;
//! //   or EtcdLeaseStore::with_failover(one endpoint per member, "lease-name")?
//! match store.execute(&request, timeout).await? { Some(response) => ..., None => /* no answer */ }
//! // --etcd URL: EtcdLeaseStore::new(EtcdEndpoint::parse(url)?, name)?, store.remove(t) after
//! // faults: etcd.crash(j).await, etcd.restart(j)?, etcd.pause(j), etcd.resume(j)
//! etcd.stop(&net).await?;
//! ```
//! Nothing here needs protoc or TLS: the gateway is plain HTTP with JSON.

mod binary;
mod client;
mod error;
mod gateway;
mod kv_client;
mod kv_http;
mod kv_watch;
mod member;
pub mod metrics;
mod namespace;
mod probe;
mod record;

pub use binary::{parse_version, EtcdBinary, ETCD_BIN_ENV, MIN_VERSION};
pub(crate) use client::http_client;
pub use client::{EtcdEndpoint, EtcdLeaseStore, KEY_PREFIX};
pub use error::{EtcdError, INSTALL_HINT};
pub use gateway::StatusResponse;
pub use kv_client::{EtcdKvClient, KvPush};
pub use kv_watch::{EtcdWatch, WatchLost};
pub(crate) use member::{health, log_tail, EtcdProcess, MemberConfig};
pub use namespace::Namespace;
pub use probe::{probe, Probed, PROBE_TIMEOUT};
pub use record::{holder_identity, micro_time};
