//! export-products: sends the catalog products whose content changed since
//! their last successful export to this channel, in batches of the channel's
//! `batch-size`,
//! then deletes on the channel the products removed from the catalog that it
//! still holds. Batch export is an SKU-keyed upsert and deleting a product
//! that is gone answers `deleted`, so a batch resent after a crash or a retry
//! does no harm; a product counts as exported (or deleted) only after the
//! channel said so.
//!
//! Items the channel rejects make the run `partial`, not failed: what was
//! accepted is committed. A revision rejected `quarantine-after` runs in a row
//! is quarantined: not sent again until its content changes or the operator
//! runs `products release`.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::ChannelRun;
use super::auth::Access;
use crate::connector::{Batch, ItemStatus};
use crate::crash;
use crate::output::{count, escape};
use crate::product::Product;
use crate::store::RunId;
use crate::store::{DeletionResult, ExportResult, ExportStatus};

/// Items of one export run, by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportCounts {
    /// Products sent for upsert.
    pub sent: u64,
    /// Of those, created, updated or unchanged on the channel.
    pub accepted: u64,
    /// Of those, refused by the channel (retried next run).
    pub rejected: u64,
    /// Removed products the channel confirmed deleted.
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
    /// Set when the channel rejected items: the run is `partial`, and this
    /// says which (a few examples).
    pub partial: Option<String>,
}

/// Sends the pending products, then the pending deletions, and records the
/// run as success or partial. An error (the channel unreachable, a malformed
/// reply, ...) fails the job; what earlier batches committed stays.
pub async fn run(
    ch: &ChannelRun,
    run: RunId,
    progress_bar: &indicatif::ProgressBar,
) -> Result<ExportSummary> {
    let quarantine_after = ch.channel.quarantine_threshold();
    let batch_size = ch.connector.limits().batch_size;
    let mut counts = ExportCounts::default();
    let mut rejected: Vec<(String, String)> = Vec::new();
    let access = Access::new(ch);

    let mut after: Option<String> = None;
    loop {
        let batch = ch.store.read(|tx| {
            tx.pending_exports(
                &ch.channel_id,
                after.as_deref(),
                batch_size,
                quarantine_after,
            )
        })?;
        let Some(last) = batch.last() else { break };
        after = Some(last.product.sku.clone());
        let products: Vec<Product> = batch.iter().map(|p| p.product.clone()).collect();
        let replies = access
            .call(async |token| {
                let batch = Batch {
                    upserts: &products,
                    deletions: &[],
                };
                ch.connector.send_batch(token, batch).await
            })
            .await?;
        crash::point("export-batch-sent");
        let mut by_sku: HashMap<&str, _> = replies.iter().map(|r| (r.sku.as_str(), r)).collect();
        let results: Vec<ExportResult> = batch
            .iter()
            .map(|pending| {
                let sku = pending.product.sku.clone();
                let (status, error) = match by_sku.remove(sku.as_str()) {
                    Some(reply) => match reply.status {
                        ItemStatus::Created => (ExportStatus::Created, None),
                        ItemStatus::Updated => (ExportStatus::Updated, None),
                        ItemStatus::Unchanged => (ExportStatus::Unchanged, None),
                        ItemStatus::Deleted => (
                            ExportStatus::Error,
                            Some("the channel answered `deleted` to an upsert".to_string()),
                        ),
                        ItemStatus::Error => (
                            ExportStatus::Error,
                            Some(
                                reply
                                    .error
                                    .clone()
                                    .unwrap_or_else(|| "rejected without a reason".into()),
                            ),
                        ),
                    },
                    None => (
                        ExportStatus::Error,
                        Some("the channel's reply omitted this item".into()),
                    ),
                };
                ExportResult {
                    sku,
                    revision: pending.revision,
                    status,
                    error,
                }
            })
            .collect();
        for r in &results {
            match &r.error {
                Some(error) => rejected.push((r.sku.clone(), error.clone())),
                None => counts.accepted += 1,
            }
        }
        counts.rejected = rejected.len() as u64;
        ch.store
            .write(|tx| tx.record_export_results(&ch.channel_id, &results, Timestamp::now()))?;
        crash::point("export-batch-recorded");
        counts.sent += batch.len() as u64;
        progress_bar.set_position(counts.sent);
    }

    let mut refused_deletions: Vec<(String, String)> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let skus = ch
            .store
            .read(|tx| tx.pending_deletions(&ch.channel_id, after.as_deref(), batch_size))?;
        let Some(last) = skus.last() else { break };
        after = Some(last.clone());
        let replies = access
            .call(async |token| {
                let batch = Batch {
                    upserts: &[],
                    deletions: &skus,
                };
                ch.connector.send_batch(token, batch).await
            })
            .await?;
        crash::point("delete-batch-sent");
        let by_sku: HashMap<&str, _> = replies.iter().map(|r| (r.sku.as_str(), r)).collect();
        let results: Vec<DeletionResult> = skus
            .iter()
            .map(|sku| {
                let error = match by_sku.get(sku.as_str()) {
                    Some(reply) if reply.status == ItemStatus::Deleted => None,
                    Some(reply) => Some(reply.error.clone().unwrap_or_else(|| {
                        format!(
                            "the channel answered `{}` to a deletion",
                            reply.status.as_str()
                        )
                    })),
                    None => Some("the channel's reply omitted this item".into()),
                };
                DeletionResult {
                    sku: sku.clone(),
                    error,
                }
            })
            .collect();
        for r in &results {
            match &r.error {
                Some(error) => refused_deletions.push((r.sku.clone(), error.clone())),
                None => counts.deleted += 1,
            }
        }
        counts.delete_failed = refused_deletions.len() as u64;
        ch.store
            .write(|tx| tx.record_deletions(&ch.channel_id, &results, Timestamp::now()))?;
        crash::point("delete-batch-recorded");
    }

    let channel_id = ch.channel_id.as_str();
    let threshold = |_: &str| quarantine_after;
    counts.quarantined = ch
        .store
        .read(|tx| tx.quarantined(Some(channel_id), &threshold))?
        .len() as u64;
    let summary = counts.summary();
    let partial = counts.is_partial().then(|| {
        let mut examples: Vec<String> = rejected
            .iter()
            .chain(&refused_deletions)
            .take(3)
            // The channel's words, in a summary printed and logged as is.
            .map(|(sku, error)| format!("{}: {}", escape(sku), escape(error)))
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
        tx.set_run_counts(run, &counts.as_map())?;
        match &partial {
            Some(detail) => tx.finish_partial(run, Timestamp::now(), counts.sent, Some(detail)),
            None => tx.finish_success(run, Timestamp::now(), counts.sent, Some(&summary)),
        }
    })?;
    Ok(ExportSummary { counts, partial })
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
