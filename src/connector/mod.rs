//! Connectors: how the jobs talk to a channel's API. Each protocol is one
//! folder behind one seam, [`Connector`]: authenticate, fetch a page of
//! products, send a batch (upserts and deletions), and the channel's limits.
//! The capability list's `protocol` picks the connector ([`connect`]).
//!
//! Jobs and the runner see only this module's types and plain values. No
//! reqwest type crosses the seam: [`Url`] is the `url` crate's type (reqwest
//! re-exports it), and a [`ChannelError`]'s transport cause is a boxed
//! `std::error::Error`. No CLI wording crosses it either: an error says
//! what happened, and [`ChannelError::remedy`] says, as data, what can be
//! done; the CLI edge words it.
//!
//! A connector owns its wire format (unknown fields never fail a page; a
//! missing required field fails it, naming the field) and makes every
//! request through [`http::HttpClient`], which owns the rules all connectors
//! share: timeouts, retries with `Retry-After`, a replay rule chosen per
//! call, no redirect and no credential off the configured origin, body
//! limits, redacted excerpts. A connector knows nothing of the store, the
//! config files or scheduling, and never logs a secret.
//!
//! To add a platform: a new folder here implementing [`Connector`], one line
//! in [`PROTOCOLS`], one entry in `src/capabilities.toml`, and its tests.

pub mod beta_rest;
mod error;
pub mod http;
pub mod medusa;
pub mod oauth2;
pub mod pacing;
mod retry;
#[cfg(test)]
mod test_server;
mod url;
pub mod vendure;

use std::fmt;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::product::Product;

pub use self::http::{
    ChannelError, ClientOptions, CredentialKind, HttpClient, Remedy, Secret, Url, UrlSetting,
};
pub use self::oauth2::{Grant, TokenReply};
pub use self::pacing::RateLimit;
pub use self::url::{UrlError, check_parsed_url, check_url};

/// How a channel proves who we are. `oauth2` is the default when an `[auth]`
/// table names no method, so account files older than the method key work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// OAuth 2 token endpoint (refresh-token or client-credentials grant).
    #[default]
    Oauth2,
    /// User name and password exchanged for a session token (renewed by auth-refresh).
    Login,
    /// A long-lived API key sent with every request.
    ApiKey,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 3] = [AuthMethod::Oauth2, AuthMethod::Login, AuthMethod::ApiKey];

    /// The account file's (and the capability list's) name for the method.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Oauth2 => "oauth2",
            AuthMethod::Login => "login",
            AuthMethod::ApiKey => "api-key",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much one request to the channel may carry: the channel type's limits
/// from the capability list, lowered by the channel's own table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Products asked per import page.
    pub page_size: usize,
    /// Products (upserts plus deletions) per export request.
    pub batch_size: usize,
}

impl Limits {
    /// Refuses a batch larger than `batch_size`, before anything is sent.
    pub fn check_batch(&self, batch: &Batch<'_>) -> Result<(), ChannelError> {
        if batch.len() > self.batch_size {
            return Err(ChannelError::BatchTooLarge {
                count: batch.len(),
                limit: self.batch_size,
            });
        }
        Ok(())
    }
}

/// What a connector needs to reach one channel.
#[derive(Clone, Debug)]
pub struct Settings {
    pub base_url: Url,
    pub auth_method: AuthMethod,
    pub limits: Limits,
    pub options: ClientOptions,
    /// The platform's sales channel to use, when not its default.
    pub sales_channel_id: Option<String>,
    /// The platform's stock location to use, when not its default.
    pub stock_location_id: Option<String>,
}

/// The secret-bearing input of [`Connector::authenticate`]; never logged.
pub enum Authorization<'a> {
    Oauth2 {
        token_url: &'a Url,
        client_id: &'a str,
        client_secret: &'a str,
        grant: &'a Grant,
    },
    Login {
        username: &'a str,
        password: &'a str,
        /// A session token that is still valid, for platforms that renew one
        /// instead of logging in again.
        current: Option<&'a str>,
    },
    ApiKey {
        key: &'a str,
    },
}

impl fmt::Debug for Authorization<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authorization::Oauth2 {
                token_url, grant, ..
            } => f
                .debug_struct("Oauth2")
                .field("token_url", &token_url.as_str())
                .field("grant", grant)
                .finish_non_exhaustive(),
            Authorization::Login { username, .. } => f
                .debug_struct("Login")
                .field("username", username)
                .finish_non_exhaustive(),
            Authorization::ApiKey { .. } => f.write_str("ApiKey([redacted])"),
        }
    }
}

/// What authenticating gives: the credential product requests carry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Access token, session token, or (api-key) the key itself.
    pub access_token: String,
    /// Lifetime in seconds, counted from before the call.
    pub expires_in: Option<u64>,
    /// A rotated OAuth refresh token; `None` keeps the stored one.
    pub refresh_token: Option<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Which page of an import to fetch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest<'a> {
    /// The previous page's `next_cursor`; `None` for the first page.
    pub cursor: Option<&'a str>,
    /// Incremental import: products changed at or after this instant. The
    /// connector may ask for a little more (an overlap window) where the
    /// platform's timestamps are coarser than the stored ones.
    pub since: Option<Timestamp>,
}

/// One page of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    /// The products read; the import job checks each by the catalog's rules
    /// ([`Product::check`]) and skips, by name, those that break one.
    pub products: Vec<Product>,
    /// Cursor of the next page; `None` ends the import.
    pub next_cursor: Option<String>,
    /// Platform items left out because they cannot be catalog products.
    pub skipped: Vec<Skipped>,
}

/// A platform item an import leaves out, and why. A bad item never fails
/// its page: the import counts it, names it in its summary, and goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// No SKU, so the catalog cannot key it: counted.
    NoSku,
    /// No price in `currency`, the one the channel imports prices in: counted.
    NoPrice { currency: String },
    /// A value the catalog refuses (a price by the price rule, a quantity, a
    /// timestamp): named with the reason.
    Refused { sku: String, reason: String },
}

/// One export request: products to create or update, SKUs to delete.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batch<'a> {
    pub upserts: &'a [Product],
    pub deletions: &'a [String],
}

impl Batch<'_> {
    pub fn len(&self) -> usize {
        self.upserts.len() + self.deletions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the channel did with one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ItemResult {
    pub sku: String,
    pub status: ItemStatus,
    #[serde(default)]
    pub error: Option<String>,
}

/// Per-item outcome of an export batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Created,
    Updated,
    Unchanged,
    Deleted,
    Error,
}

impl ItemStatus {
    /// The protocol's (and the store's) name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Created => "created",
            ItemStatus::Updated => "updated",
            ItemStatus::Unchanged => "unchanged",
            ItemStatus::Deleted => "deleted",
            ItemStatus::Error => "error",
        }
    }
}

/// One channel's API, as the jobs see it. Futures need not be `Send`: the
/// runner drives every channel on one thread.
#[async_trait(?Send)]
pub trait Connector {
    /// The limits the connector keeps to.
    fn limits(&self) -> Limits;

    /// Gets a credential (OAuth token, session) or, for an API key, checks
    /// that the channel still accepts it. A method the connector lacks is
    /// [`ChannelError::UnsupportedAuth`]; the capability list's `auth` keeps
    /// such a channel from being configured.
    async fn authenticate(&self, auth: Authorization<'_>) -> Result<Credential, ChannelError>;

    /// One page of the channel's products. `access` is the credential's
    /// `access_token`; a rejected one is [`ChannelError::Unauthorized`].
    async fn fetch_page(
        &self,
        access: &str,
        request: PageRequest<'_>,
    ) -> Result<ProductPage, ChannelError>;

    /// Creates or updates `batch.upserts` and deletes `batch.deletions`
    /// (at most `limits().batch_size` items in all), one result per item.
    /// Resending a batch must be harmless: export resends after a crash.
    async fn send_batch(
        &self,
        access: &str,
        batch: Batch<'_>,
    ) -> Result<Vec<ItemResult>, ChannelError>;
}

type Constructor = fn(Settings) -> Result<Box<dyn Connector>, ChannelError>;

/// Every built-in protocol and how to connect to it.
pub const PROTOCOLS: &[(&str, Constructor)] = &[
    ("beta-rest", beta_rest::connect),
    ("vendure-admin", vendure::connect),
    (medusa::PROTOCOL, medusa::connect),
];

/// The connector for `protocol` (a capability type's `protocol`).
pub fn connect(protocol: &str, settings: Settings) -> Result<Box<dyn Connector>, ChannelError> {
    let (_, constructor) = PROTOCOLS
        .iter()
        .find(|(name, _)| *name == protocol)
        .ok_or_else(|| {
            ChannelError::Options(format!(
                "unknown protocol `{protocol}`: known protocols are {}",
                protocol_names()
            ))
        })?;
    constructor(settings)
}

/// "beta-rest, vendure-admin, ...", for messages.
pub fn protocol_names() -> String {
    PROTOCOLS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn is_known_protocol(protocol: &str) -> bool {
    PROTOCOLS.iter().any(|(name, _)| *name == protocol)
}
