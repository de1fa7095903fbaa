//! Where files live: the config dir (account files, capabilities) and the data
//! dir (per-account stores), from the `directories` crate unless overridden.

use std::path::PathBuf;

use anyhow::Result;

use crate::error::Failure;

pub const CONFIG_DIR_ENV: &str = "OMS_CHANNELS_CONFIG_DIR";
pub const DATA_DIR_ENV: &str = "OMS_CHANNELS_DATA_DIR";

fn non_empty(path: Option<PathBuf>) -> Option<PathBuf> {
    path.filter(|p| !p.as_os_str().is_empty())
}

/// An environment variable's value; unset or empty is `None`, so
/// `NAME= oms-channels ...` in a script means the same as not setting it.
pub fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// An environment variable as a path; unset or empty is `None`.
pub fn env_path(name: &str) -> Option<PathBuf> {
    non_empty(std::env::var_os(name).map(PathBuf::from))
}

/// The two roots every command works under, already resolved.
#[derive(Clone, Debug)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// Flags, then `OMS_CHANNELS_CONFIG_DIR`/`OMS_CHANNELS_DATA_DIR`, win
    /// over the platform defaults. An empty flag value or variable counts as
    /// unset (`OMS_CHANNELS_CONFIG_DIR= oms-channels ...` in a script).
    pub fn resolve(config_dir: Option<PathBuf>, data_dir: Option<PathBuf>) -> Result<Paths> {
        let config_dir = non_empty(config_dir).or_else(|| env_path(CONFIG_DIR_ENV));
        let data_dir = non_empty(data_dir).or_else(|| env_path(DATA_DIR_ENV));
        let project = || {
            directories::ProjectDirs::from("", "", "oms-channels").ok_or_else(|| {
                Failure::config(
                    "cannot find a home directory for the default config and data dirs; \
                     pass --config-dir and --data-dir (or set OMS_CHANNELS_CONFIG_DIR and OMS_CHANNELS_DATA_DIR)",
                )
            })
        };
        let config_dir = match config_dir {
            Some(dir) => dir,
            None => project()?.config_dir().to_path_buf(),
        };
        let data_dir = match data_dir {
            Some(dir) => dir,
            None => project()?.data_dir().to_path_buf(),
        };
        Ok(Paths {
            config_dir,
            data_dir,
        })
    }

    pub fn global_config(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    pub fn accounts_dir(&self) -> PathBuf {
        self.config_dir.join("accounts")
    }

    /// The account file; `account` must already have passed `ids::check_account_id`.
    pub fn account_file(&self, account: &str) -> PathBuf {
        self.accounts_dir().join(format!("{account}.toml"))
    }

    pub fn capabilities_file(&self) -> PathBuf {
        self.config_dir.join("capabilities.toml")
    }
}
