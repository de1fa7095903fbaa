//! `POST /products/batch`: products with their variants, keyed by handle
//! (each variant by its SKU), and deletions of products or of some of their
//! variants, at most [`MAX_BATCH`] items, each judged from the JSON the
//! client sent and answered with its own result, in the batch's order
//! (products, then deletions).
//!
//! A product the channel holds is updated in the fields the item names in
//! `fields` (all when it names none); a variant it does not hold yet is
//! added whole; variants are never removed by an upsert, only by a
//! deletion. A product it does not hold is created whole.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog::{Catalog, Entry, nested_key};
use crate::faults::take_one;
use crate::http::{bad_request, json_only, json_response, too_large};
use crate::product::NestedProduct;
use crate::shared::{Shared, lock, write};

/// Export batches above this size are refused with 413, as the protocol says.
const MAX_BATCH: usize = 100;

/// The fields an upsert may own (`fields`), as the protocol names them.
const FIELDS: [&str; 10] = [
    "title",
    "description",
    "status",
    "images",
    "categories",
    "tags",
    "options",
    "prices",
    "stock",
    "attributes",
];

#[derive(Serialize)]
struct ItemResult {
    handle: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    variant_ids: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dropped_currencies: Vec<String>,
}

impl ItemResult {
    fn error(handle: String, error: String) -> ItemResult {
        ItemResult {
            handle,
            status: "error",
            error: Some(error),
            id: None,
            variant_ids: BTreeMap::new(),
            dropped_currencies: Vec::new(),
        }
    }

    fn done(handle: String, status: &'static str) -> ItemResult {
        ItemResult {
            handle,
            status,
            error: None,
            id: None,
            variant_ids: BTreeMap::new(),
            dropped_currencies: Vec::new(),
        }
    }
}

/// Why a channel refuses an export item; `None` when it accepts it.
fn item_problem(item: &Value) -> Option<String> {
    let Some(object) = item.as_object() else {
        return Some("item is not a JSON object".into());
    };
    if !object.contains_key("variants") {
        return Some(
            "a product needs `handle` and `variants` (a flat product with `sku` and `price` is no export item)"
                .into(),
        );
    }
    match object.get("handle") {
        Some(Value::String(handle)) if handle.trim().is_empty() => {
            return Some("empty `handle`".into());
        }
        _ => {}
    }
    let variants = object.get("variants").and_then(Value::as_array)?;
    if variants.is_empty() {
        return Some("no variants: a product has at least one".into());
    }
    for variant in variants {
        if let Some(Value::String(sku)) = variant.get("sku")
            && sku.trim().is_empty()
        {
            return Some("empty `sku`".into());
        }
        for (currency, price) in variant
            .get("prices")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Some(format!(
                    "invalid currency `{currency}`: expected three upper-case letters such as `EUR`"
                ));
            }
            match price {
                Value::String(price) if !is_decimal(price) => {
                    return Some(format!(
                        "invalid price `{price}`: expected digits with an optional `.` such as \"19.90\""
                    ));
                }
                Value::String(_) => {}
                other => {
                    return Some(format!(
                        "invalid price {other}: must be a JSON string such as \"19.90\", not a number"
                    ));
                }
            }
        }
        for (location, on_hand) in variant
            .get("stock")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if on_hand.as_i64().is_some_and(|n| n < 0) {
                return Some(format!(
                    "invalid stock {on_hand} at `{location}`: must not be negative"
                ));
            }
        }
    }
    None
}

pub(crate) fn is_decimal(price: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match price.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(price),
    }
}

/// A deletion: a whole product by handle, or some of its variants by SKU.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Deletion {
    handle: String,
    #[serde(default)]
    skus: Option<Vec<String>>,
}

pub(crate) fn batch(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Some(refused) = json_only(headers) {
        return refused;
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        #[serde(default)]
        products: Vec<Value>,
        #[serde(default)]
        delete: Vec<Deletion>,
    }
    let batch: Batch = match serde_json::from_slice(body) {
        Ok(batch) => batch,
        Err(err) => {
            return bad_request(&format!(
                "body is not `{{\"products\":[...],\"delete\":[{{\"handle\":...}}]}}` JSON: {err}"
            ));
        }
    };
    let items = batch.products.len() + batch.delete.len();
    if items > MAX_BATCH {
        return too_large(items, "items in one batch", MAX_BATCH);
    }
    let (error_keys, currencies) = {
        let switches = lock(&shared.switches);
        (
            switches.item_error_skus.clone(),
            switches.currencies.clone(),
        )
    };
    let refused = |keys: &[&str]| keys.iter().any(|k| error_keys.iter().any(|e| e == k));
    let mut catalog = write(&shared.catalog);
    let mut results: Vec<ItemResult> = Vec::with_capacity(items);
    for value in batch.products {
        let handle = value
            .get("handle")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(problem) = item_problem(&value) {
            results.push(ItemResult::error(handle, problem));
            continue;
        }
        let (item, fields) = match parse_item(value) {
            Ok(parsed) => parsed,
            Err(err) => {
                results.push(ItemResult::error(handle, err));
                continue;
            }
        };
        let keys: Vec<&str> = std::iter::once(item.handle.as_str())
            .chain(item.variants.iter().map(|v| v.sku.as_str()))
            .collect();
        if refused(&keys) {
            results.push(ItemResult::error(
                handle,
                "refused by the channel (sandbox `item_error_skus`)".into(),
            ));
            continue;
        }
        results.push(upsert(&mut catalog, item, fields.as_deref(), &currencies));
    }
    for deletion in batch.delete {
        // What the product holds counts too: the switch names SKUs.
        let held = catalog
            .entry(&nested_key(&deletion.handle))
            .map(|e| e.skus())
            .unwrap_or_default();
        let keys: Vec<&str> = std::iter::once(deletion.handle.as_str())
            .chain(deletion.skus.iter().flatten().map(String::as_str))
            .chain(held.iter().map(String::as_str))
            .collect();
        let refuse = refused(&keys);
        let result = if deletion.handle.trim().is_empty() {
            ItemResult::error(deletion.handle, "empty `handle` in `delete`".into())
        } else if refuse {
            ItemResult::error(
                deletion.handle,
                "refused by the channel (sandbox `item_error_skus`)".into(),
            )
        } else {
            match &deletion.skus {
                None => catalog.delete_key(&nested_key(&deletion.handle)),
                Some(skus) => catalog.delete_variants(&deletion.handle, skus),
            }
            ItemResult::done(deletion.handle, "deleted")
        };
        results.push(result);
    }
    drop(catalog);
    if !results.is_empty() && take_one(&mut lock(&shared.switches).omit_results_next) {
        results.pop();
    }
    json_response(StatusCode::OK, json!({ "results": results }))
}

/// The product and the fields the item owns (`None`: all).
fn parse_item(mut value: Value) -> Result<(NestedProduct, Option<Vec<String>>), String> {
    let fields = match value.as_object_mut().and_then(|o| o.remove("fields")) {
        None => None,
        Some(fields) => {
            let names: Vec<String> =
                serde_json::from_value(fields).map_err(|e| format!("invalid `fields`: {e}"))?;
            if let Some(unknown) = names.iter().find(|n| !FIELDS.contains(&n.as_str())) {
                return Err(format!(
                    "unknown field `{unknown}` in `fields` (fields: {})",
                    FIELDS.join(", ")
                ));
            }
            Some(names)
        }
    };
    let product: NestedProduct =
        serde_json::from_value(value).map_err(|err| format!("invalid product: {err}"))?;
    Ok((product, fields))
}

/// Writes one item: creates it whole, or updates the fields it owns.
fn upsert(
    catalog: &mut Catalog,
    mut item: NestedProduct,
    fields: Option<&[String]>,
    currencies: &[String],
) -> ItemResult {
    // The item's timestamp and ids are the client's, never the channel's.
    item.updated_at = String::new();
    item.id = None;
    let mut dropped = Vec::new();
    for variant in &mut item.variants {
        variant.id = None;
        if !currencies.is_empty() {
            variant.prices.retain(|currency, _| {
                let keep = currencies.contains(currency);
                if !keep && !dropped.contains(currency) {
                    dropped.push(currency.clone());
                }
                keep
            });
        }
    }
    let key = nested_key(&item.handle);
    let handle = item.handle.clone();
    let (status, stored) = match catalog.entry(&key) {
        Some(Entry::Nested(old)) => {
            let merged = merge(&old, item, fields);
            if merged == old {
                ("unchanged", old)
            } else {
                ("updated", catalog.store_nested(merged))
            }
        }
        _ => ("created", catalog.store_nested(item)),
    };
    let mut result = ItemResult::done(handle, status);
    result.id = stored.id.clone();
    result.variant_ids = stored
        .variants
        .iter()
        .filter_map(|v| v.id.clone().map(|id| (v.sku.clone(), id)))
        .collect();
    result.dropped_currencies = dropped;
    result
}

/// `old` with `item`'s values in the fields it owns; variants matched by
/// SKU, new ones added whole, none removed. Keeps `old`'s timestamp and ids
/// so an unchanged product compares equal.
fn merge(old: &NestedProduct, item: NestedProduct, fields: Option<&[String]>) -> NestedProduct {
    let owns = |field: &str| fields.is_none_or(|f| f.iter().any(|n| n == field));
    let mut merged = old.clone();
    if owns("title") {
        merged.title = item.title;
    }
    if owns("description") {
        merged.description = item.description;
    }
    if owns("status") {
        merged.status = item.status;
    }
    if owns("images") {
        merged.images = item.images;
    }
    if owns("categories") {
        merged.categories = item.categories;
    }
    if owns("tags") {
        merged.tags = item.tags;
    }
    if owns("options") {
        merged.options = item.options;
    }
    if owns("attributes") {
        merged.attributes = item.attributes;
    }
    for variant in item.variants {
        match merged.variants.iter_mut().find(|v| v.sku == variant.sku) {
            None => merged.variants.push(variant),
            Some(have) => {
                if owns("title") {
                    have.title = variant.title;
                }
                if owns("options") {
                    have.option_values = variant.option_values;
                }
                if owns("prices") {
                    have.prices = variant.prices;
                }
                if owns("stock") {
                    have.stock = variant.stock;
                }
                if owns("attributes") {
                    have.attributes = variant.attributes;
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Switches;
    use crate::test_client::*;

    fn statuses(reply: &Value) -> Vec<(String, String)> {
        reply["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["handle"].as_str().unwrap().to_string(),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn products_are_created_whole_updated_in_their_owned_fields_and_deleted() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let mut shirt = nested_json("tshirt", &[("TS-S", "19.90"), ("TS-M", "19.90")]);
        shirt["description"] = json!("Soft");
        let (status, reply) =
            export(&sb, &http, &access, json!({"products": [shirt.clone()]})).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["results"][0]["status"], "created");
        let id = reply["results"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(
            reply["results"][0]["variant_ids"]
                .as_object()
                .unwrap()
                .len(),
            2
        );
        // The same again: unchanged, the same ids.
        let (_, reply) = export(&sb, &http, &access, json!({"products": [shirt.clone()]})).await;
        assert_eq!(reply["results"][0]["status"], "unchanged");
        assert_eq!(reply["results"][0]["id"], json!(id));
        // The shop edits the description; an export owning prices and stock
        // changes a price and keeps the shop's description.
        sb.update_nested("tshirt", |p| p.description = "Edited by the shop".into())
            .unwrap();
        let mut owned = shirt.clone();
        owned["fields"] = json!(["prices", "stock"]);
        owned["variants"][1]["prices"]["EUR"] = json!("18.00");
        owned["variants"]
            .as_array_mut()
            .unwrap()
            .push(json!({"sku": "TS-L", "option_values": ["TS-L"], "prices": {"EUR": "21.00"}}));
        let (_, reply) = export(&sb, &http, &access, json!({"products": [owned]})).await;
        assert_eq!(reply["results"][0]["status"], "updated", "{reply}");
        let stored = sb.nested_product("tshirt").unwrap();
        assert_eq!(stored.description, "Edited by the shop");
        assert_eq!(stored.variants[1].prices["EUR"], "18.00");
        assert_eq!(stored.variants.len(), 3, "a new variant is added whole");
        assert_eq!(stored.id.as_deref(), Some(id.as_str()));
        // Owning every field (no `fields`): the description is the catalog's.
        let (_, reply) = export(&sb, &http, &access, json!({"products": [shirt]})).await;
        assert_eq!(reply["results"][0]["status"], "updated");
        let stored = sb.nested_product("tshirt").unwrap();
        assert_eq!(stored.description, "Soft");
        assert_eq!(stored.variants.len(), 3, "an upsert removes no variant");
        // A product naming a seeded SKU takes it from the seed.
        let (_, reply) = export(
            &sb,
            &http,
            &access,
            json!({"products": [nested_json("one", &[("SKU-0000002", "5.00")])]}),
        )
        .await;
        assert_eq!(reply["results"][0]["status"], "created");
        assert_eq!(sb.product_count(), 4, "seeds 1 and 3, the shirt and `one`");
        assert_eq!(sb.product("SKU-0000002").unwrap().price, "5.00");
        // Deletions: variants by SKU, products by handle; gone is deleted.
        let (_, reply) = export(
            &sb,
            &http,
            &access,
            json!({"delete": [{"handle": "tshirt", "skus": ["TS-S", "TS-X"]}, {"handle": "one"}, {"handle": "never-there"}]}),
        )
        .await;
        assert_eq!(
            statuses(&reply),
            pairs(&[
                ("tshirt", "deleted"),
                ("one", "deleted"),
                ("never-there", "deleted")
            ])
        );
        let stored = sb.nested_product("tshirt").unwrap();
        assert_eq!(
            stored
                .variants
                .iter()
                .map(|v| v.sku.as_str())
                .collect::<Vec<_>>(),
            ["TS-M", "TS-L"]
        );
        assert!(sb.product("SKU-0000002").is_none());
        let listed = import_all(&sb, &http, &access, None).await;
        assert_eq!(listed, ["SKU-0000001", "SKU-0000003", "tshirt"]);
        // Deleting a product's last variants deletes it.
        export(
            &sb,
            &http,
            &access,
            json!({"delete": [{"handle": "tshirt", "skus": ["TS-M", "TS-L"]}]}),
        )
        .await;
        assert!(sb.nested_product("tshirt").is_none());
    }

    #[tokio::test]
    async fn prices_in_currencies_the_channel_does_not_take_are_left_out_and_named() {
        let sb = start(0, Switches::default()).await;
        sb.update_switches(|s| s.currencies = vec!["EUR".into()]);
        let http = client();
        let access = access_token(&sb, &http).await;
        let mut item = nested_json("mug", &[("MUG", "5.00")]);
        item["variants"][0]["prices"]["JPY"] = json!("800");
        let (_, reply) = export(&sb, &http, &access, json!({"products": [item]})).await;
        assert_eq!(reply["results"][0]["status"], "created");
        assert_eq!(reply["results"][0]["dropped_currencies"], json!(["JPY"]));
        let stored = sb.nested_product("mug").unwrap();
        assert_eq!(
            stored.variants[0].prices.keys().collect::<Vec<_>>(),
            ["EUR"]
        );
    }

    #[tokio::test]
    async fn exported_changes_show_up_in_the_next_incremental_page() {
        let sb = start(2500, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let (_, last) = page(
            &sb,
            &http,
            &access,
            "limit=1&updated_since=2025-01-01T00:41:40Z",
        )
        .await;
        let high_water = last["products"][0]["updated_at"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(last["products"][0]["sku"], "SKU-0002500");
        let (status, reply) = export(
            &sb,
            &http,
            &access,
            json!({"products": [nested_json("five", &[("SKU-0000005", "7.77")]), nested_json("new-1", &[("NEW-1", "1.00")])]}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            statuses(&reply),
            pairs(&[("five", "created"), ("new-1", "created")])
        );
        let got = import_all(&sb, &http, &access, Some(&high_water)).await;
        assert_eq!(got, ["SKU-0002500", "five", "new-1"]);
        let stored = sb.product("SKU-0000005").unwrap();
        assert_eq!(stored.price, "7.77");
        assert!(stored.updated_at > high_water);
        assert_eq!(sb.product_count(), 2501, "`five` replaced seed 5");
        let all = import_all(&sb, &http, &access, None).await;
        assert_eq!(all.len(), 2501);
        assert!(!all.contains(&"SKU-0000005".to_string()));
        // Rust-side changes behave the same way.
        sb.update_product("SKU-0000001", |p| p.quantity = 0)
            .unwrap();
        let got = import_all(&sb, &http, &access, Some(&high_water)).await;
        assert_eq!(got.last().unwrap(), "SKU-0000001");
    }

    #[tokio::test]
    async fn batch_limits_and_per_item_errors() {
        let sb = start(10, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;

        let items: Vec<Value> = (0..60)
            .map(|i| nested_json(&format!("b-{i}"), &[(&format!("B-{i}"), "1")]))
            .collect();
        let delete: Vec<Value> = (0..41)
            .map(|i| json!({"handle": format!("d-{i}")}))
            .collect();
        assert_eq!(
            export(
                &sb,
                &http,
                &access,
                json!({"products": items, "delete": delete})
            )
            .await
            .0,
            413,
            "products and deletions count together"
        );
        let hundred: Vec<Value> = (0..100)
            .map(|i| nested_json(&format!("x-{i}"), &[(&format!("X{i}"), "1")]))
            .collect();
        assert_eq!(
            export(&sb, &http, &access, json!({ "products": hundred }))
                .await
                .0,
            200
        );
        let not_json = http
            .post(format!("{}/products/batch", sb.base_url()))
            .bearer_auth(&access)
            .header("content-type", "application/json")
            .body("{products: oops")
            .send()
            .await
            .unwrap();
        assert_eq!(not_json.status(), 400);
        let old_delete = export(&sb, &http, &access, json!({"delete": ["SKU-0000001"]})).await;
        assert_eq!(old_delete.0, 400, "deletions name a handle");

        sb.update_switches(|s| s.item_error_skus = vec!["REFUSED".into()]);
        let with = |handle: &str, edit: &dyn Fn(&mut Value)| {
            let mut item = nested_json(handle, &[(&handle.to_uppercase(), "1.00")]);
            edit(&mut item);
            item
        };
        let items = json!({"products": [
            with("float", &|i| i["variants"][0]["prices"]["EUR"] = json!(19.9)),
            with("ok-1", &|_| {}),
            with("cur", &|i| i["variants"][0]["prices"] = json!({"eur": "1"})),
            with("neg", &|i| i["variants"][0]["stock"]["default"] = json!(-1)),
            with("sku", &|i| i["variants"][0]["sku"] = json!(" ")),
            with("dec", &|i| i["variants"][0]["prices"]["EUR"] = json!("1.2.3")),
            with("extra", &|i| i["colour"] = json!("red")),
            with("refused", &|_| {}),
            with("none", &|i| i["variants"] = json!([])),
            with("fields", &|i| i["fields"] = json!(["price"])),
            product_json("FLAT", json!("1.00")),
            "not an object",
        ]});
        let (status, reply) = export(&sb, &http, &access, items).await;
        assert_eq!(status, 200, "{reply}");
        let results = reply["results"].as_array().unwrap();
        let got: Vec<&str> = results
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        let mut expected = vec!["error"; 12];
        expected[1] = "created";
        assert_eq!(got, expected, "{reply}");
        let error = |i: usize| results[i]["error"].as_str().unwrap().to_string();
        assert!(error(0).contains("not a number"), "{}", error(0));
        assert!(
            error(9).contains("unknown field `price` in `fields`"),
            "{}",
            error(9)
        );
        assert!(
            error(10).contains("a product needs `handle` and `variants`"),
            "{}",
            error(10)
        );
        assert!(
            results
                .iter()
                .all(|r| (r["status"] == "error") == r.get("error").is_some())
        );
        assert!(sb.nested_product("float").is_none());
        assert_eq!(sb.product("OK-1").unwrap().price, "1.00");
        let recorded = sb
            .requests()
            .into_iter()
            .rfind(|r| r.path == "/products/batch")
            .unwrap();
        assert!(recorded.body.unwrap().contains("\"float\""));
    }
}
