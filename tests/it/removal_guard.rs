//! The guard against mass removal, through the real binary: a master whose
//! complete listing shrinks removes nothing beyond `max-removal`, an export
//! deletes nothing beyond it, `run-once --allow-removal` lets one run
//! through, and failed rows keep what their commits counted.

use serde_json::Value;

use sandbox::Switches;
use test_support::catalog::product;
use test_support::peer::SandboxPeer;
use test_support::{Backend, Rows, TestEnv};

const HOURLY_EXPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];
const HOURLY_IMPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("import-products", "1h")];

fn last_run(env: &TestEnv, channel: &str) -> Value {
    let history = env.json(&["history", "--channel", channel, "--limit", "1"]);
    history["runs"][0].clone()
}

#[test]
fn a_master_that_shrinks_from_10000_to_3_removes_nothing_until_a_run_allows_it() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let master = SandboxPeer::with(10_000, Switches::default());
    env.add_channel("m", &master, HOURLY_IMPORT);
    env.set_master("m");
    env.run_once(&[]);
    assert_eq!(env.catalog_count(), 10_000);

    // The master is pointed at a staging server that lists 3 products.
    let staging = SandboxPeer::with(3, Switches::default());
    let out = env.run([
        "channel",
        "set",
        "m",
        "--base-url",
        &staging.base_url(),
        "--token-url",
        &staging.token_url(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        test_support::output::describe(&out)
    );
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("master product source") && said.contains("defines the catalog"),
        "{said}"
    );
    env.login("m", &staging.current_refresh_token());

    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(
        code, 1,
        "a held-back removal fails the job\n{doc:#}\n{stderr}"
    );
    let row = Rows::of(&doc).get("m", "import-products").clone();
    assert_eq!(row.outcome, "failed");
    assert!(
        row.detail
            .contains("lacks 9997 products of the 10000 products in the catalog")
            && row.detail.contains("max-removal \"10%\" allows 1000")
            && row.detail.contains("nothing was removed")
            && row.detail.contains("--allow-removal"),
        "{}",
        row.detail
    );
    assert_eq!(row.items, 3, "the failed row keeps what it read");
    assert_eq!(env.catalog_count(), 10_000, "nothing removed");
    assert_eq!(last_run(&env, "m")["counts"]["imported"], 3);

    // It asks again on the next run, not only once.
    let (code, _, _) = env.run_once_any(&["--force"]);
    assert_eq!(code, 1);
    assert_eq!(env.catalog_count(), 10_000);

    // Allowed once: the catalog becomes what the master lists.
    let rows = env.run_once(&["--force", "--allow-removal"]);
    let row = rows.get("m", "import-products");
    assert_eq!(row.outcome, "ran");
    assert!(row.detail.contains("9997 removed"), "{}", row.detail);
    assert_eq!(env.catalog_count(), 3);
    assert_eq!(last_run(&env, "m")["counts"]["removed"], 9997);
}

#[test]
fn an_export_owed_more_deletions_than_max_removal_deletes_nothing_until_allowed() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    let lines: Vec<Value> = (1..=40)
        .map(|i| product(&format!("P-{i:04}"), "1.00"))
        .collect();
    env.load_jsonl("catalog.jsonl", &lines);
    env.run_once(&[]);
    assert_eq!(shop.product_count(), 40);

    // 12 of 40 is past the default's floor of 10 and its 10%.
    let gone: Vec<String> = (1..=12).map(|i| format!("P-{i:04}")).collect();
    let mut remove = vec!["products", "remove"];
    remove.extend(gone.iter().map(String::as_str));
    env.ok(&remove);
    let (code, doc, stderr) = env.run_once_any(&["--force"]);
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    let row = Rows::of(&doc).get("shop", "export-products").clone();
    assert_eq!(row.outcome, "failed");
    assert!(
        row.detail
            .contains("12 deletions are owed to this channel, of the 40 products it holds")
            && row.detail.contains("max-removal \"10%\" allows 10"),
        "{}",
        row.detail
    );
    assert_eq!(shop.product_count(), 40, "nothing deleted");

    // A channel may say more: 12 is within 15.
    env.set_channel_key("shop", "max-removal = 15");
    env.run_once(&["--force"]);
    assert_eq!(shop.product_count(), 28);
    assert_eq!(last_run(&env, "shop")["counts"]["deleted"], 12);

    // And `--allow-removal` lets one run through whatever the setting.
    let text = env
        .account_text()
        .replace("max-removal = 15", "max-removal = 0");
    std::fs::write(env.account_file(), text).unwrap();
    env.ok(["products", "remove", "P-0013"]);
    let (code, _, _) = env.run_once_any(&["--force"]);
    assert_eq!(code, 1);
    env.run_once(&["--force", "--allow-removal"]);
    assert_eq!(shop.product_count(), 27);
}

#[test]
fn a_bad_max_removal_is_named_with_its_line_and_what_is_allowed() {
    let mut env = TestEnv::with_account(Backend::Sqlite);
    let shop = SandboxPeer::with(0, Switches::default());
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    env.set_channel_key("shop", "max-removal = \"lots\"");
    let out = env.run(["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = 1 + env
        .account_text()
        .lines()
        .position(|l| l.starts_with("max-removal"))
        .unwrap();
    assert!(
        stderr
            .contains("`lots` is not a count (25), a share of what is held (\"10%\") or \"none\"")
            && stderr.contains(&format!(":{line}:")),
        "{stderr}"
    );
}
