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
use crate::error::{Busy, EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_TEMPFAIL, exit_code};
use crate::jobs::runner::{AccountRun, RunOptions, run_account};
use crate::output::{Report, table, when, write_table};
use crate::period::Job;

/// Parses `--now`; an RFC 3339 instant with an offset (`Z` or `+01:00`).
pub fn parse_now(now: Option<&str>) -> Result<Timestamp> {
    match now {
        None => Ok(Timestamp::now()),
        // A usage error (exit 2), like any bad flag value.
        Some(text) => text.parse().map_err(|_| {
            anyhow::anyhow!(
                "invalid --now `{text}`: expected an RFC 3339 instant such as 2026-11-27T10:00:00Z"
            )
        }),
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
}

#[derive(Serialize)]
struct AccountError {
    account: String,
    error: String,
    busy: bool,
}

impl Report for RunReport {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        for (i, run) in self.accounts.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
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
            let mut t = table([
                "CHANNEL", "JOB", "OUTCOME", "ITEMS", "DURATION", "NEXT DUE", "DETAIL",
            ]);
            for row in &run.rows {
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
            for finding in &run.config_errors {
                writeln!(out, "{finding}")?;
            }
        }
        for error in &self.errors {
            writeln!(out, "{}: {}", error.account, error.error)?;
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
    };
    let mut exit = EXIT_OK;
    for account in &accounts {
        let result = config::load_account(&ctx.paths, account)
            .map_err(anyhow::Error::new)
            .and_then(|loaded| run_account(&ctx.paths.data_dir, &loaded, &capabilities, &options));
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
            // answer, on stderr; scripts asking for JSON get the document too.
            Err(err) if !args.all_accounts && !ctx.json => return Err(err),
            Err(err) => {
                if !args.all_accounts {
                    eprintln!("oms-channels: {}", crate::error::describe(&err));
                }
                let busy = err.chain().any(|c| c.is::<Busy>());
                let code = exit_code(&err);
                if exit == EXIT_OK || (exit == EXIT_TEMPFAIL && code != EXIT_TEMPFAIL) {
                    exit = code;
                }
                report.errors.push(AccountError {
                    account: account.clone(),
                    error: crate::error::describe(&err),
                    busy,
                });
            }
        }
    }
    Ok(Outcome::with_exit(report, exit))
}
