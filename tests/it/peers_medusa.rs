//! The Medusa test peer itself: a real Medusa server starts, keeps what the
//! shop owner creates, and gives it back with exact prices.

use test_support::peer::medusa::{CURRENCY, MedusaPeer, NewProduct};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_medusa_peer_keeps_a_product_with_its_price_and_stock() {
    let peer = MedusaPeer::start().await;
    let admin = peer.admin().await;
    admin
        .create_products(&[NewProduct {
            sku: "SMOKE-1".into(),
            title: "Smoke test shirt".into(),
            amount: "19.99".into(),
            quantity: 7,
        }])
        .await;

    let variants = admin.variants().await;
    assert_eq!(variants.len(), 1, "{variants:?}");
    let variant = &variants[0];
    assert_eq!(variant.sku.as_deref(), Some("SMOKE-1"));
    assert_eq!(variant.title, "Smoke test shirt");
    assert_eq!(
        variant.prices.get(CURRENCY).map(String::as_str),
        Some("19.99")
    );
    assert_eq!(variant.quantity, Some(7));

    admin.set_stock("SMOKE-1", 3).await;
    admin.set_price("SMOKE-1", "1234567.89").await;
    let variant = admin.variant("SMOKE-1").await;
    assert_eq!(variant.quantity, Some(3));
    assert_eq!(
        variant.prices.get(CURRENCY).map(String::as_str),
        Some("1234567.89")
    );
}

// The connector's protocol functions against the real server.

use std::collections::BTreeMap;
use std::time::Duration;

use oms_channels::catalog::Product;
use oms_channels::connector::Skipped;
use oms_channels::connector::medusa::{
    ChannelError, ClientOptions, Credential, ImportPage, ItemStatus, MedusaClient, OVERLAP,
    StoreContext, StoreOverrides,
};
use oms_channels::price::Currency;
use serde_json::json;
use test_support::peer::two_decimals;

use test_support::peer::medusa::{ADMIN_EMAIL, ADMIN_PASSWORD, PeerOptions};

fn client(peer: &MedusaPeer) -> MedusaClient {
    MedusaClient::new(&peer.base_url, ClientOptions::default()).expect("client")
}

fn new_product(sku: &str, title: &str, amount: &str, quantity: i64) -> NewProduct {
    NewProduct {
        sku: sku.into(),
        title: title.into(),
        amount: amount.into(),
        quantity,
    }
}

fn eur() -> Currency {
    Currency::from_code("EUR").expect("EUR")
}

/// Every page of an import, in order, with the cursor each came from.
async fn import_all(
    client: &MedusaClient,
    credential: Credential<'_>,
    ctx: &StoreContext,
    limit: usize,
    since: Option<jiff::Timestamp>,
) -> Vec<(Option<String>, ImportPage)> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let page = client
            .fetch_import_page(credential, ctx, limit, cursor.as_deref(), since)
            .await
            .expect("import page");
        let next = page.next_cursor.clone();
        pages.push((cursor.clone(), page));
        match next {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
    panic!("the import did not end");
}

/// Each imported product by each of its SKUs.
fn by_sku(pages: &[(Option<String>, ImportPage)]) -> BTreeMap<String, Product> {
    pages
        .iter()
        .flat_map(|(_, p)| p.products.iter())
        .flat_map(|p| p.skus().map(move |sku| (sku.to_string(), p.clone())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medusa_logins_renew_expire_and_secret_keys_work() {
    let peer = MedusaPeer::start_with(PeerOptions {
        jwt_expires_in: Some("6s".into()),
    })
    .await;
    let client = client(&peer);

    let refused = client
        .login(ADMIN_EMAIL, "wrong-password")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ChannelError::LoginRefused { .. }),
        "{refused:?}"
    );
    assert!(!refused.to_string().contains("wrong-password"), "{refused}");

    let jwt = client
        .login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login");
    let expires = jwt.expires_at.expect("Medusa's JWT carries `exp`");
    let lifetime = expires.duration_since(jiff::Timestamp::now());
    assert!(
        lifetime <= jiff::SignedDuration::from_secs(7),
        "{lifetime:?}"
    );
    client
        .check_credential(Credential::Bearer(&jwt.token))
        .await
        .expect("a fresh JWT is accepted");

    tokio::time::sleep(Duration::from_secs(2)).await;
    let renewed = client
        .refresh(&jwt.token)
        .await
        .expect("refresh while valid");
    assert!(
        renewed.expires_at.expect("exp") > expires,
        "renewal moves the expiry"
    );
    client
        .check_credential(Credential::Bearer(&renewed.token))
        .await
        .expect("a renewed JWT is accepted");

    tokio::time::sleep(Duration::from_secs(7)).await;
    let expired = client
        .check_credential(Credential::Bearer(&renewed.token))
        .await
        .unwrap_err();
    assert!(
        matches!(expired, ChannelError::Unauthorized { .. }),
        "{expired:?}"
    );
    let too_late = client.refresh(&renewed.token).await.unwrap_err();
    assert!(
        matches!(too_late, ChannelError::Unauthorized { .. }),
        "an expired JWT cannot be renewed: {too_late:?}"
    );
    let again = client
        .login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("log in again");
    client
        .check_credential(Credential::Bearer(&again.token))
        .await
        .expect("a new login works");

    let key = peer.admin().await.create_secret_key().await;
    assert!(key.starts_with("sk_"), "a secret key: {key}");
    client
        .check_credential(Credential::SecretKey(&key))
        .await
        .expect("the secret key is accepted over HTTP Basic");
    let ctx = client
        .store_context(Credential::SecretKey(&key), &StoreOverrides::default())
        .await
        .expect("the key reads the store");
    assert_eq!(ctx.stock_location_id, peer.stock_location_id);
    let bad = client
        .check_credential(Credential::SecretKey("sk_not_a_key"))
        .await
        .unwrap_err();
    assert!(matches!(bad, ChannelError::Unauthorized { .. }), "{bad:?}");
    assert!(!bad.to_string().contains("sk_not_a_key"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medusa_protocol_imports_whole_products_incrementally_and_deletes_exactly() {
    let peer = MedusaPeer::start().await;
    let admin = peer.admin().await;
    let client = client(&peer);
    let jwt = client
        .login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("login");
    let cred = Credential::Bearer(&jwt.token);

    let ctx = client
        .store_context(cred, &StoreOverrides::default())
        .await
        .expect("store context");
    assert_eq!(ctx.sales_channel_id, peer.sales_channel_id);
    assert_eq!(ctx.stock_location_id, peer.stock_location_id);
    assert_eq!(ctx.default_currency, "eur");
    assert_eq!(ctx.currencies.get("eur"), Some(&2));
    assert_eq!(
        ctx.locations.get("default"),
        Some(&peer.stock_location_id),
        "the stock location takes the catalog's `default`"
    );
    let missing = client
        .store_context(
            cred,
            &StoreOverrides {
                stock_location_id: Some("sloc_missing".into()),
                ..StoreOverrides::default()
            },
        )
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("sloc_missing"), "{missing}");

    // Exact prices and stock, as a shop owner made them.
    let seeded = vec![
        new_product("EX-1", "Shirt \"classic\"", "19.99", 5),
        new_product("EX-2", "Cup", "0.10", 0),
        new_product("EX-3", "Sofa", "1234567.89", 2),
        new_product("Ex-4", "Odd SKU", "3.00", 1),
    ];
    admin.create_products(&seeded).await;
    admin
        .post(
            "/admin/products",
            json!({"title": "Two sizes", "handle": "two-sizes", "options": [{"title": "Size", "values": ["S", "M", "L"]}],
                   "variants": [
                     {"title": "S", "sku": "TWO-S", "variant_rank": 0, "options": {"Size": "S"}, "prices": [{"currency_code": "eur", "amount": 1}, {"currency_code": "usd", "amount": 1.5}]},
                     {"title": "M", "sku": "TWO-M", "variant_rank": 1, "options": {"Size": "M"}, "prices": [{"currency_code": "eur", "amount": 2}]},
                     {"title": "L", "variant_rank": 2, "options": {"Size": "L"}, "prices": [{"currency_code": "eur", "amount": 3}]}]}),
        )
        .await;

    // The ranks are set as Medusa's admin sets them: variants created in one
    // call share `created_at`, and their ids are random, so without ranks
    // Medusa holds no order for them (they are then read in id order, the same
    // order on every read, but not the order they were made in).

    // Import: whole products, in pages.
    let pages = import_all(&client, cred, &ctx, 2, None).await;
    assert_eq!(pages.len(), 3, "5 products in pages of 2");
    let imported = by_sku(&pages);
    assert_eq!(imported.len(), 6, "{imported:?}");
    for want in &seeded {
        let got = &imported[&want.sku];
        let variant = got.variant(&want.sku).expect("its variant");
        assert_eq!(got.title, want.title);
        assert_eq!(
            variant.prices.get(eur()).map(|p| p.amount_text()),
            Some(two_decimals(&want.amount)),
            "{}",
            want.sku
        );
        assert_eq!(variant.stock.get("default"), Some(&want.quantity));
    }
    let two = &imported["TWO-S"];
    assert_eq!(two.handle, "two-sizes");
    assert_eq!(two.options, ["Size"]);
    let skus: Vec<&str> = two.skus().collect();
    assert_eq!(
        skus,
        ["TWO-S", "TWO-M"],
        "the variant without SKU is left out"
    );
    assert_eq!(
        two.variants[0]
            .prices
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        ["1.00 EUR", "1.50 USD"]
    );
    let skipped = pages
        .iter()
        .flat_map(|(_, p)| &p.skipped)
        .filter(|s| **s == Skipped::NoSku)
        .count();
    assert_eq!(
        skipped, 1,
        "the variant without SKU is counted, not imported"
    );
    let high_water = pages
        .iter()
        .flat_map(|(_, p)| &p.products)
        .map(|p| p.updated_at.parse::<jiff::Timestamp>().unwrap())
        .max()
        .unwrap();

    // Incremental: a price changed and a stock changed in Medusa, and a
    // product deleted there, after everything seen so far. `since` is moved
    // forward by the overlap the connector looks back.
    let since = high_water.checked_add(OVERLAP).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let quiet = import_all(
        &client,
        cred,
        &ctx,
        200,
        Some(jiff::Timestamp::now() + OVERLAP),
    )
    .await;
    assert!(
        by_sku(&quiet).is_empty(),
        "nothing changed since now: {quiet:?}"
    );
    admin.set_price("Ex-4", "7.25").await;
    admin.set_stock("EX-3", 11).await;
    admin.delete_product_of("EX-2").await;
    let pages = import_all(&client, cred, &ctx, 200, Some(since)).await;
    let changed = by_sku(&pages);
    let price = |sku: &str| {
        changed[sku]
            .variant(sku)
            .unwrap()
            .prices
            .get(eur())
            .unwrap()
            .amount_text()
    };
    assert_eq!(price("Ex-4"), "7.25", "price change picked up: {changed:?}");
    assert_eq!(
        changed["EX-3"]
            .variant("EX-3")
            .unwrap()
            .stock
            .get("default"),
        Some(&11),
        "stock change picked up: {changed:?}"
    );
    let stock_only_in_stock_phase = pages.iter().any(|(cursor, page)| {
        cursor.as_deref().is_some_and(|c| c.starts_with("stock:"))
            && page.products.iter().any(|p| p.variant("EX-3").is_some())
    });
    assert!(
        stock_only_in_stock_phase,
        "the stock scan found EX-3: {pages:?}"
    );
    let deleted: Vec<&String> = pages.iter().flat_map(|(_, p)| &p.deleted_skus).collect();
    assert_eq!(deleted, [&"EX-2".to_string()], "{pages:?}");
    assert!(!changed.contains_key("EX-2"));

    // Deletions: one whole product, one variant of a product with others.
    let outcomes = client
        .delete_products(cred, &["EX-3".into(), "TWO-M".into(), "NEVER-THERE".into()])
        .await
        .expect("delete");
    assert!(
        outcomes.iter().all(|o| o.status == ItemStatus::Deleted),
        "{outcomes:?}"
    );
    let left: Vec<String> = admin
        .variants()
        .await
        .into_iter()
        .filter_map(|v| v.sku)
        .collect();
    assert!(!left.contains(&"EX-3".to_string()) && !left.contains(&"TWO-M".to_string()));
    assert!(
        left.contains(&"TWO-S".to_string()),
        "the product's other variant stays: {left:?}"
    );
    assert!(left.contains(&"EX-1".to_string()));
}

#[test]
fn the_peer_names_the_node_versions_medusa_supports() {
    use test_support::peer::medusa::node_is_supported;
    for ok in ["v20.19.0", "v20.20.2", "v22.12.0", "v24.1.0"] {
        assert!(node_is_supported(ok), "{ok}");
    }
    for old in ["v18.20.4", "v20.18.1", "v22.11.0", "v21.7.3", "", "garbage"] {
        assert!(!node_is_supported(old), "{old}");
    }
}
