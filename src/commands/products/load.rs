//! `products load <file>`: upserts whole products from a load file in one
//! transaction, a chunk at a time as the file is read, so memory stays flat
//! and a bad line anywhere (or a kill) loads nothing.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::super::{Outcome, load_file};
use crate::catalog::file::{Format, LoadItem, ProductFileError, at, read_products};
use crate::context::Context;
use crate::crash;
use crate::error::{ErrorKind, KindContext as _};
use crate::output::{Report, count, escape};
use crate::store::{LoadKey, StoreError, Tx, UpsertCounts};

/// Products upserted per store call.
const CHUNK: usize = 1000;

#[derive(Serialize)]
struct Loaded {
    account: String,
    file: PathBuf,
    #[serde(flatten)]
    counts: UpsertCounts,
    /// Variants of the products loaded.
    variants: u64,
}

impl Report for Loaded {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{}: loaded {} ({}) from {}: {} created, {} updated, {} unchanged",
            self.account,
            count(self.counts.total(), "product", "products"),
            count(self.variants, "variant", "variants"),
            self.file.display(),
            self.counts.created,
            self.counts.updated,
            self.counts.unchanged
        )
    }
}

pub(super) fn load(ctx: &Context, account: &str, file: &Path) -> Result<Outcome> {
    let refused = |e: &dyn std::fmt::Display| load_file::refused(file, e);
    let format = Format::of(file).map_err(|e| refused(&e))?;
    let reader = std::fs::File::open(file).with_kind_context(ErrorKind::Config, || {
        format!("cannot read `{}`", file.display())
    })?;
    let loaded_at = jiff::Timestamp::now().to_string();
    let items =
        read_products(io::BufReader::new(reader), format, &loaded_at).map_err(|e| refused(&e))?;
    let store = ctx.open_store(account)?;
    let mut failure = None;
    let result = store.write(|tx| {
        tx.begin_load()?;
        let mut counts = UpsertCounts::default();
        let mut variants = 0u64;
        let mut chunk = Vec::with_capacity(CHUNK);
        for item in items {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    failure = Some(e);
                    return Err(StoreError::Abandoned);
                }
            };
            if let Some(e) = given_twice(tx, &item, format)? {
                failure = Some(e);
                return Err(StoreError::Abandoned);
            }
            variants += item.product.variants.len() as u64;
            chunk.push(item.product);
            if chunk.len() == CHUNK {
                counts += tx.upsert_products(&chunk)?;
                chunk.clear();
                crash::point("products-load-chunk");
            }
        }
        counts += tx.upsert_products(&chunk)?;
        tx.end_load()?;
        crash::point("products-load");
        Ok((counts, variants))
    });
    let (counts, variants) = result.map_err(|e| load_file::not_loaded(file, e, failure))?;
    Ok(Outcome::ok(Loaded {
        account: account.to_string(),
        file: file.to_path_buf(),
        counts,
        variants,
    }))
}

/// A SKU or handle the file gave before, as the error naming both lines.
/// A flat line is known by its SKU (its handle comes from it), so its SKU
/// is checked first; a nested product by its handle.
fn given_twice(
    tx: &Tx<'_>,
    item: &LoadItem,
    format: Format,
) -> Result<Option<ProductFileError>, StoreError> {
    let handle = &item.product.handle;
    let check_handle = |tx: &Tx<'_>| -> Result<Option<ProductFileError>, StoreError> {
        let Some(first) = tx.first_load_line(LoadKey::Handle, handle, item.line)? else {
            return Ok(None);
        };
        let shown = escape(handle);
        let message = match (item.flat, format) {
            (true, _) => format!(
                "sku `{}` makes handle `{shown}`, which line {first} has too",
                escape(&item.product.variants[0].sku)
            ),
            (false, Format::Csv) => format!(
                "handle `{shown}` appears again after other products (its rows start on line {first}): the rows of one product are consecutive"
            ),
            (false, Format::JsonLines) => {
                format!("handle `{shown}` appears twice in the file (first on line {first})")
            }
        };
        Ok(Some(at(item.line, message)))
    };
    if !item.flat
        && let Some(e) = check_handle(tx)?
    {
        return Ok(Some(e));
    }
    for (variant, line) in item.product.variants.iter().zip(&item.variant_lines) {
        if let Some(first) = tx.first_load_line(LoadKey::Sku, &variant.sku, *line)? {
            return Ok(Some(at(
                *line,
                format!(
                    "sku `{}` appears twice in the file (first on line {first})",
                    escape(&variant.sku)
                ),
            )));
        }
    }
    if item.flat {
        return check_handle(tx);
    }
    Ok(None)
}
