//! The fault and behaviour switches, and the values they may take.

use serde::{Deserialize, Serialize};

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
    /// These skus get a per-item error in export batches (upserts and deletions).
    pub item_error_skus: Vec<String>,
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
            garbage_next: 0,
            truncate_next: 0,
            wrong_content_type_next: 0,
            repeat_cursor: false,
            omit_results_next: 0,
            item_error_skus: Vec::new(),
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
        Ok(())
    }
}
