//! The election core's timers under each [`Flavor`]: when the election timer fires and how its
//! timeout is drawn, when a leader heartbeats, how a leader judges quorum contact, and how long a
//! leader counts as live. Every flavor difference in timing lives here, one `match` per concern;
//! the state machine in `core.rs` only says what happened (a role change, leader contact, a
//! heartbeat sent) and asks what is due. Time is the [`TimerClock`]'s timer time unless noted.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::{Config, FlavorTiming};
use super::core::Role;
use super::ticks::TimerClock;

/// hashicorp/raft's `minCheckInterval`: the shortest wait between two `checkLeaderLease` runs.
const HASHICORP_MIN_CHECK_INTERVAL: u64 = 10_000_000;

/// A flavor's timing in nanoseconds.
#[derive(Debug, Clone, Copy)]
enum Timing {
    /// `tick` ns per tick, `election` = ElectionTick × tick.
    Etcd { tick: u64, election: u64 },
    /// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout.
    Hashicorp {
        heartbeat: u64,
        election: u64,
        lease: u64,
    },
    /// Heartbeat interval and the election timeout's `[min, max)`.
    Thesis { heartbeat: u64, min: u64, max: u64 },
}

/// What one contact from the leader (or a granted vote) means to the election timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// Draw a new timeout and start it now.
    Redraw,
    /// Start the current timeout again now (etcd: `electionElapsed = 0`).
    Zero,
    /// Leave the timer alone (hashicorp: only `lastContact` moves).
    Keep,
}

/// The timers of one Raft core.
#[derive(Debug)]
pub(crate) struct Timers {
    timing: Timing,
    clock: TimerClock,
    rng: ChaCha8Rng,
    /// The drawn election timeout in force (etcd's `randomizedElectionTimeout`).
    timeout: u64,
    /// When the election timer fires (followers and candidates).
    election_deadline: u64,
    /// When the leader next sends heartbeats.
    heartbeat_deadline: u64,
    /// When the leader next judges quorum contact.
    quorum_check_deadline: u64,
    /// Last accepted AppendEntries from a leader, or vote granted (hashicorp's `lastContact`;
    /// under etcd the time `electionElapsed` was last zeroed by either).
    last_contact: Option<u64>,
}

impl Timers {
    /// Timers for `cfg` (which must have passed [`Config::validate`]), started at real time
    /// `now` as a follower; `seed` feeds every random draw.
    pub(crate) fn new(cfg: &Config, now: u64, seed: u64) -> Self {
        let ns = |d: std::time::Duration| d.as_nanos() as u64;
        let timing = match cfg.timing() {
            FlavorTiming::Etcd {
                tick,
                election_ticks,
            } => Timing::Etcd {
                tick: ns(tick),
                election: ns(tick) * u64::from(election_ticks),
            },
            FlavorTiming::Hashicorp {
                heartbeat_timeout,
                election_timeout,
                leader_lease_timeout,
            } => Timing::Hashicorp {
                heartbeat: ns(heartbeat_timeout),
                election: ns(election_timeout),
                lease: ns(leader_lease_timeout),
            },
            FlavorTiming::Thesis {
                heartbeat,
                election_timeout,
            } => Timing::Thesis {
                heartbeat: ns(heartbeat),
                min: ns(election_timeout.min),
                max: ns(election_timeout.max),
            },
        };
        let mut timers = Self {
            timing,
            clock: TimerClock::new(cfg.flavor.stall_policy(), ns(cfg.heartbeat_interval), now),
            rng: ChaCha8Rng::seed_from_u64(seed),
            timeout: 0,
            election_deadline: u64::MAX,
            heartbeat_deadline: u64::MAX,
            quorum_check_deadline: u64::MAX,
            last_contact: None,
        };
        let now = timers.clock.observe(now);
        timers.start_election_timer(now, Role::Follower, Restart::Redraw);
        if let Timing::Etcd { tick, election } = timers.timing {
            if cfg.initial_election_tick_advance {
                // etcd's `adjustTicks` (server/etcdserver/server.go) ticks `ElectionTicks − 2`
                // times at start once more than one peer is active (`ElectionTicks − 1` alone):
                // the drawn timeout stays, `electionElapsed` starts that far along.
                let ticks = election / tick;
                let advance = if cfg.peers.is_empty() {
                    ticks - 1
                } else {
                    ticks.saturating_sub(2)
                };
                timers.election_deadline -= advance * tick;
            }
        }
        timers
    }

    /// Records that the core runs at real time `now`; returns the timer time for it.
    pub(crate) fn observe(&mut self, now: u64) -> u64 {
        self.clock.observe(now)
    }

    /// A seed for another source of randomness, drawn from this one (reproducible).
    pub(crate) fn draw_seed(&mut self) -> u64 {
        self.rng.gen()
    }

    /// The real time at which the core must be called for a timer due at timer time `t`.
    pub(crate) fn wake_at(&self, t: u64) -> u64 {
        self.clock.wake_at(t)
    }

    /// The real time of the latest call.
    pub(crate) fn real_now(&self) -> u64 {
        self.clock.real_now()
    }

    /// Real time so far that the timers did not count because the process stalled.
    pub(crate) fn stalled(&self) -> u64 {
        self.clock.stalled()
    }

    /// The next real time the core must be called, for a node in `role`.
    pub(crate) fn next_deadline(&self, role: Role) -> u64 {
        let timer = match role {
            Role::Leader => self.heartbeat_deadline.min(self.quorum_check_deadline),
            _ => self.election_deadline,
        };
        self.clock.wake_at(timer)
    }

    // ----- the election timer -----

    /// Draws an election timeout for a timer started in `role`: etcd `[ET, 2ET)` whole ticks
    /// (`resetRandomizedElectionTimeout`), hashicorp `randomTimeout` of HeartbeatTimeout for a
    /// follower and of ElectionTimeout for a candidate (`[T, 2T)`), thesis `[min, max)`.
    fn draw(&mut self, role: Role) -> u64 {
        match self.timing {
            Timing::Etcd { tick, election } => {
                let ticks = election / tick;
                (ticks + self.rng.gen_range(0..ticks)) * tick
            }
            Timing::Hashicorp {
                heartbeat,
                election,
                ..
            } => {
                let base = if role == Role::Follower {
                    heartbeat
                } else {
                    election
                };
                base + self.rng.gen_range(0..base)
            }
            Timing::Thesis { min, max, .. } => {
                if max > min {
                    self.rng.gen_range(min..max)
                } else {
                    min
                }
            }
        }
    }

    fn start_election_timer(&mut self, now: u64, role: Role, restart: Restart) {
        match restart {
            Restart::Redraw => self.timeout = self.draw(role),
            Restart::Zero => {}
            Restart::Keep => return,
        }
        self.election_deadline = now.saturating_add(self.timeout);
    }

    /// The node becomes (or stays) a follower, coming from `from`, with a new term or not, and
    /// `heard_leader` when the leader's AppendEntries made it one (which is also a
    /// [`Timers::contact`], started once). etcd redraws in `reset(term)`, which `becomeFollower`
    /// runs on a term or role change (a follower that only learns its leader in the same term
    /// zeroes `electionElapsed` instead); hashicorp starts a new timer when it enters
    /// `runFollower`, and a leader stepping down sets `lastContact`; thesis redraws when it
    /// hears a leader or stops leading, and keeps its timer when only a higher term makes it a
    /// follower: the paper's Figure 2 resets the timer on AppendEntries from the leader or a
    /// granted vote, nothing else, and LogCabin's `RaftConsensus::stepDown` sets a new timer
    /// only for a node that was leading (it had none).
    pub(crate) fn become_follower(
        &mut self,
        now: u64,
        from: Role,
        new_term: bool,
        heard_leader: bool,
    ) {
        if heard_leader || (from == Role::Leader && matches!(self.timing, Timing::Hashicorp { .. }))
        {
            self.last_contact = Some(now);
        }
        let restart = match self.timing {
            Timing::Etcd { .. } if new_term || from != Role::Follower => Restart::Redraw,
            Timing::Etcd { .. } if heard_leader => Restart::Zero,
            Timing::Hashicorp { .. } if from != Role::Follower => Restart::Redraw,
            Timing::Thesis { .. } if heard_leader || from == Role::Leader => Restart::Redraw,
            Timing::Etcd { .. } | Timing::Hashicorp { .. } | Timing::Thesis { .. } => Restart::Keep,
        };
        self.start_election_timer(now, Role::Follower, restart);
    }

    /// The node starts a pre-vote round. etcd's `becomePreCandidate` does not `reset`: the
    /// timeout drawn at the last reset runs again from zero (`tickElection` zeroed
    /// `electionElapsed`); hashicorp enters `runCandidate`, which starts
    /// `randomTimeout(ElectionTimeout)`; thesis redraws.
    pub(crate) fn become_pre_candidate(&mut self, now: u64) {
        let restart = match self.timing {
            Timing::Etcd { .. } => Restart::Zero,
            Timing::Hashicorp { .. } | Timing::Thesis { .. } => Restart::Redraw,
        };
        self.start_election_timer(now, Role::PreCandidate, restart);
    }

    /// The node starts an election in a new term: every flavor draws a new timeout (etcd
    /// `becomeCandidate` → `reset`; hashicorp `runCandidate`, or its redraw when pre-vote won).
    pub(crate) fn become_candidate(&mut self, now: u64) {
        self.start_election_timer(now, Role::Candidate, Restart::Redraw);
    }

    /// A follower accepted AppendEntries from its leader, or granted a vote. etcd zeroes
    /// `electionElapsed` (`stepFollower`, and on a granted `MsgVote`); hashicorp only sets
    /// `lastContact` (`appendEntries`, `requestVote`), which its periodic timer checks; thesis
    /// redraws.
    pub(crate) fn contact(&mut self, now: u64) {
        self.last_contact = Some(now);
        let restart = match self.timing {
            Timing::Etcd { .. } => Restart::Zero,
            Timing::Hashicorp { .. } => Restart::Keep,
            Timing::Thesis { .. } => Restart::Redraw,
        };
        self.start_election_timer(now, Role::Follower, restart);
    }

    /// Whether a follower or (pre-)candidate in `role` should campaign at `now`. Under hashicorp
    /// a follower's timer is a periodic check (`runFollower`): when it fires it restarts, and
    /// the follower campaigns only if its last contact is HeartbeatTimeout or more ago.
    pub(crate) fn election_due(&mut self, now: u64, role: Role) -> bool {
        if now < self.election_deadline {
            return false;
        }
        match self.timing {
            Timing::Hashicorp { heartbeat, .. } if role == Role::Follower => {
                self.start_election_timer(now, role, Restart::Redraw);
                self.last_contact
                    .is_none_or(|c| now.saturating_sub(c) >= heartbeat)
            }
            _ => true,
        }
    }

    /// Whether a node in `role` that knows a leader counts it as live at `now` (stickiness and
    /// pre-vote refusals). etcd: `r.electionElapsed < r.electionTimeout`, which holds for a
    /// leader (its `electionElapsed` restarts at every quorum check) and for a follower that
    /// heard from the leader within ET ticks. hashicorp: while a leader is known
    /// (`LeaderWithID`), which a follower forgets only when its periodic check campaigns.
    /// thesis: a follower that heard from the leader within the minimum election timeout.
    pub(crate) fn leader_is_live(&self, now: u64, role: Role) -> bool {
        let heard_within = |window: u64| self.last_contact.is_some_and(|t| now < t + window);
        match (self.timing, role) {
            (Timing::Etcd { .. } | Timing::Hashicorp { .. }, Role::Leader) => true,
            (Timing::Etcd { election, .. }, Role::Follower) => heard_within(election),
            (Timing::Hashicorp { .. }, Role::Follower) => true,
            (Timing::Thesis { min, .. }, Role::Follower) => heard_within(min),
            _ => false,
        }
    }

    // ----- the leader's timers -----

    /// The node became leader at `now`: its first quorum check falls one window later (etcd
    /// `reset` zeroes `electionElapsed`; hashicorp `leaderLoop` starts with
    /// `time.After(LeaderLeaseTimeout)`).
    pub(crate) fn become_leader(&mut self, now: u64) {
        self.quorum_check_deadline = now.saturating_add(self.quorum_window());
    }

    /// Whether the leader's heartbeats are due.
    pub(crate) fn heartbeat_due(&self, now: u64) -> bool {
        now >= self.heartbeat_deadline
    }

    /// The leader sent a heartbeat round at `now`; schedules the next: etcd every tick
    /// (`HeartbeatTick = 1`), hashicorp `randomTimeout(HeartbeatTimeout/10)` = `[HT/10, HT/5)`
    /// (`heartbeat` in `replication.go`), thesis every heartbeat interval.
    pub(crate) fn heartbeat_sent(&mut self, now: u64) {
        let gap = match self.timing {
            Timing::Etcd { tick, .. } => tick,
            Timing::Hashicorp { heartbeat, .. } => {
                let base = (heartbeat / 10).max(1);
                base + self.rng.gen_range(0..base)
            }
            Timing::Thesis { heartbeat, .. } => heartbeat,
        };
        self.heartbeat_deadline = now.saturating_add(gap);
    }

    /// Whether the leader's quorum check is due.
    pub(crate) fn quorum_check_due(&self, now: u64) -> bool {
        now >= self.quorum_check_deadline
    }

    /// Judges quorum contact at `now` from each peer's `(last_heard, recent_active)` and
    /// schedules the next check; returns how many peers count as in touch.
    ///
    /// etcd (`stepLeader`, `MsgCheckQuorum`): peers whose `RecentActive` flag a response set
    /// since the previous check, every ET ticks — a window of ticks the leader ran, so a
    /// resumed leader is judged on the answers to heartbeats it sent after resuming.
    /// hashicorp (`checkLeaderLease`): peers whose last contact is within LeaderLeaseTimeout of
    /// the wall clock, stall included; the next check comes `LeaderLeaseTimeout − maxDiff`
    /// later, at least 10 ms. thesis: last contact within the minimum election timeout, checked
    /// every minimum election timeout.
    pub(crate) fn check_quorum(
        &mut self,
        now: u64,
        peers: impl Iterator<Item = (u64, bool)>,
    ) -> usize {
        let window = self.quorum_window();
        let (heard, next) = match self.timing {
            Timing::Etcd { .. } => (peers.filter(|&(_, active)| active).count(), window),
            Timing::Hashicorp { lease, .. } => {
                let diffs: Vec<u64> = peers
                    .map(|(t, _)| now.saturating_sub(t))
                    .filter(|&d| d <= lease)
                    .collect();
                let max_diff = diffs.iter().copied().max().unwrap_or(0);
                let next = (lease - max_diff).max(HASHICORP_MIN_CHECK_INTERVAL);
                (diffs.len(), next)
            }
            Timing::Thesis { .. } => (
                peers
                    .filter(|&(t, _)| now.saturating_sub(t) < window)
                    .count(),
                window,
            ),
        };
        self.quorum_check_deadline = now.saturating_add(next);
        heard
    }

    /// How long quorum contact vouches for a leader: etcd ElectionTick ticks, hashicorp
    /// LeaderLeaseTimeout, thesis the minimum election timeout. Also the leader lease's length.
    pub(crate) fn quorum_window(&self) -> u64 {
        match self.timing {
            Timing::Etcd { election, .. } => election,
            Timing::Hashicorp { lease, .. } => lease,
            Timing::Thesis { min, .. } => min,
        }
    }
}
