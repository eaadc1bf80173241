//! `electune run PROFILE`: one configuration, one cluster, a summary of what happened.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use std::sync::atomic::AtomicBool;

use electune::analysis::{Distribution, RunMetrics, Timeline};
use electune::backend::BackendKind;
use electune::duration::{format_duration, DurationRange, HumanDuration};
use electune::harness::{run_trial_keeping_partial, CutShort, ToxiproxyServer, TrialSpec};
use electune::profile::{self, Fault, Profile, Timing};
use electune::sim::{Costs, SimSpec};
use electune::{exit, output};

use super::{interrupt_on_signals, runtime, Failure};

/// Arguments of `electune run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The profile to run (YAML).
    pub profile: PathBuf,
    /// Heartbeat interval (overrides the profile's `timing.heartbeat`), e.g. `100ms`; at most 1h.
    #[arg(long, value_parser = electune::duration::parse_timing)]
    pub heartbeat: Option<HumanDuration>,
    /// Election timeout range (overrides `timing.election_timeout`), e.g. `1s..2s`; at most 1h.
    #[arg(long, value_parser = electune::duration::parse_timing_range)]
    pub election_timeout: Option<DurationRange>,
    /// How long to measure after the first leader is elected (at most 100000h).
    #[arg(long, default_value = "60s", value_parser = electune::duration::parse_span)]
    pub duration: HumanDuration,
    /// Also kill the leader (SIGKILL) on this period, e.g. `10s`.
    #[arg(long, value_parser = electune::duration::parse_span)]
    pub crash_leader_every: Option<HumanDuration>,
    /// With --crash-leader-every: restart the killed node after this long.
    #[arg(long, default_value = "1s", value_parser = electune::duration::parse_span)]
    pub restart_after: HumanDuration,
    /// Run only the faults given on the command line, not the profile's.
    #[arg(long)]
    pub no_profile_faults: bool,
    /// Output directory (default: output/<profile>-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Use a running toxiproxy server instead of the built-in one (default: `TOXIPROXY_URL` if
    /// set; processes only).
    #[arg(long)]
    pub toxiproxy: Option<String>,
    /// The store (of a lease or of etcd-election) is an etcd you run (`http://HOST:PORT`; plain
    /// HTTP, v3 JSON gateway): electune starts none and reaches this one through each member's
    /// proxy.
    #[arg(long, value_name = "URL")]
    pub etcd: Option<String>,

    /// Where the cluster runs: `process` (one OS process per member, traffic through toxiproxy)
    /// or `sim` (the same members in virtual time, costs from `electune calibrate`).
    #[arg(long, value_enum, default_value = "process")]
    pub backend: BackendArg,
    /// Seed for every random draw (default: the profile's `seed`). A simulated run is
    /// deterministic for its seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Where trials run (see `--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Process,
    Sim,
}

impl From<BackendKind> for BackendArg {
    fn from(b: BackendKind) -> Self {
        match b {
            BackendKind::Process => BackendArg::Process,
            BackendKind::Sim => BackendArg::Sim,
        }
    }
}

impl From<BackendArg> for BackendKind {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Process => BackendKind::Process,
            BackendArg::Sim => BackendKind::Sim,
        }
    }
}

pub fn run(args: RunArgs) -> Result<i32, Failure> {
    super::refuse_process_options(
        args.backend.into(),
        args.etcd.as_deref(),
        args.toxiproxy.as_deref(),
        None,
    )?;
    let mut profile = profile::load(&args.profile).map_err(Failure::bad_input)?;
    super::use_etcd(&mut profile, args.etcd.as_deref())?;
    if args.backend == BackendArg::Process {
        super::require_etcd(&profile)?;
    }
    if profile.cluster.protocol.is_comparison() {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "{}: cluster.protocol lists {} mechanisms to compare; `electune run` runs one. Sweep the comparison with `electune sweep {}`, or set `cluster.protocol` to one of them",
            args.profile.display(),
            profile.cluster.protocol.all().len(),
            args.profile.display()
        )));
    }
    let mut timing = profile.timing;
    if let Some(lease) = profile.cluster.lease.filter(|_| profile.is_lease()) {
        if args.heartbeat.is_some() || args.election_timeout.is_some() {
            return Err(Failure::bad_input(anyhow::anyhow!(
                "--heartbeat/--election-timeout are Raft's; a lease profile's timing is cluster.lease \
                 (LeaseDuration {}, RenewDeadline {}, RetryPeriod {}): edit the profile",
                lease.lease_duration,
                lease.renew_deadline,
                lease.retry_period
            )));
        }
    }
    if profile.is_etcd_election() && (args.heartbeat.is_some() || args.election_timeout.is_some()) {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "--heartbeat/--election-timeout are Raft's; an etcd-election profile's timing is \
             cluster.session (TTL {}): edit the profile",
            profile
                .cluster
                .session
                .map(|s| s.ttl.to_string())
                .unwrap_or_default()
        )));
    }
    if let Some(h) = args.heartbeat {
        timing.heartbeat = h;
    }
    if let Some(e) = args.election_timeout {
        timing.election_timeout = e;
    }
    let raft_timing = if profile.has_store() {
        Ok(())
    } else {
        profile::validate_timing("timing", &timing, &profile.cluster.raft)
    };
    raft_timing.map_err(|e| {
        Failure::bad_input(anyhow::anyhow!(
            "--heartbeat/--election-timeout (flavor {}): {}",
            profile.cluster.raft.flavor,
            e.message
        ))
    })?;
    let mut faults: Vec<Fault> = if args.no_profile_faults {
        Vec::new()
    } else {
        profile.faults.clone()
    };
    if let Some(every) = args.crash_leader_every {
        // A crash before the previous failover could finish measures nothing: the new leader is
        // killed (or none exists yet) when the next crash comes.
        let floor = timing.election_timeout.max;
        if every.0 < floor {
            return Err(Failure::bad_input(anyhow::anyhow!(
                "--crash-leader-every {every} is shorter than the maximum election timeout {}: the next crash \
                 would come before a failover can finish, so no failover is measurable; use at least {} \
                 (--restart-after plus twice the maximum timeout, {}, leaves room to settle)",
                format_duration(floor),
                format_duration(floor),
                format_duration(args.restart_after.0 + floor * 2)
            )));
        }
        faults.push(Fault::crash_leader(every.to_string(), args.restart_after.0));
    }
    // Sized arithmetically before the fault plan is drawn: one entry per occurrence.
    electune::harness::check_fault_budget(&faults, args.duration.0).map_err(Failure::bad_input)?;
    if args.backend == BackendArg::Sim {
        // A simulated timeline is kept in memory until it is analysed.
        electune::sim::budget::check_event_budget(
            &profile,
            &timing,
            &faults,
            args.duration.0,
            1,
            &format!(
                "a simulated run of {}",
                electune::sim::budget::coarse(args.duration.0)
            ),
        )
        .map_err(Failure::bad_input)?;
    }
    for w in profile.warnings() {
        eprintln!("warning: {}: {w}", args.profile.display());
    }
    let dir = match &args.out {
        Some(d) => {
            std::fs::create_dir_all(d)
                .with_context(|| format!("creating {}", d.display()))
                .map_err(Failure::environment)?;
            d.clone()
        }
        None => output::new_run_dir(&PathBuf::from("output"), &format!("{}-run", profile.name))
            .context("creating the output directory")
            .map_err(Failure::environment)?,
    };
    let rt = runtime()?;
    let trial = Trial {
        profile: &profile,
        timing,
        faults,
        dir: &dir,
    };
    if args.backend == BackendArg::Sim {
        for w in electune::sim::unmodelled_faults(&profile) {
            eprintln!("warning: {}: {w}", args.profile.display());
        }
    }
    let (timeline, approximations, cut_short) = match args.backend {
        BackendArg::Process => rt.block_on(run_process(&args, &trial))?,
        BackendArg::Sim => rt
            .block_on(run_sim(&args, &trial))
            .map(|(t, a)| (t, a, None))?,
    };
    let cut_note = cut_short.as_ref().map(cut_short_note);
    let timeline = Arc::new(timeline);
    let Some(metrics) = analyze_or_stop(&rt, timeline.clone()) else {
        cut_note.iter().for_each(|note| eprintln!("{note}"));
        eprintln!(
            "interrupted during analysis: the events are kept in {}; no metrics were written",
            dir.join("events.jsonl").display()
        );
        return Ok(exit::INTERRUPTED);
    };
    let metrics_path = dir.join("metrics.json");
    let json = serde_json::to_vec_pretty(&metrics).map_err(Failure::environment)?;
    std::fs::write(&metrics_path, json)
        .with_context(|| format!("writing {}", metrics_path.display()))
        .map_err(Failure::environment)?;
    println!("{}", summary(&metrics, &timing, timeline.first_leader));
    if let Some(lease) = profile.cluster.lease.filter(|_| profile.is_lease()) {
        // The summary's timing row shows the lease's equivalent (heartbeat = RetryPeriod,
        // election timeout = the takeover window).
        println!(
            "lease: LeaseDuration {}, RenewDeadline {}, RetryPeriod {}",
            lease.lease_duration, lease.renew_deadline, lease.retry_period
        );
    }
    if let Some(s) = profile
        .cluster
        .session
        .filter(|_| profile.is_etcd_election())
    {
        // The summary's timing row shows the session's equivalent (heartbeat = TTL/3, election
        // timeout = TTL..TTL + 500ms).
        println!(
            "session: TTL {} (granted {}), etcd --election-timeout {}",
            s.ttl,
            electune::duration::format_duration(s.granted_ttl()),
            s.etcd_election_timeout
        );
    }
    if let Some(store) = profile.describe_store(args.backend.into()) {
        println!("store: {store}");
    }
    if let Some(l) = electune::analysis::store_load(&timeline.events, &timeline.context) {
        println!(
            "store load: {:.2} requests/s, {:.2} writes/s ({} requests, {} writes, {} refused in {:.1} s)",
            l.requests_per_second, l.writes_per_second, l.requests, l.writes, l.refused_writes, l.seconds
        );
    }
    println!("{}", false_promotion_bound(&profile, &timing, &metrics));
    if !approximations.is_empty() {
        println!(
            "approximated latencies ({} link(s); the toxiproxy server takes whole milliseconds, \
             so latency was rounded and jitter widened to cover the asked range):",
            approximations.len()
        );
        for a in &approximations {
            println!("  {a}");
        }
    }
    println!(
        "events: {}\nmetrics: {}\nnetwork: {}",
        dir.join("events.jsonl").display(),
        metrics_path.display(),
        dir.join("network.json").display()
    );
    // The numbers are printed and saved first: a plot failure loses only the plot.
    let window = (timeline.context.start_ns, timeline.context.end_ns);
    let (svg, png) =
        electune::report::plots::timeline(&timeline.events, &timeline.context.nodes, window)
            .and_then(|plot| plot.save(&dir, "timeline"))
            .context("drawing the timeline")
            .map_err(Failure::environment)?;
    println!("timeline: {}\n          {}", svg.display(), png.display());
    cut_note.iter().for_each(|note| eprintln!("{note}"));
    if !metrics.violations.is_empty() {
        for v in &metrics.violations {
            eprintln!("INVARIANT VIOLATED: {v}");
        }
        return Ok(exit::INVARIANT_VIOLATED);
    }
    Ok(if cut_note.is_some() {
        exit::ENVIRONMENT
    } else if timeline.interrupted {
        exit::INTERRUPTED
    } else {
        exit::SUCCESS
    })
}

/// Analyses the timeline on a thread of its own while listening for Ctrl-C and SIGTERM; `None`
/// when a signal came first. The events are on disk by then, so stopping loses no measurement,
/// only the analysis, which is then left unfinished (the process exits with 130).
fn analyze_or_stop(rt: &tokio::runtime::Runtime, timeline: Arc<Timeline>) -> Option<RunMetrics> {
    rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        // Listening before the analysis is announced: a signal after the line is never missed.
        let mut int = signal(SignalKind::interrupt()).ok();
        let mut term = signal(SignalKind::terminate()).ok();
        eprintln!(
            "analysing {} events (Ctrl-C stops the analysis; the events are kept)",
            timeline.events.len()
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(timeline.analyze());
        });
        let recv = |s: &mut Option<tokio::signal::unix::Signal>| {
            let mut s = s.take();
            async move {
                match s.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
        };
        tokio::select! {
            m = rx => m.ok(),
            _ = recv(&mut int) => None,
            _ = recv(&mut term) => None,
        }
    })
}

/// One trial, whichever backend runs it.
struct Trial<'a> {
    profile: &'a Profile,
    timing: Timing,
    faults: Vec<Fault>,
    dir: &'a std::path::Path,
}

fn announce(t: &Trial, args: &RunArgs, through: &str) {
    eprintln!(
        "running {} ({} nodes, heartbeat {}, election timeout {}) for {} {through}",
        t.profile.name,
        t.profile.members().len(),
        t.timing.heartbeat,
        t.timing.election_timeout,
        args.duration,
    );
}

fn write_json(path: &std::path::Path, value: &serde_json::Value) -> Result<(), Failure> {
    let json = serde_json::to_vec_pretty(value).map_err(Failure::environment)?;
    std::fs::write(path, json)
        .with_context(|| format!("writing {}", path.display()))
        .map_err(Failure::environment)
}

/// What `run` says when its toxiproxy stopped answering: when, what the results cover, and why.
fn cut_short_note(cut: &CutShort) -> String {
    let at = cut
        .loss
        .last_answer_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "electune: {cut} (its last answer: {}), so the run ended early: every node was stopped, \
         and {}; events.jsonl also holds what followed, unmeasured. The toxiproxy's error: {:#}",
        output::rfc3339(at),
        cut.covers(),
        anyhow::Error::new(cut.loss.cause.clone())
    )
}

/// Real processes through toxiproxy; a run whose toxiproxy stopped answering returns what it
/// measured until then, and why.
async fn run_process(
    args: &RunArgs,
    t: &Trial<'_>,
) -> Result<
    (
        Timeline,
        Vec<electune::harness::Approximation>,
        Option<CutShort>,
    ),
    Failure,
> {
    let node_binary = std::env::current_exe()
        .context("locating the electune binary")
        .map_err(Failure::environment)?;
    let interrupt = interrupt_on_signals();
    let net = Arc::new(
        ToxiproxyServer::connect_or_start(
            super::toxiproxy_url(args.toxiproxy.as_deref()).as_deref(),
        )
        .await
        .map_err(Failure::environment)?,
    );
    let through = format!(
        "through {} toxiproxy at {}",
        if net.is_builtin() {
            "the built-in"
        } else {
            "an external"
        },
        net.url
    );
    announce(t, args, &through);
    let spec = TrialSpec {
        profile: t.profile.clone(),
        timing: t.timing,
        faults: t.faults.clone(),
        duration: args.duration.0,
        dir: t.dir.to_path_buf(),
        node_binary,
        proxy_prefix: net.run_prefix().to_owned(),
        seed: args.seed.unwrap_or(t.profile.seed),
    };
    report_stale(net.removed_stale());
    let (net_url, builtin) = (net.url.clone(), net.is_builtin());
    let outcome = run_trial_keeping_partial(&spec, net, interrupt)
        .await
        .map_err(Failure::environment)?;
    // Which toxiproxy carried the run, and every latency it could not take as asked.
    write_json(
        &t.dir.join("network.json"),
        &serde_json::json!({
            "backend": "process",
            "toxiproxy": net_url,
            "builtin": builtin,
            "approximations": outcome.approximations,
            "cut_short": outcome.cut_short.as_ref().map(|c| c.to_string()),
        }),
    )?;
    Ok((outcome.timeline, outcome.approximations, outcome.cut_short))
}

/// The same members in virtual time.
async fn run_sim(
    args: &RunArgs,
    t: &Trial<'_>,
) -> Result<(Timeline, Vec<electune::harness::Approximation>), Failure> {
    let costs =
        Costs::for_this_machine(std::path::Path::new("output")).map_err(Failure::bad_input)?;
    announce(
        t,
        args,
        &format!("in virtual time (costs: {})", costs.source),
    );
    let spec = SimSpec {
        profile: t.profile.clone(),
        timing: t.timing,
        faults: t.faults.clone(),
        duration: args.duration.0,
        seed: args.seed.unwrap_or(t.profile.seed),
        costs: costs.clone(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut interrupt = interrupt_on_signals();
    let flag = stop.clone();
    tokio::spawn(async move {
        if interrupt.wait_for(|v| *v).await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let timeline = tokio::task::spawn_blocking(move || {
        electune::sim::run_trial(&spec, || stop.load(std::sync::atomic::Ordering::Relaxed))
    })
    .await
    .map_err(Failure::environment)?
    .map_err(Failure::environment)?;
    let events_path = t.dir.join("events.jsonl");
    write_events(&events_path, &timeline.events)
        .with_context(|| format!("writing {}", events_path.display()))
        .map_err(Failure::environment)?;
    write_json(
        &t.dir.join("network.json"),
        &serde_json::json!({ "backend": "sim", "costs": costs }),
    )?;
    Ok((timeline, Vec::new()))
}

/// Writes the timeline as JSON lines through a buffer (not one string of the whole file).
fn write_events(path: &std::path::Path, events: &[electune::event::Event]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for e in events {
        out.write_all(e.to_json_line().as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Tells the user which proxies of dead electune runs were removed from a shared toxiproxy.
pub fn report_stale(removed: &[String]) {
    if !removed.is_empty() {
        eprintln!(
            "removed {} proxies left on the toxiproxy server by electune runs that are gone: {}",
            removed.len(),
            removed.join(", ")
        );
    }
}

fn dist(d: &Distribution) -> String {
    if d.count == 0 {
        return "-".into();
    }
    let q = |name: &str, v: f64| {
        let ge = if d.is_at_least(name) { "≥ " } else { "" };
        format!("{name} {ge}{v:.1}")
    };
    let p99 = if d.count < 100 {
        format!("max {:.1}", d.max_ms)
    } else {
        format!("{}  max {:.1}", q("p99", d.p99_ms), d.max_ms)
    };
    let censored = if d.censored > 0 {
        format!(", {} censored", d.censored)
    } else {
        String::new()
    };
    format!(
        "{}  {}  {p99} ms  (n={}{censored})",
        q("p50", d.p50_ms),
        q("p90", d.p90_ms),
        d.count
    )
}

/// The metrics table `electune run` prints.
/// The per-day false-promotion bound this run supports, with what it rests on.
fn false_promotion_bound(profile: &Profile, timing: &Timing, m: &RunMetrics) -> String {
    let Ok(metrics) = electune::analysis::merge(std::slice::from_ref(m)) else {
        return String::new();
    };
    let point = electune::sweep::PointResult {
        index: 0,
        timing: match profile.cluster.protocol.first() {
            electune::profile::Protocol::Raft => {
                electune::results::PointTiming::raft(timing.heartbeat, timing.election_timeout)
            }
            _ => electune::results::PointTiming::of_profile(profile),
        },
        metrics,
        wall_seconds: 0.0,
        evidence: None,
        processes: None,
    };
    let budget = profile.requirements.max_false_promotions_per_day;
    let e = electune::recommend::false_promotions::estimate(
        &point,
        &profile.fault_rates_per_day(),
        budget,
    );
    let mut out = format!(
        "false-promotion bound  {} /day (one-sided 95%, between {} and it); {}",
        e.upper_per_day
            .map_or("unbounded".into(), electune::recommend::feasibility::num),
        electune::recommend::feasibility::num(e.lower_per_day),
        e.explanation
    );
    if let Some(n) = &e.needs {
        out.push_str(&format!("\nto show ≤ {budget} /day this point needs {n}"));
    }
    out
}

pub fn summary(m: &RunMetrics, timing: &Timing, first_leader: Duration) -> String {
    let s = &m.summary;
    let f = &s.failover;
    let fp = &s.false_promotions;
    let mut rows: Vec<(String, String)> = vec![
        (
            "timing".into(),
            format!(
                "heartbeat {}, election timeout {}",
                timing.heartbeat, timing.election_timeout
            ),
        ),
        (
            "first leader after".into(),
            if m.tally.first_election.iter().any(|o| o.censored) {
                format!(
                    "none within {} (censored: split votes went on; nothing else was measured)",
                    format_duration(first_leader)
                )
            } else {
                format_duration(first_leader)
            },
        ),
        (
            "observed".into(),
            format!("{:.1} s", s.exposure_hours * 3600.0),
        ),
        (
            "leader changes".into(),
            format!(
                "{} ({:.1}/h)",
                m.tally.leader_changes, s.flapping.leader_changes.per_hour
            ),
        ),
        (
            "hard faults on leader".into(),
            format!(
                "{} ({} failovers complete, {} incomplete)",
                f.hard_faults, f.complete, f.incomplete
            ),
        ),
        ("failover (t3-t0)".into(), dist(&f.failover)),
        ("  detection (t1-t0)".into(), dist(&f.detection)),
        ("  election (t2-t1)".into(), dist(&f.election)),
        ("  first write (t3-t2)".into(), dist(&f.first_write)),
        ("time without leader".into(), dist(&f.no_leader)),
        (
            "false promotions".into(),
            format!(
                "{} ({:.2}/day; one-sided 95% bounds {:.2} and {}/day, together a 90% interval)",
                fp.count,
                fp.per_day,
                fp.lower_per_day,
                fp.upper_per_day.map_or("∞".into(), |u| format!("{u:.2}"))
            ),
        ),
        (
            "ping-pong episodes".into(),
            s.flapping.ping_pongs.to_string(),
        ),
        ("leader tenure".into(), dist(&s.flapping.tenure)),
        (
            "dual leadership".into(),
            format!(
                "{:.1} ms acting ({:.1} ms believed, frozen leaders included), {}",
                s.dual_leadership.total_ms,
                s.dual_leadership.believed_ms,
                dist(&s.dual_leadership.episodes)
            ),
        ),
        (
            "stale writes".into(),
            format!(
                "{} rejected (fenced), {} accepted as conflicts",
                s.dual_leadership.stale_writes.rejected,
                s.dual_leadership.stale_writes.accepted_conflicts
            ),
        ),
        (
            "unavailability".into(),
            format!(
                "{:.1} ms ({:.3}% of the run), longest {:.1} ms",
                s.unavailability.total_ms,
                s.unavailability.fraction * 100.0,
                s.unavailability.longest_ms
            ),
        ),
        ("detector T_D".into(), dist(&s.detector.detection)),
        (
            "detector T_M (mistakes)".into(),
            dist(&s.detector.mistake_duration),
        ),
        ("detector T_MR".into(), dist(&s.detector.mistake_recurrence)),
        ("heartbeat silences".into(), dist(&s.silences.all)),
        (
            "silences longer than T".into(),
            format!(
                "{} of {} at T = {} ({} censored); {:.3}/follower-hour, one-sided 95% bound {}",
                s.silences.model.longer_than_timeout,
                s.silences.model.silences,
                format_duration(timing.election_timeout.min),
                s.silences.model.censored,
                s.silences.model.rate.per_hour,
                s.silences
                    .model
                    .rate
                    .upper_per_hour
                    .map_or("-".into(), |v| format!("{v:.3}")),
            ),
        ),
        (
            "timer lateness".into(),
            format!(
                "p50 {:.3} ms, p99 {:.3} ms (worst node)",
                s.timers.worst.p50_ms, s.timers.worst.p99_ms
            ),
        ),
        (
            "invariants".into(),
            if m.violations.is_empty() {
                "ok: one leader per term, no stale write accepted".into()
            } else {
                format!("{} VIOLATED", m.violations.len())
            },
        ),
    ];
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows.drain(..) {
        out.push_str(&format!("{k:<width$}  {v}\n"));
    }
    out
}
