//! The Medusa v2 connector (protocol `medusa-admin`): the REST Admin API of a
//! Medusa server, spoken through the shared
//! [`crate::connector::http::HttpClient`] (its retries, replay rules,
//! redirect and credential rules, body caps and redaction).
//!
//! It owns the wire format and its mapping only (one catalog product is one
//! Medusa product, keyed by handle, its variants keyed by SKU; prices are
//! exact decimals per currency; stock is the stocked quantity per mapped
//! stock location) and knows nothing of the store, the config files or
//! scheduling. Every function takes plain values:
//! the credential, the resolved [`StoreContext`], the products.
//!
//! - `auth`: `POST /auth/user/emailpass` (JWT), `POST /auth/token/refresh`,
//!   secret API keys over HTTP Basic.
//! - `import`: offset pages of `/admin/products` in Medusa's default (`id`)
//!   order; incremental runs add a stock scan and a soft-delete listing,
//!   because a product's `updated_at` ignores its variants' prices and stock.
//! - `export`: whole products: a journalled create in one call, or an
//!   update that writes only what differs from what Medusa holds; with
//!   `bodies` (the JSON it sends), `options` (option values added and
//!   removed), `stock` (location levels in one batch), `lookup` (live
//!   variants and products by SKU, handle or id).
//! - `delete`: deletions in small batches.
//! - `reconcile`: adopts or repairs what an interrupted create left.
//! - `taxonomy`: categories (by path handle) and tags (by value), created
//!   when missing.
//! - `wire`: the JSON shapes and the one mapping to catalog products.

mod amount;
mod auth;
mod bodies;
mod connector;
mod delete;
mod export;
mod import;
mod lookup;
mod options;
mod reconcile;
mod stock;
mod taxonomy;
mod wire;

use std::borrow::Cow;
use std::fmt;

pub use self::amount::{AmountError, amount_to_price, price_to_amount, same_amount};
pub use self::auth::Jwt;
pub use self::connector::{Medusa, PROTOCOL, connect};
pub use self::delete::{DELETE_CHUNK, ItemOutcome, ItemStatus};
pub use self::import::{ImportCursor, ImportPage, OVERLAP, StoreContext, StoreOverrides};
pub use self::wire::PRODUCT_FIELDS;
use crate::connector::http::{
    Auth, Call, Endpoint, HttpClient, Method, Replay, Reply, Target, Url, UrlSetting, excerpt,
    shown,
};
pub use crate::connector::{ChannelError, ClientOptions};

/// What a right `base-url` of a medusa channel looks like.
pub const EXPECTED_FORM: &str = "https://shop.example";

/// How a request proves who sends it.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// No credential (the login request itself).
    None,
    /// A JWT from `/auth/user/emailpass` as `Authorization: Bearer`.
    Bearer(&'a str),
    /// A secret API key (`sk_...`) as the HTTP Basic user, empty password.
    SecretKey(&'a str),
}

impl Credential<'_> {
    fn auth(&self) -> Auth<'_> {
        match *self {
            Credential::None => Auth::None,
            Credential::Bearer(token) => Auth::Bearer(token),
            Credential::SecretKey(key) => Auth::ApiKeyBasic(key),
        }
    }
}

/// Whether a new credential (a fresh login) may cure `err`.
pub fn is_unauthorized(err: &ChannelError) -> bool {
    matches!(err, ChannelError::Unauthorized { .. })
}

/// A client for one Medusa server. Cloning is cheap and shares the
/// connection pool; it needs a tokio runtime (current-thread is enough).
#[derive(Clone)]
pub struct MedusaClient {
    http: HttpClient,
    api: Endpoint,
}

impl fmt::Debug for MedusaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MedusaClient")
            .field("base", &self.api.url().as_str())
            .finish_non_exhaustive()
    }
}

impl MedusaClient {
    /// A client for the server at `base_url` (e.g. `https://shop.example`;
    /// a path prefix is kept).
    pub fn new(base_url: &str, options: ClientOptions) -> Result<Self, ChannelError> {
        let base = crate::connector::check_url(base_url)?;
        Ok(MedusaClient {
            http: HttpClient::new(options)?,
            api: Endpoint::new(base, UrlSetting::BaseUrl)?,
        })
    }

    pub fn base_url(&self) -> &Url {
        self.api.url()
    }

    /// Why this URL cannot be a Medusa server's, before any request: the
    /// connector adds `/admin/...` itself, so a base URL ending in `/admin`
    /// would ask for `/admin/admin/...`.
    pub fn url_problem(&self) -> Option<ChannelError> {
        (self.api.last_segment() == Some("admin")).then(|| {
            self.not_the_api(
                "it ends in `/admin`, and the connector adds `/admin/...` itself: use the server's URL without `/admin`".into(),
            )
        })
    }

    fn not_the_api(&self, why: String) -> ChannelError {
        ChannelError::NotTheApi {
            url: shown(self.api.url()),
            api: "a Medusa server's base URL",
            expected_form: EXPECTED_FORM,
            why,
        }
    }

    /// A 404 from an endpoint every Medusa server has means the base URL
    /// is not a Medusa server's.
    fn not_found_is_wrong_base(&self, err: ChannelError) -> ChannelError {
        match err {
            ChannelError::Status {
                url,
                status: 404,
                excerpt,
            } => self.not_the_api(format!("`{url}` answered HTTP 404: {excerpt}")),
            ChannelError::NotJson { url, what, .. } => {
                self.not_the_api(format!("`{url}` answered with {what}, not JSON"))
            }
            other => other,
        }
    }

    /// `{base}/{path}` with these query pairs (`path` has no leading `/`).
    fn target(&self, path: &str, query: &[(&str, &str)]) -> Target {
        let segments: Vec<&str> = path.split('/').collect();
        self.api.at(&segments).query(query)
    }

    async fn call(
        &self,
        method: Method,
        target: Target,
        credential: Credential<'_>,
        body: Option<&str>,
        replay: Replay,
    ) -> Result<Reply, ChannelError> {
        let mut call = Call::new(method, target, replay).auth(credential.auth());
        if let Some(body) = body {
            call = call.json(Cow::Borrowed(body.as_bytes()));
        }
        self.http.send(call).await
    }

    /// GET and parse a JSON reply.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        credential: Credential<'_>,
    ) -> Result<T, ChannelError> {
        let target = self.target(path, query);
        let reply = self
            .call(Method::GET, target, credential, None, Replay::Safe)
            .await?;
        parse(&reply)
    }

    /// POST a JSON body (text) and parse the reply; `replay` says whether
    /// the write may be applied twice.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        credential: Credential<'_>,
        body: &str,
        replay: Replay,
    ) -> Result<T, ChannelError> {
        let target = self.target(path, query);
        let reply = self
            .call(Method::POST, target, credential, Some(body), replay)
            .await?;
        parse(&reply)
    }

    /// DELETE by id: deleting twice deletes once.
    async fn delete(&self, path: &str, credential: Credential<'_>) -> Result<(), ChannelError> {
        let target = self.target(path, &[]);
        self.call(Method::DELETE, target, credential, None, Replay::Safe)
            .await?;
        Ok(())
    }
}

fn parse<T: serde::de::DeserializeOwned>(reply: &Reply) -> Result<T, ChannelError> {
    let body = reply.body();
    serde_json::from_slice(body).map_err(|err| ChannelError::Malformed {
        url: reply.shown_url(),
        what: format!("not the expected JSON: {err}"),
        excerpt: excerpt(
            &body[err.column().saturating_sub(80).min(body.len())
                ..(err.column() + 80).min(body.len())],
            &[],
        ),
    })
}

#[cfg(test)]
mod tests;
