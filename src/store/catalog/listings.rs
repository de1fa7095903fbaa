//! What each channel holds: its ids and the values it last showed, as an
//! import from a channel other than the master records them. Never the
//! catalog.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use jiff::Timestamp;

use super::{
    Content, SET_SIZE, UpsertCounts, attributes_of, padded, placeholders, product_from_row,
};
use crate::product::Product;
use crate::store::sql::{ToValue, params};
use crate::store::{Millis, Result, Tx, count_from_sql};

/// One channel's copy of a product, as last seen there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub channel: String,
    /// Last-seen values; `id` is the channel's own id.
    pub product: Product,
    pub seen_at: Timestamp,
}

/// The stored content of up to [`SET_SIZE`] skus (`?2...`) of one channel's
/// listings (`?1`).
static LISTING_CONTENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT sku, title, price, currency, quantity, attributes FROM listings \
         WHERE channel = ?1 AND sku IN ({})",
        placeholders(2)
    )
});

impl Tx<'_> {
    /// The stored listing content of `products` (at most [`SET_SIZE`]) on
    /// `channel`, by sku.
    fn stored_listings(
        &self,
        channel: &str,
        products: &[Product],
    ) -> Result<HashMap<String, Content>> {
        let skus: Vec<&dyn ToValue> = products.iter().map(|p| &p.sku as &dyn ToValue).collect();
        let mut stored = HashMap::with_capacity(products.len());
        self.db
            .query_each(&LISTING_CONTENT, &padded(&[&channel], &skus), &mut |r| {
                stored.insert(r.get(0)?, Content::from_row(r, 1)?);
                Ok(())
            })?;
        Ok(stored)
    }

    /// Records what `channel` holds: its ids and last-seen values. Never
    /// touches the catalog. Counts are of listing rows (new, content changed,
    /// same).
    pub fn upsert_listings(
        &self,
        channel: &str,
        products: &[Product],
        seen_at: Timestamp,
    ) -> Result<UpsertCounts> {
        self.upsert_listings_with(channel, products, &attributes_of(products), seen_at, true)
    }

    /// [`Tx::upsert_listings`] with the attributes already as JSON (see
    /// [`Tx::upsert_catalog_with`]). Without `count`, the stored rows are not
    /// read first and the counts stay zero: the master's import reports
    /// catalog counts, so reading its listings back would be wasted work.
    pub(super) fn upsert_listings_with(
        &self,
        channel: &str,
        products: &[Product],
        attributes: &[String],
        seen_at: Timestamp,
        count: bool,
    ) -> Result<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        for (set, attributes) in products.chunks(SET_SIZE).zip(attributes.chunks(SET_SIZE)) {
            counts += self.upsert_listings_set(channel, set, attributes, seen_at, count)?;
        }
        Ok(counts)
    }

    /// [`Tx::upsert_listings_with`] for at most [`SET_SIZE`] products: one
    /// read for all of them (when counting), then one write each.
    fn upsert_listings_set(
        &self,
        channel: &str,
        products: &[Product],
        attributes: &[String],
        seen_at: Timestamp,
        count: bool,
    ) -> Result<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        let mut stored = if count {
            self.stored_listings(channel, products)?
        } else {
            HashMap::new()
        };
        let mut seen = HashSet::with_capacity(if count { products.len() } else { 0 });
        for (p, attributes) in products.iter().zip(attributes) {
            if count {
                // A sku given twice: the second one meets what the first wrote.
                let stored = if seen.insert(p.sku.as_str()) {
                    stored.remove(&p.sku)
                } else {
                    self.stored_listings(channel, std::slice::from_ref(p))?
                        .remove(&p.sku)
                };
                match stored {
                    None => counts.created += 1,
                    Some(c) if c.same_as(p, attributes) => counts.unchanged += 1,
                    Some(_) => counts.updated += 1,
                }
            }
            self.db.execute_deferred(
                "INSERT INTO listings (channel, sku, listing_id, title, price, currency, quantity, \
                 attributes, updated_at, seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (channel, sku) DO UPDATE SET \
                 listing_id = coalesce(excluded.listing_id, listings.listing_id), \
                 title = excluded.title, price = excluded.price, currency = excluded.currency, \
                 quantity = excluded.quantity, attributes = excluded.attributes, \
                 updated_at = excluded.updated_at, seen_at = excluded.seen_at",
                params![
                    channel,
                    p.sku,
                    p.id,
                    p.title,
                    p.price.amount_text(),
                    p.price.currency().code(),
                    p.quantity,
                    attributes,
                    p.updated_at,
                    Millis(seen_at)
                ],
            )?;
        }
        Ok(counts)
    }

    /// Every channel's listing of `sku`, ordered by channel.
    pub fn listings_for_sku(&self, sku: &str) -> Result<Vec<Listing>> {
        let rows = self.db.query(
            "SELECT channel, sku, title, price, currency, quantity, attributes, updated_at, \
             listing_id, seen_at FROM listings WHERE sku = ?1 ORDER BY channel",
            params![sku],
            |r| {
                Ok(Listing {
                    channel: r.get(0)?,
                    product: product_from_row(r, 1)?,
                    seen_at: r.get::<_, Millis>(9)?.0,
                })
            },
        )?;
        Ok(rows)
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
    use super::*;
    use crate::price::Price;
    use crate::store::catalog::test_data::*;
    use crate::store::test_util::*;

    #[test]
    fn listing_upserts_in_sets_count_as_one_by_one() {
        let seen = at("2026-03-01T00:00:00Z");
        let before: Vec<_> = (0..2 * SET_SIZE + 17)
            .step_by(4)
            .map(|i| {
                product(
                    &format!("S{i:04}"),
                    if i % 8 == 0 { "1.00" } else { "9.00" },
                )
            })
            .collect();
        let batch = mixed_batch();
        let (_a, at_once) = temp_store();
        let (_b, one_by_one) = temp_store();
        at_once
            .write(|tx| tx.upsert_listings("web", &before, seen))
            .unwrap();
        one_by_one
            .write(|tx| tx.upsert_listings("web", &before, seen))
            .unwrap();
        // Another channel's listing of the same skus does not count.
        at_once
            .write(|tx| tx.upsert_listings("shop", &batch, seen))
            .unwrap();

        let counts_at_once = at_once
            .write(|tx| tx.upsert_listings("web", &batch, seen))
            .unwrap();
        let mut counts_one_by_one = UpsertCounts::default();
        for p in &batch {
            counts_one_by_one += one_by_one
                .write(|tx| tx.upsert_listings("web", std::slice::from_ref(p), seen))
                .unwrap();
        }
        assert_eq!(counts_at_once, counts_one_by_one);
        assert_eq!(counts_at_once.total(), batch.len() as u64);
        assert_eq!(
            at_once.read(|tx| tx.listing_count("web")).unwrap(),
            one_by_one.read(|tx| tx.listing_count("web")).unwrap()
        );
        let s2 = at_once.read(|tx| tx.listings_for_sku("S0002")).unwrap();
        let web = s2.iter().find(|l| l.channel == "web").unwrap();
        assert_eq!(
            (web.product.price.amount_text(), web.product.id.as_deref()),
            ("2.00".to_string(), Some("ch-2"))
        );
    }

    #[test]
    fn listings_never_touch_the_catalog() {
        let (_dir, store) = temp_store();
        let seen = at("2026-03-01T00:00:00Z");
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "10.00")]))
            .unwrap();
        let theirs = Product {
            id: Some("web-77".into()),
            ..product("A", "12.00")
        };
        let c = store
            .write(|tx| tx.upsert_listings("web", &[theirs.clone(), product("X", "1")], seen))
            .unwrap();
        assert_eq!(c, counts(2, 0, 0));
        assert_eq!(
            store.read(|tx| tx.product("A")).unwrap().unwrap().price,
            Price::parse("10.00", "EUR").unwrap()
        );
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 1);
        assert_eq!(store.read(|tx| tx.listing_count("web")).unwrap(), 2);

        // A later sighting without id keeps the id, updates values.
        let later = at("2026-03-02T00:00:00Z");
        let c = store
            .write(|tx| tx.upsert_listings("web", &[product("A", "13.00")], later))
            .unwrap();
        assert_eq!(c, counts(0, 1, 0));
        let listings = store.read(|tx| tx.listings_for_sku("A")).unwrap();
        assert_eq!(listings.len(), 1);
        assert_eq!(listings[0].channel, "web");
        assert_eq!(listings[0].product.id.as_deref(), Some("web-77"));
        assert_eq!(listings[0].product.price.amount_text(), "13.00");
        assert_eq!(listings[0].seen_at, later);
    }
}
