//! `--time-scale`: run every duration of a profile at scale `x` (network latency, timing, faults,
//! tolerances), then map the measured timeline back so results read in the profile's own time.

use std::time::Duration;

use crate::duration::{format_duration, DurationRange, HumanDuration};
use crate::event::{Event, EventKind};
use crate::profile::{Every, Profile};

fn d(v: Duration, x: f64) -> Duration {
    v.mul_f64(x)
}

fn h(v: HumanDuration, x: f64) -> HumanDuration {
    HumanDuration(d(v.0, x))
}

fn r(v: DurationRange, x: f64) -> DurationRange {
    v.scaled(x)
}

/// Every duration of the profile multiplied by `x`.
pub fn scale_profile(p: &Profile, x: f64) -> Profile {
    let mut p = p.clone();
    if x == 1.0 {
        return p;
    }
    p.network.default.latency = h(p.network.default.latency, x);
    p.network.default.jitter = h(p.network.default.jitter, x);
    for l in &mut p.network.links {
        l.latency = h(l.latency, x);
        l.jitter = h(l.jitter, x);
    }
    p.timing.heartbeat = h(p.timing.heartbeat, x);
    p.cluster.raft.commit_timeout = h(p.cluster.raft.commit_timeout, x);
    p.cluster.raft.rpc_timeout = h(p.cluster.raft.rpc_timeout, x);
    p.cluster.raft.persist_latency = h(p.cluster.raft.persist_latency, x);
    p.timing.election_timeout = r(p.timing.election_timeout, x);
    if let Some(l) = &mut p.cluster.lease {
        l.lease_duration = h(l.lease_duration, x);
        l.renew_deadline = h(l.renew_deadline, x);
        l.retry_period = h(l.retry_period, x);
    }
    p.sink.write_interval = p.sink.write_interval.map(|w| h(w, x));
    for f in &mut p.faults {
        f.at = f.at.iter().map(|a| h(*a, x)).collect();
        f.every = f.every.as_deref().map(|e| match Every::parse(e) {
            Ok(Every::Fixed(v)) => format_duration(d(v, x)),
            Ok(Every::Poisson(m)) => format!("poisson({})", format_duration(d(m, x))),
            Err(_) => e.to_string(),
        });
        f.duration = f.duration.map(|v| r(v, x));
        f.restart_after = f.restart_after.map(|v| h(v, x));
        f.latency = f.latency.map(|v| h(v, x));
        f.jitter = f.jitter.map(|v| h(v, x));
    }
    let t = &mut p.requirements.tolerate;
    t.pause = t.pause.map(|v| h(v, x));
    t.latency_spike = t.latency_spike.map(|v| h(v, x));
    t.store_outage = t.store_outage.map(|v| h(v, x));
    p
}

/// Maps a timeline measured at scale `x` back to the profile's time: every time since `origin`
/// and every measured gap is divided by `x`. Timer lateness stays as measured (it is the
/// machine's noise, not the profile's).
pub fn unscale_events(events: &mut [Event], origin: u64, x: f64) {
    if x == 1.0 {
        return;
    }
    for e in events.iter_mut() {
        e.t = unscale_time(e.t, origin, x);
        if let EventKind::Heartbeat {
            gap_ns: Some(g), ..
        } = &mut e.kind
        {
            *g = (*g as f64 / x).round() as u64;
        }
    }
}

/// One instant mapped back to profile time.
pub fn unscale_time(t: u64, origin: u64, x: f64) -> u64 {
    if t >= origin {
        origin + ((t - origin) as f64 / x).round() as u64
    } else {
        origin - ((origin - t) as f64 / x).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_touches_every_duration_and_round_trips_times() {
        let p = crate::profile::parse(
            "name: s\ncluster: { nodes: 3 }\nnetwork: { default: { latency: 10ms, jitter: 2ms } }\n\
             timing: { heartbeat: 100ms, election_timeout: 1s..2s }\n\
             faults: [ { kind: pause, duration: 100ms..1s, every: poisson(20s) }, { kind: crash, every: 15s, restart_after: 3s } ]\n\
             requirements: { tolerate: { pause: 800ms } }\n",
            "s.yaml",
        )
        .unwrap();
        let s = scale_profile(&p, 0.25);
        assert_eq!(s.timing.heartbeat.0, Duration::from_millis(25));
        assert_eq!(s.timing.election_timeout.to_string(), "250ms..500ms");
        assert_eq!(s.network.default.latency.0, Duration::from_micros(2500));
        assert_eq!(s.faults[0].every.as_deref(), Some("poisson(5s)"));
        assert_eq!(s.faults[1].every.as_deref(), Some("3.75s"));
        assert_eq!(
            s.faults[1].restart_after.unwrap().0,
            Duration::from_millis(750)
        );
        assert_eq!(
            s.requirements.tolerate.pause.unwrap().0,
            Duration::from_millis(200)
        );
        let mut ev = vec![Event::new(
            1_000 + 250,
            "n1",
            EventKind::Heartbeat {
                term: 1,
                leader: "n2".into(),
                gap_ns: Some(25),
            },
        )];
        unscale_events(&mut ev, 1_000, 0.25);
        assert_eq!(ev[0].t, 2_000);
        assert!(matches!(
            ev[0].kind,
            EventKind::Heartbeat {
                gap_ns: Some(100),
                ..
            }
        ));
    }
}
