//! Product files for `products load`: JSON Lines (one product object a line)
//! or CSV (a header row; columns sku, title, price, currency, quantity,
//! optional updated_at and id, and `attr.<name>` columns for attributes).
//! Files are read as a stream, one product at a time, so memory stays flat
//! whatever the size; `updated_at` defaults to the load time. Each product
//! is checked as it is read; the caller makes the load all or nothing (and
//! finds a sku given twice, which needs the whole file).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use crate::output::escape;
use crate::price::Price;
use crate::product::{Product, check_sku};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProductFileError {
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    /// The bytes are not text (invalid UTF-8) or cannot be read: a file
    /// error (exit 2), not a bad product.
    #[error("line {line}: {message}")]
    Unreadable { line: u64, message: String },
    #[error("{0}")]
    File(String),
}

fn at(line: u64, message: impl Into<String>) -> ProductFileError {
    ProductFileError::Line {
        line,
        message: message.into(),
    }
}

/// The two file formats, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Csv,
}

impl Format {
    /// `.jsonl`/`.ndjson` or `.csv`; anything else is refused.
    pub fn of(path: &Path) -> Result<Format, ProductFileError> {
        match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "jsonl" | "ndjson" => Ok(Format::JsonLines),
            "csv" => Ok(Format::Csv),
            other => Err(ProductFileError::File(format!(
                "unknown product file type `.{other}`; use .jsonl (JSON Lines) or .csv"
            ))),
        }
    }
}

/// A product line and its line number, checked.
pub type Row = (u64, Product);

/// Reads products one at a time. `loaded_at` (RFC 3339) is the `updated_at`
/// of products that do not give one.
pub fn read_products<'r>(
    reader: impl BufRead + 'r,
    format: Format,
    loaded_at: &str,
) -> Result<Box<dyn Iterator<Item = Result<Row, ProductFileError>> + 'r>, ProductFileError> {
    let loaded_at = loaded_at.to_string();
    match format {
        Format::JsonLines => Ok(Box::new(JsonLines {
            reader,
            line: 0,
            buf: String::new(),
            loaded_at,
        })),
        Format::Csv => Ok(Box::new(CsvRows::new(reader, loaded_at)?)),
    }
}

/// A product as a line of a file gives it, before the rules: `updated_at`
/// may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineProduct {
    sku: String,
    title: String,
    price: String,
    currency: String,
    #[serde(deserialize_with = "whole_number")]
    quantity: i64,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

/// A quantity: a JSON integer, said in words when it is not one.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number of units")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("quantity {v} is too large")))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            Err(E::custom(format!(
                "quantity {v} is not a whole number of units"
            )))
        }
    }
    deserializer.deserialize_any(Whole)
}

impl LineProduct {
    /// The product, checked by the catalog's rules; an error names the line
    /// (and the sku, once it is known to be printable).
    fn checked(self, line: u64, loaded_at: &str) -> Result<Row, ProductFileError> {
        check_sku(&self.sku).map_err(|e| at(line, e.to_string()))?;
        let sku = self.sku;
        let in_line = |e: &dyn std::fmt::Display| at(line, format!("sku `{sku}`: {e}"));
        let price = Price::parse(&self.price, &self.currency).map_err(|e| in_line(&e))?;
        let product = Product {
            sku: sku.clone(),
            title: self.title,
            price,
            quantity: self.quantity,
            attributes: self.attributes,
            updated_at: self.updated_at.unwrap_or_else(|| loaded_at.to_string()),
            id: self.id,
        };
        product.check().map_err(|e| in_line(&e))?;
        Ok((line, product))
    }
}

struct JsonLines<R> {
    reader: R,
    line: u64,
    buf: String,
    loaded_at: String,
}

impl<R: BufRead> Iterator for JsonLines<R> {
    type Item = Result<Row, ProductFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line += 1;
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(ProductFileError::Unreadable {
                        line: self.line,
                        message: format!("cannot read: {e}"),
                    }));
                }
            }
            let text = self.buf.trim_end_matches(['\n', '\r']);
            let text = if self.line == 1 {
                text.strip_prefix('\u{feff}').unwrap_or(text)
            } else {
                text
            };
            if text.trim().is_empty() {
                continue;
            }
            let parsed: LineProduct = match serde_json::from_str(text) {
                Ok(p) => p,
                Err(e) => return Some(Err(at(self.line, e.to_string()))),
            };
            return Some(parsed.checked(self.line, &self.loaded_at));
        }
    }
}

const CSV_REQUIRED: [&str; 5] = ["sku", "title", "price", "currency", "quantity"];
const CSV_OPTIONAL: [&str; 2] = ["updated_at", "id"];

struct CsvRows<R> {
    records: csv::StringRecordsIntoIter<R>,
    required: [usize; 5],
    updated_at: Option<usize>,
    id: Option<usize>,
    attributes: Vec<(usize, String)>,
    loaded_at: String,
}

impl<R: BufRead> CsvRows<R> {
    fn new(reader: R, loaded_at: String) -> Result<CsvRows<R>, ProductFileError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let headers = reader
            .headers()
            .map_err(|e| at(1, format!("cannot read the header row: {e}")))?
            .clone();
        let names: Vec<&str> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = h.trim();
                if i == 0 {
                    h.trim_start_matches('\u{feff}')
                } else {
                    h
                }
            })
            .collect();
        let allowed = || {
            format!(
                "{}, {}, attr.<name>",
                CSV_REQUIRED.join(", "),
                CSV_OPTIONAL.join(", ")
            )
        };
        for (i, name) in names.iter().enumerate() {
            let shown = escape(name);
            if let Some(first) = names[..i].iter().position(|n| n == name) {
                return Err(at(
                    1,
                    format!(
                        "column `{shown}` appears twice in the header (columns {} and {})",
                        first + 1,
                        i + 1
                    ),
                ));
            }
            if !CSV_REQUIRED.contains(name)
                && !CSV_OPTIONAL.contains(name)
                && !name.starts_with("attr.")
            {
                return Err(at(
                    1,
                    format!("unknown column `{shown}` (allowed: {})", allowed()),
                ));
            }
            if *name == "attr." {
                return Err(at(1, "column `attr.` has no attribute name"));
            }
        }
        let column = |name: &str| names.iter().position(|h| *h == name);
        let mut required = [0; 5];
        for (slot, name) in required.iter_mut().zip(CSV_REQUIRED) {
            *slot = column(name).ok_or_else(|| {
                at(
                    1,
                    format!(
                        "missing column `{name}` (required: {}; optional: {})",
                        CSV_REQUIRED.join(", "),
                        CSV_OPTIONAL.join(", ")
                    ),
                )
            })?;
        }
        let attributes = names
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.strip_prefix("attr.").map(|n| (i, n.to_string())))
            .collect();
        Ok(CsvRows {
            updated_at: column("updated_at"),
            id: column("id"),
            records: reader.into_records(),
            required,
            attributes,
            loaded_at,
        })
    }

    fn row(&self, record: &csv::StringRecord, line: u64) -> Result<Row, ProductFileError> {
        let field = |i: usize| record.get(self.required[i]).unwrap_or("").to_string();
        let quantity = field(4);
        let optional = |column: Option<usize>| {
            column
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        LineProduct {
            sku: field(0),
            title: field(1),
            price: field(2),
            currency: field(3),
            quantity: quantity.trim().parse().map_err(|_| {
                at(
                    line,
                    format!("quantity `{}` is not a whole number", escape(&quantity)),
                )
            })?,
            attributes: self
                .attributes
                .iter()
                .filter_map(|(index, name)| {
                    record
                        .get(*index)
                        .filter(|v| !v.is_empty())
                        .map(|v| (name.clone(), v.to_string()))
                })
                .collect(),
            updated_at: optional(self.updated_at),
            id: optional(self.id),
        }
        .checked(line, &self.loaded_at)
    }
}

impl<R: BufRead> Iterator for CsvRows<R> {
    type Item = Result<Row, ProductFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = match self.records.next()? {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Some(Err(match e.kind() {
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::Io(_) => {
                        ProductFileError::Unreadable {
                            line,
                            message: e.to_string(),
                        }
                    }
                    _ => at(line, e.to_string()),
                }));
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        Some(self.row(&record, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOADED_AT: &str = "2026-06-01T00:00:00Z";

    fn parse(text: &str, format: Format) -> Result<Vec<Product>, ProductFileError> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for row in read_products(text.as_bytes(), format, LOADED_AT)? {
            let (line, p) = row?;
            if !seen.insert(p.sku.clone()) {
                return Err(at(line, format!("sku `{}` appears twice", p.sku)));
            }
            out.push(p);
        }
        Ok(out)
    }

    #[test]
    fn jsonl_loads_and_rejects_with_line_numbers() {
        let good = r#"{"sku":"A","title":"t","price":"19.90","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z","attributes":{"color":"red"}}

{"sku":"B","title":"u","price":"0.05","currency":"EUR","quantity":0,"updated_at":"2026-01-01T00:00:00+01:00"}"#;
        let products = parse(good, Format::JsonLines).unwrap();
        assert_eq!(products.len(), 2);
        assert_eq!(products[0].price.to_string(), "19.90 EUR");
        let cases = [
            (good.replace("\"19.90\"", "19.90"), "line 1:"),
            (
                good.replace("\"0.05\"", "\"0,05\""),
                "line 3: sku `B`: price `0,05` is not a decimal number",
            ),
            (
                good.replace("\"0.05\"", "\"-1.00\""),
                "line 3: sku `B`: price `-1.00` is negative: a price is 0 or more",
            ),
            (
                good.replace(
                    "\"0.05\",\"currency\":\"EUR\"",
                    "\"0.001\",\"currency\":\"USD\"",
                ),
                "line 3: sku `B`: price `0.001` has more decimals than USD allows: at most 2 decimals (ISO 4217)",
            ),
            (
                good.replace(
                    "\"0.05\",\"currency\":\"EUR\"",
                    "\"1500.5\",\"currency\":\"JPY\"",
                ),
                "line 3: sku `B`: price `1500.5` has more decimals than JPY allows: no decimals (ISO 4217)",
            ),
            (
                good.replace(
                    "\"0.05\",\"currency\":\"EUR\"",
                    "\"1\",\"currency\":\"XTS\"",
                ),
                "line 3: sku `B`: currency `XTS` is a special code",
            ),
            (
                good.replace("\"title\":\"u\"", "\"title\":\"u\\u001b]0;owned\\u0007\""),
                "line 3: sku `B`: title `u\\u{1b}]0;owned\\u{7}` has control character U+001B at character 2",
            ),
            (
                good.replace("\"title\":\"u\"", "\"title\":\"a\\tb\""),
                "line 3: sku `B`: title `a\\tb` has control character U+0009",
            ),
            (
                good.replace(
                    "\"title\":\"u\"",
                    &format!("\"title\":\"{}\"", "x".repeat(256)),
                ),
                "line 3: sku `B`: title `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...` is 256 characters long: at most 255",
            ),
            (
                good.replace("\"red\"", "\"r\\ned\""),
                "line 1: sku `A`: attribute `color` `r\\ned` has control character U+000A",
            ),
            (
                good.replace("\"quantity\":1", "\"quantity\":1.5"),
                "line 1: quantity 1.5 is not a whole number of units",
            ),
            (
                good.replace("\"B\"", "\"A\""),
                "line 3: sku `A` appears twice",
            ),
            (
                good.replace("\"EUR\",\"quantity\":0", "\"euro\",\"quantity\":0"),
                "line 3: sku `B`: unknown currency `euro`: expected an ISO 4217 code in capitals, such as `EUR`",
            ),
            (
                good.replace("2026-01-01T00:00:00+01:00", "yesterday"),
                "line 3: sku `B`: invalid updated_at: `yesterday` is not an RFC 3339 timestamp",
            ),
            (
                good.replace("2026-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z"),
                "line 3: sku `B`: invalid updated_at: `9999-12-31T23:59:59Z` is beyond the supported range",
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
            (
                good.replace("\"sku\":\"A\"", "\"sku\":\" A\""),
                "line 1: invalid sku ` A`: leading white space",
            ),
            (
                good.replace("\"sku\":\"B\"", "\"sku\":\"B\\u0007\""),
                "line 3: invalid sku `B\\u{7}`: control character U+0007",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text, Format::JsonLines).unwrap_err().to_string();
            assert!(
                err.starts_with(expected) || err.contains(expected),
                "{expected}: {err}"
            );
        }
    }

    #[test]
    fn updated_at_defaults_to_the_load_time() {
        let jsonl = "\u{feff}{\"sku\":\"A\",\"title\":\"t\",\"price\":\"1\",\"currency\":\"EUR\",\"quantity\":1}\r\n";
        let products = parse(jsonl, Format::JsonLines).unwrap();
        assert_eq!(products[0].updated_at, LOADED_AT);
        let csv = "\u{feff}sku,title,price,currency,quantity\r\nA,t,1,EUR,1\r\n";
        let products = parse(csv, Format::Csv).unwrap();
        assert_eq!(products[0].sku, "A");
        assert_eq!(products[0].updated_at, LOADED_AT);
        // An empty cell in an updated_at column too.
        let csv = "sku,title,price,currency,quantity,updated_at\nA,t,1,EUR,1,\nB,t,1,EUR,1,2026-01-01T00:00:00Z\n";
        let products = parse(csv, Format::Csv).unwrap();
        assert_eq!(products[0].updated_at, LOADED_AT);
        assert_eq!(products[1].updated_at, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn csv_loads_attributes_and_rejects_with_line_numbers() {
        let good = "sku,title,price,currency,quantity,updated_at,attr.color,id\nA,\"Shirt, red\",19.90,EUR,3,2026-01-01T00:00:00Z,red,\nB,Mug,0.05,EUR,0,2026-01-01T00:00:00Z,,m-1\n";
        let products = parse(good, Format::Csv).unwrap();
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
                "line 3: sku `B`: price `1e3` is not a decimal number",
            ),
            (
                good.replace("0.05", "-0.05"),
                "line 3: sku `B`: price `-0.05` is negative",
            ),
            (
                good.replace("Mug", "Mug\u{1b}[2J"),
                "line 3: sku `B`: title `Mug\\u{1b}[2J` has control character U+001B",
            ),
            (
                good.replace("Mug", "\"Mug\rB2\""),
                "line 3: sku `B`: title `Mug\\rB2` has control character U+000D",
            ),
            (
                good.replace(",id\n", ",attr.co\u{1b}l\n"),
                "line 3: sku `B`: attribute name `co\\u{1b}l` has control character U+001B",
            ),
            (
                good.replace(",id\n", ",na\u{7}me\n"),
                "line 1: unknown column `na\\u{7}me`",
            ),
            (good.replace(",3,", ",three,"), "line 2: quantity `three`"),
            (
                good.replace("sku,title", "sku,name"),
                "line 1: unknown column `name`",
            ),
            (
                good.replace("sku,title,", "sku,"),
                "line 1: missing column `title`",
            ),
            (
                good.replace(",id\n", ",colour\n"),
                "line 1: unknown column `colour`",
            ),
            (
                good.replace(",id\n", ",price\n"),
                "line 1: column `price` appears twice in the header (columns 3 and 8)",
            ),
            (
                good.replace(",id\n", ",attr.color\n"),
                "line 1: column `attr.color` appears twice",
            ),
            (
                good.replace("B,Mug", "A,Mug"),
                "line 3: sku `A` appears twice",
            ),
            (
                good.replace("B,Mug", "B ,Mug"),
                "line 3: invalid sku `B `: trailing white space",
            ),
            (format!("{good}C,x\n"), "line 4:"),
        ];
        for (text, expected) in cases {
            let err = parse(&text, Format::Csv).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{expected}: {err}");
        }
    }
}
