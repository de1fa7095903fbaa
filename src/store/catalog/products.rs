//! The catalog itself: products by SKU with a content revision that goes
//! up only when content changes, the queries `products list/show/count`
//! make, and `products load`'s bookkeeping of the SKUs a file has given.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::{
    Content, SET_SIZE, UpsertCounts, after, attributes_of, limit, padded, placeholders,
    product_from_row,
};
use crate::product::Product;
use crate::store::sql::{ToValue, params};
use crate::store::{Result, StoreError, Tx, count_from_sql, count_to_sql};

/// The stored content of up to [`SET_SIZE`] catalog skus (`?1...`).
/// The skus a `products load` has met so far, with their lines.
const LOAD_SEEN: &str = "scratch_load_seen";

static CATALOG_CONTENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT sku, title, price, currency, quantity, attributes, updated_at, id \
         FROM catalog WHERE sku IN ({})",
        placeholders(1)
    )
});

/// A catalog row as stored, for [`Tx::upsert_catalog`].
struct Stored {
    content: Content,
    updated_at: String,
    id: Option<String>,
}

impl Tx<'_> {
    /// Upserts products into the catalog by sku; never deletes. The revision
    /// starts at 1 and goes up only when content changes; `updated_at` and a
    /// given `id` are stored either way (a missing `id` keeps the stored one).
    /// Products failing [`Product::check`] are refused, naming the sku.
    pub fn upsert_catalog(&self, products: &[Product]) -> Result<UpsertCounts> {
        self.upsert_catalog_with(products, &attributes_of(products))
    }

    /// [`Tx::upsert_catalog`] with each product's attributes already as JSON
    /// (`attributes[i]` belongs to `products[i]`), so an import page serialises
    /// them once for both tables.
    pub(super) fn upsert_catalog_with(
        &self,
        products: &[Product],
        attributes: &[String],
    ) -> Result<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        for (set, attributes) in products.chunks(SET_SIZE).zip(attributes.chunks(SET_SIZE)) {
            counts += self.upsert_catalog_set(set, attributes)?;
        }
        Ok(counts)
    }

    /// [`Tx::upsert_catalog_with`] for at most [`SET_SIZE`] products: one
    /// read for all of them, then at most one write each.
    fn upsert_catalog_set(
        &self,
        products: &[Product],
        attributes: &[String],
    ) -> Result<UpsertCounts> {
        for p in products {
            p.check().map_err(|source| StoreError::InvalidProduct {
                sku: p.sku.clone(),
                source,
            })?;
        }
        let mut counts = UpsertCounts::default();
        let mut stored = self.stored_catalog(products)?;
        let mut seen = HashSet::with_capacity(products.len());
        let mut created = Vec::new();
        for (p, attributes) in products.iter().zip(attributes) {
            // A sku given twice: the second one meets what the first wrote.
            let stored = if seen.insert(p.sku.as_str()) {
                stored.remove(&p.sku)
            } else {
                self.stored_catalog(std::slice::from_ref(p))?.remove(&p.sku)
            };
            let (amount, currency) = (p.price.amount_text(), p.price.currency().code());
            let row = params![
                p.sku,
                p.title,
                amount,
                currency,
                p.quantity,
                attributes,
                p.updated_at,
                p.id
            ];
            match stored {
                None => {
                    self.db.execute_deferred(
                        "INSERT INTO catalog (sku, title, price, currency, quantity, attributes, \
                         updated_at, id, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
                        row,
                    )?;
                    created.push(&p.sku as &dyn ToValue);
                    counts.created += 1;
                }
                Some(s) if s.content.same_as(p, attributes) => {
                    // An unchanged re-import writes nothing at all.
                    if s.updated_at != p.updated_at || (p.id.is_some() && p.id != s.id) {
                        self.db.execute_deferred(
                            "UPDATE catalog SET updated_at = ?2, id = coalesce(?3, id) \
                             WHERE sku = ?1",
                            params![p.sku, p.updated_at, p.id],
                        )?;
                    }
                    counts.unchanged += 1;
                }
                Some(_) => {
                    self.db.execute_deferred(
                        "UPDATE catalog SET title = ?2, price = ?3, currency = ?4, quantity = ?5, \
                         attributes = ?6, updated_at = ?7, id = coalesce(?8, id), \
                         revision = revision + 1 WHERE sku = ?1",
                        row,
                    )?;
                    counts.updated += 1;
                }
            }
        }
        if !created.is_empty() {
            self.revive_removed(&created)?;
        }
        Ok(counts)
    }

    /// The stored rows of `products` (at most [`SET_SIZE`]), by sku.
    fn stored_catalog(&self, products: &[Product]) -> Result<HashMap<String, Stored>> {
        let skus: Vec<&dyn ToValue> = products.iter().map(|p| &p.sku as &dyn ToValue).collect();
        let mut stored = HashMap::with_capacity(products.len());
        self.db
            .query_each(&CATALOG_CONTENT, &padded(&[], &skus), &mut |r| {
                let row = Stored {
                    content: Content::from_row(r, 1)?,
                    updated_at: r.get(6)?,
                    id: r.get(7)?,
                };
                stored.insert(r.get(0)?, row);
                Ok(())
            })?;
        Ok(stored)
    }

    /// Starts a `products load` in this transaction: from now on
    /// [`Tx::first_load_line`] remembers each sku's line, in a scratch table
    /// of the store (never the system's temp dir, which may be read-only),
    /// so memory stays flat for any file size.
    pub fn begin_load(&self) -> Result<()> {
        self.db.engine().scratch_table(
            LOAD_SEEN,
            "sku TEXT PRIMARY KEY NOT NULL, line BIGINT NOT NULL",
        )?;
        Ok(())
    }

    /// Remembers that `sku` is on `line` of the file being loaded; returns
    /// the line it was already on, if any.
    pub fn first_load_line(&self, sku: &str, line: u64) -> Result<Option<u64>> {
        let inserted = self.db.execute(
            "INSERT INTO scratch_load_seen (sku, line) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![sku, count_to_sql(line)],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        let first: i64 = self.db.query_one(
            "SELECT line FROM scratch_load_seen WHERE sku = ?1",
            params![sku],
            |r| r.get(0),
        )?;
        Ok(Some(count_from_sql(first)))
    }

    /// Ends a load: forgets the seen skus.
    pub fn end_load(&self) -> Result<()> {
        self.db
            .batch(&format!("DROP TABLE IF EXISTS {LOAD_SEEN}"))?;
        Ok(())
    }

    /// Products in the catalog.
    pub fn count_products(&self) -> Result<u64> {
        let n: i64 = self
            .db
            .query_one("SELECT count(*) FROM catalog", params![], |r| r.get(0))?;
        Ok(count_from_sql(n))
    }

    /// Catalog products ordered by sku, skus after `after_sku`, at most `limit`.
    pub fn list_products(
        &self,
        after_sku: Option<&str>,
        limit_rows: usize,
    ) -> Result<Vec<Product>> {
        let rows = self.db.query(
            "SELECT sku, title, price, currency, quantity, attributes, updated_at, id \
             FROM catalog WHERE sku > ?1 ORDER BY sku LIMIT ?2",
            params![after(after_sku), limit(limit_rows)],
            |r| product_from_row(r, 0),
        )?;
        Ok(rows)
    }

    /// One catalog product.
    pub fn product(&self, sku: &str) -> Result<Option<Product>> {
        let product = self.db.query_opt(
            "SELECT sku, title, price, currency, quantity, attributes, updated_at, id \
             FROM catalog WHERE sku = ?1",
            params![sku],
            |r| product_from_row(r, 0),
        )?;
        Ok(product)
    }

    /// The catalog revision of a product (1 when first stored).
    pub fn product_revision(&self, sku: &str) -> Result<Option<i64>> {
        let revision = self.db.query_opt(
            "SELECT revision FROM catalog WHERE sku = ?1",
            params![sku],
            |r| r.get(0),
        )?;
        Ok(revision)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use jiff::Timestamp;

    use super::*;
    use crate::price::Price;
    use crate::store::catalog::test_data::*;
    use crate::store::catalog::{ExportResult, ExportStatus};
    use crate::store::test_util::*;

    #[test]
    fn catalog_revision_bumps_only_on_content_change() {
        let (_dir, store) = temp_store();
        let base = product("A", "19.90");
        let c = store
            .write(|tx| tx.upsert_catalog(std::slice::from_ref(&base)))
            .unwrap();
        assert_eq!(c, counts(1, 0, 0));
        let revision = || store.read(|tx| tx.product_revision("A")).unwrap().unwrap();
        assert_eq!(revision(), 1);

        type Edit = fn(&mut Product);
        let cases: &[(&str, Edit, bool)] = &[
            ("same content", |_| {}, false),
            (
                "newer updated_at",
                |p| p.updated_at = "2026-02-01T00:00:00Z".into(),
                false,
            ),
            ("an id", |p| p.id = Some("ch-1".into()), false),
            ("title", |p| p.title = "New".into(), true),
            (
                "the same price spelled differently",
                |p| p.price = Price::parse("19.900", "EUR").unwrap(),
                false,
            ),
            (
                "price",
                |p| p.price = Price::parse("19.91", "EUR").unwrap(),
                true,
            ),
            (
                "currency",
                |p| p.price = Price::parse("19.90", "USD").unwrap(),
                true,
            ),
            ("quantity", |p| p.quantity = 6, true),
            (
                "attribute value",
                |p| {
                    p.attributes.insert("color".into(), "blue".into());
                },
                true,
            ),
            (
                "attribute added",
                |p| {
                    p.attributes.insert("size".into(), "M".into());
                },
                true,
            ),
        ];
        for (what, edit, bumps) in cases {
            // Back to the base content first (that is a change unless already there).
            store
                .write(|tx| tx.upsert_catalog(std::slice::from_ref(&base)))
                .unwrap();
            let before = revision();
            let mut p = base.clone();
            edit(&mut p);
            let c = store.write(|tx| tx.upsert_catalog(&[p.clone()])).unwrap();
            let expected = if *bumps {
                counts(0, 1, 0)
            } else {
                counts(0, 0, 1)
            };
            assert_eq!(c, expected, "{what}");
            assert_eq!(revision(), before + i64::from(*bumps), "{what}");
            let stored = store.read(|tx| tx.product("A")).unwrap().unwrap();
            assert_eq!(stored.price, p.price, "{what}: price stored");
            assert_eq!(stored.updated_at, p.updated_at, "{what}: updated_at stored");
        }
        // An id once given survives updates without one.
        let stored = store.read(|tx| tx.product("A")).unwrap().unwrap();
        assert_eq!(stored.id.as_deref(), Some("ch-1"));
    }

    #[test]
    fn prices_stored_by_an_earlier_version_compare_by_value() {
        let (_dir, store) = temp_store();
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "19.90"), product("B", "1")]))
            .unwrap();
        // Earlier versions kept the text as loaded: `19.9`, `1.000`.
        store
            .write(|tx| {
                tx.db.execute(
                    "UPDATE catalog SET price = CASE sku WHEN 'A' THEN '19.9' ELSE '1.000' END",
                    &[],
                )?;
                Ok(())
            })
            .unwrap();
        let c = store
            .write(|tx| tx.upsert_catalog(&[product("A", "19.90"), product("B", "1.00")]))
            .unwrap();
        assert_eq!(c, counts(0, 0, 2), "the same values: not a change");
        assert_eq!(
            store.read(|tx| tx.product_revision("A")).unwrap(),
            Some(1),
            "no new revision, so nothing is exported again"
        );
        assert_eq!(
            store.read(|tx| tx.product("A")).unwrap().unwrap().price,
            Price::parse("19.90", "EUR").unwrap()
        );
    }

    #[test]
    fn a_stored_price_the_rule_refuses_is_named_when_read() {
        let (_dir, store) = temp_store();
        store
            .write(|tx| tx.upsert_catalog(&[product("NEG", "1.00")]))
            .unwrap();
        store
            .write(|tx| {
                tx.db
                    .execute("UPDATE catalog SET price = '-1.00' WHERE sku = 'NEG'", &[])?;
                Ok(())
            })
            .unwrap();
        let err = store.read(|tx| tx.product("NEG")).unwrap_err().to_string();
        assert!(
            err.contains("stored product `NEG`: price `-1.00` is negative")
                && err.contains("load or import it again with a valid price, or remove it"),
            "{err}"
        );
    }

    #[test]
    fn catalog_upserts_in_sets_count_and_store_as_one_by_one() {
        let before: Vec<_> = (0..2 * SET_SIZE + 17)
            .step_by(3)
            .map(|i| {
                product(
                    &format!("S{i:04}"),
                    if i % 2 == 0 { "1.00" } else { "9.00" },
                )
            })
            .collect();
        let batch = mixed_batch();
        let (_a, at_once) = temp_store();
        let (_b, one_by_one) = temp_store();
        at_once.write(|tx| tx.upsert_catalog(&before)).unwrap();
        one_by_one.write(|tx| tx.upsert_catalog(&before)).unwrap();

        let counts_at_once = at_once.write(|tx| tx.upsert_catalog(&batch)).unwrap();
        let mut counts_one_by_one = UpsertCounts::default();
        for p in &batch {
            counts_one_by_one += one_by_one
                .write(|tx| tx.upsert_catalog(std::slice::from_ref(p)))
                .unwrap();
        }
        assert_eq!(counts_at_once, counts_one_by_one);
        assert_eq!(counts_at_once.total(), batch.len() as u64);
        let catalog = |store: &crate::store::Store| {
            store
                .read(|tx| {
                    tx.list_products(None, usize::MAX)?
                        .into_iter()
                        .map(|p| Ok((tx.product_revision(&p.sku)?, p)))
                        .collect::<Result<Vec<_>>>()
                })
                .unwrap()
        };
        let stored = catalog(&at_once);
        assert_eq!(stored, catalog(&one_by_one));
        let s2 = stored.iter().find(|(_, p)| p.sku == "S0002").unwrap();
        assert_eq!(
            (s2.0, s2.1.price.amount_text(), s2.1.id.as_deref()),
            (Some(2), "2.00".to_string(), Some("ch-2"))
        );
    }

    #[test]
    fn catalog_refuses_invalid_products_and_rolls_back() {
        let (_dir, store) = temp_store();
        let bad = Product {
            title: "Bad\u{1b}[2J".into(),
            ..product("BAD", "0")
        };
        let err = store
            .write(|tx| tx.upsert_catalog(&[product("OK", "1.00"), bad]))
            .unwrap_err();
        assert!(err.to_string().contains("`BAD`"), "{err}");
        assert!(
            err.to_string().contains("control character U+001B"),
            "{err}"
        );
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 0);
    }

    #[test]
    fn products_queries_page_by_sku() {
        let (_dir, store) = temp_store();
        let products: Vec<_> = ["C", "A", "B", "D"]
            .iter()
            .map(|s| product(s, "1.00"))
            .collect();
        store.write(|tx| tx.upsert_catalog(&products)).unwrap();
        let skus = |after: Option<&str>, n| {
            store
                .read(|tx| tx.list_products(after, n))
                .unwrap()
                .into_iter()
                .map(|p| p.sku)
                .collect::<Vec<_>>()
        };
        assert_eq!(skus(None, 2), ["A", "B"]);
        assert_eq!(skus(Some("B"), 10), ["C", "D"]);
        assert!(skus(Some("D"), 10).is_empty());
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 4);
        assert_eq!(
            store.read(|tx| tx.product("C")).unwrap().unwrap(),
            product("C", "1.00")
        );
        assert!(store.read(|tx| tx.product("Z")).unwrap().is_none());
    }

    /// Timing print, not an assertion: `cargo test --lib store -- --nocapture`.
    #[test]
    fn timing_20k_products() {
        let (_dir, store) = temp_store();
        let products: Vec<_> = (0..20_000)
            .map(|i| product(&format!("SKU-{i:06}"), "9.99"))
            .collect();
        let start = Instant::now();
        let c = store.write(|tx| tx.upsert_catalog(&products)).unwrap();
        let upsert = start.elapsed();
        assert_eq!(c.created, 20_000);

        let results: Vec<_> = products
            .iter()
            .map(|p| ExportResult {
                sku: p.sku.clone(),
                revision: 1,
                status: ExportStatus::Created,
                error: None,
            })
            .collect();
        store
            .write(|tx| tx.record_export_results("shop", &results, Timestamp::UNIX_EPOCH))
            .unwrap();

        let start = Instant::now();
        let pending = store
            .read(|tx| tx.pending_exports("shop", None, 100, 3))
            .unwrap();
        let check = start.elapsed();
        assert!(pending.is_empty());
        let start = Instant::now();
        let count = store
            .read(|tx| tx.count_pending_exports("shop", 3))
            .unwrap();
        let count_time = start.elapsed();
        assert_eq!(count, 0);
        let start = Instant::now();
        let c = store.write(|tx| tx.upsert_catalog(&products)).unwrap();
        let reupsert = start.elapsed();
        assert_eq!(c.unchanged, 20_000);
        eprintln!(
            "store timing (debug build): upsert 20k new {upsert:?}, re-upsert 20k unchanged \
             {reupsert:?}, no-op pending_exports over 20k {check:?}, count_pending_exports {count_time:?}"
        );
    }
}
