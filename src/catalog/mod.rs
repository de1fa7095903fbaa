//! The catalog's domain model: a [`Product`] (key: its `handle`) with its
//! [`Variant`]s (key: their `sku`, unique in the catalog), as shops hold
//! them. Pure: no I/O here; the store, the connectors and the load files
//! speak these types.
//!
//! - `rules`: every rule a product meets wherever it comes from ([`Product::check`]).
//! - `handle`: handle syntax and [`derive_handle`] for products known only by a SKU.
//! - `fields`: the [`Field`]s an export may own ([`FieldSet`], `export-fields`).
//! - `diff`: field-level differences between two versions of a product.
//! - `flat`: today's one-SKU product ([`FlatProduct`]) and how it maps.
//! - `file`: the `products load` formats.
//!
//! JSON: a product serialises as the load files, the store and the beta-rest
//! protocol write it: prices as decimal strings with their currency's minor
//! units (`{"EUR": "19.90"}`), never floats; maps sorted by key.

pub mod diff;
pub mod fields;
pub mod file;
pub mod flat;
mod handle;
pub mod rules;
pub mod stock;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::price::{Currency, Price};

pub use diff::{Change, ProductDiff, VariantDiff, diff};
pub use fields::{Field, FieldSet, UnknownField};
pub use flat::DEFAULT_LOCATION;
pub use flat::FlatProduct;
pub use handle::{check_handle, derive_handle, slug};
pub use rules::{ProductError, check_sku, check_text};
pub use stock::{StockLevel, StockPolicy};

/// One product: what a shop shows on one product page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// A slug (`[a-z0-9]+(-[a-z0-9]+)*`), unique in the account's catalog.
    pub handle: String,
    pub title: String,
    /// Text or HTML, kept as given; `""` = none.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub status: ProductStatus,
    /// Ordered category paths, segments joined by ` > `.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Ordered, no duplicates.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub images: Vec<Image>,
    /// Ordered option names (`Size`, `Colour`); each variant has one value
    /// per option, in the same order.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Ordered; at least one.
    pub variants: Vec<Variant>,
    /// RFC 3339, as the source gave it.
    pub updated_at: String,
    /// The source channel's id, when imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Sets `values` to `model` when both hold the same set of strings.
pub fn take_order(values: &mut Vec<String>, model: &[String]) {
    let set =
        |list: &[String]| -> std::collections::BTreeSet<String> { list.iter().cloned().collect() };
    if values.as_slice() != model && set(values) == set(model) {
        *values = model.to_vec();
    }
}

/// One sellable item of a product: one SKU, one combination of option values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Unique in the catalog.
    pub sku: String,
    /// `""` = the product's title.
    #[serde(default)]
    pub title: String,
    /// One per product option, in the product's order.
    #[serde(default)]
    pub option_values: Vec<String>,
    #[serde(default)]
    pub prices: Prices,
    /// Location name -> units on hand (0 or more). The store keeps it in a
    /// table of its own (`stock_levels`).
    #[serde(default)]
    pub stock: BTreeMap<String, i64>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The source channel's id, when imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Whether a shop shows the product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    #[default]
    Active,
    Draft,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Draft => "draft",
        }
    }

    /// `active` or `draft`; anything else says what is allowed.
    pub fn parse(text: &str) -> Result<ProductStatus, String> {
        match text {
            "active" => Ok(ProductStatus::Active),
            "draft" => Ok(ProductStatus::Draft),
            other => Err(format!(
                "unknown status `{}`: expected `active` or `draft`",
                crate::output::escape(other)
            )),
        }
    }
}

impl fmt::Display for ProductStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A product image: its URL and alt text (`""` = none).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Image {
    pub url: String,
    #[serde(default)]
    pub alt: String,
}

/// A variant's prices, one per currency, each by the price rule. JSON:
/// `{"EUR": "19.90", "USD": "21"}`, each written as it was given (a load
/// file's or a channel's text goes back out as it came); equal values are
/// equal prices (`19.9` == `19.90`), and a content digest counts them so.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prices(BTreeMap<Currency, Price>);

impl Prices {
    pub fn new() -> Prices {
        Prices::default()
    }

    /// Sets the price in its currency, replacing any there was.
    pub fn insert(&mut self, price: Price) {
        self.0.insert(price.currency(), price);
    }

    pub fn get(&self, currency: Currency) -> Option<&Price> {
        self.0.get(&currency)
    }

    pub fn remove(&mut self, currency: Currency) -> Option<Price> {
        self.0.remove(&currency)
    }

    /// Prices ordered by currency code.
    pub fn iter(&self) -> impl Iterator<Item = &Price> {
        self.0.values()
    }

    pub fn currencies(&self) -> impl Iterator<Item = Currency> + '_ {
        self.0.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the prices `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&Price) -> bool) {
        self.0.retain(|_, price| keep(price));
    }
}

impl FromIterator<Price> for Prices {
    fn from_iter<I: IntoIterator<Item = Price>>(iter: I) -> Prices {
        let mut prices = Prices::new();
        for price in iter {
            prices.insert(price);
        }
        prices
    }
}

impl Serialize for Prices {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for price in self.0.values() {
            map.serialize_entry(price.currency().code(), &price.amount_text())?;
        }
        map.end()
    }
}

/// Prices as a digest counts them: by value, written with their currency's
/// minor units.
struct ByValue<'a>(&'a Prices);

impl Serialize for ByValue<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|p| (p.currency().code(), p.with_minor_units().amount_text())),
        )
    }
}

impl<'de> Deserialize<'de> for Prices {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(deserializer)?;
        raw.iter()
            .map(|(code, amount)| Price::parse(amount, code).map_err(serde::de::Error::custom))
            .collect()
    }
}

impl Product {
    /// Takes `shop`'s order of categories and tags where they hold the same
    /// set, for a shop that keeps no order of them: the same set is no change.
    pub fn follow_unordered(&mut self, shop: &Product) {
        take_order(&mut self.categories, &shop.categories);
        take_order(&mut self.tags, &shop.tags);
    }

    /// The variant with `sku`.
    pub fn variant(&self, sku: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.sku == sku)
    }

    /// A variant's title as shops show it: its own, or the product's.
    pub fn variant_title<'a>(&'a self, variant: &'a Variant) -> &'a str {
        if variant.title.is_empty() {
            &self.title
        } else {
            &variant.title
        }
    }

    /// The canonical JSON the store keeps (`products.doc`): the whole
    /// product without its variants' stock, which the store keeps in a table
    /// of its own.
    pub fn doc_json(&self) -> String {
        let mut doc = self.clone();
        for variant in &mut doc.variants {
            variant.stock.clear();
        }
        serde_json::to_string(&doc).expect("a product always serialises")
    }

    /// The whole product as canonical JSON (stock included).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a product always serialises")
    }

    /// A digest of the product's content: everything a shop shows or sells
    /// by (stock included), but not `updated_at` or the channel ids. Prices
    /// count by value (`19.9` == `19.90`). Equal content, equal digest, so
    /// a store bumps a product's revision exactly when this changes.
    pub fn content_digest(&self) -> String {
        #[derive(Serialize)]
        struct Content<'a> {
            handle: &'a str,
            title: &'a str,
            description: &'a str,
            status: ProductStatus,
            categories: &'a [String],
            tags: &'a [String],
            images: &'a [Image],
            options: &'a [String],
            attributes: &'a BTreeMap<String, String>,
            variants: Vec<VariantContent<'a>>,
        }
        #[derive(Serialize)]
        struct VariantContent<'a> {
            sku: &'a str,
            title: &'a str,
            option_values: &'a [String],
            prices: ByValue<'a>,
            stock: &'a BTreeMap<String, i64>,
            attributes: &'a BTreeMap<String, String>,
        }
        let content = Content {
            handle: &self.handle,
            title: &self.title,
            description: &self.description,
            status: self.status,
            categories: &self.categories,
            tags: &self.tags,
            images: &self.images,
            options: &self.options,
            attributes: &self.attributes,
            variants: self
                .variants
                .iter()
                .map(|v| VariantContent {
                    sku: &v.sku,
                    title: &v.title,
                    option_values: &v.option_values,
                    prices: ByValue(&v.prices),
                    stock: &v.stock,
                    attributes: &v.attributes,
                })
                .collect(),
        };
        let json = serde_json::to_vec(&content).expect("content always serialises");
        format!("{:032x}", fnv1a_128(&json))
    }

    /// The RFC 3339 `updated_at` as an instant.
    pub fn updated_at_timestamp(&self) -> Result<jiff::Timestamp, ProductError> {
        Ok(crate::timestamp::parse_instant(&self.updated_at)?)
    }

    /// Every SKU of the product, in variant order.
    pub fn skus(&self) -> impl Iterator<Item = &str> {
        self.variants.iter().map(|v| v.sku.as_str())
    }
}

/// FNV-1a, 128 bits: stable across versions and platforms, and wide enough
/// that two contents of one product never meet by chance.
pub(crate) fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u128::from(*byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
pub(crate) mod test_data {
    //! Products the catalog's tests (and the store's) build on.

    use super::*;

    pub fn price(amount: &str, currency: &str) -> Price {
        Price::parse(amount, currency).unwrap()
    }

    pub fn variant(sku: &str, values: &[&str], eur: &str) -> Variant {
        Variant {
            sku: sku.into(),
            option_values: values.iter().map(|v| v.to_string()).collect(),
            prices: [price(eur, "EUR")].into_iter().collect(),
            stock: BTreeMap::from([("default".to_string(), 5)]),
            ..Variant::default()
        }
    }

    /// A T-shirt in S, M and L.
    pub fn shirt() -> Product {
        Product {
            handle: "tshirt".into(),
            title: "T-Shirt".into(),
            description: "<p>Soft cotton.</p>\n".into(),
            status: ProductStatus::Active,
            categories: vec!["Clothing > Shirts".into()],
            tags: vec!["summer".into(), "cotton".into()],
            images: vec![Image {
                url: "https://cdn.example/ts.jpg".into(),
                alt: "Front".into(),
            }],
            options: vec!["Size".into()],
            attributes: BTreeMap::from([("brand".to_string(), "Acme".to_string())]),
            variants: vec![
                variant("TS-S", &["S"], "19.90"),
                variant("TS-M", &["M"], "19.90"),
                variant("TS-L", &["L"], "21.00"),
            ],
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_data::*;
    use super::*;

    #[test]
    fn json_writes_prices_as_given_and_reads_them_back() {
        let mut p = shirt();
        p.variants[0].prices.insert(price("19.9", "USD"));
        p.variants[0].prices.insert(price("1500.00", "JPY"));
        let json = p.to_json();
        assert!(
            json.contains(r#""prices":{"EUR":"19.90","JPY":"1500","USD":"19.9"}"#),
            "{json}"
        );
        let back: Product = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert!(!json.contains("\"id\""), "no id when none: {json}");
    }

    #[test]
    fn a_price_the_rule_refuses_does_not_deserialise() {
        let json = shirt().to_json().replace("\"21.00\"", "\"-1\"");
        let err = serde_json::from_str::<Product>(&json).unwrap_err();
        assert!(err.to_string().contains("price `-1` is negative"), "{err}");
    }

    #[test]
    fn the_doc_leaves_stock_out() {
        let doc = shirt().doc_json();
        assert!(!doc.contains("\"default\""), "{doc}");
        let back: Product = serde_json::from_str(&doc).unwrap();
        assert!(back.variants.iter().all(|v| v.stock.is_empty()));
    }

    #[test]
    fn the_digest_moves_with_content_only() {
        let base = shirt();
        let digest = base.content_digest();
        assert_eq!(digest.len(), 32);
        type Edit = fn(&mut Product);
        let cases: &[(&str, Edit, bool)] = &[
            ("nothing", |_| {}, false),
            (
                "updated_at",
                |p| p.updated_at = "2026-02-02T00:00:00Z".into(),
                false,
            ),
            ("product id", |p| p.id = Some("p-1".into()), false),
            ("variant id", |p| p.variants[0].id = Some("v".into()), false),
            (
                "a price spelled differently",
                |p| p.variants[0].prices.insert(price("19.9", "EUR")),
                false,
            ),
            (
                "a price",
                |p| p.variants[0].prices.insert(price("19.91", "EUR")),
                true,
            ),
            (
                "a second currency",
                |p| p.variants[0].prices.insert(price("19.90", "USD")),
                true,
            ),
            (
                "stock",
                |p| {
                    p.variants[2].stock.insert("default".into(), 6);
                },
                true,
            ),
            (
                "stock at another location",
                |p| {
                    p.variants[2].stock.insert("berlin".into(), 0);
                },
                true,
            ),
            ("description", |p| p.description.push('x'), true),
            ("status", |p| p.status = ProductStatus::Draft, true),
            ("tag order", |p| p.tags.reverse(), true),
            ("image alt", |p| p.images[0].alt = "Back".into(), true),
            ("variant order", |p| p.variants.swap(0, 1), true),
            ("variant title", |p| p.variants[1].title = "M".into(), true),
            ("handle", |p| p.handle = "shirt".into(), true),
        ];
        for (what, edit, changes) in cases {
            let mut p = base.clone();
            edit(&mut p);
            assert_eq!(p.content_digest() != digest, *changes, "{what}");
        }
    }

    #[test]
    fn variant_titles_fall_back_to_the_product_title() {
        let mut p = shirt();
        assert_eq!(p.variant_title(&p.variants[0]), "T-Shirt");
        p.variants[0].title = "Small".into();
        assert_eq!(p.variant_title(&p.variants[0]), "Small");
    }
}
