//! The product catalog (with content revisions), each channel's listings,
//! import progress (cursor and high water) and export progress (the revision
//! last exported to each channel). A price is kept as decimal text with its
//! currency's minor units (`19.90`); equal values are equal content whatever
//! their spelling, so rows written as `19.9` by an earlier version are not
//! changes (no new revision, nothing re-exported).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::Serialize;

use super::db::{DbError, DbResult, Row, ToValue, params};
use super::removal::Removed;
use super::{Millis, Result, StoreError, Tx, count_from_sql, count_to_sql, millis};
use crate::price::{Price, PriceError};
use crate::product::Product;

/// A stored row whose price an earlier version took but the price rule
/// refuses (a negative price, more decimals than the currency has).
#[derive(Debug, thiserror::Error)]
#[error(
    "stored product `{sku}`: {source} (stored by an earlier version, which did not check prices: load or import it again with a valid price, or remove it)"
)]
struct StoredPriceError {
    sku: String,
    source: PriceError,
}

/// What an upsert did, product by product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    /// New rows.
    pub created: u64,
    /// Rows whose content (title, price, currency, quantity, attributes) changed.
    pub updated: u64,
    /// Rows whose content was already as given.
    pub unchanged: u64,
}

impl UpsertCounts {
    /// Products seen in total.
    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: Self) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

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

/// One channel's copy of a product, as last seen there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub channel: String,
    /// Last-seen values; `id` is the channel's own id.
    pub product: Product,
    pub seen_at: Timestamp,
}

/// Attribute maps are stored as JSON text. A `BTreeMap` serialises with sorted
/// keys, so equal maps give equal text and text comparison finds changes.
fn attributes_json(attributes: &BTreeMap<String, String>) -> String {
    serde_json::to_string(attributes).expect("a string map always serialises")
}

fn attributes_of(products: &[Product]) -> Vec<String> {
    products
        .iter()
        .map(|p| attributes_json(&p.attributes))
        .collect()
}

/// Columns `sku, title, price, currency, quantity, attributes, updated_at, id`
/// starting at `first`.
fn product_from_row(r: &Row, first: usize) -> DbResult<Product> {
    let attributes: String = r.get(first + 5)?;
    let attributes = serde_json::from_str(&attributes).map_err(|e| DbError::Convert {
        index: first + 5,
        source: Box::new(e),
    })?;
    let sku: String = r.get(first)?;
    let (amount, currency): (String, String) = (r.get(first + 2)?, r.get(first + 3)?);
    let price = Price::parse(&amount, &currency).map_err(|source| DbError::Convert {
        index: usize::MAX,
        source: Box::new(StoredPriceError {
            sku: crate::output::escape(&sku).into_owned(),
            source,
        }),
    })?;
    Ok(Product {
        sku,
        title: r.get(first + 1)?,
        price,
        quantity: r.get(first + 4)?,
        attributes,
        updated_at: r.get(first + 6)?,
        id: r.get(first + 7)?,
    })
}

/// Stored content, for change detection.
struct Content {
    title: String,
    price: String,
    currency: String,
    quantity: i64,
    attributes: String,
}

impl Content {
    /// Columns `title, price, currency, quantity, attributes` starting at `first`.
    fn from_row(r: &Row, first: usize) -> DbResult<Content> {
        Ok(Content {
            title: r.get(first)?,
            price: r.get(first + 1)?,
            currency: r.get(first + 2)?,
            quantity: r.get(first + 3)?,
            attributes: r.get(first + 4)?,
        })
    }

    fn same_as(&self, p: &Product, attributes: &str) -> bool {
        // By value: `19.9` stored by an earlier version is `19.90`.
        let same_price = self.currency == p.price.currency().code()
            && self
                .price
                .parse::<Decimal>()
                .is_ok_and(|stored| stored == p.price.amount());
        self.title == p.title
            && same_price
            && self.quantity == p.quantity
            && self.attributes == attributes
    }
}

/// `after_sku` as a bound: every stored sku is non-empty (`Product::check`),
/// so `""` means "from the start" and the primary key range still applies.
fn after(after_sku: Option<&str>) -> &str {
    after_sku.unwrap_or("")
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// How many skus the bulk paths (an import page, a chunk of a load) read or
/// write in one statement instead of one statement per sku: each statement
/// is a round trip to PostgreSQL, and a prepare-cache lookup and a bind
/// either way. Fixed, so each such statement is one SQL text prepared once;
/// a shorter set repeats its last sku (see [`padded`]).
pub(super) const SET_SIZE: usize = 100;

/// `?first, ?first+1, ...`: [`SET_SIZE`] parameters.
pub(super) fn placeholders(first: usize) -> String {
    (first..first + SET_SIZE)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `lead` then `set` padded to [`SET_SIZE`] by repeating its last item,
/// which `IN (...)` and `ON CONFLICT DO NOTHING` take once. `set` holds 1 to
/// [`SET_SIZE`] items.
pub(super) fn padded<'a>(
    lead: &[&'a dyn ToValue],
    set: &[&'a dyn ToValue],
) -> Vec<&'a dyn ToValue> {
    debug_assert!(!set.is_empty() && set.len() <= SET_SIZE);
    let mut args = Vec::with_capacity(lead.len() + SET_SIZE);
    args.extend_from_slice(lead);
    args.extend((0..SET_SIZE).map(|i| set[i.min(set.len() - 1)]));
    args
}

/// The stored content of up to [`SET_SIZE`] catalog skus (`?1...`).
static CATALOG_CONTENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT sku, title, price, currency, quantity, attributes, updated_at, id \
         FROM catalog WHERE sku IN ({})",
        placeholders(1)
    )
});

/// The stored content of up to [`SET_SIZE`] skus (`?2...`) of one channel's
/// listings (`?1`).
static LISTING_CONTENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT sku, title, price, currency, quantity, attributes FROM listings \
         WHERE channel = ?1 AND sku IN ({})",
        placeholders(2)
    )
});

/// A catalog row as stored, for [`Tx::upsert_catalog`].
struct Stored {
    content: Content,
    updated_at: String,
    id: Option<String>,
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
    /// Upserts products into the catalog by sku; never deletes. The revision
    /// starts at 1 and goes up only when content changes; `updated_at` and a
    /// given `id` are stored either way (a missing `id` keeps the stored one).
    /// Products failing [`Product::check`] are refused, naming the sku.
    pub fn upsert_catalog(&self, products: &[Product]) -> Result<UpsertCounts> {
        self.upsert_catalog_with(products, &attributes_of(products))
    }

    /// [`Tx::upsert_catalog`] with each product's attributes already as JSON
    /// (`attributes[i]` belongs to `products[i]`), so an import page serialises
    /// them once for both tables.
    fn upsert_catalog_with(
        &self,
        products: &[Product],
        attributes: &[String],
    ) -> Result<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        for (set, attributes) in products.chunks(SET_SIZE).zip(attributes.chunks(SET_SIZE)) {
            counts += self.upsert_catalog_set(set, attributes)?;
        }
        Ok(counts)
    }

    /// [`Tx::upsert_catalog_with`] for at most [`SET_SIZE`] products: one
    /// read for all of them, then at most one write each.
    fn upsert_catalog_set(
        &self,
        products: &[Product],
        attributes: &[String],
    ) -> Result<UpsertCounts> {
        for p in products {
            p.check().map_err(|source| StoreError::InvalidProduct {
                sku: p.sku.clone(),
                source,
            })?;
        }
        let mut counts = UpsertCounts::default();
        let mut stored = self.stored_catalog(products)?;
        let mut seen = HashSet::with_capacity(products.len());
        let mut created = Vec::new();
        for (p, attributes) in products.iter().zip(attributes) {
            // A sku given twice: the second one meets what the first wrote.
            let stored = if seen.insert(p.sku.as_str()) {
                stored.remove(&p.sku)
            } else {
                self.stored_catalog(std::slice::from_ref(p))?.remove(&p.sku)
            };
            let (amount, currency) = (p.price.amount_text(), p.price.currency().code());
            let row = params![
                p.sku,
                p.title,
                amount,
                currency,
                p.quantity,
                attributes,
                p.updated_at,
                p.id
            ];
            match stored {
                None => {
                    self.db.execute_deferred(
                        "INSERT INTO catalog (sku, title, price, currency, quantity, attributes, \
                         updated_at, id, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
                        row,
                    )?;
                    created.push(&p.sku as &dyn ToValue);
                    counts.created += 1;
                }
                Some(s) if s.content.same_as(p, attributes) => {
                    // An unchanged re-import writes nothing at all.
                    if s.updated_at != p.updated_at || (p.id.is_some() && p.id != s.id) {
                        self.db.execute_deferred(
                            "UPDATE catalog SET updated_at = ?2, id = coalesce(?3, id) \
                             WHERE sku = ?1",
                            params![p.sku, p.updated_at, p.id],
                        )?;
                    }
                    counts.unchanged += 1;
                }
                Some(_) => {
                    self.db.execute_deferred(
                        "UPDATE catalog SET title = ?2, price = ?3, currency = ?4, quantity = ?5, \
                         attributes = ?6, updated_at = ?7, id = coalesce(?8, id), \
                         revision = revision + 1 WHERE sku = ?1",
                        row,
                    )?;
                    counts.updated += 1;
                }
            }
        }
        if !created.is_empty() {
            self.revive_removed(&created)?;
        }
        Ok(counts)
    }

    /// The stored rows of `products` (at most [`SET_SIZE`]), by sku.
    fn stored_catalog(&self, products: &[Product]) -> Result<HashMap<String, Stored>> {
        let skus: Vec<&dyn ToValue> = products.iter().map(|p| &p.sku as &dyn ToValue).collect();
        let mut stored = HashMap::with_capacity(products.len());
        self.db
            .query_each(&CATALOG_CONTENT, &padded(&[], &skus), &mut |r| {
                let row = Stored {
                    content: Content::from_row(r, 1)?,
                    updated_at: r.get(6)?,
                    id: r.get(7)?,
                };
                stored.insert(r.get(0)?, row);
                Ok(())
            })?;
        Ok(stored)
    }

    /// The stored listing content of `products` (at most [`SET_SIZE`]) on
    /// `channel`, by sku.
    fn stored_listings(
        &self,
        channel: &str,
        products: &[Product],
    ) -> Result<HashMap<String, Content>> {
        let skus: Vec<&dyn ToValue> = products.iter().map(|p| &p.sku as &dyn ToValue).collect();
        let mut stored = HashMap::with_capacity(products.len());
        self.db
            .query_each(&LISTING_CONTENT, &padded(&[&channel], &skus), &mut |r| {
                stored.insert(r.get(0)?, Content::from_row(r, 1)?);
                Ok(())
            })?;
        Ok(stored)
    }

    /// Starts a `products load` in this transaction: from now on
    /// [`Tx::first_load_line`] remembers each sku's line (in a temp table,
    /// which spills to a file, so memory stays flat for any file size).
    pub fn begin_load(&self) -> Result<()> {
        // WITHOUT ROWID keeps SQLite's table one b-tree (no rowid table next
        // to the key's index); PostgreSQL has no such clause.
        self.db.batch(if self.db.is_postgres() {
            "CREATE TEMP TABLE IF NOT EXISTS load_seen (sku TEXT PRIMARY KEY NOT NULL, \
             line BIGINT NOT NULL); DELETE FROM load_seen;"
        } else {
            "CREATE TEMP TABLE IF NOT EXISTS load_seen (sku TEXT PRIMARY KEY NOT NULL, \
             line BIGINT NOT NULL) WITHOUT ROWID; DELETE FROM load_seen;"
        })?;
        Ok(())
    }

    /// Remembers that `sku` is on `line` of the file being loaded; returns
    /// the line it was already on, if any.
    pub fn first_load_line(&self, sku: &str, line: u64) -> Result<Option<u64>> {
        let inserted = self.db.execute(
            "INSERT INTO load_seen (sku, line) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![sku, count_to_sql(line)],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        let first: i64 = self.db.query_one(
            "SELECT line FROM load_seen WHERE sku = ?1",
            params![sku],
            |r| r.get(0),
        )?;
        Ok(Some(count_from_sql(first)))
    }

    /// Ends a load: forgets the seen skus.
    pub fn end_load(&self) -> Result<()> {
        self.db.execute("DELETE FROM load_seen", params![])?;
        Ok(())
    }

    /// Records what `channel` holds: its ids and last-seen values. Never
    /// touches the catalog. Counts are of listing rows (new, content changed,
    /// same).
    pub fn upsert_listings(
        &self,
        channel: &str,
        products: &[Product],
        seen_at: Timestamp,
    ) -> Result<UpsertCounts> {
        self.upsert_listings_with(channel, products, &attributes_of(products), seen_at, true)
    }

    /// [`Tx::upsert_listings`] with the attributes already as JSON (see
    /// [`Tx::upsert_catalog_with`]). Without `count`, the stored rows are not
    /// read first and the counts stay zero: the master's import reports
    /// catalog counts, so reading its listings back would be wasted work.
    fn upsert_listings_with(
        &self,
        channel: &str,
        products: &[Product],
        attributes: &[String],
        seen_at: Timestamp,
        count: bool,
    ) -> Result<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        for (set, attributes) in products.chunks(SET_SIZE).zip(attributes.chunks(SET_SIZE)) {
            counts += self.upsert_listings_set(channel, set, attributes, seen_at, count)?;
        }
        Ok(counts)
    }

    /// [`Tx::upsert_listings_with`] for at most [`SET_SIZE`] products: one
    /// read for all of them (when counting), then one write each.
    fn upsert_listings_set(
        &self,
        channel: &str,
        products: &[Product],
        attributes: &[String],
        seen_at: Timestamp,
        count: bool,
    ) -> Result<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        let mut stored = if count {
            self.stored_listings(channel, products)?
        } else {
            HashMap::new()
        };
        let mut seen = HashSet::with_capacity(if count { products.len() } else { 0 });
        for (p, attributes) in products.iter().zip(attributes) {
            if count {
                // A sku given twice: the second one meets what the first wrote.
                let stored = if seen.insert(p.sku.as_str()) {
                    stored.remove(&p.sku)
                } else {
                    self.stored_listings(channel, std::slice::from_ref(p))?
                        .remove(&p.sku)
                };
                match stored {
                    None => counts.created += 1,
                    Some(c) if c.same_as(p, attributes) => counts.unchanged += 1,
                    Some(_) => counts.updated += 1,
                }
            }
            self.db.execute_deferred(
                "INSERT INTO listings (channel, sku, listing_id, title, price, currency, quantity, \
                 attributes, updated_at, seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (channel, sku) DO UPDATE SET \
                 listing_id = coalesce(excluded.listing_id, listings.listing_id), \
                 title = excluded.title, price = excluded.price, currency = excluded.currency, \
                 quantity = excluded.quantity, attributes = excluded.attributes, \
                 updated_at = excluded.updated_at, seen_at = excluded.seen_at",
                params![
                    channel,
                    p.sku,
                    p.id,
                    p.title,
                    p.price.amount_text(),
                    p.price.currency().code(),
                    p.quantity,
                    attributes,
                    p.updated_at,
                    Millis(seen_at)
                ],
            )?;
        }
        Ok(counts)
    }

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

    /// Products in the catalog.
    pub fn count_products(&self) -> Result<u64> {
        let n: i64 = self
            .db
            .query_one("SELECT count(*) FROM catalog", params![], |r| r.get(0))?;
        Ok(count_from_sql(n))
    }

    /// Catalog products ordered by sku, skus after `after_sku`, at most `limit`.
    pub fn list_products(
        &self,
        after_sku: Option<&str>,
        limit_rows: usize,
    ) -> Result<Vec<Product>> {
        let rows = self.db.query(
            "SELECT sku, title, price, currency, quantity, attributes, updated_at, id \
             FROM catalog WHERE sku > ?1 ORDER BY sku LIMIT ?2",
            params![after(after_sku), limit(limit_rows)],
            |r| product_from_row(r, 0),
        )?;
        Ok(rows)
    }

    /// One catalog product.
    pub fn product(&self, sku: &str) -> Result<Option<Product>> {
        let product = self.db.query_opt(
            "SELECT sku, title, price, currency, quantity, attributes, updated_at, id \
             FROM catalog WHERE sku = ?1",
            params![sku],
            |r| product_from_row(r, 0),
        )?;
        Ok(product)
    }

    /// The catalog revision of a product (1 when first stored).
    pub fn product_revision(&self, sku: &str) -> Result<Option<i64>> {
        let revision = self.db.query_opt(
            "SELECT revision FROM catalog WHERE sku = ?1",
            params![sku],
            |r| r.get(0),
        )?;
        Ok(revision)
    }

    /// Every channel's listing of `sku`, ordered by channel.
    pub fn listings_for_sku(&self, sku: &str) -> Result<Vec<Listing>> {
        let rows = self.db.query(
            "SELECT channel, sku, title, price, currency, quantity, attributes, updated_at, \
             listing_id, seen_at FROM listings WHERE sku = ?1 ORDER BY channel",
            params![sku],
            |r| {
                Ok(Listing {
                    channel: r.get(0)?,
                    product: product_from_row(r, 1)?,
                    seen_at: r.get::<_, Millis>(9)?.0,
                })
            },
        )?;
        Ok(rows)
    }

    /// Products `channel` is known to hold.
    pub fn listing_count(&self, channel: &str) -> Result<u64> {
        let n: i64 = self.db.query_one(
            "SELECT count(*) FROM listings WHERE channel = ?1",
            params![channel],
            |r| r.get(0),
        )?;
        Ok(count_from_sql(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::*;
    use std::time::Instant;

    fn product(sku: &str, price: &str) -> Product {
        Product {
            sku: sku.to_string(),
            title: format!("Title {sku}"),
            price: Price::parse(price, "EUR").unwrap(),
            quantity: 5,
            attributes: BTreeMap::from([("color".to_string(), "red".to_string())]),
            updated_at: "2026-01-01T00:00:00Z".to_string(),
            id: None,
        }
    }

    fn counts(created: u64, updated: u64, unchanged: u64) -> UpsertCounts {
        UpsertCounts {
            created,
            updated,
            unchanged,
        }
    }

    #[test]
    fn catalog_revision_bumps_only_on_content_change() {
        let (_dir, store) = temp_store();
        let base = product("A", "19.90");
        let c = store
            .write(|tx| tx.upsert_catalog(std::slice::from_ref(&base)))
            .unwrap();
        assert_eq!(c, counts(1, 0, 0));
        let revision = || store.read(|tx| tx.product_revision("A")).unwrap().unwrap();
        assert_eq!(revision(), 1);

        type Edit = fn(&mut Product);
        let cases: &[(&str, Edit, bool)] = &[
            ("same content", |_| {}, false),
            (
                "newer updated_at",
                |p| p.updated_at = "2026-02-01T00:00:00Z".into(),
                false,
            ),
            ("an id", |p| p.id = Some("ch-1".into()), false),
            ("title", |p| p.title = "New".into(), true),
            (
                "the same price spelled differently",
                |p| p.price = Price::parse("19.900", "EUR").unwrap(),
                false,
            ),
            (
                "price",
                |p| p.price = Price::parse("19.91", "EUR").unwrap(),
                true,
            ),
            (
                "currency",
                |p| p.price = Price::parse("19.90", "USD").unwrap(),
                true,
            ),
            ("quantity", |p| p.quantity = 6, true),
            (
                "attribute value",
                |p| {
                    p.attributes.insert("color".into(), "blue".into());
                },
                true,
            ),
            (
                "attribute added",
                |p| {
                    p.attributes.insert("size".into(), "M".into());
                },
                true,
            ),
        ];
        for (what, edit, bumps) in cases {
            // Back to the base content first (that is a change unless already there).
            store
                .write(|tx| tx.upsert_catalog(std::slice::from_ref(&base)))
                .unwrap();
            let before = revision();
            let mut p = base.clone();
            edit(&mut p);
            let c = store.write(|tx| tx.upsert_catalog(&[p.clone()])).unwrap();
            let expected = if *bumps {
                counts(0, 1, 0)
            } else {
                counts(0, 0, 1)
            };
            assert_eq!(c, expected, "{what}");
            assert_eq!(revision(), before + i64::from(*bumps), "{what}");
            let stored = store.read(|tx| tx.product("A")).unwrap().unwrap();
            assert_eq!(stored.price, p.price, "{what}: price stored");
            assert_eq!(stored.updated_at, p.updated_at, "{what}: updated_at stored");
        }
        // An id once given survives updates without one.
        let stored = store.read(|tx| tx.product("A")).unwrap().unwrap();
        assert_eq!(stored.id.as_deref(), Some("ch-1"));
    }

    #[test]
    fn prices_stored_by_an_earlier_version_compare_by_value() {
        let (_dir, store) = temp_store();
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "19.90"), product("B", "1")]))
            .unwrap();
        // Earlier versions kept the text as loaded: `19.9`, `1.000`.
        store
            .write(|tx| {
                tx.db.execute(
                    "UPDATE catalog SET price = CASE sku WHEN 'A' THEN '19.9' ELSE '1.000' END",
                    &[],
                )?;
                Ok(())
            })
            .unwrap();
        let c = store
            .write(|tx| tx.upsert_catalog(&[product("A", "19.90"), product("B", "1.00")]))
            .unwrap();
        assert_eq!(c, counts(0, 0, 2), "the same values: not a change");
        assert_eq!(
            store.read(|tx| tx.product_revision("A")).unwrap(),
            Some(1),
            "no new revision, so nothing is exported again"
        );
        assert_eq!(
            store.read(|tx| tx.product("A")).unwrap().unwrap().price,
            Price::parse("19.90", "EUR").unwrap()
        );
    }

    #[test]
    fn a_stored_price_the_rule_refuses_is_named_when_read() {
        let (_dir, store) = temp_store();
        store
            .write(|tx| tx.upsert_catalog(&[product("NEG", "1.00")]))
            .unwrap();
        store
            .write(|tx| {
                tx.db
                    .execute("UPDATE catalog SET price = '-1.00' WHERE sku = 'NEG'", &[])?;
                Ok(())
            })
            .unwrap();
        let err = store.read(|tx| tx.product("NEG")).unwrap_err().to_string();
        assert!(
            err.contains("stored product `NEG`: price `-1.00` is negative")
                && err.contains("load or import it again with a valid price, or remove it"),
            "{err}"
        );
    }

    /// Products for the set tests: more than two sets, some skus twice
    /// (within one set and across sets), some with content already stored.
    fn mixed_batch() -> Vec<Product> {
        let mut batch: Vec<_> = (0..2 * SET_SIZE + 17)
            .map(|i| product(&format!("S{i:04}"), "1.00"))
            .collect();
        // Twice in the first set: once changed, once as it is.
        batch[5] = product("S0002", "2.00");
        batch[6] = product("S0002", "2.00");
        // Again in a later set, with a new id only.
        batch[SET_SIZE + 3] = Product {
            id: Some("ch-2".into()),
            ..product("S0002", "2.00")
        };
        batch
    }

    #[test]
    fn catalog_upserts_in_sets_count_and_store_as_one_by_one() {
        let before: Vec<_> = (0..2 * SET_SIZE + 17)
            .step_by(3)
            .map(|i| {
                product(
                    &format!("S{i:04}"),
                    if i % 2 == 0 { "1.00" } else { "9.00" },
                )
            })
            .collect();
        let batch = mixed_batch();
        let (_a, at_once) = temp_store();
        let (_b, one_by_one) = temp_store();
        at_once.write(|tx| tx.upsert_catalog(&before)).unwrap();
        one_by_one.write(|tx| tx.upsert_catalog(&before)).unwrap();

        let counts_at_once = at_once.write(|tx| tx.upsert_catalog(&batch)).unwrap();
        let mut counts_one_by_one = UpsertCounts::default();
        for p in &batch {
            counts_one_by_one += one_by_one
                .write(|tx| tx.upsert_catalog(std::slice::from_ref(p)))
                .unwrap();
        }
        assert_eq!(counts_at_once, counts_one_by_one);
        assert_eq!(counts_at_once.total(), batch.len() as u64);
        let catalog = |store: &crate::store::Store| {
            store
                .read(|tx| {
                    tx.list_products(None, usize::MAX)?
                        .into_iter()
                        .map(|p| Ok((tx.product_revision(&p.sku)?, p)))
                        .collect::<Result<Vec<_>>>()
                })
                .unwrap()
        };
        let stored = catalog(&at_once);
        assert_eq!(stored, catalog(&one_by_one));
        let s2 = stored.iter().find(|(_, p)| p.sku == "S0002").unwrap();
        assert_eq!(
            (s2.0, s2.1.price.amount_text(), s2.1.id.as_deref()),
            (Some(2), "2.00".to_string(), Some("ch-2"))
        );
    }

    #[test]
    fn listing_upserts_in_sets_count_as_one_by_one() {
        let seen = at("2026-03-01T00:00:00Z");
        let before: Vec<_> = (0..2 * SET_SIZE + 17)
            .step_by(4)
            .map(|i| {
                product(
                    &format!("S{i:04}"),
                    if i % 8 == 0 { "1.00" } else { "9.00" },
                )
            })
            .collect();
        let batch = mixed_batch();
        let (_a, at_once) = temp_store();
        let (_b, one_by_one) = temp_store();
        at_once
            .write(|tx| tx.upsert_listings("web", &before, seen))
            .unwrap();
        one_by_one
            .write(|tx| tx.upsert_listings("web", &before, seen))
            .unwrap();
        // Another channel's listing of the same skus does not count.
        at_once
            .write(|tx| tx.upsert_listings("shop", &batch, seen))
            .unwrap();

        let counts_at_once = at_once
            .write(|tx| tx.upsert_listings("web", &batch, seen))
            .unwrap();
        let mut counts_one_by_one = UpsertCounts::default();
        for p in &batch {
            counts_one_by_one += one_by_one
                .write(|tx| tx.upsert_listings("web", std::slice::from_ref(p), seen))
                .unwrap();
        }
        assert_eq!(counts_at_once, counts_one_by_one);
        assert_eq!(counts_at_once.total(), batch.len() as u64);
        assert_eq!(
            at_once.read(|tx| tx.listing_count("web")).unwrap(),
            one_by_one.read(|tx| tx.listing_count("web")).unwrap()
        );
        let s2 = at_once.read(|tx| tx.listings_for_sku("S0002")).unwrap();
        let web = s2.iter().find(|l| l.channel == "web").unwrap();
        assert_eq!(
            (web.product.price.amount_text(), web.product.id.as_deref()),
            ("2.00".to_string(), Some("ch-2"))
        );
    }

    #[test]
    fn catalog_refuses_invalid_products_and_rolls_back() {
        let (_dir, store) = temp_store();
        let bad = Product {
            title: "Bad\u{1b}[2J".into(),
            ..product("BAD", "0")
        };
        let err = store
            .write(|tx| tx.upsert_catalog(&[product("OK", "1.00"), bad]))
            .unwrap_err();
        assert!(err.to_string().contains("`BAD`"), "{err}");
        assert!(
            err.to_string().contains("control character U+001B"),
            "{err}"
        );
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 0);
    }

    #[test]
    fn products_queries_page_by_sku() {
        let (_dir, store) = temp_store();
        let products: Vec<_> = ["C", "A", "B", "D"]
            .iter()
            .map(|s| product(s, "1.00"))
            .collect();
        store.write(|tx| tx.upsert_catalog(&products)).unwrap();
        let skus = |after: Option<&str>, n| {
            store
                .read(|tx| tx.list_products(after, n))
                .unwrap()
                .into_iter()
                .map(|p| p.sku)
                .collect::<Vec<_>>()
        };
        assert_eq!(skus(None, 2), ["A", "B"]);
        assert_eq!(skus(Some("B"), 10), ["C", "D"]);
        assert!(skus(Some("D"), 10).is_empty());
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 4);
        assert_eq!(
            store.read(|tx| tx.product("C")).unwrap().unwrap(),
            product("C", "1.00")
        );
        assert!(store.read(|tx| tx.product("Z")).unwrap().is_none());
    }

    #[test]
    fn listings_never_touch_the_catalog() {
        let (_dir, store) = temp_store();
        let seen = at("2026-03-01T00:00:00Z");
        store
            .write(|tx| tx.upsert_catalog(&[product("A", "10.00")]))
            .unwrap();
        let theirs = Product {
            id: Some("web-77".into()),
            ..product("A", "12.00")
        };
        let c = store
            .write(|tx| tx.upsert_listings("web", &[theirs.clone(), product("X", "1")], seen))
            .unwrap();
        assert_eq!(c, counts(2, 0, 0));
        assert_eq!(
            store.read(|tx| tx.product("A")).unwrap().unwrap().price,
            Price::parse("10.00", "EUR").unwrap()
        );
        assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 1);
        assert_eq!(store.read(|tx| tx.listing_count("web")).unwrap(), 2);

        // A later sighting without id keeps the id, updates values.
        let later = at("2026-03-02T00:00:00Z");
        let c = store
            .write(|tx| tx.upsert_listings("web", &[product("A", "13.00")], later))
            .unwrap();
        assert_eq!(c, counts(0, 1, 0));
        let listings = store.read(|tx| tx.listings_for_sku("A")).unwrap();
        assert_eq!(listings.len(), 1);
        assert_eq!(listings[0].channel, "web");
        assert_eq!(listings[0].product.id.as_deref(), Some("web-77"));
        assert_eq!(listings[0].product.price.amount_text(), "13.00");
        assert_eq!(listings[0].seen_at, later);
    }

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
    fn export_status_names_round_trip() {
        for s in ["created", "updated", "unchanged", "error"] {
            assert_eq!(s.parse::<ExportStatus>().unwrap().as_str(), s);
        }
        assert!("ok".parse::<ExportStatus>().is_err());
    }

    /// Timing print, not an assertion: `cargo test --lib store -- --nocapture`.
    #[test]
    fn timing_20k_products() {
        let (_dir, store) = temp_store();
        let products: Vec<_> = (0..20_000)
            .map(|i| product(&format!("SKU-{i:06}"), "9.99"))
            .collect();
        let start = Instant::now();
        let c = store.write(|tx| tx.upsert_catalog(&products)).unwrap();
        let upsert = start.elapsed();
        assert_eq!(c.created, 20_000);

        let results: Vec<_> = products
            .iter()
            .map(|p| ExportResult {
                sku: p.sku.clone(),
                revision: 1,
                status: ExportStatus::Created,
                error: None,
            })
            .collect();
        store
            .write(|tx| tx.record_export_results("shop", &results, Timestamp::UNIX_EPOCH))
            .unwrap();

        let start = Instant::now();
        let pending = store
            .read(|tx| tx.pending_exports("shop", None, 100, 3))
            .unwrap();
        let check = start.elapsed();
        assert!(pending.is_empty());
        let start = Instant::now();
        let count = store
            .read(|tx| tx.count_pending_exports("shop", 3))
            .unwrap();
        let count_time = start.elapsed();
        assert_eq!(count, 0);
        let start = Instant::now();
        let c = store.write(|tx| tx.upsert_catalog(&products)).unwrap();
        let reupsert = start.elapsed();
        assert_eq!(c.unchanged, 20_000);
        eprintln!(
            "store timing (debug build): upsert 20k new {upsert:?}, re-upsert 20k unchanged \
             {reupsert:?}, no-op pending_exports over 20k {check:?}, count_pending_exports {count_time:?}"
        );
    }
}
