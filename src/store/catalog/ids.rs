//! Each channel's platform ids (`platform_ids`): by kind (`product`,
//! `variant`, and whatever else a connector keeps: `inventory-item`,
//! `asset`, ...) and key (a handle for a product, a SKU for what belongs to
//! a variant, a URL for an asset, a path for a category). A `variant` row
//! also says that the channel holds that variant because the tool exported
//! it; its id may be unknown (NULL) where the platform gave none.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::placeholders;
use crate::catalog::Product;
use crate::connector::PlatformIds;
use crate::store::sql::params;
use crate::store::{Result, Tx};

/// Every channel's ids under up to [`super::SET_SIZE`] keys (`?1...`).
/// The caller keeps its channel's: with `channel = ?` in the query,
/// SQLite's planner walks all of the channel's rows (the primary key's
/// prefix) instead of looking each key up, which made a whole-catalog
/// export quadratic.
static IDS_OF_KEYS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT channel, kind, key, platform_id FROM platform_ids \
         WHERE platform_id IS NOT NULL AND key IN ({})",
        placeholders(1)
    )
});

/// The keys a product's ids may be under: its handle (the product's), its
/// SKUs, its image URLs and category paths.
fn keys_of(product: &Product) -> impl Iterator<Item = &str> {
    std::iter::once(product.handle.as_str())
        .chain(product.skus())
        .chain(product.images.iter().map(|i| i.url.as_str()))
        .chain(product.categories.iter().map(String::as_str))
}

impl Tx<'_> {
    /// The ids `channel` has for product `handle` and for `keys` (its SKUs, ...).
    pub fn known_ids<'k>(
        &self,
        channel: &str,
        handle: &'k str,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<PlatformIds> {
        let mut all: Vec<&str> = vec![handle];
        all.extend(keys);
        let mut ids = PlatformIds::default();
        self.query_sets(&IDS_OF_KEYS, &[], &all, &mut |r| {
            let (of, kind, key, id): (String, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            if of != channel {
                return Ok(());
            }
            if kind != PlatformIds::PRODUCT || key == handle {
                ids.insert(&kind, &key, id);
            }
            Ok(())
        })?;
        Ok(ids)
    }

    /// The ids `channel` has for each of `products`, in their order.
    pub fn known_ids_of(&self, channel: &str, products: &[Product]) -> Result<Vec<PlatformIds>> {
        let mut owners: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, product) in products.iter().enumerate() {
            for key in keys_of(product) {
                let at = owners.entry(key).or_default();
                if at.last() != Some(&i) {
                    at.push(i);
                }
            }
        }
        let keys: Vec<&str> = owners.keys().copied().collect();
        let mut found = vec![PlatformIds::default(); products.len()];
        self.query_sets(&IDS_OF_KEYS, &[], &keys, &mut |r| {
            let (of, kind, key, id): (String, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            if of != channel {
                return Ok(());
            }
            for &i in owners.get(key.as_str()).into_iter().flatten() {
                if kind != PlatformIds::PRODUCT || products[i].handle == key {
                    found[i].insert(&kind, &key, id.clone());
                }
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Keeps the ids `channel` gave (replacing older ones of the same kind and key).
    pub fn record_ids(&self, channel: &str, ids: &PlatformIds) -> Result<()> {
        for (kind, key, id) in ids.iter() {
            self.db.execute_deferred(
                "INSERT INTO platform_ids (channel, kind, key, platform_id) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (channel, kind, key) DO UPDATE SET platform_id = excluded.platform_id",
                params![channel, kind, key, id],
            )?;
        }
        Ok(())
    }

    /// `channel` holds the variants `skus` (it accepted them): a deletion of
    /// any of them is owed to it once it leaves the catalog.
    pub fn mark_held(
        &self,
        channel: &str,
        skus: impl Iterator<Item = impl AsRef<str>>,
    ) -> Result<()> {
        for sku in skus {
            self.db.execute_deferred(
                "INSERT INTO platform_ids (channel, kind, key, platform_id) \
                 VALUES (?1, 'variant', ?2, NULL) ON CONFLICT (channel, kind, key) DO NOTHING",
                params![channel, sku.as_ref()],
            )?;
        }
        Ok(())
    }

    /// Every channel's ids for `product`, by channel.
    pub fn platform_ids_for(&self, product: &Product) -> Result<Vec<(String, PlatformIds)>> {
        let keys: Vec<&str> = keys_of(product).collect();
        let mut by_channel: Vec<(String, PlatformIds)> = Vec::new();
        let sql = format!(
            "SELECT channel, kind, key, platform_id FROM platform_ids \
             WHERE platform_id IS NOT NULL AND key IN ({}) ORDER BY channel, kind, key",
            placeholders(1)
        );
        self.query_sets(&sql, &[], &keys, &mut |r| {
            let (channel, kind, key, id): (String, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            if kind == PlatformIds::PRODUCT && key != product.handle {
                return Ok(());
            }
            match by_channel.iter_mut().find(|(c, _)| *c == channel) {
                Some((_, ids)) => ids.insert(&kind, &key, id),
                None => {
                    let mut ids = PlatformIds::default();
                    ids.insert(&kind, &key, id);
                    by_channel.push((channel, ids));
                }
            }
            Ok(())
        })?;
        by_channel.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(by_channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_data::shirt;
    use crate::store::test_util::*;

    #[test]
    fn ids_are_kept_per_channel_and_found_by_handle_and_sku() {
        let (_dir, store) = temp_store();
        let shirt = shirt();
        let mut ids = PlatformIds::default();
        ids.insert(PlatformIds::PRODUCT, "tshirt", "p-1");
        ids.insert(PlatformIds::VARIANT, "TS-S", "v-1");
        ids.insert("inventory-item", "TS-S", "i-1");
        ids.insert("asset", "https://cdn.example/ts.jpg", "a-1");
        // Another product's id under a key that is one of the shirt's SKUs.
        ids.insert(PlatformIds::PRODUCT, "TS-M", "not-the-shirt");
        store
            .write(|tx| {
                tx.record_ids("shop", &ids)?;
                tx.mark_held("shop", ["TS-S", "TS-M"].iter())?;
                let mut other = PlatformIds::default();
                other.insert(PlatformIds::PRODUCT, "tshirt", "w-9");
                tx.record_ids("web", &other)
            })
            .unwrap();
        let known = store
            .read(|tx| tx.known_ids("shop", "tshirt", shirt.skus()))
            .unwrap();
        assert_eq!(known.product("tshirt"), Some("p-1"));
        assert_eq!(known.variant("TS-S"), Some("v-1"));
        assert_eq!(known.get("inventory-item", "TS-S"), Some("i-1"));
        assert_eq!(known.variant("TS-M"), None, "held, id unknown");
        assert_eq!(known.product("TS-M"), None, "not this product's");
        let many = store
            .read(|tx| tx.known_ids_of("shop", std::slice::from_ref(&shirt)))
            .unwrap();
        assert_eq!(
            many[0].get("asset", "https://cdn.example/ts.jpg"),
            Some("a-1")
        );
        assert_eq!(many[0].len(), 4);
        let all = store.read(|tx| tx.platform_ids_for(&shirt)).unwrap();
        let channels: Vec<&str> = all.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(channels, ["shop", "web"]);
        // A newer id replaces the older one.
        let mut newer = PlatformIds::default();
        newer.insert(PlatformIds::PRODUCT, "tshirt", "p-2");
        store.write(|tx| tx.record_ids("shop", &newer)).unwrap();
        let known = store
            .read(|tx| tx.known_ids("shop", "tshirt", std::iter::empty()))
            .unwrap();
        assert_eq!(known.product("tshirt"), Some("p-2"));
    }
}
