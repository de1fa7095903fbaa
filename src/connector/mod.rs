//! Connectors: how the jobs talk to a channel's API. Each protocol is one
//! folder behind one seam, [`Connector`]: authenticate, fetch a page of
//! whole products, send a batch (products to write with the fields the
//! channel owns, deletions of products or variants), reconcile what an
//! interrupted run left (through the write [`Journal`]), and the channel's
//! limits.
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

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::{FieldSet, Product, derive_handle};
use crate::price::Currency;

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
    /// Items (products to write plus deletions) per export request.
    pub batch_size: usize,
    /// The most bytes one export request may carry (capability
    /// `max-request-bytes`); `None`: no limit but the count. The export job
    /// cuts batches to it with [`Connector::request_bytes`], and an item too
    /// large alone is refused for its product without being sent.
    pub max_request_bytes: Option<usize>,
    /// Import pages asked for at once (capability `concurrency`), where the
    /// connector knows the next page's cursor before the page comes back
    /// ([`Connector::cursor_after`]); 1 is one page at a time.
    pub concurrency: usize,
}

impl Limits {
    /// Refuses a batch of more than `batch_size` items, before anything is sent.
    pub fn check_batch(&self, batch: &ExportBatch<'_>) -> Result<(), ChannelError> {
        self.check_count(batch.len())
    }

    /// Refuses a request of more than `batch_size` items (stock levels,
    /// SKUs to read), before anything is sent.
    pub fn check_count(&self, count: usize) -> Result<(), ChannelError> {
        if count > self.batch_size {
            return Err(ChannelError::BatchTooLarge {
                count,
                limit: self.batch_size,
            });
        }
        Ok(())
    }
}

/// Catalog location name -> the platform's stock location id
/// (`[channels.x.locations]`). Empty: the platform's default location takes
/// the catalog's location `default`.
pub type LocationMap = BTreeMap<String, String>;

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
    /// Where the catalog's stock locations are on the platform.
    pub locations: LocationMap,
    /// The facet codes of categories and tags, when not the platform's
    /// defaults (Vendure).
    pub category_facet: Option<String>,
    pub tag_facet: Option<String>,
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
    /// Whole products (all their variants); the import job checks each by
    /// the catalog's rules ([`Product::check`]) and skips, by name, those
    /// that break one.
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
    /// timestamp): named with the reason. `key` is what the summary names
    /// (a SKU, or a handle for a product-level problem); `handle` is the
    /// product's, which a complete import keeps (it is still on the master).
    Refused {
        key: String,
        handle: String,
        reason: String,
    },
}

impl Skipped {
    /// A refused item of a platform that the catalog knows by its SKU alone
    /// (a flat product: its handle is derived from the SKU).
    pub fn refused_sku(sku: String, reason: String) -> Skipped {
        Skipped::Refused {
            handle: derive_handle(&sku),
            key: sku,
            reason,
        }
    }
}

/// A platform's ids for the parts of products, by kind (`product`,
/// `variant`, `inventory-item`, `asset`, ...) and key (a handle, a SKU, a
/// URL, ...). The store keeps them per channel; connectors get the ones it
/// holds ([`ExportItem::known`]) and give the ones they learn
/// ([`ItemResult::ids`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlatformIds(BTreeMap<(String, String), String>);

impl PlatformIds {
    pub const fn new() -> PlatformIds {
        PlatformIds(BTreeMap::new())
    }

    /// A product's id, keyed by its handle.
    pub const PRODUCT: &'static str = "product";
    /// A variant's id, keyed by its SKU.
    pub const VARIANT: &'static str = "variant";

    pub fn get(&self, kind: &str, key: &str) -> Option<&str> {
        self.0
            .get(&(kind.to_string(), key.to_string()))
            .map(String::as_str)
    }

    pub fn insert(&mut self, kind: &str, key: &str, id: impl Into<String>) {
        self.0
            .insert((kind.to_string(), key.to_string()), id.into());
    }

    pub fn product(&self, handle: &str) -> Option<&str> {
        self.get(Self::PRODUCT, handle)
    }

    pub fn variant(&self, sku: &str) -> Option<&str> {
        self.get(Self::VARIANT, sku)
    }

    /// `(kind, key, id)`, ordered by kind and key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.0
            .iter()
            .map(|((kind, key), id)| (kind.as_str(), key.as_str(), id.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Adds `other`'s ids, replacing those of the same kind and key.
    pub fn extend(&mut self, other: &PlatformIds) {
        for (k, v) in &other.0 {
            self.0.insert(k.clone(), v.clone());
        }
    }
}

impl FromIterator<(String, String, String)> for PlatformIds {
    fn from_iter<I: IntoIterator<Item = (String, String, String)>>(iter: I) -> PlatformIds {
        PlatformIds(
            iter.into_iter()
                .map(|(kind, key, id)| ((kind, key), id))
                .collect(),
        )
    }
}

/// `[{"kind": "variant", "key": "TS-S", "id": "v1"}, ...]`.
impl Serialize for PlatformIds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Entry<'a> {
            kind: &'a str,
            key: &'a str,
            id: &'a str,
        }
        serializer.collect_seq(self.iter().map(|(kind, key, id)| Entry { kind, key, id }))
    }
}

/// One product to write: the desired product, whole, and what the export
/// may change of it.
#[derive(Clone, Copy, Debug)]
pub struct ExportItem<'a> {
    pub product: &'a Product,
    /// The fields this channel's export owns: an update of an existing
    /// product writes only these; a create sends everything.
    pub fields: FieldSet,
    /// The ids the store holds for this product on this channel.
    pub known: &'a PlatformIds,
    pub locations: &'a LocationMap,
}

/// Something to delete on the channel: a whole product, or some of its
/// variants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub handle: String,
    /// The ids the store holds for it on this channel.
    pub known: PlatformIds,
    /// The whole product (it left the catalog); else only `skus`.
    pub whole_product: bool,
    /// The variants to delete; for a whole product, the variants the
    /// channel holds of it (as far as the store knows).
    pub skus: Vec<String>,
}

/// One export request: products to write, things to delete.
#[derive(Clone, Debug, Default)]
pub struct ExportBatch<'a> {
    pub items: Vec<ExportItem<'a>>,
    pub deletions: Vec<Deletion>,
}

impl ExportBatch<'_> {
    pub fn len(&self) -> usize {
        self.items.len() + self.deletions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the channel did with one item (a product written, or a deletion),
/// by handle: one result per handle of a batch's items and deletions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    pub handle: String,
    pub status: ItemStatus,
    /// Ids the platform gave (for the product and its variants); the store
    /// records them for the channel.
    pub ids: PlatformIds,
    /// Currencies the channel does not accept: those prices were left out
    /// (the export job reports them once per run).
    pub dropped_currencies: Vec<Currency>,
    /// Variants the channel refused while taking the rest, with why.
    pub variant_errors: Vec<(String, String)>,
}

impl ItemResult {
    pub fn new(handle: impl Into<String>, status: ItemStatus) -> ItemResult {
        ItemResult {
            handle: handle.into(),
            status,
            ids: PlatformIds::default(),
            dropped_currencies: Vec::new(),
            variant_errors: Vec::new(),
        }
    }
}

/// Per-item outcome of an export batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemStatus {
    Created,
    Updated,
    Unchanged,
    Deleted,
    /// Refused for this item alone, with the channel's reason.
    Error(String),
}

impl ItemStatus {
    /// The protocol's (and the store's) name for the status.
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemStatus::Created => "created",
            ItemStatus::Updated => "updated",
            ItemStatus::Unchanged => "unchanged",
            ItemStatus::Deleted => "deleted",
            ItemStatus::Error(_) => "error",
        }
    }
}

/// One stock level to set on a channel: what it may sell of `sku` at the
/// catalog's `location` (mapped to the platform's through
/// `[channels.x.locations]` by the connector). Absolute, never a delta, so
/// sending it twice is harmless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockSet {
    pub sku: String,
    /// The catalog's location name.
    pub location: String,
    pub available: i64,
}

/// A stock level as the channel holds it, at a catalog location (reconcile
/// compares it with what was last sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockReading {
    pub sku: String,
    /// The catalog's location name (the platform's id mapped back).
    pub location: String,
    pub quantity: i64,
}

/// What became of one [`StockSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockOutcome {
    /// The channel now holds the level.
    Set,
    /// The channel has no variant with this SKU: stock export never
    /// creates one; the job counts and names it.
    UnknownSku,
    /// The location is not mapped for this channel, or the platform has no
    /// such location.
    UnknownLocation,
    /// The channel refused the level, saying why.
    Refused(String),
}

/// The id of a write intent in the store's journal.
pub type IntentId = i64;

/// The write journal (shop safety): a connector records an intent before
/// each call that is not safe to repeat (a create), and the platform ids as
/// they arrive; the export job keeps them in the store. Each call is durable
/// when it returns, so a run that dies after a create leaves the next run
/// the intent and whatever ids came back. An intent not [`Journal::done`]
/// stays open until a [`Connector::reconcile`] settles it.
pub trait Journal {
    /// Before a create of (parts of) product `handle` carrying `skus`;
    /// `action` names the step (`create-product`, `create-variants`, ...).
    fn intent(&self, handle: &str, action: &str, skus: &[String])
    -> Result<IntentId, ChannelError>;
    /// Ids the platform gave for what `intent` creates.
    fn ids(&self, intent: IntentId, ids: &PlatformIds) -> Result<(), ChannelError>;
    /// The intent's calls all came back: nothing of it is left to repair.
    fn done(&self, intent: IntentId) -> Result<(), ChannelError>;
}

/// An intent left open by an earlier run (or this one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIntent {
    pub id: IntentId,
    pub handle: String,
    pub action: String,
    pub skus: Vec<String>,
    /// The ids recorded for it so far.
    pub ids: PlatformIds,
    pub started_at: Timestamp,
}

/// What a reconcile found for one open intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub intent: IntentId,
    /// Ids to keep for the intent's product (what it adopted).
    pub ids: PlatformIds,
    /// SKUs the channel holds twice through no doing of the tool, with
    /// both ids: a rejection per SKU.
    pub rejections: Vec<(String, String)>,
    /// Nothing of the intent is left to repair. The job closes it only if
    /// the reconcile ran at least `settle` after the intent started.
    pub settled: bool,
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

    /// Whether an interrupted incremental listing (`since` given) may go on
    /// from its saved cursor. A cursor that is an offset into the products
    /// changed since `since` is not: a product changed while the import was
    /// stopped joins that set, shifts what follows, and may fall before the
    /// offset, unseen; such an import starts its (short) listing again.
    fn resumes_incremental_listings(&self) -> bool {
        true
    }

    /// The cursor of the page after the page at `cursor`, when it is known
    /// before that page comes back (offset paging: the offset plus the page
    /// size); `None` (the default) when only the page can tell (a cursor
    /// the platform hands out, a keyset). The import job asks for up to
    /// `limits().concurrency` pages along these at once, and takes a page
    /// only when the page before it named that same cursor as its
    /// `next_cursor`: a guess the listing proves wrong (a short page, a
    /// phase's end) is dropped and asked for again from the real cursor.
    fn cursor_after(&self, _cursor: Option<&str>, _since: Option<Timestamp>) -> Option<String> {
        None
    }

    /// About how many bytes `item` adds to an export request, for cutting
    /// batches to `max-request-bytes`. The default is the product's JSON.
    fn request_bytes(&self, item: &ExportItem<'_>) -> usize {
        item.product.to_json().len()
    }

    /// Writes `batch.items` and carries out `batch.deletions` (at most
    /// `limits().batch_size` in all), one result per item and deletion.
    /// An update reads what the platform holds and writes only the changed
    /// fields of `item.fields`; a create sends the whole product. Every
    /// create that is not safe to repeat is journalled first
    /// ([`Journal::intent`]). Resending a batch must be harmless.
    async fn send_batch(
        &self,
        access: &str,
        batch: &ExportBatch<'_>,
        journal: &dyn Journal,
    ) -> Result<Vec<ItemResult>, ChannelError>;

    /// Repairs what open intents may have left (finish or delete a
    /// half-made product, remove what the tool made twice, adopt what was
    /// made) and says which are settled. The default, for platforms whose
    /// batch is atomic and keyed (beta-rest), settles every intent.
    async fn reconcile(
        &self,
        _access: &str,
        open: &[OpenIntent],
        _journal: &dyn Journal,
    ) -> Result<Vec<Resolution>, ChannelError> {
        Ok(open
            .iter()
            .map(|intent| Resolution {
                intent: intent.id,
                ids: PlatformIds::default(),
                rejections: Vec::new(),
                settled: true,
            })
            .collect())
    }

    /// Sets `levels` (at most `limits().batch_size`) on the channel's
    /// variants, one outcome per level in order. Never creates a product or
    /// a variant, and never touches what the platform reserves for its own
    /// orders. The default is for platforms that cannot take stock alone:
    /// their capability type offers no `export-stock` period.
    async fn send_stock(
        &self,
        _access: &str,
        _levels: &[StockSet],
    ) -> Result<Vec<StockOutcome>, ChannelError> {
        Err(ChannelError::Unsupported {
            what: "export stock on its own",
        })
    }

    /// The levels the channel holds for `skus` (at most
    /// `limits().batch_size`) at the mapped locations; a SKU the channel
    /// lacks has no reading.
    async fn read_stock(
        &self,
        _access: &str,
        _skus: &[String],
    ) -> Result<Vec<StockReading>, ChannelError> {
        Err(ChannelError::Unsupported {
            what: "read stock levels",
        })
    }
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
