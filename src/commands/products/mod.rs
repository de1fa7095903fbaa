//! `products list | show | count | load | remove | release`: the account's
//! catalog of whole products (`show` in `show`, `load` in `load`).

mod diff;
mod load;
mod show;

use std::io::{self, Write};
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::Outcome;
use crate::catalog::{Product, check_sku};
use crate::cli::ProductsCommand;
use crate::config::LoadedAccount;
use crate::config::model::DEFAULT_QUARANTINE_AFTER;
use crate::context::Context;
use crate::crash;
use crate::error::{ErrorKind, Failure, KindContext as _};
use crate::output::{Report, count, table, write_table};
use crate::store::{Removed, endpoints_of};

pub fn run(ctx: &Context, command: ProductsCommand) -> Result<Outcome> {
    // Every products command names an existing account, like every other
    // command: a typo'd account is an error, never an empty catalog.
    let (choice, loaded) = ctx.load_selected()?;
    let account = choice.account;
    match command {
        ProductsCommand::Load { file } => load::load(ctx, &account, &file),
        ProductsCommand::Remove { keys, file } => remove(ctx, &account, keys, file.as_deref()),
        ProductsCommand::Release { key, channel } => release(ctx, &loaded, &key, channel),
        ProductsCommand::Diff { channel } => diff::diff(ctx, &loaded, &channel),
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
                    let (count, variants) = match &store {
                        Some(s) => s.read(|tx| Ok((tx.count_products()?, tx.count_variants()?)))?,
                        None => (0, 0),
                    };
                    Ok(Outcome::ok(Count {
                        account,
                        count,
                        variants,
                    }))
                }
                ProductsCommand::Show { key } => {
                    let threshold = |channel: &str| quarantine_after(&loaded, channel);
                    show::show(account, store.as_ref(), &key, &threshold)
                }
                ProductsCommand::Load { .. }
                | ProductsCommand::Diff { .. }
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
    /// Whole products (variants, prices, stock).
    products: Vec<Product>,
}

impl Report for ProductList {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account: {}", self.account)?;
        if self.products.is_empty() {
            return writeln!(out, "no products");
        }
        let mut t = table([
            "HANDLE",
            "TITLE",
            "VARIANTS",
            "PRICE",
            "STOCK",
            "UPDATED AT",
        ]);
        for p in &self.products {
            t.add_row([
                p.handle.clone(),
                p.title.clone(),
                p.variants.len().to_string(),
                price_range(p),
                p.variants
                    .iter()
                    .flat_map(|v| v.stock.values())
                    .sum::<i64>()
                    .to_string(),
                p.updated_at.clone(),
            ]);
        }
        write_table(out, &t)
    }
}

/// `19.90 EUR` or `19.90-21.00 EUR` (in the first currency of the first
/// variant that has a price, as written), `-` for none.
fn price_range(product: &Product) -> String {
    let Some(currency) = product
        .variants
        .iter()
        .find_map(|v| v.prices.currencies().next())
    else {
        return "-".to_string();
    };
    let prices: Vec<_> = product
        .variants
        .iter()
        .filter_map(|v| v.prices.get(currency))
        .collect();
    let low = prices.iter().min_by_key(|p| p.amount());
    let high = prices.iter().max_by_key(|p| p.amount());
    match (low, high) {
        (Some(low), Some(high)) if low.amount() != high.amount() => {
            format!("{}-{} {currency}", low.amount_text(), high.amount_text())
        }
        (Some(low), _) => format!("{} {currency}", low.amount_text()),
        _ => "-".to_string(),
    }
}

#[derive(Serialize)]
struct Count {
    account: String,
    /// Products.
    count: u64,
    variants: u64,
}

impl Report for Count {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{}: {} ({})",
            self.account,
            count(self.count, "product", "products"),
            count(self.variants, "variant", "variants")
        )
    }
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
        let variants = if r.variants_removed.is_empty() {
            String::new()
        } else {
            format!(
                " and {} from their products",
                count(r.variants_removed.len() as u64, "variant", "variants")
            )
        };
        writeln!(
            out,
            "{}: removed {}{variants} from the catalog; {} pending on the channels (sent by the next export)",
            self.account,
            count(r.removed.len() as u64, "product", "products"),
            count(r.deletions_pending, "deletion", "deletions")
        )?;
        if !r.missing.is_empty() {
            let shown: Vec<String> = r
                .missing
                .iter()
                .take(10)
                .map(|k| crate::output::escape(k).into_owned())
                .collect();
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

/// The handles and SKUs named on the command line and in `file`, each
/// checked by the SKU rules (which every handle meets); a bad one refuses
/// the whole command, removing nothing.
fn keys_to_remove(mut keys: Vec<String>, file: Option<&Path>) -> Result<Vec<String>> {
    for key in &keys {
        check_sku(key).map_err(|e| Failure::refused(format!("{e}; nothing was removed")))?;
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
            keys.push(line.to_string());
        }
    }
    if keys.is_empty() {
        return Err(Failure::refused(
            "nothing to remove: name handles or SKUs, or give a file of them with --file",
        )
        .into());
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

fn remove(ctx: &Context, account: &str, keys: Vec<String>, file: Option<&Path>) -> Result<Outcome> {
    let keys = keys_to_remove(keys, file)?;
    let removed = match ctx.open_store_if_exists(account)? {
        Some(store) => store.write(|tx| {
            let removed = tx.remove(&keys, jiff::Timestamp::now())?;
            crash::point("products-remove");
            Ok(removed)
        })?,
        None => Removed {
            missing: keys,
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
    handle: String,
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
                self.account, self.handle
            )
        } else {
            writeln!(
                out,
                "{}: released `{}` on {}: the next export sends it again",
                self.account,
                self.handle,
                count(self.released, "channel", "channels")
            )
        }
    }
}

fn release(
    ctx: &Context,
    loaded: &LoadedAccount,
    key: &str,
    channel: Option<String>,
) -> Result<Outcome> {
    check_sku(key).map_err(|e| Failure::refused(e.to_string()))?;
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
    let (handle, released) = match ctx.open_store_if_exists(&loaded.id)? {
        Some(store) => store.write(|tx| {
            let handle = match tx.product_revision(key)? {
                Some(_) => key.to_string(),
                None => tx.handle_of_sku(key)?.unwrap_or_else(|| key.to_string()),
            };
            let released = tx.release_quarantine(&handle, channel.as_deref())?;
            Ok((handle, released))
        })?,
        None => (key.to_string(), 0),
    };
    Ok(Outcome::ok(Released {
        account: loaded.id.clone(),
        handle,
        channel,
        released,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_data::{price, shirt};

    #[test]
    fn the_price_column_shows_the_range_of_the_first_currency() {
        let mut p = shirt();
        assert_eq!(price_range(&p), "19.90-21.00 EUR");
        p.variants.truncate(1);
        assert_eq!(price_range(&p), "19.90 EUR");
        p.variants[0].prices = [price("5", "USD")].into_iter().collect();
        assert_eq!(price_range(&p), "5 USD");
        p.variants[0].prices = Default::default();
        assert_eq!(price_range(&p), "-");
    }
}
