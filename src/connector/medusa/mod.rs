//! The Medusa v2 connector (protocol `medusa-admin`): the REST Admin API of a
//! Medusa server, spoken over one keep-alive `reqwest::Client`.
//!
//! It owns the wire format and its mapping only (one catalog product is one
//! Medusa variant with that SKU; prices are exact decimal strings; stock is
//! the stocked quantity at one stock location) and knows nothing of the
//! store, the config files or scheduling. Every function takes plain values:
//! the credential, the resolved [`StoreContext`], the products.
//!
//! - `auth`: `POST /auth/user/emailpass` (JWT), `POST /auth/token/refresh`,
//!   secret API keys over HTTP Basic.
//! - `import`: offset pages of `/admin/products` in Medusa's default (`id`)
//!   order; incremental runs add a stock scan and a soft-delete listing,
//!   because a product's `updated_at` ignores its variants' prices and stock.
//! - `export`: per-SKU upserts through the per-variant and inventory
//!   endpoints (a product update would replace its whole variant list), new
//!   products in batches, deletions in small batches.

mod amount;
mod auth;
mod connector;
mod export;
mod http;
mod import;
mod wire;

use std::fmt;

use reqwest::{Method, Url};

pub use self::amount::{AmountError, amount_to_price, price_to_amount, same_amount};
pub use self::auth::Jwt;
pub use self::connector::{Medusa, PROTOCOL, connect, into_channel_error};
pub use self::export::{DELETE_CHUNK, ItemOutcome, ItemStatus};
pub use self::http::{ClientOptions, Credential};
pub use self::import::{ImportCursor, ImportPage, OVERLAP, StoreContext, StoreOverrides};
pub use self::wire::PRODUCT_FIELDS;

/// Why a call to a Medusa server failed. Messages name the URL without its
/// query and never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum MedusaError {
    #[error("invalid Medusa base URL `{url}`: {why}")]
    BaseUrl { url: String, why: String },
    #[error("could not set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// Wrong email or password at `/auth/user/emailpass`.
    #[error(
        "Medusa refused the login of `{email}` at `{url}` ({message}): check the channel's `username` and password"
    )]
    LoginRefused {
        url: String,
        email: String,
        message: String,
    },
    /// 401 on an Admin API call: the JWT expired or the key was revoked.
    #[error(
        "`{url}` refused the credential (HTTP 401 Unauthorized: {message}): log in again, or check that the secret API key is not revoked"
    )]
    Unauthorized { url: String, message: String },
    #[error("`{url}` answered HTTP {}: {message}", http::status_text(*.status))]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("`{url}` did not answer in time; the server may be slow or down, try again later")]
    Timeout { url: String },
    #[error("could not connect to `{url}`; check the base URL and that Medusa is up")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the connection to `{url}` broke during the exchange")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("`{url}` sent an unusable reply: {what}")]
    Malformed { url: String, what: String },
    /// The store is not set up the way the connector needs (no stock
    /// location linked to the sales channel, an unknown configured id, ...).
    #[error("{0}")]
    ShopSetup(String),
    #[error("invalid import cursor `{0}`: it was not written by this connector; run a full import")]
    Cursor(String),
}

impl MedusaError {
    /// Whether the same call may succeed later (network trouble, 408/429/5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            MedusaError::Timeout { .. }
            | MedusaError::Connect { .. }
            | MedusaError::Transport { .. } => true,
            MedusaError::Status { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// Whether a new credential (a fresh login) may cure it.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, MedusaError::Unauthorized { .. })
    }
}

/// A client for one Medusa server. Cloning is cheap and shares the
/// connection pool; it needs a tokio runtime (current-thread is enough).
#[derive(Clone)]
pub struct MedusaClient {
    http: reqwest::Client,
    options: ClientOptions,
    base: Url,
}

impl fmt::Debug for MedusaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MedusaClient")
            .field("base", &self.base.as_str())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl MedusaClient {
    /// A client for the server at `base_url` (e.g. `https://shop.example`;
    /// a path prefix is kept, a query or fragment refused).
    pub fn new(base_url: &str, options: ClientOptions) -> Result<Self, MedusaError> {
        let bad = |why: &str| MedusaError::BaseUrl {
            url: base_url.to_string(),
            why: why.to_string(),
        };
        let mut base = Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("the scheme must be `https` (or `http` on loopback)"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad("a base URL has no query or fragment"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if options.max_attempts == 0 {
            return Err(bad("`max_attempts` is 0: use at least 1"));
        }
        let http = crate::connector::http::client_builder()
            .user_agent(concat!("oms-channels/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .timeout(options.request_timeout)
            // An API endpoint has no business redirecting; following one
            // would resend credentials wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(MedusaError::Setup)?;
        Ok(MedusaClient {
            http,
            options,
            base,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `{base}/{path}` with these query pairs (`path` has no leading `/`).
    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.join(path).expect("relative API paths join");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn call(
        &self,
        method: Method,
        url: &Url,
        credential: Credential<'_>,
        body: Option<&str>,
    ) -> Result<Vec<u8>, MedusaError> {
        http::exchange(&self.http, &self.options, method, url, credential, body).await
    }

    /// GET and parse a JSON reply.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        credential: Credential<'_>,
    ) -> Result<T, MedusaError> {
        let url = self.url(path, query);
        let body = self.call(Method::GET, &url, credential, None).await?;
        parse(&url, &body)
    }

    /// POST a JSON body (text) and parse the reply.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        credential: Credential<'_>,
        body: &str,
    ) -> Result<T, MedusaError> {
        let url = self.url(path, query);
        let reply = self
            .call(Method::POST, &url, credential, Some(body))
            .await?;
        parse(&url, &reply)
    }

    async fn delete(&self, path: &str, credential: Credential<'_>) -> Result<(), MedusaError> {
        let url = self.url(path, &[]);
        self.call(Method::DELETE, &url, credential, None).await?;
        Ok(())
    }
}

fn parse<T: serde::de::DeserializeOwned>(url: &Url, body: &[u8]) -> Result<T, MedusaError> {
    serde_json::from_slice(body).map_err(|err| MedusaError::Malformed {
        url: http::url_without_query(url),
        what: format!(
            "not the expected JSON: {err} (near: {})",
            http::error_message(
                &body[err.column().saturating_sub(80).min(body.len())
                    ..(err.column() + 80).min(body.len())],
                &[]
            )
        ),
    })
}

#[cfg(test)]
mod tests;
