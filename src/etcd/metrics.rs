//! The load an election puts on etcd, read from etcd's own Prometheus counters (`/metrics` on
//! the client URL), so that a store on etcd reports its load as the built-in stores do:
//! - **requests**: every call of the election's client, as the gRPC server counts the messages
//!   it received (`grpc_server_msg_received_total`, which the JSON gateway goes through): KV
//!   Range, Txn, Put; Lease grants, revokes and keep-alives (one message per keep-alive on the
//!   stream); Watch create requests;
//! - **reads**: the Range calls;
//! - **writes**: the growth of the applied index (`etcd_server_proposals_applied_total`, a
//!   gauge: every member applies every entry, so the member furthest along is read) less the
//!   refused writes. Grants, revokes (by a client or by expiry), transactions and puts are
//!   entries; keep-alives and linearizable reads are not, as in the built-in model. The index
//!   also grows by one empty entry per etcd leader election and by membership changes, and a
//!   member restarted in the window proposes its attributes once more: a store fault adds a
//!   write or two;
//! - **refused writes**: transactions and puts that completed (gRPC code OK or NotFound, a put
//!   under a missing lease) but stored no key (a compare-and-swap that lost, a campaign whose key
//!   existed), the completed calls less the keys stored (`etcd_mvcc_put_total`). A call that
//!   never committed (no quorum, 503) is neither.
//!
//! Counters are kept per member: a member restarted in the measured window starts its counters
//! from zero, and that reading counts from zero (as Prometheus' `increase` does); a member that
//! does not answer the closing scrape (crashed, paused) is left out. On an etcd the user runs
//! (`--etcd URL`), the counters include every other client's load.

use std::net::SocketAddr;
use std::time::Duration;

/// One member's counter readings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EtcdLoad {
    pub ranges: u64,
    pub txns: u64,
    pub puts_requests: u64,
    /// Lease grants, revokes and keep-alive messages, and watch create requests.
    pub lease_and_watch: u64,
    /// Transactions and puts that completed (OK, or NotFound).
    pub writes_completed: u64,
    /// Keys stored.
    pub stored: u64,
    /// The applied index.
    pub proposals: u64,
}

/// The readings of every member, in member order (`None`: it did not answer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdLoads(pub Vec<Option<EtcdLoad>>);

impl EtcdLoads {
    /// `(requests, reads, writes, refused writes)` from `self` to `later`.
    pub fn since(&self, later: &EtcdLoads) -> (u64, u64, u64, u64) {
        // A counter below its baseline was reset by a restart: it counts from zero.
        let d = |a: u64, b: u64| if b >= a { b - a } else { b };
        let mut calls = EtcdLoad::default();
        let mut stored = 0;
        for (i, after) in later.0.iter().enumerate() {
            let Some(after) = after else { continue };
            let before = self.0.get(i).copied().flatten().unwrap_or_default();
            calls.ranges += d(before.ranges, after.ranges);
            calls.txns += d(before.txns, after.txns);
            calls.puts_requests += d(before.puts_requests, after.puts_requests);
            calls.lease_and_watch += d(before.lease_and_watch, after.lease_and_watch);
            calls.writes_completed += d(before.writes_completed, after.writes_completed);
            stored = stored.max(d(before.stored, after.stored));
        }
        let applied = |l: &EtcdLoads| l.0.iter().flatten().map(|m| m.proposals).max();
        let entries = match (applied(self), applied(later)) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        };
        let refused = calls.writes_completed.saturating_sub(stored);
        let requests = calls.ranges + calls.txns + calls.puts_requests + calls.lease_and_watch;
        (
            requests,
            calls.ranges,
            entries.saturating_sub(refused),
            refused,
        )
    }
}

/// Reads the counters of every member at `addrs` (client addresses); a member that does not
/// answer within `timeout` (crashed, paused) reads `None`.
pub async fn scrape(addrs: &[String], timeout: Duration) -> EtcdLoads {
    let http = reqwest::Client::new();
    let mut loads = Vec::new();
    for addr in addrs {
        let url = format!("http://{addr}/metrics");
        let text = async {
            let resp = tokio::time::timeout(timeout, http.get(&url).send())
                .await
                .ok()?
                .ok()?;
            tokio::time::timeout(timeout, resp.text()).await.ok()?.ok()
        };
        loads.push(text.await.map(|t| parse(&t)));
    }
    EtcdLoads(loads)
}

/// The counters in one member's `/metrics` text.
pub fn parse(text: &str) -> EtcdLoad {
    let mut load = EtcdLoad::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let v = v as u64;
        let label = |k: &str, v: &str| name.contains(&format!("{k}=\"{v}\""));
        let kv_write = label("grpc_service", "etcdserverpb.KV")
            && (label("grpc_method", "Txn") || label("grpc_method", "Put"));
        match name {
            "etcd_mvcc_put_total" => load.stored += v,
            "etcd_server_proposals_applied_total" => load.proposals += v,
            _ if name.starts_with("grpc_server_handled_total{")
                && kv_write
                && (label("grpc_code", "OK") || label("grpc_code", "NotFound")) =>
            {
                load.writes_completed += v;
            }
            _ if name.starts_with("grpc_server_msg_received_total{") => {
                let service = |s: &str| label("grpc_service", &format!("etcdserverpb.{s}"));
                let method = |m: &str| label("grpc_method", m);
                if service("KV") && method("Range") {
                    load.ranges += v;
                } else if service("KV") && method("Txn") {
                    load.txns += v;
                } else if service("KV") && method("Put") {
                    load.puts_requests += v;
                } else if (service("Lease")
                    && (method("LeaseGrant") || method("LeaseRevoke") || method("LeaseKeepAlive")))
                    || (service("Watch") && method("Watch"))
                {
                    load.lease_and_watch += v;
                }
            }
            _ => {}
        }
    }
    load
}

/// The client addresses of the members, as `host:port` strings.
pub fn addrs(members: &[SocketAddr]) -> Vec<String> {
    members.iter().map(|a| a.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(name: &str, labels: &[(&str, &str)], v: u64) -> String {
        let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        format!("{name}{{{}}} {v}\n", l.join(","))
    }

    fn received(method: &str, service: &str, v: u64) -> String {
        let svc = format!("etcdserverpb.{service}");
        counter(
            "grpc_server_msg_received_total",
            &[("grpc_method", method), ("grpc_service", &svc)],
            v,
        )
    }

    #[test]
    fn calls_are_read_by_method_and_a_completed_call_that_stored_nothing_is_a_refused_write() {
        let handled = |code: &str, v: u64| {
            counter(
                "grpc_server_handled_total",
                &[
                    ("grpc_code", code),
                    ("grpc_method", "Txn"),
                    ("grpc_service", "etcdserverpb.KV"),
                ],
                v,
            )
        };
        let text = format!(
            "# HELP x\netcd_mvcc_put_total 10\netcd_server_proposals_applied_total 40\n{}{}{}{}{}{}{}{}",
            received("Range", "KV", 5),
            received("Txn", "KV", 12),
            received("LeaseGrant", "Lease", 2),
            received("LeaseKeepAlive", "Lease", 30),
            received("Watch", "Watch", 3),
            // not the election's: another service's method of the same name
            received("Range", "Maintenance", 99),
            handled("OK", 11),
            // no quorum: never committed, neither a write nor a refused one
            handled("Unavailable", 1),
        );
        let before = parse(&text);
        assert_eq!(
            (before.ranges, before.txns, before.lease_and_watch),
            (5, 12, 35)
        );
        assert_eq!(before.writes_completed, 11);
        assert_eq!((before.stored, before.proposals), (10, 40));
        let after = EtcdLoad {
            ranges: 8,
            txns: 20,
            puts_requests: 0,
            lease_and_watch: 45,
            writes_completed: 19,
            stored: 16,
            proposals: 50,
        };
        // 3 reads, 8 transactions (6 stored a key, 2 lost) and 10 keep-alives, grants and
        // watches; 10 entries applied, 2 of them the lost transactions.
        let loads = |l: EtcdLoad| EtcdLoads(vec![Some(l)]);
        assert_eq!(loads(before).since(&loads(after)), (21, 3, 8, 2));
    }

    #[test]
    fn a_restarted_member_counts_from_zero_and_the_member_furthest_along_counts_entries() {
        let member = |ranges, stored, proposals| {
            Some(EtcdLoad {
                ranges,
                stored,
                proposals,
                ..Default::default()
            })
        };
        let before = EtcdLoads(vec![member(100, 50, 300), member(90, 50, 299), None]);
        // e1 restarted (its counters from zero), e2 went on, e3 (down at the start) came up.
        let after = EtcdLoads(vec![
            member(4, 2, 310),
            member(96, 55, 310),
            member(7, 1, 305),
        ]);
        let (requests, reads, writes, refused) = before.since(&after);
        assert_eq!((requests, reads), (4 + 6 + 7, 4 + 6 + 7));
        assert_eq!((writes, refused), (10, 0));
        // A member that does not answer the closing scrape is left out.
        let gone = EtcdLoads(vec![None, member(96, 55, 310), None]);
        assert_eq!(before.since(&gone).0, 6);
    }
}
