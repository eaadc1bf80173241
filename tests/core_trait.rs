//! The mechanism-neutral core trait carries the safety argument. The simulator drives any
//! `ElectionCore` with the same drivers, fault plan and analysis as real processes; given a core
//! mutated to grant two votes in one term, it must report the invariant violation (and the real
//! core, through the same path, must not). No network and no processes.

use std::time::Duration;

use electune::analysis::{check_invariants, Violation};
use electune::election::raft::{Disk, DurableChange, HardState, Message, Raft, Role};
use electune::election::simnet::Factory;
use electune::election::{ElectionCore, NodeId, Ready};
use electune::profile;
use electune::sim::{self, Costs, SimSpec};

/// Raft with one mutation: a follower asked for a vote in the term it is in forgets the vote it
/// already cast (as a member that never persisted its vote would after a restart), so it can
/// grant two votes in one term.
struct VotesTwice(Raft);

impl ElectionCore for VotesTwice {
    type Message = Message;
    type Persist = DurableChange;
    type Durable = Disk;

    fn apply_durable(d: &mut Disk, c: &DurableChange) {
        Raft::apply_durable(d, c)
    }
    fn handle_message(&mut self, now: u64, from: NodeId, msg: Message) {
        if let Message::RequestVote {
            term,
            pre_vote: false,
            ..
        } = msg
        {
            let r = &self.0;
            if term == r.term() && r.role() == Role::Follower {
                let mut disk = r.disk();
                disk.hard_state = HardState {
                    term,
                    voted_for: None,
                };
                self.0 = Raft::new(r.config().clone(), disk, now, now ^ 0x5eed);
                let _ = self.0.poll(); // the restart's own "start" event is not news
            }
        }
        self.0.handle_message(now, from, msg)
    }
    fn handle_timeout(&mut self, now: u64) {
        self.0.handle_timeout(now)
    }
    fn next_deadline(&self) -> u64 {
        self.0.next_deadline()
    }
    fn is_leader(&self) -> bool {
        self.0.is_leader()
    }
    fn term(&self) -> u64 {
        ElectionCore::term(&self.0)
    }
    fn request_write(&mut self, now: u64) -> Option<(u64, u64)> {
        self.0.request_write(now)
    }
    fn poll(&mut self) -> Ready<Message, DurableChange> {
        self.0.poll()
    }
}

/// Five members, equal timeouts (split votes are common), the leader crashed every 2 s.
fn spec(seed: u64) -> SimSpec {
    let p = profile::parse(
        r#"
name: split
cluster:
  raft: { pre_vote: false, check_quorum: true, flavor: thesis }
  nodes: 5
network:
  default: { latency: 5ms, jitter: 4ms }
timing: { heartbeat: 50ms, election_timeout: 150ms..152ms }
faults:
  - { kind: crash, target: leader, every: 2s, restart_after: 500ms }
"#,
        "split.yaml",
    )
    .expect("test profile");
    SimSpec {
        timing: p.timing,
        faults: p.faults.clone(),
        profile: p,
        duration: Duration::from_secs(120),
        seed,
        costs: Costs::default(),
    }
}

fn violations<C: ElectionCore>(seed: u64, make: Factory<C>) -> Vec<Violation> {
    let s = spec(seed);
    let tl = sim::run_world(sim::build_with(&s, make), &s, || false).expect("simulated trial");
    check_invariants(&tl.events, &tl.context)
}

fn raft_factory(spec: &SimSpec) -> impl Fn(NodeId) -> electune::election::raft::Config {
    let (timing, raft) = (spec.timing, spec.profile.cluster.raft);
    move |id| {
        let peers = (1..=5).filter(|&j| j != id).collect();
        electune::node::NodeConfig::core_config_for(id, peers, &timing, &raft)
    }
}

#[test]
fn the_simulator_reports_two_leaders_in_a_term_when_a_core_votes_twice() {
    let mut caught = 0;
    for seed in 0..10 {
        let cfg = raft_factory(&spec(seed));
        let make: Factory<VotesTwice> = Box::new(move |id, d: &Disk, now, seed| {
            VotesTwice(Raft::new(cfg(id), d.clone(), now, seed))
        });
        let v = violations(seed, make);
        assert!(
            v.iter()
                .all(|v| matches!(v, Violation::TwoLeadersInTerm { .. })),
            "{v:?}"
        );
        caught += usize::from(!v.is_empty());
    }
    assert!(
        caught >= 3,
        "only {caught} of 10 runs caught the double vote"
    );
}

#[test]
fn the_same_runs_with_the_real_core_keep_one_leader_per_term() {
    for seed in 0..10 {
        let cfg = raft_factory(&spec(seed));
        let make: Factory<Raft> =
            Box::new(move |id, d: &Disk, now, seed| Raft::new(cfg(id), d.clone(), now, seed));
        assert_eq!(violations(seed, make), vec![], "seed {seed}");
    }
}

#[test]
fn a_lease_elector_runs_under_the_shared_driver() {
    use electune::driver::{DriftClock, Driver};
    use electune::election::lease::{LeaseConfig, LeaseElector};
    use electune::event::EventKind;
    use electune::store::{Store, STORE};
    const MS: u64 = 1_000_000;
    let ms = Duration::from_millis;
    let core = LeaseElector::new(LeaseConfig::new(1, ms(1_000), ms(800), ms(100)), 0, 1);
    let mut d = Driver::new(1, core, DriftClock::new(0, 1.0), ms(10));
    let mut store = Store::new();
    let mut kinds = Vec::new();
    for now in [0, MS, 2 * MS, 3 * MS] {
        d.handle_timeout(now);
        let out = d.poll(now);
        kinds.extend(out.events.into_iter().map(|e| e.kind));
        for (to, msg) in out.messages {
            assert_eq!(to, STORE);
            let reply = store.handle_message(&msg).expect("a request");
            d.handle_message(now, STORE, reply);
        }
    }
    assert!(kinds.contains(&EventKind::Leader { term: 0 }), "{kinds:?}");
    assert!(
        kinds.contains(&EventKind::WriteAttempt { token: 0, seq: 0 }),
        "{kinds:?}"
    );
}
