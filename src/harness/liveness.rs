//! Whether an external toxiproxy server is still there. Every byte between members goes through
//! it, so once it stops answering a run measures nothing but its absence: while trials run, a
//! probe asks its `/version`, and a loss it establishes ends them at the server's last answer,
//! keeping what they measured until then.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use super::network::ToxiproxyServer;
use crate::clock::monotonic_ns;

/// How often the probe asks.
pub const PROBE_EVERY: Duration = Duration::from_millis(200);
/// How long a probe waits for an answer: a server slower than this on its own API has stopped
/// carrying the members' traffic as asked.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Consecutive failed probes that establish a loss (the first may meet a connection the server
/// closed between two requests).
pub const PROBE_FAILURES: u32 = 2;

/// The toxiproxy server stopped answering.
#[derive(Debug, Clone)]
pub struct ProxyLoss {
    /// The server's URL.
    pub url: String,
    /// When the last answered probe was sent (CLOCK_MONOTONIC ns): the server carried traffic
    /// until then, and what follows is not measured.
    pub last_answer_ns: u64,
    /// The same moment on the wall clock.
    pub last_answer_at: SystemTime,
    /// What the last failed probe got.
    pub cause: Arc<crate::toxiproxy::Error>,
}

/// A trial that ended before its time: why, and what its timeline covers.
#[derive(Debug, Clone)]
pub struct CutShort {
    /// The toxiproxy server stopped answering.
    pub loss: ProxyLoss,
    /// Whether the first leader had been elected (the measured window had begun).
    pub elected: bool,
    /// Measured time the timeline covers: from the first leader to the server's last answer.
    pub measured: Duration,
    /// Measured time asked for.
    pub asked: Duration,
}

impl std::fmt::Display for CutShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the toxiproxy at {} stopped answering ", self.loss.url)?;
        let s = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        if !self.elected {
            write!(f, "before the first leader was elected")
        } else if self.measured >= self.asked {
            write!(
                f,
                "after the {} measured window, while a failover under way was waited for",
                s(self.asked)
            )
        } else {
            write!(
                f,
                "{} into the {} measured window",
                s(self.measured),
                s(self.asked)
            )
        }
    }
}

impl CutShort {
    /// What the trial's timeline measures, in words.
    pub fn covers(&self) -> String {
        let s = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        if !self.elected {
            "nothing was measured: no leader had been elected".into()
        } else if self.measured >= self.asked {
            format!(
                "the measurement covers the {} asked, with the failover under way at its end \
                 censored at the toxiproxy's last answer",
                s(self.asked)
            )
        } else {
            format!(
                "the measurement covers {} of the {} asked, from the first leader to the \
                 toxiproxy's last answer",
                s(self.measured),
                s(self.asked)
            )
        }
    }
}

/// Probes `server` until it is dropped or establishes that it stopped answering (then recorded
/// with [`ToxiproxyServer::mark_lost`]).
pub(super) async fn probe(server: Weak<ToxiproxyServer>) {
    let mut last = (monotonic_ns(), SystemTime::now());
    let mut failures = 0;
    loop {
        let Some(net) = server.upgrade() else { return };
        let client = net.client.with_timeout(PROBE_TIMEOUT);
        let url = net.url.clone();
        drop(net);
        let sent = (monotonic_ns(), SystemTime::now());
        match client.version().await {
            Ok(_) => {
                last = sent;
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                if failures >= PROBE_FAILURES {
                    if let Some(net) = server.upgrade() {
                        net.mark_lost(ProxyLoss {
                            url,
                            last_answer_ns: last.0,
                            last_answer_at: last.1,
                            cause: Arc::new(e),
                        });
                    }
                    return;
                }
            }
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}
