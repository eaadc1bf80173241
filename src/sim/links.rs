//! Directed links as the toxiproxy substrate makes them, in virtual time: one per ordered pair of
//! members and one from each member to the sink. A link is a byte stream, so what enters it leaves
//! in order; every latency toxic on it (the baseline and any spike) delays a message by
//! `latency ± jitter`, drawn uniformly as the latency toxic draws it; a partition (a `timeout`
//! toxic with no timeout) holds messages until it is removed, as the built-in proxy holds data;
//! a peer reset drops what is sent while it lasts, as a reset connection loses the node's queued
//! frames.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A latency toxic: `latency ± jitter` (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub latency_ns: u64,
    pub jitter_ns: u64,
}

impl Latency {
    /// One draw: uniform in `[latency − jitter, latency + jitter)`, never below zero
    /// (toxiproxy's `toxics/latency.go` draws `latency + rand(2·jitter) − jitter`).
    fn draw(&self, rng: &mut ChaCha8Rng) -> u64 {
        if self.jitter_ns == 0 {
            return self.latency_ns;
        }
        let u: f64 = rng.gen();
        let d = self.latency_ns as f64 + self.jitter_ns as f64 * (2.0 * u - 1.0);
        d.max(0.0) as u64
    }
}

/// What happens to a message sent on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It arrives at this time.
    Arrives(u64),
    /// A partition holds it until the partition ends.
    Held,
    /// A reset connection loses it.
    Lost,
}

/// One directed link and the toxics on it, keyed by the fault that added them.
#[derive(Debug, Clone, Default)]
pub struct Link {
    baseline: Option<Latency>,
    spikes: BTreeMap<u64, Latency>,
    /// Bandwidth limits (bytes per ms, as toxiproxy's KB/s).
    bandwidth: BTreeMap<u64, u64>,
    holds: BTreeMap<u64, ()>,
    resets: BTreeMap<u64, ()>,
    /// When the latest message on this link arrives (order is kept).
    last_arrival: u64,
}

impl Link {
    /// A link with a baseline latency (none when zero).
    pub fn new(baseline: Latency) -> Self {
        Self {
            baseline: (baseline.latency_ns > 0 || baseline.jitter_ns > 0).then_some(baseline),
            ..Self::default()
        }
    }

    /// Sends `bytes` at `now` with `hop_ns` of proxy cost: when it arrives, or why it does not.
    pub fn send(&mut self, now: u64, bytes: usize, hop_ns: u64, rng: &mut ChaCha8Rng) -> Fate {
        if !self.resets.is_empty() {
            return Fate::Lost;
        }
        if !self.holds.is_empty() {
            return Fate::Held;
        }
        Fate::Arrives(self.arrival(now, bytes, hop_ns, rng))
    }

    /// When a message entering the link at `now` leaves it (after every toxic, in order).
    pub fn arrival(&mut self, now: u64, bytes: usize, hop_ns: u64, rng: &mut ChaCha8Rng) -> u64 {
        let mut delay = hop_ns;
        for l in self.baseline.iter().chain(self.spikes.values()) {
            delay += l.draw(rng);
        }
        for rate in self.bandwidth.values() {
            // rate bytes per ms
            delay += (bytes as u64 * 1_000_000).div_ceil((*rate).max(1));
        }
        let at = (now + delay).max(self.last_arrival);
        self.last_arrival = at;
        at
    }

    /// Adds a latency spike from fault `id`.
    pub fn add_spike(&mut self, id: u64, l: Latency) {
        self.spikes.insert(id, l);
    }

    /// Adds a bandwidth limit from fault `id` (bytes per ms).
    pub fn add_bandwidth(&mut self, id: u64, rate: u64) {
        self.bandwidth.insert(id, rate);
    }

    /// Adds a partition from fault `id`.
    pub fn add_hold(&mut self, id: u64) {
        self.holds.insert(id, ());
    }

    /// Adds a peer reset from fault `id`.
    pub fn add_reset(&mut self, id: u64) {
        self.resets.insert(id, ());
    }

    /// Removes whatever fault `id` added; true when the link no longer holds messages.
    pub fn remove(&mut self, id: u64) -> bool {
        self.spikes.remove(&id);
        self.bandwidth.remove(&id);
        self.resets.remove(&id);
        self.holds.remove(&id);
        self.holds.is_empty()
    }

    /// Whether a bandwidth limit is on (message sizes matter only then).
    pub fn has_bandwidth(&self) -> bool {
        !self.bandwidth.is_empty()
    }

    /// Whether the link holds messages now.
    pub fn holding(&self) -> bool {
        !self.holds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const MS: u64 = 1_000_000;

    #[test]
    fn latency_and_jitter_are_drawn_as_the_toxic_draws_them_and_order_is_kept() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut link = Link::new(Latency {
            latency_ns: 50 * MS,
            jitter_ns: 10 * MS,
        });
        let mut last = 0;
        let mut delays = Vec::new();
        for i in 0..10_000u64 {
            let now = i * 20 * MS;
            let Fate::Arrives(at) = link.send(now, 40, 0, &mut rng) else {
                panic!("no toxic holds this link");
            };
            assert!(at >= last, "reordered");
            last = at;
            delays.push(at - now);
        }
        // Messages 20 ms apart rarely queue behind each other: the draws show through.
        let min = *delays.iter().min().unwrap();
        let max = *delays.iter().max().unwrap();
        assert!((40 * MS..41 * MS).contains(&min), "{min}");
        assert!((59 * MS..=60 * MS).contains(&max), "{max}");
        let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
        assert!((mean / MS as f64 - 50.0).abs() < 0.5, "{mean}");
    }

    #[test]
    fn spikes_add_holds_hold_and_resets_lose() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut link = Link::new(Latency {
            latency_ns: 5 * MS,
            jitter_ns: 0,
        });
        link.add_spike(
            7,
            Latency {
                latency_ns: 300 * MS,
                jitter_ns: 0,
            },
        );
        assert_eq!(
            link.send(0, 10, 20_000, &mut rng),
            Fate::Arrives(305 * MS + 20_000)
        );
        link.add_hold(8);
        assert_eq!(link.send(MS, 10, 0, &mut rng), Fate::Held);
        assert!(!link.remove(7));
        assert!(link.remove(8));
        // A later message never overtakes an earlier one.
        assert_eq!(
            link.send(2 * MS, 10, 0, &mut rng),
            Fate::Arrives(305 * MS + 20_000)
        );
        link.add_reset(9);
        assert_eq!(link.send(400 * MS, 10, 0, &mut rng), Fate::Lost);
    }
}
