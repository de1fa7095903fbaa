//! The enforced rate (`rate_per_second`, `rate_burst`): a token bucket that
//! every protocol request draws from, the 429 for a request that finds it
//! empty, and the rate headers that describe it to the client.

use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

use crate::switches::RateHeaders;

/// A token bucket: `burst` tokens at most, refilled at `per_second`.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    per_second: f64,
    burst: u32,
    tokens: f64,
    at: Instant,
}

/// What the enforced rate made of one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Verdict {
    /// No token: the request is answered 429.
    pub(crate) refused: bool,
    /// Whole tokens left after the request.
    pub(crate) remaining: u64,
    /// Whole seconds until the bucket is full again (rounded up).
    pub(crate) reset_secs: u64,
    /// Whole seconds until the next token (rounded up, at least 1): the
    /// refusal's `Retry-After`.
    pub(crate) retry_after_secs: u64,
    pub(crate) burst: u32,
    pub(crate) per_second: f64,
}

impl Bucket {
    pub(crate) fn new(per_second: f64, burst: u32, now: Instant) -> Bucket {
        Bucket {
            per_second,
            burst,
            tokens: f64::from(burst),
            at: now,
        }
    }

    /// Whether it was made for these switches (else it is made anew, full).
    pub(crate) fn is_for(&self, per_second: f64, burst: u32) -> bool {
        self.per_second == per_second && self.burst == burst
    }

    /// Takes a token for one request, if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(f64::from(self.burst));
        self.at = now;
        let refused = self.tokens < 1.0;
        if !refused {
            self.tokens -= 1.0;
        }
        let seconds = |tokens: f64| (tokens.max(0.0) / self.per_second).ceil() as u64;
        Verdict {
            refused,
            remaining: self.tokens.floor() as u64,
            reset_secs: seconds(f64::from(self.burst) - self.tokens),
            retry_after_secs: seconds(1.0 - self.tokens).max(1),
            burst: self.burst,
            per_second: self.per_second,
        }
    }
}

/// Adds the rate headers of `style` for `verdict` to a reply.
pub(crate) fn add_headers(response: &mut Response, style: RateHeaders, verdict: &Verdict) {
    for (name, value) in headers(style, verdict, SystemTime::now()) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
}

fn headers(style: RateHeaders, v: &Verdict, now: SystemTime) -> Vec<(&'static str, String)> {
    let (limit, remaining, reset) = (v.burst, v.remaining, v.reset_secs);
    match style {
        RateHeaders::None => Vec::new(),
        RateHeaders::Ietf => {
            let window = (f64::from(v.burst) / v.per_second).ceil().max(1.0) as u64;
            vec![
                (
                    "ratelimit-policy",
                    format!("\"sandbox\";q={limit};w={window}"),
                ),
                ("ratelimit", format!("\"sandbox\";r={remaining};t={reset}")),
            ]
        }
        RateHeaders::RatelimitFields => vec![
            ("ratelimit-limit", limit.to_string()),
            ("ratelimit-remaining", remaining.to_string()),
            ("ratelimit-reset", reset.to_string()),
        ],
        RateHeaders::XRatelimit | RateHeaders::XRatelimitEpoch => {
            let reset = if style == RateHeaders::XRatelimitEpoch {
                let at = now + Duration::from_secs(reset);
                at.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
            } else {
                reset
            };
            vec![
                ("x-ratelimit-limit", limit.to_string()),
                ("x-ratelimit-remaining", remaining.to_string()),
                ("x-ratelimit-reset", reset.to_string()),
            ]
        }
        RateHeaders::Shopify => vec![(
            "x-shopify-shop-api-call-limit",
            format!("{}/{limit}", u64::from(limit).saturating_sub(remaining)),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_grants_a_burst_then_its_rate_and_says_when() {
        let start = Instant::now();
        let mut bucket = Bucket::new(10.0, 3, start);
        let verdicts: Vec<(bool, u64, u64)> = (0..4)
            .map(|_| bucket.take(start))
            .map(|v| (v.refused, v.remaining, v.reset_secs))
            .collect();
        assert_eq!(
            verdicts,
            [(false, 2, 1), (false, 1, 1), (false, 0, 1), (true, 0, 1)]
        );
        assert_eq!(bucket.take(start).retry_after_secs, 1);
        // 100 ms later one token is back.
        let later = start + Duration::from_millis(100);
        assert!(!bucket.take(later).refused);
        assert!(bucket.take(later).refused);
        // A slow rate says how long, in whole seconds.
        let mut slow = Bucket::new(0.25, 1, start);
        assert!(!slow.take(start).refused);
        let refused = slow.take(start);
        assert_eq!((refused.refused, refused.retry_after_secs), (true, 4));
        assert_eq!(refused.reset_secs, 4);
    }

    #[test]
    fn each_header_style_says_the_same_budget() {
        let verdict = Verdict {
            refused: false,
            remaining: 0,
            reset_secs: 2,
            retry_after_secs: 1,
            burst: 20,
            per_second: 10.0,
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let cases: [(RateHeaders, &[(&str, &str)]); 6] = [
            (RateHeaders::None, &[]),
            (
                RateHeaders::Ietf,
                &[
                    ("ratelimit-policy", "\"sandbox\";q=20;w=2"),
                    ("ratelimit", "\"sandbox\";r=0;t=2"),
                ],
            ),
            (
                RateHeaders::RatelimitFields,
                &[
                    ("ratelimit-limit", "20"),
                    ("ratelimit-remaining", "0"),
                    ("ratelimit-reset", "2"),
                ],
            ),
            (
                RateHeaders::XRatelimit,
                &[
                    ("x-ratelimit-limit", "20"),
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "2"),
                ],
            ),
            (
                RateHeaders::XRatelimitEpoch,
                &[
                    ("x-ratelimit-limit", "20"),
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1800000002"),
                ],
            ),
            (
                RateHeaders::Shopify,
                &[("x-shopify-shop-api-call-limit", "20/20")],
            ),
        ];
        for (style, expected) in cases {
            let got = headers(style, &verdict, at);
            let got: Vec<(&str, &str)> = got.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(got, expected, "{style:?}");
        }
    }
}

#[cfg(test)]
mod server_tests {
    use crate::test_client::*;
    use crate::{RateHeaders, Switches};

    #[tokio::test]
    async fn requests_past_the_enforced_rate_are_refused_with_retry_after_and_counted() {
        let sb = start(
            3,
            Switches {
                rate_per_second: Some(0.5),
                rate_burst: 2,
                rate_headers: RateHeaders::XRatelimit,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        // The token request spends from the rate too: one left.
        let access = access_token(&sb, &http).await;
        let url = format!("{}/products?limit=1", sb.base_url());
        let first = get(&http, url.clone(), &access).await;
        let header = |r: &reqwest::Response, name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        assert_eq!(first.status(), 200);
        assert_eq!(
            header(&first, "x-ratelimit-remaining").as_deref(),
            Some("0")
        );
        assert_eq!(header(&first, "x-ratelimit-limit").as_deref(), Some("2"));
        assert_eq!(header(&first, "x-ratelimit-reset").as_deref(), Some("4"));
        let refused = get(&http, url.clone(), &access).await;
        assert_eq!(refused.status(), 429);
        assert_eq!(header(&refused, "retry-after").as_deref(), Some("2"));
        assert_eq!(
            header(&refused, "x-ratelimit-remaining").as_deref(),
            Some("0")
        );
        assert_eq!(sb.refused_for_rate(), 1);
        let statuses: Vec<u16> = sb.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 200, 429]);
        // Switched off: no limit, no headers.
        sb.update_switches(|s| s.rate_per_second = None);
        let free = get(&http, url, &access).await;
        assert_eq!(free.status(), 200);
        assert_eq!(header(&free, "x-ratelimit-remaining"), None);
        assert_eq!("shopify".parse::<RateHeaders>(), Ok(RateHeaders::Shopify));
        assert!("gcra".parse::<RateHeaders>().unwrap_err().contains("ietf"));
    }
}
