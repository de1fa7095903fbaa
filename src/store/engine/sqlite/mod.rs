//! The SQLite engine: one database file per account, `<data dir>/<account>.db`
//! (mode 0600, in a 0700 data dir checked like `~/.ssh`, see `data_dir`),
//! durable per commit (WAL, `synchronous=FULL`; `NORMAL` for the writes the
//! caller marks [`Durability::Relaxed`]), and file locks next to it
//! (see `lock`). SQLite's temporary files never go to the system's temp
//! dir: temporary structures stay in memory, and the one that can grow with
//! the input (a load's seen SKUs) is a scratch table in the store itself.

mod data_dir;
mod idle;
mod lock;

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::OpenFlags;

use super::{Connection, Engine, OpenMode, TxKind};
use crate::store::lock::{AccountLock, ChannelLock, LockError};
use crate::store::schema::{STEPS, current_version};
use crate::store::sql::{DbError, DbResult, EngineError, Row, Sql, TableShape, ToValue, Value};
use crate::store::{Durability, IdleStamp, Result, StoreError};

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite stores in a data dir.
#[derive(Debug)]
pub(crate) struct SqliteEngine {
    data_dir: PathBuf,
}

impl SqliteEngine {
    pub(crate) fn new(data_dir: &Path) -> SqliteEngine {
        SqliteEngine {
            data_dir: data_dir.to_path_buf(),
        }
    }

    fn db_path(&self, account: &str) -> PathBuf {
        self.data_dir.join(format!("{account}.db"))
    }
}

impl Engine for SqliteEngine {
    fn describe(&self) -> String {
        self.data_dir.display().to_string()
    }

    fn account_location(&self, account: &str) -> String {
        self.db_path(account).display().to_string()
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn open(&self, account: &str, mode: OpenMode) -> Result<Option<Box<dyn Connection>>> {
        let path = self.db_path(account);
        if mode.creates() {
            data_dir::prepare(&self.data_dir)?;
            if !data_dir::store_files(&path)? {
                data_dir::create_db_file(&path).map_err(|source| StoreError::Io {
                    path: path.clone(),
                    source,
                })?;
            }
        } else if !data_dir::existing(&self.data_dir)? {
            return Ok(None);
        }
        if !data_dir::store_files(&path)? {
            return Ok(None);
        }
        let conn = match mode {
            OpenMode::ForReading => match data_dir::not_writable(&self.data_dir, &path) {
                None => open_read_write(&self.data_dir, &path)?,
                Some(_) => open_read_only(&self.data_dir, &path)?,
            },
            OpenMode::Create | OpenMode::Existing => open_read_write(&self.data_dir, &path)?,
        };
        Ok(Some(Box::new(conn)))
    }

    fn try_lock_account(&self, account: &str) -> Result<AccountLock, LockError> {
        lock::try_lock_account(&self.data_dir, account)
    }

    fn lock_channel_tokens(&self, account: &str, channel: &str) -> Result<ChannelLock, LockError> {
        lock::lock_channel_tokens(&self.data_dir, account, channel)
    }

    fn account_run_holder(&self, account: &str) -> Option<u32> {
        lock::run_holder(&self.data_dir, account)
    }

    fn idle_stamp(&self, account: &str) -> Option<IdleStamp> {
        if !data_dir::existing(&self.data_dir).ok()? {
            return None;
        }
        idle::StampFile::of(&self.db_path(account)).read()
    }
}

impl EngineError for rusqlite::Error {
    fn is_busy(&self) -> bool {
        matches!(
            self,
            rusqlite::Error::SqliteFailure(e, _)
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }

    fn is_read_only_violation(&self) -> bool {
        matches!(self, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ReadOnly)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Engine(Box::new(e))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> Self {
        DbError::from(source).into()
    }
}

/// One open database file.
struct SqliteConnection {
    conn: rusqlite::Connection,
    /// The transaction in progress reads only (its end lifts `query_only`).
    reading: bool,
    /// Scratch tables of the transaction in progress, dropped before it commits.
    scratch: RefCell<Vec<String>>,
    /// Opened with SQLite's read-only flag.
    read_only: bool,
    /// The `synchronous` level the connection is at (set outside
    /// transactions only: SQLite refuses to change it inside one).
    synchronous: Durability,
    /// The account's idle stamp, removed by every write transaction; `None`
    /// on a connection that cannot write.
    idle_stamp: Option<idle::StampFile>,
}

fn with_location(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Db {
        location: path.display().to_string(),
        source: source.into(),
    }
}

/// Opens an existing store to read and write it, after checking that this
/// process may write there at all, then configures and migrates it.
fn open_read_write(dir: &Path, path: &Path) -> Result<SqliteConnection> {
    if let Some((place, why)) = data_dir::not_writable(dir, path) {
        return Err(StoreError::ReadOnlyDataDir {
            path: place,
            source: why,
        });
    }
    let sql = with_location(path);
    let resolved = data_dir::resolved(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // No CREATE: the file was made by `create_db_file` with the right mode.
    // No URI: the path is taken literally, whatever characters it holds.
    // NOFOLLOW: with the directory resolved, a link in place of the file
    // (planted after the check above) fails the open.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let conn = rusqlite::Connection::open_with_flags(&resolved, flags).map_err(&sql)?;
    configure(&conn, path)?;
    data_dir::restrict_modes(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut conn = SqliteConnection::new(conn);
    migrate(&mut conn.conn, path)?;
    conn.idle_stamp = Some(idle::StampFile::of(path));
    Ok(conn)
}

/// Opens an existing store for reading only, writing nothing to the data
/// dir, so that it works on a read-only file system. A store whose schema
/// is older is refused, saying what to do (nothing can upgrade it here).
fn open_read_only(dir: &Path, path: &Path) -> Result<SqliteConnection> {
    let sql = with_location(path);
    let resolved = data_dir::resolved(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let mut conn = rusqlite::Connection::open_with_flags(&resolved, flags).map_err(&sql)?;
    configure_reader(&conn).map_err(&sql)?;
    let found = match user_version(&conn) {
        Ok(version) => version,
        // A reader of a WAL store needs its shared-memory file, which
        // cannot be made in a read-only directory. With no `-wal` file
        // either, every commit is in the database file itself, and nobody
        // is writing through this directory: read that file as it is.
        Err(e)
            if cannot_open_shared_memory(&e) && !data_dir::with_suffix(path, "-wal").exists() =>
        {
            conn = open_immutable(&resolved).map_err(&sql)?;
            configure_reader(&conn).map_err(&sql)?;
            user_version(&conn).map_err(&sql)?
        }
        Err(e) => return Err(sql(e)),
    };
    let known = current_version();
    if found > known {
        return Err(StoreError::NewerSchema {
            location: path.display().to_string(),
            found,
            known,
        });
    }
    if found < known {
        let source = data_dir::not_writable(dir, path).map_or_else(
            || io::Error::other("the store is opened to read only"),
            |(_, why)| why,
        );
        return Err(StoreError::NeedsMigration {
            location: path.display().to_string(),
            found,
            known,
            source,
        });
    }
    let mut conn = SqliteConnection::new(conn);
    conn.read_only = true;
    Ok(conn)
}

/// `file:<path>?mode=ro&immutable=1`: SQLite takes no lock and needs no
/// shared memory. Percent-encoded, so any path is taken literally.
fn open_immutable(resolved: &Path) -> rusqlite::Result<rusqlite::Connection> {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &byte in resolved.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    rusqlite::Connection::open_with_flags(uri, flags)
}

fn cannot_open_shared_memory(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    )
}

/// Per-connection settings of a writer; see engineering-notes "SQLite durability".
fn configure(conn: &rusqlite::Connection, path: &Path) -> Result<()> {
    let sql = with_location(path);
    // First, so that switching to WAL waits for other processes instead of failing.
    conn.busy_timeout(BUSY_TIMEOUT).map_err(&sql)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(&sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    // WAL + NORMAL can lose the last commit on power loss, e.g. a rotated refresh token.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&sql)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(&sql)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(&sql)?;
    Ok(())
}

/// Per-connection settings of a reader: it waits for writers, and keeps
/// its temporary structures (small: sorts of a page) in memory, since the
/// system's temp dir may be read-only (systemd's `ProtectSystem=strict`,
/// Kubernetes' `readOnlyRootFilesystem`).
fn configure_reader(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
}

fn user_version(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Applies the missing steps of `schema::STEPS`, each in its own `BEGIN
/// IMMEDIATE` transaction, re-reading the version inside it so two
/// processes opening an old database at once apply each step once.
fn migrate(conn: &mut rusqlite::Connection, path: &Path) -> Result<()> {
    let sql = with_location(path);
    let known = current_version();
    // Fast path without the write lock, so a command never waits for a
    // running job just to learn that nothing needs migrating.
    if user_version(conn).map_err(&sql)? == known {
        return Ok(());
    }
    loop {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&sql)?;
        let found = user_version(&tx).map_err(&sql)?;
        if found > known {
            return Err(StoreError::NewerSchema {
                location: path.display().to_string(),
                found,
                known,
            });
        }
        if found == known {
            // Nothing written; ending the transaction either way is the same.
            tx.commit().map_err(&sql)?;
            return Ok(());
        }
        let step = &STEPS[found as usize];
        tx.execute_batch(step.sqlite).map_err(&sql)?;
        if let Some(data) = step.data {
            data(crate::store::sql::Db(&Migrating(&tx)))
                .map_err(|e| StoreError::from(e).at_location(&path.display().to_string()))?;
        }
        tx.pragma_update(None, "user_version", found + 1)
            .map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        tracing::info!(store = %path.display(), version = found + 1, "store upgraded: {}", step.what);
    }
}

impl SqliteConnection {
    fn new(conn: rusqlite::Connection) -> SqliteConnection {
        SqliteConnection {
            conn,
            reading: false,
            scratch: RefCell::new(Vec::new()),
            read_only: false,
            synchronous: Durability::Full,
            idle_stamp: None,
        }
    }
}

impl Connection for SqliteConnection {
    fn begin(&mut self, kind: TxKind) -> Result<(), DbError> {
        match kind {
            // IMMEDIATE takes the write lock up front: a deferred transaction
            // that reads, then writes after another process committed, fails
            // at once whatever the busy timeout.
            TxKind::Write(durability) => {
                if durability != self.synchronous {
                    // FULL syncs the WAL at every commit. NORMAL leaves that
                    // to the next checkpoint: a power cut may roll the commit
                    // back (whole; never an application crash), and the next
                    // FULL commit's sync makes it durable with its own, since
                    // both sit in the one WAL, in order.
                    self.conn.pragma_update(
                        None,
                        "synchronous",
                        match durability {
                            Durability::Full => "FULL",
                            Durability::Relaxed => "NORMAL",
                        },
                    )?;
                    self.synchronous = durability;
                }
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
                self.forget_idle_stamp()?;
            }
            TxKind::Read => {
                self.conn.pragma_update(None, "query_only", true)?;
                self.reading = true;
                self.conn.execute_batch("BEGIN DEFERRED")?;
            }
        }
        Ok(())
    }

    fn sql(&self) -> &dyn Sql {
        self
    }

    fn commit(&mut self) -> Result<(), DbError> {
        for table in self.scratch.borrow_mut().drain(..) {
            self.conn
                .execute_batch(&format!("DROP TABLE IF EXISTS {table}"))?;
        }
        self.conn.execute_batch("COMMIT")?;
        self.end_reading()
    }

    fn rollback(&mut self) {
        self.scratch.borrow_mut().clear();
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let _ = self.end_reading();
    }

    fn try_begin_write(&mut self) -> Result<bool, DbError> {
        self.conn.busy_timeout(Duration::ZERO)?;
        let begun = self.conn.execute_batch("BEGIN IMMEDIATE");
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        match begun {
            Ok(()) => {}
            Err(e) if e.is_busy() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.forget_idle_stamp()?;
        Ok(true)
    }

    fn set_idle_stamp(&mut self, stamp: &IdleStamp) -> Result<(), DbError> {
        match &self.idle_stamp {
            Some(file) => file.write(stamp).map_err(DbError::convert),
            None => Ok(()),
        }
    }

    fn integrity_check(&mut self) -> Result<String, DbError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(lines.join("\n"))
    }

    fn is_read_only(&self) -> bool {
        self.read_only
    }
}

impl SqliteConnection {
    /// Inside a write transaction, before anything is written: whatever it
    /// writes may make something due, so the idle stamp goes first.
    fn forget_idle_stamp(&self) -> Result<(), DbError> {
        match &self.idle_stamp {
            Some(file) => file.remove().map_err(DbError::convert),
            None => Ok(()),
        }
    }

    fn end_reading(&mut self) -> Result<(), DbError> {
        if std::mem::take(&mut self.reading) {
            self.conn.pragma_update(None, "query_only", false)?;
        }
        Ok(())
    }
}

impl Sql for SqliteConnection {
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<usize> {
        execute(&self.conn, sql, params)
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> DbResult<()> {
        query_each(&self.conn, sql, params, each)
    }

    /// A table in the store itself (a TEMP table would spill to the system's
    /// temp dir), inside the write transaction: no reader sees it, a
    /// rollback or a crash undoes it, and [`Connection::commit`] drops it
    /// first. `WITHOUT ROWID` keeps it one b-tree.
    fn scratch_table(&self, name: &str, columns: &str) -> DbResult<()> {
        self.conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {name} ({columns}) WITHOUT ROWID; DELETE FROM {name};"
        ))?;
        let mut scratch = self.scratch.borrow_mut();
        if !scratch.iter().any(|t| t == name) {
            scratch.push(name.to_string());
        }
        Ok(())
    }

    fn tables(&self) -> DbResult<Vec<TableShape>> {
        tables(&self.conn)
    }
}

/// The SQL surface of a migration step's `data`, inside the step's own
/// transaction (no scratch tables there).
struct Migrating<'c>(&'c rusqlite::Connection);

impl Sql for Migrating<'_> {
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<usize> {
        execute(self.0, sql, params)
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.0.execute_batch(sql)?)
    }

    fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> DbResult<()> {
        query_each(self.0, sql, params, each)
    }

    fn scratch_table(&self, name: &str, _columns: &str) -> DbResult<()> {
        Err(DbError::convert(format!(
            "scratch table `{name}` asked for during a migration"
        )))
    }

    fn tables(&self) -> DbResult<Vec<TableShape>> {
        tables(self.0)
    }
}

fn execute(conn: &rusqlite::Connection, sql: &str, params: &[&dyn ToValue]) -> DbResult<usize> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    Ok(stmt.raw_execute()?)
}

fn query_each(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn ToValue],
    each: &mut dyn FnMut(&Row) -> DbResult<()>,
) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let columns = stmt.column_count();
    let mut rows = stmt.raw_query();
    let mut row = Row::default();
    while let Some(r) = rows.next()? {
        row.values.clear();
        for i in 0..columns {
            row.values.push(value(r.get_ref(i)?));
        }
        each(&row)?;
    }
    Ok(())
}

fn tables(conn: &rusqlite::Connection) -> DbResult<Vec<TableShape>> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let mut stmt = conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
        let columns: Vec<(String, i64)> = stmt
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut key: Vec<&(String, i64)> = columns.iter().filter(|c| c.1 > 0).collect();
        key.sort_by_key(|c| c.1);
        tables.push(TableShape {
            key: key.iter().map(|c| c.0.clone()).collect(),
            columns: columns.iter().map(|c| c.0.clone()).collect(),
            name,
        });
    }
    Ok(tables)
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[&dyn ToValue]) -> DbResult<()> {
    let expected = stmt.parameter_count();
    if expected != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), expected).into());
    }
    for (i, param) in params.iter().enumerate() {
        let value = match param.to_value() {
            Value::Null => rusqlite::types::Value::Null,
            Value::Int(i) => rusqlite::types::Value::Integer(i),
            Value::Real(f) => rusqlite::types::Value::Real(f),
            Value::Text(s) => rusqlite::types::Value::Text(s),
            Value::Blob(b) => rusqlite::types::Value::Blob(b),
        };
        stmt.raw_bind_parameter(i + 1, value)?;
    }
    Ok(())
}

fn value(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{self, Permissions};
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::store::sql::params;
    use crate::store::{Store, StoreSpec};

    fn spec(dir: &Path) -> StoreSpec {
        StoreSpec::files(dir)
    }

    fn pragma(store: &Store, name: &str) -> Value {
        store
            .read(|tx| {
                Ok(tx
                    .db
                    .query_one(&format!("PRAGMA {name}"), params![], |r| r.get(0))?)
            })
            .unwrap()
    }

    fn schema_text(store: &Store) -> String {
        store
            .read(|tx| {
                Ok(tx.db.query_one(
                    "SELECT group_concat(sql, ';') FROM sqlite_master",
                    params![],
                    |r| r.get(0),
                )?)
            })
            .unwrap()
    }

    #[test]
    fn migrates_from_empty_and_reopen_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&spec(dir.path()), "acme").unwrap();
        let tables = store.read(|tx| Ok(tx.db.engine().tables()?)).unwrap();
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        for table in [
            "channel_identity",
            "exports",
            "import_complete",
            "import_seen",
            "import_progress",
            "job_state",
            "listing_variants",
            "listings",
            "platform_ids",
            "products",
            "removed_products",
            "removed_variants",
            "run_history",
            "shop_intents",
            "stock_levels",
            "tokens",
            "variants",
        ] {
            assert!(names.contains(&table), "{table} missing: {names:?}");
        }
        assert!(
            !names.contains(&"catalog"),
            "the flat catalog is gone: {names:?}"
        );
        let exports = tables.iter().find(|t| t.name == "exports").unwrap();
        assert_eq!(exports.key, ["channel", "handle"]);
        assert_eq!(exports.columns.last().unwrap(), "rejected_revision");
        assert_eq!(
            pragma(&store, "user_version"),
            Value::Int(current_version())
        );
        let before = schema_text(&store);
        drop(store);

        let again = Store::open(&spec(dir.path()), "acme").unwrap();
        assert_eq!(
            pragma(&again, "user_version"),
            Value::Int(current_version())
        );
        assert_eq!(schema_text(&again), before);
        assert_eq!(again.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn a_version_1_store_keeps_its_history_and_state_through_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(STEPS[0].sqlite).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO run_history (channel, job, started, finished, outcome, items, detail) \
                 VALUES ('shop', 'export-products', 1, 2, 'failed', 7, 'boom'); \
                 INSERT INTO tokens (channel, refresh_token, updated_at) VALUES ('shop', 'r1', 1); \
                 INSERT INTO exports (channel, sku, exported_revision, last_status, attempted_at) \
                 VALUES ('shop', 'A', 1, 'created', 1);",
            )
            .unwrap();
        }
        let store = Store::open(&spec(dir.path()), "acme").unwrap();
        assert_eq!(
            pragma(&store, "user_version"),
            Value::Int(current_version())
        );
        let runs = store.read(|tx| tx.history(None, 10)).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].items, runs[0].detail.as_deref()),
            (7, Some("boom"))
        );
        assert!(store.read(|tx| tx.tokens("shop")).unwrap().is_some());
        // The new outcome is accepted, and new runs get fresh ids.
        let t = jiff::Timestamp::from_millisecond(10).unwrap();
        let run = store
            .write(|tx| tx.begin_run("shop", crate::period::Job::ExportProducts, t, false))
            .unwrap();
        assert!(run > runs[0].id);
        store
            .write(|tx| tx.finish_partial(run, t, 3, Some("x")))
            .unwrap();
        assert_eq!(
            store.read(|tx| tx.history(None, 1)).unwrap()[0].outcome,
            crate::store::Outcome::Partial
        );
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn refuses_a_newer_schema_in_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&spec(dir.path()), "acme").unwrap();
        store
            .write(|tx| {
                tx.db
                    .batch(&format!("PRAGMA user_version = {}", current_version() + 1))?;
                Ok(())
            })
            .unwrap();
        drop(store);
        let err = Store::open(&spec(dir.path()), "acme")
            .err()
            .expect("newer schema refused");
        assert!(matches!(err, StoreError::NewerSchema { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("acme.db"), "{msg}");
        assert!(msg.contains("upgrade oms-channels"), "{msg}");
        // Read-only commands get the same refusal, not a silent empty answer.
        assert!(matches!(
            Store::open_if_exists(&spec(dir.path()), "acme"),
            Err(StoreError::NewerSchema { .. })
        ));
        assert!(matches!(
            Store::open_for_reading(&spec(dir.path()), "acme"),
            Err(StoreError::NewerSchema { .. })
        ));
        assert!(matches!(
            open_read_only(dir.path(), &dir.path().join("acme.db")),
            Err(StoreError::NewerSchema { .. })
        ));
    }

    /// A store as a read-only data dir gives it: opened to read only.
    fn read_only_store(dir: &Path) -> Result<Store> {
        let path = dir.join("acme.db");
        let conn = open_read_only(dir, &path)?;
        Ok(Store {
            read_only: conn.is_read_only(),
            conn: std::sync::Mutex::new(Box::new(conn)),
            location: path.display().to_string(),
        })
    }

    #[test]
    fn opened_for_reading_an_older_store_is_upgraded_where_it_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(STEPS[0].sqlite).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        // Read-only, it cannot be: refused, saying what to do.
        let err = read_only_store(dir.path()).err().expect("refused");
        assert!(
            matches!(err, StoreError::NeedsMigration { found: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("run-once"), "{err}");

        let store = Store::open_for_reading(&spec(dir.path()), "acme")
            .unwrap()
            .unwrap();
        assert!(!store.is_read_only());
        assert_eq!(
            pragma(&store, "user_version"),
            Value::Int(current_version())
        );
    }

    #[test]
    fn a_store_opened_to_read_only_reads_and_refuses_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let at = jiff::Timestamp::UNIX_EPOCH;
        let store = Store::open(&spec(dir.path()), "acme").unwrap();
        let first = crate::store::ChannelEndpoint::new("shop", "beta-rest", "https://first");
        store.sync_endpoints(&[first]).unwrap();
        store.write(|tx| tx.store_login("shop", "r1", at)).unwrap();
        drop(store);
        let store = read_only_store(dir.path()).unwrap();
        assert!(store.is_read_only());
        assert!(store.read(|tx| tx.tokens("shop")).unwrap().is_some());
        let err = store
            .write(|tx| tx.store_login("shop", "r2", at))
            .unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
        assert_eq!(err.kind(), crate::error::ErrorKind::Internal);
        assert!(err.to_string().contains("acme.db"), "{err}");
        // A re-pointed channel's state is left alone, not forgotten.
        let other = crate::store::ChannelEndpoint::new("shop", "beta-rest", "https://elsewhere");
        assert!(store.sync_endpoints(&[other]).unwrap().is_empty());
        assert!(store.read(|tx| tx.tokens("shop")).unwrap().is_some());
    }

    #[test]
    fn files_and_directory_are_private_and_durable() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("deep/data");
        let store = Store::open(&spec(&data_dir), "acme").unwrap();
        // Write something so the WAL and shared-memory files exist.
        store
            .write(|tx| tx.store_login("shop", "secret", jiff::Timestamp::UNIX_EPOCH))
            .unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data_dir), 0o700);
        assert_eq!(mode(&dir.path().join("deep")), 0o700);
        for name in ["acme.db", "acme.db-wal", "acme.db-shm"] {
            assert_eq!(mode(&data_dir.join(name)), 0o600, "{name}");
        }
        assert_eq!(pragma(&store, "journal_mode"), Value::Text("wal".into()));
        assert_eq!(
            pragma(&store, "synchronous"),
            Value::Int(2),
            "synchronous=FULL"
        );
        assert_eq!(
            pragma(&store, "temp_store"),
            Value::Int(2),
            "temp_store=MEMORY"
        );
    }

    #[test]
    fn a_data_dir_that_is_a_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        fs::write(&file, "").unwrap();
        for data_dir in [file.clone(), file.join("sub")] {
            let err = Store::open(&spec(&data_dir), "acme")
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains(&format!("`{}` is a file, not a directory", file.display())),
                "{err}"
            );
        }
    }

    #[test]
    fn existing_too_open_db_file_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(&spec(dir.path()), "acme").unwrap());
        let db = dir.path().join("acme.db");
        fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        drop(Store::open(&spec(dir.path()), "acme").unwrap());
        assert_eq!(
            fs::metadata(&db).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_store_file_that_is_a_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "").unwrap();
        let data_dir = dir.path().join("data");
        fs::create_dir(&data_dir).unwrap();
        std::os::unix::fs::symlink(&victim, data_dir.join("acme.db")).unwrap();
        for open in [
            Store::open(&spec(&data_dir), "acme").err(),
            Store::open_if_exists(&spec(&data_dir), "acme").err(),
            Store::open_for_reading(&spec(&data_dir), "acme").err(),
        ] {
            let err = open.expect("refused").to_string();
            assert!(err.contains("symbolic link"), "{err}");
            assert!(err.contains("acme.db"), "{err}");
        }
        assert_eq!(
            fs::read(&victim).unwrap(),
            b"",
            "SQLite made the victim a database"
        );
    }

    #[test]
    fn a_scratch_table_lives_for_its_transaction_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&spec(dir.path()), "acme").unwrap();
        let before = store.read(|tx| Ok(tx.db.engine().tables()?)).unwrap();
        store
            .write(|tx| {
                tx.db
                    .engine()
                    .scratch_table("scratch_t", "k TEXT PRIMARY KEY NOT NULL")?;
                tx.db
                    .execute("INSERT INTO scratch_t VALUES (?1)", params!["a"])?;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            store.read(|tx| Ok(tx.db.engine().tables()?)).unwrap(),
            before
        );
        // A rolled-back one is gone too, and the next one starts empty.
        let _ = store.write(|tx| -> Result<()> {
            tx.db
                .engine()
                .scratch_table("scratch_t", "k TEXT PRIMARY KEY NOT NULL")?;
            Err(StoreError::Abandoned)
        });
        assert_eq!(
            store.read(|tx| Ok(tx.db.engine().tables()?)).unwrap(),
            before
        );
    }

    #[test]
    fn the_shared_statements_run_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&spec(dir.path()), "acme").unwrap();
        store
            .write(|tx| {
                let db = tx.db;
                db.engine()
                    .scratch_table("scratch_t", "k TEXT PRIMARY KEY NOT NULL, n INTEGER")?;
                let n: Option<i64> = None;
                assert_eq!(
                    db.execute("INSERT INTO scratch_t VALUES (?1, ?2)", params!["a", n])?,
                    1
                );
                db.execute("INSERT INTO scratch_t VALUES (?1, ?2)", params!["b", 2i64])?;
                let rows = db.query("SELECT k, n FROM scratch_t ORDER BY k", params![], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
                })?;
                assert_eq!(rows, vec![("a".into(), None), ("b".into(), Some(2))]);
                let none =
                    db.query_opt("SELECT n FROM scratch_t WHERE k = ?1", params!["zz"], |r| {
                        r.get::<_, i64>(0)
                    })?;
                assert_eq!(none, None);
                assert!(matches!(
                    db.query_one("SELECT n FROM scratch_t WHERE k = ?1", params!["zz"], |r| r
                        .get::<_, i64>(0)),
                    Err(DbError::NoRow)
                ));
                Ok(())
            })
            .unwrap();
    }
}
