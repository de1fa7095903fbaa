//! Products leaving the catalog (`products remove`, a complete master
//! import) and the deletions each exporting channel still owes for them.
//!
//! A removed product stays in `removed_products` while any channel holds an
//! accepted export of it; each channel's deletion is pending until that
//! channel confirms it. A product that comes back into the catalog is no
//! longer removed, and is exported again everywhere.

use std::sync::LazyLock;

use jiff::Timestamp;
use serde::Serialize;

use super::{SET_SIZE, padded, placeholders};
use crate::store::sql::{ToValue, params};
use crate::store::{Millis, Result, Tx, count_from_sql};

/// Ends the removal of up to [`SET_SIZE`] skus (`?1...`), returning those
/// that were removed.
static REVIVE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM removed_products WHERE sku IN ({}) RETURNING sku",
        placeholders(1)
    )
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::test_data::*;
    use crate::store::test_util::*;

    #[test]
    fn removed_products_are_deleted_where_they_were_exported() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| {
                tx.upsert_catalog(&[
                    bare_product("A", "1"),
                    bare_product("B", "1"),
                    bare_product("C", "1"),
                ])?;
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
            .read(|tx| {
                Ok(tx
                    .db
                    .query_one("SELECT count(*) FROM removed_products", params![], |r| {
                        r.get(0)
                    })?)
            })
            .unwrap();
        assert_eq!(left, 0, "settled removals are dropped");
    }

    #[test]
    fn a_product_that_comes_back_is_exported_again_and_not_deleted() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| {
                tx.upsert_catalog(&[bare_product("A", "1")])?;
                tx.upsert_catalog(&[bare_product("A", "2")])?;
                tx.record_export_results("shop", &[result("A", 2, None)], t)?;
                tx.remove_products(&["A".into()], t)
            })
            .unwrap();
        store
            .write(|tx| tx.upsert_catalog(&[bare_product("A", "3")]))
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
    fn products_coming_back_among_many_new_ones_are_revived_and_only_they() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let many: Vec<_> = (0..2 * SET_SIZE + 5)
            .map(|i| bare_product(&format!("N{i:04}"), "1"))
            .collect();
        store
            .write(|tx| {
                tx.upsert_catalog(&[
                    bare_product("A", "1"),
                    bare_product("B", "1"),
                    bare_product("C", "1"),
                ])?;
                let accepted = ["A", "B", "C"].map(|s| result(s, 1, None));
                tx.record_export_results("shop", &accepted, t)?;
                tx.remove_products(&["A".into(), "B".into(), "C".into()], t)
            })
            .unwrap();
        // A comes back in the first set, C in the last; B stays removed.
        let mut batch = many.clone();
        batch.insert(3, bare_product("A", "1"));
        batch.push(bare_product("C", "1"));
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
}
