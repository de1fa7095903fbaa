//! export-products: sends the catalog products whose content changed since
//! their last successful export to this channel, whole, with the fields the
//! channel's export owns (`export-fields`), in batches cut to the channel's
//! `batch-size` and `max-request-bytes`; before them, the deletions the
//! channel is owed (products removed from the catalog, variants removed
//! from products), so a SKU that moved to another product is gone from its
//! old one first. A product counts as exported (or deleted) only after the
//! channel said so; the store then keeps the product as the channel
//! accepted it and the ids it gave.
//!
//! Items the channel rejects make the run `partial`, not failed: what was
//! accepted is committed. A revision rejected `quarantine-after` runs in a row
//! is quarantined: not sent again until its content changes or the operator
//! runs `products release`. A price in a currency the channel does not take
//! is left out for that channel and reported once per run.
//!
//! Creates a connector cannot safely repeat go through the write journal
//! (`journal`): open intents are reconciled before new work, and at the end
//! of a run that left some, once the channel's `settle` window allows.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::ChannelRun;
use super::auth::Access;
use super::journal::{StoreJournal, reconcile_open, settle_wait};
use crate::catalog::FieldSet;
use crate::connector::{Deletion, ExportBatch, ExportItem, ItemResult, ItemStatus};
use crate::crash;
use crate::error::Failure;
use crate::output::{count, escape};
use crate::price::Currency;
use crate::store::{
    DeletionResult, ExportResult, ExportStatus, PendingDeletion, PendingExport, RunId,
};

/// Items of one export run, by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportCounts {
    /// Products sent for upsert.
    pub sent: u64,
    /// Of those, created, updated or unchanged on the channel.
    pub accepted: u64,
    /// Of those, refused by the channel (retried next run).
    pub rejected: u64,
    /// Deletions (of removed products, or of variants removed from a
    /// product) the channel confirmed.
    pub deleted: u64,
    /// Deletions the channel refused (retried next run).
    pub delete_failed: u64,
    /// Products of this channel in quarantine when the run ended.
    pub quarantined: u64,
}

impl ExportCounts {
    pub fn as_map(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("sent".to_string(), self.sent),
            ("accepted".to_string(), self.accepted),
            ("rejected".to_string(), self.rejected),
            ("deleted".to_string(), self.deleted),
            ("delete_failed".to_string(), self.delete_failed),
            ("quarantined".to_string(), self.quarantined),
        ])
    }

    /// `250 sent: 248 accepted, 2 rejected; 3 deleted`, leaving out zeros
    /// after the first figure.
    pub fn summary(&self) -> String {
        let mut text = format!("{} sent", self.sent);
        let mut parts = Vec::new();
        if self.sent > 0 {
            parts.push(format!("{} accepted", self.accepted));
        }
        if self.rejected > 0 {
            parts.push(format!("{} rejected", self.rejected));
        }
        if !parts.is_empty() {
            text.push_str(": ");
            text.push_str(&parts.join(", "));
        }
        if self.deleted > 0 {
            text.push_str(&format!("; {} deleted", self.deleted));
        }
        if self.delete_failed > 0 {
            text.push_str(&format!(
                "; {} refused",
                count(self.delete_failed, "deletion", "deletions")
            ));
        }
        if self.quarantined > 0 {
            text.push_str(&format!("; {} quarantined", self.quarantined));
        }
        text
    }

    fn is_partial(&self) -> bool {
        self.rejected > 0 || self.delete_failed > 0
    }
}

/// How an export run ended, when it did not fail outright.
#[derive(Clone, Debug)]
pub struct ExportSummary {
    pub counts: ExportCounts,
    /// What the run's history row says.
    pub detail: String,
    /// Set when the channel rejected items: the run is `partial`, and this
    /// says which (a few examples).
    pub partial: Option<String>,
}

/// Room a reconcile needs before the deadline, after the settle wait.
const RECONCILE_MARGIN: Duration = Duration::from_secs(10);

/// What one run has seen so far.
#[derive(Default)]
struct Tally {
    counts: ExportCounts,
    rejected: Vec<(String, String)>,
    refused_deletions: Vec<(String, String)>,
    /// Currencies the channel does not take, with how many products' prices
    /// in them were left out.
    dropped: BTreeMap<Currency, u64>,
}

/// Reconciles what earlier runs left open, sends the pending deletions and
/// products, settles what this run left open, and records the run as
/// success or partial. An error (the channel unreachable, a malformed
/// reply, ...) fails the job; what earlier batches committed stays.
pub async fn run(
    ch: &ChannelRun,
    run: RunId,
    progress_bar: &indicatif::ProgressBar,
) -> Result<ExportSummary> {
    let started = Instant::now();
    let fields = ch.channel.export_fields().map_err(|e| {
        Failure::config(format!(
            "export-fields: {e}; fix the channel's table in the account file"
        ))
    })?;
    let journal = StoreJournal {
        store: &ch.store,
        channel: &ch.channel_id,
        run,
    };
    let access = Access::new(ch);
    let mut tally = Tally::default();
    let sent = async {
        reconcile(ch, &access, &journal, &mut tally).await?;
        check_removal_limit(ch)?;
        send_deletions(ch, &access, &journal, &mut tally).await?;
        send_products(ch, &access, &journal, fields, &mut tally, progress_bar).await
    }
    .await;
    // A run that leaves intents open waits out the settle window, if the
    // deadline allows, so the next run finds them closed.
    let settled = settle(ch, &access, &journal, &mut tally, started).await;
    sent?;
    settled?;
    finish(ch, run, tally)
}

async fn reconcile(
    ch: &ChannelRun,
    access: &Access<'_>,
    journal: &StoreJournal<'_>,
    tally: &mut Tally,
) -> Result<usize> {
    let done = reconcile_open(&ch.store, &ch.channel_id, ch.settle, async |open| {
        access
            .call(async |token| ch.connector.reconcile(token, open, journal).await)
            .await
    })
    .await?;
    tally.counts.rejected += done.rejected.len() as u64;
    tally.rejected.extend(done.rejected);
    Ok(done.open)
}

async fn settle(
    ch: &ChannelRun,
    access: &Access<'_>,
    journal: &StoreJournal<'_>,
    tally: &mut Tally,
    started: Instant,
) -> Result<()> {
    let open = ch.store.read(|tx| tx.open_intents(&ch.channel_id))?;
    if open.is_empty() {
        return Ok(());
    }
    let time_left = ch.deadline.saturating_sub(started.elapsed());
    let Some(wait) = settle_wait(
        &open,
        Timestamp::now(),
        ch.settle,
        time_left,
        RECONCILE_MARGIN,
    ) else {
        tracing::info!(channel = %ch.channel_id, open = open.len(), "write intents stay open: the settle window does not fit before the deadline; the next run reconciles them");
        return Ok(());
    };
    tracing::info!(channel = %ch.channel_id, open = open.len(), wait = ?wait, "waiting out the settle window before reconciling");
    tokio::time::sleep(wait).await;
    reconcile(ch, access, journal, tally).await.map(|_| ())
}

/// Deletes nothing, failing the job, when the deletions this channel is owed
/// are more of what it holds from us than its `max-removal` allows: a
/// catalog emptied by mistake must not empty the shops.
fn check_removal_limit(ch: &ChannelRun) -> Result<()> {
    let (owed, held) = ch.store.read(|tx| {
        Ok((
            tx.count_pending_deletions(&ch.channel_id)?,
            tx.count_exported(&ch.channel_id)?,
        ))
    })?;
    let Some(over) = ch.removal_limit().check(owed, held) else {
        return Ok(());
    };
    Err(over.refusal(
        format!(
            "{} owed to this channel, of the {} it holds from this catalog, more than {}: nothing was deleted or sent",
            count(over.removing, "deletion is", "deletions are"),
            count(over.held, "product", "products"),
            over.allowance()
        ),
        &ch.account,
        "if the catalog lost them by mistake, load them again (`products list` shows what it holds)",
    ))
}

async fn send_deletions(
    ch: &ChannelRun,
    access: &Access<'_>,
    journal: &StoreJournal<'_>,
    tally: &mut Tally,
) -> Result<()> {
    let batch_size = ch.connector.limits().batch_size;
    for variants in [false, true] {
        let mut after: Option<String> = None;
        loop {
            let pending = ch.store.read(|tx| {
                tx.pending_deletions(&ch.channel_id, after.as_deref(), batch_size, variants)
            })?;
            let Some(last) = pending.last() else { break };
            after = Some(last.handle.clone());
            let batch = ExportBatch {
                items: Vec::new(),
                deletions: pending.iter().map(deletion).collect(),
            };
            let replies = access
                .call(async |token| ch.connector.send_batch(token, &batch, journal).await)
                .await?;
            crash::point("delete-batch-sent");
            let by_handle: HashMap<&str, &ItemResult> =
                replies.iter().map(|r| (r.handle.as_str(), r)).collect();
            let results: Vec<DeletionResult> = pending
                .into_iter()
                .map(|deletion| {
                    let error = match by_handle.get(deletion.handle.as_str()) {
                        Some(reply) => match &reply.status {
                            ItemStatus::Deleted => None,
                            ItemStatus::Error(why) => Some(why.clone()),
                            other => Some(format!(
                                "the channel answered `{}` to a deletion",
                                other.as_str()
                            )),
                        },
                        None => Some("the channel's reply omitted this item".into()),
                    };
                    DeletionResult { deletion, error }
                })
                .collect();
            for r in &results {
                match &r.error {
                    Some(error) => {
                        let name = match r.deletion.skus.as_slice() {
                            [only] => only.clone(),
                            _ => r.deletion.handle.clone(),
                        };
                        tally.refused_deletions.push((name, error.clone()));
                    }
                    None => tally.counts.deleted += 1,
                }
            }
            tally.counts.delete_failed = tally.refused_deletions.len() as u64;
            ch.store.write(|tx| {
                tx.record_deletions(&ch.channel_id, &results, Timestamp::now())?;
                tx.set_run_progress(journal.run, tally.counts.sent, &tally.counts.as_map())
            })?;
            crash::point("delete-batch-recorded");
        }
    }
    Ok(())
}

/// How a run's summary names a product: a one-variant product by its SKU
/// (what a flat catalog knew it by), else by its handle.
fn name_of(product: &crate::catalog::Product) -> String {
    match product.variants.as_slice() {
        [only] => only.sku.clone(),
        _ => product.handle.clone(),
    }
}

fn deletion(pending: &PendingDeletion) -> Deletion {
    Deletion {
        handle: pending.handle.clone(),
        known: pending.known.clone(),
        whole_product: pending.whole_product,
        skus: pending.skus.clone(),
    }
}

async fn send_products(
    ch: &ChannelRun,
    access: &Access<'_>,
    journal: &StoreJournal<'_>,
    fields: FieldSet,
    tally: &mut Tally,
    progress_bar: &indicatif::ProgressBar,
) -> Result<()> {
    let limits = ch.connector.limits();
    let quarantine_after = ch.channel.quarantine_threshold();
    let mut after: Option<String> = None;
    loop {
        let page = ch.store.read(|tx| {
            tx.pending_exports(
                &ch.channel_id,
                after.as_deref(),
                limits.batch_size,
                quarantine_after,
            )
        })?;
        let Some(last) = page.last() else { break };
        after = Some(last.product.handle.clone());
        let items: Vec<ExportItem<'_>> = page
            .iter()
            .map(|pending| ExportItem {
                product: &pending.product,
                fields,
                known: &pending.known,
                locations: &ch.channel.locations,
            })
            .collect();
        let mut results = Vec::with_capacity(page.len());
        for part in cut(&items, limits.max_request_bytes, |item| {
            ch.connector.request_bytes(item)
        }) {
            match part {
                Cut::Batch(batch) => {
                    let replies = access
                        .call(async |token| ch.connector.send_batch(token, &batch, journal).await)
                        .await?;
                    crash::point("export-batch-sent");
                    let by_handle: HashMap<&str, &ItemResult> =
                        replies.iter().map(|r| (r.handle.as_str(), r)).collect();
                    for item in &batch.items {
                        let pending = page
                            .iter()
                            .find(|p| p.product.handle == item.product.handle)
                            .expect("a batch item is of the page");
                        results.push(verdict(
                            pending,
                            by_handle.get(item.product.handle.as_str()).copied(),
                            tally,
                        ));
                    }
                }
                Cut::TooLarge { item, bytes, limit } => {
                    let pending = page
                        .iter()
                        .find(|p| p.product.handle == item.product.handle)
                        .expect("an item is of the page");
                    results.push(refused(
                        pending,
                        format!(
                            "the product is {bytes} bytes as this channel's request, more than its `max-request-bytes` of {limit}: not sent (fewer variants, images or a shorter description make it fit)"
                        ),
                    ));
                }
            }
        }
        for r in &results {
            match &r.error {
                Some(error) => {
                    let product = page.iter().find(|p| p.product.handle == r.handle);
                    let name = product.map_or_else(|| r.handle.clone(), |p| name_of(&p.product));
                    tally.rejected.push((name, error.clone()));
                }
                None => tally.counts.accepted += 1,
            }
        }
        tally.counts.rejected = tally.rejected.len() as u64;
        tally.counts.sent += page.len() as u64;
        ch.store.write(|tx| {
            tx.record_export_results(&ch.channel_id, &results, Timestamp::now())?;
            tx.set_run_progress(journal.run, tally.counts.sent, &tally.counts.as_map())
        })?;
        crash::point("export-batch-recorded");
        progress_bar.set_position(tally.counts.sent);
    }
    Ok(())
}

/// One request's worth of items, or an item too large for any request.
enum Cut<'a> {
    Batch(ExportBatch<'a>),
    TooLarge {
        item: ExportItem<'a>,
        bytes: usize,
        limit: usize,
    },
}

/// Room a request's envelope takes beside its items (`{"products":[...]}`,
/// headers' worth of slack).
const ENVELOPE_BYTES: usize = 256;

/// Cuts `items` (at most `batch-size`) into requests of at most `limit`
/// bytes by `bytes_of`; an item too large alone is cut out by itself.
fn cut<'a>(
    items: &[ExportItem<'a>],
    limit: Option<usize>,
    bytes_of: impl Fn(&ExportItem<'a>) -> usize,
) -> Vec<Cut<'a>> {
    let Some(limit) = limit else {
        return vec![Cut::Batch(ExportBatch {
            items: items.to_vec(),
            deletions: Vec::new(),
        })];
    };
    let room = limit.saturating_sub(ENVELOPE_BYTES);
    let mut cuts = Vec::new();
    let mut current: Vec<ExportItem<'a>> = Vec::new();
    let mut size = 0;
    for item in items {
        let bytes = bytes_of(item);
        if bytes > room {
            cuts.push(Cut::TooLarge {
                item: *item,
                bytes,
                limit,
            });
            continue;
        }
        if size + bytes > room && !current.is_empty() {
            cuts.push(Cut::Batch(ExportBatch {
                items: std::mem::take(&mut current),
                deletions: Vec::new(),
            }));
            size = 0;
        }
        size += bytes;
        current.push(*item);
    }
    if !current.is_empty() {
        cuts.push(Cut::Batch(ExportBatch {
            items: current,
            deletions: Vec::new(),
        }));
    }
    cuts
}

fn refused(pending: &PendingExport, error: String) -> ExportResult {
    ExportResult {
        handle: pending.product.handle.clone(),
        revision: pending.revision,
        status: ExportStatus::Error,
        error: Some(error),
        accepted: None,
        ids: Default::default(),
    }
}

/// The channel's verdict on one product; what it accepted is the product
/// without the prices it left out.
fn verdict(pending: &PendingExport, reply: Option<&ItemResult>, tally: &mut Tally) -> ExportResult {
    let Some(reply) = reply else {
        return refused(pending, "the channel's reply omitted this item".into());
    };
    let mut result = refused(pending, String::new());
    result.ids = reply.ids.clone();
    let status = match &reply.status {
        ItemStatus::Created => ExportStatus::Created,
        ItemStatus::Updated => ExportStatus::Updated,
        ItemStatus::Unchanged => ExportStatus::Unchanged,
        ItemStatus::Deleted => {
            result.error = Some("the channel answered `deleted` to a product".into());
            return result;
        }
        ItemStatus::Error(why) => {
            result.error = Some(why.clone());
            return result;
        }
    };
    if !reply.variant_errors.is_empty() {
        let errors: Vec<String> = (reply.variant_errors.iter())
            .map(|(sku, why)| format!("variant `{sku}`: {why}"))
            .collect();
        result.error = Some(errors.join("; "));
        return result;
    }
    let mut accepted = pending.product.clone();
    for currency in &reply.dropped_currencies {
        *tally.dropped.entry(*currency).or_default() += 1;
        for variant in &mut accepted.variants {
            variant.prices.remove(*currency);
        }
    }
    ExportResult {
        status,
        error: None,
        accepted: Some(accepted),
        ..result
    }
}

fn finish(ch: &ChannelRun, run: RunId, tally: Tally) -> Result<ExportSummary> {
    let Tally {
        mut counts,
        rejected,
        refused_deletions,
        dropped,
    } = tally;
    let quarantine_after = ch.channel.quarantine_threshold();
    let channel_id = ch.channel_id.as_str();
    let threshold = |_: &str| quarantine_after;
    counts.quarantined = ch
        .store
        .read(|tx| tx.quarantined(Some(channel_id), &threshold))?
        .len() as u64;
    let mut summary = counts.summary();
    if !dropped.is_empty() {
        let left_out: Vec<String> = dropped
            .iter()
            .map(|(currency, n)| format!("{currency} ({})", count(*n, "product", "products")))
            .collect();
        let note = format!(
            "prices left out, the channel does not take their currency: {}",
            left_out.join(", ")
        );
        tracing::warn!(channel = %ch.channel_id, "{note}");
        summary.push_str(&format!("; {note}"));
    }
    let partial = counts.is_partial().then(|| {
        let mut examples: Vec<String> = rejected
            .iter()
            .chain(&refused_deletions)
            .take(3)
            // The channel's words, in a summary printed and logged as is.
            .map(|(handle, error)| format!("{}: {}", escape(handle), escape(error)))
            .collect();
        if rejected.len() + refused_deletions.len() > 3 {
            examples.push("...".into());
        }
        format!(
            "{summary} ({}); rejected items are retried next run, and quarantined after {} in a row",
            examples.join("; "),
            count(quarantine_after.into(), "rejection", "rejections")
        )
    });
    ch.store.write(|tx| {
        tx.finish_counted(
            run,
            Timestamp::now(),
            counts.sent,
            &counts.as_map(),
            partial.as_deref(),
            &summary,
        )
    })?;
    Ok(ExportSummary {
        counts,
        detail: partial.clone().unwrap_or(summary),
        partial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_name_every_nonzero_outcome() {
        let counts = ExportCounts {
            sent: 250,
            accepted: 248,
            rejected: 2,
            ..Default::default()
        };
        assert_eq!(counts.summary(), "250 sent: 248 accepted, 2 rejected");
        assert!(counts.is_partial());
        let deletions = ExportCounts {
            deleted: 3,
            ..Default::default()
        };
        assert_eq!(deletions.summary(), "0 sent; 3 deleted");
        assert!(!deletions.is_partial());
    }
}
