//! OAuth 2 token requests (RFC 6749): the refresh-token and
//! client-credentials grants with HTTP Basic client authentication. Any
//! connector whose platform uses an OAuth token endpoint calls
//! [`request_token`]; rotation safety lives in the auth job.

use std::fmt;

use serde::Deserialize;

use super::http::{
    Auth, Call, ChannelError, Endpoint, HttpClient, Replay, Url, UrlSetting, category, excerpt,
    shown,
};

/// An OAuth grant used to get an access token.
#[derive(Clone, PartialEq, Eq)]
pub enum Grant {
    /// `grant_type=refresh_token` with this refresh token.
    RefreshToken(String),
    /// `grant_type=client_credentials`.
    ClientCredentials,
}

impl Grant {
    /// The `grant_type` form value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Grant::RefreshToken(_) => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        }
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::RefreshToken(_) => f.write_str("RefreshToken([redacted])"),
            Grant::ClientCredentials => f.write_str("ClientCredentials"),
        }
    }
}

/// A successful token reply.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenReply {
    pub access_token: String,
    /// Always `Bearer` (any case) here: other types are refused as malformed.
    pub token_type: String,
    /// Lifetime of the access token in seconds. Count it from before the
    /// call to [`request_token`]: retries may delay the send,
    /// so that errs on the early side.
    pub expires_in: Option<u64>,
    /// A rotated refresh token; `None` means "keep using the old one".
    /// An empty string from the server counts as absent.
    pub refresh_token: Option<String>,
}

impl fmt::Debug for TokenReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenReply")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// POST token-url, form body, HTTP Basic client auth (RFC 6749 §2.3.1:
/// client id and secret each form-urlencoded, then Basic).
///
/// A refresh-token grant is [`Replay::NotSafe`]: the server may rotate the
/// refresh token, and one with reuse protection revokes the whole grant when
/// an old one is replayed. It is resent only when it surely did not reach
/// the server (connect error) or the server refused it (429/503); a timeout
/// or 5xx after sending is [`ChannelError::TokenOutcomeUnknown`]. A
/// client-credentials grant has no rotation to break, so it is
/// [`Replay::Safe`]. `invalid_grant` is never retried.
pub async fn request_token(
    http: &HttpClient,
    token_url: &Url,
    client_id: &str,
    client_secret: &str,
    grant: &Grant,
) -> Result<TokenReply, ChannelError> {
    let endpoint = Endpoint::new(token_url.clone(), UrlSetting::TokenUrl)?;
    let mut form = vec![("grant_type", grant.as_str())];
    let replay = match grant {
        Grant::RefreshToken(token) => {
            form.push(("refresh_token", token));
            Replay::NotSafe
        }
        Grant::ClientCredentials => Replay::Safe,
    };
    let mut call = Call::post(endpoint.target(), replay)
        .auth(Auth::OAuthClient {
            id: client_id,
            secret: client_secret,
        })
        .form(&form);
    if let Grant::RefreshToken(token) = grant {
        call = call.redact(token);
    }
    let reply = http.send(call).await.map_err(|err| match err {
        ChannelError::OutcomeUnknown { url, cause, .. } => {
            ChannelError::TokenOutcomeUnknown { url, cause }
        }
        other => other,
    })?;
    parse_token_reply(token_url, reply.body())
}

/// Reads an OAuth error document (RFC 6749 §5.2) from a 400/401 token reply.
pub(super) fn oauth_error(url: &Url, body: &[u8], secrets: &[&str]) -> Option<ChannelError> {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    let parsed: OAuthError = serde_json::from_slice(body).ok()?;
    let description = parsed
        .error_description
        .map(|d| excerpt(d.as_bytes(), secrets))
        .filter(|d| !d.is_empty());
    Some(if parsed.error == "invalid_grant" {
        ChannelError::InvalidGrant { description }
    } else {
        ChannelError::TokenRejected {
            url: shown(url),
            error: excerpt(parsed.error.as_bytes(), secrets),
            description,
        }
    })
}

fn parse_token_reply(url: &Url, body: &[u8]) -> Result<TokenReply, ChannelError> {
    #[derive(Deserialize)]
    struct Wire {
        access_token: String,
        token_type: String,
        #[serde(default)]
        expires_in: Option<u64>,
        #[serde(default)]
        refresh_token: Option<String>,
    }
    // The body holds tokens: messages give the position, never the text.
    let malformed = |what: String| ChannelError::Malformed {
        url: shown(url),
        what: format!("{what} (body not shown: it may hold tokens)"),
        excerpt: String::new(),
    };
    let wire: Wire = serde_json::from_slice(body).map_err(|err| {
        malformed(format!(
            "the token reply is not the expected JSON (`access_token`, `token_type`, `expires_in`, `refresh_token`): {} at line {}, column {}",
            category(&err),
            err.line(),
            err.column()
        ))
    })?;
    if wire.access_token.is_empty() {
        return Err(malformed(
            "the token reply has an empty `access_token`".into(),
        ));
    }
    if !wire.token_type.eq_ignore_ascii_case("bearer") {
        return Err(malformed(format!(
            "token type `{}` is not supported; expected `Bearer`",
            wire.token_type.escape_debug()
        )));
    }
    Ok(TokenReply {
        access_token: wire.access_token,
        token_type: wire.token_type,
        expires_in: wire.expires_in,
        refresh_token: wire.refresh_token.filter(|t| !t.is_empty()),
    })
}
