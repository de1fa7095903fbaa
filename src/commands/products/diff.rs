//! `products diff <channel>`: the channel's whole listing (read, never
//! written) against the catalog, in the fields that channel's export owns.
//! It takes the account's lock, since reading may refresh the channel's
//! tokens, and exits 0 whether or not they differ (the report says).

use std::io::{self, Write};
use std::sync::Arc;

use anyhow::{Context as _, Result};

use super::super::Outcome;
use super::super::report::write_product_diff;
use crate::config::LoadedAccount;
use crate::context::Context;
use crate::error::Failure;
use crate::jobs::compare::{ListingDiff, compare, read_listing};
use crate::jobs::runner::{RunOptions, channel_run};
use crate::output::{Report, count, escape};

/// Catalog products read per query.
const PAGE: usize = 1_000;

pub(super) fn diff(ctx: &Context, loaded: &LoadedAccount, channel: &str) -> Result<Outcome> {
    let account = loaded.id.as_str();
    let _lock = ctx.lock_account(account, "a run holds the account; try again when it ends")?;
    let store = Arc::new(ctx.open_store(account)?);
    store.sync_endpoints(&crate::store::endpoints_of(&loaded.config))?;
    let capabilities = ctx.capabilities()?;
    let options = RunOptions::one_channel(ctx.client_options()?, ctx.now(None)?);
    let ch = channel_run(
        loaded,
        channel,
        &capabilities,
        &store,
        ctx.store_spec()?,
        &options,
    )?;
    let fields = ch.channel.export_fields().map_err(|e| {
        Failure::config(format!(
            "{account}/{channel}: export-fields: {e}; fix the channel's table in the account file"
        ))
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (listing, unreadable) = runtime
        .block_on(read_listing(&ch))
        .with_context(|| format!("{account}/{channel}: reading the channel's listing"))?;
    let catalog = store.read(|tx| {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = tx.list_products(after.as_deref(), PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.handle.clone());
            all.extend(page);
        }
        Ok(all)
    })?;
    let mut report = compare(channel, &catalog, &listing, fields);
    report.unreadable = unreadable;
    Ok(Outcome::ok(report))
}

impl Report for ListingDiff {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{} lists {}; {} missing there, {} extra, {} with differences{}",
            self.channel,
            count(self.listed, "product", "products"),
            self.missing.len(),
            self.extra.len(),
            self.changed.len(),
            match self.unreadable {
                0 => String::new(),
                n => format!(
                    " ({} it lists cannot be read as products and were left out)",
                    count(n, "item", "items")
                ),
            }
        )?;
        for handle in &self.missing {
            writeln!(out, "  missing  {}", escape(handle))?;
        }
        for handle in &self.extra {
            writeln!(out, "  extra    {}", escape(handle))?;
        }
        for changed in &self.changed {
            write_product_diff(out, "differs", changed)?;
        }
        Ok(())
    }
}
