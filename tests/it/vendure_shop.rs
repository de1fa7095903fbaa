//! Vendure through the binary, against the real Vendure peer: whole products
//! (options, variants, prices in two currencies, description) both ways,
//! exports cut anywhere and rerun at once, a product too large for the
//! stock body limit, a SKU the shop holds twice, categories and tags as
//! facet values, and images as assets uploaded once.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use test_support::images::ImageServer;
use test_support::kill::{Stop, random_delay};
use test_support::output::describe;
use test_support::peer::to_minor_units;
use test_support::peer::vendure::{NewVariant, VendurePeer};
use test_support::{Backend, CHANNEL, TestEnv};

use crate::shops_across::master_and_shop;

const EXPORT: [&str; 4] = ["run-once", "--force", "--job", "export-products"];
const CURRENCIES: [&str; 2] = ["USD", "EUR"];

/// A product as both sides are compared.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shape {
    title: String,
    description: String,
    active: bool,
    options: Vec<String>,
    variants: BTreeMap<String, VariantShape>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct VariantShape {
    title: String,
    option_values: Vec<String>,
    /// Currency -> minor units.
    prices: BTreeMap<String, i64>,
    stock: i64,
}

/// What a look at the shop found wrong, besides differing from the catalog.
#[derive(Debug, Default)]
struct Unsound {
    skus_twice: BTreeMap<String, Vec<String>>,
    empty_products: Vec<String>,
    unpriced: Vec<String>,
}

impl Unsound {
    fn is_empty(&self) -> bool {
        self.skus_twice.is_empty() && self.empty_products.is_empty() && self.unpriced.is_empty()
    }
}

fn numeric(id: &Value) -> u64 {
    id.as_str().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX)
}

/// Every product on the shop, raw, in id order.
fn shop_products(peer: &VendurePeer) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let page = peer.gql(
            "query($skip: Int!) { products(options: {take: 100, skip: $skip, sort: {id: ASC}}) \
             { totalItems items { id slug name description enabled optionGroups { id name } \
               variants { id sku name stockOnHand prices { currencyCode price } options { name groupId } } } } }",
            json!({"skip": all.len()}),
        );
        let items = page["products"]["items"].as_array().expect("items").clone();
        let total = page["products"]["totalItems"].as_u64().expect("total") as usize;
        let empty = items.is_empty();
        all.extend(items);
        if empty || all.len() >= total {
            return all;
        }
    }
}

/// The shop by slug, and what is unsound on it (variants without a price in
/// one of `currencies` of those whose product has options: the simple
/// products are priced in USD alone).
fn read_shop(peer: &VendurePeer) -> (BTreeMap<String, Shape>, Unsound) {
    let mut shapes = BTreeMap::new();
    let mut unsound = Unsound::default();
    for p in shop_products(peer) {
        let mut groups = p["optionGroups"].as_array().expect("groups").clone();
        groups.sort_by_key(|g| numeric(&g["id"]));
        let variants = p["variants"].as_array().expect("variants");
        if variants.is_empty() {
            unsound
                .empty_products
                .push(p["id"].as_str().expect("id").to_string());
        }
        let mut shape = Shape {
            title: p["name"].as_str().expect("name").into(),
            description: p["description"].as_str().expect("description").into(),
            active: p["enabled"].as_bool().expect("enabled"),
            options: groups
                .iter()
                .map(|g| g["name"].as_str().expect("name").to_string())
                .collect(),
            variants: BTreeMap::new(),
        };
        for v in variants {
            let sku = v["sku"].as_str().expect("sku").to_string();
            let prices: BTreeMap<String, i64> = v["prices"]
                .as_array()
                .expect("prices")
                .iter()
                .map(|p| {
                    (
                        p["currencyCode"].as_str().expect("code").to_string(),
                        p["price"].as_i64().expect("price"),
                    )
                })
                .collect();
            let wanted: &[&str] = if groups.is_empty() {
                &CURRENCIES[..1]
            } else {
                &CURRENCIES
            };
            if wanted.iter().any(|c| !prices.contains_key(*c)) {
                unsound.unpriced.push(sku.clone());
            }
            unsound
                .skus_twice
                .entry(sku.clone())
                .or_default()
                .push(v["id"].as_str().expect("id").to_string());
            shape.variants.insert(
                sku,
                VariantShape {
                    title: v["name"].as_str().expect("name").into(),
                    option_values: groups
                        .iter()
                        .map(|g| {
                            v["options"]
                                .as_array()
                                .expect("options")
                                .iter()
                                .find(|o| o["groupId"] == g["id"])
                                .map(|o| o["name"].as_str().expect("name").to_string())
                                .unwrap_or_default()
                        })
                        .collect(),
                    prices,
                    stock: v["stockOnHand"].as_i64().expect("stock"),
                },
            );
        }
        shapes.insert(p["slug"].as_str().expect("slug").to_string(), shape);
    }
    unsound.skus_twice.retain(|_, ids| ids.len() > 1);
    (shapes, unsound)
}

/// The catalog by handle, as the store holds it.
fn read_catalog(env: &TestEnv) -> BTreeMap<String, Shape> {
    let stock: BTreeMap<String, i64> = env
        .store()
        .query(
            test_support::ACCOUNT,
            "SELECT sku, on_hand FROM stock_levels WHERE location = 'default'",
            &[],
        )
        .expect("stock")
        .into_iter()
        .map(|r| {
            (
                r[0].clone().expect("sku"),
                r[1].as_deref().expect("on hand").parse().expect("number"),
            )
        })
        .collect();
    env.store()
        .query(
            test_support::ACCOUNT,
            "SELECT handle, doc FROM products",
            &[],
        )
        .expect("products")
        .into_iter()
        .map(|r| {
            let doc: Value = serde_json::from_str(r[1].as_deref().expect("doc")).expect("json");
            let title = doc["title"].as_str().expect("title").to_string();
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|s| s.as_str().expect("text").to_string())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let variants = doc["variants"]
                .as_array()
                .expect("variants")
                .iter()
                .map(|v| {
                    let sku = v["sku"].as_str().expect("sku").to_string();
                    let own = v["title"].as_str().unwrap_or("");
                    let shape = VariantShape {
                        title: if own.is_empty() {
                            title.clone()
                        } else {
                            own.into()
                        },
                        option_values: strings(&v["option_values"]),
                        prices: v["prices"]
                            .as_object()
                            .expect("prices")
                            .iter()
                            .map(|(c, p)| (c.clone(), to_minor_units(p.as_str().expect("price"))))
                            .collect(),
                        stock: stock.get(&sku).copied().unwrap_or(0),
                    };
                    (sku, shape)
                })
                .collect();
            let shape = Shape {
                title: title.clone(),
                description: doc["description"].as_str().unwrap_or("").into(),
                active: doc["status"].as_str().unwrap_or("active") == "active",
                options: strings(&doc["options"]),
                variants,
            };
            (r[0].clone().expect("handle"), shape)
        })
        .collect()
}

/// A T-shirt in S, M and L, priced in USD and EUR.
fn shirt(n: u32, round: u32) -> Value {
    let variants: Vec<Value> = ["S", "M", "L"]
        .iter()
        .enumerate()
        .map(|(i, size)| {
            json!({
                "sku": format!("TS{n:03}-{size}"),
                "option_values": [size],
                "prices": {
                    "USD": format!("{}.{:02}", 19 + round, i * 5),
                    "EUR": format!("{}.90", 17 + round),
                },
                "stock": {"default": 10 + i as u32 + round},
            })
        })
        .collect();
    json!({
        "handle": format!("shirt-{n:03}"),
        "title": format!("Shirt {n}"),
        "description": format!("<p>Shirt {n}, soft cotton.</p>"),
        "options": ["Size"],
        "variants": variants,
        "updated_at": "2026-12-01T10:00:00Z",
    })
}

/// A simple product, priced in USD.
fn simple(n: u32, round: u32) -> Value {
    json!({
        "sku": format!("MUG-{n:04}"),
        "title": format!("Mug {n}"),
        "price": format!("{}.50", 5 + round),
        "currency": "USD",
        "quantity": n % 7,
        "updated_at": "2026-12-01T10:00:00Z",
    })
}

fn vendure_env(peer: &VendurePeer) -> TestEnv {
    TestEnv::with_channel(
        Backend::Sqlite,
        peer,
        &[("auth-refresh", "1h"), ("export-products", "1h")],
    )
}

/// `peer` as the account's master (channel `master`, importing).
fn master_of(peer: &VendurePeer) -> TestEnv {
    TestEnv::builder()
        .channel(
            "master",
            peer,
            &[("auth-refresh", "1h"), ("import-products", "1h")],
        )
        .master("master")
        .build()
}

fn assert_ran(env: &TestEnv, args: &[&str], context: &str) {
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(0), "{context}: {}", describe(&out));
}

#[test]
fn an_export_cut_anywhere_and_rerun_at_once_leaves_vendure_sound_and_equal_to_the_catalog() {
    let peer = VendurePeer::start();
    peer.accept_currencies(&["EUR"]);
    let env = vendure_env(&peer);
    // Each round changes every price and adds products, so every run
    // updates, and creates products with variants and options.
    let load_round = |round: u32| {
        let mut lines: Vec<Value> = (0..3 + 2 * round).map(|n| shirt(n, round)).collect();
        lines.extend((0..20 + 8 * round).map(|n| simple(n, round)));
        env.load_jsonl("round.jsonl", &lines);
    };
    load_round(0);
    let started = Instant::now();
    assert_ran(&env, &EXPORT, "first export");
    let full_run = started.elapsed();

    let mut round = 0;
    let (mut stops, mut at_points, mut random) = (0, 0, 0);
    // Right after each create step, with SIGKILL and with SIGTERM; the
    // next run starts at once, with no pause.
    for point in ["vendure-products-created", "vendure-variants-created"] {
        for stop in [Stop::Kill, Stop::Term] {
            round += 1;
            load_round(round);
            let out = match stop {
                Stop::Kill => env.run_killed_at(point, EXPORT).1,
                Stop::Term => env.run_terminated_at(point, EXPORT),
            };
            assert_ne!(
                out.status.code(),
                Some(0),
                "{point} {stop:?}: {}",
                describe(&out)
            );
            stops += 1;
            at_points += 1;
        }
    }
    // At random moments inside a run as long as the first.
    for i in 0..24 {
        if random >= 8 {
            break;
        }
        round += 1;
        load_round(round);
        let stop = if i % 2 == 0 { Stop::Kill } else { Stop::Term };
        let stopped = env.stop_after(EXPORT, random_delay(full_run), stop);
        if stopped.mid_run {
            stops += 1;
            random += 1;
        }
    }
    // One run to the end.
    assert_ran(&env, &EXPORT, "the run after the stops");
    let (shop, unsound) = read_shop(&peer);
    eprintln!(
        "vendure kill loop: {stops} stops ({at_points} right after create steps, {random} at random mid-run), \
         {} SKUs held twice, {} products without variants, {} variants without a price",
        unsound.skus_twice.len(),
        unsound.empty_products.len(),
        unsound.unpriced.len()
    );
    assert!(stops >= 10, "only {stops} stops landed");
    assert!(unsound.is_empty(), "the shop is not sound: {unsound:?}");
    assert_eq!(shop, read_catalog(&env), "the shop is not the catalog");
    // Nothing is left to do: the next export writes nothing.
    let rows = env.run_once(&EXPORT[1..]);
    assert_eq!(rows.get(CHANNEL, "export-products").items, 0);
}

#[test]
fn a_product_too_large_for_vendures_body_limit_is_refused_alone_and_the_others_arrive() {
    let peer = VendurePeer::start();
    let env = vendure_env(&peer);
    let mut lines: Vec<Value> = (0..20).map(|n| simple(n, 0)).collect();
    // 50,000 four-byte characters: 200 kB of description, within the
    // catalog's 65,535-character limit, over Vendure's 100 kB body limit.
    let mut huge = shirt(1, 0);
    huge["handle"] = json!("huge");
    huge["description"] = json!("\u{1D11E}".repeat(50_000));
    lines.insert(7, huge);
    env.load_jsonl("catalog.jsonl", &lines);
    let (code, doc, stderr) = env.run_once_any(&EXPORT[1..]);
    let text = format!("{doc:#}\n{stderr}");
    assert_ne!(code, 0, "a refused product makes the run partial: {text}");
    let (shop, unsound) = read_shop(&peer);
    assert!(unsound.is_empty(), "{unsound:?}");
    assert_eq!(
        shop.len(),
        20,
        "the others arrive, the huge one does not: {:?}",
        shop.keys()
    );
    assert!(!shop.contains_key("huge"));
    let show = env.show("huge");
    let shown = show.to_string();
    assert!(
        shown.contains("max-request-bytes"),
        "`products show huge` says why it was not sent: {show:#}"
    );
    // The refusal costs no request and stays one: nothing leaked on a rerun.
    let (_, _, _) = env.run_once_any(&EXPORT[1..]);
    let (shop, unsound) = read_shop(&peer);
    assert!(
        unsound.is_empty() && shop.len() == 20,
        "{unsound:?} {:?}",
        shop.keys()
    );
}

#[test]
fn a_sku_vendure_holds_twice_is_a_rejection_naming_both_variants_and_neither_is_written() {
    let peer = VendurePeer::start();
    let twice = |name: &str| NewVariant {
        sku: "TWICE-1".into(),
        name: name.into(),
        price: 1000,
        stock_on_hand: 1,
    };
    let ids = peer.create_variants(&[twice("First copy"), twice("Second copy")]);
    let env = vendure_env(&peer);
    let mut lines = vec![simple(1, 0)];
    let mut line = simple(2, 0);
    line["sku"] = json!("TWICE-1");
    line["price"] = json!("12.34");
    lines.push(line);
    env.load_jsonl("catalog.jsonl", &lines);
    let (code, doc, stderr) = env.run_once_any(&EXPORT[1..]);
    assert_ne!(code, 0, "{doc:#}\n{stderr}");
    // Neither copy was written; the other product arrived.
    for v in peer.variants_with_sku("TWICE-1") {
        assert_eq!(v.price, 1000, "a copy was updated: {v:?}");
    }
    assert_eq!(peer.variants_with_sku("MUG-0001").len(), 1);
    let both = |text: &str| {
        ids.iter()
            .all(|id| text.contains(&format!("{id} (product")))
    };
    let show = env.show("TWICE-1").to_string();
    assert!(both(&show), "`products show` names both variants: {show}");
    // The table cuts long details; `--json` has them whole.
    let history = env.json(&["history"]).to_string();
    assert!(both(&history), "`history` names both variants:\n{history}");
    // `status` shows the run partial; the reasons are in `history`.
    let status = env.ok(["status"]);
    assert!(
        status
            .lines()
            .any(|l| l.contains("export-products") && l.contains("partial")),
        "{status}"
    );
}

#[test]
fn an_export_owning_prices_and_stock_keeps_a_description_the_shop_edited() {
    let peer = VendurePeer::start();
    peer.accept_currencies(&["EUR"]);
    let env = vendure_env(&peer);
    env.load_jsonl("catalog.jsonl", &[shirt(1, 0), simple(1, 0)]);
    assert_ran(&env, &EXPORT, "first export");
    let (before, _) = read_shop(&peer);
    let edited = "<p>Written by the shop's own team.</p>";
    let product = peer.gql(
        "{ products(options: {filter: {slug: {eq: \"shirt-001\"}}}) { items { id } } }",
        json!({}),
    );
    peer.gql(
        "mutation($id: ID!, $d: String!) { updateProduct(input: {id: $id, translations: [{languageCode: en, \
         description: $d}]}) { id } }",
        json!({"id": product["products"]["items"][0]["id"], "d": edited}),
    );
    env.set_channel_key(CHANNEL, r#"export-fields = ["prices", "stock"]"#);
    // New prices and stock, and a new description, on the catalog.
    let mut next = shirt(1, 1);
    next["description"] = json!("<p>The catalog's new text.</p>");
    env.load_jsonl("changes.jsonl", &[next]);
    assert_ran(&env, &EXPORT, "export of owned fields");
    let (after, unsound) = read_shop(&peer);
    assert!(unsound.is_empty(), "{unsound:?}");
    let shirt = &after["shirt-001"];
    assert_eq!(shirt.description, edited, "the shop's description survives");
    let catalog = read_catalog(&env);
    for (sku, variant) in &shirt.variants {
        let wanted = &catalog["shirt-001"].variants[sku];
        assert_eq!(
            (&variant.prices, variant.stock),
            (&wanted.prices, wanted.stock),
            "{sku}: the owned fields follow the catalog"
        );
    }
    let mug = before
        .keys()
        .find(|h| h.starts_with("mug-0001"))
        .expect("the mug's handle");
    assert_eq!(
        after[mug], before[mug],
        "an unchanged product is left alone"
    );
}

/// Maps catalog locations to Vendure stock location ids on the env's channel.
fn map_locations(env: &TestEnv, channel: &str, locations: &[(&str, &str)]) {
    let path = env.account_file();
    let mut text = std::fs::read_to_string(&path).expect("read the account file");
    text.push_str(&format!("\n[channels.{channel}.locations]\n"));
    for (name, id) in locations {
        text.push_str(&format!("{name} = \"{id}\"\n"));
    }
    std::fs::write(&path, text).expect("write the account file");
}

/// Stock location id -> on hand, for the variant with `sku`.
fn stock_levels(peer: &VendurePeer, sku: &str) -> BTreeMap<String, i64> {
    let found = peer.gql(
        "query($sku: String!) { productVariants(options: {filter: {sku: {eq: $sku}}}) \
         { items { stockLevels { stockLocationId stockOnHand } } } }",
        json!({"sku": sku}),
    );
    found["productVariants"]["items"][0]["stockLevels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                l["stockLocationId"].as_str().expect("id").to_string(),
                l["stockOnHand"].as_i64().expect("on hand"),
            )
        })
        .collect()
}

#[test]
fn stock_goes_to_the_vendure_locations_the_channel_maps_and_comes_back_by_name() {
    let peer = VendurePeer::start();
    let default_location = peer.gql("{ stockLocations { items { id } } }", json!({}))
        ["stockLocations"]["items"][0]["id"]
        .as_str()
        .expect("the default stock location")
        .to_string();
    let berlin = peer.gql(
        "mutation { createStockLocation(input: {name: \"Berlin\"}) { id } }",
        json!({}),
    )["createStockLocation"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let env = vendure_env(&peer);
    let locations = [
        ("default", default_location.as_str()),
        ("berlin", berlin.as_str()),
    ];
    map_locations(&env, CHANNEL, &locations);
    let lamp = |berlin_stock: i64| {
        json!({
            "handle": "lamp",
            "title": "Lamp",
            "variants": [{"sku": "LAMP-1", "prices": {"USD": "30.00"},
                          "stock": {"default": 5, "berlin": berlin_stock, "paris": 2}}],
            "updated_at": "2026-12-01T10:00:00Z",
        })
    };
    env.load_jsonl("catalog.jsonl", &[lamp(3)]);
    assert_ran(&env, &EXPORT, "first export");
    assert_eq!(
        stock_levels(&peer, "LAMP-1"),
        BTreeMap::from([(default_location.clone(), 5), (berlin.clone(), 3)]),
        "each mapped location holds its stock; the unmapped `paris` is not written"
    );
    env.load_jsonl("changes.jsonl", &[lamp(8)]);
    assert_ran(&env, &EXPORT, "second export");
    assert_eq!(
        stock_levels(&peer, "LAMP-1"),
        BTreeMap::from([(default_location.clone(), 5), (berlin.clone(), 8)])
    );

    // The same shop as a master: its stock comes back by location name.
    let master = master_of(&peer);
    map_locations(&master, "master", &locations);
    assert_ran(
        &master,
        &["run-once", "--force", "--job", "import-products"],
        "import",
    );
    let shown = master.json(&["products", "show", "lamp"]);
    assert_eq!(
        shown["product"]["variants"][0]["stock"],
        json!({"berlin": 8, "default": 5}),
        "{shown:#}"
    );
}

/// The product of `slug` on the shop: its id, `updatedAt`, and its facet
/// values as (facet code, value name), sorted (Vendure keeps no order).
fn facet_values(peer: &VendurePeer, slug: &str) -> (Value, String, Vec<(String, String)>) {
    let found = peer.gql(
        "query($slug: String!) { products(options: {filter: {slug: {eq: $slug}}}) \
         { items { id updatedAt facetValues { name facet { code } } } } }",
        json!({ "slug": slug }),
    );
    let product = &found["products"]["items"][0];
    let mut values: Vec<(String, String)> = product["facetValues"]
        .as_array()
        .unwrap_or_else(|| panic!("no product `{slug}`: {found}"))
        .iter()
        .map(|v| {
            (
                v["facet"]["code"].as_str().expect("code").to_string(),
                v["name"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    values.sort();
    (
        product["id"].clone(),
        product["updatedAt"]
            .as_str()
            .expect("updatedAt")
            .to_string(),
        values,
    )
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn categories_and_tags_go_to_vendure_facets_and_an_edit_replaces_only_them() {
    let peer = VendurePeer::start();
    peer.accept_currencies(&["EUR"]);
    // The shop owner's own facet, which the tool must leave alone.
    let brand = peer.gql(
        "mutation { createFacet(input: {code: \"brand\", isPrivate: false, \
         translations: [{languageCode: en, name: \"Brand\"}], \
         values: [{code: \"acme\", translations: [{languageCode: en, name: \"Acme\"}]}]}) \
         { values { id } } }",
        json!({}),
    );
    let acme = brand["createFacet"]["values"][0]["id"].clone();
    let env = vendure_env(&peer);
    env.set_channel_key(CHANNEL, r#"tag-facet = "label""#);
    let with = |categories: &[&str], tags: &[&str]| {
        let mut shirt = shirt(1, 0);
        shirt["categories"] = json!(categories);
        shirt["tags"] = json!(tags);
        shirt
    };
    env.load_jsonl(
        "catalog.jsonl",
        &[
            with(&["Clothing > Shirts", "Summer"], &["cotton", "bestseller"]),
            simple(1, 0),
        ],
    );
    assert_ran(&env, &EXPORT, "first export");
    let (id, _, values) = facet_values(&peer, "shirt-001");
    assert_eq!(
        values,
        pairs(&[
            ("category", "Clothing > Shirts"),
            ("category", "Summer"),
            ("label", "bestseller"),
            ("label", "cotton"),
        ]),
        "the default category facet and the channel's tag facet, made on the way"
    );

    // The owner gives the product a brand.
    let mut ids: Vec<Value> = peer.gql(
        "query($id: ID!) { product(id: $id) { facetValues { id } } }",
        json!({ "id": id }),
    )["product"]["facetValues"]
        .as_array()
        .expect("facet values")
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    ids.push(acme);
    peer.gql(
        "mutation($id: ID!, $ids: [ID!]) { updateProduct(input: {id: $id, facetValueIds: $ids}) { id } }",
        json!({ "id": id, "ids": ids }),
    );

    env.load_jsonl("changes.jsonl", &[with(&["Summer", "Sale"], &["cotton"])]);
    assert_ran(&env, &EXPORT, "export of new categories and tags");
    let (_, updated_at, values) = facet_values(&peer, "shirt-001");
    assert_eq!(
        values,
        pairs(&[
            ("brand", "Acme"),
            ("category", "Sale"),
            ("category", "Summer"),
            ("label", "cotton"),
        ]),
        "categories and tags replaced, the brand kept"
    );
    let categories = peer.gql(
        "{ facets(options: {filter: {code: {eq: \"category\"}}}) { items { values { name } } } }",
        json!({}),
    );
    let mut names: Vec<&str> = categories["facets"]["items"][0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["Clothing > Shirts", "Sale", "Summer"],
        "an existing value is reused, never made twice"
    );

    // The same sets in another order are no change on the shop.
    env.load_jsonl("reordered.jsonl", &[with(&["Sale", "Summer"], &["cotton"])]);
    assert_ran(&env, &EXPORT, "export of the same sets reordered");
    let (_, unchanged_at, _) = facet_values(&peer, "shirt-001");
    assert_eq!(unchanged_at, updated_at, "nothing written");
}

/// The images of the product of `slug` on the shop, as the names of its
/// assets: the featured asset, then the assets in order.
pub(crate) fn shop_images(peer: &VendurePeer, slug: &str) -> (String, Vec<String>) {
    let found = peer.gql(
        "query($slug: String!) { products(options: {filter: {slug: {eq: $slug}}}) \
         { items { featuredAsset { name } assets { name } } } }",
        json!({ "slug": slug }),
    );
    let product = &found["products"]["items"][0];
    let names = product["assets"]
        .as_array()
        .unwrap_or_else(|| panic!("no product `{slug}`: {found}"))
        .iter()
        .map(|a| a["name"].as_str().expect("name").to_string())
        .collect();
    let featured = product["featuredAsset"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (featured, names)
}

pub(crate) fn asset_count(peer: &VendurePeer) -> u64 {
    peer.gql("{ assets { totalItems } }", json!({}))["assets"]["totalItems"]
        .as_u64()
        .expect("totalItems")
}

fn with_images<S: AsRef<str>>(mut product: Value, urls: &[S]) -> Value {
    product["images"] = json!(
        urls.iter()
            .map(|u| json!({ "url": u.as_ref() }))
            .collect::<Vec<_>>()
    );
    product
}

#[test]
fn images_are_uploaded_once_as_assets_named_by_their_url_and_a_changed_url_uploads_one() {
    let images = ImageServer::start();
    let peer = VendurePeer::start();
    peer.accept_currencies(&["EUR"]);
    let env = vendure_env(&peer);
    let (front, back) = (images.url("front.png"), images.url("back.png"));
    // Two products share the back image: one asset serves both.
    env.load_jsonl(
        "catalog.jsonl",
        &[
            with_images(shirt(1, 0), &[front.clone(), back.clone()]),
            with_images(shirt(2, 0), &[&back]),
        ],
    );
    assert_ran(&env, &EXPORT, "first export");
    assert_eq!(
        shop_images(&peer, "shirt-001"),
        (front.clone(), vec![front.clone(), back.clone()]),
        "both images in order, the first featured"
    );
    assert_eq!(
        shop_images(&peer, "shirt-002"),
        (back.clone(), vec![back.clone()])
    );
    assert_eq!((asset_count(&peer), images.served()), (2, 2));

    // New prices: an export that writes the products uploads nothing.
    env.load_jsonl(
        "prices.jsonl",
        &[
            with_images(shirt(1, 1), &[front.clone(), back.clone()]),
            with_images(shirt(2, 1), &[&back]),
        ],
    );
    let rows = env.run_once(&EXPORT[1..]);
    assert_eq!(rows.get(CHANNEL, "export-products").items, 2);
    assert_eq!(
        (asset_count(&peer), images.served()),
        (2, 2),
        "a re-export uploads nothing"
    );

    // One URL changes: exactly one upload.
    let side = images.url("side.png");
    env.load_jsonl(
        "side.jsonl",
        &[with_images(shirt(1, 1), &[front.clone(), side.clone()])],
    );
    assert_ran(&env, &EXPORT, "export of a changed image");
    assert_eq!((asset_count(&peer), images.served()), (3, 3));
    assert_eq!(
        shop_images(&peer, "shirt-001"),
        (front.clone(), vec![front.clone(), side.clone()])
    );

    // An export that does not own images leaves them as they are.
    env.set_channel_key(CHANNEL, r#"export-fields = ["prices", "stock"]"#);
    env.load_jsonl(
        "unowned.jsonl",
        &[with_images(shirt(1, 2), &[images.url("other.png")])],
    );
    assert_ran(&env, &EXPORT, "export not owning images");
    assert_eq!(
        shop_images(&peer, "shirt-001"),
        (front.clone(), vec![front, side])
    );
    assert_eq!((asset_count(&peer), images.served()), (3, 3));
}

#[test]
fn an_image_that_cannot_be_fetched_refuses_its_product_alone_naming_the_url() {
    let images = ImageServer::start();
    let peer = VendurePeer::start();
    peer.accept_currencies(&["EUR"]);
    let env = vendure_env(&peer);
    let missing = images.url("missing-front.png");
    env.load_jsonl(
        "catalog.jsonl",
        &[
            with_images(shirt(1, 0), &[images.url("front.png")]),
            with_images(shirt(2, 0), &[&missing]),
        ],
    );
    let (code, doc, stderr) = env.run_once_any(&EXPORT[1..]);
    assert_ne!(
        code, 0,
        "a refused product makes the run partial: {doc:#}\n{stderr}"
    );
    let (shop, _) = read_shop(&peer);
    assert!(
        shop.contains_key("shirt-001") && !shop.contains_key("shirt-002"),
        "{:?}",
        shop.keys()
    );
    let show = env.show("shirt-002").to_string();
    assert!(
        show.contains(&missing) && show.contains("404"),
        "`products show` names the image and why: {show}"
    );
}

#[test]
fn a_run_killed_between_upload_and_product_write_leaves_no_duplicate_asset() {
    let images = ImageServer::start();
    let peer = VendurePeer::start();
    peer.accept_currencies(&["EUR"]);
    let env = vendure_env(&peer);
    let urls = [images.url("front.png"), images.url("back.png")];
    env.load_jsonl("catalog.jsonl", &[with_images(shirt(1, 0), &urls)]);
    let (_, out) = env.run_killed_at("vendure-assets-uploaded", EXPORT);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(asset_count(&peer), 2, "uploaded before the kill");
    assert_ran(&env, &EXPORT, "the run after the kill");
    assert_eq!(asset_count(&peer), 2, "the uploads were adopted by name");
    assert_eq!(images.served(), 2);
    assert_eq!(
        shop_images(&peer, "shirt-001"),
        (urls[0].clone(), urls.to_vec())
    );
}

#[test]
fn a_vendure_masters_images_come_back_by_url_and_reach_a_second_vendure_in_order() {
    let images = ImageServer::start();
    let master = VendurePeer::start();
    master.accept_currencies(&["EUR"]);
    let shop = VendurePeer::start();
    shop.accept_currencies(&["EUR"]);
    // The master's owner made the product with the tool once.
    let urls = [images.url("front.png"), images.url("back.png")];
    let seed = vendure_env(&master);
    seed.load_jsonl("catalog.jsonl", &[with_images(shirt(1, 0), &urls)]);
    assert_ran(&seed, &EXPORT, "the master's products");
    let env = master_and_shop(&master, &shop);
    assert_ran(
        &env,
        &["run-once", "--force", "--job", "import-products"],
        "import from the master",
    );
    let imported = env.show("shirt-001");
    let imported_urls: Vec<&str> = imported["product"]["images"]
        .as_array()
        .unwrap_or_else(|| panic!("images: {imported:#}"))
        .iter()
        .map(|i| i["url"].as_str().expect("url"))
        .collect();
    assert_eq!(imported_urls, urls, "{imported:#}");
    assert_ran(&env, &EXPORT, "export to the second Vendure");
    assert_eq!(
        shop_images(&shop, "shirt-001"),
        (urls[0].clone(), urls.to_vec()),
        "the same images in order, the first featured"
    );
    assert_eq!(asset_count(&shop), 2);
}

/// The `omsAttributes` custom field of the product of `slug` and of its
/// variants (by SKU), as the shop holds them.
fn shop_attributes(peer: &VendurePeer, slug: &str) -> (Value, BTreeMap<String, Value>) {
    let found = peer.gql(
        "query($slug: String!) { products(options: {filter: {slug: {eq: $slug}}}) \
         { items { customFields { omsAttributes } variants { sku customFields { omsAttributes } } } } }",
        json!({ "slug": slug }),
    );
    let product = &found["products"]["items"][0];
    let variants = product["variants"]
        .as_array()
        .unwrap_or_else(|| panic!("no product `{slug}`: {found}"))
        .iter()
        .map(|v| {
            (
                v["sku"].as_str().expect("sku").to_string(),
                v["customFields"]["omsAttributes"].clone(),
            )
        })
        .collect();
    (product["customFields"]["omsAttributes"].clone(), variants)
}

#[test]
fn attributes_travel_as_json_in_the_custom_field_the_channel_names_and_only_then() {
    let peer = VendurePeer::start();
    peer.accept_currencies(&["EUR"]);
    let env = vendure_env(&peer);
    let with_attributes = |round: u32, fit: &str| {
        let mut shirt = shirt(1, round);
        shirt["attributes"] = json!({"brand": "Acme", "material": "cotton"});
        shirt["variants"][0]["attributes"] = json!({ "fit": fit });
        shirt
    };
    env.load_jsonl("catalog.jsonl", &[with_attributes(0, "slim")]);
    // A stock Vendure has no custom field: without the setting nothing is written.
    assert_ran(&env, &EXPORT, "export without attributes-field");
    let (product, variants) = shop_attributes(&peer, "shirt-001");
    assert_eq!(product, Value::Null);
    assert!(variants.values().all(Value::is_null), "{variants:?}");

    // With the setting, the product's next export (new prices) writes them.
    env.set_channel_key(CHANNEL, r#"attributes-field = "omsAttributes""#);
    env.load_jsonl("prices.jsonl", &[with_attributes(1, "slim")]);
    assert_ran(&env, &EXPORT, "export with attributes-field");
    let (product, variants) = shop_attributes(&peer, "shirt-001");
    assert_eq!(product, json!(r#"{"brand":"Acme","material":"cotton"}"#));
    assert_eq!(variants["TS001-S"], json!(r#"{"fit":"slim"}"#));
    assert_eq!(
        variants["TS001-M"],
        Value::Null,
        "no attributes: nothing written"
    );

    // One variant's attribute changes: only it is written.
    env.load_jsonl("fit.jsonl", &[with_attributes(1, "regular")]);
    assert_ran(&env, &EXPORT, "export of a changed attribute");
    let (_, after) = shop_attributes(&peer, "shirt-001");
    assert_eq!(after["TS001-S"], json!(r#"{"fit":"regular"}"#));
    assert_eq!(after["TS001-M"], variants["TS001-M"]);

    // Vendure as master: the attributes come back from the field.
    let master = master_of(&peer);
    master.set_channel_key("master", r#"attributes-field = "omsAttributes""#);
    assert_ran(
        &master,
        &["run-once", "--force", "--job", "import-products"],
        "import with attributes-field",
    );
    let shown = master.show("shirt-001");
    assert_eq!(
        shown["product"]["attributes"],
        json!({"brand": "Acme", "material": "cotton"}),
        "{shown:#}"
    );
    let small = shown["product"]["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["sku"] == "TS001-S")
        .expect("TS001-S");
    assert_eq!(small["attributes"], json!({"fit": "regular"}));

    // A name that cannot be a field fails the channel's jobs, naming it.
    let env = vendure_env(&peer);
    env.set_channel_key(CHANNEL, r#"attributes-field = "oms-attributes""#);
    env.load_jsonl("catalog.jsonl", &[with_attributes(2, "slim")]);
    let out = env.run(EXPORT);
    assert_ne!(out.status.code(), Some(0));
    let text = describe(&out);
    assert!(
        text.contains("attributes-field") && text.contains("oms-attributes"),
        "{text}"
    );
}
