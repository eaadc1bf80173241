//! Command-line interface (clap derive). Each subcommand's handler lives in its own module; this
//! file only declares the arguments and maps results to exit codes.

use clap::{Parser, Subcommand};

use electune::exit;

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
    /// Run a toxiproxy-compatible server (HTTP API plus data plane).
    Proxy {
        /// Address to listen on for the HTTP API. The API has no authentication: keep it on loopback.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port for the HTTP API.
        #[arg(long, default_value_t = 8474)]
        port: u16,
    },
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Proxy { host, port } => run_proxy(&host, port),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

fn run_proxy(host: &str, port: u16) -> i32 {
    let _ = (host, port, runtime);
    eprintln!("electune proxy: not built yet");
    exit::ENVIRONMENT
}
