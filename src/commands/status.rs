//! `status` (every job: period, last success, last attempt, result, next due
//! and why; like `systemctl list-timers`) and `history`.

use std::io::{self, Write};

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::Outcome;
use super::report::{first_line, human_millis};
use crate::cli::{HistoryArgs, StatusArgs};
use crate::context::{AccountChoice, Context};
use crate::output::{Report, or_dash, table, when, write_table};
use crate::period::Job;
use crate::plan::inputs::{LiveRun, PlanInputs};
use crate::plan::{Action, PlanOptions, plan_channel};
use crate::store::{self, RunRecord};

#[derive(Serialize)]
struct StatusRow {
    channel: String,
    job: Job,
    period: String,
    last_success: Option<Timestamp>,
    last_attempt: Option<Timestamp>,
    last_outcome: Option<String>,
    /// The pid of the live `run-once` running this job now.
    running_pid: Option<u32>,
    last_error: Option<String>,
    consecutive_failures: u32,
    due: bool,
    next_due: Option<Timestamp>,
    why: String,
}

#[derive(Serialize)]
struct Status {
    #[serde(flatten)]
    choice: AccountChoice,
    store: String,
    now: Timestamp,
    jobs: Vec<StatusRow>,
    /// Products an export channel keeps rejecting, not sent until their
    /// content changes or `products release`.
    quarantined: Vec<store::Quarantined>,
}

impl Report for Status {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account: {}", self.choice)?;
        writeln!(out, "store:   {}", self.store)?;
        if self.jobs.is_empty() {
            return writeln!(out, "no channels");
        }
        let mut t = table([
            "CHANNEL",
            "JOB",
            "PERIOD",
            "LAST SUCCESS",
            "LAST ATTEMPT",
            "RESULT",
            "NEXT DUE",
            "WHY",
        ]);
        for row in &self.jobs {
            let result = match (&row.last_outcome, &row.last_error, row.running_pid) {
                (_, _, Some(pid)) => format!("running (pid {pid})"),
                (Some(outcome), Some(error), _) if outcome == "failed" => {
                    format!("failed: {}", first_line(error, 60))
                }
                (outcome, _, _) => or_dash(outcome.as_ref()),
            };
            let next = if row.due {
                "now".to_string()
            } else {
                when(row.next_due)
            };
            t.add_row([
                row.channel.clone(),
                row.job.to_string(),
                row.period.clone(),
                when(row.last_success),
                when(row.last_attempt),
                result,
                next,
                row.why.clone(),
            ]);
        }
        write_table(out, &t)?;
        if !self.quarantined.is_empty() {
            writeln!(
                out,
                "\nquarantined (not sent until changed or `oms-channels products release <handle>`):"
            )?;
            let mut t = table([
                "CHANNEL",
                "PRODUCT",
                "SKUS",
                "REJECTIONS",
                "LAST ATTEMPT",
                "ERROR",
            ]);
            for q in &self.quarantined {
                let mut skus = q
                    .skus
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if q.skus.len() > 3 {
                    skus.push_str(", ...");
                }
                t.add_row([
                    q.channel.clone(),
                    q.handle.clone(),
                    skus,
                    q.rejections.to_string(),
                    when(Some(q.last_attempt)),
                    first_line(q.error.as_deref().unwrap_or("-"), 60),
                ]);
            }
            write_table(out, &t)?;
        }
        Ok(())
    }
}

/// Reads only: what a channel's state would be after the next run's
/// endpoint check is shown without the store being changed.
pub fn status(ctx: &Context, args: &StatusArgs) -> Result<Outcome> {
    let now = ctx.now(args.now.as_deref())?;
    let (choice, loaded) = ctx.load_selected()?;
    let capabilities = ctx.capabilities()?;
    let store = ctx.open_store_for_reading(&choice.account)?;
    let inputs = PlanInputs::gather(
        store.as_ref(),
        LiveRun::Ask(ctx.store_spec()?),
        &loaded,
        &capabilities,
    )?;
    let live_run = inputs.live_run;
    // The same planner as run-once, asked what an ordinary tick would do now.
    let options = PlanOptions {
        now,
        force: false,
        jobs: Vec::new(),
    };
    let threshold = |channel: &str| {
        loaded
            .config
            .channels
            .get(channel)
            .map_or(crate::config::model::DEFAULT_QUARANTINE_AFTER, |c| {
                c.quarantine_threshold()
            })
    };
    let quarantined = match &store {
        Some(store) => store.read(|tx| tx.quarantined(None, &threshold))?,
        None => Vec::new(),
    };
    // Only what belongs to the channels of the file, at their endpoints.
    let quarantined = quarantined
        .into_iter()
        .filter(|q| {
            loaded.config.channels.contains_key(&q.channel) && !inputs.stale.contains(&q.channel)
        })
        .collect();
    let mut jobs = Vec::new();
    for (id, channel) in &loaded.config.channels {
        for plan in plan_channel(&inputs.facts(id, channel), &inputs.states, &options) {
            let state = inputs.state(id, plan.job);
            jobs.push(StatusRow {
                channel: id.clone(),
                job: plan.job,
                period: channel.period(plan.job).to_string(),
                last_success: state.last_success_start,
                last_attempt: state.last_attempt_start,
                last_outcome: state.last_outcome.map(|o| match o {
                    // The run's process is gone: it was killed, not running.
                    store::Outcome::Running if live_run.is_none() => {
                        store::Outcome::Interrupted.as_str().to_string()
                    }
                    o => o.as_str().to_string(),
                }),
                running_pid: live_run
                    .filter(|_| state.last_outcome == Some(store::Outcome::Running)),
                last_error: state.last_error,
                consecutive_failures: state.consecutive_failures,
                due: plan.action == Action::Run,
                next_due: plan.next_due,
                why: plan.reason,
            });
        }
    }
    let store_location = ctx.store_spec()?.account_location(&choice.account)?;
    Ok(Outcome::ok(Status {
        choice,
        store: store_location,
        now,
        jobs,
        quarantined,
    }))
}

#[derive(Serialize)]
struct History {
    account: String,
    runs: Vec<RunRecord>,
}

impl Report for History {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account: {}", self.account)?;
        if self.runs.is_empty() {
            return writeln!(out, "no runs yet");
        }
        let mut t = table([
            "STARTED", "CHANNEL", "JOB", "OUTCOME", "ITEMS", "DURATION", "DETAIL",
        ]);
        for run in &self.runs {
            let duration = run
                .finished
                .map(|f| human_millis(f.duration_since(run.started).as_millis().max(0) as u64));
            let forced = if run.forced { " (forced)" } else { "" };
            t.add_row([
                when(Some(run.started)),
                run.channel.clone(),
                run.job.to_string(),
                format!("{}{forced}", run.outcome.as_str()),
                run.items.to_string(),
                or_dash(duration),
                first_line(run.detail.as_deref().unwrap_or(""), 100),
            ]);
        }
        write_table(out, &t)
    }
}

pub fn history(ctx: &Context, args: &HistoryArgs) -> Result<Outcome> {
    // A missing account is an error here as everywhere (exit 2).
    let (choice, loaded) = ctx.load_selected()?;
    let runs = match ctx.open_store_for_reading(&choice.account)? {
        Some(store) => store.read(|tx| tx.history(args.channel.as_deref(), args.limit))?,
        None => Vec::new(),
    };
    // A removed channel's runs stay in the history, so only a name that is
    // neither in the file nor in the history is unknown.
    if let Some(channel) = &args.channel
        && runs.is_empty()
        && !loaded.config.channels.contains_key(channel)
    {
        return Err(crate::error::Failure::refused(format!(
            "{}: unknown channel `{}`: not a channel of the account and no runs recorded for it (channels: {})",
            choice.account,
            crate::output::escape(channel),
            loaded.config.channel_names()
        ))
        .into());
    }
    Ok(Outcome::ok(History {
        account: choice.account,
        runs,
    }))
}
