//! beta-rest stock: `POST {base}/stock/batch` sets absolute levels per SKU
//! and platform location, one result per level in order; `POST
//! {base}/stock/read` reads the levels of some SKUs. Catalog locations go
//! out through the channel's `[locations]` (unmapped: the same name, so
//! the catalog's `default` is the platform's `default`), and come back
//! through it.

use serde::{Deserialize, Serialize};

use super::wire::catalog_location;
use super::{BetaRestClient, Url};
use crate::connector::http::{excerpt_at, shown};
use crate::connector::{ChannelError, LocationMap, StockOutcome, StockReading, StockSet};

#[derive(Serialize)]
struct LevelOut<'a> {
    sku: &'a str,
    location: &'a str,
    available: i64,
}

#[derive(Deserialize)]
struct LevelResult {
    sku: String,
    location: String,
    status: String,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct LevelIn {
    sku: String,
    location: String,
    quantity: i64,
}

/// The platform's location for a catalog location.
fn platform_location<'a>(locations: &'a LocationMap, catalog: &'a str) -> &'a str {
    locations.get(catalog).map_or(catalog, String::as_str)
}

fn malformed(url: &Url, what: String, excerpt: String) -> ChannelError {
    ChannelError::Malformed {
        url: shown(url),
        what,
        excerpt,
    }
}

impl BetaRestClient {
    /// POST {base}/stock/batch `{"levels":[{"sku","location","available"}]}`;
    /// a reply without one result per level, in order, is malformed.
    pub async fn send_stock(
        &self,
        base_url: &Url,
        access_token: &str,
        levels: &[StockSet],
        locations: &LocationMap,
    ) -> Result<Vec<StockOutcome>, ChannelError> {
        if levels.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            levels: Vec<LevelOut<'a>>,
        }
        let sent: Vec<LevelOut<'_>> = levels
            .iter()
            .map(|l| LevelOut {
                sku: &l.sku,
                location: platform_location(locations, &l.location),
                available: l.available,
            })
            .collect();
        let body = serde_json::to_vec(&Wire { levels: sent }).map_err(|err| {
            ChannelError::Options(format!("stock levels did not serialize: {err}"))
        })?;
        // Absolute levels keyed by SKU and location: resending is safe.
        let (url, reply) = self
            .post_json(base_url, access_token, &["stock", "batch"], body)
            .await?;
        parse_stock_reply(&url, reply.body(), levels, locations)
    }

    /// POST {base}/stock/read `{"skus":[...]}` -> `{"levels":[{"sku",
    /// "location","quantity"}]}`: every level the channel holds of them.
    pub async fn read_stock(
        &self,
        base_url: &Url,
        access_token: &str,
        skus: &[String],
        locations: &LocationMap,
    ) -> Result<Vec<StockReading>, ChannelError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            skus: &'a [String],
        }
        #[derive(Deserialize)]
        struct Reply {
            levels: Vec<LevelIn>,
        }
        let body = serde_json::to_vec(&Wire { skus }).map_err(|err| {
            ChannelError::Options(format!("a stock read did not serialize: {err}"))
        })?;
        let (url, reply) = self
            .post_json(base_url, access_token, &["stock", "read"], body)
            .await?;
        let wire: Reply = serde_json::from_slice(reply.body()).map_err(|err| {
            malformed(
                &url,
                format!("not a valid stock reading (`{{\"levels\":[...]}}`): {err}"),
                excerpt_at(reply.body(), err.line(), err.column()),
            )
        })?;
        Ok(wire
            .levels
            .into_iter()
            .map(|l| StockReading {
                sku: l.sku,
                location: catalog_location(locations, l.location),
                quantity: l.quantity,
            })
            .collect())
    }
}

fn parse_stock_reply(
    url: &Url,
    body: &[u8],
    sent: &[StockSet],
    locations: &LocationMap,
) -> Result<Vec<StockOutcome>, ChannelError> {
    #[derive(Deserialize)]
    struct Wire {
        results: Vec<LevelResult>,
    }
    let wire: Wire = serde_json::from_slice(body).map_err(|err| {
        malformed(
            url,
            format!("not a valid stock reply (`{{\"results\":[...]}}`): {err}"),
            excerpt_at(body, err.line(), err.column()),
        )
    })?;
    if wire.results.len() != sent.len() {
        return Err(malformed(
            url,
            format!(
                "the stock reply has {} results for {} levels",
                wire.results.len(),
                sent.len()
            ),
            String::new(),
        ));
    }
    let mut outcomes = Vec::with_capacity(sent.len());
    for (result, level) in wire.results.into_iter().zip(sent) {
        let location = platform_location(locations, &level.location);
        if result.sku != level.sku || result.location != location {
            return Err(malformed(
                url,
                format!(
                    "the stock reply has a result for `{}` at `{}` where the batch had `{}` at `{location}` (results come in the batch's order)",
                    result.sku.escape_debug(),
                    result.location.escape_debug(),
                    level.sku.escape_debug()
                ),
                String::new(),
            ));
        }
        outcomes.push(match result.status.as_str() {
            "set" => StockOutcome::Set,
            "unknown_sku" => StockOutcome::UnknownSku,
            "unknown_location" => StockOutcome::UnknownLocation,
            "error" => StockOutcome::Refused(
                result
                    .error
                    .unwrap_or_else(|| "refused without a reason".into()),
            ),
            other => {
                return Err(malformed(
                    url,
                    format!(
                        "the stock reply says `{}` for `{}`: expected set, unknown_sku, unknown_location or error",
                        other.escape_debug(),
                        level.sku.escape_debug()
                    ),
                    String::new(),
                ));
            }
        });
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(sku: &str, location: &str) -> StockSet {
        StockSet {
            sku: sku.into(),
            location: location.into(),
            available: 3,
        }
    }

    #[test]
    fn replies_map_to_outcomes_in_order_through_the_location_map() {
        let url: Url = "https://x.example/stock/batch".parse().unwrap();
        let map = LocationMap::from([("north".to_string(), "wh-1".to_string())]);
        let sent = [
            level("A", "north"),
            level("B", "north"),
            level("C", "default"),
        ];
        let body = br#"{"results":[
            {"sku":"A","location":"wh-1","status":"set"},
            {"sku":"B","location":"wh-1","status":"unknown_sku"},
            {"sku":"C","location":"default","status":"error","error":"locked"}]}"#;
        assert_eq!(
            parse_stock_reply(&url, body, &sent, &map).unwrap(),
            [
                StockOutcome::Set,
                StockOutcome::UnknownSku,
                StockOutcome::Refused("locked".into())
            ]
        );
        for bad in [
            &br#"{"results":[{"sku":"A","location":"wh-1","status":"set"}]}"#[..],
            br#"{"results":[{"sku":"B","location":"wh-1","status":"set"},{"sku":"A","location":"wh-1","status":"set"},{"sku":"C","location":"default","status":"set"}]}"#,
            br#"{"results":[{"sku":"A","location":"wh-1","status":"maybe"},{"sku":"B","location":"wh-1","status":"set"},{"sku":"C","location":"default","status":"set"}]}"#,
            b"[]",
        ] {
            let err = parse_stock_reply(&url, bad, &sent, &map).unwrap_err();
            assert!(matches!(err, ChannelError::Malformed { .. }), "{err}");
        }
    }
}
