//! The PostgreSQL backend: where the server is and how to reach it (the URL,
//! the libpq password sources, `sslmode` over rustls), one session per
//! connection, and a small per-process pool so a runner going through many
//! accounts does not log in for each.
//!
//! The store's API is synchronous and called from inside the runner's
//! current-thread tokio runtime, where a blocking client's own runtime would
//! panic. So each connection is driven on a thread of its own, and callers
//! wait on the client's futures with a plain executor.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{StreamExt, pin_mut};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

use super::db::{DbError, DbResult, Row, Value, to_postgres_sql};

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
            _ => self.connect(None),
        }
    }

    /// A new connection of its own (never pooled): for a lock that must
    /// live exactly as long as its holder.
    pub fn dedicated_session(&self, application_name: &str) -> DbResult<PgSession> {
        self.connect(Some(application_name))
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

    fn connect(&self, application_name: Option<&str>) -> DbResult<PgSession> {
        let mut config = self.config.clone();
        if let Some(name) = application_name {
            config.application_name(name);
        }
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
            Ok(Err(ConnectError::Postgres(e))) => return Err(DbError::Postgres(e)),
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

    /// Runs `f` inside `begin` ... COMMIT, rolling back when it (or the
    /// commit, e.g. a queued write that fails) fails, so the session is
    /// usable again either way.
    pub fn transaction<T, E: From<DbError>>(
        &self,
        begin: &str,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.batch(begin)?;
        self.in_transaction.set(true);
        let outcome = f().and_then(|value| Ok(self.batch("COMMIT").map(|()| value)?));
        let ended = match outcome {
            Ok(_) => true,
            Err(_) => self.batch("ROLLBACK").is_ok(),
        };
        if ended {
            self.in_transaction.set(false);
        }
        outcome
    }

    /// The connection is gone (closed by either side).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Drops prepared statements (after `SET search_path`, they would still
    /// point at the tables they were planned for).
    pub fn forget_statements(&self) {
        self.statements.borrow_mut().clear();
    }
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

/// `sslmode` over rustls: `verify-full` checks the chain and the host name,
/// `verify-ca` only the chain; `require`, `prefer` and `allow` encrypt
/// without checking, as libpq does (unless `sslrootcert` names a CA file, in
/// which case `require` checks the chain, as libpq does too).
mod tls {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, Error as TlsError, SignatureScheme};

    use super::SslMode;

    pub(super) fn client_config(mode: SslMode, root_cert: Option<&Path>) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the default TLS versions are supported");
        let checks_chain = matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull)
            || (mode == SslMode::Require && root_cert.is_some());
        let verifier: Arc<dyn ServerCertVerifier> = if !checks_chain {
            Arc::new(AcceptAny(provider))
        } else {
            let chain = chain_verifier(root_cert, provider);
            if mode == SslMode::VerifyFull {
                chain
            } else {
                Arc::new(ChainOnly(chain))
            }
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth()
    }

    fn chain_verifier(
        root_cert: Option<&Path>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Arc<dyn ServerCertVerifier> {
        use rustls::pki_types::pem::PemObject;
        if let Some(path) = root_cert {
            let mut roots = rustls::RootCertStore::empty();
            if let Ok(certs) = CertificateDer::pem_file_iter(path) {
                for cert in certs.flatten() {
                    let _ = roots.add(cert);
                }
            }
            // An unreadable or empty file leaves no root: every server fails
            // the check, which is the safe way to be wrong.
            if let Ok(verifier) =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
                    .build()
            {
                return verifier;
            }
            return Arc::new(RejectAll);
        }
        match rustls_platform_verifier::Verifier::new(provider) {
            Ok(verifier) => Arc::new(verifier),
            Err(_) => Arc::new(RejectAll),
        }
    }

    #[derive(Debug)]
    struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, TlsError> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// verify-ca: the chain must check out; the name may differ.
    #[derive(Debug)]
    struct ChainOnly(Arc<dyn ServerCertVerifier>);

    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, TlsError> {
            match self
                .0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Err(TlsError::InvalidCertificate(rustls::CertificateError::NotValidForName))
                | Err(TlsError::InvalidCertificate(
                    rustls::CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }

    #[derive(Debug)]
    struct RejectAll;

    impl ServerCertVerifier for RejectAll {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, TlsError> {
            Err(TlsError::General(
                "no usable CA certificate to check the server against (check sslrootcert)".into(),
            ))
        }

        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            Err(TlsError::General("no usable CA certificate".into()))
        }

        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            Err(TlsError::General("no usable CA certificate".into()))
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            Vec::new()
        }
    }
}

/// A shared handle; cheap to clone.
pub type SharedTarget = Arc<PgTarget>;

#[cfg(test)]
mod tests {
    use super::*;

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
