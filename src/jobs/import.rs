//! import-products: pages through the channel's products and commits each
//! page together with the import's progress, so a crash resumes after the last
//! committed page. Only the master channel's import feeds the catalog.
//!
//! Pages hold whole products: the master's go into the catalog whole (a
//! variant a product no longer has leaves the catalog, and the channels
//! holding it are owed its deletion).
//!
//! Every product read is checked by the catalog's rules (handle and SKU
//! rules, shop text without control characters and within its sizes, option
//! values, stock, an `updated_at`; the price rule already held when the
//! connector made its prices). One that breaks a rule is skipped by name,
//! never the page: the job's summary counts what was left out and names
//! the products refused.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use jiff::Timestamp;

use super::ChannelRun;
use super::auth::Access;
use super::pages::PageWindow;
use crate::catalog::{Product, ProductError};
use crate::connector::{ChannelError, PageRequest, ProductPage, Skipped};
use crate::crash;
use crate::error::{ErrorKind, Failure};
use crate::guard::Exceeded;
use crate::output::{count, escape};
use crate::store::{Durability, ImportListing, RunId};

/// A channel that never ends its pagination is stopped here.
const MAX_PAGES: usize = 100_000;

/// Returns the number of products taken and the run's summary (`partial`
/// when the channel sent products the catalog's rules refuse: skipped,
/// named in the summary; the others are in). Success is recorded in the
/// same transaction as the last page.
///
/// Page N is committed on a blocking thread while page N+1 (and, where the
/// channel pages by offset, up to its `concurrency` pages in all) is
/// fetched, so the store's work overlaps the network's; page N+1 is looked
/// at only after page N is committed, so a crash still resumes after the
/// last committed page.
pub async fn run(
    ch: &ChannelRun,
    run: RunId,
    progress_bar: &indicatif::ProgressBar,
) -> Result<super::Finished> {
    let progress = ch.store.read(|tx| tx.import_progress(&ch.channel_id))?;
    let fresh = |since| ImportListing {
        since,
        started: Timestamp::now(),
    };
    // Forgets the unfinished import; a new listing starts now.
    let restart = |since| -> Result<(Option<String>, ImportListing)> {
        ch.store.write(|tx| tx.reset_import(&ch.channel_id))?;
        Ok((None, fresh(since)))
    };
    let (mut cursor, mut listing) = match (&progress.cursor, progress.listing_started) {
        _ if ch.full => restart(None)?,
        (Some(_), _)
            if progress.since_used.is_some() && !ch.connector.resumes_incremental_listings() =>
        {
            tracing::info!(channel = %ch.channel_id, "restarting an interrupted incremental import from its first page: this channel's cursor is an offset into a listing that changes");
            restart(progress.since_used)?
        }
        (Some(saved), Some(started)) => {
            tracing::info!(channel = %ch.channel_id, "resuming an interrupted import");
            let listing = ImportListing {
                since: progress.since_used,
                started,
            };
            (Some(saved.clone()), listing)
        }
        (Some(_), None) => {
            tracing::info!(channel = %ch.channel_id, "restarting an interrupted import from its first page: it was saved without its listing's start");
            restart(progress.high_water)?
        }
        (None, _) => (None, fresh(progress.high_water)),
    };
    if cursor.is_none() {
        start_listing(ch, listing.since)?;
    }
    let mut seen_cursors = HashSet::new();
    let mut total: u64 = 0;
    let mut skips = Skips::default();
    let access = Access::new(ch);
    let width = ch.connector.limits().concurrency;
    let mut restarted = false;
    let mut pages = page_window(ch, &access, width, listing.since);
    pages.ask_from(cursor.clone());
    let mut page = match first_page(&mut pages).await {
        // The saved cursor of an interrupted import may have expired or been
        // invalidated on the channel: start over once, rather than fail on
        // every run until someone runs `--full`.
        Err(err)
            if cursor.is_some()
                && super::channel_error(&err).is_some_and(ChannelError::refuses_request) =>
        {
            tracing::warn!(channel = %ch.channel_id, error = %err, "the channel refused the saved import cursor; restarting the import from the first page");
            (cursor, listing) = restart(progress.high_water)?;
            start_listing(ch, listing.since)?;
            restarted = true;
            pages = page_window(ch, &access, width, listing.since);
            pages.ask_from(None);
            first_page(&mut pages).await?
        }
        other => other?,
    };
    for page_number in 1.. {
        let ProductPage {
            products,
            next_cursor,
            skipped,
        } = page;
        for item in skipped {
            skips.add(&ch.channel_id, item);
        }
        let products = checked(&ch.channel_id, products, &mut skips);
        let refused = std::mem::take(&mut skips.page_refused);
        if let Some(next) = &next_cursor
            && (!seen_cursors.insert(next.clone()) || cursor.as_deref() == Some(next.as_str()))
        {
            return Err(Failure::new(
                ErrorKind::Channel,
                format!(
                    "the channel returned cursor `{}` twice: stopping instead of looping forever ({} read before it were stored)",
                    escape(next),
                    count(total, "product", "products")
                ),
            )
            .into());
        }
        crash::point("import-page-fetched");
        total += products.len() as u64;
        let last = next_cursor.is_none();
        let mut detail = format!(
            "{} {}",
            count(total, "product", "products"),
            if ch.is_master {
                "into the catalog"
            } else {
                "recorded as listings"
            },
        );
        if let Some(summary) = skips.summary() {
            detail.push_str(&format!("; {summary}"));
        }
        if restarted {
            detail.push_str(
                "; restarted from the first page: the channel refused the interrupted import's cursor",
            );
        }
        let mut counts = BTreeMap::from([
            ("imported".to_string(), total),
            ("skipped".to_string(), skips.total()),
        ]);
        // Items without a SKU or a price here are the platform's shape, not
        // bad data: only a refusal makes the run partial.
        let partial = skips.refused > 0;
        let limit = ch.removal_limit();
        let save = {
            let (store, channel, is_master) =
                (Arc::clone(&ch.store), ch.channel_id.clone(), ch.is_master);
            let next_cursor = next_cursor.clone();
            // A page lost to a power cut is fetched again (its cursor goes
            // with it); the last page carries the job's outcome: durable.
            let durability = if last {
                Durability::Full
            } else {
                Durability::Relaxed
            };
            tokio::task::spawn_blocking(move || {
                store.write_as(durability, |tx| {
                    tx.save_import_page(
                        &channel,
                        is_master,
                        &products,
                        next_cursor.as_deref(),
                        listing,
                        Timestamp::now(),
                    )?;
                    tx.note_refused(&channel, is_master, &refused)?;
                    if !last {
                        tx.set_run_progress(run, total, &counts)?;
                        return Ok(PageSaved::More);
                    }
                    let finished = tx.finish_import(&channel, limit)?;
                    if let Some(held) = finished.held_back {
                        tx.set_run_progress(run, total, &counts)?;
                        return Ok(PageSaved::RemovalHeldBack(held));
                    }
                    let removed = finished.removed.removed.len() as u64
                        + finished.removed.variants_removed.len() as u64;
                    counts.insert("removed".to_string(), removed);
                    let detail = if removed > 0 {
                        format!("{detail}; {removed} removed (no longer on the master)")
                    } else {
                        detail
                    };
                    tx.set_run_counts(run, &counts)?;
                    if partial {
                        tx.finish_partial(run, Timestamp::now(), total, Some(&detail))?;
                    } else {
                        tx.finish_success(run, Timestamp::now(), total, Some(&detail))?;
                    }
                    Ok(PageSaved::Last(super::Finished {
                        items: total,
                        detail,
                        partial,
                    }))
                })
            })
        };
        // The next pages come while this one is committed, but none is
        // looked at before it is.
        let fetch_next = !last && page_number < MAX_PAGES;
        pages.follow(next_cursor.as_deref().filter(|_| fetch_next));
        let saved = pages.while_doing(save).await;
        let saved = saved.context("the task saving an import page failed")??;
        crash::point("import-page-committed");
        progress_bar.set_position(total);
        match saved {
            PageSaved::More => {}
            PageSaved::Last(finished) => return Ok(finished),
            PageSaved::RemovalHeldBack(held) => return Err(removal_held_back(&ch.account, &held)),
        }
        let Some((_, next)) = pages.next().await else {
            return Err(Failure::new(
                ErrorKind::Channel,
                format!("stopped after {MAX_PAGES} pages: the channel's pagination does not end"),
            )
            .into());
        };
        page = next?;
        cursor = next_cursor;
    }
    unreachable!("the last page or MAX_PAGES ends the loop")
}

/// What committing a page came to.
enum PageSaved {
    /// More pages follow.
    More,
    /// The import is done.
    Last(super::Finished),
    /// The complete listing lacks more of the catalog than `max-removal`
    /// allows: nothing was removed.
    RemovalHeldBack(Exceeded),
}

/// The job's failure when the master's complete listing would remove more
/// than `max-removal` allows.
fn removal_held_back(account: &str, held: &Exceeded) -> anyhow::Error {
    held.refusal(
        format!(
            "the master's complete listing lacks {} of the {} in the catalog, more than {}: nothing was removed",
            count(held.removing, "product", "products"),
            count(held.held, "product", "products"),
            held.allowance()
        ),
        account,
        "if the master points at the wrong server, fix its base-url with `channel set`",
    )
}

/// Marks the start of a listing from the first page: a complete listing of
/// the master (no `updated_since`) removes from the catalog what the master
/// no longer has, once its last page is in.
fn start_listing(ch: &ChannelRun, since: Option<Timestamp>) -> Result<()> {
    if ch.is_master {
        ch.store.write(|tx| match since {
            None => tx.begin_complete_import(&ch.channel_id),
            Some(_) => tx.abandon_complete_import(&ch.channel_id),
        })?;
    }
    Ok(())
}

/// The pages of a listing from `since`, up to `width` at once where the
/// connector knows the cursors ahead ([`Connector::cursor_after`]).
///
/// [`Connector::cursor_after`]: crate::connector::Connector::cursor_after
fn page_window<'a>(
    ch: &'a ChannelRun,
    access: &'a Access<'a>,
    width: usize,
    since: Option<Timestamp>,
) -> PageWindow<'a, Result<ProductPage>> {
    PageWindow::new(
        width,
        Box::new(move |cursor: Option<String>| {
            Box::pin(async move { fetch_page(ch, access, cursor.as_deref(), since).await })
        }),
        Box::new(move |cursor| ch.connector.cursor_after(cursor, since)),
    )
}

/// The page the window was just asked to start from.
async fn first_page(pages: &mut PageWindow<'_, Result<ProductPage>>) -> Result<ProductPage> {
    match pages.next().await {
        Some((_, page)) => page,
        None => unreachable!("a page was asked for"),
    }
}

/// One page; its size is the channel's `page-size` (the connector's limits).
async fn fetch_page(
    ch: &ChannelRun,
    access: &Access<'_>,
    cursor: Option<&str>,
    since: Option<Timestamp>,
) -> Result<ProductPage> {
    access
        .call(async |token| {
            ch.connector
                .fetch_page(token, PageRequest { cursor, since })
                .await
        })
        .await
}

/// The products that meet the catalog's rules; the others join `skips`,
/// by name and reason: a variant's SKU when the problem is the variant's,
/// or the product is one SKU; else the product's handle.
fn checked(channel: &str, products: Vec<Product>, skips: &mut Skips) -> Vec<Product> {
    let mut kept = Vec::with_capacity(products.len());
    for product in products {
        match product.check() {
            Ok(()) => kept.push(product),
            Err(e) => {
                let (key, reason) = match (e, product.variants.as_slice()) {
                    (ProductError::InVariant { sku, source }, _) => (sku, source.to_string()),
                    (e, [only]) => (only.sku.clone(), e.to_string()),
                    (e, _) => (product.handle.clone(), e.to_string()),
                };
                skips.add(
                    channel,
                    Skipped::Refused {
                        key,
                        handle: product.handle,
                        reason,
                    },
                )
            }
        }
    }
    kept
}

/// How many refused SKUs the summary names; `-v` logs every one.
const NAMED_REFUSALS: usize = 5;

/// What an import left out, for its summary: counts by reason, and the
/// first refused SKUs with why.
#[derive(Debug, Default)]
struct Skips {
    no_sku: u64,
    /// By currency.
    no_price: BTreeMap<String, u64>,
    refused: u64,
    named: Vec<String>,
    /// The handles refused on the page being read (a complete import keeps them).
    page_refused: Vec<String>,
}

impl Skips {
    fn add(&mut self, channel: &str, item: Skipped) {
        match item {
            Skipped::NoSku => self.no_sku += 1,
            Skipped::NoPrice { currency } => *self.no_price.entry(currency).or_default() += 1,
            Skipped::Refused {
                key,
                handle,
                reason,
            } => {
                self.page_refused.push(handle);
                let key = escape(&key);
                tracing::debug!(channel, %key, %reason, "product skipped");
                self.refused += 1;
                if self.named.len() < NAMED_REFUSALS {
                    self.named.push(format!("`{key}`: {reason}"));
                }
            }
        }
    }

    fn total(&self) -> u64 {
        self.no_sku + self.no_price.values().sum::<u64>() + self.refused
    }

    /// `5 skipped: 2 without a SKU, 1 without a price in EUR, 2 refused
    /// (`A`: price `-1.00` is negative: ...; `B`: ...)`; `None` when nothing was.
    fn summary(&self) -> Option<String> {
        if self.total() == 0 {
            return None;
        }
        let mut parts = Vec::new();
        if self.no_sku > 0 {
            parts.push(format!("{} without a SKU", self.no_sku));
        }
        for (currency, n) in &self.no_price {
            parts.push(format!("{n} without a price in {}", escape(currency)));
        }
        if self.refused > 0 {
            let more = self.refused - self.named.len() as u64;
            parts.push(format!(
                "{} refused by the catalog's rules ({}{})",
                self.refused,
                self.named.join("; "),
                if more > 0 {
                    format!("; and {more} more: `-v` shows each")
                } else {
                    String::new()
                }
            ));
        }
        Some(format!("{} skipped: {}", self.total(), parts.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::FlatProduct;
    use crate::price::Price;

    fn product(sku: &str, title: &str) -> Product {
        let mut p = FlatProduct {
            sku: "x".into(),
            title: title.into(),
            price: Price::parse("1.00", "EUR").unwrap(),
            quantity: 1,
            attributes: Default::default(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: None,
        }
        .into_product();
        // The SKU as a channel sent it, rules or not.
        p.variants[0].sku = sku.into();
        p.handle = crate::catalog::derive_handle(sku);
        p
    }

    #[test]
    fn products_that_break_a_rule_are_skipped_by_name() {
        let mut skips = Skips::default();
        let kept = checked(
            "shop",
            vec![
                product("A", "Mug"),
                product("B", "Evil\u{1b}]0;owned\u{7}"),
                product("C\u{1b}[2J", "Cup"),
                product("D", &"x".repeat(300)),
            ],
            &mut skips,
        );
        assert_eq!(kept, [product("A", "Mug")]);
        let summary = skips.summary().unwrap();
        assert!(summary.starts_with("3 skipped: 3 refused by the catalog's rules (`B`: title `Evil\\u{1b}]0;owned\\u{7}` has control character U+001B"), "{summary}");
        assert!(summary.contains("`C\\u{1b}[2J`: invalid sku"), "{summary}");
        assert!(summary.contains("`D`: title `xxx"), "{summary}");
        assert!(!summary.chars().any(char::is_control), "{summary:?}");
    }

    #[test]
    fn the_summary_counts_by_reason_and_names_the_first_refusals() {
        let mut skips = Skips::default();
        assert_eq!(skips.summary(), None);
        skips.add("shop", Skipped::NoSku);
        skips.add("shop", Skipped::NoSku);
        for _ in 0..3 {
            skips.add(
                "shop",
                Skipped::NoPrice {
                    currency: "EUR".into(),
                },
            );
        }
        for i in 0..7 {
            skips.add(
                "shop",
                Skipped::refused_sku(
                    format!("S{i}"),
                    "price `-1` is negative: a price is 0 or more".into(),
                ),
            );
        }
        assert_eq!(skips.total(), 12);
        let summary = skips.summary().unwrap();
        assert!(
            summary.starts_with("12 skipped: 2 without a SKU, 3 without a price in EUR, 7 refused by the catalog's rules (`S0`: price `-1` is negative: a price is 0 or more; `S1`: "),
            "{summary}"
        );
        assert!(summary.contains("`S4`"), "{summary}");
        assert!(!summary.contains("`S5`"), "{summary}");
        assert!(
            summary.ends_with("; and 2 more: `-v` shows each)"),
            "{summary}"
        );
    }
}
