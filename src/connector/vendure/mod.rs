//! The Vendure connector (protocol `vendure-admin`): Vendure's GraphQL Admin
//! API over the shared [`crate::connector::http::HttpClient`], with every
//! operation checked at build time against the committed `schema.graphql` by
//! cynic (chosen over graphql_client for its code-first fragments: the Rust
//! types are the selection, so a query cannot drift from the types that
//! decode it).
//!
//! It owns the wire format and the mapping of whole products (options,
//! variants, prices per currency); it knows nothing of the store, the
//! config files or scheduling, and never logs a token, password or key.
//!
//! - [`client`]: one GraphQL exchange: credential, replay rule, errors in a 200.
//! - [`import`]: `productVariants` pages, the incremental cursor, their products read whole.
//! - [`export`]: look-up, diffed update / journalled create / delete, reconcile.
//! - [`mapping`]: Vendure product <-> catalog product, both ways.
//! - `facets`: categories and tags as facet values, found or created per batch.
//! - `assets`: images as uploaded assets named by their source URL, found or uploaded per batch.
//! - `attributes`: attributes as JSON in a custom field the channel names.
//! - [`money`]: integer minor units by ISO 4217 exponent, never a float.
//! - `stock`: stock export's absolute on-hand levels per mapped location,
//!   and their read-back.

mod assets;
pub mod attributes;
pub mod client;
pub mod export;
mod facets;
pub mod import;
pub mod mapping;
pub mod money;
mod stock;
mod wire;

#[cfg(test)]
mod tests;

use cynic::{MutationBuilder, QueryBuilder};

pub use self::client::{Credential, Replay, VendureClient};
pub use self::import::{PageCursor, VariantPage};
use self::wire::{AdminApiCheck, Login, LoginVariables, NativeAuthenticationResult};
pub use crate::connector::{ChannelError, ClientOptions};

/// Logs in with `login(username, password)` and returns the session token
/// from the `vendure-auth-token` header (Vendure has no refresh token: a new
/// session is a new login).
pub async fn login(
    client: &VendureClient,
    username: &str,
    password: &str,
) -> Result<String, ChannelError> {
    let operation = Login::build(LoginVariables { username, password });
    let body = client::operation_body(&operation)?;
    // A login opens a session and changes nothing else: safe to send again.
    let reply = client
        .exchange("login", Credential::None, &body, &[password], Replay::Safe)
        .await?;
    let data: Login = client.decode("login", Credential::None, &reply)?;
    let refused = |code: &wire::ErrorCode, message: &str| ChannelError::LoginRefused {
        url: reply.shown_url(),
        username: username.to_string(),
        message: format!("{}: {}", code.as_str(), reply.excerpt(message.as_bytes())),
    };
    match data.login {
        NativeAuthenticationResult::CurrentUser(_) => reply
            .header(client::SESSION_TOKEN_HEADER)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ChannelError::Malformed {
                url: reply.shown_url(),
                what: format!(
                    "Vendure accepted the login but sent no `{}` header: is `authOptions.tokenMethod` set to include \"bearer\"?",
                    client::SESSION_TOKEN_HEADER
                ),
                excerpt: String::new(),
            }),
        NativeAuthenticationResult::InvalidCredentialsError(e) => {
            Err(refused(&e.error_code, &e.message))
        }
        NativeAuthenticationResult::NativeAuthStrategyError(e) => {
            Err(refused(&e.error_code, &e.message))
        }
        NativeAuthenticationResult::Unknown => Err(ChannelError::Malformed {
            url: reply.shown_url(),
            what: "`login` answered a result type the connector does not know".into(),
            excerpt: String::new(),
        }),
    }
}

/// Checks that `credential` is accepted (an API key, or a session that may
/// have expired) by the Admin API for reading the catalog: the active
/// channel and one variant. Returns the channel's default currency.
pub async fn check_credential(
    client: &VendureClient,
    credential: Credential<'_>,
) -> Result<String, ChannelError> {
    let operation = AdminApiCheck::build(());
    let reply = client
        .run::<AdminApiCheck, _>("activeChannel", credential, &operation, Replay::Safe)
        .await?;
    Ok(reply
        .active_channel
        .default_currency_code
        .as_str()
        .to_string())
}

// ---------------------------------------------------------------- the seam

use async_trait::async_trait;

use self::export::{RunMemory, Shop};
use super::{
    AuthMethod, Authorization, Connector, ExportBatch, ExportItem, ItemResult, Journal, Limits,
    OpenIntent, PageRequest, ProductPage, Resolution, Settings, StockOutcome, StockReading,
    StockSet,
};

/// The Vendure connector of one channel (`base-url` = the Admin API URL).
pub struct Vendure {
    client: VendureClient,
    auth_method: AuthMethod,
    limits: Limits,
    /// Catalog location -> Vendure stock location id (`[channels.x.locations]`).
    locations: super::LocationMap,
    /// The facets of categories and tags.
    facets: mapping::FacetCodes,
    /// The custom field attributes live in (`attributes-field`), if any.
    attributes: Option<attributes::AttributeField>,
    memory: RunMemory,
    /// Where stock goes, read once.
    stock_places: tokio::sync::OnceCell<stock::Places>,
}

/// [`super::PROTOCOLS`]' constructor.
pub fn connect(settings: Settings) -> Result<Box<dyn Connector>, ChannelError> {
    let client = VendureClient::new(settings.base_url, settings.options)?;
    let attributes = settings
        .attributes_field
        .as_deref()
        .map(attributes::AttributeField::new)
        .transpose()
        .map_err(ChannelError::Options)?;
    Ok(Box::new(Vendure {
        client,
        auth_method: settings.auth_method,
        limits: Limits {
            page_size: settings.limits.page_size.min(import::MAX_PAGE_SIZE),
            ..settings.limits
        },
        locations: settings.locations,
        facets: mapping::FacetCodes::new(settings.category_facet, settings.tag_facet),
        attributes,
        memory: RunMemory::default(),
        stock_places: tokio::sync::OnceCell::new(),
    }))
}

impl Vendure {
    fn credential<'a>(&self, access: &'a str) -> Credential<'a> {
        match self.auth_method {
            AuthMethod::ApiKey => Credential::ApiKey(access),
            _ => Credential::Session(access),
        }
    }

    fn shop<'a>(&'a self, access: &'a str) -> Shop<'a> {
        Shop {
            client: &self.client,
            credential: self.credential(access),
            memory: &self.memory,
            facets: &self.facets,
            attributes: self.attributes.as_ref(),
        }
    }

    async fn stock_places(&self, access: &str) -> Result<&stock::Places, ChannelError> {
        self.stock_places
            .get_or_try_init(|| {
                stock::places(&self.client, self.credential(access), &self.locations)
            })
            .await
    }

    /// A base URL that cannot be the Admin API fails each call before any
    /// request (in the job, so the other channels still run).
    fn check_url(&self) -> Result<(), ChannelError> {
        match self.client.url_problem() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }
}

#[async_trait(?Send)]
impl Connector for Vendure {
    fn limits(&self) -> Limits {
        self.limits
    }

    async fn authenticate(
        &self,
        auth: Authorization<'_>,
    ) -> Result<super::Credential, ChannelError> {
        self.check_url()?;
        match auth {
            // Vendure has no session renewal: a new login every time, and
            // the session lasts the server's `sessionDuration` (unknown
            // here; an expired one is FORBIDDEN, which logs in again). The
            // new session is checked against the Admin API, so a URL that
            // answers `login` but is not the Admin API does not pass.
            Authorization::Login {
                username, password, ..
            } => {
                let token = login(&self.client, username, password).await?;
                check_credential(&self.client, Credential::Session(&token)).await?;
                Ok(super::Credential {
                    access_token: token,
                    expires_in: None,
                    refresh_token: None,
                })
            }
            Authorization::ApiKey { key } => {
                check_credential(&self.client, Credential::ApiKey(key)).await?;
                Ok(super::Credential {
                    access_token: key.to_string(),
                    expires_in: None,
                    refresh_token: None,
                })
            }
            Authorization::Oauth2 { .. } => Err(ChannelError::UnsupportedAuth {
                protocol: "vendure-admin",
                method: AuthMethod::Oauth2,
            }),
        }
    }

    async fn fetch_page(
        &self,
        access: &str,
        request: PageRequest<'_>,
    ) -> Result<ProductPage, ChannelError> {
        self.check_url()?;
        let cursor = match request.cursor {
            Some(text) => PageCursor::decode(text).ok_or_else(|| ChannelError::BadCursor {
                cursor: text.to_string(),
                why: "not a Vendure cursor".into(),
            })?,
            None => PageCursor::first(request.since),
        };
        let page = import::fetch_page(
            &self.client,
            self.credential(access),
            cursor,
            self.limits.page_size,
            &self.locations,
            &self.facets,
            self.attributes.as_ref(),
        )
        .await?;
        Ok(ProductPage {
            products: page.products,
            next_cursor: page.next.map(|c| c.encode()),
            skipped: page.skipped,
        })
    }

    fn request_bytes(&self, item: &ExportItem<'_>) -> usize {
        export::request_bytes(item.product)
    }

    async fn send_batch(
        &self,
        access: &str,
        batch: &ExportBatch<'_>,
        journal: &dyn Journal,
    ) -> Result<Vec<ItemResult>, ChannelError> {
        self.check_url()?;
        self.limits.check_batch(batch)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        export::send_batch(&self.shop(access), batch, journal).await
    }

    async fn reconcile(
        &self,
        access: &str,
        open: &[OpenIntent],
        _journal: &dyn Journal,
    ) -> Result<Vec<Resolution>, ChannelError> {
        self.check_url()?;
        export::reconcile(&self.shop(access), open).await
    }

    /// On-hand levels per mapped stock location (Vendure's default location
    /// when none is mapped); Vendure's allocations stay its own.
    async fn send_stock(
        &self,
        access: &str,
        levels: &[StockSet],
    ) -> Result<Vec<StockOutcome>, ChannelError> {
        self.check_url()?;
        self.limits.check_count(levels.len())?;
        if levels.is_empty() {
            return Ok(Vec::new());
        }
        let places = self.stock_places(access).await?;
        stock::send_stock(
            &self.client,
            self.credential(access),
            places,
            levels,
            self.limits.max_request_bytes,
        )
        .await
    }

    async fn read_stock(
        &self,
        access: &str,
        skus: &[String],
    ) -> Result<Vec<StockReading>, ChannelError> {
        self.check_url()?;
        self.limits.check_count(skus.len())?;
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let places = self.stock_places(access).await?;
        stock::read_stock(&self.client, self.credential(access), places, skus).await
    }
}
