//! `completions <shell>` and `man`: text for the shell and for `man`, not
//! reports (no table, no JSON).

use std::io::Write;

use anyhow::Result;

use crate::error::{ErrorKind, KindContext as _};

/// The shell code that asks the binary for completions as the user types
/// (`COMPLETE=<shell> oms-channels -- <words>`; see `complete`).
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let shells = clap_complete::env::Shells::builtins();
    let name = shell.to_string();
    let completer = shells.completer(&name).ok_or_else(|| {
        crate::error::Failure::usage(format!("no completion support for shell `{name}`"))
    })?;
    // The binary that runs now, so completion works also when it is not on PATH.
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| "oms-channels".to_string());
    let mut script = Vec::new();
    completer
        .write_registration(
            "COMPLETE",
            "oms-channels",
            "oms-channels",
            &bin,
            &mut script,
        )
        .kind_context(ErrorKind::Internal, "cannot write the completion script")?;
    out.write_all(&script)?;
    Ok(())
}

/// The man page (roff).
pub fn man(out: &mut dyn Write) -> Result<()> {
    // Into a buffer first: a closed pipe is then one error, not a panic.
    let mut page = Vec::new();
    clap_mangen::Man::new(crate::cli::command())
        .render(&mut page)
        .kind_context(ErrorKind::Internal, "cannot render the man page")?;
    out.write_all(&page)?;
    Ok(())
}
