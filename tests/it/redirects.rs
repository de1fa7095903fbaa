//! No connector follows a redirect, and no credential leaves the configured
//! origin: for beta-rest (token-url and base-url), Vendure (login and API
//! key) and Medusa (login, token renewal and secret key), a channel whose
//! endpoint redirects to another loopback port fails with a message naming
//! both URLs, and that port receives nothing at all.

use base64::Engine as _;
use serde_json::Value;

use test_support::fake_channel::{Rule, Server};
use test_support::{Backend, Row, Rows, TestEnv};

/// The other origin: it records what reaches it, and must see nothing.
fn elsewhere() -> Server {
    Server::start(Vec::new(), None)
}

fn assert_nothing_reached(target: &Server) {
    let requests = target.requests();
    for request in &requests {
        for name in ["authorization", "vendure-api-key", "cookie"] {
            assert!(
                !request.headers.contains_key(name),
                "{} {} carried `{name}` to another origin",
                request.method,
                request.path
            );
        }
    }
    // Only the binary's own requests count: the test binary runs other
    // suites at once, and a peer polling a port it has just released (to
    // see its server come up) may reach this server's port.
    let ours: Vec<String> = requests
        .iter()
        .filter(|r| {
            r.headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|agent| agent.starts_with("oms-channels/"))
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(ours.is_empty(), "the other origin received {ours:?}");
}

/// The row's error says where it was sent, where it was redirected, which
/// setting is probably wrong, and how to change it.
fn assert_redirect_explained(row: &Row, from: &str, to: &Server, setting: &str) {
    assert_eq!(row.outcome, "failed", "{row:?}");
    let detail = &row.detail;
    assert!(detail.contains(&format!("`{from}")), "{detail}");
    assert!(
        detail.contains(&format!("redirected to `{}", to.base)),
        "{detail}"
    );
    assert!(detail.contains("another origin"), "{detail}");
    assert!(
        detail.contains(&format!("`{setting}` is probably wrong")),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("channel set {} --{setting} <url>", row.channel)),
        "{detail}"
    );
}

fn run_once_rows(env: &TestEnv, args: &[&str]) -> Vec<Row> {
    let (code, doc, stderr) = env.run_once_any(args);
    assert_eq!(code, 1, "a failed job: {doc:#}\n{stderr}");
    Rows::of(&doc).0
}

fn row<'a>(rows: &'a [Row], channel: &str, job: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.channel == channel && r.job == job)
        .unwrap_or_else(|| panic!("no row {channel}/{job}: {rows:#?}"))
}

#[test]
fn beta_rest_follows_no_redirect_from_its_token_url_or_base_url() {
    let target = elsewhere();
    let token = r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600}"#;
    let shop = Server::start(
        vec![Rule::json("POST /good/token", token)],
        Some(&target.base),
    );
    let env = TestEnv::with_account(Backend::Sqlite);
    let secret = env.write_file("client-secret", "s3cret-client");
    let add = |id: &str, token_url: &str| {
        let auth = [
            "--token-url",
            token_url,
            "--grant",
            "client_credentials",
            "--client-id",
            "oms",
            "--client-secret-file",
            secret.to_str().unwrap(),
        ];
        env.add_channel_at(id, "beta-rest", &format!("{}/v1", shop.base), &auth);
        env.ok(["channel", "set-period", id, "import-products", "1h"]);
    };
    add("tok", &format!("{}/moved/token", shop.base));
    add("api", &format!("{}/good/token", shop.base));

    let rows = run_once_rows(&env, &[]);
    assert_redirect_explained(
        row(&rows, "tok", "auth-refresh"),
        &format!("{}/moved/token", shop.base),
        &target,
        "token-url",
    );
    assert_eq!(row(&rows, "api", "auth-refresh").outcome, "ran");
    assert_redirect_explained(
        row(&rows, "api", "import-products"),
        &format!("{}/v1/products", shop.base),
        &target,
        "base-url",
    );
    assert_eq!(shop.count("POST /moved/token"), 1, "not resent");
    assert_eq!(shop.count("GET /v1/products"), 1, "not resent");
    assert_nothing_reached(&target);
}

#[test]
fn vendure_follows_no_redirect_from_its_login_or_with_its_api_key() {
    let target = elsewhere();
    let shop = Server::start(Vec::new(), Some(&target.base));
    let env = TestEnv::with_account(Backend::Sqlite);
    let password = env.write_file("password", "hunter2-password");
    let key = env.write_file("api-key", "lookup:key-secret");
    let admin_api = format!("{}/admin-api", shop.base);
    let login_auth = [
        "--username",
        "superadmin",
        "--password-file",
        password.to_str().unwrap(),
    ];
    env.add_channel_at("login", "vendure", &admin_api, &login_auth);
    let key_auth = ["--api-key-file", key.to_str().unwrap()];
    env.add_channel_at("key", "vendure", &admin_api, &key_auth);

    let rows = run_once_rows(&env, &[]);
    for id in ["login", "key"] {
        assert_redirect_explained(
            row(&rows, id, "auth-refresh"),
            &admin_api,
            &target,
            "base-url",
        );
    }
    assert_eq!(
        shop.count("POST /admin-api"),
        2,
        "one call each, not resent"
    );
    let key_sent = shop
        .requests()
        .iter()
        .filter(|r| {
            r.headers
                .get("vendure-api-key")
                .is_some_and(|v| v == "lookup:key-secret")
        })
        .count();
    assert_eq!(key_sent, 1, "the key went to the configured origin only");
    assert_nothing_reached(&target);
}

/// An unsigned JWT that expires in a day: the connector reads `exp`, the
/// fake server checks nothing.
fn jwt() -> String {
    let part = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = jiff::Timestamp::now().as_second() + 86_400;
    format!(
        "{}.{}.c2ln",
        part(serde_json::json!({"alg": "HS256"})),
        part(serde_json::json!({"exp": exp}))
    )
}

#[test]
fn medusa_follows_no_redirect_from_its_login_its_renewal_or_with_its_secret_key() {
    let target = elsewhere();
    // Logins answer; the renewal and the Admin API redirect.
    let login = serde_json::json!({ "token": jwt() }).to_string();
    let shop = Server::start(
        vec![Rule::json("POST /auth/user/emailpass", &login)],
        Some(&target.base),
    );
    let moved = Server::start(Vec::new(), Some(&target.base));
    let env = TestEnv::with_account(Backend::Sqlite);
    let password = env.write_file("password", "hunter2-password");
    let key = env.write_file("api-key", "sk_key_secret");
    let add = |id: &str, base: &str, auth: &[&str]| env.add_channel_at(id, "medusa", base, auth);
    let login_auth = [
        "--username",
        "admin@example.com",
        "--password-file",
        password.to_str().unwrap(),
    ];
    add("renew", &shop.base, &login_auth);
    add("login", &moved.base, &login_auth);
    add(
        "key",
        &shop.base,
        &["--api-key-file", key.to_str().unwrap()],
    );

    let rows = run_once_rows(&env, &[]);
    assert_eq!(
        row(&rows, "renew", "auth-refresh").outcome,
        "ran",
        "{rows:#?}"
    );
    assert_redirect_explained(
        row(&rows, "login", "auth-refresh"),
        &format!("{}/auth/user/emailpass", moved.base),
        &target,
        "base-url",
    );
    assert_redirect_explained(
        row(&rows, "key", "auth-refresh"),
        &format!("{}/admin/stores", shop.base),
        &target,
        "base-url",
    );

    // The stored session is still valid: the next refresh renews it.
    let (code, doc, stderr) =
        env.run_once_any(&["--force", "--job", "auth-refresh", "--channel", "renew"]);
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    let rows = Rows::of(&doc).0;
    assert_redirect_explained(
        row(&rows, "renew", "auth-refresh"),
        &format!("{}/auth/token/refresh", shop.base),
        &target,
        "base-url",
    );
    assert_eq!(shop.count("POST /auth/token/refresh"), 1, "not resent");
    let renewal = shop
        .requests()
        .into_iter()
        .find(|r| r.path == "/auth/token/refresh")
        .unwrap();
    assert!(
        renewal.headers.contains_key("authorization"),
        "the renewal carried the session to the configured origin"
    );
    assert_nothing_reached(&target);
}
