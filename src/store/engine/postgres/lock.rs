//! Locks in a shared PostgreSQL store: session advisory locks, which die
//! with the runner's connection on whichever host it ran, and a note of who
//! holds an account (`oms_channels.lock_holders`) for the busy message and
//! `status`. A note outlives a killed holder; it is only believed while the
//! lock is actually held.

use std::sync::Arc;

use jiff::Timestamp;

use super::client::{PgSession, PgTarget, sql_state};
use crate::store::StoreError;
use crate::store::lock::{AccountLock, ChannelLock, LockError};
use crate::store::sql::{Db, DbError, params};

/// A session advisory lock on a pooled connection: released (and the
/// connection handed back) on drop; released by the server if the process
/// or its connection dies first.
struct AdvisoryLock {
    session: Option<PgSession>,
    target: Arc<PgTarget>,
    key: String,
    /// The account whose holder note to clear on release.
    note_of: Option<String>,
}

impl std::fmt::Debug for AdvisoryLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvisoryLock")
            .field("key", &self.key)
            .finish()
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let db = Db(&session);
        if let Some(account) = &self.note_of {
            let _ = db.execute(
                "DELETE FROM oms_channels.lock_holders WHERE account = ?1 AND pid = ?2 AND host = ?3",
                params![account.as_str(), i64::from(std::process::id()), host_name()],
            );
        }
        // A session whose unlock failed must not be reused while it may
        // still hold the lock; dropping it closes the connection.
        if unlock(db, &self.key).is_ok() {
            self.target.give_back(session);
        }
    }
}

/// This host's name, for the holder note (`pid 42 on runner-3`).
fn host_name() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy();
    if name.is_empty() {
        "unknown-host".to_string()
    } else {
        name.into_owned()
    }
}

fn unavailable(target: &PgTarget, source: DbError) -> StoreError {
    StoreError::cannot_connect(target.url(), source)
}

fn unlock(db: Db<'_>, key: &str) -> Result<(), DbError> {
    db.call(
        "SELECT pg_advisory_unlock(hashtextextended(?1, 0))",
        params![key],
    )
}

fn try_acquire(db: Db<'_>, key: &str) -> Result<bool, DbError> {
    db.query_one(
        "SELECT pg_try_advisory_lock(hashtextextended(?1, 0))",
        params![key],
        |r| r.get(0),
    )
}

/// Waits for a channel's token lock (token refreshes are short; the holder
/// is working).
pub(super) fn lock_channel_tokens(
    target: &Arc<PgTarget>,
    account: &str,
    channel: &str,
) -> Result<ChannelLock, LockError> {
    let store_err = |source: StoreError| LockError::Store {
        account: account.to_string(),
        source: source.at_location(target.url()),
    };
    let key = format!("oms-channels/tokens/{account}/{channel}");
    let session = target
        .session()
        .map_err(|e| store_err(unavailable(target, e)))?;
    Db(&session)
        .call(
            "SELECT pg_advisory_lock(hashtextextended(?1, 0))",
            params![key.as_str()],
        )
        .map_err(|e| store_err(e.into()))?;
    Ok(ChannelLock::new(Box::new(AdvisoryLock {
        session: Some(session),
        target: target.clone(),
        key,
        note_of: None,
    })))
}

fn account_key(account: &str) -> String {
    format!("oms-channels/account/{account}")
}

fn read_note(db: Db<'_>, account: &str) -> Option<(u32, String, String)> {
    db.query_opt(
        "SELECT pid, host, started FROM oms_channels.lock_holders WHERE account = ?1",
        params![account],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .ok()
    .flatten()
}

pub(super) fn try_lock_account(
    target: &Arc<PgTarget>,
    account: &str,
) -> Result<AccountLock, LockError> {
    let store_err = |source: StoreError| LockError::Store {
        account: account.to_string(),
        source: source.at_location(target.url()),
    };
    let session = target
        .session()
        .map_err(|e| store_err(unavailable(target, e)))?;
    let db = Db(&session);
    let key = account_key(account);
    if !try_acquire(db, &key).map_err(|e| store_err(e.into()))? {
        let note = read_note(db, account);
        target.give_back(session);
        return Err(LockError::Held {
            account: account.to_string(),
            pid: note.as_ref().map(|n| n.0),
            host: note.as_ref().map(|n| n.1.clone()),
            started: note.map(|n| n.2),
            path: Default::default(),
        });
    }
    let lock = AdvisoryLock {
        session: Some(session),
        target: target.clone(),
        key,
        note_of: Some(account.to_string()),
    };
    let session = lock.session.as_ref().expect("held");
    write_note(session, account).map_err(store_err)?;
    Ok(AccountLock::new(Box::new(lock), Default::default()))
}

fn write_note(session: &PgSession, account: &str) -> Result<(), StoreError> {
    let db = Db(session);
    let upsert = || {
        db.execute(
            "INSERT INTO oms_channels.lock_holders (account, pid, host, started) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (account) DO UPDATE SET \
             pid = excluded.pid, host = excluded.host, started = excluded.started",
            params![
                account,
                i64::from(std::process::id()),
                host_name(),
                Timestamp::now().to_string()
            ],
        )
    };
    match upsert() {
        Ok(_) => Ok(()),
        Err(e)
            if sql_state(&e).is_some_and(|code| {
                *code == tokio_postgres::error::SqlState::UNDEFINED_TABLE
                    || *code == tokio_postgres::error::SqlState::INVALID_SCHEMA_NAME
            }) =>
        {
            // A database oms-channels has never used: make the registry.
            super::ensure_registry(session)?;
            upsert()?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) fn run_holder(target: &Arc<PgTarget>, account: &str) -> Option<u32> {
    let session = target.session().ok()?;
    let db = Db(&session);
    let key = account_key(account);
    match try_acquire(db, &key) {
        Ok(true) => {
            if unlock(db, &key).is_ok() {
                target.give_back(session);
            }
            None
        }
        Ok(false) => {
            let holder = read_note(db, account).map(|n| n.0);
            target.give_back(session);
            holder
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_is_this_machines() {
        let name = host_name();
        assert!(!name.is_empty() && name != "unknown-host", "{name}");
        let expected = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| name.clone());
        assert_eq!(name, expected);
    }
}
