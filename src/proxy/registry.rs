//! The proxy table: every proxy's configuration, toxics, listener and connections.
//!
//! All API operations take one async lock, so they are serialized exactly as toxiproxy's are; the
//! data plane never takes it: connections read their toxics from per-direction watch channels.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;

use super::link;
use super::toxics::{ActiveToxic, ToxicSet};
use super::validate::{self, Op};
use crate::toxiproxy::{Proxy, Stream, Toxic, ToxicType};

/// An API error: status code and message, answered as `{"error": ..., "status": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_body(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, format!("bad request body: {e}"))
    }
    fn missing(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("missing required field: {field}"),
        )
    }
    fn proxy_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "proxy not found")
    }
    fn proxy_exists() -> Self {
        Self::new(StatusCode::CONFLICT, "proxy already exists")
    }
    fn toxic_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "toxic not found")
    }
    fn toxic_exists() -> Self {
        Self::new(StatusCode::CONFLICT, "toxic already exists")
    }
    fn invalid_stream() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "stream was invalid, can be either upstream or downstream",
        )
    }
    fn invalid_type() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid toxic type")
    }
    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

/// A proxy creation request as decoded from JSON (fields optional so that we can name what is
/// missing, as toxiproxy does).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProxyInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub listen: String,
    #[serde(default)]
    pub upstream: String,
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct ProxyPatch {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    upstream: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

struct StoredToxic {
    id: u64,
    generation: u64,
    toxic: Toxic,
}

/// A running listener and its connections.
struct Run {
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    alive: mpsc::Receiver<()>,
}

struct Entry {
    name: String,
    listen: String,
    upstream: String,
    toxics: Vec<StoredToxic>,
    up: watch::Sender<ToxicSet>,
    down: watch::Sender<ToxicSet>,
    run: Option<Run>,
}

impl Entry {
    fn new(input: &ProxyInput) -> Entry {
        Entry {
            name: input.name.clone(),
            listen: if input.listen.is_empty() {
                // toxiproxy would listen on every interface; electune stays on loopback.
                "127.0.0.1:0".to_owned()
            } else {
                input.listen.clone()
            },
            upstream: input.upstream.clone(),
            toxics: Vec::new(),
            up: watch::channel(Arc::new(Vec::new())).0,
            down: watch::channel(Arc::new(Vec::new())).0,
            run: None,
        }
    }

    fn enabled(&self) -> bool {
        self.run.is_some()
    }

    /// Toxics as toxiproxy lists them: upstream ones first, each stream in the order added.
    fn toxic_list(&self) -> Vec<Toxic> {
        let mut v: Vec<Toxic> = Vec::with_capacity(self.toxics.len());
        for stream in [Stream::Upstream, Stream::Downstream] {
            v.extend(
                self.toxics
                    .iter()
                    .filter(|t| t.toxic.stream == stream)
                    .map(|t| t.toxic.clone()),
            );
        }
        v
    }

    fn view(&self) -> Proxy {
        Proxy {
            name: self.name.clone(),
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            enabled: self.enabled(),
            toxics: self.toxic_list(),
        }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.toxics.iter().position(|t| t.toxic.name == name)
    }

    /// Hands the current toxics to the live connections.
    fn publish(&self) {
        for (stream, tx) in [
            (Stream::Upstream, &self.up),
            (Stream::Downstream, &self.down),
        ] {
            let set: Vec<ActiveToxic> = self
                .toxics
                .iter()
                .filter(|t| t.toxic.stream == stream)
                .map(|t| ActiveToxic {
                    id: t.id,
                    generation: t.generation,
                    toxicity: t.toxic.toxicity,
                    attrs: t.toxic.attributes.clone(),
                })
                .collect();
            tx.send_replace(Arc::new(set));
        }
    }

    /// Binds the listener and starts accepting. A no-op when already running.
    async fn start(&mut self) -> Result<(), ApiError> {
        if self.run.is_some() {
            return Ok(());
        }
        let listener = bind(&self.listen).await?;
        self.start_on(listener);
        Ok(())
    }

    /// Starts accepting on a listener already bound to `self.listen`.
    fn start_on(&mut self, listener: TcpListener) {
        if let Ok(a) = listener.local_addr() {
            self.listen = a.to_string();
        }
        let (stop, stop_rx) = watch::channel(false);
        let (alive_tx, alive) = mpsc::channel(1);
        let accept = tokio::spawn(accept_loop(
            listener,
            self.upstream.clone(),
            self.up.subscribe(),
            self.down.subscribe(),
            stop_rx,
            alive_tx,
        ));
        self.run = Some(Run {
            stop,
            accept,
            alive,
        });
    }

    /// Closes the listener and every connection, and waits (boundedly) until they are closed.
    async fn stop(&mut self) {
        let Some(mut run) = self.run.take() else {
            return;
        };
        run.stop.send_replace(true);
        let _ = (&mut run.accept).await;
        // Every connection task holds a sender; recv() yields None once all have ended.
        let _ = tokio::time::timeout(Duration::from_secs(5), run.alive.recv()).await;
    }
}

/// Binds a proxy listener; a failure is a 500 with Go's message, as toxiproxy answers it.
async fn bind(listen: &str) -> Result<TcpListener, ApiError> {
    TcpListener::bind(listen)
        .await
        .map_err(|e| ApiError::internal(format!("listen tcp {listen}: {e}")))
}

/// The port of a `host:port` listen address.
fn port_of(listen: &str) -> Option<u16> {
    listen.rsplit_once(':')?.1.parse().ok()
}

/// Whether `new` names the address `current` is bound to (toxiproxy's `Proxy.Differs` compares
/// resolved addresses, so `localhost:N` and `127.0.0.1:N` are the same listen address).
async fn same_address(current: &str, new: &str) -> bool {
    if current == new {
        return true;
    }
    let Ok(cur) = current.parse::<std::net::SocketAddr>() else {
        return false;
    };
    if cur.port() == 0 {
        return false;
    }
    match tokio::net::lookup_host(new).await {
        Ok(mut addrs) => addrs.any(|a| a == cur),
        Err(_) => false,
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    up: watch::Receiver<ToxicSet>,
    down: watch::Receiver<ToxicSet>,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((client, _)) => {
                tokio::spawn(link::serve_connection(
                    client,
                    upstream.clone(),
                    up.clone(),
                    down.clone(),
                    stop.clone(),
                    alive.clone(),
                ));
            }
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// The proxy table.
pub(crate) struct Registry {
    proxies: Mutex<BTreeMap<String, Entry>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Accept exactly what toxiproxy 2.x accepts (see [`validate`]).
    strict: bool,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(ApiError::bad_body)
}

/// The toxic a `POST /proxies/{name}/toxics` body asks for, validated as the server validates it
/// (pure: no proxy needed). Every toxic it returns is one the data plane can honour.
pub(crate) fn parse_new_toxic(body: &[u8], strict: bool) -> Result<Toxic, ApiError> {
    let v: Value = parse(body)?;
    let Value::Object(obj) = &v else {
        return Err(ApiError::bad_body("expected a JSON object"));
    };
    let mut name = validate::string_field(obj, "name")?;
    let type_name = validate::string_field(obj, "type")?;
    let stream_name = validate::string_field(obj, "stream")?;
    let toxicity = validate::toxicity(obj.get("toxicity"), 1.0, strict, Op::Create)?;
    let stream = if stream_name.is_empty() {
        Stream::Downstream
    } else {
        stream_name
            .to_ascii_lowercase()
            .parse::<Stream>()
            .map_err(|_| ApiError::invalid_stream())?
    };
    if name.is_empty() {
        name = format!("{type_name}_{stream}");
    }
    let ty: ToxicType = type_name.parse().map_err(|_| ApiError::invalid_type())?;
    validate::name("toxic", &name)?;
    let attributes = validate::attributes(ty, None, obj.get("attributes"), strict, Op::Create)?;
    Ok(Toxic {
        name,
        r#type: ty,
        stream,
        toxicity,
        attributes,
    })
}

impl Registry {
    pub fn new(strict: bool) -> Registry {
        Registry {
            proxies: Mutex::new(BTreeMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            strict,
        }
    }

    /// Whether the server is in toxiproxy-strict mode.
    pub fn strict(&self) -> bool {
        self.strict
    }

    fn id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn list(&self) -> BTreeMap<String, Proxy> {
        let g = self.proxies.lock().await;
        g.iter().map(|(k, e)| (k.clone(), e.view())).collect()
    }

    pub async fn create(&self, body: &[u8]) -> Result<Proxy, ApiError> {
        let input: ProxyInput = parse(body)?;
        if input.name.is_empty() {
            return Err(ApiError::missing("name"));
        }
        if input.upstream.is_empty() {
            return Err(ApiError::missing("upstream"));
        }
        validate::name("proxy", &input.name)?;
        let mut g = self.proxies.lock().await;
        if g.contains_key(&input.name) {
            return Err(ApiError::proxy_exists());
        }
        let mut e = Entry::new(&input);
        if input.enabled.unwrap_or(true) {
            e.start().await?;
        }
        let view = e.view();
        g.insert(input.name.clone(), e);
        Ok(view)
    }

    pub async fn populate(&self, body: &[u8]) -> Result<Vec<Proxy>, ApiError> {
        let inputs: Vec<ProxyInput> = parse(body)?;
        let mut seen = std::collections::HashSet::new();
        for (i, p) in inputs.iter().enumerate() {
            if p.name.is_empty() {
                return Err(ApiError::missing(&format!("name at proxy {}", i + 1)));
            }
            if p.upstream.is_empty() {
                return Err(ApiError::missing(&format!("upstream at proxy {}", i + 1)));
            }
            validate::name("proxy", &p.name)?;
            if !seen.insert(p.name.as_str()) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("duplicate proxy name {:?}", p.name),
                ));
            }
        }
        let mut g = self.proxies.lock().await;
        let mut out = Vec::with_capacity(inputs.len());
        for p in &inputs {
            if let Some(existing) = g.get_mut(&p.name) {
                if existing.listen == p.listen && existing.upstream == p.upstream {
                    out.push(existing.view());
                    continue;
                }
                existing.stop().await;
                g.remove(&p.name);
            }
            let mut e = Entry::new(p);
            if p.enabled.unwrap_or(true) {
                e.start().await?;
            }
            out.push(e.view());
            g.insert(p.name.clone(), e);
        }
        Ok(out)
    }

    pub async fn get(&self, name: &str) -> Result<Proxy, ApiError> {
        let g = self.proxies.lock().await;
        g.get(name)
            .map(Entry::view)
            .ok_or_else(ApiError::proxy_not_found)
    }

    pub async fn update(&self, name: &str, body: &[u8]) -> Result<Proxy, ApiError> {
        let mut g = self.proxies.lock().await;
        let e = g.get_mut(name).ok_or_else(ApiError::proxy_not_found)?;
        let patch: ProxyPatch = parse(body)?;
        let listen = patch.listen.unwrap_or_else(|| e.listen.clone());
        let upstream = patch.upstream.unwrap_or_else(|| e.upstream.clone());
        let enabled = patch.enabled.unwrap_or(e.enabled());
        let (old_listen, old_upstream) = (e.listen.clone(), e.upstream.clone());
        let new_listen = !same_address(&e.listen, &listen).await;
        if new_listen || upstream != e.upstream {
            let was = e.enabled();
            // Bind the new address before letting go of the old one: when it cannot be bound
            // the proxy stays exactly as it was (toxiproxy's `Proxy.Update` stops first and is
            // left disabled; electune does not copy that).
            let listener = if was && enabled && new_listen {
                match bind(&listen).await {
                    Ok(l) => Some(l),
                    // The same port on another address of this host (e.g. 127.0.0.1:N to
                    // 0.0.0.0:N) conflicts with the proxy's own listener: let go of it first,
                    // and go back to it below if the new one cannot be bound.
                    Err(_)
                        if port_of(&listen).is_some() && port_of(&listen) == port_of(&e.listen) =>
                    {
                        None
                    }
                    Err(err) => return Err(err),
                }
            } else {
                None
            };
            e.stop().await;
            if new_listen {
                e.listen = listen;
            }
            e.upstream = upstream;
            match listener {
                Some(l) => e.start_on(l),
                None if was && enabled => {
                    if let Err(err) = e.start().await {
                        // Back where it was: the old address was freed a moment ago.
                        e.listen = old_listen.clone();
                        e.upstream = old_upstream.clone();
                        let _ = e.start().await;
                        return Err(err);
                    }
                }
                None => {}
            }
        }
        if enabled != e.enabled() {
            if enabled {
                if let Err(err) = e.start().await {
                    e.listen = old_listen;
                    e.upstream = old_upstream;
                    return Err(err);
                }
            } else {
                e.stop().await;
            }
        }
        Ok(e.view())
    }

    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let mut g = self.proxies.lock().await;
        let mut e = g.remove(name).ok_or_else(ApiError::proxy_not_found)?;
        e.stop().await;
        Ok(())
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ApiError> {
        let g = self.proxies.lock().await;
        let e = g.get(proxy).ok_or_else(ApiError::proxy_not_found)?;
        Ok(e.toxic_list())
    }

    pub async fn add_toxic(&self, proxy: &str, body: &[u8]) -> Result<Toxic, ApiError> {
        let mut g = self.proxies.lock().await;
        let e = g.get_mut(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let toxic = parse_new_toxic(body, self.strict)?;
        if e.find(&toxic.name).is_some() {
            return Err(ApiError::toxic_exists());
        }
        e.toxics.push(StoredToxic {
            id: self.id(),
            generation: 0,
            toxic: toxic.clone(),
        });
        e.publish();
        Ok(toxic)
    }

    pub async fn get_toxic(&self, proxy: &str, toxic: &str) -> Result<Toxic, ApiError> {
        let g = self.proxies.lock().await;
        let e = g.get(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let i = e.find(toxic).ok_or_else(ApiError::toxic_not_found)?;
        Ok(e.toxics[i].toxic.clone())
    }

    pub async fn update_toxic(
        &self,
        proxy: &str,
        toxic: &str,
        body: &[u8],
    ) -> Result<Toxic, ApiError> {
        let mut g = self.proxies.lock().await;
        let e = g.get_mut(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let i = e.find(toxic).ok_or_else(ApiError::toxic_not_found)?;
        let v: Value = parse(body)?;
        let Value::Object(obj) = &v else {
            return Err(ApiError::bad_body("expected a JSON object"));
        };
        let stored = &mut e.toxics[i];
        let attributes = validate::attributes(
            stored.toxic.r#type,
            Some(&stored.toxic.attributes),
            obj.get("attributes"),
            self.strict,
            Op::Update,
        )?;
        let toxicity = validate::toxicity(
            obj.get("toxicity"),
            stored.toxic.toxicity,
            self.strict,
            Op::Update,
        )?;
        stored.toxic.attributes = attributes;
        stored.toxic.toxicity = toxicity;
        stored.generation += 1;
        let out = stored.toxic.clone();
        e.publish();
        Ok(out)
    }

    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ApiError> {
        let mut g = self.proxies.lock().await;
        let e = g.get_mut(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let i = e.find(toxic).ok_or_else(ApiError::toxic_not_found)?;
        e.toxics.remove(i);
        e.publish();
        Ok(())
    }

    /// Enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<(), ApiError> {
        let mut g = self.proxies.lock().await;
        for e in g.values_mut() {
            e.start().await?;
            e.toxics.clear();
            e.publish();
        }
        Ok(())
    }

    /// Stops every proxy: closes all listeners and connections (server shutdown).
    pub async fn stop_all(&self) {
        let mut g = self.proxies.lock().await;
        for e in g.values_mut() {
            e.stop().await;
        }
        g.clear();
    }
}
