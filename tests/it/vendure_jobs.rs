//! The real binary against a real Vendure server: export from the OMS
//! catalog, Vendure as the master, kills during export, and sessions that
//! expire between runs. What Vendure holds is read back through its Admin API.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::run_env::{Rows, RunEnv, parse, rows};
use crate::support::vendure::{
    NewVariant, PeerOptions, SUPERADMIN, SUPERADMIN_PASSWORD, Variant, VendurePeer,
};

const CHANNEL: &str = "shop";

/// An account with channel `shop` of type `vendure` on `peer`, logging in as
/// the superadmin (password from a file), with these job periods.
fn vendure_env(peer: &VendurePeer, periods: &[(&str, &str)]) -> RunEnv {
    let env = RunEnv::new();
    let password = env.write_file("vendure-password", SUPERADMIN_PASSWORD);
    env.ok(&[
        "channel",
        "add",
        CHANNEL,
        "--type",
        "vendure",
        "--base-url",
        &peer.admin_api_url(),
        "--auth-method",
        "login",
        "--username",
        SUPERADMIN,
        "--password-file",
        password.to_str().expect("utf-8 path"),
    ]);
    for (job, period) in periods {
        env.ok(&["channel", "set-period", CHANNEL, job, period]);
    }
    env
}

/// `run-once --json <args>` that must exit 0, without the harness's 30 s
/// limit: Vendure on two shared cores creates a few products a second.
fn run_once(env: &RunEnv, args: &[&str]) -> Rows {
    let mut all = vec!["--json", "run-once"];
    all.extend_from_slice(args);
    let out = env
        .std_cmd(&all)
        .env("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "60000")
        .output()
        .expect("run oms-channels");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run-once {args:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rows(&parse(&stdout))
}

/// A catalog product as a `products load` line, in the channel's currency.
fn line(n: u32, price: &str) -> Value {
    json!({
        "sku": format!("SKU-{n:05}"),
        "title": format!("Product {n}"),
        "price": price,
        "currency": "USD",
        "quantity": n % 40,
        "updated_at": "2026-11-27T10:00:00Z",
    })
}

fn minor(price: &str) -> i64 {
    let (whole, fraction) = price.split_once('.').unwrap_or((price, "00"));
    whole.parse::<i64>().unwrap() * 100 + format!("{fraction:0<2}").parse::<i64>().unwrap()
}

/// `(title, price in minor units, stock)` by SKU, of what Vendure holds;
/// panics on a duplicate SKU.
fn server_state(peer: &VendurePeer) -> BTreeMap<String, (String, i64, i64)> {
    let mut state = BTreeMap::new();
    for v in peer.variants() {
        let sku = v.sku.clone();
        assert!(
            state
                .insert(sku.clone(), (v.name, v.price, v.stock_on_hand))
                .is_none(),
            "two variants with SKU {sku} on the server"
        );
    }
    state
}

/// The same view of the catalog's lines.
fn expected_state(lines: &[Value]) -> BTreeMap<String, (String, i64, i64)> {
    lines
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_string(),
                (
                    l["title"].as_str().unwrap().to_string(),
                    minor(l["price"].as_str().unwrap()),
                    l["quantity"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

/// `(sku, title, price, currency, quantity)` of every catalog row.
fn catalog(env: &RunEnv) -> BTreeMap<String, (String, String, String, i64)> {
    let db = rusqlite::Connection::open_with_flags(
        env.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the store");
    let mut stmt = db
        .prepare("SELECT sku, title, price, currency, quantity FROM catalog")
        .expect("catalog query");
    stmt.query_map([], |r| {
        Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
    })
    .and_then(|rows| rows.collect())
    .expect("catalog rows")
}

fn as_catalog(variants: &[Variant]) -> BTreeMap<String, (String, String, String, i64)> {
    variants
        .iter()
        .map(|v| {
            (
                v.sku.clone(),
                (
                    v.name.clone(),
                    format!("{}.{:02}", v.price / 100, v.price % 100),
                    v.currency.clone(),
                    v.stock_on_hand,
                ),
            )
        })
        .collect()
}

#[test]
fn export_to_vendure_loads_500_and_updates_exactly_the_3_changed() {
    let peer = VendurePeer::start();
    let env = vendure_env(&peer, &[("auth-refresh", "1h"), ("export-products", "1h")]);
    let mut lines: Vec<Value> = (1..=500).map(|n| line(n, &format!("{n}.99"))).collect();
    env.load_jsonl("catalog.jsonl", &lines);

    let run = run_once(&env, &[]);
    let export = run.get(CHANNEL, "export-products");
    assert_eq!(
        (export.outcome.as_str(), export.items),
        ("ran", 500),
        "{export:?}"
    );
    assert_eq!(
        server_state(&peer),
        expected_state(&lines),
        "Vendure holds the catalog"
    );

    // Change 3: exactly those 3 variants change on the server.
    let before: BTreeMap<String, String> = peer
        .variants()
        .into_iter()
        .map(|v| (v.sku, v.updated_at))
        .collect();
    std::thread::sleep(Duration::from_millis(5));
    for n in [7, 250, 499] {
        lines[n as usize - 1] = line(n, "1234.50");
    }
    env.load_jsonl(
        "changes.jsonl",
        &[lines[6].clone(), lines[249].clone(), lines[498].clone()],
    );
    let run = run_once(&env, &["--force", "--job", "export-products"]);
    assert_eq!(run.get(CHANNEL, "export-products").items, 3);
    let touched: Vec<String> = peer
        .variants()
        .into_iter()
        .filter(|v| before.get(&v.sku) != Some(&v.updated_at))
        .map(|v| v.sku)
        .collect();
    assert_eq!(touched, ["SKU-00007", "SKU-00250", "SKU-00499"]);
    assert_eq!(server_state(&peer), expected_state(&lines));

    // Remove 2 from the catalog: they are gone from Vendure, the rest stay.
    env.ok(&["products", "remove", "SKU-00010", "SKU-00020"]);
    let run = run_once(&env, &["--force", "--job", "export-products"]);
    let export = run.get(CHANNEL, "export-products");
    assert_eq!(export.outcome, "ran", "{export:?}");
    lines.retain(|l| l["sku"] != "SKU-00010" && l["sku"] != "SKU-00020");
    assert_eq!(server_state(&peer), expected_state(&lines));
    assert!(peer.variants_with_sku("SKU-00010").is_empty());
}

#[test]
fn vendure_as_master_imports_1000_then_only_the_one_that_changed() {
    let peer = VendurePeer::start();
    peer.create_variants(&(1..=1000).map(NewVariant::numbered).collect::<Vec<_>>());
    let env = vendure_env(&peer, &[("auth-refresh", "1h"), ("import-products", "1h")]);
    env.set_master(CHANNEL);

    let run = run_once(&env, &[]);
    let import = run.get(CHANNEL, "import-products");
    assert_eq!(
        (import.outcome.as_str(), import.items),
        ("ran", 1000),
        "{import:?}"
    );
    assert_eq!(
        catalog(&env),
        as_catalog(&peer.variants()),
        "the catalog equals the server"
    );

    let changed = peer
        .variants_with_sku("SKU-00500")
        .pop()
        .expect("SKU-00500 on the server");
    peer.update_variant(&changed.id, json!({"price": 777, "stockOnHand": 42}));
    let run = run_once(&env, &["--force", "--job", "import-products"]);
    let import = run.get(CHANNEL, "import-products");
    assert_eq!(
        (import.outcome.as_str(), import.items),
        ("ran", 1),
        "the incremental import reads the one change, not the other 999: {import:?}"
    );
    assert_eq!(catalog(&env), as_catalog(&peer.variants()));
    assert_eq!(catalog(&env)["SKU-00500"].1, "7.77");
}

#[test]
fn a_kill_at_any_point_of_an_export_to_vendure_never_duplicates_a_sku() {
    let peer = VendurePeer::start();
    let env = vendure_env(&peer, &[("auth-refresh", "1h"), ("export-products", "1h")]);
    let mut lines: Vec<Value> = Vec::new();
    let points = [
        "vendure-products-created",
        "vendure-variants-created",
        "export-batch-sent",
        "export-batch-recorded",
    ];
    for (round, point) in points.iter().enumerate() {
        // Each round adds 150 new products (two batches) and changes old ones.
        let first = round as u32 * 150 + 1;
        lines.extend((first..first + 150).map(|n| line(n, "10.00")));
        for l in lines.iter_mut().take(first as usize - 1) {
            l["price"] = json!(format!("{}.25", round + 10));
        }
        env.load_jsonl(&format!("round-{round}.jsonl"), &lines);
        let out = env
            .std_cmd(&["--json", "run-once", "--force", "--job", "export-products"])
            .env("OMS_CHANNELS_TEST_CRASH_AT", point)
            .env("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "60000")
            .output()
            .expect("run oms-channels");
        assert_eq!(
            out.status.signal(),
            Some(9),
            "killed at `{point}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = run_once(&env, &["--force", "--job", "export-products"]);
        assert_eq!(
            run.get(CHANNEL, "export-products").outcome,
            "ran",
            "the run after a kill at `{point}`"
        );
        assert_eq!(
            server_state(&peer),
            expected_state(&lines),
            "after a kill at `{point}` and a new run, Vendure equals the catalog"
        );
    }
}

#[test]
fn a_vendure_session_that_expires_between_runs_is_renewed_and_no_job_fails() {
    let peer = VendurePeer::start_with(PeerOptions {
        session_duration: Some("3s".into()),
    });
    let env = vendure_env(&peer, &[("auth-refresh", "1h"), ("export-products", "1h")]);
    env.load_jsonl("catalog.jsonl", &[line(1, "1.00")]);
    let run = run_once(&env, &[]);
    assert_eq!(run.get(CHANNEL, "export-products").outcome, "ran");

    std::thread::sleep(Duration::from_millis(3500));
    env.load_jsonl("change.jsonl", &[line(1, "2.00")]);
    // auth-refresh renews the session before the export uses it.
    let run = run_once(&env, &["--force"]);
    for job in ["auth-refresh", "export-products"] {
        assert_eq!(run.get(CHANNEL, job).outcome, "ran", "{job}");
    }
    assert!(run.0.iter().all(|r| r.outcome != "failed"), "{:?}", run.0);
    assert_eq!(server_state(&peer)["SKU-00001"].1, 200);

    // Expired again, and this time only the export runs: FORBIDDEN leads to
    // one new login and one retry.
    std::thread::sleep(Duration::from_millis(3500));
    env.load_jsonl("change-2.jsonl", &[line(1, "3.00")]);
    let run = run_once(&env, &["--force", "--job", "export-products"]);
    assert_eq!(run.get(CHANNEL, "export-products").outcome, "ran");
    assert_eq!(server_state(&peer)["SKU-00001"].1, 300);
}

#[test]
fn an_api_key_channel_exports_and_auth_refresh_checks_the_key() {
    let peer = VendurePeer::start();
    let key = peer.create_api_key("oms-channels");
    let env = RunEnv::new();
    let key_file = env.write_file("vendure-key", &key);
    env.ok(&[
        "channel",
        "add",
        CHANNEL,
        "--type",
        "vendure",
        "--base-url",
        &peer.admin_api_url(),
        "--auth-method",
        "api-key",
        "--api-key-file",
        key_file.to_str().expect("utf-8 path"),
    ]);
    for (job, period) in [("auth-refresh", "1h"), ("export-products", "1h")] {
        env.ok(&["channel", "set-period", CHANNEL, job, period]);
    }
    let lines: Vec<Value> = (1..=3).map(|n| line(n, "4.50")).collect();
    env.load_jsonl("catalog.jsonl", &lines);
    let run = run_once(&env, &[]);
    assert_eq!(run.get(CHANNEL, "auth-refresh").outcome, "ran");
    assert_eq!(run.get(CHANNEL, "export-products").outcome, "ran");
    assert_eq!(server_state(&peer), expected_state(&lines));
    let store = std::fs::read(env.db_path()).expect("read the store");
    assert!(
        !String::from_utf8_lossy(&store).contains(key.split(':').nth(1).unwrap()),
        "the API key is never stored"
    );

    // A wrong key fails auth-refresh, saying Vendure refused it.
    std::fs::write(&key_file, "1:not-the-secret").expect("write key");
    let out = env
        .std_cmd(&["--json", "run-once", "--force", "--job", "auth-refresh"])
        .output()
        .expect("run oms-channels");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let history = env.json(&["history", "--channel", CHANNEL]).to_string();
    assert!(
        history.contains("FORBIDDEN") || history.contains("refused"),
        "{history}"
    );
    assert!(
        !history.contains("not-the-secret"),
        "never the key: {history}"
    );
}
