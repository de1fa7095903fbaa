//! One Medusa Admin API exchange: credentials, JSON bodies as text (so
//! amounts keep their digits), timeouts, and retries of transient failures
//! (connect errors, timeouts, 408/429/5xx) with capped, jittered backoff that
//! honours `Retry-After`. It never logs credentials or bodies.

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode, Url};
use tracing::{debug, warn};

use super::MedusaError;

/// The seam's client options (timeouts, retries, body limit) apply as they are.
pub use crate::connector::ClientOptions;

/// How a request proves who sends it.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// No credential (the login request itself).
    None,
    /// A JWT from `/auth/user/emailpass` as `Authorization: Bearer`.
    Bearer(&'a str),
    /// A secret API key (`sk_...`) as the HTTP Basic user, empty password.
    SecretKey(&'a str),
}

impl Credential<'_> {
    fn secret(&self) -> &str {
        match self {
            Credential::None => "",
            Credential::Bearer(s) | Credential::SecretKey(s) => s,
        }
    }
}

/// Longest excerpt of an error body kept in a message, in characters.
const EXCERPT_CHARS: usize = 300;

pub(super) async fn exchange(
    http: &reqwest::Client,
    options: &ClientOptions,
    method: Method,
    url: &Url,
    credential: Credential<'_>,
    body: Option<&str>,
) -> Result<Vec<u8>, MedusaError> {
    let mut attempt = 1;
    loop {
        let (error, retry_after) =
            match attempt_once(http, options, &method, url, credential, body).await {
                Ok(body) => return Ok(body),
                Err(Attempt::Fatal(error)) => return Err(error),
                Err(Attempt::Retry { error, retry_after }) => (error, retry_after),
            };
        if attempt >= options.max_attempts {
            return Err(error);
        }
        let wait = retry_wait(options, attempt - 1, retry_after);
        warn!(
            %method,
            path = url.path(),
            attempt,
            wait_ms = wait.as_millis() as u64,
            error = %error,
            "retrying Medusa request"
        );
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

enum Attempt {
    Retry {
        error: MedusaError,
        retry_after: Option<Duration>,
    },
    Fatal(MedusaError),
}

async fn attempt_once(
    http: &reqwest::Client,
    options: &ClientOptions,
    method: &Method,
    url: &Url,
    credential: Credential<'_>,
    body: Option<&str>,
) -> Result<Vec<u8>, Attempt> {
    let mut request = http
        .request(method.clone(), url.clone())
        .header(header::ACCEPT, "application/json");
    request = match credential {
        Credential::None => request,
        Credential::Bearer(token) => request.bearer_auth(token),
        Credential::SecretKey(key) => request.basic_auth(key, Some("")),
    };
    if let Some(body) = body {
        request = request
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let location = url_without_query(url);
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(source) => {
            let source = source.without_url();
            let error = if source.is_connect() {
                MedusaError::Connect {
                    url: location,
                    source,
                }
            } else if source.is_timeout() {
                MedusaError::Timeout { url: location }
            } else {
                MedusaError::Transport {
                    url: location,
                    source,
                }
            };
            return Err(Attempt::Retry {
                error,
                retry_after: None,
            });
        }
    };
    let status = response.status();
    debug!(%method, path = url.path(), status = status.as_u16(), "Medusa request");
    if status.is_success() {
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > options.max_body_bytes {
                        return Err(Attempt::Fatal(MedusaError::Malformed {
                            url: location,
                            what: format!(
                                "the reply is larger than {} bytes",
                                options.max_body_bytes
                            ),
                        }));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(source) => {
                    return Err(Attempt::Retry {
                        error: if source.is_timeout() {
                            MedusaError::Timeout { url: location }
                        } else {
                            MedusaError::Transport {
                                url: location,
                                source: source.without_url(),
                            }
                        },
                        retry_after: None,
                    });
                }
            }
        }
    }
    let retry_after = retry_after(response.headers());
    let text = read_prefix(&mut response, 8192).await;
    let code = status.as_u16();
    let message = error_message(&text, &[credential.secret()]);
    if code == 401 {
        return Err(Attempt::Fatal(MedusaError::Unauthorized {
            url: location,
            message,
        }));
    }
    let error = MedusaError::Status {
        url: location,
        status: code,
        message,
    };
    if matches!(code, 408 | 429 | 500 | 502 | 503 | 504) {
        Err(Attempt::Retry {
            error,
            retry_after: if matches!(code, 429 | 503) {
                retry_after
            } else {
                None
            },
        })
    } else {
        Err(Attempt::Fatal(error))
    }
}

/// The URL without its query: Medusa queries are long field lists.
pub(super) fn url_without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Full jitter below `min(cap, base * 2^retry)`, but never shorter than a
/// server's `Retry-After` (itself capped).
fn retry_wait(options: &ClientOptions, retry: u32, retry_after: Option<Duration>) -> Duration {
    let ceiling = options
        .backoff_base
        .saturating_mul(1u32 << retry.min(16))
        .min(options.backoff_cap);
    let jitter = ceiling.mul_f64(fastrand::f64());
    match retry_after {
        Some(wait) => wait.min(options.retry_after_cap).max(jitter),
        None => jitter,
    }
}

async fn read_prefix(response: &mut reqwest::Response, limit: usize) -> Vec<u8> {
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

/// Medusa's `{"type":..,"message":..}` error message, or an excerpt of the
/// body; on one line, with the credential redacted.
pub(super) fn error_message(body: &[u8], secrets: &[&str]) -> String {
    #[derive(serde::Deserialize)]
    struct Wire {
        message: String,
    }
    let text = match serde_json::from_slice::<Wire>(body) {
        Ok(wire) => wire.message,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }
    if text.chars().count() > EXCERPT_CHARS {
        text = text.chars().take(EXCERPT_CHARS - 1).collect::<String>() + "…";
    }
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}

/// A status code with its reason phrase, for messages.
pub(super) fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medusa_error_documents_give_their_message_without_secrets() {
        let body = br#"{"type":"invalid_data","message":"Product with sku: A1, already exists.\n token sk_123"}"#;
        assert_eq!(
            error_message(body, &["sk_123"]),
            "Product with sku: A1, already exists. token [redacted]"
        );
        assert_eq!(error_message(b"", &[]), "(empty body)");
        assert_eq!(
            error_message(b"<html>Bad gateway</html>", &[]),
            "<html>Bad gateway</html>"
        );
        let long = "x".repeat(1000);
        assert_eq!(
            error_message(long.as_bytes(), &[]).chars().count(),
            EXCERPT_CHARS
        );
    }

    #[test]
    fn retry_waits_stay_under_the_cap_and_honour_retry_after() {
        let options = ClientOptions::default();
        for retry in 0..40 {
            assert!(retry_wait(&options, retry, None) <= options.backoff_cap);
        }
        assert!(retry_wait(&options, 0, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
        assert_eq!(
            retry_wait(&options, 0, Some(Duration::from_secs(3600))),
            options.retry_after_cap
        );
    }

    #[test]
    fn urls_in_messages_carry_no_query() {
        let url = Url::parse("http://127.0.0.1:9000/admin/products?fields=id&limit=2").unwrap();
        assert_eq!(
            url_without_query(&url),
            "http://127.0.0.1:9000/admin/products"
        );
    }
}
