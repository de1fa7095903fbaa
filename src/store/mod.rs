//! The per-account SQLite store at `<data_dir>/<account>.db`: job state, run
//! history, tokens, catalog, listings, import and export progress.
//!
//! Everything goes through [`Store::write`] (a `BEGIN IMMEDIATE` transaction)
//! or [`Store::read`], whose closures get a [`Tx`] carrying the typed
//! operations. The account's config files are never touched here.

mod catalog;
pub(crate) mod db;
mod identity;
pub mod lock;
pub mod pg;
mod removal;
mod schema;
mod state;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, TransactionBehavior};

use crate::ids::{IdError, check_account_id};
use crate::period::Job;
use crate::product::ProductError;
use db::DbError;

pub use catalog::{
    ExportResult, ExportStatus, ImportProgress, Listing, PendingExport, UpsertCounts,
};
pub use identity::{ChannelEndpoint, ForgetReason, Forgotten, endpoint_key, endpoints_of};
pub use lock::{AccountLock, ChannelLock, LockError, lock_channel_tokens, try_lock_account};
pub use removal::{DeletionResult, ExportState, Quarantined, Removed};
pub use state::{JobState, JobStates, Outcome, RunId, RunRecord, Tokens};

/// Errors from the store. Messages name the database file; token values never
/// appear in them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    InvalidAccount(#[from] IdError),
    #[error("cannot prepare the store at `{path}`: {source}", path = path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store `{location}`: {source}")]
    Db { location: String, source: DbError },
    #[error(
        "store `{path}` has schema version {found}, but this oms-channels knows only up to version {known}: upgrade oms-channels (a newer version wrote this file)",
        path = path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "store `{path}` cannot use write-ahead logging (journal mode stays `{mode}`): put the data directory on a local file system",
        path = path.display()
    )]
    NoWal { path: PathBuf, mode: String },
    /// The caller's closure gave up (it keeps its own reason); rolled back.
    #[error("the change was abandoned; nothing was written")]
    Abandoned,
    #[error("product `{sku}` not stored: {source}")]
    InvalidProduct { sku: String, source: ProductError },
    #[error("run {run} not found in store `{path}`", path = path.display())]
    UnknownRun { path: PathBuf, run: RunId },
    #[error(
        "run {run} in store `{path}` is already `{outcome}`: a run is finished once",
        path = path.display()
    )]
    RunNotRunning {
        path: PathBuf,
        run: RunId,
        outcome: Outcome,
    },
}

impl From<DbError> for StoreError {
    /// The location is filled in by [`Store::write`]/[`Store::read`] on the
    /// way out, so `?` works inside [`Tx`] methods and caller closures.
    fn from(source: DbError) -> Self {
        StoreError::Db {
            location: String::new(),
            source,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> Self {
        DbError::Sqlite(source).into()
    }
}

impl StoreError {
    fn at(self, db: &Path) -> Self {
        match self {
            StoreError::Db { location, source } if location.is_empty() => StoreError::Db {
                location: db.display().to_string(),
                source,
            },
            StoreError::UnknownRun { path, run } if path.as_os_str().is_empty() => {
                StoreError::UnknownRun {
                    path: db.to_path_buf(),
                    run,
                }
            }
            StoreError::RunNotRunning { path, run, outcome } if path.as_os_str().is_empty() => {
                StoreError::RunNotRunning {
                    path: db.to_path_buf(),
                    run,
                    outcome,
                }
            }
            other => other,
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One account's store. `Send + Sync`: share it between the channel tasks of
/// a run; calls are serialised on the one connection.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// An open transaction; every store operation is a method on it.
pub struct Tx<'a> {
    conn: &'a Connection,
    db: db::Db<'a>,
}

/// `<data_dir>/<account>.db`, after checking the account id is a safe file name.
pub fn db_path(data_dir: &Path, account: &str) -> Result<PathBuf> {
    check_account_id(account)?;
    Ok(data_dir.join(format!("{account}.db")))
}

impl Store {
    /// Opens the account's store, creating the data directory (0700) and the
    /// database (0600) when missing, and migrating it to the current schema.
    pub fn open(data_dir: &Path, account: &str) -> Result<Store> {
        let path = db_path(data_dir, account)?;
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        schema::create_private_dir(data_dir).map_err(io)?;
        schema::create_db_file(&path).map_err(io)?;
        Self::open_existing(path)
    }

    /// Opens the account's store if its database exists; never creates
    /// anything, so read-only commands leave no trace for a typo'd account.
    pub fn open_if_exists(data_dir: &Path, account: &str) -> Result<Option<Store>> {
        let path = db_path(data_dir, account)?;
        match std::fs::metadata(&path) {
            Ok(_) => Self::open_existing(path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    fn open_existing(path: PathBuf) -> Result<Store> {
        let conn = schema::open_connection(&path)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| {
            // A panic inside a closure rolled its transaction back while
            // unwinding, so the data is sound; only a panic inside `read` can
            // have left the connection read-only.
            let conn = poisoned.into_inner();
            let _ = conn.pragma_update(None, "query_only", false);
            conn
        })
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction: committed if `f` returns
    /// `Ok`, rolled back otherwise. Do not call the store again from inside `f`
    /// (it would deadlock); use the `Tx` it is given.
    pub fn write<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let run = || {
            // IMMEDIATE takes the write lock up front: a deferred transaction that
            // reads, then writes after another process committed, fails at once.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&Tx {
                conn: &tx,
                db: db::Db::Sqlite(&tx),
            })?;
            tx.commit()?;
            Ok(value)
        };
        run().map_err(|e: StoreError| e.at(&self.path))
    }

    /// Runs `f` in a read transaction (one consistent snapshot). Writes inside
    /// it fail with "attempt to write a readonly database".
    pub fn read<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let run = || {
            conn.pragma_update(None, "query_only", true)?;
            let result = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
                let value = f(&Tx {
                    conn: &tx,
                    db: db::Db::Sqlite(&tx),
                })?;
                tx.commit()?;
                Ok(value)
            })();
            conn.pragma_update(None, "query_only", false)?;
            result
        };
        run().map_err(|e: StoreError| e.at(&self.path))
    }

    /// SQLite's own consistency check: `"ok"` when the file is sound, else
    /// the problems it found, one per line.
    pub fn integrity_check(&self) -> Result<String> {
        let conn = self.conn();
        let run = || {
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let lines = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(lines.join("\n"))
        };
        run().map_err(|e: StoreError| e.at(&self.path))
    }

    #[cfg(test)]
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        f(&self.conn())
    }
}

// ---- column conversions shared by the submodules ----

/// A timestamp stored as INTEGER Unix milliseconds. Sub-millisecond parts are
/// dropped (rounded down), which errs towards re-importing, never skipping.
#[derive(Clone, Copy)]
pub(crate) struct Millis(pub Timestamp);

impl ToSql for Millis {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.as_millisecond()))
    }
}

impl FromSql for Millis {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let ms = i64::column_result(value)?;
        Timestamp::from_millisecond(ms)
            .map(Millis)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl db::ToValue for Millis {
    fn to_value(&self) -> db::Value {
        db::Value::Int(self.0.as_millisecond())
    }
}

impl db::FromValue for Millis {
    fn from_value(value: &db::Value) -> db::DbResult<Self> {
        let ms = i64::from_value(value)?;
        Timestamp::from_millisecond(ms)
            .map(Millis)
            .map_err(db::DbError::convert)
    }
}

impl db::ToValue for Job {
    fn to_value(&self) -> db::Value {
        db::Value::Text(self.as_str().to_string())
    }
}

impl db::FromValue for Job {
    fn from_value(value: &db::Value) -> db::DbResult<Self> {
        String::from_value(value)?
            .parse()
            .map_err(db::DbError::convert)
    }
}

pub(crate) fn millis(t: Option<Timestamp>) -> Option<Millis> {
    t.map(Millis)
}

impl ToSql for Job {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Job {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// Counts are `u64` in the API and INTEGER in SQLite; nothing we count comes
/// near `i64::MAX`, so saturate rather than fail.
pub(crate) fn count_to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn count_from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    pub fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "acme").unwrap();
        (dir, store)
    }

    pub fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
    }

    #[test]
    fn open_if_exists_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        assert!(Store::open_if_exists(&data_dir, "acme").unwrap().is_none());
        assert!(!data_dir.exists());
        drop(Store::open(&data_dir, "acme").unwrap());
        let store = Store::open_if_exists(&data_dir, "acme").unwrap().unwrap();
        assert_eq!(store.path(), data_dir.join("acme.db"));
    }

    #[test]
    fn refuses_unsafe_account_names() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["../x", "Acme", "a b", ""] {
            let err = Store::open(dir.path(), bad).err().expect(bad);
            assert!(
                matches!(err, StoreError::InvalidAccount(_)),
                "{bad}: {err:?}"
            );
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn write_rolls_back_on_error_and_read_refuses_writes() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let err = store
            .write(|tx| {
                tx.store_login("shop", "r1", t)?;
                Err::<(), _>(StoreError::UnknownRun {
                    path: PathBuf::new(),
                    run: 7,
                })
            })
            .unwrap_err();
        // The path is filled in on the way out.
        assert!(err.to_string().contains("acme.db"), "{err}");
        assert!(store.read(|tx| tx.tokens("shop")).unwrap().is_none());

        let err = store
            .read(|tx| tx.store_login("shop", "r1", t))
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
        // The connection is writable again afterwards.
        store.write(|tx| tx.store_login("shop", "r1", t)).unwrap();
        assert!(store.read(|tx| tx.tokens("shop")).unwrap().is_some());
    }

    #[test]
    fn a_panic_inside_read_leaves_the_store_writable() {
        let (_dir, store) = temp_store();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.read(|_| -> Result<()> { panic!("bug in a caller") })
        }));
        assert!(caught.is_err());
        store
            .write(|tx| tx.store_login("shop", "r1", at("2026-01-01T00:00:00Z")))
            .unwrap();
    }

    #[test]
    fn two_stores_on_one_file_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path(), "acme").unwrap();
        let b = Store::open(dir.path(), "acme").unwrap();
        a.write(|tx| tx.store_login("shop", "r1", at("2026-01-01T00:00:00Z")))
            .unwrap();
        let tokens = b.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tokens.refresh_token.as_deref(), Some("r1"));
    }
}
