//! A trial's timeline: one lane per node, leadership coloured by term, candidacies as thin bars,
//! faults shaded across the lanes they target (like Jepsen's nemesis bands), process exits marked.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw_err, palette, render, Figure, Plot, PlotError, FONT};
use crate::event::{Event, EventKind};

/// A node's time in one role, clipped to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpan {
    /// The node.
    pub node: String,
    /// The term of the `leader` / `candidate` / `pre_candidate` event that opened the span.
    pub term: u64,
    /// Start (ns, clipped to the window start).
    pub start_ns: u64,
    /// End (ns, clipped to the window end).
    pub end_ns: u64,
    /// True for a pre-vote round (only in [`TimelineData::candidates`]).
    pub pre_vote: bool,
    /// True when the span was still open at the window end.
    pub censored: bool,
}

/// A fault, clipped to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpan {
    /// The harness's fault id.
    pub id: u64,
    /// Its kind (`crash`, `pause`, ...).
    pub kind: String,
    /// The nodes it targets.
    pub targets: Vec<String>,
    /// Whether the profile expects it to cause a failover.
    pub hard: bool,
    /// Start (ns, clipped).
    pub start_ns: u64,
    /// End (ns, clipped; the window end when it never ended).
    pub end_ns: u64,
}

/// What a [`Mark`] marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// A process started.
    Start,
    /// A process exited or was killed.
    Exit,
    /// A member's long-lived connection to the store broke.
    StoreLost,
}

/// A point event on a node's lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The node.
    pub node: String,
    /// When (ns).
    pub t_ns: u64,
    /// What happened.
    pub kind: MarkKind,
    /// A short label (`kill -9`, `exit 0`, `start`).
    pub label: String,
}

/// Everything the timeline draws, derived from the events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineData {
    /// Leadership intervals, ordered by start.
    pub leaders: Vec<RoleSpan>,
    /// Candidate and pre-candidate intervals, ordered by start.
    pub candidates: Vec<RoleSpan>,
    /// Faults, ordered by start.
    pub faults: Vec<FaultSpan>,
    /// Process starts and exits of the nodes, ordered by time.
    pub marks: Vec<Mark>,
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Leader,
    Candidate,
    PreCandidate,
}

/// Derives the timeline's spans from `events` (any order; sorted stably by time first).
///
/// Events before the window still set the state it opens with; spans are clipped to
/// `window = (start_ns, end_ns)` and dropped when they lie outside it. A role span runs from its
/// `leader` / `candidate` / `pre_candidate` event to the node's next role event (`follower`,
/// `leader`, `candidate`, `pre_candidate`, `step_down`) or `process_exit`, or the window end.
/// Only events whose `src` is in `nodes` make role spans and marks.
pub fn timeline_data(events: &[Event], nodes: &[String], window: (u64, u64)) -> TimelineData {
    let (w0, w1) = (window.0, window.1.max(window.0));
    let mut evs: Vec<&Event> = events.iter().filter(|e| e.t <= w1).collect();
    evs.sort_by_key(|e| e.t);

    let mut open: Vec<(String, Role, u64, u64)> = Vec::new(); // node, role, term, start
    let mut leaders = Vec::new();
    let mut candidates = Vec::new();
    let mut marks = Vec::new();

    let mut close = |open: &mut Vec<(String, Role, u64, u64)>, node: &str, t: u64, censored| {
        if let Some(i) = open.iter().position(|o| o.0 == node) {
            let (node, role, term, start) = open.remove(i);
            let (s, e) = (start.max(w0), t.min(w1));
            if e < s || (e == s && t < w0) {
                return;
            }
            let span = RoleSpan {
                node,
                term,
                start_ns: s,
                end_ns: e,
                pre_vote: role == Role::PreCandidate,
                censored,
            };
            if role == Role::Leader {
                leaders.push(span);
            } else {
                candidates.push(span);
            }
        }
    };

    for &e in &evs {
        let is_node = nodes.contains(&e.src);
        let role = match &e.kind {
            EventKind::Leader { term } => Some(Some((Role::Leader, *term))),
            EventKind::Candidate { term, .. } => Some(Some((Role::Candidate, *term))),
            EventKind::PreCandidate { term, .. } => Some(Some((Role::PreCandidate, *term))),
            EventKind::Follower { .. } | EventKind::StepDown { .. } => Some(None),
            EventKind::ProcessExit { .. } => Some(None),
            _ => None,
        };
        if is_node {
            if let Some(next) = role {
                close(&mut open, &e.src, e.t, false);
                if let Some((r, term)) = next {
                    open.push((e.src.clone(), r, term, e.t));
                }
            }
            let mark = match &e.kind {
                EventKind::ProcessStart { .. } => Some((MarkKind::Start, "start".to_string())),
                EventKind::StoreConnectionLost => {
                    Some((MarkKind::StoreLost, "store conn lost".to_string()))
                }
                EventKind::ProcessExit { code, signal, .. } => Some((
                    MarkKind::Exit,
                    match (signal, code) {
                        (Some(s), _) => format!("kill -{s}"),
                        (None, Some(c)) => format!("exit {c}"),
                        (None, None) => "exit".to_string(),
                    },
                )),
                _ => None,
            };
            if let Some((kind, label)) = mark {
                if e.t >= w0 {
                    marks.push(Mark {
                        node: e.src.clone(),
                        t_ns: e.t,
                        kind,
                        label,
                    });
                }
            }
        }
    }
    let still_open: Vec<String> = open.iter().map(|o| o.0.clone()).collect();
    for node in still_open {
        close(&mut open, &node, w1, true);
    }
    // Fault intervals are paired exactly as the analysis pairs them, then clipped to the window.
    let faults = crate::analysis::fault_intervals(&evs, w1)
        .into_iter()
        .filter(|f| f.end_ns >= w0)
        .map(|f| FaultSpan {
            id: f.id,
            kind: f.kind,
            targets: f.targets,
            hard: f.hard,
            start_ns: f.start_ns.max(w0),
            end_ns: f.end_ns,
        })
        .collect();
    leaders.sort_by_key(|s| (s.start_ns, s.end_ns));
    candidates.sort_by_key(|s| (s.start_ns, s.end_ns));
    TimelineData {
        leaders,
        candidates,
        faults,
        marks,
    }
}

struct Timeline<'a> {
    data: TimelineData,
    nodes: &'a [String],
    window: (u64, u64),
}

/// Draws the timeline of `events` for `nodes` (one lane each, top to bottom in the given order)
/// over `window = (start_ns, end_ns)`; the time axis is seconds from the window start.
pub fn timeline(events: &[Event], nodes: &[String], window: (u64, u64)) -> Result<Plot, PlotError> {
    let fig = Timeline {
        data: timeline_data(events, nodes, window),
        nodes,
        window,
    };
    let height = 150 + 70 * nodes.len().max(1) as u32;
    render(&fig, 1200, height)
}

impl Figure for Timeline<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let n = self.nodes.len().max(1);
        let (w0, w1) = (self.window.0, self.window.1.max(self.window.0 + 1));
        let secs = |t: u64| t.saturating_sub(w0) as f64 / 1e9;
        let span_s = secs(w1);
        let (chart_area, legend_area) = root.split_vertically(root.dim_in_pixel().1 - 36);
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(
                "Timeline: leadership by term, candidacies, faults",
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..span_s, 0f64..n as f64)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("time since window start (s)")
            .x_labels(12)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(draw_err)?;

        // Lane i (nodes[i]) spans y in [n-1-i, n-i]: the first node on top.
        let lane = |node: &str| {
            self.nodes
                .iter()
                .position(|x| x == node)
                .map(|i| (n - 1 - i) as f64)
        };
        for i in 0..n {
            let y = i as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, y), (span_s, y)],
                    RGBColor(220, 220, 220),
                )))
                .map_err(draw_err)?;
        }

        // Faults first, so roles draw on top of the shading.
        for f in &self.data.faults {
            // A network fault names links (`n1->n3`): shade the lanes of their ends.
            let mut lanes: Vec<f64> = f
                .targets
                .iter()
                .flat_map(|t| crate::analysis::target_nodes(t))
                .filter_map(lane)
                .collect();
            lanes.sort_by(f64::total_cmp);
            lanes.dedup();
            if lanes.is_empty() {
                lanes = (0..n).map(|i| i as f64).collect();
            }
            let colour = if f.hard {
                RGBColor(214, 39, 40).mix(0.16)
            } else {
                RGBColor(255, 160, 0).mix(0.18)
            };
            // At least 0.3% of the window wide, so short pauses stay visible.
            let x0 = secs(f.start_ns);
            let x1 = secs(f.end_ns).max(x0 + span_s * 0.003);
            chart
                .draw_series(
                    lanes
                        .iter()
                        .map(|&lo| Rectangle::new([(x0, lo), (x1, lo + 1.0)], colour.filled())),
                )
                .map_err(draw_err)?;
            let top = lanes.iter().cloned().fold(f64::MIN, f64::max) + 1.0;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{}{}", f.kind, if f.hard { " (hard)" } else { "" }),
                    (x0, top - 0.04),
                    (FONT, 12)
                        .into_font()
                        .color(&RGBColor(120, 20, 20))
                        .pos(Pos::new(HPos::Left, VPos::Top)),
                )))
                .map_err(draw_err)?;
        }

        for s in &self.data.candidates {
            let Some(lo) = lane(&s.node) else { continue };
            let (x0, x1) = (secs(s.start_ns), secs(s.end_ns));
            let style = if s.pre_vote {
                RGBColor(90, 90, 90).stroke_width(1)
            } else {
                palette(s.term as usize).mix(0.55).filled()
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, lo + 0.44), (x1, lo + 0.56)],
                    style,
                )))
                .map_err(draw_err)?;
        }

        let label_min = span_s * 0.03;
        for s in &self.data.leaders {
            let Some(lo) = lane(&s.node) else { continue };
            let (x0, x1) = (secs(s.start_ns), secs(s.end_ns));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, lo + 0.25), (x1, lo + 0.75)],
                    palette(s.term as usize).filled(),
                )))
                .map_err(draw_err)?;
            if x1 - x0 >= label_min {
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("term {}", s.term),
                        ((x0 + x1) / 2.0, lo + 0.5),
                        (FONT, 12)
                            .into_font()
                            .color(&WHITE)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    )))
                    .map_err(draw_err)?;
            }
        }

        for m in &self.data.marks {
            let Some(lo) = lane(&m.node) else { continue };
            let x = secs(m.t_ns);
            match m.kind {
                MarkKind::Exit => {
                    chart
                        .draw_series(std::iter::once(Cross::new(
                            (x, lo + 0.5),
                            7,
                            RGBColor(180, 0, 0).stroke_width(3),
                        )))
                        .map_err(draw_err)?;
                }
                MarkKind::Start => {
                    chart
                        .draw_series(std::iter::once(TriangleMarker::new(
                            (x, lo + 0.5),
                            6,
                            RGBColor(30, 140, 30).filled(),
                        )))
                        .map_err(draw_err)?;
                }
                MarkKind::StoreLost => {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (x, lo + 0.5),
                            5,
                            RGBColor(200, 120, 0).stroke_width(2),
                        )))
                        .map_err(draw_err)?;
                }
            }
            chart
                .draw_series(std::iter::once(Text::new(
                    m.label.clone(),
                    (x, lo + 0.2),
                    (FONT, 11)
                        .into_font()
                        .color(&RGBColor(60, 60, 60))
                        .pos(Pos::new(HPos::Center, VPos::Top)),
                )))
                .map_err(draw_err)?;
        }

        // Node names, left of their lanes.
        for (i, node) in self.nodes.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, (n - 1 - i) as f64 + 0.5));
            chart_area
                .draw(&Text::new(
                    node.clone(),
                    (px - 10, py),
                    (FONT, 15)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Right, VPos::Center)),
                ))
                .map_err(draw_err)?;
        }

        draw_legend(&legend_area)
    }
}

fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
    let text = |s: &str, x: i32| {
        Text::new(
            s.to_string(),
            (x, 18),
            (FONT, 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )
    };
    let mut x = 80;
    let mut item = |area: &DrawingArea<DB, Shift>,
                    swatch: &dyn Fn(i32) -> Result<(), PlotError>,
                    label: &str,
                    width: i32|
     -> Result<(), PlotError> {
        swatch(x)?;
        area.draw(&text(label, x + 36)).map_err(draw_err)?;
        x += width;
        Ok(())
    };
    let rect = |x: i32, y0: i32, y1: i32, style: ShapeStyle| {
        area.draw(&Rectangle::new([(x, y0), (x + 20, y1)], style))
            .map_err(draw_err)
    };
    item(
        area,
        &|x| {
            area.draw(&Rectangle::new(
                [(x, 10), (x + 10, 26)],
                palette(1).filled(),
            ))
            .map_err(draw_err)?;
            rect(x + 10, 10, 26, palette(2).filled())
        },
        "leader (colour = term)",
        200,
    )?;
    item(
        area,
        &|x| rect(x, 15, 21, palette(0).mix(0.55).filled()),
        "candidate",
        120,
    )?;
    item(
        area,
        &|x| rect(x, 15, 21, RGBColor(90, 90, 90).stroke_width(1)),
        "pre-candidate",
        140,
    )?;
    item(
        area,
        &|x| rect(x, 8, 28, RGBColor(214, 39, 40).mix(0.16).filled()),
        "hard fault",
        120,
    )?;
    item(
        area,
        &|x| rect(x, 8, 28, RGBColor(255, 160, 0).mix(0.18).filled()),
        "soft fault",
        120,
    )?;
    item(
        area,
        &|x| {
            area.draw(&Cross::new(
                (x + 10, 18),
                6,
                RGBColor(180, 0, 0).stroke_width(3),
            ))
            .map_err(draw_err)
        },
        "process exit",
        130,
    )?;
    item(
        area,
        &|x| {
            area.draw(&TriangleMarker::new(
                (x + 10, 18),
                6,
                RGBColor(30, 140, 30).filled(),
            ))
            .map_err(draw_err)
        },
        "process start",
        130,
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::check;
    use super::*;

    const MS: u64 = 1_000_000;

    fn ev(t_ms: u64, src: &str, kind: EventKind) -> Event {
        Event::new(t_ms * MS, src, kind)
    }

    fn nodes() -> Vec<String> {
        ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect()
    }

    /// n1 leads term 1; n1 is crashed at 1000ms; n2 pre-votes, stands, wins term 2; n1 restarts
    /// and follows; n3 briefly stands in term 3 during a soft pause and n2 keeps leading.
    fn events() -> Vec<Event> {
        use EventKind::*;
        let r = || "t".to_string();
        vec![
            ev(
                100,
                "n1",
                Candidate {
                    term: 1,
                    reason: r(),
                },
            ),
            ev(120, "n1", Leader { term: 1 }),
            ev(
                1000,
                "harness",
                FaultStart {
                    id: 1,
                    kind: "crash".into(),
                    targets: vec!["n1".into()],
                    expect_failover: true,
                },
            ),
            ev(
                1000,
                "n1",
                ProcessExit {
                    pid: 7,
                    code: None,
                    signal: Some(9),
                },
            ),
            ev(
                1200,
                "n2",
                PreCandidate {
                    term: 1,
                    reason: r(),
                },
            ),
            ev(
                1210,
                "n2",
                Candidate {
                    term: 2,
                    reason: r(),
                },
            ),
            ev(1230, "n2", Leader { term: 2 }),
            ev(
                1500,
                "harness",
                FaultEnd {
                    id: 1,
                    kind: "crash".into(),
                },
            ),
            ev(1500, "n1", ProcessStart { pid: 8 }),
            ev(1505, "n3", StoreConnectionLost),
            ev(
                1510,
                "n1",
                Follower {
                    term: 2,
                    leader: Some("n2".into()),
                    reason: r(),
                },
            ),
            ev(
                2000,
                "harness",
                FaultStart {
                    id: 2,
                    kind: "pause".into(),
                    targets: vec!["n2".into(), "n3".into()],
                    expect_failover: false,
                },
            ),
            ev(
                2100,
                "n3",
                Candidate {
                    term: 3,
                    reason: r(),
                },
            ),
            ev(
                2150,
                "n3",
                Follower {
                    term: 3,
                    leader: None,
                    reason: r(),
                },
            ),
            ev(
                2200,
                "harness",
                FaultEnd {
                    id: 2,
                    kind: "pause".into(),
                },
            ),
            ev(
                2900,
                "n2",
                StepDown {
                    term: 2,
                    reason: r(),
                },
            ),
            ev(2950, "n2", Leader { term: 4 }),
        ]
    }

    #[test]
    fn derives_leader_candidate_fault_and_mark_spans() {
        let d = timeline_data(&events(), &nodes(), (0, 3000 * MS));
        let leaders: Vec<_> = d
            .leaders
            .iter()
            .map(|s| {
                (
                    s.node.as_str(),
                    s.term,
                    s.start_ns / MS,
                    s.end_ns / MS,
                    s.censored,
                )
            })
            .collect();
        assert_eq!(
            leaders,
            vec![
                ("n1", 1, 120, 1000, false),
                ("n2", 2, 1230, 2900, false),
                ("n2", 4, 2950, 3000, true),
            ]
        );
        let cands: Vec<_> = d
            .candidates
            .iter()
            .map(|s| {
                (
                    s.node.as_str(),
                    s.term,
                    s.start_ns / MS,
                    s.end_ns / MS,
                    s.pre_vote,
                )
            })
            .collect();
        assert_eq!(
            cands,
            vec![
                ("n1", 1, 100, 120, false),
                ("n2", 1, 1200, 1210, true),
                ("n2", 2, 1210, 1230, false),
                ("n3", 3, 2100, 2150, false),
            ]
        );
        let faults: Vec<_> = d
            .faults
            .iter()
            .map(|f| (f.kind.as_str(), f.hard, f.start_ns / MS, f.end_ns / MS))
            .collect();
        assert_eq!(
            faults,
            vec![("crash", true, 1000, 1500), ("pause", false, 2000, 2200)]
        );
        let marks: Vec<_> = d
            .marks
            .iter()
            .map(|m| (m.node.as_str(), m.kind, m.t_ns / MS, m.label.as_str()))
            .collect();
        assert_eq!(
            marks,
            vec![
                ("n1", MarkKind::Exit, 1000, "kill -9"),
                ("n1", MarkKind::Start, 1500, "start"),
                ("n3", MarkKind::StoreLost, 1505, "store conn lost")
            ]
        );
    }

    #[test]
    fn spans_are_clipped_to_the_window_and_state_carries_in() {
        // Window starts mid-way through n1's leadership and the crash fault.
        let d = timeline_data(&events(), &nodes(), (500 * MS, 1220 * MS));
        assert_eq!(d.leaders.len(), 1);
        assert_eq!(
            (d.leaders[0].start_ns / MS, d.leaders[0].end_ns / MS),
            (500, 1000)
        );
        assert_eq!(
            (d.faults[0].start_ns / MS, d.faults[0].end_ns / MS),
            (1000, 1220),
            "a fault still open at the window end runs to it"
        );
        let last = d.candidates.last().unwrap();
        assert_eq!(
            (last.term, last.end_ns / MS, last.censored),
            (2, 1220, true)
        );
        assert!(d.candidates.iter().all(|c| c.start_ns >= 500 * MS));
    }

    #[test]
    fn renders_lanes_labels_and_one_rect_per_leader_interval() {
        let plot = timeline(&events(), &nodes(), (0, 3000 * MS)).unwrap();
        check(
            &plot,
            &[
                "n1",
                "n2",
                "n3",
                "crash (hard)",
                "pause",
                "time since window start (s)",
                "term 1",
                "term 2",
                "kill -9",
            ],
        );
        // Each leader interval is a full-opacity rect in its term's colour.
        for term in [1usize, 2, 4] {
            let c = palette(term);
            let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
            let rects = plot
                .svg
                .lines()
                .filter(|l| l.contains("<rect") && l.contains(&fill) && !l.contains("opacity=\"0."))
                .count();
            // The legend draws swatches in palette(1) and palette(2).
            let legend = usize::from(term == 1 || term == 2);
            assert_eq!(rects, 1 + legend, "term {term}: {fill}");
        }
    }
}
