//! Tests of the sweep directory.

use super::*;

#[test]
fn a_finished_point_rewrites_results_json_and_csv_as_results_arrive() {
    let dir = std::env::temp_dir().join(format!("electune-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::new(&dir);
    let all = crate::report::testdata::sweep();
    let mut so_far = all.clone();
    so_far.points.truncate(2);
    for results in [&so_far, &all] {
        let last = results.points.last().unwrap();
        let p = PlannedPoint {
            index: last.index,
            timing: last.timing,
            faults: vec![],
            trials: vec![],
        };
        std::fs::create_dir_all(store.point_dir(&p)).unwrap();
        store.save_point(&p, last, results).unwrap();
        let back = store.read_results().unwrap().unwrap();
        assert_eq!(back.points.len(), results.points.len());
        let budget = crate::recommend::Budget::from_requirements(&results.requirements);
        let feasible = crate::recommend::recommend(results, &budget)
            .assessments
            .iter()
            .map(|a| a.feasible())
            .collect::<Vec<_>>();
        assert_eq!(
            std::fs::read_to_string(dir.join("results.csv")).unwrap(),
            crate::report::results_csv(results, &feasible),
            "the same feasibility the final report gives"
        );
        assert!(store.point_dir(&p).join("metrics.json").is_file());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A manifest of the lan profile's plan, for tests that write a sweep directory.
fn lan_manifest() -> SweepManifest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/lan.yaml");
    let profile = crate::profile::load(&path).unwrap();
    let (points, _) =
        super::super::plan::plan(&profile, &super::super::plan::GridOverride::default()).unwrap();
    SweepManifest {
        version: "test".into(),
        profile_file: path.display().to_string(),
        seed: profile.seed,
        profile,
        points,
        time_scale: 1.0,
        parallel: 8,
        quick: false,
        host: "test".into(),
        started: "now".into(),
        backend: crate::backend::BackendKind::Sim,
        processes: None,
    }
}

/// The metrics of an empty trial (what a row is made of).
fn empty_metrics() -> RunMetrics {
    let ctx = crate::analysis::RunContext {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        heartbeat: std::time::Duration::from_millis(50),
        election_timeout: crate::duration::DurationRange {
            min: std::time::Duration::from_millis(150),
            max: std::time::Duration::from_millis(300),
        },
        write_interval: std::time::Duration::from_millis(100),
        fencing: false,
        start_ns: 0,
        end_ns: 3_600_000_000_000,
    };
    crate::analysis::analyze(&[], &ctx)
}

fn temp_store(name: &str) -> (PathBuf, Store, SweepManifest) {
    let dir = std::env::temp_dir().join(format!("electune-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let manifest = lan_manifest();
    let store = Store::new(&dir);
    store.create(&manifest).unwrap();
    (dir, store, manifest)
}

#[test]
fn rows_from_many_parallel_trials_never_interleave() {
    let (dir, store, manifest) = temp_store("store-parallel");
    let store = std::sync::Arc::new(store);
    let m = std::sync::Arc::new(empty_metrics());
    let p = manifest.points[0].clone();
    let (writers, rows_each) = (16, 40);
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (store, m, p) = (store.clone(), m.clone(), p.clone());
            std::thread::spawn(move || {
                for r in 0..rows_each {
                    // Trial numbers past the plan are fine here: only the rows are checked.
                    store.save_trial(&p, w * rows_each + r, &m, 1.5).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let text = std::fs::read_to_string(store.trials_path()).unwrap();
    let fields = trials_header(&manifest).split(',').count();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), writers * rows_each);
    for row in &rows {
        assert_eq!(row.split(',').count(), fields, "interleaved row {row:?}");
    }
    let mut trials: Vec<usize> = rows
        .iter()
        .map(|r| r.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    trials.sort_unstable();
    assert_eq!(trials, (0..writers * rows_each).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_row_cut_short_by_a_failed_append_is_cut_off_before_the_next_row() {
    let (dir, store, manifest) = temp_store("store-cut");
    let m = empty_metrics();
    let (p, q) = (&manifest.points[0], &manifest.points[1]);
    store.save_trial(p, 0, &m, 1.0).unwrap();
    let whole = std::fs::read_to_string(store.trials_path()).unwrap();
    // What a full disk leaves after part of a row reached the file.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(store.trials_path())
        .unwrap();
    f.write_all(b"50,150,300,0,9,12.").unwrap();
    drop(f);
    store.save_trial(q, 0, &m, 1.0).unwrap();
    let text = std::fs::read_to_string(store.trials_path()).unwrap();
    assert!(text.starts_with(&whole), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    // And the directory resumes without a word: nothing to repair.
    let check = Store::new(&dir).check_for_resume(&manifest).unwrap();
    assert!(check.repairs.is_empty(), "{:?}", check.repairs);
    assert!(check.committed.contains(&(p.index, 0)) && check.committed.contains(&(q.index, 0)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parallel_writers_of_one_json_file_never_leave_a_mix() {
    let dir = std::env::temp_dir().join(format!("electune-json-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = std::sync::Arc::new(dir.join("results.json"));
    let threads: Vec<_> = (0..8)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                for r in 0..50 {
                    let v: Vec<u64> = vec![w * 1000 + r; 200 + (w as usize * 37)];
                    write_json(&path, &v).unwrap();
                    let back: Vec<u64> = read_json(&path).unwrap();
                    assert!(back.windows(2).all(|p| p[0] == p[1]));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "results.json")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
