//! What a profile's store is, in the words a report gives it: the evidence for a lease or an
//! etcd election rests on which store answered (a model of etcd's, or etcd itself).

use super::schema::{Profile, StoreKind};

impl Profile {
    /// [`Profile::store_description`] for a run on `backend`, with the version of the etcd
    /// binary when the harness starts one (asked of the binary: `etcd --version`).
    pub fn describe_store(&self, backend: crate::backend::BackendKind) -> Option<String> {
        let simulated = backend == crate::backend::BackendKind::Sim;
        let store = &self.cluster.store;
        let harness_etcd = !simulated && store.kind == StoreKind::Etcd && store.url.is_none();
        let version = harness_etcd
            .then(|| crate::etcd::EtcdBinary::find().ok())
            .flatten()
            .map(|b| b.version_string());
        self.store_description(simulated, version.as_deref())
    }

    /// The store this profile's mechanism ran against, for a report (`None`: Raft, no store).
    /// `simulated`: the simulator's model of the store answered. `etcd_version`: the version of
    /// the etcd binary the harness starts, when it starts one.
    pub fn store_description(&self, simulated: bool, etcd_version: Option<&str>) -> Option<String> {
        if !self.has_store() {
            return None;
        }
        let model = if self.is_etcd_election() {
            "electune's model of etcd's key-value store"
        } else {
            "electune's linearizable compare-and-swap store"
        };
        let store = &self.cluster.store;
        Some(match (simulated, store.kind, &store.url) {
            (true, ..) => format!("{model}, simulated"),
            (false, StoreKind::Builtin, _) => {
                let kind = if self.is_etcd_election() { "kv" } else { "cas" };
                format!("{model} (`electune store --kind {kind}`, a process of its own)")
            }
            (false, StoreKind::Etcd, Some(url)) => {
                format!("the etcd at {url} (run by the user; its counters include other clients)")
            }
            (false, StoreKind::Etcd, None) => format!(
                "a real etcd{} of {} member{} started by electune on loopback",
                etcd_version.map(|v| format!(" {v}")).unwrap_or_default(),
                store.members,
                if store.members == 1 { "" } else { "s" }
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    fn profile(protocol: &str, store: &str) -> super::Profile {
        let timing = match protocol {
            "lease" => "lease: { lease_duration: 4s, renew_deadline: 3s, retry_period: 1s }",
            _ => "session: { ttl: 2s }",
        };
        let yaml = format!(
            "name: s\ncluster:\n  protocol: {protocol}\n  {timing}\n  store: {store}\n  nodes: 3\n"
        );
        parse(&yaml, "s.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_store_is_named_as_it_answered() {
        let etcd3 = profile("etcd-election", "{ kind: etcd, members: 3 }");
        assert_eq!(
            etcd3.store_description(false, Some("3.4.23")).unwrap(),
            "a real etcd 3.4.23 of 3 members started by electune on loopback"
        );
        assert!(etcd3
            .store_description(true, None)
            .unwrap()
            .contains("model of etcd's key-value store, simulated"));
        let lease = profile("lease", "{ kind: builtin }");
        assert!(lease
            .store_description(false, None)
            .unwrap()
            .contains("`electune store --kind cas`"));
        let users = profile("lease", "{ kind: etcd, url: \"http://127.0.0.1:2379\" }");
        assert!(users
            .store_description(false, None)
            .unwrap()
            .starts_with("the etcd at http://127.0.0.1:2379"));
        let raft = parse("name: r\ncluster: { nodes: 3 }\n", "r.yaml").unwrap();
        assert_eq!(raft.store_description(false, None), None);
    }
}
