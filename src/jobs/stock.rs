//! export-stock: sends each channel what it may sell (on hand less
//! reserved less the channel's `stock-buffer`, clamped at 0, capped by
//! `max-listed`) per SKU and mapped catalog location, as absolute levels,
//! and only the levels whose value moved since the channel last accepted
//! one. Once per `stock-reconcile` it first reads back the levels it
//! manages and takes the channel's own value as sent where the two differ
//! (drift), so the pass that follows repairs them.
//!
//! Levels are absolute, so a batch sent again (after a kill between the
//! send and its record) is harmless: nothing is journalled. A SKU the
//! channel does not have is skipped and named, never created, and left
//! unrecorded so it is sent once the channel has it. A refused level makes
//! the run `partial`; it is retried, and quarantined after
//! `quarantine-after` refusals of one value in a row.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::ChannelRun;
use super::auth::Access;
use crate::catalog::stock::{Held, drifted, reconcile_due};
use crate::connector::{StockOutcome, StockSet};
use crate::crash;
use crate::output::{count, escape};
use crate::store::{Durability, RunId, SentLevel, SentValue, SentVerdict};

/// Levels of one export-stock run, by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StockExportCounts {
    /// Levels sent.
    pub sent: u64,
    /// Of those, the channel now holds.
    pub set: u64,
    /// Of those, for SKUs the channel does not have (skipped).
    pub unknown_sku: u64,
    /// Of those, refused (retried next run).
    pub refused: u64,
    /// Levels of this channel in quarantine when the run ended.
    pub quarantined: u64,
    /// Levels the reconcile read back.
    pub reconciled: u64,
    /// Of those, the channel held otherwise than last sent (repaired by
    /// this run's sends).
    pub drift: u64,
}

impl StockExportCounts {
    /// The counts by name, as `history --json` shows them (`counts`).
    pub fn as_map(&self) -> BTreeMap<String, u64> {
        let value = serde_json::to_value(self).expect("counts serialize");
        (value.as_object().into_iter().flatten())
            .filter_map(|(name, n)| Some((name.clone(), n.as_u64()?)))
            .collect()
    }

    /// `20 levels sent: 18 set, 2 unknown SKUs; reconciled 4000, drift 5`,
    /// leaving out zeros after the first figure.
    pub fn summary(&self) -> String {
        let mut text = format!("{} sent", count(self.sent, "level", "levels"));
        let mut parts = Vec::new();
        if self.sent > 0 {
            parts.push(format!("{} set", self.set));
        }
        if self.unknown_sku > 0 {
            parts.push(count(self.unknown_sku, "unknown SKU", "unknown SKUs"));
        }
        if self.refused > 0 {
            parts.push(format!("{} refused", self.refused));
        }
        if !parts.is_empty() {
            text.push_str(": ");
            text.push_str(&parts.join(", "));
        }
        if self.reconciled > 0 || self.drift > 0 {
            text.push_str(&format!(
                "; reconciled {}, drift {}",
                count(self.reconciled, "level", "levels"),
                self.drift
            ));
        }
        if self.quarantined > 0 {
            text.push_str(&format!("; {} quarantined", self.quarantined));
        }
        text
    }
}

/// What one run has seen so far.
#[derive(Default)]
struct Tally {
    counts: StockExportCounts,
    unknown: Vec<String>,
    refused: Vec<(String, String)>,
}

/// How many SKUs or refusals a run's summary names before `...`.
const NAMED: usize = 5;

/// Reconciles when due, sends the owed levels, and records the run.
pub async fn run(ch: &ChannelRun, run: RunId) -> Result<super::Finished> {
    let access = Access::new(ch);
    let mut tally = Tally::default();
    let locations = ch.channel.stock_locations();
    let last = ch
        .store
        .read(|tx| tx.last_stock_reconcile(&ch.channel_id))?;
    if reconcile_due(last, ch.channel.stock_reconcile_every(), ch.now) {
        reconcile(ch, &access, &locations, &mut tally, run).await?;
        ch.store
            .write(|tx| tx.set_stock_reconciled(&ch.channel_id, ch.now))?;
    }
    send_owed(ch, &access, &locations, &mut tally, run).await?;
    finish(ch, run, tally)
}

/// Reads back the channel's levels of every SKU it was sent stock of, and
/// notes where they drifted from what was sent.
async fn reconcile(
    ch: &ChannelRun,
    access: &Access<'_>,
    locations: &[String],
    tally: &mut Tally,
    run: RunId,
) -> Result<()> {
    let batch_size = ch.connector.limits().batch_size;
    let mut after: Option<String> = None;
    loop {
        let skus = ch.store.read(|tx| {
            tx.stock_sent_skus(&ch.channel_id, locations, after.as_deref(), batch_size)
        })?;
        let Some(last) = skus.last() else { break };
        after = Some(last.clone());
        let readings = access
            .call(async |token| ch.connector.read_stock(token, &skus).await)
            .await?;
        let sku_refs: Vec<&str> = skus.iter().map(String::as_str).collect();
        let sent = ch
            .store
            .read(|tx| tx.stock_sent_values(&ch.channel_id, locations, &sku_refs))?;
        let on_channel: HashMap<(&str, &str), i64> = readings
            .iter()
            .map(|r| ((r.sku.as_str(), r.location.as_str()), r.quantity))
            .collect();
        let held: Vec<Held> = sent
            .iter()
            .map(|s| Held {
                sku: s.sku.clone(),
                location: s.location.clone(),
                sent: s.sent,
                on_channel: on_channel
                    .get(&(s.sku.as_str(), s.location.as_str()))
                    .copied(),
            })
            .collect();
        let drift: Vec<SentValue> = drifted(&held)
            .into_iter()
            .map(|h| SentValue {
                sku: h.sku.clone(),
                location: h.location.clone(),
                sent: h.on_channel.expect("a drifted level has a reading"),
            })
            .collect();
        tally.counts.reconciled += held.len() as u64;
        tally.counts.drift += drift.len() as u64;
        if !drift.is_empty() {
            tracing::info!(channel = %ch.channel_id, drift = drift.len(), "stock drifted on the channel");
        }
        ch.store.write(|tx| {
            tx.note_stock_drift(&ch.channel_id, &drift)?;
            tx.set_run_progress(run, tally.counts.sent, &tally.counts.as_map())
        })?;
    }
    Ok(())
}

/// Sends every owed level, location by location, a batch at a time, and
/// records each batch's verdicts before the next.
async fn send_owed(
    ch: &ChannelRun,
    access: &Access<'_>,
    locations: &[String],
    tally: &mut Tally,
    run: RunId,
) -> Result<()> {
    let batch_size = ch.connector.limits().batch_size;
    let policy = ch.channel.stock_policy();
    let quarantine_after = ch.channel.quarantine_threshold();
    for location in locations {
        let mut after: Option<String> = None;
        loop {
            let owed = ch.store.read(|tx| {
                tx.owed_stock(
                    &ch.channel_id,
                    location,
                    policy,
                    quarantine_after,
                    after.as_deref(),
                    batch_size,
                )
            })?;
            let Some(last) = owed.last() else { break };
            after = Some(last.sku.clone());
            let levels: Vec<StockSet> = owed
                .iter()
                .map(|o| StockSet {
                    sku: o.sku.clone(),
                    location: o.location.clone(),
                    available: o.available,
                })
                .collect();
            let outcomes = access
                .call(async |token| ch.connector.send_stock(token, &levels).await)
                .await?;
            crash::point("stock-batch-sent");
            if outcomes.len() != levels.len() {
                return Err(crate::error::Failure::internal(format!(
                    "the connector answered {} outcomes for {} stock levels",
                    outcomes.len(),
                    levels.len()
                ))
                .into());
            }
            let recorded = tally_batch(&levels, outcomes, tally);
            // Not waiting for the disk: a record lost to a power cut only
            // sends its (absolute) levels again; the run's end syncs it all.
            ch.store.write_as(Durability::Relaxed, |tx| {
                tx.record_stock_sent(&ch.channel_id, &recorded, Timestamp::now())?;
                tx.set_run_progress(run, tally.counts.sent, &tally.counts.as_map())
            })?;
            crash::point("stock-batch-recorded");
        }
    }
    Ok(())
}

/// Counts one batch's outcomes, and returns what to record: accepted and
/// refused levels (an unknown SKU is left unrecorded, so it is sent again
/// once the channel has it).
fn tally_batch(
    levels: &[StockSet],
    outcomes: Vec<StockOutcome>,
    tally: &mut Tally,
) -> Vec<SentLevel> {
    let mut recorded = Vec::with_capacity(levels.len());
    for (level, outcome) in levels.iter().zip(outcomes) {
        tally.counts.sent += 1;
        let verdict = match outcome {
            StockOutcome::Set => {
                tally.counts.set += 1;
                SentVerdict::Accepted
            }
            StockOutcome::UnknownSku => {
                tally.counts.unknown_sku += 1;
                if !tally.unknown.contains(&level.sku) {
                    tally.unknown.push(level.sku.clone());
                }
                continue;
            }
            StockOutcome::UnknownLocation => {
                tally.counts.refused += 1;
                let why = format!(
                    "the channel has no stock location for catalog location `{}` (map it in `[channels.<id>.locations]`)",
                    level.location
                );
                tally.refused.push((level.sku.clone(), why.clone()));
                SentVerdict::Refused(why)
            }
            StockOutcome::Refused(why) => {
                tally.counts.refused += 1;
                tally.refused.push((level.sku.clone(), why.clone()));
                SentVerdict::Refused(why)
            }
        };
        recorded.push(SentLevel {
            sku: level.sku.clone(),
            location: level.location.clone(),
            value: level.available,
            verdict,
        });
    }
    recorded
}

/// `A, B, C, ...`: the first few names, escaped.
fn named(names: impl Iterator<Item = String>, total: usize) -> String {
    let mut shown: Vec<String> = names.take(NAMED).collect();
    if total > NAMED {
        shown.push("...".into());
    }
    shown.join(", ")
}

fn finish(ch: &ChannelRun, run: RunId, tally: Tally) -> Result<super::Finished> {
    let Tally {
        mut counts,
        unknown,
        refused,
    } = tally;
    let quarantine_after = ch.channel.quarantine_threshold();
    counts.quarantined = ch
        .store
        .read(|tx| tx.count_stock_quarantined(&ch.channel_id, quarantine_after))?;
    let mut summary = counts.summary();
    if !unknown.is_empty() {
        summary.push_str(&format!(
            "; skipped, the channel has no such SKU: {}",
            named(
                unknown.iter().map(|s| escape(s).into_owned()),
                unknown.len()
            )
        ));
    }
    let partial = (!refused.is_empty()).then(|| {
        format!(
            "{summary}; refused: {}; refused levels are retried next run, and quarantined after {} in a row",
            named(
                refused
                    .iter()
                    .map(|(sku, why)| format!("{}: {}", escape(sku), escape(why))),
                refused.len()
            ),
            count(quarantine_after.into(), "refusal", "refusals")
        )
    });
    ch.store.write(|tx| {
        tx.finish_counted(
            run,
            Timestamp::now(),
            counts.sent,
            &counts.as_map(),
            partial.as_deref(),
            &summary,
        )
    })?;
    Ok(super::Finished {
        items: counts.sent,
        partial: partial.is_some(),
        detail: partial.unwrap_or(summary),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(sku: &str, available: i64) -> StockSet {
        StockSet {
            sku: sku.into(),
            location: "default".into(),
            available,
        }
    }

    #[test]
    fn a_batch_records_accepted_and_refused_levels_and_names_unknown_skus() {
        let mut tally = Tally::default();
        let levels = [set("A", 5), set("B", 0), set("C", 2), set("B2", 1)];
        let recorded = tally_batch(
            &levels,
            vec![
                StockOutcome::Set,
                StockOutcome::UnknownSku,
                StockOutcome::Refused("locked".into()),
                StockOutcome::UnknownSku,
            ],
            &mut tally,
        );
        assert_eq!(
            recorded
                .iter()
                .map(|r| (r.sku.as_str(), r.value, r.verdict == SentVerdict::Accepted))
                .collect::<Vec<_>>(),
            [("A", 5, true), ("C", 2, false)]
        );
        assert_eq!(tally.unknown, ["B", "B2"]);
        assert_eq!(
            tally.counts.summary(),
            "4 levels sent: 1 set, 2 unknown SKUs, 1 refused"
        );
    }

    #[test]
    fn summaries_show_the_drift_a_reconcile_found() {
        let counts = StockExportCounts {
            sent: 5,
            set: 5,
            reconciled: 4000,
            drift: 5,
            ..Default::default()
        };
        assert_eq!(
            counts.summary(),
            "5 levels sent: 5 set; reconciled 4000 levels, drift 5"
        );
        assert_eq!(StockExportCounts::default().summary(), "0 levels sent");
        assert_eq!(counts.as_map()["drift"], 5);
    }
}
