//! Medusa's JSON shapes (only the fields asked for with `fields=`; unknown
//! fields are ignored) and the mapping of a variant to a catalog product.
//! Amounts stay `RawValue`s: their text is the exact number Medusa sent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::amount;
use crate::connector::Skipped;
use crate::price::Currency;
use crate::product::Product;

/// The `fields=` of a product listing: what the mapping reads, nothing more.
pub const PRODUCT_FIELDS: &str = "id,title,updated_at,deleted_at,\
variants.id,variants.sku,variants.title,variants.updated_at,variants.deleted_at,\
variants.prices.id,variants.prices.currency_code,variants.prices.amount,\
variants.prices.rules,variants.prices.updated_at,\
variants.inventory_items.inventory_item_id,\
variants.inventory_items.inventory.location_levels.location_id,\
variants.inventory_items.inventory.location_levels.stocked_quantity,\
variants.inventory_items.inventory.location_levels.updated_at";

#[derive(Debug, Deserialize)]
pub struct ProductList {
    pub products: Vec<WireProduct>,
    #[serde(default)]
    pub count: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct WireProduct {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub variants: Vec<WireVariant>,
}

#[derive(Debug, Deserialize)]
pub struct WireVariant {
    pub id: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
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
    /// The level of this variant's (first) inventory item at `location`.
    pub fn level_at(&self, location: &str) -> Option<&WireLevel> {
        self.inventory_items
            .first()?
            .inventory
            .as_ref()?
            .location_levels
            .iter()
            .find(|l| l.location_id == location)
    }

    /// The base price in `currency` (lower case, as Medusa writes it).
    pub fn base_price(&self, currency: &str) -> Option<&WirePrice> {
        self.prices
            .iter()
            .find(|p| p.is_base() && p.currency_code.eq_ignore_ascii_case(currency))
    }
}

/// What a shop owner knows the store by, as the mapping needs it.
pub struct MappingContext<'a> {
    /// The store's default currency, lower case.
    pub currency: &'a str,
    pub stock_location_id: &'a str,
}

/// The catalog title of a variant: the product's title when the product has
/// one variant (what a shop shows), else `product / variant`.
pub fn catalog_title(product_title: &str, variant_title: &str, variants: usize) -> String {
    if variants <= 1 || variant_title.is_empty() || variant_title == product_title {
        product_title.to_string()
    } else {
        format!("{product_title} / {variant_title}")
    }
}

/// One catalog product per variant. `updated_at` is the latest change seen
/// on the product, the variant, its price or its stock level, so the
/// store's high-water mark covers changes the product's own `updated_at`
/// does not show.
pub fn variant_to_product(
    product: &WireProduct,
    variant: &WireVariant,
    ctx: &MappingContext<'_>,
) -> Result<Product, Skipped> {
    let sku = match variant.sku.as_deref().map(str::trim) {
        Some(sku) if !sku.is_empty() => variant.sku.clone().expect("checked"),
        _ => return Err(Skipped::NoSku),
    };
    let refused = |reason: String| Skipped::Refused {
        sku: sku.clone(),
        reason,
    };
    let price = variant
        .base_price(ctx.currency)
        .ok_or_else(|| Skipped::NoPrice {
            currency: ctx.currency.to_ascii_uppercase(),
        })?;
    let catalog_price = Currency::from_code(&ctx.currency.to_ascii_uppercase())
        .map_err(amount::AmountError::from)
        .and_then(|currency| amount::amount_to_price(price.amount.get(), currency))
        .map_err(|e| refused(e.to_string()))?;
    let level = variant.level_at(ctx.stock_location_id);
    let quantity = match level {
        None => 0,
        Some(level) => level
            .stocked_quantity
            .as_i64()
            .filter(|q| *q >= 0)
            .ok_or_else(|| {
                refused(format!(
                    "stocked quantity {} is not a whole number of units",
                    level.stocked_quantity
                ))
            })?,
    };
    let live_variants = product
        .variants
        .iter()
        .filter(|v| v.deleted_at.is_none())
        .count();
    let stamps = [
        product.updated_at.as_deref(),
        variant.updated_at.as_deref(),
        price.updated_at.as_deref(),
        level.and_then(|l| l.updated_at.as_deref()),
    ];
    let updated_at = latest(stamps.into_iter().flatten())
        .ok_or_else(|| refused("no readable `updated_at`".into()))?;
    Ok(Product {
        title: catalog_title(
            &product.title,
            variant.title.as_deref().unwrap_or(""),
            live_variants,
        ),
        sku,
        price: catalog_price,
        quantity,
        attributes: BTreeMap::new(),
        updated_at: updated_at.to_string(),
        id: Some(variant.id.clone()),
    })
}

/// The latest of some RFC 3339 timestamps (unreadable ones ignored).
pub fn latest<'a>(stamps: impl IntoIterator<Item = &'a str>) -> Option<jiff::Timestamp> {
    stamps
        .into_iter()
        .filter_map(|s| s.parse::<jiff::Timestamp>().ok())
        .max()
}
