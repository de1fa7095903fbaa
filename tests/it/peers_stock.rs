//! Stock export at the connector seam against the real peers: absolute
//! levels at two mapped stock locations, read back through the shop's own
//! admin API; unknown SKUs and locations; resends that write nothing; hand
//! edits that `read_stock` sees; the platform's reservations left alone.
//! A counting proxy between connector and shop counts the requests.
//!
//! The `#[ignore]`d `*_stock_of_1000_skus_at_2_locations` tests measure a
//! 2,000-level send: `cargo test --test it stock_of_1000 -- --ignored --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use oms_channels::capabilities::Capabilities;
use oms_channels::connector::{
    self, AuthMethod, Authorization, ClientOptions, Connector, LocationMap, Settings, StockOutcome,
    StockReading, StockSet,
};
use test_support::peer::medusa::{ADMIN_EMAIL, ADMIN_PASSWORD, MedusaPeer, NewProduct};
use test_support::peer::proxy::{
    CountingProxy, Seen, count, graphql, medusa_levels_written, vendure_levels_written,
};
use test_support::peer::vendure::{NewVariant, SUPERADMIN, SUPERADMIN_PASSWORD, VendurePeer};

/// The connector of channel type `type_name` at `base_url`, as the runner
/// builds it, with the type's built-in limits.
fn connector(type_name: &str, base_url: &str, locations: LocationMap) -> Box<dyn Connector> {
    let capabilities = Capabilities::built_in();
    let channel_type = capabilities.get(type_name).expect("a built-in type");
    connector::connect(
        &channel_type.protocol,
        Settings {
            base_url: connector::check_url(base_url).expect("a loopback URL"),
            auth_method: AuthMethod::Login,
            limits: channel_type.limits(),
            options: ClientOptions::default(),
            sales_channel_id: None,
            stock_location_id: None,
            locations,
            category_facet: None,
            tag_facet: None,
            attributes_field: None,
        },
    )
    .expect("connect")
}

async fn log_in(connector: &dyn Connector, username: &str, password: &str) -> String {
    connector
        .authenticate(Authorization::Login {
            username,
            password,
            current: None,
        })
        .await
        .expect("login")
        .access_token
}

fn level(sku: &str, location: &str, available: i64) -> StockSet {
    StockSet {
        sku: sku.into(),
        location: location.into(),
        available,
    }
}

fn reading(sku: &str, location: &str, quantity: i64) -> StockReading {
    StockReading {
        sku: sku.into(),
        location: location.into(),
        quantity,
    }
}

fn locations(pairs: &[(&str, &str)]) -> LocationMap {
    pairs
        .iter()
        .map(|(name, id)| (name.to_string(), id.to_string()))
        .collect()
}

/// One batch of every kind, for a shop with ST-1 (4 on hand) and ST-2 (9)
/// at the `default` location: new and changed levels at both locations,
/// one the shop holds already (ST-2 at `default`), a SKU the shop lacks,
/// a location the channel does not map, one the shop does not have.
fn mixed_batch() -> Vec<StockSet> {
    vec![
        level("ST-1", "default", 10),
        level("ST-1", "berlin", 3),
        level("ST-2", "default", 9),
        level("ST-2", "berlin", 0),
        level("NOPE", "default", 5),
        level("ST-1", "paris", 1),
        level("ST-2", "gone", 1),
    ]
}

const MIXED_OUTCOMES: [StockOutcome; 7] = [
    StockOutcome::Set,
    StockOutcome::Set,
    StockOutcome::Set,
    StockOutcome::Set,
    StockOutcome::UnknownSku,
    StockOutcome::UnknownLocation,
    StockOutcome::UnknownLocation,
];

/// What `read_stock` of ST-1, ST-2 and NOPE gives after [`mixed_batch`]
/// and a hand edit of ST-2 at `berlin` to 7: by catalog location, and no
/// reading for the SKU the shop lacks.
fn after_hand_edit() -> Vec<StockReading> {
    vec![
        reading("ST-1", "berlin", 3),
        reading("ST-1", "default", 10),
        reading("ST-2", "berlin", 7),
        reading("ST-2", "default", 9),
    ]
}

fn read_skus() -> Vec<String> {
    ["ST-1", "ST-2", "NOPE"].map(String::from).to_vec()
}

/// Sends `skus` at `default` and `berlin` three times (new levels, then
/// changed, then the same again) in batches of the connector's
/// `batch-size`, and prints each round's wall time and the requests the
/// shop received (`kinds`: look-ups, writes and levels written among them).
async fn measure(
    shop: &str,
    connector: &dyn Connector,
    access: &str,
    proxy: &CountingProxy,
    skus: &[String],
    kinds: impl Fn(&[Seen]) -> (usize, usize, usize),
) {
    let batch = connector.limits().batch_size;
    for (round, value) in [
        ("first send (the second location's levels are new)", 20),
        ("changed", 30),
        ("unchanged", 30),
    ] {
        let levels: Vec<StockSet> = skus
            .iter()
            .flat_map(|s| [level(s, "default", value), level(s, "berlin", value + 1)])
            .collect();
        let started = Instant::now();
        for chunk in levels.chunks(batch) {
            let outcomes = connector.send_stock(access, chunk).await.expect("send");
            assert!(
                outcomes.iter().all(|o| *o == StockOutcome::Set),
                "{outcomes:?}"
            );
        }
        let took = started.elapsed();
        let seen = proxy.take();
        let (lookups, writes, written) = kinds(&seen);
        eprintln!(
            "{shop}, {round}: {} levels in {took:.2?} ({batch} a batch), {} requests ({lookups} look-ups, {writes} writes carrying {written} levels)",
            levels.len(),
            seen.len(),
        );
    }
}

// ------------------------------------------------------------------ Medusa

fn product(sku: &str, quantity: i64) -> NewProduct {
    NewProduct {
        sku: sku.into(),
        title: format!("Stock {sku}"),
        amount: "10.00".into(),
        quantity,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medusa_stock_sets_absolute_levels_at_mapped_locations_and_leaves_reservations_alone() {
    let peer = MedusaPeer::start().await;
    let admin = peer.admin().await;
    let (main, berlin) = (
        peer.stock_location_id.clone(),
        peer.second_stock_location_id.clone(),
    );
    // Levels at the main location only, as the seeding shop owner made them.
    admin
        .create_products(&[product("ST-1", 4), product("ST-2", 9)])
        .await;
    admin.reserve("ST-1", &main, 2).await;
    let proxy = CountingProxy::start(&peer.base_url);
    let medusa = connector(
        "medusa",
        proxy.url(),
        locations(&[
            ("default", &main),
            ("berlin", &berlin),
            ("gone", "sloc_01NOTALOCATION"),
        ]),
    );
    let access = log_in(medusa.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let skus_before: BTreeSet<Option<String>> =
        admin.variants().await.into_iter().map(|v| v.sku).collect();
    proxy.take();

    let levels = mixed_batch();
    let outcomes = medusa.send_stock(&access, &levels).await.expect("send");
    assert_eq!(outcomes, MIXED_OUTCOMES);
    let seen = proxy.take();
    assert_eq!(
        count(&seen, "GET", "/admin/product-variants"),
        1,
        "one look-up for the batch: {seen:#?}"
    );
    assert_eq!(
        count(
            &seen,
            "POST",
            "/admin/inventory-items/location-levels/batch"
        ),
        1,
        "one write for the batch: {seen:#?}"
    );
    assert_eq!(
        count(&seen, "POST", ""),
        1,
        "nothing else is written: {seen:#?}"
    );
    assert_eq!(
        medusa_levels_written(&seen),
        3,
        "the level Medusa held already (ST-2 at default) is not sent"
    );

    let at = |sku: &'static str, location: &str| {
        let admin = &admin;
        let location = location.to_string();
        async move {
            let level = admin
                .stock_level(sku, &location)
                .await
                .unwrap_or_else(|| panic!("{sku} has no level at {location}"));
            (level.stocked_quantity, level.reserved_quantity)
        }
    };
    assert_eq!(
        at("ST-1", &main).await,
        (10, 2),
        "stocked is set; Medusa's reservation stays"
    );
    assert_eq!(at("ST-1", &berlin).await, (3, 0), "a new level");
    assert_eq!(at("ST-2", &main).await, (9, 0));
    assert_eq!(at("ST-2", &berlin).await, (0, 0));
    let skus_after: BTreeSet<Option<String>> =
        admin.variants().await.into_iter().map(|v| v.sku).collect();
    assert_eq!(
        skus_after, skus_before,
        "an unknown SKU creates no product or variant"
    );

    // The same levels again: all held already, nothing written.
    let again = medusa.send_stock(&access, &levels).await.expect("resend");
    assert_eq!(again, outcomes);
    let seen = proxy.take();
    assert_eq!(
        count(&seen, "POST", ""),
        0,
        "a resend writes nothing: {seen:#?}"
    );
    assert_eq!(at("ST-1", &main).await, (10, 2));

    // A hand edit on the shop is what read_stock sees.
    admin.set_stock_level("ST-2", &berlin, 7).await;
    let read = medusa
        .read_stock(&access, &read_skus())
        .await
        .expect("read");
    assert_eq!(
        read,
        after_hand_edit(),
        "by catalog location; a SKU the shop lacks has no reading"
    );
    // Setting it back repairs only that level.
    let repaired = medusa
        .send_stock(
            &access,
            &[level("ST-2", "berlin", 0), level("ST-1", "berlin", 3)],
        )
        .await
        .expect("repair");
    assert_eq!(repaired, [StockOutcome::Set, StockOutcome::Set]);
    let seen = proxy.take();
    let writes: Vec<&Seen> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(writes.len(), 1, "{seen:#?}");
    let body: serde_json::Value = serde_json::from_str(&writes[0].body).expect("JSON");
    assert_eq!(
        body["update"].as_array().map(Vec::len),
        Some(1),
        "only the drifted level: {body}"
    );
    assert_eq!(body["create"].as_array().map(Vec::len), Some(0), "{body}");
    assert_eq!(at("ST-2", &berlin).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medusa_stock_without_a_location_map_uses_the_default_location() {
    let peer = MedusaPeer::start().await;
    let admin = peer.admin().await;
    admin.create_products(&[product("ONE-1", 4)]).await;
    let medusa = connector("medusa", &peer.base_url, LocationMap::new());
    let access = log_in(medusa.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let outcomes = medusa
        .send_stock(
            &access,
            &[level("ONE-1", "default", 6), level("ONE-1", "berlin", 1)],
        )
        .await
        .expect("send");
    assert_eq!(outcomes, [StockOutcome::Set, StockOutcome::UnknownLocation]);
    let main = admin
        .stock_level("ONE-1", &peer.stock_location_id)
        .await
        .expect("a level");
    assert_eq!(main.stocked_quantity, 6);
    assert_eq!(
        admin
            .stock_level("ONE-1", &peer.second_stock_location_id)
            .await,
        None,
        "the unmapped second location is not touched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: 2,000 levels to a real Medusa (about a minute)"]
async fn medusa_stock_of_1000_skus_at_2_locations() {
    let peer = MedusaPeer::start().await;
    let admin = peer.admin().await;
    let products: Vec<NewProduct> = (0..1000)
        .map(|i| product(&format!("M-{i:05}"), 1))
        .collect();
    admin.create_products(&products).await;
    let proxy = CountingProxy::start(&peer.base_url);
    let map = locations(&[
        ("default", &peer.stock_location_id),
        ("berlin", &peer.second_stock_location_id),
    ]);
    let medusa = connector("medusa", proxy.url(), map);
    let access = log_in(medusa.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    proxy.take();
    let skus: Vec<String> = products.iter().map(|p| p.sku.clone()).collect();
    measure("Medusa", medusa.as_ref(), &access, &proxy, &skus, |seen| {
        (
            count(seen, "GET", "/admin/product-variants"),
            count(seen, "POST", "/location-levels/batch"),
            medusa_levels_written(seen),
        )
    })
    .await;
    let last = admin
        .stock_level("M-00999", &peer.second_stock_location_id)
        .await
        .expect("a level");
    assert_eq!(last.stocked_quantity, 31);
}

// ----------------------------------------------------------------- Vendure

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn variant(sku: &str, stock_on_hand: i64) -> NewVariant {
    NewVariant {
        sku: sku.into(),
        name: format!("Stock {sku}"),
        price: 1000,
        stock_on_hand,
    }
}

#[test]
fn vendure_stock_sets_on_hand_at_mapped_locations_and_reads_it_back() {
    let peer = VendurePeer::start();
    let main = peer.default_stock_location();
    let second = peer.second_stock_location();
    // On hand at the default location only, as the shop owner made them.
    peer.create_variants(&[variant("ST-1", 4), variant("ST-2", 9)]);
    let rt = runtime();
    let proxy = CountingProxy::start(&peer.base_url());
    let vendure = connector(
        "vendure",
        &format!("{}/admin-api", proxy.url()),
        locations(&[("default", &main), ("berlin", &second), ("gone", "999999")]),
    );
    let access = rt.block_on(log_in(vendure.as_ref(), SUPERADMIN, SUPERADMIN_PASSWORD));
    let variants_before = peer.variants().len();
    let st1_before = peer.variants_with_sku("ST-1").pop().expect("ST-1");
    proxy.take();

    let levels = mixed_batch();
    let outcomes = rt
        .block_on(vendure.send_stock(&access, &levels))
        .expect("send");
    assert_eq!(outcomes, MIXED_OUTCOMES);
    let seen = proxy.take();
    assert_eq!(
        graphql(&seen, "updateProductVariants"),
        1,
        "one write: {seen:#?}"
    );
    assert_eq!(
        seen.len(),
        3,
        "the locations check (once per connector), one look-up, one write: {seen:#?}"
    );
    assert_eq!(
        vendure_levels_written(&seen),
        2,
        "ST-2 holds 9 at default, and Vendure gave it a level of 0 at every \
         location when it was made: only ST-1's two levels are sent"
    );
    let level_map = |sku: &str| -> BTreeMap<String, (i64, i64)> {
        peer.stock_levels(sku)
            .into_iter()
            .map(|(id, l)| (id, (l.on_hand, l.allocated)))
            .collect()
    };
    assert_eq!(
        level_map("ST-1"),
        BTreeMap::from([(main.clone(), (10, 0)), (second.clone(), (3, 0))])
    );
    assert_eq!(
        level_map("ST-2"),
        BTreeMap::from([(main.clone(), (9, 0)), (second.clone(), (0, 0))])
    );
    assert_eq!(
        peer.variants().len(),
        variants_before,
        "an unknown SKU creates no variant"
    );
    assert_eq!(
        peer.variants_with_sku("ST-1")[0].price,
        st1_before.price,
        "stock export writes nothing but stock"
    );

    // The same levels again: held already, nothing written, nothing moves.
    let stamp = peer.variants_with_sku("ST-1")[0].updated_at.clone();
    let again = rt
        .block_on(vendure.send_stock(&access, &levels))
        .expect("resend");
    assert_eq!(again, outcomes);
    let seen = proxy.take();
    assert_eq!(graphql(&seen, "updateProductVariants"), 0, "{seen:#?}");
    assert_eq!(peer.variants_with_sku("ST-1")[0].updated_at, stamp);

    // A hand edit on the shop is what read_stock sees.
    peer.set_stock_level("ST-2", &second, 7);
    let read = rt
        .block_on(vendure.read_stock(&access, &read_skus()))
        .expect("read");
    assert_eq!(read, after_hand_edit());
    let repaired = rt
        .block_on(vendure.send_stock(&access, &[level("ST-2", "berlin", 0)]))
        .expect("repair");
    assert_eq!(repaired, [StockOutcome::Set]);
    assert_eq!(peer.stock_level("ST-2", &second), Some(0));
    assert_eq!(
        peer.stock_level("ST-2", &main),
        Some(9),
        "the other level stays"
    );

    // Without a location map, `default` is Vendure's default location,
    // read back there (a variant's `stockOnHand` is the sum over every
    // location: 6 + 3 here).
    let unmapped = connector("vendure", &peer.admin_api_url(), LocationMap::new());
    let outcomes = rt
        .block_on(unmapped.send_stock(
            &access,
            &[level("ST-1", "default", 6), level("ST-1", "berlin", 1)],
        ))
        .expect("send without a map");
    assert_eq!(outcomes, [StockOutcome::Set, StockOutcome::UnknownLocation]);
    assert_eq!(peer.stock_level("ST-1", &main), Some(6));
    assert_eq!(peer.stock_level("ST-1", &second), Some(3), "untouched");
    assert_eq!(
        rt.block_on(unmapped.read_stock(&access, &["ST-1".into()]))
            .expect("read without a map"),
        [reading("ST-1", "default", 6)]
    );
    assert_eq!(
        rt.block_on(unmapped.send_stock(&access, &[level("ST-1", "default", 6)]))
            .expect("resend without a map"),
        [StockOutcome::Set]
    );
    assert_eq!(peer.stock_level("ST-1", &main), Some(6), "no drift");
}

#[test]
#[ignore = "a measurement: 2,000 levels to a real Vendure (about a minute)"]
fn vendure_stock_of_1000_skus_at_2_locations() {
    let peer = VendurePeer::start();
    let main = peer.default_stock_location();
    let second = peer.second_stock_location();
    let skus: Vec<String> = (0..1000).map(|i| format!("V-{i:05}")).collect();
    peer.create_variants(&skus.iter().map(|s| variant(s, 1)).collect::<Vec<_>>());
    let rt = runtime();
    let proxy = CountingProxy::start(&peer.base_url());
    let vendure = connector(
        "vendure",
        &format!("{}/admin-api", proxy.url()),
        locations(&[("default", &main), ("berlin", &second)]),
    );
    let access = rt.block_on(log_in(vendure.as_ref(), SUPERADMIN, SUPERADMIN_PASSWORD));
    proxy.take();
    rt.block_on(measure(
        "Vendure",
        vendure.as_ref(),
        &access,
        &proxy,
        &skus,
        |seen| {
            (
                graphql(seen, "productVariants"),
                graphql(seen, "updateProductVariants"),
                vendure_levels_written(seen),
            )
        },
    ));
    assert_eq!(peer.stock_level("V-00999", &second), Some(31));
}
