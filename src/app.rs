//! The run context (paths, clock, selected account, output mode) and the one
//! dispatch from a parsed command line to the command functions.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::capabilities::Capabilities;
use crate::cli::{Cli, Command};
use crate::commands;
use crate::config::{self, ConfigError, LoadedAccount};
use crate::ids;
use crate::output::{self, Render, Report};
use crate::paths::Paths;
use crate::store::StoreSpec;

/// A store URL that cannot be used (a usage error: exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreChoiceError(pub String);

pub const ACCOUNT_ENV: &str = "OMS_CHANNELS_ACCOUNT";
pub const STORE_ENV: &str = "OMS_CHANNELS_STORE";

/// Everything a command needs from the outside world, passed in once.
pub struct Context {
    pub paths: Paths,
    pub account_flag: Option<String>,
    pub account_env: Option<String>,
    pub json: bool,
    pub verbosity: i8,
    pub store_flag: Option<String>,
    store: std::cell::OnceCell<StoreSpec>,
    /// `config.toml`, read once per command (store choice and current account).
    global: std::cell::OnceCell<config::model::GlobalConfig>,
}

/// Where the selected account came from, so operators always know.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum AccountSource {
    Flag,
    Env,
    ConfigFile { path: PathBuf },
}

impl std::fmt::Display for AccountSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountSource::Flag => f.write_str("--account"),
            AccountSource::Env => f.write_str(ACCOUNT_ENV),
            AccountSource::ConfigFile { path } => {
                write!(f, "current-account in {}", path.display())
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct AccountChoice {
    pub account: String,
    pub source: AccountSource,
}

impl std::fmt::Display for AccountChoice {
    /// `acme (from --account)`: which account, and why that one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (from {})", self.account, self.source)
    }
}

impl Context {
    pub fn new(paths: Paths, account_flag: Option<String>, json: bool, verbosity: i8) -> Context {
        Context {
            paths,
            account_flag,
            account_env: std::env::var(ACCOUNT_ENV).ok(),
            json,
            verbosity,
            store_flag: None,
            store: std::cell::OnceCell::new(),
            global: std::cell::OnceCell::new(),
        }
    }

    /// `config.toml` as it was when the command started.
    fn global(&self) -> Result<&config::model::GlobalConfig> {
        if let Some(global) = self.global.get() {
            return Ok(global);
        }
        let global = config::load_global(&self.paths)?;
        Ok(self.global.get_or_init(|| global))
    }

    /// Where account state lives: `--store`, then `OMS_CHANNELS_STORE`, then
    /// `store` in config.toml, else the SQLite files in the data dir.
    pub fn store(&self) -> Result<&StoreSpec> {
        if let Some(spec) = self.store.get() {
            return Ok(spec);
        }
        let chosen = match self.store_flag.as_deref().filter(|v| !v.is_empty()) {
            Some(url) => Some((url.to_string(), "--store".to_string())),
            None => match crate::paths::env_value(STORE_ENV) {
                Some(url) => Some((url, STORE_ENV.to_string())),
                None => self
                    .global()?
                    .store
                    .clone()
                    .filter(|v| !v.is_empty())
                    .map(|url| {
                        let from = format!("`store` in {}", self.paths.global_config().display());
                        (url, from)
                    }),
            },
        };
        let spec = match chosen {
            None => StoreSpec::files(&self.paths.data_dir),
            Some((url, from)) => StoreSpec::postgres(&url)
                .map_err(|e| anyhow::Error::new(StoreChoiceError(format!("{e} (from {from})"))))?,
        };
        Ok(self.store.get_or_init(|| spec))
    }

    /// `--account`, then `OMS_CHANNELS_ACCOUNT`, then `current-account`.
    pub fn select_account(&self) -> Result<AccountChoice> {
        let (account, source) = if let Some(flag) = &self.account_flag {
            (flag.clone(), AccountSource::Flag)
        } else if let Some(env) = self.account_env.as_ref().filter(|v| !v.is_empty()) {
            (env.clone(), AccountSource::Env)
        } else {
            let global = self.global()?;
            let path = self.paths.global_config();
            match global.current_account.clone() {
                Some(account) => (account, AccountSource::ConfigFile { path }),
                None => {
                    // A usage error (exit 2), not a refused request.
                    anyhow::bail!(
                        "no account selected: pass --account <ACCOUNT>, set {ACCOUNT_ENV}, or run `oms-channels account use <ACCOUNT>` (accounts live in `{}`)",
                        self.paths.accounts_dir().display()
                    );
                }
            }
        };
        ids::check_account_id(&account).with_context(|| format!("account selected by {source}"))?;
        Ok(AccountChoice { account, source })
    }

    /// The selected account, loaded and parsed.
    pub fn load_selected(&self) -> Result<(AccountChoice, LoadedAccount)> {
        let choice = self.select_account()?;
        let loaded = config::load_account(&self.paths, &choice.account)?;
        Ok((choice, loaded))
    }

    pub fn capabilities(&self) -> Result<Capabilities, ConfigError> {
        Capabilities::load(&self.paths.capabilities_file())
    }
}

/// What a command hands back: a report to print and the exit status it implies.
pub struct Outcome {
    pub report: Box<dyn Render>,
    pub exit: u8,
}

impl Outcome {
    pub fn ok(report: impl Report + 'static) -> Outcome {
        Outcome {
            report: Box::new(report),
            exit: crate::error::EXIT_OK,
        }
    }

    pub fn with_exit(report: impl Report + 'static, exit: u8) -> Outcome {
        Outcome {
            report: Box::new(report),
            exit,
        }
    }
}

/// Runs a parsed command line, writing its report to `out`; returns the exit code.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<u8> {
    let mut ctx = Context::new(
        Paths::resolve(cli.global.config_dir.clone(), cli.global.data_dir.clone())?,
        cli.global.account.clone(),
        cli.global.json,
        if cli.global.quiet {
            -1
        } else {
            cli.global.verbose as i8
        },
    );
    ctx.store_flag = cli.global.store.clone();
    let outcome = match cli.command {
        Command::Account(command) => commands::account::run(&ctx, command)?,
        Command::Channel(command) => commands::channel::run(&ctx, command)?,
        Command::Capabilities(command) => commands::capabilities::run(&ctx, command)?,
        Command::Validate(args) => commands::validate::run(&ctx, &args)?,
        Command::RunOnce(args) => commands::run_once::run(&ctx, &args)?,
        Command::Status(args) => commands::status::status(&ctx, &args)?,
        Command::History(args) => commands::status::history(&ctx, &args)?,
        Command::Products(command) => commands::products::run(&ctx, command)?,
        Command::Store(command) => commands::store::run(&ctx, command)?,
        Command::Completions { shell } => {
            write_completion_registration(shell, out)?;
            return Ok(crate::error::EXIT_OK);
        }
        Command::Man => {
            // Into a buffer first: a closed pipe is then one error, not a panic.
            let mut page = Vec::new();
            clap_mangen::Man::new(crate::cli::command()).render(&mut page)?;
            out.write_all(&page)?;
            return Ok(crate::error::EXIT_OK);
        }
    };
    output::emit(outcome.report.as_ref(), ctx.json, out)?;
    Ok(outcome.exit)
}

/// The shell code that asks the binary for completions as the user types
/// (`COMPLETE=<shell> oms-channels -- <words>`; see `complete`).
fn write_completion_registration(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let shells = clap_complete::env::Shells::builtins();
    let name = shell.to_string();
    let completer = shells
        .completer(&name)
        .with_context(|| format!("no completion support for shell `{name}`"))?;
    // The binary that runs now, so completion works also when it is not on PATH.
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| "oms-channels".to_string());
    let mut script = Vec::new();
    completer.write_registration(
        "COMPLETE",
        "oms-channels",
        "oms-channels",
        &bin,
        &mut script,
    )?;
    out.write_all(&script)?;
    Ok(())
}
