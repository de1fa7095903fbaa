//! run-once for one account: validate, lock, decide what is due, run it per
//! channel (channels concurrently, jobs in order), and report one row per job.
//! Nothing async is started when nothing is due: cron calls this every minute.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use jiff::Timestamp;
use serde::Serialize;

use super::{ChannelRun, auth, export, import};
use crate::capabilities::Capabilities;
use crate::config::{ChannelConfig, LoadedAccount};
use crate::connector::{self, ClientOptions, check_url};
use crate::error::Busy;
use crate::period::Job;
use crate::schedule::{Decision, JobHistory, decide};
use crate::store::{JobState, JobStates, Store, Tokens, lock};
use crate::validate::{Finding, Severity, secret_present_here, validate_account};

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub force: bool,
    pub dry_run: bool,
    pub full: bool,
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
        }
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
}

#[derive(Debug, Serialize)]
pub struct AccountRun {
    pub account: String,
    pub rows: Vec<JobRow>,
    /// Error findings that made channels be skipped.
    pub config_errors: Vec<Finding>,
}

impl AccountRun {
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.outcome == RowOutcome::Failed)
    }

    pub fn partial(&self) -> bool {
        self.rows.iter().any(|r| r.outcome == RowOutcome::Partial)
    }
}

/// What to do with one job of one channel.
#[derive(Debug)]
enum Step {
    Run { forced: bool, decision: Decision },
    NotDue(Decision),
    Skip(String),
}

struct ChannelPlan {
    id: String,
    steps: Vec<(Job, Step)>,
}

impl ChannelPlan {
    fn has_work(&self) -> bool {
        self.steps
            .iter()
            .any(|(_, s)| matches!(s, Step::Run { .. }))
    }
}

/// `auth_failing`: why the channel's product jobs must wait, when its last
/// auth-refresh failed and no token was stored since (see `auth_failing_reason`).
fn plan_channel(
    id: &str,
    channel: &ChannelConfig,
    states: &JobStates,
    auth_failing: Option<&str>,
    options: &RunOptions,
) -> ChannelPlan {
    let auth_off = channel.period(Job::AuthRefresh).is_off();
    // A product job would refresh the token itself and resend the rejected
    // grant, bypassing auth-refresh's backoff; it waits unless auth runs first.
    let auth_runs = (options.jobs.is_empty() || options.jobs.contains(&Job::AuthRefresh))
        && (options.force || {
            let state = states
                .get(&(id.to_string(), Job::AuthRefresh))
                .cloned()
                .unwrap_or_default();
            decide(
                &channel.period(Job::AuthRefresh),
                &JobHistory::from(&state),
                options.now,
            )
            .due
        });
    let steps = Job::ALL
        .into_iter()
        .filter(|job| options.jobs.is_empty() || options.jobs.contains(job))
        .map(|job| {
            let period = channel.period(job);
            let state = states
                .get(&(id.to_string(), job))
                .cloned()
                .unwrap_or_default();
            let decision = decide(&period, &JobHistory::from(&state), options.now);
            let step = if period.is_off() {
                Step::NotDue(decision)
            } else if auth_off {
                Step::Skip("auth-refresh is none: no API call is made to this channel".to_string())
            } else if let Some(reason) = auth_failing.filter(|_| job.is_product_job() && !auth_runs)
            {
                Step::Skip(reason.to_string())
            } else if decision.due || options.force {
                Step::Run {
                    forced: options.force && !decision.due,
                    decision,
                }
            } else {
                Step::NotDue(decision)
            };
            (job, step)
        })
        .collect();
    ChannelPlan {
        id: id.to_string(),
        steps,
    }
}

/// Why product jobs must wait: the last auth-refresh failed and no token was
/// stored since (a `channel login` or a successful refresh clears this).
/// `status` uses it too, so it tells the same story as `run-once`.
pub fn auth_failing_reason(
    auth: &JobState,
    tokens: Option<&Tokens>,
    channel: &ChannelConfig,
) -> Option<String> {
    let attempt = auth.last_attempt_start?;
    if auth.consecutive_failures == 0 || tokens.is_some_and(|t| t.updated_at > attempt) {
        return None;
    }
    let retry = decide(
        &channel.period(Job::AuthRefresh),
        &JobHistory::from(auth),
        attempt,
    )
    .next_due
    .map_or_else(String::new, |at| format!("; it is retried at {at}"));
    Some(format!(
        "auth-refresh failed at {attempt} and no token was stored since: product jobs wait for it{retry}"
    ))
}

/// Runs (or with `dry_run`, previews) the due jobs of one account.
pub fn run_account(
    data_dir: &Path,
    loaded: &LoadedAccount,
    capabilities: &Capabilities,
    options: &RunOptions,
) -> Result<AccountRun> {
    let account = loaded.id.as_str();
    for wanted in &options.channels {
        if !loaded.config.channels.contains_key(wanted) {
            // A usage error (exit 2), like any bad flag value.
            anyhow::bail!(
                "{account}: --channel `{wanted}` is not a channel of this account (channels: {})",
                loaded.config.channel_names()
            );
        }
    }
    let findings = validate_account(account, &loaded.config, capabilities, &secret_present_here);
    let config_errors: Vec<Finding> = findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    let account_broken = config_errors.iter().any(|f| f.channel.is_none());

    let _lock = if options.dry_run {
        None
    } else {
        Some(
            lock::try_lock_account(data_dir, account).map_err(|err| match err {
                lock::LockError::Held { .. } => anyhow::Error::new(Busy(format!(
                    "{err}; exiting with 75 so cron retries next time"
                ))),
                other => anyhow::Error::new(other),
            })?,
        )
    };
    let store = if options.dry_run {
        Store::open_if_exists(data_dir, account)?
    } else {
        let store = Store::open(data_dir, account)?;
        // A channel re-pointed or removed since the last run starts fresh.
        store.sync_endpoints(&crate::store::endpoints_of(&loaded.config))?;
        Some(store)
    };
    let states = match &store {
        Some(store) => store.read(|tx| tx.job_states())?,
        None => JobStates::new(),
    };

    let mut auth_failing: BTreeMap<String, String> = BTreeMap::new();
    if let Some(store) = &store {
        for id in loaded.config.channels.keys() {
            // Only a failing auth-refresh can hold product jobs back; reading
            // tokens for every healthy channel would slow the idle cron call.
            let Some(auth) = states
                .get(&(id.clone(), Job::AuthRefresh))
                .filter(|auth| auth.consecutive_failures > 0)
            else {
                continue;
            };
            let tokens = store.read(|tx| tx.tokens(id))?;
            if let Some(reason) =
                auth_failing_reason(auth, tokens.as_ref(), &loaded.config.channels[id])
            {
                auth_failing.insert(id.clone(), reason);
            }
        }
    }

    let mut rows = Vec::new();
    let mut plans = Vec::new();
    for (id, channel) in &loaded.config.channels {
        if !options.channels.is_empty() && !options.channels.contains(id) {
            continue;
        }
        let errors: Vec<&str> = config_errors
            .iter()
            .filter(|f| f.channel.as_deref() == Some(id.as_str()) || f.channel.is_none())
            .map(|f| f.code)
            .collect();
        if !errors.is_empty() || account_broken {
            for job in Job::ALL {
                if !options.jobs.is_empty() && !options.jobs.contains(&job) {
                    continue;
                }
                rows.push(JobRow {
                    channel: id.clone(),
                    job,
                    outcome: RowOutcome::Skipped,
                    items: 0,
                    duration_ms: None,
                    next_due: None,
                    detail: format!(
                        "config error: {} (see `oms-channels validate`)",
                        errors.join(", ")
                    ),
                });
            }
            continue;
        }
        plans.push((
            plan_channel(
                id,
                channel,
                &states,
                auth_failing.get(id).map(String::as_str),
                options,
            ),
            channel.clone(),
        ));
    }

    let runnable: Vec<_> = if options.dry_run {
        Vec::new()
    } else {
        plans.iter().filter(|(p, _)| p.has_work()).collect()
    };
    let mut ran: BTreeMap<(String, Job), JobRow> = BTreeMap::new();
    if let (false, Some(store)) = (runnable.is_empty(), store) {
        let store = Arc::new(store);
        let channel_runs: Vec<(ChannelRun, Vec<(Job, bool)>)> = runnable
            .iter()
            .map(|(plan, channel)| {
                let connector = channel_connector(channel, capabilities, options.client)
                    .with_context(|| format!("{account}/{}", plan.id))?;
                let jobs = plan
                    .steps
                    .iter()
                    .filter_map(|(job, step)| match step {
                        Step::Run { forced, .. } => Some((*job, *forced)),
                        _ => None,
                    })
                    .collect();
                Ok((
                    ChannelRun {
                        account: account.to_string(),
                        channel_id: plan.id.clone(),
                        channel: channel.clone(),
                        is_master: loaded.config.master_product_source == plan.id,
                        store: Arc::clone(&store),
                        connector,
                        data_dir: data_dir.to_path_buf(),
                        full: options.full,
                    },
                    jobs,
                ))
            })
            .collect::<Result<_>>()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let results = runtime.block_on(run_channels(channel_runs, options))?;
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

    for (plan, _) in plans {
        for (job, step) in plan.steps {
            if let Some(row) = ran.remove(&(plan.id.clone(), job)) {
                rows.push(row);
                continue;
            }
            let (outcome, next_due, detail) = match step {
                Step::Run { forced, decision } => (
                    RowOutcome::WouldRun,
                    decision.next_due,
                    if forced {
                        "forced".to_string()
                    } else {
                        decision.reason
                    },
                ),
                Step::NotDue(decision) => (RowOutcome::NotDue, decision.next_due, decision.reason),
                Step::Skip(reason) => (RowOutcome::Skipped, None, reason),
            };
            rows.push(JobRow {
                channel: plan.id.clone(),
                job,
                outcome,
                items: 0,
                duration_ms: None,
                next_due,
                detail,
            });
        }
    }
    rows.sort_by(|a, b| (&a.channel, a.job).cmp(&(&b.channel, b.job)));
    Ok(AccountRun {
        account: account.to_string(),
        rows,
        config_errors,
    })
}

/// The connector for a channel, by its type's protocol, with the channel's limits.
fn channel_connector(
    channel: &ChannelConfig,
    capabilities: &Capabilities,
    client: ClientOptions,
) -> Result<Box<dyn connector::Connector>> {
    // Validation ran first: a channel of an unknown type was skipped.
    let channel_type = capabilities
        .get(&channel.channel_type)
        .with_context(|| format!("unknown channel type `{}`", channel.channel_type))?;
    let settings = connector::Settings {
        base_url: check_url(&channel.base_url)?,
        auth_method: channel
            .auth
            .as_ref()
            .map(|a| a.method())
            .unwrap_or_default(),
        limits: channel_type.channel_limits(channel),
        options: client,
        sales_channel_id: channel.sales_channel_id.clone(),
        stock_location_id: channel.stock_location_id.clone(),
    };
    Ok(connector::connect(&channel_type.protocol, settings)?)
}

/// Channels run concurrently (at most `concurrency` at once) on one thread;
/// each channel's jobs run in order, and a failed auth-refresh skips the rest.
async fn run_channels(
    channels: Vec<(ChannelRun, Vec<(Job, bool)>)>,
    options: &RunOptions,
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
                tasks.spawn_local(async move {
                    let _permit = limit
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed");
                    run_channel_jobs(&ch, &jobs, &bars).await
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

async fn run_channel_jobs(
    ch: &ChannelRun,
    jobs: &[(Job, bool)],
    bars: &indicatif::MultiProgress,
) -> Result<Vec<JobRow>> {
    let mut rows = Vec::new();
    let mut auth_failed = false;
    for &(job, forced) in jobs {
        if auth_failed && job.is_product_job() {
            let reason = "auth-refresh failed: product jobs skipped";
            ch.store
                .write(|tx| tx.record_skipped(&ch.channel_id, job, Timestamp::now(), reason))?;
            rows.push(JobRow {
                channel: ch.channel_id.clone(),
                job,
                outcome: RowOutcome::Skipped,
                items: 0,
                duration_ms: None,
                next_due: None,
                detail: reason.to_string(),
            });
            continue;
        }
        let run = ch
            .store
            .write(|tx| tx.begin_run(&ch.channel_id, job, Timestamp::now(), forced))?;
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
        let result = match job {
            Job::AuthRefresh => auth::refresh(ch, Some(run)).await.map(|_| (0, None)),
            Job::ImportProducts => import::run(ch, run, &bar).await.map(|n| (n, None)),
            Job::ExportProducts => export::run(ch, run, &bar)
                .await
                .map(|done| (done.counts.sent, done.partial)),
        };
        bar.finish_and_clear();
        let duration_ms = Some(started.elapsed().as_millis() as u64);
        let row = match result {
            Ok((items, None)) => {
                tracing::info!(channel = %ch.channel_id, %job, items, "job succeeded");
                JobRow {
                    channel: ch.channel_id.clone(),
                    job,
                    outcome: RowOutcome::Ran,
                    items,
                    duration_ms,
                    next_due: None,
                    detail: if forced {
                        "forced".into()
                    } else {
                        String::new()
                    },
                }
            }
            Ok((items, Some(detail))) => {
                tracing::warn!(channel = %ch.channel_id, %job, items, %detail, "job partly done");
                JobRow {
                    channel: ch.channel_id.clone(),
                    job,
                    outcome: RowOutcome::Partial,
                    items,
                    duration_ms,
                    next_due: None,
                    detail,
                }
            }
            Err(err) => {
                let message = crate::error::describe(&err);
                tracing::warn!(channel = %ch.channel_id, %job, error = %message, "job failed");
                ch.store
                    .write(|tx| tx.finish_failure(run, Timestamp::now(), 0, &message))?;
                if job == Job::AuthRefresh {
                    auth_failed = true;
                }
                JobRow {
                    channel: ch.channel_id.clone(),
                    job,
                    outcome: RowOutcome::Failed,
                    items: 0,
                    duration_ms,
                    next_due: None,
                    detail: message,
                }
            }
        };
        rows.push(row);
    }
    Ok(rows)
}
