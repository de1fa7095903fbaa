//! Authentication: an email/password login that returns a JWT, its renewal
//! while still valid, and a check that a secret API key is accepted.
//! Tokens and keys are never logged; [`Jwt`]'s `Debug` hides the token.

use std::fmt;

use jiff::Timestamp;
use reqwest::Method;
use serde::Deserialize;

use super::http::Credential;
use super::{MedusaClient, MedusaError};

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
    /// `POST /auth/user/emailpass {"email","password"}` -> a JWT.
    pub async fn login(&self, email: &str, password: &str) -> Result<Jwt, MedusaError> {
        let url = self.url("auth/user/emailpass", &[]);
        let body = serde_json::json!({"email": email, "password": password}).to_string();
        match self
            .call(Method::POST, &url, Credential::None, Some(&body))
            .await
        {
            Ok(reply) => token_from(&url, &reply),
            Err(MedusaError::Unauthorized { url, message })
            | Err(MedusaError::Status {
                url,
                status: 400,
                message,
            }) => Err(MedusaError::LoginRefused {
                url,
                email: email.to_string(),
                message: message.replace(password, "[redacted]"),
            }),
            Err(other) => Err(other),
        }
    }

    /// `POST /auth/token/refresh` with a still-valid JWT -> a new JWT. An
    /// expired one answers [`MedusaError::Unauthorized`]: log in again.
    pub async fn refresh(&self, jwt: &str) -> Result<Jwt, MedusaError> {
        let url = self.url("auth/token/refresh", &[]);
        let reply = self
            .call(Method::POST, &url, Credential::Bearer(jwt), Some("{}"))
            .await?;
        token_from(&url, &reply)
    }

    /// Whether the server accepts this credential for the Admin API (a
    /// cheap read of the store). Keys do not expire, but may be revoked.
    pub async fn check_credential(&self, credential: Credential<'_>) -> Result<(), MedusaError> {
        #[derive(Deserialize)]
        struct Stores {
            #[allow(dead_code)]
            stores: Vec<serde::de::IgnoredAny>,
        }
        self.get::<Stores>("admin/stores", &[("fields", "id")], credential)
            .await
            .map(|_| ())
    }
}

fn token_from(url: &reqwest::Url, body: &[u8]) -> Result<Jwt, MedusaError> {
    // The body holds a token: never quote it.
    let reply: TokenReply = serde_json::from_slice(body).map_err(|err| MedusaError::Malformed {
        url: super::http::url_without_query(url),
        what: format!("expected `{{\"token\": ...}}` ({err}; body not shown: it may hold a token)"),
    })?;
    if reply.token.is_empty() {
        return Err(MedusaError::Malformed {
            url: super::http::url_without_query(url),
            what: "the token is empty".into(),
        });
    }
    Ok(Jwt::new(reply.token))
}

/// The `exp` claim of a JWT (seconds since the epoch), read without
/// verifying the signature.
fn expiry_of(token: &str) -> Option<Timestamp> {
    #[derive(Deserialize)]
    struct Claims {
        exp: Option<i64>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64url_decode(payload)?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    Timestamp::from_second(claims.exp?).ok()
}

/// Unpadded (or padded) base64url, as JWTs use it (RFC 7515 §2).
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_decodes_jwt_parts() {
        assert_eq!(base64url_decode("").unwrap(), b"");
        assert_eq!(base64url_decode("TWFu").unwrap(), b"Man");
        assert_eq!(base64url_decode("TWE").unwrap(), b"Ma");
        assert_eq!(base64url_decode("TQ==").unwrap(), b"M");
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(base64url_decode("a+b/").is_none());
        assert!(base64url_decode("T").is_none());
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
