//! OAuth token handling: the auth-refresh job and the access token the
//! product jobs use. Refresh-token rotation makes this the one place where a
//! crash can lose something, so the order of steps matters (see
//! engineering-notes: refresh under a per-channel lock after re-reading the
//! store; mark the refresh in flight; commit a rotated token before use).

use std::cell::RefCell;

use anyhow::{Context as _, Result, anyhow};
use jiff::{SignedDuration, Timestamp};

use super::{ChannelRun, read_secret};
use crate::channel::{ChannelError, Grant, check_url};
use crate::config::GrantKind;
use crate::crash;
use crate::store::{RunId, lock};

/// Access tokens this close to expiry are refreshed before use.
const EXPIRY_MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// Refreshes the channel's tokens. With `run`, the auth-refresh job's success
/// is recorded in the same transaction as the new tokens.
pub async fn refresh(ch: &ChannelRun, run: Option<RunId>) -> Result<String> {
    let auth = ch
        .channel
        .auth
        .as_ref()
        .with_context(|| format!("channel `{}` has no [auth] table", ch.channel_id))?;
    let token_url = check_url(&auth.token_url).context("auth.token-url")?;
    let source = auth
        .secret_source()
        .context("no client secret source is configured")?;
    let secret = read_secret(&source)?;

    let (data_dir, account, channel) = (
        ch.data_dir.clone(),
        ch.account.clone(),
        ch.channel_id.clone(),
    );
    let _lock = tokio::task::spawn_blocking(move || {
        lock::lock_channel_tokens(&data_dir, &account, &channel)
    })
    .await
    .context("token lock task failed")?
    .context("cannot take the channel's token lock")?;

    let stored = ch.store.read(|tx| tx.tokens(&ch.channel_id))?;
    let interrupted_since = stored.as_ref().and_then(|t| t.refresh_in_flight_since);
    let grant = match auth.grant {
        GrantKind::ClientCredentials => Grant::ClientCredentials,
        GrantKind::RefreshToken => {
            let token = stored.as_ref().and_then(|t| t.refresh_token.clone()).ok_or_else(|| {
                anyhow!(
                    "no refresh token stored for channel `{}`: run `printf %s \"$REFRESH_TOKEN\" | oms-channels --account {} channel login {}`",
                    ch.channel_id,
                    ch.account,
                    ch.channel_id
                )
            })?;
            Grant::RefreshToken(token)
        }
    };

    let sent_at = Timestamp::now();
    ch.store
        .write(|tx| tx.mark_refresh_in_flight(&ch.channel_id, sent_at))?;
    crash::point("before-token-request");
    let reply = ch
        .client
        .request_token(&token_url, &auth.client_id, &secret, &grant)
        .await;
    crash::point("after-token-reply");
    match reply {
        Ok(reply) => {
            let expires_at = reply.expires_in.and_then(|secs| {
                sent_at
                    .checked_add(SignedDuration::from_secs(secs.min(i64::MAX as u64) as i64))
                    .ok()
            });
            ch.store.write(|tx| {
                tx.save_token_reply(
                    &ch.channel_id,
                    &reply.access_token,
                    expires_at,
                    reply.refresh_token.as_deref(),
                    Timestamp::now(),
                )?;
                if let Some(run) = run {
                    let detail = match reply.refresh_token {
                        Some(_) => "token refreshed; refresh token rotated",
                        None => "token refreshed",
                    };
                    tx.finish_success(run, Timestamp::now(), 0, Some(detail))?;
                }
                Ok(())
            })?;
            crash::point("after-token-commit");
            Ok(reply.access_token)
        }
        Err(ChannelError::InvalidGrant { description }) => {
            ch.store
                .write(|tx| tx.clear_refresh_in_flight(&ch.channel_id))?;
            let description = description.map(|d| format!(": {d}")).unwrap_or_default();
            let login = format!(
                "store a fresh refresh token with `oms-channels --account {} channel login {}`",
                ch.account, ch.channel_id
            );
            Err(match interrupted_since {
                Some(since) => anyhow!(
                    "the channel rejected the stored refresh token (invalid_grant{description}). A token refresh started at {since} was interrupted before its reply was stored: the channel most likely rotated the refresh token then, and the new one was lost. {login}"
                ),
                None => anyhow!(
                    "the channel rejected the stored refresh token (invalid_grant{description}); {login}"
                ),
            })
        }
        Err(err @ ChannelError::TokenOutcomeUnknown { .. }) => {
            // Keep the in-flight mark: the server may have rotated the token.
            Err(ch.explain(err))
        }
        Err(err) => {
            ch.store
                .write(|tx| tx.clear_refresh_in_flight(&ch.channel_id))?;
            Err(ch.explain(err))
        }
    }
}

/// A usable access token: the stored one if it is not about to expire,
/// otherwise (or with `force`) a fresh one.
pub async fn access_token(ch: &ChannelRun, force: bool) -> Result<String> {
    if !force {
        let stored = ch.store.read(|tx| tx.tokens(&ch.channel_id))?;
        if let Some(tokens) = stored
            && let Some(access) = tokens.access_token
        {
            let fresh = tokens
                .access_expires_at
                .is_none_or(|at| at > Timestamp::now() + EXPIRY_MARGIN);
            if fresh {
                return Ok(access);
            }
        }
    }
    refresh(ch, None).await
}

/// The access token of one product job. It is read once, not per request:
/// an import's page saves hold the store while the next page is fetched, and a
/// store read per request would wait for them. On 401 the token is refreshed
/// once and the request retried once.
pub struct Access<'a> {
    ch: &'a ChannelRun,
    token: RefCell<Option<String>>,
}

impl<'a> Access<'a> {
    pub fn new(ch: &'a ChannelRun) -> Access<'a> {
        Access {
            ch,
            token: RefCell::new(None),
        }
    }

    pub async fn call<T>(
        &self,
        request: impl AsyncFn(&str) -> Result<T, ChannelError>,
    ) -> Result<T> {
        let ch = self.ch;
        let cached = self.token.borrow().clone();
        let token = match cached {
            Some(token) => token,
            None => {
                let token = access_token(ch, false).await?;
                *self.token.borrow_mut() = Some(token.clone());
                token
            }
        };
        match request(&token).await {
            Err(ChannelError::Unauthorized { .. }) => {
                tracing::info!(channel = %ch.channel_id, "access token rejected (401); refreshing once");
                let token = access_token(ch, true).await?;
                *self.token.borrow_mut() = Some(token.clone());
                request(&token).await.map_err(|err| ch.explain(err))
            }
            other => other.map_err(|err| ch.explain(err)),
        }
    }
}
