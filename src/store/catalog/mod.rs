//! The product catalog and what each channel holds of it, by topic:
//! `products` (the catalog, with content revisions, and `products load`),
//! `listings` (each channel's copy), `import` (progress, pages, and the
//! removals a complete import makes), `export` (what each channel has not
//! taken yet, and its verdicts), `removal` (products leaving the catalog
//! and the deletions channels owe) and `quarantine` (products a channel
//! keeps rejecting). A price is kept as decimal text with its currency's
//! minor units (`19.90`); equal values are equal content whatever their
//! spelling, so rows written as `19.9` by an earlier version are not changes
//! (no new revision, nothing re-exported).

mod export;
mod import;
mod listings;
mod products;
mod quarantine;
mod removal;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::sql::{DbError, DbResult, Row, ToValue};
use crate::price::{Price, PriceError};
use crate::product::Product;

/// A stored row whose price an earlier version took but the price rule
/// refuses (a negative price, more decimals than the currency has).
#[derive(Debug, thiserror::Error)]
#[error(
    "stored product `{sku}`: {source} (stored by an earlier version, which did not check prices: load or import it again with a valid price, or remove it)"
)]
struct StoredPriceError {
    sku: String,
    source: PriceError,
}

pub use export::{ExportResult, ExportStatus, PendingExport};
pub use import::ImportProgress;
pub use listings::Listing;
pub use quarantine::{ExportState, Quarantined};
pub use removal::{DeletionResult, Removed};

/// What an upsert did, product by product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    /// New rows.
    pub created: u64,
    /// Rows whose content (title, price, currency, quantity, attributes) changed.
    pub updated: u64,
    /// Rows whose content was already as given.
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

/// Attribute maps are stored as JSON text. A `BTreeMap` serialises with sorted
/// keys, so equal maps give equal text and text comparison finds changes.
fn attributes_json(attributes: &BTreeMap<String, String>) -> String {
    serde_json::to_string(attributes).expect("a string map always serialises")
}

fn attributes_of(products: &[Product]) -> Vec<String> {
    products
        .iter()
        .map(|p| attributes_json(&p.attributes))
        .collect()
}

/// Columns `sku, title, price, currency, quantity, attributes, updated_at, id`
/// starting at `first`.
fn product_from_row(r: &Row, first: usize) -> DbResult<Product> {
    let attributes: String = r.get(first + 5)?;
    let attributes = serde_json::from_str(&attributes).map_err(|e| DbError::Convert {
        index: first + 5,
        source: Box::new(e),
    })?;
    let sku: String = r.get(first)?;
    let (amount, currency): (String, String) = (r.get(first + 2)?, r.get(first + 3)?);
    let price = Price::parse(&amount, &currency).map_err(|source| DbError::Convert {
        index: usize::MAX,
        source: Box::new(StoredPriceError {
            sku: crate::output::escape(&sku).into_owned(),
            source,
        }),
    })?;
    Ok(Product {
        sku,
        title: r.get(first + 1)?,
        price,
        quantity: r.get(first + 4)?,
        attributes,
        updated_at: r.get(first + 6)?,
        id: r.get(first + 7)?,
    })
}

/// Stored content, for change detection.
struct Content {
    title: String,
    price: String,
    currency: String,
    quantity: i64,
    attributes: String,
}

impl Content {
    /// Columns `title, price, currency, quantity, attributes` starting at `first`.
    fn from_row(r: &Row, first: usize) -> DbResult<Content> {
        Ok(Content {
            title: r.get(first)?,
            price: r.get(first + 1)?,
            currency: r.get(first + 2)?,
            quantity: r.get(first + 3)?,
            attributes: r.get(first + 4)?,
        })
    }

    fn same_as(&self, p: &Product, attributes: &str) -> bool {
        // By value: `19.9` stored by an earlier version is `19.90`.
        let same_price = self.currency == p.price.currency().code()
            && self
                .price
                .parse::<Decimal>()
                .is_ok_and(|stored| stored == p.price.amount());
        self.title == p.title
            && same_price
            && self.quantity == p.quantity
            && self.attributes == attributes
    }
}

/// `after_sku` as a bound: every stored sku is non-empty (`Product::check`),
/// so `""` means "from the start" and the primary key range still applies.
fn after(after_sku: Option<&str>) -> &str {
    after_sku.unwrap_or("")
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// How many skus the bulk paths (an import page, a chunk of a load) read or
/// write in one statement instead of one statement per sku: each statement
/// is a round trip to PostgreSQL, and a prepare-cache lookup and a bind
/// either way. Fixed, so each such statement is one SQL text prepared once;
/// a shorter set repeats its last sku (see [`padded`]).
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

#[cfg(test)]
pub(super) mod test_data {
    //! Products and verdicts the topic tests share.

    use std::collections::BTreeMap;

    use super::{ExportResult, ExportStatus, SET_SIZE, UpsertCounts};
    use crate::price::Price;
    use crate::product::Product;

    pub fn product(sku: &str, price: &str) -> Product {
        Product {
            sku: sku.to_string(),
            title: format!("Title {sku}"),
            price: Price::parse(price, "EUR").unwrap(),
            quantity: 5,
            attributes: BTreeMap::from([("color".to_string(), "red".to_string())]),
            updated_at: "2026-01-01T00:00:00Z".to_string(),
            id: None,
        }
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
            .map(|i| product(&format!("S{i:04}"), "1.00"))
            .collect();
        // Twice in the first set: once changed, once as it is.
        batch[5] = product("S0002", "2.00");
        batch[6] = product("S0002", "2.00");
        // Again in a later set, with a new id only.
        batch[SET_SIZE + 3] = Product {
            id: Some("ch-2".into()),
            ..product("S0002", "2.00")
        };
        batch
    }

    /// A product with the least content: for tests about what happens to it, not in it.
    pub fn bare_product(sku: &str, price: &str) -> Product {
        Product {
            sku: sku.into(),
            title: "t".into(),
            price: crate::price::Price::parse(price, "EUR").unwrap(),
            quantity: 1,
            attributes: Default::default(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: None,
        }
    }

    pub fn result(sku: &str, revision: i64, error: Option<&str>) -> ExportResult {
        ExportResult {
            sku: sku.into(),
            revision,
            status: if error.is_some() {
                ExportStatus::Error
            } else {
                ExportStatus::Created
            },
            error: error.map(Into::into),
        }
    }
}
