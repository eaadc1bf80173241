//! The network: a toxiproxy server (built-in unless the user names one) and one proxy per directed
//! link. Bytes from n1 to n3 travel only through `n1_to_n3`, written by n1 as the proxy's client,
//! so they are on that proxy's `upstream` stream; that is where link toxics go.

use crate::proxy::RunningProxy;
use crate::toxiproxy::{Client, NewProxy, Stream, Toxic, ToxicAttributes};

use super::error::HarnessError;

/// The toxiproxy server a run talks to.
pub struct ToxiproxyServer {
    pub client: Client,
    pub url: String,
    /// Held to keep the built-in server running; `None` for an external toxiproxy.
    builtin: Option<RunningProxy>,
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
        client
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
        })
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

    /// Adds a toxic to the sending direction of a directed-link proxy.
    pub async fn add_toxic(
        &self,
        proxy: &str,
        name: &str,
        attributes: ToxicAttributes,
    ) -> Result<(), HarnessError> {
        let toxic = Toxic::new(name, Stream::Upstream, attributes);
        self.client
            .create_toxic(proxy, &toxic)
            .await
            .map_err(self.err())?;
        Ok(())
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

/// A latency toxic in toxiproxy's units (milliseconds, fractions allowed by the built-in server).
pub fn latency(latency: std::time::Duration, jitter: std::time::Duration) -> ToxicAttributes {
    ToxicAttributes::Latency {
        latency: latency.as_secs_f64() * 1e3,
        jitter: jitter.as_secs_f64() * 1e3,
    }
}
