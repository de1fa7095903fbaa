//! The store a test env's commands use: SQLite files in its data dir (the
//! default) or a fresh database on the shared throwaway PostgreSQL cluster
//! ([`PgCluster::shared`]), chosen by `OMS_CHANNELS_STORE` on every command.
//! The same suites run against both ([`both_backends!`]); the read-only looks
//! into the store they need (stored tokens, counts, integrity) go through
//! [`TestStore`], which asks SQLite directly or PostgreSQL over a connection
//! of its own, with the same SQL: on PostgreSQL each account's tables live in
//! schema `oms_<account>` under the same names.
//!
//! [`both_backends!`]: crate::both_backends

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::pg::PgCluster;

/// Which store a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// How many iterations a long random-kill loop runs: all of them on
    /// SQLite, half (at least 1) on PostgreSQL, whose variant proves the same
    /// guarantees and would otherwise double the suite's time.
    pub fn iterations(self, sqlite: usize) -> usize {
        match self {
            Backend::Sqlite => sqlite,
            Backend::Postgres => sqlite.div_ceil(2).max(1),
        }
    }
}

/// For each named `fn name(backend: Backend)`, a module `name` with two
/// tests, `name::sqlite` and `name::postgres`, that call it: the body is
/// written once (and formatted by rustfmt), only its env knows the backend.
/// `cargo test --test it postgres` runs every PostgreSQL variant.
///
/// ```ignore
/// fn imports_everything(backend: Backend) { let env = TestEnv::builder().backend(backend).build(); ... }
/// both_backends!(imports_everything);
/// ```
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::Backend::Sqlite)
                }

                #[test]
                fn postgres() {
                    super::$name($crate::Backend::Postgres)
                }
            }
        )+
    };
}

/// One cell of a query result as text (`None` for NULL), whatever the engine.
pub type Cell = Option<String>;

/// A test env's store: where commands keep state, and read-only looks into it.
pub struct TestStore {
    backend: Backend,
    data_dir: PathBuf,
    pg: Option<PgDb>,
}

struct PgDb {
    database: String,
    url: String,
    /// One connection for this env's looks, opened on first use.
    conn: Mutex<Option<PgConn>>,
}

struct PgConn {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl TestStore {
    /// SQLite files in `data_dir`, or a fresh empty database on the shared
    /// cluster (the `oms-channels` commands create their schemas).
    pub fn new(backend: Backend, data_dir: &Path) -> TestStore {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let cluster = PgCluster::shared();
                let database = cluster.fresh_database("oms_store");
                Some(PgDb {
                    url: cluster.url(&database),
                    database,
                    conn: Mutex::new(None),
                })
            }
        };
        TestStore {
            backend,
            data_dir: data_dir.to_path_buf(),
            pg,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The PostgreSQL URL (no password: the test cluster trusts loopback).
    pub fn url(&self) -> Option<&str> {
        self.pg.as_ref().map(|pg| pg.url.as_str())
    }

    /// The database name on the shared cluster.
    pub fn database(&self) -> Option<&str> {
        self.pg.as_ref().map(|pg| pg.database.as_str())
    }

    /// `<data dir>/<account>.db`, the SQLite store's file.
    pub fn sqlite_path(&self, account: &str) -> PathBuf {
        self.data_dir.join(format!("{account}.db"))
    }

    /// Whether `account`'s store exists (its file, or its schema).
    pub fn exists(&self, account: &str) -> bool {
        match &self.pg {
            None => self
                .sqlite_path(account)
                .try_exists()
                .expect("stat the store"),
            Some(pg) => {
                let rows = pg
                    .query(
                        None,
                        &format!(
                            "SELECT count(*) FROM pg_namespace WHERE nspname = {}",
                            literal(&schema_of(account))
                        ),
                    )
                    .expect("pg_namespace query");
                rows[0][0].as_deref() == Some("1")
            }
        }
    }

    /// Runs `sql` (one statement; `?1`, `?2`... take `params`) against
    /// `account`'s tables; every cell as text. Errs when the store or a
    /// table is missing, with the engine's message.
    pub fn query(
        &self,
        account: &str,
        sql: &str,
        params: &[&str],
    ) -> Result<Vec<Vec<Cell>>, String> {
        match &self.pg {
            None => sqlite_query(&self.sqlite_path(account), sql, params),
            Some(pg) => pg.query(Some(account), &bind(sql, params)),
        }
    }

    /// Runs `sql` (several statements, no parameters) against `account`'s
    /// tables, writing: for a test that must put a store into a shape the
    /// tool itself no longer writes (one made by an earlier release).
    pub fn execute_batch(&self, account: &str, sql: &str) -> Result<(), String> {
        match &self.pg {
            None => {
                let conn = rusqlite::Connection::open(self.sqlite_path(account))
                    .map_err(|e| e.to_string())?;
                conn.busy_timeout(Duration::from_secs(5))
                    .map_err(|e| e.to_string())?;
                conn.execute_batch(sql).map_err(|e| e.to_string())
            }
            Some(pg) => pg.query(Some(account), sql).map(|_| ()),
        }
    }

    /// The first cell of the first row, or `None` when there is no row, the
    /// cell is NULL, or the store/table is missing.
    pub fn value(&self, account: &str, sql: &str, params: &[&str]) -> Option<String> {
        self.query(account, sql, params)
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|row| row.into_iter().next())
            .flatten()
    }

    /// A `SELECT count(*) ...`; panics when it cannot run.
    pub fn count(&self, account: &str, sql: &str, params: &[&str]) -> i64 {
        let rows = self
            .query(account, sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows[0][0]
            .as_deref()
            .expect("a count")
            .parse()
            .expect("a numeric count")
    }

    /// `ok` for a sound store, else what is wrong.
    ///
    /// SQLite: `PRAGMA integrity_check`. PostgreSQL has no such pragma; a
    /// crashed client cannot tear a page there, so this checks what a
    /// crashed runner could leave behind: every b-tree index of the
    /// account's schema and of the registry agrees with its table (amcheck,
    /// with all heap tuples), and, once no runner is alive, no advisory lock
    /// is held any more (the account and token locks die with their session).
    pub fn integrity(&self, account: &str) -> String {
        match &self.pg {
            None => {
                let rows = sqlite_query(&self.sqlite_path(account), "PRAGMA integrity_check", &[])
                    .unwrap_or_else(|e| panic!("integrity_check: {e}"));
                rows.into_iter()
                    .map(|r| r[0].clone().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            Some(pg) => pg.integrity(account),
        }
    }

    /// Advisory locks some session holds in this env's database, as
    /// `pid objid` lines (empty when none; always empty on SQLite).
    pub fn advisory_locks(&self) -> Vec<String> {
        match &self.pg {
            None => Vec::new(),
            Some(pg) => pg.advisory_locks(),
        }
    }
}

impl Drop for TestStore {
    /// A PostgreSQL variant must not pass on SQLite: had a command ignored
    /// `OMS_CHANNELS_STORE` and fallen back to the data dir, a store file
    /// would be there now.
    fn drop(&mut self) {
        if self.pg.is_none() || std::thread::panicking() {
            return;
        }
        let stray: Vec<String> = std::fs::read_dir(&self.data_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".db"))
            .collect();
        assert!(
            stray.is_empty(),
            "a PostgreSQL test left SQLite stores in {}: {stray:?}; a command did not use OMS_CHANNELS_STORE",
            self.data_dir.display()
        );
    }
}

/// `oms_<account>`, the account's PostgreSQL schema.
pub fn schema_of(account: &str) -> String {
    format!("oms_{account}")
}

/// A SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `sql` with `?N` replaced by the literal of `params[N-1]` (for the simple
/// query protocol, which takes no parameters). Highest numbers first, so
/// `?1` does not eat the start of `?10`.
fn bind(sql: &str, params: &[&str]) -> String {
    let mut sql = sql.to_string();
    for (i, value) in params.iter().enumerate().rev() {
        sql = sql.replace(&format!("?{}", i + 1), &literal(value));
    }
    sql
}

fn sqlite_query(path: &Path, sql: &str, params: &[&str]) -> Result<Vec<Vec<Cell>>, String> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("open {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let columns = stmt.column_count();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |row| {
            (0..columns)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(n) => Some(n.to_string()),
                        ValueRef::Real(x) => Some(x.to_string()),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    })
                })
                .collect::<rusqlite::Result<Vec<Cell>>>()
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| e.to_string())
}

impl PgDb {
    /// Runs `sql` (simple protocol) with `search_path` set to the account's
    /// schema (`public` for `None`); the rows of its last statement.
    fn query(&self, account: Option<&str>, sql: &str) -> Result<Vec<Vec<Cell>>, String> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(PgConn::open(&self.url)?);
        }
        let conn = guard.as_ref().expect("just opened");
        // The session keeps its search_path: set it on every query.
        let schema = match account {
            Some(account) => schema_of(account),
            None => "public".into(),
        };
        let text = format!(
            "SET search_path TO \"{}\"; {sql}",
            schema.replace('"', "\"\"")
        );
        let result = conn.runtime.block_on(conn.client.simple_query(&text));
        match result {
            Ok(messages) => {
                let mut rows = Vec::new();
                for message in messages {
                    match message {
                        tokio_postgres::SimpleQueryMessage::Row(row) => rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).map(str::to_string))
                                .collect(),
                        ),
                        // A new statement's result starts: keep only the last.
                        tokio_postgres::SimpleQueryMessage::RowDescription(_) => rows.clear(),
                        _ => {}
                    }
                }
                Ok(rows)
            }
            Err(err) => {
                let message = err
                    .as_db_error()
                    .map(|db| db.message().to_string())
                    .unwrap_or_else(|| err.to_string());
                if conn.client.is_closed() {
                    *guard = None;
                }
                Err(format!("{message} (in `{sql}` on {})", self.url))
            }
        }
    }

    fn advisory_locks(&self) -> Vec<String> {
        self.query(
            None,
            "SELECT pid::text || ' ' || objid::text FROM pg_locks \
             WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             ORDER BY 1",
        )
        .unwrap_or_else(|e| panic!("pg_locks: {e}"))
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect()
    }

    fn integrity(&self, account: &str) -> String {
        let mut problems = Vec::new();
        if let Err(e) = self.query(
            None,
            "CREATE EXTENSION IF NOT EXISTS amcheck WITH SCHEMA public",
        ) {
            panic!("amcheck (postgresql-15 contrib) is needed for the integrity check: {e}");
        }
        let check = format!(
            "SELECT c.relname, public.bt_index_check(c.oid, true)::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_am a ON a.oid = c.relam \
             WHERE a.amname = 'btree' AND n.nspname IN ({}, 'oms_channels')",
            literal(&schema_of(account))
        );
        match self.query(None, &check) {
            Ok(rows) if rows.is_empty() => {
                problems.push(format!("no index in schema {}", schema_of(account)))
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("amcheck: {e}")),
        }
        // The runners have exited; their sessions end as the server reads
        // EOF, which takes it a moment, not a timeout. Give it a few seconds.
        let started = Instant::now();
        let mut held = self.advisory_locks();
        while !held.is_empty() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
            held = self.advisory_locks();
        }
        if !held.is_empty() {
            problems.push(format!(
                "advisory locks still held after every runner exited (pid objid): {held:?}"
            ));
        }
        if problems.is_empty() {
            "ok".into()
        } else {
            problems.join("; ")
        }
    }
}

impl PgConn {
    fn open(url: &str) -> Result<PgConn, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("connect to {url}: {e}"))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok::<_, String>(client)
        })?;
        Ok(PgConn { runtime, client })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_looks_read_an_account_schema_and_see_held_locks() {
        let store = TestStore::new(Backend::Postgres, Path::new("/nonexistent"));
        let cluster = PgCluster::shared();
        let db = store.database().unwrap();
        assert!(!store.exists("acme"));
        cluster.psql(
            db,
            "CREATE SCHEMA oms_acme; \
             CREATE TABLE oms_acme.tokens (channel TEXT PRIMARY KEY, refresh_token TEXT, n BIGINT); \
             INSERT INTO oms_acme.tokens VALUES ('shop', 'it''s', 7), ('web', NULL, 8)",
        );
        assert!(store.exists("acme"));
        assert_eq!(
            store.query(
                "acme",
                "SELECT refresh_token, n FROM tokens WHERE channel = ?1",
                &["shop"]
            ),
            Ok(vec![vec![Some("it's".to_string()), Some("7".to_string())]])
        );
        assert_eq!(
            store.value(
                "acme",
                "SELECT refresh_token FROM tokens WHERE channel = ?1",
                &["web"]
            ),
            None
        );
        assert_eq!(store.count("acme", "SELECT count(*) FROM tokens", &[]), 2);
        assert!(store.query("acme", "SELECT * FROM nothing", &[]).is_err());
        assert_eq!(store.integrity("acme"), "ok");
        assert_eq!(
            store.count(
                "acme",
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = 'oms_acme'",
                &[]
            ),
            0,
            "the integrity check put nothing into the account's schema"
        );

        // A session holding an advisory lock is seen; once it ends, it is not.
        let holder = PgConn::open(store.url().unwrap()).unwrap();
        holder
            .runtime
            .block_on(holder.client.simple_query("SELECT pg_advisory_lock(42)"))
            .unwrap();
        assert_eq!(store.advisory_locks().len(), 1);
        drop(holder);
        assert_eq!(
            store.integrity("acme"),
            "ok",
            "the lock died with its session"
        );
    }
}
