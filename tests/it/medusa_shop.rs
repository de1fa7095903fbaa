//! Whole products on a real Medusa server through the binary: a create cut
//! anywhere (named points after each create step, random moments, SIGKILL
//! and SIGTERM, the next run at once) is repaired; a variant without a
//! price gets it; a SKU held twice is refused by name; a Medusa master's
//! multi-variant product goes to another Medusa whole, and an edit on the
//! master changes exactly that on the other shop; an option value renamed
//! or added on the catalog changes the product's option; a server crash in
//! the middle of an export is repaired by the next run after the restart.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use test_support::kill::{Stop, random_delay};
use test_support::output::{describe, killed, stderr, stdout};
use test_support::peer::medusa::MedusaShop;
use test_support::peer::{Listing, Peer};
use test_support::{Backend, CHANNEL, TestEnv};

pub(crate) const SIZES: [&str; 3] = ["S", "M", "L"];
/// The master's tee prices in EUR, by size.
pub(crate) const TEE_EUR: [f64; 3] = [19.9, 20.9, 21.9];
/// The master's tee images (Medusa keeps image URLs as given).
pub(crate) const TEE_IMAGES: [&str; 2] = [
    "https://img.example/tee-front.jpg",
    "https://img.example/tee-back.jpg",
];

/// What a test loaded into the catalog, by SKU: the prices (currency ->
/// amount as the catalog spells it) and the stock at `default`.
type Expected = BTreeMap<String, (BTreeMap<String, String>, i64)>;

/// A nested `products load` line: shirt `n` in `sizes`, priced in EUR and
/// USD.
fn shirt(n: u32, sizes: &[&str], eur: &str, usd: &str, description: &str) -> Value {
    let variants: Vec<Value> = sizes
        .iter()
        .enumerate()
        .map(|(i, size)| {
            json!({
                "sku": format!("SH{n}-{size}"),
                "title": format!("Size {size}"),
                "option_values": [size],
                "prices": {"EUR": eur, "USD": usd},
                "stock": {"default": 3 + i},
            })
        })
        .collect();
    json!({
        "handle": format!("shirt-{n}"),
        "title": format!("Shirt {n}"),
        "description": description,
        "options": ["Size"],
        "variants": variants,
        "updated_at": "2026-12-01T00:00:00Z",
    })
}

/// A one-variant product, priced in EUR only.
fn simple(n: u32, eur: &str) -> Value {
    test_support::catalog::product(&format!("SIM-{n:04}"), eur)
}

/// Records what `lines` put into the catalog.
fn expect(expected: &mut Expected, lines: &[Value]) {
    for line in lines {
        match line["variants"].as_array() {
            Some(variants) => {
                for v in variants {
                    let prices = v["prices"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(c, a)| (c.clone(), a.as_str().unwrap().to_string()))
                        .collect();
                    let stock = v["stock"]["default"].as_i64().unwrap_or(0);
                    expected.insert(v["sku"].as_str().unwrap().to_string(), (prices, stock));
                }
            }
            None => {
                let prices = BTreeMap::from([(
                    line["currency"].as_str().unwrap().to_string(),
                    line["price"].as_str().unwrap().to_string(),
                )]);
                let stock = line["quantity"].as_i64().unwrap();
                expected.insert(line["sku"].as_str().unwrap().to_string(), (prices, stock));
            }
        }
    }
}

/// What the shop offers, as [`Expected`] (a SKU held twice: the last one).
fn offered(listing: &Listing) -> Expected {
    listing
        .products
        .iter()
        .flat_map(|p| &p.variants)
        .filter_map(|v| Some((v.sku.clone()?, (v.prices.clone(), v.quantity.unwrap_or(0)))))
        .collect()
}

/// Variants missing a price the catalog gives them.
fn unpriced(listing: &Listing, expected: &Expected) -> usize {
    listing
        .products
        .iter()
        .flat_map(|p| &p.variants)
        .filter(|v| {
            let wanted = v.sku.as_ref().and_then(|s| expected.get(s));
            wanted.is_some_and(|(prices, _)| prices.keys().any(|c| !v.prices.contains_key(c)))
                || v.prices.is_empty()
        })
        .count()
}

fn medusa_env(peer: &MedusaShop) -> TestEnv {
    TestEnv::with_channel(
        Backend::Sqlite,
        peer,
        &[("auth-refresh", "1h"), ("export-products", "1h")],
    )
}

const EXPORT: [&str; 4] = ["run-once", "--force", "--job", "export-products"];

fn converge(env: &TestEnv, context: &str) -> String {
    let out = env.run(EXPORT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{context}: did not converge:\n{}",
        describe(&out)
    );
    stdout(&out)
}

#[test]
fn medusa_export_cut_at_every_create_step_and_at_random_is_repaired_by_the_next_run() {
    let peer = MedusaShop::start();
    let env = medusa_env(&peer);
    let mut expected = Expected::new();

    // A catalog on the shop already: shirts get sizes added to them below.
    let mut base: Vec<Value> = (0..4)
        .map(|n| shirt(n, &SIZES, "20.00", "22.50", "A shirt"))
        .collect();
    base.extend((0..40).map(|n| simple(n, "5.00")));
    env.load_jsonl("base.jsonl", &base);
    expect(&mut expected, &base);
    let started = Instant::now();
    converge(&env, "first export");
    let full_run = started.elapsed();

    // Each round: a new multi-variant shirt and new simple products
    // (product creates), a size added to a shirt on the shop (a variant
    // create on a held product), a price changed (an update).
    let mut round = 0u32;
    let mut next_round = |env: &TestEnv, expected: &mut Expected| {
        round += 1;
        let n = 100 + round;
        let mut lines = vec![shirt(n, &SIZES, "30.00", "33.00", "New shirt")];
        // More than a batch (100), so a SIGTERM after the first batch's
        // steps leaves work to stop.
        lines.extend((0..100).map(|i| simple(1000 + round * 100 + i, "7.00")));
        let grown = round % 4;
        let mut sizes: Vec<String> = SIZES.iter().map(|s| s.to_string()).collect();
        sizes.extend((1..=round.div_ceil(4)).map(|k| format!("X{k}")));
        let sizes: Vec<&str> = sizes.iter().map(String::as_str).collect();
        lines.push(shirt(
            grown,
            &sizes,
            &format!("{round}.50"),
            "22.50",
            "A shirt",
        ));
        env.load_jsonl("round.jsonl", &lines);
        expect(expected, &lines);
    };

    let mut stops = 0;
    let mut mid_run = 0;
    let points = [
        "export-batch-sent",
        "medusa-export-created",
        "medusa-export-looked-up",
        "medusa-variants-created",
        "export-batch-recorded",
    ];
    for point in points {
        for stop in [Stop::Kill, Stop::Term] {
            next_round(&env, &mut expected);
            let out = match stop {
                Stop::Kill => env.run_killed_at(point, EXPORT).1,
                Stop::Term => env.run_terminated_at(point, EXPORT),
            };
            let stopped = killed(&out) || out.status.code() == Some(143);
            assert!(
                stopped,
                "{point} ({stop:?}): the run did not stop there:\n{}",
                describe(&out)
            );
            stops += 1;
            mid_run += 1;
        }
    }
    // Random moments, inside a run as long as a whole-catalog export.
    for i in 0..6 {
        next_round(&env, &mut expected);
        let stop = if i % 2 == 0 { Stop::Kill } else { Stop::Term };
        let stopped = env.stop_after(EXPORT, random_delay(full_run), stop);
        stops += 1;
        mid_run += usize::from(stopped.mid_run);
    }

    let before = peer.read_back();
    let left = (
        before.skus_held_twice().len(),
        before.products_without_variants().len(),
        unpriced(&before, &expected),
    );
    // One run to the end (it waits out the settle window and reconciles).
    converge(&env, "after the stops");
    let listing = peer.read_back();
    let twice = listing.skus_held_twice().len();
    let empty = listing.products_without_variants().len();
    let unpriced_after = unpriced(&listing, &expected);
    eprintln!(
        "medusa kill loop: {stops} stops ({mid_run} mid-run); left by the stops: {} SKUs twice, {} empty products, {} unpriced variants; after one run: {twice} SKUs twice, {empty} empty products, {unpriced_after} unpriced variants",
        left.0, left.1, left.2
    );
    assert!(stops >= 10);
    assert_eq!((twice, empty, unpriced_after), (0, 0, 0), "{:?}", listing);
    assert_eq!(
        offered(&listing),
        expected,
        "the shop holds exactly the catalog"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM shop_intents WHERE settled_at IS NULL"),
        0,
        "every write intent is settled"
    );
}

/// How many products the shop holds (deleted ones aside).
fn product_count(peer: &MedusaShop) -> u64 {
    let reply = peer.wait(peer.admin.get("/admin/products?limit=1&fields=id"));
    reply["count"].as_u64().expect("a product count")
}

#[test]
fn a_medusa_server_crash_mid_export_is_repaired_by_the_next_run_after_the_restart() {
    let mut peer = MedusaShop::start();
    let env = medusa_env(&peer);
    let mut expected = Expected::new();
    let base: Vec<Value> = (0..4)
        .map(|n| shirt(n, &SIZES, "20.00", "22.50", "A shirt"))
        .chain((0..40).map(|n| simple(n, "5.00")))
        .collect();
    env.load_jsonl("base.jsonl", &base);
    expect(&mut expected, &base);
    converge(&env, "first export");

    let (mut crashes, mut mid_run) = (0, 0);
    for round in 1..=2u32 {
        // Creates (a new shirt, more than a batch of simple products) and
        // updates (the shirts' prices).
        let mut lines: Vec<Value> = vec![shirt(100 + round, &SIZES, "30.00", "33.00", "New")];
        lines.extend((0..120).map(|i| simple(1000 * round + i, "7.00")));
        lines.extend((0..4).map(|n| shirt(n, &SIZES, &format!("2{round}.00"), "22.50", "A shirt")));
        env.load_jsonl("round.jsonl", &lines);
        expect(&mut expected, &lines);

        let before = product_count(&peer);
        let mut run = env
            .command(EXPORT)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start run-once");
        // The server dies once this run's first creates have reached it.
        while product_count(&peer) == before && run.try_wait().expect("poll run").is_none() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        mid_run += usize::from(run.try_wait().expect("poll run").is_none());
        peer.restart_server();
        crashes += 1;
        // The cut run ends (failed, or done if its retries outlived the
        // restart); the next starts at once.
        run.wait().expect("the cut run ends");
        converge(&env, &format!("after crash #{round}"));
        let listing = peer.read_back();
        listing.assert_sound("EUR", &format!("after crash #{round}"));
        assert_eq!(unpriced(&listing, &expected), 0, "crash #{round}");
        assert_eq!(
            offered(&listing),
            expected,
            "after crash #{round}: the shop holds exactly the catalog"
        );
    }
    eprintln!("medusa server crashes: {crashes} ({mid_run} mid-run)");
    assert!(
        mid_run >= 1,
        "no crash landed while a run was writing: {mid_run} of {crashes}"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM shop_intents WHERE settled_at IS NULL"),
        0,
        "every write intent is settled"
    );
}

#[test]
fn a_medusa_variant_without_a_price_gets_it_on_the_next_export() {
    let peer = MedusaShop::start();
    let env = medusa_env(&peer);
    env.load_jsonl(
        "shirt.jsonl",
        &[shirt(1, &SIZES, "20.00", "22.50", "A shirt")],
    );
    converge(&env, "first export");
    // What a Medusa restart in the middle of a create leaves: a published
    // variant with no price at all.
    let m = peer.wait(peer.admin.variant("SH1-M"));
    peer.wait(peer.admin.post(
        &format!("/admin/products/{}/variants/{}", m.product_id, m.variant_id),
        json!({"prices": []}),
    ));
    let before = peer.read_back();
    assert_eq!(before.variants_without_price("EUR"), ["SH1-M"]);

    // Any change of the product makes the next export read it and write
    // what it lacks.
    let mut edited = shirt(1, &SIZES, "20.00", "22.50", "A shirt");
    edited["variants"][0]["stock"]["default"] = json!(9);
    env.load_jsonl("edit.jsonl", &[edited]);
    converge(&env, "the repairing export");
    let listing = peer.read_back();
    listing.assert_sound("EUR", "after the repair");
    let m = peer.wait(peer.admin.variant("SH1-M"));
    assert_eq!(
        (
            m.prices.get("eur").map(String::as_str),
            m.prices.get("usd").map(String::as_str)
        ),
        (Some("20"), Some("22.5")),
        "{m:?}"
    );
    assert_eq!(peer.wait(peer.admin.variant("SH1-S")).quantity, Some(9));
    assert_eq!(
        env.last_outcome(CHANNEL, "export-products").as_deref(),
        Some("success")
    );
}

#[test]
fn a_sku_held_twice_on_medusa_is_refused_naming_both_variants() {
    let peer = MedusaShop::start();
    peer.peer.drop_unique_sku_index();
    let mut ids = Vec::new();
    for handle in ["dup-a", "dup-b"] {
        let made = peer.wait(peer.admin.post(
            "/admin/products",
            json!({"title": "Dup", "handle": handle, "status": "published",
                   "options": [{"title": "Default", "values": ["Default"]}],
                   "variants": [{"title": "Dup", "sku": "DUP-1", "options": {"Default": "Default"},
                                 // Medusa refuses a second inventory item with one SKU.
                                 "manage_inventory": false,
                                 "prices": [{"currency_code": "eur", "amount": 1}]}]}),
        ));
        ids.push(
            made["product"]["variants"][0]["id"]
                .as_str()
                .expect("variant id")
                .to_string(),
        );
    }
    let env = medusa_env(&peer);
    env.load_jsonl(
        "catalog.jsonl",
        &[
            simple(1, "4.00"),
            json!({
        "sku": "DUP-1", "title": "Ours", "price": "9.00", "currency": "EUR",
        "quantity": 1, "updated_at": "2026-12-01T00:00:00Z"}),
        ],
    );
    let out = env.run(EXPORT);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    for id in &ids {
        assert!(text.contains(id.as_str()), "run-once names {id}:\n{text}");
    }
    // Rejected run after run, never written: quarantined at the third,
    // and `status` lists it with the reason.
    for _ in 0..2 {
        let again = env.run(EXPORT);
        assert_ne!(again.status.code(), Some(0), "{}", describe(&again));
    }
    let status = env.ok(["status"]);
    assert!(
        status.contains("quarantined") && status.contains("held twice on the shop"),
        "{status}"
    );
    // The other product arrived; neither copy was touched.
    let listing = peer.read_back();
    assert!(offered(&listing).contains_key("SIM-0001"));
    for variant in listing.products.iter().flat_map(|p| &p.variants) {
        if variant.sku.as_deref() == Some("DUP-1") {
            assert_eq!(variant.prices["EUR"], "1.00", "a copy was updated");
            assert_eq!(variant.title, "Dup");
        }
    }
    for args in [
        // Tables cut long errors; their JSON has the whole reason.
        vec!["status", "--json"],
        vec!["history", "--channel", CHANNEL, "--json"],
        vec!["products", "show", "DUP-1"],
    ] {
        let out = env.run(&args);
        let text = stdout(&out);
        for id in &ids {
            assert!(
                text.contains(id.as_str()),
                "`{}` names {id}:\n{}",
                args.join(" "),
                describe(&out)
            );
        }
    }
}

#[test]
fn a_medusa_masters_multi_variant_product_reaches_another_medusa_whole_and_an_edit_changes_exactly_that()
 {
    let master = MedusaShop::start();
    let shop = MedusaShop::start();
    make_tee(&master, &TEE_IMAGES);
    let env = crate::shops_across::master_and_shop(&master, &shop);
    let import = ["run-once", "--force", "--job", "import-products"];
    let out = env.run(import);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(env.catalog_count(), 201);
    let tee = &env.show("tee")["product"];
    assert_eq!(tee["handle"], "tee");
    assert_eq!(tee["title"], "Tee");
    assert_eq!(tee["description"], "<p>Soft cotton</p>");
    assert_eq!(tee["status"], "active");
    assert_eq!(tee["options"], json!(["Size"]));
    assert_eq!(tee["categories"], json!(["Clothing > Shirts", "Summer"]));
    assert_eq!(tee["tags"], json!(["bestseller", "cotton"]));
    assert_eq!(
        tee["images"],
        json!([{"url": "https://img.example/tee-front.jpg", "alt": ""},
               {"url": "https://img.example/tee-back.jpg", "alt": ""}])
    );
    let variants = tee["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 3, "{tee:#}");
    for (i, (v, size)) in variants.iter().zip(SIZES).enumerate() {
        assert_eq!(v["sku"], format!("TEE-{size}"));
        assert_eq!(v["title"], format!("Tee {size}"));
        assert_eq!(v["option_values"], json!([size]));
        assert_eq!(
            v["prices"],
            json!({"EUR": format!("{}.90", 19 + i), "USD": format!("{}.00", 21 + i)}),
            "{v:#}"
        );
        assert_eq!(v["stock"]["default"], json!(10 + i));
    }

    converge(&env, "first export to the other Medusa");
    let on_shop = shop.wait(shop.admin.product_json("tee"));
    assert_tee(&on_shop, "<p>Soft cotton</p>", "22", &TEE_IMAGES);
    assert_eq!(shop.read_back().products.len(), 201);
    let shop_before = shop.wait(shop.admin.products());

    edit_tee(&master);
    let out = env.run(import);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let rows = env.run_once(&EXPORT[1..]);
    assert_eq!(
        rows.get(CHANNEL, "export-products").items,
        1,
        "only the edited product is sent"
    );
    let on_shop = shop.wait(shop.admin.product_json("tee"));
    assert_tee(&on_shop, "<p>Softer cotton</p>", "24.5", &TEE_IMAGES);
    let shop_after = shop.wait(shop.admin.products());
    let changed = changed_skus(&shop_before, &shop_after);
    assert_eq!(
        changed,
        [Some("TEE-M".to_string())],
        "exactly one variant changed on the shop"
    );
}

/// On `master`, as its owner makes them: a 3-variant tee (`TEE-S`/`M`/`L`,
/// option Size) in EUR and USD with a description, `images`, 2 categories
/// (`Clothing > Shirts`, `Summer`), 2 tags and stock 10, 11, 12; and 200
/// simple products priced in EUR.
pub(crate) fn make_tee(master: &MedusaShop, images: &[&str]) {
    let category = |name: &str, parent: Option<&str>| {
        let made = master.wait(master.admin.post(
            "/admin/product-categories",
            json!({"name": name, "is_active": true, "parent_category_id": parent}),
        ));
        made["product_category"]["id"].as_str().unwrap().to_string()
    };
    let clothing = category("Clothing", None);
    let shirts = category("Shirts", Some(&clothing));
    let summer = category("Summer", None);
    let tags: Vec<Value> = ["cotton", "bestseller"]
        .iter()
        .map(|value| {
            let made = master.wait(
                master
                    .admin
                    .post("/admin/product-tags", json!({ "value": value })),
            );
            json!({"id": made["product_tag"]["id"]})
        })
        .collect();
    let made = master.wait(master.admin.post(
        "/admin/products",
        json!({"title": "Tee", "handle": "tee", "status": "published", "description": "<p>Soft cotton</p>",
               "options": [{"title": "Size", "values": SIZES}],
               "images": images.iter().map(|url| json!({ "url": url })).collect::<Vec<_>>(),
               "categories": [{"id": shirts}, {"id": summer}],
               "tags": tags,
               "sales_channels": [{"id": master.peer.sales_channel_id}],
               "variants": SIZES.iter().enumerate().map(|(i, size)| json!({
                   "title": format!("Tee {size}"), "sku": format!("TEE-{size}"), "variant_rank": i,
                   "options": {"Size": size},
                   "prices": [{"currency_code": "eur", "amount": TEE_EUR[i]},
                              {"currency_code": "usd", "amount": 21 + i}]})).collect::<Vec<_>>()}),
    ));
    let levels: Vec<Value> = SIZES
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let v = master.wait(master.admin.variant(&format!("TEE-{size}")));
            json!({"inventory_item_id": v.inventory_item_id.unwrap(),
                   "location_id": master.peer.stock_location_id, "stocked_quantity": 10 + i})
        })
        .collect();
    master.wait(master.admin.post(
        "/admin/inventory-items/location-levels/batch",
        json!({ "create": levels }),
    ));
    assert!(made["product"]["id"].is_string());
    master.wait(
        master
            .admin
            .create_products(&test_support::peer::medusa::sample_products("P", 200)),
    );
}

/// The master's owner edits the tee: `TEE-M`'s USD price to 24.50, and the
/// description to `<p>Softer cotton</p>`.
pub(crate) fn edit_tee(master: &MedusaShop) {
    let m = master.wait(master.admin.variant("TEE-M"));
    let prices = master.wait(master.admin.get(&format!(
        "/admin/product-variants?id[]={}&fields=prices.id,prices.currency_code",
        m.variant_id
    )));
    let price_ids: Vec<Value> = prices["variants"][0]["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| match p["currency_code"].as_str() {
            Some("usd") => json!({"id": p["id"], "currency_code": "usd", "amount": 24.5}),
            _ => json!({"id": p["id"], "currency_code": "eur", "amount": 20.9}),
        })
        .collect();
    master.wait(master.admin.post(
        &format!("/admin/products/{}/variants/{}", m.product_id, m.variant_id),
        json!({ "prices": price_ids }),
    ));
    master.wait(master.admin.post(
        &format!("/admin/products/{}", m.product_id),
        json!({"description": "<p>Softer cotton</p>"}),
    ));
}

/// The SKUs of the variants that differ between two readings of a shop.
pub(crate) fn changed_skus(
    before: &[test_support::peer::medusa::MedusaProduct],
    after: &[test_support::peer::medusa::MedusaProduct],
) -> Vec<Option<String>> {
    after
        .iter()
        .flat_map(|p| &p.variants)
        .filter(|a| {
            let earlier = before
                .iter()
                .flat_map(|p| &p.variants)
                .find(|b| b.variant_id == a.variant_id);
            earlier != Some(*a)
        })
        .map(|v| v.sku.clone())
        .collect()
}

/// The tee as another Medusa holds it: options, three variants with
/// both prices, stock, the description, `images` by URL, categories, tags.
pub(crate) fn assert_tee(product: &Value, description: &str, m_usd: &str, images: &[&str]) {
    assert_eq!(product["description"], description, "{product:#}");
    assert_eq!(product["status"], "published");
    let urls: Vec<&str> = product["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, images);
    let mut categories: Vec<&str> = product["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["handle"].as_str().unwrap())
        .collect();
    categories.sort_unstable();
    assert_eq!(
        categories,
        ["clothing-shirts", "summer"],
        "created by path handle"
    );
    let mut tags: Vec<&str> = product["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["value"].as_str().unwrap())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["bestseller", "cotton"]);
    let options = product["options"].as_array().expect("options");
    assert_eq!(options.len(), 1, "{product:#}");
    assert_eq!(options[0]["title"], "Size");
    let mut values: Vec<&str> = options[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, ["L", "M", "S"]);
    let variants = product["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 3, "{product:#}");
    for (i, size) in SIZES.iter().enumerate() {
        let v = variants
            .iter()
            .find(|v| v["sku"] == format!("TEE-{size}"))
            .unwrap_or_else(|| panic!("TEE-{size} on the shop: {product:#}"));
        assert_eq!(v["title"], format!("Tee {size}"));
        assert_eq!(v["options"][0]["value"], *size);
        let price = |code: &str| {
            v["prices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["currency_code"] == code)
                .map(|p| p["amount"].to_string())
        };
        let usd = if *size == "M" {
            m_usd.to_string()
        } else {
            (21 + i).to_string()
        };
        assert_eq!(price("eur"), Some(TEE_EUR[i].to_string()), "{v:#}");
        assert_eq!(price("usd"), Some(usd), "{v:#}");
        let levels = &v["inventory_items"][0]["inventory"]["location_levels"];
        assert_eq!(levels[0]["stocked_quantity"], json!(10 + i), "{v:#}");
    }
}

#[test]
fn a_product_over_medusas_body_limit_is_refused_alone_and_the_others_arrive() {
    let peer = MedusaShop::start();
    let env = medusa_env(&peer);
    // Over Medusa's stock 2 MB batch body limit within the catalog's own
    // limits: 200 variants, each with 50 attributes of 255 characters
    // (about 2.7 MB as JSON).
    let attributes: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("attribute-{i:02}"), json!("x".repeat(255))))
        .collect();
    let variants: Vec<Value> = (0..200)
        .map(|i| {
            json!({"sku": format!("BIG-{i:03}"), "option_values": [format!("v{i:03}")],
                   "prices": {"EUR": "1.00"}, "attributes": attributes})
        })
        .collect();
    let big = json!({"handle": "big", "title": "Big", "options": ["Variant"],
                     "variants": variants, "updated_at": "2026-12-01T00:00:00Z"});
    let mut lines: Vec<Value> = (0..20).map(|n| simple(n, "2.00")).collect();
    lines.push(big);
    env.load_jsonl("catalog.jsonl", &lines);
    let out = env.run(EXPORT);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("big") && text.contains("max-request-bytes"),
        "the big product is refused by name and why:\n{text}"
    );
    let listing = peer.read_back();
    let offered = offered(&listing);
    assert_eq!(offered.len(), 20, "the others arrived: {offered:?}");
    assert!(!offered.keys().any(|sku| sku.starts_with("BIG-")));
}

#[test]
fn with_export_fields_prices_and_stock_a_description_edited_on_medusa_survives_a_price_change() {
    let peer = MedusaShop::start();
    let env = medusa_env(&peer);
    env.load_jsonl("shirt.jsonl", &[shirt(1, &SIZES, "20.00", "22.50", "Ours")]);
    converge(&env, "first export");
    // The shop's owner rewrites the description and the title.
    let product_id = peer.wait(peer.admin.variant("SH1-S")).product_id;
    peer.wait(peer.admin.post(
        &format!("/admin/products/{product_id}"),
        json!({"description": "Theirs", "title": "Their shirt"}),
    ));
    env.set_channel_key(CHANNEL, r#"export-fields = ["prices", "stock"]"#);
    env.load_jsonl(
        "edit.jsonl",
        &[shirt(1, &SIZES, "21.00", "22.50", "Ours, edited")],
    );
    converge(&env, "the price export");
    let product = peer.wait(peer.admin.product_json("shirt-1"));
    assert_eq!(product["description"], "Theirs", "{product:#}");
    assert_eq!(product["title"], "Their shirt", "{product:#}");
    for size in SIZES {
        let variant = peer.wait(peer.admin.variant(&format!("SH1-{size}")));
        assert_eq!(
            (
                variant.prices["eur"].as_str(),
                variant.prices["usd"].as_str()
            ),
            ("21", "22.5"),
            "{variant:?}"
        );
    }
}

/// `[channels.<channel>.locations]`: the catalog's `default` at the peer's
/// first location, `berlin` at its second.
fn map_locations(env: &TestEnv, peer: &MedusaShop, channel: &str) {
    let path = env.account_file();
    let mut text = std::fs::read_to_string(&path).expect("the account file");
    text.push_str(&format!(
        "\n[channels.{channel}.locations]\ndefault = \"{}\"\nberlin = \"{}\"\n",
        peer.peer.stock_location_id, peer.peer.second_stock_location_id
    ));
    std::fs::write(&path, text).expect("write the account file");
}

/// Stocked quantity of `sku` per Medusa location id.
fn levels(peer: &MedusaShop, handle: &str, sku: &str) -> BTreeMap<String, i64> {
    let product = peer.wait(peer.admin.product_json(handle));
    let variant = product["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["sku"] == sku)
        .unwrap_or_else(|| panic!("{sku} in {product:#}"))
        .clone();
    variant["inventory_items"][0]["inventory"]["location_levels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                l["location_id"].as_str().unwrap().to_string(),
                l["stocked_quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn stock_goes_to_and_comes_from_each_mapped_medusa_location() {
    let peer = MedusaShop::start();
    let (main, berlin) = (
        peer.peer.stock_location_id.clone(),
        peer.peer.second_stock_location_id.clone(),
    );
    let env = medusa_env(&peer);
    map_locations(&env, &peer, CHANNEL);
    let mut line = shirt(1, &SIZES, "20.00", "22.50", "A shirt");
    for (i, variant) in line["variants"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        variant["stock"] = json!({"default": i, "berlin": 10 + i, "paris": 99});
    }
    env.load_jsonl("shirt.jsonl", std::slice::from_ref(&line));
    converge(&env, "first export");
    assert_eq!(
        levels(&peer, "shirt-1", "SH1-M"),
        BTreeMap::from([(main.clone(), 1), (berlin.clone(), 11)]),
        "each mapped location; `paris` is not this channel's"
    );

    // Only Berlin's stock of one variant changes.
    line["variants"][1]["stock"]["berlin"] = json!(4);
    env.load_jsonl("edit.jsonl", std::slice::from_ref(&line));
    converge(&env, "stock export");
    assert_eq!(
        levels(&peer, "shirt-1", "SH1-M"),
        BTreeMap::from([(main.clone(), 1), (berlin.clone(), 4)])
    );
    assert_eq!(
        levels(&peer, "shirt-1", "SH1-L"),
        BTreeMap::from([(main, 2), (berlin, 12)])
    );

    // Medusa as master with the same map: stock per catalog location.
    let master = TestEnv::builder()
        .channel(
            "master",
            &peer,
            &[("auth-refresh", "1h"), ("import-products", "1h")],
        )
        .master("master")
        .build();
    map_locations(&master, &peer, "master");
    let out = master.run(["run-once", "--force", "--job", "import-products"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let shown = master.show("shirt-1");
    let stock: Vec<&Value> = shown["product"]["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| &v["stock"])
        .collect();
    assert_eq!(
        stock,
        [
            &json!({"berlin": 10, "default": 0}),
            &json!({"berlin": 4, "default": 1}),
            &json!({"berlin": 12, "default": 2}),
        ],
        "{shown:#}"
    );
}

/// The option values of `handle`'s option on Medusa, sorted, and each
/// variant's value by SKU.
fn option_values(peer: &MedusaShop, handle: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let product = peer.wait(peer.admin.product_json(handle));
    let options = product["options"].as_array().expect("options");
    assert_eq!(options.len(), 1, "{product:#}");
    let mut values: Vec<String> = options[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v["value"].as_str().expect("value").to_string())
        .collect();
    values.sort();
    let by_sku = product["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| {
            (
                v["sku"].as_str().expect("sku").to_string(),
                v["options"][0]["value"]
                    .as_str()
                    .expect("value")
                    .to_string(),
            )
        })
        .collect();
    (values, by_sku)
}

#[test]
fn an_option_value_renamed_or_added_on_the_catalog_changes_the_medusa_products_option() {
    let peer = MedusaShop::start();
    let env = medusa_env(&peer);
    env.load_jsonl(
        "catalog.jsonl",
        &[shirt(1, &["S", "M"], "19.90", "21.00", "<p>Tee</p>")],
    );
    converge(&env, "first export");
    let before = peer.wait(peer.admin.product_json("shirt-1"));

    // `M` is renamed `Medium` on the catalog, and a size `L` is added.
    let mut next = shirt(1, &["S", "M", "L"], "19.90", "21.00", "<p>Tee</p>");
    next["variants"][1]["option_values"] = json!(["Medium"]);
    env.load_jsonl("renamed.jsonl", &[next]);
    let out = converge(&env, "export of the renamed and the added value");
    let (values, by_sku) = option_values(&peer, "shirt-1");
    assert_eq!(
        values,
        ["L", "Medium", "S"],
        "the old `M` is gone, the new values are there: {out}"
    );
    assert_eq!(
        by_sku,
        BTreeMap::from([
            ("SH1-L".to_string(), "L".to_string()),
            ("SH1-M".to_string(), "Medium".to_string()),
            ("SH1-S".to_string(), "S".to_string()),
        ])
    );
    let after = peer.wait(peer.admin.product_json("shirt-1"));
    let id_of = |product: &Value, sku: &str| {
        product["variants"]
            .as_array()
            .expect("variants")
            .iter()
            .find(|v| v["sku"] == sku)
            .map(|v| v["id"].clone())
    };
    assert_eq!(
        id_of(&after, "SH1-M"),
        id_of(&before, "SH1-M"),
        "the renamed variant is the same variant, not made again"
    );
}
