//! Stores of earlier versions held flat products (`catalog`: one row per
//! SKU). Schema step 4 moves them to whole products: each catalog row
//! becomes a product of one variant ([`FlatProduct::into_product`]: its
//! handle derived from the SKU, its quantity the stock at `default`) with
//! the same revision; each channel's export state moves to the product,
//! with the product as that channel last accepted it where it is current,
//! so a migrated store exports nothing new; listings, removals owed and a
//! complete import under way move along. Runs once, inside the step's
//! transaction, a page of rows at a time.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::catalog::{FlatProduct, Product, derive_handle, fnv1a_128};
use crate::price::Price;
use crate::store::sql::{Db, DbError, DbResult, Row, params};
use crate::store::{Millis, Tx};

/// Rows read per statement.
const PAGE: i64 = 1000;

/// A flat product as an earlier version stored it.
struct FlatRow {
    sku: String,
    title: String,
    price: String,
    currency: String,
    quantity: i64,
    attributes: String,
    updated_at: String,
    id: Option<String>,
}

/// The documents of one migrated product.
struct Migrated {
    handle: String,
    /// Without stock (`products.doc`).
    doc: String,
    /// With stock (an exported or listed product).
    full: String,
    digest: String,
}

impl FlatRow {
    /// The flat columns (sku, title, price, currency, quantity, attributes,
    /// updated_at, id) of a row, starting at column `first`.
    fn read(r: &Row, first: usize) -> DbResult<FlatRow> {
        Ok(FlatRow {
            sku: r.get(first)?,
            title: r.get(first + 1)?,
            price: r.get(first + 2)?,
            currency: r.get(first + 3)?,
            quantity: r.get(first + 4)?,
            attributes: r.get(first + 5)?,
            updated_at: r.get(first + 6)?,
            id: r.get(first + 7)?,
        })
    }

    fn migrate(self) -> DbResult<Migrated> {
        let attributes: BTreeMap<String, String> =
            serde_json::from_str(&self.attributes).map_err(DbError::convert)?;
        let handle = derive_handle(&self.sku);
        let (amount, currency) = (self.price.clone(), self.currency.clone());
        let price = Price::parse(&self.price, &self.currency);
        let valid = price.is_ok();
        let mut product = FlatProduct {
            sku: self.sku,
            title: self.title,
            // Replaced below when the stored price breaks the rule.
            price: price.unwrap_or_else(|_| Price::parse("0", "EUR").expect("a valid price")),
            quantity: self.quantity,
            attributes,
            updated_at: self.updated_at,
            id: self.id,
        }
        .into_product();
        if valid {
            return Ok(Migrated {
                handle,
                doc: product.doc_json(),
                full: product.to_json(),
                digest: product.content_digest(),
            });
        }
        // A price an earlier version took but the rule refuses stays as it
        // was written, so reading the product names it (and says what to do).
        product.variants[0].prices = Default::default();
        let with_raw_price = |p: &Product| -> DbResult<String> {
            let mut value = serde_json::to_value(p).map_err(DbError::convert)?;
            value["variants"][0]["prices"] = serde_json::json!({ currency.clone(): amount });
            serde_json::to_string(&value).map_err(DbError::convert)
        };
        let full = with_raw_price(&product)?;
        product.variants[0].stock.clear();
        Ok(Migrated {
            handle,
            doc: with_raw_price(&product)?,
            digest: format!("{:032x}", fnv1a_128(full.as_bytes())),
            full,
        })
    }
}

fn flat_rows(db: Db<'_>, sql: &str, after: &str) -> DbResult<Vec<FlatRow>> {
    db.query(sql, params![after, PAGE], |r| FlatRow::read(r, 0))
}

/// Schema step 4's data: the flat catalog and what hangs on it, moved to
/// whole products; the flat tables dropped and the new ones named.
pub(crate) fn migrate_flat_catalog(db: Db<'_>) -> DbResult<()> {
    let tx = Tx { db };
    let now = Millis(Timestamp::now());
    migrate_products(db, now)?;
    migrate_exports(&tx)?;
    migrate_listings(db)?;
    db.execute(
        "INSERT INTO removed_products_v2 (handle, removed_at) SELECT sku, removed_at \
         FROM removed_products",
        params![],
    )?;
    rekey(db, "removed_products_v2", &["handle"], "handle")?;
    rekey(db, "import_seen", &["channel", "handle"], "handle")?;
    db.batch(
        "DROP TABLE catalog; DROP TABLE exports; DROP TABLE listings; DROP TABLE removed_products;
         ALTER TABLE exports_v2 RENAME TO exports;
         ALTER TABLE listings_v2 RENAME TO listings;
         ALTER TABLE removed_products_v2 RENAME TO removed_products;",
    )
}

fn migrate_products(db: Db<'_>, now: Millis) -> DbResult<()> {
    let sql = "SELECT sku, title, price, currency, quantity, attributes, updated_at, id \
               FROM catalog WHERE sku > ?1 ORDER BY sku LIMIT ?2";
    let mut after = String::new();
    loop {
        let rows = flat_rows(db, sql, &after)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.sku.clone();
        for row in rows {
            let (sku, quantity, updated_at) =
                (row.sku.clone(), row.quantity, row.updated_at.clone());
            let migrated = row.migrate()?;
            db.execute_deferred(
                "INSERT INTO products (handle, doc, digest, updated_at, revision) \
                 SELECT ?1, ?2, ?3, ?4, revision FROM catalog WHERE sku = ?5",
                params![
                    migrated.handle,
                    migrated.doc,
                    migrated.digest,
                    updated_at,
                    sku
                ],
            )?;
            db.execute_deferred(
                "INSERT INTO variants (sku, handle, position) VALUES (?1, ?2, 0)",
                params![sku, migrated.handle],
            )?;
            db.execute_deferred(
                "INSERT INTO stock_levels (sku, location, on_hand, updated_at) \
                 VALUES (?1, 'default', ?2, ?3)",
                params![sku, quantity, now],
            )?;
        }
    }
}

/// Export state by product; the product as the channel accepted it where
/// its export is current (else the next export sends it anyway, and a
/// removed product's deletion needs only its SKU); each exported variant
/// held by its channel; a listing's id as the channel's product id.
fn migrate_exports(tx: &Tx<'_>) -> DbResult<()> {
    let db = tx.db;
    let mut after = (String::new(), String::new());
    loop {
        type Row = (
            String,
            String,
            Option<i64>,
            String,
            Option<String>,
            i64,
            i64,
            Option<i64>,
        );
        let rows: Vec<Row> = db.query(
            "SELECT channel, sku, exported_revision, last_status, last_error, attempted_at, \
             rejections, rejected_revision FROM exports \
             WHERE channel > ?1 OR (channel = ?1 AND sku > ?2) ORDER BY channel, sku LIMIT ?3",
            params![after.0, after.1, PAGE],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )?;
        let Some(last) = rows.last() else {
            break;
        };
        after = (last.0.clone(), last.1.clone());
        for (channel, sku, exported, status, error, attempted, rejections, rejected) in rows {
            let handle = derive_handle(&sku);
            let current: Option<(i64, String)> = db.query_opt(
                "SELECT revision, doc FROM products WHERE handle = ?1",
                params![handle],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let exported_doc = match (exported, current) {
                (None, _) => None,
                (Some(e), Some((revision, doc))) if e == revision => {
                    Some(match tx.product(&handle) {
                        Ok(Some(product)) => product.to_json(),
                        // A price the rule refuses: the stored text as it is.
                        _ => doc,
                    })
                }
                (Some(_), Some(_)) => None,
                (Some(_), None) => Some(removed_stub(&handle, &sku)),
            };
            db.execute_deferred(
                "INSERT INTO exports_v2 (channel, handle, exported_revision, exported_doc, \
                 last_status, last_error, attempted_at, rejections, rejected_revision) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    channel,
                    handle,
                    exported,
                    exported_doc,
                    status,
                    error,
                    attempted,
                    rejections,
                    rejected
                ],
            )?;
            if exported.is_some() {
                db.execute_deferred(
                    "INSERT INTO platform_ids (channel, kind, key, platform_id) \
                     VALUES (?1, 'variant', ?2, NULL) ON CONFLICT DO NOTHING",
                    params![channel, sku],
                )?;
            }
        }
    }
    db.execute(
        "INSERT INTO platform_ids (channel, kind, key, platform_id) \
         SELECT channel, 'product', sku, listing_id FROM listings WHERE listing_id IS NOT NULL",
        params![],
    )?;
    rekey(db, "platform_ids", &["channel", "kind", "key"], "key")?;
    // Variant rows were keyed by SKU already; only the product rows moved.
    Ok(())
}

/// What a removed product's export state needs of it: its handle and SKU.
fn removed_stub(handle: &str, sku: &str) -> String {
    let product = Product {
        handle: handle.to_string(),
        title: String::new(),
        description: String::new(),
        status: Default::default(),
        categories: Vec::new(),
        tags: Vec::new(),
        images: Vec::new(),
        options: Vec::new(),
        attributes: Default::default(),
        variants: vec![crate::catalog::Variant {
            sku: sku.to_string(),
            ..Default::default()
        }],
        updated_at: crate::timestamp::EARLIEST.to_string(),
        id: None,
    };
    product.to_json()
}

/// Each channel's listing as a product of one variant, with the channel's id.
fn migrate_listings(db: Db<'_>) -> DbResult<()> {
    let mut after = (String::new(), String::new());
    loop {
        let rows: Vec<(String, i64, FlatRow)> = db.query(
            "SELECT channel, seen_at, sku, title, price, currency, quantity, attributes, \
             updated_at, listing_id FROM listings \
             WHERE channel > ?1 OR (channel = ?1 AND sku > ?2) ORDER BY channel, sku LIMIT ?3",
            params![after.0, after.1, PAGE],
            |r| Ok((r.get(0)?, r.get(1)?, FlatRow::read(r, 2)?)),
        )?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = (last.0.clone(), last.2.sku.clone());
        for (channel, seen_at, row) in rows {
            let sku = row.sku.clone();
            let migrated = row.migrate()?;
            db.execute_deferred(
                "INSERT INTO listings_v2 (channel, handle, doc, seen_at) VALUES (?1, ?2, ?3, ?4)",
                params![channel, migrated.handle, migrated.full, seen_at],
            )?;
            db.execute_deferred(
                "INSERT INTO listing_variants (channel, sku, handle) VALUES (?1, ?2, ?3)",
                params![channel, sku, migrated.handle],
            )?;
        }
    }
}

/// Replaces each `column` value of `table` that still holds a SKU by the
/// handle derived from it. `key` is the table's primary key.
fn rekey(db: Db<'_>, table: &str, key: &[&str], column: &str) -> DbResult<()> {
    let filter = if table == "platform_ids" {
        " WHERE kind = 'product'"
    } else {
        ""
    };
    let rows: Vec<Vec<crate::store::sql::Value>> = db.query(
        &format!("SELECT {} FROM {table}{filter}", key.join(", ")),
        params![],
        |r| Ok(r.values.clone()),
    )?;
    let at = key
        .iter()
        .position(|k| *k == column)
        .expect("the column is in the key");
    for row in rows {
        let crate::store::sql::Value::Text(old) = &row[at] else {
            continue;
        };
        let new = derive_handle(old);
        if new == *old {
            continue;
        }
        let matches = key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ?{}", i + 2))
            .collect::<Vec<_>>()
            .join(" AND ");
        let mut args: Vec<&dyn crate::store::sql::ToValue> = vec![&new];
        args.extend(row.iter().map(|v| v as &dyn crate::store::sql::ToValue));
        db.execute(
            &format!("UPDATE {table} SET {column} = ?1 WHERE {matches}"),
            &args,
        )?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
