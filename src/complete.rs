//! Value candidates for shell completion (`completions <shell>`): account,
//! channel, job and channel-type names, read from the config dir when the
//! shell asks. The shell code calls the binary back with `COMPLETE=<shell>`
//! (clap_complete's dynamic completion), so the names are always current.
//!
//! A half-typed command line is not parsed, so the config dir is
//! `OMS_CHANNELS_CONFIG_DIR` or the default one, and the account whose
//! channels are offered is `OMS_CHANNELS_ACCOUNT` or `current-account`.
//! Errors yield no candidates: completion never prints an error.

use clap_complete::CompletionCandidate;

use crate::capabilities::Capabilities;
use crate::config;
use crate::paths::Paths;
use crate::period::Job;

fn paths() -> Option<Paths> {
    let config_dir = std::env::var_os("OMS_CHANNELS_CONFIG_DIR").map(Into::into);
    Paths::resolve(config_dir, None).ok()
}

/// Accounts in the config dir.
pub fn accounts() -> Vec<CompletionCandidate> {
    let Some(paths) = paths() else {
        return Vec::new();
    };
    config::list_accounts(&paths)
        .unwrap_or_default()
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// Channels of the selected account, with their type as help.
pub fn channels() -> Vec<CompletionCandidate> {
    let Some(paths) = paths() else {
        return Vec::new();
    };
    let account = std::env::var(crate::context::ACCOUNT_ENV)
        .ok()
        .filter(|a| !a.is_empty())
        .or_else(|| config::load_global(&paths).ok()?.current_account);
    let Some(loaded) = account.and_then(|a| config::load_account(&paths, &a).ok()) else {
        return Vec::new();
    };
    loaded
        .config
        .channels
        .iter()
        .map(|(id, channel)| {
            CompletionCandidate::new(id).help(Some(channel.channel_type.clone().into()))
        })
        .collect()
}

/// `oms` and the selected account's channels.
pub fn master_sources() -> Vec<CompletionCandidate> {
    let mut candidates = vec![CompletionCandidate::new(crate::ids::OMS)];
    candidates.extend(channels());
    candidates
}

/// The three jobs.
pub fn jobs() -> Vec<CompletionCandidate> {
    Job::ALL
        .into_iter()
        .map(|job| CompletionCandidate::new(job.as_str()))
        .collect()
}

/// Channel types of the capability list (built-in and the user's).
pub fn channel_types() -> Vec<CompletionCandidate> {
    let capabilities = match paths() {
        Some(paths) => Capabilities::load(&paths.capabilities_file()).unwrap_or_default(),
        None => Capabilities::built_in(),
    };
    capabilities
        .iter()
        .map(|(name, _, _)| CompletionCandidate::new(name))
        .collect()
}
