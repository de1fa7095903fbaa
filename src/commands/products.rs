//! `products list | show | count | load`: the account's catalog.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::app::{Context, Outcome};
use crate::cli::ProductsCommand;
use crate::config::error::read_text;
use crate::crash;
use crate::error::Refused;
use crate::output::{Report, or_dash, table, when, write_table};
use crate::product::Product;
use crate::product_file::{parse_csv, parse_jsonl};
use crate::store::Store;
use crate::store::UpsertCounts;

pub fn run(ctx: &Context, command: ProductsCommand) -> Result<Outcome> {
    let choice = ctx.select_account()?;
    let account = choice.account;
    match command {
        ProductsCommand::Load { file } => load(ctx, &account, &file),
        read_only => {
            let store = Store::open_if_exists(&ctx.paths.data_dir, &account)?;
            match read_only {
                ProductsCommand::List { limit, after } => {
                    let products = match &store {
                        Some(s) => s.read(|tx| tx.list_products(after.as_deref(), limit))?,
                        None => Vec::new(),
                    };
                    Ok(Outcome::ok(ProductList { account, products }))
                }
                ProductsCommand::Count => {
                    let count = match &store {
                        Some(s) => s.read(|tx| tx.count_products())?,
                        None => 0,
                    };
                    Ok(Outcome::ok(Count { account, count }))
                }
                ProductsCommand::Show { sku } => {
                    let found = match &store {
                        Some(s) => {
                            s.read(|tx| Ok((tx.product(&sku)?, tx.listings_for_sku(&sku)?)))?
                        }
                        None => (None, Vec::new()),
                    };
                    let (product, listings) = found;
                    if product.is_none() && listings.is_empty() {
                        return Err(
                            Refused(format!("{account}: no product with sku `{sku}`")).into()
                        );
                    }
                    Ok(Outcome::ok(Show {
                        account,
                        sku,
                        product,
                        listings: listings
                            .into_iter()
                            .map(|l| ListingRow {
                                channel: l.channel,
                                seen_at: l.seen_at,
                                product: l.product,
                            })
                            .collect(),
                    }))
                }
                ProductsCommand::Load { .. } => unreachable!("handled above"),
            }
        }
    }
}

#[derive(Serialize)]
struct ProductList {
    account: String,
    products: Vec<Product>,
}

impl Report for ProductList {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account: {}", self.account)?;
        if self.products.is_empty() {
            return writeln!(out, "no products");
        }
        let mut t = table(["SKU", "TITLE", "PRICE", "QUANTITY", "UPDATED AT"]);
        for p in &self.products {
            t.add_row([
                p.sku.clone(),
                p.title.clone(),
                format!("{} {}", p.price, p.currency),
                p.quantity.to_string(),
                p.updated_at.clone(),
            ]);
        }
        write_table(out, &t)
    }
}

#[derive(Serialize)]
struct Count {
    account: String,
    count: u64,
}

impl Report for Count {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}: {} products", self.account, self.count)
    }
}

#[derive(Serialize)]
struct ListingRow {
    channel: String,
    seen_at: jiff::Timestamp,
    product: Product,
}

#[derive(Serialize)]
struct Show {
    account: String,
    sku: String,
    product: Option<Product>,
    listings: Vec<ListingRow>,
}

impl Report for Show {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account:    {}", self.account)?;
        match &self.product {
            Some(p) => {
                writeln!(out, "sku:        {}", p.sku)?;
                writeln!(out, "title:      {}", p.title)?;
                writeln!(out, "price:      {} {}", p.price, p.currency)?;
                writeln!(out, "quantity:   {}", p.quantity)?;
                writeln!(out, "updated at: {}", p.updated_at)?;
                for (key, value) in &p.attributes {
                    writeln!(out, "attribute:  {key} = {value}")?;
                }
            }
            None => writeln!(
                out,
                "sku:        {} (not in the catalog; only channel listings)",
                self.sku
            )?,
        }
        if !self.listings.is_empty() {
            writeln!(out)?;
            let mut t = table(["CHANNEL", "CHANNEL ID", "PRICE", "QUANTITY", "SEEN AT"]);
            for l in &self.listings {
                t.add_row([
                    l.channel.clone(),
                    or_dash(l.product.id.as_ref()),
                    format!("{} {}", l.product.price, l.product.currency),
                    l.product.quantity.to_string(),
                    when(Some(l.seen_at)),
                ]);
            }
            write_table(out, &t)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Loaded {
    account: String,
    file: PathBuf,
    #[serde(flatten)]
    counts: UpsertCounts,
}

impl Report for Loaded {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{}: loaded {} products from {}: {} created, {} updated, {} unchanged",
            self.account,
            self.counts.total(),
            self.file.display(),
            self.counts.created,
            self.counts.updated,
            self.counts.unchanged
        )
    }
}

fn load(ctx: &Context, account: &str, file: &Path) -> Result<Outcome> {
    let text = read_text(file)?;
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let parsed = match extension {
        "jsonl" | "ndjson" => parse_jsonl(&text),
        "csv" => parse_csv(&text),
        other => {
            return Err(Refused(format!(
                "`{}`: unknown product file type `.{other}`; use .jsonl (JSON Lines) or .csv",
                file.display()
            ))
            .into());
        }
    };
    let products =
        parsed.map_err(|e| Refused(format!("{}: {e}; nothing was loaded", file.display())))?;
    let store = Store::open(&ctx.paths.data_dir, account)?;
    let counts = store
        .write(|tx| {
            let counts = tx.upsert_catalog(&products)?;
            crash::point("products-load");
            Ok(counts)
        })
        .with_context(|| format!("cannot load `{}`; nothing was loaded", file.display()))?;
    Ok(Outcome::ok(Loaded {
        account: account.to_string(),
        file: file.to_path_buf(),
        counts,
    }))
}
