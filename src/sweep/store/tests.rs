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
