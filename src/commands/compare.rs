//! `electune sweep` of a profile that lists several mechanisms (`cluster.protocol: [raft, lease]`):
//! one ordinary sweep per mechanism, each in its own directory under the run's directory, with
//! the profile as that mechanism runs it, then the side-by-side comparison
//! (`comparison.md`, `comparison.json`). `--resume DIR` finishes every mechanism's sweep and
//! writes the comparison again.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use electune::report::compare::{compare, MechanismSweep};
use electune::{exit, output, profile};

use super::sweep::SweepArgs;
use super::Failure;

/// What a comparison directory holds (`mechanisms.json`).
#[derive(Debug, Serialize, Deserialize)]
struct ComparisonManifest {
    profile: String,
    /// Per mechanism: its name, its sweep directory (relative) and remarks for its row.
    mechanisms: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    mechanism: String,
    dir: String,
    notes: Vec<String>,
}

const MANIFEST: &str = "mechanisms.json";

/// Whether `dir` holds a comparison (rather than one sweep).
pub fn is_comparison_dir(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
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
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifests serialize");
    output::write_atomic(&in_dir(MANIFEST), &json)
        .with_context(|| format!("writing {}", in_dir(MANIFEST).display()))
        .map_err(Failure::environment)?;
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
pub fn resume(args: &SweepArgs, dir: &Path) -> Result<i32, Failure> {
    let text = std::fs::read(dir.join(MANIFEST))
        .with_context(|| format!("--resume {}: reading {MANIFEST}", dir.display()))
        .map_err(Failure::bad_input)?;
    let manifest: ComparisonManifest = serde_json::from_slice(&text)
        .with_context(|| format!("--resume {}: {MANIFEST} is damaged", dir.display()))
        .map_err(Failure::bad_input)?;
    sweep_each(args, dir, &manifest, true)
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
