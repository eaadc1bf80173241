//! What the report is drawn from: the results, the recommendation as markdown and plain indices,
//! the profile text and the provenance of the run.

use std::path::{Path, PathBuf};

use super::plots::PlotError;
use crate::event::Event;
use crate::results::SweepResults;

/// Where and how the run was made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// electune's version.
    pub version: String,
    /// The sweep's random seed.
    pub seed: u64,
    /// The host it ran on.
    pub host: String,
    /// Start time (as the caller formats it, e.g. RFC 3339 UTC).
    pub started: String,
    /// End time.
    pub finished: String,
    /// Wall-clock duration in seconds.
    pub wall_seconds: f64,
    /// Points measured concurrently.
    pub parallelism: usize,
    /// Time scale the profile was run at (1.0 = real time).
    pub time_scale: f64,
}

/// No provenance (for exports that do not show it).
static NO_PROVENANCE: Provenance = Provenance {
    version: String::new(),
    seed: 0,
    host: String::new(),
    started: String::new(),
    finished: String::new(),
    wall_seconds: 0.0,
    parallelism: 0,
    time_scale: 1.0,
};

/// One trial's timeline to draw (normally the recommended point's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineInput<'a> {
    /// The trial's events.
    pub events: &'a [Event],
    /// The cluster members, one lane each, top to bottom.
    pub nodes: &'a [String],
    /// The window `(start_ns, end_ns)` to draw.
    pub window: (u64, u64),
}

/// Everything [`write_report`](super::write_report) needs. Point indices are positions in
/// `results.points`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportInput<'a> {
    /// The sweep's results.
    pub results: &'a SweepResults,
    /// The recommendation, as markdown (rendered in `report.md` as is and in HTML).
    pub recommendation_markdown: &'a str,
    /// The recommended point, if any.
    pub chosen: Option<usize>,
    /// The Pareto front (p99 failover vs false-promotion upper bound).
    pub pareto: &'a [usize],
    /// Whether each point meets the requirements; empty when unknown.
    pub feasible: &'a [bool],
    /// The resolved profile, as YAML.
    pub profile_yaml: &'a str,
    /// Provenance.
    pub provenance: &'a Provenance,
    /// The timeline of the recommended point, if one was kept.
    pub timeline: Option<TimelineInput<'a>>,
}

impl<'a> ReportInput<'a> {
    /// The results and their feasibility only, without a decision or provenance: what the data
    /// exports (`results.json`, `results.csv`) need while a sweep is still running.
    pub fn data(results: &'a SweepResults, feasible: &'a [bool]) -> Self {
        Self {
            results,
            recommendation_markdown: "",
            chosen: None,
            pareto: &[],
            feasible,
            profile_yaml: "",
            provenance: &NO_PROVENANCE,
            timeline: None,
        }
    }

    /// Every index names a point.
    pub(super) fn check_indices(&self) -> Result<(), ReportError> {
        let points = self.results.points.len();
        for (what, index) in self
            .chosen
            .iter()
            .map(|&i| ("chosen", i))
            .chain(self.pareto.iter().map(|&i| ("pareto", i)))
        {
            if index >= points {
                return Err(ReportError::BadIndex {
                    what,
                    index,
                    points,
                });
            }
        }
        Ok(())
    }
}

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A plot failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// A file could not be written.
    #[error("writing {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file could not be serialized.
    #[error("serializing {file}")]
    Json {
        /// The file's name.
        file: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
    /// An index in the input does not name a point.
    #[error("{what} index {index} is out of range ({points} points)")]
    BadIndex {
        /// Which input (`chosen` or `pareto`).
        what: &'static str,
        /// The index.
        index: usize,
        /// The number of points.
        points: usize,
    },
}

/// Maps an I/O error on `path` to [`ReportError::Io`].
pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError {
    let path = path.to_path_buf();
    move |source| ReportError::Io { path, source }
}
