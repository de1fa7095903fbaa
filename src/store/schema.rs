//! How a store file comes to exist and stays current: file and directory
//! modes, per-connection pragmas, and the numbered schema migrations.
//! Nothing here knows what the tables mean; that lives in the sibling modules.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::StoreError;

/// The schema, one step per version: step `i` takes `user_version` from `i`
/// to `i + 1`. Append only; never edit a step that has shipped.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: job state, run history, tokens, catalog, listings, import progress, exports.
    r#"
    CREATE TABLE job_state (
        channel TEXT NOT NULL,
        job TEXT NOT NULL,
        last_success_start INTEGER,
        last_success_end INTEGER,
        last_attempt_start INTEGER,
        last_attempt_end INTEGER,
        last_outcome TEXT,
        last_error TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (channel, job)
    ) WITHOUT ROWID;

    CREATE TABLE run_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        job TEXT NOT NULL,
        started INTEGER NOT NULL,
        finished INTEGER,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('running', 'success', 'failed', 'skipped', 'interrupted')),
        items INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        forced INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX run_history_by_time ON run_history (started, id);
    CREATE INDEX run_history_by_channel ON run_history (channel, started, id);
    -- Only crashed or in-progress runs are 'running'; keeps begin_run's sweep cheap.
    CREATE INDEX run_history_running ON run_history (channel, job) WHERE outcome = 'running';

    CREATE TABLE tokens (
        channel TEXT PRIMARY KEY NOT NULL,
        refresh_token TEXT,
        access_token TEXT,
        access_expires_at INTEGER,
        refresh_in_flight_since INTEGER,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE catalog (
        sku TEXT PRIMARY KEY NOT NULL,
        title TEXT NOT NULL,
        price TEXT NOT NULL,
        currency TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        id TEXT,
        revision INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE listings (
        channel TEXT NOT NULL,
        sku TEXT NOT NULL,
        listing_id TEXT,
        title TEXT NOT NULL,
        price TEXT NOT NULL,
        currency TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (channel, sku)
    ) WITHOUT ROWID;
    CREATE INDEX listings_by_sku ON listings (sku);

    CREATE TABLE import_progress (
        channel TEXT PRIMARY KEY NOT NULL,
        high_water INTEGER,
        cursor TEXT,
        since_used INTEGER,
        run_high_water INTEGER
    ) WITHOUT ROWID;

    CREATE TABLE exports (
        channel TEXT NOT NULL,
        sku TEXT NOT NULL,
        exported_revision INTEGER,
        last_status TEXT NOT NULL,
        last_error TEXT,
        attempted_at INTEGER NOT NULL,
        PRIMARY KEY (channel, sku)
    ) WITHOUT ROWID;
    "#,
    // 2: the schedule slot a run serves, so due times stay on their grid.
    r#"
    ALTER TABLE run_history ADD COLUMN slot INTEGER;
    ALTER TABLE job_state ADD COLUMN last_success_slot INTEGER;
    "#,
    // 3: channel identity, deletions, quarantine, partial runs with item counts.
    r#"
    -- Which endpoint (type + normalised base URL) a channel's state belongs to.
    CREATE TABLE channel_identity (
        channel TEXT PRIMARY KEY NOT NULL,
        endpoint TEXT NOT NULL,
        since INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- Products removed from the catalog whose deletion some channel still owes.
    CREATE TABLE removed_products (
        sku TEXT PRIMARY KEY NOT NULL,
        removed_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX exports_by_sku ON exports (sku);

    -- Consecutive rejections of one revision; enough of them quarantine it.
    ALTER TABLE exports ADD COLUMN rejections INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE exports ADD COLUMN rejected_revision INTEGER;

    -- SKUs a complete (not incremental) import has seen so far, committed
    -- with each page, so the import can remove what the master no longer has.
    CREATE TABLE import_seen (
        channel TEXT NOT NULL,
        sku TEXT NOT NULL,
        PRIMARY KEY (channel, sku)
    ) WITHOUT ROWID;
    CREATE TABLE import_complete (
        channel TEXT PRIMARY KEY NOT NULL
    ) WITHOUT ROWID;

    -- run_history gains the `partial` outcome (a CHECK cannot be altered) and
    -- per-outcome item counts.
    CREATE TABLE run_history_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        job TEXT NOT NULL,
        started INTEGER NOT NULL,
        finished INTEGER,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('running', 'success', 'partial', 'failed', 'skipped', 'interrupted')),
        items INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        forced INTEGER NOT NULL DEFAULT 0,
        slot INTEGER,
        counts TEXT
    );
    INSERT INTO run_history_v2 (id, channel, job, started, finished, outcome, items, detail, forced, slot)
        SELECT id, channel, job, started, finished, outcome, items, detail, forced, slot FROM run_history;
    DROP TABLE run_history;
    ALTER TABLE run_history_v2 RENAME TO run_history;
    CREATE INDEX run_history_by_time ON run_history (started, id);
    CREATE INDEX run_history_by_channel ON run_history (channel, started, id);
    CREATE INDEX run_history_running ON run_history (channel, job) WHERE outcome = 'running';
    "#,
];

/// Schema version this binary writes.
pub(crate) fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Creates `dir` and its missing parents with mode 0700. An existing directory
/// keeps its mode: it may be a shared `$XDG_DATA_HOME` the user chose.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // "File exists (os error 17)" would not say which file is in the way.
    if let Some(file) = dir.ancestors().find(|p| p.exists() && !p.is_dir()) {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!(
                "`{}` is a file, not a directory: the data dir must be a directory (check --data-dir or OMS_CHANNELS_DATA_DIR)",
                file.display()
            ),
        ));
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // The umask may have taken bits away; set the mode we mean, not what is left.
    fs::set_permissions(dir, Permissions::from_mode(0o700))
}

/// Creates an empty database file with mode 0600 if there is none, so SQLite
/// never creates it with the umask's mode.
///
/// Only `create_new`: an existing file is never opened here, because closing a
/// second descriptor would drop SQLite's POSIX locks held by this process.
pub(crate) fn create_db_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Sets 0600 on the database and its `-wal`/`-shm` companions, by path (chmod,
/// not a descriptor), whatever the umask was when SQLite created them.
fn restrict_modes(path: &Path) -> io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        match fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o777 != 0o600 => {
                fs::set_permissions(&file, Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            // `-wal`/`-shm` come and go with connections.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !suffix.is_empty() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Opens an existing database file, configures the connection and migrates it.
pub(crate) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let sql = |source| StoreError::Db {
        location: path.display().to_string(),
        source: super::db::DbError::Sqlite(source),
    };
    // No CREATE: the file was made by `create_db_file` with the right mode.
    // No URI: the path is taken literally, whatever characters it holds.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    configure(&conn, path)?;
    restrict_modes(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Per-connection settings; see engineering-notes "SQLite durability".
fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |source| StoreError::Db {
        location: path.display().to_string(),
        source: super::db::DbError::Sqlite(source),
    };
    // First, so that switching to WAL waits for other processes instead of failing.
    conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    // WAL + NORMAL can lose the last commit on power loss, e.g. a rotated refresh token.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql)?;
    // Temp tables (a load's seen skus) spill to a file instead of growing in
    // memory with the input.
    conn.pragma_update(None, "temp_store", "FILE")
        .map_err(sql)?;
    Ok(())
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Applies the missing migration steps, each in its own `BEGIN IMMEDIATE`
/// transaction, re-reading the version inside it so two processes opening an
/// old database at once apply each step once.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |source| StoreError::Db {
        location: path.display().to_string(),
        source: super::db::DbError::Sqlite(source),
    };
    let known = current_version();
    // Fast path without the write lock, so a read-only command never waits
    // for a running job just to learn that nothing needs migrating.
    let found = user_version(conn).map_err(sql)?;
    if found == known {
        return Ok(());
    }
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let found = user_version(&tx).map_err(sql)?;
        if found > known {
            return Err(StoreError::NewerSchema {
                location: path.display().to_string(),
                found,
                known,
            });
        }
        if found == known {
            // Nothing written; ending the transaction either way is the same.
            tx.commit().map_err(sql)?;
            return Ok(());
        }
        tx.execute_batch(MIGRATIONS[found as usize]).map_err(sql)?;
        tx.pragma_update(None, "user_version", found + 1)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn migrates_from_empty_and_reopen_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::store::StoreSpec::files(dir.path()), "acme").unwrap();
        let tables: Vec<String> = store
            .with_conn(|c| {
                let mut stmt =
                    c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
                stmt.query_map([], |r| r.get(0))?.collect()
            })
            .unwrap();
        for table in [
            "catalog",
            "channel_identity",
            "exports",
            "import_seen",
            "removed_products",
            "import_progress",
            "job_state",
            "listings",
            "run_history",
            "tokens",
        ] {
            assert!(
                tables.iter().any(|t| t == table),
                "{table} missing: {tables:?}"
            );
        }
        let version = store.with_conn(user_version).unwrap();
        assert_eq!(version, current_version());
        let schema = |s: &Store| {
            s.with_conn(|c| {
                c.query_row(
                    "SELECT group_concat(sql, ';') FROM sqlite_master",
                    [],
                    |r| r.get::<_, String>(0),
                )
            })
            .unwrap()
        };
        let before = schema(&store);
        drop(store);

        let again = Store::open(&crate::store::StoreSpec::files(dir.path()), "acme").unwrap();
        assert_eq!(again.with_conn(user_version).unwrap(), current_version());
        assert_eq!(schema(&again), before);
        assert_eq!(again.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn a_version_1_store_keeps_its_history_and_state_through_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
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
        let store = Store::open(&crate::store::StoreSpec::files(dir.path()), "acme").unwrap();
        assert_eq!(store.with_conn(user_version).unwrap(), current_version());
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
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::store::StoreSpec::files(dir.path()), "acme").unwrap();
        store
            .with_conn(|c| c.pragma_update(None, "user_version", current_version() + 1))
            .unwrap();
        drop(store);
        let err = Store::open(&crate::store::StoreSpec::files(dir.path()), "acme")
            .err()
            .expect("newer schema refused");
        assert!(matches!(err, StoreError::NewerSchema { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("acme.db"), "{msg}");
        assert!(msg.contains("upgrade oms-channels"), "{msg}");
        // Read-only commands get the same refusal, not a silent empty answer.
        assert!(matches!(
            Store::open_if_exists(&crate::store::StoreSpec::files(dir.path()), "acme"),
            Err(StoreError::NewerSchema { .. })
        ));
    }

    #[test]
    fn files_and_directory_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("deep/data");
        let store = Store::open(&crate::store::StoreSpec::files(&data_dir), "acme").unwrap();
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
        let journal: String = store
            .with_conn(|c| c.pragma_query_value(None, "journal_mode", |r| r.get(0)))
            .unwrap();
        assert_eq!(journal, "wal");
        let sync: i64 = store
            .with_conn(|c| c.pragma_query_value(None, "synchronous", |r| r.get(0)))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
    }

    #[test]
    fn a_data_dir_that_is_a_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        fs::write(&file, "").unwrap();
        for data_dir in [file.clone(), file.join("sub")] {
            let err = Store::open(&crate::store::StoreSpec::files(&data_dir), "acme")
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
        drop(Store::open(&crate::store::StoreSpec::files(dir.path()), "acme").unwrap());
        let db = dir.path().join("acme.db");
        fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        drop(Store::open(&crate::store::StoreSpec::files(dir.path()), "acme").unwrap());
        assert_eq!(
            fs::metadata(&db).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
