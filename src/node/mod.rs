//! `electune node`: one cluster member as an OS process. A thin runtime around the sans-IO core:
//! tokio does the sockets, one plain thread owns the core and its timers (a `recv_timeout` wakes
//! within tens of microseconds, where tokio's timer wheel is ~1 ms late), the data dir holds
//! durable state, and events go to stdout as JSON lines stamped with `CLOCK_MONOTONIC`.

mod config;
mod etcd_kv;
mod lateness;
pub mod net;
mod runtime;
mod storage;
mod store_stream;

pub use config::{EtcdAccess, EtcdKvAccess, EtcdMember, LeaseMember, NodeConfig, PeerAddr};
pub use runtime::run;
pub use storage::{Storage, StorageError};
