//! An account's store: job state, run history, tokens, catalog, listings,
//! import and export progress. Either a SQLite file at
//! `<data_dir>/<account>.db` (the default) or the account's schema in a
//! PostgreSQL database shared by runners on many hosts ([`StoreSpec`]); the
//! modules below speak one SQL layer (`db`) and never know which.
//!
//! Everything goes through [`Store::write`] (one write transaction, taken
//! up front) or [`Store::read`] (one snapshot), whose closures get a [`Tx`]
//! carrying the typed operations. The account's config files are never
//! touched here.

mod catalog;
pub(crate) mod db;
mod identity;
pub mod lock;
pub mod pg;
mod pg_schema;
mod removal;
mod schema;
mod state;
mod transfer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, TransactionBehavior};

use crate::ids::{IdError, check_account_id};
use crate::period::Job;
use crate::product::ProductError;
use db::{DbError, params};

pub use catalog::{
    ExportResult, ExportStatus, ImportProgress, Listing, PendingExport, UpsertCounts,
};
pub use identity::{ChannelEndpoint, ForgetReason, Forgotten, endpoint_key, endpoints_of};
pub use lock::{AccountLock, ChannelLock, LockError, lock_channel_tokens, try_lock_account};
pub use removal::{DeletionResult, ExportState, Quarantined, Removed};
pub use state::{JobState, JobStates, Outcome, RunId, RunRecord, Tokens};
pub use transfer::{Transfer, copy_account};

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
    /// The caller's closure gave up (it keeps its own reason); rolled back.
    #[error("the change was abandoned; nothing was written")]
    Abandoned,
    #[error("product `{sku}` not stored: {source}")]
    InvalidProduct { sku: String, source: ProductError },
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

impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> Self {
        DbError::Sqlite(source).into()
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
}

impl crate::error::HasKind for StoreError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            StoreError::InvalidAccount(err) => crate::error::HasKind::kind(err),
            StoreError::Unavailable { .. } => ErrorKind::Busy,
            StoreError::Db { source, .. } => match source {
                _ if source.is_connection_lost() => ErrorKind::Busy,
                // Another process kept the database locked past the busy timeout.
                DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) =>
                {
                    ErrorKind::Busy
                }
                // The store holds what the tool never writes.
                DbError::ColumnType { .. } | DbError::Convert { .. } | DbError::NoRow => {
                    ErrorKind::Internal
                }
                // A store file or server that cannot be used as it is.
                DbError::Sqlite(_) | DbError::Postgres(_) => ErrorKind::Config,
            },
            StoreError::Io { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Rejected { .. }
            | StoreError::NoWal { .. } => ErrorKind::Config,
            StoreError::InvalidProduct { .. } => ErrorKind::Refused,
            // A caller that abandons a change keeps its own reason; this one
            // reaching the edge, or a run finished twice, is a bug.
            StoreError::Abandoned
            | StoreError::UnknownRun { .. }
            | StoreError::RunNotRunning { .. } => ErrorKind::Internal,
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where every account's state lives: SQLite files in a data dir (one per
/// account), or one PostgreSQL database shared by runners on many hosts.
#[derive(Clone, Debug)]
pub enum StoreSpec {
    Files { data_dir: PathBuf },
    Postgres(Arc<pg::PgTarget>),
}

impl StoreSpec {
    /// SQLite files in `data_dir`.
    pub fn files(data_dir: impl AsRef<Path>) -> StoreSpec {
        StoreSpec::Files {
            data_dir: data_dir.as_ref().to_path_buf(),
        }
    }

    /// A `postgres://` URL, with the libpq password sources of this process.
    pub fn postgres(url: &str) -> std::result::Result<StoreSpec, pg::TargetError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(pg::TargetError::Invalid {
                url: url.to_string(),
                reason: "a store URL starts with postgres:// (leave the store unset for SQLite files in the data dir)".to_string(),
            });
        }
        let target = pg::PgTarget::parse(url, &pg::PgEnv::from_process())?;
        Ok(StoreSpec::Postgres(Arc::new(target)))
    }

    /// For messages: the data dir, or the URL (which never holds a password).
    pub fn describe(&self) -> String {
        match self {
            StoreSpec::Files { data_dir } => data_dir.display().to_string(),
            StoreSpec::Postgres(target) => target.url().to_string(),
        }
    }

    /// Where one account's state is, for messages and `status`.
    pub fn account_location(&self, account: &str) -> Result<String> {
        match self {
            StoreSpec::Files { data_dir } => Ok(db_path(data_dir, account)?.display().to_string()),
            StoreSpec::Postgres(target) => {
                check_account_id(account)?;
                Ok(pg_location(target, account))
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, StoreSpec::Postgres(_))
    }
}

/// `postgres://... (schema oms_acme)`: an account's place in a shared store.
fn pg_location(target: &pg::PgTarget, account: &str) -> String {
    format!(
        "{} (schema {})",
        target.url(),
        pg_schema::schema_name(account)
    )
}

/// One account's store. `Send + Sync`: share it between the channel tasks of
/// a run; calls are serialised on the one connection.
pub struct Store {
    backend: Mutex<Backend>,
    location: String,
}

enum Backend {
    Sqlite(Connection),
    Pg {
        /// `None` only while being dropped.
        session: Option<pg::PgSession>,
        target: Arc<pg::PgTarget>,
        /// Serialises writers of one account, as SQLite's `BEGIN IMMEDIATE` does.
        write_key: String,
    },
}

impl Drop for Store {
    fn drop(&mut self) {
        let backend = self.backend.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Backend::Pg {
            session, target, ..
        } = backend
            && let Some(session) = session.take()
        {
            target.give_back(session);
        }
    }
}

/// An open transaction; every store operation is a method on it.
pub struct Tx<'a> {
    db: db::Db<'a>,
}

/// `<data_dir>/<account>.db`, after checking the account id is a safe file name.
pub fn db_path(data_dir: &Path, account: &str) -> Result<PathBuf> {
    check_account_id(account)?;
    Ok(data_dir.join(format!("{account}.db")))
}

impl Store {
    /// Opens the account's store, creating it (SQLite: the data directory
    /// 0700 and the database 0600; PostgreSQL: the account's schema) when
    /// missing, and migrating it to the current schema.
    pub fn open(spec: &StoreSpec, account: &str) -> Result<Store> {
        match spec {
            StoreSpec::Files { data_dir } => {
                let path = db_path(data_dir, account)?;
                let io = |source| StoreError::Io {
                    path: path.clone(),
                    source,
                };
                schema::create_private_dir(data_dir).map_err(io)?;
                schema::create_db_file(&path).map_err(io)?;
                Self::open_sqlite(path)
            }
            StoreSpec::Postgres(target) => {
                Self::open_postgres(target, account, true).map(|s| s.expect("created"))
            }
        }
    }

    /// Opens the account's store if it exists; never creates anything, so
    /// read-only commands leave no trace for a typo'd account.
    pub fn open_if_exists(spec: &StoreSpec, account: &str) -> Result<Option<Store>> {
        match spec {
            StoreSpec::Files { data_dir } => {
                let path = db_path(data_dir, account)?;
                match std::fs::metadata(&path) {
                    Ok(_) => Self::open_sqlite(path).map(Some),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(StoreError::Io { path, source }),
                }
            }
            StoreSpec::Postgres(target) => Self::open_postgres(target, account, false),
        }
    }

    fn open_sqlite(path: PathBuf) -> Result<Store> {
        let conn = schema::open_connection(&path)?;
        Ok(Store {
            backend: Mutex::new(Backend::Sqlite(conn)),
            location: path.display().to_string(),
        })
    }

    fn open_postgres(
        target: &Arc<pg::PgTarget>,
        account: &str,
        create: bool,
    ) -> Result<Option<Store>> {
        check_account_id(account)?;
        let location = pg_location(target, account);
        let session = target
            .session()
            .map_err(|source| StoreError::cannot_connect(target.url(), source))?;
        let opened = pg_schema::prepare(&session, account, create);
        match opened {
            Ok(true) => Ok(Some(Store {
                backend: Mutex::new(Backend::Pg {
                    session: Some(session),
                    target: target.clone(),
                    write_key: format!("oms-channels/write/{account}"),
                }),
                location,
            })),
            Ok(false) => {
                target.give_back(session);
                Ok(None)
            }
            Err(e) => Err(e.at_location(&location)),
        }
    }

    /// Where this store is: the database file, or the URL and schema.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn backend(&self) -> MutexGuard<'_, Backend> {
        self.backend.lock().unwrap_or_else(|poisoned| {
            // A panic inside a closure rolled its transaction back while
            // unwinding, so the data is sound; only a panic inside `read` can
            // have left the SQLite connection read-only.
            let backend = poisoned.into_inner();
            if let Backend::Sqlite(conn) = &*backend {
                let _ = conn.pragma_update(None, "query_only", false);
            }
            backend
        })
    }

    /// Runs `f` in a write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
    /// a transaction holding the account's write lock): committed if `f`
    /// returns `Ok`, rolled back otherwise. Do not call the store again from
    /// inside `f` (it would deadlock); use the `Tx` it is given.
    pub fn write<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let mut backend = self.backend();
        let result = match &mut *backend {
            Backend::Sqlite(conn) => (|| {
                // IMMEDIATE takes the write lock up front: a deferred transaction that
                // reads, then writes after another process committed, fails at once.
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&Tx {
                    db: db::Db::Sqlite(&tx),
                })?;
                tx.commit()?;
                Ok(value)
            })(),
            Backend::Pg {
                session, write_key, ..
            } => {
                let session = session.as_ref().expect("open");
                pg_transaction(session, "BEGIN", |tx| {
                    tx.db.call(
                        "SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))",
                        params![write_key.as_str()],
                    )?;
                    f(tx)
                })
            }
        };
        result.map_err(|e: StoreError| e.at_location(&self.location))
    }

    /// Runs `f` in a read transaction (one consistent snapshot). Writes inside
    /// it fail (SQLite: "attempt to write a readonly database"; PostgreSQL:
    /// "cannot execute ... in a read-only transaction").
    pub fn read<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let mut backend = self.backend();
        let result = match &mut *backend {
            Backend::Sqlite(conn) => (|| {
                conn.pragma_update(None, "query_only", true)?;
                let result = (|| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
                    let value = f(&Tx {
                        db: db::Db::Sqlite(&tx),
                    })?;
                    tx.commit()?;
                    Ok(value)
                })();
                conn.pragma_update(None, "query_only", false)?;
                result
            })(),
            Backend::Pg { session, .. } => pg_transaction(
                session.as_ref().expect("open"),
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                f,
            ),
        };
        result.map_err(|e: StoreError| e.at_location(&self.location))
    }

    /// The engine's own consistency check: `"ok"` when the store is sound,
    /// else the problems it found, one per line. (PostgreSQL keeps its own
    /// consistency; there it checks the account's schema is current.)
    pub fn integrity_check(&self) -> Result<String> {
        let backend = self.backend();
        let run = || match &*backend {
            Backend::Sqlite(conn) => {
                let mut stmt = conn.prepare("PRAGMA integrity_check")?;
                let lines = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(lines.join("\n"))
            }
            Backend::Pg { session, .. } => {
                let db = db::Db::Pg(session.as_ref().expect("open"));
                let tables: i64 = db.query_one(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
                    params![],
                    |r| r.get(0),
                )?;
                Ok(if tables > 0 {
                    "ok".to_string()
                } else {
                    "the account's schema has no tables".to_string()
                })
            }
        };
        run().map_err(|e: StoreError| e.at_location(&self.location))
    }

    #[cfg(test)]
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        match &*self.backend() {
            Backend::Sqlite(conn) => f(conn),
            Backend::Pg { .. } => panic!("with_conn is for SQLite stores"),
        }
    }
}

/// `begin` ... `f` ... COMMIT on one PostgreSQL session; ROLLBACK when `f`
/// fails, and also when the commit cannot be confirmed.
fn pg_transaction<T>(
    session: &pg::PgSession,
    begin: &str,
    f: impl FnOnce(&Tx) -> Result<T>,
) -> Result<T> {
    session.transaction(begin, || {
        f(&Tx {
            db: db::Db::Pg(session),
        })
    })
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
        let a = Store::open(&StoreSpec::files(dir.path()), "acme").unwrap();
        let b = Store::open(&StoreSpec::files(dir.path()), "acme").unwrap();
        a.write(|tx| tx.store_login("shop", "r1", at("2026-01-01T00:00:00Z")))
            .unwrap();
        let tokens = b.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tokens.refresh_token.as_deref(), Some("r1"));
    }
}
