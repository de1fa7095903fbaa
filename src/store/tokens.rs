//! A channel's OAuth tokens (and login sessions), with the mark that a
//! refresh may be on the wire. Token values never reach `Debug` output or
//! error messages.

use std::fmt;

use jiff::Timestamp;

use super::sql::params;
use super::{Millis, Result, Tx, millis};

/// A channel's stored OAuth tokens. `Debug` shows whether a token is present,
/// never its value.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub refresh_token: Option<String>,
    pub access_token: Option<String>,
    pub access_expires_at: Option<Timestamp>,
    /// Set while a refresh request may be on the wire; still set after a crash
    /// means the server may have rotated the refresh token we no longer have.
    pub refresh_in_flight_since: Option<Timestamp>,
    pub updated_at: Timestamp,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |t: &Option<String>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("Tokens")
            .field("refresh_token", &redact(&self.refresh_token))
            .field("access_token", &redact(&self.access_token))
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_in_flight_since", &self.refresh_in_flight_since)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl Tx<'_> {
    /// The channel's tokens, if any were ever stored.
    pub fn tokens(&self, channel: &str) -> Result<Option<Tokens>> {
        let tokens = self.db.query_opt(
            "SELECT refresh_token, access_token, access_expires_at, refresh_in_flight_since, \
                 updated_at FROM tokens WHERE channel = ?1",
            params![channel],
            |r| {
                Ok(Tokens {
                    refresh_token: r.get(0)?,
                    access_token: r.get(1)?,
                    access_expires_at: r.get::<_, Option<Millis>>(2)?.map(|m| m.0),
                    refresh_in_flight_since: r.get::<_, Option<Millis>>(3)?.map(|m| m.0),
                    updated_at: r.get::<_, Millis>(4)?.0,
                })
            },
        )?;
        Ok(tokens)
    }

    /// `channel login`: a new refresh token; any access token and in-flight
    /// mark belonged to the old grant.
    pub fn store_login(&self, channel: &str, refresh_token: &str, at: Timestamp) -> Result<()> {
        self.db.execute(
            "INSERT INTO tokens (channel, refresh_token, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (channel) DO UPDATE SET refresh_token = excluded.refresh_token, \
                 access_token = NULL, access_expires_at = NULL, refresh_in_flight_since = NULL, \
                 updated_at = excluded.updated_at",
            params![channel, refresh_token, Millis(at)],
        )?;
        Ok(())
    }

    /// Commit this before the refresh request is sent, so a crash between
    /// the server rotating and us saving the reply can be told apart later.
    pub fn mark_refresh_in_flight(&self, channel: &str, at: Timestamp) -> Result<()> {
        self.db.execute(
            "INSERT INTO tokens (channel, refresh_in_flight_since, updated_at) \
                 VALUES (?1, ?2, ?2) \
                 ON CONFLICT (channel) DO UPDATE SET \
                 refresh_in_flight_since = excluded.refresh_in_flight_since",
            params![channel, Millis(at)],
        )?;
        Ok(())
    }

    /// Saves a token reply in one go: the access token, the rotated refresh
    /// token if the server sent one (else the old one stays), and clears the
    /// in-flight mark.
    pub fn save_token_reply(
        &self,
        channel: &str,
        access_token: &str,
        expires_at: Option<Timestamp>,
        rotated_refresh: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        self.db.execute(
            "INSERT INTO tokens (channel, refresh_token, access_token, access_expires_at, \
                 refresh_in_flight_since, updated_at) VALUES (?1, ?2, ?3, ?4, NULL, ?5) \
                 ON CONFLICT (channel) DO UPDATE SET \
                 refresh_token = coalesce(excluded.refresh_token, tokens.refresh_token), \
                 access_token = excluded.access_token, \
                 access_expires_at = excluded.access_expires_at, \
                 refresh_in_flight_since = NULL, updated_at = excluded.updated_at",
            params![
                channel,
                rotated_refresh,
                access_token,
                millis(expires_at),
                Millis(at)
            ],
        )?;
        Ok(())
    }

    /// The server answered definitely (e.g. `invalid_grant`): no rotation can
    /// be pending any more.
    pub fn clear_refresh_in_flight(&self, channel: &str) -> Result<()> {
        self.db.execute(
            "UPDATE tokens SET refresh_in_flight_since = NULL WHERE channel = ?1",
            params![channel],
        )?;
        Ok(())
    }

    /// Forgets the access token (e.g. the channel answered 401 with it).
    pub fn clear_access_token(&self, channel: &str) -> Result<()> {
        self.db.execute(
            "UPDATE tokens SET access_token = NULL, access_expires_at = NULL WHERE channel = ?1",
            params![channel],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::*;

    #[test]
    fn token_rotation_keeps_old_refresh_when_none() {
        let (_dir, store) = temp_store();
        let t0 = at("2026-01-01T00:00:00Z");
        let t1 = at("2026-01-01T00:10:00Z");
        let exp = at("2026-01-01T01:10:00Z");
        assert!(store.read(|tx| tx.tokens("shop")).unwrap().is_none());

        store.write(|tx| tx.store_login("shop", "r1", t0)).unwrap();
        store
            .write(|tx| tx.mark_refresh_in_flight("shop", t1))
            .unwrap();
        let tok = store.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tok.refresh_in_flight_since, Some(t1));
        assert_eq!(tok.refresh_token.as_deref(), Some("r1"));

        // No rotation: old refresh token stays.
        store
            .write(|tx| tx.save_token_reply("shop", "a1", Some(exp), None, t1))
            .unwrap();
        let tok = store.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tok.refresh_token.as_deref(), Some("r1"));
        assert_eq!(tok.access_token.as_deref(), Some("a1"));
        assert_eq!(tok.access_expires_at, Some(exp));
        assert_eq!(tok.refresh_in_flight_since, None);
        assert_eq!(tok.updated_at, t1);

        // Rotation replaces it.
        store
            .write(|tx| tx.save_token_reply("shop", "a2", None, Some("r2"), t1))
            .unwrap();
        let tok = store.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tok.refresh_token.as_deref(), Some("r2"));
        assert_eq!(tok.access_expires_at, None);

        store.write(|tx| tx.clear_access_token("shop")).unwrap();
        let tok = store.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(
            (tok.access_token, tok.refresh_token.as_deref()),
            (None, Some("r2"))
        );

        store
            .write(|tx| tx.mark_refresh_in_flight("shop", t1))
            .unwrap();
        store
            .write(|tx| tx.clear_refresh_in_flight("shop"))
            .unwrap();
        let tok = store.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tok.refresh_in_flight_since, None);

        // A new login clears access token and in-flight mark.
        store
            .write(|tx| {
                tx.save_token_reply("shop", "a3", Some(exp), None, t1)?;
                tx.mark_refresh_in_flight("shop", t1)?;
                tx.store_login("shop", "r9", t1)
            })
            .unwrap();
        let tok = store.read(|tx| tx.tokens("shop")).unwrap().unwrap();
        assert_eq!(tok.refresh_token.as_deref(), Some("r9"));
        assert_eq!(tok.access_token, None);
        assert_eq!(tok.access_expires_at, None);
        assert_eq!(tok.refresh_in_flight_since, None);

        // client_credentials: no login, the first reply creates the row.
        store
            .write(|tx| tx.mark_refresh_in_flight("cc", t0))
            .unwrap();
        store
            .write(|tx| tx.save_token_reply("cc", "a", Some(exp), None, t1))
            .unwrap();
        let tok = store.read(|tx| tx.tokens("cc")).unwrap().unwrap();
        assert_eq!(tok.refresh_token, None);
        assert_eq!(tok.access_token.as_deref(), Some("a"));
    }

    #[test]
    fn token_debug_hides_values() {
        let tokens = Tokens {
            refresh_token: Some("refresh-SECRET".into()),
            access_token: Some("access-SECRET".into()),
            access_expires_at: None,
            refresh_in_flight_since: None,
            updated_at: Timestamp::UNIX_EPOCH,
        };
        let debug = format!("{tokens:?} {tokens:#?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}
