//! The fault and behaviour switches, and the values they may take.

use serde::{Deserialize, Serialize};

/// Which rate headers the sandbox sends while it enforces a rate; each is a
/// convention real channels use. `remaining` is what the bucket holds after
/// the request, `reset` the whole seconds until it is full again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RateHeaders {
    /// No rate headers (a channel that only answers 429).
    #[default]
    None,
    /// The IETF draft's structured fields: `RateLimit-Policy:
    /// "sandbox";q=<burst>;w=<seconds to fill>` and `RateLimit:
    /// "sandbox";r=<remaining>;t=<reset>`.
    Ietf,
    /// The earlier drafts' fields: `RateLimit-Limit`, `RateLimit-Remaining`,
    /// `RateLimit-Reset` (seconds).
    RatelimitFields,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds).
    XRatelimit,
    /// The same with `X-RateLimit-Reset` as a Unix time (GitHub's way).
    XRatelimitEpoch,
    /// Shopify's `X-Shopify-Shop-Api-Call-Limit: <used>/<burst>`, no reset.
    Shopify,
}

impl std::str::FromStr for RateHeaders {
    type Err = String;

    /// The switch's JSON name: `none`, `ietf`, `ratelimit-fields`, ...
    fn from_str(text: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
            format!(
                "unknown rate header style `{text}`: expected none, ietf, ratelimit-fields, x-ratelimit, x-ratelimit-epoch or shopify"
            )
        })
    }
}

/// Fault and behaviour switches; settable at start, from Rust and by
/// `POST /_sandbox/switches` (a partial JSON object of these fields).
///
/// "Protocol requests" are `POST /oauth/token`, `GET /products` and
/// `POST /products/batch`; "product requests" are the latter two.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    /// Delay before answering each protocol request.
    pub latency_ms: u64,
    /// Fraction (0..=1) of product requests answered 500.
    pub error_rate: f64,
    /// The next protocol requests get these statuses, one each, in order.
    pub fail_next: Vec<u16>,
    /// `Retry-After` seconds sent with 429 and 503.
    pub retry_after_secs: u64,
    /// Send `Retry-After` as an HTTP date (now + `retry_after_secs`) instead
    /// of seconds; both forms are legal (RFC 9110 §10.2.3).
    pub retry_after_http_date: bool,
    /// Every Nth product request is answered 429.
    pub rate_limit_every: Option<u32>,
    /// Enforce a rate on protocol requests: a token bucket refilled at this
    /// many requests per second, holding at most `rate_burst`; a request
    /// finding it empty is answered 429 with `Retry-After` (whole seconds
    /// until the next token). `None`: no rate is enforced.
    pub rate_per_second: Option<f64>,
    /// Requests the enforced rate lets through at once after a quiet spell.
    pub rate_burst: u32,
    /// The rate headers sent with every protocol reply while a rate is
    /// enforced (see [`RateHeaders`]).
    pub rate_headers: RateHeaders,
    /// The next N successful product replies are a non-JSON body with 200.
    pub garbage_next: u32,
    /// The next N successful product replies are valid JSON cut in half.
    pub truncate_next: u32,
    /// The next N successful product replies claim `text/html`.
    pub wrong_content_type_next: u32,
    /// Every page returns the cursor it was asked for (or the first page's) as
    /// `next_cursor`, so a client that trusts it loops forever.
    pub repeat_cursor: bool,
    /// The next N successful batch replies leave out the last item's result.
    pub omit_results_next: u32,
    /// These skus (or handles) get a per-item error in export batches
    /// (upserts and deletions).
    pub item_error_skus: Vec<String>,
    /// The currencies the channel takes (ISO codes); empty: every one. A
    /// price in another is left out of the stored product, and the item's
    /// result names the currency in `dropped_currencies`.
    pub currencies: Vec<String>,
    /// The next N protocol requests get their TCP connection reset, no reply.
    pub close_next: u32,
    /// The next N protocol requests are fully processed (a refresh token
    /// rotated, a batch stored), then their connection is reset: the reply is
    /// lost, as when a client crashes or times out at the worst moment.
    pub drop_reply_next: u32,
    /// Lifetime of new access tokens; 0 makes them expire at once.
    pub token_lifetime_secs: u64,
    /// Every refresh issues a new refresh token and invalidates the old one.
    pub rotate_refresh_tokens: bool,
    /// Replaying a rotated-out refresh token revokes the grant (RFC 9700 §4.14.2).
    pub reuse_detection: bool,
    /// Whether `grant_type=client_credentials` is allowed.
    pub client_credentials: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            latency_ms: 0,
            error_rate: 0.0,
            fail_next: Vec::new(),
            retry_after_secs: 1,
            retry_after_http_date: false,
            rate_limit_every: None,
            rate_per_second: None,
            rate_burst: 1,
            rate_headers: RateHeaders::None,
            garbage_next: 0,
            truncate_next: 0,
            wrong_content_type_next: 0,
            repeat_cursor: false,
            omit_results_next: 0,
            item_error_skus: Vec::new(),
            currencies: Vec::new(),
            close_next: 0,
            drop_reply_next: 0,
            token_lifetime_secs: 3600,
            rotate_refresh_tokens: true,
            reuse_detection: false,
            client_credentials: false,
        }
    }
}

impl Switches {
    /// Refuses values the server could not act on.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "invalid `error_rate` {}: expected a fraction from 0 to 1",
                self.error_rate
            ));
        }
        if let Some(bad) = self.fail_next.iter().find(|s| !(200..=599).contains(*s)) {
            return Err(format!(
                "invalid status {bad} in `fail_next`: expected 200..=599"
            ));
        }
        if self.rate_limit_every == Some(0) {
            return Err("invalid `rate_limit_every` 0: expected at least 1, or null".into());
        }
        if let Some(rate) = self.rate_per_second
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(format!(
                "invalid `rate_per_second` {rate}: expected a number of requests per second above 0, or null"
            ));
        }
        if self.rate_burst == 0 {
            return Err("invalid `rate_burst` 0: expected at least 1".into());
        }
        Ok(())
    }
}
