//! electune: measure and recommend heartbeat and election/lease timeouts by running real leader
//! elections through toxiproxy.
//!
//! The pipeline, bottom up: [`election`] (sans-IO cores) → [`node`] (one process per member) →
//! [`proxy`] / [`toxiproxy`] (the network) → [`harness`] (a cluster run) → [`analysis`] (metrics).

pub mod clock;
pub mod duration;
pub mod event;
pub mod exit;
pub mod proxy;
pub mod toxiproxy;
