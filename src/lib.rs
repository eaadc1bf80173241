//! electune: measure and recommend heartbeat and election/lease timeouts by running real leader
//! elections through toxiproxy.
//!
//! The pipeline, bottom up: [`election`] (sans-IO cores) → [`node`] (one process per member) →
//! [`proxy`] / [`toxiproxy`] (the network) → [`harness`] (a cluster run) → [`analysis`] (metrics)
//! → [`results`] (what a sweep keeps) → [`recommend`] (the decision) → [`report`] (plots and
//! exports). [`sweep`] plans and runs trials and fills `results`; `recommend` and `report` never
//! depend on it.

pub mod analysis;
pub mod backend;
pub mod clock;
pub mod driver;
pub mod duration;
pub mod election;
pub mod etcd;
pub mod event;
pub mod exit;
pub mod harness;
pub mod node;
pub mod output;
pub mod profile;
pub mod proxy;
pub mod recommend;
pub mod report;
pub mod results;
pub mod sim;
pub mod spawn;
pub mod store;
pub mod sweep;
pub mod toxiproxy;
pub mod wire;
