//! The flat product of earlier versions: one SKU, one title, one price in
//! one currency, one quantity. Flat load lines and CSV rows, a beta-rest
//! server that sends flat products, stores made by earlier versions and
//! the connectors that carry one variant per product all speak it.
//!
//! A flat product is a [`Product`] with one variant ([`FlatProduct::into_product`]):
//! handle = [`derive_handle`]`(sku)`, product title = title (the variant's
//! own title empty: it is the product's), prices = `{currency: price}`,
//! stock = `{"default": quantity}`, attributes on the product, `id` the
//! product's. [`Product::as_flat`] is the way back, for a product that has
//! nothing a flat product cannot hold.

use std::collections::BTreeMap;

use super::rules::{
    MAX_ID_CHARS, MAX_TITLE_CHARS, ProductError, check_attributes, check_sku, check_text,
};
use super::{Product, ProductStatus, Variant, derive_handle};
use crate::price::Price;

/// The stock location a flat product's quantity is at.
pub const DEFAULT_LOCATION: &str = "default";

/// One flat product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlatProduct {
    pub sku: String,
    pub title: String,
    pub price: Price,
    pub quantity: i64,
    pub attributes: BTreeMap<String, String>,
    /// RFC 3339 timestamp of the last change, as the source gave it.
    pub updated_at: String,
    /// The channel's own id for this product, when a channel gave one.
    pub id: Option<String>,
}

impl FlatProduct {
    /// The rules of a flat product, with the messages flat files have always
    /// had (`invalid quantity -1`); a flat product that passes them makes a
    /// [`Product`] that passes [`Product::check`].
    pub fn check(&self) -> Result<(), ProductError> {
        check_sku(&self.sku)?;
        check_text("title", &self.title, MAX_TITLE_CHARS)?;
        check_attributes(&self.attributes)?;
        if let Some(id) = &self.id {
            check_text("id", id, MAX_ID_CHARS)?;
        }
        if self.quantity < 0 {
            return Err(ProductError::Quantity(self.quantity));
        }
        crate::timestamp::parse_instant(&self.updated_at)?;
        Ok(())
    }

    /// The RFC 3339 `updated_at` as an instant.
    pub fn updated_at_timestamp(&self) -> Result<jiff::Timestamp, ProductError> {
        Ok(crate::timestamp::parse_instant(&self.updated_at)?)
    }

    /// The product with one variant that this flat product is.
    pub fn into_product(self) -> Product {
        Product {
            handle: derive_handle(&self.sku),
            title: self.title,
            description: String::new(),
            status: ProductStatus::Active,
            categories: Vec::new(),
            tags: Vec::new(),
            images: Vec::new(),
            options: Vec::new(),
            attributes: self.attributes,
            variants: vec![Variant {
                sku: self.sku,
                title: String::new(),
                option_values: Vec::new(),
                prices: [self.price].into_iter().collect(),
                stock: BTreeMap::from([(DEFAULT_LOCATION.to_string(), self.quantity)]),
                attributes: BTreeMap::new(),
                id: None,
            }],
            updated_at: self.updated_at,
            id: self.id,
        }
    }
}

impl Product {
    /// This product as a flat one, or what it has that a flat product
    /// cannot hold ("3 variants", "a description", ...). A product without
    /// stock has quantity 0.
    pub fn as_flat(&self) -> Result<FlatProduct, Vec<String>> {
        let mut beyond = Vec::new();
        let [variant] = self.variants.as_slice() else {
            beyond.push(format!("{} variants", self.variants.len()));
            return Err(beyond);
        };
        let mut note = |cond: bool, what: &str| {
            if cond {
                beyond.push(what.to_string());
            }
        };
        note(!self.options.is_empty(), "options");
        note(!self.description.is_empty(), "a description");
        note(self.status != ProductStatus::Active, "status draft");
        note(!self.images.is_empty(), "images");
        note(!self.categories.is_empty(), "categories");
        note(!self.tags.is_empty(), "tags");
        note(
            !variant.title.is_empty() && variant.title != self.title,
            "a variant title of its own",
        );
        note(!variant.attributes.is_empty(), "variant attributes");
        for location in variant.stock.keys().filter(|l| *l != DEFAULT_LOCATION) {
            beyond.push(format!("stock at location `{location}`"));
        }
        let mut prices = variant.prices.iter();
        let price = match (prices.next(), variant.prices.len()) {
            (Some(price), 1) => Some(*price),
            (None, _) => {
                beyond.push("no price".to_string());
                None
            }
            (Some(_), n) => {
                beyond.push(format!("prices in {n} currencies"));
                None
            }
        };
        match price {
            Some(price) if beyond.is_empty() => Ok(FlatProduct {
                sku: variant.sku.clone(),
                title: self.title.clone(),
                price,
                quantity: variant.stock.get(DEFAULT_LOCATION).copied().unwrap_or(0),
                attributes: self.attributes.clone(),
                updated_at: self.updated_at.clone(),
                id: self.id.clone(),
            }),
            _ => Err(beyond),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_data::*;

    fn flat() -> FlatProduct {
        FlatProduct {
            sku: "MUG-1".into(),
            title: "Mug".into(),
            price: price("19.90", "EUR"),
            quantity: 3,
            attributes: BTreeMap::from([("color".to_string(), "red".to_string())]),
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: Some("ch-7".into()),
        }
    }

    #[test]
    fn a_flat_product_is_a_product_with_one_variant_and_back() {
        let product = flat().into_product();
        product.check().unwrap();
        assert_eq!(product.handle, derive_handle("MUG-1"));
        assert_eq!(product.title, "Mug");
        assert_eq!(product.variant_title(&product.variants[0]), "Mug");
        assert_eq!(product.variants[0].stock["default"], 3);
        assert_eq!(product.attributes["color"], "red");
        assert_eq!(product.as_flat(), Ok(flat()));
    }

    #[test]
    fn what_a_flat_product_cannot_hold_is_named() {
        assert_eq!(shirt().as_flat().unwrap_err(), ["3 variants"]);
        let mut one = shirt();
        one.variants.truncate(1);
        one.variants[0].prices.insert(price("21", "USD"));
        one.variants[0].stock.insert("berlin".into(), 1);
        assert_eq!(
            one.as_flat().unwrap_err(),
            [
                "options",
                "a description",
                "images",
                "categories",
                "tags",
                "stock at location `berlin`",
                "prices in 2 currencies"
            ]
        );
        let mut no_stock = flat().into_product();
        no_stock.variants[0].stock.clear();
        assert_eq!(no_stock.as_flat().unwrap().quantity, 0);
        let mut no_price = flat().into_product();
        no_price.variants[0].prices = Default::default();
        assert_eq!(no_price.as_flat().unwrap_err(), ["no price"]);
    }

    #[test]
    fn flat_rules_keep_their_messages() {
        let mut p = flat();
        p.quantity = -1;
        assert_eq!(
            p.check().unwrap_err().to_string(),
            "invalid quantity -1: must not be negative"
        );
    }
}
