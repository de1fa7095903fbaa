//! Products leaving the catalog and what the channels still owe for them:
//! removals (`products remove`, a complete master import), the deletions each
//! exporting channel still has to confirm, and the quarantine of products a
//! channel keeps rejecting.
//!
//! A removed product stays in `removed_products` while any channel holds an
//! accepted export of it; each channel's deletion is pending until that
//! channel confirms it. A product that comes back into the catalog is no
//! longer removed, and is exported again everywhere.

use std::sync::LazyLock;

use jiff::Timestamp;
use serde::Serialize;

use super::catalog::{SET_SIZE, padded, placeholders};
use super::db::{ToValue, params};
use super::{Millis, Result, Tx, count_from_sql};

/// Ends the removal of up to [`SET_SIZE`] skus (`?1...`), returning those
/// that were removed.
static REVIVE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM removed_products WHERE sku IN ({}) RETURNING sku",
        placeholders(1)
    )
});

/// Records that one channel's (`?1`) complete import saw up to [`SET_SIZE`]
/// skus (`?2...`).
static MARK_SEEN: LazyLock<String> = LazyLock::new(|| {
    let rows = (2..2 + SET_SIZE)
        .map(|i| format!("(?1, ?{i})"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO import_seen (channel, sku) VALUES {rows} ON CONFLICT DO NOTHING")
});

/// What [`Tx::remove_products`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Skus removed from the catalog.
    pub removed: Vec<String>,
    /// Skus that were not in the catalog.
    pub missing: Vec<String>,
    /// Channel deletions now pending (one per channel holding the product).
    pub deletions_pending: u64,
}

/// A channel's verdict on one deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletionResult {
    pub sku: String,
    /// `None`: deleted (or already gone); `Some`: the channel's error.
    pub error: Option<String>,
}

/// A product a channel keeps rejecting: not sent again until its content
/// changes or the operator releases it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    pub channel: String,
    pub sku: String,
    /// Consecutive rejections of the current revision.
    pub rejections: u32,
    pub error: Option<String>,
    #[serde(serialize_with = "crate::store::state::rfc3339")]
    pub last_attempt: Timestamp,
}

/// Where one product stands with one channel's export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportState {
    pub channel: String,
    pub exported_revision: Option<i64>,
    pub last_status: String,
    pub last_error: Option<String>,
    pub rejections: u32,
    pub quarantined: bool,
    /// The product was removed from the catalog and this channel has not
    /// confirmed its deletion yet.
    pub deletion_pending: bool,
}

impl Tx<'_> {
    /// Removes `skus` from the catalog; each channel holding an accepted
    /// export of one owes its deletion. Exports never accepted are dropped.
    pub fn remove_products(&self, skus: &[String], at: Timestamp) -> Result<Removed> {
        let mut result = Removed::default();
        for sku in skus {
            if self
                .db
                .execute("DELETE FROM catalog WHERE sku = ?1", params![sku])?
                == 0
            {
                result.missing.push(sku.clone());
                continue;
            }
            self.db.execute(
                "DELETE FROM exports WHERE sku = ?1 AND exported_revision IS NULL",
                params![sku],
            )?;
            let n: i64 = self.db.query_one(
                "SELECT count(*) FROM exports WHERE sku = ?1 AND exported_revision IS NOT NULL",
                params![sku],
                |r| r.get(0),
            )?;
            if n > 0 {
                self.db.execute_deferred(
                    "INSERT INTO removed_products (sku, removed_at) VALUES (?1, ?2) \
                     ON CONFLICT (sku) DO NOTHING",
                    params![sku, Millis(at)],
                )?;
                result.deletions_pending += count_from_sql(n);
            }
            result.removed.push(sku.clone());
        }
        Ok(result)
    }

    /// Products inserted into the catalog are no longer removed: their
    /// pending deletions are cancelled and every channel gets them again.
    /// One statement per [`SET_SIZE`] skus, plus one per revived product.
    pub(crate) fn revive_removed(&self, skus: &[&dyn ToValue]) -> Result<()> {
        for set in skus.chunks(SET_SIZE) {
            let revived: Vec<String> = self.db.query(&REVIVE, &padded(&[], set), |r| r.get(0))?;
            for sku in revived {
                self.db
                    .execute("DELETE FROM exports WHERE sku = ?1", params![sku])?;
            }
        }
        Ok(())
    }

    /// Skus removed from the catalog that `channel` has not confirmed
    /// deleted, ordered, after `after_sku`, at most `limit`.
    pub fn pending_deletions(
        &self,
        channel: &str,
        after_sku: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let rows = self.db.query(
            "SELECT e.sku FROM exports e JOIN removed_products r ON r.sku = e.sku \
             WHERE e.channel = ?1 AND e.exported_revision IS NOT NULL AND e.sku > ?2 \
             ORDER BY e.sku LIMIT ?3",
            params![
                channel,
                after_sku.unwrap_or(""),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| r.get(0),
        )?;
        Ok(rows)
    }

    /// Records a channel's verdicts on deletions: a confirmed one forgets
    /// the product for that channel (export and listing); an error keeps it
    /// pending for the next run.
    pub fn record_deletions(
        &self,
        channel: &str,
        results: &[DeletionResult],
        at: Timestamp,
    ) -> Result<()> {
        for result in results {
            match &result.error {
                None => {
                    self.db.execute_deferred(
                        "DELETE FROM exports WHERE channel = ?1 AND sku = ?2",
                        params![channel, result.sku],
                    )?;
                    self.db.execute_deferred(
                        "DELETE FROM listings WHERE channel = ?1 AND sku = ?2",
                        params![channel, result.sku],
                    )?;
                }
                Some(error) => {
                    self.db.execute_deferred(
                        "UPDATE exports SET last_status = 'error', last_error = ?3, \
                         attempted_at = ?4 WHERE channel = ?1 AND sku = ?2",
                        params![channel, result.sku, error, Millis(at)],
                    )?;
                }
            }
        }
        self.drop_settled_removals()
    }

    /// Removed products no channel owes a deletion for any more.
    pub(crate) fn drop_settled_removals(&self) -> Result<()> {
        self.db.execute(
            "DELETE FROM removed_products WHERE NOT EXISTS (SELECT 1 FROM exports e \
             WHERE e.sku = removed_products.sku AND e.exported_revision IS NOT NULL)",
            params![],
        )?;
        Ok(())
    }

    /// How many removed products some channel has not confirmed deleted.
    pub fn count_pending_deletions(&self, channel: &str) -> Result<u64> {
        let n: i64 = self.db.query_one(
            "SELECT count(*) FROM exports e JOIN removed_products r ON r.sku = e.sku \
             WHERE e.channel = ?1 AND e.exported_revision IS NOT NULL",
            params![channel],
            |r| r.get(0),
        )?;
        Ok(count_from_sql(n))
    }

    /// Quarantined products of one channel (or all), ordered by channel, sku.
    /// `quarantine_after` maps a channel to its threshold (0: never).
    pub fn quarantined(
        &self,
        channel: Option<&str>,
        quarantine_after: &dyn Fn(&str) -> u32,
    ) -> Result<Vec<Quarantined>> {
        // `?1` is compared with the TEXT column first, so PostgreSQL types it so.
        let rows = self.db.query(
            "SELECT e.channel, e.sku, e.rejections, e.last_error, e.attempted_at \
             FROM exports e JOIN catalog c ON c.sku = e.sku \
             WHERE e.rejections > 0 AND e.rejected_revision = c.revision \
             AND (e.channel = ?1 OR ?1 IS NULL) ORDER BY e.channel, e.sku",
            params![channel],
            |r| {
                Ok(Quarantined {
                    channel: r.get(0)?,
                    sku: r.get(1)?,
                    rejections: r.get(2)?,
                    error: r.get(3)?,
                    last_attempt: r.get::<_, Millis>(4)?.0,
                })
            },
        )?;
        Ok(rows
            .into_iter()
            .filter(|q| {
                let limit = quarantine_after(&q.channel);
                limit > 0 && q.rejections >= limit
            })
            .collect())
    }

    /// Takes `sku` out of quarantine (on `channel`, or on every channel):
    /// it is sent again on the next export. Returns how many were released.
    pub fn release_quarantine(&self, sku: &str, channel: Option<&str>) -> Result<u64> {
        let n = self.db.execute(
            "UPDATE exports SET rejections = 0, rejected_revision = NULL \
             WHERE sku = ?1 AND (channel = ?2 OR ?2 IS NULL) AND rejections > 0",
            params![sku, channel],
        )?;
        Ok(n as u64)
    }

    /// Every channel's export state for `sku`, ordered by channel.
    pub fn export_states(
        &self,
        sku: &str,
        quarantine_after: &dyn Fn(&str) -> u32,
    ) -> Result<Vec<ExportState>> {
        // The flags are CASE integers: a bare comparison is a boolean in
        // PostgreSQL, and NULL in both engines once the product has left
        // the catalog (no `c.revision`).
        let rows = self.db.query(
            "SELECT e.channel, e.exported_revision, e.last_status, e.last_error, e.rejections, \
             CASE WHEN e.rejected_revision = c.revision THEN 1 ELSE 0 END, \
             CASE WHEN r.sku IS NOT NULL THEN 1 ELSE 0 END \
             FROM exports e LEFT JOIN catalog c ON c.sku = e.sku \
             LEFT JOIN removed_products r ON r.sku = e.sku \
             WHERE e.sku = ?1 ORDER BY e.channel",
            params![sku],
            |r| {
                let channel: String = r.get(0)?;
                let rejections: u32 = r.get(4)?;
                let current: bool = r.get(5)?;
                let limit = quarantine_after(&channel);
                Ok(ExportState {
                    quarantined: current && limit > 0 && rejections >= limit,
                    channel,
                    exported_revision: r.get(1)?,
                    last_status: r.get(2)?,
                    last_error: r.get(3)?,
                    rejections,
                    deletion_pending: r.get(6)?,
                })
            },
        )?;
        Ok(rows)
    }

    // ---- complete imports ----

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
    use crate::product::Product;
    use crate::store::catalog::SET_SIZE;
    use crate::store::test_util::*;
    use crate::store::{ExportResult, ExportStatus};

    fn product(sku: &str, price: &str) -> Product {
        Product {
            sku: sku.into(),
            title: "t".into(),
            price: crate::price::Price::parse(price, "EUR").unwrap(),
            quantity: 1,
            attributes: Default::default(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: None,
        }
    }

    fn result(sku: &str, revision: i64, error: Option<&str>) -> ExportResult {
        ExportResult {
            sku: sku.into(),
            revision,
            status: if error.is_some() {
                ExportStatus::Error
            } else {
                ExportStatus::Created
            },
            error: error.map(Into::into),
        }
    }

    #[test]
    fn removed_products_are_deleted_where_they_were_exported() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| {
                tx.upsert_catalog(&[product("A", "1"), product("B", "1"), product("C", "1")])?;
                tx.record_export_results("shop", &[result("A", 1, None), result("B", 1, None)], t)?;
                tx.record_export_results(
                    "web",
                    &[result("A", 1, None), result("C", 1, Some("no"))],
                    t,
                )
            })
            .unwrap();
        let removed = store
            .write(|tx| tx.remove_products(&["A".into(), "C".into(), "Z".into()], t))
            .unwrap();
        assert_eq!(removed.removed, ["A", "C"]);
        assert_eq!(removed.missing, ["Z"]);
        assert_eq!(
            removed.deletions_pending, 2,
            "A on shop and web; C was never accepted"
        );
        let pending = |ch: &str| store.read(|tx| tx.pending_deletions(ch, None, 10)).unwrap();
        assert_eq!(pending("shop"), ["A"]);
        assert_eq!(pending("web"), ["A"]);
        assert!(store.read(|tx| tx.product("A")).unwrap().is_none());

        // shop confirms; web fails and stays pending.
        store
            .write(|tx| {
                tx.record_deletions(
                    "shop",
                    &[DeletionResult {
                        sku: "A".into(),
                        error: None,
                    }],
                    t,
                )?;
                tx.record_deletions(
                    "web",
                    &[DeletionResult {
                        sku: "A".into(),
                        error: Some("locked".into()),
                    }],
                    t,
                )
            })
            .unwrap();
        assert!(pending("shop").is_empty());
        assert_eq!(pending("web"), ["A"]);
        store
            .write(|tx| {
                tx.record_deletions(
                    "web",
                    &[DeletionResult {
                        sku: "A".into(),
                        error: None,
                    }],
                    t,
                )
            })
            .unwrap();
        assert!(pending("web").is_empty());
        let left: i64 = store
            .with_conn(|c| c.query_row("SELECT count(*) FROM removed_products", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(left, 0, "settled removals are dropped");
    }

    #[test]
    fn export_states_of_a_removed_product_that_was_rejected_show_the_pending_deletion() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| {
                tx.upsert_catalog(&[product("A", "1")])?;
                tx.record_export_results("shop", &[result("A", 1, None)], t)?;
                tx.upsert_catalog(&[product("A", "2")])?;
                tx.record_export_results("shop", &[result("A", 2, Some("no"))], t)?;
                tx.remove_products(&["A".into()], t)
            })
            .unwrap();
        let states = store.read(|tx| tx.export_states("A", &|_| 3)).unwrap();
        assert_eq!(
            states,
            [ExportState {
                channel: "shop".into(),
                exported_revision: Some(1),
                last_status: "error".into(),
                last_error: Some("no".into()),
                rejections: 1,
                quarantined: false,
                deletion_pending: true,
            }]
        );
    }

    #[test]
    fn a_product_that_comes_back_is_exported_again_and_not_deleted() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| {
                tx.upsert_catalog(&[product("A", "1")])?;
                tx.upsert_catalog(&[product("A", "2")])?;
                tx.record_export_results("shop", &[result("A", 2, None)], t)?;
                tx.remove_products(&["A".into()], t)
            })
            .unwrap();
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "3")]))
            .unwrap();
        assert!(
            store
                .read(|tx| tx.pending_deletions("shop", None, 10))
                .unwrap()
                .is_empty()
        );
        let pending = store
            .read(|tx| tx.pending_exports("shop", None, 10, 3))
            .unwrap();
        assert_eq!(
            pending.len(),
            1,
            "sent again although its new revision is 1"
        );
    }

    #[test]
    fn three_rejections_of_one_revision_quarantine_it_until_it_changes_or_is_released() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "1")]))
            .unwrap();
        let pending = || {
            store
                .read(|tx| tx.pending_exports("shop", None, 10, 3))
                .unwrap()
                .len()
        };
        let q = |_: &str| 3;
        for n in 1..=3 {
            assert_eq!(pending(), 1, "still sent before rejection {n}");
            store
                .write(|tx| tx.record_export_results("shop", &[result("A", 1, Some("bad"))], t))
                .unwrap();
        }
        assert_eq!(pending(), 0, "quarantined after 3");
        let quarantined = store.read(|tx| tx.quarantined(None, &q)).unwrap();
        assert_eq!(quarantined.len(), 1);
        assert_eq!(quarantined[0].rejections, 3);
        assert_eq!(
            store
                .read(|tx| tx.count_pending_exports("shop", 3))
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .read(|tx| tx.count_pending_exports("shop", 0))
                .unwrap(),
            1,
            "0: never"
        );
        // Released: sent again.
        assert_eq!(
            store.write(|tx| tx.release_quarantine("A", None)).unwrap(),
            1
        );
        assert_eq!(pending(), 1);
        // Quarantined again, then a content change frees it.
        for _ in 0..3 {
            store
                .write(|tx| tx.record_export_results("shop", &[result("A", 1, Some("bad"))], t))
                .unwrap();
        }
        assert_eq!(pending(), 0);
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "2")]))
            .unwrap();
        assert_eq!(pending(), 1);
        assert!(
            store
                .read(|tx| tx.quarantined(None, &q))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn products_coming_back_among_many_new_ones_are_revived_and_only_they() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let many: Vec<_> = (0..2 * SET_SIZE + 5)
            .map(|i| product(&format!("N{i:04}"), "1"))
            .collect();
        store
            .write(|tx| {
                tx.upsert_catalog(&[product("A", "1"), product("B", "1"), product("C", "1")])?;
                let accepted = ["A", "B", "C"].map(|s| result(s, 1, None));
                tx.record_export_results("shop", &accepted, t)?;
                tx.remove_products(&["A".into(), "B".into(), "C".into()], t)
            })
            .unwrap();
        // A comes back in the first set, C in the last; B stays removed.
        let mut batch = many.clone();
        batch.insert(3, product("A", "1"));
        batch.push(product("C", "1"));
        let counts = store.write(|tx| tx.upsert_catalog(&batch)).unwrap();
        assert_eq!(counts.created, batch.len() as u64);
        assert_eq!(
            store
                .read(|tx| tx.pending_deletions("shop", None, 10))
                .unwrap(),
            ["B"]
        );
        let pending = store
            .read(|tx| tx.pending_exports("shop", None, 1000, 3))
            .unwrap();
        assert_eq!(pending.len(), batch.len(), "A and C are sent again");
    }

    #[test]
    fn a_complete_import_with_pages_of_several_sets_removes_only_what_it_did_not_list() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let all: Vec<_> = (0..3 * SET_SIZE)
            .map(|i| product(&format!("P{i:04}"), "1"))
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
                tx.upsert_catalog(&[product("A", "1"), product("B", "1"), product("C", "1")])
            })
            .unwrap();
        store
            .write(|tx| {
                tx.begin_complete_import("m")?;
                tx.save_import_page("m", true, &[product("A", "1")], Some("c"), None, t)?;
                tx.save_import_page("m", true, &[product("C", "1")], None, None, t)?;
                tx.finish_import("m")
            })
            .unwrap();
        assert!(store.read(|tx| tx.product("B")).unwrap().is_none());
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 2);
        // An incremental import removes nothing.
        store
            .write(|tx| {
                tx.save_import_page("m", true, &[product("A", "1")], None, Some(t), t)?;
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
