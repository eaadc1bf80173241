//! Tick accounting: the one place where the core turns the runtime's clock into the time its
//! election timers run on, according to the configured [`StallPolicy`].
//!
//! etcd-io/raft counts every timer in ticks (`tickElection`: `electionElapsed++`;
//! `tickHeartbeat`: `heartbeatElapsed++`, `electionElapsed++`, and a `MsgCheckQuorum` once
//! `electionElapsed` reaches the election timeout), and etcd-io/etcd drives `Tick()` from a Go
//! `time.Ticker` in `raftNode.start` (`server/etcdserver/raft.go`). A Go ticker keeps one pending
//! tick and drops the rest, so a process stopped for any length of time sees a single tick when it
//! resumes. This core runs on continuous time rather than ticks; [`TimerClock`] reproduces that
//! effect by keeping a *timer time* that follows the real clock except across a stall, which
//! advances it by one tick (one heartbeat interval).

use super::config::StallPolicy;

/// The core's timer time, derived from the real time the runtime passes in.
#[derive(Debug, Clone)]
pub(crate) struct TimerClock {
    policy: StallPolicy,
    /// One tick: the heartbeat interval, as in etcd where `--heartbeat-interval` is the tick.
    tick: u64,
    /// The latest real time the core was called with.
    last_real: u64,
    /// Real time not counted by the timers: the sum over stalls of (stall − one tick).
    stalled: u64,
}

impl TimerClock {
    pub(crate) fn new(policy: StallPolicy, tick: u64, now: u64) -> Self {
        Self {
            policy,
            tick,
            last_real: now,
            stalled: 0,
        }
    }

    /// Records that the core runs at real time `now` and returns the timer time to use for it.
    ///
    /// Under [`StallPolicy::OneTick`] the core is woken at least once per tick (see
    /// [`TimerClock::wake_by`]). A call more than one tick after that deadline — more than two
    /// ticks after the previous call — means the process did not run in between: the gap counts
    /// as one tick, as the single tick a Go ticker delivers after the stall. Lateness below that
    /// (an ordinary late timer) counts in full.
    pub(crate) fn observe(&mut self, now: u64) -> u64 {
        let now = now.max(self.last_real);
        if self.policy == StallPolicy::OneTick {
            let gap = now - self.last_real;
            if gap > 2 * self.tick {
                self.stalled += gap - self.tick;
            }
        }
        self.last_real = now;
        now - self.stalled
    }

    /// The real time of the latest call.
    pub(crate) fn real_now(&self) -> u64 {
        self.last_real
    }

    /// The real time at which timer time reaches `timer` (saturating: `u64::MAX` stays never).
    pub(crate) fn to_real(&self, timer: u64) -> u64 {
        timer.saturating_add(self.stalled)
    }

    /// The timer time by which the core must be called again so that a stall can be told from
    /// an idle wait, if the policy needs that.
    pub(crate) fn wake_by(&self) -> Option<u64> {
        match self.policy {
            StallPolicy::OneTick => Some(self.last_real - self.stalled + self.tick),
            StallPolicy::WallClock => None,
        }
    }

    /// Total real time not counted by the timers so far.
    pub(crate) fn stalled(&self) -> u64 {
        self.stalled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_stall_counts_as_one_tick_and_late_timers_count_in_full() {
        let mut c = TimerClock::new(StallPolicy::OneTick, 50 * MS, 1_000 * MS);
        assert_eq!(c.observe(1_050 * MS), 1_050 * MS);
        // 90 ms after the previous call: a late timer, not a stall.
        assert_eq!(c.observe(1_140 * MS), 1_140 * MS);
        // Stopped for 2 s: timer time moves one tick.
        assert_eq!(c.observe(3_140 * MS), 1_190 * MS);
        assert_eq!(c.stalled(), 1_950 * MS);
        assert_eq!(c.to_real(1_200 * MS), 3_150 * MS);
        assert_eq!(c.wake_by(), Some(1_240 * MS));
        // Afterwards time runs at the real rate again.
        assert_eq!(c.observe(3_170 * MS), 1_220 * MS);
    }

    #[test]
    fn wall_clock_counts_every_nanosecond() {
        let mut c = TimerClock::new(StallPolicy::WallClock, 50 * MS, 0);
        assert_eq!(c.observe(2_000 * MS), 2_000 * MS);
        assert_eq!(c.stalled(), 0);
        assert_eq!(c.wake_by(), None);
        assert_eq!(c.to_real(u64::MAX), u64::MAX);
    }
}
