//! Instants read from users and channels (`--now`, a product's
//! `updated_at`): RFC 3339 with an offset, within the range the tool
//! supports. The range stops a year short of what the time library can
//! hold, so the scheduler can always add a period (at most 366 days) to an
//! instant it was given.

use jiff::Timestamp;

/// The earliest and latest instants the tool accepts.
pub const EARLIEST: &str = "0001-01-01T00:00:00Z";
pub const LATEST: &str = "9998-12-31T23:59:59Z";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    #[error("`{0}` is not an RFC 3339 timestamp such as `2026-01-31T12:00:00Z`")]
    NotRfc3339(String),
    #[error("`{0}` is beyond the supported range ({EARLIEST} to {LATEST})")]
    OutOfRange(String),
}

/// Parses an RFC 3339 instant (`2026-01-31T12:00:00Z`, `...+01:00`).
pub fn parse_instant(text: &str) -> Result<Timestamp, InstantError> {
    let shown = || crate::output::escape(text).into_owned();
    match text.parse::<Timestamp>() {
        Ok(at) if in_range(at) => Ok(at),
        Ok(_) => Err(InstantError::OutOfRange(shown())),
        // A well-formed date and time with an offset that the time library
        // cannot hold (`9999-12-31T23:59:59Z`) is out of range, not garbage.
        Err(_) => match jiff::fmt::temporal::Pieces::parse(text) {
            Ok(pieces) if pieces.time().is_some() && pieces.offset().is_some() => {
                Err(InstantError::OutOfRange(shown()))
            }
            _ => Err(InstantError::NotRfc3339(shown())),
        },
    }
}

/// `[EARLIEST, LATEST + 1 s)`, parsed once: an import checks every
/// product's `updated_at` against it, and parsing the bounds each time made
/// three parses of one.
static RANGE: std::sync::LazyLock<(Timestamp, Timestamp)> = std::sync::LazyLock::new(|| {
    let bound = |text: &str| text.parse::<Timestamp>().expect("a valid bound");
    (
        bound(EARLIEST),
        bound(LATEST) + jiff::SignedDuration::from_secs(1),
    )
});

fn in_range(at: Timestamp) -> bool {
    let (earliest, after_latest) = *RANGE;
    at >= earliest && at < after_latest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_inside_the_range_parse_and_others_say_why_not() {
        for ok in [
            "2026-01-31T12:00:00Z",
            "2026-01-31T12:00:00.123+01:00",
            "0001-01-01T00:00:00Z",
            "9998-12-31T23:59:59.999Z",
            "1969-07-20T20:17:40Z",
        ] {
            assert!(parse_instant(ok).is_ok(), "{ok}");
        }
        for out in [
            "9999-12-31T23:59:59Z",
            "9999-01-01T00:00:00Z",
            "9999-12-30T21:00:00Z",
            "0000-06-01T00:00:00Z",
        ] {
            assert_eq!(
                parse_instant(out),
                Err(InstantError::OutOfRange(out.to_string())),
                "{out}"
            );
        }
        for bad in [
            "",
            "yesterday",
            "2026-01-31",
            "2026-01-31T12:00:00",
            "2026-13-01T00:00:00Z",
            "2026-01-31T12:00:00Z\u{1b}",
        ] {
            assert!(
                matches!(parse_instant(bad), Err(InstantError::NotRfc3339(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_instant("9999-12-31T23:59:59Z")
                .unwrap_err()
                .to_string(),
            "`9999-12-31T23:59:59Z` is beyond the supported range (0001-01-01T00:00:00Z to 9998-12-31T23:59:59Z)"
        );
    }
}
