//! The lease store's load, as the cost of a short RetryPeriod: requests and writes per second
//! over the measured window, from the `store_load` event a trial with a store ends with.

use serde::{Deserialize, Serialize};

use super::RunContext;
use crate::event::{Event, EventKind};

/// The store's load over one trial's window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoreLoad {
    pub requests: u64,
    pub writes: u64,
    pub refused_writes: u64,
    /// The window (s).
    pub seconds: f64,
    pub requests_per_second: f64,
    pub writes_per_second: f64,
}

/// The store load a timeline reports (`None` for a mechanism without a store).
pub fn store_load(events: &[Event], context: &RunContext) -> Option<StoreLoad> {
    let seconds = context.end_ns.saturating_sub(context.start_ns) as f64 / 1e9;
    let per = |n: u64| {
        if seconds > 0.0 {
            n as f64 / seconds
        } else {
            0.0
        }
    };
    events.iter().rev().find_map(|e| match e.kind {
        EventKind::StoreLoad {
            requests,
            writes,
            refused_writes,
            ..
        } => Some(StoreLoad {
            requests,
            writes,
            refused_writes,
            seconds,
            requests_per_second: per(requests),
            writes_per_second: per(writes),
        }),
        _ => None,
    })
}

/// The additive material of [`StoreLoad`] (a [`super::Tally`] field): counts add and windows add
/// across trials, so the merged rates are the whole exposure's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreTally {
    pub requests: u64,
    pub writes: u64,
    pub refused_writes: u64,
    /// The windows the counts were taken over (ns).
    pub window_ns: u64,
}

impl StoreTally {
    /// One trial's counts (`None` for a mechanism without a store).
    pub fn of(events: &[Event], context: &RunContext) -> Option<Self> {
        store_load(events, context).map(|l| Self {
            requests: l.requests,
            writes: l.writes,
            refused_writes: l.refused_writes,
            window_ns: context.end_ns.saturating_sub(context.start_ns),
        })
    }

    /// Adds `o` into `self`.
    pub fn absorb(&mut self, o: &Self) {
        self.requests += o.requests;
        self.writes += o.writes;
        self.refused_writes += o.refused_writes;
        self.window_ns += o.window_ns;
    }

    /// Requests and writes per second over the windows.
    pub fn load(&self) -> StoreLoad {
        let seconds = self.window_ns as f64 / 1e9;
        let per = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        StoreLoad {
            requests: self.requests,
            writes: self.writes,
            refused_writes: self.refused_writes,
            seconds,
            requests_per_second: per(self.requests),
            writes_per_second: per(self.writes),
        }
    }
}
