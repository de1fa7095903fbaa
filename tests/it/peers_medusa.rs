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

use oms_channels::connector::Skipped;
use oms_channels::connector::medusa::{
    ChannelError, ClientOptions, Credential, ImportPage, ItemStatus, MedusaClient, OVERLAP,
    StoreContext, StoreOverrides, amount_to_price,
};
use oms_channels::price::Price;
use oms_channels::product::Product;
use serde_json::json;

use test_support::peer::medusa::{ADMIN_EMAIL, ADMIN_PASSWORD, PeerOptions};

fn client(peer: &MedusaPeer) -> MedusaClient {
    MedusaClient::new(&peer.base_url, ClientOptions::default()).expect("client")
}

fn product(sku: &str, title: &str, price: &str, quantity: i64) -> Product {
    Product {
        sku: sku.into(),
        title: title.into(),
        price: Price::parse(price, "EUR").expect("a price"),
        quantity,
        attributes: BTreeMap::new(),
        updated_at: "2026-11-27T00:00:00Z".into(),
        id: None,
    }
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

fn by_sku(pages: &[(Option<String>, ImportPage)]) -> BTreeMap<String, Product> {
    pages
        .iter()
        .flat_map(|(_, p)| p.products.iter().cloned())
        .map(|p| (p.sku.clone(), p))
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
async fn medusa_protocol_exports_imports_and_deletes_exactly() {
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

    // Export: exact prices, stock, a currency the store lacks, a title with quotes.
    let mut catalog = vec![
        product("EX-1", "Shirt \"classic\"", "19.99", 5),
        product("EX-2", "Cup", "0.10", 0),
        product("EX-3", "Sofa", "1234567.89", 2),
        product("Ex.4", "Odd SKU", "3.00", 1),
    ];
    let mut usd = product("EX-USD", "Dollar thing", "1.00", 1);
    usd.price = Price::parse("1.00", "USD").expect("a price");
    let mut batch = catalog.clone();
    batch.push(usd);
    let outcomes = client
        .export_products(cred, &ctx, &batch)
        .await
        .expect("export");
    let statuses: Vec<(&str, ItemStatus)> = outcomes
        .iter()
        .map(|o| (o.sku.as_str(), o.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("EX-1", ItemStatus::Created),
            ("EX-2", ItemStatus::Created),
            ("EX-3", ItemStatus::Created),
            ("Ex.4", ItemStatus::Created),
            ("EX-USD", ItemStatus::Error),
        ],
        "{outcomes:?}"
    );
    assert!(
        outcomes[4].error.as_deref().unwrap().contains("USD"),
        "{outcomes:?}"
    );

    let on_server = admin.variants().await;
    assert_eq!(on_server.len(), 4, "{on_server:?}");
    for want in &catalog {
        let got = on_server
            .iter()
            .find(|v| v.sku.as_deref() == Some(want.sku.as_str()))
            .expect("exported");
        assert_eq!(got.title, want.title);
        assert_eq!(got.product_title, want.title);
        assert_eq!(
            amount_to_price(&got.prices["eur"], want.price.currency()).unwrap(),
            want.price,
            "exact on the server: {}",
            got.prices["eur"]
        );
        assert_eq!(got.quantity, Some(want.quantity));
    }

    // Import: the catalog comes back byte for byte.
    let pages = import_all(&client, cred, &ctx, 2, None).await;
    assert_eq!(pages.len(), 2, "4 products in pages of 2");
    let imported = by_sku(&pages);
    assert_eq!(imported.len(), 4);
    for want in &catalog {
        let got = &imported[&want.sku];
        assert_eq!(
            (&got.title, &got.price, got.quantity),
            (&want.title, &want.price, want.quantity),
            "{}",
            want.sku
        );
    }
    let high_water = imported
        .values()
        .map(|p| p.updated_at.parse::<jiff::Timestamp>().unwrap())
        .max()
        .unwrap();

    // A second variant, a USD price and a variant without SKU made in Medusa
    // by hand; none of it may be wiped by an export.
    let store = admin.get("/admin/stores?fields=id").await["stores"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .post(
            &format!("/admin/stores/{store}"),
            json!({"supported_currencies": [{"currency_code": "eur", "is_default": true}, {"currency_code": "usd"}]}),
        )
        .await;
    let ex1 = admin.variant("EX-1").await;
    let eur_price = admin
        .get(&format!(
            "/admin/product-variants?id[]={}&fields=prices.id,prices.currency_code",
            ex1.variant_id
        ))
        .await["variants"][0]["prices"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .post(
            &format!(
                "/admin/products/{}/variants/{}",
                ex1.product_id, ex1.variant_id
            ),
            json!({"prices": [{"id": eur_price}, {"currency_code": "usd", "amount": 25}]}),
        )
        .await;
    admin
        .post(
            "/admin/products",
            json!({"title": "Two sizes", "options": [{"title": "Size", "values": ["S", "M"]}],
                   "variants": [
                     {"title": "S", "sku": "TWO-S", "options": {"Size": "S"}, "prices": [{"currency_code": "eur", "amount": 1}]},
                     {"title": "M", "sku": "TWO-M", "options": {"Size": "M"}, "prices": [{"currency_code": "eur", "amount": 2}]},
                     {"title": "L", "options": {"Size": "S"}, "prices": [{"currency_code": "eur", "amount": 3}]}]}),
        )
        .await
        ;

    // Updates: price of EX-1, stock of EX-2, title of EX-3; EX-4 unchanged;
    // TWO-S's price and title (a variant of a two-variant product).
    catalog[0].price = Price::parse("21.50", "EUR").expect("a price");
    catalog[1].quantity = 40;
    catalog[2].title = "Big sofa".into();
    let update = vec![
        catalog[0].clone(),
        catalog[1].clone(),
        catalog[2].clone(),
        catalog[3].clone(),
        product("TWO-S", "Two sizes / Small", "1.50", 3),
    ];
    let outcomes = client
        .export_products(cred, &ctx, &update)
        .await
        .expect("export");
    let statuses: Vec<ItemStatus> = outcomes.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        [
            ItemStatus::Updated,
            ItemStatus::Updated,
            ItemStatus::Updated,
            ItemStatus::Unchanged,
            ItemStatus::Updated
        ],
        "{outcomes:?}"
    );
    let ex1 = admin.variant("EX-1").await;
    assert_eq!(ex1.prices.get("eur").map(String::as_str), Some("21.5"));
    assert_eq!(
        ex1.prices.get("usd").map(String::as_str),
        Some("25"),
        "the other currency's price is kept"
    );
    assert_eq!(admin.variant("EX-2").await.quantity, Some(40));
    let ex3 = admin.variant("EX-3").await;
    assert_eq!(
        (ex3.title.as_str(), ex3.product_title.as_str()),
        ("Big sofa", "Big sofa")
    );
    let two_s = admin.variant("TWO-S").await;
    assert_eq!(two_s.title, "Small");
    assert_eq!(two_s.product_title, "Two sizes");
    assert_eq!(two_s.quantity, Some(3));
    let on_server = admin.variants().await;
    assert_eq!(
        on_server
            .iter()
            .filter(|v| v.product_id == two_s.product_id)
            .count(),
        3,
        "the product's other variants are untouched: {on_server:?}"
    );

    // The same batch again: nothing to do, and never a second variant.
    let again = client
        .export_products(cred, &ctx, &update)
        .await
        .expect("export");
    assert!(
        again.iter().all(|o| o.status == ItemStatus::Unchanged),
        "{again:?}"
    );
    let skus: Vec<String> = admin
        .variants()
        .await
        .into_iter()
        .filter_map(|v| v.sku)
        .collect();
    let unique: std::collections::BTreeSet<&String> = skus.iter().collect();
    assert_eq!(skus.len(), unique.len(), "no duplicate SKUs: {skus:?}");

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
    admin.set_price("Ex.4", "7.25").await;
    admin.set_stock("EX-3", 11).await;
    admin.delete_product_of("EX-2").await;
    let pages = import_all(&client, cred, &ctx, 200, Some(since)).await;
    let changed = by_sku(&pages);
    assert_eq!(
        changed["Ex.4"].price.amount_text(),
        "7.25",
        "price change picked up: {changed:?}"
    );
    assert_eq!(
        changed["EX-3"].quantity, 11,
        "stock change picked up: {changed:?}"
    );
    let stock_only_in_stock_phase = pages.iter().any(|(cursor, page)| {
        cursor.as_deref().is_some_and(|c| c.starts_with("stock:"))
            && page.products.iter().any(|p| p.sku == "EX-3")
    });
    assert!(
        stock_only_in_stock_phase,
        "the stock scan found EX-3: {pages:?}"
    );
    let deleted: Vec<&String> = pages.iter().flat_map(|(_, p)| &p.deleted_skus).collect();
    assert_eq!(deleted, [&"EX-2".to_string()], "{pages:?}");
    assert!(!changed.contains_key("EX-2"));
    let skipped = pages
        .iter()
        .flat_map(|(_, p)| &p.skipped)
        .filter(|s| **s == Skipped::NoSku)
        .count();
    assert_eq!(
        skipped, 1,
        "the variant without SKU is counted, not imported"
    );

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
