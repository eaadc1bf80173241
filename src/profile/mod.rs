//! Profiles: YAML descriptions of an environment (nodes and regions, links, faults, requirements)
//! and a default sweep. Parsing is strict: unknown fields and bad values are errors that name the
//! file, the field, the line and column, and what would be valid.

mod error;
mod fault;
mod fault_checks;
mod limits;
mod locate;
mod mechanisms;
mod schema;
mod session;
#[cfg(test)]
mod session_tests;
mod store;
mod sweep_checks;
mod validate;

pub use error::{FieldError, ProfileError};
pub use fault::*;
pub use mechanisms::Mechanisms;
pub use schema::*;
pub use session::SessionTiming;
pub use validate::{
    check_point, rounded_election_timeout, sweep_pairs, validate_timing, ETCD_ROUNDING,
};

use error::Located;

use std::path::Path;

/// Reads, parses and validates a profile file.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    use std::io::Read;
    let file = path.display().to_string();
    let io = |e: std::io::Error| ProfileError::Io {
        file: file.clone(),
        message: e.to_string(),
    };
    // Bounded: a profile is a few KB; /dev/zero or a log file given by mistake must not be read
    // whole.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(ProfileError::Io {
            file,
            message: format!(
                "larger than {} KiB; a profile is a few KB of YAML (is this the right file?)",
                MAX_PROFILE_BYTES / 1024
            ),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| ProfileError::Io {
        file: file.clone(),
        message: format!(
            "not UTF-8 text (invalid byte at offset {}); a profile is YAML",
            e.utf8_error().valid_up_to()
        ),
    })?;
    parse(&text, &file)
}

/// Largest profile accepted (bytes).
pub const MAX_PROFILE_BYTES: u64 = 1024 * 1024;
/// Deepest nesting accepted (flow brackets, block sequences and indentation levels together); the
/// deepest real profile nests 4 levels.
pub const MAX_PROFILE_DEPTH: usize = 32;

/// Rejects hostile YAML before the parser sees it: nesting deeper than [`MAX_PROFILE_DEPTH`] (which
/// the parser handles slowly) and anchors or aliases (`&a`, `*a`, which can expand exponentially;
/// a profile never needs them). Quoted strings and comments are skipped.
fn check_limits(text: &str, file: &str) -> Result<(), ProfileError> {
    let err = |line: usize, column: usize, message: String| {
        ProfileError::Invalid(Located {
            file: file.to_string(),
            field: String::new(),
            line: Some(line),
            column: Some(column),
            message,
        })
    };
    let mut flow = 0usize;
    for (i, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let indent = chars.iter().take_while(|c| **c == ' ').count();
        let mut block = indent / 2;
        let mut j = indent;
        while j + 1 < chars.len() && chars[j] == '-' && chars[j + 1] == ' ' {
            block += 1;
            j += 2;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (k, &c) in chars.iter().enumerate() {
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '\'' | '"' if matches!(prev, ' ' | '[' | '{' | ',' | ':') => quote = Some(c),
                    '#' if prev == ' ' || k == 0 => break,
                    '[' | '{' => {
                        flow += 1;
                        if flow + block > MAX_PROFILE_DEPTH {
                            return Err(err(
                                i + 1,
                                k + 1,
                                format!("nested deeper than {MAX_PROFILE_DEPTH} levels; a profile needs a handful"),
                            ));
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    '&' | '*'
                        if matches!(prev, ' ' | '[' | '{' | ',' | ':' | '-')
                            && chars
                                .get(k + 1)
                                .is_some_and(|n| n.is_alphanumeric() || *n == '_') =>
                    {
                        return Err(err(
                            i + 1,
                            k + 1,
                            "YAML anchors and aliases (`&name`, `*name`) are not accepted in profiles; write the value out".into(),
                        ));
                    }
                    _ => {}
                },
            }
            prev = c;
        }
        if block > MAX_PROFILE_DEPTH {
            return Err(err(
                i + 1,
                1,
                format!("nested deeper than {MAX_PROFILE_DEPTH} levels; a profile needs a handful"),
            ));
        }
    }
    Ok(())
}

/// Parses and validates profile text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Profile, ProfileError> {
    check_limits(text, file)?;
    let profile: Profile =
        serde_yaml::from_str(text).map_err(|e| ProfileError::from_yaml(file, text, &e))?;
    validate::validate(&profile).map_err(|v| v.at(file, text))?;
    if profile.cluster.protocol.is_comparison() {
        // Each mechanism takes its own settings when the comparison narrows the profile.
        return Ok(profile);
    }
    lease_defaults(profile, text).map_err(|v| v.at(file, text))
}

/// A lease profile has no Raft settings: `timing` and `cluster.raft` are refused (unless they
/// only repeat what a lease profile implies, as a profile written back by electune does), and
/// `timing` becomes the lease's equivalent ([`LeaseTiming::equivalent_timing`]), which the
/// mechanism-independent layers use.
fn lease_defaults(mut profile: Profile, text: &str) -> Result<Profile, FieldError> {
    let Some(equivalent) = profile.lease_timing() else {
        return Ok(profile);
    };
    let value: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_default();
    let written = |path: &[&str]| {
        let mut v = &value;
        path.iter().all(|k| match v.get(*k) {
            Some(next) => {
                v = next;
                true
            }
            None => false,
        })
    };
    let etcd = profile.is_etcd_election();
    if written(&["timing"]) && profile.timing != equivalent {
        let what = if etcd {
            format!(
                "an etcd-election profile takes its timing from `cluster.session`; remove `timing` \
                 (heartbeat and election timeout are Raft's; here they stand for the keep-alive \
                 interval TTL/3, {}, and the takeover window TTL..TTL + 500ms, {})",
                equivalent.heartbeat, equivalent.election_timeout
            )
        } else {
            format!(
                "a lease profile takes its timing from `cluster.lease`; remove `timing` (heartbeat \
                 and election timeout are Raft's; here they stand for RetryPeriod, {}, and the \
                 takeover window LeaseDuration..LeaseDuration + 2.2 × RetryPeriod, {})",
                equivalent.heartbeat, equivalent.election_timeout
            )
        };
        return Err(FieldError::new("timing", what));
    }
    if written(&["cluster", "raft"]) && profile.cluster.raft != RaftOptions::default() {
        return Err(FieldError::new(
            "cluster.raft",
            format!(
                "Raft options do not apply to `protocol: {}`; remove `raft`",
                profile.cluster.protocol.name()
            ),
        ));
    }
    profile.timing = equivalent;
    Ok(profile)
}

impl Profile {
    /// What is legal but probably not what the user wants about the profile as `electune run`
    /// runs it (its members, its `timing`, its session TTL), worded for stderr. What a sweep
    /// grid runs is warned about where the grid is planned ([`crate::sweep::plan::plan`]), about
    /// the grid being run.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = self.member_warnings();
        out.extend(session::ttl_warning(self));
        out.extend(validate::flavor_warnings(self));
        out
    }

    /// The warnings that hold whatever runs the profile, a sweep's grid included: its members.
    pub fn member_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.members().len() == 2 {
            out.push(
                "a 2-member cluster needs both members for a quorum: while either is down no leader \
                 can be elected, so a crashed leader is replaced only after it restarts, and failover \
                 times measure the restart (restart_after), not the election timeouts. That is what a \
                 2-node etcd does; measuring it is fine, but it tolerates no failure: 3 members do"
                    .to_string(),
            );
        }
        out
    }

    /// Stated occurrences per day of each fault kind aimed at the leader: a fault targeting
    /// `leader` counts whole, one targeting `random` counts 1/members; its rate is `occurs`. A
    /// fault without `occurs` states no rate and is absent (as are kinds that never aim at the
    /// leader): its false-promotion term then scales by the rate it was injected at, measured,
    /// and says so ("as injected"), instead of calling the injection rate "stated".
    pub fn fault_rates_per_day(&self) -> std::collections::BTreeMap<String, f64> {
        let members = self.members().len().max(1) as f64;
        let mut out = std::collections::BTreeMap::new();
        for f in &self.faults {
            let share = match f.target.as_str() {
                "leader" => 1.0,
                "random" => 1.0 / members,
                // A fault on links happens at its stated rate; counting every occurrence as one
                // on the leader's links overstates its share, never understates it.
                t if t.starts_with("links(") => 1.0,
                _ => continue,
            };
            let Some(rate) = f
                .occurs
                .as_deref()
                .and_then(|e| Every::parse(e).ok())
                .map(|e| e.per_day())
            else {
                continue;
            };
            let kind = serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            *out.entry(kind).or_insert(0.0) += rate * share;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_parse() {
        for name in [
            "lan",
            "wan",
            "gc-pauses",
            "flaky-network",
            "k8s-controller",
            "etcd-lock",
        ] {
            let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join(format!("profiles/{name}.yaml"));
            let p = load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, name);
        }
    }

    #[test]
    fn shipped_experiments_parse_with_their_flavors() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let p = load(&path).unwrap_or_else(|e| panic!("{e}"));
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if p.has_store() {
                // An experiment of a store mechanism has no Raft flavor to check.
                assert!(name.starts_with(&p.cluster.protocol.name()), "{name}");
                seen += 1;
                continue;
            }
            let want = match name.as_str() {
                "raft-fig16" => Flavor::Thesis,
                n => Flavor::ALL
                    .into_iter()
                    .find(|f| n.ends_with(&format!("-{f}")))
                    .unwrap_or_else(|| panic!("{n}: which flavor?")),
            };
            assert_eq!(p.cluster.raft.flavor, want, "{name}");
            seen += 1;
        }
        assert!(seen >= 5);
    }

    fn with(raft: &str, timing: &str, sweep: &str) -> String {
        format!(
            "name: x\ncluster:\n  nodes: 3\n  raft: {{ {raft} }}\ntiming: {{ {timing} }}\n{sweep}"
        )
    }

    fn err_of(text: &str) -> String {
        parse(text, "p.yaml").unwrap_err().to_string()
    }

    #[test]
    fn flavor_errors_name_the_field_its_place_and_what_is_valid() {
        let t = "heartbeat: 50ms, election_timeout: 150ms..200ms";
        // The thesis takes any range; etcd and hashicorp draw [T, 2T) themselves.
        assert!(parse(&with("flavor: thesis", t, ""), "p.yaml").is_ok());
        let err = err_of(&with("flavor: etcd", t, ""));
        assert!(err.starts_with("p.yaml:5:"), "{err}");
        assert!(err.contains("field `timing.election_timeout`"), "{err}");
        assert!(err.contains("write 150ms..300ms"), "{err}");
        // The default flavor is etcd.
        assert_eq!(err_of(&with("", t, "")), err);

        let sweep = "sweep:\n  heartbeat: [50ms]\n  election_timeout: [500ms..1s, 1s..3s]\n";
        let err = err_of(&with(
            "flavor: hashicorp",
            "heartbeat: 50ms, election_timeout: 1s..2s",
            sweep,
        ));
        assert!(
            err.starts_with("p.yaml:8:33: field `sweep.election_timeout[1]`"),
            "{err}"
        );
        assert!(
            err.contains("hashicorp/raft randomTimeout") && err.contains("1s..2s"),
            "{err}"
        );

        let err = err_of(&with("flavor: zookeeper", t, ""));
        assert!(err.starts_with("p.yaml:4:"), "{err}");
        assert!(err.contains("flavor"), "{err}");
        assert!(err.contains("`etcd`, `hashicorp`, `thesis`"), "{err}");

        let t = "heartbeat: 50ms, election_timeout: 150ms..300ms";
        let err = err_of(&with("flavor: hashicorp, check_quorum: false", t, ""));
        assert!(err.starts_with("p.yaml:4:"), "{err}");
        assert!(err.contains("field `cluster.raft.check_quorum`"), "{err}");
        assert!(err.contains("checkLeaderLease"), "{err}");
        let err = err_of(&with("leader_stickiness: true, check_quorum: false", t, ""));
        assert!(
            err.contains("field `cluster.raft.leader_stickiness`"),
            "{err}"
        );
        assert!(err.contains("set `check_quorum: true`"), "{err}");
        // An etcd minimum below five heartbeats: etcd's Config.Validate refuses it.
        let err = err_of(&with(
            "",
            "heartbeat: 100ms, election_timeout: 150ms..300ms",
            "",
        ));
        assert!(
            err.contains("5 times --heartbeat-interval") && err.contains("at least 500ms"),
            "{err}"
        );
    }

    #[test]
    fn flavor_warnings_say_what_runs() {
        use crate::sweep::plan::{plan, GridOverride};
        let sweep =
            "sweep:\n  heartbeat: [100ms, 300ms]\n  election_timeout: [1.6s..3.2s, 3s..6s]\n";
        let t = "heartbeat: 300ms, election_timeout: 1.6s..3.2s";
        let grid = |p: &Profile| plan(p, &GridOverride::default()).unwrap().1;
        // The profile's warnings are about what `run` runs; the grid's come from its plan.
        let p = parse(&with("flavor: etcd", t, sweep), "p.yaml").unwrap();
        let w = p.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("field `timing.election_timeout`"), "{w:?}");
        assert!(w[0].contains("runs as 1.5s..3s"), "{w:?}");
        let w = grid(&p);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("field `sweep`"), "{w:?}");
        assert!(
            w[0].contains("1 point(s)")
                && w[0].contains("heartbeat 300ms with 1.6s..3.2s runs as 1.5s..3s"),
            "{w:?}"
        );
        let p = parse(&with("flavor: hashicorp", t, sweep), "p.yaml").unwrap();
        assert!(p.warnings().is_empty(), "{:?}", p.warnings());
        let w = grid(&p);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("field `sweep.heartbeat`"), "{w:?}");
        assert!(w[0].contains("[T/10, T/5)"), "{w:?}");
        let p = parse(&with("flavor: thesis", t, sweep), "p.yaml").unwrap();
        assert!(p.warnings().is_empty());
        assert!(grid(&p).is_empty());
    }

    #[test]
    fn lease_profiles_are_checked_as_client_go_checks_them() {
        let lease = |l: &str, extra: &str| {
            format!("name: x\ncluster:\n  protocol: lease\n  nodes: 3\n  lease: {{ {l} }}\n{extra}")
        };
        let ok = "lease_duration: 15s, renew_deadline: 10s, retry_period: 2s";
        let p = parse(&lease(ok, ""), "p.yaml").unwrap();
        assert!(p.is_lease());
        assert_eq!(p.timing.heartbeat.0, std::time::Duration::from_secs(2));
        assert_eq!(
            p.timing.election_timeout.to_string(),
            "15s..19.4s",
            "the takeover window"
        );
        let err = err_of(&lease(
            "lease_duration: 10s, renew_deadline: 10s, retry_period: 2s",
            "",
        ));
        assert!(
            err.starts_with("p.yaml:5:") && err.contains("field `cluster.lease.lease_duration`"),
            "{err}"
        );
        assert!(
            err.contains("LeaseDuration > RenewDeadline > 1.2 × RetryPeriod"),
            "{err}"
        );
        let err = err_of(&lease(
            "lease_duration: 15s, renew_deadline: 2s, retry_period: 2s",
            "",
        ));
        assert!(err.contains("field `cluster.lease.retry_period`"), "{err}");
        let err = err_of("name: x\ncluster:\n  protocol: lease\n  nodes: 3\n");
        assert!(err.contains("needs `cluster.lease"), "{err}");
        // Raft's settings are refused, and the store exists only for leases
        let err = err_of(&lease(
            ok,
            "timing: { heartbeat: 50ms, election_timeout: 1s..2s }\n",
        ));
        assert!(err.starts_with("p.yaml:6:1: field `timing`"), "{err}");
        let raft_store = "name: x\ncluster: { nodes: 3 }\nfaults:\n  - { kind: store-outage, at: [1s], duration: 1s }\n";
        assert!(err_of(raft_store).contains("only under `cluster.protocol: lease`"));
        // store targets
        let f = |fault: &str| lease(ok, &format!("faults:\n  - {{ {fault} }}\n"));
        assert!(parse(
            &f("kind: partition, target: store(leader), at: [1s], duration: 1s"),
            "p.yaml"
        )
        .is_ok());
        assert!(parse(
            &f("kind: latency-spike, target: store, latency: 1s, at: [1s], duration: 1s"),
            "p.yaml"
        )
        .is_ok());
        let err = err_of(&f("kind: pause, target: store, at: [1s], duration: 1s"));
        assert!(err.contains("cannot aim at the store"), "{err}");
        let err = err_of(&f(
            "kind: store-outage, target: store(n2), at: [1s], duration: 1s",
        ));
        assert!(err.contains("use a `partition`"), "{err}");
        // a profile written back by electune parses again
        let back = serde_yaml::to_string(&p).unwrap();
        assert_eq!(parse(&back, "p.yaml").unwrap(), p);
    }

    #[test]
    fn wan_members_and_links() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("profiles/wan.yaml");
        let p = load(&path).unwrap();
        let m = p.members();
        assert_eq!(m.len(), 5);
        assert_eq!(m[0], ("n1".into(), "us-east".into()));
        assert_eq!(m[4], ("n5".into(), "ap-south".into()));
        assert_eq!(
            p.link("ap-south", "us-east").latency.0,
            std::time::Duration::from_millis(100)
        );
        assert_eq!(
            p.link("us-east", "us-east").latency.0,
            std::time::Duration::from_micros(300)
        );
    }

    #[test]
    fn errors_name_file_field_line_and_column() {
        let text = "name: x\ncluster:\n  nodes: 3\ntiming:\n  heartbeat: 300ms\n  election_timeout: 150ms..300ms\n";
        let err = parse(text, "p.yaml").unwrap_err().to_string();
        assert!(
            err.starts_with("p.yaml:5:3: field `timing.heartbeat`"),
            "{err}"
        );
        let text = "name: x\ncluster:\n  nodes: 3\n  colour: blue\n";
        let err = parse(text, "p.yaml").unwrap_err().to_string();
        assert!(err.contains("p.yaml:4:3"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn lease_sweeps_belong_to_lease_profiles_and_take_only_lease_axes() {
        let lease = |sweep: &str| {
            format!(
                "name: x\ncluster:\n  protocol: lease\n  nodes: 3\n  lease: {{ lease_duration: 15s, \
                 renew_deadline: 10s, retry_period: 2s }}\nsweep:\n{sweep}"
            )
        };
        let ok =
            "  lease: { lease_duration: [8s, 15s], renew_deadline: [10s], retry_period: [2s] }\n";
        let p = parse(&lease(ok), "p.yaml").unwrap();
        assert_eq!(p.sweep.unwrap().lease.unwrap().combinations().0.len(), 1);
        let err = err_of(&lease(&format!("{ok}  heartbeat: [100ms]\n")));
        assert!(
            err.contains("field `sweep.heartbeat`") && err.contains("sweep.lease"),
            "{err}"
        );
        let err = err_of(&lease(
            "  lease: { lease_duration: [8s], renew_deadline: [10s], retry_period: [2s] }\n",
        ));
        assert!(
            err.contains("field `sweep.lease`") && err.contains("no combination"),
            "{err}"
        );
        let raft = "name: x\ncluster:\n  nodes: 3\nsweep:\n  heartbeat: [50ms]\n  election_timeout: [1s..2s]\n  \
                    lease: { lease_duration: [8s], renew_deadline: [5s], retry_period: [1s] }\n";
        assert!(
            err_of(raft).contains("field `sweep.lease`"),
            "{}",
            err_of(raft)
        );
    }
}
