//! The sweep's directory, written as results arrive so an interrupted sweep keeps what it measured
//! and `--resume` can finish it: `sweep.json` (the plan and options), `profile.yaml`, per point
//! `points/<slug>/trial-N/events.jsonl`, `trial-N.json` and `metrics.json`, `results.json`, and
//! `trials.csv` (one row per finished trial).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::{PointResult, SweepResults};
use super::plan::PlannedPoint;
use crate::analysis::RunMetrics;
use crate::profile::Profile;

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
}

/// Why the sweep directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `value` as pretty JSON atomically (temp file, then rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Reads JSON written by [`write_json`].
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StoreError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The sweep directory.
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
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
        let path = self.dir.join("trials.csv");
        if !path.exists() {
            std::fs::write(&path, TRIALS_HEADER).map_err(io(&path))?;
        }
        Ok(())
    }

    /// Saves one finished trial.
    pub fn save_trial(
        &self,
        p: &PlannedPoint,
        trial: usize,
        m: &RunMetrics,
        wall: f64,
    ) -> Result<(), StoreError> {
        write_json(&self.point_dir(p).join(format!("trial-{trial}.json")), m)?;
        let path = self.dir.join("trials.csv");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let s = &m.summary;
        writeln!(
            f,
            "{},{},{},{},{},{:.3},{},{},{:.3},{:.3},{},{},{},{:.3}",
            s_ms(p.heartbeat.0),
            s_ms(p.election_timeout.min),
            s_ms(p.election_timeout.max),
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
        .map_err(io(&path))
    }

    /// Trials of a point already saved (for resume).
    pub fn saved_trial(&self, p: &PlannedPoint, trial: usize) -> Option<RunMetrics> {
        read_json(&self.point_dir(p).join(format!("trial-{trial}.json"))).ok()
    }

    /// Saves a finished point and rewrites `results.json`.
    pub fn save_point(
        &self,
        p: &PlannedPoint,
        result: &PointResult,
        all: &SweepResults,
    ) -> Result<(), StoreError> {
        write_json(&self.point_dir(p).join("metrics.json"), &result.metrics)?;
        write_json(&self.results_path(), all)
    }
}

fn s_ms(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms.fract() == 0.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.3}")
    }
}

/// Header of `trials.csv`: parameter columns first.
pub const TRIALS_HEADER: &str = "heartbeat_ms,election_timeout_min_ms,election_timeout_max_ms,point,trial,observed_s,failovers_complete,failovers_incomplete,failover_p50_ms,failover_p99_ms,false_promotions,leader_changes,violations,wall_s\n";
