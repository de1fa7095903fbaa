//! The sandbox as a [`Peer`]: a [`Sandbox`] with the tokio runtime it
//! serves on, owned together so a test needs neither. It derefs to the
//! [`Sandbox`], whose switches, request log and Rust-side catalog a test
//! uses directly.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::time::Duration;

use sandbox::{Product, Sandbox, SandboxConfig, Switches};
use serde_json::Value;

use super::{Listing, Offer, Peer, PeerKind, ShopProduct, ShopVariant};
use crate::TestEnv;

/// A running sandbox and its runtime; dropping it stops both.
pub struct SandboxPeer {
    /// Drops first: its server task stops before the runtime goes.
    sandbox: Sandbox,
    runtime: tokio::runtime::Runtime,
}

impl SandboxPeer {
    /// A sandbox from a whole config (seeded products, switches, credentials).
    pub fn start(config: SandboxConfig) -> SandboxPeer {
        // Two workers: the test thread blocks on child processes while the
        // server answers them.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let sandbox = runtime.block_on(Sandbox::start(config));
        SandboxPeer { sandbox, runtime }
    }

    /// `products` seeded products and these switches.
    pub fn with(products: u64, switches: Switches) -> SandboxPeer {
        SandboxPeer::start(SandboxConfig {
            products,
            switches,
            ..SandboxConfig::default()
        })
    }

    /// No products, default switches.
    pub fn empty() -> SandboxPeer {
        SandboxPeer::with(0, Switches::default())
    }

    /// The sandbox the crash and fault suites use: `products` seeded,
    /// rotating refresh tokens with reuse detection.
    pub fn rotating(products: u64) -> SandboxConfig {
        let mut config = SandboxConfig {
            products,
            ..SandboxConfig::default()
        };
        config.switches.rotate_refresh_tokens = true;
        config.switches.reuse_detection = true;
        config
    }

    /// Export batches the sandbox received: the SKUs of each, in order (of
    /// each product's variants, product by product).
    pub fn batches(&self) -> Vec<Vec<String>> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/products/batch")
            .map(|r| {
                let body: Value =
                    serde_json::from_str(r.body.as_deref().expect("batch body recorded"))
                        .expect("batch body is JSON");
                body["products"]
                    .as_array()
                    .expect("products array")
                    .iter()
                    .flat_map(|p| p["variants"].as_array().expect("variants").iter())
                    .map(|v| v["sku"].as_str().expect("sku").to_string())
                    .collect()
            })
            .collect()
    }

    /// `(method path, status)` of every recorded request, in order.
    pub fn log(&self) -> Vec<(String, u16)> {
        self.requests()
            .into_iter()
            .map(|r| (format!("{} {}", r.method, r.path), r.status))
            .collect()
    }

    /// Runs a future on the sandbox's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Deref for SandboxPeer {
    type Target = Sandbox;

    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl Peer for SandboxPeer {
    fn kind(&self) -> PeerKind {
        PeerKind::Sandbox
    }

    fn channel_args(&self, secret_var: &str) -> Vec<String> {
        [
            "--type",
            "beta-rest",
            "--base-url",
            &self.base_url(),
            "--token-url",
            &self.token_url(),
            "--client-id",
            &self.client_id(),
            "--client-secret-env",
            secret_var,
        ]
        .map(str::to_string)
        .to_vec()
    }

    fn secret(&self) -> String {
        self.client_secret()
    }

    fn login_token(&self) -> Option<String> {
        Some(self.current_refresh_token())
    }

    fn currency(&self) -> &'static str {
        "EUR"
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }

    fn seed(&self, offers: &[Offer]) {
        for offer in offers {
            self.put_product(Product {
                sku: offer.sku.clone(),
                title: offer.title.clone(),
                price: offer.price.clone(),
                currency: offer.currency.clone(),
                quantity: offer.quantity,
                attributes: Default::default(),
                updated_at: String::new(),
                id: None,
            });
        }
    }

    fn change(&self, sku: &str, price: &str, quantity: i64) {
        self.update_product(sku, |p| {
            p.price = price.to_string();
            p.quantity = quantity;
        })
        .unwrap_or_else(|| panic!("no product {sku} on the sandbox"));
    }

    fn read_back(&self) -> Listing {
        Listing {
            products: self
                .all_products()
                .into_iter()
                .map(|p| ShopProduct {
                    id: p.id.clone().unwrap_or_default(),
                    title: p.title.clone(),
                    variants: vec![ShopVariant {
                        id: p.id.clone().unwrap_or_default(),
                        sku: Some(p.sku),
                        title: p.title,
                        prices: [(p.currency, p.price)].into(),
                        quantity: Some(p.quantity),
                        changed_at: Some(p.updated_at),
                    }],
                })
                .collect(),
        }
    }

    fn as_sandbox(&self) -> Option<&SandboxPeer> {
        Some(self)
    }

    fn stock_locations(&self, count: usize) -> Result<Vec<String>, String> {
        // The sandbox keeps any location a variant names.
        Ok((1..=count).map(|n| format!("wh-{n}")).collect())
    }

    fn set_stock(&self, sku: &str, location: &str, quantity: i64) -> Result<(), String> {
        if self.set_stock_level(sku, location, quantity) {
            Ok(())
        } else {
            Err(format!("the sandbox holds no `{sku}` at `{location}`"))
        }
    }

    fn stock_of(&self, skus: &[String]) -> Result<BTreeMap<(String, String), i64>, String> {
        Ok(skus
            .iter()
            .flat_map(|sku| {
                self.stock_levels(sku)
                    .into_iter()
                    .map(move |(location, quantity)| ((sku.clone(), location), quantity))
            })
            .collect())
    }

    fn stock_levels_received(&self) -> Result<u64, String> {
        Ok(self.sandbox.stock_levels_received())
    }

    fn product_requests(&self) -> Option<usize> {
        Some(
            self.requests()
                .iter()
                .filter(|r| r.path.starts_with("/products"))
                .count(),
        )
    }
}

/// The catalog holds exactly the sandbox's products, with its latest
/// values, ids and timestamps (an import from it as the master).
pub fn assert_catalog_equals_channel(env: &TestEnv, sb: &Sandbox, context: &str) {
    let channel: BTreeMap<String, Product> = sb
        .all_products()
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
    let catalog = env.catalog();
    let skus = |m: &BTreeMap<String, Product>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(skus(&catalog), skus(&channel), "{context}: SKU sets differ");
    for (sku, product) in &channel {
        assert_eq!(
            &catalog[sku], product,
            "{context}: {sku} in the catalog differs from the channel"
        );
    }
}

/// The sandbox holds exactly the catalog's products with their content (it
/// stamps its own `updated_at` and ids): an export to it converged.
pub fn assert_channel_equals_catalog(env: &TestEnv, sb: &Sandbox, context: &str) {
    let catalog = env.catalog();
    let channel = sb.all_products();
    let skus: BTreeSet<&String> = channel.iter().map(|p| &p.sku).collect();
    assert_eq!(skus, catalog.keys().collect(), "{context}: SKU sets differ");
    let content = |p: &Product| {
        (
            p.title.clone(),
            p.price.clone(),
            p.currency.clone(),
            p.quantity,
            p.attributes.clone(),
        )
    };
    for p in &channel {
        assert_eq!(
            content(&catalog[&p.sku]),
            content(p),
            "{context}: {} on the channel is not the catalog's latest",
            p.sku
        );
    }
}
