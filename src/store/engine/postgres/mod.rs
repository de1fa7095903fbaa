//! The PostgreSQL engine: a database shared by runners on many hosts, one
//! schema per account (`oms_<account>`) holding the same tables as an
//! account's SQLite file, and a registry of accounts with their schema
//! versions (`oms_channels.accounts`). Locks are advisory locks held by the
//! runner's session (see `lock`). The data dir is not used.

mod client;
mod lock;
mod tls;
pub(crate) mod transfer;

use std::sync::Arc;

pub use client::TargetError;
use client::{PgEnv, PgSession, PgTarget, sql_state};

use super::{Connection, Engine, OpenMode, TxKind};
use crate::store::lock::{AccountLock, ChannelLock, LockError};
use crate::store::schema::{STEPS, current_version};
use crate::store::sql::{Db, DbError, DbResult, Sql, params};
use crate::store::{Durability, IdleStamp, Millis, Result, StoreError};

/// Accounts' stores in one PostgreSQL database.
#[derive(Debug)]
pub(crate) struct PostgresEngine {
    target: Arc<PgTarget>,
}

impl PostgresEngine {
    /// A `postgres://` URL, with the libpq password sources of this process.
    pub(crate) fn from_url(url: &str) -> std::result::Result<PostgresEngine, TargetError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(TargetError::Invalid {
                url: url.to_string(),
                reason: "a store URL starts with postgres:// (leave the store unset for SQLite files in the data dir)".to_string(),
            });
        }
        let target = PgTarget::parse(url, &PgEnv::from_process())?;
        Ok(PostgresEngine {
            target: Arc::new(target),
        })
    }
}

impl Engine for PostgresEngine {
    fn describe(&self) -> String {
        self.target.url().to_string()
    }

    /// `postgres://... (schema oms_acme)`.
    fn account_location(&self, account: &str) -> String {
        format!("{} (schema {})", self.target.url(), schema_name(account))
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn open(&self, account: &str, mode: OpenMode) -> Result<Option<Box<dyn Connection>>> {
        let session = self
            .target
            .session()
            .map_err(|source| StoreError::cannot_connect(self.target.url(), source))?;
        // A read-only command may still bring the schema up to date: the
        // data dir's read-only file systems do not concern a server.
        match prepare(&session, account, mode.creates()) {
            Ok(true) => Ok(Some(Box::new(PgConnection {
                session: Some(session),
                target: self.target.clone(),
                write_key: format!("oms-channels/write/{account}"),
                account: account.to_string(),
            }))),
            Ok(false) => {
                self.target.give_back(session);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn try_lock_account(&self, account: &str) -> Result<AccountLock, LockError> {
        lock::try_lock_account(&self.target, account)
    }

    fn lock_channel_tokens(&self, account: &str, channel: &str) -> Result<ChannelLock, LockError> {
        lock::lock_channel_tokens(&self.target, account, channel)
    }

    fn account_run_holder(&self, account: &str) -> Option<u32> {
        lock::run_holder(&self.target, account)
    }

    /// One query on a pooled session (which the account lock then reuses).
    fn idle_stamp(&self, account: &str) -> Option<IdleStamp> {
        let session = self.target.session().ok()?;
        let stamp = Db(&session).query_opt(
            "SELECT inputs, next_due FROM oms_channels.idle_stamps WHERE account = ?1",
            params![account],
            |r| {
                let inputs: String = r.get(0)?;
                let next_due: Option<Millis> = r.get(1)?;
                Ok((inputs, next_due))
            },
        );
        self.target.give_back(session);
        let (inputs, next_due) = stamp.ok()??;
        Some(IdleStamp {
            inputs: u64::from_str_radix(&inputs, 16).ok()?,
            next_due: next_due.map(|m| m.0),
        })
    }
}

/// One account's schema on a pooled session, handed back when dropped.
struct PgConnection {
    /// `None` only while being dropped.
    session: Option<PgSession>,
    target: Arc<PgTarget>,
    /// Serialises writers of one account, as SQLite's `BEGIN IMMEDIATE` does.
    write_key: String,
    account: String,
}

impl PgConnection {
    fn session(&self) -> &PgSession {
        self.session.as_ref().expect("open until dropped")
    }

    /// Inside a write transaction: the stamp goes with whatever the
    /// transaction writes, in the same commit (sent with its next statement).
    fn forget_idle_stamp(&self) -> Result<(), DbError> {
        Db(self.session()).execute_deferred(
            "DELETE FROM oms_channels.idle_stamps WHERE account = ?1",
            params![self.account.as_str()],
        )
    }
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.target.give_back(session);
        }
    }
}

impl Connection for PgConnection {
    fn begin(&mut self, kind: TxKind) -> Result<(), DbError> {
        let session = self.session();
        match kind {
            TxKind::Read => session.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
            TxKind::Write(durability) => {
                session.begin(match durability {
                    Durability::Full => "BEGIN",
                    // The commit returns before its WAL record is flushed;
                    // a server crash may lose it (never half of it), and
                    // the next synchronous commit flushes it with its own.
                    Durability::Relaxed => "BEGIN; SET LOCAL synchronous_commit = off",
                })?;
                Db(session).call(
                    "SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))",
                    params![self.write_key.as_str()],
                )?;
                self.forget_idle_stamp()
            }
        }
    }

    fn try_begin_write(&mut self) -> Result<bool, DbError> {
        let session = self.session();
        session.begin("BEGIN")?;
        let locked: bool = Db(session).query_one(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(?1, 0))",
            params![self.write_key.as_str()],
            |r| r.get(0),
        )?;
        if !locked {
            session.rollback();
            return Ok(false);
        }
        self.forget_idle_stamp()?;
        Ok(true)
    }

    fn set_idle_stamp(&mut self, stamp: &IdleStamp) -> Result<(), DbError> {
        Db(self.session()).execute(
            "INSERT INTO oms_channels.idle_stamps (account, inputs, next_due) VALUES (?1, ?2, ?3) \
             ON CONFLICT (account) DO UPDATE SET inputs = excluded.inputs, next_due = excluded.next_due",
            params![
                self.account.as_str(),
                format!("{:016x}", stamp.inputs),
                stamp.next_due.map(Millis)
            ],
        )?;
        Ok(())
    }

    fn sql(&self) -> &dyn Sql {
        self.session()
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.session().commit()
    }

    fn rollback(&mut self) {
        self.session().rollback();
    }

    /// PostgreSQL keeps its own consistency; this checks that the account's
    /// schema has its tables.
    fn integrity_check(&mut self) -> Result<String, DbError> {
        let tables: i64 = Db(self.session()).query_one(
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
}

/// The schema holding one account's tables: `oms_<account>`, shortened with
/// a hash when that would pass PostgreSQL's 63-byte identifier limit.
pub fn schema_name(account: &str) -> String {
    let name = format!("oms_{account}");
    if name.len() <= 63 {
        return name;
    }
    let mut hash = crate::store::Fnv1a::new();
    hash.feed(account.as_bytes());
    format!("oms_{}_{:012x}", &account[..45], hash.0 & 0xffff_ffff_ffff)
}

/// `"name"`: account ids are `[a-z0-9_-]`, so quoting is all it takes.
fn quoted(schema: &str) -> String {
    format!("\"{schema}\"")
}

/// The registry, created once per database.
const REGISTRY: &str = r#"
CREATE SCHEMA IF NOT EXISTS oms_channels;
CREATE TABLE IF NOT EXISTS oms_channels.accounts (
    account TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    schema_name TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Digest of the state `store migrate` last copied in (see transfer.rs).
    migrated_digest TEXT
);
-- Who holds an account's lock (the lock itself is an advisory lock): for
-- `status` and the busy message. A row outlives a killed holder; it is only
-- believed while the lock is actually held.
CREATE TABLE IF NOT EXISTS oms_channels.lock_holders (
    account TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    pid BIGINT NOT NULL,
    host TEXT NOT NULL,
    started TEXT NOT NULL
);
-- Each account's idle stamp (see store/idle.rs): removed by every write
-- transaction of the account in its own commit.
CREATE TABLE IF NOT EXISTS oms_channels.idle_stamps (
    account TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    inputs TEXT NOT NULL,
    next_due BIGINT
);
"#;

/// Creates the registry if this database has none yet (serialised, since
/// concurrent `CREATE ... IF NOT EXISTS` can still collide).
fn ensure_registry(session: &PgSession) -> Result<()> {
    session.transaction("BEGIN", || lock_schema_changes(Db(session)))?;
    Ok(())
}

/// Inside a transaction: waits for any other runner's schema change to
/// commit, then makes sure the registry exists.
fn lock_schema_changes(db: Db<'_>) -> DbResult<()> {
    db.call(
        "SELECT pg_advisory_xact_lock(hashtextextended('oms-channels/schema', 0))",
        params![],
    )?;
    db.batch(REGISTRY)
}

/// The account's registered schema version; `None` when it has no schema
/// (or the database has never seen oms-channels).
fn registered_version(db: Db<'_>, account: &str) -> DbResult<Option<i64>> {
    Ok(registered(db, account)?.map(|(version, _)| version))
}

/// [`registered_version`], and whether the registry is as this version
/// makes it (a registry made by an earlier one lacks `idle_stamps`).
fn registered(db: Db<'_>, account: &str) -> DbResult<Option<(i64, bool)>> {
    match db.query_opt(
        "SELECT version, to_regclass('oms_channels.idle_stamps') IS NOT NULL \
         FROM oms_channels.accounts WHERE account = ?1",
        params![account],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ) {
        Err(e) if sql_state(&e) == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
            Ok(None)
        }
        other => other,
    }
}

/// Makes the session work on `account`'s schema, creating (when `create`)
/// or migrating it first. `Ok(false)`: there is no such store and `create`
/// was not asked.
fn prepare(session: &PgSession, account: &str, create: bool) -> Result<bool> {
    let db = Db(session);
    let known = current_version();
    let schema = schema_name(account);
    match registered(db, account)? {
        Some((found, registry_current)) if found == known => {
            if !registry_current {
                ensure_registry(session)?;
            }
        }
        Some((found, _)) if found > known => {
            return Err(StoreError::NewerSchema {
                location: String::new(),
                found,
                known,
            });
        }
        None if !create => return Ok(false),
        _ => migrate(session, account, &schema)?,
    }
    session.batch(&format!("SET search_path TO {}", quoted(&schema)))?;
    session.forget_statements();
    Ok(true)
}

/// Brings the account's schema to the current version in one transaction,
/// step by step through `schema::STEPS`, serialised with every other
/// runner's migrations by an advisory lock, so four runners opening a new
/// account at once create it once.
fn migrate(session: &PgSession, account: &str, schema: &str) -> Result<()> {
    let known = current_version();
    session.transaction("BEGIN", || {
        let db = Db(session);
        lock_schema_changes(db)?;
        let found = registered_version(db, account)?;
        let version = found.unwrap_or(0);
        if version > known {
            return Err(StoreError::NewerSchema {
                location: String::new(),
                found: version,
                known,
            });
        }
        if found.is_none() {
            // Never dropped: a schema of that name that the registry does not
            // know is someone's data; creating its tables then fails, saying so.
            db.batch(&format!("CREATE SCHEMA IF NOT EXISTS {}", quoted(schema)))?;
        }
        db.batch(&format!("SET LOCAL search_path TO {}", quoted(schema)))?;
        for (i, step) in STEPS.iter().enumerate().skip(version as usize) {
            db.batch(step.postgres)?;
            if let Some(data) = step.data {
                data(db)?;
            }
            tracing::info!(schema, version = i + 1, "store upgraded: {}", step.what);
        }
        db.execute(
            "INSERT INTO oms_channels.accounts (account, schema_name, version, created_at) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (account) DO UPDATE SET version = excluded.version",
            params![
                account,
                schema,
                known,
                jiff::Timestamp::now().as_millisecond()
            ],
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_fit_postgresql_identifiers() {
        assert_eq!(schema_name("acme"), "oms_acme");
        let long = "a".repeat(63);
        let name = schema_name(&long);
        assert!(name.len() <= 63, "{name}");
        // Pinned: a changed hash would lose every long-named account's state.
        assert_eq!(name, format!("oms_{}_e07b2aee9066", "a".repeat(45)));
        assert_ne!(name, schema_name(&format!("{}b", "a".repeat(62))));
    }

    #[test]
    fn a_url_of_another_scheme_is_refused_naming_the_one_that_works() {
        let err = PostgresEngine::from_url("mysql://db/oms").unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
    }
}
