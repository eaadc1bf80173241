//! Faults: a deterministic plan drawn from the profile's seed ([`plan_faults`], pure), and its
//! execution against a running cluster ([`Chaos`]), which aims at roles ("the leader") as they are
//! at the moment a fault starts and records every fault on the timeline.

use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::cluster::Cluster;
use super::collector::Collector;
use super::error::HarnessError;
use super::network::{latency, ToxiproxyServer};
use super::targets::{expect_failover, resolve_targets, Resolved};
use crate::clock::monotonic_ns;
use crate::event::{Event, EventKind};
use crate::profile::{Every, Fault, FaultKind, Target};
use crate::toxiproxy::ToxicAttributes;

/// One fault occurrence, placed in time.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFault {
    /// Unique within the run; names the toxics it adds.
    pub id: u64,
    /// Which of the profile's faults this is.
    pub spec: Fault,
    /// Offset from the start of the run.
    pub at: Duration,
    /// How long it lasts (drawn from the spec's range); crash: time until restart.
    pub duration: Duration,
}

/// Most fault occurrences one run may plan. A plan holds one entry per occurrence and one task
/// per entry, so this bounds a run's memory before anything is allocated; a million faults is
/// already more than any run can inject meaningfully (each needs a failover or a settle time).
pub const MAX_FAULTS_PER_RUN: u64 = 1_000_000;

/// How many occurrences [`plan_faults`] would place in `run`, counted arithmetically from the
/// schedules (no allocation): `at` lists as given, `every: D` as `run / D`, `poisson(M)` as its
/// mean `run / M` plus six standard deviations (the plan is a draw).
pub fn fault_count(faults: &[Fault], run: Duration) -> f64 {
    let run = run.as_secs_f64();
    faults
        .iter()
        .map(|f| {
            let at = f.at.len() as f64;
            let every = match f.every.as_deref().map(Every::parse) {
                Some(Ok(Every::Fixed(d))) => run / d.as_secs_f64(),
                Some(Ok(Every::Poisson(m))) => {
                    let mean = run / m.as_secs_f64();
                    mean + 6.0 * mean.sqrt()
                }
                _ => 0.0,
            };
            at + every
        })
        .sum()
}

/// A fault plan larger than [`MAX_FAULTS_PER_RUN`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "this run would inject {} faults in {}; at most {} per run: lengthen the fault interval (`every:` in the profile, --crash-leader-every) or shorten the run (--duration, --duration-per-point)",
    crate::output::format_count(*.faults),
    crate::duration::format_duration(*.run),
    crate::output::format_count(MAX_FAULTS_PER_RUN as f64)
)]
pub struct FaultBudgetError {
    /// Occurrences the plan would hold.
    pub faults: f64,
    /// The run's length.
    pub run: Duration,
}

/// Checks a run's fault plan against [`MAX_FAULTS_PER_RUN`] before it is drawn.
pub fn check_fault_budget(faults: &[Fault], run: Duration) -> Result<f64, FaultBudgetError> {
    let n = fault_count(faults, run);
    if n > MAX_FAULTS_PER_RUN as f64 || !n.is_finite() {
        return Err(FaultBudgetError { faults: n, run });
    }
    Ok(n)
}

/// Draws every fault occurrence in `[0, run)` from the profile's schedules and `seed`. Callers
/// check [`check_fault_budget`] first: the plan has one entry per occurrence.
pub fn plan_faults(
    faults: &[Fault],
    run: Duration,
    seed: u64,
    settle: Duration,
) -> Vec<PlannedFault> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0fa1_7fa1);
    let mut plan = Vec::new();
    for spec in faults {
        let draw_duration = |rng: &mut ChaCha8Rng| match (spec.kind, spec.duration) {
            (FaultKind::Crash, _) => spec.restart_after.map(|d| d.0).unwrap_or_default(),
            (_, Some(r)) if r.max > r.min => Duration::from_nanos(
                rng.gen_range(r.min.as_nanos() as u64..r.max.as_nanos() as u64),
            ),
            (_, Some(r)) => r.min,
            (_, None) => Duration::ZERO,
        };
        let mut push = |at: Duration, duration: Duration| {
            plan.push(PlannedFault {
                id: 0,
                spec: spec.clone(),
                at,
                duration,
            })
        };
        for at in spec.at.iter().map(|d| d.0).filter(|d| *d < run) {
            let d = draw_duration(&mut rng);
            push(at, d);
        }
        if let Some(every) = spec.every.as_deref().and_then(|e| Every::parse(e).ok()) {
            // Conditional fault sampling: each instance starts only after the previous one ended
            // and settled (`settle`: the longest election timeout), so that what one causes is
            // not confused with the next; the schedule becomes a renewal process with that dead
            // time, and the rate it stands for is the profile's `occurs`.
            let mut t = Duration::ZERO;
            let mut free_at = Duration::ZERO;
            loop {
                t += match every {
                    Every::Fixed(d) => d,
                    Every::Poisson(mean) => {
                        let u: f64 = rng.gen_range(f64::EPSILON..1.0);
                        mean.mul_f64(-u.ln())
                    }
                };
                if spec.kind != FaultKind::Crash && !settle.is_zero() {
                    t = t.max(free_at);
                }
                // A fixed period keeps its cadence but not its phase: each instance starts at a
                // moment drawn uniformly within the first tenth of its period, so that faults do
                // not lock onto the members' own periodic timers (heartbeat ticks, renewals,
                // keep-alives), as no real crash or pause does. Without this, a crash every 2 s
                // against 50 ms ticks struck at one tick phase in virtual time, and at whatever
                // phase scheduling noise gave on processes.
                let at = match every {
                    Every::Fixed(period) if !(period / 10).is_zero() => {
                        t + Duration::from_nanos(rng.gen_range(0..(period / 10).as_nanos() as u64))
                    }
                    _ => t,
                };
                if at >= run {
                    break;
                }
                let d = draw_duration(&mut rng);
                // a margin over the settle time: a fault ends a few ms after its planned end
                free_at = at + d + settle + (settle / 10).max(Duration::from_millis(50));
                push(at, d);
            }
        }
    }
    if !settle.is_zero() {
        plan = keep_apart(
            plan,
            run,
            settle + (settle / 10).max(Duration::from_millis(50)),
        );
    }
    plan.sort_by_key(|f| f.at);
    for (i, f) in plan.iter_mut().enumerate() {
        f.id = i as u64 + 1;
    }
    plan
}

/// Conditional fault sampling across specs: crashes and faults at stated times (`at:`) keep their
/// schedule (the failover count rests on the crashes; `at:` is the user's word); every other
/// (sampled, `every:`) fault is moved later until the room it needs, the longest size its spec
/// allows plus `gap`, meets neither a crash's window nor the previous fault's, and is dropped
/// when that room passes the end of the run. The room is the spec's, not the drawn size: where
/// a fault goes, and whether it is kept, does not depend on its size, so the sizes injected have
/// the profile's distribution (a fault needing the room of its own draw would be pushed off the
/// end more often the longer it is). Every kept fault and its settling fit inside the run, so
/// no episode is cut short by the trial's end. Each remaining fault is then an independent
/// episode; the rate it stands for is the profile's `occurs`, so thinning the sampled schedule
/// biases nothing.
fn keep_apart(plan: Vec<PlannedFault>, run: Duration, gap: Duration) -> Vec<PlannedFault> {
    let (crashes, mut others): (Vec<_>, Vec<_>) = plan
        .into_iter()
        .partition(|f| f.spec.kind == FaultKind::Crash || f.spec.every.is_none());
    others.sort_by_key(|f| f.at);
    // The crashes' windows, merged into disjoint stretches in time order.
    let mut windows: Vec<(Duration, Duration)> = crashes
        .iter()
        .map(|c| (c.at, c.at + c.duration + gap))
        .collect();
    windows.sort_unstable();
    let mut busy: Vec<(Duration, Duration)> = Vec::with_capacity(windows.len());
    for (s, e) in windows {
        match busy.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => busy.push((s, e)),
        }
    }
    let mut out = crashes;
    let mut free_at = Duration::ZERO;
    for mut f in others {
        let room = f.spec.duration.map_or(Duration::ZERO, |r| r.max.max(r.min)) + gap;
        let mut t = f.at.max(free_at);
        let mut i = busy.partition_point(|&(_, e)| e <= t);
        while let Some(&(s, e)) = busy.get(i).filter(|&&(s, _)| s < t + room) {
            t = t.max(e);
            debug_assert!(s < t);
            i += 1;
        }
        if t + room > run {
            continue;
        }
        f.at = t;
        free_at = t + f.duration + gap;
        out.push(f);
    }
    out
}

/// Executes a fault plan against a cluster.
pub struct Chaos {
    tasks: JoinSet<Result<(), HarnessError>>,
}

impl Chaos {
    /// Starts executing `plan` relative to `start`.
    pub fn start(
        plan: Vec<PlannedFault>,
        start: Instant,
        cluster: Arc<Cluster>,
        net: Arc<ToxiproxyServer>,
        collector: Arc<Collector>,
        seed: u64,
    ) -> Self {
        let mut tasks = JoinSet::new();
        for f in plan {
            let (cluster, net, collector) = (cluster.clone(), net.clone(), collector.clone());
            let seed = seed ^ f.id.wrapping_mul(0x9e37_79b9);
            tasks.spawn(async move {
                tokio::time::sleep_until(start + f.at).await;
                run_fault(&f, &cluster, &net, &collector, seed).await
            });
        }
        Self { tasks }
    }

    /// Stops faults that have not finished (their toxics are removed with the proxies) and
    /// reports the first error any fault hit.
    pub async fn stop(mut self) -> Result<(), HarnessError> {
        let mut first = None;
        // Let faults that are ending right now finish their bookkeeping.
        self.tasks.abort_all();
        while let Some(r) = self.tasks.join_next().await {
            if let Ok(Err(e)) = r {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// A crash or pause of one etcd member of the lease store (`store-member`): what the members'
/// elections see is whatever etcd makes of losing that member (nothing, or an etcd election
/// when it led), so it never counts as a hard fault on the leader.
async fn store_member_fault(
    f: &PlannedFault,
    k: Option<u32>,
    cluster: &Cluster,
    collector: &Collector,
    rng: &mut ChaCha8Rng,
) -> Result<(), HarnessError> {
    let Some(members) = cluster.store_member_count().await.filter(|n| *n > 0) else {
        return Ok(());
    };
    let j = match k {
        Some(k) => (k as usize - 1).min(members - 1),
        None => rng.gen_range(0..members),
    };
    let emit = |kind| collector.emit(Event::new(monotonic_ns(), "harness", kind));
    let name = f.spec.kind.name().to_string();
    let crash = f.spec.kind == FaultKind::Crash;
    if !crash && !cluster.store_member_pause(j).await {
        return Ok(());
    }
    if crash {
        cluster.store_member_crash(j).await;
    }
    emit(EventKind::FaultStart {
        id: f.id,
        kind: name.clone(),
        targets: vec![format!("e{}", j + 1)],
        expect_failover: f.spec.expect_failover.unwrap_or(false),
    });
    tokio::time::sleep(f.duration).await;
    match crash {
        true => cluster.store_member_restart(j).await?,
        false => cluster.store_member_resume(j).await,
    }
    emit(EventKind::FaultEnd {
        id: f.id,
        kind: name,
    });
    Ok(())
}

async fn run_fault(
    f: &PlannedFault,
    cluster: &Cluster,
    net: &ToxiproxyServer,
    collector: &Collector,
    seed: u64,
) -> Result<(), HarnessError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let timing = cluster.spec().timing;
    if let Ok(Target::StoreMember(k)) = Target::parse(&f.spec.target) {
        return store_member_fault(f, k, cluster, collector, &mut rng).await;
    }
    let Some(r) = resolve(f, cluster, collector, &mut rng).await else {
        return Ok(());
    };
    let expect = expect_failover(&cluster.spec().profile, &timing, f, r.hits_leader);
    let toxic = format!("fault-{}", f.id);
    let emit = |kind| collector.emit(Event::new(monotonic_ns(), "harness", kind));
    let start_event = EventKind::FaultStart {
        id: f.id,
        kind: f.spec.kind.name().to_string(),
        targets: if r.links.is_empty() {
            r.nodes.clone()
        } else {
            r.links.iter().map(|(a, b)| format!("{a}->{b}")).collect()
        },
        expect_failover: expect,
    };
    let end_event = EventKind::FaultEnd {
        id: f.id,
        kind: f.spec.kind.name().to_string(),
    };
    match f.spec.kind {
        FaultKind::StoreOutage => {
            cluster.store_outage(net, &toxic, true).await?;
            emit(start_event);
            tokio::time::sleep(f.duration).await;
            cluster.store_outage(net, &toxic, false).await?;
            emit(end_event);
        }
        FaultKind::Crash => {
            emit(start_event);
            for n in &r.nodes {
                cluster.crash(n).await;
            }
            tokio::time::sleep(f.duration).await;
            for n in &r.nodes {
                cluster.restart(n).await?;
            }
            emit(end_event);
        }
        FaultKind::Pause => {
            // A node already stopped (by an overlapping pause) or down cannot start a pause;
            // this fault then acts on the others only, or not at all.
            let mut paused = Vec::new();
            for n in &r.nodes {
                if cluster.pause(n).await {
                    paused.push(n.clone());
                }
            }
            if paused.is_empty() {
                return Ok(());
            }
            let start_event = match start_event {
                EventKind::FaultStart {
                    id,
                    kind,
                    expect_failover,
                    ..
                } => EventKind::FaultStart {
                    id,
                    kind,
                    targets: paused.clone(),
                    expect_failover,
                },
                other => other,
            };
            emit(start_event);
            tokio::time::sleep(f.duration).await;
            for n in &paused {
                cluster.resume(n).await;
            }
            emit(end_event);
        }
        FaultKind::ClockDrift => {
            let rate = f.spec.drift.unwrap_or(1.0);
            emit(start_event);
            for n in &r.nodes {
                cluster.drift(n, rate).await;
            }
            tokio::time::sleep(f.duration).await;
            for n in &r.nodes {
                cluster.drift(n, 1.0).await;
            }
            emit(end_event);
        }
        FaultKind::Partition
        | FaultKind::LatencySpike
        | FaultKind::Bandwidth
        | FaultKind::ResetPeer => {
            let attrs = match f.spec.kind {
                // A partition holds data silently (no RST, no refusal), as a real one does.
                FaultKind::Partition => ToxicAttributes::Timeout { timeout: 0 },
                FaultKind::LatencySpike => latency(
                    f.spec.latency.map(|d| d.0).unwrap_or_default(),
                    f.spec.jitter.map(|d| d.0).unwrap_or_default(),
                ),
                FaultKind::Bandwidth => ToxicAttributes::Bandwidth {
                    rate: f.spec.rate.unwrap_or(0) as i64,
                },
                _ => ToxicAttributes::ResetPeer { timeout: 0 },
            };
            for (a, b) in &r.links {
                cluster
                    .add_link_toxic(net, a, b, &toxic, attrs.clone())
                    .await?;
            }
            emit(start_event);
            // A reset acts once: the toxic resets connections, then goes so that they can reconnect.
            // reset_peer fires on the next data a connection carries, so it stays two heartbeats.
            let hold = if f.spec.kind == FaultKind::ResetPeer {
                timing.heartbeat.0 * 2 + Duration::from_millis(50)
            } else {
                f.duration
            };
            tokio::time::sleep(hold).await;
            for (a, b) in &r.links {
                cluster.remove_link_toxic(net, a, b, &toxic).await?;
            }
            emit(end_event);
        }
    }
    Ok(())
}

async fn resolve(
    f: &PlannedFault,
    cluster: &Cluster,
    collector: &Collector,
    rng: &mut ChaCha8Rng,
) -> Option<Resolved> {
    let leader = collector.live().leader().map(|l| l.0);
    resolve_targets(f, &cluster.regions(), leader, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::{DurationRange, HumanDuration};

    fn fault(kind: FaultKind, every: &str) -> Fault {
        Fault {
            kind,
            target: "leader".into(),
            at: vec![],
            every: Some(every.into()),
            occurs: None,
            duration: Some(DurationRange::new(
                Duration::from_millis(100),
                Duration::from_millis(1500),
            )),
            restart_after: None,
            latency: None,
            jitter: None,
            rate: None,
            mode: None,
            drift: None,
            expect_failover: None,
        }
    }

    #[test]
    fn fixed_schedules_are_periodic_and_seeded_draws_repeat() {
        let mut crash = fault(FaultKind::Crash, "10s");
        crash.duration = None;
        crash.restart_after = Some(HumanDuration(Duration::from_secs(3)));
        crash.at = vec![HumanDuration(Duration::from_secs(1))];
        let plan = plan_faults(&[crash], Duration::from_secs(35), 1, Duration::ZERO);
        let at: Vec<u64> = plan.iter().map(|f| f.at.as_secs()).collect();
        assert_eq!(at, vec![1, 10, 20, 30]);
        assert!(plan.iter().all(|f| f.duration == Duration::from_secs(3)));
        assert_eq!(
            plan.iter().map(|f| f.id).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
    }

    #[test]
    fn poisson_schedules_have_the_right_mean_and_durations_stay_in_range() {
        let pause = fault(FaultKind::Pause, "poisson(2s)");
        let plan = plan_faults(
            std::slice::from_ref(&pause),
            Duration::from_secs(20_000),
            5,
            Duration::ZERO,
        );
        // 10,000 expected; Poisson sd 100.
        assert!((9_500..10_500).contains(&plan.len()), "{}", plan.len());
        assert!(plan.iter().all(|f| f.duration >= Duration::from_millis(100)
            && f.duration < Duration::from_millis(1500)));
        assert_eq!(
            plan,
            plan_faults(
                std::slice::from_ref(&pause),
                Duration::from_secs(20_000),
                5,
                Duration::ZERO
            )
        );
        assert_ne!(
            plan,
            plan_faults(&[pause], Duration::from_secs(20_000), 6, Duration::ZERO)
        );
    }

    #[test]
    fn sampled_faults_keep_clear_of_crashes_and_of_each_other() {
        let crash = Fault::crash_leader("5s".into(), Duration::from_secs(1));
        let pause = fault(FaultKind::Pause, "poisson(700ms)");
        let spike = fault(FaultKind::LatencySpike, "poisson(900ms)");
        let settle = Duration::from_millis(800);
        let run = Duration::from_secs(600);
        let plan = plan_faults(&[crash.clone(), pause, spike], run, 3, settle);
        let crashes = plan
            .iter()
            .filter(|f| f.spec.kind == FaultKind::Crash)
            .count();
        // crashes keep their schedule: every 5 s in 600 s
        assert_eq!(crashes, 119);
        assert!(plan.len() > crashes + 50, "{}", plan.len());
        // no two faults' windows (fault plus settle) meet
        let gap = settle + Duration::from_millis(80);
        for (i, a) in plan.iter().enumerate() {
            for b in &plan[i + 1..] {
                let apart = b.at >= a.at + a.duration + gap || a.at >= b.at + b.duration + gap;
                let both_crash = a.spec.kind == FaultKind::Crash && b.spec.kind == FaultKind::Crash;
                assert!(apart || both_crash, "{a:?} meets {b:?}");
            }
        }
    }

    /// Kolmogorov–Smirnov distance between `sample` and the uniform distribution on `[lo, hi)`.
    fn ks_uniform(mut sample: Vec<f64>, lo: f64, hi: f64) -> f64 {
        sample.sort_by(f64::total_cmp);
        let n = sample.len() as f64;
        sample
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
                (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn where_a_sampled_fault_goes_does_not_depend_on_its_size() {
        // wan's plan at one point: trials of five crash cycles (a crash every 15 s, restarted
        // after 3 s), pauses of 100ms..1.5s and 3 s latency spikes sampled between them, settle
        // 1.6 s. The pauses injected over many trials must have the profile's size distribution
        // (uniform), not one thinned of long pauses; and none may run past its trial's end.
        let crash = Fault::crash_leader("15s".into(), Duration::from_secs(3));
        let pause = fault(FaultKind::Pause, "poisson(20s)");
        let mut spike = fault(FaultKind::LatencySpike, "poisson(45s)");
        spike.duration = Some(DurationRange::new(
            Duration::from_secs(3),
            Duration::from_secs(3),
        ));
        let settle = Duration::from_millis(1600);
        let run = Duration::from_millis(82_500);
        let (mut sizes, mut past_the_end) = (Vec::new(), 0);
        for seed in 0..600 {
            let plan = plan_faults(
                &[crash.clone(), pause.clone(), spike.clone()],
                run,
                seed,
                settle,
            );
            for f in plan.iter().filter(|f| f.spec.kind == FaultKind::Pause) {
                past_the_end += usize::from(f.at + f.duration + settle > run);
                sizes.push(f.duration.as_secs_f64() * 1e3);
            }
        }
        let n = sizes.len();
        assert!(n > 1_000, "{n} pauses");
        let d = ks_uniform(sizes, 100.0, 1500.0);
        // The 0.1% critical value of the KS distance is 1.95 / sqrt(n).
        let critical = 1.95 / (n as f64).sqrt();
        assert!(
            d < critical,
            "KS distance {d:.4} over {critical:.4} with {n} pauses"
        );
        assert_eq!(
            past_the_end, 0,
            "pauses whose episode the trial's end cuts short"
        );
    }

    #[test]
    fn sampled_faults_are_spaced_so_episodes_are_independent() {
        let pause = fault(FaultKind::Pause, "poisson(500ms)");
        let settle = Duration::from_secs(2);
        let plan = plan_faults(&[pause], Duration::from_secs(2_000), 7, settle);
        assert!(plan.len() > 100);
        for w in plan.windows(2) {
            assert!(w[1].at >= w[0].at + w[0].duration + settle, "{:?}", w);
        }
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn the_fault_count_is_known_before_the_plan_is_drawn() {
        let crash = |every: &str| Fault::crash_leader(every.into(), Duration::from_secs(1));
        let hour = Duration::from_secs(3600);
        assert_eq!(fault_count(&[crash("2s")], hour), 1800.0);
        // `electune run --duration 1000000h` on lan.yaml (a crash every 2 s): 1.8e9, refused.
        let err = check_fault_budget(&[crash("2s")], hour * 1_000_000).unwrap_err();
        assert!(err.to_string().contains("1.8e9 faults"), "{err}");
        // --crash-leader-every 1ns for 10 s: 1e10, refused without allocating.
        assert!(check_fault_budget(&[crash("1ns")], Duration::from_secs(10)).is_err());
        // Poisson schedules are bounded above their mean.
        let n = fault_count(&[crash("poisson(1s)")], Duration::from_secs(10_000));
        assert!(n > 10_000.0 && n < 11_000.0, "{n}");
        assert!(check_fault_budget(&[crash("2s")], hour).is_ok());
    }
}
