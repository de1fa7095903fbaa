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
