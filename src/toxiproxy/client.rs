//! A strict async client for the toxiproxy v2 HTTP API.
//!
//! Strict means: every non-2xx answer is an [`Error::Status`] carrying the status and the server's
//! message, and every body is decoded into the typed model; nothing is silently ignored.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::model::{NewProxy, Proxy, ProxyUpdate, Toxic, ToxicUpdate, Version};

/// Errors from the toxiproxy client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-2xx status.
    #[error("toxiproxy answered {status}: {message}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The server's message (`error` field of its JSON body, or the raw body).
        message: String,
    },
    /// The request could not be sent or the answer not received.
    #[error("toxiproxy request {method} {url} failed")]
    Transport {
        /// HTTP method.
        method: String,
        /// Full URL.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered 2xx but the body is not what the API promises.
    #[error("toxiproxy answer to {method} {url} is not valid (body: {body})")]
    Decode {
        /// HTTP method.
        method: String,
        /// Full URL.
        url: String,
        /// The body as received (truncated).
        body: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The base URL or an argument is unusable.
    #[error("invalid toxiproxy request: {0}")]
    Invalid(String),
}

/// A toxiproxy API client. Cheap to clone (shares one connection pool).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// Per-request limit replacing the client's 30 s one ([`Client::with_timeout`]).
    timeout: Option<Duration>,
}

#[derive(Deserialize)]
struct Populated {
    proxies: Vec<Proxy>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

impl Client {
    /// A client for the server at `base_url`: `http://127.0.0.1:8474` or `127.0.0.1:8474`.
    /// Environment proxy settings (`HTTP_PROXY`...) are ignored: toxiproxy is reached directly.
    pub fn new(base_url: &str) -> Result<Client, Error> {
        let trimmed = base_url.trim().trim_end_matches('/');
        if trimmed.is_empty() {
            return Err(Error::Invalid("empty toxiproxy URL".into()));
        }
        let base = if trimmed.contains("://") {
            if !trimmed.starts_with("http://") {
                return Err(Error::Invalid(format!(
                    "only http:// URLs are supported: {base_url}"
                )));
            }
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        reqwest::Url::parse(&base).map_err(|e| Error::Invalid(format!("{base_url}: {e}")))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::Invalid(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            timeout: None,
        })
    }

    /// The same client (sharing its connection pool) whose every request fails after `timeout`
    /// instead of 30 s: for a liveness probe, where a server that does not answer quickly has
    /// stopped answering.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// The base URL requests go to, e.g. `http://127.0.0.1:8474`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<Version, Error> {
        let body = self.send(Method::GET, "/version", None::<&()>).await?;
        // toxiproxy before 2.6 answered plain text; accept it as the version string.
        match serde_json::from_slice::<Version>(&body) {
            Ok(v) => Ok(v),
            Err(e) => {
                let text = String::from_utf8_lossy(&body).trim().to_owned();
                if !text.is_empty() && !text.starts_with('{') {
                    Ok(Version {
                        version: text,
                        capabilities: Vec::new(),
                    })
                } else {
                    Err(self.decode_error(Method::GET, "/version", &body, e))
                }
            }
        }
    }

    /// `GET /proxies`: every proxy, sorted by name.
    pub async fn proxies(&self) -> Result<Vec<Proxy>, Error> {
        let map: std::collections::BTreeMap<String, Proxy> =
            self.json(Method::GET, "/proxies", None::<&()>).await?;
        Ok(map.into_values().collect())
    }

    /// `POST /proxies` (201). The answer carries the address actually bound (for port 0).
    pub async fn create_proxy(&self, proxy: &NewProxy) -> Result<Proxy, Error> {
        self.json(Method::POST, "/proxies", Some(proxy)).await
    }

    /// `GET /proxies/{name}`.
    pub async fn proxy(&self, name: &str) -> Result<Proxy, Error> {
        self.json(
            Method::GET,
            &format!("/proxies/{}", seg(name)?),
            None::<&()>,
        )
        .await
    }

    /// `PATCH /proxies/{name}`: change only the fields present in `update`.
    pub async fn update_proxy(&self, name: &str, update: &ProxyUpdate) -> Result<Proxy, Error> {
        self.json(
            Method::PATCH,
            &format!("/proxies/{}", seg(name)?),
            Some(update),
        )
        .await
    }

    /// `DELETE /proxies/{name}` (204).
    pub async fn delete_proxy(&self, name: &str) -> Result<(), Error> {
        self.send(
            Method::DELETE,
            &format!("/proxies/{}", seg(name)?),
            None::<&()>,
        )
        .await
        .map(drop)
    }

    /// `POST /populate` (201): create (or replace, when listen/upstream differ) a set of proxies.
    pub async fn populate(&self, proxies: &[NewProxy]) -> Result<Vec<Proxy>, Error> {
        let p: Populated = self.json(Method::POST, "/populate", Some(&proxies)).await?;
        Ok(p.proxies)
    }

    /// `GET /proxies/{proxy}/toxics`.
    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, Error> {
        self.json(
            Method::GET,
            &format!("/proxies/{}/toxics", seg(proxy)?),
            None::<&()>,
        )
        .await
    }

    /// `POST /proxies/{proxy}/toxics`. An empty name lets the server name it `<type>_<stream>`.
    pub async fn create_toxic(&self, proxy: &str, toxic: &Toxic) -> Result<Toxic, Error> {
        if toxic.r#type != toxic.attributes.toxic_type() {
            return Err(Error::Invalid(format!(
                "toxic {:?} has type {} but {} attributes",
                toxic.name,
                toxic.r#type,
                toxic.attributes.toxic_type()
            )));
        }
        self.json(
            Method::POST,
            &format!("/proxies/{}/toxics", seg(proxy)?),
            Some(toxic),
        )
        .await
    }

    /// `GET /proxies/{proxy}/toxics/{name}`.
    pub async fn toxic(&self, proxy: &str, name: &str) -> Result<Toxic, Error> {
        self.json(
            Method::GET,
            &format!("/proxies/{}/toxics/{}", seg(proxy)?, seg(name)?),
            None::<&()>,
        )
        .await
    }

    /// `PATCH /proxies/{proxy}/toxics/{name}`: change toxicity and/or attributes.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        update: &ToxicUpdate,
    ) -> Result<Toxic, Error> {
        self.json(
            Method::PATCH,
            &format!("/proxies/{}/toxics/{}", seg(proxy)?, seg(name)?),
            Some(update),
        )
        .await
    }

    /// `DELETE /proxies/{proxy}/toxics/{name}` (204).
    pub async fn delete_toxic(&self, proxy: &str, name: &str) -> Result<(), Error> {
        self.send(
            Method::DELETE,
            &format!("/proxies/{}/toxics/{}", seg(proxy)?, seg(name)?),
            None::<&()>,
        )
        .await
        .map(drop)
    }

    /// `POST /reset` (204): enable every proxy and remove every toxic.
    pub async fn reset(&self) -> Result<(), Error> {
        self.send(Method::POST, "/reset", None::<&()>)
            .await
            .map(drop)
    }

    async fn json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, Error> {
        let bytes = self.send(method.clone(), path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| self.decode_error(method, path, &bytes, e))
    }

    fn decode_error(
        &self,
        method: Method,
        path: &str,
        body: &[u8],
        source: serde_json::Error,
    ) -> Error {
        let mut text = String::from_utf8_lossy(body).into_owned();
        if text.len() > 500 {
            let mut cut = 500;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Error::Decode {
            method: method.to_string(),
            url: format!("{}{}", self.base, path),
            body: text,
            source,
        }
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Vec<u8>, Error> {
        let url = format!("{}{}", self.base, path);
        let transport = |source| Error::Transport {
            method: method.to_string(),
            url: url.clone(),
            source,
        };
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = self.timeout {
            req = req.timeout(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(Error::Status {
                status: status.as_u16(),
                message: error_message(status, &bytes),
            });
        }
        Ok(bytes.to_vec())
    }
}

fn error_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        return e.error;
    }
    let text = String::from_utf8_lossy(body).trim().to_owned();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("no message").to_owned()
    } else {
        text
    }
}

/// A name as one URL path segment; toxiproxy names never need escaping, so refuse what would.
fn seg(name: &str) -> Result<&str, Error> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~:".contains(&b))
    {
        return Err(Error::Invalid(format!(
            "name {name:?} is empty or has characters that need URL escaping"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            Client::new("127.0.0.1:8474").unwrap().base_url(),
            "http://127.0.0.1:8474"
        );
        assert_eq!(
            Client::new("http://127.0.0.1:8474/").unwrap().base_url(),
            "http://127.0.0.1:8474"
        );
        assert!(Client::new("https://x:1").is_err());
        assert!(Client::new("").is_err());
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(
                StatusCode::NOT_FOUND,
                br#"{"error":"proxy not found","status":404}"#
            ),
            "proxy not found"
        );
        assert_eq!(error_message(StatusCode::NOT_FOUND, b""), "Not Found");
        assert_eq!(error_message(StatusCode::BAD_GATEWAY, b"oops\n"), "oops");
    }
}
