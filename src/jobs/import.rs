//! import-products: pages through the channel's products and commits each
//! page together with the import's progress, so a crash resumes after the last
//! committed page. Only the master channel's import feeds the catalog.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use jiff::Timestamp;

use super::ChannelRun;
use super::auth::Access;
use crate::connector::{ChannelError, PageRequest, ProductPage, Skipped};
use crate::crash;
use crate::store::RunId;

/// A channel that never ends its pagination is stopped here.
const MAX_PAGES: usize = 100_000;

/// Returns the number of products read. Success is recorded in the same
/// transaction as the last page.
///
/// Page N is committed on a blocking thread while page N+1 is fetched, so the
/// store's work overlaps the network's; page N+1 is looked at only after page N
/// is committed, so a crash still resumes after the last committed page.
pub async fn run(
    ch: &ChannelRun,
    run: RunId,
    progress_bar: &indicatif::ProgressBar,
) -> Result<u64> {
    let progress = ch.store.read(|tx| tx.import_progress(&ch.channel_id))?;
    let (mut cursor, mut since) = if ch.full {
        ch.store.write(|tx| tx.reset_import(&ch.channel_id))?;
        (None, None)
    } else if progress.cursor.is_some() {
        tracing::info!(channel = %ch.channel_id, "resuming an interrupted import");
        (progress.cursor, progress.since_used)
    } else {
        (None, progress.high_water)
    };
    if cursor.is_none() {
        start_listing(ch, since)?;
    }
    let mut seen_cursors = HashSet::new();
    let mut total: u64 = 0;
    let mut skipped = Skipped::default();
    let access = Access::new(ch);
    let mut restarted = false;
    let mut page = match fetch_page(ch, &access, cursor.as_deref(), since).await {
        // The saved cursor of an interrupted import may have expired or been
        // invalidated on the channel: start over once, rather than fail on
        // every run until someone runs `--full`.
        Err(err)
            if cursor.is_some()
                && super::channel_error(&err).is_some_and(ChannelError::refuses_request) =>
        {
            tracing::warn!(channel = %ch.channel_id, error = %err, "the channel refused the saved import cursor; restarting the import from the first page");
            ch.store.write(|tx| tx.reset_import(&ch.channel_id))?;
            (cursor, since) = (None, progress.high_water);
            start_listing(ch, since)?;
            restarted = true;
            fetch_page(ch, &access, None, since).await?
        }
        other => other?,
    };
    for page_number in 1.. {
        let ProductPage {
            products,
            next_cursor,
            skipped: page_skipped,
        } = page;
        skipped.extend(&page_skipped);
        if let Some(next) = &next_cursor
            && (!seen_cursors.insert(next.clone()) || cursor.as_deref() == Some(next.as_str()))
        {
            bail!(
                "the channel returned cursor `{next}` twice: stopping instead of looping forever ({total} products read before it were stored)"
            );
        }
        crash::point("import-page-fetched");
        total += products.len() as u64;
        let last = next_cursor.is_none();
        let mut detail = format!(
            "{total} products {}",
            if ch.is_master {
                "into the catalog"
            } else {
                "recorded as listings"
            },
        );
        if let Some(summary) = skipped.summary() {
            detail.push_str(&format!("; {summary}"));
        }
        if restarted {
            detail.push_str(
                "; restarted from the first page: the channel refused the interrupted import's cursor",
            );
        }
        let save = {
            let (store, channel, is_master) =
                (Arc::clone(&ch.store), ch.channel_id.clone(), ch.is_master);
            let next_cursor = next_cursor.clone();
            tokio::task::spawn_blocking(move || {
                store.write(|tx| {
                    tx.save_import_page(
                        &channel,
                        is_master,
                        &products,
                        next_cursor.as_deref(),
                        since,
                        Timestamp::now(),
                    )?;
                    if last {
                        let removed = tx.finish_import(&channel)?.removed.len();
                        let detail = if removed > 0 {
                            format!("{detail}; {removed} removed (no longer on the master)")
                        } else {
                            detail
                        };
                        tx.finish_success(run, Timestamp::now(), total, Some(&detail))?;
                    }
                    Ok(())
                })
            })
        };
        let fetch_next = !last && page_number < MAX_PAGES;
        let (saved, next) = tokio::join!(save, async {
            if fetch_next {
                Some(fetch_page(ch, &access, next_cursor.as_deref(), since).await)
            } else {
                None
            }
        });
        saved.context("the task saving an import page failed")??;
        crash::point("import-page-committed");
        progress_bar.set_position(total);
        if last {
            break;
        }
        let Some(next) = next else {
            bail!("stopped after {MAX_PAGES} pages: the channel's pagination does not end");
        };
        page = next?;
        cursor = next_cursor;
    }
    Ok(total)
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
