//! What the switches do to one protocol request: decided once, when it
//! arrives ([`plan`]), then applied: a reset connection, a failure status, a
//! rate limit, a delay, or a successful reply made unusable ([`distort`]).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::http::{Endpoint, bytes_response, json_response};
use crate::rate::{Bucket, Verdict};
use crate::shared::{Shared, lock};
use crate::switches::RateHeaders;

/// What the switches decided for one protocol request, taken atomically.
pub(crate) struct Plan {
    pub(crate) latency: Duration,
    pub(crate) close: bool,
    pub(crate) drop_reply: bool,
    pub(crate) fail: Option<u16>,
    pub(crate) rate_limited: bool,
    pub(crate) server_error: bool,
    pub(crate) retry_after: u64,
    pub(crate) retry_after_http_date: bool,
    /// The enforced rate's verdict on this request, when a rate is enforced.
    pub(crate) rate: Option<Verdict>,
    pub(crate) rate_headers: RateHeaders,
}

/// Takes one from a countdown switch; whether there was one to take.
pub(crate) fn take_one(counter: &mut u32) -> bool {
    let hit = *counter > 0;
    *counter = counter.saturating_sub(1);
    hit
}

pub(crate) fn plan(shared: &Shared, endpoint: Endpoint) -> Plan {
    let mut s = lock(&shared.switches);
    let close = take_one(&mut s.close_next);
    let fail = (!close && !s.fail_next.is_empty()).then(|| s.fail_next.remove(0));
    let drop_reply = !close && fail.is_none() && take_one(&mut s.drop_reply_next);
    // Every request that reaches the server spends from its rate, as behind
    // a real front end's limiter.
    let rate = s.rate_per_second.map(|per_second| {
        let now = std::time::Instant::now();
        let mut bucket = lock(&shared.rate);
        let bucket = match bucket.as_mut() {
            Some(b) if b.is_for(per_second, s.rate_burst) => b,
            _ => bucket.insert(Bucket::new(per_second, s.rate_burst, now)),
        };
        let verdict = bucket.take(now);
        Verdict {
            // An injected fault answers first.
            refused: verdict.refused && !close && !drop_reply && fail.is_none(),
            ..verdict
        }
    });
    if rate.is_some_and(|v| v.refused) {
        shared.rate_refusals.fetch_add(1, Ordering::Relaxed);
    }
    let mut rate_limited = false;
    let mut server_error = false;
    if endpoint != Endpoint::Token {
        let n = shared.rate_sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let undecided = !close && !drop_reply && fail.is_none() && !rate.is_some_and(|v| v.refused);
        rate_limited = undecided
            && s.rate_limit_every
                .is_some_and(|k| n.is_multiple_of(u64::from(k)));
        server_error =
            undecided && !rate_limited && s.error_rate > 0.0 && fastrand::f64() < s.error_rate;
    }
    Plan {
        latency: Duration::from_millis(s.latency_ms),
        close,
        drop_reply,
        fail,
        rate_limited,
        server_error,
        retry_after: s.retry_after_secs,
        retry_after_http_date: s.retry_after_http_date,
        rate,
        rate_headers: s.rate_headers,
    }
}

/// The reply a fault decided instead of the endpoint's: `fail_next`, a rate
/// limit or an injected server error. Faults come before authentication, as
/// from an overloaded front end.
pub(crate) fn injected(plan: &Plan) -> Option<Response> {
    if let Some(status) = plan.fail {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let response = json_response(
            status,
            json!({"error": "sandbox_fail_next", "error_description": "failure injected by `fail_next`"}),
        );
        return Some(if matches!(status.as_u16(), 429 | 503) {
            with_retry_after(response, plan.retry_after, plan.retry_after_http_date)
        } else {
            response
        });
    }
    if let Some(rate) = plan.rate.filter(|r| r.refused) {
        return Some(with_retry_after(
            json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "rate_limited", "error_description": format!("more than {} requests per second", rate.per_second)}),
            ),
            rate.retry_after_secs,
            plan.retry_after_http_date,
        ));
    }
    if plan.rate_limited {
        return Some(with_retry_after(
            json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "rate_limited", "error_description": "too many requests"}),
            ),
            plan.retry_after,
            plan.retry_after_http_date,
        ));
    }
    plan.server_error.then(|| {
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "server_error", "error_description": "failure injected by `error_rate`"}),
        )
    })
}

fn with_retry_after(mut response: Response, seconds: u64, as_http_date: bool) -> Response {
    let value = if as_http_date {
        let at = std::time::SystemTime::now() + Duration::from_secs(seconds);
        HeaderValue::from_str(&httpdate::fmt_http_date(at)).expect("http dates are ascii")
    } else {
        HeaderValue::from(seconds)
    };
    response.headers_mut().insert(header::RETRY_AFTER, value);
    response
}

/// Applies `garbage_next`, `truncate_next`, `wrong_content_type_next` to a
/// successful product reply (the request itself was fully processed).
pub(crate) async fn distort(shared: &Shared, response: Response) -> Response {
    let (garbage, truncate, wrong_type) = {
        let mut s = lock(&shared.switches);
        let garbage = take_one(&mut s.garbage_next);
        let truncate = !garbage && take_one(&mut s.truncate_next);
        let wrong_type = !garbage && !truncate && take_one(&mut s.wrong_content_type_next);
        (garbage, truncate, wrong_type)
    };
    if garbage {
        return bytes_response(
            StatusCode::OK,
            b"<html><body><h1>502 Bad Gateway</h1> upstream hiccup</body></html>".to_vec(),
        );
    }
    if truncate {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let mut response = Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)));
        response.headers_mut().remove(header::CONTENT_LENGTH);
        return response;
    }
    if wrong_type {
        let mut response = response;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return response;
    }
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::Switches;
    use crate::test_client::*;

    #[tokio::test]
    async fn fail_next_then_normal_service_with_retry_after() {
        let sb = start(
            3,
            Switches {
                fail_next: vec![500, 503],
                retry_after_secs: 7,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        // The token request is a protocol request too: it takes the first status.
        let (status, _) = refresh(&sb, &http, &sb.current_refresh_token()).await;
        assert_eq!(status, 500);
        // Faults come before authentication, as from an overloaded front end.
        let url = format!("{}/products", sb.base_url());
        let reply = get(&http, url.clone(), "not-checked").await;
        let retry_after = reply
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            (reply.status().as_u16(), retry_after.as_deref()),
            (503, Some("7"))
        );
        let access = access_token(&sb, &http).await;
        assert_eq!(get(&http, url.clone(), &access).await.status(), 200);
        let statuses: Vec<u16> = sb.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [500, 503, 200, 200]);
    }

    #[tokio::test]
    async fn reply_distortions_hit_only_the_next_successful_product_replies() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let url = format!("{}/products?limit=2", sb.base_url());
        type Check = fn(&str, &str) -> bool;
        let cases: &[(&str, Check)] = &[
            ("garbage_next", |ct, body| {
                ct == "application/json" && serde_json::from_str::<Value>(body).is_err()
            }),
            ("truncate_next", |_, body| {
                serde_json::from_str::<Value>(body).is_err() && body.starts_with("{\"products\":[")
            }),
            ("wrong_content_type_next", |ct, body| {
                ct.starts_with("text/html") && serde_json::from_str::<Value>(body).is_ok()
            }),
        ];
        for (switch, check) in cases {
            let patch = http
                .post(format!("{}/_sandbox/switches", sb.base_url()))
                .json(&json!({ *switch: 1 }))
                .send()
                .await
                .unwrap();
            assert_eq!(patch.status(), 200, "{switch}");
            let reply = get(&http, url.clone(), &access).await;
            assert_eq!(reply.status(), 200, "{switch}");
            let content_type = reply.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            let body = reply.text().await.unwrap();
            assert!(
                check(&content_type, &body),
                "{switch}: {content_type} {body}"
            );
            let again = get(&http, url.clone(), &access).await;
            assert!(again.json::<Value>().await.is_ok(), "{switch} applies once");
        }
        let bad = http
            .post(format!("{}/_sandbox/switches", sb.base_url()))
            .json(&json!({"no_such_switch": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }

    #[tokio::test]
    async fn rate_limit_repeat_cursor_and_omitted_results() {
        let sb = start(
            10,
            Switches {
                rate_limit_every: Some(3),
                retry_after_secs: 0,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(page(&sb, &http, &access, "limit=2").await.0);
        }
        assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);

        sb.update_switches(|s| {
            s.rate_limit_every = None;
            s.repeat_cursor = true;
        });
        let (_, first) = page(&sb, &http, &access, "limit=2").await;
        let cursor = first["next_cursor"].as_str().unwrap().to_string();
        let (_, second) = page(&sb, &http, &access, &format!("limit=2&cursor={cursor}")).await;
        assert_eq!(second["next_cursor"], cursor.as_str());
        assert_ne!(skus(&first), skus(&second));

        sb.update_switches(|s| {
            s.repeat_cursor = false;
            s.omit_results_next = 1;
        });
        let body =
            json!({"products": [nested_json("a", &[("A", "1")]), nested_json("b", &[("B", "2")])]});
        let (_, reply) = export(&sb, &http, &access, body.clone()).await;
        assert_eq!(reply["results"].as_array().unwrap().len(), 1);
        assert!(
            sb.product("B").is_some(),
            "the omitted item was still stored"
        );
        let (_, reply) = export(&sb, &http, &access, body).await;
        assert_eq!(reply["results"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn close_next_resets_the_connection_without_a_reply() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        sb.update_switches(|s| s.close_next = 1);
        let url = format!("{}/products", sb.base_url());
        let err = http.get(&url).bearer_auth(&access).send().await;
        let err = err
            .map(|r| r.status())
            .expect_err("close_next must not reply");
        assert!(!err.is_timeout(), "a reset, not a hang: {err:?}");
        assert_eq!(get(&http, url, &access).await.status(), 200);
        let statuses: Vec<u16> = sb.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 0, 200]);
    }

    #[tokio::test]
    async fn drop_reply_next_rotates_but_the_client_never_hears() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let before = sb.current_refresh_token();
        sb.update_switches(|s| s.drop_reply_next = 1);
        let lost = http
            .post(sb.token_url())
            .basic_auth(sb.client_id(), Some(sb.client_secret()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", before.as_str()),
            ])
            .send()
            .await;
        assert!(lost.is_err(), "the reply must be lost");
        assert_ne!(
            sb.current_refresh_token(),
            before,
            "the server rotated anyway"
        );
        assert_eq!(
            refresh(&sb, &http, &before).await.1["error"],
            "invalid_grant"
        );
        assert_eq!(sb.requests()[0].status, 0);
    }

    #[tokio::test]
    async fn retry_after_can_be_an_http_date() {
        let sb = start(
            1,
            Switches {
                rate_limit_every: Some(1),
                retry_after_secs: 120,
                retry_after_http_date: true,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let reply = get(&http, format!("{}/products", sb.base_url()), &access).await;
        assert_eq!(reply.status(), 429);
        let date =
            httpdate::parse_http_date(reply.headers()["retry-after"].to_str().unwrap()).unwrap();
        let wait = date.duration_since(std::time::SystemTime::now()).unwrap();
        assert!(
            (Duration::from_secs(110)..=Duration::from_secs(120)).contains(&wait),
            "{wait:?}"
        );
    }
}
