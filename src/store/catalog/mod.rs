//! The product catalog and what each channel holds of it, by topic:
//! `products` (whole products with a content revision, their variants by
//! SKU, stock per location, and `products load`), `listings` (each other
//! channel's copy), `import` (progress, pages, and the removals a complete
//! import makes), `export` (what each channel has not taken yet, its
//! verdicts, the product as it last accepted it), `ids` (each channel's
//! platform ids), `removal` (products and variants leaving the catalog and
//! the deletions channels owe), `quarantine` (products a channel keeps
//! rejecting), `intents` (the write journal) and `migrate` (stores of
//! earlier versions, whose products were flat).
//!
//! A product is kept as its canonical JSON without stock (`products.doc`),
//! its variants in `variants` (a SKU belongs to one product) and its stock
//! in `stock_levels`; `digest` is [`Product::content_digest`], so the
//! revision goes up exactly when content changes (`19.9` == `19.90`).

mod export;
mod ids;
mod import;
mod intents;
mod listings;
mod migrate;
mod products;
mod quarantine;
mod removal;
mod stock;
mod stock_sent;

use std::collections::HashMap;

use serde::Serialize;

use super::sql::{DbError, DbResult, Row, ToValue, params};
use super::{Result, Tx};
use crate::catalog::Product;

pub use export::{ExportResult, ExportStatus, PendingExport};
pub use import::{FinishedImport, ImportListing, ImportProgress};
pub use listings::Listing;
pub(crate) use migrate::migrate_flat_catalog;
pub use products::LoadKey;
pub use quarantine::{ExportState, Quarantined};
pub use removal::{DeletionResult, PendingDeletion, Removed};
pub use stock::{StockCounts, StockUpdate, StoredLevel};
pub use stock_sent::{ChannelStock, OwedLevel, SentLevel, SentValue, SentVerdict};

/// What an upsert did, product by product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    /// New products.
    pub created: u64,
    /// Products whose content changed.
    pub updated: u64,
    /// Products whose content was already as given.
    pub unchanged: u64,
}

impl UpsertCounts {
    /// Products seen in total.
    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: Self) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// A stored document that does not read back as a product: one an earlier
/// version stored with a price the rule now refuses, or a bug.
#[derive(Debug, thiserror::Error)]
#[error(
    "stored product `{handle}`: {source} (stored by an earlier version, which did not check prices: load or import it again with a valid price, or remove it)"
)]
struct StoredProductError {
    handle: String,
    source: serde_json::Error,
}

/// A product from its stored document (stock comes separately).
fn product_from_doc(handle: &str, doc: &str) -> DbResult<Product> {
    serde_json::from_str(doc).map_err(|source| DbError::Convert {
        index: usize::MAX,
        source: Box::new(StoredProductError {
            handle: crate::output::escape(handle).into_owned(),
            source,
        }),
    })
}

/// `after_key` as a bound: every stored handle or SKU is non-empty, so `""`
/// means "from the start" and the primary key range still applies.
fn after(after_key: Option<&str>) -> &str {
    after_key.unwrap_or("")
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// How many keys the bulk paths (an import page, a chunk of a load) read or
/// write in one statement instead of one statement per key: each statement
/// is a round trip to PostgreSQL, and a prepare-cache lookup and a bind
/// either way. Fixed, so each such statement is one SQL text prepared once;
/// a shorter set repeats its last key (see [`padded`]).
pub(super) const SET_SIZE: usize = 100;

/// `?first, ?first+1, ...`: [`SET_SIZE`] parameters.
pub(super) fn placeholders(first: usize) -> String {
    (first..first + SET_SIZE)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `lead` then `set` padded to [`SET_SIZE`] by repeating its last item,
/// which `IN (...)` and `ON CONFLICT DO NOTHING` take once. `set` holds 1 to
/// [`SET_SIZE`] items.
pub(super) fn padded<'a>(
    lead: &[&'a dyn ToValue],
    set: &[&'a dyn ToValue],
) -> Vec<&'a dyn ToValue> {
    debug_assert!(!set.is_empty() && set.len() <= SET_SIZE);
    let mut args = Vec::with_capacity(lead.len() + SET_SIZE);
    args.extend_from_slice(lead);
    args.extend((0..SET_SIZE).map(|i| set[i.min(set.len() - 1)]));
    args
}

impl Tx<'_> {
    /// Runs `sql` (whose `?1...` are [`SET_SIZE`] keys after `lead`) for
    /// every set of `keys`, passing each row to `each`.
    pub(super) fn query_sets(
        &self,
        sql: &str,
        lead: &[&dyn ToValue],
        keys: &[&str],
        each: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> Result<()> {
        for set in keys.chunks(SET_SIZE) {
            let set: Vec<&dyn ToValue> = set.iter().map(|k| k as &dyn ToValue).collect();
            self.db.query_each(sql, &padded(lead, &set), each)?;
        }
        Ok(())
    }

    /// Fills in the stock of `products` (their variants' stock is empty, as
    /// read from their documents) from `stock_levels`.
    pub(super) fn attach_stock(&self, products: &mut [Product]) -> Result<()> {
        if products.is_empty() {
            return Ok(());
        }
        let mut at: HashMap<String, (usize, usize)> = HashMap::new();
        for (p, product) in products.iter().enumerate() {
            for (v, variant) in product.variants.iter().enumerate() {
                at.insert(variant.sku.clone(), (p, v));
            }
        }
        let skus: Vec<&str> = at.keys().map(String::as_str).collect();
        let mut rows: Vec<(String, String, i64)> = Vec::new();
        self.query_sets(&STOCK_OF_SKUS, &[], &skus, &mut |r| {
            rows.push((r.get(0)?, r.get(1)?, r.get(2)?));
            Ok(())
        })?;
        for (sku, location, on_hand) in rows {
            if let Some(&(p, v)) = at.get(&sku) {
                products[p].variants[v].stock.insert(location, on_hand);
            }
        }
        Ok(())
    }

    /// Products (with stock) from `(handle, doc)` rows.
    pub(super) fn products_from_docs(&self, rows: Vec<(String, String)>) -> Result<Vec<Product>> {
        let mut products = rows
            .iter()
            .map(|(handle, doc)| product_from_doc(handle, doc))
            .collect::<DbResult<Vec<_>>>()?;
        self.attach_stock(&mut products)?;
        Ok(products)
    }

    /// Products in the catalog.
    pub fn count_products(&self) -> Result<u64> {
        let n: i64 = self
            .db
            .query_one("SELECT count(*) FROM products", params![], |r| r.get(0))?;
        Ok(super::count_from_sql(n))
    }

    /// Variants in the catalog.
    pub fn count_variants(&self) -> Result<u64> {
        let n: i64 = self
            .db
            .query_one("SELECT count(*) FROM variants", params![], |r| r.get(0))?;
        Ok(super::count_from_sql(n))
    }
}

/// Stock of up to [`SET_SIZE`] SKUs (`?1...`).
static STOCK_OF_SKUS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT sku, location, on_hand FROM stock_levels WHERE sku IN ({})",
        placeholders(1)
    )
});

#[cfg(test)]
pub(crate) mod test_data {
    //! Products and verdicts the topic tests share.

    use std::collections::BTreeMap;

    use super::{ExportResult, ExportStatus, SET_SIZE, UpsertCounts};
    use crate::catalog::{FlatProduct, Product};
    use crate::connector::PlatformIds;
    use crate::price::Price;

    /// A one-variant product of `sku` (a flat product), stock 5.
    pub fn product(sku: &str, price: &str) -> Product {
        FlatProduct {
            sku: sku.to_string(),
            title: format!("Title {sku}"),
            price: Price::parse(price, "EUR").unwrap(),
            quantity: 5,
            attributes: BTreeMap::from([("color".to_string(), "red".to_string())]),
            updated_at: "2026-01-01T00:00:00Z".to_string(),
            id: None,
        }
        .into_product()
    }

    /// The handle of [`product`]`(sku)`.
    pub fn handle(sku: &str) -> String {
        crate::catalog::derive_handle(sku)
    }

    pub fn counts(created: u64, updated: u64, unchanged: u64) -> UpsertCounts {
        UpsertCounts {
            created,
            updated,
            unchanged,
        }
    }

    /// Products for the set tests: more than two sets, some skus twice
    /// (within one set and across sets), some with content already stored.
    pub fn mixed_batch() -> Vec<Product> {
        let mut batch: Vec<_> = (0..2 * SET_SIZE + 17)
            .map(|i| product(&format!("s{i:04}"), "1.00"))
            .collect();
        // Twice in the first set: once changed, once as it is.
        batch[5] = product("s0002", "2.00");
        batch[6] = product("s0002", "2.00");
        // Again in a later set, with a new id only.
        batch[SET_SIZE + 3] = Product {
            id: Some("ch-2".into()),
            ..product("s0002", "2.00")
        };
        batch
    }

    /// A product with the least content: for tests about what happens to it, not in it.
    pub fn bare_product(sku: &str, price: &str) -> Product {
        FlatProduct {
            sku: sku.into(),
            title: "t".into(),
            price: Price::parse(price, "EUR").unwrap(),
            quantity: 1,
            attributes: Default::default(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: None,
        }
        .into_product()
    }

    /// A verdict on `product` at `revision`: accepted (the channel now
    /// holds it, as sent) or refused.
    pub fn result(product: &Product, revision: i64, error: Option<&str>) -> ExportResult {
        ExportResult {
            handle: product.handle.clone(),
            revision,
            status: if error.is_some() {
                ExportStatus::Error
            } else {
                ExportStatus::Created
            },
            error: error.map(Into::into),
            accepted: error.is_none().then(|| product.clone()),
            ids: PlatformIds::default(),
        }
    }
}
