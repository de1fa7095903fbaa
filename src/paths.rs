//! Where files live: the config dir (account files, capabilities) and the data
//! dir (per-account stores), from the `directories` crate unless overridden.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

/// The two roots every command works under, already resolved.
#[derive(Clone, Debug)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// Flags and `OMS_CHANNELS_CONFIG_DIR`/`OMS_CHANNELS_DATA_DIR` (merged by clap)
    /// win over the platform defaults.
    pub fn resolve(config_dir: Option<PathBuf>, data_dir: Option<PathBuf>) -> Result<Paths> {
        let project = || {
            directories::ProjectDirs::from("", "", "oms-channels").context(
                "cannot find a home directory for the default config and data dirs; \
                 pass --config-dir and --data-dir (or set OMS_CHANNELS_CONFIG_DIR and OMS_CHANNELS_DATA_DIR)",
            )
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

    /// The lock file that serialises edits of `file` (next to it, hidden).
    pub fn edit_lock_for(file: &Path) -> PathBuf {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        file.with_file_name(format!(".{name}.lock"))
    }
}
