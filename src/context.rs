//! What every command needs from the outside world, passed in once: where
//! files live, which account and why, the store (which one, opening it, the
//! account's run lock), the capability list and validation, the output mode
//! and the clock. It knows neither the command line (`app` turns the flags
//! into [`Settings`]) nor any command.

use std::cell::OnceCell;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use crate::capabilities::Capabilities;
use crate::config::model::GlobalConfig;
use crate::config::{self, AccountConfig, ConfigError, LoadedAccount, SecretSource};
use crate::connector::ClientOptions;
use crate::error::{ErrorKind, Failure, Hint as _, KindContext as _};
use crate::ids;
use crate::paths::Paths;
use crate::store::{AccountLock, Store, StoreSpec, lock};
use crate::validate::{Finding, secret_present_here, validate_account};

pub const ACCOUNT_ENV: &str = "OMS_CHANNELS_ACCOUNT";
pub const STORE_ENV: &str = "OMS_CHANNELS_STORE";

/// The global flags, as plain values.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub config_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub account: Option<String>,
    pub store: Option<String>,
    pub json: bool,
    /// -1 for `-q`, else the number of `-v`.
    pub verbosity: i8,
}

/// Where "now" comes from: the system clock, or an instant set by a test.
#[derive(Clone, Copy, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(Timestamp),
}

impl Clock {
    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(at) => at,
        }
    }
}

/// Everything a command needs from the outside world.
pub struct Context {
    pub paths: Paths,
    /// `--json`: one JSON document on stdout instead of tables.
    pub json: bool,
    /// -1 for `-q`, else the number of `-v`.
    pub verbosity: i8,
    pub clock: Clock,
    account_flag: Option<String>,
    account_env: Option<String>,
    store_flag: Option<String>,
    store: OnceCell<StoreSpec>,
    /// `config.toml`, read once per command (store choice and current account).
    global: OnceCell<GlobalConfig>,
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
    /// Resolves the paths; reads the account variable of the environment.
    pub fn new(settings: Settings) -> Result<Context> {
        Ok(Context {
            paths: Paths::resolve(settings.config_dir, settings.data_dir)?,
            json: settings.json,
            verbosity: settings.verbosity,
            clock: Clock::System,
            account_flag: settings.account,
            account_env: std::env::var(ACCOUNT_ENV).ok(),
            store_flag: settings.store,
            store: OnceCell::new(),
            global: OnceCell::new(),
        })
    }

    /// HTTP settings, with hidden env overrides so tests can shrink timeouts.
    pub fn client_options(&self) -> Result<ClientOptions> {
        let mut options = ClientOptions::default();
        let millis = |name: &str| -> Result<Option<Duration>> {
            crate::paths::env_value(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map(Duration::from_millis)
                        .with_kind_context(ErrorKind::Usage, || {
                            format!("{name}={v:?} is not a number of milliseconds")
                        })
                })
                .transpose()
        };
        if let Some(d) = millis("OMS_CHANNELS_REQUEST_TIMEOUT_MS")? {
            if d.is_zero() {
                anyhow::bail!(
                    "OMS_CHANNELS_REQUEST_TIMEOUT_MS=0: every request would time out at once; give at least 1 millisecond"
                );
            }
            options.request_timeout = d;
            options.read_timeout = d;
        }
        if let Some(d) = millis("OMS_CHANNELS_RETRY_BASE_MS")? {
            options.backoff_base = d;
            options.backoff_cap = d * 8;
            options.retry_after_cap = d * 8;
        }
        Ok(options)
    }

    /// `--account`, when given.
    pub fn account_flag(&self) -> Option<&str> {
        self.account_flag.as_deref()
    }

    /// The instant a command judges "due" at: `--now <RFC 3339>` when given
    /// (a usage error if it does not parse), else the clock.
    pub fn now(&self, at: Option<&str>) -> Result<Timestamp> {
        match at {
            None => Ok(self.clock.now()),
            Some(text) => crate::timestamp::parse_instant(text)
                .map_err(|e| Failure::usage(format!("invalid --now {e}")).into()),
        }
    }

    /// `config.toml` as it was when the command started.
    fn global(&self) -> Result<&GlobalConfig> {
        if let Some(global) = self.global.get() {
            return Ok(global);
        }
        let global = config::load_global(&self.paths)?;
        Ok(self.global.get_or_init(|| global))
    }

    /// Where account state lives: `--store`, then `OMS_CHANNELS_STORE`, then
    /// `store` in config.toml, else the SQLite files in the data dir.
    pub fn store_spec(&self) -> Result<&StoreSpec> {
        if let Some(spec) = self.store.get() {
            return Ok(spec);
        }
        // A bad URL on the command line or in the environment is a usage
        // error; one in config.toml is the file's.
        let chosen = match self.store_flag.as_deref().filter(|v| !v.is_empty()) {
            Some(url) => Some((url.to_string(), "--store".to_string(), ErrorKind::Usage)),
            None => match crate::paths::env_value(STORE_ENV) {
                Some(url) => Some((url, STORE_ENV.to_string(), ErrorKind::Usage)),
                None => self
                    .global()?
                    .store
                    .clone()
                    .filter(|v| !v.is_empty())
                    .map(|url| {
                        let from = format!("`store` in {}", self.paths.global_config().display());
                        (url, from, ErrorKind::Config)
                    }),
            },
        };
        let spec = match chosen {
            None => StoreSpec::files(&self.paths.data_dir),
            Some((url, from, kind)) => StoreSpec::postgres(&url)
                .map_err(|e| Failure::new(kind, format!("{e} (from {from})")))?,
        };
        Ok(self.store.get_or_init(|| spec))
    }

    /// The account's store, created if it does not exist yet.
    pub fn open_store(&self, account: &str) -> Result<Store> {
        Ok(Store::open(self.store_spec()?, account)?)
    }

    /// The account's store if it exists; creates nothing, so a read-only
    /// command leaves no trace.
    pub fn open_store_if_exists(&self, account: &str) -> Result<Option<Store>> {
        Ok(Store::open_if_exists(self.store_spec()?, account)?)
    }

    /// The account's store for a command that only reads: `None` when it
    /// does not exist (nothing is created); opened read-only where the data
    /// dir cannot be written.
    pub fn open_store_for_reading(&self, account: &str) -> Result<Option<Store>> {
        Ok(Store::open_for_reading(self.store_spec()?, account)?)
    }

    /// The account's run lock, without waiting. When another run holds it,
    /// the error (busy, exit 75) carries `if_held` as its hint.
    pub fn lock_account(&self, account: &str, if_held: &str) -> Result<AccountLock> {
        lock::try_lock_account(self.store_spec()?, account)
            .map_err(|err| crate::error::hint_if(err, ErrorKind::Busy, if_held))
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
                    return Err(anyhow::Error::new(Failure::usage("no account selected")).hint(
                        format!(
                            "pass --account <ACCOUNT>, set {ACCOUNT_ENV}, or run `oms-channels account use <ACCOUNT>` (accounts live in `{}`)",
                            self.paths.accounts_dir().display()
                        ),
                    ));
                }
            }
        };
        ids::check_account_id(&account).with_kind_context(ErrorKind::Refused, || {
            format!("the account selected by {source} is not a valid id")
        })?;
        Ok(AccountChoice { account, source })
    }

    /// The selected account, loaded and parsed.
    pub fn load_selected(&self) -> Result<(AccountChoice, LoadedAccount)> {
        let choice = self.select_account()?;
        let loaded = config::load_account(&self.paths, &choice.account)?;
        Ok((choice, loaded))
    }

    /// The built-in capability list, extended by the user's file.
    pub fn capabilities(&self) -> Result<Capabilities, ConfigError> {
        Capabilities::load(&self.paths.capabilities_file())
    }

    /// Findings of `account` as it is now on this machine.
    pub fn findings(&self, account: &str, config: &AccountConfig) -> Result<Vec<Finding>> {
        self.findings_where(account, config, &secret_present_here)
    }

    /// Findings of `account` that hold on any machine: secrets are taken as
    /// present (`validate --offline`).
    pub fn offline_findings(&self, account: &str, config: &AccountConfig) -> Result<Vec<Finding>> {
        self.findings_where(account, config, &|_| true)
    }

    fn findings_where(
        &self,
        account: &str,
        config: &AccountConfig,
        secret_present: &dyn Fn(&SecretSource) -> bool,
    ) -> Result<Vec<Finding>> {
        Ok(validate_account(
            account,
            config,
            &self.capabilities()?,
            secret_present,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context::new(Settings {
            config_dir: Some("/nonexistent/config".into()),
            data_dir: Some("/nonexistent/data".into()),
            ..Settings::default()
        })
        .unwrap()
    }

    #[test]
    fn now_is_the_clock_unless_a_valid_instant_is_given() {
        let mut ctx = context();
        let fixed: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
        ctx.clock = Clock::Fixed(fixed);
        assert_eq!(ctx.now(None).unwrap(), fixed);
        let given = ctx.now(Some("2026-01-01T00:00:00+01:00")).unwrap();
        assert_eq!(given, "2025-12-31T23:00:00Z".parse::<Timestamp>().unwrap());
        let err = ctx.now(Some("yesterday")).unwrap_err();
        assert_eq!(
            crate::error_report::kind_of(&err),
            ErrorKind::Usage,
            "{err:#}"
        );
    }

    #[test]
    fn no_account_selected_is_a_usage_error_with_a_hint() {
        let mut ctx = context();
        ctx.account_env = None;
        let err = ctx.select_account().unwrap_err();
        assert_eq!(crate::error_report::kind_of(&err), ErrorKind::Usage);
        assert_eq!(err.to_string(), "no account selected");
        let hints = crate::error::hints(&err);
        assert_eq!(hints.len(), 1);
        assert!(
            hints[0].starts_with("pass --account <ACCOUNT>"),
            "{hints:?}"
        );
    }
}
