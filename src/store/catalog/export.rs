//! What each channel has not taken yet (catalog revisions newer than the
//! one it accepted, leaving out what it quarantined) and its verdicts on
//! what was sent.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::Serialize;

use super::{after, limit, product_from_row};
use crate::product::Product;
use crate::store::sql::params;
use crate::store::{Millis, Result, Tx, count_from_sql};

/// A catalog product to send to a channel, with the revision being sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingExport {
    /// Catalog content; `id` is that channel's listing id when known.
    pub product: Product,
    pub revision: i64,
}

/// A channel's per-item verdict on an exported product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Created,
    Updated,
    Unchanged,
    Error,
}

impl ExportStatus {
    /// The protocol's name: `created`, `updated`, `unchanged`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Created => "created",
            ExportStatus::Updated => "updated",
            ExportStatus::Unchanged => "unchanged",
            ExportStatus::Error => "error",
        }
    }
}

impl fmt::Display for ExportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export status `{0}`: expected created, updated, unchanged or error")]
pub struct UnknownExportStatus(pub String);

impl FromStr for ExportStatus {
    type Err = UnknownExportStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ExportStatus::Created,
            ExportStatus::Updated,
            ExportStatus::Unchanged,
            ExportStatus::Error,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| UnknownExportStatus(s.to_string()))
    }
}

/// The outcome of exporting one revision of one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportResult {
    pub sku: String,
    /// The catalog revision that was sent (from [`PendingExport::revision`]).
    pub revision: i64,
    pub status: ExportStatus,
    pub error: Option<String>,
}

/// Catalog rows `?1` (a channel) has not taken yet, leaving out quarantined
/// ones: a revision rejected `?2` runs in a row (`?2` = 0: no quarantine).
/// `?2` is first compared with a BIGINT column, so PostgreSQL types it so.
const PENDING_FROM: &str = "FROM catalog c \
     LEFT JOIN exports e ON e.channel = ?1 AND e.sku = c.sku \
     WHERE (e.exported_revision IS NULL OR e.exported_revision < c.revision) \
     AND (coalesce(e.rejections, 0) < ?2 OR ?2 = 0 \
     OR e.rejected_revision IS NULL OR e.rejected_revision <> c.revision)";

impl Tx<'_> {
    /// Catalog products whose revision was never exported to `channel`
    /// successfully, ordered by sku, skus after `after_sku`, at most `limit`.
    /// Products whose last export failed stay pending.
    pub fn pending_exports(
        &self,
        channel: &str,
        after_sku: Option<&str>,
        limit_rows: usize,
        quarantine_after: u32,
    ) -> Result<Vec<PendingExport>> {
        let sql = format!(
            "SELECT c.sku, c.title, c.price, c.currency, c.quantity, c.attributes, c.updated_at, \
             (SELECT l.listing_id FROM listings l WHERE l.channel = ?1 AND l.sku = c.sku), \
             c.revision {PENDING_FROM} AND c.sku > ?3 ORDER BY c.sku LIMIT ?4"
        );
        let args = params![
            channel,
            quarantine_after,
            after(after_sku),
            limit(limit_rows)
        ];
        let rows = self.db.query(&sql, args, |r| {
            Ok(PendingExport {
                product: product_from_row(r, 0)?,
                revision: r.get(8)?,
            })
        })?;
        Ok(rows)
    }

    /// How many catalog products [`Tx::pending_exports`] would return in total.
    pub fn count_pending_exports(&self, channel: &str, quarantine_after: u32) -> Result<u64> {
        let sql = format!("SELECT count(*) {PENDING_FROM}");
        let n: i64 = self
            .db
            .query_one(&sql, params![channel, quarantine_after], |r| r.get(0))?;
        Ok(count_from_sql(n))
    }

    /// Records a channel's verdicts on an exported batch. Success (created,
    /// updated, unchanged) marks that revision exported and clears the error;
    /// `Error` keeps the exported revision (so the product stays pending) and
    /// stores the error.
    pub fn record_export_results(
        &self,
        channel: &str,
        results: &[ExportResult],
        at: Timestamp,
    ) -> Result<()> {
        for result in results {
            match result.status {
                ExportStatus::Error => {
                    let error = result
                        .error
                        .as_deref()
                        .unwrap_or("the channel gave no reason");
                    self.db.execute_deferred(
                        "INSERT INTO exports (channel, sku, exported_revision, last_status, \
                         last_error, attempted_at, rejections, rejected_revision) \
                         VALUES (?1, ?2, NULL, 'error', ?3, ?4, 1, ?5) \
                         ON CONFLICT (channel, sku) DO UPDATE SET last_status = 'error', \
                         last_error = excluded.last_error, attempted_at = excluded.attempted_at, \
                         rejections = CASE WHEN exports.rejected_revision = excluded.rejected_revision \
                             THEN exports.rejections + 1 ELSE 1 END, \
                         rejected_revision = excluded.rejected_revision",
                        params![channel, result.sku, error, Millis(at), result.revision],
                    )?;
                }
                status => {
                    // The exported revision never goes back: a late success
                    // for an older revision keeps the newer one.
                    self.db.execute_deferred(
                        "INSERT INTO exports (channel, sku, exported_revision, last_status, \
                         last_error, attempted_at) VALUES (?1, ?2, ?3, ?4, NULL, ?5) \
                         ON CONFLICT (channel, sku) DO UPDATE SET \
                         exported_revision = CASE \
                             WHEN coalesce(exports.exported_revision, 0) > excluded.exported_revision \
                             THEN coalesce(exports.exported_revision, 0) \
                             ELSE excluded.exported_revision END, \
                         last_status = excluded.last_status, last_error = NULL, \
                         attempted_at = excluded.attempted_at, rejections = 0, \
                         rejected_revision = NULL",
                        params![
                            channel,
                            result.sku,
                            result.revision,
                            status.as_str(),
                            Millis(at)
                        ],
                    )?;
                }
            }
        }
        Ok(())
    }

    /// The last export error per sku for `channel`, ordered by sku.
    pub fn export_errors(&self, channel: &str) -> Result<Vec<(String, String)>> {
        let rows = self.db.query(
            "SELECT sku, last_error FROM exports \
             WHERE channel = ?1 AND last_error IS NOT NULL ORDER BY sku",
            params![channel],
            |r| Ok((r.get(0)?, r.get(1)?)),
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
    fn pending_exports_respect_revisions_and_errors() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let all: Vec<_> = ["A", "B", "C"].iter().map(|s| product(s, "1.00")).collect();
        store.write(|tx| tx.upsert_catalog(&all)).unwrap();
        store
            .write(|tx| {
                tx.upsert_listings(
                    "shop",
                    &[Product {
                        id: Some("shop-b".into()),
                        ..product("B", "1.00")
                    }],
                    t,
                )
            })
            .unwrap();
        let pending = |ch: &str| {
            store
                .read(|tx| tx.pending_exports(ch, None, 100, 3))
                .unwrap()
                .into_iter()
                .map(|p| (p.product.sku, p.revision))
                .collect::<Vec<_>>()
        };
        let everything = vec![("A".to_string(), 1), ("B".into(), 1), ("C".into(), 1)];
        assert_eq!(pending("shop"), everything);
        let b = store
            .read(|tx| tx.pending_exports("shop", Some("A"), 1, 3))
            .unwrap();
        assert_eq!(b[0].product.sku, "B");
        assert_eq!(
            b[0].product.id.as_deref(),
            Some("shop-b"),
            "the channel's own id"
        );

        let result = |sku: &str, revision, status, error: Option<&str>| ExportResult {
            sku: sku.into(),
            revision,
            status,
            error: error.map(Into::into),
        };
        store
            .write(|tx| {
                tx.record_export_results(
                    "shop",
                    &[
                        result("A", 1, ExportStatus::Created, None),
                        result("B", 1, ExportStatus::Unchanged, None),
                        result("C", 1, ExportStatus::Error, Some("price too low")),
                    ],
                    t,
                )
            })
            .unwrap();
        assert_eq!(pending("shop"), [("C".to_string(), 1)]);
        assert_eq!(
            store
                .read(|tx| tx.count_pending_exports("shop", 3))
                .unwrap(),
            1
        );
        assert_eq!(
            store.read(|tx| tx.export_errors("shop")).unwrap(),
            [("C".to_string(), "price too low".to_string())]
        );
        // Another channel has its own progress.
        assert_eq!(pending("web"), everything);

        // A content change makes A pending again at revision 2; an unchanged
        // re-upsert of B does not.
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "2.00"), product("B", "1.00")]))
            .unwrap();
        assert_eq!(pending("shop"), [("A".to_string(), 2), ("C".into(), 1)]);

        // C's error clears when it goes through; an old revision's late success
        // does not undo a newer one.
        store
            .write(|tx| {
                tx.record_export_results(
                    "shop",
                    &[
                        result("C", 1, ExportStatus::Updated, None),
                        result("A", 2, ExportStatus::Updated, None),
                        result("A", 1, ExportStatus::Updated, None),
                    ],
                    t,
                )
            })
            .unwrap();
        assert!(pending("shop").is_empty());
        assert!(
            store
                .read(|tx| tx.export_errors("shop"))
                .unwrap()
                .is_empty()
        );
        // A failed re-export keeps the last exported revision.
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "3.00")]))
            .unwrap();
        store
            .write(|tx| {
                tx.record_export_results("shop", &[result("A", 3, ExportStatus::Error, None)], t)
            })
            .unwrap();
        assert_eq!(pending("shop"), [("A".to_string(), 3)]);
    }

    #[test]
    fn export_status_names_round_trip() {
        for s in ["created", "updated", "unchanged", "error"] {
            assert_eq!(s.parse::<ExportStatus>().unwrap().as_str(), s);
        }
        assert!("ok".parse::<ExportStatus>().is_err());
    }
}
