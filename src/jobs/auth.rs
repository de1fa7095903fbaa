//! Channel authorization: the auth-refresh job (OAuth refresh, login
//! renewal, API key check) and the credential the product jobs use. Refresh-token rotation makes this the one place where a
//! crash can lose something, so the order of steps matters (see
//! engineering-notes: refresh under a per-channel lock after re-reading the
//! store; mark the refresh in flight; commit a rotated token before use).

use anyhow::{Context as _, Result};
use jiff::{SignedDuration, Timestamp};

use super::{ChannelRun, read_secret};
use crate::config::{AuthSpec, GrantKind};
use crate::connector::{AuthMethod, Authorization, ChannelError, Grant, Remedy, Url, check_url};
use crate::crash;
use crate::error::{ErrorKind, Failure, Hint as _, KindContext as _};
use crate::store::{RunId, lock};

/// Access tokens this close to expiry are refreshed before use.
const EXPIRY_MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// Renews the channel's authorization by its method: an OAuth refresh, a
/// login, or a check that the API key is still accepted. With `run`, the
/// auth-refresh job's success is recorded in the same transaction as the new
/// tokens. Returns the credential product requests carry.
pub async fn refresh(ch: &ChannelRun, run: Option<RunId>) -> Result<String> {
    let auth = ch.channel.auth.as_ref().ok_or_else(|| {
        Failure::config(format!("channel `{}` has no [auth] table", ch.channel_id))
    })?;
    let spec = auth.spec().ok_or_else(|| {
        Failure::config(format!(
            "channel `{}`: the [auth] table lacks what method `{}` needs (run `oms-channels validate`)",
            ch.channel_id,
            auth.method()
        ))
    })?;
    match spec {
        AuthSpec::Oauth2 {
            token_url,
            grant,
            client_id,
            client_secret,
        } => {
            let secret = read_secret(&client_secret, auth.secret_name())?;
            let token_url =
                check_url(token_url).kind_context(ErrorKind::Config, "auth.token-url")?;
            refresh_oauth2(ch, run, &token_url, grant, client_id, &secret).await
        }
        AuthSpec::Login { username, password } => {
            let password = read_secret(&password, auth.secret_name())?;
            renew_login(ch, run, username, &password).await
        }
        AuthSpec::ApiKey { key } => {
            let key = read_secret(&key, auth.secret_name())?;
            ch.connector
                .authenticate(Authorization::ApiKey { key: &key })
                .await
                .map_err(|err| ch.explain(err))?;
            if let Some(run) = run {
                ch.store.write(|tx| {
                    tx.finish_success(run, Timestamp::now(), 0, Some("API key accepted"))
                })?;
            }
            Ok(key)
        }
    }
}

/// Takes the channel's token lock, so that two runs never renew one
/// channel's authorization at once (a rotated refresh token would be
/// replayed by the second).
async fn lock_tokens(ch: &ChannelRun) -> Result<lock::ChannelLock> {
    let (store, account, channel) = (
        ch.store_spec.clone(),
        ch.account.clone(),
        ch.channel_id.clone(),
    );
    tokio::task::spawn_blocking(move || lock::lock_channel_tokens(&store, &account, &channel))
        .await
        .context("token lock task failed")?
        .context("cannot take the channel's token lock")
}

/// A login method: renew the stored session while it is valid (where the
/// platform can), else log in again; the new session is stored with the job's
/// success.
async fn renew_login(
    ch: &ChannelRun,
    run: Option<RunId>,
    username: &str,
    password: &str,
) -> Result<String> {
    let _lock = lock_tokens(ch).await?;
    let stored = ch.store.read(|tx| tx.tokens(&ch.channel_id))?;
    let current = stored.as_ref().and_then(|t| {
        let valid = t
            .access_expires_at
            .is_none_or(|at| at > Timestamp::now() + EXPIRY_MARGIN);
        t.access_token.clone().filter(|_| valid)
    });
    let sent_at = Timestamp::now();
    let credential = ch
        .connector
        .authenticate(Authorization::Login {
            username,
            password,
            current: current.as_deref(),
        })
        .await
        .map_err(|err| ch.explain(err))?;
    let expires_at = expiry(sent_at, credential.expires_in);
    ch.store.write(|tx| {
        tx.save_token_reply(
            &ch.channel_id,
            &credential.access_token,
            expires_at,
            None,
            Timestamp::now(),
        )?;
        if let Some(run) = run {
            tx.finish_success(run, Timestamp::now(), 0, Some("session renewed"))?;
        }
        Ok(())
    })?;
    Ok(credential.access_token)
}

fn expiry(sent_at: Timestamp, expires_in: Option<u64>) -> Option<Timestamp> {
    expires_in.and_then(|secs| {
        sent_at
            .checked_add(SignedDuration::from_secs(secs.min(i64::MAX as u64) as i64))
            .ok()
    })
}

/// OAuth 2: the refresh-token or client-credentials grant, with rotation
/// safety (see the module comment).
async fn refresh_oauth2(
    ch: &ChannelRun,
    run: Option<RunId>,
    token_url: &Url,
    grant_kind: GrantKind,
    client_id: &str,
    secret: &str,
) -> Result<String> {
    let _lock = lock_tokens(ch).await?;
    let stored = ch.store.read(|tx| tx.tokens(&ch.channel_id))?;
    let interrupted_since = stored.as_ref().and_then(|t| t.refresh_in_flight_since);
    let grant = match grant_kind {
        GrantKind::ClientCredentials => Grant::ClientCredentials,
        GrantKind::RefreshToken => {
            let token = stored
                .as_ref()
                .and_then(|t| t.refresh_token.clone())
                .ok_or_else(|| {
                    anyhow::Error::from(Failure::config(format!(
                        "no refresh token stored for channel `{}`",
                        ch.channel_id
                    )))
                    .hint(super::hint(
                        &Remedy::Login,
                        &ch.account,
                        &ch.channel_id,
                        &ch.channel,
                    ))
                })?;
            Grant::RefreshToken(token)
        }
    };

    let sent_at = Timestamp::now();
    ch.store
        .write(|tx| tx.mark_refresh_in_flight(&ch.channel_id, sent_at))?;
    crash::point("before-token-request");
    let reply = ch
        .connector
        .authenticate(Authorization::Oauth2 {
            token_url,
            client_id,
            client_secret: secret,
            grant: &grant,
        })
        .await;
    crash::point("after-token-reply");
    match reply {
        Ok(reply) => {
            let expires_at = expiry(sent_at, reply.expires_in);
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
            let login = super::hint(&Remedy::Login, &ch.account, &ch.channel_id, &ch.channel);
            let message = match interrupted_since {
                Some(since) => format!(
                    "the channel rejected the stored refresh token (invalid_grant{description}). A token refresh started at {since} was interrupted before its reply was stored: the channel most likely rotated the refresh token then, and the new one was lost"
                ),
                None => format!(
                    "the channel rejected the stored refresh token (invalid_grant{description})"
                ),
            };
            Err(anyhow::Error::from(Failure::new(ErrorKind::Channel, message)).hint(login))
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
    if let Some(auth) = ch
        .channel
        .auth
        .as_ref()
        .filter(|a| a.method() == AuthMethod::ApiKey)
    {
        // The key itself is the credential; it is never copied into the store.
        let source = auth
            .secret_source()
            .ok_or_else(|| Failure::config("no API key source is configured"))?;
        return read_secret(&source, auth.secret_name());
    }
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
    /// One token for every request of the job: pages in flight at once
    /// wait for the first to fetch it, and the first to see it refused
    /// refreshes it for all.
    token: tokio::sync::Mutex<Option<String>>,
}

impl<'a> Access<'a> {
    pub fn new(ch: &'a ChannelRun) -> Access<'a> {
        Access {
            ch,
            token: tokio::sync::Mutex::new(None),
        }
    }

    pub async fn call<T>(
        &self,
        request: impl AsyncFn(&str) -> Result<T, ChannelError>,
    ) -> Result<T> {
        let ch = self.ch;
        let token = {
            let mut cached = self.token.lock().await;
            match &*cached {
                Some(token) => token.clone(),
                None => {
                    let token = access_token(ch, false).await?;
                    *cached = Some(token.clone());
                    token
                }
            }
        };
        let api_key = ch
            .channel
            .auth
            .as_ref()
            .is_some_and(|a| a.method() == AuthMethod::ApiKey);
        match request(&token).await {
            Err(ChannelError::Unauthorized { .. }) if !api_key => {
                let token = {
                    let mut cached = self.token.lock().await;
                    match &*cached {
                        // Another request of the job refreshed it already.
                        Some(newer) if *newer != token => newer.clone(),
                        _ => {
                            tracing::info!(channel = %ch.channel_id, "access token rejected (401); refreshing once");
                            let token = access_token(ch, true).await?;
                            *cached = Some(token.clone());
                            token
                        }
                    }
                };
                request(&token).await.map_err(|err| ch.explain(err))
            }
            other => other.map_err(|err| ch.explain(err)),
        }
    }
}
