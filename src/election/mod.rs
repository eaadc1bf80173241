//! Sans-IO election cores. Each mechanism is a pure state machine: it never reads a clock, opens a
//! socket or sleeps. The runtime passes time (`now`, nanoseconds on the node's own clock) and
//! messages in, and drains a [`raft::Ready`] of things to persist, send and report.

pub mod raft;
pub mod simnet;
pub mod wire;

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
