//! Cross-process locks, whatever the engine: an account's run lock (one
//! `run-once` per account at a time) and a channel's token lock (one token
//! refresh per channel at a time). Each engine holds them its own way (see
//! `engine`): both die with the process or connection that holds them, so a
//! crash leaves no stale lock behind.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::{StoreError, StoreSpec};
use crate::ids::{check_account_id, check_channel_id};

/// Held while alive: no other `run-once` can work on the account. Released on
/// drop or when the process dies.
#[derive(Debug)]
pub struct AccountLock {
    /// Kept only to be dropped: dropping releases the lock.
    _held: Box<dyn fmt::Debug + Send>,
    path: PathBuf,
}

impl AccountLock {
    pub(crate) fn new(held: Box<dyn fmt::Debug + Send>, path: PathBuf) -> AccountLock {
        AccountLock { _held: held, path }
    }

    /// The lock file (empty for a lock held in a shared store).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Held while alive: no other process refreshes this channel's tokens.
#[derive(Debug)]
pub struct ChannelLock {
    _held: Box<dyn fmt::Debug + Send>,
}

impl ChannelLock {
    pub(crate) fn new(held: Box<dyn fmt::Debug + Send>) -> ChannelLock {
        ChannelLock { _held: held }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "account `{account}` is locked by another run-once ({holder})",
        holder = describe_holder(*pid, host.as_deref(), started.as_deref())
    )]
    Held {
        account: String,
        pid: Option<u32>,
        /// Where the holder runs, when the lock is shared between hosts.
        host: Option<String>,
        started: Option<String>,
        path: PathBuf,
    },
    #[error("cannot lock account `{account}`")]
    Store {
        account: String,
        #[source]
        source: StoreError,
    },
    #[error("cannot lock account `{account}` with `{path}`: {source}", path = path.display())]
    Io {
        account: String,
        path: PathBuf,
        source: io::Error,
    },
}

impl LockError {
    /// What kind of failure this is (see [`crate::error::ErrorKind`]).
    pub fn kind(&self) -> crate::error::ErrorKind {
        match self {
            LockError::Held { .. } => crate::error::ErrorKind::Busy,
            LockError::Store { source, .. } => source.kind(),
            LockError::Io { .. } => crate::error::ErrorKind::Config,
        }
    }
}

impl crate::error::HasKind for LockError {
    fn kind(&self) -> crate::error::ErrorKind {
        LockError::kind(self)
    }
}

pub(crate) fn describe_holder(
    pid: Option<u32>,
    host: Option<&str>,
    started: Option<&str>,
) -> String {
    let pid = match (pid, host) {
        (Some(pid), Some(host)) => Some(format!("pid {pid} on {host}")),
        (pid, _) => pid.map(|pid| format!("pid {pid}")),
    };
    match (pid, started) {
        (Some(pid), Some(started)) => format!("{pid}, started {started}"),
        (Some(pid), None) => pid,
        // Between its lock and its note, or an older note format.
        _ => "holder unknown".to_string(),
    }
}

/// Whether the process that last took the account's run lock is still alive,
/// judged from the pid it noted (read-only: taking the lock to find out could
/// make a concurrent cron run give up). `status` uses it to tell a running job
/// from one whose process was killed.
pub fn account_run_alive(store: &StoreSpec, account: &str) -> bool {
    account_run_holder(store, account).is_some()
}

/// The pid of the live process that last took the account's run lock, if it
/// is still alive (see [`account_run_alive`]).
pub fn account_run_holder(store: &StoreSpec, account: &str) -> Option<u32> {
    check_account_id(account).ok()?;
    store.engine().account_run_holder(account)
}

/// Takes the account's run lock without waiting, and notes who holds it so
/// a refused run can say so.
pub fn try_lock_account(store: &StoreSpec, account: &str) -> Result<AccountLock, LockError> {
    check_account_id(account).map_err(|e| LockError::Store {
        account: account.to_string(),
        source: e.into(),
    })?;
    store.engine().try_lock_account(account)
}

/// Waits for the channel's token lock: serialises token refreshes of one
/// channel across processes, so a rotated refresh token is never used twice.
pub fn lock_channel_tokens(
    store: &StoreSpec,
    account: &str,
    channel: &str,
) -> Result<ChannelLock, LockError> {
    let invalid = |source: crate::ids::IdError| LockError::Store {
        account: account.to_string(),
        source: source.into(),
    };
    check_account_id(account).map_err(invalid)?;
    check_channel_id(channel).map_err(invalid)?;
    store.engine().lock_channel_tokens(account, channel)
}
