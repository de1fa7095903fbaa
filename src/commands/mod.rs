//! One module per command group. Each turns validated arguments into calls on
//! the library and returns a report; none of them prints.

pub mod account;
pub mod capabilities;
pub mod channel;
pub mod products;
pub mod run_once;
pub mod status;
pub mod store;
pub mod validate;

use std::path::Path;

use anyhow::{Context as _, Result};
use toml_edit::DocumentMut;

use crate::app::Context;
use crate::config::file::{Edited, IfMissing, edit_file};
use crate::config::{AccountConfig, LoadedAccount};
use crate::error::Refused;
use crate::validate::{Finding, has_errors, secret_present_here, validate_account};

/// Findings of `account` as it is now on this machine.
pub fn findings_of(ctx: &Context, account: &str, config: &AccountConfig) -> Result<Vec<Finding>> {
    let capabilities = ctx.capabilities()?;
    Ok(validate_account(
        account,
        config,
        &capabilities,
        &secret_present_here,
    ))
}

/// Findings of `account` that hold on any machine: secrets are taken as
/// present (`validate --offline`).
pub fn offline_findings_of(
    ctx: &Context,
    account: &str,
    config: &AccountConfig,
) -> Result<Vec<Finding>> {
    let capabilities = ctx.capabilities()?;
    Ok(validate_account(account, config, &capabilities, &|_| true))
}

/// The findings in `after` that were not in `before`: what a change caused.
pub fn findings_caused(before: &[Finding], after: Vec<Finding>) -> Vec<Finding> {
    after
        .into_iter()
        .filter(|f| {
            !before
                .iter()
                .any(|b| b.code == f.code && b.channel == f.channel && b.job == f.job)
        })
        .collect()
}

/// An edit of an account file under its lock. The new text must parse, and
/// an edit that would add validation errors is refused with nothing written.
/// Returns the edit's value and the findings the change caused (warnings only).
pub fn edit_account<T>(
    ctx: &Context,
    loaded: &LoadedAccount,
    edit: impl FnOnce(&mut DocumentMut) -> Result<T>,
) -> Result<(Edited<T>, Vec<Finding>)> {
    let path: &Path = &loaded.path;
    let before = findings_of(ctx, &loaded.id, &loaded.config)?;
    let mut after = None;
    let edited = edit_file(path, IfMissing::Fail, edit, |text| {
        let config = AccountConfig::parse(path, text).context(
            "internal error: the edit produced a file that does not parse; nothing was written",
        )?;
        let caused = findings_caused(&before, findings_of(ctx, &loaded.id, &config)?);
        if has_errors(&caused) {
            let lines: Vec<String> = caused.iter().map(ToString::to_string).collect();
            return Err(Refused(format!(
                "refused: the change would make the account invalid; nothing was changed:\n{}",
                lines.join("\n")
            ))
            .into());
        }
        after = Some(caused);
        Ok(())
    })?;
    let caused = after.expect("edit_file runs the check before returning Ok");
    Ok((edited, caused))
}
