//! The Vendure test peer itself: a real Vendure server on the shared
//! PostgreSQL cluster, set up as a shop owner would, answering its Admin API.

use crate::support::vendure::{CURRENCY, NewVariant, VendurePeer};

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
