//! The PostgreSQL client: where the server is and how to reach it (the URL,
//! the libpq password sources, `sslmode` over rustls), one session per
//! connection with the shared SQL surface on it, and a small per-process
//! pool so a runner going through many accounts does not log in for each.
//!
//! The store's API is synchronous and called from inside the runner's
//! current-thread tokio runtime, where a blocking client's own runtime would
//! panic. So each connection is driven on a thread of its own, and callers
//! wait on the client's futures with a plain executor.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::{StreamExt, pin_mut};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

use super::tls;
use crate::store::sql::{DbError, DbResult, EngineError, Row, Sql, TableShape, ToValue, Value};

/// How long to wait for a server that does not answer before saying so.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle sessions kept per process for reuse.
const POOL_MAX_IDLE: usize = 4;

/// Why the store URL cannot be used; said before anything connects.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("store URL `{url}`: {reason}")]
    Invalid { url: String, reason: String },
    #[error(
        "store URL `{url}` carries a password: remove it and set PGPASSWORD, or put it in a PGPASSFILE (~/.pgpass) entry; a password in a URL ends up in process lists, shell history and config files"
    )]
    PasswordInUrl { url: String },
}

/// libpq's `sslmode`, all six of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// A PostgreSQL server and database, parsed from a `postgres://` URL.
pub struct PgTarget {
    config: tokio_postgres::Config,
    /// The URL as the user wrote it (never holds a password: refused).
    shown: String,
    ssl_mode: SslMode,
    ssl_root_cert: Option<PathBuf>,
    idle: Mutex<Vec<PgSession>>,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &self.shown)
            .finish()
    }
}

/// Environment the target reads, passed in so tests need not set globals.
#[derive(Debug, Default, Clone)]
pub struct PgEnv {
    pub password: Option<String>,
    pub passfile: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub user: Option<String>,
}

impl PgEnv {
    /// libpq's variables, empty ones counting as unset.
    pub fn from_process() -> PgEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        PgEnv {
            password: var("PGPASSWORD"),
            passfile: var("PGPASSFILE").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            user: var("PGUSER")
                .or_else(|| var("USER"))
                .or_else(|| var("LOGNAME")),
        }
    }
}

impl PgTarget {
    /// Parses `postgres://user@host:port/db?sslmode=...`; the password comes
    /// from `env` the libpq way (PGPASSWORD, then the passfile).
    pub fn parse(url: &str, env: &PgEnv) -> Result<PgTarget, TargetError> {
        let invalid = |reason: String| TargetError::Invalid {
            url: url.to_string(),
            reason,
        };
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        let mut ssl_mode = SslMode::Prefer;
        let mut ssl_root_cert = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    ssl_mode = SslMode::parse(value).ok_or_else(|| {
                        invalid(format!(
                            "sslmode `{value}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        ))
                    })?;
                }
                "sslrootcert" => ssl_root_cert = Some(PathBuf::from(value)),
                _ => kept.push(pair),
            }
        }
        let rebuilt = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: tokio_postgres::Config = rebuilt
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid(e.to_string()))?;
        if config.get_password().is_some() {
            return Err(TargetError::PasswordInUrl { url: redact(url) });
        }
        if config.get_hosts().is_empty() {
            let socket_dir = Path::new("/var/run/postgresql");
            if socket_dir.is_dir() {
                config.host_path(socket_dir);
            } else {
                config.host("localhost");
            }
        }
        if config.get_user().is_none() {
            let user = env.user.clone().unwrap_or_else(|| "postgres".to_string());
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            let user = config.get_user().unwrap_or_default().to_string();
            config.dbname(&user);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_options().is_none() {
            // The server's side too: without it, a runner host that vanishes
            // (power, network) keeps its advisory locks until the kernel's
            // default keepalive gives up, about two hours later.
            config.options(
                "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3 \
                 -c plan_cache_mode=force_custom_plan",
            );
        }
        if config.get_application_name().is_none() {
            config.application_name("oms-channels");
        }
        if let Some(password) = password_for(&config, env) {
            config.password(password);
        }
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        Ok(PgTarget {
            config,
            shown: url.to_string(),
            ssl_mode,
            ssl_root_cert,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The URL as given, for messages.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// A session from the pool, or a new connection.
    pub fn session(&self) -> DbResult<PgSession> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match reused {
            Some(session) if !session.client.is_closed() => Ok(session),
            _ => self.connect(),
        }
    }

    /// Hands a session back for reuse, unless it is broken or the pool is full.
    pub fn give_back(&self, session: PgSession) {
        if session.client.is_closed() || session.in_transaction.get() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_MAX_IDLE {
            idle.push(session);
        }
    }

    fn connect(&self) -> DbResult<PgSession> {
        let config = self.config.clone();
        let tls = self.tls_config();
        let (sender, receiver) = std::sync::mpsc::channel();
        let driver = std::thread::Builder::new()
            .name("oms-channels-pg".to_string())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = sender.send(Err(ConnectError::Runtime(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let connected = match tls {
                        Some(tls) => {
                            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
                            config.connect(tls).await.map(|(client, connection)| {
                                (client, Box::pin(connection) as DriverFuture)
                            })
                        }
                        None => config.connect(tokio_postgres::NoTls).await.map(
                            |(client, connection)| (client, Box::pin(connection) as DriverFuture),
                        ),
                    };
                    match connected {
                        Ok((client, connection)) => {
                            if sender.send(Ok(client)).is_ok() {
                                // Ends when the client is dropped or the server goes.
                                let _ = connection.await;
                            }
                        }
                        Err(e) => {
                            let _ = sender.send(Err(ConnectError::Postgres(e)));
                        }
                    }
                });
            })
            .map_err(|e| DbError::convert(format!("cannot start a connection thread: {e}")))?;
        let client = match receiver.recv() {
            Ok(Ok(client)) => client,
            Ok(Err(ConnectError::Postgres(e))) => return Err(e.into()),
            Ok(Err(ConnectError::Runtime(e))) => {
                return Err(DbError::convert(format!("cannot start a runtime: {e}")));
            }
            Err(_) => return Err(DbError::convert("the connection thread ended")),
        };
        Ok(PgSession {
            client,
            statements: RefCell::new(HashMap::new()),
            deferred: RefCell::new(Vec::new()),
            in_transaction: std::cell::Cell::new(false),
            _driver: DriverThread(Some(driver)),
        })
    }

    fn tls_config(&self) -> Option<rustls::ClientConfig> {
        if self.ssl_mode == SslMode::Disable {
            return None;
        }
        Some(tls::client_config(
            self.ssl_mode,
            self.ssl_root_cert.as_deref(),
        ))
    }
}

type DriverFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

enum ConnectError {
    Postgres(tokio_postgres::Error),
    Runtime(std::io::Error),
}

/// The URL with any password replaced, for the one message that must show it.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// PGPASSWORD, else the first matching line of the passfile (PGPASSFILE or
/// `~/.pgpass`), which libpq ignores when others can read it.
fn password_for(config: &tokio_postgres::Config, env: &PgEnv) -> Option<String> {
    if let Some(password) = &env.password {
        return Some(password.clone());
    }
    let path = env
        .passfile
        .clone()
        .or_else(|| env.home.as_ref().map(|home| home.join(".pgpass")))?;
    let metadata = std::fs::metadata(&path).ok()?;
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "password file has group or world access; ignored (chmod 0600 it), as libpq does"
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or_default();
    let user = config.get_user().unwrap_or_default();
    passfile_lookup(&text, [&host, &port, db, user])
}

/// One `hostname:port:database:username:password` line at a time; `*`
/// matches anything, `\:` and `\\` escape.
fn passfile_lookup(text: &str, wanted: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        field.push(next);
                    }
                }
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() != 5 {
            continue;
        }
        if fields[..4]
            .iter()
            .zip(wanted)
            .all(|(pattern, value)| pattern == "*" || pattern == value)
        {
            return fields.pop();
        }
    }
    None
}

/// One connection. Not shared between threads: the store holds it behind
/// its mutex.
pub struct PgSession {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
    /// Writes whose results nobody waits for, sent together (pipelined) at
    /// the next statement that needs an answer, or before COMMIT.
    deferred: RefCell<Vec<(Statement, Vec<Value>)>>,
    in_transaction: std::cell::Cell<bool>,
    _driver: DriverThread,
}

/// The thread driving the connection ends once the client is dropped.
struct DriverThread(Option<std::thread::JoinHandle<()>>);

impl Drop for DriverThread {
    fn drop(&mut self) {
        // The client (dropped just before, as an earlier field) closes the
        // connection; the thread then returns. Not joined: a server that does
        // not answer the close must not hold the process up.
        self.0.take();
    }
}

impl PgSession {
    fn statement(&self, sql: &str) -> DbResult<Statement> {
        if let Some(stmt) = self.statements.borrow().get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = futures_executor::block_on(self.client.prepare(&to_postgres_sql(sql)))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Queues a write: it is sent with the others queued before the next
    /// statement that needs an answer, in one round trip. An error in it
    /// surfaces there (still inside the same transaction, which then rolls
    /// back whole).
    pub fn execute_deferred(&self, sql: &str, params: Vec<Value>) -> DbResult<()> {
        let stmt = self.statement(sql)?;
        self.deferred.borrow_mut().push((stmt, params));
        Ok(())
    }

    /// Sends the queued writes, all at once.
    fn flush(&self) -> DbResult<()> {
        let pending = std::mem::take(&mut *self.deferred.borrow_mut());
        if pending.is_empty() {
            return Ok(());
        }
        let params: Vec<Vec<PgParam<'_>>> = pending
            .iter()
            .map(|(_, values)| values.iter().map(PgParam).collect())
            .collect();
        let refs: Vec<Vec<&(dyn ToSql + Sync)>> = params
            .iter()
            .map(|ps| ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect())
            .collect();
        let writes = pending
            .iter()
            .zip(&refs)
            .map(|((stmt, _), refs)| self.client.execute(stmt, refs));
        futures_executor::block_on(futures_util::future::try_join_all(writes))?;
        Ok(())
    }

    pub fn execute(&self, sql: &str, params: &[Value]) -> DbResult<usize> {
        self.flush()?;
        let stmt = self.statement(sql)?;
        let params: Vec<PgParam<'_>> = params.iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let n = futures_executor::block_on(self.client.execute(&stmt, &refs))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub fn batch(&self, sql: &str) -> DbResult<()> {
        if sql == "ROLLBACK" {
            // Whatever was queued belonged to the transaction being undone.
            self.deferred.borrow_mut().clear();
        } else {
            self.flush()?;
        }
        Ok(futures_executor::block_on(self.client.batch_execute(sql))?)
    }

    pub fn query_each(
        &self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> DbResult<()> {
        self.flush()?;
        let stmt = self.statement(sql)?;
        let params: Vec<PgParam<'_>> = params.iter().map(PgParam).collect();
        futures_executor::block_on(async {
            let rows = self.client.query_raw(&stmt, params.iter()).await?;
            pin_mut!(rows);
            let mut row = Row::default();
            while let Some(pg_row) = rows.next().await {
                let pg_row = pg_row?;
                row.values.clear();
                for (i, column) in pg_row.columns().iter().enumerate() {
                    row.values.push(column_value(&pg_row, i, column.type_())?);
                }
                each(&row)?;
            }
            Ok(())
        })
    }

    /// Starts a transaction with `begin` (`BEGIN ...`).
    pub fn begin(&self, begin: &str) -> DbResult<()> {
        self.batch(begin)?;
        self.in_transaction.set(true);
        Ok(())
    }

    /// COMMIT; on failure (e.g. a queued write that fails) the transaction
    /// is still open: [`PgSession::rollback`] it.
    pub fn commit(&self) -> DbResult<()> {
        self.batch("COMMIT")?;
        self.in_transaction.set(false);
        Ok(())
    }

    /// ROLLBACK; a session that could not roll back stays marked as in a
    /// transaction, so it is never handed out again.
    pub fn rollback(&self) {
        if self.batch("ROLLBACK").is_ok() {
            self.in_transaction.set(false);
        }
    }

    /// Runs `f` inside `begin` ... COMMIT, rolling back when it (or the
    /// commit) fails, so the session is usable again either way.
    pub fn transaction<T, E: From<DbError>>(
        &self,
        begin: &str,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.begin(begin)?;
        let outcome = f().and_then(|value| Ok(self.commit().map(|()| value)?));
        if outcome.is_err() {
            self.rollback();
        }
        outcome
    }

    /// Drops prepared statements (after `SET search_path`, they would still
    /// point at the tables they were planned for).
    pub fn forget_statements(&self) {
        self.statements.borrow_mut().clear();
    }
}

fn values(params: &[&dyn ToValue]) -> Vec<Value> {
    params.iter().map(|p| p.to_value()).collect()
}

impl Sql for PgSession {
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<usize> {
        PgSession::execute(self, sql, &values(params))
    }

    fn execute_deferred(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<()> {
        PgSession::execute_deferred(self, sql, values(params))
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        PgSession::batch(self, sql)
    }

    fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> DbResult<()> {
        PgSession::query_each(self, sql, &values(params), each)
    }

    /// A TEMP table dropped at commit: the server keeps it (and spills it
    /// on its side), this process keeps nothing.
    fn scratch_table(&self, name: &str, columns: &str) -> DbResult<()> {
        PgSession::batch(
            self,
            &format!(
                "CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DROP; DELETE FROM {name};"
            ),
        )
    }

    fn tables(&self) -> DbResult<Vec<TableShape>> {
        let mut tables: Vec<TableShape> = Vec::new();
        PgSession::query_each(
            self,
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            &[],
            &mut |row| {
                let (table, column): (String, String) = (row.get(0)?, row.get(1)?);
                match tables.last_mut() {
                    Some(last) if last.name == table => last.columns.push(column),
                    _ => tables.push(TableShape {
                        name: table,
                        columns: vec![column],
                        key: Vec::new(),
                    }),
                }
                Ok(())
            },
        )?;
        PgSession::query_each(
            self,
            "SELECT k.table_name::text, k.column_name::text \
             FROM information_schema.table_constraints c \
             JOIN information_schema.key_column_usage k \
             ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name \
             WHERE c.table_schema = current_schema() AND c.constraint_type = 'PRIMARY KEY' \
             ORDER BY k.table_name, k.ordinal_position",
            &[],
            &mut |row| {
                let (table, column): (String, String) = (row.get(0)?, row.get(1)?);
                if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
                    t.key.push(column);
                }
                Ok(())
            },
        )?;
        Ok(tables)
    }
}

/// PostgreSQL's error, shown with the server's own words.
#[derive(Debug)]
pub(crate) struct PgError(pub tokio_postgres::Error);

impl fmt::Display for PgError {
    /// PostgreSQL's own message, with its detail and hint when it gives them
    /// (the bare `Display` of the crate says only "db error").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_db_error() {
            Some(db) => {
                write!(f, "{}: {}", db.severity(), db.message())?;
                if let Some(detail) = db.detail() {
                    write!(f, " ({detail})")?;
                }
                if let Some(hint) = db.hint() {
                    write!(f, "; hint: {hint}")?;
                }
                Ok(())
            }
            None => {
                write!(f, "{}", self.0)?;
                let mut source = StdError::source(&self.0);
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
        }
    }
}

impl StdError for PgError {}

impl EngineError for PgError {
    fn is_connection_lost(&self) -> bool {
        self.0.is_closed() || self.0.as_db_error().is_none()
    }

    fn is_auth_failure(&self) -> bool {
        self.0.code().is_some_and(|code| {
            code.code().starts_with("28")
                || *code == tokio_postgres::error::SqlState::INVALID_CATALOG_NAME
        })
            // The server asked for a password and none was set.
            || self.0.to_string().starts_with("invalid configuration")
    }

    fn is_read_only_violation(&self) -> bool {
        self.0.code() == Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::Engine(Box::new(PgError(e)))
    }
}

/// The server's SQLSTATE of a failed statement, if the server answered.
pub(crate) fn sql_state(e: &DbError) -> Option<&tokio_postgres::error::SqlState> {
    e.engine_error::<PgError>().and_then(|e| e.0.code())
}

/// The shared dialect to PostgreSQL's: `?N` and `?` parameters become `$N`,
/// `LIMIT -1` (SQLite's "no limit") becomes `LIMIT ALL`. Quoted text is left
/// alone.
pub(crate) fn to_postgres_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') && !sql.contains("LIMIT -1") {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next_bare = 1;
    let mut chars = sql.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((_, c)) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_digit() {
                        digits.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next_bare.to_string());
                    next_bare += 1;
                } else {
                    out.push_str(&digits);
                }
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out.replace("LIMIT -1", "LIMIT ALL"))
}

fn column_value(row: &tokio_postgres::Row, i: usize, ty: &Type) -> DbResult<Value> {
    let value = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::OID => row
            .try_get::<_, Option<u32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)?
            .map(|v| Value::Real(v.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
        // `SELECT pg_advisory_lock(...)` and friends.
        Type::VOID => None,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        ref other => {
            return Err(DbError::convert(format!(
                "column {i} has PostgreSQL type `{other}`, which the store does not read (cast it to BIGINT or TEXT)"
            )));
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

/// A [`Value`] sent as whatever type the server expects for that parameter,
/// so the shared statements need no casts.
#[derive(Debug)]
struct PgParam<'v>(&'v Value);

impl ToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(v), &Type::INT8) => v.to_sql(ty, out),
            (Value::Int(v), &Type::INT4) => i32::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::INT2) => i16::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (Value::Int(v), &Type::FLOAT8) => (*v as f64).to_sql(ty, out),
            (Value::Real(v), &Type::FLOAT8) => v.to_sql(ty, out),
            (Value::Int(v), &Type::TEXT | &Type::VARCHAR | &Type::UNKNOWN) => {
                v.to_string().to_sql(&Type::TEXT, out)
            }
            (Value::Text(v), &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME) => {
                v.as_str().to_sql(ty, out)
            }
            (Value::Text(v), &Type::UNKNOWN) => v.as_str().to_sql(&Type::TEXT, out),
            (Value::Blob(v), &Type::BYTEA) => v.as_slice().to_sql(ty, out),
            (value, ty) => Err(format!(
                "cannot send {} where PostgreSQL expects `{ty}`",
                value.kind()
            )
            .into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_dollar_numbers_outside_quotes() {
        assert_eq!(
            to_postgres_sql("SELECT a FROM t WHERE b = ?2 AND c = ?1 AND d = '?3'"),
            "SELECT a FROM t WHERE b = $2 AND c = $1 AND d = '?3'"
        );
        assert_eq!(
            to_postgres_sql("INSERT INTO t VALUES (?, ?)"),
            "INSERT INTO t VALUES ($1, $2)"
        );
        assert_eq!(
            to_postgres_sql("SELECT x FROM t ORDER BY x LIMIT -1 OFFSET ?3"),
            "SELECT x FROM t ORDER BY x LIMIT ALL OFFSET $3"
        );
        assert!(matches!(to_postgres_sql("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_showing_it() {
        let err = PgTarget::parse("postgres://oms:s3cret@db/oms", &PgEnv::default()).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("PGPASSWORD"), "{text}");
    }

    #[test]
    fn sslmode_is_checked_and_the_password_comes_from_the_environment() {
        let err = PgTarget::parse("postgres://oms@db/oms?sslmode=sometimes", &PgEnv::default())
            .unwrap_err();
        assert!(err.to_string().contains("sslmode `sometimes`"), "{err}");
        let env = PgEnv {
            password: Some("pw".into()),
            ..PgEnv::default()
        };
        let target = PgTarget::parse(
            "postgres://oms@db:5433/oms?sslmode=verify-full&sslrootcert=/x.pem",
            &env,
        )
        .unwrap();
        assert_eq!(target.ssl_mode, SslMode::VerifyFull);
        assert_eq!(target.config.get_password(), Some(&b"pw"[..]));
        assert_eq!(target.config.get_ports(), &[5433]);
    }

    #[test]
    fn passfile_lines_match_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:oms:oms:wrong\ndb:*:oms:oms:pa\\:ss\n";
        assert_eq!(
            passfile_lookup(text, ["db", "5432", "oms", "oms"]).as_deref(),
            Some("pa:ss")
        );
        assert_eq!(passfile_lookup(text, ["db", "5432", "oms", "x"]), None);
    }

    #[test]
    fn a_passfile_others_can_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let env = PgEnv {
            passfile: Some(path.clone()),
            ..PgEnv::default()
        };
        let target = PgTarget::parse("postgres://oms@db/oms", &env).unwrap();
        assert_eq!(target.config.get_password(), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let target = PgTarget::parse("postgres://oms@db/oms", &env).unwrap();
        assert_eq!(target.config.get_password(), Some(&b"pw"[..]));
    }
}
