//! `products show <handle|sku>`: one whole product (its variants, prices
//! and stock per location) and, per channel, its export state (revision,
//! quarantine, a deletion owed), the platform's ids and the listing a
//! channel's import recorded, and the stock level export-stock last sent
//! each channel per variant and location. `--json` has all of it.

use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use super::super::Outcome;
use crate::catalog::{Product, derive_handle};
use crate::connector::PlatformIds;
use crate::error::Failure;
use crate::output::{Report, count, escape, or_dash, table, when, write_table};
use crate::store::{ChannelStock, ExportState, Store, StoredLevel};

#[derive(Serialize)]
struct ListingRow {
    channel: String,
    seen_at: jiff::Timestamp,
    product: Product,
}

#[derive(Serialize)]
struct ChannelIds {
    channel: String,
    ids: PlatformIds,
}

#[derive(Serialize)]
struct Show {
    account: String,
    /// What was asked for: a handle or a SKU.
    key: String,
    handle: String,
    product: Option<Product>,
    revision: Option<i64>,
    /// Each variant's stock per location as `stock load` (or the product
    /// file) set it: on hand, reserved, when it was counted.
    stock_levels: Vec<StoredLevel>,
    listings: Vec<ListingRow>,
    /// Where the product stands with each channel's export (quarantine,
    /// pending deletion).
    exports: Vec<ExportState>,
    /// Each channel's ids for the product and its variants.
    platform_ids: Vec<ChannelIds>,
    /// What export-stock last sent each channel, per variant and location.
    stock_sent: Vec<SentStock>,
}

#[derive(Serialize)]
struct SentStock {
    sku: String,
    #[serde(flatten)]
    state: ChannelStock,
}

pub(super) fn show(
    account: String,
    store: Option<&Store>,
    key: &str,
    threshold: &dyn Fn(&str) -> u32,
) -> Result<Outcome> {
    let Some(store) = store else {
        return Err(not_found(&account, key));
    };
    let found = store.read(|tx| {
        let product = tx.find_product(key)?;
        // A product no longer in the catalog is still known by what the
        // channels hold or are owed: by its handle, or a flat product's.
        let handle = match &product {
            Some(p) => p.handle.clone(),
            None if tx.export_states(key, threshold)?.is_empty() => derive_handle(key),
            None => key.to_string(),
        };
        let skus: Vec<String> = match &product {
            Some(p) => p.skus().map(str::to_string).collect(),
            None => vec![key.to_string()],
        };
        let revision = tx.product_revision(&handle)?;
        let stock_levels = match &product {
            Some(p) => tx.stock_levels(&p.skus().collect::<Vec<_>>())?,
            None => Vec::new(),
        };
        let listings = tx.listings_for(&handle, &skus)?;
        let exports = tx.export_states(&handle, threshold)?;
        let ids = match &product {
            Some(p) => tx.platform_ids_for(p)?,
            None => Vec::new(),
        };
        let mut stock_sent = Vec::new();
        for sku in &skus {
            stock_sent.extend(tx.stock_sent_of(sku)?.into_iter().map(|state| SentStock {
                sku: sku.clone(),
                state,
            }));
        }
        Ok((
            product,
            handle,
            revision,
            stock_levels,
            listings,
            exports,
            ids,
            stock_sent,
        ))
    })?;
    let (product, handle, revision, stock_levels, listings, exports, ids, stock_sent) = found;
    if product.is_none() && listings.is_empty() && exports.is_empty() {
        return Err(not_found(&account, key));
    }
    Ok(Outcome::ok(Show {
        account,
        key: key.to_string(),
        handle,
        product,
        revision,
        stock_levels,
        listings: listings
            .into_iter()
            .map(|l| ListingRow {
                channel: l.channel,
                seen_at: l.seen_at,
                product: l.product,
            })
            .collect(),
        exports,
        platform_ids: ids
            .into_iter()
            .map(|(channel, ids)| ChannelIds { channel, ids })
            .collect(),
        stock_sent,
    }))
}

fn not_found(account: &str, key: &str) -> anyhow::Error {
    Failure::refused(format!(
        "{account}: no product with handle or sku `{}`",
        escape(key)
    ))
    .into()
}

/// A description as one line for the terminal: its first line, cut.
fn one_line(text: &str) -> String {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut shown: String = first.chars().take(70).collect();
    if first.chars().count() > 70 || text.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        shown.push_str(" ...");
    }
    escape(&shown).into_owned()
}

impl Report for Show {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "account:     {}", self.account)?;
        match &self.product {
            Some(p) => write_product(out, p, self.revision, &self.stock_levels)?,
            None => writeln!(
                out,
                "handle:      {} (not in the catalog; what the channels hold or still owe follows)",
                escape(&self.handle)
            )?,
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
                        self.handle
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
        if !self.stock_sent.is_empty() {
            writeln!(out)?;
            let mut t = table([
                "STOCK SENT TO",
                "SKU",
                "LOCATION",
                "LAST SENT",
                "SENT AT",
                "REFUSED",
            ]);
            for s in &self.stock_sent {
                let refused = match (s.state.rejections, &s.state.last_error) {
                    (0, _) => "-".to_string(),
                    (n, error) => format!(
                        "{}{}",
                        count(n.into(), "time", "times"),
                        error
                            .as_deref()
                            .map(|e| format!(": {}", escape(e)))
                            .unwrap_or_default()
                    ),
                };
                t.add_row([
                    s.state.channel.clone(),
                    escape(&s.sku).into_owned(),
                    escape(&s.state.location).into_owned(),
                    or_dash(s.state.sent.map(|v| v.to_string()).as_ref()),
                    when(s.state.sent_at),
                    refused,
                ]);
            }
            write_table(out, &t)?;
        }
        if !self.platform_ids.is_empty() {
            writeln!(out)?;
            let mut t = table(["CHANNEL", "KIND", "KEY", "PLATFORM ID"]);
            for c in &self.platform_ids {
                for (kind, key, id) in c.ids.iter() {
                    t.add_row([c.channel.as_str(), kind, key, id]);
                }
            }
            write_table(out, &t)?;
        }
        if !self.listings.is_empty() {
            writeln!(out)?;
            let mut t = table(["LISTED ON", "HANDLE", "CHANNEL ID", "VARIANTS", "SEEN AT"]);
            for l in &self.listings {
                t.add_row([
                    l.channel.clone(),
                    l.product.handle.clone(),
                    or_dash(l.product.id.as_ref()),
                    l.product.variants.len().to_string(),
                    when(Some(l.seen_at)),
                ]);
            }
            write_table(out, &t)?;
        }
        Ok(())
    }
}

fn write_product(
    out: &mut dyn Write,
    p: &Product,
    revision: Option<i64>,
    levels: &[StoredLevel],
) -> io::Result<()> {
    writeln!(out, "handle:      {}", escape(&p.handle))?;
    writeln!(out, "title:       {}", escape(&p.title))?;
    writeln!(out, "status:      {}", p.status)?;
    if !p.description.is_empty() {
        writeln!(out, "description: {}", one_line(&p.description))?;
    }
    let joined = |items: &[String]| escape(&items.join(", ")).into_owned();
    if !p.categories.is_empty() {
        writeln!(out, "categories:  {}", joined(&p.categories))?;
    }
    if !p.tags.is_empty() {
        writeln!(out, "tags:        {}", joined(&p.tags))?;
    }
    for image in &p.images {
        let alt = if image.alt.is_empty() {
            String::new()
        } else {
            format!(" ({})", escape(&image.alt))
        };
        writeln!(out, "image:       {}{alt}", escape(&image.url))?;
    }
    if !p.options.is_empty() {
        writeln!(out, "options:     {}", joined(&p.options))?;
    }
    for (key, value) in &p.attributes {
        writeln!(out, "attribute:   {} = {}", escape(key), escape(value))?;
    }
    writeln!(out, "updated at:  {}", escape(&p.updated_at))?;
    if let Some(id) = &p.id {
        writeln!(out, "id:          {}", escape(id))?;
    }
    if let Some(revision) = revision {
        writeln!(out, "revision:    {revision}")?;
    }
    writeln!(out)?;
    let mut t = table(["SKU", "TITLE", "OPTIONS", "PRICES", "STOCK", "ATTRIBUTES"]);
    for v in &p.variants {
        let prices: Vec<String> = v
            .prices
            .iter()
            .map(|pr| pr.with_minor_units().to_string())
            .collect();
        let stock: Vec<String> = levels
            .iter()
            .map(|s| &s.level)
            .filter(|l| l.sku == v.sku)
            .map(|l| match l.reserved {
                0 => format!("{} {}", l.location, l.on_hand),
                reserved => format!("{} {} ({reserved} reserved)", l.location, l.on_hand),
            })
            .collect();
        let attributes: Vec<String> = v
            .attributes
            .iter()
            .map(|(k, a)| format!("{k}={a}"))
            .collect();
        t.add_row([
            v.sku.clone(),
            or_dash((!v.title.is_empty()).then_some(&v.title)),
            or_dash((!v.option_values.is_empty()).then(|| v.option_values.join(" / "))),
            or_dash((!prices.is_empty()).then(|| prices.join(", "))),
            or_dash((!stock.is_empty()).then(|| stock.join(", "))),
            or_dash((!attributes.is_empty()).then(|| attributes.join(", "))),
        ]);
    }
    write_table(out, &t)
}
