//! `run-once`: run the due jobs of the selected account (or all accounts).

use std::io::{self, IsTerminal as _, Write};

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::Outcome;
use super::report::{human_millis, write_product_diff};
use crate::cli::RunOnceArgs;
use crate::config;
use crate::context::Context;
use crate::error::{
    EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, EXIT_UNAVAILABLE, ErrorKind, Failure,
};
use crate::error_report::{kind_of, store_unavailable};
use crate::jobs::idle;
use crate::jobs::preview::ExportPreview;
use crate::jobs::runner::{AccountRun, JobRuntime, RunOptions, StopSignal, run_account};
use crate::output::{Report, table, when, write_table};
use crate::period::Job;

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
    kind: ErrorKind,
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
            for preview in run.previews.iter().flatten() {
                write_preview(out, preview)?;
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

/// `--dry-run --diff`: one channel's next export, a line per product
/// created or deleted and per field changed (`old -> new`, as JSON values,
/// escaped: they may be a shop's text).
fn write_preview(out: &mut dyn Write, preview: &ExportPreview) -> io::Result<()> {
    use crate::output::escape;
    writeln!(
        out,
        "\nnext export to {}: {} to create, {} to update, {} to delete",
        preview.channel,
        preview.create.len(),
        preview.update.len(),
        preview.delete.len()
    )?;
    for created in &preview.create {
        writeln!(
            out,
            "  create  {} ({})",
            escape(&created.handle),
            escape(&created.skus.join(", "))
        )?;
    }
    for update in &preview.update {
        write_product_diff(out, "update", update)?;
    }
    for deleted in &preview.delete {
        if deleted.whole_product {
            writeln!(out, "  delete  {}", escape(&deleted.handle))?;
        } else {
            writeln!(
                out,
                "  delete  {} variants {}",
                escape(&deleted.handle),
                escape(&deleted.skus.join(", "))
            )?;
        }
    }
    Ok(())
}

/// What one account's run adds to the exit status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RunSummary {
    /// Jobs failed, each for a reason that may pass (transient).
    transient_failures: bool,
    /// Jobs failed for a reason that needs a fix (or an unknown one).
    other_failures: bool,
    /// The exit code of the first other thing that went wrong: 3 for a
    /// partial job, 2 for channels skipped for config errors, or that of an
    /// account that could not run.
    first_other: Option<u8>,
}

impl RunSummary {
    fn of(run: &AccountRun) -> RunSummary {
        let first_other = if run.partial() {
            Some(EXIT_PARTIAL)
        } else if !run.config_errors.is_empty() {
            Some(EXIT_CONFIG)
        } else {
            None
        };
        RunSummary {
            transient_failures: run.failed() && run.failed_only_transiently(),
            other_failures: run.failed() && !run.failed_only_transiently(),
            first_other,
        }
    }

    fn merge(&mut self, other: RunSummary) {
        self.transient_failures |= other.transient_failures;
        self.other_failures |= other.other_failures;
        self.first_other = self.first_other.or(other.first_other);
    }

    /// 1 when a job failed; 69 instead when every failure was transient and
    /// nothing else went wrong (nothing to fix: cron's next tick retries);
    /// else the code of the first other thing that went wrong, or 0.
    fn exit_code(&self) -> u8 {
        if self.transient_failures && !self.other_failures && self.first_other.is_none() {
            EXIT_UNAVAILABLE
        } else if self.transient_failures || self.other_failures {
            EXIT_FAILED
        } else {
            self.first_other.unwrap_or(EXIT_OK)
        }
    }
}

pub fn run(ctx: &Context, args: &RunOnceArgs) -> Result<Outcome> {
    let now = ctx.now(args.now.as_deref())?;
    let jobs = args
        .job
        .iter()
        .map(|j| {
            j.parse::<Job>()
                .map_err(|e| Failure::usage(format!("--job: {e}")).into())
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RunOptions {
        force: args.force,
        dry_run: args.dry_run,
        full: args.full,
        allow_removal: args.allow_removal,
        diff: args.diff,
        now,
        channels: args.channel.clone(),
        jobs,
        concurrency: args.concurrency as usize,
        client: ctx.client_options()?,
        // The brief: no progress bar when stdout is not a terminal (cron, pipes,
        // CI) or NO_COLOR is set; it is drawn on stderr, so that must be one too.
        progress: ctx.verbosity >= 0
            && !ctx.json
            && io::stdout().is_terminal()
            && io::stderr().is_terminal()
            && crate::paths::env_value("NO_COLOR").is_none(),
        stamp_idle: !args.force
            && !args.dry_run
            && args.now.is_none()
            && args.channel.is_empty()
            && args.job.is_empty(),
    };
    // A call that prints nothing when nothing is due may take an account's
    // idle stamp for its answer; one that shows the not-due rows plans.
    let quiet_call = options.stamp_idle && !ctx.json && ctx.verbosity <= 0;
    // Parsed for the first account that is planned: an idle call reads
    // only the files' bytes.
    let capabilities = std::cell::OnceCell::new();
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
    let store = ctx.store_spec()?;
    report.shared_store = store.is_postgres();
    let runtime = JobRuntime::new();
    let mut summary = RunSummary::default();
    for account in &accounts {
        if runtime.stopped().is_some() {
            break;
        }
        if quiet_call && idle::is_idle(&ctx.paths, store, account, now) {
            continue;
        }
        let capabilities = match capabilities.get() {
            Some(loaded) => loaded,
            None => {
                let loaded = ctx.capabilities()?;
                capabilities.get_or_init(|| loaded)
            }
        };
        let result = config::load_account(&ctx.paths, account)
            .map_err(anyhow::Error::new)
            .and_then(|loaded| run_account(store, &loaded, capabilities, &options, &runtime));
        match result {
            Ok(run) => {
                summary.merge(RunSummary::of(&run));
                report.accounts.push(run);
            }
            // With one account, a busy lock or a broken file is the whole
            // answer: an error (exit 75 or 2), as a JSON error document with --json.
            Err(err) if !args.all_accounts => return Err(err),
            // Without the store no account can run: say so once, exit 75.
            Err(err) if store_unavailable(&err) => return Err(err),
            Err(err) => {
                let kind = kind_of(&err);
                let busy = kind == ErrorKind::Busy;
                // Over all accounts, one that another run holds is not a
                // failure of this run: it is reported and skipped.
                if !busy {
                    summary.merge(RunSummary {
                        first_other: Some(kind.exit_code()),
                        ..RunSummary::default()
                    });
                }
                report.errors.push(AccountError {
                    account: account.clone(),
                    // A busy account's hint is for a run that named it alone.
                    error: if busy {
                        crate::error::describe(&err)
                    } else {
                        crate::error::describe_with_hints(&err)
                    },
                    kind,
                    busy,
                });
            }
        }
    }
    let exit = match runtime.stopped() {
        Some(signal) => {
            report.stopped = Some(signal);
            signal.exit_code()
        }
        None => summary.exit_code(),
    };
    Ok(Outcome::with_exit(report, exit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(transient: bool, other: bool, first_other: Option<u8>) -> RunSummary {
        RunSummary {
            transient_failures: transient,
            other_failures: other,
            first_other,
        }
    }

    #[test]
    fn exit_codes_of_a_run() {
        assert_eq!(summary(false, false, None).exit_code(), 0);
        // Only outages: nothing to fix, the next tick retries.
        assert_eq!(summary(true, false, None).exit_code(), 69);
        // Anything that needs a fix makes it a plain failure.
        assert_eq!(summary(true, true, None).exit_code(), 1);
        assert_eq!(summary(true, false, Some(3)).exit_code(), 1);
        assert_eq!(summary(true, false, Some(2)).exit_code(), 1);
        assert_eq!(summary(false, true, None).exit_code(), 1);
        assert_eq!(summary(false, false, Some(3)).exit_code(), 3);
        assert_eq!(summary(false, false, Some(2)).exit_code(), 2);
    }

    #[test]
    fn accounts_merge_into_one_exit_code() {
        let mut all = summary(true, false, None);
        all.merge(RunSummary::default());
        assert_eq!(all.exit_code(), 69);
        // The first account's config error is not replaced by a later partial.
        let mut all = summary(false, false, Some(2));
        all.merge(summary(false, false, Some(3)));
        assert_eq!(all.exit_code(), 2);
        all.merge(summary(true, false, None));
        assert_eq!(all.exit_code(), 1);
    }
}
