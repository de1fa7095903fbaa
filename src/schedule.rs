//! What is due and why. Pure: takes the period, the job's recorded history and
//! the instant to evaluate at; no clock, no store.
//!
//! Rules (design brief, run-once §3): a job is due when its period is not
//! `none` and it never succeeded, or `now >= last successful start + period`.
//! After failures it is retried with backoff 1m, 2m, 4m, ... capped at the
//! period. Missed slots collapse into one run. Editing a period only moves the
//! next due time, because it is always derived from the last success.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::period::Period;

/// The parts of a job's recorded state that decide when it runs next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobHistory {
    pub last_success_start: Option<Timestamp>,
    pub last_attempt_start: Option<Timestamp>,
    pub consecutive_failures: u32,
}

impl From<&crate::store::JobState> for JobHistory {
    fn from(state: &crate::store::JobState) -> JobHistory {
        JobHistory {
            last_success_start: state.last_success_start,
            last_attempt_start: state.last_attempt_start,
            consecutive_failures: state.consecutive_failures,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub due: bool,
    /// When it is (or was) due; None for jobs that never run.
    pub next_due: Option<Timestamp>,
    /// A short explanation for `status` and `run-once --dry-run`.
    pub reason: String,
}

const FIRST_BACKOFF: Duration = Duration::from_secs(60);

/// Backoff after `failures` consecutive failures: 1m, 2m, 4m, ... capped at `period`.
pub fn backoff(failures: u32, period: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    FIRST_BACKOFF
        .checked_mul(1u32 << doublings)
        .unwrap_or(period)
        .min(period)
}

fn plus(at: Timestamp, duration: Duration) -> Timestamp {
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn human(duration: Duration) -> String {
    humantime::format_duration(duration)
        .to_string()
        .replace(' ', "")
}

pub fn decide(period: &Period, history: &JobHistory, now: Timestamp) -> Decision {
    let Some(every) = period.duration() else {
        return Decision {
            due: false,
            next_due: None,
            reason: "period is none".to_string(),
        };
    };
    if history.consecutive_failures > 0
        && let Some(attempt) = history.last_attempt_start
    {
        let wait = backoff(history.consecutive_failures, every);
        let retry_at = plus(attempt, wait);
        return Decision {
            due: now >= retry_at,
            next_due: Some(retry_at),
            reason: format!(
                "retry after {} failure(s), backoff {}",
                history.consecutive_failures,
                human(wait)
            ),
        };
    }
    let Some(success) = history.last_success_start else {
        let reason = if history.last_attempt_start.is_some() {
            "never succeeded; the last run was interrupted"
        } else {
            "never ran"
        };
        return Decision {
            due: true,
            next_due: Some(history.last_attempt_start.unwrap_or(now).min(now)),
            reason: reason.to_string(),
        };
    };
    let next = plus(success, every);
    if history
        .last_attempt_start
        .is_some_and(|attempt| attempt > success)
        && now < next
    {
        // A run started after the last success and left no outcome: it was
        // killed. Its effects may be partial, so run again now.
        return Decision {
            due: true,
            next_due: Some(now),
            reason: "the last run was interrupted".to_string(),
        };
    }
    let reason = if now < next {
        format!(
            "every {period}, last success {}",
            success.round(jiff::Unit::Second).unwrap_or(success)
        )
    } else {
        let missed = now.duration_since(next).as_secs() as u64 / every.as_secs().max(1);
        if missed >= 1 {
            format!("every {period}; {missed} slot(s) missed, caught up once")
        } else {
            format!(
                "every {period}, last success {}",
                success.round(jiff::Unit::Second).unwrap_or(success)
            )
        }
    };
    Decision {
        due: now >= next,
        next_due: Some(next),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn period(text: &str) -> Period {
        text.parse().unwrap()
    }

    #[test]
    fn backoff_doubles_and_is_capped_by_the_period() {
        let hour = Duration::from_secs(3600);
        let cases = [
            (1, 60),
            (2, 120),
            (3, 240),
            (4, 480),
            (6, 1920),
            (7, 3600),
            (40, 3600),
        ];
        for (failures, secs) in cases {
            assert_eq!(
                backoff(failures, hour),
                Duration::from_secs(secs),
                "{failures}"
            );
        }
        assert_eq!(
            backoff(3, Duration::from_secs(120)),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn due_table() {
        let t0 = ts("2026-11-27T10:00:00Z");
        let never = JobHistory::default();
        let ok_at = |at: &str| JobHistory {
            last_success_start: Some(ts(at)),
            last_attempt_start: Some(ts(at)),
            consecutive_failures: 0,
        };
        let failed = |success: Option<&str>, attempt: &str, n: u32| JobHistory {
            last_success_start: success.map(ts),
            last_attempt_start: Some(ts(attempt)),
            consecutive_failures: n,
        };
        let interrupted = JobHistory {
            last_success_start: Some(ts("2026-11-27T09:30:00Z")),
            last_attempt_start: Some(ts("2026-11-27T09:59:00Z")),
            consecutive_failures: 0,
        };
        type Case = (
            &'static str,
            &'static str,
            JobHistory,
            bool,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("none", "off", never.clone(), false, None),
            (
                "1h",
                "never ran",
                never.clone(),
                true,
                Some("2026-11-27T10:00:00Z"),
            ),
            (
                "1h",
                "just succeeded",
                ok_at("2026-11-27T09:30:00Z"),
                false,
                Some("2026-11-27T10:30:00Z"),
            ),
            (
                "60m",
                "60m equals 1h",
                ok_at("2026-11-27T09:00:00Z"),
                true,
                Some("2026-11-27T10:00:00Z"),
            ),
            (
                "1h",
                "exactly due",
                ok_at("2026-11-27T09:00:00Z"),
                true,
                Some("2026-11-27T10:00:00Z"),
            ),
            (
                "1h",
                "many slots missed: due once",
                ok_at("2026-11-26T10:00:00Z"),
                true,
                Some("2026-11-26T11:00:00Z"),
            ),
            (
                "2h",
                "edited period moves next due",
                ok_at("2026-11-27T09:00:00Z"),
                false,
                Some("2026-11-27T11:00:00Z"),
            ),
            (
                "1h",
                "first retry after 1m",
                failed(None, "2026-11-27T09:59:30Z", 1),
                false,
                Some("2026-11-27T10:00:30Z"),
            ),
            (
                "1h",
                "retry due",
                failed(None, "2026-11-27T09:59:00Z", 1),
                true,
                Some("2026-11-27T10:00:00Z"),
            ),
            (
                "1h",
                "third failure waits 4m",
                failed(Some("2026-11-27T08:00:00Z"), "2026-11-27T09:57:00Z", 3),
                false,
                Some("2026-11-27T10:01:00Z"),
            ),
            (
                "15m",
                "backoff capped at period",
                failed(Some("2026-11-27T08:00:00Z"), "2026-11-27T09:50:00Z", 10),
                false,
                Some("2026-11-27T10:05:00Z"),
            ),
            (
                "1h",
                "interrupted run is rerun",
                interrupted,
                true,
                Some("2026-11-27T10:00:00Z"),
            ),
        ];
        for (p, name, history, due, next) in cases {
            let decision = decide(&period(p), &history, t0);
            assert_eq!(decision.due, due, "{name}: {decision:?}");
            assert_eq!(decision.next_due, next.map(ts), "{name}: {decision:?}");
        }
    }

    #[test]
    fn reasons_explain_the_decision() {
        let t0 = ts("2026-11-27T10:00:00Z");
        let history = JobHistory {
            last_success_start: Some(ts("2026-11-26T10:00:00Z")),
            last_attempt_start: Some(ts("2026-11-26T10:00:00Z")),
            consecutive_failures: 0,
        };
        assert!(
            decide(&period("1h"), &history, t0)
                .reason
                .contains("23 slot(s) missed, caught up once")
        );
        assert_eq!(decide(&Period::Off, &history, t0).reason, "period is none");
    }
}
