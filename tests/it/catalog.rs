//! Whole products through the real binary: nested load files, exports of
//! products with variants to the sandbox (what it received, field by
//! field), `export-fields`, a variant the master drops deleted on the
//! exporting channel, prices in a currency a channel does not take, and a
//! store of the previous (flat) release migrating without exporting
//! anything new, on both engines.

use serde_json::{Value, json};

use sandbox::{NestedProduct, SandboxConfig, Switches};
use test_support::peer::SandboxPeer;
use test_support::{Backend, TestEnv, both_backends};

const HOURLY_EXPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];
const HOURLY_IMPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("import-products", "1h")];

/// A T-shirt in S, M and L, priced in EUR and USD, with a description,
/// two images and two categories: one line of a nested load file.
fn shirt() -> Value {
    let variant = |sku: &str, size: &str, eur: &str, usd: &str, stock: i64| {
        json!({"sku": sku, "option_values": [size], "prices": {"EUR": eur, "USD": usd},
               "stock": {"default": stock}})
    };
    json!({
        "handle": "tshirt",
        "title": "T-Shirt",
        "description": "<p>Soft cotton.</p>",
        "categories": ["Clothing > Shirts", "Summer"],
        "tags": ["cotton"],
        "images": [{"url": "https://cdn.example/ts-front.jpg", "alt": "Front"},
                   {"url": "https://cdn.example/ts-back.jpg", "alt": "Back"}],
        "options": ["Size"],
        "attributes": {"brand": "Acme"},
        "updated_at": "2026-01-31T12:00:00Z",
        "variants": [
            variant("TS-S", "S", "19.90", "21.00", 5),
            variant("TS-M", "M", "19.90", "21.00", 7),
            variant("TS-L", "L", "21.90", "23.00", 0),
        ]
    })
}

/// A flat line, as files of earlier versions have them.
fn mug() -> Value {
    json!({"sku": "MUG-1", "title": "Mug", "price": "8.50", "currency": "EUR", "quantity": 3})
}

/// The export batches the sandbox received, as JSON.
fn batches(shop: &SandboxPeer) -> Vec<Value> {
    shop.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/products/batch")
        .map(|r| serde_json::from_str(r.body.as_deref().expect("a body")).expect("JSON"))
        .collect()
}

/// The SKUs of the variants the sandbox holds of product `handle`.
fn skus_held(shop: &SandboxPeer, handle: &str) -> Vec<String> {
    let product = shop.nested_product(handle).expect("the shop holds it");
    product.variants.into_iter().map(|v| v.sku).collect()
}

/// A product as the sandbox holds it, without what it stamps itself.
fn content(product: &NestedProduct) -> NestedProduct {
    NestedProduct {
        updated_at: String::new(),
        ..product.clone()
    }
}

#[test]
fn nested_products_export_whole_and_an_edit_sends_exactly_what_changed() {
    let shop = SandboxPeer::empty();
    let env = TestEnv::with_channel(Backend::Sqlite, &shop, HOURLY_EXPORT);
    let loaded = env.load_jsonl("catalog.jsonl", &[shirt(), mug()]);
    assert_eq!(
        (loaded["created"].as_u64(), loaded["variants"].as_u64()),
        (Some(2), Some(4))
    );
    let listed = env.ok(["products", "list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("tshirt") && l.contains("T-Shirt  3")),
        "one line per product with its variant count:\n{listed}"
    );

    let rows = env.run_once(&[]);
    assert_eq!(rows.get("shop", "export-products").items, 2);
    let held = shop
        .nested_product("tshirt")
        .expect("the shop holds the shirt");
    assert_eq!(held.variants.len(), 3);
    assert_eq!(held.options, ["Size"]);
    assert_eq!(held.description, "<p>Soft cotton.</p>");
    assert_eq!(held.images.len(), 2);
    assert_eq!(held.categories, ["Clothing > Shirts", "Summer"]);
    assert_eq!(held.variants[1].prices["USD"], "21.00");
    assert_eq!(held.variants[1].stock["default"], 7);
    assert_eq!(
        shop.product("MUG-1").unwrap().price,
        "8.50",
        "the flat one too"
    );
    // The channel's ids are kept, per product and variant.
    let shown = env.show("TS-M");
    let ids = shown["platform_ids"][0]["ids"].as_array().unwrap().clone();
    assert!(
        ids.iter()
            .any(|i| i["kind"] == "product" && i["id"] == json!(held.id)),
        "{shown:#}"
    );
    assert_eq!(
        ids.iter().filter(|i| i["kind"] == "variant").count(),
        3,
        "{shown:#}"
    );
    assert_eq!(shown["exports"][0]["exported_revision"], 1);

    // One variant's USD price and the description change on the master.
    let mut edited = shirt();
    edited["variants"][1]["prices"]["USD"] = json!("19.00");
    edited["description"] = json!("<p>Soft organic cotton.</p>");
    let reloaded = env.load_jsonl("edit.jsonl", &[edited, mug()]);
    assert_eq!(
        (reloaded["updated"].as_u64(), reloaded["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    shop.clear_requests();
    let rows = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(
        rows.get("shop", "export-products").items,
        1,
        "only the shirt"
    );
    let sent = batches(&shop);
    assert_eq!(sent.len(), 1);
    let item = &sent[0]["products"][0];
    assert_eq!(item["handle"], "tshirt");
    assert_eq!(item["description"], "<p>Soft organic cotton.</p>");
    assert_eq!(
        item["variants"][1]["prices"],
        json!({"EUR": "19.90", "USD": "19.00"})
    );
    assert_eq!(
        item["id"],
        json!(held.id),
        "the channel's own id goes back to it"
    );
    // On the shop, exactly those two values changed.
    let now = shop.nested_product("tshirt").unwrap();
    let mut expected = content(&held);
    expected.description = "<p>Soft organic cotton.</p>".into();
    expected.variants[1]
        .prices
        .insert("USD".into(), "19.00".into());
    assert_eq!(content(&now), expected);

    // A variant removed by SKU is deleted on the shop; the product stays.
    let removed = env.json(&["products", "remove", "TS-L"]);
    assert_eq!(removed["variants_removed"], json!(["TS-L"]));
    shop.clear_requests();
    env.run_once(&["--force", "--job", "export-products"]);
    let sent = batches(&shop);
    assert_eq!(
        sent[0]["delete"],
        json!([{"handle": "tshirt", "skus": ["TS-L"]}])
    );
    assert_eq!(skus_held(&shop, "tshirt"), ["TS-S", "TS-M"]);
    assert_eq!(
        env.show("tshirt")["product"]["variants"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn an_export_that_owns_prices_and_stock_keeps_a_description_edited_on_the_shop() {
    let shop = SandboxPeer::empty();
    let env = TestEnv::with_channel(Backend::Sqlite, &shop, HOURLY_EXPORT);
    env.set_channel_key("shop", r#"export-fields = ["prices", "stock"]"#);
    env.load_jsonl("catalog.jsonl", &[shirt()]);
    env.run_once(&[]);
    // A create sends the whole product, description included.
    assert_eq!(
        shop.nested_product("tshirt").unwrap().description,
        "<p>Soft cotton.</p>"
    );

    shop.update_nested("tshirt", |p| p.description = "Written by the shop".into());
    let mut edited = shirt();
    edited["variants"][0]["prices"]["EUR"] = json!("17.90");
    edited["description"] = json!("<p>The catalog's new words.</p>");
    edited["variants"][0]["stock"]["default"] = json!(9);
    env.load_jsonl("edit.jsonl", &[edited]);
    shop.clear_requests();
    let rows = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(rows.get("shop", "export-products").items, 1);
    let sent = batches(&shop);
    assert_eq!(sent[0]["products"][0]["fields"], json!(["prices", "stock"]));
    let now = shop.nested_product("tshirt").unwrap();
    assert_eq!(
        now.description, "Written by the shop",
        "the shop's own words survive"
    );
    assert_eq!(now.variants[0].prices["EUR"], "17.90");
    assert_eq!(now.variants[0].stock["default"], 9);

    // A name that is no field is a finding, and the channel is skipped.
    let text = env
        .account_text()
        .replace(r#"["prices", "stock"]"#, r#"["prices", "price"]"#);
    std::fs::write(env.account_file(), text).unwrap();
    let out = env.run(["validate"]);
    let findings = String::from_utf8_lossy(&out.stdout);
    assert!(
        findings.contains("error[unknown-export-field]") && findings.contains("`price`"),
        "{findings}"
    );
    assert_eq!(out.status.code(), Some(1), "{findings}");
    shop.clear_requests();
    let (code, doc, _) = env.run_once_any(&["--force", "--job", "export-products"]);
    assert_eq!(code, 2, "a channel skipped for its config: {doc:#}");
    assert!(
        batches(&shop).is_empty(),
        "nothing sent under a field list it cannot read"
    );
}

#[test]
fn a_variant_the_master_drops_is_deleted_on_the_exporting_channel() {
    let master = SandboxPeer::start(SandboxConfig {
        products: 3,
        variants_per_product: 3,
        ..SandboxConfig::default()
    });
    let shop = SandboxPeer::empty();
    let mut env = TestEnv::with_account(Backend::Sqlite);
    env.add_channel("m", &master, HOURLY_IMPORT);
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    env.set_master("m");
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("m", "import-products").items, 3);
    env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(
        shop.nested_product("prod-0000002").unwrap().variants.len(),
        3
    );
    assert_eq!(env.json(&["products", "count"])["variants"], 9);

    // The master drops a size of one product.
    master.update_nested("prod-0000002", |p| {
        p.variants.pop();
    });
    // Import, then export: channels run concurrently within one run.
    env.run_once(&["--force", "--job", "import-products"]);
    assert_eq!(env.json(&["products", "count"])["variants"], 8);
    shop.clear_requests();
    env.run_once(&["--force", "--job", "export-products"]);
    let sent = batches(&shop);
    assert_eq!(
        sent[0]["delete"],
        json!([{"handle": "prod-0000002", "skus": ["SKU-0000002-3"]}]),
        "the deletion goes first: {sent:#?}"
    );
    assert_eq!(sent[1]["products"][0]["handle"], "prod-0000002");
    assert_eq!(
        skus_held(&shop, "prod-0000002"),
        ["SKU-0000002-1", "SKU-0000002-2"]
    );
    // Confirmed: the next run owes nothing.
    shop.clear_requests();
    env.run_once(&["--force", "--job", "export-products"]);
    assert!(batches(&shop).is_empty());
}

#[test]
fn a_price_in_a_currency_the_channel_does_not_take_is_left_out_and_named_once() {
    let shop = SandboxPeer::with(
        0,
        Switches {
            currencies: vec!["EUR".into()],
            ..Switches::default()
        },
    );
    let env = TestEnv::with_channel(Backend::Sqlite, &shop, HOURLY_EXPORT);
    let mut other = shirt();
    other["handle"] = json!("polo");
    for (i, variant) in other["variants"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        variant["sku"] = json!(format!("POLO-{i}"));
    }
    env.load_jsonl("catalog.jsonl", &[shirt(), other]);
    let rows = env.run_once(&[]);
    let row = rows.get("shop", "export-products");
    assert_eq!(row.outcome, "ran", "left out, not refused: {}", row.detail);
    assert_eq!(
        row.detail.matches("USD").count(),
        1,
        "named once for the run: {}",
        row.detail
    );
    assert!(row.detail.contains("USD (2 products)"), "{}", row.detail);
    let held = shop.nested_product("tshirt").unwrap();
    assert_eq!(held.variants[0].prices.keys().collect::<Vec<_>>(), ["EUR"]);
    // What the channel accepted is recorded: nothing is sent again.
    shop.clear_requests();
    let rows = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(rows.get("shop", "export-products").items, 0);
    assert!(batches(&shop).is_empty());
}

both_backends!(a_flat_store_of_the_previous_release_migrates_and_exports_nothing_new);
fn a_flat_store_of_the_previous_release_migrates_and_exports_nothing_new(backend: Backend) {
    let shop = SandboxPeer::empty();
    let env = TestEnv::with_channel(backend, &shop, HOURLY_EXPORT);
    env.rewrite_store(&flat_release_store(backend, 10_000));

    let rows = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(rows.get("shop", "export-products").items, 0, "{:?}", rows.0);
    assert!(batches(&shop).is_empty(), "nothing new to export");
    let count = env.json(&["products", "count"]);
    assert_eq!(
        (count["count"].as_u64(), count["variants"].as_u64()),
        (Some(10_000), Some(10_000))
    );
    let shown = env.show("OLD-00042");
    assert_eq!(
        shown["handle"],
        oms_channels::catalog::derive_handle("OLD-00042")
    );
    assert_eq!(shown["product"]["variants"][0]["stock"]["default"], 42 % 17);
    assert_eq!(shown["exports"][0]["exported_revision"], 1);
    assert_eq!(env.integrity(), "ok");

    // The same products loaded again are no change; one changed price is.
    let mut lines: Vec<Value> = (1..=10_000).map(flat_line).collect();
    let again = env.load_jsonl("same.jsonl", &lines);
    assert_eq!(again["unchanged"], 10_000, "{again:#}");
    lines[41]["price"] = json!("999.00");
    env.load_jsonl("changed.jsonl", &lines);
    let rows = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(rows.get("shop", "export-products").items, 1);
    assert_eq!(shop.product("OLD-00042").unwrap().price, "999.00");
}

/// The flat product `i` the previous release's store below holds.
fn flat_line(i: u32) -> Value {
    json!({
        "sku": format!("OLD-{i:05}"),
        "title": format!("Old product {i}"),
        "price": format!("{}.{:02}", i % 500, i % 100),
        "currency": "EUR",
        "quantity": i % 17,
        "attributes": {"colour": format!("c{}", i % 5)},
        "updated_at": "2026-01-01T00:00:00Z",
    })
}

/// Statements that turn a store of this release into one the previous
/// release (schema version 3: flat products) left: its catalog tables as
/// that release created them, `n` products exported to `shop`, current.
fn flat_release_store(backend: Backend, n: u32) -> String {
    let drop = "DROP TABLE products; DROP TABLE variants; DROP TABLE stock_levels; \
                DROP TABLE listings; DROP TABLE listing_variants; DROP TABLE exports; \
                DROP TABLE platform_ids; DROP TABLE shop_intents; DROP TABLE removed_products; \
                DROP TABLE removed_variants; DROP TABLE stock_sent; DROP TABLE stock_reconciles; \
                ALTER TABLE import_seen RENAME COLUMN handle TO sku; \
                ALTER TABLE import_progress DROP COLUMN listing_started;";
    match backend {
        Backend::Sqlite => format!(
            r#"{drop}
            CREATE TABLE catalog (sku TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, price TEXT NOT NULL,
                currency TEXT NOT NULL, quantity INTEGER NOT NULL, attributes TEXT NOT NULL,
                updated_at TEXT NOT NULL, id TEXT, revision INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE listings (channel TEXT NOT NULL, sku TEXT NOT NULL, listing_id TEXT,
                title TEXT NOT NULL, price TEXT NOT NULL, currency TEXT NOT NULL, quantity INTEGER NOT NULL,
                attributes TEXT NOT NULL, updated_at TEXT NOT NULL, seen_at INTEGER NOT NULL,
                PRIMARY KEY (channel, sku)) WITHOUT ROWID;
            CREATE INDEX listings_by_sku ON listings (sku);
            CREATE TABLE exports (channel TEXT NOT NULL, sku TEXT NOT NULL, exported_revision INTEGER,
                last_status TEXT NOT NULL, last_error TEXT, attempted_at INTEGER NOT NULL,
                rejections INTEGER NOT NULL DEFAULT 0, rejected_revision INTEGER,
                PRIMARY KEY (channel, sku)) WITHOUT ROWID;
            CREATE INDEX exports_by_sku ON exports (sku);
            CREATE TABLE removed_products (sku TEXT PRIMARY KEY NOT NULL, removed_at INTEGER NOT NULL) WITHOUT ROWID;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
            INSERT INTO catalog SELECT printf('OLD-%05d', i), 'Old product ' || i,
                printf('%d.%02d', i % 500, i % 100), 'EUR', i % 17, '{{"colour":"c' || (i % 5) || '"}}',
                '2026-01-01T00:00:00Z', NULL, 1 FROM n;
            INSERT INTO exports (channel, sku, exported_revision, last_status, attempted_at)
                SELECT 'shop', sku, 1, 'created', 1767225600000 FROM catalog;
            PRAGMA user_version = 3;"#
        ),
        Backend::Postgres => format!(
            r#"{drop}
            CREATE TABLE catalog (sku TEXT COLLATE "C" PRIMARY KEY NOT NULL, title TEXT NOT NULL,
                price TEXT NOT NULL, currency TEXT NOT NULL, quantity BIGINT NOT NULL,
                attributes TEXT NOT NULL, updated_at TEXT NOT NULL, id TEXT, revision BIGINT NOT NULL);
            CREATE TABLE listings (channel TEXT COLLATE "C" NOT NULL, sku TEXT COLLATE "C" NOT NULL,
                listing_id TEXT, title TEXT NOT NULL, price TEXT NOT NULL, currency TEXT NOT NULL,
                quantity BIGINT NOT NULL, attributes TEXT NOT NULL, updated_at TEXT NOT NULL,
                seen_at BIGINT NOT NULL, PRIMARY KEY (channel, sku));
            CREATE INDEX listings_by_sku ON listings (sku);
            CREATE TABLE exports (channel TEXT COLLATE "C" NOT NULL, sku TEXT COLLATE "C" NOT NULL,
                exported_revision BIGINT, last_status TEXT NOT NULL, last_error TEXT,
                attempted_at BIGINT NOT NULL, rejections BIGINT NOT NULL DEFAULT 0,
                rejected_revision BIGINT, PRIMARY KEY (channel, sku));
            CREATE INDEX exports_by_sku ON exports (sku);
            CREATE TABLE removed_products (sku TEXT COLLATE "C" PRIMARY KEY NOT NULL, removed_at BIGINT NOT NULL);
            INSERT INTO catalog SELECT 'OLD-' || lpad(i::text, 5, '0'), 'Old product ' || i,
                (i % 500) || '.' || lpad((i % 100)::text, 2, '0'), 'EUR', i % 17,
                '{{"colour":"c' || (i % 5) || '"}}', '2026-01-01T00:00:00Z', NULL, 1
                FROM generate_series(1, {n}) AS i;
            INSERT INTO exports (channel, sku, exported_revision, last_status, attempted_at)
                SELECT 'shop', sku, 1, 'created', 1767225600000 FROM catalog;
            UPDATE oms_channels.accounts SET version = 3 WHERE account = 'acme';"#
        ),
    }
}

/// The shirt of [`shirt`] as a CSV of one row per variant, and a cap kept
/// at a second location.
const SHIRT_CSV: &str = "\
handle,sku,title,description,status,updated_at,option.Size,price.EUR,price.USD,stock.default,stock.berlin,image.1,image.1.alt,image.2,image.2.alt,category.1,category.2,tag.1,attr.brand
tshirt,TS-S,T-Shirt,<p>Soft cotton.</p>,active,2026-01-31T12:00:00Z,S,19.90,21.00,5,,https://cdn.example/ts-front.jpg,Front,https://cdn.example/ts-back.jpg,Back,Clothing > Shirts,Summer,cotton,Acme
tshirt,TS-M,,,,,M,19.90,21.00,7,,,,,,,,,
tshirt,TS-L,,,,,L,21.90,23.00,0,,,,,,,,,
cap,CAP-1,Cap,,draft,2026-01-31T12:00:00Z,,12.00,,1,4,,,,,,,,
";

#[test]
fn load_files_of_every_shape_load_whole_products_and_bad_lines_are_named() {
    let env = TestEnv::with_account(Backend::Sqlite);
    let csv = env.write_file("catalog.csv", SHIRT_CSV);
    let loaded = env.json(&["products", "load", csv.to_str().unwrap()]);
    assert_eq!(
        (loaded["created"].as_u64(), loaded["variants"].as_u64()),
        (Some(2), Some(4))
    );
    // The same shirt as a line of nested JSON Lines is no change at all.
    let again = env.load_jsonl("shirt.jsonl", &[shirt()]);
    assert_eq!(
        (again["unchanged"].as_u64(), again["updated"].as_u64()),
        (Some(1), Some(0)),
        "{again:#}"
    );

    // Today's flat files still load: a product of one variant each.
    let flat_csv = env.write_file(
        "flat.csv",
        "sku,title,price,currency,quantity,updated_at\nMUG-1,Mug,8.50,EUR,3,2026-01-01T00:00:00Z\n",
    );
    env.ok(["products", "load", flat_csv.to_str().unwrap()]);
    env.load_jsonl(
        "flat.jsonl",
        &[json!({"sku": "PEN-1", "title": "Pen", "price": "1.20",
        "currency": "EUR", "quantity": 40, "updated_at": "2026-01-01T00:00:00Z"})],
    );
    let count = env.json(&["products", "count"]);
    assert_eq!(
        (count["count"].as_u64(), count["variants"].as_u64()),
        (Some(4), Some(6))
    );

    // One line per product, with its variant count.
    let listed = env.ok(["products", "list"]);
    let variants_of = |handle: &str| -> Option<String> {
        let line = listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(handle))?;
        line.split_whitespace().nth(2).map(str::to_string)
    };
    assert_eq!(variants_of("tshirt").as_deref(), Some("3"), "{listed}");
    assert_eq!(variants_of("cap").as_deref(), Some("1"), "{listed}");
    let mug = oms_channels::catalog::derive_handle("MUG-1");
    assert_eq!(variants_of(&mug).as_deref(), Some("1"), "{listed}");
    assert_eq!(
        listed.lines().filter(|l| !l.trim().is_empty()).count(),
        1 + 1 + 4,
        "{listed}"
    );
    let listed = env.json(&["products", "list"]);
    let shirt_listed = listed["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["handle"] == "tshirt")
        .unwrap();
    assert_eq!(
        shirt_listed["variants"][2]["prices"],
        json!({"EUR": "21.90", "USD": "23.00"})
    );

    // `show` by a SKU shows the whole product it belongs to.
    let shown = env.ok(["products", "show", "TS-M"]);
    for expected in [
        "tshirt",
        "T-Shirt",
        "Soft cotton.",
        "Clothing > Shirts, Summer",
        "ts-back.jpg (Back)",
        "TS-S",
        "TS-L",
        "23.00",
    ] {
        assert!(shown.contains(expected), "`{expected}` in:\n{shown}");
    }
    let cap = env.show("cap");
    assert_eq!(cap["product"]["status"], "draft");
    assert_eq!(
        cap["product"]["variants"][0]["stock"],
        json!({"default": 1, "berlin": 4})
    );
    let whole = env.show("tshirt");
    assert_eq!(
        whole["product"]["images"][1],
        json!({"url": "https://cdn.example/ts-back.jpg", "alt": "Back"})
    );
    assert_eq!(
        whole["product"]["variants"][0]["option_values"],
        json!(["S"])
    );
    assert_eq!(env.show(&mug)["product"]["variants"][0]["sku"], "MUG-1");

    // A bad value anywhere is named with its file and line, and nothing of
    // the file is loaded.
    let mut bad_price = shirt();
    bad_price["handle"] = json!("polo");
    bad_price["variants"] =
        json!([{"sku": "POLO-1", "option_values": ["S"], "prices": {"EUR": "-4.00"}}]);
    let out = env.try_load(
        "bad.jsonl",
        &[
            json!({"sku": "NEW-1", "title": "New", "price": "1.00",
        "currency": "EUR", "quantity": 1}),
            bad_price,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "bad.jsonl",
        "line 2",
        "POLO-1",
        "-4.00",
        "nothing was loaded",
    ] {
        assert!(said.contains(expected), "`{expected}` in: {said}");
    }
    let bad_csv = env.write_file(
        "bad.csv",
        &SHIRT_CSV.replace(",21.90,23.00,0,", ",21.90,23.00,zero,"),
    );
    let out = env.run(["products", "load", bad_csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "bad.csv",
        "line 4",
        "stock.default",
        "zero",
        "nothing was loaded",
    ] {
        assert!(said.contains(expected), "`{expected}` in: {said}");
    }
    assert_eq!(
        env.json(&["products", "count"])["count"],
        4,
        "nothing of either file"
    );
    assert!(env.run(["products", "show", "NEW-1"]).status.code() != Some(0));
}
