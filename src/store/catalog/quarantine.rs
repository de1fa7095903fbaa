//! Products a channel keeps rejecting: after `quarantine-after` rejections
//! of one revision in a row it is not sent again until its content changes
//! or the operator releases it; and where one product stands with each
//! channel's export.

use jiff::Timestamp;
use serde::Serialize;

use crate::store::sql::params;
use crate::store::{Millis, Result, Tx};

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::test_data::*;
    use crate::store::test_util::*;

    #[test]
    fn export_states_of_a_removed_product_that_was_rejected_show_the_pending_deletion() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| {
                tx.upsert_catalog(&[bare_product("A", "1")])?;
                tx.record_export_results("shop", &[result("A", 1, None)], t)?;
                tx.upsert_catalog(&[bare_product("A", "2")])?;
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
    fn three_rejections_of_one_revision_quarantine_it_until_it_changes_or_is_released() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        store
            .write(|tx| tx.upsert_catalog(&[bare_product("A", "1")]))
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
            .write(|tx| tx.upsert_catalog(&[bare_product("A", "2")]))
            .unwrap();
        assert_eq!(pending(), 1);
        assert!(
            store
                .read(|tx| tx.quarantined(None, &q))
                .unwrap()
                .is_empty()
        );
    }
}
