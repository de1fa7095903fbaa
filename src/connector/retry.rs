//! How long to wait before the next attempt: full-jitter exponential backoff
//! and the server's `Retry-After`. Pure apart from the random jitter. The
//! decision *whether* to retry (the status, the call's replay rule) is
//! [`super::http::HttpClient::send`]'s.

use std::time::{Duration, SystemTime};

/// Statuses that say "try again later" for a request that is safe to resend.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The ceiling of the backoff before retry number `retry` (0 for the first
/// retry): `min(cap, base * 2^retry)`.
pub(crate) fn backoff_ceiling(base: Duration, cap: Duration, retry: u32) -> Duration {
    let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(cap)
}

/// The wait before retry number `retry`: full jitter, `random(0, ceiling)`,
/// but never shorter than the server's `Retry-After` (itself capped, so a
/// server cannot park a cron run for hours).
pub(crate) fn retry_wait(
    base: Duration,
    cap: Duration,
    retry: u32,
    retry_after: Option<Duration>,
    retry_after_cap: Duration,
) -> Duration {
    let jittered = backoff_ceiling(base, cap, retry).mul_f64(fastrand::f64());
    match retry_after {
        Some(wanted) => jittered.max(wanted.min(retry_after_cap)),
        None => jittered,
    }
}

/// Reads a `Retry-After` value (RFC 9110 §10.2.3): delta-seconds or an HTTP
/// date, relative to `now`. A date in the past means "now"; anything
/// unreadable is ignored (`None`), leaving the plain backoff.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still "a very long time"; the cap applies.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn reads_retry_after() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("120", Some(120)),
            (" 7 ", Some(7)),
            ("99999999999999999999999", Some(u64::MAX)),
            ("Sun, 06 Nov 1994 08:50:07 GMT", Some(30)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(0)),
            ("Sun, 06 Nov 1994 08:00:00 GMT", Some(0)),
            ("", None),
            ("-5", None),
            ("1.5", None),
            ("soon", None),
        ];
        for (value, secs) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                secs.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }

    #[test]
    fn backoff_grows_to_the_cap() {
        let cases: &[(u32, u64)] = &[
            (0, 500),
            (1, 1000),
            (2, 2000),
            (5, 16000),
            (6, 30000),
            (40, 30000),
        ];
        for (retry, ceiling_ms) in cases {
            assert_eq!(
                backoff_ceiling(500 * MS, 30_000 * MS, *retry),
                Duration::from_millis(*ceiling_ms),
                "retry {retry}"
            );
        }
        assert_eq!(
            backoff_ceiling(Duration::MAX, Duration::MAX, 3),
            Duration::MAX
        );
    }

    #[test]
    fn waits_are_jittered_within_the_ceiling_and_honour_retry_after() {
        let (base, cap, ra_cap) = (100 * MS, 250 * MS, 1000 * MS);
        let mut seen_below_half = false;
        for _ in 0..200 {
            let wait = retry_wait(base, cap, 3, None, ra_cap);
            assert!(wait <= cap, "{wait:?}");
            seen_below_half |= wait < cap / 2;
            // Retry-After is a minimum, even above the backoff cap...
            let wait = retry_wait(base, cap, 0, Some(600 * MS), ra_cap);
            assert!((600 * MS..=600 * MS).contains(&wait), "{wait:?}");
            // ...but is itself capped.
            let wait = retry_wait(base, cap, 0, Some(Duration::from_secs(3600)), ra_cap);
            assert_eq!(wait, ra_cap);
            // A zero Retry-After leaves the jittered backoff.
            assert!(retry_wait(base, cap, 0, Some(Duration::ZERO), ra_cap) <= base);
        }
        assert!(seen_below_half, "jitter never went below half the ceiling");
    }
}
