//! JSON Lines: one product a line. A line with `variants` is a nested
//! product (its `handle`, product fields, and each variant's `sku`,
//! `prices`, `stock`, ...); a line without is a flat product as earlier
//! versions wrote it (`sku`, `title`, `price`, `currency`, `quantity`).

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Deserialize;

use super::{
    FlatFields, LoadItem, ProductFileError, TextLines, Whole, at, checked_product, in_product,
};
use crate::catalog::{Image, Prices, Product, ProductStatus, Variant};
use crate::price::Price;

pub(super) struct JsonLines<R> {
    lines: TextLines<R>,
    loaded_at: String,
}

impl<R> JsonLines<R> {
    pub(super) fn new(reader: R, loaded_at: String) -> JsonLines<R> {
        JsonLines {
            lines: TextLines::new(reader),
            loaded_at,
        }
    }
}

/// Every field a line may have, flat or nested: which ones it has says
/// which it is. Unknown fields are refused (a typo must not drop a value).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    handle: Option<String>,
    title: Option<String>,
    description: Option<String>,
    status: Option<String>,
    categories: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    images: Option<Vec<LineImage>>,
    options: Option<Vec<String>>,
    attributes: Option<BTreeMap<String, String>>,
    variants: Option<Vec<LineVariant>>,
    updated_at: Option<String>,
    id: Option<String>,
    // Flat only.
    sku: Option<String>,
    price: Option<String>,
    currency: Option<String>,
    quantity: Option<Whole>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineImage {
    url: String,
    #[serde(default)]
    alt: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineVariant {
    sku: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    option_values: Vec<String>,
    #[serde(default)]
    prices: BTreeMap<String, String>,
    #[serde(default)]
    stock: BTreeMap<String, Whole>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    id: Option<String>,
}

fn missing(field: &str) -> String {
    format!("missing field `{field}`")
}

impl Line {
    fn into_item(self, line: u64, loaded_at: &str) -> Result<LoadItem, ProductFileError> {
        match self.variants {
            Some(variants) => {
                let flat_only = [
                    ("sku", self.sku.is_some()),
                    ("price", self.price.is_some()),
                    ("currency", self.currency.is_some()),
                    ("quantity", self.quantity.is_some()),
                ];
                if let Some((field, _)) = flat_only.iter().find(|(_, given)| *given) {
                    return Err(at(
                        line,
                        format!(
                            "a product with `variants` has no `{field}` of its own: give it on each variant (`sku`, `prices`, `stock`)"
                        ),
                    ));
                }
                let handle = self.handle.ok_or_else(|| at(line, missing("handle")))?;
                let title = self.title.ok_or_else(|| at(line, missing("title")))?;
                let status = match self.status.as_deref() {
                    None => ProductStatus::Active,
                    Some(text) => {
                        ProductStatus::parse(text).map_err(|e| in_product(line, &handle, &e))?
                    }
                };
                let mut parsed = Vec::with_capacity(variants.len());
                for variant in variants {
                    parsed.push(variant.parse().map_err(|e| in_product(line, &handle, &e))?);
                }
                let variant_lines = vec![line; parsed.len()];
                let product = Product {
                    handle,
                    title,
                    description: self.description.unwrap_or_default(),
                    status,
                    categories: self.categories.unwrap_or_default(),
                    tags: self.tags.unwrap_or_default(),
                    images: (self.images.unwrap_or_default().into_iter())
                        .map(|i| Image {
                            url: i.url,
                            alt: i.alt,
                        })
                        .collect(),
                    options: self.options.unwrap_or_default(),
                    attributes: self.attributes.unwrap_or_default(),
                    variants: parsed,
                    updated_at: self.updated_at.unwrap_or_else(|| loaded_at.to_string()),
                    id: self.id,
                };
                checked_product(product, line, variant_lines)
            }
            None => {
                let nested_only = [
                    ("handle", self.handle.is_some()),
                    ("description", self.description.is_some()),
                    ("status", self.status.is_some()),
                    ("categories", self.categories.is_some()),
                    ("tags", self.tags.is_some()),
                    ("images", self.images.is_some()),
                    ("options", self.options.is_some()),
                ];
                if let Some((field, _)) = nested_only.iter().find(|(_, given)| *given) {
                    return Err(at(
                        line,
                        format!(
                            "`{field}` belongs to a product with `variants`: give the product's variants in a `variants` array (a line without one is a flat product: sku, title, price, currency, quantity)"
                        ),
                    ));
                }
                let required = |value: Option<String>, field: &str| {
                    value.ok_or_else(|| at(line, missing(field)))
                };
                FlatFields {
                    sku: required(self.sku, "sku")?,
                    title: required(self.title, "title")?,
                    price: required(self.price, "price")?,
                    currency: required(self.currency, "currency")?,
                    quantity: self
                        .quantity
                        .ok_or_else(|| at(line, missing("quantity")))?
                        .0,
                    attributes: self.attributes.unwrap_or_default(),
                    updated_at: self.updated_at,
                    id: self.id,
                }
                .checked(line, loaded_at)
            }
        }
    }
}

impl LineVariant {
    /// The variant; a price that breaks the price rule names the variant.
    fn parse(self) -> Result<Variant, String> {
        let mut prices = Prices::new();
        for (currency, amount) in &self.prices {
            let price = Price::parse(amount, currency).map_err(|e| {
                format!("variant `{}`: {e}", crate::catalog::rules::shown(&self.sku))
            })?;
            prices.insert(price);
        }
        Ok(Variant {
            sku: self.sku,
            title: self.title,
            option_values: self.option_values,
            prices,
            stock: self.stock.into_iter().map(|(k, v)| (k, v.0)).collect(),
            attributes: self.attributes,
            id: self.id,
        })
    }
}

impl<R: BufRead> Iterator for JsonLines<R> {
    type Item = Result<LoadItem, ProductFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, text) = match self.lines.next_line()? {
            Ok(found) => found,
            Err(e) => return Some(Err(e)),
        };
        let parsed: Line = match serde_json::from_str(text) {
            Ok(p) => p,
            Err(e) => return Some(Err(at(line, e.to_string()))),
        };
        Some(parsed.into_item(line, &self.loaded_at))
    }
}
