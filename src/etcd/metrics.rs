//! The load a lease puts on etcd, read from etcd's own Prometheus counters (`/metrics` on the
//! client URL), so that a lease on etcd reports store load as the built-in store does:
//! requests are the KV calls the gRPC server handled (`grpc_server_handled_total` for Range, Txn
//! and Put, which the JSON gateway goes through), reads the Range calls, writes the keys stored
//! (`etcd_mvcc_put_total`, counted once: every member applies every write), and refused writes
//! the transactions that stored nothing (a compare-and-swap that lost).
//!
//! On an etcd the user runs (`--etcd URL`), the counters include every other client's load.

use std::net::SocketAddr;
use std::time::Duration;

/// Counter readings summed over the members scraped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EtcdLoad {
    pub ranges: u64,
    pub txns: u64,
    pub puts_requests: u64,
    /// Keys stored, as one member counts them.
    pub stored: u64,
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
        let writes = d(self.stored, later.stored);
        (
            ranges + txns + puts,
            ranges,
            writes,
            (txns + puts).saturating_sub(writes),
        )
    }
}

/// Reads the counters of every member at `addrs` (client addresses); a member that does not
/// answer within `timeout` (crashed, paused) is left out of the sum.
pub async fn scrape(addrs: &[String], timeout: Duration) -> EtcdLoad {
    let http = reqwest::Client::new();
    let mut load = EtcdLoad::default();
    for (i, addr) in addrs.iter().enumerate() {
        let url = format!("http://{addr}/metrics");
        let Ok(Ok(resp)) = tokio::time::timeout(timeout, http.get(&url).send()).await else {
            continue;
        };
        let Ok(Ok(text)) = tokio::time::timeout(timeout, resp.text()).await else {
            continue;
        };
        let m = parse(&text);
        load.ranges += m.ranges;
        load.txns += m.txns;
        load.puts_requests += m.puts_requests;
        if i == 0 {
            load.stored = m.stored;
        }
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
        if name == "etcd_mvcc_put_total" {
            load.stored += v;
        } else if name.starts_with("grpc_server_handled_total{")
            && name.contains("grpc_service=\"etcdserverpb.KV\"")
        {
            if name.contains("grpc_method=\"Range\"") {
                load.ranges += v;
            } else if name.contains("grpc_method=\"Txn\"") {
                load.txns += v;
            } else if name.contains("grpc_method=\"Put\"") {
                load.puts_requests += v;
            }
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
    fn counters_are_read_by_method_and_a_lost_compare_and_swap_is_a_refused_write() {
        let before = parse(
            "# HELP x\netcd_mvcc_put_total 10\n\
             grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 5\n\
             grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Txn\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 12\n\
             grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.Lease\",grpc_type=\"unary\"} 99\n",
        );
        assert_eq!(before.ranges, 5);
        assert_eq!(before.txns, 12);
        assert_eq!(before.stored, 10);
        let after = EtcdLoad {
            ranges: 8,
            txns: 20,
            puts_requests: 0,
            stored: 16,
        };
        // 3 reads and 8 transactions, 6 of which stored the record.
        assert_eq!(before.since(&after), (11, 3, 6, 2));
    }
}
