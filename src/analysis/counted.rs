//! A large sample of possibly censored durations kept as counts per 10 µs step, so it merges
//! exactly and stays small however many observations it holds. A sweep point sees about a million
//! heartbeat silences; as a list they made `results.json` 1.5 GB on the wan grid at 1,000
//! failovers per point, as counts a few hundred kB.
//!
//! Each duration is rounded *up* to the step: timeouts are whole milliseconds, so whether a
//! silence exceeds a timeout (`ns > T`) is decided exactly as on the raw value, and 10 µs is well
//! below the timer noise of any machine electune runs on.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Observation;

/// Counts of observations per (step-rounded duration, censored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountedSample {
    counts: BTreeMap<(u64, bool), u64>,
}

impl CountedSample {
    /// The rounding step (ns).
    pub const STEP_NS: u64 = 10_000;

    /// Adds one observation.
    pub fn push(&mut self, o: Observation) {
        let ns = o.ns.div_ceil(Self::STEP_NS).saturating_mul(Self::STEP_NS);
        *self.counts.entry((ns, o.censored)).or_default() += 1;
    }

    /// Adds every observation of `other`.
    pub fn merge(&mut self, other: &Self) {
        for (k, n) in &other.counts {
            *self.counts.entry(*k).or_default() += n;
        }
    }

    /// Number of observations.
    pub fn len(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Observations known to be longer than `ns` (censored ones cut after it included); exact
    /// when `ns` is a multiple of [`Self::STEP_NS`], as rounding up keeps `> ns` as it was.
    pub fn count_longer_than(&self, ns: u64) -> u64 {
        self.counts
            .range((ns.saturating_add(1), false)..)
            .map(|(_, n)| n)
            .sum()
    }

    /// Every observation (rounded), sorted by duration.
    pub fn expand(&self) -> Vec<Observation> {
        let mut out = Vec::with_capacity(self.len().min(1 << 24) as usize);
        for (&(ns, censored), &n) in &self.counts {
            out.extend(std::iter::repeat_n(
                Observation { ns, censored },
                n as usize,
            ));
        }
        out
    }
}

impl FromIterator<Observation> for CountedSample {
    fn from_iter<I: IntoIterator<Item = Observation>>(iter: I) -> Self {
        let mut s = Self::default();
        iter.into_iter().for_each(|o| s.push(o));
        s
    }
}

#[derive(Serialize, Deserialize)]
struct Compact {
    step_ns: u64,
    /// `[duration_ns, censored, count]`, sorted.
    counts: Vec<(u64, bool, u64)>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Saved {
    Compact(Compact),
    /// Results written before 0.2 kept every observation.
    List(Vec<Observation>),
}

impl Serialize for CountedSample {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Compact {
            step_ns: Self::STEP_NS,
            counts: self
                .counts
                .iter()
                .map(|(&(ns, c), &n)| (ns, c, n))
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for CountedSample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Saved::deserialize(d)? {
            Saved::List(v) => Ok(v.into_iter().collect()),
            Saved::Compact(c) if c.step_ns == Self::STEP_NS => {
                let mut s = Self::default();
                for (ns, censored, n) in c.counts {
                    *s.counts.entry((ns, censored)).or_default() += n;
                }
                Ok(s)
            }
            Saved::Compact(c) => Err(serde::de::Error::custom(format!(
                "counted sample with a step of {} ns; this electune reads {} ns",
                c.step_ns,
                Self::STEP_NS
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_than_counts_what_exceeds_a_whole_step() {
        let s: CountedSample = [
            Observation::done(999_999),
            Observation::done(1_000_000),
            Observation::done(1_000_001),
            Observation::cut(2_000_000),
        ]
        .into_iter()
        .collect();
        // 999,999 and 1,000,000 round to 1 ms, which is not longer than 1 ms.
        assert_eq!(s.count_longer_than(1_000_000), 2);
        assert_eq!(s.count_longer_than(0), 4);
        assert_eq!(s.count_longer_than(2_000_000), 0);
    }

    #[test]
    fn counts_round_up_merge_exactly_and_read_old_lists() {
        let mut a: CountedSample = [
            Observation::done(50_000_001),
            Observation::done(50_004_000),
            Observation::cut(400_000_000),
        ]
        .into_iter()
        .collect();
        // rounded up: a silence just over 500 ms stays over it
        a.push(Observation::done(500_000_001));
        assert!(a.expand().iter().any(|o| o.ns > 500_000_000));
        let b: CountedSample = [Observation::done(50_001_000)].into_iter().collect();
        a.merge(&b);
        assert_eq!(a.len(), 5);
        let e = a.expand();
        assert_eq!(e[0], Observation::done(50_010_000));
        assert_eq!(e.iter().filter(|o| o.ns == 50_010_000).count(), 3);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<CountedSample>(&json).unwrap(), a);
        let old = r#"[{"ns":50000001,"censored":false},{"ns":7,"censored":true}]"#;
        let read: CountedSample = serde_json::from_str(old).unwrap();
        assert_eq!(read.len(), 2);
        assert!(serde_json::from_str::<CountedSample>(r#"{"step_ns":1,"counts":[]}"#).is_err());
    }
}
