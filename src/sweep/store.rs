//! The sweep's directory, written as results arrive so an interrupted sweep keeps what it measured
//! and `--resume` can finish it: `sweep.json` (the plan and options), `profile.yaml`, per point
//! `points/<slug>/trial-N/events.jsonl`, `trial-N.json` and `metrics.json`, `results.json`, and
//! `trials.csv` (one row per finished trial).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::PlannedPoint;
use crate::analysis::RunMetrics;
use crate::profile::Profile;
use crate::results::{PointResult, SweepResults};

/// Everything needed to resume or re-report a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepManifest {
    pub version: String,
    pub profile_file: String,
    pub profile: Profile,
    pub points: Vec<PlannedPoint>,
    pub time_scale: f64,
    pub parallel: usize,
    pub quick: bool,
    pub seed: u64,
    pub host: String,
    pub started: String,
    /// Which backend runs the trials (older sweeps ran on processes).
    #[serde(default)]
    pub backend: crate::backend::BackendKind,
    /// Set when the points above are a screen in the simulator and the candidates are checked
    /// on real processes (docs/design.md, "Two backends"): the process trials of every point,
    /// of which the candidates' run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<ProcessPlan>,
}

/// The process trials of a sweep screened in the simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessPlan {
    /// The time scale the process trials run at.
    pub time_scale: f64,
    /// Each point's process trials (same indices and timings as the screen's points).
    pub points: Vec<PlannedPoint>,
}

impl SweepManifest {
    /// Where the trials ran, as a user names it: `sim`, or `process` (every point on processes,
    /// or screened in the simulator with the candidates on processes).
    pub fn backend_name(&self) -> &'static str {
        match (self.backend, &self.processes) {
            (crate::backend::BackendKind::Sim, None) => "sim",
            _ => "process",
        }
    }

    /// The sweep of the candidates on processes, in its own directory: this sweep's plan with
    /// the process trials of the points in `indices`.
    pub fn process_check(&self, indices: &[usize]) -> Option<SweepManifest> {
        let plan = self.processes.as_ref()?;
        Some(SweepManifest {
            points: plan
                .points
                .iter()
                .filter(|p| indices.contains(&p.index))
                .cloned()
                .collect(),
            time_scale: plan.time_scale,
            backend: crate::backend::BackendKind::Process,
            processes: None,
            ..self.clone()
        })
    }
}

/// Why the sweep directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// Rewriting the data exports (`results.json`, `results.csv`) failed.
    #[error(transparent)]
    Export(#[from] crate::report::ReportError),
    /// A saved file that `--resume` relies on is damaged; `line` is 1-based where there is one.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Corrupt {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `value` as pretty JSON atomically: one write to a temporary file of this writer's own
/// (pid and a process-wide counter in its name, so two writers of the same file never share
/// one), then a rename over `path`. A reader sees the old file or the new one, never a mix.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("json.{}-{n}.tmp", std::process::id()));
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(path)(e)
    })
}

/// Reads JSON written by [`write_json`]. A file that does not parse is [`StoreError::Corrupt`],
/// naming its line.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StoreError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        line: Some(e.line()),
        message: format!(
            "not valid JSON ({}, column {}); electune writes this file atomically, so it was damaged after the fact",
            strip_position(&e.to_string()),
            e.column()
        ),
    })
}

/// serde_json appends " at line L column C"; the line is reported in the place instead.
fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// Like [`read_json`], but a missing file is `None`.
pub fn read_json_if_present<T: for<'de> Deserialize<'de>>(
    path: &Path,
) -> Result<Option<T>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    read_json(path).map(Some)
}

/// How the plan of a sweep directory differs from the plan asked for on the command line: the
/// first difference, worded for the user ("grid differs: saved heartbeats [50ms], asked [100ms]"),
/// or `None` when both would run exactly the same trials with the same faults and seed.
pub fn plan_difference(saved: &SweepManifest, asked: &SweepManifest) -> Option<String> {
    let hb = |m: &SweepManifest| {
        let mut v: Vec<_> = m.points.iter().map(|p| p.heartbeat()).collect();
        v.sort_by_key(|h| h.0);
        v.dedup();
        format!(
            "[{}]",
            v.iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let et = |m: &SweepManifest| {
        let mut v: Vec<_> = m.points.iter().map(|p| p.election_timeout()).collect();
        v.sort_by_key(|e| (e.min, e.max));
        v.dedup();
        format!(
            "[{}]",
            v.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if saved.backend_name() != asked.backend_name() {
        return Some(format!(
            "backend differs: saved {}, asked {}",
            saved.backend_name(),
            asked.backend_name()
        ));
    }
    if hb(saved) != hb(asked) {
        return Some(format!(
            "grid differs: saved heartbeats {}, asked {}",
            hb(saved),
            hb(asked)
        ));
    }
    if et(saved) != et(asked) {
        return Some(format!(
            "grid differs: saved election timeouts {}, asked {}",
            et(saved),
            et(asked)
        ));
    }
    if saved.points.len() != asked.points.len() {
        return Some(format!(
            "grid differs: saved {} points, asked {}",
            saved.points.len(),
            asked.points.len()
        ));
    }
    if saved.processes.is_some() != asked.processes.is_some() {
        let what = |m: &SweepManifest| {
            if m.processes.is_some() {
                "candidates"
            } else {
                "all"
            }
        };
        return Some(format!(
            "--processes differs: saved {}, asked {}",
            what(saved),
            what(asked)
        ));
    }
    if let (Some(a), Some(b)) = (&saved.processes, &asked.processes) {
        if a != b {
            return Some(
                "the process trials differ (--time-scale, --failovers, --duration-per-point, --quick)"
                    .into(),
            );
        }
    }
    for (a, b) in saved.points.iter().zip(&asked.points) {
        if a.timing != b.timing {
            return Some(format!(
                "grid differs: saved point {} is {}, asked {}",
                a.index,
                a.slug(),
                b.slug()
            ));
        }
        if a.trials != b.trials {
            let fmt = |p: &PlannedPoint| {
                format!(
                    "{} trial(s), {} in all",
                    p.trials.len(),
                    crate::duration::format_duration(p.duration())
                )
            };
            return Some(format!(
                "trials per point differ (--failovers, --duration-per-point, --quick): saved {} at point {}, asked {}",
                fmt(a),
                a.index,
                fmt(b)
            ));
        }
        if a.faults != b.faults {
            return Some(format!(
                "faults differ at point {}: the profile's `faults:` changed since the sweep started",
                a.index
            ));
        }
    }
    if saved.seed != asked.seed {
        return Some(format!(
            "seed differs: saved {}, asked {}",
            saved.seed, asked.seed
        ));
    }
    if saved.time_scale != asked.time_scale {
        return Some(format!(
            "time scale differs: saved {}, asked {}",
            saved.time_scale, asked.time_scale
        ));
    }
    if saved.quick != asked.quick {
        return Some(format!(
            "options differ: saved --quick {}, asked --quick {}",
            saved.quick, asked.quick
        ));
    }
    if saved.profile != asked.profile {
        let (a, b) = (
            serde_json::to_value(&saved.profile).unwrap_or_default(),
            serde_json::to_value(&asked.profile).unwrap_or_default(),
        );
        let field = match (a.as_object(), b.as_object()) {
            (Some(a), Some(b)) => a
                .keys()
                .chain(b.keys())
                .find(|k| a.get(*k) != b.get(*k))
                .cloned(),
            _ => None,
        };
        return Some(format!(
            "profile differs{}: saved {} (as copied to profile.yaml), asked {}",
            field.map(|f| format!(" in `{f}`")).unwrap_or_default(),
            saved.profile_file,
            asked.profile_file
        ));
    }
    None
}

/// What `--resume` found in a sweep directory, after checking every file it relies on.
#[derive(Debug, Default)]
pub struct ResumeCheck {
    /// Trials committed by a complete row of `trials.csv`: (point index, trial).
    pub committed: std::collections::BTreeSet<(usize, usize)>,
    /// Repairs made, each worded for stderr.
    pub repairs: Vec<String>,
}

/// The sweep directory.
pub struct Store {
    pub dir: PathBuf,
    /// The one writer of `trials.csv`: the length of its committed part (header and whole rows),
    /// learnt at the first append. Parallel trials append through this lock, one row at a time.
    trials: std::sync::Mutex<Option<u64>>,
}

impl Store {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            trials: std::sync::Mutex::new(None),
        }
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("sweep.json")
    }

    pub fn results_path(&self) -> PathBuf {
        self.dir.join("results.json")
    }

    pub fn point_dir(&self, p: &PlannedPoint) -> PathBuf {
        self.dir.join("points").join(p.slug())
    }

    pub fn trial_dir(&self, p: &PlannedPoint, trial: usize) -> PathBuf {
        self.point_dir(p).join(format!("trial-{trial}"))
    }

    /// Starts a new sweep directory.
    pub fn create(&self, manifest: &SweepManifest) -> Result<(), StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        write_json(&self.manifest_path(), manifest)?;
        let yaml = serde_yaml::to_string(&manifest.profile).map_err(|e| StoreError::Format {
            path: self.dir.join("profile.yaml"),
            message: e.to_string(),
        })?;
        let path = self.dir.join("profile.yaml");
        std::fs::write(&path, yaml).map_err(io(&path))?;
        let path = self.trials_path();
        std::fs::write(&path, trials_header(manifest)).map_err(io(&path))?;
        Ok(())
    }

    pub fn trials_path(&self) -> PathBuf {
        self.dir.join("trials.csv")
    }

    /// Checks every saved file `--resume` relies on before anything is appended: each row of
    /// `trials.csv` has the header's fields and numbers where numbers belong, `results.json` and
    /// every `trial-N.json` a committed row points at parse.
    ///
    /// One damage is repaired rather than refused: a last row of `trials.csv` without its
    /// newline. Rows are appended whole, by one writer at a time, after the trial's JSON was
    /// renamed into place, and a failed append is cut off before the next one
    /// ([`Store::append_trial_row`]), so a sweep killed (or a disk filled) during an append
    /// leaves exactly that; the partial row is dropped and its trial runs again. Anything else is refused: it is not
    /// what electune leaves behind, and carrying it forward would mix it into the results.
    pub fn check_for_resume(&self, manifest: &SweepManifest) -> Result<ResumeCheck, StoreError> {
        let mut check = ResumeCheck::default();
        let path = self.trials_path();
        let mut text = std::fs::read_to_string(&path).map_err(io(&path))?;
        if !text.is_empty() && !text.ends_with('\n') {
            let keep = text.rfind('\n').map_or(0, |i| i + 1);
            let line = text[..keep].lines().count() + 1;
            let partial = text[keep..].to_string();
            if keep == 0 {
                return Err(StoreError::Corrupt {
                    path,
                    line: Some(1),
                    message: "the header is cut short; this is not a trials file electune wrote"
                        .into(),
                });
            }
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            f.set_len(keep as u64).map_err(io(&path))?;
            text.truncate(keep);
            check.repairs.push(format!(
                "{}:{line}: dropped a row cut short by an interrupted write ({:?}); that trial runs again",
                path.display(),
                partial.chars().take(60).collect::<String>()
            ));
        }
        let header = trials_header(manifest);
        let header = header.trim_end();
        let fields = header.split(',').count();
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, h)) if h == header => {}
            _ => {
                return Err(StoreError::Corrupt {
                    path,
                    line: Some(1),
                    message: format!(
                        "the header is not `{header}`; this is not a trials file electune wrote",
                    ),
                })
            }
        }
        for (i, row) in lines {
            let corrupt = |message: String| {
                StoreError::Corrupt {
                path: path.clone(),
                line: Some(i + 1),
                message: format!(
                    "{message}; the file is damaged. Remove that row (its trial runs again) or start a new sweep in another directory"
                ),
            }
            };
            let cols: Vec<&str> = row.split(',').collect();
            if cols.len() != fields {
                return Err(corrupt(format!("{} fields, expected {fields}", cols.len())));
            }
            if let Some((n, v)) = cols
                .iter()
                .enumerate()
                .find(|(_, v)| v.parse::<f64>().is_err())
            {
                return Err(corrupt(format!(
                    "field {} (`{}`) is `{v}`, not a number",
                    n + 1,
                    header.split(',').nth(n).unwrap_or("?")
                )));
            }
            // The parameter columns come first, as many as the mechanism has (Raft's and a
            // lease's three, a session's one): `point` and `trial` follow them.
            let at = header.split(',').position(|h| h == "point").unwrap_or(3);
            let (point, trial) = (cols[at].parse::<usize>(), cols[at + 1].parse::<usize>());
            let (Ok(point), Ok(trial)) = (point, trial) else {
                return Err(corrupt("point and trial must be whole numbers".into()));
            };
            let Some(p) = manifest.points.iter().find(|p| p.index == point) else {
                return Err(corrupt(format!(
                    "point {point} is not in this sweep's plan"
                )));
            };
            if trial >= p.trials.len() {
                return Err(corrupt(format!(
                    "point {point} has {} trial(s), not a trial {trial}",
                    p.trials.len()
                )));
            }
            // The trial's metrics must be readable too.
            read_json::<RunMetrics>(&self.point_dir(p).join(format!("trial-{trial}.json")))?;
            check.committed.insert((point, trial));
        }
        if let Some(r) = read_json_if_present::<SweepResults>(&self.results_path())? {
            for point in &r.points {
                let Some(p) = manifest.points.iter().find(|p| p.index == point.index) else {
                    return Err(StoreError::Corrupt {
                        path: self.results_path(),
                        line: None,
                        message: format!("point {} is not in this sweep's plan", point.index),
                    });
                };
                if p.timing != point.timing {
                    return Err(StoreError::Corrupt {
                        path: self.results_path(),
                        line: None,
                        message: format!(
                            "point {} is saved as {}, but the plan has {}",
                            point.index,
                            point.timing,
                            p.slug()
                        ),
                    });
                }
            }
        }
        Ok(check)
    }

    /// Saves one finished trial: its metrics as `trial-N.json` (atomically), then its row of
    /// `trials.csv`, which commits it.
    pub fn save_trial(
        &self,
        p: &PlannedPoint,
        trial: usize,
        m: &RunMetrics,
        wall: f64,
    ) -> Result<(), StoreError> {
        let point_dir = self.point_dir(p);
        std::fs::create_dir_all(&point_dir).map_err(io(&point_dir))?;
        write_json(&point_dir.join(format!("trial-{trial}.json")), m)?;
        self.append_trial_row(&trial_row(p, trial, m, wall))
    }

    /// Appends one whole row to `trials.csv`. Rows from parallel trials never interleave: one
    /// writer at a time (the lock), one buffer, one `write_all`. Whatever a failed or killed
    /// append left behind (a row cut short by a full disk) is cut off before the next row, and a
    /// failed append truncates the file back at once, so the file only ever holds the header,
    /// whole rows and, after a kill, at most one partial last row, which `--resume` drops
    /// ([`Store::check_for_resume`]).
    fn append_trial_row(&self, row: &str) -> Result<(), StoreError> {
        debug_assert!(row.ends_with('\n') && row.matches('\n').count() == 1);
        let path = self.trials_path();
        let mut committed = self.trials.lock().unwrap_or_else(|e| e.into_inner());
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        let good = match *committed {
            Some(len) => len,
            None => committed_len(&mut f).map_err(io(&path))?,
        };
        if good == 0 {
            return Err(StoreError::Corrupt {
                path,
                line: Some(1),
                message: "the header is missing; this is not a trials file electune wrote".into(),
            });
        }
        if f.metadata().map_err(io(&path))?.len() != good {
            f.set_len(good).map_err(io(&path))?;
        }
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(good)).map_err(io(&path))?;
        if let Err(e) = f.write_all(row.as_bytes()) {
            // Best effort: the next append (or `--resume`) cuts it off anyway.
            let _ = f.set_len(good);
            *committed = Some(good);
            return Err(io(&path)(e));
        }
        *committed = Some(good + row.len() as u64);
        Ok(())
    }

    /// A trial already saved (for resume): its metrics, when a complete `trials.csv` row
    /// committed it (`committed`, from [`Store::check_for_resume`]).
    pub fn saved_trial(
        &self,
        p: &PlannedPoint,
        trial: usize,
        committed: &std::collections::BTreeSet<(usize, usize)>,
    ) -> Result<Option<RunMetrics>, StoreError> {
        if !committed.contains(&(p.index, trial)) {
            return Ok(None);
        }
        read_json(&self.point_dir(p).join(format!("trial-{trial}.json"))).map(Some)
    }

    /// Saves a finished point and rewrites the data exports, `results.json` and `results.csv`
    /// (feasibility judged against the profile's requirements), each atomically.
    pub fn save_point(
        &self,
        p: &PlannedPoint,
        result: &PointResult,
        all: &SweepResults,
    ) -> Result<(), StoreError> {
        write_json(&self.point_dir(p).join("metrics.json"), &result.metrics)?;
        let budget = crate::recommend::Budget::from_requirements(&all.requirements);
        let feasible = crate::recommend::feasibility(all, &budget);
        crate::report::write_data(&self.dir, all, &feasible)?;
        Ok(())
    }
}

/// One row of `trials.csv` ([`trials_header`]), newline included.
fn trial_row(p: &PlannedPoint, trial: usize, m: &RunMetrics, wall: f64) -> String {
    let s = &m.summary;
    format!(
        "{},{},{},{:.3},{},{},{:.3},{:.3},{},{},{},{:.3}\n",
        p.timing
            .csv_values()
            .into_iter()
            .map(s_ms)
            .collect::<Vec<_>>()
            .join(","),
        p.index,
        trial,
        s.exposure_hours * 3600.0,
        s.failover.complete,
        s.failover.incomplete,
        s.failover.failover.p50_ms,
        s.failover.failover.p99_ms,
        m.tally.false_promotions,
        m.tally.leader_changes,
        m.violations.len(),
        wall
    )
}

/// The length of the committed part of a trials file: everything up to its last newline.
fn committed_len(f: &mut std::fs::File) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let len = f.metadata()?.len();
    let mut at = len;
    let mut buf = [0u8; 4096];
    while at > 0 {
        let from = at.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(at - from) as usize];
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(from + i as u64 + 1);
        }
        at = from;
    }
    Ok(0)
}

fn s_ms(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms.fract() == 0.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.3}")
    }
}

/// Header of a Raft sweep's `trials.csv`: parameter columns first ([`trials_header`]).
pub const TRIALS_HEADER: &str = "heartbeat_ms,election_timeout_min_ms,election_timeout_max_ms,point,trial,observed_s,failovers_complete,failovers_incomplete,failover_p50_ms,failover_p99_ms,false_promotions,leader_changes,violations,wall_s\n";

/// The columns of `trials.csv` after the parameter columns.
const TRIALS_TAIL: &str = "point,trial,observed_s,failovers_complete,failovers_incomplete,failover_p50_ms,failover_p99_ms,false_promotions,leader_changes,violations,wall_s\n";

/// Header of `trials.csv` for a plan: the mechanism's parameter columns
/// ([`crate::results::PointTiming::csv_columns`]), then the measurements (for Raft,
/// [`TRIALS_HEADER`]).
pub fn trials_header(manifest: &SweepManifest) -> String {
    let params = manifest.points.first().map_or(
        &[
            "heartbeat_ms",
            "election_timeout_min_ms",
            "election_timeout_max_ms",
        ][..],
        |p| p.timing.csv_columns(),
    );
    format!("{},{TRIALS_TAIL}", params.join(","))
}

#[cfg(test)]
mod tests;
