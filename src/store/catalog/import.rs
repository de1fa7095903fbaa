//! Where an import stands (cursor, `updated_since`, high water), its pages
//! (committed with the progress, so a crash resumes after the last one),
//! and a complete import's bookkeeping of the SKUs it saw, so that its end
//! can remove what the master no longer has.

use std::sync::LazyLock;

use jiff::Timestamp;

use super::{Removed, SET_SIZE, UpsertCounts, attributes_of, padded};
use crate::product::Product;
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
    /// Latest `updated_at` seen so far by the unfinished import.
    pub run_high_water: Option<Timestamp>,
}

/// Records that one channel's (`?1`) complete import saw up to [`SET_SIZE`]
/// skus (`?2...`).
static MARK_SEEN: LazyLock<String> = LazyLock::new(|| {
    let rows = (2..2 + SET_SIZE)
        .map(|i| format!("(?1, ?{i})"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO import_seen (channel, sku) VALUES {rows} ON CONFLICT DO NOTHING")
});

impl Tx<'_> {
    /// The channel's import progress; all `None` if it never imported.
    pub fn import_progress(&self, channel: &str) -> Result<ImportProgress> {
        let progress = self.db.query_opt(
            "SELECT high_water, cursor, since_used, run_high_water FROM import_progress \
             WHERE channel = ?1",
            params![channel],
            |r| {
                Ok(ImportProgress {
                    high_water: r.get::<_, Option<Millis>>(0)?.map(|m| m.0),
                    cursor: r.get(1)?,
                    since_used: r.get::<_, Option<Millis>>(2)?.map(|m| m.0),
                    run_high_water: r.get::<_, Option<Millis>>(3)?.map(|m| m.0),
                })
            },
        )?;
        Ok(progress.unwrap_or_default())
    }

    fn put_import_progress(&self, channel: &str, p: &ImportProgress) -> Result<()> {
        self.db.execute_deferred(
            "INSERT INTO import_progress (channel, high_water, cursor, since_used, \
             run_high_water) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (channel) DO UPDATE SET high_water = excluded.high_water, \
             cursor = excluded.cursor, since_used = excluded.since_used, \
             run_high_water = excluded.run_high_water",
            params![
                channel,
                millis(p.high_water),
                p.cursor,
                millis(p.since_used),
                millis(p.run_high_water)
            ],
        )?;
        Ok(())
    }

    /// One page of an import, committed together with the progress so a crash
    /// resumes after the last committed page. With `into_catalog` (the channel
    /// is the master source) the page goes into the catalog, whose rows keep
    /// the channel's ids; otherwise it is recorded as that channel's listings.
    /// Returns the counts of whichever was written.
    pub fn save_import_page(
        &self,
        channel: &str,
        into_catalog: bool,
        products: &[Product],
        next_cursor: Option<&str>,
        since_used: Option<Timestamp>,
        seen_at: Timestamp,
    ) -> Result<UpsertCounts> {
        let mut page_high = None;
        for p in products {
            let t = p
                .updated_at_timestamp()
                .map_err(|source| StoreError::InvalidProduct {
                    sku: p.sku.clone(),
                    source,
                })?;
            page_high = page_high.max(Some(t));
        }
        let attributes = attributes_of(products);
        // The master's products land in the catalog, whose rows keep the
        // master's ids; a second copy as listings would double the writes of
        // the biggest import for nothing.
        let counts = if into_catalog {
            if self.import_is_complete(channel)? {
                let skus: Vec<&dyn ToValue> =
                    products.iter().map(|p| &p.sku as &dyn ToValue).collect();
                self.mark_seen(channel, &skus)?;
            }
            self.upsert_catalog_with(products, &attributes)?
        } else {
            self.upsert_listings_with(channel, products, &attributes, seen_at, true)?
        };
        let mut progress = self.import_progress(channel)?;
        progress.cursor = next_cursor.map(str::to_string);
        progress.since_used = since_used;
        // Compared as instants: "…+02:00" and "…Z" spellings order correctly.
        progress.run_high_water = progress.run_high_water.max(page_high);
        self.put_import_progress(channel, &progress)?;
        Ok(counts)
    }

    /// SKUs an import read but skipped because the catalog's rules refused
    /// their values: they are still on the master, so a complete import
    /// keeps them (with the values the catalog had) instead of removing them
    /// and having every shop delete them.
    pub fn note_refused(&self, channel: &str, into_catalog: bool, skus: &[String]) -> Result<()> {
        if into_catalog && !skus.is_empty() && self.import_is_complete(channel)? {
            let skus: Vec<&dyn ToValue> = skus.iter().map(|s| s as &dyn ToValue).collect();
            self.mark_seen(channel, &skus)?;
        }
        Ok(())
    }

    /// The import completed: its high water becomes the next `updated_since`
    /// (never moving backwards), and the resume state is cleared. A complete
    /// import (see [`Tx::begin_complete_import`]) removes the catalog
    /// products its listing did not have; returns what it removed.
    pub fn finish_import(&self, channel: &str) -> Result<Removed> {
        let mut progress = self.import_progress(channel)?;
        progress.high_water = progress.high_water.max(progress.run_high_water);
        progress.cursor = None;
        progress.since_used = None;
        progress.run_high_water = None;
        self.put_import_progress(channel, &progress)?;
        if self.import_is_complete(channel)? {
            self.sweep_complete_import(channel, Timestamp::now())
        } else {
            Ok(Removed::default())
        }
    }

    /// Forgets an unfinished import (cursor, `since_used`, run high water), e.g.
    /// for `--full`; the high water of completed imports stays.
    pub fn reset_import(&self, channel: &str) -> Result<()> {
        self.db.execute(
            "UPDATE import_progress SET cursor = NULL, since_used = NULL, \
             run_high_water = NULL WHERE channel = ?1",
            params![channel],
        )?;
        self.abandon_complete_import(channel)
    }

    /// A complete (not incremental) import of the master starts: from now
    /// on its pages record the skus they hold, and [`Tx::finish_import`]
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

    /// One statement per [`SET_SIZE`] skus.
    pub(crate) fn mark_seen(&self, channel: &str, skus: &[&dyn ToValue]) -> Result<()> {
        for set in skus.chunks(SET_SIZE) {
            self.db
                .execute_deferred(&MARK_SEEN, &padded(&[&channel], set))?;
        }
        Ok(())
    }

    /// The last page of a complete import is in: the catalog products its
    /// listing did not hold are removed. An empty listing removes nothing
    /// (a channel answering with no products at all is more likely broken
    /// than emptied; `products remove` empties the catalog on purpose).
    pub(crate) fn sweep_complete_import(&self, channel: &str, at: Timestamp) -> Result<Removed> {
        let seen: i64 = self.db.query_one(
            "SELECT count(*) FROM import_seen WHERE channel = ?1",
            params![channel],
            |r| r.get(0),
        )?;
        let removed = if seen > 0 {
            let gone: Vec<String> = self.db.query(
                "SELECT c.sku FROM catalog c WHERE NOT EXISTS \
                 (SELECT 1 FROM import_seen s WHERE s.channel = ?1 AND s.sku = c.sku) \
                 ORDER BY c.sku",
                params![channel],
                |r| r.get(0),
            )?;
            self.remove_products(&gone, at)?
        } else {
            Removed::default()
        };
        self.abandon_complete_import(channel)?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::test_data::*;
    use crate::store::test_util::*;

    #[test]
    fn import_progress_and_high_water_compare_as_timestamps() {
        let (_dir, store) = temp_store();
        let seen = at("2026-05-01T00:00:00Z");
        let since = at("2026-04-01T00:00:00Z");
        let with_time = |sku: &str, updated_at: &str| Product {
            updated_at: updated_at.into(),
            ..product(sku, "1.00")
        };
        assert_eq!(
            store.read(|tx| tx.import_progress("m")).unwrap(),
            ImportProgress::default()
        );

        // Page 1: "10:00+02:00" is 08:00Z, earlier than "09:00Z" though it sorts
        // later as text.
        let page1 = [
            with_time("A", "2026-04-10T10:00:00+02:00"),
            with_time("B", "2026-04-10T09:00:00Z"),
        ];
        let c = store
            .write(|tx| tx.save_import_page("m", true, &page1, Some("c2"), Some(since), seen))
            .unwrap();
        assert_eq!(c, counts(2, 0, 0));
        let p = store.read(|tx| tx.import_progress("m")).unwrap();
        assert_eq!(p.cursor.as_deref(), Some("c2"));
        assert_eq!(p.since_used, Some(since));
        assert_eq!(p.run_high_water, Some(at("2026-04-10T09:00:00Z")));
        assert_eq!(
            p.high_water, None,
            "high water moves only when the import completes"
        );

        // Page 2: older products do not lower the run high water.
        let page2 = [with_time("C", "2026-04-02T00:00:00Z")];
        store
            .write(|tx| tx.save_import_page("m", true, &page2, None, Some(since), seen))
            .unwrap();
        let p = store.read(|tx| tx.import_progress("m")).unwrap();
        assert_eq!(p.cursor, None);
        assert_eq!(p.run_high_water, Some(at("2026-04-10T09:00:00Z")));
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 3);

        store.write(|tx| tx.finish_import("m")).unwrap();
        let done = ImportProgress {
            high_water: Some(at("2026-04-10T09:00:00Z")),
            ..Default::default()
        };
        assert_eq!(store.read(|tx| tx.import_progress("m")).unwrap(), done);

        // A later import that sees only older products never moves it back;
        // an empty import leaves it alone.
        store
            .write(|tx| {
                tx.save_import_page("m", true, &page2, None, done.high_water, seen)?;
                tx.finish_import("m")?;
                tx.finish_import("m")
            })
            .unwrap();
        assert_eq!(store.read(|tx| tx.import_progress("m")).unwrap(), done);

        // A non-master import records listings only.
        let page = [with_time("Z", "2026-04-20T00:00:00Z")];
        let c = store
            .write(|tx| tx.save_import_page("other", false, &page, Some("x"), None, seen))
            .unwrap();
        assert_eq!(c, counts(1, 0, 0), "listing counts");
        assert!(store.read(|tx| tx.product("Z")).unwrap().is_none());
        assert_eq!(store.read(|tx| tx.listing_count("other")).unwrap(), 1);

        // --full forgets the unfinished run but keeps completed high water.
        store.write(|tx| tx.reset_import("other")).unwrap();
        assert_eq!(
            store.read(|tx| tx.import_progress("other")).unwrap(),
            ImportProgress::default()
        );
        store.write(|tx| tx.reset_import("m")).unwrap();
        assert_eq!(store.read(|tx| tx.import_progress("m")).unwrap(), done);
    }

    #[test]
    fn a_failed_page_commits_nothing() {
        let (_dir, store) = temp_store();
        let seen = at("2026-05-01T00:00:00Z");
        let page = [
            product("A", "1.00"),
            Product {
                updated_at: "yesterday".into(),
                ..product("B", "1.00")
            },
        ];
        let err = store
            .write(|tx| tx.save_import_page("m", true, &page, Some("c"), None, seen))
            .unwrap_err();
        assert!(err.to_string().contains("`B`"), "{err}");
        assert_eq!(
            store.read(|tx| tx.import_progress("m")).unwrap(),
            ImportProgress::default()
        );
        assert_eq!(store.read(|tx| tx.listing_count("m")).unwrap(), 0);
    }

    #[test]
    fn a_complete_import_with_pages_of_several_sets_removes_only_what_it_did_not_list() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let all: Vec<_> = (0..3 * SET_SIZE)
            .map(|i| bare_product(&format!("P{i:04}"), "1"))
            .collect();
        store.write(|tx| tx.upsert_catalog(&all)).unwrap();
        // Listed: every product but those at 7, SET_SIZE and the last.
        let gone = [7, SET_SIZE, 3 * SET_SIZE - 1];
        let listed: Vec<_> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .map(|(_, p)| p.clone())
            .collect();
        let (first, second) = listed.split_at(SET_SIZE + SET_SIZE / 2);
        let removed = store
            .write(|tx| {
                tx.begin_complete_import("m")?;
                tx.save_import_page("m", true, first, Some("c"), None, t)?;
                tx.save_import_page("m", true, second, None, None, t)?;
                tx.finish_import("m")
            })
            .unwrap();
        let expected: Vec<_> = gone.iter().map(|&i| all[i].sku.clone()).collect();
        assert_eq!(removed.removed, expected);
        assert_eq!(
            store.read(|tx| tx.count_products()).unwrap(),
            listed.len() as u64
        );
    }

    #[test]
    fn a_complete_import_removes_what_it_did_not_list_and_an_empty_one_nothing() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| {
                tx.upsert_catalog(&[
                    bare_product("A", "1"),
                    bare_product("B", "1"),
                    bare_product("C", "1"),
                ])
            })
            .unwrap();
        store
            .write(|tx| {
                tx.begin_complete_import("m")?;
                tx.save_import_page("m", true, &[bare_product("A", "1")], Some("c"), None, t)?;
                tx.save_import_page("m", true, &[bare_product("C", "1")], None, None, t)?;
                tx.finish_import("m")
            })
            .unwrap();
        assert!(store.read(|tx| tx.product("B")).unwrap().is_none());
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 2);
        // An incremental import removes nothing.
        store
            .write(|tx| {
                tx.save_import_page("m", true, &[bare_product("A", "1")], None, Some(t), t)?;
                tx.finish_import("m")
            })
            .unwrap();
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 2);
        // A complete but empty listing removes nothing either.
        store
            .write(|tx| {
                tx.begin_complete_import("m")?;
                tx.save_import_page("m", true, &[], None, None, t)?;
                tx.finish_import("m")
            })
            .unwrap();
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 2);
    }
}
