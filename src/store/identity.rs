//! Channel identity: what the store knows about a channel (tokens, import
//! progress, exported revisions, listings, quarantine, job state) belongs to
//! the channel's endpoint (type and normalised base URL), not just its id.
//! Each channel's endpoint is recorded; when the account file names another
//! endpoint for it, or no longer names the channel, its state is forgotten,
//! so a re-added or re-pointed channel starts fresh (full export, no token).
//! Run history is kept: it is a record of what happened.

use std::collections::BTreeMap;

use super::sql::params;
use jiff::Timestamp;
use serde::Serialize;

use super::{Millis, Result, Store, Tx, count_from_sql};
use crate::config::model::DEFAULT_QUARANTINE_AFTER;

/// One configured channel and the endpoint its state belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelEndpoint {
    pub channel: String,
    /// [`endpoint_key`] of the channel's type and base URL.
    pub endpoint: String,
}

impl ChannelEndpoint {
    pub fn new(channel: &str, channel_type: &str, base_url: &str) -> ChannelEndpoint {
        ChannelEndpoint {
            channel: channel.to_string(),
            endpoint: endpoint_key(channel_type, base_url),
        }
    }
}

/// The endpoint of every channel of an account file.
pub fn endpoints_of(config: &crate::config::AccountConfig) -> Vec<ChannelEndpoint> {
    config
        .channels
        .iter()
        .map(|(id, c)| ChannelEndpoint::new(id, &c.channel_type, &c.base_url))
        .collect()
}

/// `type base-url` with the URL normalised the way a server sees it: scheme
/// and host in lower case, no default port, no fragment, no trailing `/`.
/// An unparsable URL is kept as written (trimmed): validation refuses it
/// before any job runs, and two spellings of it are still two endpoints.
pub fn endpoint_key(channel_type: &str, base_url: &str) -> String {
    let trimmed = base_url.trim();
    let url = match reqwest::Url::parse(trimmed) {
        Ok(mut url) => {
            url.set_fragment(None);
            let mut text = url.to_string();
            while text.ends_with('/') && text.len() > url.scheme().len() + 3 {
                text.pop();
            }
            text
        }
        Err(_) => trimmed.trim_end_matches('/').to_string(),
    };
    format!("{channel_type} {url}")
}

/// The channels of `recorded` (channel → endpoint) whose state does not
/// belong to `configured`: re-pointed, or no longer in the file. A
/// configured channel with no record adopts its endpoint (a store written
/// before identities were recorded keeps its state).
fn stale_channels(
    recorded: &BTreeMap<String, String>,
    configured: &[ChannelEndpoint],
) -> Vec<(ForgetReason, String)> {
    recorded
        .iter()
        .filter_map(
            |(channel, endpoint)| match configured.iter().find(|c| &c.channel == channel) {
                None => Some((ForgetReason::Removed, channel.clone())),
                Some(c) if &c.endpoint != endpoint => {
                    Some((ForgetReason::EndpointChanged, channel.clone()))
                }
                Some(_) => None,
            },
        )
        .collect()
}

/// Why a channel's state was forgotten.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForgetReason {
    /// `channel reset`.
    Reset,
    /// The account file names another endpoint for the channel.
    EndpointChanged,
    /// The account file no longer has the channel.
    Removed,
}

/// What the store forgot about one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    pub channel: String,
    /// The endpoint the forgotten state belonged to, when it was recorded.
    pub endpoint: Option<String>,
    pub tokens: bool,
    pub import_progress: bool,
    /// Products recorded as exported (or attempted) to the channel.
    pub exports: u64,
    /// Of those, products in quarantine.
    pub quarantined: u64,
    /// Deletions the channel was still owed.
    pub pending_deletions: u64,
    pub listings: u64,
    /// Jobs whose schedule state (last success, failures) was dropped.
    pub job_states: u64,
}

impl Forgotten {
    /// True when there was nothing to forget.
    pub fn is_empty(&self) -> bool {
        !self.tokens
            && !self.import_progress
            && self.exports == 0
            && self.listings == 0
            && self.job_states == 0
    }
}

impl Tx<'_> {
    fn count(&self, sql: &str, channel: &str) -> Result<u64> {
        let n: i64 = self.db.query_one(sql, params![channel], |r| r.get(0))?;
        Ok(count_from_sql(n))
    }

    /// Forgets everything the store knows about `channel` except its run
    /// history, in this transaction, and returns what it was.
    pub fn forget_channel(&self, channel: &str, quarantine_after: u32) -> Result<Forgotten> {
        let endpoint: Option<String> = self.db.query_opt(
            "SELECT endpoint FROM channel_identity WHERE channel = ?1",
            params![channel],
            |r| r.get(0),
        )?;
        let forgotten = Forgotten {
            channel: channel.to_string(),
            endpoint,
            tokens: self.count("SELECT count(*) FROM tokens WHERE channel = ?1", channel)? > 0,
            import_progress: self.count(
                "SELECT count(*) FROM import_progress WHERE channel = ?1",
                channel,
            )? > 0,
            exports: self.count("SELECT count(*) FROM exports WHERE channel = ?1", channel)?,
            quarantined: {
                let n: i64 = self.db.query_one(
                    "SELECT count(*) FROM exports e JOIN products p ON p.handle = e.handle \
                     WHERE e.channel = ?1 AND e.rejections >= ?2 \
                     AND e.rejected_revision = p.revision",
                    params![channel, quarantine_after],
                    |r| r.get(0),
                )?;
                count_from_sql(n)
            },
            pending_deletions: self.count_pending_deletions(channel)?,
            listings: self.count("SELECT count(*) FROM listings WHERE channel = ?1", channel)?,
            job_states: self.count("SELECT count(*) FROM job_state WHERE channel = ?1", channel)?,
        };
        for table in [
            "tokens",
            "import_progress",
            "import_seen",
            "import_complete",
            "exports",
            "listings",
            "listing_variants",
            "platform_ids",
            "shop_intents",
            "stock_sent",
            "stock_reconciles",
            "job_state",
            "channel_identity",
        ] {
            self.db.execute(
                &format!("DELETE FROM {table} WHERE channel = ?1"),
                params![channel],
            )?;
        }
        self.drop_settled_removals()?;
        Ok(forgotten)
    }

    /// Makes the recorded endpoints match `configured`: a channel whose
    /// endpoint changed, or that is no longer configured, is forgotten. A
    /// channel with no recorded endpoint adopts its configured one (a store
    /// written before identities were recorded keeps its state).
    pub fn sync_endpoints(
        &self,
        configured: &[ChannelEndpoint],
        at: Timestamp,
    ) -> Result<Vec<(ForgetReason, Forgotten)>> {
        let quarantine_after = DEFAULT_QUARANTINE_AFTER;
        let mut forgotten = Vec::new();
        for (reason, channel) in self.stale_channels(configured)? {
            forgotten.push((reason, self.forget_channel(&channel, quarantine_after)?));
        }
        for c in configured {
            self.db.execute(
                "INSERT INTO channel_identity (channel, endpoint, since) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (channel) DO UPDATE SET endpoint = excluded.endpoint, \
                 since = excluded.since WHERE channel_identity.endpoint <> excluded.endpoint",
                params![c.channel, c.endpoint, Millis(at)],
            )?;
        }
        Ok(forgotten)
    }

    /// The recorded channels whose state [`Tx::sync_endpoints`] would
    /// forget for `configured`, and why; read-only, for commands that show
    /// what the next run will see without changing the store (`status`).
    pub fn stale_channels(
        &self,
        configured: &[ChannelEndpoint],
    ) -> Result<Vec<(ForgetReason, String)>> {
        Ok(stale_channels(&self.recorded_endpoints()?, configured))
    }

    fn recorded_endpoints(&self) -> Result<BTreeMap<String, String>> {
        let rows = self.db.query(
            "SELECT channel, endpoint FROM channel_identity",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.into_iter().collect())
    }

    /// The endpoint the channel's state belongs to, when recorded.
    pub fn recorded_endpoint(&self, channel: &str) -> Result<Option<String>> {
        Ok(self.recorded_endpoints()?.remove(channel))
    }
}

impl Store {
    /// [`Tx::sync_endpoints`], taking the write lock only when something
    /// differs: the idle cron call pays one small read. A store opened to
    /// read only is left as it is (a read-only command writes nothing): the
    /// channels whose state would be forgotten are logged, and the next
    /// command that writes forgets it.
    pub fn sync_endpoints(
        &self,
        configured: &[ChannelEndpoint],
    ) -> Result<Vec<(ForgetReason, Forgotten)>> {
        let recorded = self.read(|tx| tx.recorded_endpoints())?;
        let same = recorded.len() == configured.len()
            && configured
                .iter()
                .all(|c| recorded.get(&c.channel) == Some(&c.endpoint));
        if same {
            return Ok(Vec::new());
        }
        if self.is_read_only() {
            for (channel, endpoint) in &recorded {
                if configured
                    .iter()
                    .all(|c| &c.channel != channel || &c.endpoint != endpoint)
                {
                    tracing::warn!(
                        %channel,
                        "the store still holds this channel's state for {endpoint}, which the account file no longer names; it is forgotten by the next command that writes (this one only reads)"
                    );
                }
            }
            return Ok(Vec::new());
        }
        let forgotten = self.write(|tx| tx.sync_endpoints(configured, Timestamp::now()))?;
        for (reason, f) in &forgotten {
            if !f.is_empty() {
                tracing::info!(
                    channel = %f.channel,
                    ?reason,
                    "forgot the channel's stored state: it belonged to {}",
                    f.endpoint.as_deref().unwrap_or("another endpoint")
                );
            }
        }
        Ok(forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::test_data::{bare_product, result};
    use crate::store::test_util::*;

    #[test]
    fn endpoint_keys_normalise_what_a_server_would_not_tell_apart() {
        let same = [
            "https://api.example.com/v1",
            "https://API.Example.com/v1/",
            "HTTPS://api.example.com:443/v1",
            " https://api.example.com/v1#x",
        ];
        for url in same {
            assert_eq!(
                endpoint_key("beta-rest", url),
                "beta-rest https://api.example.com/v1",
                "{url}"
            );
        }
        assert_eq!(
            endpoint_key("beta-rest", "http://127.0.0.1:8080/"),
            "beta-rest http://127.0.0.1:8080"
        );
        let different = [
            ("beta-rest", "https://api.example.com/v2"),
            ("beta-rest", "https://api.example.com:8443/v1"),
            ("beta-rest", "http://api.example.com/v1"),
            ("vendure", "https://api.example.com/v1"),
        ];
        for (t, url) in different {
            assert_ne!(
                endpoint_key(t, url),
                "beta-rest https://api.example.com/v1",
                "{t} {url}"
            );
        }
    }

    #[test]
    fn a_changed_or_removed_endpoint_forgets_the_channel_state() {
        let (_dir, store) = temp_store();
        let t = at("2026-01-01T00:00:00Z");
        let a = ChannelEndpoint::new("out", "beta-rest", "http://127.0.0.1:1000");
        let other = ChannelEndpoint::new("other", "beta-rest", "http://127.0.0.1:2000");
        // First sight adopts: state written before identities is kept.
        store
            .write(|tx| {
                tx.store_login("out", "r1", t)?;
                tx.upsert_products(&[bare_product("A", "1"), bare_product("B", "1")])?;
                tx.record_export_results("out", &[result(&bare_product("A", "1"), 1, None)], t)?;
                tx.store_login("other", "r2", t)
            })
            .unwrap();
        let synced = store.sync_endpoints(&[a.clone(), other.clone()]).unwrap();
        assert!(synced.is_empty());
        assert!(store.read(|tx| tx.tokens("out")).unwrap().is_some());
        // Same endpoints again: nothing happens.
        assert!(
            store
                .sync_endpoints(&[a.clone(), other.clone()])
                .unwrap()
                .is_empty()
        );

        // Re-pointed: a reader sees which channel is stale, and nothing changes...
        let moved = ChannelEndpoint::new("out", "beta-rest", "http://127.0.0.1:1001");
        let stale = store
            .read(|tx| tx.stale_channels(&[moved.clone(), other.clone()]))
            .unwrap();
        assert_eq!(stale, [(ForgetReason::EndpointChanged, "out".to_string())]);
        assert!(store.read(|tx| tx.tokens("out")).unwrap().is_some());
        // ... until the sync forgets it; the other channel keeps its state.
        let synced = store
            .sync_endpoints(&[moved.clone(), other.clone()])
            .unwrap();
        assert_eq!(synced.len(), 1);
        let (reason, f) = &synced[0];
        assert_eq!(*reason, ForgetReason::EndpointChanged);
        assert!(f.tokens);
        assert_eq!(f.exports, 1);
        assert_eq!(f.endpoint.as_deref(), Some(a.endpoint.as_str()));
        assert!(store.read(|tx| tx.tokens("out")).unwrap().is_none());
        assert_eq!(
            store
                .read(|tx| tx.pending_exports("out", None, 10, 3))
                .unwrap()
                .len(),
            2,
            "everything is exported again"
        );
        assert!(store.read(|tx| tx.tokens("other")).unwrap().is_some());

        // Removed from the file: forgotten too.
        let synced = store.sync_endpoints(&[moved]).unwrap();
        assert_eq!(synced[0].0, ForgetReason::Removed);
        assert!(store.read(|tx| tx.tokens("other")).unwrap().is_none());
        assert_eq!(
            store.read(|tx| tx.recorded_endpoint("other")).unwrap(),
            None
        );
    }
}
