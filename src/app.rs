//! The one dispatch from a parsed command line to the command functions:
//! the global flags become a [`Context`], the command's report is printed.

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::commands;
use crate::context::{Context, Settings};
use crate::error::EXIT_OK;
use crate::output;

/// Runs a parsed command line, writing its report to `out`; returns the exit code.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<u8> {
    let ctx = Context::new(settings(&cli.global))?;
    let outcome = match cli.command {
        Command::Account(command) => commands::account::run(&ctx, command)?,
        Command::Channel(command) => commands::channel::run(&ctx, command)?,
        Command::Capabilities(command) => commands::capabilities::run(&ctx, command)?,
        Command::Validate(args) => commands::validate::run(&ctx, &args)?,
        Command::RunOnce(args) => commands::run_once::run(&ctx, &args)?,
        Command::Status(args) => commands::status::status(&ctx, &args)?,
        Command::History(args) => commands::status::history(&ctx, &args)?,
        Command::Products(command) => commands::products::run(&ctx, command)?,
        Command::Stock(command) => commands::stock::run(&ctx, command)?,
        Command::Store(command) => commands::store::run(&ctx, command)?,
        Command::Completions { shell } => {
            commands::shell::completions(shell, out)?;
            return Ok(EXIT_OK);
        }
        Command::Man => {
            commands::shell::man(out)?;
            return Ok(EXIT_OK);
        }
    };
    output::emit(outcome.report.as_ref(), ctx.json, out)?;
    Ok(outcome.exit)
}

/// The global flags as plain values.
fn settings(global: &GlobalArgs) -> Settings {
    Settings {
        config_dir: global.config_dir.clone(),
        data_dir: global.data_dir.clone(),
        account: global.account.clone(),
        store: global.store.clone(),
        json: global.json,
        verbosity: if global.quiet {
            -1
        } else {
            i8::try_from(global.verbose).unwrap_or(i8::MAX)
        },
    }
}
