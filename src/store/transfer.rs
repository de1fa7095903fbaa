//! `store migrate`: one account's SQLite store copied into PostgreSQL, table
//! by table, in one transaction on the PostgreSQL side.
//!
//! Safe to run again: a digest of what was copied is kept in the registry,
//! and the copy is only redone while PostgreSQL still holds exactly that
//! (nothing ran there since). State that changed in PostgreSQL after the
//! copy, or that was never copied from here, is newer: it is not overwritten.

use super::db::{Db, DbResult, Value, params};
use super::{Result, Store};

/// Every table with its columns, key columns first (the copy and the
/// digest read them in key order). The test below checks this against the
/// SQLite schema, so a new column cannot be forgotten.
const TABLES: &[(&str, &[&str], &str)] = &[
    (
        "job_state",
        &[
            "channel",
            "job",
            "last_success_start",
            "last_success_end",
            "last_attempt_start",
            "last_attempt_end",
            "last_outcome",
            "last_error",
            "consecutive_failures",
            "last_success_slot",
        ],
        "channel, job",
    ),
    (
        "run_history",
        &[
            "id", "channel", "job", "started", "finished", "outcome", "items", "detail", "forced",
            "slot", "counts",
        ],
        "id",
    ),
    (
        "tokens",
        &[
            "channel",
            "refresh_token",
            "access_token",
            "access_expires_at",
            "refresh_in_flight_since",
            "updated_at",
        ],
        "channel",
    ),
    (
        "catalog",
        &[
            "sku",
            "title",
            "price",
            "currency",
            "quantity",
            "attributes",
            "updated_at",
            "id",
            "revision",
        ],
        "sku",
    ),
    (
        "listings",
        &[
            "channel",
            "sku",
            "listing_id",
            "title",
            "price",
            "currency",
            "quantity",
            "attributes",
            "updated_at",
            "seen_at",
        ],
        "channel, sku",
    ),
    (
        "import_progress",
        &[
            "channel",
            "high_water",
            "cursor",
            "since_used",
            "run_high_water",
        ],
        "channel",
    ),
    (
        "exports",
        &[
            "channel",
            "sku",
            "exported_revision",
            "last_status",
            "last_error",
            "attempted_at",
            "rejections",
            "rejected_revision",
        ],
        "channel, sku",
    ),
    (
        "channel_identity",
        &["channel", "endpoint", "since"],
        "channel",
    ),
    ("removed_products", &["sku", "removed_at"], "sku"),
    ("import_seen", &["channel", "sku"], "channel, sku"),
    ("import_complete", &["channel"], "channel"),
];

/// Rows per INSERT: well under PostgreSQL's 65,535 parameters.
const ROWS_PER_INSERT: usize = 500;

/// What `store migrate` did with one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// Copied; this many rows in all.
    Copied { rows: u64 },
    /// PostgreSQL already holds exactly this state.
    AlreadyThere,
    /// PostgreSQL holds state this copy would overwrite.
    Refused { reason: String },
}

/// A stable digest of everything in the store (FNV-1a over the tables in
/// key order), the same on both engines for the same content.
fn digest(db: Db<'_>) -> DbResult<(String, u64)> {
    let mut hash = super::Fnv1a::new();
    let mut feed = |bytes: &[u8]| hash.feed(bytes);
    let mut rows = 0u64;
    for (table, columns, key) in TABLES {
        feed(table.as_bytes());
        let sql = format!("SELECT {} FROM {table} ORDER BY {key}", columns.join(", "));
        db.query_each(&sql, params![], &mut |row| {
            rows += 1;
            for value in &row.values {
                match value {
                    Value::Null => feed(b"N"),
                    Value::Int(i) => {
                        feed(b"I");
                        feed(&i.to_le_bytes());
                    }
                    Value::Real(f) => {
                        feed(b"R");
                        feed(&f.to_le_bytes());
                    }
                    Value::Text(t) => {
                        feed(b"T");
                        feed(&(t.len() as u64).to_le_bytes());
                        feed(t.as_bytes());
                    }
                    Value::Blob(b) => {
                        feed(b"B");
                        feed(&(b.len() as u64).to_le_bytes());
                        feed(b);
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok((format!("{:016x}", hash.0), rows))
}

/// Copies `from` (an account's SQLite store) into `to` (the same account's
/// PostgreSQL store). Both account locks must be held by the caller.
pub fn copy_account(account: &str, from: &Store, to: &Store) -> Result<Transfer> {
    let (source_digest, _) = from.read(|tx| Ok(digest(tx.db)?))?;
    to.write(|dst| {
        let (target_digest, target_rows) = digest(dst.db)?;
        if target_digest == source_digest {
            return Ok(Transfer::AlreadyThere);
        }
        let recorded: Option<String> = dst.db.query_opt(
            "SELECT migrated_digest FROM oms_channels.accounts WHERE account = ?1",
            params![account],
            |r| r.get(0),
        )?
        .flatten();
        if target_rows > 0 && recorded.as_deref() != Some(target_digest.as_str()) {
            return Ok(Transfer::Refused {
                reason: match recorded {
                    Some(_) => "PostgreSQL has changed since the last migrate (runs or edits happened there): its state is newer and is kept".to_string(),
                    None => "PostgreSQL already holds state for this account that did not come from this store: it is kept".to_string(),
                },
            });
        }
        let mut copied = 0u64;
        for (table, columns, key) in TABLES {
            dst.db.execute(&format!("DELETE FROM {table}"), params![])?;
            let select = format!("SELECT {} FROM {table} ORDER BY {key}", columns.join(", "));
            let mut pending: Vec<Value> = Vec::new();
            let flush = |pending: &mut Vec<Value>| -> DbResult<()> {
                if pending.is_empty() {
                    return Ok(());
                }
                let rows = pending.len() / columns.len();
                let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
                let mut n = 0;
                for r in 0..rows {
                    sql.push_str(if r == 0 { "(" } else { ", (" });
                    for c in 0..columns.len() {
                        n += 1;
                        if c > 0 {
                            sql.push_str(", ");
                        }
                        sql.push_str(&format!("?{n}"));
                    }
                    sql.push(')');
                }
                let params: Vec<&dyn super::db::ToValue> =
                    pending.iter().map(|v| v as &dyn super::db::ToValue).collect();
                dst.db.execute(&sql, &params)?;
                pending.clear();
                Ok(())
            };
            from.read(|src| {
                src.db.query_each(&select, params![], &mut |row| {
                    pending.extend(row.values.iter().cloned());
                    copied += 1;
                    if pending.len() >= ROWS_PER_INSERT * columns.len() {
                        flush(&mut pending)?;
                    }
                    Ok(())
                })?;
                Ok(())
            })?;
            flush(&mut pending)?;
        }
        // New runs on PostgreSQL number after the copied ones.
        dst.db.call(
            "SELECT setval(pg_get_serial_sequence('run_history', 'id'), \
             coalesce((SELECT max(id) FROM run_history), 0) + 1, false)",
            params![],
        )?;
        dst.db.execute(
            "UPDATE oms_channels.accounts SET migrated_digest = ?2 WHERE account = ?1",
            params![account, source_digest.as_str()],
        )?;
        Ok(Transfer::Copied { rows: copied })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::temp_store;

    #[test]
    fn every_column_of_every_table_is_copied() {
        let (_dir, store) = temp_store();
        let mut tables: Vec<(String, Vec<String>)> = store
            .with_conn(|c| {
                let mut names = c.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )?;
                let names: Vec<String> = names
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                names
                    .into_iter()
                    .map(|name| {
                        let mut cols = c.prepare(&format!("PRAGMA table_info({name})"))?;
                        let cols = cols
                            .query_map([], |r| r.get::<_, String>(1))?
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        Ok((name, cols))
                    })
                    .collect()
            })
            .unwrap();
        tables.sort();
        let mut known: Vec<(String, Vec<String>)> = TABLES
            .iter()
            .map(|(t, cols, _)| (t.to_string(), cols.iter().map(|c| c.to_string()).collect()))
            .collect();
        known.sort();
        assert_eq!(known, tables);
    }

    #[test]
    fn the_digest_follows_the_content() {
        let (_dir, a) = temp_store();
        let (_dir2, b) = temp_store();
        let at = crate::store::test_util::at("2026-01-01T00:00:00Z");
        let d = |s: &Store| s.read(|tx| Ok(digest(tx.db)?)).unwrap();
        assert_eq!(d(&a), d(&b));
        a.write(|tx| tx.store_login("shop", "r1", at)).unwrap();
        assert_ne!(d(&a), d(&b));
        b.write(|tx| tx.store_login("shop", "r1", at)).unwrap();
        assert_eq!(d(&a), d(&b));
        assert_eq!(d(&a).1, 1);
    }
}
