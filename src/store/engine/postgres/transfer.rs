//! `store migrate`: one account's store (SQLite) copied into PostgreSQL,
//! table by table, in one transaction on the PostgreSQL side. The tables and
//! their columns are the ones both engines report, which must agree: they
//! come from the one schema (`schema::STEPS`), so a new table is copied
//! without a word here.
//!
//! Safe to run again: a digest of what was copied is kept in the registry,
//! and the copy is only redone while PostgreSQL still holds exactly that
//! (nothing ran there since). State that changed in PostgreSQL after the
//! copy, or that was never copied from here, is newer: it is not overwritten.

use crate::store::sql::{Db, DbResult, TableShape, ToValue, Value, params};
use crate::store::{Result, Store};

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
fn digest(db: Db<'_>, tables: &[TableShape]) -> DbResult<(String, u64)> {
    let mut hash = crate::store::Fnv1a::new();
    let mut feed = |bytes: &[u8]| hash.feed(bytes);
    let mut rows = 0u64;
    for table in tables {
        feed(table.name.as_bytes());
        let sql = select_all(table);
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

/// `SELECT <columns> FROM <table> ORDER BY <key>`: every row, in key order.
fn select_all(table: &TableShape) -> String {
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        table.columns.join(", "),
        table.name,
        table.key.join(", ")
    )
}

/// The tables to copy: the source's, which the target must hold alike.
fn tables_to_copy(
    from: &Store,
    to: &Store,
) -> Result<std::result::Result<Vec<TableShape>, String>> {
    let mut source = from.read(|tx| Ok(tx.db.engine().tables()?))?;
    let mut target = to.read(|tx| Ok(tx.db.engine().tables()?))?;
    source.sort_by(|a, b| a.name.cmp(&b.name));
    target.sort_by(|a, b| a.name.cmp(&b.name));
    if source != target {
        let shape = |tables: &[TableShape]| {
            tables
                .iter()
                .map(|t| format!("{}({})", t.name, t.columns.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Ok(Err(format!(
            "the two stores' tables differ (this store: {}; PostgreSQL: {}): run the same oms-channels version on both",
            shape(&source),
            shape(&target)
        )));
    }
    if let Some(keyless) = source.iter().find(|t| t.key.is_empty()) {
        return Ok(Err(format!(
            "table `{}` has no primary key to copy it by",
            keyless.name
        )));
    }
    Ok(Ok(source))
}

/// Copies `from` (an account's SQLite store) into `to` (the same account's
/// PostgreSQL store). Both account locks must be held by the caller.
pub fn copy_account(account: &str, from: &Store, to: &Store) -> Result<Transfer> {
    let tables = match tables_to_copy(from, to)? {
        Ok(tables) => tables,
        Err(reason) => return Ok(Transfer::Refused { reason }),
    };
    let (source_digest, _) = from.read(|tx| Ok(digest(tx.db, &tables)?))?;
    to.write(|dst| {
        let (target_digest, target_rows) = digest(dst.db, &tables)?;
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
        for table in &tables {
            copied += copy_table(from, dst.db, table)?;
            renumber_after(dst.db, table)?;
        }
        dst.db.execute(
            "UPDATE oms_channels.accounts SET migrated_digest = ?2 WHERE account = ?1",
            params![account, source_digest.as_str()],
        )?;
        Ok(Transfer::Copied { rows: copied })
    })
}

/// Replaces `table`'s rows in `dst` with those of `from`, [`ROWS_PER_INSERT`]
/// rows a statement; returns how many rows it copied.
fn copy_table(from: &Store, dst: Db<'_>, table: &TableShape) -> Result<u64> {
    let width = table.columns.len();
    dst.execute(&format!("DELETE FROM {}", table.name), params![])?;
    let mut pending: Vec<Value> = Vec::new();
    let flush = |pending: &mut Vec<Value>| -> DbResult<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            table.name,
            table.columns.join(", ")
        );
        for r in 0..pending.len() / width {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            let row: Vec<String> = (1..=width).map(|c| format!("?{}", r * width + c)).collect();
            sql.push_str(&row.join(", "));
            sql.push(')');
        }
        let params: Vec<&dyn ToValue> = pending.iter().map(|v| v as &dyn ToValue).collect();
        dst.execute(&sql, &params)?;
        pending.clear();
        Ok(())
    };
    let mut copied = 0u64;
    from.read(|src| {
        src.db
            .query_each(&select_all(table), params![], &mut |row| {
                pending.extend(row.values.iter().cloned());
                copied += 1;
                if pending.len() >= ROWS_PER_INSERT * width {
                    flush(&mut pending)?;
                }
                Ok(())
            })?;
        Ok(())
    })?;
    flush(&mut pending)?;
    Ok(copied)
}

/// A table whose key PostgreSQL numbers itself (run ids): new rows number
/// after the copied ones.
fn renumber_after(dst: Db<'_>, table: &TableShape) -> DbResult<()> {
    let [key] = table.key.as_slice() else {
        return Ok(());
    };
    let sequence: Option<String> = dst.query_one(
        "SELECT pg_get_serial_sequence(?1, ?2)",
        params![table.name.as_str(), key.as_str()],
        |r| r.get(0),
    )?;
    if let Some(sequence) = sequence {
        dst.call(
            &format!(
                "SELECT setval(CAST(CAST(?1 AS TEXT) AS regclass), coalesce((SELECT max({key}) FROM {}), 0) + 1, false)",
                table.name
            ),
            params![sequence],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::temp_store;

    fn tables(store: &Store) -> Vec<TableShape> {
        store.read(|tx| Ok(tx.db.engine().tables()?)).unwrap()
    }

    #[test]
    fn every_table_is_copied_in_key_order() {
        let (_dir, store) = temp_store();
        let tables = tables(&store);
        assert!(tables.len() >= 11, "{tables:?}");
        for table in &tables {
            assert!(!table.key.is_empty(), "{} has no key", table.name);
            assert!(table.key.iter().all(|k| table.columns.contains(k)));
        }
        let run_history = tables.iter().find(|t| t.name == "run_history").unwrap();
        assert_eq!(
            select_all(run_history),
            "SELECT id, channel, job, started, finished, outcome, items, detail, forced, slot, counts \
             FROM run_history ORDER BY id"
        );
    }

    #[test]
    fn the_digest_follows_the_content() {
        let (_dir, a) = temp_store();
        let (_dir2, b) = temp_store();
        let shapes = tables(&a);
        let at = crate::store::test_util::at("2026-01-01T00:00:00Z");
        let d = |s: &Store| s.read(|tx| Ok(digest(tx.db, &shapes)?)).unwrap();
        assert_eq!(d(&a), d(&b));
        a.write(|tx| tx.store_login("shop", "r1", at)).unwrap();
        assert_ne!(d(&a), d(&b));
        b.write(|tx| tx.store_login("shop", "r1", at)).unwrap();
        assert_eq!(d(&a), d(&b));
        assert_eq!(d(&a).1, 1);
    }
}
