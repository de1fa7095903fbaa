//! An account's store: job state, run history, tokens, catalog, listings,
//! import and export progress. Where it lives is a [`StoreSpec`]: SQLite
//! files in the data dir (the default) or a PostgreSQL database shared by
//! runners on many hosts. The engines sit behind one seam (`engine`); the
//! modules here speak one SQL surface (`sql`) and never know which engine
//! answers. The schema is one list of steps in every engine's dialect
//! (`schema`).
//!
//! Everything goes through [`Store::write`] (one write transaction, taken
//! up front) or [`Store::read`] (one snapshot), whose closures get a [`Tx`]
//! carrying the typed operations, one module per topic (`state`,
//! `tokens`, `identity`, `catalog/*`). The account's config files are never touched
//! here.

pub(crate) mod catalog;
mod engine;
mod identity;
mod idle;
pub mod lock;
mod schema;
pub(crate) mod sql;
mod state;
mod tokens;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;

use crate::catalog::ProductError;
use crate::error::ErrorKind;
use crate::ids::{IdError, check_account_id};
use crate::period::Job;
use engine::{Connection, Engine, OpenMode, TxKind};
use sql::DbError;

pub use catalog::{ChannelStock, OwedLevel, SentLevel, SentValue, SentVerdict};
pub use catalog::{
    DeletionResult, ExportResult, ExportState, ExportStatus, FinishedImport, ImportListing,
    ImportProgress, Listing, LoadKey, PendingDeletion, PendingExport, Quarantined, Removed,
    StockCounts, StockUpdate, StoredLevel, UpsertCounts,
};
pub use engine::postgres::TargetError;
pub use engine::postgres::transfer::{Transfer, copy_account};
pub use identity::{ChannelEndpoint, ForgetReason, Forgotten, endpoint_key, endpoints_of};
pub use idle::IdleStamp;
pub use lock::{AccountLock, ChannelLock, LockError, lock_channel_tokens, try_lock_account};
pub use state::{JobState, JobStates, Outcome, RunId, RunRecord};
pub use tokens::Tokens;

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
        "store `{location}` has schema version {found}, but this oms-channels knows only up to version {known}: upgrade oms-channels (a newer version wrote it)"
    )]
    NewerSchema {
        location: String,
        found: i64,
        known: i64,
    },
    #[error(
        "cannot reach the store at `{url}`: {source}; no job ran and nothing was changed (cron's next tick retries; check that PostgreSQL is up and the URL, PGPASSWORD or PGPASSFILE are right)"
    )]
    Unavailable { url: String, source: DbError },
    #[error(
        "the store at `{url}` turned the connection down: {source}; check the URL's user and database, PGPASSWORD or PGPASSFILE, and the server's pg_hba.conf"
    )]
    Rejected { url: String, source: DbError },
    #[error(
        "store `{path}` cannot use write-ahead logging (journal mode stays `{mode}`): put the data directory on a local file system",
        path = path.display()
    )]
    NoWal { path: PathBuf, mode: String },
    #[error(
        "data dir `{path}` is writable by group or others (mode {mode:04o}): whoever can write there can replace the account's store or plant a link in place of its lock files; run `chmod 700 {path}`",
        path = path.display()
    )]
    UnsafeDataDir { path: PathBuf, mode: u32 },
    #[error("{what} `{path}` {reason}", path = path.display())]
    UnsafeFile {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "cannot write the store: `{path}` is not writable ({source}); read-only commands (`status`, `history`, `products list/show/count`, `channel show`, `run-once --dry-run`) work as it is; make the data dir writable for this one",
        path = path.display()
    )]
    ReadOnlyDataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "store `{location}` has schema version {found} and this oms-channels needs version {known}, but it cannot upgrade it here ({source}): run a command that writes, such as `oms-channels run-once`, once where the data dir is writable"
    )]
    NeedsMigration {
        location: String,
        found: i64,
        known: i64,
        source: std::io::Error,
    },
    #[error("store `{location}` was opened to read only; nothing was written")]
    ReadOnly { location: String },
    /// The caller's closure gave up (it keeps its own reason); rolled back.
    #[error("the change was abandoned; nothing was written")]
    Abandoned,
    #[error("product `{key}` not stored: {source}")]
    InvalidProduct { key: String, source: ProductError },
    #[error("run {run} not found in store `{location}`")]
    UnknownRun { location: String, run: RunId },
    #[error("run {run} in store `{location}` is already `{outcome}`: a run is finished once")]
    RunNotRunning {
        location: String,
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

impl StoreError {
    pub(crate) fn at_location(self, at: &str) -> Self {
        match self {
            StoreError::Db { location, source } if location.is_empty() => StoreError::Db {
                location: at.to_string(),
                source,
            },
            StoreError::UnknownRun { location, run } if location.is_empty() => {
                StoreError::UnknownRun {
                    location: at.to_string(),
                    run,
                }
            }
            StoreError::RunNotRunning {
                location,
                run,
                outcome,
            } if location.is_empty() => StoreError::RunNotRunning {
                location: at.to_string(),
                run,
                outcome,
            },
            other => other,
        }
    }

    /// A failed connection: turned down (a setting to fix, exit 2) or not
    /// reached (an outage, exit 75).
    pub(crate) fn cannot_connect(url: &str, source: DbError) -> StoreError {
        if source.is_auth_failure() {
            StoreError::Rejected {
                url: url.to_string(),
                source,
            }
        } else {
            StoreError::Unavailable {
                url: url.to_string(),
                source,
            }
        }
    }

    /// The store cannot be reached (PostgreSQL down, or the connection lost
    /// mid-run): a temporary failure, retried by the next tick.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable { .. } => true,
            StoreError::Db { source, .. } => source.is_connection_lost(),
            _ => false,
        }
    }

    /// What kind of failure this is (see [`ErrorKind`]): a store that cannot
    /// be reached is `busy` (exit 75, the next tick retries); a data dir or
    /// store that cannot be used as it is (its modes, a link, a read-only
    /// file system, a schema from another version, a disk error), or a
    /// setting the server turned down, is `config`; a product or account id
    /// the store refuses is `refused`; a store operation used the wrong way
    /// is `internal`.
    pub fn kind(&self) -> ErrorKind {
        if self.is_unavailable() {
            return ErrorKind::Busy;
        }
        match self {
            StoreError::InvalidAccount(_) | StoreError::InvalidProduct { .. } => ErrorKind::Refused,
            StoreError::Db { source, .. } => match source {
                _ if source.is_busy() => ErrorKind::Busy,
                // The store holds what the tool never writes.
                DbError::ColumnType { .. } | DbError::Convert { .. } | DbError::NoRow => {
                    ErrorKind::Internal
                }
                // A store file or server that cannot be used as it is.
                DbError::Engine(_) => ErrorKind::Config,
            },
            StoreError::Io { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Rejected { .. }
            | StoreError::NoWal { .. }
            | StoreError::UnsafeDataDir { .. }
            | StoreError::UnsafeFile { .. }
            | StoreError::ReadOnlyDataDir { .. }
            | StoreError::NeedsMigration { .. } => ErrorKind::Config,
            StoreError::Unavailable { .. } => ErrorKind::Busy,
            StoreError::Abandoned
            | StoreError::UnknownRun { .. }
            | StoreError::RunNotRunning { .. }
            | StoreError::ReadOnly { .. } => ErrorKind::Internal,
        }
    }
}

impl crate::error::HasKind for StoreError {
    fn kind(&self) -> ErrorKind {
        StoreError::kind(self)
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where every account's state lives: SQLite files in a data dir (one per
/// account), or one PostgreSQL database shared by runners on many hosts.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct StoreSpec(Arc<dyn Engine>);

impl StoreSpec {
    /// SQLite files in `data_dir`.
    pub fn files(data_dir: impl AsRef<Path>) -> StoreSpec {
        StoreSpec(Arc::new(engine::sqlite::SqliteEngine::new(
            data_dir.as_ref(),
        )))
    }

    /// A `postgres://` URL, with the libpq password sources of this process.
    pub fn postgres(url: &str) -> std::result::Result<StoreSpec, TargetError> {
        let engine = engine::postgres::PostgresEngine::from_url(url)?;
        Ok(StoreSpec(Arc::new(engine)))
    }

    /// For messages: the data dir, or the URL (which never holds a password).
    pub fn describe(&self) -> String {
        self.0.describe()
    }

    /// Where one account's state is, for messages and `status`.
    pub fn account_location(&self, account: &str) -> Result<String> {
        check_account_id(account)?;
        Ok(self.0.account_location(account))
    }

    /// The account's idle stamp (see [`IdleStamp`]), read without opening
    /// its store; `None` ("maybe due") when there is none or it cannot be read.
    pub fn idle_stamp(&self, account: &str) -> Option<IdleStamp> {
        check_account_id(account).ok()?;
        self.0.idle_stamp(account)
    }

    /// A store shared by runners on many hosts (PostgreSQL).
    pub fn is_postgres(&self) -> bool {
        self.0.is_shared()
    }

    pub(crate) fn engine(&self) -> &dyn Engine {
        &*self.0
    }
}

/// How durable a write transaction's commit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk when the commit returns: survives a power cut. Every write
    /// but an import's pages (tokens, export state, job outcomes, the
    /// catalog a user loads).
    Full,
    /// Survives the process crashing, but a power cut (or the database
    /// server crashing) may lose it, whole, never in part. For writes that
    /// are simply redone when lost: an import page and its cursor (the
    /// import resumes after the last page that is durable, fetching the lost
    /// one again). Any later [`Durability::Full`] commit makes it durable too.
    Relaxed,
}

/// One account's store. `Send + Sync`: share it between the channel tasks of
/// a run; calls are serialised on the one connection.
pub struct Store {
    conn: Mutex<Box<dyn Connection>>,
    location: String,
    read_only: bool,
}

/// An open transaction; every store operation is a method on it.
pub struct Tx<'a> {
    db: sql::Db<'a>,
}

/// A transaction in progress: rolled back when dropped before it committed,
/// also while a panic in the caller's closure unwinds.
struct Open<'c> {
    conn: &'c mut dyn Connection,
    committed: bool,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.rollback();
        }
    }
}

impl Store {
    /// Opens the account's store, creating it (SQLite: the data directory
    /// 0700 and the database 0600; PostgreSQL: the account's schema) when
    /// missing, and migrating it to the current schema.
    pub fn open(spec: &StoreSpec, account: &str) -> Result<Store> {
        Self::open_with(spec, account, OpenMode::Create)
            .map(|store| store.expect("a store opened to be created exists"))
    }

    /// Opens the account's store if it exists, to read and write it; never
    /// creates anything, so a command leaves no trace for a typo'd account.
    pub fn open_if_exists(spec: &StoreSpec, account: &str) -> Result<Option<Store>> {
        Self::open_with(spec, account, OpenMode::Existing)
    }

    /// Opens the account's store if it exists, for a command that only
    /// reads. Where the store can be written it is opened as with
    /// [`Store::open_if_exists`]; where it cannot (a read-only data dir) it
    /// is opened to read only: nothing is written, [`Store::write`] fails,
    /// [`Store::sync_endpoints`] leaves a re-pointed channel's state for the
    /// next command that writes, and a store whose schema is older is
    /// refused, saying what to do.
    pub fn open_for_reading(spec: &StoreSpec, account: &str) -> Result<Option<Store>> {
        Self::open_with(spec, account, OpenMode::ForReading)
    }

    fn open_with(spec: &StoreSpec, account: &str, mode: OpenMode) -> Result<Option<Store>> {
        let location = spec.account_location(account)?;
        let conn = spec
            .engine()
            .open(account, mode)
            .map_err(|e| e.at_location(&location))?;
        Ok(conn.map(|conn| Store {
            read_only: conn.is_read_only(),
            conn: Mutex::new(conn),
            location,
        }))
    }

    /// Where this store is: the database file, or the URL and schema.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Opened to read only by [`Store::open_for_reading`]: writes fail.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn conn(&self) -> MutexGuard<'_, Box<dyn Connection>> {
        // A panic inside a closure rolled its transaction back while
        // unwinding (see `Open`), so the connection is sound.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn transaction<T>(&self, kind: TxKind, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let run = || {
            let mut open = Open {
                conn: &mut **conn,
                committed: false,
            };
            open.conn.begin(kind)?;
            let value = f(&Tx {
                db: sql::Db(open.conn.sql()),
            })?;
            open.conn.commit()?;
            open.committed = true;
            Ok(value)
        };
        run().map_err(|e: StoreError| e.at_location(&self.location))
    }

    /// Runs `f` in a write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
    /// a transaction holding the account's write lock): committed if `f`
    /// returns `Ok`, rolled back otherwise. Do not call the store again from
    /// inside `f` (it would deadlock); use the `Tx` it is given.
    pub fn write<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        self.write_as(Durability::Full, f)
    }

    /// [`Store::write`] with a commit only as durable as `durability` says:
    /// [`Durability::Relaxed`] does not wait for the disk (see there for
    /// what may then be lost).
    pub fn write_as<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&Tx) -> Result<T>,
    ) -> Result<T> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                location: self.location.clone(),
            });
        }
        self.transaction(TxKind::Write(durability), f)
    }

    /// Records the account's idle stamp that `f` works out, in a write
    /// transaction (so `f` reads the store's truth under the write lock, and
    /// no other write can slip in between), if the write lock is free now:
    /// an idle call never waits for a writer, which removes the stamp
    /// anyway. `f` returning `None` records none. `Ok(true)` when one was
    /// recorded.
    pub fn try_stamp_idle(&self, f: impl FnOnce(&Tx) -> Result<Option<IdleStamp>>) -> Result<bool> {
        if self.read_only {
            return Ok(false);
        }
        let mut conn = self.conn();
        let run = || {
            let mut open = Open {
                conn: &mut **conn,
                committed: false,
            };
            if !open.conn.try_begin_write()? {
                open.committed = true;
                return Ok(false);
            }
            let stamp = f(&Tx {
                db: sql::Db(open.conn.sql()),
            })?;
            if let Some(stamp) = &stamp {
                open.conn.set_idle_stamp(stamp)?;
            }
            open.conn.commit()?;
            open.committed = true;
            Ok(stamp.is_some())
        };
        run().map_err(|e: StoreError| e.at_location(&self.location))
    }

    /// Runs `f` in a read transaction (one consistent snapshot). Writes inside
    /// it fail (SQLite: "attempt to write a readonly database"; PostgreSQL:
    /// "cannot execute ... in a read-only transaction").
    pub fn read<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        self.transaction(TxKind::Read, f)
    }

    /// The engine's own consistency check: `"ok"` when the store is sound,
    /// else the problems it found, one per line. (PostgreSQL keeps its own
    /// consistency; there it checks the account's schema is current.)
    pub fn integrity_check(&self) -> Result<String> {
        self.conn()
            .integrity_check()
            .map_err(|e| StoreError::from(e).at_location(&self.location))
    }
}

// ---- column conversions shared by the submodules ----

/// A timestamp stored as INTEGER Unix milliseconds. Sub-millisecond parts are
/// dropped (rounded down), which errs towards re-importing, never skipping.
#[derive(Clone, Copy)]
pub(crate) struct Millis(pub Timestamp);

impl sql::ToValue for Millis {
    fn to_value(&self) -> sql::Value {
        sql::Value::Int(self.0.as_millisecond())
    }
}

impl sql::FromValue for Millis {
    fn from_value(value: &sql::Value) -> sql::DbResult<Self> {
        let ms = i64::from_value(value)?;
        Timestamp::from_millisecond(ms)
            .map(Millis)
            .map_err(sql::DbError::convert)
    }
}

impl sql::ToValue for Job {
    fn to_value(&self) -> sql::Value {
        sql::Value::Text(self.as_str().to_string())
    }
}

impl sql::FromValue for Job {
    fn from_value(value: &sql::Value) -> sql::DbResult<Self> {
        String::from_value(value)?
            .parse()
            .map_err(sql::DbError::convert)
    }
}

pub(crate) fn millis(t: Option<Timestamp>) -> Option<Millis> {
    t.map(Millis)
}

/// FNV-1a, 64 bits: stable across versions and platforms (std's hasher is
/// not), for the names and digests the store keeps.
pub(crate) struct Fnv1a(pub u64);

impl Fnv1a {
    pub fn new() -> Fnv1a {
        Fnv1a(0xcbf29ce484222325)
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
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
        let store = Store::open(&StoreSpec::files(dir.path()), "acme").unwrap();
        (dir, store)
    }

    pub fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// An error with its causes, `a: b: c`, as the binary prints it.
    pub fn with_causes(err: &dyn std::error::Error) -> String {
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

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
        assert!(
            Store::open_if_exists(&StoreSpec::files(&data_dir), "acme")
                .unwrap()
                .is_none()
        );
        assert!(!data_dir.exists());
        drop(Store::open(&StoreSpec::files(&data_dir), "acme").unwrap());
        let store = Store::open_if_exists(&StoreSpec::files(&data_dir), "acme")
            .unwrap()
            .unwrap();
        assert_eq!(
            store.location(),
            data_dir.join("acme.db").display().to_string()
        );
    }

    #[test]
    fn refuses_unsafe_account_names() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["../x", "Acme", "a b", ""] {
            let err = Store::open(&StoreSpec::files(dir.path()), bad)
                .err()
                .expect(bad);
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
                    location: String::new(),
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
    fn relaxed_writes_leave_the_sync_to_the_next_full_one() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        // SQLite's `synchronous` inside each transaction: 1 NORMAL, 2 FULL.
        let level = |tx: &Tx| -> Result<i64> {
            Ok(tx
                .db
                .query_one("PRAGMA synchronous", sql::params![], |r| r.get(0))?)
        };
        let relaxed = store
            .write_as(Durability::Relaxed, |tx| {
                tx.store_login("shop", "r1", t)?;
                level(tx)
            })
            .unwrap();
        assert_eq!(relaxed, 1);
        // Every other write is durable at once, also right after a relaxed one.
        let full = store
            .write(|tx| {
                tx.store_login("shop", "r2", t)?;
                level(tx)
            })
            .unwrap();
        assert_eq!(full, 2);
        assert_eq!(store.write_as(Durability::Relaxed, level).unwrap(), 1);
        assert_eq!(store.write(level).unwrap(), 2);
        let tokens = store.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tokens.refresh_token.as_deref(), Some("r2"));
    }

    #[test]
    fn every_write_removes_the_idle_stamp_and_only_a_free_write_lock_records_one() {
        let dir = tempfile::tempdir().unwrap();
        let spec = StoreSpec::files(dir.path());
        let store = Store::open(&spec, "acme").unwrap();
        let t = at("2026-01-01T00:00:00Z");
        let stamp = IdleStamp {
            inputs: 42,
            next_due: Some(at("2026-01-01T01:00:00Z")),
        };
        assert_eq!(spec.idle_stamp("acme"), None);
        // `f` reads inside the transaction; `None` records nothing.
        assert!(
            !store
                .try_stamp_idle(|tx| tx.job_states().map(|_| None))
                .unwrap()
        );
        assert_eq!(spec.idle_stamp("acme"), None);
        assert!(store.try_stamp_idle(|_| Ok(Some(stamp))).unwrap());
        assert_eq!(spec.idle_stamp("acme"), Some(stamp));
        // Reading leaves it; any write removes it, also one that fails or
        // is relaxed, and one through another connection.
        store.read(|tx| tx.tokens("shop")).unwrap();
        assert_eq!(spec.idle_stamp("acme"), Some(stamp));
        let other = Store::open(&spec, "acme").unwrap();
        for write in [
            &|s: &Store| s.write(|tx| tx.store_login("shop", "r1", t)).map(drop),
            &|s: &Store| {
                s.write_as(Durability::Relaxed, |tx| tx.store_login("shop", "r2", t))
                    .map(drop)
            },
            &|s: &Store| {
                assert!(
                    s.write(|_| -> Result<()> { Err(StoreError::Abandoned) })
                        .is_err()
                );
                Ok(())
            },
        ] as [&dyn Fn(&Store) -> Result<()>; 3]
        {
            for by in [&store, &other] {
                assert!(store.try_stamp_idle(|_| Ok(Some(stamp))).unwrap());
                write(by).unwrap();
                assert_eq!(spec.idle_stamp("acme"), None);
            }
        }
        // A writer holding the lock: no waiting, no stamp.
        other
            .write(|_| {
                assert!(!store.try_stamp_idle(|_| Ok(Some(stamp))).unwrap());
                Ok(())
            })
            .unwrap();
        assert_eq!(spec.idle_stamp("acme"), None);
        assert_eq!(spec.idle_stamp("../acme"), None);
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
    fn store_errors_say_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let spec = StoreSpec::files(dir.path());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let unsafe_dir = Store::open(&spec, "acme").err().unwrap();
        assert_eq!(unsafe_dir.kind(), ErrorKind::Config, "{unsafe_dir}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let bad_id = Store::open(&spec, "../x").err().unwrap();
        assert_eq!(bad_id.kind(), ErrorKind::Refused, "{bad_id}");
        let held = lock::try_lock_account(&spec, "acme").unwrap();
        let busy = lock::try_lock_account(&spec, "acme").unwrap_err();
        assert_eq!(busy.kind(), ErrorKind::Busy);
        drop(held);
    }

    #[test]
    fn two_stores_on_one_file_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&StoreSpec::files(dir.path()), "acme").unwrap();
        let b = Store::open(&StoreSpec::files(dir.path()), "acme").unwrap();
        a.write(|tx| tx.store_login("shop", "r1", at("2026-01-01T00:00:00Z")))
            .unwrap();
        let tokens = b.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tokens.refresh_token.as_deref(), Some("r1"));
    }
}
