//! The `oms-channels` binary: parse arguments, run, show an error with its
//! causes and hints, exit with the code of its kind.

use std::io::{self, Write};
use std::process::ExitCode;

use oms_channels::error_report::ErrorReport;
use oms_channels::{app, cli, cli::Cli, logging, output};

fn main() -> ExitCode {
    // `COMPLETE=<shell>`: the shell asks for completions (see `complete`).
    clap_complete::CompleteEnv::with_factory(cli::command).complete();
    // The command's definition lives until the process ends instead of
    // being dropped here: freeing its hundreds of allocations cost cron's
    // idle call a tenth of a millisecond, for memory the exit frees anyway.
    let command: &'static mut clap::Command = Box::leak(Box::new(cli::command()));
    let cli = match command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|matches| <Cli as clap::FromArgMatches>::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    logging::init(cli.global.verbose, cli.global.quiet);
    let json = cli.global.json;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = app::run(cli, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            drop(out);
            let report = ErrorReport::of(&err);
            let _ = output::write_error(&mut io::stderr(), &report);
            if json {
                let _ = output::write_json_error(&mut io::stdout(), &report);
            }
            ExitCode::from(report.exit)
        }
    }
}

/// A command line clap refused (exit 2), or `--help`/`--version` (exit 0).
/// With `--json` anywhere on it, the refusal is a JSON error document too.
fn usage_error(err: clap::Error) -> ExitCode {
    let wants_json = std::env::args_os().skip(1).any(|arg| arg == "--json");
    if !err.use_stderr() || !wants_json {
        err.exit();
    }
    let _ = err.print();
    let report = output::clap_error_report(&err.render().to_string());
    let _ = output::write_json_error(&mut io::stdout(), &report);
    ExitCode::from(report.exit)
}

/// `oms-channels history | head` closing the pipe early is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
