//! Raft leader election as a sans-IO state machine, after tikv/raft-rs and quinn-proto: the runtime
//! calls [`Raft::handle_message`] and [`Raft::handle_timeout`] with the current time, then drains
//! [`Raft::ready`] — persist its hard state and log changes (fsync) *before* sending its messages.

mod config;
mod core;
mod message;
mod ticks;
pub mod wire;

pub use crate::election::CoreEvent;
pub use config::{Config, ConfigError, StallPolicy};
pub use core::{Disk, DurableChange, HardState, Raft, Ready, Role};
pub use message::{Entry, EntryKind, Message};
