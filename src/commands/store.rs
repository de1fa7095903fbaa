//! `store migrate`: the data dir's SQLite stores copied into PostgreSQL.

use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use super::Outcome;
use crate::cli::StoreCommand;
use crate::context::Context;
use crate::error::{EXIT_FAILED, EXIT_OK, EXIT_TEMPFAIL, ErrorKind, Failure, KindContext as _};
use crate::error_report::{kind_of, store_unavailable};
use crate::ids::check_account_id;
use crate::output::Report;
use crate::store::{self, Store, StoreSpec, Transfer, lock};

pub fn run(ctx: &Context, command: StoreCommand) -> Result<Outcome> {
    match command {
        StoreCommand::Migrate { to } => migrate(ctx, &to),
    }
}

#[derive(Serialize)]
struct Migration {
    from: String,
    to: String,
    accounts: Vec<AccountMigration>,
}

#[derive(Serialize)]
struct AccountMigration {
    account: String,
    /// copied | already-there | refused | busy
    result: &'static str,
    rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Report for Migration {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.accounts.is_empty() {
            return writeln!(out, "no SQLite stores in {}: nothing to migrate", self.from);
        }
        for a in &self.accounts {
            match (a.result, a.rows, &a.reason) {
                ("copied", Some(rows), _) => {
                    writeln!(out, "{}: copied ({rows} rows) into {}", a.account, self.to)?
                }
                ("already-there", ..) => {
                    writeln!(out, "{}: already in {}, unchanged", a.account, self.to)?
                }
                (result, _, Some(reason)) => writeln!(out, "{}: {result}: {reason}", a.account)?,
                (result, ..) => writeln!(out, "{}: {result}", a.account)?,
            }
        }
        Ok(())
    }
}

/// The accounts with a SQLite store in the data dir (or the one named by
/// `--account`), sorted.
fn sqlite_accounts(ctx: &Context) -> Result<Vec<String>> {
    if let Some(account) = ctx.account_flag() {
        return Ok(vec![account.to_string()]);
    }
    let dir = &ctx.paths.data_dir;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_kind_context(ErrorKind::Config, || {
                format!("cannot read the data dir `{}`", dir.display())
            });
        }
    };
    let mut accounts = Vec::new();
    for entry in entries {
        let name = entry
            .with_kind_context(ErrorKind::Config, || {
                format!("cannot read the data dir `{}`", dir.display())
            })?
            .file_name();
        let Some(account) = name.to_str().and_then(|n| n.strip_suffix(".db")) else {
            continue;
        };
        if check_account_id(account).is_ok() {
            accounts.push(account.to_string());
        }
    }
    accounts.sort();
    Ok(accounts)
}

fn migrate(ctx: &Context, to: &str) -> Result<Outcome> {
    let target = StoreSpec::postgres(to).map_err(|e| Failure::usage(format!("--to: {e}")))?;
    let source = StoreSpec::files(&ctx.paths.data_dir);
    let mut report = Migration {
        from: source.describe(),
        to: target.describe(),
        accounts: Vec::new(),
    };
    let mut exit = EXIT_OK;
    for account in sqlite_accounts(ctx)? {
        let result = migrate_account(&source, &target, &account);
        let row = match result {
            Ok(Transfer::Copied { rows }) => AccountMigration {
                account,
                result: "copied",
                rows: Some(rows),
                reason: None,
            },
            Ok(Transfer::AlreadyThere) => AccountMigration {
                account,
                result: "already-there",
                rows: None,
                reason: None,
            },
            Ok(Transfer::Refused { reason }) => {
                exit = EXIT_FAILED;
                AccountMigration {
                    account,
                    result: "refused",
                    rows: None,
                    reason: Some(reason),
                }
            }
            Err(err) if store_unavailable(&err) => return Err(err),
            Err(err) if kind_of(&err) == ErrorKind::Busy => {
                if exit == EXIT_OK {
                    exit = EXIT_TEMPFAIL;
                }
                AccountMigration {
                    account,
                    result: "busy",
                    rows: None,
                    reason: Some(format!(
                        "{}; not migrated, run `store migrate` again when it has finished",
                        crate::error::describe(&err)
                    )),
                }
            }
            Err(err) => return Err(err.context(format!("cannot migrate account `{account}`"))),
        };
        report.accounts.push(row);
    }
    Ok(Outcome::with_exit(report, exit))
}

fn migrate_account(source: &StoreSpec, target: &StoreSpec, account: &str) -> Result<Transfer> {
    // Both locks: no run changes either side while it is copied.
    let _source_lock = lock::try_lock_account(source, account)?;
    let _target_lock = lock::try_lock_account(target, account)?;
    let Some(from) = Store::open_if_exists(source, account)? else {
        // Like an account that does not exist (exit 2).
        return Err(Failure::config(format!(
            "account `{account}` has no store in `{}`",
            source.describe()
        ))
        .into());
    };
    let to = Store::open(target, account)?;
    Ok(store::copy_account(account, &from, &to)?)
}
