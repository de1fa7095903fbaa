//! Cross-process locks. With SQLite files: lock files next to the store
//! (never the database itself: closing a second descriptor on it would drop
//! SQLite's own locks); OS advisory locks (`flock`) die with their process.
//! With PostgreSQL: session advisory locks, which die with the runner's
//! connection, on whichever host it ran. Either way a crash leaves no stale
//! lock behind.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::db::{Db, DbError, params};
use super::pg::{PgSession, PgTarget};
use super::schema::create_private_dir;
use super::{StoreError, StoreSpec};
use crate::ids::{check_account_id, check_channel_id};
use std::sync::Arc;

/// Held while alive: no other `run-once` can work on the account. Released on
/// drop or when the process dies.
#[derive(Debug)]
pub struct AccountLock {
    held: Held,
    path: PathBuf,
}

/// Kept only to be dropped: dropping releases the lock.
#[derive(Debug)]
enum Held {
    File(#[allow(dead_code)] File),
    Advisory(#[allow(dead_code)] Box<AdvisoryLock>),
}

impl AccountLock {
    /// The lock file (empty for a PostgreSQL lock).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it is held in PostgreSQL (else by a file).
    pub fn is_advisory(&self) -> bool {
        matches!(self.held, Held::Advisory(_))
    }
}

/// Held while alive: no other process refreshes this channel's tokens.
#[derive(Debug)]
pub struct ChannelLock {
    _held: Held,
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
    #[error("cannot lock account `{account}` in the store")]
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

fn describe_holder(pid: Option<u32>, host: Option<&str>, started: Option<&str>) -> String {
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

/// Opens (creating with mode 0600) a lock file. Not truncated here: the
/// holder's note must survive until the new holder has the lock.
fn open_lock_file(data_dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    create_private_dir(data_dir)?;
    let path = data_dir.join(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)?;
    // Whatever the umask or an earlier version left, lock files are private.
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok((file, path))
}

/// Parses `pid=<pid> started=<RFC3339>`; missing parts are `None`.
fn parse_holder(note: &str) -> (Option<u32>, Option<String>) {
    let mut pid = None;
    let mut started = None;
    for word in note.split_whitespace() {
        if let Some(v) = word.strip_prefix("pid=") {
            pid = v.parse().ok();
        } else if let Some(v) = word.strip_prefix("started=") {
            started = Some(v.to_string());
        }
    }
    (pid, started)
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
    match store {
        StoreSpec::Files { data_dir } => file_run_holder(data_dir, account),
        StoreSpec::Postgres(target) => advisory::run_holder(target, account),
    }
}

fn file_run_holder(data_dir: &Path, account: &str) -> Option<u32> {
    let note = std::fs::read_to_string(data_dir.join(format!("{account}.lock"))).ok()?;
    let pid = parse_holder(&note).0?;
    let raw = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    // Signal 0 only checks that the process exists; EPERM means it does,
    // under another user.
    match rustix::process::test_kill_process(raw) {
        Ok(()) | Err(rustix::io::Errno::PERM) => Some(pid),
        Err(_) => None,
    }
}

/// Takes the account's run lock without waiting, and notes in the lock file
/// who holds it (`pid=<pid> started=<RFC3339>`) so a refused run can say so.
pub fn try_lock_account(store: &StoreSpec, account: &str) -> Result<AccountLock, LockError> {
    match store {
        StoreSpec::Files { data_dir } => try_lock_account_file(data_dir, account),
        StoreSpec::Postgres(target) => advisory::try_lock_account(target, account),
    }
}

fn try_lock_account_file(data_dir: &Path, account: &str) -> Result<AccountLock, LockError> {
    let io_err = |path: &Path, source| LockError::Io {
        account: account.to_string(),
        path: path.to_path_buf(),
        source,
    };
    check_account_id(account)
        .map_err(|e| io_err(data_dir, io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let name = format!("{account}.lock");
    let (mut file, path) =
        open_lock_file(data_dir, &name).map_err(|e| io_err(&data_dir.join(&name), e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut note = String::new();
            // Best effort: the holder may be rewriting it right now.
            let _ = file.read_to_string(&mut note);
            let (pid, started) = parse_holder(&note);
            return Err(LockError::Held {
                account: account.to_string(),
                pid,
                host: None,
                started,
                path,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path, e)),
    }
    let note = format!("pid={} started={}\n", std::process::id(), Timestamp::now());
    let write = |file: &mut File| -> io::Result<()> {
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(note.as_bytes())?;
        file.flush()
    };
    write(&mut file).map_err(|e| io_err(&path, e))?;
    Ok(AccountLock {
        held: Held::File(file),
        path,
    })
}

/// Waits for the channel's token lock: serialises token refreshes of one
/// channel across processes, so a rotated refresh token is never used twice.
pub fn lock_channel_tokens(
    store: &StoreSpec,
    account: &str,
    channel: &str,
) -> io::Result<ChannelLock> {
    let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
    check_account_id(account).map_err(invalid)?;
    check_channel_id(channel).map_err(invalid)?;
    let data_dir = match store {
        StoreSpec::Files { data_dir } => data_dir,
        StoreSpec::Postgres(target) => {
            let key = format!("oms-channels/tokens/{account}/{channel}");
            return advisory::lock(target, &key)
                .map(|held| ChannelLock {
                    _held: Held::Advisory(Box::new(held)),
                })
                .map_err(|e| io::Error::other(format!("in `{}`: {e}", target.url())));
        }
    };
    // Ids cannot contain `.`, so these names never collide with `<account>.db`
    // or another account's files.
    let (file, _) = open_lock_file(data_dir, &format!("{account}.{channel}.tokens.lock"))?;
    file.lock()?;
    Ok(ChannelLock {
        _held: Held::File(file),
    })
}

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
        let db = Db::Pg(&session);
        if let Some(account) = &self.note_of {
            let _ = db.execute(
                "DELETE FROM oms_channels.lock_holders WHERE account = ?1 AND pid = ?2 AND host = ?3",
                params![account.as_str(), i64::from(std::process::id()), advisory::host_name()],
            );
        }
        // A session whose unlock failed must not be reused while it may
        // still hold the lock; dropping it closes the connection.
        if advisory::unlock(db, &self.key).is_ok() {
            self.target.give_back(session);
        }
    }
}

mod advisory {
    use super::*;

    pub(super) fn host_name() -> String {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    }

    fn unavailable(target: &PgTarget, source: DbError) -> StoreError {
        StoreError::cannot_connect(target.url(), source)
    }

    pub(super) fn unlock(db: Db<'_>, key: &str) -> Result<(), DbError> {
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

    /// Waits for the lock (token refreshes are short; the holder is working).
    pub(super) fn lock(target: &Arc<PgTarget>, key: &str) -> Result<AdvisoryLock, StoreError> {
        let session = target.session().map_err(|e| unavailable(target, e))?;
        Db::Pg(&session).call(
            "SELECT pg_advisory_lock(hashtextextended(?1, 0))",
            params![key],
        )?;
        Ok(AdvisoryLock {
            session: Some(session),
            target: target.clone(),
            key: key.to_string(),
            note_of: None,
        })
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
        check_account_id(account).map_err(|e| store_err(e.into()))?;
        let session = target
            .session()
            .map_err(|e| store_err(unavailable(target, e)))?;
        let db = Db::Pg(&session);
        let key = account_key(account);
        if !try_acquire(db, &key).map_err(|e| store_err(e.into()))? {
            let note = read_note(db, account);
            target.give_back(session);
            return Err(LockError::Held {
                account: account.to_string(),
                pid: note.as_ref().map(|n| n.0),
                host: note.as_ref().map(|n| n.1.clone()),
                started: note.map(|n| n.2),
                path: PathBuf::new(),
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
        Ok(AccountLock {
            held: Held::Advisory(Box::new(lock)),
            path: PathBuf::new(),
        })
    }

    fn write_note(session: &PgSession, account: &str) -> Result<(), StoreError> {
        let db = Db::Pg(session);
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
            Err(DbError::Postgres(e))
                if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
                    || e.code() == Some(&tokio_postgres::error::SqlState::INVALID_SCHEMA_NAME) =>
            {
                // A database oms-channels has never used: make the registry.
                super::super::pg_schema::ensure_registry(session)?;
                upsert()?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn run_holder(target: &Arc<PgTarget>, account: &str) -> Option<u32> {
        let session = target.session().ok()?;
        let db = Db::Pg(&session);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: impl AsRef<Path>) -> StoreSpec {
        StoreSpec::Files {
            data_dir: dir.as_ref().to_path_buf(),
        }
    }
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_run_is_alive_only_while_its_process_is() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            !account_run_alive(&files(dir.path()), "acme"),
            "no lock file yet"
        );
        let lock = try_lock_account(&files(dir.path()), "acme").unwrap();
        assert!(
            account_run_alive(&files(dir.path()), "acme"),
            "this process holds it"
        );
        drop(lock);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(
            dir.path().join("acme.lock"),
            format!("pid={dead} started=x\n"),
        )
        .unwrap();
        assert!(
            !account_run_alive(&files(dir.path()), "acme"),
            "pid {dead} has exited"
        );
    }

    #[test]
    fn second_account_lock_reports_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = try_lock_account(&files(dir.path()), "acme").unwrap();
        // Another open file description of the same file: flock conflicts as
        // between two processes.
        let err = try_lock_account(&files(dir.path()), "acme").unwrap_err();
        let LockError::Held {
            pid, started, path, ..
        } = &err
        else {
            panic!("expected Held, got {err:?}");
        };
        assert_eq!(*pid, Some(std::process::id()));
        let started: Timestamp = started.as_deref().unwrap().parse().unwrap();
        assert!(Timestamp::now().duration_since(started).as_secs() < 60);
        assert_eq!(path, first.path());
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "account `acme` is locked by another run-once (pid {}, started 20",
                std::process::id()
            )),
            "{msg}"
        );

        // Other accounts are independent.
        let other = try_lock_account(&files(dir.path()), "beta").unwrap();
        drop(other);

        // Released on drop; the new holder rewrites the note.
        drop(first);
        let again = try_lock_account(&files(dir.path()), "acme").unwrap();
        let note = std::fs::read_to_string(again.path()).unwrap();
        assert!(
            note.starts_with(&format!("pid={} started=", std::process::id())),
            "{note}"
        );
        assert!(
            note.ends_with('\n') && note.lines().count() == 1,
            "{note:?}"
        );
        let mode = std::fs::metadata(again.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn holder_notes_parse() {
        let cases: &[(&str, Option<u32>, Option<&str>, &str)] = &[
            (
                "pid=12 started=2026-01-01T00:00:00Z\n",
                Some(12),
                Some("2026-01-01T00:00:00Z"),
                "pid 12, started 2026-01-01T00:00:00Z",
            ),
            ("pid=12\n", Some(12), None, "pid 12"),
            ("", None, None, "holder unknown"),
            ("garbage", None, None, "holder unknown"),
        ];
        for (note, pid, started, text) in cases {
            let (p, s) = parse_holder(note);
            assert_eq!((p, s.as_deref()), (*pid, *started), "{note:?}");
            assert_eq!(describe_holder(p, None, s.as_deref()), *text);
        }
    }

    #[test]
    fn refuses_bad_ids() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            try_lock_account(&files(dir.path()), "../x"),
            Err(LockError::Io { .. })
        ));
        let err = lock_channel_tokens(&files(dir.path()), "acme", "oms").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn channel_token_lock_waits_for_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_channel_tokens(&files(dir.path()), "acme", "shop").unwrap();
        // A different channel does not wait.
        drop(lock_channel_tokens(&files(dir.path()), "acme", "web").unwrap());

        let (tx, rx) = mpsc::channel();
        let data_dir = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let lock = lock_channel_tokens(&files(data_dir), "acme", "shop").unwrap();
            tx.send(()).unwrap();
            drop(lock);
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "second lock taken while the first is held"
        );
        drop(held);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("second lock taken after release");
        waiter.join().unwrap();
    }
}
