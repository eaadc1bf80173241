//! Tick accounting: the one place where the core turns the runtime's clock into the time its
//! election timers run on, according to the flavor's [`StallPolicy`].
//!
//! Under [`StallPolicy::WallClock`] timer time is real time. Under [`StallPolicy::OneTick`] it
//! reproduces etcd: etcd-io/raft counts every timer in ticks (`tickElection`:
//! `electionElapsed++`; `tickHeartbeat`: `heartbeatElapsed++`, `electionElapsed++`), and
//! etcd-io/etcd calls `Tick()` from a Go `time.Ticker` in `raftNode.start`
//! (`server/etcdserver/raft.go`). The ticker fires on a fixed grid from its start and keeps at
//! most one undelivered tick, so a process stopped for any length of time sees a single tick when
//! it resumes and then the grid again. [`TimerClock`] keeps that grid and a count of delivered
//! ticks; timer time is `origin + delivered × tick`, so every timer deadline the core computes in
//! whole ticks falls on a tick.

use super::config::StallPolicy;

/// The core's timer time, derived from the real time the runtime passes in.
#[derive(Debug, Clone)]
pub(crate) struct TimerClock {
    policy: StallPolicy,
    /// One tick: the heartbeat interval, as in etcd where `--heartbeat-interval` is the tick.
    tick: u64,
    /// Real time the ticker started: grid ticks fall at `origin + k × tick`, k ≥ 1.
    origin: u64,
    /// The latest real time the core was called with.
    last_real: u64,
    /// Grid ticks passed by `last_real`.
    passed: u64,
    /// Ticks delivered to the timers (at most one per call).
    delivered: u64,
}

impl TimerClock {
    pub(crate) fn new(policy: StallPolicy, tick: u64, now: u64) -> Self {
        Self {
            policy,
            tick: tick.max(1),
            origin: now,
            last_real: now,
            passed: 0,
            delivered: 0,
        }
    }

    /// Records that the core runs at real time `now` and returns the timer time to use for it.
    /// Under [`StallPolicy::OneTick`], a call that finds one or more grid ticks passed since the
    /// previous call delivers exactly one, as a receive from a Go ticker's channel does.
    pub(crate) fn observe(&mut self, now: u64) -> u64 {
        let now = now.max(self.last_real);
        self.last_real = now;
        match self.policy {
            StallPolicy::WallClock => now,
            StallPolicy::OneTick => {
                let passed = (now - self.origin) / self.tick;
                if passed > self.passed {
                    self.delivered += 1;
                    self.passed = passed;
                }
                self.timer_now()
            }
        }
    }

    /// Timer time as of the latest call.
    pub(crate) fn timer_now(&self) -> u64 {
        match self.policy {
            StallPolicy::WallClock => self.last_real,
            StallPolicy::OneTick => self.origin + self.delivered * self.tick,
        }
    }

    /// The real time of the latest call.
    pub(crate) fn real_now(&self) -> u64 {
        self.last_real
    }

    /// The real time at which the core must next be called so that a timer due at timer time
    /// `deadline` fires: the deadline itself on the wall clock (`u64::MAX` stays never); under
    /// [`StallPolicy::OneTick`] the next grid tick, which delivers the next tick (or now, when the
    /// deadline has already been reached by a tick delivered with a message).
    pub(crate) fn wake_at(&self, deadline: u64) -> u64 {
        match self.policy {
            StallPolicy::WallClock => deadline,
            StallPolicy::OneTick if deadline <= self.timer_now() => self.last_real,
            StallPolicy::OneTick => self.origin + (self.passed + 1) * self.tick,
        }
    }

    /// Total real time the timers did not count: the ticks dropped while the process did not run.
    pub(crate) fn stalled(&self) -> u64 {
        match self.policy {
            StallPolicy::WallClock => 0,
            StallPolicy::OneTick => (self.passed - self.delivered) * self.tick,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn ticks_fall_on_the_grid_and_a_stall_delivers_one() {
        let mut c = TimerClock::new(StallPolicy::OneTick, 50 * MS, 1_000 * MS);
        assert_eq!(c.wake_at(u64::MAX), 1_050 * MS);
        // Between ticks nothing is delivered.
        assert_eq!(c.observe(1_020 * MS), 1_000 * MS);
        assert_eq!(c.observe(1_050 * MS), 1_050 * MS);
        // Woken late inside the next period: still that period's tick.
        assert_eq!(c.observe(1_140 * MS), 1_100 * MS);
        assert_eq!(c.wake_at(u64::MAX), 1_150 * MS);
        // Stopped for 2 s: one tick, then the grid again.
        assert_eq!(c.observe(3_140 * MS), 1_150 * MS);
        assert_eq!(c.stalled(), 39 * 50 * MS);
        assert_eq!(c.wake_at(u64::MAX), 3_150 * MS);
        assert_eq!(c.observe(3_150 * MS), 1_200 * MS);
        // A deadline a delivered tick already reached is due now.
        assert_eq!(c.wake_at(1_200 * MS), 3_150 * MS);
    }

    #[test]
    fn wall_clock_counts_every_nanosecond() {
        let mut c = TimerClock::new(StallPolicy::WallClock, 50 * MS, 0);
        assert_eq!(c.observe(2_000 * MS), 2_000 * MS);
        assert_eq!(c.stalled(), 0);
        assert_eq!(c.wake_at(2_100 * MS), 2_100 * MS);
        assert_eq!(c.wake_at(u64::MAX), u64::MAX);
    }
}
