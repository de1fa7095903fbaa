//! Job state (last success and last attempt kept apart) and run history.

use std::fmt;
use std::str::FromStr;

use super::sql::{DbError, DbResult, FromValue, Row, ToValue, Value, params};
use jiff::Timestamp;
use serde::{Serialize, Serializer};

use super::{Millis, Result, StoreError, Tx, count_from_sql, count_to_sql, millis};
use crate::period::Job;

/// How a run ended (or that it has not yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Running,
    Success,
    /// Finished with its effects committed, but the channel rejected some items.
    Partial,
    Failed,
    Skipped,
    /// Found still `Running` when the next run of the same job began: the
    /// process died mid-run.
    Interrupted,
}

impl Outcome {
    const ALL: [Outcome; 6] = [
        Outcome::Running,
        Outcome::Success,
        Outcome::Partial,
        Outcome::Failed,
        Outcome::Skipped,
        Outcome::Interrupted,
    ];

    /// The name used in the store, in JSON and in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Success => "success",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown run outcome `{0}`")]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_string()))
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl ToValue for Outcome {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().to_string())
    }
}

impl FromValue for Outcome {
    fn from_value(value: &Value) -> DbResult<Self> {
        String::from_value(value)?.parse().map_err(DbError::convert)
    }
}

pub(crate) fn rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

pub(crate) fn opt_rfc3339<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

/// What the scheduler and `status` need to know about one job of one channel.
/// `Default` is a job that never ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JobState {
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_success_start: Option<Timestamp>,
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_success_end: Option<Timestamp>,
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_attempt_start: Option<Timestamp>,
    /// `None` while the latest attempt is running (or died running).
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_attempt_end: Option<Timestamp>,
    pub last_outcome: Option<Outcome>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// The schedule slot the last success served (see `schedule`).
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_success_slot: Option<Timestamp>,
}

/// How many runs of each job the history keeps; older ones are deleted when
/// the job runs again.
pub const HISTORY_PER_JOB: i64 = 1000;

/// Every recorded job state, by (channel, job).
pub type JobStates = std::collections::BTreeMap<(String, Job), JobState>;

/// Row id of a run in the history.
pub type RunId = i64;

/// One row of the run history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub channel: String,
    pub job: Job,
    #[serde(serialize_with = "rfc3339")]
    pub started: Timestamp,
    #[serde(serialize_with = "opt_rfc3339")]
    pub finished: Option<Timestamp>,
    pub outcome: Outcome,
    pub items: u64,
    /// The error of a failed run, the reason of a skipped one, or a summary.
    pub detail: Option<String>,
    pub forced: bool,
    /// Items by outcome (export: `sent`, `accepted`, `rejected`, `deleted`,
    /// `quarantined`); absent for jobs that do not count that way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<std::collections::BTreeMap<String, u64>>,
}

const JOB_STATE_COLUMNS: &str = "last_success_start, last_success_end, last_attempt_start, \
     last_attempt_end, last_outcome, last_error, consecutive_failures, last_success_slot";

fn job_state_from_row(r: &Row, first: usize) -> DbResult<JobState> {
    let ts = |i: usize| {
        r.get::<_, Option<Millis>>(first + i)
            .map(|m| m.map(|m| m.0))
    };
    Ok(JobState {
        last_success_start: ts(0)?,
        last_success_end: ts(1)?,
        last_attempt_start: ts(2)?,
        last_attempt_end: ts(3)?,
        last_outcome: r.get(first + 4)?,
        last_error: r.get(first + 5)?,
        consecutive_failures: r.get(first + 6)?,
        last_success_slot: ts(7)?,
    })
}

const RUN_COLUMNS: &str =
    "id, channel, job, started, finished, outcome, items, detail, forced, counts";

fn run_from_row(r: &Row) -> DbResult<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        channel: r.get(1)?,
        job: r.get(2)?,
        started: r.get::<_, Millis>(3)?.0,
        finished: r.get::<_, Option<Millis>>(4)?.map(|m| m.0),
        outcome: r.get(5)?,
        items: count_from_sql(r.get(6)?),
        detail: r.get(7)?,
        forced: r.get(8)?,
        counts: r
            .get::<_, Option<String>>(9)?
            .and_then(|text| serde_json::from_str(&text).ok()),
    })
}

/// Where a run's finish lands in `job_state`.
struct FinishedRun {
    channel: String,
    job: Job,
    started: Timestamp,
    /// The items the row holds now.
    items: u64,
}

impl Tx<'_> {
    /// The state of one job; `JobState::default()` if it never ran.
    pub fn job_state(&self, channel: &str, job: Job) -> Result<JobState> {
        let sql =
            format!("SELECT {JOB_STATE_COLUMNS} FROM job_state WHERE channel = ?1 AND job = ?2");
        let state = self
            .db
            .query_opt(&sql, params![channel, job], |r| job_state_from_row(r, 0))?;
        Ok(state.unwrap_or_default())
    }

    /// Every stored job state, ordered by channel then run order, for `status`.
    pub fn job_states(&self) -> Result<JobStates> {
        let sql = format!("SELECT channel, job, {JOB_STATE_COLUMNS} FROM job_state");
        let states = self
            .db
            .query(&sql, params![], |r| {
                Ok(((r.get(0)?, r.get::<_, Job>(1)?), job_state_from_row(r, 2)?))
            })?
            .into_iter()
            .collect();
        Ok(states)
    }

    /// Records the start of a run: a `Running` history row, and the job's
    /// last attempt. Earlier `Running` rows of the same job are runs whose
    /// process died (the account lock rules out a live one); they become
    /// `Interrupted`.
    pub fn begin_run(
        &self,
        channel: &str,
        job: Job,
        started: Timestamp,
        forced: bool,
    ) -> Result<RunId> {
        self.begin_run_for_slot(channel, job, started, forced, None)
    }

    /// [`Tx::begin_run`] for the schedule slot the run serves; its success
    /// records that slot, so the job stays on its grid (see `schedule`).
    pub fn begin_run_for_slot(
        &self,
        channel: &str,
        job: Job,
        started: Timestamp,
        forced: bool,
        slot: Option<Timestamp>,
    ) -> Result<RunId> {
        self.db.execute(
            "UPDATE run_history SET outcome = 'interrupted', \
                 detail = coalesce(detail, 'the process ended before the run finished') \
                 WHERE channel = ?1 AND job = ?2 AND outcome = 'running'",
            params![channel, job],
        )?;
        let run: RunId = self.db.query_one(
            "INSERT INTO run_history (channel, job, started, outcome, forced, slot) \
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5) RETURNING id",
            params![channel, job, Millis(started), forced, millis(slot)],
            |r| r.get(0),
        )?;
        self.db.execute(
            "INSERT INTO job_state (channel, job, last_attempt_start, last_outcome) \
                 VALUES (?1, ?2, ?3, 'running') \
                 ON CONFLICT (channel, job) DO UPDATE SET \
                 last_attempt_start = excluded.last_attempt_start, \
                 last_attempt_end = NULL, last_outcome = 'running'",
            params![channel, job, Millis(started)],
        )?;
        // Cron runs for years: keep each job's newest runs, not all of them.
        self.db.execute(
            "DELETE FROM run_history WHERE id IN (SELECT id FROM run_history \
                 WHERE channel = ?1 AND job = ?2 ORDER BY started DESC, id DESC \
                 LIMIT -1 OFFSET ?3)",
            params![channel, job, HISTORY_PER_JOB],
        )?;
        Ok(run)
    }

    /// Marks a `Running` history row finished and returns where it belongs.
    fn finish_run(
        &self,
        run: RunId,
        finished: Timestamp,
        outcome: Outcome,
        items: u64,
        detail: Option<&str>,
    ) -> Result<FinishedRun> {
        let row = self.db.query_opt(
            "SELECT channel, job, started, outcome FROM run_history WHERE id = ?1",
            params![run],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Job>(1)?,
                    r.get::<_, Millis>(2)?.0,
                    r.get::<_, Outcome>(3)?,
                ))
            },
        )?;
        let Some((channel, job, started, current)) = row else {
            return Err(StoreError::UnknownRun {
                location: String::new(),
                run,
            });
        };
        if current != Outcome::Running {
            // Finishing twice would count a failure twice.
            return Err(StoreError::RunNotRunning {
                location: String::new(),
                run,
                outcome: current,
            });
        }
        // A job that fails or is stopped after committing work says 0; what
        // its commits recorded (see `set_run_progress`) stays.
        let items: i64 = self.db.query_one(
            "UPDATE run_history SET finished = ?2, outcome = ?3, \
                 items = CASE WHEN ?4 > items THEN ?4 ELSE items END, detail = ?5 \
                 WHERE id = ?1 RETURNING items",
            params![run, Millis(finished), outcome, count_to_sql(items), detail],
            |r| r.get(0),
        )?;
        Ok(FinishedRun {
            channel,
            job,
            started,
            items: items.max(0) as u64,
        })
    }

    /// The run succeeded and its effects are committed (in this or an earlier
    /// transaction): the job's last success becomes this run.
    pub fn finish_success(
        &self,
        run: RunId,
        finished: Timestamp,
        items: u64,
        detail: Option<&str>,
    ) -> Result<()> {
        let done = self.finish_run(run, finished, Outcome::Success, items, detail)?;
        self.db.execute("INSERT INTO job_state (channel, job, last_success_start, last_success_end, \
                 last_attempt_start, last_attempt_end, last_outcome, last_error, consecutive_failures, \
                 last_success_slot) \
                 VALUES (?1, ?2, ?3, ?4, ?3, ?4, 'success', NULL, 0, \
                 (SELECT slot FROM run_history WHERE id = ?5)) \
                 ON CONFLICT (channel, job) DO UPDATE SET \
                 last_success_start = excluded.last_success_start, \
                 last_success_end = excluded.last_success_end, \
                 last_success_slot = excluded.last_success_slot, \
                 last_attempt_end = excluded.last_attempt_end, \
                 last_outcome = 'success', last_error = NULL, consecutive_failures = 0", params![
                done.channel,
                done.job,
                Millis(done.started),
                Millis(finished),
                run
            ])?;
        Ok(())
    }

    /// The run's effects are committed but the channel rejected some items:
    /// for the schedule it is a success (its slot is done, the rejected items
    /// are retried next time), and it reads `partial` everywhere.
    pub fn finish_partial(
        &self,
        run: RunId,
        finished: Timestamp,
        items: u64,
        detail: Option<&str>,
    ) -> Result<()> {
        self.finish_success(run, finished, items, detail)?;
        self.db.execute(
            "UPDATE run_history SET outcome = 'partial' WHERE id = ?1",
            params![run],
        )?;
        self.db.execute(
            "UPDATE job_state SET last_outcome = 'partial' WHERE (channel, job) = \
                 (SELECT channel, job FROM run_history WHERE id = ?1)",
            params![run],
        )?;
        Ok(())
    }

    /// What a running job has committed so far: its items and counts, kept
    /// on its row if it then fails or is stopped.
    pub fn set_run_progress(
        &self,
        run: RunId,
        items: u64,
        counts: &std::collections::BTreeMap<String, u64>,
    ) -> Result<()> {
        self.db.execute(
            "UPDATE run_history SET items = ?2 WHERE id = ?1",
            params![run, count_to_sql(items)],
        )?;
        self.set_run_counts(run, counts)
    }

    /// Item counts by outcome for a run (shown by `history`).
    /// Ends a run that counts its items by outcome: records `counts`, and
    /// the run as partial with `partial`'s detail when given, else as a
    /// success with `summary`.
    pub fn finish_counted(
        &self,
        run: RunId,
        finished: Timestamp,
        items: u64,
        counts: &std::collections::BTreeMap<String, u64>,
        partial: Option<&str>,
        summary: &str,
    ) -> Result<()> {
        self.set_run_counts(run, counts)?;
        match partial {
            Some(detail) => self.finish_partial(run, finished, items, Some(detail)),
            None => self.finish_success(run, finished, items, Some(summary)),
        }
    }

    pub fn set_run_counts(
        &self,
        run: RunId,
        counts: &std::collections::BTreeMap<String, u64>,
    ) -> Result<()> {
        let text = serde_json::to_string(counts).expect("a count map always serialises");
        self.db.execute(
            "UPDATE run_history SET counts = ?2 WHERE id = ?1",
            params![run, text],
        )?;
        Ok(())
    }

    /// The run failed: one more consecutive failure; the last success stays.
    /// Returns the items the row keeps (the larger of `items` and what the
    /// run's commits recorded).
    pub fn finish_failure(
        &self,
        run: RunId,
        finished: Timestamp,
        items: u64,
        error: &str,
    ) -> Result<u64> {
        let done = self.finish_run(run, finished, Outcome::Failed, items, Some(error))?;
        self.db.execute(
            "INSERT INTO job_state (channel, job, last_attempt_start, last_attempt_end, \
                 last_outcome, last_error, consecutive_failures) \
                 VALUES (?1, ?2, ?3, ?4, 'failed', ?5, 1) \
                 ON CONFLICT (channel, job) DO UPDATE SET \
                 last_attempt_end = excluded.last_attempt_end, \
                 last_outcome = 'failed', last_error = excluded.last_error, \
                 consecutive_failures = job_state.consecutive_failures + 1",
            params![
                done.channel,
                done.job,
                Millis(done.started),
                Millis(finished),
                error
            ],
        )?;
        Ok(done.items)
    }

    /// The run was stopped (SIGTERM/SIGINT) before it finished: what it
    /// committed stays, the job is neither a success nor a failure, and the
    /// next run starts it again. Returns the items its commits recorded.
    pub fn finish_interrupted(&self, run: RunId, finished: Timestamp, detail: &str) -> Result<u64> {
        let done = self.finish_run(run, finished, Outcome::Interrupted, 0, Some(detail))?;
        self.db.execute(
            "UPDATE job_state SET last_attempt_end = ?3, last_outcome = 'interrupted' \
                 WHERE channel = ?1 AND job = ?2",
            params![done.channel, done.job, Millis(finished)],
        )?;
        Ok(done.items)
    }

    /// A job that was due but did not run (e.g. auth failed first): a history
    /// row only, so the job stays due.
    pub fn record_skipped(
        &self,
        channel: &str,
        job: Job,
        at: Timestamp,
        reason: &str,
    ) -> Result<()> {
        self.db.execute(
            "INSERT INTO run_history (channel, job, started, finished, outcome, detail) \
                 VALUES (?1, ?2, ?3, ?3, 'skipped', ?4)",
            params![channel, job, Millis(at), reason],
        )?;
        Ok(())
    }

    /// Runs, newest first, of one channel or all; at most `limit`.
    pub fn history(&self, channel: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match channel {
            Some(channel) => {
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM run_history WHERE channel = ?1 \
                     ORDER BY started DESC, id DESC LIMIT ?2"
                );
                self.db.query(&sql, params![channel, limit], run_from_row)?
            }
            None => {
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM run_history ORDER BY started DESC, id DESC LIMIT ?1"
                );
                self.db.query(&sql, params![limit], run_from_row)?
            }
        };
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::*;

    #[test]
    fn never_ran_is_default() {
        let (_dir, store) = temp_store();
        let state = store
            .read(|tx| tx.job_state("shop", Job::ExportProducts))
            .unwrap();
        assert_eq!(state, JobState::default());
        assert!(store.read(|tx| tx.job_states()).unwrap().is_empty());
    }

    #[test]
    fn success_resets_failures_and_failure_keeps_last_success() {
        let (_dir, store) = temp_store();
        let job = Job::ImportProducts;
        let (t0, t1, t2, t3, t4, t5) = (
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T00:00:05Z"),
            at("2026-01-01T01:00:00Z"),
            at("2026-01-01T01:00:07Z"),
            at("2026-01-01T01:01:00Z"),
            at("2026-01-01T01:01:02Z"),
        );

        // Start: running.
        let run = store
            .write(|tx| tx.begin_run("shop", job, t0, false))
            .unwrap();
        let s = store.read(|tx| tx.job_state("shop", job)).unwrap();
        assert_eq!(s.last_attempt_start, Some(t0));
        assert_eq!(s.last_attempt_end, None);
        assert_eq!(s.last_outcome, Some(Outcome::Running));
        assert_eq!(s.last_success_start, None);

        // Success.
        store
            .write(|tx| tx.finish_success(run, t1, 12, Some("12 products")))
            .unwrap();
        let s = store.read(|tx| tx.job_state("shop", job)).unwrap();
        let success = JobState {
            last_success_start: Some(t0),
            last_success_end: Some(t1),
            last_attempt_start: Some(t0),
            last_attempt_end: Some(t1),
            last_outcome: Some(Outcome::Success),
            last_error: None,
            consecutive_failures: 0,
            last_success_slot: None,
        };
        assert_eq!(s, success);

        // Two failures: the success stays, failures count up.
        for (i, (start, end)) in [(t2, t3), (t4, t5)].into_iter().enumerate() {
            let run = store
                .write(|tx| tx.begin_run("shop", job, start, false))
                .unwrap();
            store
                .write(|tx| tx.finish_failure(run, end, 3, "HTTP 500 from channel"))
                .unwrap();
            let s = store.read(|tx| tx.job_state("shop", job)).unwrap();
            assert_eq!(s.last_success_start, Some(t0));
            assert_eq!(s.last_success_end, Some(t1));
            assert_eq!(s.last_attempt_start, Some(start));
            assert_eq!(s.last_attempt_end, Some(end));
            assert_eq!(s.last_outcome, Some(Outcome::Failed));
            assert_eq!(s.last_error.as_deref(), Some("HTTP 500 from channel"));
            assert_eq!(s.consecutive_failures, i as u32 + 1);
        }

        // A success resets the failures and the error.
        let t6 = at("2026-01-01T02:00:00Z");
        let t7 = at("2026-01-01T02:00:01Z");
        let run = store
            .write(|tx| tx.begin_run("shop", job, t6, true))
            .unwrap();
        store
            .write(|tx| tx.finish_success(run, t7, 0, None))
            .unwrap();
        let s = store.read(|tx| tx.job_state("shop", job)).unwrap();
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.last_error, None);
        assert_eq!(s.last_success_start, Some(t6));

        // Other jobs and channels are untouched.
        let states = store.read(|tx| tx.job_states()).unwrap();
        assert_eq!(states.len(), 1);
        assert!(states.contains_key(&("shop".to_string(), job)));
    }

    #[test]
    fn history_keeps_each_jobs_newest_runs() {
        let (_dir, store) = temp_store();
        let t0 = at("2026-01-01T00:00:00Z");
        let total = HISTORY_PER_JOB + 5;
        for i in 0..total {
            let t = t0 + jiff::SignedDuration::from_secs(i * 60);
            store
                .write(|tx| {
                    let run = tx.begin_run("shop", Job::ImportProducts, t, false)?;
                    tx.finish_success(run, t, 1, None)
                })
                .unwrap();
        }
        let other = store
            .write(|tx| tx.begin_run("shop", Job::ExportProducts, t0, false))
            .unwrap();
        let runs = store
            .read(|tx| tx.history(Some("shop"), usize::MAX))
            .unwrap();
        let imports: Vec<_> = runs
            .iter()
            .filter(|r| r.job == Job::ImportProducts)
            .collect();
        assert_eq!(imports.len(), HISTORY_PER_JOB as usize);
        let oldest = t0 + jiff::SignedDuration::from_secs((total - HISTORY_PER_JOB) * 60);
        assert_eq!(imports.last().unwrap().started, oldest);
        assert!(runs.iter().any(|r| r.id == other), "other jobs keep theirs");
    }

    #[test]
    fn a_failure_before_any_success_counts() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let run = store
            .write(|tx| tx.begin_run("shop", Job::AuthRefresh, t, false))
            .unwrap();
        store
            .write(|tx| tx.finish_failure(run, t, 0, "invalid_grant"))
            .unwrap();
        let s = store
            .read(|tx| tx.job_state("shop", Job::AuthRefresh))
            .unwrap();
        assert_eq!(s.consecutive_failures, 1);
        assert_eq!(s.last_success_start, None);
    }

    #[test]
    fn running_rows_become_interrupted_and_runs_finish_once() {
        let (_dir, store) = temp_store();
        let job = Job::ExportProducts;
        let t0 = at("2026-01-01T00:00:00Z");
        let t1 = at("2026-01-01T00:15:00Z");
        let crashed = store
            .write(|tx| tx.begin_run("shop", job, t0, false))
            .unwrap();
        // Another channel's and another job's running rows are not ours to judge.
        let other_channel = store
            .write(|tx| tx.begin_run("web", job, t0, false))
            .unwrap();
        let other_job = store
            .write(|tx| tx.begin_run("shop", Job::AuthRefresh, t0, false))
            .unwrap();

        let next = store
            .write(|tx| tx.begin_run("shop", job, t1, false))
            .unwrap();
        let history = store.read(|tx| tx.history(None, 10)).unwrap();
        let outcome = |id| history.iter().find(|r| r.id == id).unwrap().outcome;
        assert_eq!(outcome(crashed), Outcome::Interrupted);
        assert_eq!(outcome(other_channel), Outcome::Running);
        assert_eq!(outcome(other_job), Outcome::Running);
        assert_eq!(outcome(next), Outcome::Running);

        // An interrupted run cannot be finished late, nor a run twice.
        let err = store
            .write(|tx| tx.finish_success(crashed, t1, 0, None))
            .unwrap_err();
        assert!(matches!(err, StoreError::RunNotRunning { .. }), "{err:?}");
        store
            .write(|tx| tx.finish_failure(next, t1, 0, "boom"))
            .unwrap();
        let err = store
            .write(|tx| tx.finish_failure(next, t1, 0, "boom"))
            .unwrap_err();
        assert!(err.to_string().contains("already `failed`"), "{err}");
        let s = store.read(|tx| tx.job_state("shop", job)).unwrap();
        assert_eq!(s.consecutive_failures, 1);
        let err = store
            .write(|tx| tx.finish_success(9999, t1, 0, None))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownRun { run: 9999, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn history_is_newest_first_and_filters_by_channel() {
        let (_dir, store) = temp_store();
        let t = |m: i64| Timestamp::from_second(1_800_000_000 + m * 60).unwrap();
        store
            .write(|tx| {
                let a = tx.begin_run("shop", Job::AuthRefresh, t(0), false)?;
                tx.finish_success(a, t(1), 0, None)?;
                tx.record_skipped("shop", Job::ImportProducts, t(2), "auth-refresh failed")?;
                let b = tx.begin_run("web", Job::ExportProducts, t(3), true)?;
                tx.finish_success(b, t(4), 42, Some("42 sent"))?;
                Ok(())
            })
            .unwrap();
        let all = store.read(|tx| tx.history(None, 10)).unwrap();
        let summary: Vec<_> = all
            .iter()
            .map(|r| (r.channel.as_str(), r.job, r.outcome))
            .collect();
        assert_eq!(
            summary,
            [
                ("web", Job::ExportProducts, Outcome::Success),
                ("shop", Job::ImportProducts, Outcome::Skipped),
                ("shop", Job::AuthRefresh, Outcome::Success),
            ]
        );
        assert_eq!(all[0].items, 42);
        assert!(all[0].forced);
        assert_eq!(all[1].detail.as_deref(), Some("auth-refresh failed"));
        assert_eq!(all[1].finished, Some(t(2)));
        // Skipping leaves the job state alone: the job stays due.
        let s = store
            .read(|tx| tx.job_state("shop", Job::ImportProducts))
            .unwrap();
        assert_eq!(s, JobState::default());

        let shop = store.read(|tx| tx.history(Some("shop"), 1)).unwrap();
        assert_eq!(shop.len(), 1);
        assert_eq!(shop[0].job, Job::ImportProducts);
        assert!(
            store
                .read(|tx| tx.history(Some("nope"), 10))
                .unwrap()
                .is_empty()
        );

        let json = serde_json::to_value(&all[2]).unwrap();
        assert_eq!(json["job"], "auth-refresh");
        assert_eq!(json["outcome"], "success");
        assert_eq!(json["started"], t(0).to_string());
        assert!(json["started"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn outcome_names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
        }
    }
}
