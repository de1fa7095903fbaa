//! One module per command group. Each turns validated arguments into calls on
//! the library and returns a report; none of them prints.

pub mod account;
pub mod capabilities;
pub mod channel;
pub mod products;
pub mod run_once;
pub mod status;
pub mod validate;

use std::path::Path;

use anyhow::Result;
use toml_edit::DocumentMut;

use crate::app::Context;
use crate::config::file::{Edited, IfMissing, edit_file};
use crate::config::{AccountConfig, LoadedAccount};
use crate::validate::{Finding, secret_present_here, validate_account};

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

/// An edit of an account file under its lock; returns the edit's value and the
/// account as the new file reads.
pub fn edit_account<T>(
    loaded: &LoadedAccount,
    edit: impl FnOnce(&mut DocumentMut) -> Result<T>,
) -> Result<(Edited<T>, AccountConfig)> {
    let path: &Path = &loaded.path;
    let mut after = None;
    let edited = edit_file(path, IfMissing::Fail, edit, |text| {
        after = Some(AccountConfig::parse(path, text)?);
        Ok(())
    })?;
    let after = after.expect("edit_file runs the check before returning Ok");
    Ok((edited, after))
}
