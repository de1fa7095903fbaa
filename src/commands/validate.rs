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
use crate::output::{Report, count};
use crate::validate::{Finding, Severity, account_file_findings};

/// `missing-refresh-token` findings, from the store as it is (read only; a
/// token kept for a channel's previous endpoint is not its token). A store
/// that cannot be read gives none: validate checks files, and a store that
/// is down is `run-once`'s to report.
fn stored_token_findings(
    ctx: &Context,
    account: &str,
    config: &crate::config::AccountConfig,
) -> Vec<Finding> {
    let stored = || -> Result<std::collections::BTreeSet<String>> {
        let Some(store) = ctx.open_store_if_exists(account)? else {
            return Ok(Default::default());
        };
        store
            .read(|tx| {
                let mut stored = std::collections::BTreeSet::new();
                for (id, channel) in &config.channels {
                    let endpoint =
                        crate::store::endpoint_key(&channel.channel_type, &channel.base_url);
                    let same_endpoint = tx
                        .recorded_endpoint(id)?
                        .is_none_or(|recorded| recorded == endpoint);
                    let token = tx.tokens(id)?.and_then(|t| t.refresh_token);
                    if same_endpoint && token.is_some() {
                        stored.insert(id.clone());
                    }
                }
                Ok(stored)
            })
            .map_err(Into::into)
    };
    match stored() {
        Ok(stored) => {
            crate::validate::stored_token_findings(account, config, &|id| stored.contains(id))
        }
        Err(err) => {
            tracing::warn!("{account}: cannot read the store to check refresh tokens: {err:#}");
            Vec::new()
        }
    }
}

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
                    "{}: {}, {}",
                    account.account,
                    count(account.errors as u64, "error", "errors"),
                    count(account.warnings as u64, "warning", "warnings")
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
            let ignored = config::ignored_account_files(&ctx.paths)?;
            return Err(Failure::config(format!(
                "no account files in `{}`: nothing to validate (is --config-dir right?){}",
                ctx.paths.accounts_dir().display(),
                if ignored.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; files whose names are no account id are ignored: {}",
                        crate::output::escape(&ignored.join(", "))
                    )
                }
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
                    let mut found = ctx.findings(&account, &loaded.config)?;
                    found.extend(stored_token_findings(ctx, &account, &loaded.config));
                    found
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
    if args.all_accounts {
        findings.extend(account_file_findings(&config::ignored_account_files(
            &ctx.paths,
        )?));
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
