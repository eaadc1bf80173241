//! The lease record as a value in etcd: a `coordination.k8s.io/v1` Lease object in JSON, as the
//! API server would keep it with `--storage-media-type=application/json`.
//!
//! The spec carries what client-go writes (`holderIdentity`, `leaseDurationSeconds`,
//! `acquireTime`, `renewTime`, `leaseTransitions`). Three of those are coarser than
//! [`LeaseRecord`]: `leaseDurationSeconds` is whole seconds (client-go truncates too) and the
//! times are `MicroTime`s. electune keeps the exact nanoseconds in annotations, which is where
//! Kubernetes objects carry extra data, and reads them back from there, so a record round-trips
//! exactly.
//!
//! The times are the writer's `CLOCK_MONOTONIC` readings (see [`crate::store`]), written as a
//! `MicroTime` that many nanoseconds after the Unix epoch: they show as dates in 1970, which is
//! honest about them not being wall-clock times.

use serde::{Deserialize, Serialize};

use crate::election::NodeId;
use crate::store::{Holder, LeaseRecord};

const DURATION_NS: &str = "electune/lease-duration-ns";
const ACQUIRE_NS: &str = "electune/acquire-time-ns";
const RENEW_NS: &str = "electune/renew-time-ns";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaseObject {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: LeaseSpec,
}

#[derive(Debug, Serialize, Deserialize)]
struct Metadata {
    name: String,
    namespace: String,
    annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaseSpec {
    holder_identity: String,
    lease_duration_seconds: u64,
    acquire_time: String,
    renew_time: String,
    lease_transitions: u64,
}

/// A member's identity as a holder: `n3` for a stable identity, `n3_00000000deadbeef` for one
/// run of a process (as Kubernetes components write `hostname_uuid`), `""` for nobody.
pub fn holder_identity(holder: Option<Holder>) -> String {
    holder.map(|h| h.to_string()).unwrap_or_default()
}

fn parse_holder(identity: &str) -> Result<Option<Holder>, String> {
    if identity.is_empty() {
        return Ok(None);
    }
    let bad = || {
        format!("holderIdentity {identity:?} is not a member name like n3 or n3_<16 hex digits>")
    };
    let (member, incarnation) = match identity.split_once('_') {
        Some((m, i)) if i.len() == 16 => (m, u64::from_str_radix(i, 16).map_err(|_| bad())?),
        Some(_) => return Err(bad()),
        None => (identity, 0),
    };
    let member = member
        .strip_prefix('n')
        .and_then(|n| n.parse::<NodeId>().ok())
        .filter(|&id| id != 0)
        .ok_or_else(bad)?;
    Ok(Some(Holder {
        member,
        incarnation,
    }))
}

/// The Lease object for `record`, as JSON bytes.
pub fn encode(name: &str, record: &LeaseRecord) -> Vec<u8> {
    let annotations = [
        (DURATION_NS, record.lease_duration_ns),
        (ACQUIRE_NS, record.acquire_time),
        (RENEW_NS, record.renew_time),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_string()))
    .collect();
    let object = LeaseObject {
        api_version: "coordination.k8s.io/v1".into(),
        kind: "Lease".into(),
        metadata: Metadata {
            name: name.to_owned(),
            namespace: "electune".into(),
            annotations,
        },
        spec: LeaseSpec {
            holder_identity: holder_identity(record.holder),
            // client-go: `int(le.config.LeaseDuration / time.Second)`.
            lease_duration_seconds: record.lease_duration_ns / 1_000_000_000,
            acquire_time: micro_time(record.acquire_time),
            renew_time: micro_time(record.renew_time),
            lease_transitions: record.lease_transitions,
        },
    };
    serde_json::to_vec(&object).expect("a lease object serializes")
}

/// The record in a Lease object written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<LeaseRecord, String> {
    let object: LeaseObject = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if object.kind != "Lease" {
        return Err(format!("kind {:?}, not Lease", object.kind));
    }
    let exact = |key: &str| -> Result<u64, String> {
        let text = object
            .metadata
            .annotations
            .get(key)
            .ok_or_else(|| format!("no annotation {key}"))?;
        text.parse()
            .map_err(|_| format!("annotation {key} is {text:?}, not a number"))
    };
    Ok(LeaseRecord {
        holder: parse_holder(&object.spec.holder_identity)?,
        lease_duration_ns: exact(DURATION_NS)?,
        acquire_time: exact(ACQUIRE_NS)?,
        renew_time: exact(RENEW_NS)?,
        lease_transitions: object.spec.lease_transitions,
    })
}

/// A `metav1.MicroTime` as the API server writes it (`2006-01-02T15:04:05.000000Z07:00`, UTC)
/// for `ns` nanoseconds after the Unix epoch.
pub fn micro_time(ns: u64) -> String {
    let whole = crate::output::rfc3339(ns / 1_000_000_000);
    let micros = (ns % 1_000_000_000) / 1_000;
    format!("{}.{micros:06}Z", whole.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_times_are_the_api_servers_format() {
        assert_eq!(micro_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(micro_time(1_500_000_999), "1970-01-01T00:00:01.500000Z");
        // 2000-02-29 (a leap day in a year divisible by 400) 12:34:56.789012
        assert_eq!(
            micro_time(951_827_696_789_012_345),
            "2000-02-29T12:34:56.789012Z"
        );
        assert_eq!(
            micro_time(4_102_444_800_000_000_000),
            "2100-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn records_round_trip_exactly_and_read_as_a_lease() {
        let record = LeaseRecord {
            holder: Some(Holder::stable(3)),
            lease_duration_ns: 1_500_000_001,
            acquire_time: 12_345_678_901,
            renew_time: u64::MAX,
            lease_transitions: 7,
        };
        let bytes = encode("trial-1", &record);
        assert_eq!(decode(&bytes).unwrap(), record);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["apiVersion"], "coordination.k8s.io/v1");
        assert_eq!(v["kind"], "Lease");
        assert_eq!(v["metadata"]["name"], "trial-1");
        assert_eq!(v["spec"]["holderIdentity"], "n3");
        assert_eq!(v["spec"]["leaseDurationSeconds"], 1);
        assert_eq!(v["spec"]["acquireTime"], "1970-01-01T00:00:12.345678Z");
        assert_eq!(v["spec"]["leaseTransitions"], 7);
        let released = LeaseRecord {
            holder: None,
            ..record
        };
        let bytes = encode("trial-1", &released);
        assert_eq!(decode(&bytes).unwrap(), released);
        assert!(String::from_utf8(bytes)
            .unwrap()
            .contains(r#""holderIdentity":"""#));
        // One run of a process, as Kubernetes components write `hostname_uuid`.
        let run = LeaseRecord {
            holder: Some(Holder {
                member: 3,
                incarnation: 0xdead_beef,
            }),
            ..record
        };
        let bytes = encode("trial-1", &run);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["spec"]["holderIdentity"], "n3_00000000deadbeef");
        assert_eq!(decode(&bytes).unwrap(), run);
    }

    #[test]
    fn foreign_values_are_errors() {
        assert!(decode(b"hello").is_err());
        let no_annotations = br#"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"x","namespace":"y","annotations":{}},"spec":{"holderIdentity":"n1","leaseDurationSeconds":1,"acquireTime":"","renewTime":"","leaseTransitions":0}}"#;
        assert!(decode(no_annotations).unwrap_err().contains("annotation"));
        let bytes = encode("x", &LeaseRecord::default()).to_vec();
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace(r#""holderIdentity":"""#, r#""holderIdentity":"kube-1""#);
        assert!(decode(text.as_bytes()).unwrap_err().contains("kube-1"));
    }
}
