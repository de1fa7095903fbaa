//! Flat CSV, as earlier versions wrote it: a header with
//! `sku,title,price,currency,quantity`, optional `updated_at` and `id`, and
//! `attr.<name>` columns; one flat product a row.

use std::io::BufRead;

use super::csv_lines::CsvRecords;
use super::{FlatFields, LoadItem, ProductFileError, at, whole_cell};
use crate::output::escape;

const REQUIRED: [&str; 5] = ["sku", "title", "price", "currency", "quantity"];
const OPTIONAL: [&str; 2] = ["updated_at", "id"];

pub(super) struct FlatRows<R> {
    records: CsvRecords<R>,
    required: [usize; 5],
    updated_at: Option<usize>,
    id: Option<usize>,
    attributes: Vec<(usize, String)>,
    loaded_at: String,
}

impl<R: BufRead> FlatRows<R> {
    /// `names`: the header's columns, none twice.
    pub(super) fn new(
        records: CsvRecords<R>,
        names: &[String],
        loaded_at: String,
    ) -> Result<FlatRows<R>, ProductFileError> {
        let allowed = || {
            format!(
                "{}, {}, attr.<name>; or, for products with variants, a `handle` column (see the README's product files)",
                REQUIRED.join(", "),
                OPTIONAL.join(", ")
            )
        };
        for name in names {
            if !REQUIRED.contains(&name.as_str())
                && !OPTIONAL.contains(&name.as_str())
                && !name.starts_with("attr.")
            {
                return Err(at(
                    1,
                    format!("unknown column `{}` (allowed: {})", escape(name), allowed()),
                ));
            }
            if name == "attr." {
                return Err(at(1, "column `attr.` has no attribute name"));
            }
        }
        let column = |name: &str| names.iter().position(|h| h == name);
        let mut required = [0; 5];
        for (slot, name) in required.iter_mut().zip(REQUIRED) {
            *slot = column(name).ok_or_else(|| {
                at(
                    1,
                    format!(
                        "missing column `{name}` (required: {}; optional: {})",
                        REQUIRED.join(", "),
                        OPTIONAL.join(", ")
                    ),
                )
            })?;
        }
        let attributes = names
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.strip_prefix("attr.").map(|n| (i, n.to_string())))
            .collect();
        Ok(FlatRows {
            updated_at: column("updated_at"),
            id: column("id"),
            records,
            required,
            attributes,
            loaded_at,
        })
    }

    fn row(&self, record: &csv::StringRecord, line: u64) -> Result<LoadItem, ProductFileError> {
        let field = |i: usize| record.get(self.required[i]).unwrap_or("").to_string();
        let optional = |column: Option<usize>| {
            column
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        FlatFields {
            sku: field(0),
            title: field(1),
            price: field(2),
            currency: field(3),
            quantity: whole_cell(line, "quantity", &field(4))?,
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

impl<R: BufRead> Iterator for FlatRows<R> {
    type Item = Result<LoadItem, ProductFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.records
                .next()?
                .and_then(|(record, line)| self.row(&record, line)),
        )
    }
}
