//! A cluster run: proxies for every directed link, node processes, the fenced sink, the fault
//! schedule, and one timeline of everything that happened. Everything it starts is on loopback and
//! is ended by PID when the run ends, fails or is interrupted.

mod chaos;
mod cluster;
mod collector;
mod error;
mod etcd_cluster;
mod liveness;
mod network;
mod process;
mod sink;
mod store;
mod targets;
mod trial;

pub use chaos::{
    check_fault_budget, fault_count, plan_faults, Chaos, FaultBudgetError, PlannedFault,
    MAX_FAULTS_PER_RUN,
};
pub use cluster::{first_leader_timeout, Cluster, ClusterSpec};
pub use collector::{Collector, LiveState};
pub use error::HarnessError;
pub use etcd_cluster::{peer_proxy_name, EtcdCluster, EtcdSpec};
pub use liveness::{CutShort, ProxyLoss};
pub use network::{
    summarize, Approximation, ApproximationSummary, LatencyMs, ProxyEndpoint, ToxiproxyServer,
};
pub use process::NodeProcess;
pub use sink::Sink;
pub use store::{StoreProcess, StoreService};
pub use targets::{expect_failover, resolve_targets, Resolved};
pub use trial::{run_trial, run_trial_keeping_partial, TrialOutcome, TrialSpec};
