//! The one SQL surface the store's modules speak, whatever the engine
//! behind it (see `engine`).
//!
//! Statements are written once, in the dialect the engines share: `?N`
//! parameters (an engine rewrites them if it must), `ON CONFLICT ... DO
//! UPDATE`, `RETURNING`, `coalesce`, `CAST(... AS BIGINT)`. Values cross as
//! [`Value`], so a row reads the same whichever engine produced it. What the
//! dialects cannot share (DDL, introspection) is a method of [`Sql`] that each
//! engine answers in its own words.

use std::fmt;

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
    /// The engine's own error, classified where it was made (see
    /// [`EngineError`]). Not a `#[source]`: its message is the whole story.
    #[error("{0}")]
    Engine(Box<dyn EngineError>),
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

/// An engine's error type, as the store needs to tell its cases apart. Each
/// engine implements it for its own error (in its own module), so nothing
/// outside the engine names the engine's types.
pub trait EngineError: std::error::Error + Send + Sync + 'static {
    /// The connection to the server is gone (or never came): nothing about
    /// this statement is known to have happened.
    fn is_connection_lost(&self) -> bool {
        false
    }

    /// The server turned the login down (wrong password, no such role, a
    /// rule in its access file): a setting to fix, not an outage to wait out.
    fn is_auth_failure(&self) -> bool {
        false
    }

    /// Another process kept the data locked past the busy timeout: a wait
    /// that the next run does not have.
    fn is_busy(&self) -> bool {
        false
    }

    /// A write inside a read-only transaction, or on a read-only store.
    fn is_read_only_violation(&self) -> bool;
}

impl DbError {
    /// A value that does not convert; `index` is filled in by [`Row::get`].
    pub fn convert(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> DbError {
        DbError::Convert {
            index: usize::MAX,
            source: source.into(),
        }
    }

    /// The engine's error of type `E`, for the engine's own code that must
    /// look closer (a missing table, a specific server code).
    pub(crate) fn engine_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            DbError::Engine(e) => {
                let e: &(dyn std::error::Error + 'static) = &**e;
                e.downcast_ref::<E>()
            }
            _ => None,
        }
    }

    /// See [`EngineError::is_connection_lost`].
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, DbError::Engine(e) if e.is_connection_lost())
    }

    /// See [`EngineError::is_auth_failure`].
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, DbError::Engine(e) if e.is_auth_failure())
    }

    /// See [`EngineError::is_busy`].
    pub fn is_busy(&self) -> bool {
        matches!(self, DbError::Engine(e) if e.is_busy())
    }

    /// See [`EngineError::is_read_only_violation`].
    pub fn is_read_only_violation(&self) -> bool {
        matches!(self, DbError::Engine(e) if e.is_read_only_violation())
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
    () => { &[] as &[&dyn $crate::store::sql::ToValue] };
    ($($param:expr),+ $(,)?) => {
        &[$(&$param as &dyn $crate::store::sql::ToValue),+] as &[&dyn $crate::store::sql::ToValue]
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
}

/// What one engine's connection offers a transaction: statements, and the
/// few things that need the engine's own SQL.
pub trait Sql {
    /// Runs one statement; returns the rows it changed.
    fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<usize>;

    /// Runs a write whose result is not needed. An engine that talks to a
    /// server may queue it and send the queue in one round trip before the
    /// next statement that answers (or the commit); either way it belongs to
    /// the transaction, and a failure rolls that back.
    fn execute_deferred(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<()> {
        self.execute(sql, params).map(|_| ())
    }

    /// Runs several statements with no parameters (DDL, maintenance).
    fn batch(&self, sql: &str) -> DbResult<()>;

    /// Streams the rows of a query through `each`, one at a time.
    fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> DbResult<()>;

    /// Creates (or empties) table `name` with `columns` (shared-dialect
    /// column definitions, keyed by a PRIMARY KEY) for bookkeeping that may
    /// outgrow memory, private to this transaction: no other connection
    /// ever sees it, and it is gone when the transaction ends, whether it
    /// commits or rolls back. Nothing of it reaches the system's temp dir.
    fn scratch_table(&self, name: &str, columns: &str) -> DbResult<()>;

    /// The store's own tables with their columns, in a stable order (for
    /// `store migrate`, which copies every one of them).
    fn tables(&self) -> DbResult<Vec<TableShape>>;
}

/// One table of a store as the engine reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableShape {
    pub name: String,
    /// Every column, in the order the table defines them.
    pub columns: Vec<String>,
    /// The primary key's columns, in key order.
    pub key: Vec<String>,
}

/// The statements of one transaction, on whichever engine: [`Sql`] plus the
/// conveniences every caller wants.
#[derive(Clone, Copy)]
pub struct Db<'a>(pub(crate) &'a dyn Sql);

impl fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Db")
    }
}

impl<'a> Db<'a> {
    /// The engine's own surface, for [`Sql::scratch_table`] and [`Sql::tables`].
    pub fn engine(&self) -> &'a dyn Sql {
        self.0
    }

    /// Runs one statement; returns the rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<usize> {
        self.0.execute(sql, params)
    }

    /// See [`Sql::execute_deferred`].
    pub fn execute_deferred(&self, sql: &str, params: &[&dyn ToValue]) -> DbResult<()> {
        self.0.execute_deferred(sql, params)
    }

    /// Runs several statements with no parameters (DDL, maintenance).
    pub fn batch(&self, sql: &str) -> DbResult<()> {
        self.0.batch(sql)
    }

    /// Streams the rows of a query through `each`, one at a time.
    pub fn query_each(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        each: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> DbResult<()> {
        self.0.query_each(sql, params, each)
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
    fn rows_convert_and_name_the_column_that_does_not() {
        let row = Row {
            values: vec![Value::Int(7), Value::Null, Value::Text("x".into())],
        };
        assert_eq!(row.get::<_, i64>(0).unwrap(), 7);
        assert_eq!(row.get::<_, Option<String>>(1).unwrap(), None);
        let err = row.get::<_, i64>(2).unwrap_err();
        assert_eq!(err.to_string(), "column 2: expected an integer, found text");
    }
}
