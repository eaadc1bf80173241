//! The load an election puts on etcd, read from etcd's own Prometheus counters (`/metrics` on
//! the client URL), so that a store on etcd reports its load as the built-in stores do:
//! - **requests**: every call of the election's client, as the gRPC server counts the messages
//!   it received (`grpc_server_msg_received_total`, which the JSON gateway goes through): KV
//!   Range, Txn, Put; Lease grants, revokes and keep-alives (one message per keep-alive on the
//!   stream); Watch create requests;
//! - **reads**: the Range calls;
//! - **writes**: the consensus proposals applied (`etcd_server_proposals_applied_total`, the
//!   applied index: every member applies every proposal, so it is read once, from the member
//!   furthest along) less the refused ones. Grants, revokes (by a client or by expiry) and puts
//!   are proposals; keep-alives and linearizable reads are not, as in the built-in model;
//! - **refused writes**: transactions and puts that stored nothing (a compare-and-swap that
//!   lost, a campaign whose key existed, a put under a missing lease), the calls less the keys
//!   stored (`etcd_mvcc_put_total`).
//!
//! A member restarted in the measured window proposes its own attributes once more (one write
//! too many). On an etcd the user runs (`--etcd URL`), the counters include every other
//! client's load.

use std::net::SocketAddr;
use std::time::Duration;

/// Counter readings of the members scraped: calls summed over members (each counts the calls
/// it served), applied proposals and stored keys from the member furthest along.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EtcdLoad {
    pub ranges: u64,
    pub txns: u64,
    pub puts_requests: u64,
    /// Lease grants, revokes and keep-alive messages, and watch create requests.
    pub lease_and_watch: u64,
    /// Keys stored, as one member counts them.
    pub stored: u64,
    /// Consensus proposals applied, as one member counts them.
    pub proposals: u64,
}

impl EtcdLoad {
    /// `(requests, reads, writes, refused writes)` from `self` to `later`.
    pub fn since(&self, later: &EtcdLoad) -> (u64, u64, u64, u64) {
        let d = |a: u64, b: u64| b.saturating_sub(a);
        let (ranges, txns, puts) = (
            d(self.ranges, later.ranges),
            d(self.txns, later.txns),
            d(self.puts_requests, later.puts_requests),
        );
        let others = d(self.lease_and_watch, later.lease_and_watch);
        let refused = (txns + puts).saturating_sub(d(self.stored, later.stored));
        let writes = d(self.proposals, later.proposals).saturating_sub(refused);
        (ranges + txns + puts + others, ranges, writes, refused)
    }

    /// Adds one member's readings.
    fn add(&mut self, member: &EtcdLoad) {
        self.ranges += member.ranges;
        self.txns += member.txns;
        self.puts_requests += member.puts_requests;
        self.lease_and_watch += member.lease_and_watch;
        self.stored = self.stored.max(member.stored);
        self.proposals = self.proposals.max(member.proposals);
    }
}

/// Reads the counters of every member at `addrs` (client addresses); a member that does not
/// answer within `timeout` (crashed, paused) is left out.
pub async fn scrape(addrs: &[String], timeout: Duration) -> EtcdLoad {
    let http = reqwest::Client::new();
    let mut load = EtcdLoad::default();
    for addr in addrs {
        let url = format!("http://{addr}/metrics");
        let Ok(Ok(resp)) = tokio::time::timeout(timeout, http.get(&url).send()).await else {
            continue;
        };
        let Ok(Ok(text)) = tokio::time::timeout(timeout, resp.text()).await else {
            continue;
        };
        load.add(&parse(&text));
    }
    load
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
        let method = |m: &str| name.contains(&format!("grpc_method=\"{m}\""));
        let service = |s: &str| name.contains(&format!("grpc_service=\"etcdserverpb.{s}\""));
        match name {
            "etcd_mvcc_put_total" => load.stored += v,
            "etcd_server_proposals_applied_total" => load.proposals += v,
            _ if name.starts_with("grpc_server_msg_received_total{") => {
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

    #[test]
    fn calls_are_read_by_method_and_a_call_that_stored_nothing_is_a_refused_write() {
        let received = |method: &str, service: &str, v: u64| {
            format!(
                "grpc_server_msg_received_total{{grpc_method=\"{method}\",grpc_service=\"etcdserverpb.{service}\",grpc_type=\"unary\"}} {v}\n"
            )
        };
        let text = format!(
            "# HELP x\netcd_mvcc_put_total 10\netcd_server_proposals_applied_total 40\n{}{}{}{}{}{}",
            received("Range", "KV", 5),
            received("Txn", "KV", 12),
            received("LeaseGrant", "Lease", 2),
            received("LeaseKeepAlive", "Lease", 30),
            received("Watch", "Watch", 3),
            // not the election's: another service's method of the same name
            received("Range", "Maintenance", 99),
        );
        let before = parse(&text);
        assert_eq!(
            (before.ranges, before.txns, before.lease_and_watch),
            (5, 12, 35)
        );
        assert_eq!((before.stored, before.proposals), (10, 40));
        let after = EtcdLoad {
            ranges: 8,
            txns: 20,
            puts_requests: 0,
            lease_and_watch: 45,
            stored: 16,
            proposals: 50,
        };
        // 3 reads, 8 transactions (6 stored a key, 2 lost) and 10 keep-alives, grants and
        // watches; 10 proposals, 2 of them the lost transactions.
        assert_eq!(before.since(&after), (21, 3, 8, 2));
    }

    #[test]
    fn members_sum_their_calls_and_the_member_furthest_along_counts_proposals() {
        let mut load = EtcdLoad::default();
        for (calls, proposals) in [(4, 100), (6, 98)] {
            load.add(&EtcdLoad {
                ranges: calls,
                proposals,
                stored: proposals / 2,
                ..Default::default()
            });
        }
        assert_eq!((load.ranges, load.proposals, load.stored), (10, 100, 50));
    }
}
