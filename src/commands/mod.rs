//! Subcommand handlers. Library errors become exit codes here (anyhow only at this edge).

pub mod calibrate;
pub mod check;
pub mod compare;
pub mod node;
pub mod proxy;
pub mod report;
pub mod run;
pub mod sweep;

use electune::exit;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: exit::BAD_INPUT,
            error: error.into(),
        }
    }
    pub fn environment(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: exit::ENVIRONMENT,
            error: error.into(),
        }
    }
}

/// A multi-threaded tokio runtime for the harness.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::environment)
}

/// A watch channel that turns true on the first Ctrl-C (SIGINT) or SIGTERM.
pub fn interrupt_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let term_fut = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term_fut => {}
        }
        eprintln!("\ninterrupted: stopping every node and keeping what was measured");
        let _ = tx.send(true);
    });
    rx
}
