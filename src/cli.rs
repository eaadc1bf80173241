//! Command-line interface (clap derive). Each subcommand's handler lives in its own module; this
//! file only declares the arguments and maps results to exit codes.

use clap::{Parser, Subcommand};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use electune::exit;
use electune::proxy::{self, ProxyServer};

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
    let rt = runtime();
    rt.block_on(async {
        let addr = match tokio::net::lookup_host((host, port)).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => a,
                None => {
                    eprintln!("electune proxy: --host {host}: no address found");
                    return exit::BAD_INPUT;
                }
            },
            Err(e) => {
                eprintln!("electune proxy: --host {host}: {e}");
                return exit::BAD_INPUT;
            }
        };
        if !addr.ip().is_loopback() {
            eprintln!(
                "electune proxy: WARNING: listening on {addr}, which is not loopback. The API has \
                 no authentication: anyone who can reach this address can create proxies that \
                 connect anywhere this host can."
            );
        }
        let server = match ProxyServer::bind(addr).await {
            Ok(s) => s,
            Err(e @ proxy::Error::AddrInUse { .. }) => {
                eprintln!(
                    "electune proxy: {e}. Is another toxiproxy or electune proxy running on port \
                     {port}? Stop it, or pick another port with --port."
                );
                return exit::ENVIRONMENT;
            }
            Err(e) => {
                eprintln!("electune proxy: {e}");
                return exit::ENVIRONMENT;
            }
        };
        println!(
            "electune proxy: toxiproxy API listening on {}",
            server.url()
        );
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        server
            .serve(async move {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                let sigterm = async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => flag.store(true, Ordering::SeqCst),
                    _ = sigterm => {}
                }
            })
            .await;
        if interrupted.load(Ordering::SeqCst) {
            exit::INTERRUPTED
        } else {
            exit::SUCCESS
        }
    })
}
