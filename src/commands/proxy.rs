//! `electune proxy`: a toxiproxy-compatible server in the foreground.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use electune::exit;
use electune::proxy::{self, Compat, ProxyServer};

use super::{runtime, Failure};

pub fn run(host: &str, port: u16, strict: bool) -> Result<i32, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let addr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| Failure::bad_input(anyhow::anyhow!("--host {host}: {e}")))?
            .next()
            .ok_or_else(|| Failure::bad_input(anyhow::anyhow!("--host {host}: no address found")))?;
        if !addr.ip().is_loopback() {
            eprintln!(
                "electune proxy: WARNING: listening on {addr}, which is not loopback. The API has \
                 no authentication: anyone who can reach this address can create proxies that \
                 connect anywhere this host can."
            );
        }
        let compat = if strict { Compat::Strict } else { Compat::Extended };
        let server = match ProxyServer::bind_with(addr, compat).await {
            Ok(s) => s,
            Err(e @ proxy::Error::AddrInUse { .. }) => {
                return Err(Failure::environment(anyhow::anyhow!(
                    "{e}. Is another toxiproxy or electune proxy running on port {port}? Stop it, or pick another port with --port."
                )))
            }
            Err(e) => return Err(Failure::environment(e)),
        };
        println!(
            "electune proxy: toxiproxy API listening on {}{}",
            server.url(),
            if strict { " (strict: toxiproxy 2.x rules)" } else { "" }
        );
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        server
            .serve(async move {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
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
        Ok(if interrupted.load(Ordering::SeqCst) { exit::INTERRUPTED } else { exit::SUCCESS })
    })
}
