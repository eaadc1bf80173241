//! The toxiproxy 2.x JSON data model, serialized exactly as toxiproxy does.
//!
//! A toxic is sent and received as a flat object:
//! `{"attributes": {"latency": 50, "jitter": 5}, "name": "latency_downstream", "type": "latency",
//! "stream": "downstream", "toxicity": 1}`.
//!
//! **electune extension:** toxiproxy's `latency` and `jitter` are integer milliseconds. electune
//! models them as `f64` milliseconds so that WAN profiles can ask for e.g. 0.3 ms; a whole value is
//! serialized as a JSON integer (so a real toxiproxy accepts it), a fractional one as a JSON float
//! (accepted only by electune's built-in server).

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// `GET /version` answer: `{"version": "..."}`.
///
/// electune's built-in server adds `"capabilities": [...]` (Shopify's toxiproxy never sends the
/// field: its `ApiServer.Version` in api.go writes only `version`), so a client can tell what the
/// server accepts beyond toxiproxy 2.x. See [`Version::FRACTIONAL_MS`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The server's version string.
    pub version: String,
    /// Extensions the server supports; empty for Shopify's toxiproxy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
}

impl Version {
    /// The capability of taking fractional milliseconds for `latency` and `jitter` (toxiproxy's
    /// `LatencyToxic` fields are `int64` and it answers 400 to `0.3`).
    pub const FRACTIONAL_MS: &'static str = "fractional-ms";

    /// Whether the server advertised `capability`.
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// A proxy as the server reports it: `{"name", "listen", "upstream", "enabled", "toxics": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proxy {
    /// Unique name.
    pub name: String,
    /// Address the proxy listens on. After creation with port 0 this is the address it got.
    pub listen: String,
    /// Address the proxy forwards to.
    pub upstream: String,
    /// Whether the proxy accepts and forwards connections.
    pub enabled: bool,
    /// Toxics, upstream and downstream, in the order they were added per stream.
    #[serde(default)]
    pub toxics: Vec<Toxic>,
}

/// Body of `POST /proxies` and one element of `POST /populate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProxy {
    /// Unique name (required).
    pub name: String,
    /// Address to listen on, e.g. `127.0.0.1:0` for any free port.
    pub listen: String,
    /// Address to forward to (required).
    pub upstream: String,
    /// Start enabled (the server's default is `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl NewProxy {
    /// A proxy named `name` listening on `listen` and forwarding to `upstream`, enabled.
    pub fn new(
        name: impl Into<String>,
        listen: impl Into<String>,
        upstream: impl Into<String>,
    ) -> Self {
        NewProxy {
            name: name.into(),
            listen: listen.into(),
            upstream: upstream.into(),
            enabled: None,
        }
    }
}

/// Body of `PATCH /proxies/{name}`: only the fields present are changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyUpdate {
    /// New listen address (restarts the listener and closes existing connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// New upstream address (closes existing connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Enable or disable. Disabling closes the listener and every existing connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl ProxyUpdate {
    /// An update that only sets `enabled`.
    pub fn enabled(enabled: bool) -> Self {
        ProxyUpdate {
            enabled: Some(enabled),
            ..ProxyUpdate::default()
        }
    }
}

/// Direction a toxic acts on: `upstream` (client → upstream) or `downstream` (upstream → client).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Data from the client to the upstream server.
    Upstream,
    /// Data from the upstream server to the client (toxiproxy's default).
    #[default]
    Downstream,
}

impl Stream {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stream {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "upstream" => Ok(Stream::Upstream),
            "downstream" => Ok(Stream::Downstream),
            other => Err(format!("unknown stream {other:?}")),
        }
    }
}

/// The toxic types toxiproxy 2.x ships, by their wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToxicType {
    /// `latency`: delay every chunk by latency ± jitter.
    Latency,
    /// `bandwidth`: limit the rate to `rate` KB/s.
    Bandwidth,
    /// `slow_close`: delay the close by `delay` ms.
    SlowClose,
    /// `timeout`: let nothing through; close after `timeout` ms (0: never).
    Timeout,
    /// `reset_peer`: reset the connection (TCP RST) `timeout` ms after data arrives.
    ResetPeer,
    /// `slicer`: slice data into pieces of about `average_size` bytes, `delay` µs apart.
    Slicer,
    /// `limit_data`: close the connection after `bytes` bytes.
    LimitData,
}

impl ToxicType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ToxicType::Latency => "latency",
            ToxicType::Bandwidth => "bandwidth",
            ToxicType::SlowClose => "slow_close",
            ToxicType::Timeout => "timeout",
            ToxicType::ResetPeer => "reset_peer",
            ToxicType::Slicer => "slicer",
            ToxicType::LimitData => "limit_data",
        }
    }
}

impl fmt::Display for ToxicType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ToxicType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(Value::String(s.to_owned()))
            .map_err(|_| format!("unknown toxic type {s:?}"))
    }
}

/// A toxic's attributes, typed by toxic type. Serialized as toxiproxy's flat `attributes` object;
/// the type itself travels in the toxic's `type` field.
#[derive(Clone, Debug, PartialEq)]
pub enum ToxicAttributes {
    /// `latency`: milliseconds (fractional values are an electune extension).
    Latency {
        /// Added delay, ms.
        latency: f64,
        /// Uniform jitter, ± ms.
        jitter: f64,
    },
    /// `bandwidth`.
    Bandwidth {
        /// KB/s (1 KB = 1000 bytes, as toxiproxy computes it).
        rate: i64,
    },
    /// `slow_close`.
    SlowClose {
        /// ms to wait before forwarding a close.
        delay: i64,
    },
    /// `timeout`.
    Timeout {
        /// ms after which the connection is closed; 0 holds data forever.
        timeout: i64,
    },
    /// `reset_peer`.
    ResetPeer {
        /// ms after the first data before the connection is reset.
        timeout: i64,
    },
    /// `slicer`.
    Slicer {
        /// Average slice size, bytes.
        average_size: i64,
        /// ± bytes of variation.
        size_variation: i64,
        /// µs between slices.
        delay: i64,
    },
    /// `limit_data`.
    LimitData {
        /// Bytes after which the connection is closed.
        bytes: i64,
    },
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct LatencyAttrs {
    #[serde(serialize_with = "ser_number")]
    latency: f64,
    #[serde(serialize_with = "ser_number")]
    jitter: f64,
}
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct RateAttrs {
    rate: i64,
}
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct DelayAttrs {
    delay: i64,
}
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct TimeoutAttrs {
    timeout: i64,
}
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct SlicerAttrs {
    average_size: i64,
    size_variation: i64,
    delay: i64,
}
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct BytesAttrs {
    bytes: i64,
}

/// Serializes a number as a JSON integer when it is whole, so integer-only servers accept it.
fn ser_number<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

impl ToxicAttributes {
    /// The toxic type these attributes belong to.
    pub fn toxic_type(&self) -> ToxicType {
        match self {
            ToxicAttributes::Latency { .. } => ToxicType::Latency,
            ToxicAttributes::Bandwidth { .. } => ToxicType::Bandwidth,
            ToxicAttributes::SlowClose { .. } => ToxicType::SlowClose,
            ToxicAttributes::Timeout { .. } => ToxicType::Timeout,
            ToxicAttributes::ResetPeer { .. } => ToxicType::ResetPeer,
            ToxicAttributes::Slicer { .. } => ToxicType::Slicer,
            ToxicAttributes::LimitData { .. } => ToxicType::LimitData,
        }
    }

    /// Parses the `attributes` object of a toxic of type `ty`. Missing fields are 0, unknown fields
    /// are ignored (as toxiproxy's Go decoder does); a value of the wrong JSON type is an error.
    pub fn from_json(ty: ToxicType, value: &Value) -> Result<Self, serde_json::Error> {
        let value = if value.is_null() {
            Value::Object(Map::new())
        } else {
            value.clone()
        };
        Ok(match ty {
            ToxicType::Latency => {
                let a: LatencyAttrs = serde_json::from_value(value)?;
                ToxicAttributes::Latency {
                    latency: a.latency,
                    jitter: a.jitter,
                }
            }
            ToxicType::Bandwidth => {
                let a: RateAttrs = serde_json::from_value(value)?;
                ToxicAttributes::Bandwidth { rate: a.rate }
            }
            ToxicType::SlowClose => {
                let a: DelayAttrs = serde_json::from_value(value)?;
                ToxicAttributes::SlowClose { delay: a.delay }
            }
            ToxicType::Timeout => {
                let a: TimeoutAttrs = serde_json::from_value(value)?;
                ToxicAttributes::Timeout { timeout: a.timeout }
            }
            ToxicType::ResetPeer => {
                let a: TimeoutAttrs = serde_json::from_value(value)?;
                ToxicAttributes::ResetPeer { timeout: a.timeout }
            }
            ToxicType::Slicer => {
                let a: SlicerAttrs = serde_json::from_value(value)?;
                ToxicAttributes::Slicer {
                    average_size: a.average_size,
                    size_variation: a.size_variation,
                    delay: a.delay,
                }
            }
            ToxicType::LimitData => {
                let a: BytesAttrs = serde_json::from_value(value)?;
                ToxicAttributes::LimitData { bytes: a.bytes }
            }
        })
    }

    /// The attributes as a JSON object.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Map::new()))
    }

    /// These attributes with the fields present in `patch` (a JSON object) replaced, as
    /// toxiproxy's partial toxic update does.
    pub fn merged(&self, patch: &Value) -> Result<Self, serde_json::Error> {
        let mut base = match self.to_json() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        match patch {
            Value::Null => {}
            Value::Object(p) => {
                for (k, v) in p {
                    base.insert(k.clone(), v.clone());
                }
            }
            _ => return Err(serde_json::Error::custom("attributes must be an object")),
        }
        Self::from_json(self.toxic_type(), &Value::Object(base))
    }
}

impl Serialize for ToxicAttributes {
    /// Field order follows toxiproxy's Go structs.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToxicAttributes::Latency { latency, jitter } => LatencyAttrs {
                latency: *latency,
                jitter: *jitter,
            }
            .serialize(s),
            ToxicAttributes::Bandwidth { rate } => RateAttrs { rate: *rate }.serialize(s),
            ToxicAttributes::SlowClose { delay } => DelayAttrs { delay: *delay }.serialize(s),
            ToxicAttributes::Timeout { timeout } | ToxicAttributes::ResetPeer { timeout } => {
                TimeoutAttrs { timeout: *timeout }.serialize(s)
            }
            ToxicAttributes::Slicer {
                average_size,
                size_variation,
                delay,
            } => SlicerAttrs {
                average_size: *average_size,
                size_variation: *size_variation,
                delay: *delay,
            }
            .serialize(s),
            ToxicAttributes::LimitData { bytes } => BytesAttrs { bytes: *bytes }.serialize(s),
        }
    }
}

/// A toxic as toxiproxy reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Toxic {
    /// Unique name within the proxy; empty on creation means `<type>_<stream>`.
    pub name: String,
    /// The toxic type; must match `attributes`.
    pub r#type: ToxicType,
    /// Which direction it acts on.
    pub stream: Stream,
    /// Probability in [0, 1] that the toxic applies, decided per connection.
    pub toxicity: f64,
    /// Typed attributes.
    pub attributes: ToxicAttributes,
}

impl Toxic {
    /// A toxic with the given attributes (its type follows from them), toxicity 1.0.
    pub fn new(name: impl Into<String>, stream: Stream, attributes: ToxicAttributes) -> Self {
        Toxic {
            name: name.into(),
            r#type: attributes.toxic_type(),
            stream,
            toxicity: 1.0,
            attributes,
        }
    }

    /// A latency toxic (milliseconds, fractions allowed by electune's server).
    pub fn latency(
        name: impl Into<String>,
        stream: Stream,
        latency_ms: f64,
        jitter_ms: f64,
    ) -> Self {
        Self::new(
            name,
            stream,
            ToxicAttributes::Latency {
                latency: latency_ms,
                jitter: jitter_ms,
            },
        )
    }

    /// The same toxic with another toxicity.
    pub fn with_toxicity(mut self, toxicity: f64) -> Self {
        self.toxicity = toxicity;
        self
    }
}

impl Serialize for Toxic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Num(f64);
        impl Serialize for Num {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                ser_number(&self.0, s)
            }
        }
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("attributes", &self.attributes)?;
        m.serialize_entry("name", &self.name)?;
        m.serialize_entry("type", &self.r#type)?;
        m.serialize_entry("stream", &self.stream)?;
        m.serialize_entry("toxicity", &Num(self.toxicity))?;
        m.end()
    }
}

#[derive(Deserialize)]
struct RawToxic {
    #[serde(default)]
    name: String,
    #[serde(rename = "type")]
    ty: ToxicType,
    #[serde(default)]
    stream: Stream,
    #[serde(default = "one")]
    toxicity: f64,
    #[serde(default)]
    attributes: Value,
}

fn one() -> f64 {
    1.0
}

impl<'de> Deserialize<'de> for Toxic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawToxic::deserialize(d)?;
        let attributes = ToxicAttributes::from_json(raw.ty, &raw.attributes)
            .map_err(|e| D::Error::custom(format!("attributes of a {} toxic: {e}", raw.ty)))?;
        Ok(Toxic {
            name: raw.name,
            r#type: raw.ty,
            stream: raw.stream,
            toxicity: raw.toxicity,
            attributes,
        })
    }
}

/// Body of `PATCH /proxies/{proxy}/toxics/{toxic}`: only what is present changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToxicUpdate {
    /// New toxicity.
    pub toxicity: Option<f64>,
    /// New attributes (every field of the typed attributes is sent).
    pub attributes: Option<ToxicAttributes>,
}

impl Serialize for ToxicUpdate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(a) = &self.attributes {
            m.serialize_entry("attributes", a)?;
        }
        if let Some(t) = self.toxicity {
            m.serialize_entry("toxicity", &t)?;
        }
        m.end()
    }
}

impl From<&Toxic> for ToxicUpdate {
    fn from(t: &Toxic) -> Self {
        ToxicUpdate {
            toxicity: Some(t.toxicity),
            attributes: Some(t.attributes.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toxic_serializes_like_toxiproxy() {
        let t = Toxic::latency("", Stream::Downstream, 50.0, 5.0);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"attributes":{"latency":50,"jitter":5},"name":"","type":"latency","stream":"downstream","toxicity":1}"#
        );
        let t = Toxic::latency("x", Stream::Upstream, 0.3, 0.1).with_toxicity(0.5);
        let s = serde_json::to_string(&t).unwrap();
        assert!(s.contains(r#""latency":0.3"#), "{s}");
        let back: Toxic = serde_json::from_str(&s).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn every_type_round_trips() {
        let all = [
            ToxicAttributes::Latency {
                latency: 1.0,
                jitter: 0.0,
            },
            ToxicAttributes::Bandwidth { rate: 100 },
            ToxicAttributes::SlowClose { delay: 7 },
            ToxicAttributes::Timeout { timeout: 0 },
            ToxicAttributes::ResetPeer { timeout: 3 },
            ToxicAttributes::Slicer {
                average_size: 10,
                size_variation: 2,
                delay: 5,
            },
            ToxicAttributes::LimitData { bytes: 9 },
        ];
        for a in all {
            let t = Toxic::new("n", Stream::Upstream, a);
            let s = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<Toxic>(&s).unwrap(), t, "{s}");
        }
    }

    #[test]
    fn merge_is_partial() {
        let a = ToxicAttributes::Latency {
            latency: 10.0,
            jitter: 2.0,
        };
        let m = a.merged(&serde_json::json!({"jitter": 4})).unwrap();
        assert_eq!(
            m,
            ToxicAttributes::Latency {
                latency: 10.0,
                jitter: 4.0
            }
        );
        assert!(ToxicAttributes::Bandwidth { rate: 1 }
            .merged(&serde_json::json!({"rate": 1.5}))
            .is_err());
    }
}
