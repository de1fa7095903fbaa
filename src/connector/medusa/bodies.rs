//! The JSON bodies an export sends Medusa: a product created whole, a
//! variant created or updated, metadata, images, amounts; and the size a
//! product's create request is counted at.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::amount;
use super::export::Links;
use super::import::StoreContext;
use super::options::variant_options;
use super::wire::{self, DEFAULT_OPTION, WireVariant};
use crate::catalog::{Field, FieldSet, Product, Variant};

/// Medusa's metadata for these attributes: every desired key, and the
/// removed ones as "" (Medusa deletes a metadata key set to "").
pub(super) fn metadata(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Value {
    let mut map = serde_json::Map::new();
    for key in current.keys().filter(|k| !desired.contains_key(*k)) {
        map.insert(key.clone(), json!(""));
    }
    for (key, value) in desired {
        map.insert(key.clone(), json!(value));
    }
    Value::Object(map)
}

pub(super) fn images(product: &Product) -> Value {
    Value::Array(
        product
            .images
            .iter()
            .map(|i| json!({ "url": i.url }))
            .collect(),
    )
}

/// A price list entry; the amount goes out as the price's own digits.
fn amount_value(price: &crate::price::Price) -> Value {
    serde_json::from_str(&amount::price_to_amount(price)).expect("a price's text is a JSON number")
}

pub(super) fn variant_create(product: &Product, variant: &Variant) -> Value {
    let prices: Vec<Value> = variant
        .prices
        .iter()
        .map(|p| {
            json!({
                "currency_code": p.currency().code().to_ascii_lowercase(),
                "amount": amount_value(p),
            })
        })
        .collect();
    let position = product
        .variants
        .iter()
        .position(|v| v.sku == variant.sku)
        .unwrap_or(0);
    let mut body = json!({
        "title": product.variant_title(variant),
        "sku": variant.sku,
        "manage_inventory": true,
        "variant_rank": position,
        "options": variant_options(product, variant),
        "prices": prices,
    });
    if !variant.attributes.is_empty() {
        body["metadata"] = json!(variant.attributes);
    }
    body
}

/// The body creating `product` whole in one call.
pub(super) fn create_body(product: &Product, ctx: &StoreContext, links: &Links) -> Value {
    let options: Vec<Value> = if product.options.is_empty() {
        vec![json!({"title": DEFAULT_OPTION, "values": [DEFAULT_OPTION]})]
    } else {
        product
            .options
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut values: Vec<&str> = Vec::new();
                for variant in &product.variants {
                    if let Some(value) = variant.option_values.get(i)
                        && !values.contains(&value.as_str())
                    {
                        values.push(value);
                    }
                }
                json!({"title": name, "values": values})
            })
            .collect()
    };
    let mut body = json!({
        "title": product.title,
        "handle": product.handle,
        "status": wire::status_out(product.status),
        "options": options,
        "sales_channels": [{"id": ctx.sales_channel_id}],
        "variants": product.variants.iter().map(|v| variant_create(product, v)).collect::<Vec<_>>(),
    });
    if !product.description.is_empty() {
        body["description"] = json!(product.description);
    }
    if !product.images.is_empty() {
        body["images"] = images(product);
    }
    if !product.attributes.is_empty() {
        body["metadata"] = json!(product.attributes);
    }
    if !product.categories.is_empty() {
        body["categories"] = links.categories_of(product);
    }
    if !product.tags.is_empty() {
        body["tags"] = links.tags_of(product);
    }
    body
}

/// The update of one variant's owned fields that changed; `None` when no
/// field Medusa keeps on the variant changed. Prices list every base price
/// the variant is to have (by id where it has one: a missing one is
/// created) and keep its other prices (region, customer group) by id,
/// because the list replaces the variant's prices.
pub(super) fn variant_update(
    product: &Product,
    variant: &Variant,
    wire: &WireVariant,
    changed: FieldSet,
) -> Option<Value> {
    let mut update = serde_json::Map::new();
    if changed.contains(Field::Title) {
        update.insert("title".into(), json!(product.variant_title(variant)));
    }
    if changed.contains(Field::Options) {
        update.insert("options".into(), variant_options(product, variant));
    }
    if changed.contains(Field::Attributes) {
        let current: BTreeMap<String, String> = wire
            .metadata
            .iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
        update.insert("metadata".into(), metadata(&current, &variant.attributes));
    }
    if changed.contains(Field::Prices) {
        let mut prices: Vec<Value> = variant
            .prices
            .iter()
            .map(|p| {
                let code = p.currency().code().to_ascii_lowercase();
                let mut entry = json!({"currency_code": code, "amount": amount_value(p)});
                if let Some(id) = wire.base_price(&code).and_then(|w| w.id.as_deref()) {
                    entry["id"] = json!(id);
                }
                entry
            })
            .collect();
        prices.extend(
            wire.prices
                .iter()
                .filter(|p| !p.is_base())
                .filter_map(|p| p.id.as_deref())
                .map(|id| json!({ "id": id })),
        );
        update.insert("prices".into(), Value::Array(prices));
    }
    if update.is_empty() {
        return None;
    }
    update.insert("id".into(), json!(wire.id));
    Some(Value::Object(update))
}

/// About how many bytes `product` takes in a create request: the
/// product's JSON with room for what Medusa's shape adds per variant.
pub fn request_bytes(product: &Product) -> usize {
    product.to_json().len() + 200 + product.variants.len() * 160
}
