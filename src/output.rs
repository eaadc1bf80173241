//! Output directories: `output/<profile>-<UTC timestamp>/`, and a `latest` link to the newest.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYYMMDDTHHMMSSZ` for a Unix time in seconds (UTC, proleptic Gregorian).
pub fn utc_stamp(unix_secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339) for a Unix time in seconds.
pub fn rfc3339(unix_secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix_secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn civil(unix_secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A fresh directory `base/<name>-<stamp>` (suffixed if it already exists), created.
pub fn new_run_dir(base: &Path, name: &str) -> std::io::Result<PathBuf> {
    let stamp = utc_stamp(unix_now());
    let mut dir = base.join(format!("{name}-{stamp}"));
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = base.join(format!("{name}-{stamp}-{n}"));
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Points `base/latest` at `dir` (a relative symlink).
pub fn update_latest(base: &Path, dir: &Path) -> std::io::Result<()> {
    let link = base.join("latest");
    let target = dir
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.to_path_buf());
    let tmp = base.join(".latest.tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp)?;
    std::fs::rename(&tmp, &link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_675_619), "2026-11-26T06:46:59Z");
    }
}

/// A count for messages: `1,000,000` below ten million, `3.6e12` from there on.
pub fn format_count(x: f64) -> String {
    if !x.is_finite() {
        return "∞".into();
    }
    let x = x.ceil();
    if x >= 1e7 {
        let e = x.log10().floor() as i32;
        let m = (x / 10f64.powi(e) * 10.0).round() / 10.0;
        return format!("{m}e{e}");
    }
    let digits = format!("{x:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod count_tests {
    #[test]
    fn counts_read_as_people_write_them() {
        assert_eq!(super::format_count(1_000_000.0), "1,000,000");
        assert_eq!(super::format_count(999.2), "1,000");
        assert_eq!(super::format_count(3.6e12), "3.6e12");
        assert_eq!(super::format_count(18_000_000.0), "1.8e7");
    }
}

/// Writes `bytes` to `path` so that a reader (or a failure: full disk, kill) sees either the old
/// file or the complete new one: a temporary file beside it, then a rename. On error the
/// temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
