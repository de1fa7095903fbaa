//! How the binary stays logged in to a real Vendure server: a session that
//! expires between runs, and an API key (checked by auth-refresh, never
//! stored). Export, import and kills run on every shop alike in
//! `run_once.rs` and `crash.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use test_support::peer::vendure::{PeerOptions, VendurePeer};
use test_support::{Backend, CHANNEL, Offer, Peer, TestEnv};

/// `(title, price, stock)` by SKU, of what Vendure holds; fails on a SKU
/// held twice.
fn on_server(peer: &VendurePeer) -> BTreeMap<String, Offer> {
    peer.read_back().offers(peer.currency())
}

fn offers(prices: &[(u32, &str)]) -> Vec<Offer> {
    prices
        .iter()
        .flat_map(|(n, price)| Offer::numbered("SKU-", [*n], price, "USD"))
        .collect()
}

#[test]
fn a_vendure_session_that_expires_between_runs_is_renewed_and_no_job_fails() {
    let peer = VendurePeer::start_with(PeerOptions {
        session_duration: Some("3s".into()),
    });
    let env = TestEnv::builder()
        .channel(
            CHANNEL,
            &peer,
            &[("auth-refresh", "1h"), ("export-products", "1h")],
        )
        .build();
    env.load("catalog.jsonl", &offers(&[(1, "1.00")]));
    let run = env.run_once(&[]);
    assert_eq!(run.get(CHANNEL, "export-products").outcome, "ran");

    std::thread::sleep(Duration::from_millis(3500));
    env.load("change.jsonl", &offers(&[(1, "2.00")]));
    // auth-refresh renews the session before the export uses it.
    let run = env.run_once(&["--force"]);
    for job in ["auth-refresh", "export-products"] {
        assert_eq!(run.get(CHANNEL, job).outcome, "ran", "{job}");
    }
    assert!(run.0.iter().all(|r| r.outcome != "failed"), "{:?}", run.0);
    assert_eq!(on_server(&peer)["SKU-00001"].price, "2.00");

    // Expired again, and this time only the export runs: FORBIDDEN leads to
    // one new login and one retry.
    std::thread::sleep(Duration::from_millis(3500));
    env.load("change-2.jsonl", &offers(&[(1, "3.00")]));
    let run = env.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(run.get(CHANNEL, "export-products").outcome, "ran");
    assert_eq!(on_server(&peer)["SKU-00001"].price, "3.00");
}

#[test]
fn an_api_key_channel_exports_and_auth_refresh_checks_the_key() {
    let peer = VendurePeer::start();
    let key = peer.create_api_key("oms-channels");
    let mut env = TestEnv::with_account(Backend::Sqlite);
    // Real-server timeouts, as `add_channel` gives a peer's channel.
    env.set_var(
        "OMS_CHANNELS_REQUEST_TIMEOUT_MS",
        &peer.request_timeout().as_millis().to_string(),
    );
    let key_file = env.write_file("vendure-key", &key);
    env.ok([
        "channel",
        "add",
        CHANNEL,
        "--type",
        "vendure",
        "--base-url",
        &peer.admin_api_url(),
        "--auth-method",
        "api-key",
        "--api-key-file",
        key_file.to_str().expect("utf-8 path"),
    ]);
    for (job, period) in [("auth-refresh", "1h"), ("export-products", "1h")] {
        env.ok(["channel", "set-period", CHANNEL, job, period]);
    }
    let catalog = offers(&[(1, "4.50"), (2, "4.50"), (3, "4.50")]);
    env.load("catalog.jsonl", &catalog);
    let run = env.run_once(&[]);
    assert_eq!(run.get(CHANNEL, "auth-refresh").outcome, "ran");
    assert_eq!(run.get(CHANNEL, "export-products").outcome, "ran");
    assert_eq!(on_server(&peer), test_support::peer::by_sku(&catalog));
    let store = std::fs::read(env.db_path()).expect("read the store");
    assert!(
        !String::from_utf8_lossy(&store).contains(key.split(':').nth(1).unwrap()),
        "the API key is never stored"
    );

    // A wrong key fails auth-refresh, saying Vendure refused it.
    std::fs::write(&key_file, "1:not-the-secret").expect("write key");
    let (code, doc, _) = env.run_once_any(&["--force", "--job", "auth-refresh"]);
    assert_eq!(code, 1, "{doc:#}");
    let history = env.json(&["history", "--channel", CHANNEL]).to_string();
    assert!(
        history.contains("FORBIDDEN") || history.contains("refused"),
        "{history}"
    );
    assert!(
        !history.contains("not-the-secret"),
        "never the key: {history}"
    );
}
