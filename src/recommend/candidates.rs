//! The points a sweep screened in the simulator measures again on real processes: those the
//! decision could land on (docs/design.md, "Two backends").

use super::Recommendation;

/// Candidates in the order they are worth checking, at most `limit`: the choice, the
/// runner-up, the feasible points of the Pareto front (fastest first), then the choice's
/// neighbours in the grid (one step along either axis), which show whether the setting sits on
/// an edge where processes and simulation part.
pub fn candidates(rec: &Recommendation, limit: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut add = |i: usize| {
        if !out.contains(&i) {
            out.push(i);
        }
    };
    if let Some(c) = &rec.choice {
        add(c.index);
    }
    if let Some(r) = &rec.runner_up {
        add(r.index);
    }
    let mut front: Vec<_> = rec
        .pareto
        .iter()
        .filter(|p| rec.ranking.contains(&p.index))
        .collect();
    front.sort_by(|a, b| a.p99_failover_ms.total_cmp(&b.p99_failover_ms));
    for p in front {
        add(p.index);
    }
    if let Some(c) = &rec.choice {
        for n in neighbours(rec, c.index) {
            add(n);
        }
    }
    out.truncate(limit);
    out
}

/// The points one grid step away from `index`: the same heartbeat with the next shorter and
/// longer election timeout, and the same timeout with the next shorter and longer heartbeat.
fn neighbours(rec: &Recommendation, index: usize) -> Vec<usize> {
    let Some(me) = rec.assessments.iter().find(|a| a.index == index) else {
        return Vec::new();
    };
    let key_et = |a: &super::Assessment| (a.election_timeout.min, a.election_timeout.max);
    let mut same_hb: Vec<_> = rec
        .assessments
        .iter()
        .filter(|a| a.heartbeat == me.heartbeat)
        .collect();
    same_hb.sort_by_key(|a| key_et(a));
    let mut same_et: Vec<_> = rec
        .assessments
        .iter()
        .filter(|a| key_et(a) == key_et(me))
        .collect();
    same_et.sort_by_key(|a| a.heartbeat.0);
    let mut out = Vec::new();
    for line in [same_hb, same_et] {
        if let Some(pos) = line.iter().position(|a| a.index == index) {
            if pos > 0 {
                out.push(line[pos - 1].index);
            }
            if let Some(next) = line.get(pos + 1) {
                out.push(next.index);
            }
        }
    }
    out
}
