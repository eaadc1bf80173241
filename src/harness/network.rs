//! The network: a toxiproxy server (built-in unless the user names one) and one proxy per directed
//! link. Bytes from n1 to n3 travel only through `n1_to_n3`, written by n1 as the proxy's client,
//! so they are on that proxy's `upstream` stream; that is where link toxics go.
//!
//! A toxiproxy named with `--toxiproxy` may be shared with other users, so electune leaves it as
//! it found it: every proxy this process creates starts with [`ToxiproxyServer::run_prefix`]
//! (`electune-<host>-<pid>_`), proxies are deleted when their cluster stops, and proxies left by
//! an electune run on this host whose process is gone (killed, or its machine restarted) are
//! deleted when the next run connects. Proxies of live runs, of other hosts and of other users
//! are never touched.
//!
//! An external server is probed while trials run ([`ToxiproxyServer::watch_liveness`]); once it
//! has stopped answering, trials end at its last answer and nothing more is asked of it.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::proxy::RunningProxy;
use crate::toxiproxy::{Client, NewProxy, Stream, Toxic, ToxicAttributes, Version};

use super::error::HarnessError;
use super::liveness::{self, ProxyLoss};

/// The toxiproxy server a run talks to.
pub struct ToxiproxyServer {
    pub client: Client,
    pub url: String,
    /// Held to keep the built-in server running; `None` for an external toxiproxy.
    builtin: Option<RunningProxy>,
    /// The server takes fractional milliseconds (it advertised [`Version::FRACTIONAL_MS`]).
    fractional_ms: bool,
    /// Every approximation made so far, in order.
    approximations: Mutex<Vec<Approximation>>,
    /// `electune-<host>-<pid>_`.
    run_prefix: String,
    /// Proxies of dead electune runs deleted on connecting.
    removed_stale: Vec<String>,
    /// Set once the server is established to have stopped answering.
    loss: watch::Sender<Option<ProxyLoss>>,
    /// The liveness probe of an external server, started by the first trial that watches.
    probe: Mutex<Option<JoinHandle<()>>>,
}

/// The owner part of proxy names: `electune-<host>-<pid>_`, with the host reduced to
/// `[A-Za-z0-9-]` so that the name stays usable in a URL.
fn owner_prefix(host: &str, pid: u32) -> String {
    let host: String = host
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(64)
        .collect();
    format!("electune-{host}-{pid}_")
}

/// This host's name as [`owner_prefix`] writes it.
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into())
}

/// The (host, pid) of a proxy named by [`owner_prefix`], if it is one.
fn owner_of(name: &str) -> Option<(&str, u32)> {
    let rest = name.strip_prefix("electune-")?;
    let (owner, _) = rest.split_once('_')?;
    let (host, pid) = owner.rsplit_once('-')?;
    Some((host, pid.parse().ok()?))
}

/// Whether a process with this PID exists on this host (EPERM: it exists, owned by another user).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl ToxiproxyServer {
    /// Connects to `url` (checking `/version`), or starts the built-in server on a free port.
    pub async fn connect_or_start(url: Option<&str>) -> Result<Self, HarnessError> {
        let (url, builtin) = match url {
            Some(u) => (u.to_string(), None),
            None => {
                let running = crate::proxy::spawn_local()
                    .await
                    .map_err(HarnessError::BuiltinProxy)?;
                (running.url(), Some(running))
            }
        };
        let client = Client::new(&url).map_err(|source| HarnessError::Proxy {
            url: url.clone(),
            source,
        })?;
        let version = client
            .version()
            .await
            .map_err(|source| HarnessError::Proxy {
                url: url.clone(),
                source,
            })?;
        let mut net = Self {
            client,
            url,
            builtin,
            fractional_ms: version.has(Version::FRACTIONAL_MS),
            approximations: Mutex::new(Vec::new()),
            run_prefix: owner_prefix(&this_host(), std::process::id()),
            removed_stale: Vec::new(),
            loss: watch::Sender::new(None),
            probe: Mutex::new(None),
        };
        if !net.is_builtin() {
            net.removed_stale = net.remove_stale().await?;
        }
        Ok(net)
    }

    /// The prefix every proxy name of this process must start with on this server:
    /// `electune-<host>-<pid>_`.
    pub fn run_prefix(&self) -> &str {
        &self.run_prefix
    }

    /// Proxies left by electune runs on this host that are gone, deleted on connecting.
    pub fn removed_stale(&self) -> &[String] {
        &self.removed_stale
    }

    /// Deletes the proxies of electune runs on this host whose process no longer exists.
    async fn remove_stale(&self) -> Result<Vec<String>, HarnessError> {
        let host = owner_of(&self.run_prefix).map(|(h, _)| h.to_owned());
        let stale: Vec<String> = self
            .client
            .proxies()
            .await
            .map_err(self.err())?
            .into_iter()
            .map(|p| p.name)
            .filter(|n| match owner_of(n) {
                Some((h, pid)) => {
                    Some(h) == host.as_deref() && pid != std::process::id() && !process_alive(pid)
                }
                None => false,
            })
            .collect();
        for name in &stale {
            match self.client.delete_proxy(name).await {
                // Another run cleaning up at the same time got there first.
                Err(crate::toxiproxy::Error::Status { status: 404, .. }) => {}
                other => other.map_err(self.err())?,
            }
        }
        Ok(stale)
    }

    /// Whether the server takes fractional milliseconds for latency and jitter (electune's
    /// built-in server does; Shopify's toxiproxy and `electune proxy --strict` do not).
    pub fn takes_fractional_ms(&self) -> bool {
        self.fractional_ms
    }

    /// Every latency this server could not take as asked, and what was sent instead.
    pub fn approximations(&self) -> Vec<Approximation> {
        self.approximations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether this is electune's own server.
    pub fn is_builtin(&self) -> bool {
        self.builtin.is_some()
    }

    /// Turns `Some` once this server is established to have stopped answering (probed every
    /// [`liveness::PROBE_EVERY`] from the first call on, for an external server; the built-in one
    /// lives in this process). Must be called inside a tokio runtime.
    pub fn watch_liveness(self: &Arc<Self>) -> watch::Receiver<Option<ProxyLoss>> {
        if !self.is_builtin() {
            let mut probe = self.probe.lock().unwrap_or_else(|e| e.into_inner());
            if probe.is_none() {
                *probe = Some(tokio::spawn(liveness::probe(Arc::downgrade(self))));
            }
        }
        self.loss.subscribe()
    }

    /// When and how this server stopped answering, if it has.
    pub fn lost(&self) -> Option<ProxyLoss> {
        self.loss.borrow().clone()
    }

    /// Records that the server stopped answering (the first loss recorded stands).
    pub(super) fn mark_lost(&self, loss: ProxyLoss) {
        self.loss.send_if_modified(|v| match v {
            None => {
                *v = Some(loss);
                true
            }
            Some(_) => false,
        });
    }

    pub(crate) fn err(&self) -> impl FnOnce(crate::toxiproxy::Error) -> HarnessError + '_ {
        move |source| HarnessError::Proxy {
            url: self.url.clone(),
            source,
        }
    }

    /// Creates proxies and returns them in the same order with the addresses they got.
    pub async fn create(&self, proxies: &[NewProxy]) -> Result<Vec<ProxyEndpoint>, HarnessError> {
        let mut out = Vec::with_capacity(proxies.len());
        for p in proxies {
            let created = self.client.create_proxy(p).await.map_err(self.err())?;
            out.push(ProxyEndpoint {
                name: created.name,
                listen: created.listen,
            });
        }
        Ok(out)
    }

    /// Adds a toxic to the sending direction of a directed-link proxy. A latency the server
    /// cannot take as asked (fractional milliseconds on a server without the capability) is sent
    /// as [`whole_ms`] maps it, and returned (and recorded) as an [`Approximation`].
    pub async fn add_toxic(
        &self,
        proxy: &str,
        name: &str,
        attributes: ToxicAttributes,
    ) -> Result<Option<Approximation>, HarnessError> {
        self.add_toxic_on(proxy, Stream::Upstream, name, attributes)
            .await
    }

    /// [`ToxiproxyServer::add_toxic`] on either direction of a proxy: the answers of a
    /// request/response proxy (a member's proxy to the store) flow `Downstream`.
    pub async fn add_toxic_on(
        &self,
        proxy: &str,
        stream: Stream,
        name: &str,
        attributes: ToxicAttributes,
    ) -> Result<Option<Approximation>, HarnessError> {
        let mut approximation = None;
        let attributes = match attributes {
            ToxicAttributes::Latency { latency, jitter } if !self.fractional_ms => {
                let asked = LatencyMs {
                    latency_ms: latency,
                    jitter_ms: jitter,
                };
                let applied = whole_ms(asked);
                if applied != asked {
                    approximation = Some(Approximation {
                        link: proxy.to_owned(),
                        toxic: name.to_owned(),
                        asked,
                        applied,
                    });
                }
                ToxicAttributes::Latency {
                    latency: applied.latency_ms,
                    jitter: applied.jitter_ms,
                }
            }
            other => other,
        };
        let toxic = Toxic::new(name, stream, attributes);
        self.client
            .create_toxic(proxy, &toxic)
            .await
            .map_err(self.err())?;
        if let Some(a) = &approximation {
            self.approximations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(a.clone());
        }
        Ok(approximation)
    }

    /// Removes a toxic.
    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), HarnessError> {
        self.client
            .delete_toxic(proxy, name)
            .await
            .map_err(self.err())
    }

    /// Deletes proxies (best effort is not good enough: every failure is reported). Nothing is
    /// asked of a server that stopped answering: its proxies went with it, or, if it comes back,
    /// are deleted by the next electune run on this host as those of a run that is gone.
    pub async fn delete(&self, names: &[String]) -> Result<(), HarnessError> {
        if self.lost().is_some() {
            return Ok(());
        }
        for n in names {
            self.client.delete_proxy(n).await.map_err(self.err())?;
        }
        Ok(())
    }
}

impl Drop for ToxiproxyServer {
    fn drop(&mut self) {
        if let Some(p) = self
            .probe
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            p.abort();
        }
    }
}

/// A created proxy.
#[derive(Debug, Clone)]
pub struct ProxyEndpoint {
    pub name: String,
    /// `127.0.0.1:PORT` it listens on.
    pub listen: String,
}

/// A latency and its jitter, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    pub latency_ms: f64,
    pub jitter_ms: f64,
}

impl std::fmt::Display for LatencyMs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ms ± {} ms", self.latency_ms, self.jitter_ms)
    }
}

/// A link whose latency the toxiproxy server could not take as asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approximation {
    /// The proxy (directed link), e.g. `run42_n1_to_n2`.
    pub link: String,
    /// The toxic's name, e.g. `baseline`.
    pub toxic: String,
    /// What the profile asked for.
    pub asked: LatencyMs,
    /// What was sent to the server.
    pub applied: LatencyMs,
}

impl std::fmt::Display for Approximation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): asked latency {}, sent {} (this toxiproxy takes whole milliseconds)",
            self.link, self.toxic, self.asked, self.applied
        )
    }
}

/// What a set of approximations amounts to: each distinct (asked, applied) mapping with the
/// number of toxics it was used for (a sweep applies the same links in every trial).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproximationSummary {
    pub asked: LatencyMs,
    pub applied: LatencyMs,
    pub toxics: usize,
}

/// Groups approximations by (asked, applied), in order of first appearance.
pub fn summarize(all: &[Approximation]) -> Vec<ApproximationSummary> {
    let mut out: Vec<ApproximationSummary> = Vec::new();
    for a in all {
        match out
            .iter_mut()
            .find(|s| s.asked == a.asked && s.applied == a.applied)
        {
            Some(s) => s.toxics += 1,
            None => out.push(ApproximationSummary {
                asked: a.asked,
                applied: a.applied,
                toxics: 1,
            }),
        }
    }
    out
}

/// Maps a latency of `L ± J` ms onto whole milliseconds for a server that takes only integers
/// (Shopify's toxiproxy: toxics/latency.go `LatencyToxic` has `int64` fields, and api.go answers
/// 400 to `0.3`): the latency is rounded to the nearest whole ms, `L' = round(L)`, and the jitter
/// is rounded *up* to the smallest whole ms that keeps the asked range inside the sent one,
/// `J' = ceil(J + |L - L'|)`, so `[L - J, L + J] ⊆ [L' - J', L' + J']`. Whole values are sent
/// unchanged. For example 0.3 ± 0.1 ms is sent as 0 ± 1 ms, 1.5 ± 0 as 2 ± 1.
///
/// Why approximate instead of refusing: the lan, wan and gc-pauses profiles all have
/// sub-millisecond links, and a difference below 1 ms is below what toxiproxy can express at all;
/// refusing would make `--toxiproxy` unusable with them. Why this rounding: the mean stays within
/// half a millisecond of the asked one, and the sent range covers every delay the profile asked
/// for, so the run never sees *less* variation than the profile describes; the excess variation
/// is at most 1 ms each way. What toxiproxy then does with it (toxics/latency.go
/// `LatencyToxic.delay`): it draws a whole number of ms uniformly from `[L' - J', L' + J' - 1]`
/// and a negative delay adds none. Every such mapping is reported to the user as an
/// [`Approximation`] (printed by `electune run`, saved in its `network.json`).
pub fn whole_ms(asked: LatencyMs) -> LatencyMs {
    let (l, j) = (asked.latency_ms, asked.jitter_ms.max(0.0));
    if l.fract() == 0.0 && j.fract() == 0.0 {
        return LatencyMs {
            latency_ms: l,
            jitter_ms: j,
        };
    }
    let rounded = l.round();
    // A hair below each whole number counts as that number (0.1 + 0.2 is not 0.3 in f64).
    let jitter = (j + (l - rounded).abs() - 1e-9).ceil().max(0.0);
    LatencyMs {
        latency_ms: rounded,
        jitter_ms: jitter,
    }
}

/// A latency toxic in toxiproxy's units (milliseconds, fractions allowed by the built-in server).
pub fn latency(latency: std::time::Duration, jitter: std::time::Duration) -> ToxicAttributes {
    ToxicAttributes::Latency {
        latency: latency.as_secs_f64() * 1e3,
        jitter: jitter.as_secs_f64() * 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(latency_ms: f64, jitter_ms: f64) -> LatencyMs {
        LatencyMs {
            latency_ms,
            jitter_ms,
        }
    }

    #[test]
    fn owners_parse_back_and_stay_url_safe() {
        let p = owner_prefix("db-7.example.org\n", 4242);
        assert_eq!(p, "electune-db-7-example-org-4242_");
        assert_eq!(
            owner_of(&format!("{p}n1_to_n2")),
            Some(("db-7-example-org", 4242))
        );
        assert_eq!(owner_of("electune-h-x_n1"), None);
        assert_eq!(owner_of("redis_master"), None);
        assert!(process_alive(std::process::id()));
    }

    #[test]
    fn whole_ms_rounds_latency_and_covers_the_asked_range() {
        assert_eq!(whole_ms(ms(50.0, 5.0)), ms(50.0, 5.0));
        assert_eq!(whole_ms(ms(0.3, 0.1)), ms(0.0, 1.0));
        assert_eq!(whole_ms(ms(1.5, 0.0)), ms(2.0, 1.0));
        assert_eq!(whole_ms(ms(40.2, 2.0)), ms(40.0, 3.0));
        assert_eq!(whole_ms(ms(0.1 + 0.2, 0.7)), ms(0.0, 1.0));
        for (l, j) in [
            (0.3, 0.1),
            (0.05, 0.02),
            (12.7, 0.4),
            (3.5, 1.5),
            (100.49, 0.0),
        ] {
            let a = whole_ms(ms(l, j));
            assert_eq!(a.latency_ms.fract(), 0.0);
            assert_eq!(a.jitter_ms.fract(), 0.0);
            assert!(a.latency_ms - a.jitter_ms <= l - j + 1e-9, "{l} {j} {a:?}");
            assert!(a.latency_ms + a.jitter_ms >= l + j - 1e-9, "{l} {j} {a:?}");
            assert!((a.latency_ms - l).abs() <= 0.5);
        }
    }
}
