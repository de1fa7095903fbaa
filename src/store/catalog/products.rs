//! The catalog itself: whole products by handle, with a content revision
//! that goes up only when content changes; their variants (a SKU belongs to
//! one product: a product that names a SKU another product holds takes it
//! over); their stock per location; the queries `products list/show/count`
//! make; and `products load`'s bookkeeping of the keys a file has given.
//!
//! An upsert replaces the whole product: a variant it no longer has leaves
//! the catalog, and each channel holding that variant is owed its deletion
//! (`removal`). A product left without variants leaves the catalog.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use jiff::Timestamp;

use super::{SET_SIZE, UpsertCounts, after, limit, placeholders, product_from_doc};
use crate::catalog::Product;
use crate::store::sql::params;
use crate::store::{Millis, Result, StoreError, Tx, count_from_sql, count_to_sql};

/// The keys a `products load` has met so far, with their lines.
const LOAD_SEEN: &str = "scratch_load_seen";

/// Stored rows of up to [`SET_SIZE`] handles (`?1...`).
static PRODUCT_ROWS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT handle, doc, digest, revision FROM products WHERE handle IN ({})",
        placeholders(1)
    )
});

/// The variants of up to [`SET_SIZE`] handles (`?1...`), in order.
static VARIANTS_OF_HANDLES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT handle, sku FROM variants WHERE handle IN ({}) ORDER BY handle, position",
        placeholders(1)
    )
});

/// The products holding up to [`SET_SIZE`] SKUs (`?1...`).
static OWNERS_OF_SKUS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT sku, handle FROM variants WHERE sku IN ({})",
        placeholders(1)
    )
});

/// A product as stored, for an upsert.
#[derive(Clone, Debug)]
pub(super) struct Stored {
    pub doc: String,
    pub digest: String,
    pub skus: Vec<String>,
}

/// Which key of a load file [`Tx::first_load_line`] remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadKey {
    Handle,
    Sku,
}

impl Tx<'_> {
    /// Upserts whole products into the catalog by handle. A new product
    /// starts at revision 1, a changed one goes up by one; `updated_at` and
    /// given ids are stored either way (an id not given keeps the stored
    /// one). Products failing [`Product::check`] are refused, naming the
    /// handle.
    pub fn upsert_products(&self, products: &[Product]) -> Result<UpsertCounts> {
        let at = Timestamp::now();
        let mut counts = UpsertCounts::default();
        for set in products.chunks(SET_SIZE) {
            counts += self.upsert_set(set, at)?;
        }
        Ok(counts)
    }

    /// The stored rows of `handles` (at most [`SET_SIZE`]).
    pub(super) fn stored_products(&self, handles: &[&str]) -> Result<HashMap<String, Stored>> {
        let mut stored = HashMap::with_capacity(handles.len());
        self.query_sets(&PRODUCT_ROWS, &[], handles, &mut |r| {
            stored.insert(
                r.get(0)?,
                Stored {
                    doc: r.get(1)?,
                    digest: r.get(2)?,
                    skus: Vec::new(),
                },
            );
            Ok(())
        })?;
        let mut skus: Vec<(String, String)> = Vec::new();
        self.query_sets(&VARIANTS_OF_HANDLES, &[], handles, &mut |r| {
            skus.push((r.get(0)?, r.get(1)?));
            Ok(())
        })?;
        for (handle, sku) in skus {
            if let Some(s) = stored.get_mut(&handle) {
                s.skus.push(sku);
            }
        }
        Ok(stored)
    }

    /// The product holding each of `skus` that one holds.
    fn owners(&self, skus: &[&str]) -> Result<HashMap<String, String>> {
        let mut owners = HashMap::new();
        self.query_sets(&OWNERS_OF_SKUS, &[], skus, &mut |r| {
            owners.insert(r.get(0)?, r.get(1)?);
            Ok(())
        })?;
        Ok(owners)
    }

    /// [`Tx::upsert_products`] for at most [`SET_SIZE`] products: one read
    /// for all of them, then the writes each needs.
    fn upsert_set(&self, products: &[Product], at: Timestamp) -> Result<UpsertCounts> {
        for p in products {
            p.check().map_err(|source| StoreError::InvalidProduct {
                key: p.handle.clone(),
                source,
            })?;
        }
        let handles: Vec<&str> = products.iter().map(|p| p.handle.as_str()).collect();
        let mut stored = self.stored_products(&handles)?;
        let skus: Vec<&str> = products.iter().flat_map(Product::skus).collect();
        let mut owners = self.owners(&skus)?;
        // Handles whose stored state an earlier write of this set changed.
        let mut stale: HashSet<String> = HashSet::new();
        let mut counts = UpsertCounts::default();
        let removals_pending = self.any_removals()?;
        for p in products {
            if stale.contains(&p.handle) {
                stored.remove(&p.handle);
                stored.extend(self.stored_products(&[&p.handle])?);
                owners.extend(self.owners(&p.skus().collect::<Vec<_>>())?);
            }
            for sku in p.skus() {
                match owners.get(sku) {
                    Some(owner) if *owner != p.handle => {
                        let owner = owner.clone();
                        self.take_variant(&owner, sku, at)?;
                        stale.insert(owner);
                    }
                    _ => {}
                }
            }
            let before = stored.remove(&p.handle);
            match self.store_product(p, before.as_ref(), at)? {
                Written::Created => counts.created += 1,
                Written::Updated => counts.updated += 1,
                Written::Unchanged => counts.unchanged += 1,
            }
            if removals_pending {
                self.revive(p)?;
            }
            for sku in p.skus() {
                owners.insert(sku.to_string(), p.handle.clone());
            }
            stale.insert(p.handle.clone());
        }
        Ok(counts)
    }

    /// Writes `p` over what is `stored` for its handle.
    pub(super) fn store_product(
        &self,
        p: &Product,
        stored: Option<&Stored>,
        at: Timestamp,
    ) -> Result<Written> {
        let Some(stored) = stored else {
            let doc = p.doc_json();
            self.db.execute_deferred(
                "INSERT INTO products (handle, doc, digest, updated_at, revision) \
                 VALUES (?1, ?2, ?3, ?4, 1)",
                params![p.handle, doc, p.content_digest(), p.updated_at],
            )?;
            self.write_variants(p, at)?;
            return Ok(Written::Created);
        };
        let mut p = std::borrow::Cow::Borrowed(p);
        // An id not given keeps the stored one.
        if stored.doc.contains("\"id\":") {
            let before = product_from_doc(&p.handle, &stored.doc)?;
            keep_ids(p.to_mut(), &before);
        }
        let digest = p.content_digest();
        let doc = p.doc_json();
        if digest == stored.digest {
            // An unchanged re-import writes nothing at all.
            if doc != stored.doc {
                self.db.execute_deferred(
                    "UPDATE products SET doc = ?2, updated_at = ?3 WHERE handle = ?1",
                    params![p.handle, doc, p.updated_at],
                )?;
            }
            return Ok(Written::Unchanged);
        }
        self.db.execute_deferred(
            "UPDATE products SET doc = ?2, digest = ?3, updated_at = ?4, \
             revision = revision + 1 WHERE handle = ?1",
            params![p.handle, doc, digest, p.updated_at],
        )?;
        let now: HashSet<&str> = p.skus().collect();
        for sku in stored.skus.iter().filter(|s| !now.contains(s.as_str())) {
            self.variant_left(&p.handle, sku, at)?;
        }
        for variant in &p.variants {
            // A location the product no longer lists goes; one it keeps
            // keeps its `reserved`, which only `stock load` sets.
            let stored: Vec<String> = self.db.query(
                "SELECT location FROM stock_levels WHERE sku = ?1",
                params![variant.sku],
                |r| r.get(0),
            )?;
            for location in stored.iter().filter(|l| !variant.stock.contains_key(*l)) {
                self.db.execute_deferred(
                    "DELETE FROM stock_levels WHERE sku = ?1 AND location = ?2",
                    params![variant.sku, location],
                )?;
            }
        }
        self.write_variants(&p, at)?;
        Ok(Written::Updated)
    }

    /// The variant rows and stock of `p`.
    fn write_variants(&self, p: &Product, at: Timestamp) -> Result<()> {
        for (position, variant) in p.variants.iter().enumerate() {
            self.db.execute_deferred(
                "INSERT INTO variants (sku, handle, position) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sku) DO UPDATE SET handle = excluded.handle, \
                 position = excluded.position",
                params![variant.sku, p.handle, position],
            )?;
            for (location, on_hand) in &variant.stock {
                self.db.execute_deferred(
                    "INSERT INTO stock_levels (sku, location, on_hand, updated_at) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sku, location) DO UPDATE SET \
                     on_hand = excluded.on_hand, updated_at = excluded.updated_at",
                    params![variant.sku, location, on_hand, Millis(at)],
                )?;
            }
        }
        Ok(())
    }

    /// Takes `sku` out of product `owner` (another product names it now).
    fn take_variant(&self, owner: &str, sku: &str, at: Timestamp) -> Result<()> {
        let stored = self.stored_products(&[owner])?;
        let Some(stored) = stored.get(owner) else {
            return Ok(());
        };
        let mut product = product_from_doc(owner, &stored.doc)?;
        self.attach_stock(std::slice::from_mut(&mut product))?;
        product.variants.retain(|v| v.sku != sku);
        if product.variants.is_empty() {
            self.remove_product(owner, at)?;
        } else {
            self.store_product(&product, Some(stored), at)?;
        }
        Ok(())
    }

    /// Products inserted into the catalog are no longer removed, nor are
    /// their variants: their pending deletions are cancelled and every
    /// channel gets them again.
    fn revive(&self, p: &Product) -> Result<()> {
        let revived = self.db.execute(
            "DELETE FROM removed_products WHERE handle = ?1",
            params![p.handle],
        )?;
        if revived > 0 {
            self.db
                .execute("DELETE FROM exports WHERE handle = ?1", params![p.handle])?;
        }
        for sku in p.skus() {
            self.db.execute_deferred(
                "DELETE FROM removed_variants WHERE sku = ?1 AND handle = ?2",
                params![sku, p.handle],
            )?;
        }
        Ok(())
    }

    /// Whether anything removed still waits for a channel's deletion (an
    /// upsert then has removals to cancel).
    fn any_removals(&self) -> Result<bool> {
        let found = self.db.query_opt(
            "SELECT 1 FROM removed_products UNION ALL SELECT 1 FROM removed_variants LIMIT 1",
            params![],
            |_| Ok(()),
        )?;
        Ok(found.is_some())
    }

    /// One catalog product, with its stock.
    pub fn product(&self, handle: &str) -> Result<Option<Product>> {
        let row = self.db.query_opt(
            "SELECT handle, doc FROM products WHERE handle = ?1",
            params![handle],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(self.products_from_docs(row.into_iter().collect())?.pop())
    }

    /// The handle of the product holding `sku`.
    pub fn handle_of_sku(&self, sku: &str) -> Result<Option<String>> {
        Ok(self.db.query_opt(
            "SELECT handle FROM variants WHERE sku = ?1",
            params![sku],
            |r| r.get(0),
        )?)
    }

    /// The product with handle `key`, else the one holding SKU `key`.
    pub fn find_product(&self, key: &str) -> Result<Option<Product>> {
        if let Some(product) = self.product(key)? {
            return Ok(Some(product));
        }
        match self.handle_of_sku(key)? {
            Some(handle) => self.product(&handle),
            None => Ok(None),
        }
    }

    /// The catalog revision of a product (1 when first stored).
    pub fn product_revision(&self, handle: &str) -> Result<Option<i64>> {
        Ok(self.db.query_opt(
            "SELECT revision FROM products WHERE handle = ?1",
            params![handle],
            |r| r.get(0),
        )?)
    }

    /// Catalog products ordered by handle, after `after_handle`, at most
    /// `limit`, with their stock.
    pub fn list_products(
        &self,
        after_handle: Option<&str>,
        limit_rows: usize,
    ) -> Result<Vec<Product>> {
        let rows = self.db.query(
            "SELECT handle, doc FROM products WHERE handle > ?1 ORDER BY handle LIMIT ?2",
            params![after(after_handle), limit(limit_rows)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        self.products_from_docs(rows)
    }

    /// Starts a `products load` in this transaction: from now on
    /// [`Tx::first_load_line`] remembers each handle's and SKU's line, in a
    /// scratch table of the store (never the system's temp dir, which may
    /// be read-only), so memory stays flat for any file size.
    pub fn begin_load(&self) -> Result<()> {
        self.db.engine().scratch_table(
            LOAD_SEEN,
            "key TEXT PRIMARY KEY NOT NULL, line BIGINT NOT NULL",
        )?;
        Ok(())
    }

    /// Remembers that `key` (a handle or a SKU) is on `line` of the file
    /// being loaded; returns the line it was already on, if any.
    pub fn first_load_line(&self, kind: LoadKey, key: &str, line: u64) -> Result<Option<u64>> {
        let key = match kind {
            LoadKey::Handle => format!("h:{key}"),
            LoadKey::Sku => format!("s:{key}"),
        };
        let inserted = self.db.execute(
            "INSERT INTO scratch_load_seen (key, line) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![key, count_to_sql(line)],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        let first: i64 = self.db.query_one(
            "SELECT line FROM scratch_load_seen WHERE key = ?1",
            params![key],
            |r| r.get(0),
        )?;
        Ok(Some(count_from_sql(first)))
    }

    /// Ends a load: forgets the seen keys.
    pub fn end_load(&self) -> Result<()> {
        self.db
            .batch(&format!("DROP TABLE IF EXISTS {LOAD_SEEN}"))?;
        Ok(())
    }
}

/// What [`Tx::store_product`] did.
pub(super) enum Written {
    Created,
    Updated,
    Unchanged,
}

/// Ids `p` leaves out that `before` has (the product's, and each variant's
/// by SKU): a source that gives no id keeps the one stored.
fn keep_ids(p: &mut Product, before: &Product) {
    if p.id.is_none() {
        p.id.clone_from(&before.id);
    }
    for variant in &mut p.variants {
        if variant.id.is_none()
            && let Some(old) = before.variant(&variant.sku)
        {
            variant.id.clone_from(&old.id);
        }
    }
}

#[cfg(test)]
#[path = "products_tests.rs"]
mod tests;
