//! What is due and why. Pure: takes the period, the job's recorded history and
//! the instant to evaluate at; no clock, no store.
//!
//! The rule (design brief, run-once §3; the README's run-once section says
//! the same for users):
//!
//! - Due times lie on a grid: `slot + k × period`, anchored at the slot of
//!   the job's first successful run, which is that run's start rounded down to
//!   the minute (cron's tick). A job is due when its period is not `none` and
//!   it never succeeded, or `now >= last slot + period`. Cron starting us a
//!   few seconds late therefore never pushes the next run one tick later: a
//!   `15m` job driven every minute runs 96 times a day and a `1h` job stays on
//!   the minute it first ran.
//! - A run serves the latest grid point at or before its start: missed slots
//!   collapse into one run (caught up once, never replayed) and the grid
//!   stays where it was.
//! - After failures the job is retried with backoff 1m, 2m, 4m, ... capped at
//!   the period, counted from the failed attempt's start; a success puts it
//!   back on its grid.
//! - `--force` (a run that was not due) does not move the grid.
//! - Editing a period only moves the next due time (`last slot + new period`).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::period::Period;

/// cron's (and the systemd timer's) tick: slots are whole minutes.
pub const TICK: Duration = Duration::from_secs(60);

/// The parts of a job's recorded state that decide when it runs next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobHistory {
    pub last_success_start: Option<Timestamp>,
    /// The grid point the last success served; `None` in stores written
    /// before slots were recorded (the start, rounded down, stands in).
    pub last_success_slot: Option<Timestamp>,
    pub last_attempt_start: Option<Timestamp>,
    pub consecutive_failures: u32,
}

impl From<&crate::store::JobState> for JobHistory {
    fn from(state: &crate::store::JobState) -> JobHistory {
        JobHistory {
            last_success_start: state.last_success_start,
            last_success_slot: state.last_success_slot,
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
    /// The grid point a run started at `now` serves; recorded with the run so
    /// its success keeps the grid. None for jobs that never run.
    pub slot: Option<Timestamp>,
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

/// `at` rounded down to the tick (or left alone for periods shorter than one).
fn tick_floor(at: Timestamp, every: Duration) -> Timestamp {
    let tick = TICK.as_millis() as i64;
    if every < TICK {
        return at;
    }
    let ms = at.as_millisecond();
    Timestamp::from_millisecond(ms - ms.rem_euclid(tick)).unwrap_or(at)
}

/// The grid point the last success served. A recorded slot is trusted only
/// when it fits the start (`slot <= start < slot + period`); after a period
/// edit or in an old store, the start rounded down to the tick stands in.
fn last_slot(history: &JobHistory, every: Duration) -> Option<Timestamp> {
    let start = history.last_success_start?;
    match history.last_success_slot {
        Some(slot) if slot <= start && start < plus(slot, every) => Some(slot),
        _ => Some(tick_floor(start, every)),
    }
}

/// The latest grid point `anchor + k × every` (k ≥ 1) at or before `now`;
/// `None` when `now` is before the first.
fn latest_slot(anchor: Timestamp, every: Duration, now: Timestamp) -> Option<Timestamp> {
    let first = plus(anchor, every);
    if now < first {
        return None;
    }
    let every_ms = every.as_millis().max(1);
    let behind = now.duration_since(first).as_millis().max(0) as u128;
    let k = behind / every_ms;
    let offset = Duration::from_millis(u64::try_from(k * every_ms).unwrap_or(u64::MAX));
    Some(plus(first, offset))
}

fn at_second(t: Timestamp) -> Timestamp {
    t.round(jiff::Unit::Second).unwrap_or(t)
}

pub fn decide(period: &Period, history: &JobHistory, now: Timestamp) -> Decision {
    let Some(every) = period.duration() else {
        return Decision {
            due: false,
            next_due: None,
            slot: None,
            reason: "period is none".to_string(),
        };
    };
    let anchor = last_slot(history, every);
    // The slot a run now would serve: the latest grid point, or (never
    // succeeded) the current tick, or (not due: forced or a rerun) the old one.
    let slot = match anchor {
        None => tick_floor(now, every),
        Some(anchor) => latest_slot(anchor, every, now).unwrap_or(anchor),
    };
    if history.consecutive_failures > 0
        && let Some(attempt) = history.last_attempt_start
    {
        let wait = backoff(history.consecutive_failures, every);
        // From the attempt's tick, so a late start does not cost a tick too.
        let retry_at = plus(tick_floor(attempt, every), wait);
        return Decision {
            due: now >= retry_at,
            next_due: Some(retry_at),
            slot: Some(slot),
            reason: format!(
                "retry after {} failure(s), backoff {}",
                history.consecutive_failures,
                human(wait)
            ),
        };
    }
    let Some(anchor) = anchor else {
        let reason = if history.last_attempt_start.is_some() {
            "never succeeded; the last run was interrupted"
        } else {
            "never ran"
        };
        return Decision {
            due: true,
            next_due: Some(history.last_attempt_start.unwrap_or(now).min(now)),
            slot: Some(slot),
            reason: reason.to_string(),
        };
    };
    let success = history.last_success_start.unwrap_or(anchor);
    let next = plus(anchor, every);
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
            slot: Some(slot),
            reason: "the last run was interrupted".to_string(),
        };
    }
    let missed = if now >= next {
        now.duration_since(next).as_millis().max(0) as u128 / every.as_millis().max(1)
    } else {
        0
    };
    let reason = if missed >= 1 {
        format!("every {period}; {missed} slot(s) missed, caught up once")
    } else {
        format!("every {period}, last success {}", at_second(success))
    };
    Decision {
        due: now >= next,
        next_due: Some(next),
        slot: Some(slot),
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
            ..JobHistory::default()
        };
        let failed = |success: Option<&str>, attempt: &str, n: u32| JobHistory {
            last_success_start: success.map(ts),
            last_attempt_start: Some(ts(attempt)),
            consecutive_failures: n,
            ..JobHistory::default()
        };
        let interrupted = JobHistory {
            last_success_start: Some(ts("2026-11-27T09:30:00Z")),
            last_attempt_start: Some(ts("2026-11-27T09:59:00Z")),
            ..JobHistory::default()
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
                "first retry 1m after the failed attempt's tick",
                failed(None, "2026-11-27T09:59:30Z", 1),
                true,
                Some("2026-11-27T10:00:00Z"),
            ),
            (
                "1h",
                "late start: due on the grid, not one tick later",
                ok_at("2026-11-27T09:00:17Z"),
                true,
                Some("2026-11-27T10:00:00Z"),
            ),
            (
                "1h",
                "recorded slot keeps the grid after a caught-up run",
                JobHistory {
                    last_success_start: Some(ts("2026-11-27T09:03:05Z")),
                    last_success_slot: Some(ts("2026-11-27T09:00:00Z")),
                    last_attempt_start: Some(ts("2026-11-27T09:03:05Z")),
                    consecutive_failures: 0,
                },
                true,
                Some("2026-11-27T10:00:00Z"),
            ),
            (
                "15m",
                "a slot that no longer fits the edited period is replaced by the start's tick",
                JobHistory {
                    last_success_start: Some(ts("2026-11-27T09:50:05Z")),
                    last_success_slot: Some(ts("2026-11-27T09:00:00Z")),
                    last_attempt_start: Some(ts("2026-11-27T09:50:05Z")),
                    consecutive_failures: 0,
                },
                false,
                Some("2026-11-27T10:05:00Z"),
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
                failed(Some("2026-11-27T08:00:00Z"), "2026-11-27T09:57:10Z", 3),
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
            ..JobHistory::default()
        };
        assert!(
            decide(&period("1h"), &history, t0)
                .reason
                .contains("23 slot(s) missed, caught up once")
        );
        assert_eq!(decide(&Period::Off, &history, t0).reason, "period is none");
    }

    /// One day of cron: a tick every minute that starts 0 to 20 s late, and
    /// now and then a minute whose run never happens. Each run succeeds and
    /// records what `run-once` records: its start and the slot it served.
    fn simulate_day(
        period_text: &str,
        seed: u64,
        outage: Option<(u32, u32)>,
    ) -> Vec<(Timestamp, Timestamp)> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let day = ts("2026-11-27T00:00:00Z");
        let p = period(period_text);
        let mut history = JobHistory::default();
        let mut runs = Vec::new();
        for minute in 0..1440u32 {
            let lost = rng.u32(0..100) < 3 && minute > 0;
            if lost || outage.is_some_and(|(from, to)| (from..to).contains(&minute)) {
                continue;
            }
            let late = SignedDuration::from_millis(rng.i64(0..=20_000));
            let now = day + SignedDuration::from_mins(i64::from(minute)) + late;
            let decision = decide(&p, &history, now);
            if decision.due {
                runs.push((now, decision.slot.unwrap()));
                history = JobHistory {
                    last_success_start: Some(now),
                    last_success_slot: decision.slot,
                    last_attempt_start: Some(now),
                    consecutive_failures: 0,
                };
            }
        }
        runs
    }

    #[test]
    fn a_day_of_late_and_missed_minute_ticks_keeps_every_period_on_its_grid() {
        for seed in 0..50 {
            for (text, runs_a_day, every_mins) in
                [("15m", 96, 15), ("1h", 24, 60), ("24h", 1, 1440)]
            {
                let runs = simulate_day(text, seed, None);
                assert_eq!(runs.len(), runs_a_day, "{text}, seed {seed}: {runs:?}");
                // Every slot is on the grid of the first run, served once, in order.
                let first = runs[0].1;
                for (i, (start, slot)) in runs.iter().enumerate() {
                    let expected = first + SignedDuration::from_mins(every_mins * i as i64);
                    assert_eq!(*slot, expected, "{text}, seed {seed}, run {i}");
                    assert!(*start >= *slot, "a run never starts before its slot");
                    assert!(
                        start.duration_since(*slot) < SignedDuration::from_mins(3),
                        "{text}, seed {seed}: run {i} at {start} for slot {slot}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_missed_slot_is_caught_up_once_and_the_grid_stays() {
        // No tick from 05:00 to 08:30 (the host was down): the 1h job runs
        // once at 08:30 for the missed 06:00, 07:00 and 08:00 slots, then at 09:00 again.
        let runs = simulate_day("1h", 7, Some((300, 510)));
        let starts: Vec<Timestamp> = runs.iter().map(|(start, _)| *start).collect();
        let hours: Vec<u8> = starts
            .iter()
            .map(|s| s.strftime("%H").to_string().parse().unwrap())
            .collect();
        assert_eq!(
            hours,
            vec![
                0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23
            ],
            "{starts:?}"
        );
        let (catch_up_start, catch_up_slot) = runs[5];
        assert_eq!(catch_up_slot, runs[0].1 + SignedDuration::from_hours(8));
        assert!(catch_up_start >= ts("2026-11-27T08:30:00Z"));
        assert_eq!(runs[6].1, runs[0].1 + SignedDuration::from_hours(9));
    }

    #[test]
    fn failures_back_off_from_their_tick_and_a_success_returns_to_the_grid() {
        let p = period("1h");
        let mut history = JobHistory {
            last_success_start: Some(ts("2026-11-27T09:00:12Z")),
            last_success_slot: Some(ts("2026-11-27T09:00:00Z")),
            last_attempt_start: Some(ts("2026-11-27T09:00:12Z")),
            consecutive_failures: 0,
        };
        // Minute ticks, 15 s late; the 10:00 run and its first three retries fail.
        let mut attempts = Vec::new();
        for minute in 0..120 {
            let now = ts("2026-11-27T10:00:15Z") + SignedDuration::from_mins(minute);
            let decision = decide(&p, &history, now);
            if !decision.due {
                continue;
            }
            attempts.push(now.strftime("%H:%M").to_string());
            history.last_attempt_start = Some(now);
            if attempts.len() <= 4 {
                history.consecutive_failures += 1;
            } else {
                history.consecutive_failures = 0;
                history.last_success_start = Some(now);
                history.last_success_slot = decision.slot;
            }
        }
        assert_eq!(
            attempts,
            vec!["10:00", "10:01", "10:03", "10:07", "10:15", "11:00"]
        );
    }
}
