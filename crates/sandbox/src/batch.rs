//! `POST /products/batch`: SKU-keyed upserts and deletions, at most
//! [`MAX_BATCH`] items, each judged from the JSON the client sent and
//! answered with its own result.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Product;
use crate::faults::take_one;
use crate::http::{bad_request, content_type_is, json_response};
use crate::shared::{Shared, lock, write};

/// Export batches above this size are refused with 413, as the protocol says.
const MAX_BATCH: usize = 100;

#[derive(Serialize)]
struct ItemResult {
    sku: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Why a channel refuses an export item; `None` when it accepts it.
fn item_problem(item: &Value) -> Option<String> {
    let Some(object) = item.as_object() else {
        return Some("item is not a JSON object".into());
    };
    match object.get("price") {
        Some(Value::String(price)) if !is_decimal(price) => {
            return Some(format!(
                "invalid `price` `{price}`: expected digits with an optional `.` such as \"19.90\""
            ));
        }
        Some(Value::String(_)) | None => {}
        Some(other) => {
            return Some(format!(
                "invalid `price` {other}: must be a JSON string such as \"19.90\", not a number"
            ));
        }
    }
    if let Some(Value::String(sku)) = object.get("sku")
        && sku.trim().is_empty()
    {
        return Some("empty `sku`".into());
    }
    if let Some(Value::String(currency)) = object.get("currency")
        && (currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Some(format!(
            "invalid `currency` `{currency}`: expected three upper-case letters such as `EUR`"
        ));
    }
    if let Some(quantity) = object.get("quantity").and_then(Value::as_i64)
        && quantity < 0
    {
        return Some(format!(
            "invalid `quantity` {quantity}: must not be negative"
        ));
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

pub(crate) fn batch(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    if !content_type_is(headers, &mime::APPLICATION_JSON) {
        return json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": "invalid_request", "error_description": "the body must be `application/json`"}),
        );
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        #[serde(default)]
        products: Vec<Value>,
        /// Skus to delete; each gets a `deleted` (or `error`) result.
        #[serde(default)]
        delete: Vec<String>,
    }
    let batch: Batch = match serde_json::from_slice(body) {
        Ok(batch) => batch,
        Err(err) => {
            return bad_request(&format!(
                "body is not `{{\"products\":[...],\"delete\":[...]}}` JSON: {err}"
            ));
        }
    };
    let items = batch.products.len() + batch.delete.len();
    if items > MAX_BATCH {
        return json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({
                "error": "batch_too_large",
                "error_description": format!("{items} products in one batch: at most {MAX_BATCH}"),
            }),
        );
    }
    let error_skus = lock(&shared.switches).item_error_skus.clone();
    let mut catalog = write(&shared.catalog);
    let results: Vec<ItemResult> = batch
        .products
        .into_iter()
        .map(|value| {
            let sku = value
                .get("sku")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let error = |error: String| ItemResult {
                sku: sku.clone(),
                status: "error",
                error: Some(error),
            };
            if let Some(problem) = item_problem(&value) {
                return error(problem);
            }
            let item = match serde_json::from_value::<Product>(value) {
                Ok(item) => item,
                Err(err) => return error(format!("invalid product: {err}")),
            };
            if error_skus.contains(&item.sku) {
                return error("refused by the channel (sandbox `item_error_skus`)".into());
            }
            ItemResult {
                status: catalog.upsert(item),
                sku: sku.clone(),
                error: None,
            }
        })
        .collect();
    let mut results = results;
    for sku in batch.delete {
        let result = if sku.trim().is_empty() {
            ItemResult {
                sku,
                status: "error",
                error: Some("empty `sku` in `delete`".into()),
            }
        } else if error_skus.contains(&sku) {
            ItemResult {
                sku,
                status: "error",
                error: Some("refused by the channel (sandbox `item_error_skus`)".into()),
            }
        } else {
            catalog.delete(&sku);
            ItemResult {
                sku,
                status: "deleted",
                error: None,
            }
        };
        results.push(result);
    }
    drop(catalog);
    if !results.is_empty() && take_one(&mut lock(&shared.switches).omit_results_next) {
        results.pop();
    }
    json_response(StatusCode::OK, json!({ "results": results }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Switches;
    use crate::test_client::*;

    #[tokio::test]
    async fn batch_delete_removes_seeded_and_stored_products() {
        let sb = start(5, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let (status, _) = export(
            &sb,
            &http,
            &access,
            json!({"products": [product_json("NEW-1", json!("1.00"))]}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(sb.product_count(), 6);
        sb.update_switches(|s| s.item_error_skus = vec!["SKU-0000003".into()]);
        let (status, reply) = export(
            &sb,
            &http,
            &access,
            json!({"delete": ["SKU-0000001", "NEW-1", "GONE-9", "SKU-0000003"]}),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        let statuses: Vec<(&str, &str)> = reply["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["sku"].as_str().unwrap(), r["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("SKU-0000001", "deleted"),
                ("NEW-1", "deleted"),
                ("GONE-9", "deleted"),
                ("SKU-0000003", "error")
            ]
        );
        assert_eq!(sb.product_count(), 4);
        assert!(sb.product("SKU-0000001").is_none());
        assert!(sb.product("NEW-1").is_none());
        assert!(sb.product("SKU-0000003").is_some());
        let listed = import_all(&sb, &http, &access, None).await;
        assert_eq!(
            listed,
            ["SKU-0000002", "SKU-0000003", "SKU-0000004", "SKU-0000005"]
        );
        // A deleted product can come back.
        let (_, reply) = export(
            &sb,
            &http,
            &access,
            json!({"products": [product_json("SKU-0000001", json!("2.00"))], "delete": []}),
        )
        .await;
        assert_eq!(reply["results"][0]["status"], "created");
        // Upserts and deletions count together against the batch limit.
        let products: Vec<Value> = (0..60)
            .map(|i| product_json(&format!("B-{i}"), json!("1")))
            .collect();
        let delete: Vec<String> = (0..41).map(|i| format!("D-{i}")).collect();
        let (status, _) = export(
            &sb,
            &http,
            &access,
            json!({"products": products, "delete": delete}),
        )
        .await;
        assert_eq!(status, 413);
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

        let mut changed = serde_json::to_value(sb.product("SKU-0000005").unwrap()).unwrap();
        changed["price"] = json!("7.77");
        let (status, reply) = export(
            &sb,
            &http,
            &access,
            json!({"products": [changed, product_json("NEW-1", json!("1.00"))]}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            reply["results"][0],
            json!({"sku": "SKU-0000005", "status": "updated"})
        );
        assert_eq!(
            reply["results"][1],
            json!({"sku": "NEW-1", "status": "created"})
        );

        let got = import_all(&sb, &http, &access, Some(&high_water)).await;
        assert_eq!(got, ["SKU-0002500", "SKU-0000005", "NEW-1"]);
        let stored = sb.product("SKU-0000005").unwrap();
        assert_eq!(
            (stored.price.as_str(), stored.id.as_deref()),
            ("7.77", Some("p-5"))
        );
        assert!(stored.updated_at > high_water);
        assert_eq!(sb.product_count(), 2501);
        // A full import still sees every sku once, the changed one at the end.
        let all = import_all(&sb, &http, &access, None).await;
        assert_eq!(all.len(), 2501);
        assert_eq!(all.iter().filter(|s| *s == "SKU-0000005").count(), 1);
        assert_eq!(all.last().unwrap(), "NEW-1");

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

        let too_many: Vec<Value> = (0..101)
            .map(|i| product_json(&format!("X{i}"), json!("1")))
            .collect();
        assert_eq!(
            export(&sb, &http, &access, json!({ "products": too_many }))
                .await
                .0,
            413
        );
        let hundred: Vec<Value> = (0..100)
            .map(|i| product_json(&format!("X{i}"), json!("1")))
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

        sb.update_switches(|s| s.item_error_skus = vec!["REFUSED".into()]);
        let unchanged = serde_json::to_value(sb.product("SKU-0000002").unwrap()).unwrap();
        let mut bad_currency = product_json("B2", json!("1.00"));
        bad_currency["currency"] = json!("eur");
        let mut negative = product_json("B3", json!("1.00"));
        negative["quantity"] = json!(-1);
        let mut extra = product_json("B4", json!("1.00"));
        extra["colour"] = json!("red");
        let items = json!({"products": [
            product_json("FLOAT", json!(19.9)),
            product_json("OK-1", json!("19.90")),
            bad_currency,
            negative,
            product_json("", json!("1")),
            product_json("B5", json!("1.2.3")),
            product_json("B6", json!("-5")),
            extra,
            product_json("REFUSED", json!("1")),
            unchanged,
            "not an object",
        ]});
        let (status, reply) = export(&sb, &http, &access, items).await;
        assert_eq!(status, 200, "{reply}");
        let results = reply["results"].as_array().unwrap();
        let got: Vec<(&str, &str)> = results
            .iter()
            .map(|r| (r["sku"].as_str().unwrap(), r["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("FLOAT", "error"),
                ("OK-1", "created"),
                ("B2", "error"),
                ("B3", "error"),
                ("", "error"),
                ("B5", "error"),
                ("B6", "error"),
                ("B4", "error"),
                ("REFUSED", "error"),
                ("SKU-0000002", "unchanged"),
                ("", "error"),
            ]
        );
        assert!(
            results[0]["error"]
                .as_str()
                .unwrap()
                .contains("not a number")
        );
        assert!(
            results
                .iter()
                .all(|r| (r["status"] == "error") == r.get("error").is_some())
        );
        assert!(sb.product("FLOAT").is_none());
        assert_eq!(sb.product("OK-1").unwrap().price, "19.90");
        let recorded = sb
            .requests()
            .into_iter()
            .rfind(|r| r.path == "/products/batch")
            .unwrap();
        assert!(recorded.body.unwrap().contains("\"FLOAT\""));
    }
}
