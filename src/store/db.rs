//! The one SQL surface the store modules speak, over either backend: SQLite
//! (a file per account) or PostgreSQL (a schema per account, see `pg`).
//!
//! Statements are written once, in the dialect both engines share: `?N`
//! parameters (rewritten to `$N` for PostgreSQL), `ON CONFLICT ... DO UPDATE`,
//! `RETURNING`, `coalesce`, `CAST(... AS BIGINT)`. Values cross as [`Value`],
//! so a row reads the same whichever engine produced it.

use std::borrow::Cow;
use std::fmt;

use super::pg::PgSession;

/// A column or parameter value, engine-neutral.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// Not a `#[source]`: the message already holds the server's words, and
    /// the crate's own `Display` would add only "db error".
    #[error("{}", describe_pg(.0))]
    Postgres(tokio_postgres::Error),
    #[error("column {index}: expected {expected}, found {found}")]
    ColumnType {
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{}", match *index {
        usize::MAX => source.to_string(),
        i => format!("column {i}: {source}"),
    })]
    Convert {
        index: usize,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the query returned no row")]
    NoRow,
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

impl DbError {
    /// A value that does not convert; `index` is filled in by [`Row::get`].
    pub fn convert(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> DbError {
        DbError::Convert {
            index: usize::MAX,
            source: source.into(),
        }
    }

    /// The connection to the server is gone (or never came): nothing about
    /// this statement is known to have happened.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            DbError::Postgres(e) => e.is_closed() || e.as_db_error().is_none(),
            _ => false,
        }
    }

    /// The server turned the login down (wrong password, no such role, a
    /// pg_hba.conf rule): a setting to fix, not an outage to wait out.
    pub fn is_auth_failure(&self) -> bool {
        match self {
            DbError::Postgres(e) => {
                e.code().is_some_and(|code| {
                    code.code().starts_with("28")
                        || *code == tokio_postgres::error::SqlState::INVALID_CATALOG_NAME
                })
                // The server asked for a password and none was set.
                || e.to_string().starts_with("invalid configuration")
            }
            _ => false,
        }
    }

    /// `readonly`: a write inside a read transaction.
    pub fn is_read_only_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ReadOnly
            }
            DbError::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
            }
            _ => false,
        }
    }
}

/// PostgreSQL's own message, with its detail and hint when it gives them
/// (the bare `Display` of the crate says only "db error").
fn describe_pg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

pub type DbResult<T> = std::result::Result<T, DbError>;

/// Something that can be bound as a parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// Something a column can be read as.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> DbResult<Self>;
}

/// `params![a, b]`: the parameter list of a statement.
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::db::ToValue] };
    ($($param:expr),+ $(,)?) => {
        &[$(&$param as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue]
    };
}
pub(crate) use params;

/// One result row.
#[derive(Debug, Default)]
pub struct Row {
    pub(crate) values: Vec<Value>,
}

/// A column position (rusqlite's shape, so `r.get(0)` infers `usize`).
pub trait ColumnIndex {
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

impl Row {
    pub fn get<I: ColumnIndex, T: FromValue>(&self, index: I) -> DbResult<T> {
        let index = index.index();
        let value = self.values.get(index).unwrap_or(&Value::Null);
        T::from_value(value).map_err(|e| match e {
            DbError::ColumnType {
                expected, found, ..
            } => DbError::ColumnType {
                index,
                expected,
                found,
            },
            DbError::Convert { source, .. } => DbError::Convert { index, source },
            other => other,
        })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The connection a transaction runs on.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    Sqlite(&'a rusqlite::Connection),
    Pg(&'a PgSession),
}

impl fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Db::Sqlite(_) => "Db::Sqlite",
            Db::Pg(_) => "Db::Pg",
        })
    }
}

impl Db<'_> {
    /// Runs one statement; returns the rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<usize> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                bind_sqlite(&mut stmt, params)?;
                Ok(stmt.raw_execute()?)
            }
            Db::Pg(session) => session.execute(sql, &values(params)),
        }
    }

    /// Runs a write whose result is not needed. PostgreSQL queues it and
    /// sends the queue in one round trip before the next statement that
    /// answers (or the commit); SQLite, in-process, runs it at once. Either
    /// way it belongs to the transaction, and a failure rolls that back.
    pub fn execute_deferred(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<()> {
        match self {
            Db::Sqlite(_) => self.execute(sql, params).map(|_| ()),
            Db::Pg(session) => session.execute_deferred(sql, values(params)),
        }
    }

    /// Runs several statements with no parameters (DDL, maintenance).
    pub fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Pg(session) => session.batch(sql),
        }
    }

    /// Streams the rows of a query through `each`, one at a time.
    pub fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> DbResult<()> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                bind_sqlite(&mut stmt, params)?;
                let columns = stmt.column_count();
                let mut rows = stmt.raw_query();
                let mut row = Row::default();
                while let Some(r) = rows.next()? {
                    row.values.clear();
                    for i in 0..columns {
                        row.values.push(from_sqlite(r.get_ref(i)?));
                    }
                    each(&row)?;
                }
                Ok(())
            }
            Db::Pg(session) => session.query_each(sql, &values(params), each),
        }
    }

    /// A `SELECT` run for what it does (a lock or sequence function), its
    /// rows ignored.
    pub fn call(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<()> {
        self.query_each(sql, params, &mut |_| Ok(()))
    }

    /// Every row, mapped.
    pub fn query<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        mut map: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(sql, params, &mut |row| {
            out.push(map(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row, if any.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        map: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        let mut map = Some(map);
        let mut out = None;
        self.query_each(sql, params, &mut |row| {
            if let Some(map) = map.take() {
                out = Some(map(row)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row; [`DbError::NoRow`] if there is none.
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        map: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        self.query_opt(sql, params, map)?.ok_or(DbError::NoRow)
    }

    /// Which engine: for the few statements the dialects cannot share.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Pg(_))
    }
}

fn values(params: &[&dyn ToValue]) -> Vec<Value> {
    params.iter().map(|p| p.to_value()).collect()
}

fn bind_sqlite(stmt: &mut rusqlite::CachedStatement<'_>, params: &[&dyn ToValue]) -> DbResult<()> {
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

fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
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

// ---- conversions for the plain types ----

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

fn mismatch<T>(expected: &'static str, found: &Value) -> DbResult<T> {
    Err(DbError::ColumnType {
        index: usize::MAX,
        expected,
        found: found.kind(),
    })
}

impl FromValue for Value {
    fn from_value(value: &Value) -> DbResult<Self> {
        Ok(value.clone())
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> DbResult<Self> {
        match value {
            Value::Int(i) => Ok(*i),
            other => mismatch("an integer", other),
        }
    }
}

impl FromValue for i32 {
    fn from_value(value: &Value) -> DbResult<Self> {
        i32::try_from(i64::from_value(value)?).map_err(DbError::convert)
    }
}

impl FromValue for u32 {
    fn from_value(value: &Value) -> DbResult<Self> {
        u32::try_from(i64::from_value(value)?).map_err(DbError::convert)
    }
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> DbResult<Self> {
        u64::try_from(i64::from_value(value)?).map_err(DbError::convert)
    }
}

impl FromValue for usize {
    fn from_value(value: &Value) -> DbResult<Self> {
        usize::try_from(i64::from_value(value)?).map_err(DbError::convert)
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> DbResult<Self> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> DbResult<Self> {
        match value {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => mismatch("a real", other),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> DbResult<Self> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => mismatch("text", other),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> DbResult<Self> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => mismatch("a blob", other),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> DbResult<Self> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
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
    fn rows_convert_and_name_the_column_that_does_not() {
        let row = Row {
            values: vec![Value::Int(7), Value::Null, Value::Text("x".into())],
        };
        assert_eq!(row.get::<_, i64>(0).unwrap(), 7);
        assert_eq!(row.get::<_, Option<String>>(1).unwrap(), None);
        let err = row.get::<_, i64>(2).unwrap_err();
        assert_eq!(err.to_string(), "column 2: expected an integer, found text");
    }

    #[test]
    fn the_same_statements_run_on_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let db = Db::Sqlite(&conn);
        db.batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)")
            .unwrap();
        let n: Option<i64> = None;
        assert_eq!(
            db.execute("INSERT INTO t VALUES (?1, ?2)", params!["a", n])
                .unwrap(),
            1
        );
        db.execute("INSERT INTO t VALUES (?1, ?2)", params!["b", 2i64])
            .unwrap();
        let rows = db
            .query("SELECT k, n FROM t ORDER BY k", params![], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
            })
            .unwrap();
        assert_eq!(rows, vec![("a".into(), None), ("b".into(), Some(2))]);
        let none = db
            .query_opt("SELECT n FROM t WHERE k = ?1", params!["zz"], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap();
        assert_eq!(none, None);
        assert!(matches!(
            db.query_one("SELECT n FROM t WHERE k = ?1", params!["zz"], |r| r
                .get::<_, i64>(0)),
            Err(DbError::NoRow)
        ));
    }
}
