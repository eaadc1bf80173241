//! What the API accepts: toxic attributes, toxicity and names.
//!
//! Every value the server accepts is one the data plane honours: no accepted value can overflow a
//! duration or an instant. Two modes:
//!
//! - **extended** (the default): `latency` and `jitter` take fractional milliseconds (electune's
//!   extension); every attribute must be a finite number from 0 to `i64::MAX` (milliseconds,
//!   bytes, KB/s or µs), and the integer ones must be whole.
//! - **strict**: exactly what toxiproxy 2.x takes. Its toxics decode `attributes` with Go's
//!   `encoding/json` into structs whose fields are all `int64` or `int` (toxics/latency.go
//!   `LatencyToxic`, toxics/slicer.go `SlicerToxic`, ...), in two passes
//!   (toxic_collection.go `AddToxicJson`: first into `ToxicWrapper` with a field-less
//!   `NoopToxic`, then into the typed toxic; `UpdateToxicJson`: into an anonymous struct). So a
//!   number that is not a 64-bit integer literal (`0.2`, `1.0`, `1e3`, `1e30`) or a value of
//!   another JSON type is a 400 `bad request body: json: cannot unmarshal ...`, with Go's message;
//!   negative integers are accepted (toxiproxy treats them as 0 or "no jitter"), `null` leaves
//!   the field as it was, and unknown fields are ignored.

use axum::http::StatusCode;
use serde_json::{Map, Number, Value};

use super::registry::ApiError;
use crate::toxiproxy::{ToxicAttributes, ToxicType};

/// The longest proxy or toxic name, in bytes. Names travel as one URL path segment; 255 bytes
/// (765 once percent-encoded) fits every HTTP client and server's request-line limit.
pub(crate) const MAX_NAME_LEN: usize = 255;

/// The largest value of any attribute: toxiproxy's own range (`int64`), in its units.
const MAX_ATTR: f64 = i64::MAX as f64;

/// Whether an attribute is milliseconds that electune takes fractional (`latency`, `jitter`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    FractionalMs,
    /// Go `int64`.
    Int64,
    /// Go `int` (64-bit on every platform toxiproxy ships for).
    Int,
}

impl Kind {
    fn go(self) -> &'static str {
        match self {
            Kind::Int => "int",
            _ => "int64",
        }
    }
}

/// The Go struct toxiproxy decodes a toxic type's attributes into, and its fields.
fn go_struct(ty: ToxicType) -> (&'static str, &'static [(&'static str, Kind)]) {
    match ty {
        ToxicType::Latency => (
            "LatencyToxic",
            &[
                ("latency", Kind::FractionalMs),
                ("jitter", Kind::FractionalMs),
            ],
        ),
        ToxicType::Bandwidth => ("BandwidthToxic", &[("rate", Kind::Int64)]),
        ToxicType::SlowClose => ("SlowCloseToxic", &[("delay", Kind::Int64)]),
        ToxicType::Timeout => ("TimeoutToxic", &[("timeout", Kind::Int64)]),
        ToxicType::ResetPeer => ("ResetToxic", &[("timeout", Kind::Int64)]),
        ToxicType::Slicer => (
            "SlicerToxic",
            &[
                ("average_size", Kind::Int),
                ("size_variation", Kind::Int),
                ("delay", Kind::Int),
            ],
        ),
        ToxicType::LimitData => ("LimitDataToxic", &[("bytes", Kind::Int64)]),
    }
}

/// Go's `encoding/json` name for the JSON type of `v` in an `UnmarshalTypeError` when decoding
/// into a number: a number carries its literal (`number 0.2`; Go quotes the request's text, this
/// is serde_json's rendering of the same value, e.g. `1e30` for `1E30`).
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

fn go_type_error(value: &Value, path: &str, go_type: &str) -> ApiError {
    ApiError::bad_body(format!(
        "json: cannot unmarshal {} into Go struct field {path} of type {go_type}",
        go_value(value)
    ))
}

/// Whether `n` is a JSON integer literal that fits an `int64` (what Go's `strconv.ParseInt`
/// accepts; `1.0` and `1e3` are not).
fn as_i64(n: &Number) -> Option<i64> {
    n.as_i64()
}

/// Where an `attributes` value is decoded, for Go's error messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `POST /proxies/{proxy}/toxics`.
    Create,
    /// `PATCH /proxies/{proxy}/toxics/{toxic}`.
    Update,
}

/// Decodes the `attributes` of a toxic of type `ty` on top of `base` (the toxic's current
/// attributes for an update; zeros for a creation).
pub(crate) fn attributes(
    ty: ToxicType,
    base: Option<&ToxicAttributes>,
    value: Option<&Value>,
    strict: bool,
    op: Op,
) -> Result<ToxicAttributes, ApiError> {
    let (go_name, fields) = go_struct(ty);
    let mut out = match base.map(ToxicAttributes::to_json) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let patch = match value {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(other) => {
            return Err(if strict {
                // AddToxicJson's first pass decodes attributes into a NoopToxic inside
                // ToxicWrapper; UpdateToxicJson decodes into an anonymous struct's field.
                match op {
                    Op::Create => {
                        go_type_error(other, "ToxicWrapper.attributes", "toxics.NoopToxic")
                    }
                    Op::Update => go_type_error(other, ".attributes", &format!("toxics.{go_name}")),
                }
            } else {
                ApiError::bad_body(format!(
                    "attributes must be a JSON object, not {}",
                    go_value(other)
                ))
            });
        }
    };
    for (field, kind) in fields {
        let v = match patch.and_then(|p| p.get(*field)) {
            // Go leaves a field as it was for null, and so does a missing field.
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        let path = format!("{go_name}.attributes.{field}");
        let accepted = match (v, strict) {
            (Value::Number(n), true) => match as_i64(n) {
                Some(i) => Value::from(i),
                None => return Err(go_type_error(v, &path, kind.go())),
            },
            (Value::Number(n), false) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                let whole = as_i64(n).is_some() || n.as_u64().is_some();
                if !(x.is_finite() && (0.0..=MAX_ATTR).contains(&x)) {
                    return Err(ApiError::bad_body(format!(
                        "attributes.{field} must be from 0 to {}, not {n}",
                        i64::MAX
                    )));
                }
                if *kind == Kind::FractionalMs {
                    Value::from(x)
                } else if let (true, Some(i)) = (whole, as_i64(n)) {
                    Value::from(i)
                } else {
                    return Err(ApiError::bad_body(format!(
                        "attributes.{field} must be a whole number, not {n}"
                    )));
                }
            }
            (_, true) => return Err(go_type_error(v, &path, kind.go())),
            (_, false) => {
                return Err(ApiError::bad_body(format!(
                    "attributes.{field} must be a number, not {}",
                    go_value(v)
                )))
            }
        };
        out.insert((*field).to_owned(), accepted);
    }
    ToxicAttributes::from_json(ty, &Value::Object(out)).map_err(ApiError::bad_body)
}

/// Decodes `toxicity` (a probability). toxiproxy's is a Go `float32` (toxics/toxic.go
/// `ToxicWrapper.Toxicity`): strict mode rejects what does not fit one; both modes reject a
/// non-number. Values outside [0, 1] are honoured as "never" and "always".
pub(crate) fn toxicity(
    value: Option<&Value>,
    current: f64,
    strict: bool,
    op: Op,
) -> Result<f64, ApiError> {
    let path = match op {
        Op::Create => "ToxicWrapper.toxicity",
        Op::Update => ".toxicity",
    };
    match value {
        None | Some(Value::Null) => Ok(current),
        Some(v @ Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if !x.is_finite() || (strict && x.abs() > f32::MAX as f64) {
                return Err(if strict {
                    go_type_error(v, path, "float32")
                } else {
                    ApiError::bad_body(format!("toxicity must be a finite number, not {n}"))
                });
            }
            Ok(x)
        }
        Some(other) => Err(if strict {
            go_type_error(other, path, "float32")
        } else {
            ApiError::bad_body(format!(
                "toxicity must be a number, not {}",
                go_value(other)
            ))
        }),
    }
}

/// A string field of a toxic (`name`, `type`, `stream`); absent or null is empty.
pub(crate) fn string_field(obj: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        // Into a string, Go names a number without its literal (decode.go `literalStore`).
        Some(Value::Number(_)) => Err(ApiError::bad_body(format!(
            "json: cannot unmarshal number into Go struct field ToxicWrapper.{key} of type string"
        ))),
        Some(other) => Err(go_type_error(
            other,
            &format!("ToxicWrapper.{key}"),
            "string",
        )),
    }
}

/// Refuses a proxy or toxic name that could not be fetched or deleted afterwards.
///
/// toxiproxy itself takes any name (api.go `ProxyCreate` only checks it is not empty), but its
/// routes (`Routes`: `/proxies/{proxy}`, matched by gorilla/mux against the *decoded* path with
/// the default `[^/]+` pattern) cannot address a name containing `/`; HTTP clients rewrite the
/// dot segments `.` and `..`; control characters do not survive many clients; and a very long
/// name does not fit a request line. electune refuses these at creation with a 400, so every
/// proxy it has can be fetched and deleted.
pub(crate) fn name(kind: &str, name: &str) -> Result<(), ApiError> {
    let problem = if name.len() > MAX_NAME_LEN {
        Some(format!(
            "is {} bytes long; the limit is {MAX_NAME_LEN}",
            name.len()
        ))
    } else if name == "." || name == ".." {
        Some("is a URL dot segment".to_owned())
    } else if name.contains('/') {
        Some("contains '/'".to_owned())
    } else if name.chars().any(char::is_control) {
        Some("contains a control character".to_owned())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid {kind} name: it {p}, so it could not be used in a URL"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn latency(v: Value, strict: bool) -> Result<ToxicAttributes, ApiError> {
        attributes(ToxicType::Latency, None, Some(&v), strict, Op::Create)
    }

    #[test]
    fn strict_takes_only_int64_literals_with_go_messages() {
        let e = latency(json!({"latency": 0.2}), true).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "bad request body: json: cannot unmarshal number 0.2 into Go struct field \
             LatencyToxic.attributes.latency of type int64"
        );
        for bad in [json!(1.0), json!(1e30), json!("5"), json!(true), json!([1])] {
            assert!(latency(json!({ "jitter": bad }), true).is_err(), "{bad}");
        }
        let e = attributes(
            ToxicType::Slicer,
            None,
            Some(&json!({"delay": 1.5})),
            true,
            Op::Create,
        )
        .unwrap_err();
        assert!(e
            .message
            .ends_with("SlicerToxic.attributes.delay of type int"));
        // toxiproxy takes negative integers.
        assert_eq!(
            latency(json!({"latency": -3, "jitter": 2}), true).unwrap(),
            ToxicAttributes::Latency {
                latency: -3.0,
                jitter: 2.0
            }
        );
        let e = latency(json!([1, 2]), true).unwrap_err();
        assert_eq!(
            e.message,
            "bad request body: json: cannot unmarshal array into Go struct field \
             ToxicWrapper.attributes of type toxics.NoopToxic"
        );
    }

    #[test]
    fn extended_takes_fractions_but_nothing_it_cannot_honour() {
        assert_eq!(
            latency(json!({"latency": 0.3, "jitter": 0.1}), false).unwrap(),
            ToxicAttributes::Latency {
                latency: 0.3,
                jitter: 0.1
            }
        );
        for bad in [
            json!({"latency": 1e30}),
            json!({"latency": 1.5e22}),
            json!({"jitter": -1}),
            json!({"latency": "1"}),
        ] {
            let e = latency(bad.clone(), false).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.message.starts_with("bad request body: "), "{bad}");
        }
        assert!(latency(json!([1, 2]), false).is_err());
        let bw = |v: Value| attributes(ToxicType::Bandwidth, None, Some(&v), false, Op::Create);
        assert!(bw(json!({"rate": 1.5})).is_err());
        assert!(bw(json!({"rate": 1e19})).is_err());
        assert!(bw(json!({"rate": -1})).is_err());
        assert_eq!(
            bw(json!({"rate": 100})).unwrap(),
            ToxicAttributes::Bandwidth { rate: 100 }
        );
    }

    #[test]
    fn null_and_missing_keep_the_current_value() {
        let base = ToxicAttributes::Latency {
            latency: 10.0,
            jitter: 2.0,
        };
        let v = json!({"latency": null, "jitter": 4});
        assert_eq!(
            attributes(ToxicType::Latency, Some(&base), Some(&v), true, Op::Update).unwrap(),
            ToxicAttributes::Latency {
                latency: 10.0,
                jitter: 4.0
            }
        );
    }

    #[test]
    fn names_that_cannot_be_addressed_are_refused() {
        assert!(name("proxy", "n1_to_n2").is_ok());
        assert!(name("proxy", "with space%?#").is_ok());
        for bad in ["a/b", ".", "..", "a\nb"] {
            assert!(name("proxy", bad).is_err(), "{bad:?}");
        }
        assert!(name("proxy", &"x".repeat(MAX_NAME_LEN)).is_ok());
        assert!(name("proxy", &"x".repeat(MAX_NAME_LEN + 1)).is_err());
    }
}
