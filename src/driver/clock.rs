//! A member's own notion of elapsed time: true time scaled by a drift rate. The timeline stays on
//! the true clock; only the core sees drifted time.

/// Maps between true time and the node's local time, both in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct DriftClock {
    base_true: u64,
    base_local: u64,
    rate: f64,
}

impl DriftClock {
    /// A clock that reads `true_now` now and runs at `rate`.
    pub fn new(true_now: u64, rate: f64) -> Self {
        Self {
            base_true: true_now,
            base_local: true_now,
            rate,
        }
    }

    /// Local time at true time `t`.
    pub fn local(&self, t: u64) -> u64 {
        self.base_local + ((t.saturating_sub(self.base_true)) as f64 * self.rate) as u64
    }

    /// The true time at which local time reaches `local`.
    pub fn true_at(&self, local: u64) -> u64 {
        if local <= self.base_local {
            return self.base_true;
        }
        let delta = ((local - self.base_local) as f64 / self.rate).ceil();
        self.base_true
            .saturating_add(delta.min(u64::MAX as f64 / 2.0) as u64)
    }

    /// Changes the rate from true time `t` on, keeping local time continuous.
    pub fn set_rate(&mut self, t: u64, rate: f64) {
        self.base_local = self.local(t);
        self.base_true = t;
        self.rate = rate;
    }
}

#[cfg(test)]
mod tests {
    use super::DriftClock;

    #[test]
    fn drift_scales_and_stays_continuous() {
        let mut c = DriftClock::new(1_000, 1.0);
        assert_eq!(c.local(2_000), 2_000);
        c.set_rate(2_000, 2.0);
        assert_eq!(c.local(2_000), 2_000);
        assert_eq!(c.local(3_000), 4_000);
        assert_eq!(c.true_at(4_000), 3_000);
        c.set_rate(3_000, 0.5);
        assert_eq!(c.local(5_000), 5_000);
        assert_eq!(c.true_at(5_000), 5_000);
    }
}
