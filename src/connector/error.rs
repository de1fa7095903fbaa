//! Why a call to a channel failed ([`ChannelError`]), what kind of failure
//! it is ([`ChannelError::kind`]), and what the operator can do about it
//! ([`Remedy`], data only: the CLI edge words it with the real account and
//! channel). Messages never contain secrets or CLI advice.

use reqwest::StatusCode;
use serde::Serialize;

use super::http::{Cause, UrlSetting};
use super::retry;
use super::url::UrlError;

/// What credential a refusal refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    /// The request carried none (a login itself).
    None,
    /// An OAuth access token or a session token.
    AccessToken,
    ApiKey,
    /// An OAuth client's id and secret.
    ClientSecret,
}

impl CredentialKind {
    fn noun(self) -> &'static str {
        match self {
            CredentialKind::None => "request",
            CredentialKind::AccessToken => "access token",
            CredentialKind::ApiKey => "API key",
            CredentialKind::ClientSecret => "client credentials",
        }
    }
}

/// A secret of the channel's configuration, as a [`Remedy`] names it; the
/// hint says where it comes from (an env var or a file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Secret {
    ClientSecret,
    Password,
    ApiKey,
}

/// What the operator can do about a [`ChannelError`]: data only. The CLI
/// edge turns it into words with the real account, channel and secret
/// sources; connectors never write CLI text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "remedy")]
pub enum Remedy {
    /// Store a new refresh token (`channel login`).
    Login,
    /// A refresh may have rotated the token and its reply was lost: if the
    /// next refresh fails with `invalid_grant`, store a new refresh token.
    LoginIfGrantRevoked,
    /// The channel refused this configured secret (and its companions:
    /// `client-id`, `username`).
    CheckCredentials { what: Secret },
    /// The channel refused a credential it had just issued: what it lets
    /// this user, client or key do.
    CheckPermissions,
    /// The server's TLS certificate is not trusted here; a private CA must
    /// be trusted (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
    TrustPrivateCa,
    /// The channel refused the import page size: lower `page-size`.
    LowerPageSize,
    /// The URL setting points at the wrong place.
    FixUrl {
        setting: UrlSetting,
        /// What a right one looks like, when the connector knows.
        expected_form: Option<&'static str>,
    },
}

/// Why a call to a channel failed. Messages name the URL (without its
/// query; never with secrets) and never contain tokens or CLI advice: what
/// to do is [`ChannelError::remedy`].
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("invalid connector options: {0}")]
    Options(String),
    #[error("could not set up the HTTP client")]
    Setup(#[source] Cause),
    /// The credential holds a byte no HTTP header may carry (a line break).
    #[error(
        "the {} cannot be sent to `{url}`: it holds a character HTTP headers cannot carry (a line break?)",
        .credential.noun()
    )]
    BadCredential {
        url: String,
        credential: CredentialKind,
    },
    #[error(
        "export batch of {count} items is too large: this channel takes at most {limit} per request (its `batch-size`)"
    )]
    BatchTooLarge { count: usize, limit: usize },
    /// The store could not record a write intent or the ids a platform
    /// gave: the connector stops before writing more than it can account for.
    #[error("the write journal could not record what the export does: {0}")]
    Journal(String),
    /// The connector cannot authenticate this way; the capability list's
    /// `auth` should have kept it from being configured.
    #[error("the {protocol} connector does not support auth method `{method}`")]
    UnsupportedAuth {
        protocol: &'static str,
        method: super::AuthMethod,
    },
    /// The channel refused the credential (HTTP 401, Vendure's FORBIDDEN). On
    /// an access token the caller renews it once and retries.
    #[error("`{url}` refused the {} ({answer})", .credential.noun())]
    Unauthorized {
        url: String,
        credential: CredentialKind,
        /// The channel's answer: `HTTP 401 Unauthorized: ...`, `FORBIDDEN: ...`.
        answer: String,
    },
    /// The connector cannot do this job; the capability list should have
    /// kept the job from being configured for its type.
    #[error("this channel's connector cannot {what}")]
    Unsupported { what: &'static str },
    /// A login (user name and password) was refused.
    #[error("`{url}` refused the login of `{username}`: {message}")]
    LoginRefused {
        url: String,
        username: String,
        message: String,
    },
    /// The token endpoint answered `invalid_grant`: the refresh token is dead.
    #[error(
        "the token endpoint rejected the grant (`invalid_grant`{}): the refresh token is expired or revoked",
        describe(.description)
    )]
    InvalidGrant { description: Option<String> },
    /// Any other OAuth error from the token endpoint (`invalid_client`, `unauthorized_client`, ...).
    #[error(
        "the token endpoint `{url}` refused the request (`{error}`{})",
        describe(.description)
    )]
    TokenRejected {
        url: String,
        error: String,
        description: Option<String>,
    },
    /// A refresh-token request may have been processed but no usable reply
    /// came; it was not resent, because replaying a rotated refresh token
    /// can revoke the grant.
    #[error(
        "the token request to `{url}` may have reached the server, but {cause}; its outcome is unknown and it was not resent, because replaying a rotated refresh token can revoke the grant"
    )]
    TokenOutcomeUnknown { url: String, cause: String },
    /// A call that is not safe to resend may have been applied, but no
    /// usable reply came. The next run looks at what exists before writing.
    #[error(
        "`{method} {url}` may have reached the server, but {cause}; its outcome is unknown and it was not resent, because sending it twice could apply it twice"
    )]
    OutcomeUnknown {
        method: String,
        url: String,
        cause: String,
    },
    /// A non-retryable status, or a retryable one after the last attempt.
    #[error("`{url}` answered HTTP {}: {}", status_text(*.status), or_empty(.excerpt))]
    Status {
        url: String,
        status: u16,
        /// At most 200 characters of the body (its `message` when it is a
        /// JSON error document), on one line, with secrets redacted.
        excerpt: String,
    },
    /// The channel refused the import page size.
    #[error("`{url}` refused a page of {page_size} products: {message}")]
    PageSizeRefused {
        url: String,
        page_size: usize,
        message: String,
    },
    #[error("`{url}` did not answer in time; the channel may be slow or down")]
    Timeout { url: String },
    #[error(
        "could not connect to `{url}` ({}); check the URL and that the channel is up",
        root_cause(.source.as_ref())
    )]
    Connect {
        url: String,
        #[source]
        source: Cause,
    },
    /// The server's certificate is not trusted (unknown issuer, expired,
    /// another name). Final: retrying cannot change it.
    #[error(
        "the TLS certificate of `{url}` is not trusted: {}",
        root_cause(.source.as_ref())
    )]
    Certificate {
        url: String,
        #[source]
        source: Cause,
    },
    /// The connection broke after the request was sent (reset, truncated reply).
    #[error(
        "the connection to `{url}` broke during the exchange ({})",
        root_cause(.source.as_ref())
    )]
    Transport {
        url: String,
        #[source]
        source: Cause,
    },
    /// The channel answered with a redirect. Redirects are never followed:
    /// an API has no business redirecting, and following one would send
    /// credentials (or a POST turned into a GET) elsewhere.
    #[error(
        "`{from}` redirected to `{to}`{}; the redirect was not followed, and the channel's `{}` is probably wrong",
        if *.cross_origin { ", another origin (credentials are never sent to another origin)" } else { "" },
        .setting.key()
    )]
    Redirected {
        from: String,
        to: String,
        setting: UrlSetting,
        cross_origin: bool,
    },
    /// The URL does not serve the platform's API (a Shop API, a storefront,
    /// a path the API is not on).
    /// The remedy carries what a right one looks like.
    #[error("`{url}` is not {api}: {why}")]
    NotTheApi {
        url: String,
        api: &'static str,
        expected_form: &'static str,
        why: String,
    },
    /// The channel answered (often inside an HTTP 200, as GraphQL does) that
    /// it refused the request; `message` is its own words, excerpted.
    #[error("`{url}` refused the request{}: {message}", .code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Refused {
        url: String,
        code: Option<String>,
        message: String,
    },
    /// The shop is not set up the way the connector needs (no stock
    /// location linked to the sales channel, an unknown configured id, ...).
    #[error("{message}")]
    ShopSetup { message: String },
    /// A stored import cursor the connector cannot read.
    #[error("the stored import cursor `{cursor}` is not one this connector writes ({why})")]
    BadCursor { cursor: String, why: String },
    /// A 2xx reply that is not JSON: usually not the API at all (a web page).
    #[error("`{url}` sent an unusable reply: {what}, not JSON{}", excerpt_suffix(.excerpt))]
    NotJson {
        url: String,
        what: String,
        excerpt: String,
    },
    /// Bad JSON, wrong shape, invalid product, or a body over the limit.
    #[error("`{url}` sent an unusable reply: {what}{}", excerpt_suffix(.excerpt))]
    Malformed {
        url: String,
        what: String,
        excerpt: String,
    },
}

/// The innermost cause of a transport error ("Connection refused (os error
/// 111)", "dns error: ...", "invalid peer certificate: ..."): the part an
/// operator can act on, which reqwest's own message leaves out.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

pub(crate) fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

pub(crate) fn or_empty(excerpt: &str) -> &str {
    if excerpt.is_empty() {
        "(empty body)"
    } else {
        excerpt
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(" (body: {excerpt})")
    }
}

impl ChannelError {
    /// The error's kind, decided here where the error is made: a failure
    /// that may pass (timeouts, connection errors, 408/429/5xx, an unknown
    /// outcome the next run resolves) is transient; the channel refusing our
    /// credentials or request is a channel error a setting must fix; a
    /// setting that cannot be used as it is (a URL that redirects or is not
    /// the API) is config.
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            ChannelError::Url(_)
            | ChannelError::Options(_)
            | ChannelError::UnsupportedAuth { .. }
            | ChannelError::Unsupported { .. }
            | ChannelError::Redirected { .. }
            | ChannelError::NotTheApi { .. } => ErrorKind::Config,
            ChannelError::Setup(_)
            | ChannelError::BatchTooLarge { .. }
            | ChannelError::Journal(_) => ErrorKind::Internal,
            ChannelError::Timeout { .. }
            | ChannelError::Connect { .. }
            | ChannelError::Transport { .. }
            | ChannelError::TokenOutcomeUnknown { .. }
            | ChannelError::OutcomeUnknown { .. } => ErrorKind::Transient,
            ChannelError::Status { status, .. } if retry::is_retryable_status(*status) => {
                ErrorKind::Transient
            }
            ChannelError::BadCredential { .. }
            | ChannelError::Unauthorized { .. }
            | ChannelError::LoginRefused { .. }
            | ChannelError::InvalidGrant { .. }
            | ChannelError::TokenRejected { .. }
            | ChannelError::Status { .. }
            | ChannelError::PageSizeRefused { .. }
            | ChannelError::Certificate { .. }
            | ChannelError::Refused { .. }
            | ChannelError::ShopSetup { .. }
            | ChannelError::BadCursor { .. }
            | ChannelError::NotJson { .. }
            | ChannelError::Malformed { .. } => ErrorKind::Channel,
        }
    }

    /// What the operator can do about it, when a setting or a command can
    /// help (waiting is not a remedy: a transient error has none).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            ChannelError::InvalidGrant { .. } => Some(Remedy::Login),
            ChannelError::TokenOutcomeUnknown { .. } => Some(Remedy::LoginIfGrantRevoked),
            ChannelError::TokenRejected { .. } => Some(Remedy::CheckCredentials {
                what: Secret::ClientSecret,
            }),
            ChannelError::LoginRefused { .. } => Some(Remedy::CheckCredentials {
                what: Secret::Password,
            }),
            ChannelError::Unauthorized { credential, .. }
            | ChannelError::BadCredential { credential, .. } => match credential {
                CredentialKind::ApiKey => Some(Remedy::CheckCredentials {
                    what: Secret::ApiKey,
                }),
                CredentialKind::ClientSecret => Some(Remedy::CheckCredentials {
                    what: Secret::ClientSecret,
                }),
                // The job renews a refused token once before it reports one.
                CredentialKind::AccessToken => Some(Remedy::CheckPermissions),
                CredentialKind::None => None,
            },
            ChannelError::Certificate { .. } => Some(Remedy::TrustPrivateCa),
            ChannelError::PageSizeRefused { .. } => Some(Remedy::LowerPageSize),
            ChannelError::Redirected { setting, .. } => Some(Remedy::FixUrl {
                setting: *setting,
                expected_form: None,
            }),
            ChannelError::NotTheApi { expected_form, .. } => Some(Remedy::FixUrl {
                setting: UrlSetting::BaseUrl,
                expected_form: Some(expected_form),
            }),
            _ => None,
        }
    }

    /// Whether the failure is transient: the same call may succeed later
    /// (connect errors, timeouts, broken connections, 408/429/5xx).
    ///
    /// False for [`ChannelError::Unauthorized`] (renew the credential
    /// instead) and for the unknown outcomes (resending could apply twice).
    pub fn is_retryable(&self) -> bool {
        match self {
            ChannelError::Timeout { .. }
            | ChannelError::Connect { .. }
            | ChannelError::Transport { .. } => true,
            ChannelError::Status { status, .. } => retry::is_retryable_status(*status),
            _ => false,
        }
    }

    /// Whether the channel refused this request as such, so that sending it
    /// again unchanged fails again: a 4xx other than 401/403 (credentials),
    /// 408 and 429 (timing), or a cursor the connector cannot read. A
    /// resumed import takes this as "the saved cursor is no longer valid".
    pub fn refuses_request(&self) -> bool {
        match self {
            ChannelError::Status { status, .. } => {
                (400..500).contains(status) && !matches!(status, 401 | 403 | 408 | 429)
            }
            ChannelError::BadCursor { .. } => true,
            _ => false,
        }
    }
}
