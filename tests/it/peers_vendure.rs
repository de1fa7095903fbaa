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

use oms_channels::connector::vendure::{
    self, ChannelError, ClientOptions, Credential, ItemOutcome, Outcome, PageCursor, VendureClient,
    export, import,
};
use oms_channels::price::Price;
use oms_channels::product::Product;

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

fn product(sku: &str, title: &str, price: &str, currency: &str, quantity: i64) -> Product {
    Product {
        sku: sku.into(),
        title: title.into(),
        price: Price::parse(price, currency).expect("a price"),
        quantity,
        attributes: Default::default(),
        updated_at: "2026-11-27T10:00:00Z".into(),
        id: None,
    }
}

fn outcomes(items: &[ItemOutcome]) -> Vec<(&str, Outcome)> {
    items
        .iter()
        .map(|i| (i.sku.as_str(), i.outcome.clone()))
        .collect()
}

/// Every page of an import from `cursor`, as the job would fetch them.
fn import_all(
    peer: &VendurePeer,
    client: &VendureClient,
    token: &str,
    mut cursor: PageCursor,
    take: usize,
) -> (Vec<Product>, u64, usize) {
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
            ))
            .expect("import page");
        pages += 1;
        products.extend(page.products);
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
                Some(v.id.clone()),
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

#[test]
fn export_creates_updates_leaves_alone_refuses_per_item_and_deletes() {
    let peer = VendurePeer::start();
    let client = client(&peer);
    let token = session(&peer, &client);
    let send = |upserts: &[Product], deletions: &[String]| {
        peer.block_on(export::send_batch(
            &client,
            Credential::Session(&token),
            upserts,
            deletions,
        ))
        .expect("batch sent")
    };

    // A SKU that already exists on the server is updated, never created twice.
    let existing_id = peer.create_variants(&[NewVariant {
        sku: "OLD-1".into(),
        name: "Old".into(),
        price: 500,
        stock_on_hand: 1,
    }])[0]
        .clone();
    let batch = vec![
        product("NEW-1", "Blue mug", "19.99", "USD", 7),
        product("NEW-2", "Red mug", "0.05", "USD", 0),
        product("OLD-1", "Old, renamed", "5.00", "USD", 9),
        product("EURO-1", "Euro mug", "3.10", "EUR", 1),
        product("HUGE-1", "Too dear", "21474836.48", "USD", 1),
    ];
    let first = send(&batch, &[]);
    assert_eq!(
        outcomes(&first)[..3],
        [
            ("NEW-1", Outcome::Created),
            ("NEW-2", Outcome::Created),
            ("OLD-1", Outcome::Updated),
        ]
    );
    assert!(
        matches!(&first[3].outcome, Outcome::Error(e) if e.contains("`EUR`")),
        "{:?}",
        first[3]
    );
    assert!(
        matches!(&first[4].outcome, Outcome::Error(e) if e.contains("too large for Vendure")),
        "{:?}",
        first[4]
    );

    let by_sku = |sku: &str| {
        let found = peer.variants_with_sku(sku);
        assert!(
            found.len() <= 1,
            "never two variants with SKU {sku}: {found:?}"
        );
        found.into_iter().next()
    };
    let mug = by_sku("NEW-1").expect("created");
    assert_eq!(
        (
            mug.name.as_str(),
            mug.price,
            mug.stock_on_hand,
            mug.currency.as_str()
        ),
        ("Blue mug", 1999, 7, "USD")
    );
    assert_eq!(by_sku("NEW-2").unwrap().price, 5);
    let old = by_sku("OLD-1").unwrap();
    assert_eq!(
        (old.id.as_str(), old.name.as_str(), old.stock_on_hand),
        (existing_id.as_str(), "Old, renamed", 9)
    );
    assert!(by_sku("EURO-1").is_none() && by_sku("HUGE-1").is_none());

    // The same batch again changes nothing; one change updates one.
    let again = send(&batch[..3], &[]);
    assert!(
        again.iter().all(|i| i.outcome == Outcome::Unchanged),
        "{again:?}"
    );
    let changed = send(&[product("NEW-1", "Blue mug", "21.00", "USD", 7)], &[]);
    assert_eq!(outcomes(&changed), [("NEW-1", Outcome::Updated)]);
    assert_eq!(by_sku("NEW-1").unwrap().price, 2100);

    // An accepted currency is exported in its own minor units.
    peer.accept_currencies(&["EUR"]);
    let euro = send(&batch[3..4], &[]);
    assert_eq!(outcomes(&euro), [("EURO-1", Outcome::Created)]);

    // Deletions: gone from the listing; a SKU that is not there is fine.
    let deleted = send(
        &[],
        &[
            "NEW-2".to_string(),
            "OLD-1".to_string(),
            "NEVER".to_string(),
        ],
    );
    assert_eq!(
        outcomes(&deleted),
        [
            ("NEW-2", Outcome::Deleted),
            ("OLD-1", Outcome::Deleted),
            ("NEVER", Outcome::Deleted),
        ]
    );
    assert!(by_sku("NEW-2").is_none() && by_sku("OLD-1").is_none());
    let left: Vec<String> = peer.variants().into_iter().map(|v| v.sku).collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn a_batch_larger_than_the_body_limit_is_split_and_lands_whole() {
    let peer = VendurePeer::start();
    let client = client(&peer);
    let token = session(&peer, &client);
    // 250 products with long titles: about 150 kB of variants, over the 100 kB limit.
    let long = "x".repeat(500);
    let batch: Vec<Product> = (0..250)
        .map(|i| {
            product(
                &format!("BIG-{i:03}"),
                &format!("{i} {long}"),
                "1.00",
                "USD",
                1,
            )
        })
        .collect();
    let result = peer
        .block_on(export::send_batch(
            &client,
            Credential::Session(&token),
            &batch,
            &[],
        ))
        .expect("split under the limit");
    assert!(
        result.iter().all(|i| i.outcome == Outcome::Created),
        "{:?}",
        result.iter().find(|i| i.outcome != Outcome::Created)
    );
    assert_eq!(peer.variants().len(), 250);
    let changed: Vec<Product> = batch
        .iter()
        .map(|p| Product {
            quantity: 2,
            ..p.clone()
        })
        .collect();
    let result = peer
        .block_on(export::send_batch(
            &client,
            Credential::Session(&token),
            &changed,
            &[],
        ))
        .expect("updates split too");
    assert!(result.iter().all(|i| i.outcome == Outcome::Updated));
}
