//! The network: a toxiproxy server (built-in unless the user names one) and one proxy per directed
//! link. Bytes from n1 to n3 travel only through `n1_to_n3`, written by n1 as the proxy's client,
//! so they are on that proxy's `upstream` stream; that is where link toxics go.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::proxy::RunningProxy;
use crate::toxiproxy::{Client, NewProxy, Stream, Toxic, ToxicAttributes, Version};

use super::error::HarnessError;

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
}

impl ToxiproxyServer {
    /// Connects to `url` (checking `/version`), or starts the built-in server on a free port.
    pub async fn connect_or_start(url: Option<&str>) -> Result<Self, HarnessError> {
        let (url, builtin) = match url {
            Some(u) => (u.to_string(), None),
            None => {
                let running = crate::proxy::spawn_local()
                    .await
                    .map_err(|e| HarnessError::BuiltinProxy(e.to_string()))?;
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
        Ok(Self {
            client,
            url,
            builtin,
            fractional_ms: version.has(Version::FRACTIONAL_MS),
            approximations: Mutex::new(Vec::new()),
        })
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
        let toxic = Toxic::new(name, Stream::Upstream, attributes);
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

    /// Deletes proxies (best effort is not good enough: every failure is reported).
    pub async fn delete(&self, names: &[String]) -> Result<(), HarnessError> {
        for n in names {
            self.client.delete_proxy(n).await.map_err(self.err())?;
        }
        Ok(())
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
