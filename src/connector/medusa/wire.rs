//! Medusa's JSON shapes (only the fields asked for with `fields=`; unknown
//! fields are ignored) and the one mapping of a Medusa product to a catalog
//! [`Product`], used by the import and by an export's update (which diffs
//! what the shop holds against the desired product).
//! Amounts stay `RawValue`s: their text is the exact number Medusa sent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::amount;
use super::taxonomy::CategoryTree;
use crate::catalog::{Image, Prices, Product, ProductStatus, Variant};
use crate::connector::Skipped;
use crate::price::Currency;

/// The `fields=` of a product read: what the mapping reads, nothing more.
pub const PRODUCT_FIELDS: &str = "id,title,handle,description,status,metadata,\
created_at,updated_at,deleted_at,\
options.id,options.title,options.values.id,options.values.value,\
images.url,images.rank,images.metadata,categories.id,tags.value,\
variants.id,variants.sku,variants.title,variants.metadata,variants.variant_rank,\
variants.created_at,variants.updated_at,variants.deleted_at,variants.product_id,\
variants.options.value,variants.options.option_id,\
variants.prices.id,variants.prices.currency_code,variants.prices.amount,\
variants.prices.rules,variants.prices.updated_at,\
variants.inventory_items.inventory_item_id,\
variants.inventory_items.inventory.location_levels.location_id,\
variants.inventory_items.inventory.location_levels.stocked_quantity,\
variants.inventory_items.inventory.location_levels.updated_at";

/// Medusa's product status for a catalog one.
pub fn status_out(status: ProductStatus) -> &'static str {
    match status {
        ProductStatus::Active => "published",
        ProductStatus::Draft => "draft",
    }
}

/// The option and value a product without options gets: Medusa requires
/// at least one option on a product.
pub const DEFAULT_OPTION: &str = "Default";

#[derive(Debug, Deserialize)]
pub struct ProductList {
    pub products: Vec<WireProduct>,
    #[serde(default)]
    pub count: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct WireProduct {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub handle: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub options: Vec<WireOption>,
    #[serde(default)]
    pub images: Vec<WireImage>,
    #[serde(default)]
    pub categories: Vec<WireId>,
    #[serde(default)]
    pub tags: Vec<WireTag>,
    #[serde(default)]
    pub variants: Vec<WireVariant>,
}

#[derive(Debug, Deserialize)]
pub struct WireId {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct WireTag {
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub struct WireOption {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub values: Vec<WireOptionValue>,
}

#[derive(Debug, Deserialize)]
pub struct WireOptionValue {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub option_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireImage {
    pub url: String,
    #[serde(default)]
    pub rank: Option<i64>,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
pub struct WireVariant {
    pub id: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub variant_rank: Option<i64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub options: Vec<WireOptionValue>,
    #[serde(default)]
    pub prices: Vec<WirePrice>,
    #[serde(default)]
    pub inventory_items: Vec<WireInventoryLink>,
}

#[derive(Debug, Deserialize)]
pub struct WirePrice {
    #[serde(default)]
    pub id: Option<String>,
    pub currency_code: String,
    pub amount: Box<RawValue>,
    /// Region or customer-group rules; only a price without rules is the
    /// variant's base price.
    #[serde(default)]
    pub rules: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl WirePrice {
    pub fn is_base(&self) -> bool {
        self.rules.as_ref().is_none_or(|r| r.is_empty())
    }
}

#[derive(Debug, Deserialize)]
pub struct WireInventoryLink {
    pub inventory_item_id: String,
    #[serde(default)]
    pub inventory: Option<WireInventory>,
}

#[derive(Debug, Deserialize)]
pub struct WireInventory {
    #[serde(default)]
    pub location_levels: Vec<WireLevel>,
}

#[derive(Debug, Deserialize)]
pub struct WireLevel {
    pub location_id: String,
    /// Medusa keeps quantities as big numbers; whole units are expected.
    pub stocked_quantity: serde_json::Number,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl WireVariant {
    /// The inventory item stock is kept on (the first one linked).
    pub fn inventory_item(&self) -> Option<&str> {
        self.inventory_items
            .first()
            .map(|l| l.inventory_item_id.as_str())
    }

    /// The levels of this variant's (first) inventory item.
    pub fn levels(&self) -> &[WireLevel] {
        self.inventory_items
            .first()
            .and_then(|l| l.inventory.as_ref())
            .map_or(&[], |i| i.location_levels.as_slice())
    }

    /// The level at `location`.
    pub fn level_at(&self, location: &str) -> Option<&WireLevel> {
        self.levels().iter().find(|l| l.location_id == location)
    }

    /// The base price in `currency` (any case).
    pub fn base_price(&self, currency: &str) -> Option<&WirePrice> {
        self.prices
            .iter()
            .find(|p| p.is_base() && p.currency_code.eq_ignore_ascii_case(currency))
    }

    pub fn sku(&self) -> Option<&str> {
        self.sku.as_deref().filter(|s| !s.trim().is_empty())
    }
}

/// What a store's setup the mapping needs.
pub struct MappingContext<'a> {
    /// The store's default currency, lower case: a variant without a base
    /// price in it is skipped by an import.
    pub currency: &'a str,
    /// Catalog location name -> Medusa stock location id.
    pub locations: &'a BTreeMap<String, String>,
    /// The store's categories, to name a product's by path.
    pub categories: &'a CategoryTree,
}

/// How strictly [`to_catalog`] maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// An import: variants without a SKU or a price in the default
    /// currency are left out, and say why.
    Import,
    /// What an update compares against: every variant with a SKU, even
    /// without a price, so the update writes the price it lacks.
    Current,
}

/// A Medusa product as a catalog product (the same mapping both ways:
/// see the README's Medusa table), with the variants left out and why.
/// `Err`: nothing of it can be a catalog product.
pub fn to_catalog(
    product: &WireProduct,
    ctx: &MappingContext<'_>,
    mode: Mode,
) -> Result<(Product, Vec<Skipped>), Skipped> {
    let handle = product.handle.clone().unwrap_or_default();
    let refused_product = |reason: String| Skipped::Refused {
        key: handle.clone(),
        handle: handle.clone(),
        reason,
    };
    let options: Vec<&WireOption> = if is_default_options(&product.options) {
        Vec::new()
    } else {
        product.options.iter().collect()
    };
    let mut live: Vec<&WireVariant> = product
        .variants
        .iter()
        .filter(|v| v.deleted_at.is_none())
        .collect();
    live.sort_by(|a, b| {
        (a.variant_rank, &a.created_at, &a.id).cmp(&(b.variant_rank, &b.created_at, &b.id))
    });
    let mut skipped = Vec::new();
    let mut variants = Vec::new();
    let mut stamps: Vec<&str> = [product.updated_at.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let by_location: BTreeMap<&str, &str> = ctx
        .locations
        .iter()
        .map(|(name, id)| (id.as_str(), name.as_str()))
        .collect();
    for variant in live {
        let Some(sku) = variant.sku() else {
            skipped.push(Skipped::NoSku);
            continue;
        };
        let refused = |reason: String| Skipped::Refused {
            key: sku.to_string(),
            handle: handle.clone(),
            reason,
        };
        if mode == Mode::Import && variant.base_price(ctx.currency).is_none() {
            skipped.push(Skipped::NoPrice {
                currency: ctx.currency.to_ascii_uppercase(),
            });
            continue;
        }
        let mut prices = Prices::new();
        let mut bad = None;
        for price in variant.prices.iter().filter(|p| p.is_base()) {
            let mapped = Currency::from_code(&price.currency_code.to_ascii_uppercase())
                .map_err(amount::AmountError::from)
                .and_then(|currency| amount::amount_to_price(price.amount.get(), currency));
            match mapped {
                Ok(p) => {
                    prices.insert(p);
                    stamps.extend(price.updated_at.as_deref());
                }
                Err(e) => bad = Some(e.to_string()),
            }
        }
        if let (Some(why), Mode::Import) = (bad, mode) {
            skipped.push(refused(why));
            continue;
        }
        let mut stock = BTreeMap::new();
        let mut bad_level = None;
        for level in variant.levels() {
            let Some(name) = by_location.get(level.location_id.as_str()) else {
                continue;
            };
            match level.stocked_quantity.as_i64().filter(|q| *q >= 0) {
                Some(q) => {
                    stock.insert(name.to_string(), q);
                    stamps.extend(level.updated_at.as_deref());
                }
                None => {
                    bad_level = Some(format!(
                        "stocked quantity {} is not a whole number of units",
                        level.stocked_quantity
                    ))
                }
            }
        }
        if let (Some(why), Mode::Import) = (bad_level, mode) {
            skipped.push(refused(why));
            continue;
        }
        let option_values = options
            .iter()
            .map(|option| {
                variant
                    .options
                    .iter()
                    .find(|v| v.option_id.as_deref() == Some(option.id.as_str()))
                    .map(|v| v.value.clone())
                    .unwrap_or_default()
            })
            .collect();
        let title = variant.title.clone().unwrap_or_default();
        stamps.extend(variant.updated_at.as_deref());
        variants.push(Variant {
            sku: sku.to_string(),
            // "" is the product's title, as the catalog writes it.
            title: if title == product.title {
                String::new()
            } else {
                title
            },
            option_values,
            prices,
            stock,
            attributes: string_map(variant.metadata.as_ref()),
            id: Some(variant.id.clone()),
        });
    }
    if variants.is_empty() && mode == Mode::Import {
        return Err(match skipped.pop() {
            Some(reason) => reason,
            None => refused_product("the product has no variant".into()),
        });
    }
    let updated_at = latest(stamps.iter().copied())
        .ok_or_else(|| refused_product("no readable `updated_at`".into()))?;
    let mut images: Vec<&WireImage> = product.images.iter().collect();
    images.sort_by_key(|i| i.rank.unwrap_or(0));
    Ok((
        Product {
            handle: handle.clone(),
            title: product.title.clone(),
            description: product.description.clone().unwrap_or_default(),
            status: match product.status.as_deref() {
                Some("published") => ProductStatus::Active,
                _ => ProductStatus::Draft,
            },
            // Medusa keeps no order for either: sorted.
            categories: sorted(
                product
                    .categories
                    .iter()
                    .filter_map(|c| ctx.categories.path(&c.id)),
            ),
            tags: sorted(product.tags.iter().map(|t| t.value.clone())),
            images: images
                .into_iter()
                .map(|i| Image {
                    url: i.url.clone(),
                    alt: i
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get("alt"))
                        .and_then(|a| a.as_str())
                        .unwrap_or_default()
                        .to_string(),
                })
                .collect(),
            options: options.iter().map(|o| o.title.clone()).collect(),
            attributes: string_map(product.metadata.as_ref()),
            variants,
            updated_at: updated_at.to_string(),
            id: Some(product.id.clone()),
        },
        skipped,
    ))
}

/// Whether a product's options are the single `Default: Default` one a
/// product without options gets.
pub fn is_default_options(options: &[WireOption]) -> bool {
    match options {
        [] => true,
        [only] => {
            only.title == DEFAULT_OPTION && only.values.iter().all(|v| v.value == DEFAULT_OPTION)
        }
        _ => false,
    }
}

fn sorted(items: impl Iterator<Item = String>) -> Vec<String> {
    let set: std::collections::BTreeSet<String> = items.collect();
    set.into_iter().collect()
}

/// The string values of a metadata object (others are Medusa's or a
/// plugin's, not the catalog's attributes).
fn string_map(
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
) -> BTreeMap<String, String> {
    metadata
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// The latest of some RFC 3339 timestamps (unreadable ones ignored).
pub fn latest<'a>(stamps: impl IntoIterator<Item = &'a str>) -> Option<jiff::Timestamp> {
    stamps
        .into_iter()
        .filter_map(|s| s.parse::<jiff::Timestamp>().ok())
        .max()
}
