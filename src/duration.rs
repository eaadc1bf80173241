//! Human durations as users write them in Chaos Mesh and toxiproxy vocabularies: `150ms`, `1.5s`,
//! `2m`, `250us`, and ranges such as `1s..2s`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error(
        "`{0}` is not a duration; write a number with a unit, e.g. `150ms`, `1.5s`, `2m`, `250us`"
    )]
    Malformed(String),
    #[error("`{0}` has an unknown unit; valid units are ns, us, ms, s, m, h")]
    UnknownUnit(String),
    #[error(
        "`{0}` is too large: a duration is at most about 5124095h (the nanoseconds a 64-bit count holds)"
    )]
    OutOfRange(String),
    #[error("`{text}` is too long: {}", .bound.rule())]
    TooLong { text: String, bound: Bound },
    #[error("`{0}` is not a range; write `MIN..MAX`, e.g. `1s..2s`")]
    MalformedRange(String),
    #[error("range `{0}` has its minimum above its maximum")]
    InvertedRange(String),
}

/// Parses `150ms`, `1.5s`, `2m`, `250us`, `10ns`, `1h`. A bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| DurationError::Malformed(text.to_string()))?;
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(DurationError::Malformed(text.to_string()));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| DurationError::Malformed(text.to_string()))?;
    let nanos_per_unit = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return Err(DurationError::UnknownUnit(text.to_string())),
    };
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos < 0.0 || nanos > u64::MAX as f64 {
        return Err(DurationError::OutOfRange(text.to_string()));
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// The longest election or network timing electune takes: a heartbeat, an election timeout, a
/// lease's three durations, a session TTL, a write interval, a link's latency or jitter. Each is
/// waited out in every failover (one takes up to about twice the election timeout) and a sweep
/// measures dozens of failovers per point, so a timing of hours could not be measured in a
/// sweep of any useful length; the bound also keeps what is computed from timings (crash cycles
/// of restart + 2 × the maximum timeout + half the minimum, tick counts, deadlines on a
/// nanosecond clock) far inside 64-bit nanoseconds.
pub const MAX_TIMING: Duration = Duration::from_secs(3600);

/// The longest span electune takes: a run's or a point's duration, a fault's offset, length or
/// interval, a tolerated fault size. About 11 years: spans are added to each other and to
/// timings on a nanosecond clock that counts in u64 (at most about 5124095 h), and a time scale
/// multiplies them by up to 10; from 3.6e17 ns such sums stay 50 times below the limit. Whether
/// a machine can hold what a span asks for is checked where it is planned (the fault budget, a
/// sweep's trial count).
pub const MAX_SPAN: Duration = Duration::from_secs(100_000 * 3600);

/// Which limit a duration is held to ([`MAX_TIMING`] or [`MAX_SPAN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// An election or network timing: at most [`MAX_TIMING`].
    Timing,
    /// A run length or a fault's time: at most [`MAX_SPAN`].
    Span,
}

impl Bound {
    /// The longest duration allowed.
    pub fn max(self) -> Duration {
        match self {
            Bound::Timing => MAX_TIMING,
            Bound::Span => MAX_SPAN,
        }
    }

    /// The rule and why, worded for an error message.
    pub fn rule(self) -> &'static str {
        match self {
            Bound::Timing => {
                "election and network timings are at most 1h (each is waited out in every \
                 failover, and a sweep measures dozens of failovers per point)"
            }
            Bound::Span => {
                "run lengths and fault times are at most 100000h, about 11 years (electune adds \
                 them up on a 64-bit nanosecond clock)"
            }
        }
    }

    /// `d` (written `text`) if it is within the bound.
    pub fn check(self, d: Duration, text: impl Into<String>) -> Result<Duration, DurationError> {
        if d > self.max() {
            return Err(DurationError::TooLong {
                text: text.into(),
                bound: self,
            });
        }
        Ok(d)
    }

    /// Parses `text` and checks it against the bound; a number too large for any duration is
    /// [`DurationError::TooLong`] too.
    fn parse(self, text: &str) -> Result<Duration, DurationError> {
        match parse_duration(text) {
            Ok(d) => self.check(d, text),
            Err(DurationError::OutOfRange(_)) => Err(DurationError::TooLong {
                text: text.to_string(),
                bound: self,
            }),
            Err(e) => Err(e),
        }
    }
}

/// A command-line timing (`--heartbeat 50ms`): a duration of at most [`MAX_TIMING`].
pub fn parse_timing(text: &str) -> Result<HumanDuration, DurationError> {
    Bound::Timing.parse(text).map(HumanDuration)
}

/// A command-line timing range (`--election-timeout 1s..2s`), both ends at most [`MAX_TIMING`].
pub fn parse_timing_range(text: &str) -> Result<DurationRange, DurationError> {
    if let Some((a, b)) = text.split_once("..") {
        Bound::Timing.parse(a)?;
        Bound::Timing.parse(b)?;
    } else {
        Bound::Timing.parse(text)?;
    }
    text.parse()
}

/// A command-line span (`--duration 60s`): a duration of at most [`MAX_SPAN`].
pub fn parse_span(text: &str) -> Result<HumanDuration, DurationError> {
    Bound::Span.parse(text).map(HumanDuration)
}

/// Formats a duration the way a user would write it (`150ms`, `1.5s`, `250us`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0ms".into();
    }
    let (value, unit) = if ns >= 1_000_000_000 && ns.is_multiple_of(1_000_000) {
        (ns as f64 / 1e9, "s")
    } else if ns >= 1_000_000 {
        (ns as f64 / 1e6, "ms")
    } else if ns >= 1_000 {
        (ns as f64 / 1e3, "us")
    } else {
        (ns as f64, "ns")
    };
    let mut text = format!("{value:.3}");
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    format!("{text}{unit}")
}

/// A duration that (de)serializes as a human string such as `150ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(HumanDuration)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An inclusive-exclusive range `[min, max)` written `1s..2s`; a single value `1s` means `1s..1s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DurationRange {
    /// Lower bound (inclusive).
    pub min: Duration,
    /// Upper bound (exclusive, except when equal to `min`).
    pub max: Duration,
}

impl DurationRange {
    /// A range from `min` to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self { min, max }
    }

    /// Both bounds multiplied by `factor`.
    pub fn scaled(self, factor: f64) -> Self {
        Self {
            min: self.min.mul_f64(factor),
            max: self.max.mul_f64(factor),
        }
    }
}

impl fmt::Display for DurationRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{}",
            format_duration(self.min),
            format_duration(self.max)
        )
    }
}

impl std::str::FromStr for DurationRange {
    type Err = DurationError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (min, max) = match text.split_once("..") {
            Some((a, b)) => (parse_duration(a)?, parse_duration(b)?),
            None => {
                let d = parse_duration(text)?;
                (d, d)
            }
        };
        if min > max {
            return Err(DurationError::InvertedRange(text.to_string()));
        }
        Ok(Self { min, max })
    }
}

impl Serialize for DurationRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DurationRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("150ms").unwrap(), Duration::from_millis(150));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0.3ms").unwrap(), Duration::from_micros(300));
    }

    #[test]
    fn rejects_bad_durations() {
        assert!(matches!(
            parse_duration("150"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("3 parsecs"),
            Err(DurationError::UnknownUnit(_))
        ));
        assert!(matches!(
            parse_duration("ms"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("-5ms"),
            Err(DurationError::Malformed(_))
        ));
    }

    #[test]
    fn ranges_round_trip() {
        let r: DurationRange = "1s..2s".parse().unwrap();
        assert_eq!(r.min, Duration::from_secs(1));
        assert_eq!(r.max, Duration::from_secs(2));
        assert_eq!(r.to_string(), "1s..2s");
        let r: DurationRange = "150ms..300ms".parse().unwrap();
        assert_eq!(r.to_string(), "150ms..300ms");
        assert!(matches!(
            "2s..1s".parse::<DurationRange>(),
            Err(DurationError::InvertedRange(_))
        ));
        let single: DurationRange = "150ms".parse().unwrap();
        assert_eq!(single.min, single.max);
    }

    #[test]
    fn bounded_parsers_name_the_bound_and_never_overflow() {
        assert_eq!(parse_timing("1h").unwrap().0, MAX_TIMING);
        let e = parse_timing("61m").unwrap_err();
        assert!(matches!(e, DurationError::TooLong { .. }), "{e}");
        assert!(e.to_string().contains("at most 1h"), "{e}");
        let e = parse_timing("10000000000h").unwrap_err().to_string();
        assert!(
            e.starts_with("`10000000000h` is too long") && e.contains("1h"),
            "{e}"
        );
        assert!(parse_timing_range("1s..2h").is_err());
        assert!(parse_timing_range("2s..1s").is_err());
        assert_eq!(
            parse_timing_range("1s..2s").unwrap(),
            "1s..2s".parse().unwrap()
        );
        assert_eq!(parse_span("100000h").unwrap().0, MAX_SPAN);
        let e = parse_span("100001h").unwrap_err().to_string();
        assert!(e.contains("at most 100000h"), "{e}");
        assert!(parse_span("fast").is_err());
        // Any duration a u64 of nanoseconds holds parses; beyond, it says so.
        let e = parse_duration("6000000h").unwrap_err().to_string();
        assert!(e.contains("5124095h"), "{e}");
    }

    #[test]
    fn formats_readably() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_micros(300)), "300us");
        assert_eq!(format_duration(Duration::from_secs(15)), "15s");
    }
}
