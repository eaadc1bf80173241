//! Command-line interface (clap derive). Each subcommand's handler lives in `commands/`; this file
//! declares the arguments and maps results to exit codes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::{self, Failure};
use electune::exit;
use electune::store::kv::KvConfig;

/// Which store `electune store` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// The lease store: one Lease record updated by compare-and-swap (`protocol: lease`).
    Cas,
    /// The etcd-like key-value store (`protocol: etcd-election`).
    Kv,
}

/// Measure and recommend heartbeat and election/lease timeouts for a cluster, by running real
/// leader elections through toxiproxy under the faults a profile describes.
#[derive(Debug, Parser)]
#[command(name = "electune", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sweep heartbeat × election timeout over a profile's faults, recommend a setting and write
    /// the tuning report under output/.
    Sweep(commands::sweep::SweepArgs),
    /// Decide again from a sweep's saved results (no re-run), optionally with other budgets.
    Recommend {
        /// The sweep's output directory.
        dir: PathBuf,
        /// Budget for false promotions per day (upper 95% bound).
        #[arg(long)]
        max_false_promotions_per_day: Option<f64>,
        /// Budget for leader flaps per hour.
        #[arg(long)]
        max_flaps_per_hour: Option<f64>,
    },
    /// Regenerate a sweep's report (report.md, report.html, plots) from its saved results.
    Report {
        /// The sweep's output directory.
        dir: PathBuf,
    },
    /// Run one configuration of a profile and print what happened (failovers, false promotions,
    /// flapping, invariants); writes events.jsonl and metrics.json.
    Run(commands::run::RunArgs),
    /// Measure what the simulator charges for on this machine (fsync, timer lateness, the proxy
    /// hop) and save it as <out>/calibration.json, where `--backend sim` reads it.
    Calibrate {
        /// Where to save calibration.json.
        #[arg(long, default_value = "output")]
        out: PathBuf,
    },
    /// Validate a profile and print it resolved.
    Check {
        /// The profile (YAML).
        profile: PathBuf,
    },
    /// Run a toxiproxy-compatible server (HTTP API plus data plane).
    Proxy {
        /// Address to listen on for the HTTP API. The API has no authentication: keep it on loopback.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port for the HTTP API.
        #[arg(long, default_value_t = 8474)]
        port: u16,
        /// Accept toxic attributes exactly as Shopify's toxiproxy 2.x does (64-bit integers only,
        /// its error messages) and advertise no electune extension, to test clients against it.
        #[arg(long)]
        strict: bool,
    },
    /// One cluster member (started by the harness).
    #[command(hide = true)]
    Node {
        /// The node's configuration (JSON written by the harness).
        #[arg(long)]
        config: PathBuf,
    },
    /// The built-in store (started by the harness for `protocol: lease` and `etcd-election`).
    #[command(hide = true)]
    Store {
        /// Address to serve on; keep it on loopback (`127.0.0.1:PORT`).
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// `cas`: client-go's Lease record by compare-and-swap; `kv`: the etcd-like key-value
        /// store of etcd's election recipe.
        #[arg(long, value_enum, default_value_t = StoreKind::Cas)]
        kind: StoreKind,
        /// The etcd server's `--election-timeout` the key-value store behaves as (minLeaseTTL =
        /// ⌈1.5 × it⌉ in seconds; what leases get on top of their TTL after an outage).
        #[arg(long, default_value = "1s")]
        etcd_election_timeout: electune::duration::HumanDuration,
    },
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Sweep(args) => commands::sweep_or_compare(args),
        Command::Recommend {
            dir,
            max_false_promotions_per_day,
            max_flaps_per_hour,
        } => {
            commands::report::recommend_again(dir, max_false_promotions_per_day, max_flaps_per_hour)
        }
        Command::Report { dir } => commands::report::report(dir),
        Command::Run(args) => commands::run::run(args),
        Command::Calibrate { out } => commands::calibrate::run(&out),
        Command::Check { profile } => commands::check::run(&profile).map(|()| exit::SUCCESS),
        Command::Proxy { host, port, strict } => commands::proxy::run(&host, port, strict),
        Command::Node { config } => commands::node::run(&config).map(|()| exit::SUCCESS),
        Command::Store {
            listen,
            kind,
            etcd_election_timeout,
        } => match kind {
            StoreKind::Cas => electune::store::server::run(listen),
            StoreKind::Kv => electune::store::kv_server::run(
                listen,
                KvConfig::for_election_timeout(etcd_election_timeout.0),
            ),
        }
        .map(|()| exit::SUCCESS)
        .map_err(commands::Failure::environment),
    };
    match result {
        Ok(code) => code,
        Err(Failure { code, error }) => {
            eprintln!("electune: error: {error:#}");
            code
        }
    }
}
