//! run-once for one account: validate, lock, plan (`plan`), run the due
//! jobs per channel (channels concurrently, jobs in order, each within its
//! deadline), and report one row per job. Nothing async is started when
//! nothing is due: cron calls this every minute. SIGTERM and SIGINT stop a
//! run cleanly: no new job starts, the job in flight is dropped at once (its
//! committed pages stay; a page being committed is committed whole) and
//! recorded as interrupted.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::watch;

use super::{ChannelRun, Finished, auth, export, idle, import, stock};
use crate::capabilities::Capabilities;
use crate::config::{ChannelConfig, LoadedAccount};
use crate::connector::{self, ClientOptions, check_url};
use crate::error::{ErrorKind, Failure, hint_if};
use crate::period::Job;
use crate::plan::inputs::{LiveRun, PlanInputs};
use crate::plan::{Action, JobPlan, PlanOptions, plan_channel};
use crate::schedule::{JobHistory, decide};
use crate::store::{Outcome, Store, StoreError, StoreSpec, lock};
use crate::validate::Finding;

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub force: bool,
    pub dry_run: bool,
    pub full: bool,
    /// `--allow-removal`: this run's removals are not held to `max-removal`.
    pub allow_removal: bool,
    /// `--dry-run --diff`: preview each exporting channel's next export.
    pub diff: bool,
    /// The instant "due" is evaluated at (`--now`, or the clock).
    pub now: Timestamp,
    /// Only these channels (empty: all).
    pub channels: Vec<String>,
    /// Only these jobs (empty: all).
    pub jobs: Vec<Job>,
    pub concurrency: usize,
    pub client: ClientOptions,
    /// Show progress bars on stderr (when it is a terminal).
    pub progress: bool,
    /// A plain run (no `--force`, `--channel`, `--job`, `--now`, `--dry-run`):
    /// when it finds nothing due, it leaves the account's idle stamp for the
    /// next call (see `jobs::idle`).
    pub stamp_idle: bool,
}

impl RunOptions {
    /// For a command that runs no job but talks to one channel with the
    /// jobs' machinery (`products diff`).
    pub fn one_channel(client: ClientOptions, now: Timestamp) -> RunOptions {
        RunOptions {
            force: false,
            dry_run: false,
            full: false,
            allow_removal: false,
            diff: false,
            now,
            channels: Vec::new(),
            jobs: Vec::new(),
            concurrency: 1,
            client,
            progress: false,
            stamp_idle: false,
        }
    }

    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            now: self.now,
            force: self.force,
            jobs: self.jobs.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowOutcome {
    Ran,
    /// Ran, but the channel rejected some items (export).
    Partial,
    Failed,
    Skipped,
    NotDue,
    /// `--dry-run`: would run now.
    WouldRun,
    /// Stopped by SIGTERM/SIGINT while it ran.
    Interrupted,
}

impl RowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Ran => "ran",
            RowOutcome::Partial => "partial",
            RowOutcome::Failed => "failed",
            RowOutcome::Skipped => "skipped",
            RowOutcome::NotDue => "not-due",
            RowOutcome::WouldRun => "would-run",
            RowOutcome::Interrupted => "interrupted",
        }
    }

    /// Whether cron's output must mention it: anything but "nothing to do".
    pub fn is_news(self) -> bool {
        self != RowOutcome::NotDue
    }
}

/// One job's line in the run-once report.
#[derive(Clone, Debug, Serialize)]
pub struct JobRow {
    pub channel: String,
    pub job: Job,
    pub outcome: RowOutcome,
    pub items: u64,
    pub duration_ms: Option<u64>,
    pub next_due: Option<Timestamp>,
    /// Why it ran or not, or the error.
    pub detail: String,
    /// A failed job's error kind: `transient` (may pass: timeout, connection,
    /// 5xx, 429, deadline), `channel`, `config` or `internal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
}

#[derive(Debug, Serialize)]
pub struct AccountRun {
    pub account: String,
    pub rows: Vec<JobRow>,
    /// Error findings that made channels be skipped.
    pub config_errors: Vec<Finding>,
    /// `--dry-run --diff`: what each exporting channel's next export would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previews: Option<Vec<super::preview::ExportPreview>>,
}

impl AccountRun {
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.outcome == RowOutcome::Failed)
    }

    /// Whether every failed job failed for a reason that may pass.
    pub fn failed_only_transiently(&self) -> bool {
        self.rows
            .iter()
            .filter(|r| r.outcome == RowOutcome::Failed)
            .all(|r| r.kind == Some(ErrorKind::Transient))
    }

    pub fn partial(&self) -> bool {
        self.rows.iter().any(|r| r.outcome == RowOutcome::Partial)
    }
}

/// The signal that stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StopSignal {
    #[serde(rename = "SIGTERM")]
    Terminate,
    #[serde(rename = "SIGINT")]
    Interrupt,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Interrupt => "SIGINT",
        }
    }

    /// 128 + the signal's number, as a shell reports a process the signal
    /// ended: 143 for SIGTERM, 130 for SIGINT.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Terminate => 143,
            StopSignal::Interrupt => 130,
        }
    }
}

/// The async runtime and the stop signal listener of one `run-once`, made
/// on first use: an idle cron call (nothing due) never builds them. One per
/// command, so a signal between two accounts is not lost.
#[derive(Default)]
pub struct JobRuntime {
    cell: OnceCell<(tokio::runtime::Runtime, watch::Receiver<Option<StopSignal>>)>,
}

impl JobRuntime {
    pub fn new() -> JobRuntime {
        JobRuntime::default()
    }

    fn get(&self) -> Result<&(tokio::runtime::Runtime, watch::Receiver<Option<StopSignal>>)> {
        if let Some(ready) = self.cell.get() {
            return Ok(ready);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let (tx, rx) = watch::channel(None);
        {
            use tokio::signal::unix::{SignalKind, signal};
            let _inside = runtime.enter();
            let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
            let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
            runtime.spawn(async move {
                let stop = tokio::select! {
                    _ = term.recv() => StopSignal::Terminate,
                    _ = int.recv() => StopSignal::Interrupt,
                };
                tracing::warn!(
                    signal = stop.name(),
                    "stopping: no new job starts, the job in flight is recorded as interrupted"
                );
                let _ = tx.send(Some(stop));
                // Stay registered, so a second signal does not kill the
                // process in the middle of its clean-up.
                loop {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
            });
        }
        Ok(self.cell.get_or_init(|| (runtime, rx)))
    }

    /// The signal that stopped the run, if one did.
    pub fn stopped(&self) -> Option<StopSignal> {
        self.cell.get().and_then(|(_, stop)| *stop.borrow())
    }
}

/// Runs (or with `dry_run`, previews) the due jobs of one account.
pub fn run_account(
    store_spec: &StoreSpec,
    loaded: &LoadedAccount,
    capabilities: &Capabilities,
    options: &RunOptions,
    runtime: &JobRuntime,
) -> Result<AccountRun> {
    let account = loaded.id.as_str();
    for wanted in &options.channels {
        if !loaded.config.channels.contains_key(wanted) {
            return Err(Failure::usage(format!(
                "{account}: --channel `{wanted}` is not a channel of this account (channels: {})",
                loaded.config.channel_names()
            ))
            .into());
        }
    }

    let _lock = if options.dry_run {
        None
    } else {
        Some(lock::try_lock_account(store_spec, account).map_err(|err| {
            hint_if(
                err,
                ErrorKind::Busy,
                "exiting with 75 so cron retries next time",
            )
        })?)
    };
    let store = if options.dry_run {
        Store::open_for_reading(store_spec, account)?
    } else {
        let store = Store::open(store_spec, account)?;
        // A channel re-pointed or removed since the last run starts fresh.
        store.sync_endpoints(&crate::store::endpoints_of(&loaded.config))?;
        Some(store)
    };
    // A dry run takes no lock, so a live run may hold the account.
    let live = if options.dry_run {
        LiveRun::Ask(store_spec)
    } else {
        LiveRun::HeldHere
    };
    let inputs = PlanInputs::gather(store.as_ref(), live, loaded, capabilities)?;

    let plan_options = options.plan_options();
    let mut plans: Vec<(&String, &ChannelConfig, Vec<JobPlan>)> = Vec::new();
    for (id, channel) in &loaded.config.channels {
        if !options.channels.is_empty() && !options.channels.contains(id) {
            continue;
        }
        let facts = inputs.facts(id, channel);
        plans.push((
            id,
            channel,
            plan_channel(&facts, &inputs.states, &plan_options),
        ));
    }

    let quiet = inputs.config_errors.is_empty()
        && plans
            .iter()
            .all(|(_, _, plan)| plan.iter().all(|p| p.action == Action::NotDue));
    if options.stamp_idle
        && quiet
        && let Some(store) = &store
    {
        // Only ever saves work later: a failure to stamp is no failure.
        if let Err(err) = idle::stamp(store, loaded, capabilities) {
            tracing::debug!(%account, error = %err, "no idle stamp");
        }
    }

    // A dry run runs nothing, so what is pending now is what the next run finds.
    let previews = if options.dry_run && options.diff {
        Some(export_previews(store.as_ref(), loaded, &options.channels)?)
    } else {
        None
    };
    let mut ran: BTreeMap<(String, Job), JobRow> = BTreeMap::new();
    let runnable: Vec<_> = plans
        .iter()
        .filter(|(_, _, plan)| !options.dry_run && plan.iter().any(|p| p.action == Action::Run))
        .collect();
    if let (false, Some(store)) = (runnable.is_empty(), store) {
        let store = Arc::new(store);
        let channel_runs: Vec<(ChannelRun, Vec<JobPlan>)> = runnable
            .iter()
            .map(|(id, _, plan)| {
                let jobs = plan
                    .iter()
                    .filter(|p| p.action == Action::Run)
                    .cloned()
                    .collect();
                let ch = channel_run(loaded, id, capabilities, &store, store_spec, options)?;
                Ok((ch, jobs))
            })
            .collect::<Result<_>>()?;
        let (rt, stop) = runtime.get()?;
        let results = rt.block_on(run_channels(channel_runs, options, stop.clone()))?;
        for row in results {
            ran.insert((row.channel.clone(), row.job), row);
        }
        // Next due times after the run, from the state the run left.
        let after = store.read(|tx| tx.job_states())?;
        for ((channel, job), row) in ran.iter_mut() {
            let period = loaded.config.channels[channel].period(*job);
            let state = after
                .get(&(channel.clone(), *job))
                .cloned()
                .unwrap_or_default();
            row.next_due = decide(&period, &JobHistory::from(&state), Timestamp::now()).next_due;
        }
    }

    let mut rows = Vec::new();
    for (id, _, plan) in plans {
        for job_plan in plan {
            if let Some(row) = ran.remove(&(id.clone(), job_plan.job)) {
                rows.push(row);
                continue;
            }
            let outcome = match job_plan.action {
                Action::Run => RowOutcome::WouldRun,
                Action::NotDue => RowOutcome::NotDue,
                Action::Skip => RowOutcome::Skipped,
            };
            rows.push(JobRow {
                channel: id.clone(),
                job: job_plan.job,
                outcome,
                items: 0,
                duration_ms: None,
                next_due: job_plan.next_due,
                detail: job_plan.reason,
                kind: None,
            });
        }
    }
    rows.sort_by(|a, b| (&a.channel, a.job).cmp(&(&b.channel, b.job)));
    Ok(AccountRun {
        account: account.to_string(),
        rows,
        config_errors: inputs.config_errors,
        previews,
    })
}

/// What the next export of each exporting channel (of `only`, when given)
/// would do; with no store yet, nothing is pending anywhere.
fn export_previews(
    store: Option<&Store>,
    loaded: &LoadedAccount,
    only: &[String],
) -> Result<Vec<super::preview::ExportPreview>> {
    let mut previews = Vec::new();
    for (id, channel) in &loaded.config.channels {
        let exporting = channel.period(Job::ExportProducts) != crate::period::Period::Off
            && loaded.config.master_product_source != *id;
        if !exporting || (!only.is_empty() && !only.contains(id)) {
            continue;
        }
        let preview = match (store, channel.export_fields()) {
            (Some(store), Ok(fields)) => {
                super::preview::preview(store, id, fields, channel.quarantine_threshold())?
            }
            // An unknown field is a validation error: the channel is skipped.
            _ => super::preview::ExportPreview {
                channel: id.clone(),
                ..Default::default()
            },
        };
        previews.push(preview);
    }
    Ok(previews)
}

/// What channel `id`'s jobs need to run: its settings, its connector, the
/// store, the deadline and settle time of its type. For run-once, and for
/// the commands that talk to a channel outside it (`products diff`).
pub fn channel_run(
    loaded: &LoadedAccount,
    id: &str,
    capabilities: &Capabilities,
    store: &Arc<Store>,
    store_spec: &StoreSpec,
    options: &RunOptions,
) -> Result<ChannelRun> {
    let account = loaded.id.as_str();
    let channel = loaded.config.channels.get(id).ok_or_else(|| {
        Failure::usage(format!(
            "{account}: `{id}` is not a channel of this account (channels: {})",
            loaded.config.channel_names()
        ))
    })?;
    let connector = channel_connector(channel, capabilities, options.client)
        .with_context(|| format!("{account}/{id}"))?;
    let channel_type = capabilities.get(&channel.channel_type);
    let deadline = channel_type.map_or(crate::capabilities::DEFAULT_DEADLINE, |t| {
        t.job_deadline(channel.deadline.as_ref())
    });
    let settle = channel_type.map_or(crate::capabilities::DEFAULT_SETTLE, |t| t.settle());
    Ok(ChannelRun {
        account: account.to_string(),
        channel_id: id.to_string(),
        channel: channel.clone(),
        is_master: loaded.config.master_product_source == id,
        store: Arc::clone(store),
        connector,
        store_spec: store_spec.clone(),
        full: options.full,
        allow_removal: options.allow_removal,
        deadline,
        settle,
        now: options.now,
    })
}

/// The connector for a channel, by its type's protocol, with the channel's limits.
fn channel_connector(
    channel: &ChannelConfig,
    capabilities: &Capabilities,
    client: ClientOptions,
) -> Result<Box<dyn connector::Connector>> {
    // Validation ran first: a channel of an unknown type or a bad URL was skipped.
    let channel_type = capabilities.get(&channel.channel_type).ok_or_else(|| {
        Failure::internal(format!(
            "unknown channel type `{}` after validation",
            channel.channel_type
        ))
    })?;
    let settings = connector::Settings {
        base_url: check_url(&channel.base_url)
            .map_err(|e| Failure::config(format!("base-url: {e}")))?,
        auth_method: channel
            .auth
            .as_ref()
            .map(|a| a.method())
            .unwrap_or_default(),
        limits: channel_type.channel_limits(channel),
        options: ClientOptions {
            rate_limit: channel_type.channel_rate_limit(channel),
            ..client
        },
        sales_channel_id: channel.sales_channel_id.clone(),
        stock_location_id: channel.stock_location_id.clone(),
        locations: channel.locations.clone(),
        category_facet: channel.category_facet.clone(),
        tag_facet: channel.tag_facet.clone(),
        attributes_field: channel.attributes_field.clone(),
    };
    Ok(connector::connect(&channel_type.protocol, settings)?)
}

/// Channels run concurrently (at most `concurrency` at once) on one thread;
/// each channel's jobs run in order, and a failed auth-refresh skips the rest.
async fn run_channels(
    channels: Vec<(ChannelRun, Vec<JobPlan>)>,
    options: &RunOptions,
    stop: watch::Receiver<Option<StopSignal>>,
) -> Result<Vec<JobRow>> {
    let bars = indicatif::MultiProgress::with_draw_target(if options.progress {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    });
    let limit = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    // Local tasks: the runtime has one thread, and the jobs' futures borrow
    // their channel's context, so they need not be `Send`.
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for (ch, jobs) in channels {
                let limit = Arc::clone(&limit);
                let bars = bars.clone();
                let mut stop = stop.clone();
                tasks.spawn_local(async move {
                    let permit = tokio::select! {
                        permit = limit.acquire_owned() => Some(permit.expect("the semaphore is never closed")),
                        _ = stopped(&mut stop) => None,
                    };
                    let _permit = permit;
                    run_channel_jobs(&ch, &jobs, &bars, stop).await
                });
            }
            let mut rows = Vec::new();
            while let Some(result) = tasks.join_next().await {
                rows.extend(result.context("a channel task panicked")??);
            }
            Ok(rows)
        })
        .await
}

/// Resolves once a stop signal has arrived (at once if one already has).
async fn stopped(stop: &mut watch::Receiver<Option<StopSignal>>) -> StopSignal {
    loop {
        if let Some(signal) = *stop.borrow_and_update() {
            return signal;
        }
        if stop.changed().await.is_err() {
            // The listener is gone: no signal can come any more.
            std::future::pending::<()>().await;
        }
    }
}

/// How one job ended.
enum JobEnd {
    Done(Finished),
    Failed(anyhow::Error),
    DeadlineExceeded(Duration),
    Stopped(StopSignal),
}

fn human_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string().replace(' ', "")
}

async fn run_channel_jobs(
    ch: &ChannelRun,
    jobs: &[JobPlan],
    bars: &indicatif::MultiProgress,
    mut stop: watch::Receiver<Option<StopSignal>>,
) -> Result<Vec<JobRow>> {
    let mut rows = Vec::new();
    // Why the channel's later jobs do not run, once one of them cannot.
    let mut held_back: Option<(String, bool)> = None;
    for job_plan in jobs {
        let job = job_plan.job;
        let forced = job_plan.forced;
        let row = |outcome, items, duration_ms, detail: String| JobRow {
            channel: ch.channel_id.clone(),
            job,
            outcome,
            items,
            duration_ms,
            next_due: None,
            detail,
            kind: None,
        };
        if let Some(signal) = *stop.borrow() {
            // Not started: it stays due, and the next run does it.
            rows.push(row(
                RowOutcome::Skipped,
                0,
                None,
                format!("not started: run-once was stopped by {}", signal.name()),
            ));
            continue;
        }
        if let Some((reason, product_jobs_only)) = &held_back
            && (job.is_product_job() || !product_jobs_only)
        {
            ch.store
                .write(|tx| tx.record_skipped(&ch.channel_id, job, Timestamp::now(), reason))?;
            rows.push(row(RowOutcome::Skipped, 0, None, reason.clone()));
            continue;
        }
        let run = ch.store.write(|tx| {
            tx.begin_run_for_slot(&ch.channel_id, job, Timestamp::now(), forced, job_plan.slot)
        })?;
        let started = Instant::now();
        let bar = bars.add(indicatif::ProgressBar::new_spinner());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {prefix} {pos} products ({elapsed})",
            )
            .expect("the template is valid"),
        );
        bar.set_prefix(format!("{}/{} {job}", ch.account, ch.channel_id));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        let work = async {
            match job {
                Job::AuthRefresh => auth::refresh(ch, Some(run)).await.map(|_| Finished {
                    items: 0,
                    detail: String::new(),
                    partial: false,
                }),
                Job::ImportProducts => import::run(ch, run, &bar).await,
                Job::ExportProducts => export::run(ch, run, &bar).await.map(|done| Finished {
                    items: done.counts.sent,
                    partial: done.partial.is_some(),
                    detail: done.detail,
                }),
                Job::ExportStock => stock::run(ch, run).await,
            }
        };
        // Dropping `work` cancels the job between two awaits: an HTTP request
        // is abandoned, a page being committed (on a blocking thread) is
        // committed whole together with its cursor, and nothing else is
        // half-written, because every state change is one transaction.
        let end = tokio::select! {
            biased;
            signal = stopped(&mut stop) => JobEnd::Stopped(signal),
            result = tokio::time::timeout(ch.deadline, work) => match result {
                Ok(Ok(finished)) => JobEnd::Done(finished),
                Ok(Err(err)) => JobEnd::Failed(err),
                Err(_) => JobEnd::DeadlineExceeded(ch.deadline),
            },
        };
        bar.finish_and_clear();
        let duration_ms = Some(started.elapsed().as_millis() as u64);
        let done = |items, detail: &str| {
            tracing::info!(channel = %ch.channel_id, %job, items, "job succeeded");
            let detail = match (forced, detail) {
                (true, "") => "forced".to_string(),
                (true, detail) => format!("forced; {detail}"),
                (false, detail) => detail.to_string(),
            };
            row(RowOutcome::Ran, items, duration_ms, detail)
        };
        let entry = match end {
            JobEnd::Done(Finished {
                items,
                detail,
                partial: false,
            }) => done(items, &detail),
            JobEnd::Done(Finished { items, detail, .. }) => {
                tracing::warn!(channel = %ch.channel_id, %job, items, %detail, "job partly done");
                row(RowOutcome::Partial, items, duration_ms, detail)
            }
            JobEnd::Stopped(signal) => {
                let detail = format!(
                    "stopped by {}; what it committed is kept, and the next run starts it again",
                    signal.name()
                );
                match finish_unless_finished(ch, |tx| {
                    tx.finish_interrupted(run, Timestamp::now(), &detail)
                })? {
                    // Its last commit, success included, landed as it was stopped.
                    None => done(0, ""),
                    Some(committed) => row(RowOutcome::Interrupted, committed, duration_ms, detail),
                }
            }
            JobEnd::Failed(_) | JobEnd::DeadlineExceeded(_) => {
                let (message, kind, deadline_exceeded) = match end {
                    JobEnd::Failed(err) => (
                        crate::error::describe_with_hints(&err),
                        crate::error_report::kind_of(&err),
                        false,
                    ),
                    // The channel did not answer in time: it may next time.
                    JobEnd::DeadlineExceeded(limit) => (
                        format!(
                            "deadline exceeded: {job} did not finish within {} (the channel's deadline); what it committed is kept",
                            human_duration(limit)
                        ),
                        ErrorKind::Transient,
                        true,
                    ),
                    JobEnd::Done(..) | JobEnd::Stopped(_) => unreachable!("matched above"),
                };
                tracing::warn!(channel = %ch.channel_id, %job, error = %message, "job failed");
                let recorded = finish_unless_finished(ch, |tx| {
                    tx.finish_failure(run, Timestamp::now(), 0, &message)
                })?;
                if let Some(committed) = recorded {
                    if deadline_exceeded {
                        // The channel does not answer: its other jobs would
                        // only spend their deadlines too.
                        held_back = Some((
                            format!(
                                "{job} exceeded its deadline: this channel's later jobs are skipped"
                            ),
                            false,
                        ));
                    } else if job == Job::AuthRefresh {
                        held_back = Some((
                            "auth-refresh failed: product jobs skipped".to_string(),
                            true,
                        ));
                    }
                    JobRow {
                        kind: Some(kind),
                        ..row(RowOutcome::Failed, committed, duration_ms, message)
                    }
                } else {
                    done(0, "")
                }
            }
        };
        rows.push(entry);
    }
    Ok(rows)
}

/// Records how a cancelled or failed job ended, returning the items its
/// commits recorded; `None` when the job had already recorded its own end
/// (its last commit landed as it was cancelled).
fn finish_unless_finished(
    ch: &ChannelRun,
    finish: impl FnOnce(&crate::store::Tx) -> crate::store::Result<u64>,
) -> Result<Option<u64>> {
    match ch.store.write(finish) {
        Ok(committed) => Ok(Some(committed)),
        Err(StoreError::RunNotRunning { outcome, .. }) if outcome != Outcome::Running => Ok(None),
        Err(err) => Err(err.into()),
    }
}
