//! Stock levels: `POST /stock/batch` sets absolute levels per SKU and
//! location, `{"levels":[{"sku","location","available"}]}` (at most the
//! sandbox's `max_stock_batch`), answering one result per level in order:
//! `set`, `unknown_sku` (no product holds it: stock never creates one),
//! `unknown_location` (a flat product has only `default`), or `error`
//! (the SKU is in the `item_error_skus` switch). `POST /stock/read`
//! `{"skus":[...]}` answers `{"levels":[{"sku","location","quantity"}]}`
//! for those the sandbox holds. Each level received is counted, so a test
//! can assert how many a run sent.

use std::sync::atomic::Ordering;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalog::{Catalog, Entry};
use crate::http::{bad_request, json_only, json_response, too_large};
use crate::product::DEFAULT_LOCATION;
use crate::shared::{Shared, lock, read, write};

/// Why a level could not be set.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LevelRefusal {
    UnknownSku,
    UnknownLocation,
}

impl Catalog {
    /// Sets `sku`'s stock at `location` to `quantity` (and `updated_at` to
    /// now, as a shop's own stock edit would), unless it already is.
    pub(crate) fn set_level(
        &mut self,
        sku: &str,
        location: &str,
        quantity: i64,
    ) -> Result<(), LevelRefusal> {
        let entry = self
            .owner(sku)
            .and_then(|key| self.entry(&key))
            .ok_or(LevelRefusal::UnknownSku)?;
        let changed = match entry {
            Entry::Flat(mut p) => {
                if location != DEFAULT_LOCATION {
                    return Err(LevelRefusal::UnknownLocation);
                }
                if p.quantity == quantity {
                    return Ok(());
                }
                p.quantity = quantity;
                Entry::Flat(p)
            }
            Entry::Nested(mut p) => {
                let variant = p
                    .variants
                    .iter_mut()
                    .find(|v| v.sku == sku)
                    .ok_or(LevelRefusal::UnknownSku)?;
                if variant.stock.get(location) == Some(&quantity) {
                    return Ok(());
                }
                variant.stock.insert(location.to_string(), quantity);
                Entry::Nested(p)
            }
        };
        self.store(changed);
        Ok(())
    }

    /// Every level of `sku` the sandbox holds, by location.
    pub(crate) fn levels(&self, sku: &str) -> Vec<(String, i64)> {
        match self.owner(sku).and_then(|key| self.entry(&key)) {
            Some(Entry::Flat(p)) => vec![(DEFAULT_LOCATION.to_string(), p.quantity)],
            Some(Entry::Nested(p)) => p
                .variant(sku)
                .map(|v| v.stock.iter().map(|(l, q)| (l.clone(), *q)).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }
}

pub(crate) fn stock_batch(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Some(refused) = json_only(headers) {
        return refused;
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Level {
        sku: String,
        location: String,
        available: i64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        levels: Vec<Level>,
    }
    let batch: Batch = match serde_json::from_slice(body) {
        Ok(batch) => batch,
        Err(err) => {
            return bad_request(&format!(
                "body is not `{{\"levels\":[{{\"sku\",\"location\",\"available\"}}]}}` JSON: {err}"
            ));
        }
    };
    if batch.levels.len() > shared.max_stock_batch {
        return too_large(
            batch.levels.len(),
            "levels in one batch",
            shared.max_stock_batch,
        );
    }
    shared
        .stock_levels_received
        .fetch_add(batch.levels.len() as u64, Ordering::Relaxed);
    let error_skus = lock(&shared.switches).item_error_skus.clone();
    let mut catalog = write(&shared.catalog);
    let results: Vec<Value> = batch
        .levels
        .into_iter()
        .map(|level| {
            let (status, error) = if level.available < 0 {
                (
                    "error",
                    Some(format!("available {} is negative", level.available)),
                )
            } else if error_skus.contains(&level.sku) {
                (
                    "error",
                    Some("refused by the channel (sandbox `item_error_skus`)".to_string()),
                )
            } else {
                match catalog.set_level(&level.sku, &level.location, level.available) {
                    Ok(()) => ("set", None),
                    Err(LevelRefusal::UnknownSku) => ("unknown_sku", None),
                    Err(LevelRefusal::UnknownLocation) => ("unknown_location", None),
                }
            };
            let mut result =
                json!({"sku": level.sku, "location": level.location, "status": status});
            if let Some(error) = error {
                result["error"] = json!(error);
            }
            result
        })
        .collect();
    json_response(StatusCode::OK, json!({ "results": results }))
}

pub(crate) fn stock_read(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Some(refused) = json_only(headers) {
        return refused;
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Read {
        skus: Vec<String>,
    }
    let wanted: Read = match serde_json::from_slice(body) {
        Ok(wanted) => wanted,
        Err(err) => return bad_request(&format!("body is not `{{\"skus\":[...]}}` JSON: {err}")),
    };
    if wanted.skus.len() > shared.max_stock_batch {
        return too_large(
            wanted.skus.len(),
            "SKUs in one read",
            shared.max_stock_batch,
        );
    }
    let catalog = read(&shared.catalog);
    let levels: Vec<Value> = wanted
        .skus
        .iter()
        .flat_map(|sku| {
            catalog
                .levels(sku)
                .into_iter()
                .map(move |(location, quantity)| json!({"sku": sku, "location": location, "quantity": quantity}))
        })
        .collect();
    json_response(StatusCode::OK, json!({ "levels": levels }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_client::*;
    use crate::{NestedProduct, NestedVariant, Switches};

    fn nested(handle: &str, sku: &str) -> NestedProduct {
        NestedProduct {
            handle: handle.into(),
            title: handle.into(),
            description: String::new(),
            status: "active".into(),
            categories: vec![],
            tags: vec![],
            images: vec![],
            options: vec![],
            attributes: Default::default(),
            variants: vec![NestedVariant {
                sku: sku.into(),
                ..Default::default()
            }],
            updated_at: String::new(),
            id: None,
        }
    }

    #[tokio::test]
    async fn levels_are_set_per_location_counted_and_read_back() {
        let sb = start(1, Switches::default()).await;
        sb.put_nested(nested("shirt", "SHIRT-M"));
        sb.update_switches(|s| s.item_error_skus = vec!["SHIRT-M-LOCKED".into()]);
        let http = client();
        let token = access_token(&sb, &http).await;
        let post = async |path: &str, body: serde_json::Value| {
            let reply = http
                .post(format!("{}{path}", sb.base_url()))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            (status, reply.json::<serde_json::Value>().await.unwrap())
        };
        let (_, reply) = post(
            "/stock/batch",
            json!({"levels": [
                {"sku": "SHIRT-M", "location": "wh-1", "available": 4},
                {"sku": "SHIRT-M", "location": "wh-2", "available": 0},
                {"sku": "SKU-0000001", "location": "default", "available": 9},
                {"sku": "SKU-0000001", "location": "wh-1", "available": 9},
                {"sku": "NOPE", "location": "wh-1", "available": 1},
                {"sku": "SHIRT-M-LOCKED", "location": "wh-1", "available": 1},
            ]}),
        )
        .await;
        let statuses: Vec<&str> = reply["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [
                "set",
                "set",
                "set",
                "unknown_location",
                "unknown_sku",
                "error"
            ]
        );
        assert_eq!(sb.stock_levels_received(), 6);
        assert_eq!(sb.stock_requests(), 1);
        assert_eq!(sb.product("SKU-0000001").unwrap().quantity, 9);
        let (_, read) = post("/stock/read", json!({"skus": ["SHIRT-M", "NOPE"]})).await;
        assert_eq!(
            read,
            json!({"levels": [
                {"sku": "SHIRT-M", "location": "wh-1", "quantity": 4},
                {"sku": "SHIRT-M", "location": "wh-2", "quantity": 0},
            ]})
        );
        let too_many: Vec<_> = (0..101)
            .map(|i| json!({"sku": "SHIRT-M", "location": format!("wh-{i}"), "available": 1}))
            .collect();
        let (status, _) = post("/stock/batch", json!({ "levels": too_many })).await;
        assert_eq!(status, 413);
        assert_eq!(
            sb.stock_levels_received(),
            6,
            "a refused batch sets nothing"
        );
    }
}
