//! The three jobs (auth-refresh, import-products, export-products) and the
//! runner that decides which are due and runs them per channel.

pub mod auth;
pub mod export;
pub mod import;
pub mod runner;

use std::sync::Arc;

use anyhow::{Context as _, Result};

use crate::config::ChannelConfig;
use crate::connector::{ChannelError, Connector};
use crate::store::Store;

/// Everything one channel's jobs need; shared by its three jobs.
pub struct ChannelRun {
    pub account: String,
    pub channel_id: String,
    pub channel: ChannelConfig,
    /// Whether this channel is the account's master product source: its
    /// import feeds the catalog; any other import only records listings.
    pub is_master: bool,
    pub store: Arc<Store>,
    /// The channel's API, through the connector its type's protocol names.
    pub connector: Box<dyn Connector>,
    pub store_spec: crate::store::StoreSpec,
    /// `--full`: ignore the import high-water mark.
    pub full: bool,
    /// How long each of the channel's jobs may take (type default, or the
    /// channel's shorter one); the runner cancels a job that exceeds it.
    pub deadline: std::time::Duration,
}

impl ChannelRun {
    /// A connector error with this channel's id filled into its hints. Its
    /// causes stay attached, so `-v` and `history` show them.
    fn explain(&self, err: ChannelError) -> anyhow::Error {
        let login = format!(
            "oms-channels --account {} channel login {}",
            self.account, self.channel_id
        );
        let message = err
            .to_string()
            .replace("oms-channels channel login <channel>", &login);
        anyhow::Error::new(Explained { message, err })
    }
}

/// A [`ChannelError`] shown with the channel's own hints; its sources are the
/// error's sources.
#[derive(Debug)]
struct Explained {
    message: String,
    err: ChannelError,
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Explained {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.err)
    }
}

/// Reads a channel's secret (`what`: "client secret", "password", "API key")
/// from its env var or file; never logged.
pub fn read_secret(source: &crate::config::SecretSource, what: &str) -> Result<String> {
    use crate::config::SecretSource;
    let secret = match source {
        SecretSource::Env(var) => std::env::var(var)
            .with_context(|| format!("{what} environment variable `{var}` is not set"))?,
        SecretSource::File(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {what} file `{}`", path.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
    };
    if secret.is_empty() {
        anyhow::bail!("the {what} is empty");
    }
    Ok(secret)
}
