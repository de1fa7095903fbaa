//! Whole products from one kind of shop to the other, through the binary
//! and against the real peers (issue 18's first test): a Vendure master's
//! 3-variant product reaches Medusa whole, a Medusa master's reaches
//! Vendure whole, each beside 200 simple products, and an edit on the
//! master (one variant's USD price, the description) changes exactly that
//! on the other shop. Both images travel both ways: Vendure's as the URLs
//! it serves its assets at, Medusa's uploaded to Vendure as assets.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use test_support::images::{ImageServer, png_for};
use test_support::output::describe;
use test_support::peer::Peer;
use test_support::peer::medusa::MedusaShop;
use test_support::peer::vendure::{NewVariant, VendurePeer};
use test_support::{CHANNEL, TestEnv};

use crate::medusa_shop::{SIZES, TEE_EUR, assert_tee, changed_skus, edit_tee, make_tee};
use crate::vendure_shop::{asset_count, shop_images};

const IMPORT: [&str; 4] = ["run-once", "--force", "--job", "import-products"];
const EXPORT: [&str; 4] = ["run-once", "--force", "--job", "export-products"];
const DESCRIPTION: &str = "<p>Soft cotton</p>";
const EDITED_DESCRIPTION: &str = "<p>Softer cotton</p>";

/// `master` as the account's master (importing), `shop` as [`CHANNEL`]
/// (exporting).
pub(crate) fn master_and_shop(master: &dyn Peer, shop: &dyn Peer) -> TestEnv {
    TestEnv::builder()
        .channel(
            "master",
            master,
            &[("auth-refresh", "1h"), ("import-products", "1h")],
        )
        .channel(
            CHANNEL,
            shop,
            &[("auth-refresh", "1h"), ("export-products", "1h")],
        )
        .master("master")
        .build()
}

fn ran(env: &TestEnv, args: [&str; 4], context: &str) {
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(0), "{context}: {}", describe(&out));
}

/// A facet of `code` with values named `names`; their ids.
fn facet(peer: &VendurePeer, code: &str, names: &[&str]) -> Vec<Value> {
    let values: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({"code": format!("{code}-{i}"), "translations": [{"languageCode": "en", "name": name}]})
        })
        .collect();
    let made = peer.gql(
        "mutation($input: CreateFacetInput!) { createFacet(input: $input) { values { id } } }",
        json!({"input": {"code": code, "isPrivate": false,
               "translations": [{"languageCode": "en", "name": code}], "values": values}}),
    );
    made["createFacet"]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v["id"].clone())
        .collect()
}

/// The tee of [`make_tee`] as a Vendure owner makes it: two images
/// uploaded as assets (the first featured), categories and tags as values
/// of the `category` and `tag` facets, an option group Size, three variants
/// priced in USD and EUR with stock; and 200 simple products priced in USD.
/// Returns the URLs Vendure serves the images at, in order.
fn make_vendure_tee(peer: &VendurePeer) -> Vec<String> {
    let mut facet_values = facet(peer, "category", &["Clothing > Shirts", "Summer"]);
    facet_values.extend(facet(peer, "tag", &["cotton", "bestseller"]));
    let (ids, urls): (Vec<String>, Vec<String>) = ["tee-front.png", "tee-back.png"]
        .iter()
        .map(|name| peer.upload_asset(name, &png_for(name)))
        .unzip();
    let product = peer.gql(
        "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }",
        json!({"input": {"enabled": true, "facetValueIds": facet_values,
               "assetIds": ids, "featuredAssetId": ids[0],
               "translations": [{"languageCode": "en", "name": "Tee", "slug": "tee",
                                 "description": DESCRIPTION}]}}),
    );
    let product_id = product["createProduct"]["id"].clone();
    let group = peer.gql(
        "mutation($input: CreateProductOptionGroupInput!) { createProductOptionGroup(input: $input) \
         { id options { id name } } }",
        json!({"input": {"code": "tee-size", "translations": [{"languageCode": "en", "name": "Size"}],
               "options": SIZES.map(|s| json!({"code": s.to_lowercase(),
                                               "translations": [{"languageCode": "en", "name": s}]}))}}),
    );
    let group = &group["createProductOptionGroup"];
    peer.gql(
        "mutation($p: ID!, $g: ID!) { addOptionGroupToProduct(productId: $p, optionGroupId: $g) { id } }",
        json!({"p": product_id, "g": group["id"]}),
    );
    let options = group["options"].as_array().expect("options");
    let input: Vec<Value> = SIZES
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let option = options
                .iter()
                .find(|o| o["name"] == *size)
                .expect("an option per size");
            json!({"productId": product_id, "sku": format!("TEE-{size}"), "price": (21 + i) * 100,
                   "stockOnHand": 10 + i, "optionIds": [option["id"]],
                   "translations": [{"languageCode": "en", "name": format!("Tee {size}")}]})
        })
        .collect();
    let created = peer.gql(
        "mutation($input: [CreateProductVariantInput!]!) { createProductVariants(input: $input) { id sku } }",
        json!({ "input": input }),
    );
    // Vendure's create takes the default currency alone: EUR in an update.
    let eur: Vec<Value> = created["createProductVariants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| {
            let i = SIZES
                .iter()
                .position(|s| v["sku"] == format!("TEE-{s}"))
                .expect("a tee SKU");
            json!({"id": v["id"], "prices": [{"currencyCode": "EUR", "price": 1990 + 100 * i}]})
        })
        .collect();
    peer.gql(
        "mutation($input: [UpdateProductVariantInput!]!) { updateProductVariants(input: $input) { id } }",
        json!({ "input": eur }),
    );
    let simple: Vec<NewVariant> = (1..=200).map(NewVariant::numbered).collect();
    peer.create_variants(&simple);
    urls
}

/// Makes EUR the default currency of `peer`'s channel, with USD accepted
/// beside it.
fn euro_channel(peer: &VendurePeer) {
    peer.accept_currencies(&["EUR"]);
    let channel = peer.gql("{ activeChannel { id } }", json!({}));
    let updated = peer.gql(
        "mutation($id: ID!) { updateChannel(input: {id: $id, defaultCurrencyCode: EUR}) \
         { __typename } }",
        json!({"id": channel["activeChannel"]["id"]}),
    );
    assert_eq!(
        updated["updateChannel"]["__typename"], "Channel",
        "{updated}"
    );
}

/// The variant ids of the tee on `peer`, by SKU.
fn vendure_tee_variants(peer: &VendurePeer) -> BTreeMap<String, String> {
    SIZES
        .iter()
        .map(|s| {
            let sku = format!("TEE-{s}");
            let held = peer.variants_with_sku(&sku);
            assert_eq!(held.len(), 1, "{sku} once on Vendure: {held:?}");
            (sku, held[0].id.clone())
        })
        .collect()
}

#[test]
fn a_vendure_masters_product_reaches_medusa_whole_and_an_edit_changes_exactly_that() {
    let vendure = VendurePeer::start();
    vendure.accept_currencies(&["EUR"]);
    let medusa = MedusaShop::start();
    let images = make_vendure_tee(&vendure);
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    let env = master_and_shop(&vendure, &medusa);

    ran(&env, IMPORT, "import from Vendure");
    assert_eq!(env.catalog_count(), 201);
    ran(&env, EXPORT, "export to Medusa");
    let on_shop = medusa.wait(medusa.admin.product_json("tee"));
    assert_tee(&on_shop, DESCRIPTION, "22", &images);
    assert_eq!(medusa.read_back().products.len(), 201);
    let shop_before = medusa.wait(medusa.admin.products());

    // The master's owner edits one variant's USD price and the description.
    let tee = vendure_tee_variants(&vendure);
    vendure.update_variant(&tee["TEE-M"], json!({ "price": 2450 }));
    let product_id = vendure.variants_with_sku("TEE-M")[0].product_id.clone();
    vendure.gql(
        "mutation($id: ID!, $d: String!) { updateProduct(input: {id: $id, translations: \
         [{languageCode: en, description: $d}]}) { id } }",
        json!({"id": product_id, "d": EDITED_DESCRIPTION}),
    );
    ran(&env, IMPORT, "import of the edit");
    let rows = env.run_once(&EXPORT[1..]);
    assert_eq!(
        rows.get(CHANNEL, "export-products").items,
        1,
        "only the edited product is sent"
    );
    let on_shop = medusa.wait(medusa.admin.product_json("tee"));
    assert_tee(&on_shop, EDITED_DESCRIPTION, "24.5", &images);
    let changed = changed_skus(&shop_before, &medusa.wait(medusa.admin.products()));
    assert_eq!(
        changed,
        [Some("TEE-M".to_string())],
        "exactly one variant changed on Medusa"
    );
}

/// The tee as Vendure holds it, in a form to compare: name, description,
/// enabled, option groups, facet values (facet code, name) sorted, and per
/// SKU (name, option, prices by currency, stock on hand).
type VendureTee = (
    String,
    String,
    bool,
    Vec<String>,
    Vec<(String, String)>,
    BTreeMap<String, (String, String, BTreeMap<String, i64>, i64)>,
);

fn vendure_tee(peer: &VendurePeer) -> VendureTee {
    let found = peer.gql(
        "{ products(options: {filter: {slug: {eq: \"tee\"}}}) { totalItems items { name description \
           enabled optionGroups { name } facetValues { name facet { code } } \
           variants { sku name stockOnHand prices { currencyCode price } options { name } } } } }",
        json!({}),
    );
    assert_eq!(found["products"]["totalItems"], 1, "one tee: {found}");
    let p = &found["products"]["items"][0];
    let text = |v: &Value| v.as_str().expect("text").to_string();
    let mut facets: Vec<(String, String)> = p["facetValues"]
        .as_array()
        .expect("facet values")
        .iter()
        .map(|v| (text(&v["facet"]["code"]), text(&v["name"])))
        .collect();
    facets.sort();
    let variants = p["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| {
            let prices = v["prices"]
                .as_array()
                .expect("prices")
                .iter()
                .map(|p| {
                    (
                        text(&p["currencyCode"]),
                        p["price"].as_i64().expect("price"),
                    )
                })
                .collect();
            (
                text(&v["sku"]),
                (
                    text(&v["name"]),
                    text(&v["options"][0]["name"]),
                    prices,
                    v["stockOnHand"].as_i64().expect("stock"),
                ),
            )
        })
        .collect();
    (
        text(&p["name"]),
        text(&p["description"]),
        p["enabled"].as_bool().expect("enabled"),
        p["optionGroups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| text(&g["name"]))
            .collect(),
        facets,
        variants,
    )
}

/// What the tee of [`make_tee`] is on Vendure, with `description` and
/// `TEE-M`'s USD price (minor units).
fn expected_vendure_tee(description: &str, m_usd: i64) -> VendureTee {
    let facets = [
        ("category", "Clothing > Shirts"),
        ("category", "Summer"),
        ("tag", "bestseller"),
        ("tag", "cotton"),
    ]
    .map(|(f, n)| (f.to_string(), n.to_string()))
    .to_vec();
    let variants = SIZES
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let usd = if *size == "M" {
                m_usd
            } else {
                2100 + 100 * i as i64
            };
            let eur = (TEE_EUR[i] * 100.0).round() as i64;
            (
                format!("TEE-{size}"),
                (
                    format!("Tee {size}"),
                    size.to_string(),
                    BTreeMap::from([("EUR".to_string(), eur), ("USD".to_string(), usd)]),
                    10 + i as i64,
                ),
            )
        })
        .collect();
    (
        "Tee".into(),
        description.into(),
        true,
        vec!["Size".into()],
        facets,
        variants,
    )
}

#[test]
fn a_medusa_masters_product_reaches_vendure_whole_and_an_edit_changes_exactly_that() {
    let medusa = MedusaShop::start();
    let vendure = VendurePeer::start();
    // Medusa's simple products are priced in EUR alone.
    euro_channel(&vendure);
    // Images Vendure can fetch, to upload them.
    let image_server = ImageServer::start();
    let images = [
        image_server.url("tee-front.png"),
        image_server.url("tee-back.png"),
    ];
    make_tee(&medusa, &images.each_ref().map(String::as_str));
    let env = master_and_shop(&medusa, &vendure);

    ran(&env, IMPORT, "import from Medusa");
    assert_eq!(env.catalog_count(), 201);
    ran(&env, EXPORT, "export to Vendure");
    assert_eq!(
        vendure_tee(&vendure),
        expected_vendure_tee(DESCRIPTION, 2200)
    );
    assert_eq!(
        shop_images(&vendure, "tee"),
        (images[0].clone(), images.to_vec()),
        "both images uploaded as assets, in order, the first featured"
    );
    assert_eq!(asset_count(&vendure), 2);
    let total = vendure.gql("{ products { totalItems } }", json!({}));
    assert_eq!(total["products"]["totalItems"], 201);
    let before = vendure.variants();

    edit_tee(&medusa);
    ran(&env, IMPORT, "import of the edit");
    let rows = env.run_once(&EXPORT[1..]);
    assert_eq!(
        rows.get(CHANNEL, "export-products").items,
        1,
        "only the edited product is sent"
    );
    assert_eq!(
        vendure_tee(&vendure),
        expected_vendure_tee(EDITED_DESCRIPTION, 2450)
    );
    let after = vendure.variants();
    let changed: Vec<&str> = after
        .iter()
        .filter(|a| !before.contains(a))
        .map(|a| a.sku.as_str())
        .collect();
    assert_eq!(changed, ["TEE-M"], "exactly one variant changed on Vendure");
    assert_eq!(
        (asset_count(&vendure), image_server.served()),
        (2, 2),
        "the images were not uploaded again"
    );
}

/// Issue 16's figure: the wall time of exporting 2,500 products (one
/// variant each, priced in EUR) to each peer through the binary: the first
/// export (creates), then one after every price changed (updates).
/// Measured, not asserted (the machine's load moves it); run with
/// `cargo test --test it -- --ignored --nocapture export_of_2500`, and with
/// `OMS_CHANNELS_BIN=<another build's binary>` to time that build.
#[test]
#[ignore = "a measurement: minutes of peer time, prints figures"]
fn export_of_2500_products_to_each_peer_is_timed() {
    let products = |price: &str| test_support::catalog::numbered(0..2500, price);
    let time = |env: &TestEnv, what: &str| {
        let started = std::time::Instant::now();
        ran(env, EXPORT, what);
        started.elapsed()
    };
    let vendure = VendurePeer::start();
    euro_channel(&vendure);
    let medusa = MedusaShop::start();
    for (name, peer) in [("Vendure", &vendure as &dyn Peer), ("Medusa", &medusa)] {
        let env = TestEnv::with_channel(
            test_support::Backend::Sqlite,
            peer,
            &[("auth-refresh", "1h"), ("export-products", "1h")],
        );
        env.load_jsonl("first.jsonl", &products("2.00"));
        let creates = time(&env, "first export");
        env.load_jsonl("prices.jsonl", &products("3.00"));
        let updates = time(&env, "export of new prices");
        assert_eq!(peer.read_back().products.len(), 2500, "{name}");
        eprintln!(
            "export of 2,500 products to {name} ({}): creates {:.1} s, updates {:.1} s",
            test_support::oms_channels_bin().display(),
            creates.as_secs_f64(),
            updates.as_secs_f64()
        );
    }
}
