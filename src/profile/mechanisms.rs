//! `cluster.protocol`: the mechanism a profile runs, or several to compare under one environment
//! (`protocol: [raft, lease]`). A comparison profile is never run as it stands: each mechanism
//! runs the profile as [`Profile::for_mechanism`] narrows it, and the report sets the best
//! setting of each side by side.

use std::fmt;

use serde::de::{self, IntoDeserializer, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fault::{FaultKind, Target};
use super::schema::{Profile, Protocol, RaftOptions};

/// One mechanism, or several in the order written (never empty, never repeated once validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mechanisms(Vec<Protocol>);

impl Mechanisms {
    /// A profile that runs `p`.
    pub fn one(p: Protocol) -> Self {
        Self(vec![p])
    }

    /// The mechanism this profile runs (the first listed, for a comparison).
    pub fn first(&self) -> Protocol {
        self.0.first().copied().unwrap_or_default()
    }

    /// Every mechanism listed.
    pub fn all(&self) -> &[Protocol] {
        &self.0
    }

    /// Whether several mechanisms are to be compared.
    pub fn is_comparison(&self) -> bool {
        self.0.len() > 1
    }

    /// `raft`, or `[raft, lease]`.
    pub fn name(&self) -> String {
        match self.0.as_slice() {
            [one] => one.name().to_string(),
            all => format!(
                "[{}]",
                all.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl Default for Mechanisms {
    fn default() -> Self {
        Self::one(Protocol::default())
    }
}

/// A profile "runs lease" only when lease is its one mechanism.
impl PartialEq<Protocol> for Mechanisms {
    fn eq(&self, other: &Protocol) -> bool {
        self.0.as_slice() == [*other]
    }
}

impl Serialize for Mechanisms {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            all => all.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Mechanisms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OneOrMany;
        impl<'de> Visitor<'de> for OneOrMany {
            type Value = Mechanisms;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a mechanism (`raft`, `lease`, `etcd-election`) or a list of them to compare (`[raft, lease]`)",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Mechanisms, E> {
                Protocol::deserialize(v.into_deserializer()).map(Mechanisms::one)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Mechanisms, A::Error> {
                let mut all = Vec::new();
                while let Some(Name(p)) = seq.next_element::<Name>()? {
                    all.push(p);
                }
                Ok(Mechanisms(all))
            }
        }
        d.deserialize_any(OneOrMany)
    }
}

/// One item of a `protocol` list: a mechanism's name and nothing else. Read through its own
/// visitor so that an item of another shape (a list in the list) is named as what it is
/// rather than as the YAML tag an enum could also be written with.
struct Name(Protocol);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a mechanism name (`raft`, `lease` or `etcd-election`): `protocol` is one \
                     name or a flat list of names to compare, e.g. `[raft, lease]`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
                Protocol::deserialize(v.into_deserializer()).map(Name)
            }
        }
        d.deserialize_any(NameVisitor)
    }
}

impl Profile {
    /// The profile as mechanism `m` runs it in a comparison: `protocol: m`, only the settings and
    /// sweep axes of `m`, and without the faults that do not exist for it (a Raft cluster has no
    /// store to lose). The environment (members, links, other faults, requirements, sink) is
    /// the same for every mechanism.
    pub fn for_mechanism(&self, m: Protocol) -> Profile {
        let mut p = self.clone();
        p.cluster.protocol = Mechanisms::one(m);
        match m {
            Protocol::Raft => {
                p.cluster.lease = None;
                p.cluster.session = None;
                p.cluster.store = Default::default();
                if let Some(s) = &mut p.sweep {
                    s.lease = None;
                    s.session_ttl = None;
                }
                p.faults.retain(|f| !needs_store(f));
                p.requirements.tolerate.store_outage = None;
            }
            Protocol::Lease | Protocol::EtcdElection => {
                p.cluster.raft = RaftOptions::default();
                if m == Protocol::Lease {
                    p.cluster.session = None;
                } else {
                    p.cluster.lease = None;
                }
                if let Some(t) = p.lease_timing() {
                    p.timing = t;
                }
                if let Some(s) = &mut p.sweep {
                    s.heartbeat.clear();
                    s.heartbeat_ratio = None;
                    s.election_timeout.clear();
                    if m == Protocol::Lease {
                        s.session_ttl = None;
                    } else {
                        s.lease = None;
                    }
                }
            }
        }
        p
    }

    /// The faults of this (comparison) profile that mechanism `m` does not run, by index.
    pub fn faults_without(&self, m: Protocol) -> Vec<usize> {
        match m {
            Protocol::Raft => (0..self.faults.len())
                .filter(|&i| needs_store(&self.faults[i]))
                .collect(),
            Protocol::Lease | Protocol::EtcdElection => Vec::new(),
        }
    }
}

/// A fault that acts on the lease store (an outage, or a cut or slow link to it).
fn needs_store(f: &super::fault::Fault) -> bool {
    f.kind == FaultKind::StoreOutage || matches!(Target::parse(&f.target), Ok(Target::Store(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::parse;

    const BASE: &str = "name: x\ncluster:\n  protocol: [raft, lease]\n  lease: { lease_duration: 4s, renew_deadline: 3s, retry_period: 500ms }\n  nodes: 3\ntiming: { heartbeat: 100ms, election_timeout: 1s..2s }\n";

    #[test]
    fn a_comparison_profile_narrows_to_each_mechanism_with_its_own_settings_and_faults() {
        let text = format!(
            "{BASE}faults:\n  - {{ kind: crash, target: leader, at: [1s], restart_after: 1s }}\n  - {{ kind: store-outage, target: store, at: [2s], duration: 1s }}\n  - {{ kind: partition, target: store(leader), at: [3s], duration: 1s }}\n"
        );
        let p = parse(&text, "p.yaml").expect("a valid comparison");
        assert!(p.cluster.protocol.is_comparison());
        assert_eq!(p.cluster.protocol.all(), [Protocol::Raft, Protocol::Lease]);
        assert_ne!(p.cluster.protocol, Protocol::Raft);
        assert!(!p.is_lease());
        let raft = p.for_mechanism(Protocol::Raft);
        assert_eq!(raft.cluster.protocol, Protocol::Raft);
        assert!(raft.cluster.lease.is_none());
        assert_eq!(raft.faults.len(), 1, "store faults are the lease's only");
        assert_eq!(p.faults_without(Protocol::Raft), [1, 2]);
        let lease = p.for_mechanism(Protocol::Lease);
        assert!(lease.is_lease());
        assert_eq!(lease.faults.len(), 3);
        assert_eq!(
            lease.timing.heartbeat.0,
            std::time::Duration::from_millis(500)
        );
        // the narrowed profiles parse back as written to a comparison's directory
        for m in [raft, lease] {
            let yaml = serde_yaml::to_string(&m).unwrap();
            assert_eq!(parse(&yaml, "m.yaml").expect("round trip"), m);
        }
    }

    #[test]
    fn comparison_errors_name_the_field_and_the_mechanism_it_fails_for() {
        let err = |t: &str| parse(t, "p.yaml").unwrap_err().to_string();
        let twice = BASE.replace("[raft, lease]", "[raft, raft]");
        assert!(
            err(&twice).contains("lists `raft` twice"),
            "{}",
            err(&twice)
        );
        let none = BASE.replace("[raft, lease]", "[]");
        assert!(err(&none).contains("lists no mechanism"), "{}", err(&none));
        let unknown = BASE.replace("[raft, lease]", "[raft, paxos]");
        assert!(err(&unknown).contains("paxos"), "{}", err(&unknown));
        // a list in the list is named as such, with what is valid
        let nested = err(&BASE.replace("[raft, lease]", "[[raft, lease]]"));
        assert!(
            nested.starts_with("p.yaml:3:")
                && nested.contains("field `cluster.protocol[0]`: invalid type: sequence")
                && nested.contains("a flat list of names"),
            "{nested}"
        );
        // the lease needs its settings even in a comparison
        let no_lease = BASE.replace(
            "  lease: { lease_duration: 4s, renew_deadline: 3s, retry_period: 500ms }\n",
            "",
        );
        let e = err(&no_lease);
        assert!(
            e.contains("needs `cluster.lease") && e.contains("as `lease` runs it"),
            "{e}"
        );
        // a fault after a store fault is named as the file numbers it, on its own line
        let text = format!(
            "{BASE}faults:\n  - {{ kind: store-outage, target: store, at: [2s], duration: 1s }}\n  - {{ kind: crash, target: leader, at: [1s] }}\n"
        );
        let e = err(&text);
        assert!(
            e.starts_with("p.yaml:9:") && e.contains("field `faults[1].kind`"),
            "{e}"
        );
    }
}
