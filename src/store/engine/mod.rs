//! The seam between the store and the database engines behind it. An
//! [`Engine`] knows where accounts' stores live, opens one (creating and
//! migrating it, or only reading it), and holds the locks that keep runs of
//! one account apart. An open store is a [`Connection`]: transactions, the
//! statements of [`Sql`], an integrity check. Nothing outside this folder
//! names an engine's types; the store's modules speak [`Sql`] only.
//!
//! - `sqlite/`: one file per account in a data dir checked like `~/.ssh`;
//!   file locks (`flock`).
//! - `postgres/`: one schema per account in a database shared by runners on
//!   many hosts; advisory locks held by the runner's session.
//!
//! A new engine is a folder here implementing both traits, a field in each
//! step of `schema::STEPS` (its dialect), an [`EngineError`] impl for its
//! error type, and a constructor on `StoreSpec`.
//!
//! [`Sql`]: super::sql::Sql
//! [`EngineError`]: super::sql::EngineError

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::fmt;

use super::lock::{AccountLock, ChannelLock, LockError};
use super::sql::{DbError, Sql};
use super::{Durability, IdleStamp, Result};

/// How a store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// Created when missing, migrated to the current schema.
    Create,
    /// Only if it exists; migrated to the current schema.
    Existing,
    /// Only if it exists, for a command that only reads: opened as with
    /// `Existing` where the store can be written; where it cannot (a
    /// read-only file system, a mode that keeps this user out) opened to
    /// read only, writing nothing, and a store whose schema is older is
    /// refused, saying so.
    ForReading,
}

impl OpenMode {
    pub(crate) fn creates(self) -> bool {
        self == OpenMode::Create
    }
}

/// What a transaction may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxKind {
    /// One consistent snapshot; writes fail.
    Read,
    /// Takes the account's write lock up front (SQLite's `BEGIN IMMEDIATE`,
    /// an advisory lock on PostgreSQL), so a read-modify-write never fails
    /// halfway because another writer came first; its commit is as durable
    /// as the [`Durability`] says.
    Write(Durability),
}

/// One database engine, holding where its stores are.
pub(crate) trait Engine: Send + Sync + fmt::Debug {
    /// For messages: the data dir, or the URL (which never holds a password).
    fn describe(&self) -> String;

    /// Where one (already checked) account's state is, for messages and `status`.
    fn account_location(&self, account: &str) -> String;

    /// A store shared by runners on many hosts (else private to this host).
    fn is_shared(&self) -> bool;

    /// Opens the (already checked) account's store; `None` when it does not
    /// exist and `mode` does not create it.
    fn open(&self, account: &str, mode: OpenMode) -> Result<Option<Box<dyn Connection>>>;

    /// Takes the account's run lock without waiting; the holder is noted so
    /// that a refused run can say who has it.
    fn try_lock_account(&self, account: &str) -> Result<AccountLock, LockError>;

    /// Waits for one channel's token lock.
    fn lock_channel_tokens(&self, account: &str, channel: &str) -> Result<ChannelLock, LockError>;

    /// The pid of the live process holding the account's run lock, if any,
    /// found without taking the lock (taking it could make a concurrent cron
    /// run give up).
    fn account_run_holder(&self, account: &str) -> Option<u32>;

    /// The account's idle stamp, read without opening its store (no
    /// schema, no migration check); `None` when there is none or it cannot
    /// be read, which means "maybe due".
    fn idle_stamp(&self, account: &str) -> Option<IdleStamp>;
}

/// One open store. `Send`: the store moves between the threads of a run
/// behind its mutex, one caller at a time. Every write transaction removes
/// the account's idle stamp before anything else (see `store::idle`).
pub(crate) trait Connection: Send {
    /// Starts a transaction.
    fn begin(&mut self, kind: TxKind) -> Result<(), DbError>;

    /// The statements of the transaction in progress.
    fn sql(&self) -> &dyn Sql;

    /// Ends the transaction, keeping its writes.
    fn commit(&mut self) -> Result<(), DbError>;

    /// Starts a write transaction as [`TxKind::Write`] does, but only if no
    /// other writer holds the account's write lock now: `false` (nothing
    /// started) when one does.
    fn try_begin_write(&mut self) -> Result<bool, DbError>;

    /// Inside a write transaction: records the account's idle stamp, which
    /// stands until the next write transaction begins.
    fn set_idle_stamp(&mut self, stamp: &IdleStamp) -> Result<(), DbError>;

    /// Ends the transaction, undoing its writes. Best effort: called when
    /// the transaction failed (or its caller panicked), when there is no one
    /// left to tell; a connection that cannot roll back is not reused.
    fn rollback(&mut self);

    /// The engine's own consistency check: `"ok"` when the store is sound,
    /// else the problems it found, one per line.
    fn integrity_check(&mut self) -> Result<String, DbError>;

    /// Opened to read only (see [`OpenMode::ForReading`]): writes fail.
    fn is_read_only(&self) -> bool {
        false
    }
}
