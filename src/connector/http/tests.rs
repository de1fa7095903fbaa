//! Unit tests of the shared client's rules: replay per call, redirects and
//! origins, Retry-After, redaction, certificate errors. Servers are axum or
//! raw TCP on 127.0.0.1 and record what they received.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::connector::test_server::{Reply, TestServer, closed_port_url, raw_server};

const MS: Duration = Duration::from_millis(1);

fn fast() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
        max_attempts: 3,
        backoff_base: MS,
        backoff_cap: 5 * MS,
        retry_after_cap: 80 * MS,
        max_body_bytes: 64 << 10,
        rate_limit: None,
    }
}

fn client() -> HttpClient {
    HttpClient::new(fast()).unwrap()
}

fn answer(status: u16, body: &str) -> Reply {
    Reply::json(status, body)
}

fn endpoint(url: &Url) -> Endpoint {
    Endpoint::new(url.clone(), UrlSetting::BaseUrl).unwrap()
}

async fn raw_endpoint(reply: &[u8]) -> (Endpoint, Arc<AtomicUsize>) {
    let (url, count) = raw_server(reply.to_vec()).await;
    (endpoint(&url), count)
}

async fn closed_port() -> Endpoint {
    endpoint(&closed_port_url().await)
}

fn post(endpoint: &Endpoint, replay: Replay) -> Call<'static> {
    Call::post(endpoint.at(&["items"]), replay).json(&b"{}"[..])
}

// ---------------------------------------------------------------- replay

#[tokio::test]
async fn a_call_not_safe_to_resend_is_resent_only_when_it_surely_was_not_processed() {
    let ok = || answer(200, "{}");
    // (answers, requests the server sees, succeeds)
    let refused_then_ok: Vec<(Vec<Reply>, usize, bool)> = vec![
        (vec![answer(429, "slow down"), ok()], 2, true),
        (vec![answer(503, "maintenance"), ok()], 2, true),
        (
            vec![answer(503, "x").header("retry-after", "0"), ok()],
            2,
            true,
        ),
    ];
    for (answers, requests, _) in refused_then_ok {
        let server = TestServer::start(answers).await;
        client()
            .send(post(&endpoint(&server.base), Replay::NotSafe))
            .await
            .expect("a refused call is resent");
        assert_eq!(server.count(), requests);
    }
    for status in [500, 502, 504, 408] {
        let server = TestServer::start(vec![answer(status, "boom"), ok()]).await;
        let err = client()
            .send(post(&endpoint(&server.base), Replay::NotSafe))
            .await
            .expect_err("a call that reached the server is not resent");
        assert!(
            matches!(err, ChannelError::OutcomeUnknown { .. }),
            "{status}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("outcome is unknown") && message.starts_with("`POST http://"),
            "{message}"
        );
        assert_eq!(server.count(), 1, "{status}: sent once");
        assert_eq!(err.kind(), crate::error::ErrorKind::Transient);
        assert_eq!(err.remedy(), None);
    }
}

#[tokio::test]
async fn a_call_not_safe_to_resend_is_not_resent_after_a_timeout_or_a_broken_exchange() {
    let server = TestServer::start(vec![answer(200, "{}").delayed(Duration::from_secs(2))]).await;
    let err = client()
        .send(post(&endpoint(&server.base), Replay::NotSafe))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no reply came in time"), "{err}");
    assert_eq!(server.count(), 1);

    // The connection closes after the request: reached, no reply.
    let (endpoint, count) = raw_endpoint(b"").await;
    let err = client()
        .send(post(&endpoint, Replay::NotSafe))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChannelError::OutcomeUnknown { cause, .. } if cause.contains("connection broke")),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // A 2xx whose body breaks off: the server processed the call.
    let (endpoint, count) = raw_endpoint(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"id\":",
    )
    .await;
    let err = client()
        .send(post(&endpoint, Replay::NotSafe))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::OutcomeUnknown { .. }),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_call_safe_to_resend_is_retried_after_any_transient_failure() {
    let server = TestServer::start(vec![
        answer(500, "boom"),
        answer(200, "{}").delayed(Duration::from_secs(2)),
        answer(200, r#"{"ok":true}"#),
    ])
    .await;
    let reply = client()
        .send(post(&endpoint(&server.base), Replay::Safe))
        .await
        .expect("the third attempt succeeds");
    assert_eq!(reply.body(), br#"{"ok":true}"#);
    assert_eq!(server.count(), 3);

    let (endpoint, count) = raw_endpoint(b"").await;
    let err = client()
        .send(post(&endpoint, Replay::Safe))
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::Transport { .. }), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 3, "every attempt");
}

#[tokio::test]
async fn no_connection_is_retried_whatever_the_replay_rule() {
    for replay in [Replay::Safe, Replay::NotSafe] {
        let started = Instant::now();
        let err = client()
            .send(post(&closed_port().await, replay))
            .await
            .unwrap_err();
        assert!(matches!(err, ChannelError::Connect { .. }), "{err:?}");
        assert!(err.to_string().contains("refused"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[tokio::test]
async fn retry_after_is_the_least_wait_and_is_capped() {
    let in_an_hour =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    // One second, or an hour as a date: capped at 80 ms here.
    let cases = [
        (429, "1".to_string(), Replay::NotSafe),
        (503, in_an_hour, Replay::Safe),
    ];
    for (status, retry_after, replay) in cases {
        let server = TestServer::start(vec![
            answer(status, "later").header("retry-after", retry_after),
            answer(200, "{}"),
        ])
        .await;
        let started = Instant::now();
        client()
            .send(post(&endpoint(&server.base), replay))
            .await
            .unwrap();
        let took = started.elapsed();
        assert!(
            took >= 80 * MS && took < Duration::from_millis(900),
            "{status}: {took:?}"
        );
    }
}

// ---------------------------------------------------------------- pacing

#[tokio::test]
async fn a_rate_limit_paces_every_request_of_the_client_and_its_clones() {
    let server = TestServer::start(vec![answer(200, "{}")]).await;
    let paced = HttpClient::new(ClientOptions {
        rate_limit: Some(RateLimit {
            per_second: 20.0,
            burst: 2,
        }),
        ..fast()
    })
    .unwrap();
    let clone = paced.clone();
    let started = Instant::now();
    let mut sent_at = Vec::new();
    for i in 0..6 {
        let client = if i % 2 == 0 { &paced } else { &clone };
        client
            .send(Call::get(
                endpoint(&server.base).at(&["items"]),
                Replay::Safe,
            ))
            .await
            .unwrap();
        sent_at.push(started.elapsed());
    }
    // A burst of two at once, then one every 50 ms, whichever clone sends.
    assert!(sent_at[1] < 40 * MS, "{sent_at:?}");
    assert!(sent_at[5] >= 200 * MS, "{sent_at:?}");
    assert!(sent_at[5] < 600 * MS, "{sent_at:?}");
    assert_eq!(server.count(), 6);
}

#[tokio::test]
async fn a_spent_budget_holds_the_next_request_until_the_channel_resets_it() {
    let spent = answer(200, "{}")
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset-after", "0.3");
    let server = TestServer::start(vec![spent, answer(200, "{}")]).await;
    let client = HttpClient::new(ClientOptions {
        retry_after_cap: Duration::from_secs(5),
        ..fast()
    })
    .unwrap();
    let base = endpoint(&server.base);
    let get = || Call::get(base.at(&["items"]), Replay::Safe);
    let started = Instant::now();
    client.send(get()).await.unwrap();
    assert!(started.elapsed() < 250 * MS);
    // A token endpoint is not the API whose budget it is: not held.
    let token = Endpoint::new(server.base.clone(), UrlSetting::TokenUrl).unwrap();
    client
        .send(Call::get(token.at(&["token"]), Replay::Safe))
        .await
        .unwrap();
    assert!(started.elapsed() < 250 * MS);
    client.send(get()).await.unwrap();
    let took = started.elapsed();
    assert!(took >= 300 * MS && took < 2000 * MS, "{took:?}");
    // Budget left again: no more waiting.
    let again = Instant::now();
    client.send(get()).await.unwrap();
    assert!(again.elapsed() < 250 * MS);
    assert_eq!(server.count(), 4, "no request was refused or repeated");
}

// ---------------------------------------------------------------- origins

#[tokio::test]
async fn redirects_are_never_followed_and_name_both_urls() {
    let elsewhere = TestServer::start(vec![answer(200, "{}")]).await;
    let to = elsewhere.url("/stolen");
    let auths = [
        Auth::Bearer("bearer-secret"),
        Auth::ApiKeyHeader {
            header: "vendure-api-key",
            key: "key-secret",
        },
        Auth::ApiKeyBasic("sk_secret"),
        Auth::OAuthClient {
            id: "client",
            secret: "client-secret",
        },
    ];
    for status in [301, 302, 303, 307, 308] {
        for auth in auths {
            let server =
                TestServer::start(vec![answer(status, "").header("location", to.as_str())]).await;
            let err = client()
                .send(post(&endpoint(&server.base), Replay::Safe).auth(auth))
                .await
                .unwrap_err();
            match &err {
                ChannelError::Redirected {
                    from,
                    to: target,
                    setting,
                    cross_origin,
                } => {
                    assert!(from.ends_with("/v1/items"), "{from}");
                    assert_eq!(target, to.as_str());
                    assert_eq!(*setting, UrlSetting::BaseUrl);
                    assert!(cross_origin);
                }
                other => panic!("{status} {auth:?}: {other:?}"),
            }
            let message = err.to_string();
            assert!(message.contains("another origin"), "{message}");
            assert!(
                message.contains("`base-url` is probably wrong"),
                "{message}"
            );
            assert_eq!(server.count(), 1, "{status}: not resent");
            assert_eq!(err.kind(), crate::error::ErrorKind::Config);
            assert_eq!(
                err.remedy(),
                Some(Remedy::FixUrl {
                    setting: UrlSetting::BaseUrl,
                    expected_form: None
                })
            );
        }
    }
    assert_eq!(elsewhere.count(), 0, "nothing reached the other origin");
}

#[tokio::test]
async fn a_same_origin_redirect_is_not_followed_either() {
    let server = TestServer::start(vec![
        answer(308, "").header("location", "/api/items/"),
        answer(200, "{}"),
    ])
    .await;
    let token_url = Endpoint::new(server.base.clone(), UrlSetting::TokenUrl).unwrap();
    let err = client()
        .send(Call::post(token_url.target(), Replay::NotSafe))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ChannelError::Redirected {
                cross_origin: false,
                setting: UrlSetting::TokenUrl,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("/api/items/") && message.contains("`token-url` is probably wrong"),
        "{message}"
    );
    assert!(!message.contains("another origin"), "{message}");
    assert_eq!(server.count(), 1);
}

#[test]
fn targets_stay_on_their_endpoints_origin() {
    let endpoint = Endpoint::new(
        Url::parse("https://shop.example:8443/v1?x=1#f").unwrap(),
        UrlSetting::BaseUrl,
    )
    .unwrap();
    let hostile: &[&[&str]] = &[
        &["..", "..", "evil.example"],
        &["//evil.example", "x"],
        &["http://evil.example/"],
        &["@evil.example"],
        &["a?b#c", "%2e%2e"],
    ];
    for segments in hostile {
        let target = endpoint
            .at(segments)
            .query(&[("next", "https://evil.example/")]);
        assert_eq!(
            target.url().origin(),
            endpoint.url().origin(),
            "{segments:?}: {}",
            target.url()
        );
        assert!(target.url().path().starts_with("/v1/"), "{}", target.url());
    }
    assert_eq!(
        endpoint.at(&["products", "batch"]).url().as_str(),
        "https://shop.example:8443/v1/products/batch"
    );
    assert!(
        Endpoint::new(
            Url::parse("http://shop.example/v1").unwrap(),
            UrlSetting::BaseUrl
        )
        .is_err(),
        "plain http to a remote host"
    );
}

// ---------------------------------------------------------------- credentials

#[tokio::test]
async fn credentials_are_attached_by_the_client_and_refusals_say_which() {
    let server = TestServer::start(vec![answer(401, r#"{"message":"Unauthorized"}"#)]).await;
    let cases = [
        (
            Auth::Bearer("t0k"),
            CredentialKind::AccessToken,
            "access token",
        ),
        (
            Auth::ApiKeyHeader {
                header: "vendure-api-key",
                key: "k3y",
            },
            CredentialKind::ApiKey,
            "API key",
        ),
        (Auth::ApiKeyBasic("sk_1"), CredentialKind::ApiKey, "API key"),
        (Auth::None, CredentialKind::None, "request"),
    ];
    for (auth, kind, noun) in cases {
        let err = client()
            .send(post(&endpoint(&server.base), Replay::Safe).auth(auth))
            .await
            .unwrap_err();
        match &err {
            ChannelError::Unauthorized {
                credential, answer, ..
            } => {
                assert_eq!(*credential, kind);
                assert_eq!(answer, "HTTP 401 Unauthorized: Unauthorized");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains(&format!("refused the {noun}")));
    }
    let seen = server.seen();
    assert_eq!(seen[0].header("authorization"), Some("Bearer t0k"));
    assert_eq!(seen[1].header("vendure-api-key"), Some("k3y"));
    assert_eq!(
        seen[2].header("authorization"),
        Some("Basic c2tfMTo="),
        "sk_1 and an empty password"
    );
    assert_eq!(seen[3].header("authorization"), None);
    assert_eq!(server.count(), 4, "a 401 is never retried");
}

#[tokio::test]
async fn a_credential_no_header_can_carry_is_refused_before_sending() {
    let server = TestServer::start(vec![answer(200, "{}")]).await;
    let err = client()
        .send(post(&endpoint(&server.base), Replay::Safe).auth(Auth::Bearer("a\nb")))
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::BadCredential { .. }), "{err:?}");
    assert!(!err.to_string().contains("a\nb"));
    assert_eq!(server.count(), 0);
}

// ---------------------------------------------------------------- redaction

#[test]
fn excerpts_redact_secrets_bearer_tokens_and_jwts() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    let text = format!(
        "key sk_live_1 and sk_live_12 rejected; Authorization: Bearer abc.DEF-123 sent; token {jwt}; eyJust a word"
    );
    let out = excerpt(text.as_bytes(), &["sk_live_1", "sk_live_12", ""]);
    assert_eq!(
        out,
        "key [redacted] and [redacted] rejected; Authorization: Bearer [redacted] sent; token [redacted]; eyJust a word"
    );
    assert_eq!(
        redact("bearer  x", &[]),
        "bearer  x",
        "no token after one space"
    );
    assert_eq!(redact("BEARER tok", &[]), "BEARER [redacted]");
}

#[tokio::test]
async fn error_excerpts_hide_what_the_call_and_the_reply_carried() {
    let body = "echo: bearer-secret key-secret hunter2 session-9 cookie-value-7 consent=1";
    let server = TestServer::start(vec![
        answer(422, body)
            .header("vendure-auth-token", "session-9")
            .header("set-cookie", "session=cookie-value-7; Path=/; HttpOnly")
            .header("set-cookie", "consent=1"),
    ])
    .await;
    let call = post(&endpoint(&server.base), Replay::Safe)
        .auth(Auth::Bearer("bearer-secret"))
        .redact("hunter2")
        .redact("key-secret");
    let err = client().send(call).await.unwrap_err();
    let message = err.to_string();
    for secret in [
        "bearer-secret",
        "key-secret",
        "hunter2",
        "session-9",
        "cookie-value-7",
    ] {
        assert!(!message.contains(secret), "{secret}: {message}");
    }
    // A short cookie value is no secret: redacting every `1` would garble.
    assert!(message.contains("consent=1"), "{message}");
    assert!(message.contains("HTTP 422"), "{message}");
}

#[tokio::test]
async fn a_form_encoded_secret_is_redacted_as_sent() {
    let server = TestServer::start(vec![answer(422, "bad refresh_token=a%2Bb%26c")]).await;
    let form = [("refresh_token", "a+b&c")];
    let call = Call::post(endpoint(&server.base).target(), Replay::NotSafe)
        .form(&form)
        .redact("a+b&c");
    let err = client().send(call).await.unwrap_err();
    assert!(
        err.to_string().contains("refresh_token=[redacted]"),
        "{err}"
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn kinds_and_remedies_follow_the_variant() {
    use crate::error::ErrorKind;
    let url = || "https://h/v1".to_string();
    let cases: Vec<(ChannelError, ErrorKind, Option<Remedy>)> = vec![
        (
            ChannelError::Unauthorized {
                url: url(),
                credential: CredentialKind::ApiKey,
                answer: "HTTP 401".into(),
            },
            ErrorKind::Channel,
            Some(Remedy::CheckCredentials {
                what: Secret::ApiKey,
            }),
        ),
        (
            ChannelError::LoginRefused {
                url: url(),
                username: "u".into(),
                message: "no".into(),
            },
            ErrorKind::Channel,
            Some(Remedy::CheckCredentials {
                what: Secret::Password,
            }),
        ),
        (
            ChannelError::PageSizeRefused {
                url: url(),
                page_size: 500,
                message: "limit".into(),
            },
            ErrorKind::Channel,
            Some(Remedy::LowerPageSize),
        ),
        (
            ChannelError::NotTheApi {
                url: url(),
                api: "Vendure's Admin API",
                expected_form: "https://shop.example/admin-api",
                why: "x".into(),
            },
            ErrorKind::Config,
            Some(Remedy::FixUrl {
                setting: UrlSetting::BaseUrl,
                expected_form: Some("https://shop.example/admin-api"),
            }),
        ),
        (
            ChannelError::Status {
                url: url(),
                status: 503,
                excerpt: String::new(),
            },
            ErrorKind::Transient,
            None,
        ),
        (
            ChannelError::Status {
                url: url(),
                status: 400,
                excerpt: String::new(),
            },
            ErrorKind::Channel,
            None,
        ),
    ];
    for (err, kind, remedy) in cases {
        assert_eq!(err.kind(), kind, "{err:?}");
        assert_eq!(err.remedy(), remedy, "{err:?}");
    }
    let status = |status| ChannelError::Status {
        url: url(),
        status,
        excerpt: String::new(),
    };
    for (code, refuses) in [(400, true), (404, true), (410, true), (422, true)] {
        assert_eq!(status(code).refuses_request(), refuses, "{code}");
    }
    for code in [401, 403, 408, 429, 500, 503] {
        assert!(!status(code).refuses_request(), "{code}");
    }
}

#[test]
fn messages_carry_no_cli_advice() {
    let errors = [
        ChannelError::InvalidGrant { description: None },
        ChannelError::TokenOutcomeUnknown {
            url: "https://h/t".into(),
            cause: "no reply came in time".into(),
        },
        ChannelError::Unauthorized {
            url: "https://h/t".into(),
            credential: CredentialKind::ApiKey,
            answer: "HTTP 401".into(),
        },
    ];
    for err in errors {
        let message = err.to_string();
        assert!(
            !message.contains("oms-channels") && !message.contains("refresh the token"),
            "{message}"
        );
    }
}

#[test]
fn every_client_shares_one_tls_setup_that_speaks_h2_and_http1() {
    let tls = shared_tls().expect("the platform verifier works on this machine");
    assert_eq!(tls.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    client_builder().build().expect("a client builds on it");
}

#[tokio::test]
async fn a_raw_body_goes_with_its_type_and_any_content_takes_a_reply_that_is_not_json() {
    let server = TestServer::start(vec![
        answer(200, "{}"),
        Reply::raw(200, Some("image/png"), "PNGDATA"),
    ])
    .await;
    let upload = Call::post(endpoint(&server.base).at(&["upload"]), Replay::NotSafe)
        .header("apollo-require-preflight", "true")
        .raw(
            "multipart/form-data; boundary=b".into(),
            b"--b--\r\n".to_vec(),
        );
    client().send(upload).await.expect("a JSON reply");
    let image = Call::get(endpoint(&server.base).at(&["a.png"]), Replay::Safe).any_content();
    let reply = client().send(image).await.expect("any content");
    assert_eq!(reply.body(), b"PNGDATA");
    assert_eq!(reply.header("content-type"), Some("image/png"));
    let seen = server.seen();
    assert_eq!(
        seen[0].header("content-type"),
        Some("multipart/form-data; boundary=b")
    );
    assert_eq!(seen[0].header("apollo-require-preflight"), Some("true"));
    assert_eq!(seen[0].body, b"--b--\r\n");
    assert_eq!(seen[1].header("accept"), Some("*/*"));
    // Without `any_content` the same reply is not JSON: refused.
    let plain = Call::get(endpoint(&server.base).at(&["a.png"]), Replay::Safe);
    assert!(matches!(
        client().send(plain).await,
        Err(ChannelError::NotJson { .. })
    ));
}
