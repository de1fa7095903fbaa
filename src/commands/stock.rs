//! `stock load <file> [--full]`: what the OMS holds per SKU and location
//! (on hand, reserved), in one transaction, a chunk at a time as the file
//! is read, so memory stays flat and a bad line anywhere, an SKU the catalog
//! lacks, or a kill loads nothing.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::{Outcome, load_file};
use crate::catalog::file::{Format, ProductFileError, StockLine, at, read_stock};
use crate::cli::StockCommand;
use crate::context::Context;
use crate::crash;
use crate::error::{ErrorKind, KindContext as _};
use crate::output::{Report, count, escape};
use crate::store::{StockCounts, StockUpdate, StoreError, Tx};

/// Levels written per store call.
const CHUNK: usize = 1000;
/// Unknown SKUs named in the refusal; the rest are counted.
const UNKNOWN_SHOWN: usize = 10;

pub fn run(ctx: &Context, command: StockCommand) -> Result<Outcome> {
    let (choice, _) = ctx.load_selected()?;
    match command {
        StockCommand::Load { file, full } => load(ctx, &choice.account, &file, full),
    }
}

#[derive(Serialize)]
struct Loaded {
    account: String,
    file: PathBuf,
    full: bool,
    /// Levels the file gave.
    levels: u64,
    #[serde(flatten)]
    counts: StockCounts,
}

impl Report for Loaded {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let c = &self.counts;
        write!(
            out,
            "{}: loaded {} from {}: {} created, {} updated, {} unchanged",
            self.account,
            count(self.levels, "stock level", "stock levels"),
            self.file.display(),
            c.created,
            c.updated,
            c.unchanged,
        )?;
        if c.stale > 0 {
            write!(out, ", {} older than the stored count (kept)", c.stale)?;
        }
        if self.full {
            write!(
                out,
                "; {} not in the file set to 0",
                count(c.zeroed, "level", "levels")
            )?;
        }
        writeln!(out)
    }
}

/// Lines naming SKUs the catalog lacks: the first few, and how many.
#[derive(Default)]
struct UnknownSkus {
    lines: u64,
    shown: Vec<(u64, String)>,
}

impl UnknownSkus {
    fn add(&mut self, line: u64, sku: &str) {
        self.lines += 1;
        if self.shown.len() < UNKNOWN_SHOWN {
            self.shown.push((line, sku.to_string()));
        }
    }

    fn message(&self) -> String {
        let named: Vec<String> = self
            .shown
            .iter()
            .map(|(line, sku)| format!("line {line} `{}`", escape(sku)))
            .collect();
        let more = self.lines - self.shown.len() as u64;
        format!(
            "{} not in the catalog (stock is kept only for catalog variants: `products load` them first): {}{}",
            count(self.lines, "line names an SKU", "lines name SKUs"),
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    }
}

fn load(ctx: &Context, account: &str, file: &Path, full: bool) -> Result<Outcome> {
    let refused = |e: &dyn std::fmt::Display| load_file::refused(file, e);
    let format = Format::of(file).map_err(|e| refused(&e))?;
    let reader = std::fs::File::open(file).with_kind_context(ErrorKind::Config, || {
        format!("cannot read `{}`", file.display())
    })?;
    let loaded_at = Timestamp::now();
    let lines = read_stock(io::BufReader::new(reader), format).map_err(|e| refused(&e))?;
    let store = ctx.open_store(account)?;
    let mut refusal = None;
    let result = store.write(|tx| {
        tx.begin_stock_load()?;
        let mut counts = StockCounts::default();
        let mut unknown = UnknownSkus::default();
        let mut chunk = Vec::with_capacity(CHUNK);
        for line in lines {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    refusal = Some(e);
                    return Err(StoreError::Abandoned);
                }
            };
            let level = &line.level;
            if let Some(first) = tx.first_stock_line(&level.sku, &level.location, line.line)? {
                refusal = Some(at(
                    line.line,
                    format!(
                        "sku `{}` at `{}` appears twice in the file (first on line {first})",
                        escape(&level.sku),
                        escape(&level.location)
                    ),
                ));
                return Err(StoreError::Abandoned);
            }
            chunk.push(line);
            if chunk.len() == CHUNK {
                counts += write_chunk(tx, &mut chunk, &mut unknown, loaded_at)?;
                crash::point("stock-load-chunk");
            }
        }
        counts += write_chunk(tx, &mut chunk, &mut unknown, loaded_at)?;
        if unknown.lines > 0 {
            refusal = Some(ProductFileError::File(unknown.message()));
            return Err(StoreError::Abandoned);
        }
        if full {
            counts.zeroed = tx.zero_unlisted_stock(loaded_at)?;
        }
        tx.end_stock_load()?;
        crash::point("stock-load");
        Ok(counts)
    });
    let counts = result.map_err(|e| load_file::not_loaded(file, e, refusal))?;
    Ok(Outcome::ok(Loaded {
        account: account.to_string(),
        file: file.to_path_buf(),
        full,
        levels: counts.total(),
        counts,
    }))
}

/// Writes a chunk of levels, after checking their SKUs against the catalog.
/// Once a line names an unknown SKU nothing more is written (the load will
/// be rolled back), but the rest of the file is still read, so the refusal
/// names every such line at once.
fn write_chunk(
    tx: &Tx<'_>,
    chunk: &mut Vec<StockLine>,
    unknown: &mut UnknownSkus,
    loaded_at: Timestamp,
) -> Result<StockCounts, StoreError> {
    let mut skus: Vec<&str> = chunk.iter().map(|l| l.level.sku.as_str()).collect();
    skus.sort_unstable();
    skus.dedup();
    let missing = tx.skus_not_in_catalog(&skus)?;
    for line in chunk.iter().filter(|l| missing.contains(&l.level.sku)) {
        unknown.add(line.line, &line.level.sku);
    }
    if unknown.lines > 0 {
        chunk.clear();
        return Ok(StockCounts::default());
    }
    let updates: Vec<StockUpdate> = chunk
        .drain(..)
        .map(|l| StockUpdate {
            counted_at: l.updated_at.unwrap_or(loaded_at),
            dated: l.updated_at.is_some(),
            level: l.level,
        })
        .collect();
    tx.write_stock_levels(&updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_skus_are_named_by_line_up_to_ten_then_counted() {
        let mut unknown = UnknownSkus::default();
        unknown.add(4, "X-1");
        assert_eq!(
            unknown.message(),
            "1 line names an SKU not in the catalog (stock is kept only for catalog variants: `products load` them first): line 4 `X-1`"
        );
        for line in 5..20 {
            unknown.add(line, &format!("X-{line}"));
        }
        let message = unknown.message();
        assert!(
            message.starts_with("16 lines name SKUs not in the catalog"),
            "{message}"
        );
        assert!(message.ends_with("line 13 `X-13` and 6 more"), "{message}");
    }
}
