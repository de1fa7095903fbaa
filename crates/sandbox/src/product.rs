//! The products as the beta-rest protocol carries them: the shapes the
//! sandbox stores, lists and takes in export batches.
//!
//! These are the sandbox's own wire types, not `oms-channels`' catalog
//! product: every value is plain text, so a test can make the channel hold
//! and send what a real channel might (a SKU with trailing white space, a
//! price that is no decimal), and the server judges what a client sends from
//! the JSON itself (`batch`), never through the client's types.
//!
//! - [`NestedProduct`]: a product with its variants, keyed by `handle`;
//!   what exports write and what the sandbox serves for them.
//! - [`Product`]: the flat product of earlier versions (one SKU, one price,
//!   one quantity), which the sandbox still seeds and serves, as a server of
//!   an earlier version would; [`NestedProduct::flat_view`] gives a variant
//!   of a nested product in that shape, for tests written against it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One flat product as earlier versions of the protocol knew it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub sku: String,
    pub title: String,
    /// Decimal string such as `"19.90"`, never a float.
    pub price: String,
    pub currency: String,
    pub quantity: i64,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// RFC 3339; the sandbox sets it to "now" on every change.
    #[serde(default)]
    pub updated_at: String,
    /// The sandbox's own id: `p-<index>` for seeded products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A product with its variants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NestedProduct {
    pub handle: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// `active` or `draft`.
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub variants: Vec<NestedVariant>,
    /// RFC 3339; the sandbox sets it to "now" on every change.
    #[serde(default)]
    pub updated_at: String,
    /// The sandbox's own id (`p-<n>`); a client's is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

fn active() -> String {
    "active".to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub url: String,
    #[serde(default)]
    pub alt: String,
}

/// One variant: a SKU, its option values, prices by currency code (decimal
/// strings), stock by location id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NestedVariant {
    pub sku: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub option_values: Vec<String>,
    #[serde(default)]
    pub prices: BTreeMap<String, String>,
    #[serde(default)]
    pub stock: BTreeMap<String, i64>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The sandbox's own id (`v-<n>`); a client's is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// The stock location a flat product's quantity is at.
pub const DEFAULT_LOCATION: &str = "default";

impl NestedProduct {
    pub fn variant(&self, sku: &str) -> Option<&NestedVariant> {
        self.variants.iter().find(|v| v.sku == sku)
    }

    /// Variant `sku` as a flat product: the variant's title (or the
    /// product's), its first price, its stock at `default`, the product's
    /// attributes, timestamp and id.
    pub fn flat_view(&self, sku: &str) -> Option<Product> {
        let variant = self.variant(sku)?;
        let (currency, price) = variant
            .prices
            .iter()
            .next()
            .map(|(c, p)| (c.clone(), p.clone()))
            .unwrap_or_default();
        Some(Product {
            sku: variant.sku.clone(),
            title: if variant.title.is_empty() {
                self.title.clone()
            } else {
                variant.title.clone()
            },
            price,
            currency,
            quantity: variant.stock.get(DEFAULT_LOCATION).copied().unwrap_or(0),
            attributes: self.attributes.clone(),
            updated_at: self.updated_at.clone(),
            id: self.id.clone(),
        })
    }

    /// Writes a changed flat view of variant `sku` back: title, price,
    /// quantity and attributes as [`NestedProduct::flat_view`] reads them.
    pub(crate) fn apply_flat(&mut self, sku: &str, view: Product) {
        let single = self.variants.len() == 1;
        let Some(variant) = self.variants.iter_mut().find(|v| v.sku == sku) else {
            return;
        };
        if single || variant.title.is_empty() {
            self.title = view.title;
        } else {
            variant.title = view.title;
        }
        variant.prices = BTreeMap::from([(view.currency, view.price)]);
        variant
            .stock
            .insert(DEFAULT_LOCATION.to_string(), view.quantity);
        self.attributes = view.attributes;
    }
}
