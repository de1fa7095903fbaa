//! The connector seam through the real binary: limits from the capability
//! list and the account file, auth methods and their flags, and connector
//! errors that keep their causes.

use sandbox::{SandboxConfig, Switches};
use test_support::output::expect;
use test_support::peer::SandboxPeer;
use test_support::{Backend, TestEnv};

/// Appends `line` to the `[channels.<id>]` table of the account file.
#[test]
fn a_channel_capped_at_100_a_page_imports_everything_with_page_size_100() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::start(SandboxConfig {
        products: 350,
        max_page_size: 100,
        ..SandboxConfig::default()
    });
    env.add_channel(
        "shop",
        &shop,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    env.set_master("shop");

    // The type's 500 is more than this channel takes: the import fails and
    // says what the channel answered.
    let (code, _, _) = env.run_once_any(&[]);
    assert_eq!(code, 1);
    let history = env.json(&["history", "--channel", "shop"]);
    let error = history.to_string();
    assert!(error.contains("expected 1 to 100"), "{error}");
    assert!(
        error.contains("refused a page of 500 products")
            && error.contains("set a `page-size` the channel accepts in `[channels.shop]`"),
        "the error names the setting: {error}"
    );
    assert_eq!(env.catalog_count(), 0);

    env.set_channel_key("shop", "page-size = 100");
    let run = env.run_once(&["--force", "--job", "import-products"]);
    assert_eq!(run.get("shop", "import-products").items, 350);
    assert_eq!(env.catalog_count(), 350);
    let pages: Vec<String> = shop
        .requests()
        .into_iter()
        .filter(|r| r.path == "/products")
        .map(|r| r.query)
        .collect();
    // One refused page of 500, then four of 100.
    assert_eq!(pages.len(), 5, "{pages:?}");
    assert!(
        pages[1..].iter().all(|q| q.starts_with("limit=100")),
        "{pages:?}"
    );
}

#[test]
fn a_channel_may_lower_its_types_limits_but_never_raise_them() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel("shop", &shop, &[("auth-refresh", "50m")]);
    env.set_channel_key("shop", "batch-size = 101");
    let (code, doc, _) = env.json_any(&["validate", "--strict"]);
    assert_eq!(code, 1, "{doc}");
    let text = doc.to_string();
    assert!(text.contains("limit-above-type"), "{text}");
    assert!(text.contains("so 100 applies"), "{text}");
    assert!(
        text.contains("batch-size 101 is above beta-rest's 100"),
        "{text}"
    );

    let path = env.account_file();
    let fixed = std::fs::read_to_string(&path)
        .unwrap()
        .replace("batch-size = 101", "batch-size = 0");
    std::fs::write(&path, fixed).unwrap();
    let out = env.run(["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("acme.toml:"), "file and line: {stderr}");
    assert!(stderr.contains("a whole number of at least 1"), "{stderr}");
}

#[test]
fn exports_go_in_batches_of_the_channels_batch_size() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel(
        "shop",
        &shop,
        &[("auth-refresh", "50m"), ("export-products", "1h")],
    );
    env.set_channel_key("shop", "batch-size = 7");
    let lines: Vec<serde_json::Value> = (0..20)
        .map(|i| test_support::catalog::product(&format!("B-{i:02}"), "1.50"))
        .collect();
    env.load_jsonl("products.jsonl", &lines);
    let run = env.run_once(&[]);
    assert_eq!(run.get("shop", "export-products").items, 20);
    let sizes: Vec<usize> = shop.batches().iter().map(Vec::len).collect();
    assert_eq!(sizes, [7, 7, 6]);
}

#[test]
fn a_refused_connection_keeps_its_reason_in_history() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel(
        "shop",
        &shop,
        &[("auth-refresh", "50m"), ("export-products", "1h")],
    );
    // Nothing listens on port 1 of loopback.
    env.ok([
        "channel",
        "set",
        "shop",
        "--token-url",
        "http://127.0.0.1:1/token",
    ]);
    let (code, doc, _) = env.run_once_any(&[]);
    // No connection is an outage that may pass: exit 69, not 1.
    assert_eq!(code, 69, "{doc}");
    let history = env.json(&["history", "--channel", "shop"]);
    let error = history.to_string().to_lowercase();
    assert!(error.contains("could not connect"), "{error}");
    assert!(
        error.contains("connection refused"),
        "the OS's reason: {error}"
    );
}

#[test]
fn auth_methods_are_checked_against_the_type() {
    let env = TestEnv::with_account(Backend::Sqlite);
    // beta-rest accepts oauth2 only: a login channel is refused, file untouched.
    let before = std::fs::read_to_string(env.account_file()).unwrap();
    let out = env.run([
        "channel",
        "add",
        "shop",
        "--type",
        "beta-rest",
        "--base-url",
        "https://shop.example/api",
        "--username",
        "oms",
        "--password-env",
        "SHOP_PASSWORD",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported-auth"), "{stderr}");
    assert!(stderr.contains("accepted: oauth2"), "{stderr}");
    assert_eq!(std::fs::read_to_string(env.account_file()).unwrap(), before);

    // A user type that accepts logins takes it; the file names only the
    // variable, never a secret.
    std::fs::write(
        env.config_dir().join("capabilities.toml"),
        "[types.shop-login]\nprotocol = \"beta-rest\"\nauth = [\"oauth2\", \"login\"]\n[types.shop-login.jobs]\nauth-refresh = [\"1h\"]\n",
    )
    .unwrap();
    env.ok([
        "channel",
        "add",
        "shop",
        "--type",
        "shop-login",
        "--base-url",
        "https://shop.example/api",
        "--username",
        "oms",
        "--password-env",
        "SHOP_PASSWORD",
    ]);
    let text = std::fs::read_to_string(env.account_file()).unwrap();
    assert!(text.contains("method = \"login\""), "{text}");
    assert!(text.contains("username = \"oms\""), "{text}");
    assert!(text.contains("password-env = \"SHOP_PASSWORD\""), "{text}");
    let show = env.json(&["channel", "show", "shop"]);
    assert_eq!(show["auth_method"], "login");
    assert_eq!(show["secret_kind"], "password");

    // Switching to an API key drops the login keys; half a table is refused.
    let out = env.run(["channel", "set", "shop", "--auth-method", "oauth2"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs `token-url`"), "{stderr}");
    assert_eq!(std::fs::read_to_string(env.account_file()).unwrap(), text);
}

#[test]
fn channel_set_changes_the_endpoint_and_credentials_in_place() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel("shop", &shop, &[("auth-refresh", "50m")]);
    let path = env.account_file();
    let text = std::fs::read_to_string(&path).unwrap();
    let commented = text.replace(
        "client-secret-env = ",
        "# kept in the vault, rotated monthly\nclient-secret-env = ",
    );
    std::fs::write(&path, &commented).unwrap();

    let other = SandboxPeer::with(0, Switches::default());
    env.ok([
        "channel",
        "set",
        "shop",
        "--base-url",
        &other.base_url(),
        "--client-secret-file",
        "/run/secrets/shop",
    ]);
    let edited = std::fs::read_to_string(&path).unwrap();
    assert!(
        edited.contains("# kept in the vault, rotated monthly\n"),
        "{edited}"
    );
    assert!(edited.contains(&format!("base-url = \"{}\"", other.base_url())));
    assert!(edited.contains("client-secret-file = \"/run/secrets/shop\""));
    assert!(!edited.contains("client-secret-env = "), "{edited}");
    // Nothing else moved.
    let untouched = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("base-url = ") && !l.starts_with("client-secret-"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(untouched(&edited), untouched(&commented));

    let out = env.run(["channel", "set", "shop"]);
    assert_eq!(out.status.code(), Some(1), "nothing to change is refused");
    let run = env.run_once(&["--dry-run"]);
    assert_eq!(
        run.outcomes(),
        expect(&[
            ("shop", "auth-refresh", "would-run"),
            ("shop", "import-products", "not-due"),
            ("shop", "export-products", "not-due"),
            ("shop", "export-stock", "not-due"),
        ])
    );
}
