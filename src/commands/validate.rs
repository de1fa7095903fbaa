//! `validate [--all-accounts] [--strict] [--offline]`: findings, one per
//! line, and an exit status scripts can rely on (0 clean or warnings, 1 errors
//! or strict warnings, 2 unreadable files, a missing config dir or account).

use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use super::Outcome;
use crate::cli::ValidateArgs;
use crate::config;
use crate::context::Context;
use crate::error::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Failure};
use crate::output::Report;
use crate::validate::{Finding, Severity};

#[derive(Serialize)]
struct AccountResult {
    account: String,
    /// Set when the account file cannot be read or parsed.
    error: Option<String>,
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct Validation {
    ok: bool,
    strict: bool,
    accounts: Vec<AccountResult>,
    findings: Vec<Finding>,
}

impl Report for Validation {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        for finding in &self.findings {
            writeln!(out, "{finding}")?;
        }
        for account in &self.accounts {
            match &account.error {
                Some(error) => writeln!(out, "{}: cannot validate: {error}", account.account)?,
                None if account.errors + account.warnings == 0 => {
                    writeln!(out, "{}: ok", account.account)?
                }
                None => writeln!(
                    out,
                    "{}: {} error(s), {} warning(s)",
                    account.account, account.errors, account.warnings
                )?,
            }
        }
        Ok(())
    }
}

pub fn run(ctx: &Context, args: &ValidateArgs) -> Result<Outcome> {
    // A typo in a CI path must not pass green: a config dir that is not
    // there, or holds no account, is an error (exit 2), like an unreadable file.
    let config_dir = &ctx.paths.config_dir;
    if !config_dir.is_dir() {
        return Err(Failure::config(format!(
            "config dir `{}` does not exist: pass the right --config-dir (or OMS_CHANNELS_CONFIG_DIR)",
            config_dir.display()
        ))
        .into());
    }
    let accounts = if args.all_accounts {
        let accounts = config::list_accounts(&ctx.paths)?;
        if accounts.is_empty() {
            return Err(Failure::config(format!(
                "no account files in `{}`: nothing to validate (is --config-dir right?)",
                ctx.paths.accounts_dir().display()
            ))
            .into());
        }
        accounts
    } else {
        vec![ctx.select_account()?.account]
    };
    // The capability file is shared by every account: if it is broken, nothing can be checked.
    ctx.capabilities()?;
    let mut results = Vec::new();
    let mut findings = Vec::new();
    for account in accounts {
        match config::load_account(&ctx.paths, &account) {
            Ok(loaded) => {
                let found = if args.offline {
                    ctx.offline_findings(&account, &loaded.config)?
                } else {
                    ctx.findings(&account, &loaded.config)?
                };
                let errors = found
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .count();
                results.push(AccountResult {
                    account,
                    error: None,
                    errors,
                    warnings: found.len() - errors,
                });
                findings.extend(found);
            }
            Err(err) if !args.all_accounts => return Err(err.into()),
            Err(err) => results.push(AccountResult {
                account,
                error: Some(err.to_string()),
                errors: 0,
                warnings: 0,
            }),
        }
    }
    let unreadable = results.iter().any(|r| r.error.is_some());
    let errors = findings.iter().any(|f| f.severity == Severity::Error);
    let warnings = findings.iter().any(|f| f.severity == Severity::Warning);
    let exit = if unreadable {
        EXIT_CONFIG
    } else if errors || (args.strict && warnings) {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    Ok(Outcome::with_exit(
        Validation {
            ok: exit == EXIT_OK,
            strict: args.strict,
            accounts: results,
            findings,
        },
        exit,
    ))
}
