//! `products list | show | count | load`: the account's catalog.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::Outcome;
use crate::cli::ProductsCommand;
use crate::config::LoadedAccount;
use crate::config::model::DEFAULT_QUARANTINE_AFTER;
use crate::context::Context;
use crate::crash;
use crate::error::{ErrorKind, Failure, KindContext as _};
use crate::output::{Report, count, escape, or_dash, table, when, write_table};
use crate::product::{Product, check_sku};
use crate::product_file::{Format, ProductFileError, read_products};
use crate::store::{ExportState, Removed, StoreError, UpsertCounts, endpoints_of};

pub fn run(ctx: &Context, command: ProductsCommand) -> Result<Outcome> {
    // Every products command names an existing account, like every other
    // command: a typo'd account is an error, never an empty catalog.
    let (choice, loaded) = ctx.load_selected()?;
    let account = choice.account;
    match command {
        ProductsCommand::Load { file } => load(ctx, &account, &file),
        ProductsCommand::Remove { skus, file } => remove(ctx, &account, skus, file.as_deref()),
        ProductsCommand::Release { sku, channel } => release(ctx, &loaded, &sku, channel),
        read_only => {
            let store = ctx.open_store_for_reading(&account)?;
            if let Some(store) = &store {
                store.sync_endpoints(&endpoints_of(&loaded.config))?;
            }
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
                    let threshold = |channel: &str| quarantine_after(&loaded, channel);
                    let found = match &store {
                        Some(s) => s.read(|tx| {
                            Ok((
                                tx.product(&sku)?,
                                tx.listings_for_sku(&sku)?,
                                tx.export_states(&sku, &threshold)?,
                            ))
                        })?,
                        None => (None, Vec::new(), Vec::new()),
                    };
                    let (product, listings, exports) = found;
                    if product.is_none() && listings.is_empty() && exports.is_empty() {
                        return Err(Failure::refused(format!(
                            "{account}: no product with sku `{sku}`"
                        ))
                        .into());
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
                        exports,
                    }))
                }
                ProductsCommand::Load { .. }
                | ProductsCommand::Remove { .. }
                | ProductsCommand::Release { .. } => unreachable!("handled above"),
            }
        }
    }
}

/// The channel's quarantine threshold; the default for a channel no longer
/// in the file.
fn quarantine_after(loaded: &LoadedAccount, channel: &str) -> u32 {
    loaded
        .config
        .channels
        .get(channel)
        .map_or(DEFAULT_QUARANTINE_AFTER, |c| c.quarantine_threshold())
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
                p.price.to_string(),
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
        writeln!(
            out,
            "{}: {}",
            self.account,
            count(self.count, "product", "products")
        )
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
    /// Where the product stands with each channel's export (quarantine,
    /// pending deletion).
    exports: Vec<ExportState>,
}

impl Report for Show {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account:    {}", self.account)?;
        match &self.product {
            Some(p) => {
                writeln!(out, "sku:        {}", escape(&p.sku))?;
                writeln!(out, "title:      {}", escape(&p.title))?;
                writeln!(out, "price:      {}", p.price)?;
                writeln!(out, "quantity:   {}", p.quantity)?;
                writeln!(out, "updated at: {}", escape(&p.updated_at))?;
                for (key, value) in &p.attributes {
                    writeln!(out, "attribute:  {} = {}", escape(key), escape(value))?;
                }
            }
            None => writeln!(
                out,
                "sku:        {} (not in the catalog; what the channels hold or still owe follows)",
                escape(&self.sku)
            )?,
        }
        if !self.listings.is_empty() {
            writeln!(out)?;
            let mut t = table(["CHANNEL", "CHANNEL ID", "PRICE", "QUANTITY", "SEEN AT"]);
            for l in &self.listings {
                t.add_row([
                    l.channel.clone(),
                    or_dash(l.product.id.as_ref()),
                    l.product.price.to_string(),
                    l.product.quantity.to_string(),
                    when(Some(l.seen_at)),
                ]);
            }
            write_table(out, &t)?;
        }
        if !self.exports.is_empty() {
            writeln!(out)?;
            let mut t = table([
                "CHANNEL",
                "EXPORTED REVISION",
                "LAST STATUS",
                "STATE",
                "ERROR",
            ]);
            for e in &self.exports {
                let state = if e.deletion_pending {
                    "deletion pending".to_string()
                } else if e.quarantined {
                    format!(
                        "QUARANTINED ({}; `products release {}`)",
                        count(e.rejections.into(), "rejection", "rejections"),
                        self.sku
                    )
                } else if e.rejections > 0 {
                    format!("rejected {}", count(e.rejections.into(), "time", "times"))
                } else {
                    "-".to_string()
                };
                t.add_row([
                    e.channel.clone(),
                    or_dash(e.exported_revision.map(|r| r.to_string()).as_ref()),
                    e.last_status.clone(),
                    state,
                    or_dash(e.last_error.as_ref()),
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
            "{}: loaded {} from {}: {} created, {} updated, {} unchanged",
            self.account,
            count(self.counts.total(), "product", "products"),
            self.file.display(),
            self.counts.created,
            self.counts.updated,
            self.counts.unchanged
        )
    }
}

fn load(ctx: &Context, account: &str, file: &Path) -> Result<Outcome> {
    let refused = |e: &dyn std::fmt::Display| {
        Failure::refused(format!("{}: {e}; nothing was loaded", file.display()))
    };
    let format = Format::of(file).map_err(|e| refused(&e))?;
    let reader = std::fs::File::open(file).with_kind_context(ErrorKind::Config, || {
        format!("cannot read `{}`", file.display())
    })?;
    let loaded_at = jiff::Timestamp::now().to_string();
    let rows =
        read_products(io::BufReader::new(reader), format, &loaded_at).map_err(|e| refused(&e))?;
    let store = ctx.open_store(account)?;
    // One transaction for the whole file: a bad line anywhere, or a kill,
    // leaves the catalog as it was. Products go in by chunks as they are
    // read, so memory does not grow with the file.
    const CHUNK: usize = 1000;
    let mut failure = None;
    let result = store.write(|tx| {
        tx.begin_load()?;
        let mut counts = UpsertCounts::default();
        let mut chunk = Vec::with_capacity(CHUNK);
        for row in rows {
            let (line, product) = match row {
                Ok(row) => row,
                Err(e) => {
                    failure = Some(e);
                    return Err(StoreError::Abandoned);
                }
            };
            if let Some(first) = tx.first_load_line(&product.sku, line)? {
                failure = Some(ProductFileError::Line {
                    line,
                    message: format!(
                        "sku `{}` appears twice in the file (first on line {first})",
                        product.sku
                    ),
                });
                return Err(StoreError::Abandoned);
            }
            chunk.push(product);
            if chunk.len() == CHUNK {
                counts += tx.upsert_catalog(&chunk)?;
                chunk.clear();
                crash::point("products-load-chunk");
            }
        }
        counts += tx.upsert_catalog(&chunk)?;
        tx.end_load()?;
        crash::point("products-load");
        Ok(counts)
    });
    // The file's own problem is refused (exit 1); the store's is reported as is.
    let counts = match (result, failure) {
        (Ok(counts), _) => counts,
        (Err(_), Some(e @ ProductFileError::Unreadable { .. })) => {
            return Err(Failure::config(format!(
                "cannot read `{}`: {e}; nothing was loaded",
                file.display()
            ))
            .into());
        }
        (Err(_), Some(e)) => return Err(refused(&e).into()),
        (Err(e), None) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot load `{}`; nothing was loaded",
                file.display()
            )));
        }
    };
    Ok(Outcome::ok(Loaded {
        account: account.to_string(),
        file: file.to_path_buf(),
        counts,
    }))
}

#[derive(Serialize)]
struct RemovedReport {
    account: String,
    #[serde(flatten)]
    removed: Removed,
}

impl Report for RemovedReport {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = &self.removed;
        writeln!(
            out,
            "{}: removed {} from the catalog; {} pending on the channels (sent by the next export)",
            self.account,
            count(r.removed.len() as u64, "product", "products"),
            count(r.deletions_pending, "deletion", "deletions")
        )?;
        if !r.missing.is_empty() {
            let shown: Vec<&str> = r.missing.iter().take(10).map(String::as_str).collect();
            writeln!(
                out,
                "not in the catalog (nothing to do): {}{}",
                shown.join(", "),
                if r.missing.len() > 10 { ", ..." } else { "" }
            )?;
        }
        Ok(())
    }
}

/// The SKUs named on the command line and in `file`, each checked by the
/// sku rules; a bad one refuses the whole command, removing nothing.
fn skus_to_remove(mut skus: Vec<String>, file: Option<&Path>) -> Result<Vec<String>> {
    for sku in &skus {
        check_sku(sku).map_err(|e| Failure::refused(format!("{e}; nothing was removed")))?;
    }
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).with_kind_context(ErrorKind::Config, || {
            format!("cannot read `{}`", file.display())
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for (index, line) in text.lines().enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            check_sku(line).map_err(|e| {
                Failure::refused(format!(
                    "{}: line {}: {e}; nothing was removed",
                    file.display(),
                    index + 1
                ))
            })?;
            skus.push(line.to_string());
        }
    }
    if skus.is_empty() {
        return Err(Failure::refused(
            "no sku to remove: name SKUs, or give a file of them with --file",
        )
        .into());
    }
    skus.sort();
    skus.dedup();
    Ok(skus)
}

fn remove(ctx: &Context, account: &str, skus: Vec<String>, file: Option<&Path>) -> Result<Outcome> {
    let skus = skus_to_remove(skus, file)?;
    let removed = match ctx.open_store_if_exists(account)? {
        Some(store) => store.write(|tx| {
            let removed = tx.remove_products(&skus, jiff::Timestamp::now())?;
            crash::point("products-remove");
            Ok(removed)
        })?,
        None => Removed {
            missing: skus,
            ..Removed::default()
        },
    };
    Ok(Outcome::ok(RemovedReport {
        account: account.to_string(),
        removed,
    }))
}

#[derive(Serialize)]
struct Released {
    account: String,
    sku: String,
    channel: Option<String>,
    released: u64,
}

impl Report for Released {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let on = self
            .channel
            .as_ref()
            .map_or("any channel".to_string(), |c| format!("channel `{c}`"));
        if self.released == 0 {
            writeln!(
                out,
                "{}: `{}` was not rejected on {on}; nothing to release",
                self.account, self.sku
            )
        } else {
            writeln!(
                out,
                "{}: released `{}` on {}: the next export sends it again",
                self.account,
                self.sku,
                count(self.released, "channel", "channels")
            )
        }
    }
}

fn release(
    ctx: &Context,
    loaded: &LoadedAccount,
    sku: &str,
    channel: Option<String>,
) -> Result<Outcome> {
    check_sku(sku).map_err(|e| Failure::refused(e.to_string()))?;
    if let Some(channel) = &channel {
        crate::ids::check_channel_id(channel)?;
        if !loaded.config.channels.contains_key(channel) {
            return Err(Failure::refused(format!(
                "{}: channel `{channel}` does not exist in `{}` (channels: {})",
                loaded.id,
                loaded.path.display(),
                loaded.config.channel_names()
            ))
            .into());
        }
    }
    let released = match ctx.open_store_if_exists(&loaded.id)? {
        Some(store) => store.write(|tx| tx.release_quarantine(sku, channel.as_deref()))?,
        None => 0,
    };
    Ok(Outcome::ok(Released {
        account: loaded.id.clone(),
        sku: sku.to_string(),
        channel,
        released,
    }))
}
