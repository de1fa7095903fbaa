//! Stock per SKU and location as `stock load` writes it (`stock_levels`:
//! on hand and reserved), and the bookkeeping of a load: the levels a file
//! has given so far, in a scratch table, so a level given twice is named and
//! `--full` can zero the levels the file leaves out, with memory flat.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use jiff::Timestamp;
use serde::Serialize;

use super::placeholders;
use crate::catalog::StockLevel;
use crate::store::sql::params;
use crate::store::{Millis, Result, Tx, count_from_sql, count_to_sql};

/// The levels a `stock load` has met so far, with their lines.
const STOCK_SEEN: &str = "scratch_stock_seen";

/// What a stock load did, level by level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StockCounts {
    /// Levels the store did not have.
    pub created: u64,
    /// Levels whose on hand or reserved changed.
    pub updated: u64,
    /// Levels already as given.
    pub unchanged: u64,
    /// Levels whose `updated_at` is older than the stored level's: a late
    /// file never undoes a newer count.
    pub stale: u64,
    /// `--full`: stored levels the file did not list, set to 0.
    pub zeroed: u64,
}

impl StockCounts {
    /// Levels the file gave.
    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.stale
    }
}

impl std::ops::AddAssign for StockCounts {
    fn add_assign(&mut self, other: Self) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.stale += other.stale;
        self.zeroed += other.zeroed;
    }
}

/// A level to write, and when it was counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockUpdate {
    pub level: StockLevel,
    pub counted_at: Timestamp,
    /// The file gave `counted_at`: an older one than the stored level's
    /// leaves the level alone. The load's own time never does (a clock
    /// that stepped back must not freeze a level).
    pub dated: bool,
}

/// A stored level with when it was counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredLevel {
    #[serde(flatten)]
    pub level: StockLevel,
    pub updated_at: Timestamp,
}

/// Stored levels of up to [`super::SET_SIZE`] SKUs (`?1...`).
static LEVELS_OF_SKUS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT sku, location, on_hand, reserved, updated_at FROM stock_levels \
         WHERE sku IN ({}) ORDER BY sku, location",
        placeholders(1)
    )
});

/// Catalog SKUs among up to [`super::SET_SIZE`] SKUs (`?1...`).
static KNOWN_SKUS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT sku FROM variants WHERE sku IN ({})",
        placeholders(1)
    )
});

impl Tx<'_> {
    /// Starts a `stock load` in this transaction: from now on
    /// [`Tx::first_stock_line`] remembers each level's line.
    pub fn begin_stock_load(&self) -> Result<()> {
        self.db.engine().scratch_table(
            STOCK_SEEN,
            "sku TEXT NOT NULL, location TEXT NOT NULL, line BIGINT NOT NULL, \
             PRIMARY KEY (sku, location)",
        )?;
        Ok(())
    }

    /// Remembers that the level of `sku` at `location` is on `line` of the
    /// file being loaded; returns the line it was already on, if any.
    pub fn first_stock_line(&self, sku: &str, location: &str, line: u64) -> Result<Option<u64>> {
        let inserted = self.db.execute(
            "INSERT INTO scratch_stock_seen (sku, location, line) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
            params![sku, location, count_to_sql(line)],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        let first: i64 = self.db.query_one(
            "SELECT line FROM scratch_stock_seen WHERE sku = ?1 AND location = ?2",
            params![sku, location],
            |r| r.get(0),
        )?;
        Ok(Some(count_from_sql(first)))
    }

    /// Those of `skus` that no catalog variant has.
    pub fn skus_not_in_catalog(&self, skus: &[&str]) -> Result<HashSet<String>> {
        let mut missing: HashSet<String> = skus.iter().map(|s| s.to_string()).collect();
        self.query_sets(&KNOWN_SKUS, &[], skus, &mut |r| {
            let known: String = r.get(0)?;
            missing.remove(&known);
            Ok(())
        })?;
        Ok(missing)
    }

    /// The stored levels of `skus`, by SKU then location.
    pub fn stock_levels(&self, skus: &[&str]) -> Result<Vec<StoredLevel>> {
        let mut levels = Vec::new();
        self.query_sets(&LEVELS_OF_SKUS, &[], skus, &mut |r| {
            let updated_at: Millis = r.get(4)?;
            levels.push(StoredLevel {
                level: StockLevel {
                    sku: r.get(0)?,
                    location: r.get(1)?,
                    on_hand: r.get(2)?,
                    reserved: r.get(3)?,
                },
                updated_at: updated_at.0,
            });
            Ok(())
        })?;
        levels.sort_by(|a, b| {
            (&a.level.sku, &a.level.location).cmp(&(&b.level.sku, &b.level.location))
        });
        Ok(levels)
    }

    /// Writes `updates` (SKUs of the catalog, each level once), leaving a
    /// level whose dated update is older than what is stored.
    pub fn write_stock_levels(&self, updates: &[StockUpdate]) -> Result<StockCounts> {
        let skus: Vec<&str> = {
            let unique: HashSet<&str> = updates.iter().map(|u| u.level.sku.as_str()).collect();
            unique.into_iter().collect()
        };
        let stored: HashMap<(String, String), StoredLevel> = self
            .stock_levels(&skus)?
            .into_iter()
            .map(|s| ((s.level.sku.clone(), s.level.location.clone()), s))
            .collect();
        let mut counts = StockCounts::default();
        for update in updates {
            let level = &update.level;
            match stored.get(&(level.sku.clone(), level.location.clone())) {
                None => counts.created += 1,
                Some(old) if update.dated && update.counted_at < old.updated_at => {
                    counts.stale += 1;
                    continue;
                }
                Some(old) if old.level == *level => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.updated += 1,
            }
            self.db.execute_deferred(
                "INSERT INTO stock_levels (sku, location, on_hand, reserved, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (sku, location) DO UPDATE SET \
                 on_hand = excluded.on_hand, reserved = excluded.reserved, \
                 updated_at = excluded.updated_at",
                params![
                    level.sku,
                    level.location,
                    level.on_hand,
                    level.reserved,
                    Millis(update.counted_at)
                ],
            )?;
        }
        Ok(counts)
    }

    /// `stock load --full`: every stored level the file did not list (and
    /// that is not 0 already) is set to 0 on hand, 0 reserved.
    pub fn zero_unlisted_stock(&self, at: Timestamp) -> Result<u64> {
        let zeroed = self.db.execute(
            "UPDATE stock_levels SET on_hand = 0, reserved = 0, updated_at = ?1 \
             WHERE (on_hand <> 0 OR reserved <> 0) AND NOT EXISTS (SELECT 1 FROM \
             scratch_stock_seen s WHERE s.sku = stock_levels.sku \
             AND s.location = stock_levels.location)",
            params![Millis(at)],
        )?;
        Ok(zeroed as u64)
    }

    /// Ends a stock load: forgets the levels seen.
    pub fn end_stock_load(&self) -> Result<()> {
        self.db
            .batch(&format!("DROP TABLE IF EXISTS {STOCK_SEEN}"))?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "stock_tests.rs"]
mod tests;
