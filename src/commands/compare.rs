//! `electune sweep` of a profile that lists several mechanisms (`cluster.protocol: [raft, lease]`):
//! one ordinary sweep per mechanism, each in its own directory under the run's directory, with
//! the profile as that mechanism runs it, then the side-by-side comparison
//! (`comparison.md`, `comparison.json`). `--resume DIR` finishes every mechanism's sweep with
//! the options the comparison was started with (recorded in `mechanisms.json`) and writes the
//! comparison again.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use electune::backend::BackendKind;
use electune::duration::{DurationRange, HumanDuration};
use electune::profile::Protocol;
use electune::sweep::compare::{compare, MechanismSweep, COMPARISON_MANIFEST as MANIFEST};
use electune::sweep::store::{plan_difference, read_json, SweepManifest};
use electune::{exit, output, profile};

use super::sweep::SweepArgs;
use super::Failure;

/// What a comparison directory holds (`mechanisms.json`).
#[derive(Debug, Serialize, Deserialize)]
struct ComparisonManifest {
    profile: String,
    /// Per mechanism: its name, its sweep directory (relative) and remarks for its row.
    mechanisms: Vec<Entry>,
    /// The options the comparison was started with that plan each mechanism's sweep. Absent
    /// from a comparison started by an older electune: its resume takes the options given then,
    /// checked against the plans of the mechanisms already started ([`resume`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan: Option<PlanOptions>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    mechanism: String,
    dir: String,
    notes: Vec<String>,
}

/// The `sweep` options that make a mechanism's plan (and the consent and parallelism it ran
/// with), as given when the comparison started: `--resume` plans the mechanisms not yet swept
/// with them, so that every mechanism is measured alike.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct PlanOptions {
    backend: BackendKind,
    quick: bool,
    heartbeat: Option<Vec<HumanDuration>>,
    election_timeout: Option<Vec<DurationRange>>,
    failovers: Option<u32>,
    duration_per_point: Option<HumanDuration>,
    time_scale: Option<f64>,
    /// Clusters in parallel (`None`: chosen per mechanism). Not part of the plan: `--parallel`
    /// on resume replaces it, as for a plain sweep.
    parallel: Option<usize>,
    /// `--etcd URL`: the store of the mechanisms that have one (in their saved profiles too).
    etcd: Option<String>,
    allow_long: bool,
    /// `--processes`: which points run on processes.
    processes: Option<super::sweep::ProcessesArg>,
}

impl PlanOptions {
    /// The options given on the command line.
    fn given(args: &SweepArgs) -> Self {
        Self {
            backend: args.backend.map_or(BackendKind::Process, BackendKind::from),
            quick: args.quick,
            heartbeat: args.heartbeat.clone(),
            election_timeout: args.election_timeout.clone(),
            failovers: args.failovers,
            duration_per_point: args.duration_per_point,
            time_scale: args.time_scale,
            parallel: args.parallel,
            etcd: args.etcd.clone(),
            allow_long: args.allow_long,
            processes: args.processes,
        }
    }

    /// These options with each one given on the command line in its place (a flag can only
    /// be added: `--quick` given or recorded is `--quick`).
    fn with_given(&self, args: &SweepArgs) -> Self {
        Self {
            backend: args.backend.map_or(self.backend, BackendKind::from),
            quick: self.quick || args.quick,
            heartbeat: args.heartbeat.clone().or_else(|| self.heartbeat.clone()),
            election_timeout: args
                .election_timeout
                .clone()
                .or_else(|| self.election_timeout.clone()),
            failovers: args.failovers.or(self.failovers),
            duration_per_point: args.duration_per_point.or(self.duration_per_point),
            time_scale: args.time_scale.or(self.time_scale),
            parallel: args.parallel.or(self.parallel),
            etcd: args.etcd.clone().or_else(|| self.etcd.clone()),
            allow_long: self.allow_long || args.allow_long,
            processes: args.processes.or(self.processes),
        }
    }

    /// `args` with these options in place of its own (its other arguments kept).
    fn apply(&self, args: &SweepArgs) -> SweepArgs {
        let mut a = args.clone();
        a.backend = Some(self.backend.into());
        a.quick = self.quick;
        a.heartbeat = self.heartbeat.clone();
        a.election_timeout = self.election_timeout.clone();
        a.failovers = self.failovers;
        a.duration_per_point = self.duration_per_point;
        a.time_scale = self.time_scale;
        a.parallel = self.parallel;
        a.etcd = self.etcd.clone();
        a.allow_long = self.allow_long;
        a.processes = self.processes;
        a
    }

    /// The options as typed, e.g. `--backend sim --quick --failovers 7`.
    fn describe(&self) -> String {
        let list = |v: &[String]| v.join(",");
        let mut out = vec![format!("--backend {}", self.backend)];
        if self.quick {
            out.push("--quick".into());
        }
        if let Some(h) = &self.heartbeat {
            let h: Vec<String> = h.iter().map(|d| d.to_string()).collect();
            out.push(format!("--heartbeat {}", list(&h)));
        }
        if let Some(e) = &self.election_timeout {
            let e: Vec<String> = e.iter().map(|r| r.to_string()).collect();
            out.push(format!("--election-timeout {}", list(&e)));
        }
        if let Some(n) = self.failovers {
            out.push(format!("--failovers {n}"));
        }
        if let Some(d) = self.duration_per_point {
            out.push(format!("--duration-per-point {d}"));
        }
        if let Some(x) = self.time_scale {
            out.push(format!("--time-scale {x}"));
        }
        if let Some(k) = self.parallel {
            out.push(format!("--parallel {k}"));
        }
        if let Some(u) = &self.etcd {
            out.push(format!("--etcd {u}"));
        }
        if self.allow_long {
            out.push("--allow-long".into());
        }
        if self.processes == Some(super::sweep::ProcessesArg::All) {
            out.push("--processes all".into());
        }
        out.join(" ")
    }
}

fn write_manifest(dir: &Path, manifest: &ComparisonManifest) -> Result<(), Failure> {
    let json = serde_json::to_vec_pretty(manifest).expect("manifests serialize");
    output::write_atomic(&dir.join(MANIFEST), &json)
        .with_context(|| format!("writing {}", dir.join(MANIFEST).display()))
        .map_err(Failure::environment)
}

/// Sweeps every mechanism of `p` (loaded from `path`) and writes the comparison.
pub fn run(args: &SweepArgs, p: &profile::Profile, path: &Path) -> Result<i32, Failure> {
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => output::new_run_dir(&PathBuf::from("output"), &p.name)
            .context("creating the output directory")
            .map_err(Failure::environment)?,
    };
    let in_dir = |name: &str| dir.join(name);
    std::fs::create_dir_all(in_dir("profiles"))
        .with_context(|| format!("creating {}", dir.display()))
        .map_err(Failure::environment)?;
    let mut entries = Vec::new();
    for &m in p.cluster.protocol.all() {
        let narrowed = p.for_mechanism(m);
        let file = in_dir("profiles").join(format!("{}.yaml", m.name()));
        let yaml = serde_yaml::to_string(&narrowed).expect("profiles serialize");
        std::fs::write(&file, yaml)
            .with_context(|| format!("writing {}", file.display()))
            .map_err(Failure::environment)?;
        let notes = p
            .faults_without(m)
            .into_iter()
            .map(|i| {
                format!(
                    "faults[{i}] ({}) does not apply: {} has no store",
                    p.faults[i].kind.name(),
                    m.name()
                )
            })
            .collect();
        entries.push(Entry {
            mechanism: m.name().to_string(),
            dir: m.name().to_string(),
            notes,
        });
    }
    let manifest = ComparisonManifest {
        profile: p.name.clone(),
        mechanisms: entries,
        plan: Some(PlanOptions::given(args)),
    };
    write_manifest(&dir, &manifest)?;
    eprintln!(
        "comparing {} mechanisms of {} ({}) → {}",
        manifest.mechanisms.len(),
        p.name,
        path.display(),
        dir.display()
    );
    sweep_each(args, &dir, &manifest, false)
}

/// Finishes every mechanism's sweep of the comparison in `dir`, then writes the comparison.
///
/// The mechanisms not yet swept are planned with the options recorded in `mechanisms.json`;
/// options given here take their place, and before anything runs, every mechanism's plan with
/// the options in effect must be the plan it was saved with (`sweep.json`, once it started) or
/// that the recorded options make (not started yet), else nothing runs and the first
/// difference is named (exit 2), as a plain sweep's resume does. A `mechanisms.json` without
/// recorded options (an older electune) takes the options given here, under the same check
/// against the mechanisms already started, and records them.
pub fn resume(args: &SweepArgs, dir: &Path) -> Result<i32, Failure> {
    let text = std::fs::read(dir.join(MANIFEST))
        .with_context(|| format!("--resume {}: reading {MANIFEST}", dir.display()))
        .map_err(Failure::bad_input)?;
    let mut manifest: ComparisonManifest = serde_json::from_slice(&text)
        .with_context(|| format!("--resume {}: {MANIFEST} is damaged", dir.display()))
        .map_err(Failure::bad_input)?;
    let effective = match &manifest.plan {
        Some(recorded) => recorded.with_given(args),
        None => PlanOptions::given(args),
    };
    super::refuse_process_options(
        effective.backend,
        args.etcd.as_deref(),
        args.toxiproxy.as_deref(),
        args.time_scale,
    )?;
    let run_args = effective.apply(args);
    check_plans(args, &run_args, &effective, &manifest, dir)?;
    if manifest.plan.is_none() {
        manifest.plan = Some(effective.clone());
        write_manifest(dir, &manifest)?;
    }
    eprintln!(
        "resuming the comparison in {} with {}",
        dir.display(),
        effective.describe()
    );
    sweep_each(&run_args, dir, &manifest, true)
}

/// The check of [`resume`]: each mechanism's plan with `run_args` (the options in effect) against
/// its saved plan or the recorded options' plan; `args` as given, for the profile it may name.
fn check_plans(
    args: &SweepArgs,
    run_args: &SweepArgs,
    effective: &PlanOptions,
    manifest: &ComparisonManifest,
    dir: &Path,
) -> Result<(), Failure> {
    let refuse =
        |what: String| Failure::bad_input(anyhow::anyhow!("--resume {}: {what}", dir.display()));
    let started = output::rfc3339(output::unix_now());
    // A profile given with --resume must be this comparison's, as each mechanism runs it.
    let given = match &args.profile {
        Some(path) => {
            let mut p = profile::load(path).map_err(Failure::bad_input)?;
            super::use_etcd(&mut p, effective.etcd.as_deref())?;
            let names: Vec<&str> = p.cluster.protocol.all().iter().map(|m| m.name()).collect();
            let saved: Vec<&str> = manifest
                .mechanisms
                .iter()
                .map(|e| &e.mechanism[..])
                .collect();
            if names != saved {
                return Err(refuse(format!(
                    "{} compares [{}], the comparison in this directory [{}]; resume it without \
                     a profile, or start this one with --out ANOTHER_DIR",
                    path.display(),
                    names.join(", "),
                    saved.join(", ")
                )));
            }
            Some((p, path.display().to_string()))
        }
        None => None,
    };
    for e in &manifest.mechanisms {
        let m = Protocol::from_name(&e.mechanism).ok_or_else(|| {
            refuse(format!(
                "{MANIFEST} names `{}`, which is not a mechanism electune runs; the file is damaged",
                e.mechanism
            ))
        })?;
        let in_mechanism = |f: Failure| Failure {
            code: f.code,
            error: f
                .error
                .context(format!("--resume {}: {}", dir.display(), e.mechanism)),
        };
        let saved_file = dir.join("profiles").join(format!("{}.yaml", e.mechanism));
        let load_saved = || profile::load(&saved_file).map_err(Failure::bad_input);
        let (p, file) = match &given {
            Some((p, file)) => (p.for_mechanism(m), file.clone()),
            None => (load_saved()?, saved_file.display().to_string()),
        };
        let asked = super::sweep::asked_manifest(run_args, p, file, &started, false)
            .map_err(in_mechanism)?;
        let sweep_json = dir.join(&e.dir).join("sweep.json");
        let reference: SweepManifest = if sweep_json.is_file() {
            read_json(&sweep_json)
                .with_context(|| format!("--resume {}: {}", dir.display(), e.mechanism))
                .map_err(Failure::bad_input)?
        } else if let Some(recorded) = &manifest.plan {
            super::sweep::asked_manifest(
                &recorded.apply(args),
                load_saved()?,
                saved_file.display().to_string(),
                &started,
                false,
            )
            .map_err(in_mechanism)?
        } else {
            continue;
        };
        if let Some(diff) = plan_difference(&reference, &asked) {
            let hint = match &manifest.plan {
                Some(recorded) => format!(
                    "The comparison was started with {}: resume it with those options (or \
                     none), or start this one with --out ANOTHER_DIR",
                    recorded.describe()
                ),
                None => format!(
                    "{MANIFEST} was written by an older electune and does not record the options \
                     the comparison was started with, so the options given now plan the \
                     mechanisms not swept yet: give the options it was started with (those that \
                     made {}'s plan)",
                    e.mechanism
                ),
            };
            return Err(refuse(format!("{}: {diff}. {hint}", e.mechanism)));
        }
    }
    Ok(())
}

fn sweep_each(
    args: &SweepArgs,
    dir: &Path,
    manifest: &ComparisonManifest,
    resume: bool,
) -> Result<i32, Failure> {
    for e in &manifest.mechanisms {
        let sub = dir.join(&e.dir);
        let mut a = args.clone();
        a.out = None;
        a.resume = None;
        // The narrowed profiles already carry `--etcd` where it applies.
        a.etcd = None;
        if resume && sub.join("sweep.json").is_file() {
            a.profile = None;
            a.resume = Some(sub);
        } else {
            a.profile = Some(dir.join("profiles").join(format!("{}.yaml", e.mechanism)));
            a.out = Some(sub);
        }
        eprintln!("\n=== {} ===", e.mechanism);
        let code = super::sweep::run(a)?;
        if code == exit::INTERRUPTED {
            eprintln!(
                "interrupted; finish the comparison with: electune sweep --resume {}",
                dir.display()
            );
            return Ok(code);
        }
    }
    let sweeps: Vec<MechanismSweep> = manifest
        .mechanisms
        .iter()
        .map(|e| MechanismSweep {
            mechanism: e.mechanism.clone(),
            dir: dir.join(&e.dir),
            notes: e.notes.clone(),
        })
        .collect();
    let c = compare(&manifest.profile, &sweeps).map_err(Failure::environment)?;
    let md = c.markdown();
    let json = serde_json::to_vec_pretty(&c).expect("comparisons serialize");
    for (name, bytes) in [
        ("comparison.md", md.as_bytes()),
        ("comparison.json", &json[..]),
    ] {
        output::write_atomic(&dir.join(name), bytes)
            .with_context(|| format!("writing {}", dir.join(name).display()))
            .map_err(Failure::environment)?;
    }
    if let Some(base) = dir.parent() {
        let _ = output::update_latest(base, dir);
    }
    if !args.quiet {
        println!("\n{md}");
    }
    eprintln!("comparison: {}", dir.join("comparison.md").display());
    Ok(exit::SUCCESS)
}
