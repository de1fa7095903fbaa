//! Account file edits the way every command makes them: under the file's
//! lock, checked by validation, refused (nothing written) when the change
//! would add errors.

use std::path::Path;

use anyhow::Result;
use toml_edit::DocumentMut;

use crate::config::file::{Edited, IfMissing, edit_file};
use crate::config::{AccountConfig, LoadedAccount};
use crate::context::Context;
use crate::error::{ErrorKind, Failure, KindContext as _};
use crate::validate::{Finding, has_errors};

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
    let before = ctx.findings(&loaded.id, &loaded.config)?;
    let mut after = None;
    let edited = edit_file(path, IfMissing::Fail, edit, |text| {
        let config = AccountConfig::parse(path, text).kind_context(
            ErrorKind::Internal,
            "internal error: the edit produced a file that does not parse; nothing was written",
        )?;
        let caused = findings_caused(&before, ctx.findings(&loaded.id, &config)?);
        if has_errors(&caused) {
            let lines: Vec<String> = caused.iter().map(ToString::to_string).collect();
            return Err(Failure::refused(format!(
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
