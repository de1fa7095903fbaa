//! Catalog files as a user writes them for `products load`: JSON Lines of
//! products (the catalog's own format, built with `serde_json`).

use std::ops::Range;

use serde_json::{Value, json};

/// A catalog product as a `products load` JSON line (EUR, 5 in stock, one
/// attribute).
pub fn product(sku: &str, price: &str) -> Value {
    json!({
        "sku": sku,
        "title": format!("Product {sku}"),
        "price": price,
        "currency": "EUR",
        "quantity": 5,
        "attributes": {"color": "red"},
        "updated_at": "2026-01-31T12:00:00Z",
    })
}

/// `CAT-00000`.. for each `i` in `range`: seeded-looking products with this
/// price, a stock and an attribute derived from `i`.
pub fn numbered(range: Range<u32>, price: &str) -> Vec<Value> {
    range
        .map(|i| {
            json!({
                "sku": format!("CAT-{i:05}"),
                "title": format!("Catalog product {i}"),
                "price": price,
                "currency": "EUR",
                "quantity": i % 17,
                "attributes": {"colour": format!("c{}", i % 5)},
                "updated_at": "2026-01-01T00:00:00Z",
            })
        })
        .collect()
}

/// The lines as a JSON Lines file's text.
pub fn jsonl(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}
