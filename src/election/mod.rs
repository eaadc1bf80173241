//! Sans-IO election cores. Each mechanism is a pure state machine behind [`ElectionCore`]: it
//! never reads a clock, opens a socket or sleeps. The driver passes time (`now`, nanoseconds on
//! the member's own clock) and messages in, and drains a [`Ready`] of things to persist, report
//! and send. Each mechanism owns its wire format (inside the shared [`frame`]) and durable state.

mod core;
pub mod etcd_election;
pub mod frame;
pub mod lease;
pub mod raft;
pub mod simnet;

pub use core::{CoreEvent, ElectionCore, Persist, Ready, Wire};
pub use frame::WireError;

/// A cluster member, numbered from 1 and shown as `n1`, `n2`, ...
pub type NodeId = u32;

/// The display name of a node (`n3`).
pub fn node_name(id: NodeId) -> String {
    format!("n{id}")
}

/// Parses `n3` back into `3`.
pub fn parse_node_name(name: &str) -> Option<NodeId> {
    name.strip_prefix('n')?.parse().ok()
}
