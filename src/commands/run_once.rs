//! `run-once`: run the due jobs of the selected account (or all accounts).

use std::io::{self, IsTerminal as _, Write};
use std::time::Duration;

use anyhow::{Context as _, Result};
use jiff::Timestamp;
use serde::Serialize;

use crate::app::{Context, Outcome};
use crate::cli::RunOnceArgs;
use crate::config;
use crate::connector::ClientOptions;
use crate::error::{Busy, EXIT_CONFIG, EXIT_FAILED, EXIT_OK, exit_code};
use crate::jobs::runner::{AccountRun, JobRuntime, RunOptions, StopSignal, run_account};
use crate::output::{Report, table, when, write_table};
use crate::period::Job;

/// Parses `--now`; an RFC 3339 instant with an offset (`Z` or `+01:00`).
pub fn parse_now(now: Option<&str>) -> Result<Timestamp> {
    match now {
        None => Ok(Timestamp::now()),
        // A usage error (exit 2), like any bad flag value.
        Some(text) => {
            crate::timestamp::parse_instant(text).map_err(|e| anyhow::anyhow!("invalid --now {e}"))
        }
    }
}

/// HTTP settings, with hidden env overrides so tests can shrink timeouts.
fn client_options() -> Result<ClientOptions> {
    let mut options = ClientOptions::default();
    let millis = |name: &str| -> Result<Option<Duration>> {
        crate::paths::env_value(name)
            .map(|v| {
                v.parse::<u64>()
                    .map(Duration::from_millis)
                    .with_context(|| format!("{name}={v:?} is not a number of milliseconds"))
            })
            .transpose()
    };
    if let Some(d) = millis("OMS_CHANNELS_REQUEST_TIMEOUT_MS")? {
        if d.is_zero() {
            anyhow::bail!(
                "OMS_CHANNELS_REQUEST_TIMEOUT_MS=0: every request would time out at once; give at least 1 millisecond"
            );
        }
        options.request_timeout = d;
        options.read_timeout = d;
    }
    if let Some(d) = millis("OMS_CHANNELS_RETRY_BASE_MS")? {
        options.backoff_base = d;
        options.backoff_cap = d * 8;
        options.retry_after_cap = d * 8;
    }
    Ok(options)
}

#[derive(Serialize)]
struct RunReport {
    dry_run: bool,
    now: Timestamp,
    accounts: Vec<AccountRun>,
    /// Accounts that could not run (busy or broken), with the reason.
    errors: Vec<AccountError>,
    /// The signal that stopped the run early, if one did.
    stopped: Option<StopSignal>,
    /// `-v`: tables show the not-due rows too.
    #[serde(skip)]
    verbose: bool,
    /// Runners share a PostgreSQL store: an account another runner holds is
    /// the normal case, told only at `-v` (and in JSON), so that cron does
    /// not mail it every minute.
    #[serde(skip)]
    shared_store: bool,
}

#[derive(Serialize)]
struct AccountError {
    account: String,
    error: String,
    busy: bool,
}

impl Report for RunReport {
    /// Cron mails every byte a job prints, so with nothing to report (nothing
    /// ran, failed or was skipped) this writes nothing at all; `-v` adds the
    /// not-due rows, and a dry run (a person asking) shows every row.
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let show_all = self.verbose || self.dry_run;
        let mut first = true;
        for run in &self.accounts {
            let rows: Vec<_> = run
                .rows
                .iter()
                .filter(|row| show_all || row.outcome.is_news())
                .collect();
            if rows.is_empty() && run.config_errors.is_empty() && !(show_all && run.rows.is_empty())
            {
                continue;
            }
            if !first {
                writeln!(out)?;
            }
            first = false;
            let verb = if self.dry_run { "dry run" } else { "run-once" };
            writeln!(
                out,
                "account: {} ({verb} at {})",
                run.account,
                when(Some(self.now))
            )?;
            if run.rows.is_empty() {
                writeln!(out, "no channels")?;
                continue;
            }
            if !rows.is_empty() {
                let mut t = table([
                    "CHANNEL", "JOB", "OUTCOME", "ITEMS", "DURATION", "NEXT DUE", "DETAIL",
                ]);
                for row in rows {
                    t.add_row([
                        row.channel.clone(),
                        row.job.to_string(),
                        row.outcome.as_str().to_string(),
                        row.items.to_string(),
                        row.duration_ms.map_or("-".into(), human_millis),
                        when(row.next_due),
                        row.detail.clone(),
                    ]);
                }
                write_table(out, &t)?;
            }
            for finding in &run.config_errors {
                writeln!(out, "{finding}")?;
            }
        }
        for error in &self.errors {
            if error.busy && self.shared_store && !self.verbose {
                continue;
            }
            let kind = if error.busy { "busy, skipped" } else { "error" };
            writeln!(
                out,
                "{}: {kind}: {}",
                error.account,
                crate::output::escape(&error.error)
            )?;
        }
        if let Some(signal) = self.stopped {
            writeln!(
                out,
                "run-once was stopped by {}: jobs in flight are recorded as interrupted; the next run carries on",
                signal.name()
            )?;
        }
        Ok(())
    }
}

/// `850ms`, `12.3s`.
pub fn human_millis(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

pub fn run(ctx: &Context, args: &RunOnceArgs) -> Result<Outcome> {
    let now = parse_now(args.now.as_deref())?;
    let jobs = args
        .job
        .iter()
        .map(|j| j.parse::<Job>().map_err(|e| anyhow::anyhow!("--job: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let options = RunOptions {
        force: args.force,
        dry_run: args.dry_run,
        full: args.full,
        now,
        channels: args.channel.clone(),
        jobs,
        concurrency: args.concurrency as usize,
        client: client_options()?,
        // The brief: no progress bar when stdout is not a terminal (cron, pipes,
        // CI) or NO_COLOR is set; it is drawn on stderr, so that must be one too.
        progress: ctx.verbosity >= 0
            && !ctx.json
            && io::stdout().is_terminal()
            && io::stderr().is_terminal()
            && crate::paths::env_value("NO_COLOR").is_none(),
    };
    let capabilities = ctx.capabilities()?;
    let accounts = if args.all_accounts {
        config::list_accounts(&ctx.paths)?
    } else {
        vec![ctx.select_account()?.account]
    };
    let mut report = RunReport {
        dry_run: args.dry_run,
        now,
        accounts: Vec::new(),
        errors: Vec::new(),
        stopped: None,
        verbose: ctx.verbosity > 0,
        shared_store: false,
    };
    let store = ctx.store()?;
    report.shared_store = store.is_postgres();
    let runtime = JobRuntime::new();
    let mut exit = EXIT_OK;
    for account in &accounts {
        if runtime.stopped().is_some() {
            break;
        }
        let result = config::load_account(&ctx.paths, account)
            .map_err(anyhow::Error::new)
            .and_then(|loaded| run_account(store, &loaded, &capabilities, &options, &runtime));
        match result {
            Ok(run) => {
                if run.failed() {
                    exit = EXIT_FAILED;
                } else if run.partial() && exit == EXIT_OK {
                    exit = crate::error::EXIT_PARTIAL;
                } else if !run.config_errors.is_empty() && exit == EXIT_OK {
                    exit = EXIT_CONFIG;
                }
                report.accounts.push(run);
            }
            // With one account, a busy lock or a broken file is the whole
            // answer: an error (exit 75 or 2), as a JSON error document with --json.
            Err(err) if !args.all_accounts => return Err(err),
            // Without the store no account can run: say so once, exit 75.
            Err(err) if crate::error::store_unavailable(&err) => return Err(err),
            Err(err) => {
                let busy = err.chain().any(|c| c.is::<Busy>());
                // Over all accounts, one that another run holds is not a
                // failure of this run: it is reported and skipped.
                if !busy && exit == EXIT_OK {
                    exit = exit_code(&err);
                }
                report.errors.push(AccountError {
                    account: account.clone(),
                    error: crate::error::describe(&err),
                    busy,
                });
            }
        }
    }
    if let Some(signal) = runtime.stopped() {
        report.stopped = Some(signal);
        exit = signal.exit_code();
    }
    Ok(Outcome::with_exit(report, exit))
}
