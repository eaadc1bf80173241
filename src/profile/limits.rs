//! Bounds on a profile's durations, checked before anything else computes with them: election
//! and network timings at most [`crate::duration::MAX_TIMING`], run lengths and fault times at
//! most [`crate::duration::MAX_SPAN`] ([`Bound`] says why). A value beyond its bound is refused on its field, so it
//! never reaches the arithmetic (sums of timeouts, deadlines on a nanosecond clock) it would
//! overflow.

use std::time::Duration;

use super::error::FieldError;
use super::fault::Every;
use super::schema::*;
use crate::duration::{format_duration, Bound, DurationRange, HumanDuration};

/// Collects the durations of a profile with their fields and bounds, stopping at the first
/// that is too long.
struct Check(Result<(), FieldError>);

impl Check {
    fn at(&mut self, field: impl FnOnce() -> String, d: Duration, bound: Bound) {
        if self.0.is_ok() && d > bound.max() {
            self.0 = Err(FieldError::new(
                field(),
                format!("{} is too long: {}", written(d), bound.rule()),
            ));
        }
    }

    fn human(&mut self, field: impl FnOnce() -> String, d: HumanDuration, bound: Bound) {
        self.at(field, d.0, bound);
    }

    fn range(&mut self, field: impl FnOnce() -> String, r: DurationRange, bound: Bound) {
        self.at(field, r.max, bound);
    }

    fn list(&mut self, field: &str, ds: &[HumanDuration], bound: Bound) {
        for (i, d) in ds.iter().enumerate() {
            self.human(|| format!("{field}[{i}]"), *d, bound);
        }
    }
}

/// `d` as a user would have written a long duration: in whole hours or minutes when it is.
fn written(d: Duration) -> String {
    let whole = d.subsec_nanos() == 0;
    match d.as_secs() {
        s if whole && s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if whole && s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        _ => format_duration(d),
    }
}

/// Every duration of `p` within its bound; the first that is not, on its field.
pub(super) fn validate_durations(p: &Profile) -> Result<(), FieldError> {
    use Bound::{Span, Timing};
    let mut c = Check(Ok(()));
    let s = |t: &str| t.to_string();
    c.human(|| s("timing.heartbeat"), p.timing.heartbeat, Timing);
    c.range(
        || s("timing.election_timeout"),
        p.timing.election_timeout,
        Timing,
    );
    let r = &p.cluster.raft;
    c.human(
        || s("cluster.raft.commit_timeout"),
        r.commit_timeout,
        Timing,
    );
    c.human(|| s("cluster.raft.rpc_timeout"), r.rpc_timeout, Timing);
    c.human(
        || s("cluster.raft.persist_latency"),
        r.persist_latency,
        Timing,
    );
    if let Some(l) = &p.cluster.lease {
        c.human(
            || s("cluster.lease.lease_duration"),
            l.lease_duration,
            Timing,
        );
        c.human(
            || s("cluster.lease.renew_deadline"),
            l.renew_deadline,
            Timing,
        );
        c.human(|| s("cluster.lease.retry_period"), l.retry_period, Timing);
    }
    if let Some(session) = &p.cluster.session {
        c.human(|| s("cluster.session.ttl"), session.ttl, Timing);
        c.human(
            || s("cluster.session.etcd_election_timeout"),
            session.etcd_election_timeout,
            Timing,
        );
    }
    if let Some(w) = p.sink.write_interval {
        c.human(|| s("sink.write_interval"), w, Timing);
    }
    c.human(
        || s("network.default.latency"),
        p.network.default.latency,
        Timing,
    );
    c.human(
        || s("network.default.jitter"),
        p.network.default.jitter,
        Timing,
    );
    for (i, l) in p.network.links.iter().enumerate() {
        c.human(|| format!("network.links[{i}].latency"), l.latency, Timing);
        c.human(|| format!("network.links[{i}].jitter"), l.jitter, Timing);
    }
    for (i, f) in p.faults.iter().enumerate() {
        let field = |name: &str| format!("faults[{i}].{name}");
        for (j, at) in f.at.iter().enumerate() {
            c.human(|| format!("faults[{i}].at[{j}]"), *at, Span);
        }
        // A schedule that does not parse is named by the fault checks; `occurs` only sets a
        // rate (occurrences per day), nothing is scheduled or added from it.
        if let Some(Ok(Every::Fixed(d) | Every::Poisson(d))) = f.every.as_deref().map(Every::parse)
        {
            c.at(|| field("every"), d, Span);
        }
        if let Some(d) = f.duration {
            c.range(|| field("duration"), d, Span);
        }
        for (name, d) in [
            ("restart_after", f.restart_after),
            ("latency", f.latency),
            ("jitter", f.jitter),
        ] {
            if let Some(d) = d {
                c.human(|| field(name), d, Span);
            }
        }
    }
    let t = &p.requirements.tolerate;
    for (name, d) in [
        ("pause", t.pause),
        ("latency-spike", t.latency_spike),
        ("store-outage", t.store_outage),
    ] {
        if let Some(d) = d {
            c.human(|| format!("requirements.tolerate.{name}"), d, Span);
        }
    }
    if let Some(sw) = &p.sweep {
        c.list("sweep.heartbeat", &sw.heartbeat, Timing);
        for (i, et) in sw.election_timeout.iter().enumerate() {
            c.range(|| format!("sweep.election_timeout[{i}]"), *et, Timing);
        }
        if let Some(l) = &sw.lease {
            c.list("sweep.lease.lease_duration", &l.lease_duration, Timing);
            c.list("sweep.lease.renew_deadline", &l.renew_deadline, Timing);
            c.list("sweep.lease.retry_period", &l.retry_period, Timing);
        }
        if let Some(ttls) = &sw.session_ttl {
            c.list("sweep.session_ttl", ttls, Timing);
        }
        if let Some(d) = sw.duration_per_point {
            c.human(|| s("sweep.duration_per_point"), d, Span);
        }
    }
    c.0
}

#[cfg(test)]
mod tests {
    use crate::profile::parse;

    fn err(text: &str) -> String {
        parse(text, "p.yaml").unwrap_err().to_string()
    }

    #[test]
    fn durations_beyond_their_bound_are_refused_on_their_field_and_line() {
        let etcd = "name: x\ncluster:\n  protocol: etcd-election\n  nodes: 3\n  session: { ttl: 1000000h }\n";
        let e = err(etcd);
        assert!(
            e.starts_with("p.yaml:5:")
                && e.contains("field `cluster.session.ttl`: 1000000h is too long"),
            "{e}"
        );
        assert!(e.contains("at most 1h"), "{e}");
        // Checked before the lease's own rule, which would otherwise name another field.
        let lease = "name: x\ncluster:\n  protocol: lease\n  nodes: 3\n  lease: { lease_duration: 15s, renew_deadline: 2h, retry_period: 2s }\n";
        assert!(
            err(lease).contains("field `cluster.lease.renew_deadline`: 2h is too long"),
            "{}",
            err(lease)
        );
        let base = "name: x\ncluster:\n  nodes: 3\n";
        for (extra, field, line) in [
            (
                "network:\n  links: []\n  default: { latency: 90m }\n",
                "network.default.latency",
                6,
            ),
            (
                "faults:\n  - { kind: pause, target: leader, every: poisson(200000h), duration: 1s }\n",
                "faults[0].every",
                5,
            ),
            (
                "faults:\n  - { kind: pause, target: leader, at: [1s], duration: 1s..200000h }\n",
                "faults[0].duration",
                5,
            ),
            (
                "requirements:\n  tolerate: { pause: 200000h }\n",
                "requirements.tolerate.pause",
                5,
            ),
            (
                "sweep:\n  heartbeat: [50ms]\n  election_timeout: [1s..2s, 2h..4h]\n",
                "sweep.election_timeout[1]",
                6,
            ),
        ] {
            let e = err(&format!("{base}{extra}"));
            assert!(
                e.starts_with(&format!("p.yaml:{line}:")) && e.contains(&format!("field `{field}`")),
                "{field}: {e}"
            );
        }
        // At the bounds: accepted.
        let ok = "name: x\ncluster:\n  nodes: 3\n  raft: { flavor: thesis }\ntiming: { heartbeat: 10m, election_timeout: 30m..1h }\nfaults:\n  - { kind: pause, target: leader, at: [100000h], duration: 1s }\n";
        parse(ok, "p.yaml").unwrap_or_else(|e| panic!("{e}"));
        // `occurs` is a rate: a rare fault may be rarer than any span.
        let rare = "name: x\ncluster:\n  nodes: 3\nfaults:\n  - { kind: pause, target: leader, every: 10s, occurs: poisson(1000000h), duration: 1s }\n";
        parse(rare, "p.yaml").unwrap_or_else(|e| panic!("{e}"));
    }
}
