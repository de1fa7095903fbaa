//! Job names and job periods: the vocabulary shared by config, capabilities,
//! validation and scheduling. Pure parsing and comparison; no I/O.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One of the four background jobs a channel can run, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Job {
    AuthRefresh,
    ImportProducts,
    ExportProducts,
    ExportStock,
}

impl Job {
    /// Every job, in run order.
    pub const ALL: [Job; 4] = [
        Job::AuthRefresh,
        Job::ImportProducts,
        Job::ExportProducts,
        Job::ExportStock,
    ];

    /// The name used on the command line, in TOML files, in the store and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Job::AuthRefresh => "auth-refresh",
            Job::ImportProducts => "import-products",
            Job::ExportProducts => "export-products",
            Job::ExportStock => "export-stock",
        }
    }

    /// Whether this job moves product or stock data (and so needs an access
    /// token).
    pub fn is_product_job(self) -> bool {
        !matches!(self, Job::AuthRefresh)
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job `{0}`: expected one of auth-refresh, import-products, export-products, export-stock"
)]
pub struct UnknownJob(pub String);

impl crate::error::HasKind for UnknownJob {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Refused
    }
}

impl FromStr for Job {
    type Err = UnknownJob;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Job::ALL
            .into_iter()
            .find(|job| job.as_str() == s)
            .ok_or_else(|| UnknownJob(s.to_string()))
    }
}

impl Serialize for Job {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// How often a job runs: never (`none`) or every `Duration`.
///
/// Two periods are equal when their durations are equal, so `60m == 1h`.
/// The text the user wrote is kept for display, so messages echo their spelling.
#[derive(Clone, Debug)]
pub enum Period {
    Off,
    Every { duration: Duration, text: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "invalid period `{0}`: expected `none` or a duration such as `15m`, `1h`, `24h` (units: s, m, h, d)"
    )]
    Unparsable(String),
    #[error(
        "invalid period `{0}`: a period must be longer than zero (use `none` to turn a job off)"
    )]
    Zero(String),
    #[error("invalid period `{0}`: periods cannot be negative (use `none` to turn a job off)")]
    Negative(String),
}

impl crate::error::HasKind for PeriodError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Refused
    }
}

/// Longest period accepted: a year. Anything longer is almost surely a typo,
/// and it keeps timestamp arithmetic far from overflow.
const MAX_PERIOD: Duration = Duration::from_secs(366 * 24 * 3600);

impl Period {
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Period::Off => None,
            Period::Every { duration, .. } => Some(*duration),
        }
    }

    pub fn is_off(&self) -> bool {
        matches!(self, Period::Off)
    }

    pub fn every(duration: Duration) -> Period {
        Period::Every {
            duration,
            text: humantime::format_duration(duration)
                .to_string()
                .replace(' ', ""),
        }
    }
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim();
        if s == "none" {
            return Ok(Period::Off);
        }
        if s.starts_with('-') {
            return Err(PeriodError::Negative(raw.to_string()));
        }
        // humantime accepts "1h30m", "1h 30m", "90s", "2days"; require a unit so
        // that a bare "60" is not silently read as 60 seconds... humantime already
        // rejects bare numbers, and we reject anything that is not ASCII to keep
        // error messages readable.
        if s.is_empty() || !s.is_ascii() {
            return Err(PeriodError::Unparsable(raw.to_string()));
        }
        let duration =
            humantime::parse_duration(s).map_err(|_| PeriodError::Unparsable(raw.to_string()))?;
        if duration.is_zero() {
            return Err(PeriodError::Zero(raw.to_string()));
        }
        if duration > MAX_PERIOD || duration.subsec_nanos() != 0 {
            return Err(PeriodError::Unparsable(raw.to_string()));
        }
        Ok(Period::Every {
            duration,
            text: s.to_string(),
        })
    }
}

impl PartialEq for Period {
    fn eq(&self, other: &Self) -> bool {
        self.duration() == other.duration()
    }
}
impl Eq for Period {}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Off => f.write_str("none"),
            Period::Every { text, .. } => f.write_str(text),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_periods() {
        let cases: &[(&str, Option<u64>)] = &[
            ("none", None),
            ("15m", Some(900)),
            ("60m", Some(3600)),
            ("1h", Some(3600)),
            ("24h", Some(86400)),
            ("1h30m", Some(5400)),
            ("90s", Some(90)),
            ("2d", Some(172800)),
        ];
        for (text, secs) in cases {
            let period: Period = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(period.duration().map(|d| d.as_secs()), *secs, "{text}");
            assert_eq!(period.to_string(), *text);
        }
    }

    #[test]
    fn refuses_bad_periods() {
        type Check = fn(&PeriodError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, PeriodError::Unparsable(_))),
            ("5", |e| matches!(e, PeriodError::Unparsable(_))),
            ("5x", |e| matches!(e, PeriodError::Unparsable(_))),
            ("soon", |e| matches!(e, PeriodError::Unparsable(_))),
            ("None", |e| matches!(e, PeriodError::Unparsable(_))),
            ("0m", |e| matches!(e, PeriodError::Zero(_))),
            ("-5m", |e| matches!(e, PeriodError::Negative(_))),
            ("500ms", |e| matches!(e, PeriodError::Unparsable(_))),
            ("1000y", |e| matches!(e, PeriodError::Unparsable(_))),
            ("99999999999999999999h", |e| {
                matches!(e, PeriodError::Unparsable(_))
            }),
            ("１h", |e| matches!(e, PeriodError::Unparsable(_))),
        ];
        for (text, check) in cases {
            let err = text.parse::<Period>().expect_err(text);
            assert!(check(&err), "{text}: {err:?}");
            assert!(err.to_string().contains(&format!("`{text}`")), "{err}");
        }
    }

    #[test]
    fn periods_compare_as_durations() {
        let a: Period = "60m".parse().unwrap();
        let b: Period = "1h".parse().unwrap();
        assert_eq!(a, b);
        assert_ne!(a, "2h".parse().unwrap());
        assert_eq!("none".parse::<Period>().unwrap(), Period::Off);
    }

    #[test]
    fn job_names_round_trip() {
        for job in Job::ALL {
            assert_eq!(job.as_str().parse::<Job>().unwrap(), job);
        }
        assert!("import".parse::<Job>().is_err());
    }
}
