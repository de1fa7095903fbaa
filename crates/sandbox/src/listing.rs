//! `GET /products`: pages in (`updated_at`, `sku`) order, `limit`,
//! `cursor` and an inclusive `updated_since`, and nothing else.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::catalog::Item;
use crate::http::form_params;
use crate::seed::write_seeded;
use crate::shared::{Shared, read};

/// The page size when the client names none.
const DEFAULT_LIMIT: u32 = 100;

pub(crate) struct ListQuery {
    limit: u32,
    after: Option<(i128, String)>,
    /// The cursor as the client sent it (for `repeat_cursor`).
    raw_cursor: Option<String>,
    since: Option<i128>,
}

pub(crate) fn parse_list_query(raw: &str, max_page_size: u32) -> Result<ListQuery, String> {
    let params = form_params(raw.as_bytes()).ok_or("a query parameter given twice")?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !matches!(k.as_str(), "limit" | "cursor" | "updated_since"))
    {
        return Err(format!(
            "unknown query parameter `{unknown}`: expected `limit`, `cursor`, `updated_since`"
        ));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT.min(max_page_size),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=max_page_size).contains(&n) => n,
            _ => {
                return Err(format!(
                    "invalid `limit` `{text}`: expected 1 to {max_page_size}"
                ));
            }
        },
    };
    let after = match params.get("cursor") {
        None => None,
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or("invalid `cursor`: pass back a `next_cursor` exactly as received")?,
        ),
    };
    let since = match params.get("updated_since") {
        None => None,
        Some(text) => Some(
            text.parse::<jiff::Timestamp>()
                .map_err(|_| {
                    format!(
                        "invalid `updated_since` `{text}`: expected RFC 3339 such as `2026-01-31T12:00:00Z`"
                    )
                })?
                .as_nanosecond(),
        ),
    };
    Ok(ListQuery {
        limit,
        after,
        raw_cursor: params.get("cursor").cloned(),
        since,
    })
}

/// Opaque to clients: `<nanos>:<sku>` of the last item, base64url.
fn encode_cursor(nanos: i128, sku: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{nanos}:{sku}"))
}

fn decode_cursor(cursor: &str) -> Option<(i128, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (nanos, sku) = text.split_once(':')?;
    Some((nanos.parse().ok()?, sku.to_string()))
}

/// Builds a page body straight into one buffer.
pub(crate) fn list_page(shared: &Shared, query: &ListQuery, repeat_cursor: bool) -> Vec<u8> {
    let catalog = read(&shared.catalog);
    let mut items = catalog.items(query.after.as_ref(), query.since);
    let mut buf = Vec::with_capacity(64 + query.limit as usize * 240);
    buf.extend_from_slice(b"{\"products\":[");
    let mut last = None;
    for n in 0..query.limit {
        let Some(item) = items.next() else { break };
        if n > 0 {
            buf.push(b',');
        }
        match item {
            Item::Seeded(i) => write_seeded(&mut buf, i),
            Item::Stored(stored) => {
                serde_json::to_writer(&mut buf, &stored.product).expect("product serializes")
            }
        }
        last = Some(item);
    }
    let mut next = match last {
        Some(last) if items.next().is_some() => {
            let (nanos, sku) = catalog.key(last);
            Some(encode_cursor(nanos, &sku))
        }
        _ => None,
    };
    if repeat_cursor && next.is_some() {
        next = query.raw_cursor.clone().or(next);
    }
    buf.extend_from_slice(b"],\"next_cursor\":");
    serde_json::to_writer(&mut buf, &next).expect("cursor serializes");
    buf.push(b'}');
    buf
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde::Deserialize;

    use super::*;
    use crate::Switches;
    use crate::seed::{seed_nanos, seed_sku, timestamp};
    use crate::test_client::*;

    #[tokio::test]
    async fn pagination_returns_every_seeded_sku_exactly_once() {
        let sb = start(2500, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let all = import_all(&sb, &http, &access, None).await;
        let expected: Vec<String> = (1..=2500).map(seed_sku).collect();
        assert_eq!(all, expected);
        assert_eq!(sb.count("/products"), 5);
        let queries: Vec<String> = sb
            .requests()
            .into_iter()
            .filter(|r| r.path == "/products")
            .map(|r| r.query)
            .collect();
        assert_eq!(queries[0], "limit=500");
        assert!(queries[1].contains("cursor="));
    }

    #[tokio::test]
    async fn list_parameters_are_checked() {
        let sb = start(150, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let cases: &[(&str, u16, usize)] = &[
            ("", 200, 100),
            ("limit=1", 200, 1),
            ("limit=500", 200, 150),
            ("limit=0", 400, 0),
            ("limit=501", 400, 0),
            ("limit=ten", 400, 0),
            ("limit=5&limit=6", 400, 0),
            ("limit=5&page=2", 400, 0),
            ("cursor=zz", 400, 0),
            ("updated_since=yesterday", 400, 0),
            // An unencoded `+` is a space: a client must percent-encode offsets.
            ("updated_since=2025-01-01T01:00:00+01:00", 400, 0),
            (
                "updated_since=2025-01-01T01:00:00%2B01:00&limit=500",
                200,
                150,
            ),
        ];
        for (query, status, count) in cases {
            let (got, reply) = page(&sb, &http, &access, query).await;
            assert_eq!(got, *status, "{query}: {reply}");
            if *status == 200 {
                assert_eq!(skus(&reply).len(), *count, "{query}");
            } else {
                assert_eq!(reply["error"], "invalid_request", "{query}");
            }
        }
    }

    #[tokio::test]
    async fn updated_since_is_inclusive_and_filters() {
        let sb = start(2500, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let since = timestamp(seed_nanos(2001));
        let got = import_all(&sb, &http, &access, Some(&since)).await;
        assert_eq!(got, (2001..=2500).map(seed_sku).collect::<Vec<_>>());
        let between = timestamp(seed_nanos(2400) + 1);
        let got = import_all(&sb, &http, &access, Some(&between)).await;
        assert_eq!(got.first().map(String::as_str), Some("SKU-0002401"));
        let later = timestamp(seed_nanos(2501));
        assert!(
            import_all(&sb, &http, &access, Some(&later))
                .await
                .is_empty()
        );
    }

    #[test]
    fn cursors_round_trip_and_junk_is_no_cursor() {
        let cursor = encode_cursor(-5, "SKU:1 ü");
        assert_eq!(decode_cursor(&cursor), Some((-5, "SKU:1 ü".to_string())));
        for junk in ["", "zz", "%%", "bm8tY29sb24"] {
            assert_eq!(decode_cursor(junk), None, "{junk}");
        }
    }

    /// Prints (does not assert) the cost of serving 100,000 products in pages
    /// of 1000 to a bare reqwest client, both in this debug build.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn print_time_to_fetch_100k_products() {
        let sb = start(100_000, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        #[derive(Deserialize)]
        struct Page {
            products: Vec<serde::de::IgnoredAny>,
            next_cursor: Option<String>,
        }
        let started = Instant::now();
        let (mut count, mut bytes, mut cursor) = (0, 0, None::<String>);
        loop {
            let mut url = format!("{}/products?limit=500", sb.base_url());
            if let Some(cursor) = &cursor {
                url.push_str("&cursor=");
                url.push_str(cursor);
            }
            let body = get(&http, url, &access).await.bytes().await.unwrap();
            bytes += body.len();
            let page: Page = serde_json::from_slice(&body).unwrap();
            count += page.products.len();
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(count, 100_000);
        eprintln!(
            "fetched {count} products ({} MB) in 200 pages in {:?} (debug build)",
            bytes / 1_000_000,
            started.elapsed()
        );
    }
}
