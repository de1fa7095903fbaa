//! The write journal (`shop_intents`): creates a connector started on a
//! shop, with the SKUs they carry and the platform ids that came back, so
//! that a run that died mid-create leaves the next run what to repair. An
//! intent is open until it is settled (its calls all came back, or a
//! reconcile settled it).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::connector::{IntentId, OpenIntent, PlatformIds};
use crate::store::sql::params;
use crate::store::{Millis, Result, RunId, Tx};

/// An intent's `detail` column: what it carries and what came back.
#[derive(Default, Serialize, Deserialize)]
struct Detail {
    skus: Vec<String>,
    #[serde(default)]
    ids: Vec<(String, String, String)>,
}

impl Detail {
    fn ids(&self) -> PlatformIds {
        self.ids.iter().cloned().collect()
    }
}

fn detail_json(detail: &Detail) -> String {
    serde_json::to_string(detail).expect("an intent's detail serialises")
}

impl Tx<'_> {
    /// Records that `channel`'s connector is about to create (parts of)
    /// product `handle` carrying `skus`.
    pub fn begin_intent(
        &self,
        channel: &str,
        handle: &str,
        action: &str,
        skus: &[String],
        run: Option<RunId>,
        at: Timestamp,
    ) -> Result<IntentId> {
        let detail = detail_json(&Detail {
            skus: skus.to_vec(),
            ids: Vec::new(),
        });
        Ok(self.db.query_one(
            "INSERT INTO shop_intents (channel, handle, action, detail, started_at, run_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            params![channel, handle, action, detail, Millis(at), run],
            |r| r.get(0),
        )?)
    }

    /// Adds the ids the platform gave for `intent`'s creates (also kept as
    /// the channel's platform ids).
    pub fn intent_ids(&self, intent: IntentId, ids: &PlatformIds) -> Result<()> {
        let row: Option<(String, String)> = self.db.query_opt(
            "SELECT channel, detail FROM shop_intents WHERE id = ?1",
            params![intent],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((channel, detail)) = row else {
            return Ok(());
        };
        let mut detail: Detail = serde_json::from_str(&detail).unwrap_or_default();
        let mut all = detail.ids();
        all.extend(ids);
        detail.ids = all
            .iter()
            .map(|(kind, key, id)| (kind.to_string(), key.to_string(), id.to_string()))
            .collect();
        self.db.execute(
            "UPDATE shop_intents SET detail = ?2 WHERE id = ?1",
            params![intent, detail_json(&detail)],
        )?;
        self.record_ids(&channel, ids)
    }

    /// Settles `intent`: nothing of it is left to repair.
    pub fn settle_intent(&self, intent: IntentId, at: Timestamp) -> Result<()> {
        self.db.execute(
            "UPDATE shop_intents SET settled_at = ?2 WHERE id = ?1 AND settled_at IS NULL",
            params![intent, Millis(at)],
        )?;
        Ok(())
    }

    /// `channel`'s open intents, oldest first.
    pub fn open_intents(&self, channel: &str) -> Result<Vec<OpenIntent>> {
        let rows: Vec<(IntentId, String, String, String, Millis)> = self.db.query(
            "SELECT id, handle, action, detail, started_at FROM shop_intents \
             WHERE channel = ?1 AND settled_at IS NULL ORDER BY id",
            params![channel],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        Ok(rows
            .into_iter()
            .map(|(id, handle, action, detail, started_at)| {
                let detail: Detail = serde_json::from_str(&detail).unwrap_or_default();
                OpenIntent {
                    id,
                    handle,
                    action,
                    ids: detail.ids(),
                    skus: detail.skus,
                    started_at: started_at.0,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::*;

    #[test]
    fn intents_stay_open_with_their_ids_until_settled() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let skus = vec!["TS-S".to_string(), "TS-M".to_string()];
        let id = store
            .write(|tx| tx.begin_intent("shop", "tshirt", "create-product", &skus, None, t))
            .unwrap();
        let other = store
            .write(|tx| tx.begin_intent("web", "tshirt", "create-product", &skus, None, t))
            .unwrap();
        let mut ids = PlatformIds::default();
        ids.insert(PlatformIds::PRODUCT, "tshirt", "p-1");
        store.write(|tx| tx.intent_ids(id, &ids)).unwrap();
        let mut more = PlatformIds::default();
        more.insert(PlatformIds::VARIANT, "TS-S", "v-1");
        store.write(|tx| tx.intent_ids(id, &more)).unwrap();
        let open = store.read(|tx| tx.open_intents("shop")).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].skus, skus);
        assert_eq!(open[0].ids.product("tshirt"), Some("p-1"));
        assert_eq!(open[0].ids.variant("TS-S"), Some("v-1"));
        assert_eq!(open[0].started_at, t);
        // The ids are the channel's platform ids too.
        let known = store
            .read(|tx| tx.known_ids("shop", "tshirt", ["TS-S"].into_iter()))
            .unwrap();
        assert_eq!(known.len(), 2);
        store.write(|tx| tx.settle_intent(id, t)).unwrap();
        assert!(store.read(|tx| tx.open_intents("shop")).unwrap().is_empty());
        assert_eq!(
            store.read(|tx| tx.open_intents("web")).unwrap()[0].id,
            other
        );
    }
}
