//! The export job's side of the write journal: [`StoreJournal`] keeps a
//! connector's intents and ids in the store (durable when each call
//! returns), and [`reconcile_open`] settles the channel's open intents
//! through the connector's reconcile: at the start of every export that
//! finds some, and at the end of a run that left some, after waiting out
//! the channel's `settle` window where the deadline allows
//! ([`settle_wait`]).
//!
//! An intent closes only after a reconcile that ran at least `settle` after
//! it started: a look-up cannot see a create the server is still
//! processing for a client that went away, so an earlier "nothing there"
//! proves nothing.

use std::time::Duration;

use anyhow::Result;
use jiff::{SignedDuration, Timestamp};

use crate::connector::{ChannelError, IntentId, Journal, OpenIntent, PlatformIds, Resolution};
use crate::store::{ExportResult, ExportStatus, RunId, Store};

/// The journal over the account's store, for one channel's export run.
pub(super) struct StoreJournal<'a> {
    pub store: &'a Store,
    pub channel: &'a str,
    pub run: RunId,
}

fn journal_error(err: crate::store::StoreError) -> ChannelError {
    ChannelError::Journal(err.to_string())
}

impl Journal for StoreJournal<'_> {
    fn intent(
        &self,
        handle: &str,
        action: &str,
        skus: &[String],
    ) -> Result<IntentId, ChannelError> {
        self.store
            .write(|tx| {
                tx.begin_intent(
                    self.channel,
                    handle,
                    action,
                    skus,
                    Some(self.run),
                    Timestamp::now(),
                )
            })
            .map_err(journal_error)
    }

    fn ids(&self, intent: IntentId, ids: &PlatformIds) -> Result<(), ChannelError> {
        self.store
            .write(|tx| tx.intent_ids(intent, ids))
            .map_err(journal_error)
    }

    fn done(&self, intent: IntentId) -> Result<(), ChannelError> {
        self.store
            .write(|tx| tx.settle_intent(intent, Timestamp::now()))
            .map_err(journal_error)
    }
}

/// Whether a reconcile that ran at `ran_at` may close an intent that
/// started at `started_at`.
pub(super) fn may_close(started_at: Timestamp, ran_at: Timestamp, settle: Duration) -> bool {
    let settle = SignedDuration::try_from(settle).unwrap_or(SignedDuration::MAX);
    started_at
        .checked_add(settle)
        .is_ok_and(|settled_from| ran_at >= settled_from)
}

/// How long to wait, from `now`, before a reconcile can close every one
/// of `open`; `None` when that wait, and room for the reconcile itself
/// (`margin`), does not fit in `time_left`: the next run closes them.
pub(super) fn settle_wait(
    open: &[OpenIntent],
    now: Timestamp,
    settle: Duration,
    time_left: Duration,
    margin: Duration,
) -> Option<Duration> {
    let latest = open.iter().map(|i| i.started_at).max()?;
    let settle = SignedDuration::try_from(settle).ok()?;
    let wait = latest
        .checked_add(settle)
        .ok()?
        .duration_since(now)
        .max(SignedDuration::ZERO);
    let wait = Duration::try_from(wait).ok()?;
    (wait + margin <= time_left).then_some(wait)
}

/// What a reconcile did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Reconciled {
    /// Intents closed.
    pub closed: usize,
    /// Intents still open.
    pub open: usize,
    /// SKUs held twice by someone else, by product: `(handle, reason)`.
    pub rejected: Vec<(String, String)>,
}

/// Reconciles `channel`'s open intents with `reconcile` (the connector's,
/// with a credential): keeps the ids each resolution adopted, records its
/// rejections as the product's export errors, and closes the intents that
/// are settled and may close. Nothing open: no call.
pub(super) async fn reconcile_open(
    store: &Store,
    channel: &str,
    settle: Duration,
    reconcile: impl AsyncFnOnce(&[OpenIntent]) -> Result<Vec<Resolution>>,
) -> Result<Reconciled> {
    let open = store.read(|tx| tx.open_intents(channel))?;
    if open.is_empty() {
        return Ok(Reconciled::default());
    }
    let ran_at = Timestamp::now();
    let resolutions = reconcile(&open).await?;
    let mut done = Reconciled::default();
    store.write(|tx| {
        let now = Timestamp::now();
        for resolution in &resolutions {
            let Some(intent) = open.iter().find(|i| i.id == resolution.intent) else {
                continue;
            };
            tx.intent_ids(intent.id, &resolution.ids)?;
            if !resolution.rejections.is_empty() {
                let reason = resolution
                    .rejections
                    .iter()
                    .map(|(sku, why)| format!("sku `{sku}`: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                if let Some(revision) = tx.product_revision(&intent.handle)? {
                    tx.record_export_results(
                        channel,
                        &[ExportResult {
                            handle: intent.handle.clone(),
                            revision,
                            status: ExportStatus::Error,
                            error: Some(reason.clone()),
                            accepted: None,
                            ids: PlatformIds::default(),
                        }],
                        now,
                    )?;
                }
                done.rejected.push((intent.handle.clone(), reason));
            }
            if resolution.settled && may_close(intent.started_at, ran_at, settle) {
                tx.settle_intent(intent.id, now)?;
                done.closed += 1;
            }
        }
        Ok(())
    })?;
    done.open = open.len() - done.closed;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::*;

    fn intent(id: IntentId, started_at: &str) -> OpenIntent {
        OpenIntent {
            id,
            handle: "tshirt".into(),
            action: "create-product".into(),
            skus: vec!["TS-S".into()],
            ids: PlatformIds::default(),
            started_at: at(started_at),
        }
    }

    #[test]
    fn an_intent_closes_only_a_settle_window_after_it_started() {
        let settle = Duration::from_secs(20);
        let started = at("2026-01-01T00:00:00Z");
        assert!(!may_close(started, at("2026-01-01T00:00:19Z"), settle));
        assert!(may_close(started, at("2026-01-01T00:00:20Z"), settle));
        assert!(may_close(started, started, Duration::ZERO));
        let open = [
            intent(1, "2026-01-01T00:00:00Z"),
            intent(2, "2026-01-01T00:00:05Z"),
        ];
        let now = at("2026-01-01T00:00:10Z");
        let margin = Duration::from_secs(5);
        // The later intent settles at 00:25, 15 s from now.
        let cases = [
            (Duration::from_secs(60), Some(Duration::from_secs(15))),
            (Duration::from_secs(20), Some(Duration::from_secs(15))),
            (Duration::from_secs(19), None),
        ];
        for (time_left, expected) in cases {
            assert_eq!(settle_wait(&open, now, settle, time_left, margin), expected);
        }
        let later = at("2026-01-01T00:01:00Z");
        assert_eq!(
            settle_wait(&open, later, settle, Duration::from_secs(10), margin),
            Some(Duration::ZERO),
            "already settled: no wait"
        );
        assert_eq!(settle_wait(&[], now, settle, Duration::MAX, margin), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_reconcile_keeps_ids_names_rejections_and_closes_what_may_close() {
        let (_dir, store) = temp_store();
        let long_ago = at("2026-01-01T00:00:00Z");
        let product = crate::catalog::test_data::shirt();
        let (old, fresh) = store
            .write(|tx| {
                tx.upsert_products(std::slice::from_ref(&product))?;
                let skus = vec!["TS-S".to_string()];
                Ok((
                    tx.begin_intent("shop", "tshirt", "create-product", &skus, None, long_ago)?,
                    tx.begin_intent(
                        "shop",
                        "tshirt",
                        "create-variants",
                        &skus,
                        None,
                        Timestamp::now(),
                    )?,
                ))
            })
            .unwrap();
        let mut adopted = PlatformIds::default();
        adopted.insert(PlatformIds::PRODUCT, "tshirt", "p-1");
        let resolutions = vec![
            Resolution {
                intent: old,
                ids: adopted,
                rejections: vec![("TS-S".into(), "held twice: v-1 and v-9".into())],
                settled: true,
            },
            Resolution {
                intent: fresh,
                ids: PlatformIds::default(),
                rejections: Vec::new(),
                settled: true,
            },
        ];
        let done = reconcile_open(&store, "shop", Duration::from_secs(20), async |open| {
            assert_eq!(open.len(), 2);
            Ok(resolutions)
        })
        .await
        .unwrap();
        assert_eq!(done.closed, 1, "the fresh intent is too young to close");
        assert_eq!(done.open, 1);
        assert_eq!(done.rejected.len(), 1);
        let open = store.read(|tx| tx.open_intents("shop")).unwrap();
        assert_eq!(open.iter().map(|i| i.id).collect::<Vec<_>>(), [fresh]);
        let known = store
            .read(|tx| tx.known_ids("shop", "tshirt", std::iter::empty()))
            .unwrap();
        assert_eq!(known.product("tshirt"), Some("p-1"));
        let errors = store.read(|tx| tx.export_errors("shop")).unwrap();
        assert_eq!(
            errors,
            [(
                "tshirt".to_string(),
                "sku `TS-S`: held twice: v-1 and v-9".to_string()
            )]
        );
        // Nothing open: the connector is not asked.
        let (_dir2, empty) = temp_store();
        let done = reconcile_open(&empty, "shop", Duration::ZERO, async |_| {
            panic!("no reconcile without open intents")
        })
        .await
        .unwrap();
        assert_eq!(done, Reconciled::default());
    }
}
