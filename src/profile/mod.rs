//! Profiles: YAML descriptions of an environment (nodes and regions, links, faults, requirements)
//! and a default sweep. Parsing is strict: unknown fields and bad values are errors that name the
//! file, the field, the line and column, and what would be valid.

mod error;
mod locate;
mod schema;
mod validate;

pub use error::{FieldError, ProfileError};
pub use schema::*;
pub use validate::validate_timing;

use std::path::Path;

/// Reads, parses and validates a profile file.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Io {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses and validates profile text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Profile, ProfileError> {
    let profile: Profile =
        serde_yaml::from_str(text).map_err(|e| ProfileError::from_yaml(file, text, &e))?;
    validate::validate(&profile).map_err(|v| v.at(file, text))?;
    Ok(profile)
}

impl Profile {
    /// Stated occurrences per day of each fault kind aimed at the leader: a fault targeting
    /// `leader` counts whole, one targeting `random` counts 1/members; its rate is `occurs`, else
    /// `every`. Kinds that never aim at the leader are absent.
    pub fn fault_rates_per_day(&self) -> std::collections::BTreeMap<String, f64> {
        let members = self.members().len().max(1) as f64;
        let mut out = std::collections::BTreeMap::new();
        for f in &self.faults {
            let share = match f.target.as_str() {
                "leader" => 1.0,
                "random" => 1.0 / members,
                _ => continue,
            };
            let Some(rate) = f
                .occurs
                .as_deref()
                .or(f.every.as_deref())
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
        for name in ["lan", "wan", "gc-pauses", "flaky-network"] {
            let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join(format!("profiles/{name}.yaml"));
            let p = load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, name);
        }
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
}
