//! export-products: sends the catalog products whose content changed since
//! their last successful export to this channel, in batches of the channel's
//! `batch-size`.
//! Batch export is an SKU-keyed upsert on the channel, so a batch resent after
//! a crash or a retry does no harm; a product counts as exported only after
//! the channel accepted it.

use std::collections::HashMap;

use anyhow::{Result, bail};
use jiff::Timestamp;

use super::ChannelRun;
use super::auth::Access;
use crate::connector::{Batch, ItemStatus};
use crate::crash;
use crate::product::Product;
use crate::store::RunId;
use crate::store::{ExportResult, ExportStatus};

/// Returns the number of products sent. Items the channel rejected are
/// recorded and fail the job, so they are retried on the next run.
pub async fn run(
    ch: &ChannelRun,
    run: RunId,
    progress_bar: &indicatif::ProgressBar,
) -> Result<u64> {
    let mut after: Option<String> = None;
    let mut sent: u64 = 0;
    let mut rejected: Vec<(String, String)> = Vec::new();
    let access = Access::new(ch);
    let batch_size = ch.connector.limits().batch_size;
    loop {
        let batch = ch
            .store
            .read(|tx| tx.pending_exports(&ch.channel_id, after.as_deref(), batch_size))?;
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
                            Some("the channel reported a deletion that was not asked for".into()),
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
        rejected.extend(
            results
                .iter()
                .filter_map(|r| r.error.as_ref().map(|e| (r.sku.clone(), e.clone()))),
        );
        ch.store
            .write(|tx| tx.record_export_results(&ch.channel_id, &results, Timestamp::now()))?;
        crash::point("export-batch-recorded");
        sent += batch.len() as u64;
        progress_bar.set_position(sent);
    }
    if !rejected.is_empty() {
        let examples: Vec<String> = rejected
            .iter()
            .take(3)
            .map(|(sku, error)| format!("{sku}: {error}"))
            .collect();
        bail!(
            "the channel rejected {} of {sent} products ({}{}); they are retried on the next run",
            rejected.len(),
            examples.join("; "),
            if rejected.len() > 3 { "; ..." } else { "" }
        );
    }
    ch.store.write(|tx| {
        tx.finish_success(
            run,
            Timestamp::now(),
            sent,
            Some(&format!("{sent} products sent")),
        )
    })?;
    Ok(sent)
}
