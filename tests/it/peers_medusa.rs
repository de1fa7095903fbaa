//! The Medusa test peer itself: a real Medusa server starts, keeps what the
//! shop owner creates, and gives it back with exact prices.

use crate::support::medusa::{CURRENCY, MedusaPeer, NewProduct};

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
