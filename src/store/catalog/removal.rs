//! Products and variants leaving the catalog (`products remove`, a complete
//! master import, an upsert whose product no longer has a variant) and the
//! deletions each exporting channel still owes for them.
//!
//! A channel is owed a deletion only of what it holds because the tool
//! exported it: a product it accepted an export of (`exports`), a variant
//! it holds (`platform_ids`, kind `variant`). A removed product stays in
//! `removed_products`, a removed variant in `removed_variants`, while any
//! channel holds it; each channel's deletion is pending until that channel
//! confirms it. What comes back into the catalog is no longer removed and
//! is exported again.

use jiff::Timestamp;
use serde::Serialize;

use super::{after, limit};
use crate::connector::PlatformIds;
use crate::store::sql::params;
use crate::store::{Millis, Result, Tx, count_from_sql};

/// What [`Tx::remove`] did, by the keys it was given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Keys (handles, or SKUs of their last variant) whose product left
    /// the catalog.
    pub removed: Vec<String>,
    /// SKUs of variants removed from products that keep other variants.
    pub variants_removed: Vec<String>,
    /// Keys that are no handle or SKU of the catalog.
    pub missing: Vec<String>,
    /// Channel deletions now pending (one per channel holding each product;
    /// variants count with the product they leave).
    pub deletions_pending: u64,
}

/// Something a channel is owed a deletion of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDeletion {
    pub handle: String,
    /// The whole product; else `skus` only.
    pub whole_product: bool,
    /// The variants to delete (for a whole product: those the channel
    /// holds of it, as far as the store knows).
    pub skus: Vec<String>,
    /// The channel's ids for the product and those variants.
    pub known: PlatformIds,
}

/// A channel's verdict on one deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletionResult {
    pub deletion: PendingDeletion,
    /// `None`: deleted (or already gone); `Some`: the channel's error.
    pub error: Option<String>,
}

/// Variant-level kinds of platform ids are keyed by SKU; the product's by
/// handle. A variant's deletion forgets every id keyed by its SKU.
const NOT_PRODUCT: &str = "kind <> 'product'";

impl Tx<'_> {
    /// Removes each of `keys` from the catalog: a handle removes its
    /// product, a SKU its variant (and the product with its last variant).
    /// Channels holding what left are owed its deletion.
    pub fn remove(&self, keys: &[String], at: Timestamp) -> Result<Removed> {
        let mut result = Removed::default();
        for key in keys {
            if self.product_revision(key)?.is_some() {
                result.deletions_pending += self.remove_product(key, at)?;
                result.removed.push(key.clone());
                continue;
            }
            let Some(handle) = self.handle_of_sku(key)? else {
                result.missing.push(key.clone());
                continue;
            };
            let mut product = self.product(&handle)?.expect("a variant's product exists");
            product.variants.retain(|v| v.sku != *key);
            if product.variants.is_empty() {
                result.deletions_pending += self.remove_product(&handle, at)?;
                result.removed.push(key.clone());
            } else {
                let stored = self.stored_products(&[&handle])?;
                result.deletions_pending += self.holders_of_sku(key)?;
                self.store_product(&product, stored.get(&handle), at)?;
                result.variants_removed.push(key.clone());
            }
        }
        Ok(result)
    }

    /// Removes product `handle`; returns how many channels are owed its
    /// deletion. Exports never accepted are dropped.
    pub(super) fn remove_product(&self, handle: &str, at: Timestamp) -> Result<u64> {
        let skus: Vec<String> = self.db.query(
            "SELECT sku FROM variants WHERE handle = ?1",
            params![handle],
            |r| r.get(0),
        )?;
        for sku in &skus {
            self.db
                .execute_deferred("DELETE FROM stock_levels WHERE sku = ?1", params![sku])?;
        }
        self.db
            .execute_deferred("DELETE FROM variants WHERE handle = ?1", params![handle])?;
        self.db
            .execute("DELETE FROM products WHERE handle = ?1", params![handle])?;
        self.db.execute(
            "DELETE FROM exports WHERE handle = ?1 AND exported_revision IS NULL",
            params![handle],
        )?;
        let n: i64 = self.db.query_one(
            "SELECT count(*) FROM exports WHERE handle = ?1 AND exported_revision IS NOT NULL",
            params![handle],
            |r| r.get(0),
        )?;
        if n > 0 {
            self.db.execute_deferred(
                "INSERT INTO removed_products (handle, removed_at) VALUES (?1, ?2) \
                 ON CONFLICT (handle) DO NOTHING",
                params![handle, Millis(at)],
            )?;
        }
        Ok(count_from_sql(n))
    }

    /// Variant `sku` left product `handle` (which stays): its row and stock
    /// go, and channels holding it are owed its deletion.
    pub(super) fn variant_left(&self, handle: &str, sku: &str, at: Timestamp) -> Result<()> {
        self.db.execute_deferred(
            "DELETE FROM variants WHERE sku = ?1 AND handle = ?2",
            params![sku, handle],
        )?;
        self.db
            .execute_deferred("DELETE FROM stock_levels WHERE sku = ?1", params![sku])?;
        // The casts type the parameters for PostgreSQL, which cannot infer
        // them from a SELECT list.
        self.db.execute_deferred(
            "INSERT INTO removed_variants (sku, handle, removed_at) \
             SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS BIGINT) WHERE EXISTS \
             (SELECT 1 FROM platform_ids WHERE kind = 'variant' AND key = ?1) \
             ON CONFLICT (sku, handle) DO NOTHING",
            params![sku, handle, Millis(at)],
        )?;
        Ok(())
    }

    /// How many channels hold variant `sku`.
    fn holders_of_sku(&self, sku: &str) -> Result<u64> {
        let n: i64 = self.db.query_one(
            "SELECT count(*) FROM platform_ids WHERE kind = 'variant' AND key = ?1",
            params![sku],
            |r| r.get(0),
        )?;
        Ok(count_from_sql(n))
    }

    /// Deletions `channel` is owed, after `after_handle`, at most `limit`:
    /// whole products first (ordered by handle), then variants of products
    /// that stay. `after_handle` pages the products; variants come all at
    /// once when the products are done (`variants = true`).
    pub fn pending_deletions(
        &self,
        channel: &str,
        after_handle: Option<&str>,
        limit_rows: usize,
        variants: bool,
    ) -> Result<Vec<PendingDeletion>> {
        if !variants {
            let rows: Vec<(String, Option<String>)> = self.db.query(
                "SELECT e.handle, e.exported_doc FROM exports e \
                 JOIN removed_products r ON r.handle = e.handle \
                 WHERE e.channel = ?1 AND e.exported_revision IS NOT NULL AND e.handle > ?2 \
                 ORDER BY e.handle LIMIT ?3",
                params![channel, after(after_handle), limit(limit_rows)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut pending = Vec::with_capacity(rows.len());
            for (handle, doc) in rows {
                let mut skus: Vec<String> = match doc {
                    Some(doc) => super::product_from_doc(&handle, &doc)?
                        .skus()
                        .map(str::to_string)
                        .collect(),
                    None => Vec::new(),
                };
                let held: Vec<String> = self.db.query(
                    "SELECT v.sku FROM removed_variants v JOIN platform_ids p \
                     ON p.channel = ?1 AND p.kind = 'variant' AND p.key = v.sku \
                     WHERE v.handle = ?2 ORDER BY v.sku",
                    params![channel, handle],
                    |r| r.get(0),
                )?;
                for sku in held {
                    if !skus.contains(&sku) {
                        skus.push(sku);
                    }
                }
                let known = self.known_ids(channel, &handle, skus.iter().map(String::as_str))?;
                pending.push(PendingDeletion {
                    handle,
                    whole_product: true,
                    skus,
                    known,
                });
            }
            return Ok(pending);
        }
        let rows: Vec<(String, String)> = self.db.query(
            "SELECT v.handle, v.sku FROM removed_variants v JOIN platform_ids p \
             ON p.channel = ?1 AND p.kind = 'variant' AND p.key = v.sku \
             WHERE v.handle > ?2 AND NOT EXISTS \
             (SELECT 1 FROM removed_products r WHERE r.handle = v.handle) \
             ORDER BY v.handle, v.sku LIMIT ?3",
            params![channel, after(after_handle), limit(limit_rows)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut pending: Vec<PendingDeletion> = Vec::new();
        for (handle, sku) in rows {
            match pending.last_mut() {
                Some(last) if last.handle == handle => last.skus.push(sku),
                _ => pending.push(PendingDeletion {
                    handle,
                    whole_product: false,
                    skus: vec![sku],
                    known: PlatformIds::default(),
                }),
            }
        }
        for deletion in &mut pending {
            deletion.known = self.known_ids(
                channel,
                &deletion.handle,
                deletion.skus.iter().map(String::as_str),
            )?;
        }
        Ok(pending)
    }

    /// Records a channel's verdicts on deletions: a confirmed one forgets
    /// what was deleted for that channel (export state, listing, ids); an
    /// error keeps it pending for the next run.
    pub fn record_deletions(
        &self,
        channel: &str,
        results: &[DeletionResult],
        at: Timestamp,
    ) -> Result<()> {
        for result in results {
            let d = &result.deletion;
            match &result.error {
                None => {
                    if d.whole_product {
                        for table in ["exports", "listings", "listing_variants"] {
                            self.db.execute_deferred(
                                &format!("DELETE FROM {table} WHERE channel = ?1 AND handle = ?2"),
                                params![channel, d.handle],
                            )?;
                        }
                        self.db.execute_deferred(
                            "DELETE FROM platform_ids WHERE channel = ?1 AND kind = 'product' \
                             AND key = ?2",
                            params![channel, d.handle],
                        )?;
                    }
                    for sku in &d.skus {
                        self.db.execute_deferred(
                            &format!(
                                "DELETE FROM platform_ids WHERE channel = ?1 AND key = ?2 AND {NOT_PRODUCT}"
                            ),
                            params![channel, sku],
                        )?;
                        self.db.execute_deferred(
                            "DELETE FROM listing_variants WHERE channel = ?1 AND sku = ?2",
                            params![channel, sku],
                        )?;
                    }
                }
                Some(error) => {
                    self.db.execute_deferred(
                        "UPDATE exports SET last_status = 'error', last_error = ?3, \
                         attempted_at = ?4 WHERE channel = ?1 AND handle = ?2",
                        params![channel, d.handle, error, Millis(at)],
                    )?;
                }
            }
        }
        self.drop_settled_removals()
    }

    /// Removed products and variants no channel owes a deletion for any more.
    pub(crate) fn drop_settled_removals(&self) -> Result<()> {
        self.db.execute(
            "DELETE FROM removed_products WHERE NOT EXISTS (SELECT 1 FROM exports e \
             WHERE e.handle = removed_products.handle AND e.exported_revision IS NOT NULL)",
            params![],
        )?;
        self.db.execute(
            "DELETE FROM removed_variants WHERE NOT EXISTS (SELECT 1 FROM platform_ids p \
             WHERE p.kind = 'variant' AND p.key = removed_variants.sku)",
            params![],
        )?;
        Ok(())
    }

    /// How many deletions (products, and products some of whose variants
    /// went) `channel` has not confirmed.
    pub fn count_pending_deletions(&self, channel: &str) -> Result<u64> {
        let n: i64 = self.db.query_one(
            "SELECT (SELECT count(*) FROM exports e JOIN removed_products r ON r.handle = e.handle \
             WHERE e.channel = ?1 AND e.exported_revision IS NOT NULL) + \
             (SELECT count(DISTINCT v.handle) FROM removed_variants v JOIN platform_ids p \
             ON p.channel = ?1 AND p.kind = 'variant' AND p.key = v.sku \
             WHERE NOT EXISTS (SELECT 1 FROM removed_products r WHERE r.handle = v.handle))",
            params![channel],
            |r| r.get(0),
        )?;
        Ok(count_from_sql(n))
    }
}

#[cfg(test)]
#[path = "removal_tests.rs"]
mod tests;
