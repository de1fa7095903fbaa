//! beta-rest's wire shapes and their mapping to catalog products.
//!
//! A product on the wire is nested (a `handle` and a `variants` array, the
//! catalog's own JSON) or flat (`sku`, `title`, `price`, `currency`,
//! `quantity`, as servers of earlier versions send it: mapped to a product
//! with one variant, its handle derived from the SKU). Fields a server adds
//! beyond these are ignored; a missing required one fails the page, naming
//! it. Stock locations are the platform's on the wire and the catalog's in
//! the catalog, through the channel's `[locations]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{FieldSet, FlatProduct, Image, Prices, Product, ProductStatus, Variant};
use crate::connector::{ExportItem, LocationMap, Skipped};
use crate::price::Price;

/// A product as a beta-rest server sends it, flat or nested.
#[derive(Deserialize)]
pub(super) struct WireProduct {
    handle: Option<String>,
    title: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    images: Vec<Image>,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    variants: Option<Vec<WireVariant>>,
    updated_at: Option<String>,
    #[serde(default)]
    id: Option<String>,
    // A flat product's.
    sku: Option<String>,
    price: Option<String>,
    currency: Option<String>,
    quantity: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct WireVariant {
    sku: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    option_values: Vec<String>,
    #[serde(default)]
    prices: BTreeMap<String, String>,
    #[serde(default)]
    stock: BTreeMap<String, i64>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    id: Option<String>,
}

fn missing(field: &str) -> String {
    format!("missing field `{field}`")
}

impl WireProduct {
    /// The catalog product; `Err` names a missing required field (which
    /// fails the page). Skips: a variant without a SKU is left out (a
    /// product left without variants is skipped), a price that breaks the
    /// price rule skips its product by name.
    pub(super) fn into_product(
        self,
        locations: &LocationMap,
    ) -> Result<(Option<Product>, Vec<Skipped>), String> {
        let updated_at = self.updated_at.ok_or_else(|| missing("updated_at"))?;
        let title = self.title.ok_or_else(|| missing("title"))?;
        let Some(variants) = self.variants else {
            let sku = self.sku.ok_or_else(|| missing("sku"))?;
            let price = self.price.ok_or_else(|| missing("price"))?;
            let currency = self.currency.ok_or_else(|| missing("currency"))?;
            let quantity = self.quantity.ok_or_else(|| missing("quantity"))?;
            if sku.trim().is_empty() {
                return Ok((None, vec![Skipped::NoSku]));
            }
            let price = match Price::parse(&price, &currency) {
                Ok(price) => price,
                Err(e) => return Ok((None, vec![Skipped::refused_sku(sku, e.to_string())])),
            };
            let product = FlatProduct {
                sku,
                title,
                price,
                quantity,
                attributes: self.attributes,
                updated_at,
                id: self.id,
            }
            .into_product();
            return Ok((Some(product), Vec::new()));
        };
        let handle = self.handle.ok_or_else(|| missing("handle"))?;
        let mut skipped = Vec::new();
        let mut kept = Vec::with_capacity(variants.len());
        for variant in variants {
            let Some(sku) = variant.sku.filter(|s| !s.trim().is_empty()) else {
                skipped.push(Skipped::NoSku);
                continue;
            };
            let mut prices = Prices::new();
            for (currency, amount) in &variant.prices {
                match Price::parse(amount, currency) {
                    Ok(price) => prices.insert(price),
                    Err(e) => {
                        skipped.push(Skipped::Refused {
                            key: sku,
                            handle,
                            reason: e.to_string(),
                        });
                        return Ok((None, skipped));
                    }
                }
            }
            let stock = variant
                .stock
                .into_iter()
                .map(|(location, on_hand)| (catalog_location(locations, location), on_hand))
                .collect();
            kept.push(Variant {
                sku,
                title: variant.title,
                option_values: variant.option_values,
                prices,
                stock,
                attributes: variant.attributes,
                id: variant.id,
            });
        }
        if kept.is_empty() {
            return Ok((None, skipped));
        }
        let status = match self.status.as_deref() {
            None => ProductStatus::Active,
            Some(text) => match ProductStatus::parse(text) {
                Ok(status) => status,
                Err(reason) => {
                    skipped.push(Skipped::Refused {
                        key: handle.clone(),
                        handle,
                        reason,
                    });
                    return Ok((None, skipped));
                }
            },
        };
        let product = Product {
            handle,
            title,
            description: self.description,
            status,
            categories: self.categories,
            tags: self.tags,
            images: self.images,
            options: self.options,
            attributes: self.attributes,
            variants: kept,
            updated_at,
            id: self.id,
        };
        Ok((Some(product), skipped))
    }
}

/// The catalog's name of a platform location: the one the channel's
/// `[locations]` maps to it, else the platform's own name.
pub(super) fn catalog_location(locations: &LocationMap, platform: String) -> String {
    locations
        .iter()
        .find(|(_, id)| **id == platform)
        .map_or(platform, |(name, _)| name.clone())
}

/// A product as beta-rest receives it: the catalog's JSON, with the
/// channel's own ids, its stock locations, and the fields the channel's
/// export owns (left out when all).
#[derive(Serialize)]
pub(super) struct WireProductOut<'a> {
    handle: &'a str,
    title: &'a str,
    description: &'a str,
    status: ProductStatus,
    categories: &'a [String],
    tags: &'a [String],
    images: &'a [Image],
    options: &'a [String],
    attributes: &'a BTreeMap<String, String>,
    variants: Vec<WireVariantOut<'a>>,
    updated_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<FieldSet>,
}

#[derive(Serialize)]
struct WireVariantOut<'a> {
    sku: &'a str,
    title: &'a str,
    option_values: &'a [String],
    prices: &'a Prices,
    stock: BTreeMap<&'a str, i64>,
    attributes: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

impl<'a> WireProductOut<'a> {
    pub(super) fn new(item: &ExportItem<'a>) -> WireProductOut<'a> {
        let p = item.product;
        let platform_location = |name: &'a String| -> &'a str {
            item.locations
                .get(name)
                .map_or(name.as_str(), String::as_str)
        };
        WireProductOut {
            handle: &p.handle,
            title: &p.title,
            description: &p.description,
            status: p.status,
            categories: &p.categories,
            tags: &p.tags,
            images: &p.images,
            options: &p.options,
            attributes: &p.attributes,
            variants: p
                .variants
                .iter()
                .map(|v| WireVariantOut {
                    sku: &v.sku,
                    title: &v.title,
                    option_values: &v.option_values,
                    prices: &v.prices,
                    stock: v
                        .stock
                        .iter()
                        .map(|(name, on_hand)| (platform_location(name), *on_hand))
                        .collect(),
                    attributes: &v.attributes,
                    id: item.known.variant(&v.sku),
                })
                .collect(),
            updated_at: &p.updated_at,
            id: item.known.product(&p.handle),
            fields: (!item.fields.is_all()).then_some(item.fields),
        }
    }
}

/// A deletion on the wire: a whole product by handle, or some of its
/// variants by SKU.
#[derive(Serialize)]
pub(super) struct WireDeletion<'a> {
    pub handle: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skus: Option<&'a [String]>,
}

/// One result of a batch reply.
#[derive(Deserialize)]
pub(super) struct WireResult {
    pub handle: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub variant_ids: BTreeMap<String, String>,
    #[serde(default)]
    pub dropped_currencies: Vec<String>,
    #[serde(default)]
    pub variant_errors: Vec<WireVariantError>,
}

#[derive(Deserialize)]
pub(super) struct WireVariantError {
    pub sku: String,
    pub error: String,
}
