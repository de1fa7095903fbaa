//! The one HTTP client every connector talks through, so that the rules
//! below hold for beta-rest, Vendure and Medusa alike:
//!
//! - **Timeouts**: connect, read and whole-request limits ([`ClientOptions`]).
//! - **Retries**: bounded, with full-jitter backoff and a server's
//!   `Retry-After` (seconds or an HTTP date, capped) as the least wait.
//! - **Pacing** ([`super::pacing`]): every attempt first waits for the
//!   channel's token bucket (its `rate-limit`) and for any hold the
//!   channel's rate headers or a `Retry-After` put on it; one pacer per
//!   client, shared by its clones and so by all of a channel's jobs.
//! - **Replay**: every [`Call`] says whether it is safe to send twice
//!   ([`Replay`]); there is no default. A call that is not is resent only
//!   when it surely never reached the server, and otherwise fails with
//!   [`ChannelError::OutcomeUnknown`].
//! - **Credentials** are attached here, from the call's [`Auth`], and only
//!   to the origin of the configured URL the call is made under
//!   ([`Endpoint`]): a [`Target`] can only be built under its endpoint, and
//!   redirects are never followed (see [`HttpClient::new`]).
//! - **Bodies**: a size cap on replies; JSON only, unless a call asks for
//!   any content ([`Call::any_content`]: an image a connector uploads).
//! - **Excerpts** in errors are short single lines with every secret the
//!   call carried, session tokens and cookies the reply carried, bearer
//!   tokens and JWTs redacted.
//!
//! Connectors build [`Call`]s and read [`Reply`]s. No reqwest type leaves
//! this module: [`Url`] is the `url` crate's and [`Method`] the `http`
//! crate's, and transport causes travel as boxed errors.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Request, Response, StatusCode};
use serde::Serialize;
use tracing::{debug, warn};

use super::error::or_empty;
pub(crate) use super::error::status_text;
pub use super::error::{ChannelError, CredentialKind, Remedy, Secret};
use super::pacing::{self, Pacer, RateLimit};
use super::retry;
use super::url::check_parsed_url;
pub use reqwest::{Method, Url};

/// Longest body excerpt kept in an error message, in characters.
const EXCERPT_CHARS: usize = 200;

/// How much of an error reply is read for its excerpt: enough for an OAuth
/// error document, without downloading a large error page.
const ERROR_BODY_BYTES: usize = 4096;

/// Idle keep-alive connections are dropped before Node's 5 s
/// `keepAliveTimeout` (Vendure, Medusa): a request sent on a connection the
/// server is closing breaks mid-exchange, and a call that is not safe to
/// resend would then fail with an unknown outcome for nothing.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3);

/// Reply headers whose values are secrets: never quoted in an excerpt.
const SECRET_REPLY_HEADERS: [&str; 2] = ["vendure-auth-token", "set-cookie"];

/// Shortest reply header value taken for a secret.
const MIN_REPLY_SECRET: usize = 8;

/// A transport error's cause, without its type (see the module doc).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Timeouts, retry bounds and body limits of an [`HttpClient`].
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// The channel's request budget (its `rate-limit`); `None` is unlimited
    /// (the channel's rate headers still pace it).
    pub rate_limit: Option<RateLimit>,
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
            rate_limit: None,
        }
    }
}

// ------------------------------------------------------------ the call

/// Whether a call may reach the server twice. Every call chooses one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Applying it twice is applying it once: reads (GraphQL queries
    /// included), SKU-keyed upserts, updates and deletions by id, a login
    /// that only opens a session. Resent after any transient failure.
    Safe,
    /// Must not be applied twice: a refresh with a rotating grant (a replayed
    /// refresh token can revoke the grant), a create that is not idempotent
    /// (a second product). Resent only when it surely never reached the
    /// server: no connection was made, or the server refused it with 429 or
    /// 503. After a timeout, a broken connection or another 5xx it fails with
    /// [`ChannelError::OutcomeUnknown`].
    NotSafe,
}

/// Which setting of a channel a URL comes from, for messages and hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UrlSetting {
    BaseUrl,
    TokenUrl,
    /// A product image's URL from the catalog (no credential goes there).
    ImageUrl,
}

impl UrlSetting {
    /// Its key in the account file.
    pub fn key(self) -> &'static str {
        match self {
            UrlSetting::BaseUrl => "base-url",
            UrlSetting::TokenUrl => "token-url",
            UrlSetting::ImageUrl => "images",
        }
    }
}

/// A configured URL (a channel's `base-url`, or its `token-url` for the
/// token call). Calls are made under it, so credentials go to its origin
/// (scheme, host and port) only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
    setting: UrlSetting,
}

impl Endpoint {
    /// Checks the URL (https, or http to loopback; no user or password).
    pub fn new(url: Url, setting: UrlSetting) -> Result<Endpoint, ChannelError> {
        check_parsed_url(&url)?;
        Ok(Endpoint { url, setting })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn setting(&self) -> UrlSetting {
        self.setting
    }

    /// The last non-empty segment of the configured path (`admin-api` of
    /// `https://h/admin-api/`), for connectors that know what their API's
    /// path looks like.
    pub fn last_segment(&self) -> Option<&str> {
        self.url
            .path_segments()
            .and_then(|mut segments| segments.rfind(|s| !s.is_empty()))
    }

    /// The configured URL itself (Vendure's Admin API is one URL; the token
    /// endpoint is one URL).
    pub fn target(&self) -> Target {
        Target {
            url: self.url.clone(),
            setting: self.setting,
        }
    }

    /// `{url}/a/b`, keeping the configured path (`https://h/v1` →
    /// `https://h/v1/products`); the configured query and fragment are
    /// dropped. Segments are percent-encoded, so ids from a server cannot
    /// leave the path.
    pub fn at(&self, segments: &[&str]) -> Target {
        let mut url = self.url.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        Target {
            url,
            setting: self.setting,
        }
    }
}

/// Where one call goes: a URL built under an [`Endpoint`], so always on
/// its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    url: Url,
    setting: UrlSetting,
}

impl Target {
    /// Adds query pairs (percent-encoded).
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Target {
        if !pairs.is_empty() {
            self.url
                .query_pairs_mut()
                .extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
        }
        self
    }

    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// The credential a call carries. The client attaches it, so it knows what
/// to redact and that it goes to the call's endpoint only.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    /// An OAuth access token or a session token: `Authorization: Bearer`.
    Bearer(&'a str),
    /// An API key in a header of its own (Vendure: `vendure-api-key`).
    ApiKeyHeader {
        header: &'static str,
        key: &'a str,
    },
    /// An API key as the HTTP Basic user, with an empty password (Medusa's
    /// secret keys).
    ApiKeyBasic(&'a str),
    /// OAuth client authentication (RFC 6749 §2.3.1: HTTP Basic with the id
    /// and secret each form-urlencoded). A 400 or 401 reply to such a call is
    /// read as an OAuth error document (§5.2), and its reply body, which
    /// holds tokens, is never quoted.
    OAuthClient {
        id: &'a str,
        secret: &'a str,
    },
}

impl fmt::Debug for Auth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer([redacted])"),
            Auth::ApiKeyHeader { header, .. } => write!(f, "ApiKeyHeader({header}: [redacted])"),
            Auth::ApiKeyBasic(_) => f.write_str("ApiKeyBasic([redacted])"),
            Auth::OAuthClient { id, .. } => write!(f, "OAuthClient({id:?}, [redacted])"),
        }
    }
}

impl Auth<'_> {
    /// What a 401 to this call refused.
    fn kind(&self) -> CredentialKind {
        match self {
            Auth::None => CredentialKind::None,
            Auth::Bearer(_) => CredentialKind::AccessToken,
            Auth::ApiKeyHeader { .. } | Auth::ApiKeyBasic(_) => CredentialKind::ApiKey,
            Auth::OAuthClient { .. } => CredentialKind::ClientSecret,
        }
    }
}

/// A request body, JSON or a form.
#[derive(Clone, Debug)]
pub enum Body<'a> {
    Empty,
    /// Serialized JSON (kept as bytes so a connector can measure it, and so
    /// decimal amounts keep their digits).
    Json(Cow<'a, [u8]>),
    Form(&'a [(&'a str, &'a str)]),
    /// Bytes of another content type the connector encoded itself (a
    /// GraphQL multipart upload).
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// One request: method, target, credential, body, and its replay rule.
#[derive(Debug)]
pub struct Call<'a> {
    method: Method,
    target: Target,
    replay: Replay,
    auth: Auth<'a>,
    body: Body<'a>,
    /// Secrets in the body (a password, a refresh token), redacted too.
    secrets: Vec<&'a str>,
    /// A 2xx reply of any content type is the answer (image bytes).
    any_content: bool,
    /// Extra request headers, fixed by the connector.
    headers: Vec<(&'static str, &'static str)>,
}

impl<'a> Call<'a> {
    pub fn new(method: Method, target: Target, replay: Replay) -> Call<'a> {
        Call {
            method,
            target,
            replay,
            auth: Auth::None,
            body: Body::Empty,
            secrets: Vec::new(),
            any_content: false,
            headers: Vec::new(),
        }
    }

    pub fn get(target: Target, replay: Replay) -> Call<'a> {
        Call::new(Method::GET, target, replay)
    }

    pub fn post(target: Target, replay: Replay) -> Call<'a> {
        Call::new(Method::POST, target, replay)
    }

    pub fn delete(target: Target, replay: Replay) -> Call<'a> {
        Call::new(Method::DELETE, target, replay)
    }

    pub fn auth(mut self, auth: Auth<'a>) -> Call<'a> {
        self.auth = auth;
        self
    }

    pub fn json(mut self, body: impl Into<Cow<'a, [u8]>>) -> Call<'a> {
        self.body = Body::Json(body.into());
        self
    }

    pub fn form(mut self, pairs: &'a [(&'a str, &'a str)]) -> Call<'a> {
        self.body = Body::Form(pairs);
        self
    }

    /// A body the connector encoded, sent with `content_type`.
    pub fn raw(mut self, content_type: String, bytes: Vec<u8>) -> Call<'a> {
        self.body = Body::Raw {
            content_type,
            bytes,
        };
        self
    }

    /// Takes a 2xx reply of any content type (still within the size cap).
    pub fn any_content(mut self) -> Call<'a> {
        self.any_content = true;
        self
    }

    /// Adds a fixed request header.
    pub fn header(mut self, name: &'static str, value: &'static str) -> Call<'a> {
        self.headers.push((name, value));
        self
    }

    /// A secret the body carries: redacted from every excerpt, as sent and
    /// as a form would encode it.
    pub fn redact(mut self, secret: &'a str) -> Call<'a> {
        self.secrets.push(secret);
        self
    }

    pub fn url(&self) -> &Url {
        &self.target.url
    }

    /// Every secret of the call, for redaction.
    fn all_secrets(&self) -> Vec<String> {
        let mut plain: Vec<&str> = self.secrets.clone();
        match self.auth {
            Auth::None => {}
            Auth::Bearer(s) | Auth::ApiKeyBasic(s) => plain.push(s),
            Auth::ApiKeyHeader { key, .. } => plain.push(key),
            Auth::OAuthClient { secret, .. } => plain.push(secret),
        }
        let mut all: Vec<String> = Vec::new();
        for secret in plain.into_iter().filter(|s| !s.is_empty()) {
            let encoded = form_urlencode(secret);
            if encoded != secret {
                all.push(encoded);
            }
            all.push(secret.to_string());
        }
        all
    }
}

/// A 2xx reply: its body (JSON, within the size cap) and headers.
pub struct Reply {
    url: Url,
    headers: HeaderMap,
    body: Vec<u8>,
    secrets: Vec<String>,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("url", &self.url.as_str())
            .field("bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The URL the call went to, as messages show it (no query).
    pub fn shown_url(&self) -> String {
        shown(&self.url)
    }

    /// `text` (from this reply) as an excerpt for a message, with the call's
    /// and the reply's secrets redacted.
    pub fn excerpt(&self, text: &[u8]) -> String {
        excerpt(text, &self.secret_refs())
    }

    fn secret_refs(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }
}

// ------------------------------------------------------------ errors
// ------------------------------------------------------------ the client

/// The reqwest client behind every connector, with the rules of this
/// module. Cloning is cheap and shares the connection pool; it needs a tokio
/// runtime (current-thread is enough).
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    options: ClientOptions,
    pacer: Pacer,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
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

/// The TLS settings every channel client of this process shares: the
/// system's trusted roots are read once per process, not once per channel
/// (reading them costs milliseconds: hundreds of files). `None` if the
/// platform verifier cannot be set up; each client then makes its own.
/// On Linux the roots include `SSL_CERT_FILE` / `SSL_CERT_DIR`.
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
fn client_builder() -> reqwest::ClientBuilder {
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
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            // No redirect is followed, not even to the same origin. Every
            // call goes to an API address under a configured URL, so a
            // redirect there means the setting is not the API's own address
            // (http to https, a moved host, a missing path); following it
            // would turn a POST into a GET and drop its body on 301/302/303
            // (a write silently becoming a read), could send a call that is
            // not safe to resend twice, and to another origin would carry
            // the credential there (reqwest strips `Authorization` across
            // hosts, but not `vendure-api-key`). The error names both URLs,
            // which tells the operator the right setting at once.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ChannelError::Setup(Box::new(e)))?;
        Ok(HttpClient {
            http,
            options,
            pacer: Pacer::new(options.rate_limit, options.retry_after_cap),
        })
    }

    /// The options the client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Sends `call` until it succeeds, fails for good, or runs out of
    /// attempts (see [`Replay`]); returns a 2xx JSON reply.
    pub async fn send(&self, call: Call<'_>) -> Result<Reply, ChannelError> {
        let request = self.build(&call)?;
        let secrets = call.all_secrets();
        let max_attempts = self.options.max_attempts;
        let mut attempt = 1;
        loop {
            self.pace(&call).await;
            // Bodies here are in memory (form, JSON), so a request always clones.
            let this_try = request
                .try_clone()
                .expect("in-memory request bodies can be cloned");
            let (error, retry_after, reached_server) =
                match self.attempt(this_try, &call, &secrets, attempt).await {
                    Ok(reply) => return Ok(reply),
                    Err(Failure::Fatal(error)) => return Err(error),
                    Err(Failure::Retry {
                        error,
                        retry_after,
                        reached_server,
                    }) => (error, retry_after, reached_server),
                };
            if reached_server && call.replay == Replay::NotSafe {
                return Err(ChannelError::OutcomeUnknown {
                    method: call.method.to_string(),
                    url: shown(call.url()),
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
                method = %call.method,
                path = call.url().path(),
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

    /// Waits until the channel may be sent another request: its token
    /// bucket, and any hold its rate headers or a refusal put on it (those
    /// concern calls under its base URL only, not a token endpoint that may
    /// live elsewhere).
    async fn pace(&self, call: &Call<'_>) {
        let now = Instant::now();
        let under_base = call.target.setting == UrlSetting::BaseUrl;
        let (at, held) = self.pacer.reserve(now, under_base);
        if at > now {
            debug!(
                method = %call.method,
                path = call.url().path(),
                wait_ms = (at - now).as_millis() as u64,
                by = held.map_or("rate-limit", |h| h.header),
                "pacing channel request"
            );
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        }
    }

    /// The request, with its credential attached here and nowhere else.
    fn build(&self, call: &Call<'_>) -> Result<Request, ChannelError> {
        let mut request = self
            .http
            .request(call.method.clone(), call.target.url.clone())
            .header(
                header::ACCEPT,
                if call.any_content {
                    "*/*"
                } else {
                    "application/json"
                },
            );
        for (name, value) in &call.headers {
            request = request.header(*name, *value);
        }
        let bad_credential = || ChannelError::BadCredential {
            url: shown(call.url()),
            credential: call.auth.kind(),
        };
        request = match call.auth {
            Auth::None => request,
            Auth::Bearer(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| bad_credential())?;
                value.set_sensitive(true);
                request.header(header::AUTHORIZATION, value)
            }
            Auth::ApiKeyHeader { header, key } => {
                let mut value = HeaderValue::from_str(key).map_err(|_| bad_credential())?;
                value.set_sensitive(true);
                request.header(HeaderName::from_static(header), value)
            }
            Auth::ApiKeyBasic(key) => request.basic_auth(key, Some("")),
            Auth::OAuthClient { id, secret } => {
                request.basic_auth(form_urlencode(id), Some(form_urlencode(secret)))
            }
        };
        request = match &call.body {
            Body::Empty => request,
            Body::Json(bytes) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes.to_vec()),
            Body::Form(pairs) => request.form(pairs),
            Body::Raw {
                content_type,
                bytes,
            } => request
                .header(header::CONTENT_TYPE, content_type.as_str())
                .body(bytes.clone()),
        };
        request.build().map_err(|_| bad_credential())
    }

    /// One attempt: send, classify the status, read the body.
    async fn attempt(
        &self,
        request: Request,
        call: &Call<'_>,
        secrets: &[String],
        attempt: u32,
    ) -> Result<Reply, Failure> {
        let url = call.target.url.clone();
        let started = Instant::now();
        let sent = self.http.execute(request).await;
        // Answered or failed, the channel may have counted it as late as now.
        self.pacer.answered(Instant::now());
        let mut response = match sent {
            Ok(response) => response,
            Err(source) => {
                debug!(
                    method = %call.method,
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
        let refused = matches!(status.as_u16(), 429 | 503);
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()))
            // Retry-After only counts where the protocol gives it meaning.
            .filter(|_| refused);
        if call.target.setting == UrlSetting::BaseUrl {
            let headers = response.headers();
            let budget = pacing::budget(
                |name| headers.get(name).and_then(|v| v.to_str().ok()),
                unix_now(),
            );
            self.pacer.observe(Instant::now(), budget, retry_after);
        }
        debug!(
            method = %call.method,
            path = url.path(),
            status = status.as_u16(),
            attempt,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "channel request"
        );
        let mut secrets: Vec<String> = secrets.to_vec();
        secrets.extend(reply_secrets(response.headers()));
        let redact: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let token_call = matches!(call.auth, Auth::OAuthClient { .. });

        if status.is_redirection() {
            return Err(Failure::Fatal(redirected(call, response.headers())));
        }
        if status.is_success() {
            if status == StatusCode::NO_CONTENT {
                return Ok(Reply {
                    url,
                    headers: response.headers().clone(),
                    body: Vec::new(),
                    secrets,
                });
            }
            if !call.any_content && !is_json(response.headers()) {
                let content_type = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let head = read_prefix(&mut response, ERROR_BODY_BYTES).await;
                return Err(Failure::Fatal(ChannelError::NotJson {
                    url: shown(&url),
                    what: match content_type {
                        Some(ct) => format!("content type `{}`", excerpt(ct.as_bytes(), &[])),
                        None => "no content type".into(),
                    },
                    // A token reply holds tokens whatever its content type.
                    excerpt: if token_call {
                        String::new()
                    } else {
                        excerpt(&head, &redact)
                    },
                }));
            }
            let headers = response.headers().clone();
            return match read_limited(&mut response, self.options.max_body_bytes).await {
                Ok(body) => Ok(Reply {
                    url,
                    headers,
                    body,
                    secrets,
                }),
                Err(BodyError::TooLarge { at_least }) => {
                    Err(Failure::Fatal(ChannelError::Malformed {
                        url: shown(&url),
                        what: format!(
                            "the body is larger than the {} byte limit (at least {at_least} bytes)",
                            self.options.max_body_bytes
                        ),
                        excerpt: String::new(),
                    }))
                }
                // The server answered 2xx: it processed the call.
                Err(BodyError::Net(source)) => Err(network_failure(&url, source.without_url())),
            };
        }

        let body = read_prefix(&mut response, ERROR_BODY_BYTES).await;
        let code = status.as_u16();
        let status_error = || ChannelError::Status {
            url: shown(&url),
            status: code,
            excerpt: excerpt(&error_text(&body), &redact),
        };
        if token_call && matches!(code, 400 | 401) {
            return Err(Failure::Fatal(
                super::oauth2::oauth_error(&url, &body, &redact).unwrap_or_else(status_error),
            ));
        }
        if code == 401 {
            let said = excerpt(&error_text(&body), &redact);
            return Err(Failure::Fatal(ChannelError::Unauthorized {
                url: shown(&url),
                credential: call.auth.kind(),
                answer: if said.is_empty() {
                    format!("HTTP {}", status_text(code))
                } else {
                    format!("HTTP {}: {said}", status_text(code))
                },
            }));
        }
        if retry::is_retryable_status(code) {
            // 429 and 503 are the server refusing to process the request.
            return Err(Failure::Retry {
                error: status_error(),
                retry_after,
                reached_server: !refused,
            });
        }
        Err(Failure::Fatal(status_error()))
    }
}

/// Seconds since the Unix epoch, for rate headers that give a reset as a date.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The redirect error for a 3xx reply to `call`.
fn redirected(call: &Call<'_>, headers: &HeaderMap) -> ChannelError {
    let from = call.url();
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| from.join(v).ok());
    let (to, cross_origin) = match location {
        Some(to) => {
            let cross = to.origin() != from.origin();
            (shown(&to), cross)
        }
        None => ("(no Location header)".to_string(), false),
    };
    ChannelError::Redirected {
        from: shown(from),
        to,
        setting: call.target.setting,
        cross_origin,
    }
}

/// A URL as messages show it: no query (long field lists, cursors), no
/// fragment, and never a user or password.
pub(crate) fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_password(None);
    let _ = url.set_username("");
    url.to_string()
}

/// Secrets a reply carries in its headers: a session token, cookie values.
fn reply_secrets(headers: &HeaderMap) -> Vec<String> {
    let mut secrets = Vec::new();
    for name in SECRET_REPLY_HEADERS {
        for value in headers.get_all(name) {
            let Ok(text) = value.to_str() else { continue };
            if name == "set-cookie" {
                // `name=value; Path=/; ...`: the value is the secret.
                let pair = text.split(';').next().unwrap_or("");
                if let Some((_, cookie)) = pair.split_once('=') {
                    secrets.push(cookie.trim().to_string());
                }
            } else {
                secrets.push(text.trim().to_string());
            }
        }
    }
    // A short value (`consent=1`) is no session secret, and replacing every
    // `1` in an excerpt would make it unreadable.
    secrets.retain(|s| s.len() >= MIN_REPLY_SECRET);
    secrets
}

/// Whether a transport error is a TLS certificate the client does not
/// trust. rustls's error sits inside `io::Error`s (nested: the TLS stream's
/// inside the connector's), whose `source()` skips what they wrap, so each
/// cause is also unwrapped.
fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    fn untrusted(error: &(dyn std::error::Error + 'static)) -> bool {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        match error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => untrusted(inner),
            None => false,
        }
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if untrusted(current) {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Classifies a transport error. Only a connect error proves the request
/// never reached the server; an untrusted certificate is final.
fn network_failure(url: &Url, source: reqwest::Error) -> Failure {
    let url = shown(url);
    if is_certificate_error(&source) {
        return Failure::Fatal(ChannelError::Certificate {
            url,
            source: Box::new(source),
        });
    }
    if source.is_connect() {
        // Checked first: a connect timeout is also a timeout.
        Failure::Retry {
            error: ChannelError::Connect {
                url,
                source: Box::new(source),
            },
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
            error: ChannelError::Transport {
                url,
                source: Box::new(source),
            },
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
            format!("the connection broke ({})", error_chain(source.as_ref()))
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

/// application/x-www-form-urlencoded byte serialisation (the WHATWG rules),
/// which RFC 6749 §2.3.1 applies to the client id and secret before Basic auth.
pub(crate) fn form_urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `application/json` or any `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
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

/// The words of an error reply: the `message` of a JSON error document
/// (Medusa's `{"type","message"}`, and many others) or of the first GraphQL
/// error (`{"errors":[{"message"}]}`), else the body.
pub(crate) fn error_text(body: &[u8]) -> Cow<'_, [u8]> {
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Document {
        Plain(Message),
        GraphQl { errors: Vec<Message> },
    }
    let message = match serde_json::from_slice::<Document>(body) {
        Ok(Document::Plain(m)) => Some(m.message),
        Ok(Document::GraphQl { errors }) => errors.into_iter().next().map(|m| m.message),
        Err(_) => None,
    };
    match message {
        Some(text) if !text.trim().is_empty() => Cow::Owned(text.into_bytes()),
        _ => Cow::Borrowed(body),
    }
}

/// At most 200 characters of `body` on one line, with
/// `secrets`, bearer tokens and JWTs redacted.
pub fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    excerpt_n(body, secrets, EXCERPT_CHARS)
}

fn excerpt_n(body: &[u8], secrets: &[&str], max_chars: usize) -> String {
    let text = redact(&String::from_utf8_lossy(body), secrets);
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

const REDACTED: &str = "[redacted]";

/// `text` with every secret, the word after `Bearer`, and anything shaped
/// like a JWT replaced by `[redacted]`. Longer secrets go first, so a
/// secret containing another is not left half visible.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut text = text.to_string();
    for secret in secrets {
        text = text.replace(secret, REDACTED);
    }
    redact_bearer(&redact_jwts(&text))
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
}

/// `Bearer <token>` (any case) loses its token.
fn redact_bearer(text: &str) -> String {
    // ASCII lower-casing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut from) = (0, 0);
    while let Some(found) = lower[from..].find("bearer ") {
        let start = from + found + "bearer ".len();
        let len = text[start..]
            .find(|c: char| !is_token_char(c))
            .unwrap_or(text.len() - start);
        if len > 0 {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = start + len;
        }
        from = start + len;
    }
    out.push_str(&text[copied..]);
    out
}

/// `eyJ...x.y[.z]`: a JWT (a base64url JSON header, payload, signature).
fn redact_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("eyJ") {
        let start = from + found;
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .map_or(text.len(), |i| start + i);
        let candidate = &text[start..end];
        if candidate.matches('.').count() >= 2 && candidate.len() >= 16 {
            out.push_str(&text[rest..start]);
            out.push_str(REDACTED);
            rest = end;
        }
        from = end.max(start + 3);
    }
    out.push_str(&text[rest..]);
    out
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
mod tests;
