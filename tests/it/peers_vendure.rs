//! The Vendure test peer itself: a real Vendure server on the shared
//! PostgreSQL cluster, set up as a shop owner would, answering its Admin API.

use test_support::peer::vendure::{CURRENCY, NewVariant, VendurePeer};

#[test]
fn the_vendure_peer_creates_a_product_and_lists_it_back() {
    let peer = VendurePeer::start();
    let ids = peer.create_variants(&[NewVariant {
        sku: "MUG-1".into(),
        name: "Blue mug".into(),
        price: 1999,
        stock_on_hand: 7,
    }]);
    let variants = peer.variants();
    assert_eq!(variants.len(), 1, "{variants:?}");
    let mug = &variants[0];
    assert_eq!(mug.id, ids[0]);
    assert_eq!(
        (
            mug.sku.as_str(),
            mug.name.as_str(),
            mug.price,
            mug.currency.as_str(),
            mug.stock_on_hand,
            mug.enabled
        ),
        ("MUG-1", "Blue mug", 1999, CURRENCY, 7, true)
    );

    peer.update_variant(
        &mug.id,
        serde_json::json!({"price": 2500, "stockOnHand": 3}),
    );
    let changed = &peer.variants_with_sku("MUG-1")[0];
    assert_eq!((changed.price, changed.stock_on_hand), (2500, 3));
    assert!(
        changed.updated_at > mug.updated_at,
        "a change bumps updatedAt"
    );

    let key = peer.create_api_key("smoke");
    assert!(key.contains(':'), "an API key is `<lookupId>:<secret>`");
}

#[test]
fn the_committed_schema_is_the_peers_admin_api() {
    let peer = VendurePeer::start();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/connector/vendure/schema.graphql"
    ))
    .expect("read the committed schema");
    assert!(
        peer.print_schema() == committed,
        "src/connector/vendure/schema.graphql differs from the peer's Admin API: regenerate it with \
         `node tests/peers/vendure/print-schema.js {}/admin-api > src/connector/vendure/schema.graphql` \
         (NODE_PATH=target/peers/vendure/<hash>/node_modules)",
        peer.base_url()
    );
}

// ------------------------------------------------------------------------
// The connector's protocol functions against the real server.

use oms_channels::catalog::FlatProduct;
use oms_channels::connector::vendure::{
    self, ChannelError, ClientOptions, Credential, PageCursor, VendureClient, import,
};

use test_support::peer::vendure::{PeerOptions, SUPERADMIN, SUPERADMIN_PASSWORD};

fn client(peer: &VendurePeer) -> VendureClient {
    let url = peer.admin_api_url().parse().expect("admin API URL");
    peer.block_on(async { VendureClient::new(url, ClientOptions::default()) })
        .expect("client")
}

fn session(peer: &VendurePeer, client: &VendureClient) -> String {
    peer.block_on(vendure::login(client, SUPERADMIN, SUPERADMIN_PASSWORD))
        .expect("superadmin login")
}

/// Every page of an import from `cursor`, as the job would fetch them.
fn import_all(
    peer: &VendurePeer,
    client: &VendureClient,
    token: &str,
    mut cursor: PageCursor,
    take: usize,
) -> (Vec<FlatProduct>, u64, usize) {
    let mut products = Vec::new();
    let mut skipped = 0;
    let mut pages = 0;
    loop {
        let page = peer
            .block_on(import::fetch_page(
                client,
                Credential::Session(token),
                cursor,
                take,
                &Default::default(),
                &Default::default(),
                None,
            ))
            .expect("import page");
        pages += 1;
        // One-variant products here: each is a flat product.
        products.extend(
            page.products
                .iter()
                .map(|p| p.as_flat().expect("one variant")),
        );
        skipped += page.skipped.len() as u64;
        match page.next {
            Some(next) => cursor = next,
            None => return (products, skipped, pages),
        }
    }
}

#[test]
fn login_gives_a_session_that_works_and_bad_credentials_are_typed_failures() {
    let peer = VendurePeer::start();
    let client = client(&peer);
    let token = session(&peer, &client);
    assert_eq!(
        peer.block_on(vendure::check_credential(
            &client,
            Credential::Session(&token)
        ))
        .expect("the session is accepted"),
        CURRENCY
    );

    let wrong = peer.block_on(vendure::login(&client, SUPERADMIN, "wrong-password"));
    assert!(
        matches!(&wrong, Err(ChannelError::LoginRefused { message, .. }) if message.starts_with("INVALID_CREDENTIALS_ERROR")),
        "{wrong:?}"
    );
    let message = wrong.unwrap_err().to_string();
    assert!(
        !message.contains("wrong-password"),
        "never the password: {message}"
    );

    for credential in [
        Credential::Session("not-a-session"),
        Credential::None,
        Credential::ApiKey("1:nope"),
    ] {
        let refused = peer.block_on(vendure::check_credential(&client, credential));
        assert!(
            matches!(refused, Err(ChannelError::Unauthorized { .. })),
            "{credential:?}: {refused:?}"
        );
    }

    let key = peer.create_api_key("connector");
    peer.block_on(vendure::check_credential(&client, Credential::ApiKey(&key)))
        .expect("the API key is accepted");
}

#[test]
fn an_expired_session_is_forbidden_and_a_new_login_works() {
    let peer = VendurePeer::start_with(PeerOptions {
        session_duration: Some("2s".into()),
    });
    let client = client(&peer);
    let token = session(&peer, &client);
    peer.block_on(vendure::check_credential(
        &client,
        Credential::Session(&token),
    ))
    .expect("fresh session");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let expired = peer.block_on(vendure::check_credential(
        &client,
        Credential::Session(&token),
    ));
    assert!(
        matches!(expired, Err(ChannelError::Unauthorized { .. })),
        "{expired:?}"
    );
    let renewed = session(&peer, &client);
    peer.block_on(vendure::check_credential(
        &client,
        Credential::Session(&renewed),
    ))
    .expect("a new login works");
}

#[test]
fn import_pages_map_variants_skip_those_without_sku_and_resume_incrementally() {
    let peer = VendurePeer::start();
    peer.accept_currencies(&["JPY"]);
    let mut variants: Vec<NewVariant> = (1..=7).map(NewVariant::numbered).collect();
    variants.push(NewVariant {
        sku: String::new(),
        name: "No SKU".into(),
        price: 100,
        stock_on_hand: 1,
    });
    peer.create_variants(&variants);
    let client = client(&peer);
    let token = session(&peer, &client);

    let (products, skipped, pages) = import_all(&peer, &client, &token, PageCursor::first(None), 3);
    assert_eq!(
        skipped, 1,
        "the variant without a SKU is skipped and counted"
    );
    assert_eq!(pages, 3, "8 variants in pages of 3");
    let server = peer.variants();
    let mut expected: Vec<(String, String, String, String, i64, Option<String>)> = server
        .iter()
        .filter(|v| !v.sku.is_empty())
        .map(|v| {
            (
                v.sku.clone(),
                v.name.clone(),
                format!("{}.{:02}", v.price / 100, v.price % 100),
                v.currency.clone(),
                v.stock_on_hand,
                // A product's id is Vendure's product id.
                Some(v.product_id.clone()),
            )
        })
        .collect();
    let mut got: Vec<_> = products
        .iter()
        .map(|p| {
            (
                p.sku.clone(),
                p.title.clone(),
                p.price.amount_text(),
                p.price.currency().code().to_string(),
                p.quantity,
                p.id.clone(),
            )
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    assert!(
        products.iter().any(|p| p.price.amount_text() == "10.01"),
        "SKU-00001 at 1001 minor units is 10.01"
    );

    // Incremental: nothing changed since the newest row, then one change.
    let newest = products
        .iter()
        .map(|p| p.updated_at_timestamp().unwrap())
        .max()
        .unwrap();
    let (again, _, _) = import_all(&peer, &client, &token, PageCursor::first(Some(newest)), 3);
    assert!(again.is_empty(), "nothing changed: {again:?}");
    let changed = server.iter().find(|v| v.sku == "SKU-00003").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    peer.update_variant(&changed.id, serde_json::json!({"price": 4242}));
    let (delta, _, _) = import_all(&peer, &client, &token, PageCursor::first(Some(newest)), 3);
    assert_eq!(delta.len(), 1, "{delta:?}");
    assert_eq!(
        (delta[0].sku.as_str(), delta[0].price.amount_text()),
        ("SKU-00003", "42.42".to_string())
    );
}
