//! Authentication: an email/password login that returns a JWT, its renewal
//! while still valid, and a check that a secret API key is accepted.
//! Tokens and keys are never logged; [`Jwt`]'s `Debug` hides the token.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use jiff::Timestamp;
use serde::Deserialize;

use super::{ChannelError, Credential, MedusaClient, Method, Replay, Reply, Target};

/// A Medusa JWT and, when its payload says, when it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwt {
    pub token: String,
    /// The `exp` claim; `None` when the payload has none or is unreadable.
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Jwt {
    /// Reads the `exp` claim of `token` (not verified: the server does that;
    /// the client only needs to know when to renew).
    pub fn new(token: String) -> Jwt {
        let expires_at = expiry_of(&token);
        Jwt { token, expires_at }
    }

    /// Whether the token is still valid `margin` after `now`.
    pub fn valid_at(&self, now: Timestamp, margin: jiff::SignedDuration) -> bool {
        self.expires_at
            .is_none_or(|exp| now.checked_add(margin).is_ok_and(|t| t < exp))
    }
}

#[derive(Deserialize)]
struct TokenReply {
    token: String,
}

impl MedusaClient {
    /// `POST /auth/user/emailpass {"email","password"}` -> a JWT. A login
    /// opens a session and changes nothing else: safe to send again.
    pub async fn login(&self, email: &str, password: &str) -> Result<Jwt, ChannelError> {
        let target = self.target("auth/user/emailpass", &[]);
        let body = serde_json::json!({"email": email, "password": password}).to_string();
        let call = super::Call::post(target, Replay::Safe)
            .json(body.as_bytes())
            .redact(password);
        match self.http.send(call).await {
            Ok(reply) => token_from(&reply),
            Err(ChannelError::Unauthorized { url, answer, .. }) => {
                Err(ChannelError::LoginRefused {
                    url,
                    username: email.to_string(),
                    message: answer,
                })
            }
            Err(ChannelError::Status {
                url,
                status: 400,
                excerpt,
            }) => Err(ChannelError::LoginRefused {
                url,
                username: email.to_string(),
                message: format!("HTTP 400: {excerpt}"),
            }),
            Err(other) => Err(self.not_found_is_wrong_base(other)),
        }
    }

    /// `POST /auth/token/refresh` with a still-valid JWT -> a new JWT. An
    /// expired one answers [`ChannelError::Unauthorized`]: log in again.
    /// Medusa's JWTs are stateless (the old one stays valid until it
    /// expires), so a renewal is safe to send again, unlike a rotating
    /// OAuth refresh.
    pub async fn refresh(&self, jwt: &str) -> Result<Jwt, ChannelError> {
        let target: Target = self.target("auth/token/refresh", &[]);
        let reply = self
            .call(
                Method::POST,
                target,
                Credential::Bearer(jwt),
                Some("{}"),
                Replay::Safe,
            )
            .await
            .map_err(|err| self.not_found_is_wrong_base(err))?;
        token_from(&reply)
    }

    /// Whether the server accepts this credential for the Admin API (a
    /// cheap read of the store). Keys do not expire, but may be revoked.
    pub async fn check_credential(&self, credential: Credential<'_>) -> Result<(), ChannelError> {
        #[derive(Deserialize)]
        struct Stores {
            #[allow(dead_code)]
            stores: Vec<serde::de::IgnoredAny>,
        }
        self.get::<Stores>("admin/stores", &[("fields", "id")], credential)
            .await
            .map(|_| ())
            .map_err(|err| self.not_found_is_wrong_base(err))
    }
}

fn token_from(reply: &Reply) -> Result<Jwt, ChannelError> {
    // The body holds a token: never quote it.
    let malformed = |what: String| ChannelError::Malformed {
        url: reply.shown_url(),
        what,
        excerpt: String::new(),
    };
    let parsed: TokenReply = serde_json::from_slice(reply.body()).map_err(|err| {
        malformed(format!(
            "expected `{{\"token\": ...}}` ({err}; body not shown: it may hold a token)"
        ))
    })?;
    if parsed.token.is_empty() {
        return Err(malformed("the token is empty".into()));
    }
    Ok(Jwt::new(parsed.token))
}

/// The `exp` claim of a JWT (seconds since the epoch), read without
/// verifying the signature.
fn expiry_of(token: &str) -> Option<Timestamp> {
    #[derive(Deserialize)]
    struct Claims {
        exp: Option<i64>,
    }
    let payload = token.split('.').nth(1)?;
    // Unpadded (or padded) base64url, as JWTs use it (RFC 7515 §2).
    let bytes = URL_SAFE_NO_PAD_INDIFFERENT.decode(payload).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    Timestamp::from_second(claims.exp?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_payloads_decode_padded_or_not_and_only_as_base64url() {
        let claims = |payload: &str| expiry_of(&format!("h.{payload}.s"));
        // {"exp":12} unpadded and padded; not the standard alphabet, not a
        // length base64 cannot have.
        assert_eq!(claims("eyJleHAiOjEyfQ"), Timestamp::from_second(12).ok());
        assert_eq!(claims("eyJleHAiOjEyfQ=="), Timestamp::from_second(12).ok());
        assert_eq!(claims("eyJleHAiOjEyfQ+/"), None);
        assert_eq!(claims("eyJleHAiOjEyfQT"), None);
    }

    #[test]
    fn a_medusa_jwt_tells_when_it_expires() {
        // Header and payload of a real Medusa token; the signature is fake.
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
            eyJhY3Rvcl9pZCI6InVzZXJfMDEiLCJhY3Rvcl90eXBlIjoidXNlciIsImlhdCI6MTc5NTc3MjYxNCwiZXhwIjoxNzk1ODU5MDE0fQ.\
            c2lnbmF0dXJl";
        let jwt = Jwt::new(token.to_string());
        assert_eq!(
            jwt.expires_at,
            Some(Timestamp::from_second(1_795_859_014).unwrap())
        );
        let before = Timestamp::from_second(1_795_859_000).unwrap();
        assert!(jwt.valid_at(before, jiff::SignedDuration::ZERO));
        assert!(!jwt.valid_at(before, jiff::SignedDuration::from_secs(60)));
        assert!(!format!("{jwt:?}").contains("eyJ"), "Debug hides the token");
    }

    #[test]
    fn a_token_without_readable_expiry_is_taken_as_valid() {
        for token in ["opaque", "a.b.c", "a.eyJ4IjoxfQ.c"] {
            let jwt = Jwt::new(token.to_string());
            assert_eq!(jwt.expires_at, None, "{token}");
            assert!(jwt.valid_at(Timestamp::now(), jiff::SignedDuration::from_secs(3600)));
        }
    }
}
