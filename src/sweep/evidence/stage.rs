//! The evidence stage of a sweep: every point's evidence, fastest first, then the choice
//! confirmed on fresh seeds (docs/design.md, "Evidence").

use std::sync::Mutex;
use std::time::Instant;

use super::{confirm, gather, EvidenceError, Gathering, Limits, Verdict};
use crate::recommend::feasibility::{assess_scaled, common_quantile, Assessment, Constraint};
use crate::results::{PointResult, SweepResults};
use crate::sim::Costs;
use crate::sweep::store::{Store, SweepManifest};

/// What [`gather_sweep`] did.
#[derive(Debug, Default, Clone)]
pub struct SweepEvidence {
    /// Points that got evidence this time.
    pub gathered: usize,
    /// Points left without it because a faster point met the budget first.
    pub skipped_slower: usize,
    /// Points that already had it (a resumed sweep).
    pub already: usize,
    /// Whether an interrupt cut it short.
    pub interrupted: bool,
}

/// Where and how long the evidence stage runs.
#[derive(Clone, Copy)]
pub struct Stage<'a> {
    pub manifest: &'a SweepManifest,
    pub store: &'a Store,
    pub costs: &'a Costs,
    /// Points gathered at once (at most one per core).
    pub parallel: usize,
    /// Gathering stops (trials cut short) at this instant.
    pub deadline: Instant,
}

/// Gathers evidence at every point of a finished sweep, fastest failover first (at the quantile
/// the ranking compares), `parallel` points at a time, saving each point as it completes; once
/// a point meets the budget, slower points are not started. `on_point` hears every finished
/// point.
pub fn gather_sweep(
    stage: &Stage,
    results: &mut SweepResults,
    stop_asked: &(dyn Fn() -> bool + Sync),
    on_point: &(dyn Fn(&PointResult, Verdict) + Sync),
) -> Result<SweepEvidence, EvidenceError> {
    let Stage {
        manifest,
        store,
        costs,
        parallel,
        deadline,
    } = *stage;
    let rates = results.fault_rates.clone();
    let budget = results.requirements.clone();
    // Points are taken in the order the ranking compares them: by the failover quantile that
    // every point still in the running bounds (`recommend::rank`).
    let assessed: Vec<(usize, bool, bool, Assessment)> = results
        .points
        .iter()
        .map(|p| {
            let a = assess_scaled(p, &budget_of(&budget), &rates, manifest.time_scale);
            // Evidence cannot change a point that is out for another reason.
            let lost = a.failures.iter().any(|f| {
                matches!(
                    f.constraint,
                    Constraint::Overloaded
                        | Constraint::Invariants
                        | Constraint::NoFailover
                        | Constraint::Disagrees
                )
            });
            (p.index, p.evidence.is_some(), lost, a)
        })
        .collect();
    let q = common_quantile(
        assessed
            .iter()
            .filter(|a| !a.2)
            .filter_map(|a| a.3.failover.as_ref()),
    );
    let at = |a: &Assessment| {
        a.failover
            .as_ref()
            .and_then(|f| f.quantile(q))
            .map_or(f64::INFINITY, |e| e.ms)
    };
    let mut order: Vec<(f64, usize)> = assessed
        .iter()
        .filter(|(_, has, lost, _)| !has && !lost)
        .map(|(i, _, _, a)| (at(a), *i))
        .collect();
    // A resumed sweep: a point that met the budget before still stops slower ones.
    let met_before = assessed
        .iter()
        .filter(|(_, has, _, a)| *has && a.feasible())
        .map(|(_, _, _, a)| at(a))
        .min_by(f64::total_cmp);
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let already = results
        .points
        .iter()
        .filter(|p| p.evidence.is_some())
        .count();
    let queue = Mutex::new(
        order
            .iter()
            .map(|o| o.1)
            .collect::<std::collections::VecDeque<_>>(),
    );
    let shared = Mutex::new((
        results.clone(),
        SweepEvidence {
            already,
            ..Default::default()
        },
        None::<EvidenceError>,
    ));
    let ranked_of: std::collections::BTreeMap<usize, f64> =
        order.iter().map(|o| (o.1, o.0)).collect();
    // The ranked failover quantile of the fastest point that met the budget so far.
    let met: Mutex<Option<f64>> = Mutex::new(met_before);
    let faster_met = |ranked: f64| met.lock().expect("met").is_some_and(|m| m < ranked);
    // One simulated trial per core: the trials' `parallel` counts clusters of processes, which
    // mostly wait; a simulator thread never does.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, cores) {
            scope.spawn(|| loop {
                if stop_asked() {
                    return;
                }
                let Some(idx) = queue.lock().expect("evidence queue").pop_front() else {
                    return;
                };
                let ranked = ranked_of[&idx];
                if met.lock().expect("met").is_some_and(|m| m <= ranked) {
                    shared.lock().expect("evidence").1.skipped_slower += 1;
                    continue;
                }
                let planned = manifest
                    .points
                    .iter()
                    .find(|p| p.index == idx)
                    .expect("planned point");
                let measured = {
                    let s = shared.lock().expect("evidence");
                    s.0.points.iter().find(|p| p.index == idx).cloned()
                };
                let Some(measured) = measured else { continue };
                let g = Gathering {
                    profile: &manifest.profile,
                    planned,
                    measured: &measured,
                    rates: &rates,
                    costs,
                    seed: manifest.seed ^ 0x0e71_de9c_e000_0000 ^ ((idx as u64) << 20),
                    limits: Limits {
                        deadline,
                        ..Limits::default()
                    },
                };
                let outcome = gather(&g, stop_asked, &|| faster_met(ranked));
                let mut s = shared.lock().expect("evidence");
                match outcome {
                    Ok((e, verdict)) => {
                        if e.stopped == "interrupted" {
                            s.1.interrupted = true;
                            return;
                        }
                        if verdict == Verdict::Meets {
                            let mut m = met.lock().expect("met");
                            *m = Some(m.map_or(ranked, |m| m.min(ranked)));
                        }
                        let mut point = measured;
                        point.evidence = Some(e);
                        s.0.points.retain(|p| p.index != idx);
                        s.0.points.push(point.clone());
                        s.0.points.sort_by_key(|p| p.index);
                        s.1.gathered += 1;
                        if let Err(err) = store.save_point(planned, &point, &s.0) {
                            s.2 = Some(err.into());
                            return;
                        }
                        on_point(&point, verdict);
                    }
                    Err(err) => {
                        s.2 = Some(err);
                        return;
                    }
                }
            });
        }
    });
    let (r, summary, error) = shared.into_inner().expect("evidence");
    *results = r;
    match error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Confirms the recommendation on fresh seeds ([`confirm`]): the chosen point's evidence is
/// run again and the point judged on the new run alone. When it no longer meets the budget, the
/// next choice is confirmed in turn, at most `tries` times. `on_confirm` hears each one.
pub fn confirm_choice(
    manifest: &SweepManifest,
    store: &Store,
    results: &mut SweepResults,
    costs: &Costs,
    tries: usize,
    stop_asked: &(dyn Fn() -> bool + Sync),
    on_confirm: &dyn Fn(&PointResult, Verdict),
) -> Result<bool, EvidenceError> {
    let budget = budget_of(&results.requirements);
    for _ in 0..tries {
        let rec = crate::recommend::recommend(results, &budget);
        let Some(choice) = rec.choice else {
            return Ok(false);
        };
        let Some(point) = results
            .points
            .iter()
            .find(|p| p.index == choice.index)
            .cloned()
        else {
            return Ok(false);
        };
        let Some(chosen_on) = point.evidence.clone().filter(|e| e.chosen_on.is_none()) else {
            // Confirmed already, or chosen without simulated evidence: nothing to re-run.
            return Ok(false);
        };
        let planned = manifest
            .points
            .iter()
            .find(|p| p.index == point.index)
            .expect("planned point");
        let rates = results.fault_rates.clone();
        let g = Gathering {
            profile: &manifest.profile,
            planned,
            measured: &point,
            rates: &rates,
            costs,
            seed: manifest.seed ^ 0x00c0_4f12_3000_0000 ^ ((point.index as u64) << 20),
            limits: Limits::default(),
        };
        let (e, verdict) = confirm(&g, &chosen_on, stop_asked)?;
        if e.stopped == "interrupted" {
            return Ok(true);
        }
        let mut confirmed = point;
        confirmed.evidence = Some(e);
        results.points.retain(|p| p.index != confirmed.index);
        results.points.push(confirmed.clone());
        results.points.sort_by_key(|p| p.index);
        store.save_point(planned, &confirmed, results)?;
        on_confirm(&confirmed, verdict);
        if verdict == Verdict::Meets {
            return Ok(false);
        }
    }
    Ok(false)
}

fn budget_of(req: &crate::profile::Requirements) -> crate::recommend::Budget {
    crate::recommend::Budget::from_requirements(req)
}
