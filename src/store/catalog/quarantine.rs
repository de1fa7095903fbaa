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
    pub handle: String,
    /// The product's SKUs (its variants'), in order.
    pub skus: Vec<String>,
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
    /// Quarantined products of one channel (or all), ordered by channel, handle.
    /// `quarantine_after` maps a channel to its threshold (0: never).
    pub fn quarantined(
        &self,
        channel: Option<&str>,
        quarantine_after: &dyn Fn(&str) -> u32,
    ) -> Result<Vec<Quarantined>> {
        // `?1` is compared with the TEXT column first, so PostgreSQL types it so.
        let rows = self.db.query(
            "SELECT e.channel, e.handle, e.rejections, e.last_error, e.attempted_at \
             FROM exports e JOIN products p ON p.handle = e.handle \
             WHERE e.rejections > 0 AND e.rejected_revision = p.revision \
             AND (e.channel = ?1 OR ?1 IS NULL) ORDER BY e.channel, e.handle",
            params![channel],
            |r| {
                Ok(Quarantined {
                    channel: r.get(0)?,
                    handle: r.get(1)?,
                    skus: Vec::new(),
                    rejections: r.get(2)?,
                    error: r.get(3)?,
                    last_attempt: r.get::<_, Millis>(4)?.0,
                })
            },
        )?;
        let mut quarantined: Vec<Quarantined> = rows
            .into_iter()
            .filter(|q| {
                let limit = quarantine_after(&q.channel);
                limit > 0 && q.rejections >= limit
            })
            .collect();
        for q in &mut quarantined {
            q.skus = self.db.query(
                "SELECT sku FROM variants WHERE handle = ?1 ORDER BY position",
                params![q.handle],
                |r| r.get(0),
            )?;
        }
        Ok(quarantined)
    }

    /// Takes product `handle` out of quarantine (on `channel`, or on every
    /// channel): it is sent again on the next export. Returns how many were
    /// released.
    pub fn release_quarantine(&self, handle: &str, channel: Option<&str>) -> Result<u64> {
        let n = self.db.execute(
            "UPDATE exports SET rejections = 0, rejected_revision = NULL \
             WHERE handle = ?1 AND (channel = ?2 OR ?2 IS NULL) AND rejections > 0",
            params![handle, channel],
        )?;
        Ok(n as u64)
    }

    /// Every channel's export state for product `handle`, ordered by channel.
    pub fn export_states(
        &self,
        handle: &str,
        quarantine_after: &dyn Fn(&str) -> u32,
    ) -> Result<Vec<ExportState>> {
        // The flags are CASE integers: a bare comparison is a boolean in
        // PostgreSQL, and NULL in both engines once the product has left
        // the catalog (no `c.revision`).
        let rows = self.db.query(
            "SELECT e.channel, e.exported_revision, e.last_status, e.last_error, e.rejections, \
             CASE WHEN e.rejected_revision = c.revision THEN 1 ELSE 0 END, \
             CASE WHEN r.handle IS NOT NULL THEN 1 ELSE 0 END \
             FROM exports e LEFT JOIN products c ON c.handle = e.handle \
             LEFT JOIN removed_products r ON r.handle = e.handle \
             WHERE e.handle = ?1 ORDER BY e.channel",
            params![handle],
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
#[path = "quarantine_tests.rs"]
mod tests;
