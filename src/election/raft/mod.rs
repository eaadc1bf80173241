//! Raft leader election as a sans-IO state machine, after tikv/raft-rs and quinn-proto: the runtime
//! calls [`Raft::handle_message`] and [`Raft::handle_timeout`] with the current time, then drains
//! [`Raft::ready`] — persist its hard state and log changes (fsync) *before* sending its messages.
//!
//! The timers follow one of three [`Flavor`]s (etcd, hashicorp, thesis), chosen in the profile as
//! `cluster.raft.flavor`; [`Config::timing`] says what a flavor runs for a point.

mod config;
mod core;
mod log;
mod message;
mod replication;
mod ticks;
mod timers;
pub mod wire;

pub use crate::election::CoreEvent;
pub use config::{
    Config, ConfigError, Flavor, FlavorTiming, StallPolicy, ETCD_MAX_ELECTION_TIMEOUT,
    HASHICORP_COMMIT_TIMEOUT, HASHICORP_RPC_TIMEOUT,
};
pub use core::{Disk, DurableChange, HardState, Raft, Ready, Role};
pub use log::{DurableLog, LogChange};
pub use message::{Entry, EntryKind, Message, Snapshot};
