//! The sandbox beta-rest channel: a strict HTTP server on loopback with seeded
//! products and fault switches, for the quick start, the integration tests and
//! the bench. It speaks the beta-rest protocol only and depends on nothing of
//! `oms-channels`, so it checks the client from outside, as a real channel
//! would, and decodes with the crates a real server uses (`base64`,
//! `form_urlencoded`, `mime`, `serde_json`).
//!
//! The modules follow the protocol: `auth` (the OAuth token endpoint and
//! bearer checks), `listing` (`GET /products`), `batch` (`POST
//! /products/batch`), `stock` (`POST /stock/batch`, `POST /stock/read`),
//! `catalog` and `seed` (what it holds), `faults`
//! (what the switches do to a request), `rate` (an enforced request rate
//! and its headers), `admin` (`/_sandbox/*`), `http`
//! (dispatch) and `conn` (connections a fault can reset).
//!
//! Products are nested (a `handle` and its `variants`, as exports write them)
//! or flat (`sku`, `price`, `quantity`, as servers of earlier versions serve
//! them); seeds are flat unless `variants_per_product` asks for variants.
//! Seeded products are derived from their index on demand, so a catalog of a
//! million products costs a bitset, not a million structs; only products
//! created or changed through export or the Rust API live in a map.

mod admin;
mod auth;
mod batch;
mod catalog;
mod conn;
mod faults;
mod http;
mod listing;
mod product;
mod rate;
mod seed;
mod shared;
mod stock;
mod switches;

#[cfg(test)]
mod test_client;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use product::{Image, NestedProduct, NestedVariant, Product};
pub use switches::{RateHeaders, Switches};

use catalog::{Entry, nested_key};
use shared::{Shared, lock, read, write};

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub port: u16,
    /// Number of seeded products (`SKU-0000001` .., or `prod-0000001` ..
    /// with variants).
    pub products: u64,
    /// Variants of each seeded product (`SKU-0000001-1` ..); 0: seeded
    /// products are flat.
    pub variants_per_product: u32,
    pub client_id: String,
    pub client_secret: String,
    /// Largest `limit` accepted by `GET /products`.
    pub max_page_size: u32,
    /// Most levels one `POST /stock/batch` (and SKUs one `POST
    /// /stock/read`) may carry; more is refused with 413.
    pub max_stock_batch: usize,
    /// The grant's first refresh token; random when `None`.
    pub refresh_token: Option<String>,
    pub switches: Switches,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            port: 0,
            products: 1000,
            variants_per_product: 0,
            client_id: "demo-client".into(),
            client_secret: "demo-secret".into(),
            // The beta-rest protocol's maximum; tests lower it to play a
            // stricter channel.
            max_page_size: 500,
            max_stock_batch: 100,
            refresh_token: None,
            switches: Switches::default(),
        }
    }
}

/// One protocol request as the sandbox saw it (`/_sandbox/*` is not recorded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string, empty when there was none.
    pub query: String,
    /// Status sent; 0 when the connection was reset without a reply.
    pub status: u16,
    pub authorization_present: bool,
    /// Raw body, kept for `POST /products/batch` and `POST /stock/batch` only.
    pub body: Option<String>,
}

/// A running sandbox; dropping it stops the server too.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds 127.0.0.1 (on `config.port`) and serves on the current runtime.
    ///
    /// Panics when it cannot bind or the switches are invalid; see [`Sandbox::try_start`].
    pub async fn start(config: SandboxConfig) -> Sandbox {
        match Sandbox::try_start(config).await {
            Ok(sandbox) => sandbox,
            Err(err) => panic!("cannot start the sandbox channel: {err}"),
        }
    }

    /// Like [`Sandbox::start`], but returns bind errors and invalid switches.
    pub async fn try_start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        config
            .switches
            .check()
            .map_err(|msg| std::io::Error::new(std::io::ErrorKind::InvalidInput, msg))?;
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let router = Router::new()
            .fallback(http::handle)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(
            conn::ResettableListener(listener),
            router.into_make_service_with_connect_info::<conn::ConnHandle>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            if let Err(err) = server.await {
                eprintln!("sandbox: server stopped: {err}");
            }
        });
        Ok(Sandbox {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, the beta-rest `base-url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn client_id(&self) -> String {
        self.shared.client_id.clone()
    }

    pub fn client_secret(&self) -> String {
        self.shared.client_secret.clone()
    }

    /// The grant's latest refresh token. After a revocation it is still
    /// returned but no longer accepted: check [`Sandbox::grant_revoked`].
    pub fn current_refresh_token(&self) -> String {
        lock(&self.shared.auth).refresh.clone()
    }

    /// Starts a fresh grant and returns its refresh token (clears a revocation).
    pub fn mint_refresh_token(&self) -> String {
        lock(&self.shared.auth).mint()
    }

    /// Whether reuse detection revoked the grant.
    pub fn grant_revoked(&self) -> bool {
        lock(&self.shared.auth).revoked
    }

    /// Makes every access token issued so far expire now (instead of waiting).
    pub fn expire_access_tokens(&self) {
        lock(&self.shared.auth).access.clear();
    }

    /// Recorded protocol requests, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// How many recorded requests went to `path` (e.g. `"/products"`).
    pub fn count(&self, path: &str) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// Requests answered 429 because they went past the enforced rate
    /// (`rate_per_second`); `rate_limit_every`'s are not counted.
    pub fn refused_for_rate(&self) -> u64 {
        self.shared
            .rate_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests to `/stock/batch` and `/stock/read`.
    pub fn stock_requests(&self) -> u64 {
        self.shared
            .stock_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stock levels received by `/stock/batch` (set or not).
    pub fn stock_levels_received(&self) -> u64 {
        self.shared
            .stock_levels_received
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every level of `sku` the sandbox holds, by location.
    pub fn stock_levels(&self, sku: &str) -> Vec<(String, i64)> {
        read(&self.shared.catalog).levels(sku)
    }

    /// Sets `sku`'s stock at `location` as the shop's own admin would;
    /// whether the sandbox holds `sku` there (a flat product has only
    /// `default`).
    pub fn set_stock_level(&self, sku: &str, location: &str, quantity: i64) -> bool {
        write(&self.shared.catalog)
            .set_level(sku, location, quantity)
            .is_ok()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    pub fn switches(&self) -> Switches {
        lock(&self.shared.switches).clone()
    }

    /// Replaces all switches. Panics on values [`Switches::check`] refuses.
    pub fn set_switches(&self, switches: Switches) {
        if let Err(msg) = switches.check() {
            panic!("{msg}");
        }
        *lock(&self.shared.switches) = switches;
    }

    /// Changes some switches in place. Panics on values [`Switches::check`] refuses.
    pub fn update_switches(&self, change: impl FnOnce(&mut Switches)) {
        let mut switches = lock(&self.shared.switches);
        let mut next = switches.clone();
        change(&mut next);
        if let Err(msg) = next.check() {
            panic!("{msg}");
        }
        *switches = next;
    }

    /// The product holding `sku`, as a flat product (a variant of a product
    /// with variants: see [`NestedProduct::flat_view`]).
    pub fn product(&self, sku: &str) -> Option<Product> {
        read(&self.shared.catalog).current(sku)
    }

    /// Every variant as a flat product, in serving order (materialises
    /// them: for small seeds).
    pub fn all_products(&self) -> Vec<Product> {
        let catalog = read(&self.shared.catalog);
        catalog
            .items(None, None)
            .flat_map(|item| {
                let entry = catalog.materialise(item);
                entry
                    .skus()
                    .iter()
                    .filter_map(|sku| entry.flat_view(sku))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The product with variants under `handle`.
    pub fn nested_product(&self, handle: &str) -> Option<NestedProduct> {
        match read(&self.shared.catalog).entry(&nested_key(handle)) {
            Some(Entry::Nested(p)) => Some(p),
            _ => None,
        }
    }

    /// Every product with variants, in serving order.
    pub fn nested_products(&self) -> Vec<NestedProduct> {
        let catalog = read(&self.shared.catalog);
        catalog
            .items(None, None)
            .filter_map(|item| match catalog.materialise(item) {
                Entry::Nested(p) => Some(p),
                Entry::Flat(_) => None,
            })
            .collect()
    }

    /// Products (flat ones and those with variants).
    pub fn product_count(&self) -> u64 {
        read(&self.shared.catalog).count()
    }

    /// Changes the product holding `sku` through its flat view and sets its
    /// `updated_at` to now; `None` when no product holds the sku.
    pub fn update_product(&self, sku: &str, change: impl FnOnce(&mut Product)) -> Option<Product> {
        let mut catalog = write(&self.shared.catalog);
        let entry = catalog.entry(&catalog.owner(sku)?)?;
        let mut view = entry.flat_view(sku)?;
        change(&mut view);
        let changed = match entry {
            Entry::Flat(_) => Entry::Flat(view),
            Entry::Nested(mut p) => {
                p.apply_flat(sku, view);
                Entry::Nested(p)
            }
        };
        catalog.store(changed).flat_view(sku)
    }

    /// Deletes the product holding `sku` (as the shop's own admin would);
    /// whether there was one.
    pub fn delete_product(&self, sku: &str) -> bool {
        let mut catalog = write(&self.shared.catalog);
        match catalog.owner(sku) {
            Some(key) => {
                catalog.delete_key(&key);
                true
            }
            None => false,
        }
    }

    /// Creates or replaces a flat product, setting `updated_at` to now (and
    /// `id` when it has none). Returns what is stored.
    pub fn put_product(&self, product: Product) -> Product {
        let sku = product.sku.clone();
        write(&self.shared.catalog)
            .store(Entry::Flat(product))
            .flat_view(&sku)
            .expect("a flat product has its sku")
    }

    /// Creates or replaces a product with variants, setting `updated_at` to
    /// now and ids where it has none. Returns what is stored.
    pub fn put_nested(&self, product: NestedProduct) -> NestedProduct {
        write(&self.shared.catalog).store_nested(product)
    }

    /// Changes the product with variants under `handle` (as a shop's own
    /// admin would) and sets its `updated_at` to now.
    pub fn update_nested(
        &self,
        handle: &str,
        change: impl FnOnce(&mut NestedProduct),
    ) -> Option<NestedProduct> {
        let mut catalog = write(&self.shared.catalog);
        let Some(Entry::Nested(mut product)) = catalog.entry(&nested_key(handle)) else {
            return None;
        };
        change(&mut product);
        Some(catalog.store_nested(product))
    }

    /// The same document as `GET /_sandbox/state`.
    pub fn state(&self) -> Value {
        self.shared.state()
    }

    /// Stops accepting, lets in-flight requests finish (at most 2 s), and waits.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Switches;
    use crate::seed::seeded_product;
    use crate::test_client::*;

    #[tokio::test]
    async fn rust_side_catalog_changes() {
        let sb = start(3, Switches::default()).await;
        assert_eq!(
            sb.all_products(),
            (1..=3).map(seeded_product).collect::<Vec<_>>()
        );
        let mut new = seeded_product(1);
        new.sku = "OWN-1".into();
        new.id = None;
        let stored = sb.put_product(new);
        assert_eq!(stored.id.as_deref(), Some("p-4"));
        assert!(stored.updated_at > seeded_product(3).updated_at);
        let changed = sb
            .update_product("SKU-0000002", |p| p.title = "Renamed".into())
            .unwrap();
        assert_eq!(changed.id.as_deref(), Some("p-2"));
        assert!(sb.update_product("NOPE", |_| {}).is_none());
        let order: Vec<String> = sb.all_products().into_iter().map(|p| p.sku).collect();
        assert_eq!(
            order,
            ["SKU-0000001", "SKU-0000003", "OWN-1", "SKU-0000002"]
        );
        assert_eq!(sb.product_count(), 4);
        assert_eq!(sb.product("SKU-0000002").unwrap().title, "Renamed");
    }
}
