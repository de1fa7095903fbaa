//! Stock files for `stock load`, read as a stream one level at a time:
//! `sku`, `location`, `on_hand`, optional `reserved` (0 when absent) and
//! `updated_at`, as CSV columns (`.csv`, any order) or JSON Lines fields
//! (`.jsonl`, `.ndjson`). Each level is checked as it is read and an error
//! names its line; the caller finds what needs the catalog or the whole
//! file (unknown SKUs, a level given twice).

use std::io::BufRead;

use jiff::Timestamp;
use serde::Deserialize;

use super::csv_lines::{self, CsvRecords};
use super::{Format, ProductFileError, TextLines, Whole, at, whole_cell};
use crate::catalog::StockLevel;
use crate::catalog::rules::{check_location, check_sku};
use crate::output::escape;
use crate::timestamp::parse_instant;

const REQUIRED: [&str; 3] = ["sku", "location", "on_hand"];
const OPTIONAL: [&str; 2] = ["reserved", "updated_at"];

/// One level of a stock file, checked, with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockLine {
    pub line: u64,
    pub level: StockLevel,
    /// The line's own `updated_at`; `None` takes the load's time.
    pub updated_at: Option<Timestamp>,
}

/// Reads stock levels one at a time.
pub fn read_stock<'r>(
    reader: impl BufRead + 'r,
    format: Format,
) -> Result<Box<dyn Iterator<Item = Result<StockLine, ProductFileError>> + 'r>, ProductFileError> {
    match format {
        Format::JsonLines => Ok(Box::new(JsonStock {
            lines: TextLines::new(reader),
        })),
        Format::Csv => Ok(Box::new(CsvStock::new(reader)?)),
    }
}

/// A level's fields as read, before the rules.
struct Fields<'a> {
    sku: &'a str,
    location: &'a str,
    on_hand: i64,
    reserved: i64,
    updated_at: Option<&'a str>,
}

impl Fields<'_> {
    fn checked(self, line: u64) -> Result<StockLine, ProductFileError> {
        check_sku(self.sku).map_err(|e| at(line, e.to_string()))?;
        let in_line = |e: &dyn std::fmt::Display| {
            at(
                line,
                format!(
                    "sku `{}` at `{}`: {e}",
                    escape(self.sku),
                    escape(self.location)
                ),
            )
        };
        check_location(self.location)
            .map_err(|e| at(line, format!("sku `{}`: {e}", escape(self.sku))))?;
        if self.on_hand < 0 {
            return Err(in_line(&format_args!(
                "on_hand {} is negative: give 0 or more",
                self.on_hand
            )));
        }
        if self.reserved < 0 {
            return Err(in_line(&format_args!(
                "reserved {} is negative: give 0 or more",
                self.reserved
            )));
        }
        let updated_at = match self.updated_at {
            Some(text) => {
                Some(parse_instant(text).map_err(|e| in_line(&format_args!("updated_at {e}")))?)
            }
            None => None,
        };
        Ok(StockLine {
            line,
            level: StockLevel {
                sku: self.sku.to_string(),
                location: self.location.to_string(),
                on_hand: self.on_hand,
                reserved: self.reserved,
            },
            updated_at,
        })
    }
}

struct JsonStock<R> {
    lines: TextLines<R>,
}

/// A JSON line's fields; unknown fields are refused (a typo such as
/// `reserverd` must not silently load 0).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLevel {
    sku: String,
    location: String,
    on_hand: Whole,
    reserved: Option<Whole>,
    updated_at: Option<String>,
}

impl<R: BufRead> Iterator for JsonStock<R> {
    type Item = Result<StockLine, ProductFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, text) = match self.lines.next_line()? {
            Ok(found) => found,
            Err(e) => return Some(Err(e)),
        };
        let parsed: JsonLevel = match serde_json::from_str(text) {
            Ok(p) => p,
            Err(e) => return Some(Err(at(line, e.to_string()))),
        };
        Some(
            Fields {
                sku: &parsed.sku,
                location: &parsed.location,
                on_hand: parsed.on_hand.0,
                reserved: parsed.reserved.map_or(0, |r| r.0),
                updated_at: parsed.updated_at.as_deref(),
            }
            .checked(line),
        )
    }
}

struct CsvStock<R> {
    records: CsvRecords<R>,
    /// Columns of `sku`, `location`, `on_hand`.
    required: [usize; 3],
    reserved: Option<usize>,
    updated_at: Option<usize>,
}

impl<R: BufRead> CsvStock<R> {
    fn new(reader: R) -> Result<CsvStock<R>, ProductFileError> {
        let (headers, records) = csv_lines::open(reader)?;
        let names: Vec<&str> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| match i {
                0 => h.trim().trim_start_matches('\u{feff}'),
                _ => h.trim(),
            })
            .collect();
        let allowed = || {
            format!(
                "required: {}; optional: {}",
                REQUIRED.join(", "),
                OPTIONAL.join(", ")
            )
        };
        for (i, name) in names.iter().enumerate() {
            if !REQUIRED.contains(name) && !OPTIONAL.contains(name) {
                return Err(at(
                    1,
                    format!("unknown column `{}` ({})", escape(name), allowed()),
                ));
            }
            if let Some(first) = names[..i].iter().position(|n| n == name) {
                return Err(at(
                    1,
                    format!(
                        "column `{name}` appears twice in the header (columns {} and {})",
                        first + 1,
                        i + 1
                    ),
                ));
            }
        }
        let column = |name: &str| names.iter().position(|h| *h == name);
        let mut required = [0; 3];
        for (slot, name) in required.iter_mut().zip(REQUIRED) {
            *slot = column(name)
                .ok_or_else(|| at(1, format!("missing column `{name}` ({})", allowed())))?;
        }
        Ok(CsvStock {
            reserved: column("reserved"),
            updated_at: column("updated_at"),
            required,
            records,
        })
    }

    fn row(&self, record: &csv::StringRecord, line: u64) -> Result<StockLine, ProductFileError> {
        let cell = |column: usize| record.get(column).unwrap_or("");
        // An empty optional cell is the same as no column: a spreadsheet
        // writes one for every row that leaves it blank.
        let optional = |column: Option<usize>| column.map(cell).filter(|v| !v.trim().is_empty());
        Fields {
            sku: cell(self.required[0]),
            location: cell(self.required[1]),
            on_hand: whole_cell(line, "on_hand", cell(self.required[2]))?,
            reserved: match optional(self.reserved) {
                Some(text) => whole_cell(line, "reserved", text)?,
                None => 0,
            },
            updated_at: optional(self.updated_at),
        }
        .checked(line)
    }
}

impl<R: BufRead> Iterator for CsvStock<R> {
    type Item = Result<StockLine, ProductFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.records
                .next()?
                .and_then(|(record, line)| self.row(&record, line)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, format: Format) -> Result<Vec<StockLine>, ProductFileError> {
        read_stock(text.as_bytes(), format)?.collect()
    }

    #[test]
    fn csv_and_json_lines_give_the_same_levels_with_reserved_defaulting_to_0() {
        let csv = "\u{feff}location,sku,on_hand,reserved,updated_at\n\
                   berlin,A-1,10,2,2026-03-01T10:00:00Z\n\
                   paris,A-1,4,,\n";
        let jsonl = "\u{feff}{\"sku\":\"A-1\",\"location\":\"berlin\",\"on_hand\":10,\"reserved\":2,\"updated_at\":\"2026-03-01T10:00:00Z\"}\n\
                     \n\
                     \n\
                     {\"sku\":\"A-1\",\"location\":\"paris\",\"on_hand\":4}\n";
        for (text, format, lines) in [
            (csv, Format::Csv, [2, 3]),
            (jsonl, Format::JsonLines, [1, 4]),
        ] {
            let read = read(text, format).unwrap();
            assert_eq!(
                read.iter().map(|l| l.level.clone()).collect::<Vec<_>>(),
                [
                    StockLevel::new("A-1", "berlin", 10, 2),
                    StockLevel::new("A-1", "paris", 4, 0)
                ],
                "{format:?}"
            );
            assert_eq!(read.iter().map(|l| l.line).collect::<Vec<_>>(), lines);
            assert_eq!(
                read[0].updated_at,
                Some("2026-03-01T10:00:00Z".parse().unwrap())
            );
            assert_eq!(read[1].updated_at, None);
        }
    }

    #[test]
    fn a_bad_level_is_named_by_its_line_and_value() {
        let header = "sku,location,on_hand,reserved,updated_at\n";
        for (row, expected) in [
            (
                "A,berlin,-1,,",
                "line 2: sku `A` at `berlin`: on_hand -1 is negative",
            ),
            (
                "A,berlin,1,-2,",
                "line 2: sku `A` at `berlin`: reserved -2 is negative",
            ),
            (
                "A,berlin,1.5,,",
                "line 2: on_hand `1.5` is not a whole number",
            ),
            (
                "A,berlin,ten,,",
                "line 2: on_hand `ten` is not a whole number",
            ),
            (
                "A,berlin,1,x,",
                "line 2: reserved `x` is not a whole number",
            ),
            ("A,,1,,", "line 2: sku `A`: stock location `` is empty"),
            (",berlin,1,,", "line 2: empty `sku`"),
            (
                "A,berlin,1,,yesterday",
                "line 2: sku `A` at `berlin`: updated_at `yesterday` is not an RFC 3339",
            ),
        ] {
            let e = read(&format!("{header}{row}\n"), Format::Csv)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(expected), "{row}: {e}");
        }
        for (line, expected) in [
            (
                r#"{"sku":"A","location":"b","on_hand":1,"reserverd":1}"#,
                "line 1: unknown field `reserverd`",
            ),
            (
                r#"{"sku":"A","location":"b","on_hand":2.5}"#,
                "line 1: quantity 2.5 is not a whole number",
            ),
            (
                r#"{"sku":"A","location":"b"}"#,
                "line 1: missing field `on_hand`",
            ),
            (
                r#"{"sku":"A","location":"b","on_hand":-3}"#,
                "line 1: sku `A` at `b`: on_hand -3 is negative",
            ),
        ] {
            let e = read(line, Format::JsonLines).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{line}: {e}");
        }
    }

    #[test]
    fn the_header_must_name_the_required_columns_and_nothing_unknown() {
        for (header, expected) in [
            ("sku,location\n", "line 1: missing column `on_hand`"),
            ("sku,location,on_hand,qty\n", "line 1: unknown column `qty`"),
            (
                "sku,location,on_hand,sku\n",
                "line 1: column `sku` appears twice",
            ),
        ] {
            let e = read(header, Format::Csv).err().unwrap().to_string();
            assert!(e.starts_with(expected), "{header}: {e}");
        }
    }
}
