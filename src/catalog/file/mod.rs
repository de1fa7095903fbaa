//! Product files for `products load`, read as a stream one product at a
//! time, so memory stays flat whatever the file's size:
//!
//! - JSON Lines (`.jsonl`, `.ndjson`): one product a line, nested (a
//!   product with its `variants` array) or flat (today's one-SKU line:
//!   `sku`, `title`, `price`, `currency`, `quantity`, ...); both may mix.
//! - CSV (`.csv`): with a `handle` column, one row per variant (see
//!   `nested_csv`); without, today's flat layout (`sku,title,price,currency,
//!   quantity`, ...).
//!
//! Each product is checked by the catalog's rules as it is read, and an
//! error names its line. The caller makes the load all or nothing and finds
//! what needs the whole file (a SKU or handle given twice).

mod csv_lines;
mod flat_csv;
mod jsonl;
mod nested_csv;
mod stock;
#[cfg(test)]
mod tests;

pub use stock::{StockLine, read_stock};

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use super::{FlatProduct, Product};
use crate::output::escape;

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

pub fn at(line: u64, message: impl Into<String>) -> ProductFileError {
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
                "unknown file type `.{other}`; use .jsonl (JSON Lines) or .csv"
            ))),
        }
    }
}

/// One product of a file, checked, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadItem {
    /// The product's (first) line.
    pub line: u64,
    pub product: Product,
    /// The line of each variant, in variant order (CSV: a row each; JSON
    /// Lines: the product's line).
    pub variant_lines: Vec<u64>,
    /// Given as a flat product: its handle was derived from its SKU.
    pub flat: bool,
}

impl LoadItem {
    fn flat(line: u64, product: FlatProduct) -> LoadItem {
        LoadItem {
            line,
            product: product.into_product(),
            variant_lines: vec![line],
            flat: true,
        }
    }
}

/// Reads products one at a time. `loaded_at` (RFC 3339) is the `updated_at`
/// of products that do not give one.
pub fn read_products<'r>(
    reader: impl BufRead + 'r,
    format: Format,
    loaded_at: &str,
) -> Result<Box<dyn Iterator<Item = Result<LoadItem, ProductFileError>> + 'r>, ProductFileError> {
    let loaded_at = loaded_at.to_string();
    match format {
        Format::JsonLines => Ok(Box::new(jsonl::JsonLines::new(reader, loaded_at))),
        Format::Csv => {
            let (headers, records) = csv_lines::open(reader)?;
            let names: Vec<String> = headers
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let h = h.trim();
                    let h = if i == 0 {
                        h.trim_start_matches('\u{feff}')
                    } else {
                        h
                    };
                    h.to_string()
                })
                .collect();
            if let Some((i, name)) = names
                .iter()
                .enumerate()
                .find(|(i, n)| names[..*i].contains(n))
            {
                let first = names.iter().position(|n| n == name).unwrap_or(0);
                return Err(at(
                    1,
                    format!(
                        "column `{}` appears twice in the header (columns {} and {})",
                        escape(name),
                        first + 1,
                        i + 1
                    ),
                ));
            }
            if names.iter().any(|n| n == "handle") {
                Ok(Box::new(nested_csv::NestedRows::new(
                    records, &names, loaded_at,
                )?))
            } else {
                Ok(Box::new(flat_csv::FlatRows::new(
                    records, &names, loaded_at,
                )?))
            }
        }
    }
}

/// The lines of a text file that are not blank, with their numbers, read
/// one at a time into one buffer (a UTF-8 byte order mark on the first line
/// is dropped, as spreadsheet tools write one).
struct TextLines<R> {
    reader: R,
    line: u64,
    buf: String,
}

impl<R> TextLines<R> {
    fn new(reader: R) -> TextLines<R> {
        TextLines {
            reader,
            line: 0,
            buf: String::new(),
        }
    }
}

impl<R: BufRead> TextLines<R> {
    /// The next line that is not blank, without its line break; `None` at
    /// the end of the file.
    fn next_line(&mut self) -> Option<Result<(u64, &str), ProductFileError>> {
        let (start, end) = loop {
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
            let start = match self.line {
                1 if self.buf.starts_with('\u{feff}') => '\u{feff}'.len_utf8(),
                _ => 0,
            };
            let end = self.buf.trim_end_matches(['\n', '\r']).len().max(start);
            if !self.buf[start..end].trim().is_empty() {
                break (start, end);
            }
        };
        Some(Ok((self.line, &self.buf[start..end])))
    }
}

/// A whole number in a JSON line (a quantity, stock), said in words when it
/// is not one.
#[derive(Clone, Copy, Debug)]
struct Whole(i64);

impl<'de> serde::Deserialize<'de> for Whole {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Whole;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number of units")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Whole, E> {
                Ok(Whole(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Whole, E> {
                i64::try_from(v)
                    .map(Whole)
                    .map_err(|_| E::custom(format!("quantity {v} is too large")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Whole, E> {
                Err(E::custom(format!(
                    "quantity {v} is not a whole number of units"
                )))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// A whole number in a CSV cell.
fn whole_cell(line: u64, what: &str, cell: &str) -> Result<i64, ProductFileError> {
    cell.trim().parse().map_err(|_| {
        at(
            line,
            format!("{what} `{}` is not a whole number", escape(cell)),
        )
    })
}

/// A flat product read from a line or row, before the rules.
struct FlatFields {
    sku: String,
    title: String,
    price: String,
    currency: String,
    quantity: i64,
    attributes: BTreeMap<String, String>,
    updated_at: Option<String>,
    id: Option<String>,
}

impl FlatFields {
    /// The product, checked by the flat rules; an error names the line (and
    /// the sku, once it is known to be printable), as flat files always had.
    fn checked(self, line: u64, loaded_at: &str) -> Result<LoadItem, ProductFileError> {
        super::check_sku(&self.sku).map_err(|e| at(line, e.to_string()))?;
        let sku = self.sku;
        let in_line = |e: &dyn std::fmt::Display| at(line, format!("sku `{sku}`: {e}"));
        let price =
            crate::price::Price::parse(&self.price, &self.currency).map_err(|e| in_line(&e))?;
        let flat = FlatProduct {
            sku: sku.clone(),
            title: self.title,
            price,
            quantity: self.quantity,
            attributes: self.attributes,
            updated_at: self.updated_at.unwrap_or_else(|| loaded_at.to_string()),
            id: self.id,
        };
        flat.check().map_err(|e| in_line(&e))?;
        Ok(LoadItem::flat(line, flat))
    }
}

/// A nested product's error, naming its line and handle.
fn in_product(line: u64, handle: &str, e: &dyn std::fmt::Display) -> ProductFileError {
    at(line, format!("product `{}`: {e}", escape(handle)))
}

/// A product assembled from a file, checked by the catalog's rules. A
/// variant's problem names the variant's own line.
fn checked_product(
    product: Product,
    line: u64,
    variant_lines: Vec<u64>,
) -> Result<LoadItem, ProductFileError> {
    if let Err(e) = product.check() {
        let line = match &e {
            super::ProductError::InVariant { sku, .. } => product
                .variants
                .iter()
                .position(|v| &v.sku == sku)
                .and_then(|i| variant_lines.get(i).copied())
                .unwrap_or(line),
            _ => line,
        };
        return Err(in_product(line, &product.handle, &e));
    }
    Ok(LoadItem {
        line,
        product,
        variant_lines,
        flat: false,
    })
}
