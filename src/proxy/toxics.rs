//! Toxic semantics, per connection and direction.
//!
//! The registry publishes, per proxy and direction, the current list of toxics (a [`ToxicSet`]) on
//! a watch channel. Each direction of each connection keeps a [`ToxicStates`]: whether each toxic
//! applies to this connection (toxicity, decided per connection and re-decided when the toxic is
//! updated, as toxiproxy does) and its per-connection state (bytes sent for `limit_data`, pacing for
//! `bandwidth` and `slicer`, timers for `timeout` and `reset_peer`). [`ToxicStates::plan`] decides,
//! from the current toxics and the chunk at the head of the queue, what the writer does next. The
//! toxics are re-read for every decision, so a change applies to data already queued, and since
//! only the head is ever written, no byte is lost, duplicated or reordered by a change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::toxiproxy::ToxicAttributes;

/// One toxic as the data plane sees it.
#[derive(Clone, Debug)]
pub(crate) struct ActiveToxic {
    /// Unique for the server's lifetime.
    pub id: u64,
    /// Bumped on every update: toxicity is re-decided and timers restart.
    pub generation: u64,
    pub toxicity: f64,
    pub attrs: ToxicAttributes,
}

/// The toxics of one direction of one proxy, in the order they were added.
pub(crate) type ToxicSet = Arc<Vec<ActiveToxic>>;

/// What arrived from the source: data (with its arrival time) or the end of the stream.
#[derive(Debug)]
pub(crate) enum Item {
    Data(Chunk),
    Eof,
}

/// Bytes read at one instant.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub arrival: Instant,
    pub data: Vec<u8>,
    /// Bytes already written.
    pub off: usize,
    /// This chunk's uniform sample in [0, 1) for latency jitter (fixed for the chunk, so a
    /// re-evaluation after a toxic change does not redraw it).
    pub u: f64,
}

/// What the writer does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Nothing until data arrives or the toxics change.
    Idle,
    /// Nothing until this instant (or data arrives or the toxics change).
    Wait(Instant),
    /// Write this many bytes of the head chunk now.
    Write(usize),
    /// Forward the end of the stream now and stop this direction.
    Finish,
    /// Close the whole connection now (a `timeout` toxic expired).
    Close,
    /// Reset the whole connection (TCP RST) now.
    Reset,
}

#[derive(Debug)]
struct ToxicState {
    id: u64,
    generation: u64,
    /// Whether the toxic applies to this connection (toxicity roll).
    on: bool,
    /// When it started applying to this connection (for `timeout`).
    started: Instant,
    /// Bytes passed (for `limit_data`); kept across updates, as toxiproxy does.
    sent: u64,
    /// Earliest time the next piece may go (for `bandwidth` and `slicer`).
    next_at: Instant,
    /// When data first reached a `reset_peer` toxic.
    armed: Option<Instant>,
}

/// Per-connection, per-direction toxic state.
pub(crate) struct ToxicStates {
    states: Vec<ToxicState>,
    last: Option<ToxicSet>,
    rng: ChaCha8Rng,
    /// When the end of stream reached the head (for `slow_close`).
    eof_at_head: Option<Instant>,
}

const GOLDEN: f64 = 0.618_033_988_749_894_9;

/// Fractional milliseconds as a duration; negative is none, beyond `Duration::MAX` is the most.
/// (The API refuses such values; this keeps the data plane total regardless.)
fn ms(v: f64) -> Duration {
    if v > 0.0 {
        Duration::try_from_secs_f64(v / 1000.0).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    }
}

/// `t + d`, or a century later when that is past what an `Instant` can hold (never, in effect).
fn later(t: Instant, d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    t.checked_add(d)
        .or_else(|| t.checked_add(CENTURY))
        .unwrap_or(t)
}

fn ms_i(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

impl ToxicStates {
    pub fn new() -> Self {
        ToxicStates {
            states: Vec::new(),
            last: None,
            rng: ChaCha8Rng::from_rng(rand::thread_rng())
                .unwrap_or_else(|_| ChaCha8Rng::seed_from_u64(crate::clock::monotonic_ns())),
            eof_at_head: None,
        }
    }

    /// A uniform sample in [0, 1) for a new chunk.
    pub fn sample(&mut self) -> f64 {
        self.rng.gen()
    }

    /// Aligns the per-connection states with the current toxic set.
    pub fn sync(&mut self, set: &ToxicSet, now: Instant) {
        if self.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, set)) {
            return;
        }
        let mut old = std::mem::take(&mut self.states);
        for t in set.iter() {
            let st = match old.iter().position(|s| s.id == t.id) {
                Some(i) => {
                    let mut s = old.swap_remove(i);
                    if s.generation != t.generation {
                        s.generation = t.generation;
                        s.on = self.rng.gen::<f64>() < t.toxicity;
                        s.started = now;
                        s.armed = None;
                    }
                    s
                }
                None => ToxicState {
                    id: t.id,
                    generation: t.generation,
                    on: self.rng.gen::<f64>() < t.toxicity,
                    started: now,
                    sent: 0,
                    next_at: now,
                    armed: None,
                },
            };
            self.states.push(st);
        }
        self.last = Some(set.clone());
    }

    /// Whether any toxic applies to this connection (otherwise data goes straight through).
    pub fn any_on(&self) -> bool {
        self.states.iter().any(|s| s.on)
    }

    fn active<'a>(
        &'a mut self,
        set: &'a ToxicSet,
    ) -> impl Iterator<Item = (&'a ActiveToxic, &'a mut ToxicState)> {
        set.iter().zip(self.states.iter_mut()).filter(|(_, s)| s.on)
    }

    /// Decides the next step for the head of the queue. `sync` must have been called with `set`.
    pub fn plan(&mut self, set: &ToxicSet, head: Option<&Item>, now: Instant) -> Plan {
        let mut holding = false;
        let mut deadline: Option<Instant> = None;
        let mut soonest = |t: Instant| deadline = Some(deadline.map_or(t, |d: Instant| d.min(t)));
        let has_head = head.is_some();
        for (t, st) in self.active(set) {
            match t.attrs {
                ToxicAttributes::Timeout { timeout } => {
                    holding = true;
                    if timeout > 0 {
                        let at = later(st.started, ms_i(timeout));
                        if now >= at {
                            return Plan::Close;
                        }
                        soonest(at);
                    }
                }
                ToxicAttributes::ResetPeer { timeout } => {
                    holding = true;
                    if has_head && st.armed.is_none() {
                        st.armed = Some(now);
                    }
                    if let Some(armed) = st.armed {
                        let at = later(armed, ms_i(timeout));
                        if now >= at {
                            return Plan::Reset;
                        }
                        soonest(at);
                    }
                }
                _ => {}
            }
        }
        if holding {
            return deadline.map_or(Plan::Idle, Plan::Wait);
        }
        let Some(head) = head else {
            return Plan::Idle;
        };
        let chunk = match head {
            Item::Eof => {
                let reached = *self.eof_at_head.get_or_insert(now);
                let mut delay = Duration::ZERO;
                for (t, _) in self.active(set) {
                    if let ToxicAttributes::SlowClose { delay: d } = t.attrs {
                        delay = delay.saturating_add(ms_i(d));
                    }
                }
                let at = later(reached, delay);
                return if now >= at {
                    Plan::Finish
                } else {
                    Plan::Wait(at)
                };
            }
            Item::Data(c) => c,
        };
        let mut due = chunk.arrival;
        let mut k = 0.0;
        let mut n = chunk.data.len() - chunk.off;
        let mut slicer = None;
        for (t, st) in self.active(set) {
            match t.attrs {
                ToxicAttributes::Latency { latency, jitter } => {
                    let u = (chunk.u + GOLDEN * k).fract();
                    k += 1.0;
                    // toxiproxy ignores a negative jitter (toxics/latency.go `delay`).
                    due = later(due, ms(latency + jitter.max(0.0) * (2.0 * u - 1.0)));
                }
                ToxicAttributes::Bandwidth { rate } if rate > 0 => {
                    due = due.max(st.next_at);
                    // At most 10 ms worth of data per piece (rate KB/s = rate bytes/ms).
                    n = n.min((rate as usize).saturating_mul(10).max(1));
                }
                ToxicAttributes::Slicer {
                    average_size,
                    size_variation,
                    ..
                } => {
                    due = due.max(st.next_at);
                    slicer = Some((average_size, size_variation));
                }
                ToxicAttributes::LimitData { bytes } => {
                    let left = (bytes.max(0) as u64).saturating_sub(st.sent);
                    if left == 0 {
                        return Plan::Finish;
                    }
                    n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
                }
                _ => {}
            }
        }
        if due > now {
            return Plan::Wait(due);
        }
        if let Some((avg, var)) = slicer {
            let avg = avg.max(0) as usize;
            let var = (var.max(0) as usize).min(avg);
            if avg > 0 && n.saturating_sub(avg) > var {
                let size = if var > 0 {
                    avg - var + self.rng.gen_range(0..=2 * var)
                } else {
                    avg
                };
                n = n.min(size.max(1));
            }
        }
        Plan::Write(n)
    }

    /// Accounts for `n` bytes written at `now`. Returns true when a `limit_data` toxic is reached.
    pub fn wrote(&mut self, set: &ToxicSet, n: usize, now: Instant) -> bool {
        let mut limit_reached = false;
        for (t, st) in self.active(set) {
            match t.attrs {
                ToxicAttributes::Bandwidth { rate } if rate > 0 => {
                    let cost = Duration::from_secs_f64(n as f64 / (rate as f64 * 1000.0));
                    st.next_at = later(st.next_at.max(now), cost);
                }
                ToxicAttributes::Slicer { delay, .. } => {
                    st.next_at = later(now, Duration::from_micros(delay.max(0) as u64));
                }
                ToxicAttributes::LimitData { bytes } => {
                    st.sent += n as u64;
                    if st.sent >= bytes.max(0) as u64 {
                        limit_reached = true;
                    }
                }
                _ => {}
            }
        }
        limit_reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(attrs: Vec<ToxicAttributes>) -> ToxicSet {
        Arc::new(
            attrs
                .into_iter()
                .enumerate()
                .map(|(i, attrs)| ActiveToxic {
                    id: i as u64,
                    generation: 0,
                    toxicity: 1.0,
                    attrs,
                })
                .collect(),
        )
    }

    fn chunk(at: Instant, len: usize) -> Item {
        Item::Data(Chunk {
            arrival: at,
            data: vec![0; len],
            off: 0,
            u: 0.5,
        })
    }

    #[test]
    fn latency_counts_from_arrival() {
        let s = set(vec![ToxicAttributes::Latency {
            latency: 10.0,
            jitter: 0.0,
        }]);
        let mut st = ToxicStates::new();
        let t0 = Instant::now();
        st.sync(&s, t0);
        let c = chunk(t0, 5);
        assert_eq!(
            st.plan(&s, Some(&c), t0),
            Plan::Wait(t0 + Duration::from_millis(10))
        );
        assert_eq!(
            st.plan(&s, Some(&c), t0 + Duration::from_millis(10)),
            Plan::Write(5)
        );
    }

    #[test]
    fn huge_values_wait_instead_of_panicking() {
        let t0 = Instant::now();
        for attrs in [
            ToxicAttributes::Latency {
                latency: 1e30,
                jitter: 0.0,
            },
            ToxicAttributes::Latency {
                latency: 1.5e22,
                jitter: 1.5e22,
            },
            ToxicAttributes::Latency {
                latency: f64::INFINITY,
                jitter: 0.0,
            },
        ] {
            let s = set(vec![attrs.clone(), attrs]);
            let mut st = ToxicStates::new();
            st.sync(&s, t0);
            match st.plan(&s, Some(&chunk(t0, 1)), t0) {
                Plan::Wait(at) => assert!(at > t0 + Duration::from_secs(86_400 * 365)),
                other => panic!("{other:?}"),
            }
        }
        for attrs in [
            ToxicAttributes::SlowClose { delay: i64::MAX },
            ToxicAttributes::Timeout { timeout: i64::MAX },
        ] {
            let s = set(vec![attrs.clone(), attrs]);
            let mut st = ToxicStates::new();
            st.sync(&s, t0);
            assert!(matches!(
                st.plan(&s, Some(&Item::Eof), t0),
                Plan::Wait(_) | Plan::Idle
            ));
        }
    }

    #[test]
    fn limit_slicer_timeout() {
        let s = set(vec![ToxicAttributes::LimitData { bytes: 3 }]);
        let mut st = ToxicStates::new();
        let t0 = Instant::now();
        st.sync(&s, t0);
        assert_eq!(st.plan(&s, Some(&chunk(t0, 5)), t0), Plan::Write(3));
        assert!(st.wrote(&s, 3, t0));
        assert_eq!(st.plan(&s, Some(&chunk(t0, 5)), t0), Plan::Finish);

        let s = set(vec![ToxicAttributes::Slicer {
            average_size: 10,
            size_variation: 0,
            delay: 0,
        }]);
        let mut st = ToxicStates::new();
        st.sync(&s, t0);
        assert_eq!(st.plan(&s, Some(&chunk(t0, 100)), t0), Plan::Write(10));

        let s = set(vec![ToxicAttributes::Timeout { timeout: 5 }]);
        let mut st = ToxicStates::new();
        st.sync(&s, t0);
        assert_eq!(
            st.plan(&s, Some(&chunk(t0, 1)), t0),
            Plan::Wait(t0 + Duration::from_millis(5))
        );
        assert_eq!(
            st.plan(&s, None, t0 + Duration::from_millis(5)),
            Plan::Close
        );
    }
}
