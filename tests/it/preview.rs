//! `run-once --dry-run --diff`: what each exporting channel's next export
//! would create, update (field by field) and delete, from the store alone:
//! no request reaches the channel and nothing changes.

use serde_json::Value;

use sandbox::Switches;
use test_support::catalog::product;
use test_support::peer::SandboxPeer;
use test_support::{Backend, TestEnv};

const HOURLY_EXPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];

#[test]
fn a_dry_run_diff_shows_creates_field_changes_and_deletions_without_a_request() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    env.load_jsonl(
        "first.jsonl",
        &[
            product("mug", "8.50"),
            product("cup", "4.00"),
            product("bowl", "6.00"),
        ],
    );
    env.run_once(&[]);
    assert_eq!(shop.product_count(), 3);

    // The mug's price changes, a plate is new, the bowl goes.
    let mut mug = product("mug", "9.00");
    mug["title"] = "Mug, large".into();
    env.load_jsonl("second.jsonl", &[mug, product("plate", "3.00")]);
    env.ok(["products", "remove", "bowl"]);
    shop.clear_requests();
    let before = env.json(&["products", "list"]);

    let doc = env.json(&["run-once", "--dry-run", "--diff"]);
    let preview = &doc["accounts"][0]["previews"][0];
    assert_eq!(preview["channel"], "shop", "{doc:#}");
    let handles = |key: &str| -> Vec<String> {
        preview[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["handle"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(handles("create"), ["plate"]);
    assert_eq!(handles("update"), ["mug"]);
    assert_eq!(handles("delete"), ["bowl"]);
    let update = &preview["update"][0];
    assert_eq!(update["changes"][0]["path"], "title");
    assert_eq!(update["changes"][0]["old"], "Product mug");
    assert_eq!(update["changes"][0]["new"], "Mug, large");
    let variant = &update["variants"][0];
    assert_eq!(variant["sku"], "mug");
    assert_eq!(variant["changes"][0]["path"], "prices.EUR");
    assert_eq!(variant["changes"][0]["old"], "8.50");
    assert_eq!(variant["changes"][0]["new"], "9.00");

    let text = env.ok(["run-once", "--dry-run", "--diff"]);
    for line in [
        "next export to shop: 1 to create, 1 to update, 1 to delete",
        "  create  plate (plate)",
        "  update  mug title: \"Product mug\" -> \"Mug, large\"",
        "  update  mug mug prices.EUR: \"8.50\" -> \"9.00\"",
        "  delete  bowl",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }

    assert!(shop.requests().is_empty(), "a dry run sends nothing");
    assert_eq!(env.json(&["products", "list"]), before);
    // The real export then does just that.
    env.run_once(&["--force"]);
    let sent: Vec<Value> = shop
        .requests()
        .into_iter()
        .filter(|r| r.path == "/products/batch")
        .map(|r| serde_json::from_str(r.body.as_deref().unwrap()).unwrap())
        .collect();
    let sent_handles: Vec<&str> = sent
        .iter()
        .flat_map(|b| b["products"].as_array().unwrap())
        .map(|p| p["handle"].as_str().unwrap())
        .collect();
    assert_eq!(sent_handles, ["mug", "plate"]);
}

#[test]
fn diff_needs_dry_run() {
    let env = TestEnv::with_account(Backend::Sqlite);
    let out = env.run(["run-once", "--diff"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dry-run"));
}

#[test]
fn products_diff_reads_the_whole_listing_and_shows_missing_extra_and_changed_fields() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    env.load_jsonl(
        "catalog.jsonl",
        &[
            product("mug", "8.50"),
            product("cup", "4.00"),
            product("bowl", "6.00"),
        ],
    );
    env.run_once(&[]);
    // Someone edits the shop by hand: a price, a deleted product, a new one.
    shop.update_product("mug", |p| p.price = "7.00".into())
        .expect("the mug is on the shop");
    assert!(shop.delete_product("bowl"));
    shop.put_product(sandbox::Product {
        sku: "stray".into(),
        title: "Made in the shop".into(),
        price: "1.00".into(),
        currency: "EUR".into(),
        quantity: 1,
        attributes: Default::default(),
        updated_at: String::new(),
        id: None,
    });
    env.load_jsonl("more.jsonl", &[product("plate", "3.00")]);
    shop.clear_requests();

    let doc = env.json(&["products", "diff", "shop"]);
    assert_eq!(doc["listed"], 3, "{doc:#}");
    assert_eq!(doc["missing"], serde_json::json!(["bowl", "plate"]));
    assert_eq!(doc["extra"], serde_json::json!(["stray"]));
    let changed = &doc["changed"][0];
    assert_eq!(changed["handle"], "mug");
    let change = &changed["variants"][0]["changes"][0];
    assert_eq!(change["path"], "prices.EUR");
    assert_eq!(
        (&change["old"], &change["new"]),
        (&"7.00".into(), &"8.50".into())
    );
    assert!(
        shop.requests()
            .iter()
            .all(|r| r.method == "GET" || r.path.contains("token")),
        "a diff only reads the shop"
    );

    let text = env.ok(["products", "diff", "shop"]);
    for line in [
        "shop lists 3 products; 2 missing there, 1 extra, 1 with differences",
        "  missing  bowl",
        "  extra    stray",
        "  differs  mug mug prices.EUR: \"7.00\" -> \"8.50\"",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    let out = env.run(["products", "diff", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
}
