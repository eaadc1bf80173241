//! Finding the etcd server binary and checking its version.
//!
//! Where electune looks, in order: the file named by `ELECTUNE_ETCD_BIN`, `etcd` on `PATH`, then
//! `/usr/bin/etcd` (where Debian's `etcd-server` puts it). The first file that exists is the one
//! used: a named binary that is too old is an error, not a reason to look further, so that the
//! etcd that runs is always the one the user meant.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::EtcdError;

/// The environment variable that names the etcd binary.
pub const ETCD_BIN_ENV: &str = "ELECTUNE_ETCD_BIN";

/// The oldest etcd electune runs: 3.4 has the `/v3/` gateway paths (3.3 served `/v3beta/`) and the
/// `--logger zap` / `--log-outputs` flags electune starts members with.
pub const MIN_VERSION: (u32, u32) = (3, 4);

/// How long `etcd --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// A usable etcd server binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdBinary {
    pub path: PathBuf,
    /// (major, minor, patch) as `etcd --version` printed it.
    pub version: (u32, u32, u32),
}

impl EtcdBinary {
    /// Finds etcd as the module documentation says, from this process's environment.
    pub fn find() -> Result<Self, EtcdError> {
        Self::find_in(std::env::var_os(ETCD_BIN_ENV), std::env::var_os("PATH"))
    }

    /// Finds etcd given the values of `ELECTUNE_ETCD_BIN` and `PATH`.
    pub fn find_in(named: Option<OsString>, path: Option<OsString>) -> Result<Self, EtcdError> {
        let mut tried = Vec::new();
        let named = named.filter(|n| !n.is_empty()).map(PathBuf::from);
        let on_path = path
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("etcd"));
        let candidates = named
            .iter()
            .map(|p| (p.clone(), format!("{ETCD_BIN_ENV}={}", p.display())))
            .chain(on_path.map(|p| {
                let label = format!("{} (PATH)", p.display());
                (p, label)
            }))
            .chain(std::iter::once((
                PathBuf::from("/usr/bin/etcd"),
                "/usr/bin/etcd".to_owned(),
            )));
        for (candidate, label) in candidates {
            if is_executable(&candidate) {
                return Self::at(&candidate);
            }
            tried.push(label);
            // A binary the user named must be the one that runs: do not fall back silently.
            if named.as_deref() == Some(candidate.as_path()) {
                return Err(EtcdError::Missing {
                    tried: format!("{}, which is not an executable file", tried.join(", ")),
                });
            }
        }
        tried.dedup();
        Err(EtcdError::Missing {
            tried: tried.join(", "),
        })
    }

    /// Checks the etcd at `path`: runs `etcd --version` and requires [`MIN_VERSION`].
    pub fn at(path: &Path) -> Result<Self, EtcdError> {
        let output = run_version(path)?;
        let first_line = output.lines().next().unwrap_or("").trim().to_owned();
        let version = parse_version(&output).ok_or_else(|| EtcdError::TooOld {
            binary: path.to_path_buf(),
            found: format!("of unknown version (`--version` said {first_line:?})"),
        })?;
        if (version.0, version.1) < MIN_VERSION {
            return Err(EtcdError::TooOld {
                binary: path.to_path_buf(),
                found: format!("{}.{}.{}", version.0, version.1, version.2),
            });
        }
        Ok(EtcdBinary {
            path: path.to_path_buf(),
            version,
        })
    }

    /// `3.4.23`.
    pub fn version_string(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs `path --version` and returns its stdout, within [`VERSION_TIMEOUT`] (the child is killed
/// by PID if it takes longer).
fn run_version(path: &Path) -> Result<String, EtcdError> {
    let what = format!("running {} --version", path.display());
    let mut child = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(EtcdError::io(what.clone()))?;
    let started = Instant::now();
    loop {
        match child.try_wait().map_err(EtcdError::io(what.clone()))? {
            Some(_) => break,
            None if started.elapsed() > VERSION_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(EtcdError::Io {
                    what,
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer within {VERSION_TIMEOUT:?}"),
                    ),
                });
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .map_err(EtcdError::io(what))?;
    }
    Ok(out)
}

/// The version in `etcd --version` output (`etcd Version: 3.4.23`, first line).
pub fn parse_version(output: &str) -> Option<(u32, u32, u32)> {
    let rest = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("etcd Version:"))?
        .trim();
    let mut parts = rest
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u32>);
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let patch = parts.next().and_then(Result::ok).unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn versions_parse_from_etcd_output() {
        let out = "etcd Version: 3.4.23\nGit SHA: Not provided\nGo Version: go1.19.8\n";
        assert_eq!(parse_version(out), Some((3, 4, 23)));
        assert_eq!(parse_version("etcd Version: 3.5.0-rc.1\n"), Some((3, 5, 0)));
        assert_eq!(parse_version("etcd Version: 3.6\n"), Some((3, 6, 0)));
        assert_eq!(parse_version("etcdctl version: 3.4.23\n"), None);
        assert_eq!(parse_version(""), None);
    }

    /// A script that prints what an etcd of `version` prints for `--version`.
    fn fake_etcd(dir: &Path, name: &str, version: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho 'etcd Version: {version}'\necho 'Git SHA: x'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("electune-etcd-bin-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_named_binary_wins_and_is_version_checked() {
        let dir = temp_dir("named");
        let new = fake_etcd(&dir, "etcd-new", "3.5.9");
        let old = fake_etcd(&dir, "etcd-old", "3.3.27");
        let found = EtcdBinary::find_in(Some(new.clone().into()), None).unwrap();
        assert_eq!(found.path, new);
        assert_eq!(found.version_string(), "3.5.9");
        let err = EtcdBinary::find_in(Some(old.into()), None).unwrap_err();
        assert!(matches!(err, EtcdError::TooOld { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("3.3.27") && text.contains("apt-get install etcd-server"),
            "{text}"
        );
        assert_eq!(err.exit_code(), crate::exit::ENVIRONMENT);
        // A named file that is not there is an error even if etcd is installed elsewhere.
        let err = EtcdBinary::find_in(Some(dir.join("nope").into()), None).unwrap_err();
        assert!(matches!(err, EtcdError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("--etcd http://HOST:PORT"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn path_is_searched_in_order() {
        let dir = temp_dir("path");
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        fake_etcd(&b, "etcd", "3.4.1");
        let path = std::env::join_paths([&a, &b]).unwrap();
        let found = EtcdBinary::find_in(None, Some(path)).unwrap();
        assert_eq!(found.path, b.join("etcd"));
        assert_eq!(found.version, (3, 4, 1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_missing_message_says_how_to_get_one() {
        let e = EtcdError::Missing {
            tried: "/x/etcd (PATH), /usr/bin/etcd".into(),
        };
        assert_eq!(
            e.to_string(),
            "no etcd server binary found (looked at /x/etcd (PATH), /usr/bin/etcd); install the \
             Debian package etcd-server (`apt-get install etcd-server`, 3.4 or newer) or point \
             electune at an etcd you run with `--etcd http://HOST:PORT`"
        );
        assert!(e.is_missing_tool());
        assert_eq!(e.exit_code(), 3);
    }
}
