//! OAuth as RFC 6749 has it: `POST /oauth/token` with the client
//! authenticated by HTTP Basic (§2.3.1), the refresh-token grant with
//! rotation and reuse detection (RFC 9700 §4.14.2), the client-credentials
//! grant, and the bearer check in front of the product endpoints.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::http::{content_type_is, form_params, json_response};
use crate::shared::{Shared, lock, random_token};

/// The one grant the sandbox serves, and the access tokens issued from it.
pub(crate) struct AuthState {
    /// The grant's latest refresh token.
    pub(crate) refresh: String,
    pub(crate) revoked: bool,
    /// Tokens this grant rotated out; replaying one is reuse.
    pub(crate) rotated_out: HashSet<String>,
    /// Tokens of earlier grants (after a mint): refused, but not reuse.
    pub(crate) retired: HashSet<String>,
    /// Valid access tokens and when they expire (server clock).
    pub(crate) access: HashMap<String, Instant>,
}

impl AuthState {
    pub(crate) fn new(refresh: String) -> AuthState {
        AuthState {
            refresh,
            revoked: false,
            rotated_out: HashSet::new(),
            retired: HashSet::new(),
            access: HashMap::new(),
        }
    }

    /// Starts a fresh grant (what an operator's new login gives `channel
    /// login`); the old grant's tokens are refused, without revoking the new.
    pub(crate) fn mint(&mut self) -> String {
        let old = std::mem::replace(&mut self.refresh, random_token("rt"));
        self.retired.insert(old);
        self.retired.extend(self.rotated_out.drain());
        self.revoked = false;
        self.refresh.clone()
    }

    fn issue_access(&mut self, lifetime: u64) -> String {
        let now = Instant::now();
        self.access.retain(|_, expiry| *expiry > now);
        let token = random_token("at");
        self.access
            .insert(token.clone(), now + Duration::from_secs(lifetime));
        token
    }

    fn access_valid(&self, token: &str) -> bool {
        self.access
            .get(token)
            .is_some_and(|expiry| *expiry > Instant::now())
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json_response(
        status,
        json!({"error": error, "error_description": description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"sandbox\""),
        );
    }
    response
}

/// `POST /oauth/token` (RFC 6749 §4.4, §6; client auth per §2.3.1).
pub(crate) fn token_endpoint(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    if !content_type_is(headers, &mime::APPLICATION_WWW_FORM_URLENCODED) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be `application/x-www-form-urlencoded`",
        );
    }
    let Some(params) = form_params(body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a form parameter given twice",
        );
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| strip_scheme(v, "basic"));
    let Some(basic) = basic else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication must use HTTP Basic",
        );
    };
    if params.contains_key("client_secret") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one client authentication method",
        );
    }
    let credentials = STANDARD
        .decode(basic.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            let (id, secret) = text.split_once(':')?;
            Some((form_component(id)?, form_component(secret)?))
        });
    match credentials {
        Some((id, secret)) if id == shared.client_id && secret == shared.client_secret => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or wrong secret",
            );
        }
    }

    let (lifetime, rotate, reuse_detection, client_credentials) = {
        let s = lock(&shared.switches);
        (
            s.token_lifetime_secs,
            s.rotate_refresh_tokens,
            s.reuse_detection,
            s.client_credentials,
        )
    };
    let mut auth = lock(&shared.auth);
    match params.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            let Some(presented) = params.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "missing `refresh_token`",
                );
            };
            if auth.revoked && (*presented == auth.refresh || auth.rotated_out.contains(presented))
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the grant was revoked after a refresh token was reused",
                );
            }
            if *presented != auth.refresh {
                if auth.rotated_out.contains(presented) {
                    if reuse_detection {
                        // RFC 9700 §4.14.2: a replayed rotated token means it
                        // may be stolen, so the whole grant dies.
                        auth.revoked = true;
                        auth.access.clear();
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "refresh token already used; the grant is revoked",
                        );
                    }
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "refresh token already used (it was rotated)",
                    );
                }
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown refresh token",
                );
            }
            let access = auth.issue_access(lifetime);
            let mut reply = json!({
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": lifetime,
            });
            if rotate {
                let new = random_token("rt");
                let old = std::mem::replace(&mut auth.refresh, new.clone());
                auth.rotated_out.insert(old);
                reply["refresh_token"] = Value::String(new);
            }
            no_store(json_response(StatusCode::OK, reply))
        }
        Some("client_credentials") if client_credentials => {
            let access = auth.issue_access(lifetime);
            no_store(json_response(
                StatusCode::OK,
                json!({"access_token": access, "token_type": "Bearer", "expires_in": lifetime}),
            ))
        }
        Some("client_credentials") => oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "`client_credentials` is not enabled for this client",
        ),
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "expected `refresh_token` or `client_credentials`",
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing `grant_type`",
        ),
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `None` when the bearer token is valid, else the 401 to send.
pub(crate) fn check_bearer(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| strip_scheme(v, "bearer"));
    let (error, description) = match token {
        None => ("invalid_request", "missing `Authorization: Bearer` header"),
        Some(token) if lock(&shared.auth).access_valid(token.trim()) => return None,
        Some(_) => ("invalid_token", "access token unknown, expired or revoked"),
    };
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        json!({"error": error, "error_description": description}),
    );
    let challenge = format!("Bearer realm=\"sandbox\", error=\"{error}\"");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("ascii challenge"),
    );
    Some(response)
}

/// The credentials after `scheme ` (case-insensitive scheme, RFC 9110 §11.1).
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// A client id or secret as RFC 6749 §2.3.1 puts it inside Basic: form
/// encoded, so a raw `&` or `=` has no place in it.
fn form_component(text: &str) -> Option<String> {
    if text.contains(['&', '=']) {
        return None;
    }
    Some(
        form_urlencoded::parse(text.as_bytes())
            .next()
            .map(|(name, _)| name.into_owned())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::test_client::*;
    use crate::{Sandbox, SandboxConfig, Switches};

    #[tokio::test]
    async fn rotation_issues_new_refresh_tokens_and_refuses_old_ones() {
        let sb = start(1, Switches::default()).await;
        let http = client();
        let first = sb.current_refresh_token();
        let (status, reply) = refresh(&sb, &http, &first).await;
        assert_eq!(status, 200);
        assert_eq!(reply["token_type"], "Bearer");
        assert_eq!(reply["expires_in"], 3600);
        let second = reply["refresh_token"].as_str().unwrap().to_string();
        assert_ne!(second, first);
        assert_eq!(sb.current_refresh_token(), second);

        let (status, reply) = refresh(&sb, &http, &first).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // Without reuse detection the replay costs nothing else.
        assert!(!sb.grant_revoked());
        assert_eq!(refresh(&sb, &http, &second).await.0, 200);

        sb.update_switches(|s| s.rotate_refresh_tokens = false);
        let current = sb.current_refresh_token();
        let (status, reply) = refresh(&sb, &http, &current).await;
        assert_eq!(status, 200);
        assert!(reply.get("refresh_token").is_none(), "{reply}");
        assert_eq!(refresh(&sb, &http, &current).await.0, 200);
    }

    #[tokio::test]
    async fn reuse_of_a_rotated_token_revokes_the_whole_grant() {
        let sb = start(
            5,
            Switches {
                reuse_detection: true,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        let old = sb.current_refresh_token();
        let (_, reply) = refresh(&sb, &http, &old).await;
        let access = reply["access_token"].as_str().unwrap().to_string();
        let current = reply["refresh_token"].as_str().unwrap().to_string();
        assert_eq!(page(&sb, &http, &access, "limit=1").await.0, 200);

        assert_eq!(refresh(&sb, &http, &old).await.1["error"], "invalid_grant");
        assert!(sb.grant_revoked());
        assert_eq!(
            refresh(&sb, &http, &current).await.1["error"],
            "invalid_grant"
        );
        assert_eq!(page(&sb, &http, &access, "limit=1").await.0, 401);

        // A freshly minted grant works again (what `channel login` would store).
        let minted: Value = http
            .post(format!("{}/_sandbox/refresh-token", sb.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!sb.grant_revoked());
        let minted = minted["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&sb, &http, minted).await.0, 200);
        // ... and the old grant's tokens stay dead without revoking the new one.
        assert_eq!(refresh(&sb, &http, &old).await.0, 400);
        assert!(!sb.grant_revoked());
    }

    /// `Basic` credentials as RFC 6749 §2.3.1 has a careful client send
    /// them: id and secret form-encoded first.
    fn basic(id: &str, secret: &str) -> String {
        use base64::Engine as _;
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let raw = format!("{}:{}", enc(id), enc(secret));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[tokio::test]
    async fn client_authentication_is_http_basic_only() {
        let sb = Sandbox::start(SandboxConfig {
            products: 1,
            client_id: "shop eu:1".into(),
            client_secret: "s&cr=t/ü".into(),
            switches: Switches {
                client_credentials: true,
                ..Switches::default()
            },
            ..SandboxConfig::default()
        })
        .await;
        let http = client();
        let good = basic("shop eu:1", "s&cr=t/ü");
        let form = "grant_type=client_credentials";
        // (case, Authorization header, body, content type, status, error code)
        type Case<'a> = (&'a str, Option<String>, &'a str, &'a str, u16, &'a str);
        let cases: &[Case] = &[
            (
                "encoded basic",
                Some(good.clone()),
                form,
                "application/x-www-form-urlencoded",
                200,
                "",
            ),
            (
                "wrong secret",
                Some(basic("shop eu:1", "nope")),
                form,
                "application/x-www-form-urlencoded",
                401,
                "invalid_client",
            ),
            (
                "no auth",
                None,
                form,
                "application/x-www-form-urlencoded",
                401,
                "invalid_client",
            ),
            (
                "secret in body only",
                None,
                "grant_type=client_credentials&client_id=shop+eu%3A1&client_secret=s%26cr%3Dt%2F%C3%BC",
                "application/x-www-form-urlencoded",
                401,
                "invalid_client",
            ),
            (
                "two methods",
                Some(good.clone()),
                "grant_type=client_credentials&client_secret=x",
                "application/x-www-form-urlencoded",
                400,
                "invalid_request",
            ),
            (
                "json body",
                Some(good.clone()),
                r#"{"grant_type":"client_credentials"}"#,
                "application/json",
                400,
                "invalid_request",
            ),
            (
                "no grant",
                Some(good.clone()),
                "scope=x",
                "application/x-www-form-urlencoded",
                400,
                "invalid_request",
            ),
            (
                "odd grant",
                Some(good.clone()),
                "grant_type=password",
                "application/x-www-form-urlencoded",
                400,
                "unsupported_grant_type",
            ),
            (
                "unknown refresh",
                Some(good.clone()),
                "grant_type=refresh_token&refresh_token=x",
                "application/x-www-form-urlencoded",
                400,
                "invalid_grant",
            ),
        ];
        for (name, auth, body, content_type, status, error) in cases {
            let mut request = http
                .post(sb.token_url())
                .header("content-type", *content_type)
                .body(body.to_string());
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let reply = request.send().await.unwrap();
            assert_eq!(reply.status().as_u16(), *status, "{name}");
            assert_eq!(
                reply.headers()["content-type"],
                "application/json",
                "{name}"
            );
            let reply: Value = reply.json().await.unwrap();
            if *status == 200 {
                assert!(reply["access_token"].is_string(), "{name}");
                assert!(reply.get("refresh_token").is_none(), "{name}");
            } else {
                assert_eq!(reply["error"], *error, "{name}: {reply}");
            }
        }
        sb.update_switches(|s| s.client_credentials = false);
        let reply = http
            .post(sb.token_url())
            .header("authorization", &good)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400);
        assert_eq!(
            reply.json::<Value>().await.unwrap()["error"],
            "unauthorized_client"
        );
    }

    #[tokio::test]
    async fn product_requests_need_a_live_bearer_token() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let url = format!("{}/products", sb.base_url());
        assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
        assert_eq!(get(&http, url.clone(), "made-up").await.status(), 401);
        let access = access_token(&sb, &http).await;
        assert_eq!(get(&http, url.clone(), &access).await.status(), 200);
        sb.expire_access_tokens();
        let reply = get(&http, url.clone(), &access).await;
        assert_eq!(reply.status(), 401);
        assert!(
            reply.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );

        sb.update_switches(|s| s.token_lifetime_secs = 0);
        let access = access_token(&sb, &http).await;
        assert_eq!(
            get(&http, url, &access).await.status(),
            401,
            "lifetime 0 expires at once"
        );
        assert!(
            sb.requests()
                .iter()
                .all(|r| r.path != "/products" || r.status != 200 || r.authorization_present)
        );
    }
}
