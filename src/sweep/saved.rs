//! A sweep directory read back for its report. [`report`] is the one function `electune sweep`
//! (when it finishes), `electune report` and `electune recommend` call: it loads what the sweep
//! saved and hands it to [`crate::report::build`].

use std::path::{Path, PathBuf};

use super::scale::unscale_events;
use super::store::{read_json, Store, StoreError, SweepManifest};
use crate::event::{Event, EventKind};
use crate::report::{build, Built, Provenance, ReportError, ReportOptions, ReportSource};
use crate::results::{RunInfo, SweepResults};

/// Why a sweep directory could not be reported.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    /// No readable `sweep.json`.
    #[error("{} is not a sweep directory (no readable sweep.json)", dir.display())]
    NotASweep {
        dir: PathBuf,
        #[source]
        source: StoreError,
    },
    /// No readable `results.json`.
    #[error("{}: no results yet (results.json); run or --resume the sweep", dir.display())]
    NoResults {
        dir: PathBuf,
        #[source]
        source: StoreError,
    },
    /// Writing the report failed.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl SavedError {
    /// The directory given is not (yet) a reportable sweep: the user's input, not the
    /// environment, is at fault.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Report(_))
    }
}

/// What a sweep directory holds, read back.
#[derive(Debug)]
pub struct SavedSweep {
    /// The directory.
    pub dir: PathBuf,
    /// The plan and options (`sweep.json`).
    pub manifest: SweepManifest,
    /// The results so far (`results.json`).
    pub results: SweepResults,
    /// Timing facts (`run.json`; defaults when the sweep has not finished once).
    pub info: RunInfo,
    /// The resolved profile as saved (`profile.yaml`; empty when missing).
    pub profile_yaml: String,
}

impl SavedSweep {
    /// Reads the sweep in `dir`.
    pub fn load(dir: &Path) -> Result<Self, SavedError> {
        let store = Store::new(dir);
        let manifest =
            read_json(&store.manifest_path()).map_err(|source| SavedError::NotASweep {
                dir: dir.to_path_buf(),
                source,
            })?;
        let results = read_json(&store.results_path()).map_err(|source| SavedError::NoResults {
            dir: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            results,
            info: read_json(&dir.join("run.json")).unwrap_or_default(),
            profile_yaml: std::fs::read_to_string(dir.join("profile.yaml")).unwrap_or_default(),
        })
    }

    /// Decides and writes the report into the sweep's directory.
    pub fn report(&self, options: &ReportOptions) -> Result<Built, ReportError> {
        let timeline = |index: usize| self.trial_timeline(index);
        let source = ReportSource {
            results: &self.results,
            provenance: self.provenance(),
            profile_yaml: &self.profile_yaml,
            nodes: self
                .manifest
                .profile
                .members()
                .into_iter()
                .map(|m| m.0)
                .collect(),
            approximations: &self.info.approximations,
            timeline: &timeline,
        };
        build(&self.dir, &source, options)
    }

    fn provenance(&self) -> Provenance {
        let m = &self.manifest;
        Provenance {
            version: m.version.clone(),
            seed: m.seed,
            host: m.host.clone(),
            started: m.started.clone(),
            finished: self.info.end.clone(),
            wall_seconds: self.info.wall_seconds,
            parallelism: m.parallel,
            time_scale: m.time_scale,
        }
    }

    /// The first trial of the point with plan index `index`, in profile time, with the window
    /// from its first leader to its last event.
    fn trial_timeline(&self, index: usize) -> Option<(Vec<Event>, (u64, u64))> {
        let point = self.manifest.points.iter().find(|p| p.index == index)?;
        let path = Store::new(&self.dir)
            .trial_dir(point, 0)
            .join("events.jsonl");
        let text = std::fs::read_to_string(path).ok()?;
        let mut events: Vec<Event> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        events.sort_by_key(|e| e.t);
        let start = events
            .iter()
            .find(|e| matches!(e.kind, EventKind::Leader { .. }))?
            .t;
        unscale_events(&mut events, start, self.manifest.time_scale);
        let end = events.last()?.t;
        Some((events, (start, end)))
    }
}

/// Reads the sweep in `dir`, decides and writes its report: `recommendation.json`, `plots/`,
/// `results.csv`, `report.md`, `report.html`.
pub fn report(dir: &Path, options: &ReportOptions) -> Result<Built, SavedError> {
    Ok(SavedSweep::load(dir)?.report(options)?)
}
