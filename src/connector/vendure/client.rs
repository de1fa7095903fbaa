//! One GraphQL exchange with Vendure's Admin API: the credential header, the
//! retry rules, and the reading of a reply, where errors inside an HTTP 200
//! (`errors[]`) are failures and `FORBIDDEN` is a typed one so the caller can
//! log in again once.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The header Vendure returns a session token in, after `login`.
pub const SESSION_TOKEN_HEADER: &str = "vendure-auth-token";
/// The header an API key travels in.
pub const API_KEY_HEADER: &str = "vendure-api-key";

/// Idle connections are dropped before Node's 5 s `keepAliveTimeout`.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest body excerpt kept in an error message, in characters.
const EXCERPT_CHARS: usize = 200;

/// How a request proves who we are.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// A session token from `login`, sent as `Authorization: Bearer`.
    Session(&'a str),
    /// An API key (`<lookupId>:<secret>`), sent as `vendure-api-key`.
    ApiKey(&'a str),
    /// No credential (only `login` needs none).
    None,
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Session(_) => "Session([redacted])",
            Credential::ApiKey(_) => "ApiKey([redacted])",
            Credential::None => "None",
        })
    }
}

/// Why a call to Vendure failed. Messages name the operation and the URL,
/// never a token or key.
#[derive(Debug, thiserror::Error)]
pub enum VendureError {
    /// `errors[].extensions.code = "FORBIDDEN"`: no session, an expired one,
    /// or a revoked API key. The caller logs in again once and retries.
    #[error(
        "Vendure refused the credential for `{operation}` (FORBIDDEN): the session expired or the API key is not valid; log in again or check the key"
    )]
    Forbidden { operation: String },
    /// `login` answered an `ErrorResult` such as `InvalidCredentialsError`.
    #[error(
        "Vendure refused the login of `{username}` ({code}: {message}): check the user name and password"
    )]
    LoginRefused {
        username: String,
        code: String,
        message: String,
    },
    /// `login` succeeded but no session token came back.
    #[error(
        "Vendure accepted the login but sent no `{SESSION_TOKEN_HEADER}` header: is `authOptions.tokenMethod` set to include \"bearer\"?"
    )]
    NoSessionToken,
    /// Any other entry of `errors[]`.
    #[error("Vendure answered `{operation}` with an error{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    GraphQl {
        operation: String,
        code: Option<String>,
        message: String,
    },
    /// A non-2xx status (a JSON body over Vendure's 100 kB limit is a 500).
    #[error("`{url}` answered HTTP {status} to `{operation}`: {excerpt}")]
    Status {
        url: String,
        operation: String,
        status: u16,
        excerpt: String,
    },
    #[error(
        "`{url}` did not answer `{operation}` in time; Vendure may be slow or down, try again later"
    )]
    Timeout { url: String, operation: String },
    #[error("could not connect to `{url}`; check the base URL and that Vendure is up")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke after the request was sent.
    #[error("the connection to `{url}` broke during `{operation}`")]
    Transport {
        url: String,
        operation: String,
        #[source]
        source: reqwest::Error,
    },
    /// Not JSON, or a reply missing a field the connector needs.
    #[error("`{url}` sent an unusable reply to `{operation}`: {what}")]
    Malformed {
        url: String,
        operation: String,
        what: String,
    },
}

impl VendureError {
    /// Whether the same call may succeed later: connect errors, timeouts,
    /// broken connections, 408/429/502/503/504. Not a plain 500: Vendure
    /// answers an over-size body that way, and resending it fails again.
    pub fn is_retryable(&self) -> bool {
        match self {
            VendureError::Timeout { .. }
            | VendureError::Connect { .. }
            | VendureError::Transport { .. } => true,
            VendureError::Status { status, .. } => matches!(status, 408 | 429 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// Whether a mutation that failed this way surely did not reach Vendure,
    /// so sending it again cannot apply it twice.
    pub fn surely_not_applied(&self) -> bool {
        matches!(self, VendureError::Connect { .. })
            || matches!(
                self,
                VendureError::Status {
                    status: 429 | 503,
                    ..
                }
            )
    }
}

/// Timeouts and retry bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Attempts of a safe call (queries, updates, deletions) before giving up.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_attempts: 4,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(15),
        }
    }
}

/// A client for one Vendure Admin API URL. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct VendureClient {
    http: reqwest::Client,
    admin_api: reqwest::Url,
    options: ClientOptions,
}

#[derive(Deserialize)]
struct RawReply {
    data: Option<serde_json::Value>,
    #[serde(default)]
    errors: Option<Vec<RawError>>,
}

#[derive(Deserialize)]
struct RawError {
    message: String,
    #[serde(default)]
    extensions: Option<serde_json::Value>,
}

/// Whether a call may be sent again after a failure that may have reached
/// the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Queries, updates and deletions: applying twice is the same as once.
    Safe,
    /// Creations: resent only when the request surely never arrived; the
    /// caller looks up what exists before creating again.
    Unsafe,
}

impl VendureClient {
    /// `admin_api` is the Admin API URL, e.g. `https://shop.example/admin-api`.
    pub fn new(admin_api: reqwest::Url, options: ClientOptions) -> Result<Self, reqwest::Error> {
        let http = crate::connector::http::client_builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            // Node closes idle keep-alive connections after 5 s; reusing one
            // it is closing breaks the request (IncompleteMessage), which a
            // creation cannot safely resend.
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            .build()?;
        Ok(VendureClient {
            http,
            admin_api,
            options,
        })
    }

    /// The same connection pool, for callers that already have a client.
    pub fn with_http(
        http: reqwest::Client,
        admin_api: reqwest::Url,
        options: ClientOptions,
    ) -> Self {
        VendureClient {
            http,
            admin_api,
            options,
        }
    }

    pub fn admin_api(&self) -> &reqwest::Url {
        &self.admin_api
    }

    /// Runs `operation` and decodes its data; returns the reply's headers too.
    pub async fn run<Q, V>(
        &self,
        name: &str,
        credential: Credential<'_>,
        operation: &cynic::Operation<Q, V>,
        replay: Replay,
    ) -> Result<(Q, HeaderMap), VendureError>
    where
        Q: DeserializeOwned,
        V: serde::Serialize,
    {
        let body =
            serde_json::to_vec(operation).map_err(|e| self.malformed(name, e.to_string()))?;
        self.run_body(name, credential, body, replay).await
    }

    /// Like [`Self::run`] with a body already serialized (the export measures
    /// bodies against Vendure's 100 kB limit before sending).
    pub async fn run_body<Q: DeserializeOwned>(
        &self,
        name: &str,
        credential: Credential<'_>,
        body: Vec<u8>,
        replay: Replay,
    ) -> Result<(Q, HeaderMap), VendureError> {
        let mut attempt = 1;
        loop {
            match self.attempt(name, credential, body.clone()).await {
                Ok(reply) => return Ok(reply),
                Err(error) => {
                    let again = error.is_retryable()
                        && attempt < self.options.max_attempts
                        && (replay == Replay::Safe || error.surely_not_applied());
                    if !again {
                        return Err(error);
                    }
                    let ceiling = self
                        .options
                        .backoff_base
                        .saturating_mul(1 << (attempt - 1).min(16))
                        .min(self.options.backoff_cap);
                    let wait = ceiling.mul_f64(fastrand::f64());
                    tracing::warn!(operation = name, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying a Vendure call");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt<Q: DeserializeOwned>(
        &self,
        name: &str,
        credential: Credential<'_>,
        body: Vec<u8>,
    ) -> Result<(Q, HeaderMap), VendureError> {
        let url = self.admin_api.to_string();
        let mut request = self
            .http
            .post(self.admin_api.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        request = match credential {
            Credential::Session(token) => request.bearer_auth(token),
            Credential::ApiKey(key) => request.header(API_KEY_HEADER, key),
            Credential::None => request,
        };
        let response = request.send().await.map_err(|e| self.send_error(name, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.send_error(name, e))?;
        if !status.is_success() {
            return Err(VendureError::Status {
                url,
                operation: name.to_string(),
                status: status.as_u16(),
                excerpt: excerpt(&bytes),
            });
        }
        let data = decode_reply(name, &bytes).map_err(|what| match what {
            ReplyFailure::Error(e) => e,
            ReplyFailure::Malformed(what) => self.malformed(name, what),
        })?;
        Ok((data, headers))
    }

    fn send_error(&self, name: &str, error: reqwest::Error) -> VendureError {
        let url = self.admin_api.to_string();
        if error.is_timeout() {
            VendureError::Timeout {
                url,
                operation: name.to_string(),
            }
        } else if error.is_connect() {
            VendureError::Connect { url, source: error }
        } else {
            VendureError::Transport {
                url,
                operation: name.to_string(),
                source: error,
            }
        }
    }

    fn malformed(&self, name: &str, what: String) -> VendureError {
        VendureError::Malformed {
            url: self.admin_api.to_string(),
            operation: name.to_string(),
            what,
        }
    }
}

pub(crate) enum ReplyFailure {
    Error(VendureError),
    Malformed(String),
}

/// Reads a 200 reply: `errors[]` first (FORBIDDEN typed), then `data`
/// decoded into `Q`, where a missing field is named.
pub(crate) fn decode_reply<Q: DeserializeOwned>(
    name: &str,
    bytes: &[u8],
) -> Result<Q, ReplyFailure> {
    let reply: RawReply = serde_json::from_slice(bytes).map_err(|e| {
        ReplyFailure::Malformed(format!(
            "not a GraphQL JSON reply ({e}): {}",
            excerpt(bytes)
        ))
    })?;
    if let Some(first) = reply.errors.as_deref().and_then(<[RawError]>::first) {
        let code = first
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .and_then(|c| c.as_str())
            .map(str::to_string);
        if code.as_deref() == Some("FORBIDDEN") {
            return Err(ReplyFailure::Error(VendureError::Forbidden {
                operation: name.to_string(),
            }));
        }
        return Err(ReplyFailure::Error(VendureError::GraphQl {
            operation: name.to_string(),
            code,
            message: first.message.clone(),
        }));
    }
    let data = reply
        .data
        .ok_or_else(|| ReplyFailure::Malformed("neither `data` nor `errors`".into()))?;
    serde_json::from_value(data).map_err(|e| ReplyFailure::Malformed(e.to_string()))
}

/// At most [`EXCERPT_CHARS`] characters of a body, on one line.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect();
    if one_line.trim().is_empty() {
        "(empty body)".into()
    } else {
        one_line
    }
}
