//! export-stock through the real binary, written once for every shop
//! (`on_peers!`): what reaches the shop is on hand less reserved less the
//! buffer, clamped at 0 and capped, at the mapped locations; only changed
//! levels are sent (counted by the shop); a reconcile repairs exactly the
//! levels edited on the shop and reports the drift; stock flows with
//! export-products off; a SKU the shop lacks is skipped and named; a kill
//! mid-export converges on the next run.

use std::collections::BTreeMap;

use serde_json::Value;

use test_support::{CHANNEL, Case, Offer, Peer, PeerKind, TestEnv, on_peers, peer};

/// The catalog locations the suites map, to the shop's first two.
const LOCATIONS: [&str; 2] = ["north", "south"];
const BUFFER: i64 = 2;
const MAX_LISTED: i64 = 40;

/// A shop, and an account whose channel on it holds `count` products
/// (`ST-00001`...) made by one export-products run, with stock-buffer,
/// max-listed and `[locations]` set and export-stock every 5m.
struct Setup {
    peer: Box<dyn Peer>,
    env: TestEnv,
    /// Catalog location -> the shop's location id.
    map: BTreeMap<String, String>,
    skus: Vec<String>,
}

fn setup(case: Case, count: u32) -> Setup {
    let peer = peer::start_counted(case.peer);
    let env = TestEnv::with_channel(
        case.backend,
        &*peer,
        &[
            ("auth-refresh", "1h"),
            ("export-products", "15m"),
            ("export-stock", "5m"),
        ],
    );
    let ids = peer
        .stock_locations(LOCATIONS.len())
        .expect("stock locations");
    let map: BTreeMap<String, String> = LOCATIONS.iter().map(|l| l.to_string()).zip(ids).collect();
    env.set_channel_key(CHANNEL, &format!("stock-buffer = {BUFFER}"));
    env.set_channel_key(CHANNEL, &format!("max-listed = {MAX_LISTED}"));
    let mut text = env.account_text();
    text.push_str(&format!("\n[channels.{CHANNEL}.locations]\n"));
    for (name, id) in &map {
        text.push_str(&format!("{name} = \"{id}\"\n"));
    }
    std::fs::write(env.account_file(), text).expect("write the account file");
    let offers = Offer::numbered("ST-", 1..=count, "9.90", peer.currency());
    env.load("catalog.jsonl", &offers);
    let rows = env.run_once(&["--job", "export-products"]);
    assert_eq!(rows.get(CHANNEL, "export-products").outcome, "ran");
    let skus = offers.into_iter().map(|o| o.sku).collect();
    Setup {
        peer,
        env,
        map,
        skus,
    }
}

/// One level of a stock file: on hand and reserved of `sku` at `location`.
type Level = (String, String, i64, i64);

/// Levels of every SKU at both locations, from `seed`: some below the
/// buffer, some above the cap, some reserved past on hand.
fn levels(skus: &[String], seed: i64) -> Vec<Level> {
    let mut levels = Vec::new();
    for (i, sku) in skus.iter().enumerate() {
        for (l, location) in LOCATIONS.iter().enumerate() {
            let n = i as i64 * 7 + l as i64 * 13 + seed;
            levels.push((sku.clone(), location.to_string(), n % 61, n % 9));
        }
    }
    levels
}

fn stock_load(env: &TestEnv, name: &str, levels: &[Level]) {
    let mut csv = String::from("sku,location,on_hand,reserved\n");
    for (sku, location, on_hand, reserved) in levels {
        csv.push_str(&format!("{sku},{location},{on_hand},{reserved}\n"));
    }
    let path = env.write_file(name, &csv);
    env.ok(["stock", "load", path.to_str().expect("utf-8 path")]);
}

fn available(on_hand: i64, reserved: i64) -> i64 {
    (on_hand - reserved - BUFFER).clamp(0, MAX_LISTED)
}

/// What the shop must hold: each level's available value at its mapped
/// shop location.
fn expected(s: &Setup, levels: &[Level]) -> BTreeMap<(String, String), i64> {
    levels
        .iter()
        .map(|(sku, location, on_hand, reserved)| {
            (
                (sku.clone(), s.map[location].clone()),
                available(*on_hand, *reserved),
            )
        })
        .collect()
}

/// What the shop holds of the SKUs at the mapped locations.
fn on_shop(s: &Setup) -> BTreeMap<(String, String), i64> {
    let mapped: Vec<&String> = s.map.values().collect();
    let mut held = s.peer.stock_of(&s.skus).expect("read the shop's stock");
    held.retain(|(_, location), _| mapped.contains(&location));
    held
}

fn received(s: &Setup) -> u64 {
    s.peer
        .stock_levels_received()
        .expect("count the levels the shop received")
}

/// Later levels: `changed` of them moved so that their available value
/// moves (on hand 3 higher, below the cap).
fn with_changes(levels: &[Level], changed: usize) -> (Vec<Level>, Vec<Level>) {
    let mut all = levels.to_vec();
    let mut moved = Vec::new();
    for level in all.iter_mut() {
        if moved.len() == changed {
            break;
        }
        let (_, _, on_hand, reserved) = level;
        let before = available(*on_hand, *reserved);
        let after = available(*on_hand + 3, *reserved);
        if before != after {
            *on_hand += 3;
            moved.push(level.clone());
        }
    }
    assert_eq!(moved.len(), changed, "not enough levels below the cap");
    (all, moved)
}

fn history_counts(env: &TestEnv) -> Value {
    let doc = env.json(&["history", "--channel", CHANNEL, "--limit", "1"]);
    let run = &doc["runs"][0];
    assert_eq!(run["job"], "export-stock", "{doc:#}");
    run["counts"].clone()
}

on_peers!(the_shop_holds_what_is_available_and_only_changes_are_sent: sandbox, sandbox_postgres, vendure, medusa);
fn the_shop_holds_what_is_available_and_only_changes_are_sent(case: Case) {
    let s = setup(case, 2000);
    let first = levels(&s.skus, 0);
    stock_load(&s.env, "stock.csv", &first);
    let before = received(&s);
    let held = on_shop(&s);
    let rows = s.env.run_once(&["--job", "export-stock"]);
    let row = rows.get(CHANNEL, "export-stock");
    assert_eq!((row.outcome.as_str(), row.items), ("ran", 4000), "{row:?}");
    // The sandbox counts every level it is sent; a real shop's stock calls
    // carry only the levels it does not hold already (a new variant holds 0).
    let written = match case.peer {
        PeerKind::Sandbox => 4000,
        PeerKind::Vendure | PeerKind::Medusa => expected(&s, &first)
            .iter()
            .filter(|(key, value)| held.get(*key) != Some(*value))
            .count() as u64,
    };
    assert_eq!(received(&s) - before, written);
    assert_eq!(on_shop(&s), expected(&s, &first));

    // 20 levels move: exactly those 20 are sent.
    let (second, moved) = with_changes(&first, 20);
    stock_load(&s.env, "moved.csv", &moved);
    let before = received(&s);
    let rows = s.env.run_once(&["--job", "export-stock", "--force"]);
    assert_eq!(rows.get(CHANNEL, "export-stock").items, 20);
    assert_eq!(
        received(&s) - before,
        20,
        "the shop received exactly the moved levels"
    );
    assert_eq!(on_shop(&s), expected(&s, &second));

    // Nothing moved: nothing is sent.
    let before = received(&s);
    let rows = s.env.run_once(&["--job", "export-stock", "--force"]);
    assert_eq!(rows.get(CHANNEL, "export-stock").items, 0);
    assert_eq!(received(&s), before);

    // `products show` has the last value sent per channel and location.
    let shown = s.env.show(&moved[0].0);
    let sent: Vec<(String, i64)> = shown["stock_sent"]
        .as_array()
        .expect("stock_sent")
        .iter()
        .filter(|r| r["channel"] == CHANNEL)
        .map(|r| {
            (
                r["location"].as_str().unwrap().to_string(),
                r["sent"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = second
        .iter()
        .filter(|l| l.0 == moved[0].0)
        .map(|l| (l.1.clone(), available(l.2, l.3)))
        .collect();
    assert_eq!(sent, want, "{shown:#}");
    let human = s.env.ok(["products", "show", &moved[0].0]);
    assert!(human.contains("STOCK SENT TO"), "{human}");
    for (location, value) in &want {
        assert!(
            human.lines().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.len() > 3
                    && cells[0] == CHANNEL
                    && cells[2] == location
                    && cells[3] == value.to_string()
            }),
            "no row for {location}: {human}"
        );
    }
}

on_peers!(a_reconcile_repairs_exactly_the_levels_edited_on_the_shop: sandbox, vendure, medusa);
fn a_reconcile_repairs_exactly_the_levels_edited_on_the_shop(case: Case) {
    let s = setup(case, 300);
    let stock = levels(&s.skus, 5);
    stock_load(&s.env, "stock.csv", &stock);
    s.env.run_once(&["--job", "export-stock"]);
    // The shop's owner edits 5 levels by hand.
    for (sku, location, _, _) in stock.iter().step_by(37).take(5) {
        s.peer
            .set_stock(sku, &s.map[location], 999)
            .expect("edit a level on the shop");
    }
    // Before the reconcile is due, nothing notices.
    let rows = s.env.run_once(&["--job", "export-stock", "--force"]);
    assert_eq!(rows.get(CHANNEL, "export-stock").items, 0);
    assert_ne!(on_shop(&s), expected(&s, &stock));
    // A day later (the default `stock-reconcile` is 24h) it is due.
    let tomorrow = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(25))
        .unwrap()
        .to_string();
    let before = received(&s);
    let rows = s
        .env
        .run_once(&["--job", "export-stock", "--now", tomorrow.as_str()]);
    let row = rows.get(CHANNEL, "export-stock");
    assert_eq!((row.outcome.as_str(), row.items), ("ran", 5), "{row:?}");
    assert!(row.detail.contains("drift 5"), "{row:?}");
    assert_eq!(
        received(&s) - before,
        5,
        "exactly the drifted levels are sent"
    );
    assert_eq!(on_shop(&s), expected(&s, &stock));
    let counts = history_counts(&s.env);
    assert_eq!(
        (counts["drift"].as_u64(), counts["reconciled"].as_u64()),
        (Some(5), Some(600))
    );
    let human = s.env.ok(["history", "--channel", CHANNEL, "--limit", "1"]);
    assert!(human.contains("drift 5"), "{human}");
}

on_peers!(stock_flows_with_export_products_off_and_an_unknown_sku_is_named: sandbox, vendure, medusa);
fn stock_flows_with_export_products_off_and_an_unknown_sku_is_named(case: Case) {
    let s = setup(case, 50);
    s.env
        .ok(["channel", "set-period", CHANNEL, "export-products", "none"]);
    let requests_before = s.peer.product_requests();
    // The catalog changes titles and gains a product the shop lacks.
    let mut offers = Offer::numbered("ST-", 1..=50, "9.90", s.peer.currency());
    for offer in &mut offers {
        offer.title = format!("Renamed {}", offer.sku);
    }
    let mut ghost = Offer::numbered("GHOST-", [1], "1.00", s.peer.currency());
    offers.append(&mut ghost);
    s.env.load("renamed.jsonl", &offers);
    let mut stock = levels(&s.skus, 11);
    stock.push(("GHOST-00001".into(), "north".into(), 8, 0));
    stock_load(&s.env, "stock.csv", &stock);
    // A plain cron run: export-stock is due, export-products is off.
    let (code, doc, stderr) = s.env.run_once_any(&[]);
    assert_eq!(code, 0, "an unknown SKU is no failure: {doc:#}\n{stderr}");
    let rows = test_support::output::Rows::of(&doc);
    assert_eq!(rows.get(CHANNEL, "export-products").outcome, "not-due");
    let row = rows.get(CHANNEL, "export-stock");
    assert_eq!(row.outcome, "ran", "{row:?}");
    assert!(
        row.detail.contains("1 unknown SKU") && row.detail.contains("GHOST-00001"),
        "{row:?}"
    );
    assert_eq!(history_counts(&s.env)["unknown_sku"], 1);
    let known: Vec<Level> = stock
        .iter()
        .filter(|l| l.0 != "GHOST-00001")
        .cloned()
        .collect();
    assert_eq!(on_shop(&s), expected(&s, &known));
    assert_eq!(
        s.peer.product_requests(),
        requests_before,
        "no product was sent"
    );
    let listing = s.peer.read_back();
    assert!(
        listing
            .offers(s.peer.currency())
            .values()
            .all(|o| !o.title.starts_with("Renamed")),
        "titles stayed as exported"
    );
    assert!(
        !listing
            .offers(s.peer.currency())
            .contains_key("GHOST-00001")
    );

    // `status` knows the job: its period, its last outcome, when it is next due.
    let status = s.env.json(&["status"]);
    let job = status["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["channel"] == CHANNEL && j["job"] == "export-stock")
        .unwrap_or_else(|| panic!("no export-stock row: {status:#}"));
    assert_eq!(
        (&job["period"], &job["last_outcome"]),
        (&"5m".into(), &"success".into()),
        "{job:#}"
    );
    assert!(job["next_due"].is_string(), "{job:#}");

    // auth-refresh none stops it like every job, and validate says so.
    s.env
        .ok(["channel", "set-period", CHANNEL, "auth-refresh", "none"]);
    let (_, doc, _) = s.env.json_any(&["validate"]);
    assert!(
        doc.to_string().contains("its export-stock will not run"),
        "{doc:#}"
    );
    let before = received(&s);
    let rows = s.env.run_once(&["--job", "export-stock", "--force"]);
    let row = rows.get(CHANNEL, "export-stock");
    assert_eq!(row.outcome, "skipped", "{row:?}");
    assert!(row.detail.starts_with("auth-refresh is none"), "{row:?}");
    assert_eq!(received(&s), before);
}

on_peers!(a_kill_during_a_stock_export_converges_on_the_next_run: sandbox, sandbox_postgres, vendure, medusa);
fn a_kill_during_a_stock_export_converges_on_the_next_run(case: Case) {
    let s = setup(case, 400);
    let mut stock = levels(&s.skus, 3);
    for (round, point) in ["stock-batch-sent", "stock-batch-recorded"]
        .iter()
        .enumerate()
    {
        stock = levels(&s.skus, 3 + round as i64 * 17);
        stock_load(&s.env, &format!("stock-{round}.csv"), &stock);
        let (killed, out) = s
            .env
            .run_killed_at(point, ["run-once", "--job", "export-stock", "--force"]);
        assert!(
            killed,
            "{point}: not reached\n{}",
            test_support::output::describe(&out)
        );
        let rows = s.env.run_once(&["--job", "export-stock", "--force"]);
        assert_eq!(rows.get(CHANNEL, "export-stock").outcome, "ran");
        assert_eq!(on_shop(&s), expected(&s, &stock), "after a kill at {point}");
    }
    // Converged: the next run owes nothing.
    let rows = s.env.run_once(&["--job", "export-stock", "--force"]);
    assert_eq!(rows.get(CHANNEL, "export-stock").items, 0);
    assert_eq!(on_shop(&s), expected(&s, &stock));
}

/// A level the shop keeps refusing is retried, then quarantined, and sent
/// again once its value changes (the sandbox refuses SKUs on request).
#[test]
fn a_refused_level_is_retried_then_quarantined_until_it_changes() {
    let s = setup(Case::sandbox(), 3);
    let sandbox = s.peer.as_sandbox().expect("the sandbox");
    sandbox.update_switches(|sw| sw.item_error_skus = vec!["ST-00002".into()]);
    let stock = levels(&s.skus, 20);
    stock_load(&s.env, "stock.csv", &stock);
    for attempt in 1..=3 {
        let (code, doc, _) = s.env.run_once_any(&["--job", "export-stock", "--force"]);
        assert_eq!(code, 3, "a partial run exits 3: {doc:#}");
        let rows = test_support::output::Rows::of(&doc);
        let row = rows.get(CHANNEL, "export-stock");
        assert_eq!(row.outcome, "partial", "{row:?}");
        assert!(row.detail.contains("ST-00002"), "{row:?}");
        let sent = if attempt == 1 { 6 } else { 2 };
        assert_eq!(row.items, sent, "attempt {attempt}: {row:?}");
    }
    // Quarantined (3 refusals of one value): not sent again.
    let rows = s.env.run_once(&["--job", "export-stock", "--force"]);
    let row = rows.get(CHANNEL, "export-stock");
    assert_eq!(row.items, 0, "{row:?}");
    assert!(row.detail.contains("2 quarantined"), "{row:?}");
    // A new value is tried again.
    sandbox.update_switches(|sw| sw.item_error_skus.clear());
    let moved: Vec<Level> = stock
        .iter()
        .filter(|l| l.0 == "ST-00002")
        .map(|(sku, location, _, reserved)| (sku.clone(), location.clone(), 30, *reserved))
        .collect();
    stock_load(&s.env, "moved.csv", &moved);
    let rows = s.env.run_once(&["--job", "export-stock", "--force"]);
    assert_eq!(rows.get(CHANNEL, "export-stock").items, 2);
}
