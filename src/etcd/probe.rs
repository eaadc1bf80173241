//! The check of an etcd the user runs (`--etcd URL`) before anything starts: one bounded
//! `GET /version` and one read through the v3 JSON gateway. A wrong URL fails in seconds, naming
//! what answered, instead of surfacing minutes later as members that never elect anyone.
//!
//! etcd serves `/version` on its client port as `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`
//! (server/etcdserver/api/etcdhttp/version.go, `versionHandler`), and the gateway's
//! `POST /v3/kv/range` answers a read of any key, present or not, with a `header`
//! (api/etcdserverpb/gw/rpc.pb.gw.go). Anything else is not an etcd electune can use.

use std::time::Duration;

use super::client::{http_client, EtcdEndpoint};
use super::error::EtcdError;

/// How long the whole check may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the etcd at the URL said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// The server's version (`etcdserver`), e.g. `3.4.23`.
    pub version: String,
}

/// Checks that `endpoint` is an etcd of at least [`super::MIN_VERSION`] whose v3 gateway
/// answers a read, within `timeout` in all.
pub async fn probe(endpoint: &EtcdEndpoint, timeout: Duration) -> Result<Probed, EtcdError> {
    let url = endpoint.as_str().to_owned();
    let unusable = |what: String| EtcdError::NotEtcd {
        url: url.clone(),
        what,
    };
    let http = http_client();
    let deadline = tokio::time::Instant::now() + timeout;
    // One request within what is left of the timeout: its status and body.
    let ask = |req: reqwest::RequestBuilder, what: &'static str| {
        let url = url.clone();
        async move {
            let sent = async {
                let r = req.send().await?;
                let status = r.status();
                Ok::<_, reqwest::Error>((status, r.text().await?))
            };
            match tokio::time::timeout_at(deadline, sent).await {
                Err(_) => Err(EtcdError::Silent {
                    url,
                    what,
                    waited: timeout,
                }),
                Ok(r) => r.map_err(|e| unreachable(&url, &e)),
            }
        }
    };
    let version = ask(http.get(format!("{url}/version")), "GET /version").await?;
    let (status, body) = version;
    if !status.is_success() {
        return Err(unusable(format!(
            "HTTP {status} to GET /version ({})",
            excerpt(&body)
        )));
    }
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
        unusable(format!(
            "a body to GET /version that is not etcd's ({})",
            excerpt(&body)
        ))
    })?;
    let Some(version) = v.get("etcdserver").and_then(|s| s.as_str()) else {
        return Err(unusable(format!(
            "a body to GET /version without `etcdserver` ({})",
            excerpt(&body)
        )));
    };
    // `/version` gives the bare number; the binary's parser reads `etcd --version`'s line.
    let parsed = super::parse_version(&format!("etcd Version: {version}"));
    if parsed.is_none_or(|(major, minor, _)| (major, minor) < super::MIN_VERSION) {
        return Err(unusable(format!(
            "etcd {version}; electune needs {}.{} or newer",
            super::MIN_VERSION.0,
            super::MIN_VERSION.1
        )));
    }
    let range = ask(
        // base64 of "electune-probe": a key electune never writes.
        http.post(format!("{url}/v3/kv/range"))
            .body(r#"{"key":"ZWxlY3R1bmUtcHJvYmU="}"#),
        "POST /v3/kv/range",
    )
    .await?;
    let (status, body) = range;
    let answered = status.is_success()
        && serde_json::from_str::<serde_json::Value>(&body)
            .is_ok_and(|v| v.get("header").is_some());
    if !answered {
        return Err(unusable(format!(
            "etcd {version}, but its v3 gateway did not serve a read (HTTP {status}: {}); \
             electune speaks the v3 JSON gateway (etcd's client port, plain http)",
            excerpt(&body)
        )));
    }
    Ok(Probed {
        version: version.to_owned(),
    })
}

fn unreachable(url: &str, e: &reqwest::Error) -> EtcdError {
    // The innermost cause says what happened (connection refused, reset, ...).
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    EtcdError::NotEtcd {
        url: url.to_owned(),
        what: format!("nothing electune can use: {cause}"),
    }
}

/// The first line of a body, cut to 80 characters, for a message.
fn excerpt(body: &str) -> String {
    let line = body.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return "an empty body".into();
    }
    let cut: String = line.chars().take(80).collect();
    if cut.len() < line.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A one-shot HTTP server on 127.0.0.1 answering every request with `response`, for as many
    /// requests as `n`; its thread ends after them.
    fn serve(status: &'static str, body: &'static str, n: usize) -> EtcdEndpoint {
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for _ in 0..n {
                let Ok((mut s, _)) = l.accept() else { return };
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(response.as_bytes());
            }
        });
        EtcdEndpoint::from_addr(addr)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_closed_port_fails_at_once_naming_the_url() {
        // Bind and drop: the port is closed when probed.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let t = std::time::Instant::now();
        let e = rt()
            .block_on(probe(&EtcdEndpoint::from_addr(addr), PROBE_TIMEOUT))
            .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let text = e.to_string();
        assert!(text.contains(&addr.to_string()), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }

    #[test]
    fn an_http_server_that_is_not_etcd_is_named_as_such() {
        let ep = serve("404 Not Found", "not here\n", 1);
        let e = rt().block_on(probe(&ep, PROBE_TIMEOUT)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("HTTP 404") && text.contains("not here"),
            "{text}"
        );
    }

    #[test]
    fn an_old_etcd_is_refused_with_its_version() {
        let ep = serve(
            "200 OK",
            r#"{"etcdserver":"3.3.1","etcdcluster":"3.3.0"}"#,
            1,
        );
        let text = rt()
            .block_on(probe(&ep, PROBE_TIMEOUT))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("etcd 3.3.1") && text.contains("3.4 or newer"),
            "{text}"
        );
    }

    #[test]
    fn a_socket_that_never_answers_fails_within_the_timeout() {
        // Accepts, never answers; held open until the test ends.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ep = EtcdEndpoint::from_addr(l.local_addr().unwrap());
        let t = std::time::Instant::now();
        let e = rt()
            .block_on(probe(&ep, Duration::from_millis(500)))
            .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let text = e.to_string();
        assert!(
            text.contains("GET /version") && text.contains("500ms"),
            "{text}"
        );
        drop(l);
    }
}
