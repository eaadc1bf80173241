//! Sans-IO election cores. Each mechanism is a pure state machine behind [`ElectionCore`]: it
//! never reads a clock, opens a socket or sleeps. The driver passes time (`now`, nanoseconds on
//! the member's own clock) and messages in, and drains a [`Ready`] of things to persist, report
//! and send. Each mechanism owns its wire format (inside the shared [`frame`], from [`crate::wire`]) and durable state.

mod core;
pub mod etcd_election;
pub mod lease;
pub mod raft;
pub mod simnet;

pub use crate::wire::{frame, node_name, parse_node_name, NodeId, Wire, WireError};
pub use core::{CoreEvent, ElectionCore, Persist, Ready};
