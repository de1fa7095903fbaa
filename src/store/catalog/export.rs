//! What each channel has not taken yet (catalog revisions newer than the
//! one it accepted, leaving out what it quarantined), its verdicts on what
//! was sent, and the product as it last accepted it (`exported_doc`).

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::Serialize;

use super::{after, limit};
use crate::catalog::Product;
use crate::connector::PlatformIds;
use crate::store::sql::params;
use crate::store::{Millis, Result, Tx, count_from_sql};

/// A catalog product to send to a channel, with the revision being sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingExport {
    /// The whole product, with its stock.
    pub product: Product,
    pub revision: i64,
    /// The ids the store holds for it on the channel.
    pub known: PlatformIds,
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
    pub handle: String,
    /// The catalog revision that was sent (from [`PendingExport::revision`]).
    pub revision: i64,
    pub status: ExportStatus,
    pub error: Option<String>,
    /// On success: the product as the channel now holds it (what was sent,
    /// less what it left out), kept as the channel's `exported_doc`.
    pub accepted: Option<Product>,
    /// Ids the channel gave, kept whatever the status (the platform made
    /// those things).
    pub ids: PlatformIds,
}

/// Products `?1` (a channel) has not taken yet, leaving out quarantined
/// ones: a revision rejected `?2` runs in a row (`?2` = 0: no quarantine).
/// `?2` is first compared with a BIGINT column, so PostgreSQL types it so.
const PENDING_FROM: &str = "FROM products p \
     LEFT JOIN exports e ON e.channel = ?1 AND e.handle = p.handle \
     WHERE (e.exported_revision IS NULL OR e.exported_revision < p.revision) \
     AND (coalesce(e.rejections, 0) < ?2 OR ?2 = 0 \
     OR e.rejected_revision IS NULL OR e.rejected_revision <> p.revision)";

impl Tx<'_> {
    /// Catalog products whose revision was never exported to `channel`
    /// successfully, ordered by handle, after `after_handle`, at most
    /// `limit`, with the ids the store holds for them there. Products whose
    /// last export failed stay pending.
    pub fn pending_exports(
        &self,
        channel: &str,
        after_handle: Option<&str>,
        limit_rows: usize,
        quarantine_after: u32,
    ) -> Result<Vec<PendingExport>> {
        let sql = format!(
            "SELECT p.handle, p.doc, p.revision {PENDING_FROM} AND p.handle > ?3 \
             ORDER BY p.handle LIMIT ?4"
        );
        let args = params![
            channel,
            quarantine_after,
            after(after_handle),
            limit(limit_rows)
        ];
        let mut docs = Vec::new();
        let mut revisions = Vec::new();
        self.db.query_each(&sql, args, &mut |r| {
            docs.push((r.get(0)?, r.get(1)?));
            revisions.push(r.get(2)?);
            Ok(())
        })?;
        let products = self.products_from_docs(docs)?;
        let known = self.known_ids_of(channel, &products)?;
        Ok(products
            .into_iter()
            .zip(revisions)
            .zip(known)
            .map(|((product, revision), known)| PendingExport {
                product,
                revision,
                known,
            })
            .collect())
    }

    /// How many catalog products [`Tx::pending_exports`] would return in total.
    pub fn count_pending_exports(&self, channel: &str, quarantine_after: u32) -> Result<u64> {
        let sql = format!("SELECT count(*) {PENDING_FROM}");
        let n: i64 = self
            .db
            .query_one(&sql, params![channel, quarantine_after], |r| r.get(0))?;
        Ok(count_from_sql(n))
    }

    /// How many products `channel` holds from this catalog (exported and
    /// not yet deleted there), removed ones included.
    pub fn count_exported(&self, channel: &str) -> Result<u64> {
        let n: i64 = self.db.query_one(
            "SELECT count(*) FROM exports WHERE channel = ?1 AND exported_revision IS NOT NULL",
            params![channel],
            |r| r.get(0),
        )?;
        Ok(count_from_sql(n))
    }

    /// Records a channel's verdicts on an exported batch. Success (created,
    /// updated, unchanged) marks that revision exported, keeps the product
    /// as accepted and the variants as held, and clears the error; `Error`
    /// keeps the exported revision (so the product stays pending) and
    /// stores the error. Ids are kept either way.
    pub fn record_export_results(
        &self,
        channel: &str,
        results: &[ExportResult],
        at: Timestamp,
    ) -> Result<()> {
        for result in results {
            self.record_ids(channel, &result.ids)?;
            match (&result.status, &result.accepted) {
                (ExportStatus::Error, _) | (_, None) => {
                    let error = result
                        .error
                        .as_deref()
                        .unwrap_or("the channel gave no reason");
                    self.db.execute_deferred(
                        "INSERT INTO exports (channel, handle, exported_revision, last_status, \
                         last_error, attempted_at, rejections, rejected_revision) \
                         VALUES (?1, ?2, NULL, 'error', ?3, ?4, 1, ?5) \
                         ON CONFLICT (channel, handle) DO UPDATE SET last_status = 'error', \
                         last_error = excluded.last_error, attempted_at = excluded.attempted_at, \
                         rejections = CASE WHEN exports.rejected_revision = excluded.rejected_revision \
                             THEN exports.rejections + 1 ELSE 1 END, \
                         rejected_revision = excluded.rejected_revision",
                        params![channel, result.handle, error, Millis(at), result.revision],
                    )?;
                }
                (status, Some(accepted)) => {
                    // The exported revision never goes back: a late success
                    // for an older revision keeps the newer one (and its doc).
                    self.db.execute_deferred(
                        "INSERT INTO exports (channel, handle, exported_revision, exported_doc, \
                         last_status, last_error, attempted_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6) \
                         ON CONFLICT (channel, handle) DO UPDATE SET \
                         exported_doc = CASE WHEN exports.exported_revision > excluded.exported_revision \
                             THEN exports.exported_doc ELSE excluded.exported_doc END, \
                         exported_revision = CASE \
                             WHEN exports.exported_revision IS NULL \
                               OR exports.exported_revision < excluded.exported_revision \
                             THEN excluded.exported_revision ELSE exports.exported_revision END, \
                         last_status = excluded.last_status, last_error = NULL, \
                         attempted_at = excluded.attempted_at, \
                         rejections = 0, rejected_revision = NULL",
                        params![
                            channel,
                            result.handle,
                            result.revision,
                            accepted.to_json(),
                            status.as_str(),
                            Millis(at)
                        ],
                    )?;
                    self.mark_held(channel, accepted.skus())?;
                }
            }
        }
        Ok(())
    }

    /// The product as `channel` last accepted it.
    pub fn exported_product(&self, channel: &str, handle: &str) -> Result<Option<Product>> {
        let doc: Option<Option<String>> = self.db.query_opt(
            "SELECT exported_doc FROM exports WHERE channel = ?1 AND handle = ?2",
            params![channel, handle],
            |r| r.get(0),
        )?;
        match doc.flatten() {
            Some(doc) => Ok(Some(super::product_from_doc(handle, &doc)?)),
            None => Ok(None),
        }
    }

    /// The last error of each product of `channel` that has one, by handle.
    pub fn export_errors(&self, channel: &str) -> Result<Vec<(String, String)>> {
        Ok(self.db.query(
            "SELECT handle, last_error FROM exports \
             WHERE channel = ?1 AND last_error IS NOT NULL ORDER BY handle",
            params![channel],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
