//! CSV with a `handle` column: one row per variant. The rows of one product
//! are consecutive; its product columns are given on its first row and
//! repeated or left empty on the others.
//!
//! | column | what |
//! | --- | --- |
//! | `handle`, `sku`, `title` | required: the product's handle, the variant's SKU, the product's title |
//! | `description`, `status`, `updated_at`, `id` | the product's (`status`: `active`, the default, or `draft`) |
//! | `image.1`, `image.1.alt`, ... | images in number order, with alt text |
//! | `category.1`, ... / `tag.1`, ... | category paths / tags in number order |
//! | `attr.<name>` | a product attribute |
//! | `option.<name>` | the variant's value of option `<name>`; the product's options are those its first row gives |
//! | `price.<CUR>` | the variant's price in currency `<CUR>` (`price.EUR`) |
//! | `stock.<location>` | the variant's stock at `<location>` |
//! | `variant.title`, `variant.id`, `variant.attr.<name>` | the variant's own |
//!
//! An empty cell is no value. Memory holds one product at a time.

use std::io::BufRead;

use super::csv_lines::CsvRecords;
use super::{LoadItem, ProductFileError, at, checked_product, in_product, whole_cell};
use crate::catalog::{Image, Prices, Product, ProductStatus, Variant};
use crate::output::escape;
use crate::price::{Currency, Price};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Column {
    Handle,
    Sku,
    Title,
    Description,
    Status,
    UpdatedAt,
    Id,
    Image(u32),
    ImageAlt(u32),
    Category(u32),
    Tag(u32),
    Attr(String),
    Option(String),
    Price(Currency),
    Stock(String),
    VariantTitle,
    VariantId,
    VariantAttr(String),
}

impl Column {
    /// Given once per product (on its first row, repeated or empty after).
    fn is_product_level(&self) -> bool {
        matches!(
            self,
            Column::Title
                | Column::Description
                | Column::Status
                | Column::UpdatedAt
                | Column::Id
                | Column::Image(_)
                | Column::ImageAlt(_)
                | Column::Category(_)
                | Column::Tag(_)
                | Column::Attr(_)
        )
    }

    fn parse(name: &str) -> Result<Column, String> {
        let number = |rest: &str| -> Result<u32, String> {
            match rest.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!(
                    "column `{}`: number the column from 1, such as `image.1`",
                    escape(name)
                )),
            }
        };
        let named = |rest: &str, what: &str| -> Result<String, String> {
            if rest.is_empty() {
                Err(format!("column `{}` has no {what}", escape(name)))
            } else {
                Ok(rest.to_string())
            }
        };
        Ok(match name {
            "handle" => Column::Handle,
            "sku" => Column::Sku,
            "title" => Column::Title,
            "description" => Column::Description,
            "status" => Column::Status,
            "updated_at" => Column::UpdatedAt,
            "id" => Column::Id,
            "variant.title" => Column::VariantTitle,
            "variant.id" => Column::VariantId,
            _ => {
                if let Some(rest) = name.strip_prefix("variant.attr.") {
                    Column::VariantAttr(named(rest, "attribute name")?)
                } else if let Some(rest) = name.strip_prefix("attr.") {
                    Column::Attr(named(rest, "attribute name")?)
                } else if let Some(rest) = name.strip_prefix("option.") {
                    Column::Option(named(rest, "option name")?)
                } else if let Some(rest) = name.strip_prefix("stock.") {
                    Column::Stock(named(rest, "location name")?)
                } else if let Some(rest) = name.strip_prefix("price.") {
                    Column::Price(
                        Currency::from_code(rest)
                            .map_err(|e| format!("column `{}`: {e}", escape(name)))?,
                    )
                } else if let Some(rest) = name.strip_prefix("image.") {
                    match rest.strip_suffix(".alt") {
                        Some(n) => Column::ImageAlt(number(n)?),
                        None => Column::Image(number(rest)?),
                    }
                } else if let Some(rest) = name.strip_prefix("category.") {
                    Column::Category(number(rest)?)
                } else if let Some(rest) = name.strip_prefix("tag.") {
                    Column::Tag(number(rest)?)
                } else {
                    return Err(format!(
                        "unknown column `{}` (allowed: handle, sku, title, description, status, updated_at, id, image.<n>, image.<n>.alt, category.<n>, tag.<n>, attr.<name>, option.<name>, price.<CUR>, stock.<location>, variant.title, variant.id, variant.attr.<name>)",
                        escape(name)
                    ));
                }
            }
        })
    }
}

/// A product whose rows are being read.
struct Building {
    product: Product,
    line: u64,
    /// The first row's product-level cells, by column index.
    first_row: Vec<(usize, String)>,
    /// The option columns the product has (non-empty on its first row).
    option_columns: Vec<usize>,
    variant_lines: Vec<u64>,
}

pub(super) struct NestedRows<R> {
    records: CsvRecords<R>,
    columns: Vec<(Column, String)>,
    handle: usize,
    sku: usize,
    loaded_at: String,
    current: Option<Building>,
    done: bool,
}

impl<R: BufRead> NestedRows<R> {
    /// `names`: the header's columns, none twice.
    pub(super) fn new(
        records: CsvRecords<R>,
        names: &[String],
        loaded_at: String,
    ) -> Result<NestedRows<R>, ProductFileError> {
        let mut columns = Vec::with_capacity(names.len());
        for name in names {
            columns.push((Column::parse(name).map_err(|e| at(1, e))?, name.clone()));
        }
        let find = |wanted: Column| {
            columns.iter().position(|(c, _)| *c == wanted).ok_or_else(|| {
                at(
                    1,
                    format!(
                        "missing column `{}`: a product file with a `handle` column has `handle`, `sku` and `title` columns",
                        wanted_name(&wanted)
                    ),
                )
            })
        };
        let handle = find(Column::Handle)?;
        let sku = find(Column::Sku)?;
        find(Column::Title)?;
        for (column, name) in &columns {
            if let Column::ImageAlt(n) = column
                && !columns.iter().any(|(c, _)| *c == Column::Image(*n))
            {
                return Err(at(
                    1,
                    format!(
                        "column `{}` has no `image.{n}` column beside it",
                        escape(name)
                    ),
                ));
            }
        }
        Ok(NestedRows {
            records,
            columns,
            handle,
            sku,
            loaded_at,
            current: None,
            done: false,
        })
    }

    /// The first row of a product: its product columns and first variant.
    fn start(&self, record: &csv::StringRecord, line: u64) -> Result<Building, ProductFileError> {
        let cell = |i: usize| record.get(i).unwrap_or("");
        let handle = cell(self.handle).to_string();
        let mut product = Product {
            handle: handle.clone(),
            title: String::new(),
            description: String::new(),
            status: ProductStatus::Active,
            categories: Vec::new(),
            tags: Vec::new(),
            images: Vec::new(),
            options: Vec::new(),
            attributes: Default::default(),
            variants: Vec::new(),
            updated_at: self.loaded_at.clone(),
            id: None,
        };
        let mut images: Vec<(u32, Image)> = Vec::new();
        let mut categories = Vec::new();
        let mut tags = Vec::new();
        let mut first_row = Vec::new();
        let mut option_columns = Vec::new();
        for (i, (column, _)) in self.columns.iter().enumerate() {
            let value = cell(i);
            if column.is_product_level() {
                first_row.push((i, value.to_string()));
            }
            if value.is_empty() {
                continue;
            }
            match column {
                Column::Title => product.title = value.to_string(),
                Column::Description => product.description = value.to_string(),
                Column::Status => {
                    product.status =
                        ProductStatus::parse(value).map_err(|e| in_product(line, &handle, &e))?;
                }
                Column::UpdatedAt => product.updated_at = value.to_string(),
                Column::Id => product.id = Some(value.to_string()),
                Column::Image(n) => images.push((
                    *n,
                    Image {
                        url: value.to_string(),
                        alt: String::new(),
                    },
                )),
                Column::Category(n) => categories.push((*n, value.to_string())),
                Column::Tag(n) => tags.push((*n, value.to_string())),
                Column::Attr(name) => {
                    product.attributes.insert(name.clone(), value.to_string());
                }
                Column::Option(name) => {
                    product.options.push(name.clone());
                    option_columns.push(i);
                }
                _ => {}
            }
        }
        for (i, (column, name)) in self.columns.iter().enumerate() {
            if let Column::ImageAlt(n) = column
                && !cell(i).is_empty()
            {
                let image = images.iter_mut().find(|(m, _)| m == n).ok_or_else(|| {
                    in_product(
                        line,
                        &handle,
                        &format!("`{}` is given without `image.{n}`", escape(name)),
                    )
                })?;
                image.1.alt = cell(i).to_string();
            }
        }
        images.sort_by_key(|(n, _)| *n);
        categories.sort_by_key(|(n, _)| *n);
        tags.sort_by_key(|(n, _)| *n);
        product.images = images.into_iter().map(|(_, i)| i).collect();
        product.categories = categories.into_iter().map(|(_, c)| c).collect();
        product.tags = tags.into_iter().map(|(_, t)| t).collect();
        let mut building = Building {
            product,
            line,
            first_row,
            option_columns,
            variant_lines: Vec::new(),
        };
        self.add_variant(&mut building, record, line)?;
        Ok(building)
    }

    /// One more row of the product being read.
    fn add_variant(
        &self,
        building: &mut Building,
        record: &csv::StringRecord,
        line: u64,
    ) -> Result<(), ProductFileError> {
        let cell = |i: usize| record.get(i).unwrap_or("");
        let handle = building.product.handle.clone();
        let refused = |message: String| in_product(line, &handle, &message);
        if !building.variant_lines.is_empty() {
            for (i, first) in &building.first_row {
                let value = cell(*i);
                if !value.is_empty() && value != first {
                    return Err(refused(format!(
                        "column `{}` says `{}`, but the product's first row (line {}) says `{}`: repeat a product's values on its other rows, or leave them empty",
                        escape(&self.columns[*i].1),
                        crate::catalog::rules::shown(value),
                        building.line,
                        crate::catalog::rules::shown(first)
                    )));
                }
            }
        }
        let sku = cell(self.sku).to_string();
        let mut variant = Variant {
            sku: sku.clone(),
            ..Variant::default()
        };
        let mut prices = Prices::new();
        for (i, (column, name)) in self.columns.iter().enumerate() {
            let value = cell(i);
            match column {
                Column::Option(option) => {
                    let owned = building.option_columns.contains(&i);
                    match (owned, value.is_empty()) {
                        (true, false) => variant.option_values.push(value.to_string()),
                        (true, true) => {
                            return Err(refused(format!(
                                "variant `{}` has no value for option `{}`",
                                escape(&sku),
                                escape(option)
                            )));
                        }
                        (false, false) => {
                            return Err(refused(format!(
                                "variant `{}` has a value for option `{}`, which the product's first row (line {}) leaves empty: a product's options are those its first row gives",
                                escape(&sku),
                                escape(option),
                                building.line
                            )));
                        }
                        (false, true) => {}
                    }
                }
                _ if value.is_empty() => {}
                Column::Price(currency) => {
                    let price = Price::parse_amount(value, *currency)
                        .map_err(|e| refused(format!("variant `{}`: {e}", escape(&sku))))?;
                    prices.insert(price);
                }
                Column::Stock(location) => {
                    let on_hand = whole_cell(line, &format!("`{}`", escape(name)), value)?;
                    variant.stock.insert(location.clone(), on_hand);
                }
                Column::VariantTitle => variant.title = value.to_string(),
                Column::VariantId => variant.id = Some(value.to_string()),
                Column::VariantAttr(attr) => {
                    variant.attributes.insert(attr.clone(), value.to_string());
                }
                _ => {}
            }
        }
        variant.prices = prices;
        building.product.variants.push(variant);
        building.variant_lines.push(line);
        Ok(())
    }

    fn finish(building: Building) -> Result<LoadItem, ProductFileError> {
        checked_product(building.product, building.line, building.variant_lines)
    }
}

fn wanted_name(column: &Column) -> &'static str {
    match column {
        Column::Handle => "handle",
        Column::Sku => "sku",
        _ => "title",
    }
}

impl<R: BufRead> Iterator for NestedRows<R> {
    type Item = Result<LoadItem, ProductFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let (record, line) = match self.records.next() {
                None => {
                    self.done = true;
                    return self.current.take().map(Self::finish);
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(record)) => record,
            };
            let handle = record.get(self.handle).unwrap_or("");
            if handle.is_empty() {
                self.done = true;
                return Some(Err(at(
                    line,
                    "empty `handle`: every row names its product's handle",
                )));
            }
            let same = self
                .current
                .as_ref()
                .is_some_and(|b| b.product.handle == handle);
            let result = if same {
                let mut building = self.current.take().expect("checked");
                let added = self.add_variant(&mut building, &record, line);
                self.current = Some(building);
                added.map(|()| None)
            } else {
                self.start(&record, line)
                    .map(|next| self.current.replace(next))
            };
            match result {
                Ok(None) => continue,
                Ok(Some(finished)) => return Some(Self::finish(finished)),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
