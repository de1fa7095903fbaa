//! What export-stock has sent each channel (`stock_sent`: the level the
//! channel last accepted per SKU and catalog location, and the value it
//! keeps refusing), and when it last reconciled (`stock_reconciles`).
//!
//! The levels owed to a channel are found in SQL, a page at a time by
//! keyset, so a run over a large catalog holds one page in memory: the
//! available value is computed beside each stored level with the channel's
//! buffer and cap, and only those that differ from what was sent (and are
//! not in quarantine) come back.

use jiff::Timestamp;
use serde::Serialize;

use super::placeholders;
use crate::catalog::StockPolicy;
use crate::store::sql::{ToValue, params};
use crate::store::{Millis, Result, Tx, count_from_sql};

/// A level a channel is owed: what it may sell now, and what it last took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwedLevel {
    pub sku: String,
    /// The catalog's location name.
    pub location: String,
    pub available: i64,
    pub last_sent: Option<i64>,
}

/// What a channel said to one level sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SentVerdict {
    /// It holds the value now.
    Accepted,
    /// It refused it, saying why: retried, then quarantined.
    Refused(String),
}

/// One level as sent, and the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentLevel {
    pub sku: String,
    pub location: String,
    pub value: i64,
    pub verdict: SentVerdict,
}

/// A level the tool has sent a channel, as the reconcile compares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentValue {
    pub sku: String,
    pub location: String,
    pub sent: i64,
}

/// Where one SKU's level at one location stands with one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelStock {
    pub channel: String,
    pub location: String,
    /// What the channel last accepted.
    pub sent: Option<i64>,
    #[serde(serialize_with = "crate::store::state::opt_rfc3339")]
    pub sent_at: Option<Timestamp>,
    /// Consecutive refusals of the value it refuses now, and why.
    pub rejections: u32,
    pub last_error: Option<String>,
}

/// The available value of `stock_levels l` under `?2` (buffer) and `?3`
/// (cap), as [`crate::catalog::stock::available`] computes it. `on_hand`
/// and `reserved` are never negative (stock load refuses that), so their
/// difference cannot overflow, and the buffer is taken off only from a
/// larger difference.
const AVAILABLE: &str = "CASE WHEN l.on_hand - l.reserved > ?2 \
     THEN CASE WHEN l.on_hand - l.reserved - ?2 > ?3 THEN ?3 ELSE l.on_hand - l.reserved - ?2 END \
     ELSE 0 END";

impl Tx<'_> {
    /// Up to `limit` levels at catalog `location` that channel `channel`
    /// is owed (never sent, or whose available value moved since the last
    /// accepted one), after SKU `after`, by SKU. A value the channel
    /// refused `quarantine_after` times in a row (0: never) is left out
    /// until it changes.
    pub fn owed_stock(
        &self,
        channel: &str,
        location: &str,
        policy: StockPolicy,
        quarantine_after: u32,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OwedLevel>> {
        let cap = policy.max_listed.unwrap_or(i64::MAX).max(0);
        // 0 (never) as a count no level reaches, so PostgreSQL sees one
        // comparison with a BIGINT column and types the parameter so.
        let quarantine = match quarantine_after {
            0 => i64::MAX,
            n => i64::from(n),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = after.unwrap_or("");
        let sql = format!(
            "SELECT sku, location, available, sent FROM (\
               SELECT l.sku AS sku, l.location AS location, {AVAILABLE} AS available, \
               s.sent AS sent, s.rejections AS rejections, s.rejected_value AS rejected_value \
               FROM stock_levels l LEFT JOIN stock_sent s \
               ON s.channel = ?1 AND s.sku = l.sku AND s.location = l.location \
               WHERE l.location = ?4 AND l.sku > ?5) owed \
             WHERE (sent IS NULL OR sent <> available) \
             AND (rejections IS NULL OR rejections < ?6 OR rejected_value IS NULL \
                  OR rejected_value <> available) \
             ORDER BY sku LIMIT ?7"
        );
        let args: [&dyn ToValue; 7] = [
            &channel,
            &policy.buffer.max(0),
            &cap,
            &location,
            &after,
            &quarantine,
            &limit,
        ];
        Ok(self.db.query(&sql, &args, |r| {
            Ok(OwedLevel {
                sku: r.get(0)?,
                location: r.get(1)?,
                available: r.get(2)?,
                last_sent: r.get(3)?,
            })
        })?)
    }

    /// Records what the channel said to `levels`: an accepted value is the
    /// new last sent (and clears refusals); a refused one counts a
    /// rejection of that value (a new value starts again at 1).
    pub fn record_stock_sent(
        &self,
        channel: &str,
        levels: &[SentLevel],
        at: Timestamp,
    ) -> Result<()> {
        for level in levels {
            match &level.verdict {
                SentVerdict::Accepted => self.db.execute_deferred(
                    "INSERT INTO stock_sent (channel, sku, location, sent, sent_at, rejections) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 0) ON CONFLICT (channel, sku, location) DO UPDATE \
                     SET sent = excluded.sent, sent_at = excluded.sent_at, rejections = 0, \
                     rejected_value = NULL, last_error = NULL",
                    params![channel, level.sku, level.location, level.value, Millis(at)],
                )?,
                SentVerdict::Refused(why) => self.db.execute_deferred(
                    "INSERT INTO stock_sent (channel, sku, location, rejected_value, rejections, last_error) \
                     VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT (channel, sku, location) DO UPDATE \
                     SET rejections = CASE WHEN stock_sent.rejected_value = excluded.rejected_value \
                     THEN stock_sent.rejections + 1 ELSE 1 END, \
                     rejected_value = excluded.rejected_value, last_error = excluded.last_error",
                    params![channel, level.sku, level.location, level.value, why],
                )?,
            }
        }
        Ok(())
    }

    /// Up to `limit` SKUs after `after` that `channel` holds a sent level
    /// of at one of `locations`, by SKU: what a reconcile reads back.
    pub fn stock_sent_skus(
        &self,
        channel: &str,
        locations: &[String],
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut skus: Vec<String> = Vec::new();
        // One location at a time keeps the query's shape fixed; the few
        // locations a channel maps are merged by SKU here.
        for location in locations {
            let page: Vec<String> = self.db.query(
                "SELECT s.sku FROM stock_sent s JOIN stock_levels l \
                 ON l.sku = s.sku AND l.location = s.location \
                 WHERE s.channel = ?1 AND s.location = ?2 AND s.sku > ?3 AND s.sent IS NOT NULL \
                 ORDER BY s.sku LIMIT ?4",
                params![channel, location, after.unwrap_or(""), limit],
                |r| r.get(0),
            )?;
            skus.extend(page);
        }
        skus.sort();
        skus.dedup();
        skus.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(skus)
    }

    /// The sent levels of `skus` on `channel` at `locations`.
    pub fn stock_sent_values(
        &self,
        channel: &str,
        locations: &[String],
        skus: &[&str],
    ) -> Result<Vec<SentValue>> {
        let sql = format!(
            "SELECT sku, location, sent FROM stock_sent WHERE channel = ?1 \
             AND sent IS NOT NULL AND sku IN ({})",
            placeholders(2)
        );
        let mut values = Vec::new();
        self.query_sets(&sql, &[&channel], skus, &mut |r| {
            let location: String = r.get(1)?;
            if locations.contains(&location) {
                values.push(SentValue {
                    sku: r.get(0)?,
                    location,
                    sent: r.get(2)?,
                });
            }
            Ok(())
        })?;
        values.sort_by(|a, b| (&a.sku, &a.location).cmp(&(&b.sku, &b.location)));
        Ok(values)
    }

    /// Takes the channel's own value as what it was last sent, for levels
    /// the reconcile found drifted: the next pass sees them owed and sends
    /// the right value again.
    pub fn note_stock_drift(&self, channel: &str, drifted: &[SentValue]) -> Result<()> {
        for level in drifted {
            self.db.execute_deferred(
                "UPDATE stock_sent SET sent = ?4 WHERE channel = ?1 AND sku = ?2 AND location = ?3",
                params![channel, level.sku, level.location, level.sent],
            )?;
        }
        Ok(())
    }

    /// When export-stock last reconciled `channel`.
    pub fn last_stock_reconcile(&self, channel: &str) -> Result<Option<Timestamp>> {
        let at: Option<Millis> = self.db.query_opt(
            "SELECT reconciled_at FROM stock_reconciles WHERE channel = ?1",
            params![channel],
            |r| r.get(0),
        )?;
        Ok(at.map(|m| m.0))
    }

    pub fn set_stock_reconciled(&self, channel: &str, at: Timestamp) -> Result<()> {
        self.db.execute(
            "INSERT INTO stock_reconciles (channel, reconciled_at) VALUES (?1, ?2) \
             ON CONFLICT (channel) DO UPDATE SET reconciled_at = excluded.reconciled_at",
            params![channel, Millis(at)],
        )?;
        Ok(())
    }

    /// Levels of `channel` whose current refused value has been refused
    /// `quarantine_after` times in a row or more (0: none are).
    pub fn count_stock_quarantined(&self, channel: &str, quarantine_after: u32) -> Result<u64> {
        if quarantine_after == 0 {
            return Ok(0);
        }
        let n: i64 = self.db.query_one(
            "SELECT count(*) FROM stock_sent WHERE channel = ?1 AND rejections >= ?2",
            params![channel, i64::from(quarantine_after)],
            |r| r.get(0),
        )?;
        Ok(count_from_sql(n))
    }

    /// Every channel's sent level of `sku`, by channel and location.
    pub fn stock_sent_of(&self, sku: &str) -> Result<Vec<ChannelStock>> {
        Ok(self.db.query(
            "SELECT channel, location, sent, sent_at, rejections, last_error FROM stock_sent \
             WHERE sku = ?1 ORDER BY channel, location",
            params![sku],
            |r| {
                Ok(ChannelStock {
                    channel: r.get(0)?,
                    location: r.get(1)?,
                    sent: r.get(2)?,
                    sent_at: r.get::<_, Option<Millis>>(3)?.map(|m| m.0),
                    rejections: r.get(4)?,
                    last_error: r.get(5)?,
                })
            },
        )?)
    }
}

#[cfg(test)]
#[path = "stock_sent_tests.rs"]
mod tests;
