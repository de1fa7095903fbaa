//! What each channel holds: whole products as it last showed them (with
//! its ids and stock), as an import from a channel other than the master
//! records them, and which of its products holds each SKU. Never the
//! catalog.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use jiff::Timestamp;

use super::{UpsertCounts, placeholders, product_from_doc};
use crate::catalog::Product;
use crate::store::sql::{ToValue, params};
use crate::store::{Millis, Result, Tx, count_from_sql};

/// One channel's copy of a product, as last seen there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub channel: String,
    /// Last-seen values; ids are the channel's own.
    pub product: Product,
    pub seen_at: Timestamp,
}

/// The stored documents of up to [`super::SET_SIZE`] handles (`?2...`) of
/// one channel's listings (`?1`).
static LISTING_DOCS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT handle, doc FROM listings WHERE channel = ?1 AND handle IN ({})",
        placeholders(2)
    )
});

impl Tx<'_> {
    /// Records what `channel` holds: whole products with its ids, stock
    /// and last-seen values. Never touches the catalog. Counts are of
    /// listings (new, changed, same).
    pub fn upsert_listings(
        &self,
        channel: &str,
        products: &[Product],
        seen_at: Timestamp,
    ) -> Result<UpsertCounts> {
        let handles: Vec<&str> = products.iter().map(|p| p.handle.as_str()).collect();
        let mut stored: HashMap<String, String> = HashMap::new();
        let lead: [&dyn ToValue; 1] = [&channel];
        self.query_sets(&LISTING_DOCS, &lead, &handles, &mut |r| {
            stored.insert(r.get(0)?, r.get(1)?);
            Ok(())
        })?;
        let mut counts = UpsertCounts::default();
        let mut seen = HashSet::with_capacity(products.len());
        for p in products {
            let doc = p.to_json();
            // A handle given twice: the second meets what the first wrote.
            let before = if seen.insert(p.handle.as_str()) {
                stored.remove(&p.handle)
            } else {
                Some(String::new())
            };
            match before {
                None => counts.created += 1,
                Some(before) if before == doc => counts.unchanged += 1,
                Some(_) => counts.updated += 1,
            }
            self.db.execute_deferred(
                "INSERT INTO listings (channel, handle, doc, seen_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (channel, handle) DO UPDATE SET doc = excluded.doc, \
                 seen_at = excluded.seen_at",
                params![channel, p.handle, doc, Millis(seen_at)],
            )?;
            self.db.execute_deferred(
                "DELETE FROM listing_variants WHERE channel = ?1 AND handle = ?2",
                params![channel, p.handle],
            )?;
            for sku in p.skus() {
                self.db.execute_deferred(
                    "INSERT INTO listing_variants (channel, sku, handle) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (channel, sku) DO UPDATE SET handle = excluded.handle",
                    params![channel, sku, p.handle],
                )?;
            }
        }
        Ok(counts)
    }

    /// Every channel's listing of product `handle`, and of the products
    /// holding `skus` there, ordered by channel.
    pub fn listings_for(&self, handle: &str, skus: &[String]) -> Result<Vec<Listing>> {
        let mut keys: Vec<(String, String)> = self.db.query(
            "SELECT channel, handle FROM listings WHERE handle = ?1",
            params![handle],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for sku in skus {
            keys.extend(self.db.query(
                "SELECT channel, handle FROM listing_variants WHERE sku = ?1",
                params![sku],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?);
        }
        keys.sort();
        keys.dedup();
        let mut listings = Vec::with_capacity(keys.len());
        for (channel, listed) in keys {
            let row: Option<(String, Millis)> = self.db.query_opt(
                "SELECT doc, seen_at FROM listings WHERE channel = ?1 AND handle = ?2",
                params![channel, listed],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let Some((doc, seen_at)) = row {
                listings.push(Listing {
                    channel,
                    product: product_from_doc(&listed, &doc)?,
                    seen_at: seen_at.0,
                });
            }
        }
        Ok(listings)
    }

    /// Products `channel` is known to hold.
    pub fn listing_count(&self, channel: &str) -> Result<u64> {
        let n: i64 = self.db.query_one(
            "SELECT count(*) FROM listings WHERE channel = ?1",
            params![channel],
            |r| r.get(0),
        )?;
        Ok(count_from_sql(n))
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::test_data::shirt;
    use crate::store::catalog::test_data::*;
    use crate::store::test_util::*;

    #[test]
    fn listings_keep_whole_products_per_channel_and_count_changes() {
        let (_dir, store) = temp_store();
        let seen = at("2026-03-01T00:00:00Z");
        let mut first = vec![shirt(), product("MUG", "1.00")];
        first[0].id = Some("p-7".into());
        let c = store
            .write(|tx| tx.upsert_listings("web", &first, seen))
            .unwrap();
        assert_eq!(c, counts(2, 0, 0));
        let mut second = first.clone();
        second[1].variants[0].stock.insert("default".into(), 0);
        let c = store
            .write(|tx| tx.upsert_listings("web", &second, seen))
            .unwrap();
        assert_eq!(c, counts(0, 1, 1));
        // Another channel's listing of the same product does not count.
        store
            .write(|tx| tx.upsert_listings("shop", &first[..1], seen))
            .unwrap();
        let listed = store
            .read(|tx| tx.listings_for("tshirt", &["TS-S".to_string()]))
            .unwrap();
        let channels: Vec<&str> = listed.iter().map(|l| l.channel.as_str()).collect();
        assert_eq!(channels, ["shop", "web"]);
        assert_eq!(listed[1].product.id.as_deref(), Some("p-7"));
        assert_eq!(listed[1].product.variants[0].stock["default"], 5);
        // Found by a SKU the channel holds under another handle.
        let by_sku = store
            .read(|tx| tx.listings_for("nothing", &["MUG".to_string()]))
            .unwrap();
        assert_eq!(by_sku.len(), 1);
        assert_eq!(by_sku[0].product.variants[0].stock["default"], 0);
        assert_eq!(store.read(|tx| tx.listing_count("web")).unwrap(), 2);
        assert!(store.read(|tx| tx.product("tshirt")).unwrap().is_none());
    }
}
