//! Tests of the connector against an in-process server on 127.0.0.1 (axum,
//! or raw TCP where a reply must break the HTTP rules). Every server plays a
//! script of replies and records what it received.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::catalog::Product;
use crate::connector::http::excerpt;
use crate::connector::http::form_urlencode;
use crate::connector::test_server::{Reply, TestServer, closed_port_url, raw_server};
use crate::connector::{Deletion, IntentId, ItemStatus, PlatformIds, Remedy, Skipped, UrlError};

const MS: Duration = Duration::from_millis(1);

/// Tiny waits so that retry tests stay fast.
fn fast() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        max_attempts: 3,
        backoff_base: MS,
        backoff_cap: 5 * MS,
        retry_after_cap: 50 * MS,
        max_body_bytes: 64 << 10,
        rate_limit: None,
    }
}

fn client() -> BetaRestClient {
    BetaRestClient::new(fast()).unwrap()
}

fn pairs(encoded: &str) -> Vec<(String, String)> {
    Url::parse(&format!("http://x/?{encoded}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn product_json(sku: &str, price: &str) -> String {
    format!(
        r#"{{"sku":"{sku}","title":"Item {sku}","price":"{price}","currency":"EUR","quantity":3,"attributes":{{"color":"red"}},"updated_at":"2026-01-31T12:00:00Z","id":"ch-{sku}"}}"#
    )
}

/// A product as a flat server's page gives it.
fn product(sku: &str, price: &str) -> Product {
    serde_json::from_str::<WireProduct>(&product_json(sku, price))
        .unwrap()
        .into_product(&LocationMap::new())
        .unwrap()
        .0
        .unwrap()
}

fn handle(sku: &str) -> String {
    crate::catalog::derive_handle(sku)
}

static NO_IDS: PlatformIds = PlatformIds::new();
static NO_LOCATIONS: LocationMap = LocationMap::new();

/// Products to write, owning every field.
fn items(products: &[Product]) -> ExportBatch<'_> {
    ExportBatch {
        items: products
            .iter()
            .map(|product| ExportItem {
                product,
                fields: crate::catalog::FieldSet::ALL,
                known: &NO_IDS,
                locations: &NO_LOCATIONS,
            })
            .collect(),
        deletions: Vec::new(),
    }
}

/// beta-rest's batches are atomic and keyed: it journals nothing.
struct NoJournal;

impl Journal for NoJournal {
    fn intent(&self, _: &str, _: &str, _: &[String]) -> Result<IntentId, ChannelError> {
        panic!("beta-rest journals nothing")
    }
    fn ids(&self, _: IntentId, _: &PlatformIds) -> Result<(), ChannelError> {
        panic!("beta-rest journals nothing")
    }
    fn done(&self, _: IntentId) -> Result<(), ChannelError> {
        panic!("beta-rest journals nothing")
    }
}

const TOKEN_OK: &str = r#"{"access_token":"at-new","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-rotated"}"#;

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn refresh_grant_sends_encoded_basic_auth_and_form() {
    let server = TestServer::start(vec![Reply::json(200, TOKEN_OK)]).await;
    let token_url = server.url("/oauth/token");
    let grant = Grant::RefreshToken("rt/old+1".into());
    let reply = client()
        .request_token(&token_url, "acme oms:1", "s3:cr&t é+", &grant)
        .await
        .unwrap();

    assert_eq!(reply.access_token, "at-new");
    assert_eq!(reply.token_type, "Bearer");
    assert_eq!(reply.expires_in, Some(3600));
    assert_eq!(reply.refresh_token.as_deref(), Some("rt-rotated"));

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/oauth/token")
    );
    // base64("acme+oms%3A1:s3%3Acr%26t+%C3%A9%2B"): each part form-urlencoded first.
    assert_eq!(
        request.header("authorization"),
        Some("Basic YWNtZStvbXMlM0ExOnMzJTNBY3IlMjZ0KyVDMyVBOSUyQg==")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let body = String::from_utf8(request.body.clone()).unwrap();
    assert_eq!(
        pairs(&body),
        owned(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt/old+1")
        ])
    );
}

#[tokio::test]
async fn client_credentials_grant_sends_only_the_grant_type() {
    let server = TestServer::start(vec![Reply::json(
        200,
        r#"{"access_token":"at-cc","token_type":"bearer","expires_in":600,"scope":"products"}"#,
    )])
    .await;
    let reply = client()
        .request_token(
            &server.url("/oauth/token"),
            "plain-id",
            "plain-secret",
            &Grant::ClientCredentials,
        )
        .await
        .unwrap();
    assert_eq!(reply.access_token, "at-cc");
    assert_eq!(reply.refresh_token, None, "no rotation: keep the old token");

    let request = &server.seen()[0];
    assert_eq!(
        request.header("authorization"),
        Some("Basic cGxhaW4taWQ6cGxhaW4tc2VjcmV0")
    );
    let body = String::from_utf8(request.body.clone()).unwrap();
    assert_eq!(pairs(&body), owned(&[("grant_type", "client_credentials")]));
}

#[tokio::test]
async fn token_error_replies() {
    type Check = fn(&ChannelError) -> bool;
    let secret_echo =
        r#"{"error":"invalid_request","error_description":"bad token rt-very-secret"}"#;
    let cases: Vec<(Reply, Check, &str)> = vec![
        (
            Reply::json(
                400,
                r#"{"error":"invalid_grant","error_description":"token revoked"}"#,
            ),
            |e| {
                matches!(e, ChannelError::InvalidGrant { description: Some(d) } if d == "token revoked")
                    && e.remedy() == Some(Remedy::Login)
            },
            "expired or revoked",
        ),
        (
            Reply::json(401, r#"{"error":"invalid_grant"}"#),
            |e| matches!(e, ChannelError::InvalidGrant { description: None }),
            "`invalid_grant`",
        ),
        (
            Reply::json(401, r#"{"error":"invalid_client"}"#),
            |e| {
                matches!(e, ChannelError::TokenRejected { error, .. } if error == "invalid_client")
                    && e.remedy()
                        == Some(Remedy::CheckCredentials {
                            what: crate::connector::Secret::ClientSecret,
                        })
            },
            "`invalid_client`",
        ),
        (
            Reply::json(400, secret_echo),
            |e| matches!(e, ChannelError::TokenRejected { .. }),
            "bad token [redacted]",
        ),
        (
            Reply::raw(
                400,
                Some("text/plain"),
                "refresh_token=rt-very-secret is bad",
            ),
            |e| matches!(e, ChannelError::Status { status: 400, .. }),
            "refresh_token=[redacted] is bad",
        ),
        (
            Reply::json(403, "{}"),
            |e| matches!(e, ChannelError::Status { status: 403, .. }),
            "403 Forbidden",
        ),
        (
            Reply::json(500, "boom"),
            |e| matches!(e, ChannelError::TokenOutcomeUnknown { .. }),
            "500 Internal Server Error: boom",
        ),
        (
            Reply::json(502, ""),
            |e| {
                matches!(e, ChannelError::TokenOutcomeUnknown { .. })
                    && e.remedy() == Some(Remedy::LoginIfGrantRevoked)
            },
            "outcome is unknown",
        ),
        (
            Reply::raw(200, Some("text/html"), "<html>login</html>"),
            |e| matches!(e, ChannelError::NotJson { excerpt, .. } if excerpt.is_empty()),
            "content type `text/html`, not JSON",
        ),
        (
            Reply::json(200, r#"{"access_token":"at-very-secret"}"#),
            |e| matches!(e, ChannelError::Malformed { excerpt, .. } if excerpt.is_empty()),
            "body not shown",
        ),
        (
            Reply::json(
                200,
                r#"{"access_token":"at-very-secret","token_type":"mac"}"#,
            ),
            |e| matches!(e, ChannelError::Malformed { .. }),
            "`mac` is not supported",
        ),
        (
            Reply::json(200, r#"{"access_token":"","token_type":"Bearer"}"#),
            |e| matches!(e, ChannelError::Malformed { .. }),
            "empty `access_token`",
        ),
    ];
    for (reply, check, text) in cases {
        let label = format!("{} {}", reply.status, reply.body);
        let server = TestServer::start(vec![reply]).await;
        let err = client()
            .request_token(
                &server.url("/oauth/token"),
                "id",
                "client-very-secret",
                &Grant::RefreshToken("rt-very-secret".into()),
            )
            .await
            .expect_err(&label);
        assert!(check(&err), "{label}: {err:?}");
        let message = err.to_string();
        assert!(message.contains(text), "{label}: {message}");
        assert!(!message.contains("very-secret"), "{label}: {message}");
        assert_eq!(server.count(), 1, "{label}: never resent");
    }
}

#[tokio::test]
async fn refresh_is_resent_only_when_the_server_refused_it() {
    let cases = [
        Reply::json(503, "busy"),
        Reply::json(429, "slow down").header("retry-after", "0"),
    ];
    for refusal in cases {
        let label = refusal.status;
        let server = TestServer::start(vec![refusal, Reply::json(200, TOKEN_OK)]).await;
        let reply = client()
            .request_token(
                &server.url("/oauth/token"),
                "id",
                "secret",
                &Grant::RefreshToken("rt-1".into()),
            )
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(reply.refresh_token.as_deref(), Some("rt-rotated"));
        assert_eq!(server.count(), 2, "{label}");
    }
}

#[tokio::test]
async fn refresh_that_times_out_is_not_resent() {
    let server = TestServer::start(vec![
        Reply::json(200, TOKEN_OK).delayed(Duration::from_secs(5)),
    ])
    .await;
    let client = BetaRestClient::new(ClientOptions {
        request_timeout: 200 * MS,
        ..fast()
    })
    .unwrap();
    let started = Instant::now();
    let err = client
        .request_token(
            &server.url("/oauth/token"),
            "id",
            "secret",
            &Grant::RefreshToken("rt-1".into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::TokenOutcomeUnknown { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no reply came in time"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(server.count(), 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn client_credentials_are_retried_like_reads() {
    // No refresh token to rotate, so resending after a timeout is harmless.
    let server = TestServer::start(vec![
        Reply::json(200, TOKEN_OK).delayed(Duration::from_secs(5)),
        Reply::json(500, "oops"),
        Reply::json(200, TOKEN_OK),
    ])
    .await;
    let client = BetaRestClient::new(ClientOptions {
        request_timeout: 200 * MS,
        ..fast()
    })
    .unwrap();
    let reply = client
        .request_token(
            &server.url("/oauth/token"),
            "id",
            "secret",
            &Grant::ClientCredentials,
        )
        .await
        .unwrap();
    assert_eq!(reply.access_token, "at-new");
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn refresh_with_a_broken_reply_is_not_resent() {
    // Headers promise 100 bytes, 10 arrive, then the server hangs up.
    let (base, count) = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"access_".to_vec(),
    )
    .await;
    let token_url = base.join("/oauth/token").unwrap();
    let err = client()
        .request_token(
            &token_url,
            "id",
            "secret",
            &Grant::RefreshToken("rt-1".into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::TokenOutcomeUnknown { .. }),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refresh_without_a_connection_is_retried_then_reported() {
    let url = closed_port_url().await.join("/oauth/token").unwrap();
    let err = client()
        .request_token(&url, "id", "secret", &Grant::RefreshToken("rt-1".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::Connect { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(&format!("`{url}`")), "{err}");
}

// ---------------------------------------------------------------- import

#[tokio::test]
async fn product_page_is_parsed_and_the_query_is_complete() {
    let page = format!(
        r#"{{"products":[{},{}],"next_cursor":"c2"}}"#,
        product_json("A-1", "19.90"),
        product_json("B-2", "1000000.10")
    );
    let server = TestServer::start(vec![Reply::json(200, page)]).await;
    let since: Timestamp = "2026-01-31T12:00:00Z".parse().unwrap();
    let got = client()
        .fetch_products_page(
            &server.base,
            "at-1",
            50,
            Some("c1"),
            Some(since),
            &NO_LOCATIONS,
        )
        .await
        .unwrap();

    assert_eq!(got.next_cursor.as_deref(), Some("c2"));
    assert_eq!(
        got.products,
        vec![product("A-1", "19.90"), product("B-2", "1000000.10")]
    );
    // Prices stay exact: decimal digits, never a float.
    let price = got.products[1].variants[0].prices.iter().next().unwrap();
    assert_eq!(price.amount_text(), "1000000.10");
    assert_eq!(got.products[0].attributes["color"], "red");
    assert_eq!(got.products[0].id.as_deref(), Some("ch-A-1"));

    let request = &server.seen()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/v1/products")
    );
    assert_eq!(request.header("authorization"), Some("Bearer at-1"));
    assert_eq!(
        pairs(request.query.as_deref().unwrap()),
        owned(&[
            ("limit", "50"),
            ("cursor", "c1"),
            ("updated_since", "2026-01-31T12:00:00Z")
        ])
    );
}

#[tokio::test]
async fn last_page_and_optional_query_parameters() {
    let cases = [
        (r#"{"products":[],"next_cursor":null}"#, "http://{}/v1/"),
        (r#"{"products":[],"next_cursor":""}"#, "http://{}/v1"),
        (r#"{"products":[]}"#, "http://{}/v1"),
    ];
    for (body, base) in cases {
        let server = TestServer::start(vec![Reply::json(200, body)]).await;
        let host = server.base.host_str().unwrap().to_string();
        let port = server.base.port().unwrap();
        let base = Url::parse(&base.replace("{}", &format!("{host}:{port}"))).unwrap();
        let page = client()
            .fetch_products_page(&base, "at-1", 100, None, None, &NO_LOCATIONS)
            .await
            .unwrap();
        assert_eq!(
            page,
            ProductPage {
                products: vec![],
                next_cursor: None,
                skipped: vec![],
            },
            "{body}"
        );
        let request = &server.seen()[0];
        assert_eq!(request.path, "/v1/products", "{base}");
        assert_eq!(request.query.as_deref(), Some("limit=100"));
    }
}

#[tokio::test]
async fn product_requests_retry_transient_failures_only() {
    let ok = || Reply::json(200, r#"{"products":[],"next_cursor":null}"#);
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
    let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    type Check = fn(&Result<ProductPage, ChannelError>) -> bool;
    let is_ok: Check = |r| r.is_ok();
    // (replies, expected, requests made, least time taken)
    let cases: Vec<(Vec<Reply>, Check, usize, Duration)> = vec![
        (vec![Reply::json(500, "x"), ok()], is_ok, 2, Duration::ZERO),
        (
            vec![Reply::json(502, "x"), Reply::json(504, "x"), ok()],
            is_ok,
            3,
            Duration::ZERO,
        ),
        (vec![Reply::json(408, "x"), ok()], is_ok, 2, Duration::ZERO),
        (
            vec![Reply::json(429, "x").header("retry-after", "0"), ok()],
            is_ok,
            2,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(429, "x").header("retry-after", past), ok()],
            is_ok,
            2,
            Duration::ZERO,
        ),
        // Retry-After is the least wait, capped at `retry_after_cap` (50 ms here).
        (
            vec![Reply::json(429, "x").header("retry-after", "5"), ok()],
            is_ok,
            2,
            50 * MS,
        ),
        (
            vec![Reply::json(503, "x").header("retry-after", future), ok()],
            is_ok,
            2,
            50 * MS,
        ),
        (
            vec![Reply::json(503, "down for maintenance")],
            |r| matches!(r, Err(ChannelError::Status { status: 503, excerpt, .. }) if excerpt == "down for maintenance"),
            3,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(400, "{\"message\":\n  \"limit too large\"}")],
            |r| matches!(r, Err(ChannelError::PageSizeRefused { page_size: 10, message, .. }) if message == "limit too large"),
            1,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(400, r#"{"message":"unknown cursor"}"#)],
            |r| matches!(r, Err(ChannelError::Status { status: 400, excerpt, .. }) if excerpt == "unknown cursor"),
            1,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(403, "no")],
            |r| matches!(r, Err(ChannelError::Status { status: 403, .. })),
            1,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(404, "no")],
            |r| matches!(r, Err(ChannelError::Status { status: 404, .. })),
            1,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(409, "no")],
            |r| matches!(r, Err(ChannelError::Status { status: 409, .. })),
            1,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(422, "no")],
            |r| matches!(r, Err(ChannelError::Status { status: 422, .. })),
            1,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(302, "").header("location", "https://elsewhere.example/")],
            |r| matches!(r, Err(ChannelError::Redirected { cross_origin: true, to, .. }) if to == "https://elsewhere.example/"),
            1,
            Duration::ZERO,
        ),
        (
            vec![Reply::json(401, "expired")],
            |r| matches!(r, Err(ChannelError::Unauthorized { .. })),
            1,
            Duration::ZERO,
        ),
    ];
    for (replies, check, requests, least) in cases {
        let label = format!("{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
        let server = TestServer::start(replies).await;
        let started = Instant::now();
        let result = client()
            .fetch_products_page(&server.base, "at-1", 10, None, None, &NO_LOCATIONS)
            .await;
        let took = started.elapsed();
        assert!(check(&result), "{label}: {result:?}");
        assert_eq!(server.count(), requests, "{label}");
        assert!(
            took >= least,
            "{label}: took {took:?}, expected at least {least:?}"
        );
        assert!(took < Duration::from_secs(1), "{label}: took {took:?}");
    }
}

#[tokio::test]
async fn bad_pages_are_malformed_and_not_retried() {
    let float_price = format!(
        r#"{{"products":[{}],"next_cursor":null}}"#,
        product_json("A-1", "19.90").replace(r#""19.90""#, "19.9")
    );
    let huge = format!(
        r#"{{"products":[],"padding":"{}","next_cursor":null}}"#,
        "x".repeat(100 << 10)
    );
    // (reply, text the message must contain)
    let cases = [
        (
            Reply::json(200, "<<garbage>>"),
            "expected value at line 1 column 1 (body: <<garbage>>)",
        ),
        (Reply::json(200, r#"{"products":[{"sku":"A-1","ti"#), "EOF"),
        (Reply::json(200, float_price), "19.9"),
        (
            Reply::json(200, r#"{"items":[]}"#),
            "missing field `products`",
        ),
        (
            Reply::raw(200, Some("text/html; charset=utf-8"), "<html></html>"),
            "unusable reply: content type `text/html; charset=utf-8`, not JSON (body: <html></html>)",
        ),
        (
            Reply::raw(200, None, r#"{"products":[]}"#),
            "unusable reply: no content type, not JSON",
        ),
        (Reply::json(200, huge), "larger than the 65536 byte limit"),
    ];
    for (reply, text) in cases {
        let label: String = reply.body.chars().take(40).collect();
        let server = TestServer::start(vec![reply]).await;
        let err = client()
            .fetch_products_page(&server.base, "at-1", 10, None, None, &NO_LOCATIONS)
            .await
            .expect_err(&label);
        assert!(
            matches!(
                err,
                ChannelError::Malformed { .. } | ChannelError::NotJson { .. }
            ),
            "{label}: {err:?}"
        );
        assert!(!err.is_retryable());
        let message = err.to_string();
        assert!(message.contains(text), "{label}: {message}");
        assert!(message.chars().count() < 600, "{label}: {message}");
        assert_eq!(server.count(), 1, "{label}");
    }
}

#[tokio::test]
async fn oversized_chunked_body_is_refused_while_streaming() {
    // No Content-Length: the limit must hold while reading.
    let mut reply =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..20 {
        reply.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        reply.extend_from_slice(&[b' '; 8192]);
        reply.extend_from_slice(b"\r\n");
    }
    reply.extend_from_slice(b"0\r\n\r\n");
    let (base, count) = raw_server(reply).await;
    let err = client()
        .fetch_products_page(&base, "at-1", 10, None, None, &NO_LOCATIONS)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChannelError::Malformed { what, .. } if what.contains("larger than")),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn broken_connection_during_a_page_is_retried() {
    let (base, count) = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"prod"
            .to_vec(),
    )
    .await;
    let err = client()
        .fetch_products_page(&base, "at-1", 10, None, None, &NO_LOCATIONS)
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn slow_server_times_out_after_the_bounded_attempts() {
    let server = TestServer::start(vec![
        Reply::json(200, r#"{"products":[]}"#).delayed(Duration::from_secs(5)),
    ])
    .await;
    let client = BetaRestClient::new(ClientOptions {
        request_timeout: 200 * MS,
        max_attempts: 2,
        ..fast()
    })
    .unwrap();
    let started = Instant::now();
    let err = client
        .fetch_products_page(&server.base, "at-1", 10, None, None, &NO_LOCATIONS)
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(server.count(), 2);
    let took = started.elapsed();
    assert!(
        took >= 400 * MS && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[tokio::test]
async fn insecure_urls_are_refused_before_sending() {
    let remote = Url::parse("http://api.example.com/v1").unwrap();
    let client = client();
    let page = client
        .fetch_products_page(&remote, "at-1", 10, None, None, &NO_LOCATIONS)
        .await;
    assert!(
        matches!(page, Err(ChannelError::Url(UrlError::InsecureHttp { .. }))),
        "{page:?}"
    );
    let batch = client
        .export_batch(&remote, "at-1", &items(&[product("A", "1")]))
        .await;
    assert!(
        matches!(batch, Err(ChannelError::Url(UrlError::InsecureHttp { .. }))),
        "{batch:?}"
    );
    let token_url = Url::parse("http://api.example.com/oauth/token").unwrap();
    let token = client
        .request_token(&token_url, "id", "secret", &Grant::ClientCredentials)
        .await;
    assert!(
        matches!(token, Err(ChannelError::Url(UrlError::InsecureHttp { .. }))),
        "{token:?}"
    );
}

// ---------------------------------------------------------------- export

#[tokio::test]
async fn export_posts_the_batch_and_reads_per_item_results() {
    let reply = format!(
        r#"{{"results":[
            {{"handle":"{}","status":"created","id":"p-1","variant_ids":{{"A-1":"v-1"}}}},
            {{"handle":"{}","status":"updated"}},
            {{"handle":"{}","status":"unchanged","dropped_currencies":["JPY","XYZ"]}},
            {{"handle":"{}","status":"error","error":"title too long"}}]}}"#,
        handle("A-1"),
        handle("B-2"),
        handle("C-3"),
        handle("D-4")
    );
    let server = TestServer::start(vec![Reply::json(200, reply)]).await;
    let products: Vec<Product> = ["A-1", "B-2", "C-3", "D-4"]
        .iter()
        .map(|sku| product(sku, "0.10"))
        .collect();
    let results = client()
        .export_batch(&server.base, "at-9", &items(&products))
        .await
        .unwrap();
    let got: Vec<(String, ItemStatus)> = results
        .iter()
        .map(|r| (r.handle.clone(), r.status.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (handle("A-1"), ItemStatus::Created),
            (handle("B-2"), ItemStatus::Updated),
            (handle("C-3"), ItemStatus::Unchanged),
            (handle("D-4"), ItemStatus::Error("title too long".into())),
        ]
    );
    assert_eq!(results[0].ids.product(&handle("A-1")), Some("p-1"));
    assert_eq!(results[0].ids.variant("A-1"), Some("v-1"));
    assert_eq!(
        results[2].dropped_currencies,
        [crate::price::Currency::from_code("JPY").unwrap()],
        "a code the catalog does not know is no price of it"
    );

    let request = &server.seen()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/products/batch")
    );
    assert_eq!(request.header("authorization"), Some("Bearer at-9"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let first = &sent["products"][0];
    assert_eq!(first["handle"], handle("A-1"));
    assert_eq!(first["title"], "Item A-1");
    // Prices go out as exact strings, with the currency's minor units.
    assert_eq!(
        first["variants"][0]["prices"],
        serde_json::json!({"EUR": "0.10"})
    );
    assert_eq!(
        first["variants"][0]["stock"],
        serde_json::json!({"default": 3})
    );
    assert!(
        first.get("fields").is_none(),
        "every field is owned: {first}"
    );
    assert!(
        first.get("id").is_none(),
        "no id of this channel known: {first}"
    );
    assert!(sent.get("delete").is_none());
}

#[tokio::test]
async fn an_item_carries_its_owned_fields_its_known_ids_and_the_channels_locations() {
    let server = TestServer::start(vec![Reply::json(
        200,
        r#"{"results":[{"handle":"tshirt","status":"updated"}]}"#,
    )])
    .await;
    let mut shirt = crate::catalog::test_data::shirt();
    shirt.variants[0].stock.insert("berlin".into(), 2);
    let mut known = PlatformIds::default();
    known.insert(PlatformIds::PRODUCT, "tshirt", "p-9");
    known.insert(PlatformIds::VARIANT, "TS-M", "v-7");
    let locations = LocationMap::from([("berlin".to_string(), "loc-b".to_string())]);
    let item = ExportItem {
        product: &shirt,
        fields: crate::catalog::FieldSet::parse(&["prices", "stock"]).unwrap(),
        known: &known,
        locations: &locations,
    };
    let conn = connector(&server.base, 10, 10);
    let batch = ExportBatch {
        items: vec![item],
        deletions: Vec::new(),
    };
    conn.send_batch("at-9", &batch, &NoJournal).await.unwrap();
    let body = &server.seen()[0].body;
    let sent: serde_json::Value = serde_json::from_slice(body).unwrap();
    let product = &sent["products"][0];
    assert_eq!(product["fields"], serde_json::json!(["prices", "stock"]));
    assert_eq!(product["id"], "p-9");
    assert_eq!(product["variants"][1]["id"], "v-7");
    assert_eq!(
        product["variants"][0]["stock"],
        serde_json::json!({"default": 5, "loc-b": 2})
    );
    assert_eq!(product["description"], "<p>Soft cotton.</p>\n");
    // The bytes an item adds are what it weighs on the wire.
    let one = serde_json::to_vec(&product).unwrap().len();
    assert_eq!(conn.request_bytes(&item), one + 1);
}

#[tokio::test]
async fn export_is_resent_after_a_transient_failure() {
    // Safe because batch export is keyed by handle and SKU.
    let server = TestServer::start(vec![
        Reply::json(502, "bad gateway"),
        Reply::json(
            200,
            format!(
                r#"{{"results":[{{"handle":"{}","status":"updated"}}]}}"#,
                handle("A-1")
            ),
        ),
    ])
    .await;
    let results = client()
        .export_batch(&server.base, "at-9", &items(&[product("A-1", "5")]))
        .await
        .unwrap();
    assert_eq!(results[0].status, ItemStatus::Updated);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body, "the same batch is resent");
}

#[tokio::test]
async fn export_reply_must_account_for_every_product() {
    let (a, b) = (handle("A-1"), handle("B-2"));
    let cases = [
        (
            format!(r#"{{"results":[{{"handle":"{a}","status":"created"}}]}}"#),
            format!("no result for handle `{b}`"),
        ),
        (
            format!(
                r#"{{"results":[{{"handle":"{a}","status":"created"}},{{"handle":"{b}","status":"created"}},{{"handle":"z","status":"created"}}]}}"#
            ),
            "has 3 results for 2 items".to_string(),
        ),
        (
            format!(
                r#"{{"results":[{{"handle":"{a}","status":"created"}},{{"handle":"{a}","status":"created"}}]}}"#
            ),
            format!("a result for handle `{a}` where the batch's item was `{b}`"),
        ),
        (
            format!(
                r#"{{"results":[{{"handle":"{a}","status":"deleted"}},{{"handle":"{b}","status":"created"}}]}}"#
            ),
            format!("says `deleted` for handle `{a}`, which was sent as a product"),
        ),
        (
            r#"{"ok":true}"#.to_string(),
            "missing field `results`".to_string(),
        ),
    ];
    for (body, text) in cases {
        let server = TestServer::start(vec![Reply::json(200, body.clone())]).await;
        let products = [product("A-1", "1"), product("B-2", "2")];
        let err = client()
            .export_batch(&server.base, "at-9", &items(&products))
            .await
            .expect_err(&body);
        assert!(
            matches!(err, ChannelError::Malformed { .. }),
            "{body}: {err:?}"
        );
        assert!(err.to_string().contains(&text), "{body}: {err}");
        assert_eq!(server.count(), 1);
    }
}

fn connector(base: &Url, page_size: usize, batch_size: usize) -> Box<dyn Connector> {
    connect(Settings {
        base_url: base.clone(),
        auth_method: AuthMethod::Oauth2,
        limits: Limits {
            page_size,
            batch_size,
            max_request_bytes: None,
            concurrency: 1,
        },
        options: fast(),
        sales_channel_id: None,
        stock_location_id: None,
        locations: LocationMap::new(),
        category_facet: None,
        tag_facet: None,
        attributes_field: None,
    })
    .unwrap()
}

#[tokio::test]
async fn batch_size_comes_from_the_limits_and_empty_batches_send_nothing() {
    let server = TestServer::start(vec![Reply::json(200, r#"{"results":[]}"#)]).await;
    let too_many: Vec<Product> = (0..=10).map(|i| product(&format!("S{i}"), "1")).collect();
    let err = connector(&server.base, 500, 10)
        .send_batch("at-9", &items(&too_many), &NoJournal)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::BatchTooLarge {
                count: 11,
                limit: 10
            }
        ),
        "{err:?}"
    );
    let mut batch = items(&too_many[..10]);
    batch.deletions.push(Deletion {
        handle: "gone-1".into(),
        known: PlatformIds::default(),
        whole_product: true,
        skus: vec!["GONE-1".into()],
    });
    let err = connector(&server.base, 500, 10)
        .send_batch("at-9", &batch, &NoJournal)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::BatchTooLarge { count: 11, .. }),
        "{err:?}"
    );
    assert!(
        connector(&server.base, 500, 10)
            .send_batch("at-9", &ExportBatch::default(), &NoJournal)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn page_size_comes_from_the_limits_and_extra_fields_are_ignored() {
    let page = r#"{"products":[{"sku":"A-1","title":"t","price":"1.00","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z","brand":"Acme","images":[{"url":"x"}]}],"next_cursor":null}"#;
    let server = TestServer::start(vec![Reply::json(200, page)]).await;
    let got = connector(&server.base, 100, 10)
        .fetch_page("at-1", PageRequest::default())
        .await
        .unwrap();
    assert_eq!(got.products[0].variants[0].sku, "A-1");
    assert_eq!(server.seen()[0].query.as_deref(), Some("limit=100"));
}

#[tokio::test]
async fn a_product_whose_values_break_a_rule_is_skipped_by_sku_not_the_page() {
    let page = format!(
        r#"{{"products":[{},{},{},{},{}],"next_cursor":null}}"#,
        product_json("A-1", "19.90"),
        product_json("NEG", "-1.00"),
        product_json("FINE", "0.001"),
        product_json("CUR", "1.00").replace("EUR", "euro"),
        product_json("", "1.00"),
    );
    let server = TestServer::start(vec![Reply::json(200, page)]).await;
    let got = client()
        .fetch_products_page(&server.base, "at-1", 10, None, None, &NO_LOCATIONS)
        .await
        .unwrap();
    assert_eq!(got.products, vec![product("A-1", "19.90")]);
    assert_eq!(
        got.skipped,
        vec![
            Skipped::refused_sku(
                "NEG".into(),
                "price `-1.00` is negative: a price is 0 or more".into()
            ),
            Skipped::refused_sku(
                "FINE".into(),
                "price `0.001` has more decimals than EUR allows: at most 2 decimals (ISO 4217)"
                    .into()
            ),
            Skipped::refused_sku(
                "CUR".into(),
                "unknown currency `euro`: expected an ISO 4217 code in capitals, such as `EUR`"
                    .into()
            ),
            Skipped::NoSku,
        ]
    );
}

#[tokio::test]
async fn a_missing_product_field_fails_the_page_naming_it() {
    let page = r#"{"products":[{"sku":"A-1","price":"1.00","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z"}],"next_cursor":null}"#;
    let server = TestServer::start(vec![Reply::json(200, page)]).await;
    let err = client()
        .fetch_products_page(&server.base, "at-1", 10, None, None, &NO_LOCATIONS)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing field `title`"), "{err}");
}

#[tokio::test]
async fn deletions_of_products_and_of_variants_go_in_the_delete_list() {
    let server = TestServer::start(vec![Reply::json(
        200,
        format!(
            r#"{{"results":[{{"handle":"{}","status":"updated"}},{{"handle":"gone","status":"deleted"}},{{"handle":"tshirt","status":"error","error":"locked"}}]}}"#,
            handle("A-1")
        ),
    )])
    .await;
    let products = [product("A-1", "2")];
    let mut batch = items(&products);
    batch.deletions = vec![
        Deletion {
            handle: "gone".into(),
            known: PlatformIds::default(),
            whole_product: true,
            skus: vec!["GONE".into()],
        },
        Deletion {
            handle: "tshirt".into(),
            known: PlatformIds::default(),
            whole_product: false,
            skus: vec!["TS-S".into()],
        },
    ];
    let results = client()
        .export_batch(&server.base, "at-9", &batch)
        .await
        .unwrap();
    assert_eq!(results[1].status, ItemStatus::Deleted);
    assert_eq!(results[2].status, ItemStatus::Error("locked".into()));
    let body: serde_json::Value = serde_json::from_slice(&server.seen()[0].body).unwrap();
    assert_eq!(
        body["delete"],
        serde_json::json!([{"handle": "gone"}, {"handle": "tshirt", "skus": ["TS-S"]}])
    );
    assert_eq!(body["products"][0]["variants"][0]["sku"], "A-1");
}

#[tokio::test]
async fn nested_products_come_whole_with_the_catalogs_location_names() {
    let mut shirt = crate::catalog::test_data::shirt();
    shirt.id = Some("p-1".into());
    shirt.variants[0].stock = [("berlin".to_string(), 2), ("default".to_string(), 5)].into();
    let mut wire: serde_json::Value = serde_json::to_value(&shirt).unwrap();
    wire["variants"][0]["stock"] = serde_json::json!({"loc-b": 2, "default": 5});
    wire["vendor_field"] = serde_json::json!({"anything": true});
    // A variant without a SKU is left out, the product kept.
    wire["variants"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"title": "no sku"}));
    let page = serde_json::json!({"products": [wire], "next_cursor": null}).to_string();
    let server = TestServer::start(vec![Reply::json(200, page)]).await;
    let locations = LocationMap::from([("berlin".to_string(), "loc-b".to_string())]);
    let got = client()
        .fetch_products_page(&server.base, "at-1", 10, None, None, &locations)
        .await
        .unwrap();
    assert_eq!(got.products, [shirt]);
    assert_eq!(got.skipped, [Skipped::NoSku]);
    // A bad price skips the whole product by its variant's SKU.
    let mut bad = serde_json::to_value(crate::catalog::test_data::shirt()).unwrap();
    bad["variants"][1]["prices"]["EUR"] = serde_json::json!("-2");
    let page = serde_json::json!({"products": [bad]}).to_string();
    let server = TestServer::start(vec![Reply::json(200, page)]).await;
    let got = client()
        .fetch_products_page(&server.base, "at-1", 10, None, None, &NO_LOCATIONS)
        .await
        .unwrap();
    assert!(got.products.is_empty());
    assert_eq!(
        got.skipped,
        [Skipped::Refused {
            key: "TS-M".into(),
            handle: "tshirt".into(),
            reason: "price `-2` is negative: a price is 0 or more".into()
        }]
    );
}

#[tokio::test]
async fn a_refused_connection_says_why() {
    let url = closed_port_url().await;
    let err = client()
        .fetch_products_page(&url, "at-1", 10, None, None, &NO_LOCATIONS)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("refused"),
        "the OS's reason is in the message: {err}"
    );
}

#[tokio::test]
async fn one_client_and_its_clones_share_one_connection() {
    // A keep-alive server that counts connections and requests.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/v1", listener.local_addr().unwrap())).unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (conns, reqs) = (Arc::clone(&connections), Arc::clone(&requests));
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            conns.fetch_add(1, Ordering::SeqCst);
            let reqs = Arc::clone(&reqs);
            tokio::spawn(async move {
                let body = r#"{"products":[],"next_cursor":null}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        reqs.fetch_add(1, Ordering::SeqCst);
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    let client = client();
    for _ in 0..5 {
        client
            .clone()
            .fetch_products_page(&base, "at-1", 10, None, None, &NO_LOCATIONS)
            .await
            .unwrap();
    }
    assert_eq!(requests.load(Ordering::SeqCst), 5);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------- pieces

#[test]
fn secrets_stay_out_of_debug_output() {
    let grant = format!("{:?}", Grant::RefreshToken("rt-very-secret".into()));
    let reply = format!(
        "{:?}",
        TokenReply {
            access_token: "at-very-secret".into(),
            token_type: "Bearer".into(),
            expires_in: Some(60),
            refresh_token: Some("rt-very-secret".into()),
        }
    );
    for text in [grant, reply] {
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
}

#[test]
fn form_urlencoding_follows_the_whatwg_rules() {
    let cases = [
        ("plain-ID_1.x*", "plain-ID_1.x*"),
        ("a b", "a+b"),
        ("id:with:colons", "id%3Awith%3Acolons"),
        ("p&q=r+s/t%", "p%26q%3Dr%2Bs%2Ft%25"),
        ("é", "%C3%A9"),
        ("", ""),
    ];
    for (raw, encoded) in cases {
        assert_eq!(form_urlencode(raw), encoded, "{raw}");
    }
}

#[test]
fn excerpts_are_short_single_lines() {
    let long = "word ".repeat(100);
    let cases: &[(&[u8], &[&str], &str)] = &[
        (b"  line one\n\tline two\r\n", &[], "line one line two"),
        (b"", &[], ""),
        (
            b"token=abc123 and abc123",
            &["abc123"],
            "token=[redacted] and [redacted]",
        ),
        (b"\xff\xfeok", &[], "\u{fffd}\u{fffd}ok"),
    ];
    for (body, secrets, expected) in cases {
        assert_eq!(excerpt(body, secrets), *expected);
    }
    let cut = excerpt(long.as_bytes(), &[]);
    assert_eq!(cut.chars().count(), 200);
    assert!(cut.ends_with('…'));
    let exact = "é".repeat(200);
    assert_eq!(excerpt(exact.as_bytes(), &[]), exact, "200 characters fit");
}

#[test]
fn excerpt_shows_where_parsing_stopped() {
    let body = format!(r#"{{"products":[{}BROKEN]}}"#, "{},".repeat(1000));
    let err = serde_json::from_str::<serde_json::Value>(&body).unwrap_err();
    let text = excerpt_at(body.as_bytes(), err.line(), err.column());
    assert!(text.starts_with('…'), "{text}");
    assert!(text.contains("BROKEN"), "{text}");
    assert!(text.chars().count() <= 200, "{text}");
}

#[test]
fn options_are_checked() {
    let cases = [
        ClientOptions {
            max_attempts: 0,
            ..fast()
        },
        ClientOptions {
            request_timeout: Duration::ZERO,
            ..fast()
        },
        ClientOptions {
            max_body_bytes: 0,
            ..fast()
        },
    ];
    for options in cases {
        let err = BetaRestClient::new(options).unwrap_err();
        assert!(matches!(err, ChannelError::Options(_)), "{err:?}");
    }
    assert_eq!(ClientOptions::default().max_attempts, 5);
    assert_eq!(ClientOptions::default().max_body_bytes, 64 << 20);
}

#[test]
fn retryable_errors() {
    let url = || "https://h/v1/products".to_string();
    let status = |status| ChannelError::Status {
        url: url(),
        status,
        excerpt: String::new(),
    };
    let cases = [
        (status(408), true),
        (status(429), true),
        (status(500), true),
        (status(503), true),
        (status(504), true),
        (status(400), false),
        (status(404), false),
        (status(422), false),
        (ChannelError::Timeout { url: url() }, true),
        (
            ChannelError::Unauthorized {
                url: url(),
                credential: crate::connector::CredentialKind::AccessToken,
                answer: "HTTP 401".into(),
            },
            false,
        ),
        (ChannelError::InvalidGrant { description: None }, false),
        (
            ChannelError::TokenOutcomeUnknown {
                url: url(),
                cause: "x".into(),
            },
            false,
        ),
        (
            ChannelError::Malformed {
                url: url(),
                what: "x".into(),
                excerpt: String::new(),
            },
            false,
        ),
    ];
    for (err, retryable) in cases {
        assert_eq!(err.is_retryable(), retryable, "{err:?}");
    }
}
