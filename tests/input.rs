//! The command line given input it cannot use as written (issue 22): durations too long to run,
//! repeated grid values, options that do not apply to the chosen backend, warnings about a grid
//! that is not the one being run, a nested protocol list, and the resume of a comparison that
//! must plan its remaining mechanisms as the first ones were planned.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs electune in the repository (bounded: killed after `limit`) and returns its exit code
/// (-1 when killed) and stderr.
fn electune_within(args: &[&str], env: &[(&str, &str)], limit: Duration) -> (i32, String) {
    use std::io::Read;
    let t = Instant::now();
    let mut child = Command::new(common::bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (code, reader.join().unwrap())
}

fn electune(args: &[&str]) -> (i32, String) {
    electune_within(args, &[], Duration::from_secs(60))
}

/// A fresh temporary directory holding `file` with `text`; returns the file's path.
fn write_profile(dir: &Path, file: &str, text: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `protocol: [[raft, lease]]` (or a list item that is itself a list) is named with its place
/// and what is valid, not serde_yaml's "expected a YAML tag".
#[test]
fn a_nested_protocol_list_names_the_field_and_what_is_valid() {
    let dir = common::temp_dir("input-nested");
    let cases = [
        "name: x\ncluster:\n  protocol: [[raft, lease]]\n  nodes: 3\n",
        "name: x\ncluster:\n  protocol:\n    - [raft, lease]\n  nodes: 3\n",
    ];
    for (i, yaml) in cases.into_iter().enumerate() {
        let path = write_profile(&dir, &format!("n{i}.yaml"), yaml);
        let (code, err) = electune(&["check", &path]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("n{i}.yaml:")), "{err}");
        assert!(err.contains("field `cluster.protocol[0]`:"), "{err}");
        assert!(
            err.contains("a mechanism name (`raft`, `lease` or `etcd-election`)"),
            "{err}"
        );
        assert!(err.contains("a flat list"), "{err}");
        assert!(!err.contains("YAML tag"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
