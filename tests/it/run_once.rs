//! Integration tests for `run-once` and the job commands (`status`,
//! `history`, `products`): the real binary against sandbox beta-rest
//! channels on loopback, asserting what the channel received and what the
//! tool reports in `--json`. The last cases run on every shop alike (the
//! sandbox on both stores, a real Vendure, a real Medusa): export and import
//! of a catalog, then only what changed.

use std::time::Duration;

use sandbox::Switches;
use serde_json::{Value, json};
use test_support::catalog::product;
use test_support::output::{expect, parse, wait_until};
use test_support::peer::{Listing, SandboxPeer, by_sku};
use test_support::{
    Backend, CHANNEL, Case, Offer, Peer, PeerKind, Rows, TestEnv, both_backends, on_peers,
};

const HOURLY_IMPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("import-products", "1h")];
const HOURLY_EXPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];

/// An account whose master is channel `shop`, importing hourly from a sandbox.
fn master_shop(backend: Backend, products: u64, switches: Switches) -> (TestEnv, SandboxPeer) {
    let shop = SandboxPeer::with(products, switches);
    let env = TestEnv::with_channel(backend, &shop, HOURLY_IMPORT);
    env.set_master(CHANNEL);
    (env, shop)
}

/// An account with master `oms` exporting hourly to a sandbox with no products.
fn exporting_shop(backend: Backend, switches: Switches) -> (TestEnv, SandboxPeer) {
    let shop = SandboxPeer::with(0, switches);
    let env = TestEnv::with_channel(backend, &shop, HOURLY_EXPORT);
    (env, shop)
}

fn rotating_with_reuse_detection() -> Switches {
    Switches {
        rotate_refresh_tokens: true,
        reuse_detection: true,
        ..Switches::default()
    }
}

both_backends!(first_run_imports_every_product_and_a_second_run_sends_nothing);
fn first_run_imports_every_product_and_a_second_run_sends_nothing(backend: Backend) {
    // 1200 products at 500 a page: three pages.
    let (env, shop) = master_shop(backend, 1200, Switches::default());

    let first = env.run_once(&[]);
    assert_eq!(
        first.outcomes(),
        expect(&[
            ("shop", "auth-refresh", "ran"),
            ("shop", "import-products", "ran"),
            ("shop", "export-products", "not-due"),
            ("shop", "export-stock", "not-due"),
        ])
    );
    assert_eq!(first.get("shop", "import-products").items, 1200);
    assert_eq!(env.catalog_count(), shop.product_count());
    let page_size = crate::beta_rest_page_size();
    assert_eq!(shop.count("/products"), 1200usize.div_ceil(page_size));
    // The catalog holds the channel's data exactly (prices as strings).
    let catalog = env.catalog();
    for sku in ["SKU-0000001", "SKU-0000010", "SKU-0001200"] {
        assert_eq!(catalog[sku], shop.product(sku).unwrap(), "{sku}");
        let shown = &env.show(sku)["product"];
        assert_eq!(shown["variants"][0]["sku"], sku);
        assert_eq!(shown["handle"], oms_channels::catalog::derive_handle(sku));
    }

    let before = shop.requests().len();
    let second = env.run_once(&[]);
    assert_eq!(
        second.outcomes(),
        expect(&[
            ("shop", "auth-refresh", "not-due"),
            ("shop", "import-products", "not-due"),
            ("shop", "export-products", "not-due"),
            ("shop", "export-stock", "not-due"),
        ])
    );
    assert_eq!(
        shop.requests().len(),
        before,
        "a run with nothing due sends nothing"
    );
    assert!(
        second
            .get("shop", "import-products")
            .detail
            .contains("every 1h"),
        "{second:?}"
    );
}

both_backends!(forced_runs_use_the_rotated_refresh_token);
fn forced_runs_use_the_rotated_refresh_token(backend: Backend) {
    let (env, shop) = master_shop(backend, 20, rotating_with_reuse_detection());
    let first_token = shop.current_refresh_token();
    env.run_once(&[]);
    for round in 1..=2 {
        let rows = env.run_once(&["--force"]);
        assert_eq!(
            rows.get("shop", "auth-refresh").outcome,
            "ran",
            "round {round}"
        );
        assert_eq!(
            rows.get("shop", "import-products").outcome,
            "ran",
            "round {round}"
        );
        assert!(
            !shop.grant_revoked(),
            "round {round}: an old refresh token was replayed"
        );
        assert_eq!(
            env.stored_refresh_token("shop").as_deref(),
            Some(shop.current_refresh_token().as_str()),
            "round {round}: the store must hold the channel's latest refresh token"
        );
    }
    assert_ne!(shop.current_refresh_token(), first_token);
    assert_eq!(shop.count("/oauth/token"), 3);
}

both_backends!(forced_import_is_incremental_and_full_rereads_everything);
fn forced_import_is_incremental_and_full_rereads_everything(backend: Backend) {
    let (env, shop) = master_shop(backend, 300, Switches::default());
    env.run_once(&[]);
    let high_water = shop.product("SKU-0000300").unwrap().updated_at;

    shop.clear_requests();
    shop.update_product("SKU-0000007", |p| p.price = "12.34".into())
        .unwrap();
    let rows = env.run_once(&["--force", "--job", "import-products"]);
    let queries: Vec<String> = shop.requests().into_iter().map(|r| r.query).collect();
    assert_eq!(queries.len(), 1, "{queries:?}");
    assert!(
        queries[0].contains(&format!("updated_since={}", high_water.replace(':', "%3A"))),
        "the import must ask for changes since the high-water mark: {queries:?}"
    );
    // The changed product, plus the one at the high-water instant (inclusive).
    assert_eq!(rows.get("shop", "import-products").items, 2);
    assert_eq!(
        env.show("SKU-0000007")["product"]["variants"][0]["prices"]["EUR"],
        "12.34"
    );

    shop.clear_requests();
    let rows = env.run_once(&["--force", "--full", "--job", "import-products"]);
    assert_eq!(rows.get("shop", "import-products").items, 300);
    let requests = shop.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| !r.query.contains("updated_since")),
        "--full must not send updated_since: {requests:?}"
    );
}

both_backends!(an_expired_access_token_is_refreshed_once_and_the_request_retried);
fn an_expired_access_token_is_refreshed_once_and_the_request_retried(backend: Backend) {
    let (env, shop) = master_shop(backend, 50, rotating_with_reuse_detection());
    env.run_once(&[]);
    shop.expire_access_tokens();
    shop.clear_requests();

    let rows = env.run_once(&["--job", "import-products", "--force"]);
    assert_eq!(rows.get("shop", "import-products").outcome, "ran");
    // Incremental: only the product at the high-water instant comes back.
    assert_eq!(rows.get("shop", "import-products").items, 1);
    assert_eq!(
        shop.log(),
        vec![
            ("GET /products".to_string(), 401),
            ("POST /oauth/token".to_string(), 200),
            ("GET /products".to_string(), 200),
        ]
    );
    assert!(!shop.grant_revoked());
    assert_eq!(
        env.stored_refresh_token("shop").as_deref(),
        Some(shop.current_refresh_token().as_str())
    );
}

both_backends!(rate_limits_and_server_errors_are_retried_until_the_import_completes);
fn rate_limits_and_server_errors_are_retried_until_the_import_completes(backend: Backend) {
    let (env, shop) = master_shop(backend, 1200, Switches::default());
    env.run_once(&[]);
    shop.clear_requests();
    shop.update_switches(|s| {
        s.fail_next = vec![500, 502, 429];
        s.rate_limit_every = Some(3);
        s.retry_after_secs = 1;
    });

    let rows = env.run_once(&["--force", "--full", "--job", "import-products"]);
    assert_eq!(rows.get("shop", "import-products").outcome, "ran");
    assert_eq!(rows.get("shop", "import-products").items, 1200);
    let statuses: Vec<u16> = shop.log().into_iter().map(|(_, s)| s).collect();
    for status in [500, 502, 429] {
        assert!(
            statuses.contains(&status),
            "{status} not seen in {statuses:?}"
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1200usize.div_ceil(crate::beta_rest_page_size()),
        "one 200 per page: {statuses:?}"
    );
    assert_eq!(env.catalog_count(), 1200);
}

both_backends!(a_garbage_body_fails_the_job_and_the_catalog_keeps_what_it_had);
fn a_garbage_body_fails_the_job_and_the_catalog_keeps_what_it_had(backend: Backend) {
    let (env, shop) = master_shop(backend, 40, Switches::default());
    env.run_once(&[]);
    let before = env.show("SKU-0000003");
    shop.update_product("SKU-0000003", |p| p.price = "99.99".into())
        .unwrap();
    shop.update_switches(|s| s.garbage_next = 1);

    let (code, doc, stderr) = env.run_once_any(&["--force", "--job", "import-products"]);
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rows = Rows::of(&doc);
    let row = rows.get("shop", "import-products");
    assert_eq!(row.outcome, "failed");
    assert!(row.detail.contains("unusable reply"), "{}", row.detail);
    assert_eq!(env.catalog_count(), 40);
    assert_eq!(env.show("SKU-0000003")["product"], before["product"]);

    // The human table reports it the same way.
    shop.update_switches(|s| s.garbage_next = 1);
    let out = env.run(["run-once", "--force", "--job", "import-products"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("failed"), "{stdout}");
    assert_eq!(env.show("SKU-0000003")["product"], before["product"]);

    // A failure never counts as done: the next forced run picks up the change.
    env.run_once(&["--force", "--job", "import-products"]);
    assert_eq!(
        env.show("SKU-0000003")["product"]["variants"][0]["prices"]["EUR"],
        "99.99"
    );
}

both_backends!(a_concurrent_run_once_exits_75_and_names_the_holder);
fn a_concurrent_run_once_exits_75_and_names_the_holder(backend: Backend) {
    let (env, shop) = master_shop(
        backend,
        20,
        Switches {
            latency_ms: 700,
            ..Switches::default()
        },
    );
    let mut first = env
        .command(["run-once"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the first run");
    // The first run holds the lock once its token request reaches the channel.
    let started = wait_until(Duration::from_secs(10), || {
        shop.state()["requests"]["token"].as_u64() >= Some(1)
    });
    assert!(started, "the first run never reached the channel");

    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(code, 75, "{stderr}");
    // Scripts asking for JSON get the error document saying why.
    assert_eq!(doc["error"]["code"], "busy", "{doc}");
    assert_eq!(doc["error"]["exit"], 75, "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("account `acme` is locked"),
        "{doc}"
    );
    assert!(
        stderr.contains(&format!("pid {}", first.id())),
        "the message must name the holder: {stderr}"
    );
    assert!(first.wait().expect("first run").success());
    // The lock died with its holder: the next run is not refused.
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("shop", "import-products").outcome, "not-due");
}

both_backends!(auth_refresh_none_sends_no_request_even_when_forced);
fn auth_refresh_none_sends_no_request_even_when_forced(backend: Backend) {
    let mut env = TestEnv::with_account(backend);
    let shop = SandboxPeer::with(20, Switches::default());
    env.add_channel(
        "shop",
        &shop,
        &[("import-products", "1h"), ("export-products", "1h")],
    );
    // Quiet on an ordinary tick (validate warns `auth-disabled`); asked for
    // by `--force`, the jobs are reported as skipped.
    for (args, product_jobs) in [(&[][..], "not-due"), (&["--force"][..], "skipped")] {
        let rows = env.run_once(args);
        assert_eq!(
            rows.outcomes(),
            expect(&[
                ("shop", "auth-refresh", "not-due"),
                ("shop", "import-products", product_jobs),
                ("shop", "export-products", product_jobs),
                ("shop", "export-stock", "not-due"),
            ]),
            "{args:?}"
        );
    }
    assert_eq!(shop.requests(), vec![]);
}

both_backends!(invalid_grant_fails_with_the_login_hint_and_skips_the_product_jobs);
fn invalid_grant_fails_with_the_login_hint_and_skips_the_product_jobs(backend: Backend) {
    let mut env = TestEnv::with_account(backend);
    let shop = SandboxPeer::with(20, Switches::default());
    env.add_channel_without_login(
        "shop",
        &shop,
        &[
            ("auth-refresh", "50m"),
            ("import-products", "1h"),
            ("export-products", "1h"),
        ],
    );
    env.login("shop", "rt-not-the-right-one");

    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    let rows = Rows::of(&doc);
    assert_eq!(
        rows.outcomes(),
        expect(&[
            ("shop", "auth-refresh", "failed"),
            ("shop", "import-products", "skipped"),
            ("shop", "export-products", "skipped"),
            ("shop", "export-stock", "not-due"),
        ])
    );
    let detail = &rows.get("shop", "auth-refresh").detail;
    assert!(detail.contains("invalid_grant"), "{detail}");
    assert!(
        detail.contains("oms-channels --account acme channel login shop"),
        "{detail}"
    );
    assert_eq!(shop.log(), vec![("POST /oauth/token".to_string(), 400)]);

    let history = env.json(&["history"]);
    let outcomes: Vec<(&str, &str)> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["job"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("export-products", "skipped"),
            ("import-products", "skipped"),
            ("auth-refresh", "failed"),
        ]
    );
    // The stored token is kept, not replaced by nothing.
    assert_eq!(
        env.stored_refresh_token("shop").as_deref(),
        Some("rt-not-the-right-one")
    );

    // `status` tells the same story as the next run.
    let status = env.json(&["status"]);
    for job in status["jobs"].as_array().unwrap() {
        if job["job"] == "auth-refresh" {
            assert_eq!(job["last_outcome"], "failed", "{job:#}");
        } else if job["period"] != "none" {
            assert_eq!(job["due"], false, "{job:#}");
            assert!(
                job["why"].as_str().unwrap().contains("auth-refresh failed"),
                "{job:#}"
            );
        }
    }

    // The next cron run (a minute later at most) waits for the auth backoff
    // instead of sending the rejected token again through a product job.
    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(
        shop.log(),
        vec![("POST /oauth/token".to_string(), 400)],
        "{doc:#}\n{stderr}"
    );
    assert_eq!(code, 0, "{doc:#}");
    let rows = Rows::of(&doc);
    assert_eq!(rows.get("shop", "auth-refresh").outcome, "not-due");
    for job in ["import-products", "export-products"] {
        let row = rows.get("shop", job);
        // Waiting, quietly: cron output is not repeated every minute.
        assert_eq!(row.outcome, "not-due", "{doc:#}");
        assert!(row.detail.contains("auth-refresh failed"), "{}", row.detail);
    }

    // A fresh login unblocks the product jobs at once, before auth-refresh's
    // backoff ends: they refresh the token themselves.
    env.login("shop", &shop.current_refresh_token());
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("shop", "auth-refresh").outcome, "not-due");
    assert_eq!(rows.get("shop", "import-products").outcome, "ran");
    assert_eq!(rows.get("shop", "import-products").items, 20);
}

/// 250 catalog products; a few with prices a float would mangle.
fn catalog_250() -> Vec<Value> {
    let special = ["0.10", "1234567.89", "19.90"];
    (1..=250)
        .map(|i| {
            let price = special
                .get(i - 1)
                .map_or_else(|| format!("{i}.{:02}", i % 100), |p| p.to_string());
            product(&format!("P-{i:04}"), &price)
        })
        .collect()
}

both_backends!(export_sends_changed_products_in_batches_of_at_most_100);
fn export_sends_changed_products_in_batches_of_at_most_100(backend: Backend) {
    let (env, shop) = exporting_shop(backend, Switches::default());
    let mut catalog = catalog_250();
    let loaded = env.load_jsonl("catalog.jsonl", &catalog);
    assert_eq!(loaded["created"], 250, "{loaded:#}");

    let rows = env.run_once(&[]);
    assert_eq!(rows.get("shop", "export-products").outcome, "ran");
    assert_eq!(rows.get("shop", "export-products").items, 250);
    let sizes: Vec<usize> = shop.batches().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    assert_eq!(shop.product_count(), 250);
    // Exact decimal strings on the wire and at the channel.
    let bodies: String = shop.requests().into_iter().filter_map(|r| r.body).collect();
    for price in ["0.10", "1234567.89", "19.90"] {
        assert!(
            bodies.contains(&format!("\"EUR\":\"{price}\"")),
            "{price} not sent as a string"
        );
    }
    assert_eq!(shop.product("P-0001").unwrap().price, "0.10");
    assert_eq!(shop.product("P-0002").unwrap().price, "1234567.89");

    shop.clear_requests();
    let rows = env.run_once(&["--force"]);
    assert_eq!(rows.get("shop", "export-products").items, 0);
    assert_eq!(shop.batches(), Vec::<Vec<String>>::new());

    catalog[41]["price"] = json!("43.50");
    env.load_jsonl("catalog2.jsonl", &catalog);
    let rows = env.run_once(&["--force"]);
    assert_eq!(rows.get("shop", "export-products").items, 1);
    assert_eq!(shop.batches(), vec![vec!["P-0042".to_string()]]);
    assert_eq!(shop.product("P-0042").unwrap().price, "43.50");
}

both_backends!(import_from_a_non_master_channel_records_listings_only);
fn import_from_a_non_master_channel_records_listings_only(backend: Backend) {
    let mut env = TestEnv::with_account(backend);
    let a = SandboxPeer::with(30, Switches::default());
    let b = SandboxPeer::with(30, Switches::default());
    env.add_channel("a", &a, HOURLY_IMPORT);
    env.add_channel("b", &b, HOURLY_IMPORT);
    env.set_master("a");
    b.update_product("SKU-0000001", |p| p.price = "777.00".into())
        .unwrap();
    let only_b = b.put_product(sandbox::Product {
        sku: "ONLY-B".into(),
        title: "Only on b".into(),
        price: "5.00".into(),
        currency: "EUR".into(),
        quantity: 1,
        attributes: Default::default(),
        updated_at: String::new(),
        id: Some("b-only".into()),
    });

    let rows = env.run_once(&[]);
    assert_eq!(rows.get("a", "import-products").items, 30);
    assert_eq!(rows.get("b", "import-products").items, 31);
    assert_eq!(
        env.catalog_count(),
        30,
        "b's extra product is no catalog product"
    );

    let shown = env.show("SKU-0000001");
    assert_eq!(
        shown["product"]["variants"][0]["prices"]["EUR"],
        a.product("SKU-0000001").unwrap().price
    );
    let listings = shown["listings"].as_array().unwrap();
    let b_listing = listings
        .iter()
        .find(|l| l["channel"] == "b")
        .expect("b's listing is recorded");
    assert_eq!(
        b_listing["product"]["variants"][0]["prices"]["EUR"],
        "777.00"
    );

    let shown = env.show("ONLY-B");
    assert_eq!(shown["product"], Value::Null);
    assert_eq!(shown["listings"][0]["channel"], "b");
    assert_eq!(shown["listings"][0]["product"]["id"], json!(only_b.id));
}

both_backends!(dry_run_sends_nothing_and_changes_nothing);
fn dry_run_sends_nothing_and_changes_nothing(backend: Backend) {
    // Before any store exists: the dry run must not create one.
    let mut env = TestEnv::with_account(backend);
    let shop = SandboxPeer::with(20, Switches::default());
    env.add_channel_without_login("shop", &shop, HOURLY_IMPORT);
    let rows = env.run_once(&["--dry-run"]);
    assert_eq!(rows.get("shop", "import-products").outcome, "would-run");
    assert!(!env.store_exists(), "a dry run created the store");
    assert_eq!(shop.requests(), vec![]);

    // After a real run: state and channel untouched, even with --force.
    env.login("shop", &shop.current_refresh_token());
    env.run_once(&[]);
    let now = "2030-01-01T00:00:00Z";
    let status = env.ok(["--json", "status", "--now", now]);
    let history = env.ok(["--json", "history"]);
    let requests = shop.requests().len();
    let rows = env.run_once(&["--dry-run", "--force"]);
    assert_eq!(
        rows.outcomes(),
        expect(&[
            ("shop", "auth-refresh", "would-run"),
            ("shop", "import-products", "would-run"),
            ("shop", "export-products", "not-due"),
            ("shop", "export-stock", "not-due"),
        ])
    );
    assert_eq!(shop.requests().len(), requests);
    assert_eq!(env.ok(["--json", "status", "--now", now]), status);
    assert_eq!(env.ok(["--json", "history"]), history);
}

both_backends!(now_previews_are_deterministic_and_follow_the_last_success);
fn now_previews_are_deterministic_and_follow_the_last_success(backend: Backend) {
    let (env, _shop) = master_shop(backend, 10, Switches::default());
    env.run_once(&[]);
    let preview = [
        "--json",
        "run-once",
        "--dry-run",
        "--now",
        "2030-01-01T00:00:00Z",
    ];
    assert_eq!(env.ok(preview), env.ok(preview));

    let status = env.json(&["status"]);
    let import = status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "import-products")
        .unwrap();
    let success: jiff::Timestamp = import["last_success"].as_str().unwrap().parse().unwrap();
    // Due on cron's grid: from the minute the run started in, so the next
    // tick an hour later is due however late in its minute the first run began.
    let slot = minute_of(success);
    let cases = [
        (jiff::SignedDuration::from_mins(59), "not-due"),
        (jiff::SignedDuration::from_secs(3599), "not-due"),
        (jiff::SignedDuration::from_hours(1), "would-run"),
        (jiff::SignedDuration::from_secs(3601), "would-run"),
        (jiff::SignedDuration::from_mins(61), "would-run"),
        (jiff::SignedDuration::from_hours(5), "would-run"),
    ];
    for (after, expected) in cases {
        let at = (slot + after).to_string();
        let rows = env.run_once(&["--dry-run", "--now", &at]);
        assert_eq!(
            rows.get("shop", "import-products").outcome,
            expected,
            "--now last slot + {after:?}"
        );
    }
}

both_backends!(products_load_is_all_or_nothing_and_reads_csv);
fn products_load_is_all_or_nothing_and_reads_csv(backend: Backend) {
    let env = TestEnv::with_account(backend);
    let bad = [
        product("A-1", "1.00").to_string(),
        product("A-2", "2.00").to_string(),
        product("A-3", "3.00")
            .to_string()
            .replace("\"3.00\"", "19.9"),
        product("A-4", "4.00").to_string(),
    ]
    .join("\n");
    let path = env.write_file("bad.jsonl", &bad);
    let out = env.run(["products", "load", path.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert_eq!(env.catalog_count(), 0);

    let csv = "sku,title,price,currency,quantity,updated_at,attr.color\n\
               C-1,Chair,49.90,EUR,3,2026-01-31T12:00:00Z,oak\n\
               C-2,\"Table, large\",1234567.89,EUR,1,2026-01-31T12:00:00Z,\n";
    let path = env.write_file("catalog.csv", csv);
    let loaded = env.json(&["products", "load", path.to_str().unwrap()]);
    assert_eq!(loaded["created"], 2, "{loaded:#}");
    assert_eq!(env.catalog_count(), 2);
    let chair = env.show("C-1")["product"].clone();
    assert_eq!(chair["variants"][0]["prices"]["EUR"], "49.90");
    assert_eq!(chair["attributes"]["color"], "oak");
    assert_eq!(env.show("C-2")["product"]["title"], "Table, large");
}

both_backends!(history_lists_runs_and_status_says_when_and_why);
fn history_lists_runs_and_status_says_when_and_why(backend: Backend) {
    let (env, shop) = master_shop(backend, 10, Switches::default());
    env.run_once(&[]);
    shop.update_switches(|s| s.garbage_next = 1);
    let (code, _, _) = env.run_once_any(&["--force", "--job", "import-products"]);
    assert_eq!(code, 1);

    let history = env.json(&["history"]);
    let runs: Vec<(&str, &str, bool)> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["forced"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        vec![
            ("import-products", "failed", true),
            ("import-products", "success", false),
            ("auth-refresh", "success", false),
        ]
    );
    let limited = env.json(&["history", "--limit", "1"]);
    assert_eq!(limited["runs"].as_array().unwrap().len(), 1);

    let status = env.json(&["status"]);
    assert_eq!(status["account"], "acme");
    let job = |name: &str| {
        status["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job"] == name)
            .unwrap()
            .clone()
    };
    let auth = job("auth-refresh");
    let success: jiff::Timestamp = auth["last_success"].as_str().unwrap().parse().unwrap();
    let next: jiff::Timestamp = auth["next_due"].as_str().unwrap().parse().unwrap();
    // On the grid: the first success's minute, plus the period.
    assert_eq!(
        next,
        minute_of(success) + jiff::SignedDuration::from_mins(50)
    );
    assert!(
        auth["why"].as_str().unwrap().contains("every 50m"),
        "{auth:#}"
    );

    // A failed job is retried with backoff from its last attempt, not its last success.
    let import = job("import-products");
    assert_eq!(import["last_outcome"], "failed");
    assert_eq!(import["consecutive_failures"], 1);
    let attempt: jiff::Timestamp = import["last_attempt"].as_str().unwrap().parse().unwrap();
    let next: jiff::Timestamp = import["next_due"].as_str().unwrap().parse().unwrap();
    // One minute after the attempt's tick (its start rounded down to the minute).
    assert_eq!(
        next,
        minute_of(attempt) + jiff::SignedDuration::from_mins(1)
    );
    assert!(
        import["why"].as_str().unwrap().contains("retry"),
        "{import:#}"
    );

    let human = env.ok(["status"]);
    assert!(human.contains("account: acme"), "{human}");
    assert!(human.contains("failed:"), "{human}");
}

both_backends!(export_sends_catalog_data_not_the_master_channels_ids);
fn export_sends_catalog_data_not_the_master_channels_ids(backend: Backend) {
    // Master `a` feeds the catalog; `b` gets it exported.
    let mut env = TestEnv::with_account(backend);
    let a = SandboxPeer::with(5, Switches::default());
    let b = SandboxPeer::with(0, Switches::default());
    env.add_channel("a", &a, HOURLY_IMPORT);
    env.add_channel("b", &b, HOURLY_EXPORT);
    env.set_master("a");

    let rows = env.run_once(&["--job", "auth-refresh", "--job", "import-products"]);
    assert_eq!(rows.get("a", "import-products").items, 5);
    // Channels run concurrently, so export after the import has landed.
    let rows = env.run_once(&["--job", "export-products"]);
    assert_eq!(rows.get("b", "export-products").items, 5);
    let sent = a.product("SKU-0000002").unwrap();
    let got = b.product("SKU-0000002").expect("exported to b");
    assert_eq!((&got.title, &got.price), (&sent.title, &sent.price));
    // `id` is each channel's own: a's ids must not be sent to b as b's.
    for request in b.requests().into_iter().filter_map(|r| r.body) {
        assert!(!request.contains("\"id\":\"p-"), "{request}");
    }
}

both_backends!(a_channel_with_config_errors_is_skipped_and_the_others_run);
fn a_channel_with_config_errors_is_skipped_and_the_others_run(backend: Backend) {
    let mut env = TestEnv::with_account(backend);
    let good = SandboxPeer::with(5, Switches::default());
    let bad = SandboxPeer::with(5, Switches::default());
    env.add_channel("good", &good, HOURLY_IMPORT);
    env.add_channel("bad", &bad, HOURLY_IMPORT);
    env.set_master("good");
    // An operator edits the file by hand: plain http to a non-loopback host
    // is an `insecure-url` error for that channel only.
    let file = env.config_dir().join("accounts/acme.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replacen(
        &format!("base-url = \"{}\"", bad.base_url()),
        "base-url = \"http://shop.example\"",
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&file, edited).unwrap();

    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(code, 2, "{doc:#}\n{stderr}");
    let rows = Rows::of(&doc);
    assert_eq!(rows.get("good", "import-products").outcome, "ran");
    let skipped = rows.get("bad", "import-products");
    assert_eq!(skipped.outcome, "skipped");
    assert!(
        skipped.detail.contains("insecure-url"),
        "{}",
        skipped.detail
    );
    assert_eq!(bad.requests(), vec![]);
}

both_backends!(a_lost_token_reply_is_explained_instead_of_a_bare_invalid_grant);
fn a_lost_token_reply_is_explained_instead_of_a_bare_invalid_grant(backend: Backend) {
    let (env, shop) = master_shop(backend, 5, rotating_with_reuse_detection());
    // The channel rotates the refresh token, but the reply never arrives.
    shop.update_switches(|s| s.drop_reply_next = 1);
    let (code, doc, _) = env.run_once_any(&[]);
    // The reply was lost in transit: an outage (69), explained.
    assert_eq!(code, 69, "{doc:#}");
    let rows = Rows::of(&doc);
    assert_eq!(rows.get("shop", "auth-refresh").outcome, "failed");
    assert!(
        rows.get("shop", "auth-refresh")
            .detail
            .contains("channel login shop"),
        "{doc:#}"
    );
    assert_eq!(rows.get("shop", "import-products").outcome, "skipped");
    assert_eq!(
        shop.count("/oauth/token"),
        1,
        "a token request is never resent"
    );

    // The next attempt replays the old token: the channel refuses it, and the
    // tool says that the earlier refresh was interrupted.
    let (code, doc, _) = env.run_once_any(&["--force", "--job", "auth-refresh"]);
    assert_eq!(code, 1, "{doc:#}");
    let detail = Rows::of(&doc).get("shop", "auth-refresh").detail.clone();
    assert!(detail.contains("invalid_grant"), "{detail}");
    assert!(detail.contains("interrupted"), "{detail}");
    assert!(detail.contains("channel login shop"), "{detail}");
}

both_backends!(a_channel_slower_than_the_request_timeout_fails_the_job_cleanly);
fn a_channel_slower_than_the_request_timeout_fails_the_job_cleanly(backend: Backend) {
    let (env, shop) = master_shop(backend, 5, Switches::default());
    env.run_once(&[]);
    shop.update_switches(|s| s.latency_ms = 1500);
    let out = env
        .cmd(["--json", "run-once", "--force", "--job", "import-products"])
        .env("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "100")
        .output()
        .unwrap();
    // A timeout is an outage that may pass: exit 69.
    assert_eq!(out.status.code(), Some(69));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rows = Rows::of(&parse(&String::from_utf8_lossy(&out.stdout)));
    let row = rows.get("shop", "import-products");
    assert_eq!(row.outcome, "failed");
    assert!(
        row.detail.contains("did not answer in time"),
        "{}",
        row.detail
    );
    assert_eq!(env.catalog_count(), 5);
}

/// `t` rounded down to the minute: cron's tick, where schedule slots lie.
fn minute_of(t: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.as_second() - t.as_second().rem_euclid(60)).unwrap()
}

// ---- on every shop: the sandbox (on both stores), Vendure and Medusa ----

/// `n` catalog products on `peer`'s currency, with prices a float would mangle.
fn priced_offers(prefix: &str, n: u32, peer: &dyn Peer) -> Vec<Offer> {
    let mut offers = Offer::numbered(prefix, 1..=n, "10.00", peer.currency());
    for (i, offer) in offers.iter_mut().enumerate() {
        offer.price = match i % 4 {
            0 => "19.99".into(),
            1 => "0.10".into(),
            2 => "1234567.89".into(),
            _ => format!("{i}.{:02}", i % 100),
        };
    }
    offers
}

/// Fails unless the shop holds exactly `catalog`, each SKU once.
fn assert_shop_holds(peer: &dyn Peer, catalog: &[Offer], context: &str) -> Listing {
    let listing = peer.read_back();
    listing.assert_offers(peer.currency(), &by_sku(catalog), context);
    listing
}

on_peers!(export_reaches_the_shop_exactly_then_only_what_changed: sandbox, sandbox_postgres, vendure, medusa);
fn export_reaches_the_shop_exactly_then_only_what_changed(case: Case) {
    let peer = test_support::peer::start(case.peer);
    let env = TestEnv::with_channel(
        case.backend,
        &*peer,
        &[("auth-refresh", "1h"), ("export-products", "1h")],
    );
    let n = case.rounds(250, 300) as u32;
    let mut catalog = priced_offers("EX-", n, &*peer);
    env.load("catalog.jsonl", &catalog);

    let run = env.run_once(&[]);
    let export = run.get(CHANNEL, "export-products");
    assert_eq!(
        (export.outcome.as_str(), export.items),
        ("ran", u64::from(n)),
        "{export:?}"
    );
    let before = assert_shop_holds(&*peer, &catalog, "the first export");

    // Two prices and two stock levels change: exactly those four reach the
    // shop, and where it stamps its changes, nothing else was written.
    catalog[10].price = "11.11".into();
    catalog[20].price = "0.01".into();
    catalog[30].quantity = 999;
    catalog[40].quantity = 0;
    let changed: Vec<Offer> = [10, 20, 30, 40].map(|i| catalog[i].clone()).to_vec();
    std::thread::sleep(Duration::from_millis(5));
    env.load("changes.jsonl", &changed);
    let run = env.run_once(&["--force", "--job", "export-products"]);
    let export = run.get(CHANNEL, "export-products");
    assert_eq!(
        (export.outcome.as_str(), export.items),
        ("ran", 4),
        "{export:?}"
    );
    let after = assert_shop_holds(&*peer, &catalog, "after 4 changes");
    let changed_skus: Vec<&str> = changed.iter().map(|o| o.sku.as_str()).collect();
    let currency = peer.currency();
    let (old, new) = (before.offers(currency), after.offers(currency));
    let differing: Vec<&str> = old
        .iter()
        .filter(|(sku, offer)| new.get(*sku) != Some(offer))
        .map(|(sku, _)| sku.as_str())
        .collect();
    assert_eq!(differing, changed_skus);
    let (old, new) = (before.changed_at(), after.changed_at());
    if !new.is_empty() {
        let touched: Vec<&str> = new
            .iter()
            .filter(|(sku, at)| old.get(*sku) != Some(at))
            .map(|(sku, _)| sku.as_str())
            .collect();
        assert_eq!(touched, changed_skus, "the shop was written beyond the 4");
    }

    // Nothing pending: a forced export sends nothing and changes nothing.
    let run = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(run.get(CHANNEL, "export-products").items, 0);
    assert_eq!(peer.read_back(), after);

    // Two removed from the catalog are deleted on the shop; the rest stay.
    let removed = [catalog[49].sku.clone(), catalog[59].sku.clone()];
    env.ok(["products", "remove", &removed[0], &removed[1]]);
    let run = env.run_once(&["--force", "--job", "export-products"]);
    let export = run.get(CHANNEL, "export-products");
    assert_eq!(export.outcome, "ran", "{export:?}");
    catalog.retain(|o| !removed.contains(&o.sku));
    assert_shop_holds(&*peer, &catalog, "after 2 removals");
}

on_peers!(import_from_the_master_shop_then_only_what_changed: sandbox, sandbox_postgres, vendure, medusa);
fn import_from_the_master_shop_then_only_what_changed(case: Case) {
    let n = case.rounds(1200, 1000) as u32;
    let peer: Box<dyn Peer> = match case.peer {
        // Its own seeded products, a second apart, so the incremental import
        // below reads exactly the change and the product at the high-water mark.
        PeerKind::Sandbox => Box::new(SandboxPeer::with(u64::from(n), Switches::default())),
        kind => {
            let peer = test_support::peer::start(kind);
            peer.seed(&priced_offers("IM-", n, &*peer));
            peer
        }
    };
    let mut offers: Vec<Offer> = match peer.as_sandbox() {
        // Its seeded prices with three decimals are in KWD: each product
        // in its own currency, by SKU.
        Some(sb) => {
            let mut offers: Vec<Offer> = sb.all_products().iter().map(Offer::from).collect();
            offers.sort();
            offers
        }
        None => peer
            .read_back()
            .offers(peer.currency())
            .into_values()
            .collect(),
    };
    let env = TestEnv::with_channel(
        case.backend,
        &*peer,
        &[("auth-refresh", "1h"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);

    let run = env.run_once(&[]);
    let import = run.get(CHANNEL, "import-products");
    assert_eq!(
        (import.outcome.as_str(), import.items),
        ("ran", u64::from(n)),
        "{import:?}"
    );
    assert_eq!(
        env.catalog_offers(),
        by_sku(&offers),
        "the catalog is the shop"
    );

    // Nothing due: nothing asked of the shop (where it counts requests).
    let requests = peer.product_requests();
    let run = env.run_once(&[]);
    assert!(run.0.iter().all(|r| r.outcome == "not-due"), "{run:?}");
    assert_eq!(peer.product_requests(), requests);

    // A price and a stock level change on the shop: the incremental import
    // brings them, and reads little else.
    let sku = offers[499].sku.clone();
    peer.change(&sku, "7.77", 42);
    offers[499].price = "7.77".into();
    offers[499].quantity = 42;
    let run = env.run_once(&["--force", "--job", "import-products"]);
    let import = run.get(CHANNEL, "import-products");
    assert_eq!(import.outcome, "ran", "{import:?}");
    match case.peer {
        // The change, and the product at the high-water instant (inclusive).
        PeerKind::Sandbox => assert_eq!(import.items, 2, "{import:?}"),
        PeerKind::Vendure => assert_eq!(import.items, 1, "{import:?}"),
        // Medusa does not move a product's `updated_at` for its variant's
        // price or stock: the connector reads back a look-back window.
        PeerKind::Medusa => assert!(import.items >= 1, "{import:?}"),
    }
    assert_eq!(env.catalog_offers(), by_sku(&offers));
    assert_eq!(env.catalog_offers()[&sku].price, "7.77");

    let run = env.run_once(&["--force", "--full", "--job", "import-products"]);
    let items = run.get(CHANNEL, "import-products").items;
    if case.peer == PeerKind::Vendure {
        // Vendure answers `updatedAt > t` in milliseconds over microsecond
        // timestamps: the rows at a page boundary come again (and count).
        assert!(items >= u64::from(n), "{items} of {n}");
    } else {
        assert_eq!(items, u64::from(n));
    }
    assert_eq!(env.catalog_offers(), by_sku(&offers));
}
