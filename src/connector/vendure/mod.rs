//! The Vendure connector (protocol `vendure-admin`): Vendure's GraphQL Admin
//! API over reqwest, with every operation checked at build time against the
//! committed `schema.graphql` by cynic (chosen over graphql_client for its
//! code-first fragments: the Rust types are the selection, so a query cannot
//! drift from the types that decode it).
//!
//! It owns the wire format and the mapping (one catalog product is one
//! variant with that SKU); it knows nothing of the store, the config files
//! or scheduling, and never logs a token, password or key.
//!
//! - [`client`]: one GraphQL exchange, credentials, retries, typed errors.
//! - [`import`]: `productVariants` pages and the incremental cursor.
//! - [`export`]: look-up by SKU, update / create / delete, body splitting.
//! - [`money`]: integer minor units by ISO 4217 exponent, never a float.

pub mod client;
pub mod export;
pub mod import;
pub mod money;
mod wire;

#[cfg(test)]
mod tests;

use cynic::{MutationBuilder, QueryBuilder};

pub use self::client::{ClientOptions, Credential, VendureClient, VendureError};
pub use self::export::{ItemOutcome, Outcome};
pub use self::import::{PageCursor, VariantPage};
use self::wire::{ActiveChannelQuery, Login, LoginVariables, NativeAuthenticationResult};

/// Logs in with `login(username, password)` and returns the session token
/// from the `vendure-auth-token` header (Vendure has no refresh token: a new
/// session is a new login).
pub async fn login(
    client: &VendureClient,
    username: &str,
    password: &str,
) -> Result<String, VendureError> {
    let operation = Login::build(LoginVariables { username, password });
    // A login creates a session and nothing else: safe to send again.
    let (reply, headers) = client
        .run::<Login, _>("login", Credential::None, &operation, client::Replay::Safe)
        .await?;
    let refused = |code: &wire::ErrorCode, message: &str| VendureError::LoginRefused {
        username: username.to_string(),
        code: code.as_str().to_string(),
        message: message.to_string(),
    };
    match reply.login {
        NativeAuthenticationResult::CurrentUser(_) => headers
            .get(client::SESSION_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or(VendureError::NoSessionToken),
        NativeAuthenticationResult::InvalidCredentialsError(e) => {
            Err(refused(&e.error_code, &e.message))
        }
        NativeAuthenticationResult::NativeAuthStrategyError(e) => {
            Err(refused(&e.error_code, &e.message))
        }
        NativeAuthenticationResult::Unknown => Err(VendureError::Malformed {
            url: client.admin_api().to_string(),
            operation: "login".into(),
            what: "`login` answered a result type the connector does not know".into(),
        }),
    }
}

/// Checks that `credential` is accepted (an API key, or a session that may
/// have expired) by reading the active channel, which needs an authenticated
/// user; returns the channel's default currency.
pub async fn check_credential(
    client: &VendureClient,
    credential: Credential<'_>,
) -> Result<String, VendureError> {
    let operation = ActiveChannelQuery::build(());
    let (reply, _) = client
        .run::<ActiveChannelQuery, _>(
            "activeChannel",
            credential,
            &operation,
            client::Replay::Safe,
        )
        .await?;
    Ok(reply
        .active_channel
        .default_currency_code
        .as_str()
        .to_string())
}

// ---------------------------------------------------------------- the seam

use async_trait::async_trait;

use super::{
    AuthMethod, Authorization, Batch, ChannelError, Connector, ItemResult, ItemStatus, Limits,
    PageRequest, ProductPage, Settings, check_parsed_url,
};

/// The Vendure connector of one channel (`base-url` = the Admin API URL).
pub struct Vendure {
    client: VendureClient,
    auth_method: AuthMethod,
    limits: Limits,
}

/// [`super::PROTOCOLS`]' constructor.
pub fn connect(settings: Settings) -> Result<Box<dyn Connector>, ChannelError> {
    check_parsed_url(&settings.base_url)?;
    let options = ClientOptions {
        connect_timeout: settings.options.connect_timeout,
        request_timeout: settings.options.request_timeout,
        max_attempts: settings.options.max_attempts.max(1),
        backoff_base: settings.options.backoff_base,
        backoff_cap: settings.options.backoff_cap,
    };
    let client = VendureClient::new(settings.base_url, options).map_err(ChannelError::Setup)?;
    Ok(Box::new(Vendure {
        client,
        auth_method: settings.auth_method,
        limits: Limits {
            page_size: settings.limits.page_size.min(import::MAX_PAGE_SIZE),
            batch_size: settings.limits.batch_size,
        },
    }))
}

impl Vendure {
    fn credential<'a>(&self, access: &'a str) -> Credential<'a> {
        match self.auth_method {
            AuthMethod::ApiKey => Credential::ApiKey(access),
            _ => Credential::Session(access),
        }
    }

    fn explain(&self, error: VendureError) -> ChannelError {
        let url = self.client.admin_api().to_string();
        match error {
            // The runner's "refresh once and retry" path: a new login.
            VendureError::Forbidden { .. } => ChannelError::Unauthorized { url },
            VendureError::Status {
                url,
                status,
                excerpt,
                ..
            } => ChannelError::Status {
                url,
                status,
                excerpt,
            },
            VendureError::Timeout { url, .. } => ChannelError::Timeout { url },
            VendureError::Connect { url, source } => ChannelError::Connect { url, source },
            VendureError::Transport { url, source, .. } => ChannelError::Transport { url, source },
            VendureError::Malformed { url, what, .. } => ChannelError::Malformed {
                url,
                what,
                excerpt: String::new(),
            },
            refused @ (VendureError::LoginRefused { .. }
            | VendureError::NoSessionToken
            | VendureError::GraphQl { .. }) => ChannelError::Refused {
                url,
                message: refused.to_string(),
            },
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
        match auth {
            // Vendure has no session renewal: a new login every time, and
            // the session lasts the server's `sessionDuration` (unknown
            // here; an expired one is FORBIDDEN, which logs in again).
            Authorization::Login {
                username, password, ..
            } => {
                let token = login(&self.client, username, password)
                    .await
                    .map_err(|e| self.explain(e))?;
                Ok(super::Credential {
                    access_token: token,
                    expires_in: None,
                    refresh_token: None,
                })
            }
            Authorization::ApiKey { key } => {
                check_credential(&self.client, Credential::ApiKey(key))
                    .await
                    .map_err(|e| self.explain(e))?;
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
        let cursor = match request.cursor {
            Some(text) => PageCursor::decode(text).ok_or_else(|| ChannelError::Malformed {
                url: self.client.admin_api().to_string(),
                what: format!(
                    "the stored import cursor `{text}` is not a Vendure cursor: run the import with `--full`"
                ),
                excerpt: String::new(),
            })?,
            None => PageCursor::first(request.since),
        };
        let page = import::fetch_page(
            &self.client,
            self.credential(access),
            cursor,
            self.limits.page_size,
        )
        .await
        .map_err(|e| self.explain(e))?;
        Ok(ProductPage {
            products: page.products,
            next_cursor: page.next.map(|c| c.encode()),
            skipped: page.skipped,
        })
    }

    async fn send_batch(
        &self,
        access: &str,
        batch: Batch<'_>,
    ) -> Result<Vec<ItemResult>, ChannelError> {
        self.limits.check_batch(&batch)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // Resending is safe: every send looks the SKUs up first.
        let outcomes = export::send_batch(
            &self.client,
            self.credential(access),
            batch.upserts,
            batch.deletions,
        )
        .await
        .map_err(|e| self.explain(e))?;
        Ok(outcomes
            .into_iter()
            .map(|item| {
                let (status, error) = match item.outcome {
                    Outcome::Created => (ItemStatus::Created, None),
                    Outcome::Updated => (ItemStatus::Updated, None),
                    Outcome::Unchanged => (ItemStatus::Unchanged, None),
                    Outcome::Deleted => (ItemStatus::Deleted, None),
                    Outcome::Error(why) => (ItemStatus::Error, Some(why)),
                };
                ItemResult {
                    sku: item.sku,
                    status,
                    error,
                }
            })
            .collect())
    }
}
