//! Product files for `products load`: JSON Lines (one product object a line)
//! or CSV (a header row; columns sku, title, price, currency, quantity,
//! updated_at, optional id, and `attr.<name>` columns for attributes).
//! Parsing is all or nothing: the first bad line rejects the whole file.

use std::collections::{BTreeMap, HashSet};

use crate::product::Product;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProductFileError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{0}")]
    File(String),
}

fn at(line: usize, message: impl Into<String>) -> ProductFileError {
    ProductFileError::Line {
        line,
        message: message.into(),
    }
}

/// Checks a parsed product and that its SKU is not already in the file.
fn accept(
    product: Product,
    line: usize,
    seen: &mut HashSet<String>,
    out: &mut Vec<Product>,
) -> Result<(), ProductFileError> {
    product
        .check()
        .map_err(|e| at(line, format!("sku `{}`: {e}", product.sku)))?;
    if !seen.insert(product.sku.clone()) {
        return Err(at(
            line,
            format!("sku `{}` appears twice in the file", product.sku),
        ));
    }
    out.push(product);
    Ok(())
}

pub fn parse_jsonl(text: &str) -> Result<Vec<Product>, ProductFileError> {
    let mut products = Vec::new();
    let mut seen = HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let product: Product = serde_json::from_str(line).map_err(|e| at(number, e.to_string()))?;
        accept(product, number, &mut seen, &mut products)?;
    }
    Ok(products)
}

const CSV_REQUIRED: [&str; 6] = [
    "sku",
    "title",
    "price",
    "currency",
    "quantity",
    "updated_at",
];

pub fn parse_csv(text: &str) -> Result<Vec<Product>, ProductFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| at(1, format!("cannot read the header row: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let mut required = BTreeMap::new();
    for name in CSV_REQUIRED {
        let index = column(name).ok_or_else(|| {
            at(
                1,
                format!(
                    "missing column `{name}` (required: {})",
                    CSV_REQUIRED.join(", ")
                ),
            )
        })?;
        required.insert(name, index);
    }
    let id_column = column("id");
    let mut attribute_columns = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let header = header.trim();
        if let Some(name) = header.strip_prefix("attr.") {
            attribute_columns.push((index, name.to_string()));
        } else if !CSV_REQUIRED.contains(&header) && header != "id" {
            return Err(at(
                1,
                format!(
                    "unknown column `{header}` (allowed: {}, id, attr.<name>)",
                    CSV_REQUIRED.join(", ")
                ),
            ));
        }
    }
    let mut products = Vec::new();
    let mut seen = HashSet::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            at(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |name: &str| record.get(required[name]).unwrap_or("").to_string();
        let quantity = field("quantity");
        let product = Product {
            sku: field("sku"),
            title: field("title"),
            price: field("price"),
            currency: field("currency"),
            quantity: quantity
                .trim()
                .parse()
                .map_err(|_| at(line, format!("quantity `{quantity}` is not a whole number")))?,
            attributes: attribute_columns
                .iter()
                .filter_map(|(index, name)| {
                    record
                        .get(*index)
                        .filter(|v| !v.is_empty())
                        .map(|v| (name.clone(), v.to_string()))
                })
                .collect(),
            updated_at: field("updated_at"),
            id: id_column
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        };
        accept(product, line, &mut seen, &mut products)?;
    }
    Ok(products)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_loads_and_rejects_with_line_numbers() {
        let good = r#"{"sku":"A","title":"t","price":"19.90","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z","attributes":{"color":"red"}}

{"sku":"B","title":"u","price":"0.05","currency":"EUR","quantity":0,"updated_at":"2026-01-01T00:00:00+01:00"}"#;
        let products = parse_jsonl(good).unwrap();
        assert_eq!(products.len(), 2);
        assert_eq!(products[0].price, "19.90");
        let cases = [
            (good.replace("\"19.90\"", "19.90"), "line 1:"),
            (
                good.replace("\"0.05\"", "\"0,05\""),
                "line 3: sku `B`: invalid price `0,05`",
            ),
            (
                good.replace("\"B\"", "\"A\""),
                "line 3: sku `A` appears twice",
            ),
            (
                good.replace("\"EUR\",\"quantity\":0", "\"euro\",\"quantity\":0"),
                "line 3: sku `B`: invalid currency",
            ),
            (
                good.replace("2026-01-01T00:00:00+01:00", "yesterday"),
                "line 3: sku `B`: invalid updated_at",
            ),
            (
                good.replace("\"quantity\":1", "\"quantity\":-1"),
                "line 1: sku `A`: invalid quantity",
            ),
            (format!("{good}\nnot json"), "line 4:"),
            (
                good.replace("\"title\":\"t\"", "\"title\":\"t\",\"colour\":\"x\""),
                "unknown field `colour`",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_jsonl(&text).unwrap_err().to_string();
            assert!(
                err.starts_with(expected) || err.contains(expected),
                "{expected}: {err}"
            );
        }
    }

    #[test]
    fn csv_loads_attributes_and_rejects_with_line_numbers() {
        let good = "sku,title,price,currency,quantity,updated_at,attr.color,id\nA,\"Shirt, red\",19.90,EUR,3,2026-01-01T00:00:00Z,red,\nB,Mug,0.05,EUR,0,2026-01-01T00:00:00Z,,m-1\n";
        let products = parse_csv(good).unwrap();
        assert_eq!(products[0].title, "Shirt, red");
        assert_eq!(
            products[0].attributes.get("color").map(String::as_str),
            Some("red")
        );
        assert!(products[1].attributes.is_empty());
        assert_eq!(products[1].id.as_deref(), Some("m-1"));
        let cases = [
            (
                good.replace("0.05", "1e3"),
                "line 3: sku `B`: invalid price `1e3`",
            ),
            (good.replace(",3,", ",three,"), "line 2: quantity `three`"),
            (
                good.replace("sku,title", "sku,name"),
                "line 1: missing column `title`",
            ),
            (
                good.replace(",id\n", ",colour\n"),
                "line 1: unknown column `colour`",
            ),
            (
                good.replace("B,Mug", "A,Mug"),
                "line 3: sku `A` appears twice",
            ),
            (format!("{good}C,x\n"), "line 4:"),
        ];
        for (text, expected) in cases {
            let err = parse_csv(&text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{expected}: {err}");
        }
    }
}
