//! One GraphQL exchange with Vendure's Admin API over the shared
//! [`HttpClient`]: the credential, the replay rule the caller chose, and the
//! reading of a reply, where errors inside an HTTP 200 (`errors[]`) are
//! failures: `FORBIDDEN` is [`ChannelError::Unauthorized`] (the caller logs
//! in again once), any other is [`ChannelError::Refused`] with Vendure's own
//! words. A URL that does not serve the Admin API (a Shop API, a web page, a
//! 404) is [`ChannelError::NotTheApi`], naming the right form.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::connector::http::{
    Auth, Call, ChannelError, ClientOptions, CredentialKind, Endpoint, HttpClient, Reply, Url,
    UrlSetting, shown,
};

pub use crate::connector::http::Replay;

/// The header Vendure returns a session token in, after `login`.
pub const SESSION_TOKEN_HEADER: &str = "vendure-auth-token";
/// The header an API key travels in.
pub const API_KEY_HEADER: &str = "vendure-api-key";

/// What a right `base-url` of a vendure channel looks like.
pub const EXPECTED_FORM: &str = "https://shop.example/admin-api";
const API: &str = "Vendure's Admin API";

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

impl Credential<'_> {
    fn auth(&self) -> Auth<'_> {
        match *self {
            Credential::Session(token) => Auth::Bearer(token),
            Credential::ApiKey(key) => Auth::ApiKeyHeader {
                header: API_KEY_HEADER,
                key,
            },
            Credential::None => Auth::None,
        }
    }

    fn kind(&self) -> CredentialKind {
        match self {
            Credential::Session(_) => CredentialKind::AccessToken,
            Credential::ApiKey(_) => CredentialKind::ApiKey,
            Credential::None => CredentialKind::None,
        }
    }
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

/// A client for one Vendure Admin API URL. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct VendureClient {
    http: HttpClient,
    api: Endpoint,
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

impl VendureClient {
    /// `admin_api` is the Admin API URL, e.g. `https://shop.example/admin-api`.
    pub fn new(admin_api: Url, options: ClientOptions) -> Result<Self, ChannelError> {
        Ok(VendureClient {
            http: HttpClient::new(options)?,
            api: Endpoint::new(admin_api, UrlSetting::BaseUrl)?,
        })
    }

    pub fn admin_api(&self) -> &Url {
        self.api.url()
    }

    /// The Admin API URL as messages show it.
    pub(crate) fn shown_url(&self) -> String {
        shown(self.api.url())
    }

    /// Why this URL cannot be the Admin API, before any request: Vendure's
    /// Shop API answers `login` and `activeChannel` too (for shoppers), so a
    /// `/shop-api` URL would otherwise seem to work.
    pub fn url_problem(&self) -> Option<ChannelError> {
        (self.api.last_segment() == Some("shop-api")).then(|| {
            self.not_the_api("it is Vendure's Shop API, for shoppers, not the Admin API".into())
        })
    }

    fn not_the_api(&self, why: String) -> ChannelError {
        ChannelError::NotTheApi {
            url: self.shown_url(),
            api: API,
            expected_form: EXPECTED_FORM,
            why,
        }
    }

    /// Runs `operation` and decodes its data.
    pub async fn run<Q, V>(
        &self,
        name: &str,
        credential: Credential<'_>,
        operation: &cynic::Operation<Q, V>,
        replay: Replay,
    ) -> Result<Q, ChannelError>
    where
        Q: DeserializeOwned,
        V: serde::Serialize,
    {
        let reply = self
            .exchange(name, credential, &operation_body(operation)?, &[], replay)
            .await?;
        self.decode(name, credential, &reply)
    }

    /// Like [`Self::run`] with a body already serialized (the export measures
    /// bodies against Vendure's 100 kB limit before sending).
    pub async fn run_body<Q: DeserializeOwned>(
        &self,
        name: &str,
        credential: Credential<'_>,
        body: &[u8],
        replay: Replay,
    ) -> Result<Q, ChannelError> {
        let reply = self.exchange(name, credential, body, &[], replay).await?;
        self.decode(name, credential, &reply)
    }

    /// One POST of a GraphQL body; `secrets` (a password in the body) are
    /// redacted from excerpts. Failures that show this is not the Admin API
    /// say so.
    pub(crate) async fn exchange(
        &self,
        name: &str,
        credential: Credential<'_>,
        body: &[u8],
        secrets: &[&str],
        replay: Replay,
    ) -> Result<Reply, ChannelError> {
        let mut call = Call::post(self.api.target(), replay)
            .auth(credential.auth())
            .json(body.to_vec());
        for secret in secrets {
            call = call.redact(secret);
        }
        self.send(name, call).await
    }

    /// Runs a GraphQL multipart request (`content_type` names its boundary)
    /// and decodes its data. Apollo's CSRF prevention, when a shop turns it
    /// on, refuses a multipart POST without a preflight header.
    pub(crate) async fn run_multipart<Q: DeserializeOwned>(
        &self,
        name: &str,
        credential: Credential<'_>,
        content_type: String,
        body: Vec<u8>,
        replay: Replay,
    ) -> Result<Q, ChannelError> {
        let call = Call::post(self.api.target(), replay)
            .auth(credential.auth())
            .header("apollo-require-preflight", "true")
            .raw(content_type, body);
        let reply = self.send(name, call).await?;
        self.decode(name, credential, &reply)
    }

    /// GETs a file from anywhere (a product image's URL), with no
    /// credential; returns its bytes and content type.
    pub(crate) async fn fetch_file(
        &self,
        url: Url,
    ) -> Result<(Vec<u8>, Option<String>), ChannelError> {
        let target = Endpoint::new(url, UrlSetting::ImageUrl)?.target();
        let reply = self
            .http
            .send(Call::get(target, Replay::Safe).any_content())
            .await?;
        let content_type = reply.header("content-type").map(str::to_string);
        Ok((reply.body().to_vec(), content_type))
    }

    async fn send(&self, name: &str, call: Call<'_>) -> Result<Reply, ChannelError> {
        self.http.send(call).await.map_err(|err| match err {
            ChannelError::Status {
                status: status @ (404 | 405),
                excerpt,
                ..
            } => self.not_the_api(format!(
                "it answered `{name}` with HTTP {}: {excerpt}",
                crate::connector::http::status_text(status)
            )),
            ChannelError::NotJson { what, .. } => {
                self.not_the_api(format!("it answered `{name}` with {what}, not JSON"))
            }
            // A GraphQL server without the query (Apollo answers 400).
            ChannelError::Status {
                status: 400,
                excerpt,
                ..
            } if excerpt.contains("Cannot query field") => {
                self.not_the_api(format!("it has no such query (`{name}`): {excerpt}"))
            }
            other => other,
        })
    }

    /// Reads a 200 reply: `errors[]` first, then `data` decoded into `Q`,
    /// where a missing field is named.
    pub(crate) fn decode<Q: DeserializeOwned>(
        &self,
        name: &str,
        credential: Credential<'_>,
        reply: &Reply,
    ) -> Result<Q, ChannelError> {
        decode_reply(name, credential, reply.body(), &reply.shown_url(), |text| {
            reply.excerpt(text)
        })
        .map_err(|err| match err {
            // The Shop API (or another GraphQL server) has no such query.
            ChannelError::Refused { ref message, .. } if message.contains("Cannot query field") => {
                self.not_the_api(format!("it has no such query (`{name}`): {message}"))
            }
            other => other,
        })
    }
}

/// The JSON body of a cynic operation.
pub(crate) fn operation_body<Q, V: serde::Serialize>(
    operation: &cynic::Operation<Q, V>,
) -> Result<Vec<u8>, ChannelError> {
    serde_json::to_vec(operation)
        .map_err(|e| ChannelError::Options(format!("a GraphQL operation did not serialize: {e}")))
}

/// Reads a GraphQL reply body: `errors[]` first (FORBIDDEN is a refused
/// credential), then `data` decoded into `Q`. `excerpt` shortens and
/// redacts the server's words.
pub(crate) fn decode_reply<Q: DeserializeOwned>(
    name: &str,
    credential: Credential<'_>,
    bytes: &[u8],
    url: &str,
    excerpt: impl Fn(&[u8]) -> String,
) -> Result<Q, ChannelError> {
    let malformed = |what: String| ChannelError::Malformed {
        url: url.to_string(),
        what: format!("`{name}`: {what}"),
        excerpt: String::new(),
    };
    let reply: RawReply = serde_json::from_slice(bytes).map_err(|e| {
        malformed(format!(
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
        let message = excerpt(first.message.as_bytes());
        if code.as_deref() == Some("FORBIDDEN") {
            return Err(ChannelError::Unauthorized {
                url: url.to_string(),
                credential: credential.kind(),
                answer: format!("FORBIDDEN to `{name}`: {message}"),
            });
        }
        return Err(ChannelError::Refused {
            url: url.to_string(),
            code,
            message,
        });
    }
    let data = reply
        .data
        .ok_or_else(|| malformed("neither `data` nor `errors`".into()))?;
    serde_json::from_value(data).map_err(|e| malformed(e.to_string()))
}
