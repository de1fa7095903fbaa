//! Store state that survives real use, through the real binary: channel
//! identity (remove, re-add, re-point, `channel reset`), deletions end to
//! end, partial exports and quarantine, and `products load`/`remove` rules.

use serde_json::{Value, json};

use sandbox::{Sandbox, Switches};
use test_support::catalog::product;
use test_support::peer::SandboxPeer;
use test_support::{Backend, Rows, TestEnv};

const HOURLY_EXPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];
const HOURLY_IMPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("import-products", "1h")];

fn catalog(n: usize) -> Vec<Value> {
    (1..=n)
        .map(|i| product(&format!("P-{i:04}"), &format!("{i}.00")))
        .collect()
}

/// The deletions of each export batch the sandbox received: the handle of
/// each product deleted whole.
fn deletions(sandbox: &Sandbox) -> Vec<Vec<String>> {
    sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/products/batch")
        .filter_map(|r| {
            let body: Value = serde_json::from_str(r.body.as_deref()?).ok()?;
            let delete = body.get("delete")?.as_array()?.clone();
            Some(
                delete
                    .iter()
                    .map(|d| d["handle"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// The handles of flat products of these SKUs.
fn handles(skus: &[&str]) -> Vec<String> {
    skus.iter()
        .map(|sku| oms_channels::catalog::derive_handle(sku))
        .collect()
}

fn channel_show(env: &TestEnv, channel: &str) -> Value {
    env.json(&["channel", "show", channel])
}

#[test]
fn a_removed_and_re_added_channel_starts_fresh_against_a_new_shop() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let old_shop = SandboxPeer::with(
        0,
        Switches {
            item_error_skus: vec!["P-0007".into(), "P-0100".into()],
            ..Switches::default()
        },
    );
    env.add_channel("out", &old_shop, HOURLY_EXPORT);
    env.load_jsonl("catalog.jsonl", &catalog(250));
    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(code, 3, "partial: {doc:#}\n{stderr}");
    let row = Rows::of(&doc).get("out", "export-products").clone();
    assert_eq!(row.outcome, "partial");
    assert_eq!(old_shop.product_count(), 248);
    assert_eq!(
        channel_show(&env, "out")["tokens"]["refresh_token_stored"],
        true
    );

    env.ok(["channel", "remove", "out"]);
    let new_shop = SandboxPeer::with(0, Switches::default());
    env.add_channel_without_login("out", &new_shop, HOURLY_EXPORT);
    // No token of the old shop shows (or is used) for the new one.
    let shown = channel_show(&env, "out");
    assert_eq!(shown["tokens"], Value::Null, "{shown:#}");
    env.login("out", &new_shop.current_refresh_token());

    let rows = env.run_once(&[]);
    let row = rows.get("out", "export-products");
    assert_eq!(row.outcome, "ran", "{row:?}");
    assert_eq!(row.items, 250, "all 250 are sent to the new shop");
    assert_eq!(new_shop.product_count(), 250);
    assert_eq!(
        old_shop.count("/oauth/token"),
        1,
        "the old shop is not called"
    );
}

#[test]
fn a_channel_pointed_elsewhere_by_hand_starts_fresh_and_reset_forgets_on_purpose() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let first = SandboxPeer::with(0, Switches::default());
    env.add_channel("out", &first, HOURLY_EXPORT);
    env.load_jsonl("catalog.jsonl", &catalog(30));
    assert_eq!(env.run_once(&[]).get("out", "export-products").items, 30);

    // Edit the base URL by hand (and the token URL with it).
    let second = SandboxPeer::with(0, Switches::default());
    let path = env.config_dir().join("accounts/acme.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(&first.base_url(), &second.base_url())
        .replace(&first.token_url(), &second.token_url())
        .replace(&first.client_id(), &second.client_id());
    std::fs::write(&path, text).unwrap();
    assert_eq!(
        channel_show(&env, "out")["tokens"],
        Value::Null,
        "the first shop's token is not this endpoint's"
    );
    env.login("out", &second.current_refresh_token());
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("out", "export-products").items, 30);
    assert_eq!(second.product_count(), 30);

    // Nothing changed: nothing is sent.
    assert_eq!(
        env.run_once(&["--force"])
            .get("out", "export-products")
            .items,
        0
    );

    // `channel reset` forgets on purpose, and says what.
    let reset = env.json(&["channel", "reset", "out"]);
    assert_eq!(reset["channel"], "out");
    assert_eq!(reset["tokens"], true);
    assert_eq!(reset["exports"], 30);
    let human = env.ok(["channel", "reset", "out"]);
    assert!(human.contains("nothing to forget"), "{human}");
    assert_eq!(channel_show(&env, "out")["tokens"], Value::Null);
    env.login("out", &second.current_refresh_token());
    second.clear_requests();
    let rows = env.run_once(&[]);
    assert_eq!(
        rows.get("out", "export-products").items,
        30,
        "a full export"
    );
    let history = env.json(&["history", "--channel", "out"]);
    assert!(
        history["runs"].as_array().unwrap().len() >= 4,
        "history is kept: {history:#}"
    );
}

#[test]
fn removed_products_are_deleted_on_every_exporting_channel() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let a = SandboxPeer::with(0, Switches::default());
    let b = SandboxPeer::with(0, Switches::default());
    env.add_channel("a", &a, HOURLY_EXPORT);
    env.add_channel("b", &b, HOURLY_EXPORT);
    env.load_jsonl("catalog.jsonl", &catalog(20));
    env.run_once(&[]);
    assert_eq!((a.product_count(), b.product_count()), (20, 20));

    let list = env.write_file("gone.txt", "P-0003\r\n\nP-0004\nP-0099\n");
    let removed = env.json(&[
        "products",
        "remove",
        "P-0001",
        "P-0002",
        "--file",
        list.to_str().unwrap(),
    ]);
    assert_eq!(
        removed["removed"],
        json!(["P-0001", "P-0002", "P-0003", "P-0004"])
    );
    assert_eq!(removed["missing"], json!(["P-0099"]));
    assert_eq!(removed["deletions_pending"], 8);
    assert_eq!(env.catalog_count(), 16);
    let show = env.json(&["products", "show", "P-0001"]);
    assert_eq!(show["product"], Value::Null);
    assert_eq!(show["exports"][0]["deletion_pending"], true, "{show:#}");

    // b refuses one deletion: it stays pending there, and the run is partial.
    b.update_switches(|s| s.item_error_skus = vec!["P-0002".into()]);
    a.clear_requests();
    let (code, doc, _) = env.run_once_any(&["--force"]);
    assert_eq!(code, 3, "{doc:#}");
    let rows = Rows::of(&doc);
    assert_eq!(rows.get("a", "export-products").outcome, "ran");
    assert_eq!(rows.get("b", "export-products").outcome, "partial");
    assert!(rows.get("b", "export-products").detail.contains("P-0002"));
    assert_eq!(
        deletions(&a),
        vec![handles(&["P-0001", "P-0002", "P-0003", "P-0004"])]
    );
    assert_eq!(a.product_count(), 16);
    assert_eq!(b.product_count(), 17);
    let history = env.json(&["history", "--channel", "a"]);
    let last_export = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "export-products")
        .unwrap();
    assert_eq!(last_export["counts"]["deleted"], 4, "{history:#}");

    b.update_switches(|s| s.item_error_skus.clear());
    b.clear_requests();
    a.clear_requests();
    env.run_once(&["--force"]);
    assert_eq!(deletions(&b), vec![handles(&["P-0002"])]);
    assert!(
        deletions(&a).is_empty(),
        "a confirmed its deletions already"
    );
    assert_eq!(b.product_count(), 16);

    // A product loaded again comes back everywhere.
    env.load_jsonl("again.jsonl", &catalog(1));
    env.run_once(&["--force"]);
    assert!(a.product("P-0001").is_some() && b.product("P-0001").is_some());
}

#[test]
fn a_complete_master_import_removes_what_the_master_lost_and_exports_delete_it() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let master = SandboxPeer::with(30, Switches::default());
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel("m", &master, HOURLY_IMPORT);
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    env.set_master("m");
    env.run_once(&[]);
    env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(env.catalog_count(), 30);
    assert_eq!(shop.product_count(), 30);

    // The master deletes two products (in its own admin).
    master.update_switches(|s| s.item_error_skus.clear());
    assert!(master.delete_product("SKU-0000002") && master.delete_product("SKU-0000005"));
    // An incremental import cannot see deletions: nothing is removed.
    env.run_once(&["--force", "--job", "import-products"]);
    assert_eq!(env.catalog_count(), 30);
    // A failed complete listing removes nothing either.
    master.update_switches(|s| s.fail_next = vec![500; 10]);
    let (code, _, _) = env.run_once_any(&["--force", "--full", "--job", "import-products"]);
    assert_eq!(code, 69, "a channel answering 500 is an outage");
    assert_eq!(env.catalog_count(), 30);
    master.update_switches(|s| s.fail_next.clear());
    env.run_once(&["--force", "--full", "--job", "import-products"]);
    let history = env.json(&["history", "--channel", "m", "--limit", "1"]);
    let detail = history["runs"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("2 removed (no longer on the master)"),
        "{detail}"
    );
    assert_eq!(env.catalog_count(), 28);
    shop.clear_requests();
    env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(
        deletions(&shop),
        vec![handles(&["SKU-0000002", "SKU-0000005"])]
    );
    assert_eq!(shop.product_count(), 28);
}

#[test]
fn rejected_items_make_the_export_partial_and_three_in_a_row_quarantine_them() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(
        0,
        Switches {
            item_error_skus: vec!["P-0003".into(), "P-0017".into()],
            ..Switches::default()
        },
    );
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    env.load_jsonl("catalog.jsonl", &catalog(30));

    for run in 1..=3 {
        shop.clear_requests();
        let (code, doc, stderr) = env.run_once_any(&["--force"]);
        assert_eq!(code, 3, "run {run}: {doc:#}\n{stderr}");
        let row = Rows::of(&doc).get("shop", "export-products").clone();
        assert_eq!(row.outcome, "partial", "run {run}");
        assert!(
            row.detail.contains("P-0003") && row.detail.contains("P-0017"),
            "{}",
            row.detail
        );
        if run == 1 {
            assert_eq!(row.items, 30);
            assert!(
                row.detail.contains("30 sent: 28 accepted, 2 rejected"),
                "{}",
                row.detail
            );
        } else {
            assert_eq!(shop.batches(), vec![vec!["P-0003", "P-0017"]], "run {run}");
        }
    }
    let history = env.json(&["history", "--channel", "shop"]);
    let runs: Vec<&Value> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["job"] == "export-products")
        .collect();
    assert_eq!(runs[2]["outcome"], "partial");
    assert_eq!(runs[2]["counts"]["sent"], 30);
    assert_eq!(runs[2]["counts"]["accepted"], 28);
    assert_eq!(runs[2]["counts"]["rejected"], 2);
    assert_eq!(runs[0]["counts"]["quarantined"], 2, "{history:#}");

    // Quarantined: not sent again; the job is no longer partial.
    shop.clear_requests();
    let rows = env.run_once(&["--force"]);
    assert_eq!(rows.get("shop", "export-products").outcome, "ran");
    assert!(shop.batches().is_empty());
    let status = env.json(&["status"]);
    let quarantined: Vec<&str> = status["quarantined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["skus"][0].as_str().unwrap())
        .collect();
    assert_eq!(quarantined, ["P-0003", "P-0017"]);
    let human = env.ok(["status"]);
    assert!(
        human.contains("quarantined") && human.contains("P-0017"),
        "{human}"
    );
    let show = env.show("P-0003");
    assert_eq!(show["exports"][0]["quarantined"], true, "{show:#}");
    assert!(
        env.ok(["products", "show", "P-0003"])
            .contains("QUARANTINED")
    );

    // Released by the operator: sent again. Changed content: sent again.
    shop.update_switches(|s| s.item_error_skus.clear());
    let released = env.json(&["products", "release", "P-0003"]);
    assert_eq!(released["released"], 1);
    let mut changed = product("P-0017", "99.00");
    changed["title"] = json!("Fixed title");
    env.load_jsonl("fix.jsonl", &[changed]);
    shop.clear_requests();
    let rows = env.run_once(&["--force"]);
    assert_eq!(rows.get("shop", "export-products").outcome, "ran");
    assert_eq!(shop.batches(), vec![vec!["P-0003", "P-0017"]]);
    assert_eq!(shop.product_count(), 30);
    assert!(
        env.json(&["status"])["quarantined"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn quarantine_after_is_set_per_channel() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(
        0,
        Switches {
            item_error_skus: vec!["P-0002".into()],
            ..Switches::default()
        },
    );
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    let path = env.config_dir().join("accounts/acme.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "[channels.shop]\n",
        "[channels.shop]\nquarantine-after = 1\n",
    );
    std::fs::write(&path, text).unwrap();
    env.load_jsonl("catalog.jsonl", &catalog(3));
    env.run_once_any(&[]);
    shop.clear_requests();
    env.run_once(&["--force"]);
    assert!(shop.batches().is_empty(), "quarantined after one rejection");
}

#[test]
fn products_load_takes_files_without_updated_at_and_applies_the_sku_rules() {
    let env = TestEnv::with_account(Backend::Sqlite);
    let csv = env.write_file(
        "plain.csv",
        "\u{feff}sku,title,price,currency,quantity\r\nA-1,Shirt,19.90,EUR,3\r\nA-2,Mug,5,EUR,0\r\n",
    );
    let loaded = env.json(&["products", "load", csv.to_str().unwrap()]);
    assert_eq!(loaded["created"], 2, "{loaded:#}");
    let shown = env.show("A-1");
    let updated_at: jiff::Timestamp = shown["product"]["updated_at"]
        .as_str()
        .unwrap()
        .parse()
        .expect("the load time, RFC 3339");
    assert!(jiff::Timestamp::now().duration_since(updated_at).as_secs() < 60);

    let long = "x".repeat(100_000);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "sku,title,price,currency,quantity\n A-3,t,1,EUR,1\n".into(),
            "csv",
            "line 2: invalid sku ` A-3`: leading white space",
        ),
        (
            format!("sku,title,price,currency,quantity\n{long},t,1,EUR,1\n"),
            "csv",
            "100000 bytes long",
        ),
        (
            "{\"sku\":\"A\\u0001\",\"title\":\"t\",\"price\":\"1\",\"currency\":\"EUR\",\"quantity\":1}\n"
                .into(),
            "jsonl",
            "control character U+0001",
        ),
        (
            "sku,title,price,currency,quantity,sku\nA-3,t,1,EUR,1,A-3\n".into(),
            "csv",
            "column `sku` appears twice in the header",
        ),
        (
            "sku,title,price,currency,quantity\nA-3,t,1,EUR,1\nA-4,t,1,EUR,1\nA-3,t,2,EUR,1\n".into(),
            "csv",
            "line 4: sku `A-3` appears twice in the file (first on line 2)",
        ),
    ];
    for (text, ext, expected) in cases {
        let path = env.write_file(&format!("bad.{ext}"), &text);
        let out = env.run(["products", "load", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(stderr.contains("nothing was loaded"), "{stderr}");
        assert!(!stderr.contains("internal error"), "{stderr}");
        assert!(stderr.len() < 1000, "the long sku is cut: {}", stderr.len());
    }
    assert_eq!(
        env.catalog_count(),
        2,
        "nothing of the bad files was loaded"
    );

    // `products remove` follows the same rules.
    let out = env.run(["products", "remove", "A-1 "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trailing white space"));
    let list = env.write_file("bad-list.txt", "A-1\n\tA-2\n");
    let out = env.run(["products", "remove", "--file", list.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("control character"),
        "{stderr}"
    );
    assert_eq!(env.catalog_count(), 2, "nothing was removed");
}

#[test]
fn an_import_skips_a_bad_sku_by_name_and_takes_the_others() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let master = SandboxPeer::with(5, Switches::default());
    master.put_product(sandbox::Product {
        sku: "BAD ".into(),
        title: "t".into(),
        price: "1.00".into(),
        currency: "EUR".into(),
        quantity: 1,
        attributes: Default::default(),
        updated_at: String::new(),
        id: None,
    });
    env.add_channel("m", &master, HOURLY_IMPORT);
    env.set_master("m");
    let (code, doc, _) = env.run_once_any(&[]);
    assert_eq!(
        code, 3,
        "partial: one bad product never fails the page: {doc:#}"
    );
    let row = Rows::of(&doc).get("m", "import-products").clone();
    assert!(
        row.detail.starts_with("5 products into the catalog; 1 skipped: 1 refused by the catalog's rules (`BAD `: invalid sku `BAD `: trailing white space"),
        "{}",
        row.detail
    );
    assert_eq!(env.catalog_count(), 5);
}

#[test]
fn channel_set_to_another_base_url_starts_the_channel_fresh() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let first = SandboxPeer::with(0, Switches::default());
    env.add_channel("out", &first, HOURLY_EXPORT);
    env.load_jsonl("catalog.jsonl", &catalog(40));
    assert_eq!(env.run_once(&[]).get("out", "export-products").items, 40);

    let second = SandboxPeer::with(0, Switches::default());
    env.ok([
        "channel",
        "set",
        "out",
        "--base-url",
        &second.base_url(),
        "--token-url",
        &second.token_url(),
        "--client-id",
        &second.client_id(),
    ]);
    assert_eq!(channel_show(&env, "out")["tokens"], Value::Null);
    env.login("out", &second.current_refresh_token());
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("out", "export-products").items, 40);
    assert_eq!(second.product_count(), 40);
    // Only a trailing slash more: the same endpoint, nothing forgotten.
    let same = second.base_url() + "/";
    env.ok(["channel", "set", "out", "--base-url", &same]);
    assert_eq!(
        channel_show(&env, "out")["tokens"]["refresh_token_stored"],
        true
    );
    assert_eq!(
        env.run_once(&["--force"])
            .get("out", "export-products")
            .items,
        0
    );
}
