//! The HTTP plumbing every connector shares: one keep-alive `reqwest::Client`
//! with connect, read and request timeouts, bounded retries with full-jitter
//! backoff and `Retry-After`, a body size cap, and error excerpts with secrets
//! redacted. It knows no protocol: connectors build requests and parse bodies.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Request, Response, StatusCode};
use tracing::{debug, warn};

use super::retry;
use super::url::UrlError;
pub use reqwest::Url;

/// Longest body excerpt kept in an error message, in characters.
const EXCERPT_CHARS: usize = 200;

/// How much of an error reply is read for its excerpt: enough for an OAuth
/// error document, without downloading a large error page.
const ERROR_BODY_BYTES: usize = 4096;

/// Timeouts, retry bounds and body limits of an [`HttpClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest silence while reading a reply, reset by every read.
    pub read_timeout: Duration,
    /// Longest time for one whole attempt, from connecting to the last body byte.
    pub request_timeout: Duration,
    /// Attempts per call, the first one included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles with each retry (full jitter).
    pub backoff_base: Duration,
    /// Largest backoff ceiling.
    pub backoff_cap: Duration,
    /// Longest wait a server's `Retry-After` can ask for.
    pub retry_after_cap: Duration,
    /// Largest reply body accepted; larger ones fail as malformed.
    pub max_body_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(90),
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
            max_body_bytes: 64 << 20,
        }
    }
}
/// Why a call to a channel failed. Messages name the URL (which
/// never carries secrets here) and never contain tokens.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("invalid connector options: {0}")]
    Options(String),
    #[error("could not set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    #[error("could not build the request to `{url}` (is the stored token damaged? refresh it)")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "export batch of {count} items is too large: this channel takes at most {limit} per request (its `batch-size`)"
    )]
    BatchTooLarge { count: usize, limit: usize },
    /// The connector cannot authenticate this way; the capability list's
    /// `auth` should have kept it from being configured.
    #[error("the {protocol} connector does not support auth method `{method}`")]
    UnsupportedAuth {
        protocol: &'static str,
        method: super::AuthMethod,
    },
    /// 401 on a product request: the caller refreshes the token once and retries.
    #[error(
        "`{url}` refused the access token (HTTP 401 Unauthorized): refresh the token and try again"
    )]
    Unauthorized { url: String },
    /// The token endpoint answered `invalid_grant`: the refresh token is dead.
    #[error(
        "the token endpoint rejected the grant (`invalid_grant`{}): the refresh token is expired or revoked; store a new one with `oms-channels channel login <channel>`",
        describe(.description)
    )]
    InvalidGrant { description: Option<String> },
    /// Any other OAuth error from the token endpoint (`invalid_client`, `unauthorized_client`, ...).
    #[error(
        "the token endpoint `{url}` refused the request (`{error}`{}): check the channel's `client-id`, client secret and `grant`",
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
        "the token request to `{url}` may have reached the server, but {cause}; its outcome is unknown and it was not resent, because replaying a rotated refresh token can revoke the grant. If the next refresh fails with `invalid_grant`, store a new refresh token with `oms-channels channel login <channel>`"
    )]
    TokenOutcomeUnknown { url: String, cause: String },
    /// A non-retryable status, or a retryable one after the last attempt.
    #[error("`{url}` answered HTTP {}: {}", status_text(*.status), or_empty(.excerpt))]
    Status {
        url: String,
        status: u16,
        /// At most 200 characters of the body, on one line, with known secrets redacted.
        excerpt: String,
    },
    #[error("`{url}` did not answer in time; the channel may be slow or down, try again later")]
    Timeout { url: String },
    #[error(
        "could not connect to `{url}` ({}); check the URL and that the channel is up",
        root_cause(.source)
    )]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke after the request was sent (reset, truncated reply).
    #[error(
        "the connection to `{url}` broke during the exchange ({})",
        root_cause(.source)
    )]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The channel answered (often inside an HTTP 200, as GraphQL does) that
    /// it refused the request; `message` is its own words, excerpted.
    #[error("`{url}` refused the request: {message}")]
    Refused { url: String, message: String },
    /// Bad JSON, wrong shape, invalid product, wrong content type, or a body over the limit.
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
fn root_cause(error: &reqwest::Error) -> String {
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

fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn or_empty(excerpt: &str) -> &str {
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
    /// that may pass (timeouts, connection errors, 408/429/5xx) is
    /// transient; the channel refusing our credentials or request is a
    /// channel error a setting must fix; bad options are config.
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            ChannelError::Url(_)
            | ChannelError::Options(_)
            | ChannelError::UnsupportedAuth { .. } => ErrorKind::Config,
            ChannelError::Setup(_) | ChannelError::BatchTooLarge { .. } => ErrorKind::Internal,
            ChannelError::Timeout { .. }
            | ChannelError::Connect { .. }
            | ChannelError::Transport { .. }
            | ChannelError::TokenOutcomeUnknown { .. } => ErrorKind::Transient,
            ChannelError::Status { status, .. } if retry::is_retryable_status(*status) => {
                ErrorKind::Transient
            }
            ChannelError::Request { .. }
            | ChannelError::Unauthorized { .. }
            | ChannelError::InvalidGrant { .. }
            | ChannelError::TokenRejected { .. }
            | ChannelError::Status { .. }
            | ChannelError::Refused { .. }
            | ChannelError::Malformed { .. } => ErrorKind::Channel,
        }
    }

    /// Whether the failure is transient: the same call may succeed later
    /// (connect errors, timeouts, broken connections, 408/429/5xx).
    ///
    /// False for [`ChannelError::Unauthorized`] (refresh the token instead) and
    /// for [`ChannelError::TokenOutcomeUnknown`] (resending could replay a
    /// rotated refresh token).
    pub fn is_retryable(&self) -> bool {
        match self {
            ChannelError::Timeout { .. }
            | ChannelError::Connect { .. }
            | ChannelError::Transport { .. } => true,
            ChannelError::Status { status, .. } => retry::is_retryable_status(*status),
            _ => false,
        }
    }
}

/// A reqwest client with the connectors' retry, timeout and body rules.
/// Cloning is cheap and shares the connection pool; it needs a tokio runtime
/// (current-thread is enough).
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    options: ClientOptions,
}

/// What kind of call an exchange is, which decides how failures are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// An API read or an idempotent write (a product page, an SKU-keyed
    /// batch): safe to resend; 401 means "renew the authorization".
    Product,
    /// Token POST. `replay_safe` is false for refresh-token grants, which must
    /// not be resent once they may have reached the server.
    Token { replay_safe: bool },
}

/// One failed attempt.
enum Failure {
    /// Worth another attempt. `reached_server` is false only when the request
    /// surely was not processed (no connection, or a 429/503 refusal).
    Retry {
        error: ChannelError,
        retry_after: Option<Duration>,
        reached_server: bool,
    },
    Fatal(ChannelError),
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The TLS settings every channel client of this process shares: the
/// system's trusted roots are read once per process, not once per channel
/// (reading them costs milliseconds: hundreds of files). `None` if the
/// platform verifier cannot be set up; each client then makes its own.
pub fn shared_tls() -> Option<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Option<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            use rustls_platform_verifier::BuilderVerifierExt;
            let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .and_then(|builder| builder.with_platform_verifier())
                .ok()?
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Some(config)
        })
        .clone()
}

/// A client builder with the shared TLS settings.
pub fn client_builder() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    match shared_tls() {
        Some(tls) => builder.use_preconfigured_tls(tls),
        None => builder,
    }
}

impl HttpClient {
    /// Builds the client (one connection pool for every request it makes).
    pub fn new(options: ClientOptions) -> Result<Self, ChannelError> {
        if options.max_attempts == 0 {
            return Err(ChannelError::Options(
                "`max_attempts` is 0: it counts the first attempt, so use at least 1".into(),
            ));
        }
        for (name, value) in [
            ("connect_timeout", options.connect_timeout),
            ("read_timeout", options.read_timeout),
            ("request_timeout", options.request_timeout),
        ] {
            if value.is_zero() {
                return Err(ChannelError::Options(format!(
                    "`{name}` is zero: every request would time out at once"
                )));
            }
        }
        if options.max_body_bytes == 0 {
            return Err(ChannelError::Options(
                "`max_body_bytes` is 0: no reply would fit".into(),
            ));
        }
        let http = client_builder()
            .user_agent(concat!("oms-channels/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .timeout(options.request_timeout)
            // An API endpoint has no business redirecting; following one would
            // resend tokens and form bodies to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ChannelError::Setup)?;
        Ok(HttpClient { http, options })
    }

    /// The options the client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// A request builder on the shared connection pool.
    pub fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends `request` until it succeeds, fails for good, or runs out of
    /// attempts; returns the body of a 2xx JSON reply. `secrets` are redacted
    /// from every excerpt of a reply.
    pub async fn exchange(
        &self,
        request: Request,
        call: Call,
        secrets: &[&str],
    ) -> Result<Vec<u8>, ChannelError> {
        let max_attempts = self.options.max_attempts;
        let mut attempt = 1;
        loop {
            // Bodies here are in memory (form, JSON), so a request always clones.
            let this_try = request
                .try_clone()
                .expect("in-memory request bodies can be cloned");
            let (error, retry_after, reached_server) =
                match self.attempt(this_try, call, secrets, attempt).await {
                    Ok(body) => return Ok(body),
                    Err(Failure::Fatal(error)) => return Err(error),
                    Err(Failure::Retry {
                        error,
                        retry_after,
                        reached_server,
                    }) => (error, retry_after, reached_server),
                };
            if reached_server && call == (Call::Token { replay_safe: false }) {
                return Err(ChannelError::TokenOutcomeUnknown {
                    url: request.url().to_string(),
                    cause: unknown_outcome_cause(&error),
                });
            }
            if attempt >= max_attempts {
                return Err(error);
            }
            let wait = retry::retry_wait(
                self.options.backoff_base,
                self.options.backoff_cap,
                attempt - 1,
                retry_after,
                self.options.retry_after_cap,
            );
            warn!(
                method = %request.method(),
                path = request.url().path(),
                attempt,
                max_attempts,
                wait_ms = wait.as_millis() as u64,
                error = %error,
                "retrying channel request"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt: send, classify the status, read the body.
    async fn attempt(
        &self,
        request: Request,
        call: Call,
        secrets: &[&str],
        attempt: u32,
    ) -> Result<Vec<u8>, Failure> {
        let method: Method = request.method().clone();
        let url = request.url().clone();
        let started = Instant::now();
        let mut response = match self.http.execute(request).await {
            Ok(response) => response,
            Err(source) => {
                debug!(
                    %method,
                    path = url.path(),
                    attempt,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    connect = source.is_connect(),
                    timeout = source.is_timeout(),
                    "channel request failed before a reply"
                );
                return Err(network_failure(&url, source.without_url()));
            }
        };
        let status = response.status();
        debug!(
            %method,
            path = url.path(),
            status = status.as_u16(),
            attempt,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "channel request"
        );

        if status.is_success() {
            if !is_json(response.headers()) {
                let content_type = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let head = read_prefix(&mut response, ERROR_BODY_BYTES).await;
                return Err(Failure::Fatal(ChannelError::Malformed {
                    url: url.to_string(),
                    what: match content_type {
                        Some(ct) => format!("content type `{ct}` is not JSON"),
                        None => "the reply has no content type; expected `application/json`".into(),
                    },
                    excerpt: if matches!(call, Call::Token { .. }) {
                        String::new()
                    } else {
                        excerpt(&head, secrets)
                    },
                }));
            }
            return match read_limited(&mut response, self.options.max_body_bytes).await {
                Ok(body) => Ok(body),
                Err(BodyError::TooLarge { at_least }) => {
                    Err(Failure::Fatal(ChannelError::Malformed {
                        url: url.to_string(),
                        what: format!(
                            "the body is larger than the {} byte limit (at least {at_least} bytes)",
                            self.options.max_body_bytes
                        ),
                        excerpt: String::new(),
                    }))
                }
                Err(BodyError::Net(source)) => Err(network_failure(&url, source.without_url())),
            };
        }

        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        let body = read_prefix(&mut response, ERROR_BODY_BYTES).await;
        let code = status.as_u16();
        let status_error = || ChannelError::Status {
            url: url.to_string(),
            status: code,
            excerpt: excerpt(&body, secrets),
        };
        // Retry-After only counts where the protocol gives it meaning.
        let retry_after = if matches!(code, 429 | 503) {
            retry_after
        } else {
            None
        };
        match call {
            Call::Product if code == 401 => Err(Failure::Fatal(ChannelError::Unauthorized {
                url: url.to_string(),
            })),
            Call::Token { .. } if matches!(code, 400 | 401) => Err(Failure::Fatal(
                super::oauth2::oauth_error(&url, &body, secrets).unwrap_or_else(status_error),
            )),
            _ if retry::is_retryable_status(code) => Err(Failure::Retry {
                error: status_error(),
                retry_after,
                // 429 and 503 are the server refusing to process the request.
                reached_server: !matches!(code, 429 | 503),
            }),
            _ => Err(Failure::Fatal(status_error())),
        }
    }
}

/// Classifies a transport error. Only a connect error proves the request
/// never reached the server.
fn network_failure(url: &Url, source: reqwest::Error) -> Failure {
    let url = url.to_string();
    if source.is_connect() {
        // Checked first: a connect timeout is also a timeout.
        Failure::Retry {
            error: ChannelError::Connect { url, source },
            retry_after: None,
            reached_server: false,
        }
    } else if source.is_timeout() {
        Failure::Retry {
            error: ChannelError::Timeout { url },
            retry_after: None,
            reached_server: true,
        }
    } else {
        Failure::Retry {
            error: ChannelError::Transport { url, source },
            retry_after: None,
            reached_server: true,
        }
    }
}

fn unknown_outcome_cause(error: &ChannelError) -> String {
    match error {
        ChannelError::Timeout { .. } => "no reply came in time".into(),
        ChannelError::Status {
            status, excerpt, ..
        } => format!(
            "it answered HTTP {}: {}",
            status_text(*status),
            or_empty(excerpt)
        ),
        ChannelError::Transport { source, .. } => {
            format!("the connection broke ({})", error_chain(source))
        }
        other => other.to_string(),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}
pub fn category(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong field or type",
        serde_json::error::Category::Eof => "unexpected end",
    }
}
/// `{base}/a/b`, keeping the base path (`https://h/v1` → `https://h/v1/products`).
/// Any query or fragment of the base is dropped.
pub fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("application/json")
        || mime
            .get(..12)
            .is_some_and(|p| p.eq_ignore_ascii_case("application/"))
            && mime
                .get(mime.len().saturating_sub(5)..)
                .is_some_and(|s| s.eq_ignore_ascii_case("+json"))
}

enum BodyError {
    TooLarge { at_least: u64 },
    Net(reqwest::Error),
}

/// Reads the whole body into one buffer, refusing to go past `limit`.
async fn read_limited(response: &mut Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    let declared = response.content_length();
    if let Some(length) = declared
        && length > limit as u64
    {
        return Err(BodyError::TooLarge { at_least: length });
    }
    // Sized once from Content-Length, so a page is copied exactly once.
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit));
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Net)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge {
                at_least: (body.len() + chunk.len()) as u64,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads at most about `limit` bytes of a body for an excerpt; errors just end it.
async fn read_prefix(response: &mut Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())])
            }
            _ => break,
        }
    }
    body
}

/// At most [`EXCERPT_CHARS`] characters of `body` on one line, with `secrets` redacted.
pub fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    excerpt_n(body, secrets, EXCERPT_CHARS)
}

fn excerpt_n(body: &[u8], secrets: &[&str], max_chars: usize) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }
    let mut out: Vec<char> = Vec::with_capacity(max_chars + 1);
    let words = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty());
    for word in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().take(max_chars + 1));
        if out.len() > max_chars {
            out.truncate(max_chars - 1);
            out.push('…');
            break;
        }
    }
    out.into_iter().collect()
}

/// An excerpt of a (possibly huge, one-line) JSON body around the place
/// serde_json stopped (1-based `line` and `column`), so the fault is in view.
pub fn excerpt_at(body: &[u8], line: usize, column: usize) -> String {
    let line_start = if line <= 1 {
        0
    } else {
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(body.len(), |(i, _)| i + 1)
    };
    let at = (line_start + column).min(body.len());
    let start = at.saturating_sub(EXCERPT_CHARS / 2);
    let end = (start + ERROR_BODY_BYTES).min(body.len());
    if start == 0 {
        excerpt(&body[..end], &[])
    } else {
        format!("…{}", excerpt_n(&body[start..end], &[], EXCERPT_CHARS - 1))
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    #[test]
    fn every_client_shares_one_tls_setup_that_speaks_h2_and_http1() {
        let tls = shared_tls().expect("the platform verifier works on this machine");
        assert_eq!(tls.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        client_builder().build().expect("a client builds on it");
    }
}
