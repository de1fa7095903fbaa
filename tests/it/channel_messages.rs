//! Connector messages that tell the operator what is wrong and what to set:
//! a base-url that is not the platform's API (Vendure's Shop API, a server
//! root, a Medusa URL ending in `/admin`), a saved import cursor the channel
//! refuses, and Medusa's skipped variants in one line. (A refused page size
//! naming `page-size`: `connectors.rs`.)

use sandbox::Switches;
use test_support::fake_channel::{Rule, Server};
use test_support::peer::SandboxPeer;
use test_support::{Backend, CHANNEL, Row, Rows, TestEnv};

fn add_vendure(env: &TestEnv, id: &str, base_url: &str) {
    let password = env.write_file("password", "hunter2-password");
    let auth = [
        "--username",
        "superadmin",
        "--password-file",
        password.to_str().unwrap(),
    ];
    env.add_channel_at(id, "vendure", base_url, &auth);
}

/// A medusa channel with a secret API key.
fn add_medusa(env: &TestEnv, id: &str, base_url: &str) {
    let key = env.write_file("api-key", "sk_1");
    env.add_channel_at(
        id,
        "medusa",
        base_url,
        &["--api-key-file", key.to_str().unwrap()],
    );
}

fn failed_rows(env: &TestEnv) -> Vec<Row> {
    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    Rows::of(&doc).0
}

fn detail<'a>(rows: &'a [Row], channel: &str) -> &'a str {
    let row = rows
        .iter()
        .find(|r| r.channel == channel && r.job == "auth-refresh")
        .unwrap_or_else(|| panic!("no auth-refresh row for {channel}: {rows:#?}"));
    assert_eq!(row.outcome, "failed", "{row:?}");
    &row.detail
}

#[test]
fn a_vendure_url_that_is_not_the_admin_api_does_not_pass_auth_refresh() {
    let not_admin = r#"{"errors":[{"message":"Cannot query field \"productVariants\" on type \"Query\".","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}"#;
    let server = Server::start(
        vec![
            // A Shop API under a path of its own: the login works (for
            // shoppers), the Admin API's catalog query does not exist.
            Rule::json("POST /store/graphql", not_admin)
                .when("productVariants")
                .status(400),
            Rule::json(
                "POST /store/graphql",
                r#"{"data":{"login":{"__typename":"CurrentUser","id":"1"}}}"#,
            )
            .when("login")
            .header("vendure-auth-token", "session-1"),
        ],
        None,
    );
    let env = TestEnv::with_account(Backend::Sqlite);
    add_vendure(&env, "shop", &format!("{}/shop-api", server.base));
    add_vendure(&env, "custom", &format!("{}/store/graphql", server.base));
    add_vendure(&env, "root", &format!("{}/", server.base));

    let rows = failed_rows(&env);
    let shop = detail(&rows, "shop");
    assert!(
        shop.contains("is not Vendure's Admin API: it is Vendure's Shop API"),
        "{shop}"
    );
    let custom = detail(&rows, "custom");
    assert!(
        custom.contains("is not Vendure's Admin API")
            && custom.contains("Cannot query field \"productVariants\""),
        "{custom}"
    );
    let root = detail(&rows, "root");
    assert!(
        root.contains("is not Vendure's Admin API") && root.contains("HTTP 404 Not Found"),
        "{root}"
    );
    for (id, text) in [("shop", shop), ("custom", custom), ("root", root)] {
        assert!(
            text.contains(&format!(
                "set the channel's `base-url` to the API's own address (like `https://shop.example/admin-api`): `oms-channels --account acme channel set {id} --base-url <url>`"
            )),
            "{text}"
        );
    }
    assert!(
        server.requests().iter().all(|r| r.path != "/shop-api"),
        "a Shop API URL is refused before any request"
    );
    assert_eq!(
        server.count("POST /store/graphql"),
        2,
        "login, then the check"
    );
}

#[test]
fn a_medusa_url_ending_in_admin_names_the_right_form() {
    let server = Server::start(Vec::new(), None);
    let env = TestEnv::with_account(Backend::Sqlite);
    add_medusa(&env, "shop", &format!("{}/admin", server.base));
    let rows = failed_rows(&env);
    let text = detail(&rows, "shop");
    assert!(text.contains("without `/admin`"), "{text}");
    assert!(text.contains("(like `https://shop.example`)"), "{text}");
    assert!(server.requests().is_empty());
}

#[test]
fn a_resumed_import_whose_cursor_is_refused_restarts_from_the_first_page_once() {
    let shop = SandboxPeer::with(700, Switches::default());
    let env = TestEnv::with_channel(
        Backend::Sqlite,
        &shop,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);
    env.ok(["run-once", "--job", "auth-refresh"]);
    // An interrupted import left a cursor the channel no longer knows.
    let db = rusqlite::Connection::open(env.db_path()).expect("open the store");
    db.execute(
        "INSERT INTO import_progress (channel, cursor, listing_started) \
         VALUES ('shop', 'expired-cursor', 1765000000000) \
         ON CONFLICT (channel) DO UPDATE SET cursor = excluded.cursor, \
         listing_started = excluded.listing_started",
        [],
    )
    .expect("save a cursor");
    drop(db);

    let run = env.run_once(&["--job", "import-products"]);
    let row = run.get("shop", "import-products");
    assert_eq!(row.outcome, "ran");
    assert_eq!(row.items, 700);
    let history = env
        .json(&["history", "--channel", "shop", "--limit", "1"])
        .to_string();
    assert!(
        history.contains(
            "700 products into the catalog; restarted from the first page: the channel refused the interrupted import's cursor"
        ),
        "{history}"
    );
    assert_eq!(env.catalog_count(), 700);
    let pages: Vec<String> = shop
        .requests()
        .into_iter()
        .filter(|r| r.path == "/products")
        .map(|r| r.query)
        .collect();
    assert_eq!(
        pages.len(),
        3,
        "the refused page, then two from the start: {pages:?}"
    );
    assert!(pages[0].contains("cursor=expired-cursor"), "{pages:?}");
    assert!(!pages[1].contains("cursor="), "{pages:?}");
}

#[test]
fn medusa_says_why_variants_were_skipped_in_one_line() {
    let variant = |id: &str, sku: &str, currency: &str| {
        format!(
            r#"{{"id":"{id}","sku":{sku},"title":"V","updated_at":"2026-11-27T09:00:00Z","prices":[{{"id":"p-{id}","amount":5,"currency_code":"{currency}","rules":{{}}}}],"inventory_items":[]}}"#
        )
    };
    let variants = [
        variant("v1", "\"EUR-1\"", "eur"),
        variant("v2", "\"USD-1\"", "usd"),
        variant("v3", "\"USD-2\"", "usd"),
        variant("v4", "null", "eur"),
    ]
    .join(",");
    let listing = format!(
        r#"{{"products":[{{"id":"prod_1","title":"Shirt","handle":"shirt","updated_at":"2026-11-27T09:00:00Z","variants":[{variants}]}}],"count":1,"offset":0,"limit":200}}"#
    );
    let server = Server::start(
        vec![
            Rule::json(
                "GET /admin/stores",
                r#"{"stores":[{"id":"store_1","default_sales_channel_id":"sc_1","supported_currencies":[{"currency_code":"eur","is_default":true,"currency":{"decimal_digits":2}}]}]}"#,
            ),
            Rule::json(
                "GET /admin/stock-locations",
                r#"{"stock_locations":[{"id":"sloc_1"}],"count":1}"#,
            ),
            Rule::json("GET /admin/products", &listing),
        ],
        None,
    );
    let env = TestEnv::with_account(Backend::Sqlite);
    add_medusa(&env, "shop", &server.base);
    env.ok(["channel", "set-period", "shop", "import-products", "1h"]);
    env.set_master("shop");
    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(Rows::of(&doc).get("shop", "import-products").items, 1);
    let history = env
        .json(&["history", "--channel", "shop", "--limit", "1"])
        .to_string();
    assert!(
        history.contains(
            "1 product into the catalog; 3 skipped: 1 without a SKU, 2 without a price in EUR"
        ),
        "{history}"
    );
    assert!(
        !stderr.contains("not imported"),
        "no warning per variant: {stderr}"
    );
}
