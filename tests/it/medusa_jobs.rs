//! The real binary against a real Medusa server: export from the OMS
//! catalog, import with Medusa as the master, kills during export, and a
//! JWT that expires between runs.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use oms_channels::connector::medusa::amount_to_price;
use serde_json::{Value, json};

use crate::support::medusa::{
    ADMIN_EMAIL, ADMIN_PASSWORD, MedusaAdmin, MedusaPeer, NewProduct, PeerOptions, sample_products,
};
use crate::support::run_env::{Rows, RunEnv, parse, rows};

const CHANNEL: &str = "shop";
const PASSWORD_VAR: &str = "MEDUSA_TEST_PASSWORD";
const KEY_VAR: &str = "MEDUSA_TEST_KEY";

/// An account with one Medusa channel, and the commands that drive it.
struct Shop {
    env: RunEnv,
    peer: MedusaPeer,
    api_key: Option<String>,
    admin: MedusaAdmin,
    /// Drives the peer's admin calls; the tests themselves are synchronous,
    /// so that `RunEnv` (which owns a runtime) is never dropped inside one.
    rt: tokio::runtime::Runtime,
}

impl Shop {
    /// A channel `shop` on a fresh peer, logging in with the shop owner's
    /// email and password, with these job periods.
    fn new(options: PeerOptions, periods: &[(&str, &str)]) -> Shop {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let peer = rt.block_on(MedusaPeer::start_with(options));
        let admin = rt.block_on(peer.admin());
        let shop = Shop {
            env: RunEnv::new(),
            peer,
            api_key: None,
            admin,
            rt,
        };
        shop.ok(&[
            "channel",
            "add",
            CHANNEL,
            "--type",
            "medusa",
            "--base-url",
            &shop.peer.base_url,
            "--username",
            ADMIN_EMAIL,
            "--password-env",
            PASSWORD_VAR,
        ]);
        for (job, period) in periods {
            shop.ok(&["channel", "set-period", CHANNEL, job, period]);
        }
        shop
    }

    /// The binary with Medusa-sized timeouts (its batch endpoints take
    /// seconds on a loaded machine) and the channel's secrets.
    fn wait<F: std::future::Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// Medusa's variants, by SKU: (title, exact price, stock).
    fn on_server(&self) -> BTreeMap<String, (String, String, Option<i64>)> {
        self.wait(on_server(&self.admin))
    }

    fn output(&self, args: &[&str], crash_at: Option<&str>) -> Output {
        let mut cmd = self.env.std_cmd(args);
        cmd.env("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "120000")
            .env(PASSWORD_VAR, ADMIN_PASSWORD);
        if let Some(key) = &self.api_key {
            cmd.env(KEY_VAR, key);
        }
        if let Some(point) = crash_at {
            cmd.env("OMS_CHANNELS_TEST_CRASH_AT", point);
        }
        cmd.output().expect("run oms-channels")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args, None);
        assert!(
            out.status.success(),
            "`oms-channels {}` failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        parse(&self.ok(&all))
    }

    fn run_once(&self, args: &[&str]) -> Rows {
        let mut all = vec!["run-once"];
        all.extend_from_slice(args);
        rows(&self.json(&all))
    }

    /// The whole catalog, by SKU.
    fn catalog(&self) -> BTreeMap<String, Value> {
        self.json(&["products", "list", "--limit", "100000"])["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| (p["sku"].as_str().expect("sku").to_string(), p.clone()))
            .collect()
    }

    fn load(&self, name: &str, products: &[NewProduct]) {
        let lines: String = products
            .iter()
            .map(|p| {
                json!({"sku": p.sku, "title": p.title, "price": catalog_price(&p.amount),
                       "currency": "EUR", "quantity": p.quantity,
                       "updated_at": jiff::Timestamp::now().to_string()})
                .to_string()
                    + "\n"
            })
            .collect();
        let path = self.env.write_file(name, &lines);
        self.ok(&["products", "load", path.to_str().expect("utf-8")]);
    }
}

/// The catalog's spelling of an amount in EUR (two decimals).
fn catalog_price(amount: &str) -> String {
    let eur = oms_channels::price::Currency::from_code("EUR").expect("EUR");
    amount_to_price(amount, eur).expect("amount").amount_text()
}

/// Medusa's variants, by SKU: (title, exact price, stock).
async fn on_server(admin: &MedusaAdmin) -> BTreeMap<String, (String, String, Option<i64>)> {
    let mut out = BTreeMap::new();
    for variant in admin.variants().await {
        let sku = variant.sku.clone().expect("every variant here has a SKU");
        let price = catalog_price(&variant.prices["eur"]);
        let previous = out.insert(sku.clone(), (variant.title, price, variant.quantity));
        assert!(previous.is_none(), "duplicate SKU {sku} on the server");
    }
    out
}

fn expected(products: &[NewProduct]) -> BTreeMap<String, (String, String, Option<i64>)> {
    products
        .iter()
        .map(|p| {
            (
                p.sku.clone(),
                (p.title.clone(), catalog_price(&p.amount), Some(p.quantity)),
            )
        })
        .collect()
}

#[test]
fn export_300_then_exactly_the_changed_products_reach_medusa() {
    let shop = Shop::new(
        PeerOptions::default(),
        &[("auth-refresh", "1h"), ("export-products", "15m")],
    );
    let mut catalog = sample_products("M", 300);
    shop.load("catalog.jsonl", &catalog);

    let rows = shop.run_once(&[]);
    assert_eq!(rows.get(CHANNEL, "auth-refresh").outcome, "ran");
    let export = rows.get(CHANNEL, "export-products");
    assert_eq!(
        (export.outcome.as_str(), export.items),
        ("ran", 300),
        "{export:?}"
    );
    let before = shop.on_server();
    assert_eq!(
        before,
        expected(&catalog),
        "Medusa holds the catalog exactly"
    );
    for (sku, price) in [
        ("M0000", "19.99"),
        ("M0001", "0.10"),
        ("M0002", "1234567.89"),
    ] {
        assert_eq!(before[sku].1, price, "{sku} byte for byte");
    }

    // Change the price of 2 and the stock of 2.
    catalog[10].amount = "11.11".into();
    catalog[20].amount = "0.01".into();
    catalog[30].quantity = 999;
    catalog[40].quantity = 0;
    let changed = [&catalog[10], &catalog[20], &catalog[30], &catalog[40]];
    shop.load(
        "changes.jsonl",
        &changed.iter().map(|p| (*p).clone()).collect::<Vec<_>>(),
    );
    let rows = shop.run_once(&["--force", "--job", "export-products"]);
    let export = rows.get(CHANNEL, "export-products");
    assert_eq!(
        (export.outcome.as_str(), export.items),
        ("ran", 4),
        "{export:?}"
    );
    let after = shop.on_server();
    assert_eq!(after, expected(&catalog));
    let differing: Vec<&String> = before
        .iter()
        .filter(|(sku, value)| after.get(*sku) != Some(value))
        .map(|(sku, _)| sku)
        .collect();
    assert_eq!(differing, ["M0010", "M0020", "M0030", "M0040"]);

    // Nothing pending: a forced export sends nothing and changes nothing.
    let rows = shop.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(rows.get(CHANNEL, "export-products").items, 0);
    assert_eq!(shop.on_server(), after);

    // Remove 2 from the catalog: they are deleted on Medusa, the rest stay.
    shop.ok(&["products", "remove", "M0050", "M0060"]);
    let rows = shop.run_once(&["--force", "--job", "export-products"]);
    let export = rows.get(CHANNEL, "export-products");
    assert_eq!(export.outcome, "ran", "{export:?}");
    let mut remaining = after.clone();
    for sku in ["M0050", "M0060"] {
        assert!(remaining.remove(sku).is_some(), "{sku} was on the server");
    }
    assert_eq!(
        shop.on_server(),
        remaining,
        "exactly the 2 removed are gone"
    );
}

#[test]
fn medusa_as_master_imports_1000_and_picks_up_price_and_stock_changes() {
    let shop = Shop::new(
        PeerOptions::default(),
        &[("auth-refresh", "1h"), ("import-products", "15m")],
    );
    shop.ok(&["account", "set-master-source", CHANNEL]);
    let mut products = sample_products("R", 1000);
    shop.wait(shop.admin.create_products(&products));

    let rows = shop.run_once(&[]);
    let import = rows.get(CHANNEL, "import-products");
    assert_eq!(
        (import.outcome.as_str(), import.items),
        ("ran", 1000),
        "{import:?}"
    );
    let check = |catalog: &BTreeMap<String, Value>, products: &[NewProduct]| {
        assert_eq!(catalog.len(), products.len());
        for p in products {
            let got = &catalog[&p.sku];
            assert_eq!(got["title"], p.title.as_str(), "{}", p.sku);
            assert_eq!(got["price"], catalog_price(&p.amount).as_str(), "{}", p.sku);
            assert_eq!(got["currency"], "EUR");
            assert_eq!(got["quantity"], p.quantity, "{}", p.sku);
        }
    };
    check(&shop.catalog(), &products);

    // A price changed on a variant and a stock level changed: neither moves
    // the product's `updated_at`.
    shop.wait(shop.admin.set_price("R0500", "42.42"));
    shop.wait(shop.admin.set_stock("R0777", 31));
    products[500].amount = "42.42".into();
    products[777].quantity = 31;
    let rows = shop.run_once(&["--force", "--job", "import-products"]);
    let import = rows.get(CHANNEL, "import-products");
    assert_eq!(import.outcome, "ran");
    // Everything here changed within the connector's look-back window
    // (`OVERLAP`), so the incremental run re-reads rows; the protocol test
    // `medusa_protocol_exports_imports_and_deletes_exactly` shows which phase
    // finds which change.
    check(&shop.catalog(), &products);
}

#[test]
fn kills_during_an_export_leave_no_duplicates_and_no_lost_variants() {
    let shop = Shop::new(
        PeerOptions::default(),
        &[("auth-refresh", "1h"), ("export-products", "15m")],
    );
    let mut catalog: Vec<NewProduct> = Vec::new();
    for (round, point) in [
        "medusa-export-created",
        "export-batch-sent",
        "export-batch-recorded",
    ]
    .into_iter()
    .enumerate()
    {
        let products = sample_products(&format!("K{round}-"), 150);
        shop.load(&format!("round{round}.jsonl"), &products);
        catalog.extend(products);
        let killed = shop.output(&["run-once", "--force"], Some(point));
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&killed.status),
            Some(9),
            "killed at {point}: {}",
            String::from_utf8_lossy(&killed.stderr)
        );
        let rows = shop.run_once(&["--force"]);
        assert_eq!(
            rows.get(CHANNEL, "export-products").outcome,
            "ran",
            "the run after a kill at {point} succeeds: {rows:?}"
        );
        assert_eq!(
            shop.on_server(),
            expected(&catalog),
            "after a kill at {point}: every variant once, with its price and stock"
        );
    }
}

#[test]
fn an_expired_jwt_is_renewed_and_secret_keys_need_none() {
    let mut shop = Shop::new(
        PeerOptions {
            jwt_expires_in: Some("4s".into()),
        },
        &[("auth-refresh", "1h"), ("export-products", "15m")],
    );
    let mut catalog = sample_products("J", 3);
    shop.load("a.jsonl", &catalog);
    let rows = shop.run_once(&[]);
    assert_eq!(rows.get(CHANNEL, "export-products").outcome, "ran");

    // The stored JWT expires; auth-refresh is not due, so the export meets
    // a 401, logs in again once, and succeeds.
    std::thread::sleep(Duration::from_secs(5));
    catalog[0].quantity = 77;
    shop.load("b.jsonl", &catalog[..1]);
    let rows = shop.run_once(&["--force", "--job", "export-products"]);
    assert_eq!(
        rows.get(CHANNEL, "export-products").outcome,
        "ran",
        "{rows:?}"
    );
    assert_eq!(shop.wait(shop.admin.variant("J0000")).quantity, Some(77));

    // Expired again: auth-refresh logs in afresh and the export follows.
    std::thread::sleep(Duration::from_secs(5));
    catalog[1].quantity = 78;
    shop.load("c.jsonl", &catalog[1..2]);
    let rows = shop.run_once(&["--force"]);
    assert_eq!(rows.get(CHANNEL, "auth-refresh").outcome, "ran", "{rows:?}");
    assert_eq!(
        rows.get(CHANNEL, "export-products").outcome,
        "ran",
        "{rows:?}"
    );
    assert_eq!(shop.wait(shop.admin.variant("J0001")).quantity, Some(78));

    // A secret API key: no login, no expiry.
    shop.api_key = Some(shop.wait(shop.admin.create_secret_key()));
    shop.ok(&["channel", "set", CHANNEL, "--api-key-env", KEY_VAR]);
    catalog[2].quantity = 79;
    shop.load("d.jsonl", &catalog[2..3]);
    let rows = shop.run_once(&["--force"]);
    assert_eq!(rows.get(CHANNEL, "auth-refresh").outcome, "ran", "{rows:?}");
    assert_eq!(
        rows.get(CHANNEL, "export-products").outcome,
        "ran",
        "{rows:?}"
    );
    assert_eq!(shop.wait(shop.admin.variant("J0002")).quantity, Some(79));
}
