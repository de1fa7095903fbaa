//! How the binary stays logged in to a real Medusa server: a JWT that
//! expires between runs, and a secret API key that needs no login. Export,
//! import and kills run on every shop alike in `run_once.rs` and `crash.rs`.

use std::time::Duration;

use test_support::peer::medusa::{MedusaShop, PeerOptions};
use test_support::{CHANNEL, Offer, Peer, TestEnv};

const KEY_VAR: &str = "MEDUSA_TEST_KEY";

#[test]
fn an_expired_jwt_is_renewed_and_secret_keys_need_none() {
    let shop = MedusaShop::start_with(PeerOptions {
        jwt_expires_in: Some("4s".into()),
    });
    let mut env = TestEnv::builder()
        .channel(
            CHANNEL,
            &shop,
            &[("auth-refresh", "1h"), ("export-products", "15m")],
        )
        .build();
    let mut catalog = Offer::numbered("J", 0..3, "19.99", shop.currency());
    env.load("a.jsonl", &catalog);
    let rows = env.run_once(&[]);
    assert_eq!(rows.get(CHANNEL, "export-products").outcome, "ran");
    let quantity = |sku: &str| shop.wait(shop.admin.variant(sku)).quantity;

    // The stored JWT expires; auth-refresh is not due, so the export meets
    // a 401, logs in again once, and succeeds.
    std::thread::sleep(Duration::from_secs(5));
    catalog[0].quantity = 77;
    env.load("b.jsonl", &catalog[..1]);
    let rows = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(
        rows.get(CHANNEL, "export-products").outcome,
        "ran",
        "{rows:?}"
    );
    assert_eq!(quantity("J00000"), Some(77));

    // Expired again: auth-refresh logs in afresh and the export follows.
    std::thread::sleep(Duration::from_secs(5));
    catalog[1].quantity = 78;
    env.load("c.jsonl", &catalog[1..2]);
    let rows = env.run_once(&["--force"]);
    assert_eq!(rows.get(CHANNEL, "auth-refresh").outcome, "ran", "{rows:?}");
    assert_eq!(
        rows.get(CHANNEL, "export-products").outcome,
        "ran",
        "{rows:?}"
    );
    assert_eq!(quantity("J00001"), Some(78));

    // A secret API key: no login, no expiry.
    let key = shop.wait(shop.admin.create_secret_key());
    env.set_var(KEY_VAR, &key);
    env.ok(["channel", "set", CHANNEL, "--api-key-env", KEY_VAR]);
    catalog[2].quantity = 79;
    env.load("d.jsonl", &catalog[2..3]);
    let rows = env.run_once(&["--force"]);
    assert_eq!(rows.get(CHANNEL, "auth-refresh").outcome, "ran", "{rows:?}");
    assert_eq!(
        rows.get(CHANNEL, "export-products").outcome,
        "ran",
        "{rows:?}"
    );
    assert_eq!(quantity("J00002"), Some(79));
}
