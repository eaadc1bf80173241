//! The side-by-side comparison of election mechanisms (`cluster.protocol: [raft, lease]`): each
//! mechanism was swept on its own under the same environment and faults; this reads every sweep
//! back, takes the setting its recommendation chose (or, when none met the budget, the closest),
//! and sets the numbers a design review weighs next to each other: failover time, false
//! promotions, dual-writer time, stale writes, and what the mechanism costs its store.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::saved::{SavedError, SavedSweep};
use crate::recommend::{recommend, Budget};
use crate::report::plots::fmt_rate;

/// The file that marks a comparison's directory (each mechanism's sweep in a subdirectory).
pub const COMPARISON_MANIFEST: &str = "mechanisms.json";

/// Whether `dir` holds a comparison of mechanisms rather than one sweep.
pub fn is_comparison_dir(dir: &Path) -> bool {
    dir.join(COMPARISON_MANIFEST).is_file()
}

/// One mechanism's best setting and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MechanismRow {
    /// `raft`, `lease`.
    pub mechanism: String,
    /// The mechanism's own sweep directory.
    pub dir: PathBuf,
    /// Whether the setting met the budget (`false`: the closest point, shown for reference).
    pub feasible: bool,
    /// The setting, in the mechanism's own parameters (`heartbeat 100ms, election timeout
    /// 1s..2s`); `None` when no point could be judged.
    pub setting: Option<String>,
    /// Trials and measured failovers behind the row.
    pub trials: u64,
    pub failovers: u64,
    /// Failover time (t3 − t0), ms; `None` without a measured failover.
    pub failover_p50_ms: Option<f64>,
    pub failover_p99_ms: Option<f64>,
    /// False promotions counted, and the one-sided 95% upper bound per day (`None`: unbounded,
    /// no exposure).
    pub false_promotions: u64,
    pub false_promotions_per_day_upper: Option<f64>,
    /// Time two members acted as leader at once, ms, over `exposure_hours`.
    pub dual_leader_ms: f64,
    /// Writes by a deposed leader: rejected by fencing, or accepted as conflicts (no fencing).
    pub stale_writes_rejected: u64,
    pub stale_writes_accepted: u64,
    /// Store load (lease mechanisms): requests and writes per second.
    pub store_requests_per_second: Option<f64>,
    pub store_writes_per_second: Option<f64>,
    /// Cluster hours observed at the setting.
    pub exposure_hours: f64,
    /// Remarks (faults this mechanism does not have, an interrupted sweep).
    pub notes: Vec<String>,
}

/// The comparison of every mechanism of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The profile's name.
    pub profile: String,
    /// The budget each recommendation was judged against.
    pub max_false_promotions_per_day: f64,
    /// Where the sweeps ran (`process`, `sim`; several when mixed).
    pub backend: String,
    /// One row per mechanism, in the profile's order.
    pub rows: Vec<MechanismRow>,
}

/// A mechanism's sweep to compare: its name, directory, and remarks to carry into its row.
#[derive(Debug, Clone)]
pub struct MechanismSweep {
    pub mechanism: String,
    pub dir: PathBuf,
    pub notes: Vec<String>,
}

/// Reads every mechanism's sweep and builds the comparison.
pub fn compare(profile: &str, sweeps: &[MechanismSweep]) -> Result<Comparison, SavedError> {
    let mut rows = Vec::new();
    let mut budget_per_day = 0.0;
    let mut backends: Vec<&'static str> = Vec::new();
    for s in sweeps {
        let saved = SavedSweep::load(&s.dir)?;
        let b = saved.results.backend.name();
        if !backends.contains(&b) {
            backends.push(b);
        }
        let budget = Budget::from_requirements(&saved.manifest.profile.requirements);
        budget_per_day = budget.max_false_promotions_per_day;
        rows.push(row(s, &saved, &budget));
    }
    Ok(Comparison {
        profile: profile.to_string(),
        max_false_promotions_per_day: budget_per_day,
        backend: backends.join(", "),
        rows,
    })
}

fn row(s: &MechanismSweep, saved: &SavedSweep, budget: &Budget) -> MechanismRow {
    let rec = recommend(&saved.results, budget);
    let (index, feasible) = match (&rec.choice, &rec.infeasible) {
        (Some(c), _) => (Some(c.index), true),
        (None, Some(i)) => (i.closest, false),
        (None, None) => (None, false),
    };
    let point = index.and_then(|i| saved.results.points.iter().find(|p| p.index == i));
    let mut notes = s.notes.clone();
    if let Some(store) = &saved.results.store {
        notes.insert(0, format!("measured against {store}"));
    }
    if saved.results.points.len() < saved.manifest.points.len() {
        notes.push(format!(
            "{} of {} points measured (interrupted: resume it)",
            saved.results.points.len(),
            saved.manifest.points.len()
        ));
    }
    let Some(p) = point else {
        return MechanismRow {
            mechanism: s.mechanism.clone(),
            dir: s.dir.clone(),
            feasible: false,
            setting: None,
            trials: 0,
            failovers: 0,
            failover_p50_ms: None,
            failover_p99_ms: None,
            false_promotions: 0,
            false_promotions_per_day_upper: None,
            dual_leader_ms: 0.0,
            stale_writes_rejected: 0,
            stale_writes_accepted: 0,
            store_requests_per_second: None,
            store_writes_per_second: None,
            exposure_hours: 0.0,
            notes,
        };
    };
    let sum = &p.metrics.summary;
    let f = &sum.failover.failover;
    let measured = |v: f64| (f.count > 0).then_some(v);
    MechanismRow {
        mechanism: s.mechanism.clone(),
        dir: s.dir.clone(),
        feasible,
        setting: Some(p.timing.describe()),
        trials: p.metrics.trials,
        failovers: f.count,
        failover_p50_ms: measured(f.p50_ms),
        failover_p99_ms: measured(f.p99_ms),
        false_promotions: sum.false_promotions.count,
        false_promotions_per_day_upper: sum.false_promotions.upper_per_day,
        dual_leader_ms: sum.dual_leadership.total_ms,
        stale_writes_rejected: sum.dual_leadership.stale_writes.rejected,
        stale_writes_accepted: sum.dual_leadership.stale_writes.accepted_conflicts,
        store_requests_per_second: sum.store_load.as_ref().map(|l| l.requests_per_second),
        store_writes_per_second: sum.store_load.as_ref().map(|l| l.writes_per_second),
        exposure_hours: sum.exposure_hours,
        notes,
    }
}

impl Comparison {
    /// The comparison as Markdown: one table, then what each row rests on.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Mechanisms compared: {}\n\nEach mechanism was swept on its own under the same \
             members, links, faults and requirements; each row is the setting its recommendation \
             chose against the budget of {} false promotions per day (or, marked *closest*, the \
             point nearest to it when none met it). Failover times rest on the failovers counted; \
             the false-promotion bound is a one-sided 95% bound over the hours observed. \
             Backend: {}.\n\n",
            self.profile,
            fmt_rate(self.max_false_promotions_per_day),
            self.backend
        );
        out.push_str(
            "| mechanism | setting | failovers | failover p50 / p99 (ms) | false promotions (count, per day ≤ 95%) | dual-leader time (ms) | stale writes (rejected / accepted) | store requests / writes per s | hours observed |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|---|\n");
        let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.1}"));
        for r in &self.rows {
            let setting = match (&r.setting, r.feasible) {
                (Some(s), true) => s.clone(),
                (Some(s), false) => format!("{s} (closest)"),
                (None, _) => "no point measured".into(),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} / {} | {}, ≤ {} | {:.1} | {} / {} | {} | {:.2} |\n",
                r.mechanism,
                setting,
                r.failovers,
                ms(r.failover_p50_ms),
                ms(r.failover_p99_ms),
                r.false_promotions,
                r.false_promotions_per_day_upper
                    .map_or("∞".to_string(), fmt_rate),
                r.dual_leader_ms,
                r.stale_writes_rejected,
                r.stale_writes_accepted,
                match (r.store_requests_per_second, r.store_writes_per_second) {
                    (Some(q), Some(w)) => format!("{q:.2} / {w:.2}"),
                    _ => "no store".into(),
                },
                r.exposure_hours,
            ));
        }
        let notes: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| {
                r.notes
                    .iter()
                    .map(move |n| format!("- {}: {n}", r.mechanism))
            })
            .collect();
        if !notes.is_empty() {
            out.push_str("\n## Notes\n\n");
            out.push_str(&notes.join("\n"));
            out.push('\n');
        }
        out.push_str("\nEach mechanism's own report, with every point and the knobs to set: ");
        let links: Vec<String> = self
            .rows
            .iter()
            .map(|r| format!("[{}]({}/report.md)", r.mechanism, dir_name(&r.dir)))
            .collect();
        out.push_str(&links.join(", "));
        out.push_str(".\n");
        out
    }
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into())
}
