//! Where an import stands (cursor, `updated_since`, high water), its pages
//! of whole products (committed with the progress, so a crash resumes
//! after the last one), and a complete import's bookkeeping of the handles
//! it saw, so that its end can remove what the master no longer has.

use std::sync::LazyLock;

use jiff::Timestamp;

use super::{Removed, SET_SIZE, UpsertCounts, padded};
use crate::catalog::Product;
use crate::guard::{Exceeded, MaxRemoval};
use crate::store::sql::{ToValue, params};
use crate::store::{Millis, Result, StoreError, Tx, millis};

/// Where an import of one channel stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportProgress {
    /// Latest `updated_at` of the last complete import: the next
    /// `updated_since`.
    pub high_water: Option<Timestamp>,
    /// Cursor of the next page of an unfinished import, to resume after a crash.
    pub cursor: Option<String>,
    /// The `updated_since` the unfinished import started with; a resumed import
    /// must send the same one with its cursor.
    pub since_used: Option<Timestamp>,
    /// Latest `updated_at` seen so far by the unfinished import, never
    /// later than its listing's start.
    pub run_high_water: Option<Timestamp>,
    /// When the unfinished import's listing began.
    pub listing_started: Option<Timestamp>,
}

/// The listing a page of an import belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportListing {
    /// The `updated_since` it was asked with (`None`: a complete listing);
    /// a resumed import sends the same one with its cursor.
    pub since: Option<Timestamp>,
    /// When its first page was asked for, by this machine's clock. A change
    /// made after that to a page already read is not in the listing, while
    /// later pages may show later changes: so the high water the listing
    /// yields never passes this moment, or the next import would start
    /// after a change it never saw (a listing resumed after a stop, or one
    /// that takes longer than the connector's overlap).
    pub started: Timestamp,
}

/// How an import ended: what its complete listing removed from the
/// catalog, or, when that was more than `max-removal` allows, the counts of
/// the removal it held back (nothing was removed).
#[derive(Debug, Default)]
pub struct FinishedImport {
    pub removed: Removed,
    pub held_back: Option<Exceeded>,
}

/// Records that one channel's (`?1`) complete import saw up to [`SET_SIZE`]
/// handles (`?2...`).
static MARK_SEEN: LazyLock<String> = LazyLock::new(|| {
    let rows = (2..2 + SET_SIZE)
        .map(|i| format!("(?1, ?{i})"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO import_seen (channel, handle) VALUES {rows} ON CONFLICT DO NOTHING")
});

impl Tx<'_> {
    /// The channel's import progress; all `None` if it never imported.
    pub fn import_progress(&self, channel: &str) -> Result<ImportProgress> {
        let progress = self.db.query_opt(
            "SELECT high_water, cursor, since_used, run_high_water, listing_started \
             FROM import_progress WHERE channel = ?1",
            params![channel],
            |r| {
                Ok(ImportProgress {
                    high_water: r.get::<_, Option<Millis>>(0)?.map(|m| m.0),
                    cursor: r.get(1)?,
                    since_used: r.get::<_, Option<Millis>>(2)?.map(|m| m.0),
                    run_high_water: r.get::<_, Option<Millis>>(3)?.map(|m| m.0),
                    listing_started: r.get::<_, Option<Millis>>(4)?.map(|m| m.0),
                })
            },
        )?;
        Ok(progress.unwrap_or_default())
    }

    fn put_import_progress(&self, channel: &str, p: &ImportProgress) -> Result<()> {
        self.db.execute_deferred(
            "INSERT INTO import_progress (channel, high_water, cursor, since_used, \
             run_high_water, listing_started) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (channel) DO UPDATE SET high_water = excluded.high_water, \
             cursor = excluded.cursor, since_used = excluded.since_used, \
             run_high_water = excluded.run_high_water, \
             listing_started = excluded.listing_started",
            params![
                channel,
                millis(p.high_water),
                p.cursor,
                millis(p.since_used),
                millis(p.run_high_water),
                millis(p.listing_started)
            ],
        )?;
        Ok(())
    }

    /// One page of an import, committed together with the progress so a crash
    /// resumes after the last committed page. With `into_catalog` (the channel
    /// is the master source) the page's whole products go into the catalog
    /// (a variant a product no longer has leaves it), keeping the channel's
    /// ids; otherwise they are recorded as that channel's listings. Returns
    /// the counts of whichever was written.
    pub fn save_import_page(
        &self,
        channel: &str,
        into_catalog: bool,
        products: &[Product],
        next_cursor: Option<&str>,
        listing: ImportListing,
        seen_at: Timestamp,
    ) -> Result<UpsertCounts> {
        let mut page_high = None;
        for p in products {
            let t = p
                .updated_at_timestamp()
                .map_err(|source| StoreError::InvalidProduct {
                    key: p.handle.clone(),
                    source,
                })?;
            page_high = page_high.max(Some(t.min(listing.started)));
        }
        // The master's products land in the catalog, whose documents keep
        // the master's ids; a second copy as listings would double the
        // writes of the biggest import for nothing.
        let counts = if into_catalog {
            if self.import_is_complete(channel)? {
                let handles: Vec<&dyn ToValue> =
                    products.iter().map(|p| &p.handle as &dyn ToValue).collect();
                self.mark_seen(channel, &handles)?;
            }
            self.upsert_products(products)?
        } else {
            self.upsert_listings(channel, products, seen_at)?
        };
        let mut progress = self.import_progress(channel)?;
        progress.cursor = next_cursor.map(str::to_string);
        progress.since_used = listing.since;
        progress.listing_started = Some(listing.started);
        // Compared as instants: "…+02:00" and "…Z" spellings order correctly.
        progress.run_high_water = progress.run_high_water.max(page_high);
        self.put_import_progress(channel, &progress)?;
        Ok(counts)
    }

    /// Products (by handle) an import read but skipped because the
    /// catalog's rules refused their values: they are still on the master,
    /// so a complete import keeps them (with the values the catalog had)
    /// instead of removing them and having every shop delete them.
    pub fn note_refused(
        &self,
        channel: &str,
        into_catalog: bool,
        handles: &[String],
    ) -> Result<()> {
        if into_catalog && !handles.is_empty() && self.import_is_complete(channel)? {
            let handles: Vec<&dyn ToValue> = handles.iter().map(|s| s as &dyn ToValue).collect();
            self.mark_seen(channel, &handles)?;
        }
        Ok(())
    }

    /// The import completed: its high water becomes the next `updated_since`
    /// (never moving backwards), and the resume state is cleared. A complete
    /// import (see [`Tx::begin_complete_import`]) removes the catalog
    /// products its listing did not have, unless that is more than `limit`
    /// allows: then it removes nothing, and the next import is complete
    /// again (no `updated_since`), so the question comes back every run
    /// until the master lists the catalog or a run allows the removal.
    pub fn finish_import(&self, channel: &str, limit: MaxRemoval) -> Result<FinishedImport> {
        let mut progress = self.import_progress(channel)?;
        progress.high_water = progress.high_water.max(progress.run_high_water);
        progress.cursor = None;
        progress.since_used = None;
        progress.run_high_water = None;
        progress.listing_started = None;
        let finished = if self.import_is_complete(channel)? {
            self.sweep_complete_import(channel, limit, Timestamp::now())?
        } else {
            FinishedImport::default()
        };
        if finished.held_back.is_some() {
            progress.high_water = None;
        }
        self.put_import_progress(channel, &progress)?;
        Ok(finished)
    }

    /// Forgets an unfinished import (cursor, `since_used`, run high water,
    /// listing start), e.g.
    /// for `--full`; the high water of completed imports stays.
    pub fn reset_import(&self, channel: &str) -> Result<()> {
        self.db.execute(
            "UPDATE import_progress SET cursor = NULL, since_used = NULL, \
             run_high_water = NULL, listing_started = NULL WHERE channel = ?1",
            params![channel],
        )?;
        self.abandon_complete_import(channel)
    }

    /// A complete (not incremental) import of the master starts: from now
    /// on its pages record the handles they hold, and [`Tx::finish_import`]
    /// removes the catalog products the listing did not have.
    pub fn begin_complete_import(&self, channel: &str) -> Result<()> {
        self.db.execute(
            "DELETE FROM import_seen WHERE channel = ?1",
            params![channel],
        )?;
        self.db.execute(
            "INSERT INTO import_complete (channel) VALUES (?1) ON CONFLICT DO NOTHING",
            params![channel],
        )?;
        Ok(())
    }

    /// An unfinished import is abandoned (e.g. `--full` restarts it): it will
    /// remove nothing.
    pub fn abandon_complete_import(&self, channel: &str) -> Result<()> {
        self.db.execute(
            "DELETE FROM import_seen WHERE channel = ?1",
            params![channel],
        )?;
        self.db.execute(
            "DELETE FROM import_complete WHERE channel = ?1",
            params![channel],
        )?;
        Ok(())
    }

    pub(crate) fn import_is_complete(&self, channel: &str) -> Result<bool> {
        Ok(self
            .db
            .query_opt(
                "SELECT 1 FROM import_complete WHERE channel = ?1",
                params![channel],
                |_| Ok(()),
            )?
            .is_some())
    }

    /// One statement per [`SET_SIZE`] handles.
    pub(crate) fn mark_seen(&self, channel: &str, handles: &[&dyn ToValue]) -> Result<()> {
        for set in handles.chunks(SET_SIZE) {
            self.db
                .execute_deferred(&MARK_SEEN, &padded(&[&channel], set))?;
        }
        Ok(())
    }

    /// The last page of a complete import is in: the catalog products its
    /// listing did not hold are removed, if `limit` allows that many. An
    /// empty listing removes nothing (a channel answering with no products
    /// at all is more likely broken than emptied; `products remove` empties
    /// the catalog on purpose).
    pub(crate) fn sweep_complete_import(
        &self,
        channel: &str,
        limit: MaxRemoval,
        at: Timestamp,
    ) -> Result<FinishedImport> {
        let seen: i64 = self.db.query_one(
            "SELECT count(*) FROM import_seen WHERE channel = ?1",
            params![channel],
            |r| r.get(0),
        )?;
        let mut finished = FinishedImport::default();
        if seen > 0 {
            let gone: Vec<String> = self.db.query(
                "SELECT p.handle FROM products p WHERE NOT EXISTS \
                 (SELECT 1 FROM import_seen s WHERE s.channel = ?1 AND s.handle = p.handle) \
                 ORDER BY p.handle",
                params![channel],
                |r| r.get(0),
            )?;
            let held: i64 = self
                .db
                .query_one("SELECT count(*) FROM products", params![], |r| r.get(0))?;
            finished.held_back = limit.check(gone.len() as u64, held as u64);
            if finished.held_back.is_none() {
                finished.removed = self.remove(&gone, at)?;
            }
        }
        self.abandon_complete_import(channel)?;
        Ok(finished)
    }
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
