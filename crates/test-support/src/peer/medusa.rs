//! A real Medusa v2 server as a test peer: the npm packages pinned by
//! `tests/peers/medusa/package-lock.json`, installed on first use into
//! `target/peers/medusa/<hash>/` ([`node`](super::node)), on a
//! fresh database of the shared throwaway PostgreSQL cluster, listening on
//! 127.0.0.1. It owns that install dir, its databases and the servers it
//! starts; a dropped peer (or a test process that dies) kills its server.
//!
//! `MedusaAdmin` is what a shop owner does through the Admin API: create
//! products, read them back, change a price or a stock level, create a
//! secret API key. It keeps prices as the JSON text Medusa sends, never a
//! float, so tests compare amounts byte for byte.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::node::{NodeProject, check, free_port, last_chars, node_env, node_version};
use super::{Listing, Offer, Peer, PeerKind, ShopProduct, ShopVariant, two_decimals};
use crate::pg::PgCluster;

/// The npm project of `tests/peers/medusa`.
const PROJECT: NodeProject = NodeProject {
    name: "medusa",
    files: &["package.json", "package-lock.json", "medusa-config.js"],
    installed_marker: "node_modules/.bin/medusa",
    node_supported: node_is_supported,
    node_wanted: "Node.js ^20.19 or >= 22.12 (Medusa 2.21's `engines`; Debian 12's own `nodejs` is 18)",
};

/// The shop owner's login on every peer.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "peer-admin-password";
/// A fresh Medusa store's default currency.
pub const CURRENCY: &str = "eur";

/// Options a test may vary; everything else is Medusa's stock default.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    /// `jwtExpiresIn` (e.g. `"5s"`); `None` keeps Medusa's default (1 day).
    pub jwt_expires_in: Option<String>,
}

/// A running Medusa server with a shop owner, a stock location linked to the
/// default sales channel, and nothing else.
pub struct MedusaPeer {
    pub base_url: String,
    pub sales_channel_id: String,
    pub stock_location_id: String,
    server: Child,
    /// Closing it tells the watchdog to kill the server's process group.
    watchdog_pipe: Option<ChildStdin>,
    watchdog: Child,
    log: PathBuf,
}

impl MedusaPeer {
    /// Starts a peer with stock settings.
    pub async fn start() -> MedusaPeer {
        MedusaPeer::start_with(PeerOptions::default()).await
    }

    /// Installs Medusa if needed, copies the migrated template database,
    /// starts the server and sets up the stock location.
    pub async fn start_with(options: PeerOptions) -> MedusaPeer {
        let started = Instant::now();
        let install = tokio::task::spawn_blocking(installed_project)
            .await
            .expect("install task");
        let template = tokio::task::spawn_blocking(move || template_database(install))
            .await
            .expect("template task");
        let cluster = PgCluster::shared();
        let prepared = started.elapsed();
        let database = next_name("medusa");
        cluster.psql(
            "postgres",
            &format!("CREATE DATABASE {database} TEMPLATE {template}"),
        );

        let port = free_port();
        let log = install
            .parent()
            .expect("cache dir")
            .join(format!("server-{}-{database}.log", std::process::id()));
        let log_file = File::create(&log).expect("create medusa log");
        let mut cmd = medusa_command(install, &cluster.url(&database), &options);
        cmd.args(["start", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log fd"))
            .stderr(log_file)
            .process_group(0);
        let server = cmd.spawn().expect("spawn `medusa start`");
        let (watchdog, watchdog_pipe) = spawn_watchdog(server.id());
        let mut peer = MedusaPeer {
            base_url: format!("http://127.0.0.1:{port}"),
            sales_channel_id: String::new(),
            stock_location_id: String::new(),
            server,
            watchdog_pipe: Some(watchdog_pipe),
            watchdog,
            log,
        };
        peer.wait_healthy().await;
        peer.set_up_shop().await;
        eprintln!(
            "Medusa peer at {} ready in {:.1?} ({:.1?} to install and migrate)",
            peer.base_url,
            started.elapsed(),
            prepared
        );
        peer
    }

    async fn wait_healthy(&mut self) {
        let client = http_client();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = self.server.try_wait() {
                panic!(
                    "`medusa start` exited with {status} before answering /health; log {}:\n{}",
                    self.log.display(),
                    tail(&self.log)
                );
            }
            let health = client.get(format!("{}/health", self.base_url)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Medusa did not answer /health within 120 s; log {}:\n{}",
                self.log.display(),
                tail(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// What a shop owner does before stock can be kept: a stock location,
    /// linked to the store's default sales channel.
    async fn set_up_shop(&mut self) {
        let admin = self.admin().await;
        let stores = admin
            .get("/admin/stores?fields=id,default_sales_channel_id")
            .await;
        self.sales_channel_id = stores["stores"][0]["default_sales_channel_id"]
            .as_str()
            .expect("a fresh store has a default sales channel")
            .to_string();
        let location = admin
            .post("/admin/stock-locations", json!({"name": "Main warehouse"}))
            .await;
        self.stock_location_id = location["stock_location"]["id"]
            .as_str()
            .expect("stock location id")
            .to_string();
        admin
            .post(
                &format!(
                    "/admin/stock-locations/{}/sales-channels",
                    self.stock_location_id
                ),
                json!({"add": [self.sales_channel_id]}),
            )
            .await;
    }

    /// The shop owner, logged in.
    pub async fn admin(&self) -> MedusaAdmin {
        MedusaAdmin::login(&self.base_url, self.stock_location_id.clone()).await
    }
}

impl Drop for MedusaPeer {
    fn drop(&mut self) {
        if let Some(group) = rustix::process::Pid::from_raw(self.server.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.server.wait();
        drop(self.watchdog_pipe.take());
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A product to create on the peer: one variant with one EUR price and its
/// stock at the peer's stock location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub sku: String,
    pub title: String,
    /// The amount exactly as it goes on the wire, e.g. `19.99`.
    pub amount: String,
    pub quantity: i64,
}

/// One variant as the peer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerVariant {
    pub product_id: String,
    pub product_title: String,
    pub variant_id: String,
    pub sku: Option<String>,
    pub title: String,
    /// Currency code to the amount's JSON text, as Medusa sent it.
    pub prices: BTreeMap<String, String>,
    pub inventory_item_id: Option<String>,
    /// Stocked quantity at the peer's stock location, if it has a level there.
    pub quantity: Option<i64>,
}

/// One live product as the peer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedusaProduct {
    pub id: String,
    pub title: String,
    pub variants: Vec<PeerVariant>,
}

/// The Admin API as a shop owner uses it (JWT from the email/password login,
/// renewed by a fresh login when a test's short JWT lifetime ends it).
pub struct MedusaAdmin {
    http: reqwest::Client,
    base_url: String,
    token: std::sync::Mutex<String>,
    stock_location_id: String,
}

impl MedusaAdmin {
    pub async fn login(base_url: &str, stock_location_id: String) -> MedusaAdmin {
        let http = http_client();
        let token = std::sync::Mutex::new(fresh_token(&http, base_url).await);
        MedusaAdmin {
            http,
            base_url: base_url.to_string(),
            token,
            stock_location_id,
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        serde_json::from_str(&self.get_text(path).await).expect("JSON reply")
    }

    /// The reply body as text, for replies read with `RawValue`s.
    pub async fn get_text(&self, path: &str) -> String {
        let request = self.http.get(format!("{}{path}", self.base_url));
        self.send(request, "GET", path).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.post_raw(path, body.to_string()).await
    }

    /// POST with a body given as JSON text (to carry exact numbers).
    pub async fn post_raw(&self, path: &str, body: String) -> Value {
        let request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .body(body);
        serde_json::from_str(&self.send(request, "POST", path).await).expect("JSON reply")
    }

    pub async fn delete(&self, path: &str) -> Value {
        let request = self.http.delete(format!("{}{path}", self.base_url));
        serde_json::from_str(&self.send(request, "DELETE", path).await).expect("JSON reply")
    }

    async fn send(&self, request: reqwest::RequestBuilder, method: &str, path: &str) -> String {
        for attempt in 0..2 {
            let token = self.token.lock().expect("token").clone();
            let reply = request
                .try_clone()
                .expect("in-memory body")
                .bearer_auth(token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = reply.status();
            let text = reply.text().await.expect("reply body");
            if status == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                let token = fresh_token(&self.http, &self.base_url).await;
                *self.token.lock().expect("token") = token;
                continue;
            }
            assert!(
                status.is_success(),
                "{method} {path} answered {status}: {text}"
            );
            return text;
        }
        unreachable!("the second attempt returns or panics")
    }

    /// Creates the products (100 per batch request), then their stock.
    pub async fn create_products(&self, products: &[NewProduct]) {
        let sales_channel = self
            .get("/admin/stores?fields=default_sales_channel_id")
            .await["stores"][0]["default_sales_channel_id"]
            .as_str()
            .expect("default sales channel")
            .to_string();
        for chunk in products.chunks(100) {
            let creates: Vec<String> = chunk
                .iter()
                .map(|p| {
                    // Built as text so the amount goes out exactly as given.
                    let amount = RawValue::from_string(p.amount.clone()).expect("amount is JSON");
                    format!(
                        r#"{{"title":{title},"handle":{handle},"status":"published","options":[{{"title":"Default","values":["Default"]}}],"sales_channels":[{{"id":{sc}}}],"variants":[{{"title":{title},"sku":{sku},"manage_inventory":true,"options":{{"Default":"Default"}},"prices":[{{"currency_code":"{CURRENCY}","amount":{amount}}}]}}]}}"#,
                        title = json!(p.title),
                        handle = json!(format!("peer-{}", p.sku.to_lowercase())),
                        sc = json!(sales_channel),
                        sku = json!(p.sku),
                        amount = amount.get(),
                    )
                })
                .collect();
            self.post_raw(
                "/admin/products/batch",
                format!(r#"{{"create":[{}]}}"#, creates.join(",")),
            )
            .await;
        }
        let variants = self.variants().await;
        let by_sku: BTreeMap<&str, &PeerVariant> = variants
            .iter()
            .filter_map(|v| Some((v.sku.as_deref()?, v)))
            .collect();
        let levels: Vec<Value> = products
            .iter()
            .map(|p| {
                let variant = by_sku[p.sku.as_str()];
                json!({
                    "inventory_item_id": variant.inventory_item_id.as_ref().expect("managed inventory"),
                    "location_id": self.stock_location_id,
                    "stocked_quantity": p.quantity,
                })
            })
            .collect();
        for chunk in levels.chunks(200) {
            self.post(
                "/admin/inventory-items/location-levels/batch",
                json!({"create": chunk}),
            )
            .await;
        }
    }

    /// Every variant of every live product, with prices and stock at the
    /// peer's stock location.
    pub async fn variants(&self) -> Vec<PeerVariant> {
        self.products()
            .await
            .into_iter()
            .flat_map(|p| p.variants)
            .collect()
    }

    /// Every live product with its variants (none for a product left empty).
    pub async fn products(&self) -> Vec<MedusaProduct> {
        #[derive(Deserialize)]
        struct Page {
            products: Vec<WireProduct>,
            count: usize,
        }
        #[derive(Deserialize)]
        struct WireProduct {
            id: String,
            title: String,
            #[serde(default)]
            variants: Vec<WireVariant>,
        }
        #[derive(Deserialize)]
        struct WireVariant {
            id: String,
            sku: Option<String>,
            title: String,
            #[serde(default)]
            prices: Vec<WirePrice>,
            #[serde(default)]
            inventory_items: Vec<WireLink>,
        }
        #[derive(Deserialize)]
        struct WirePrice {
            currency_code: String,
            amount: Box<RawValue>,
        }
        #[derive(Deserialize)]
        struct WireLink {
            inventory_item_id: String,
            inventory: Option<WireInventory>,
        }
        #[derive(Deserialize)]
        struct WireInventory {
            #[serde(default)]
            location_levels: Vec<WireLevel>,
        }
        #[derive(Deserialize)]
        struct WireLevel {
            location_id: String,
            stocked_quantity: i64,
        }
        let fields = "id,title,variants.id,variants.sku,variants.title,\
            variants.prices.currency_code,variants.prices.amount,\
            variants.inventory_items.inventory_item_id,\
            variants.inventory_items.inventory.location_levels.location_id,\
            variants.inventory_items.inventory.location_levels.stocked_quantity";
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let text = self
                .get_text(&format!(
                    "/admin/products?limit=200&offset={offset}&fields={fields}"
                ))
                .await;
            let page: Page = serde_json::from_str(&text).expect("products page");
            let got = page.products.len();
            for product in page.products {
                let mut variants = Vec::new();
                for variant in product.variants {
                    let link = variant.inventory_items.first();
                    variants.push(PeerVariant {
                        product_id: product.id.clone(),
                        product_title: product.title.clone(),
                        variant_id: variant.id,
                        sku: variant.sku,
                        title: variant.title,
                        prices: variant
                            .prices
                            .into_iter()
                            .map(|p| (p.currency_code, p.amount.get().to_string()))
                            .collect(),
                        inventory_item_id: link.map(|l| l.inventory_item_id.clone()),
                        quantity: link
                            .and_then(|l| l.inventory.as_ref())
                            .and_then(|i| {
                                i.location_levels
                                    .iter()
                                    .find(|l| l.location_id == self.stock_location_id)
                            })
                            .map(|l| l.stocked_quantity),
                    });
                }
                out.push(MedusaProduct {
                    id: product.id,
                    title: product.title,
                    variants,
                });
            }
            offset += got;
            if got == 0 || offset >= page.count {
                return out;
            }
        }
    }

    /// The live variant with this SKU (panics unless there is exactly one).
    pub async fn variant(&self, sku: &str) -> PeerVariant {
        let mut found: Vec<PeerVariant> = self
            .variants()
            .await
            .into_iter()
            .filter(|v| v.sku.as_deref() == Some(sku))
            .collect();
        assert_eq!(found.len(), 1, "variants with sku {sku}: {found:?}");
        found.pop().expect("one")
    }

    /// Sets the EUR price of the variant with this SKU (amount as JSON text),
    /// the way the admin UI's price editor does.
    pub async fn set_price(&self, sku: &str, amount: &str) {
        let variant = self.variant(sku).await;
        let amount = RawValue::from_string(amount.to_string()).expect("amount is JSON");
        self.post_raw(
            &format!(
                "/admin/products/{}/variants/{}",
                variant.product_id, variant.variant_id
            ),
            format!(
                r#"{{"prices":[{{"currency_code":"{CURRENCY}","amount":{}}}]}}"#,
                amount.get()
            ),
        )
        .await;
    }

    /// Sets the stock of the variant with this SKU at the peer's location.
    pub async fn set_stock(&self, sku: &str, quantity: i64) {
        let variant = self.variant(sku).await;
        let item = variant.inventory_item_id.expect("managed inventory");
        self.post(
            &format!(
                "/admin/inventory-items/{item}/location-levels/{}",
                self.stock_location_id
            ),
            json!({"stocked_quantity": quantity}),
        )
        .await;
    }

    /// Deletes the product holding the variant with this SKU.
    pub async fn delete_product_of(&self, sku: &str) {
        let variant = self.variant(sku).await;
        self.delete(&format!("/admin/products/{}", variant.product_id))
            .await;
    }

    /// Creates a secret API key and returns its token (`sk_...`).
    pub async fn create_secret_key(&self) -> String {
        let reply = self
            .post(
                "/admin/api-keys",
                json!({"title": "oms-channels test", "type": "secret"}),
            )
            .await;
        reply["api_key"]["token"]
            .as_str()
            .expect("a new secret key shows its token once")
            .to_string()
    }
}

async fn fresh_token(http: &reqwest::Client, base_url: &str) -> String {
    let reply: Value = http
        .post(format!("{base_url}/auth/user/emailpass"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login request")
        .error_for_status()
        .expect("login accepted")
        .json()
        .await
        .expect("login reply");
    reply["token"].as_str().expect("token").to_string()
}

/// `n` products `P0000`.. with distinct titles, exact prices and stock.
pub fn sample_products(prefix: &str, n: usize) -> Vec<NewProduct> {
    (0..n)
        .map(|i| NewProduct {
            sku: format!("{prefix}{i:04}"),
            title: format!("Product {prefix}{i:04}"),
            amount: match i % 4 {
                0 => "19.99".into(),
                1 => "0.10".into(),
                2 => "1234567.89".into(),
                _ => format!("{}.{:02}", i, i % 100),
            },
            quantity: (i % 50) as i64,
        })
        .collect()
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client")
}

/// The peer's npm project, installed once per content into the cache.
fn installed_project() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| PROJECT.install())
}

/// Medusa 2.21's `engines`: `^20.19.0 || >=22.12.0`.
pub fn node_is_supported(version: &str) -> bool {
    let (major, minor) = node_version(version);
    (major == 20 && minor >= 19) || (major == 22 && minor >= 12) || major > 22
}

fn medusa_command(project: &Path, database_url: &str, options: &PeerOptions) -> Command {
    let mut cmd = Command::new(project.join("node_modules/.bin/medusa"));
    cmd.current_dir(project)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(node_env(project.parent().expect("cache dir")))
        .env("NODE_ENV", "development")
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", "oms-channels-test-jwt-secret")
        .env("COOKIE_SECRET", "oms-channels-test-cookie-secret");
    if let Some(expires) = &options.jwt_expires_in {
        cmd.env("JWT_EXPIRES_IN", expires);
    }
    cmd
}

/// A database migrated once per test run, with the shop owner's user; each
/// peer starts on a copy (`CREATE DATABASE .. TEMPLATE`), which takes well
/// under a second instead of a 12-22 s migration. The migrated schema is also
/// kept as a SQL dump beside the install, so later runs restore it in seconds.
fn template_database(project: &'static Path) -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let cluster = PgCluster::shared();
        let name = next_name("medusa_template");
        cluster.create_database(&name);
        let url = cluster.url(&name);
        let dump = project.join("migrated.sql");
        if dump.exists() {
            let out = Command::new(crate::pg::bin_dir().join("psql"))
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"])
                .arg(&dump)
                .stdin(Stdio::null())
                .output()
                .expect("run psql");
            check(&out, "restoring the migrated Medusa schema");
            return name;
        }
        let options = PeerOptions::default();
        let out = medusa_command(project, &url, &options)
            .arg("db:migrate")
            .stdin(Stdio::null())
            .output()
            .expect("run medusa db:migrate");
        check(&out, "medusa db:migrate");
        let out = medusa_command(project, &url, &options)
            .args(["user", "-e", ADMIN_EMAIL, "-p", ADMIN_PASSWORD])
            .stdin(Stdio::null())
            .output()
            .expect("run medusa user");
        check(&out, "medusa user");
        let partial = project.join("migrated.sql.partial");
        let out = Command::new(crate::pg::bin_dir().join("pg_dump"))
            .args(["--no-owner", "--no-privileges", "-d", &url, "-f"])
            .arg(&partial)
            .stdin(Stdio::null())
            .output()
            .expect("run pg_dump");
        check(&out, "dumping the migrated Medusa schema");
        std::fs::rename(&partial, &dump).expect("keep the migrated schema");
        name
    })
}

fn next_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `sh` waiting for EOF on its stdin, then killing the server's process
/// group: a test process that dies in any way takes its servers with it.
fn spawn_watchdog(server_pid: u32) -> (Child, ChildStdin) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("cat >/dev/null; kill -KILL -\"$PEER_PGID\" 2>/dev/null; exit 0")
        .env("PEER_PGID", server_pid.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn the Medusa watchdog (sh)");
    let mut pipe = child.stdin.take().expect("watchdog stdin");
    let _ = pipe.flush();
    (child, pipe)
}

fn tail(path: &Path) -> String {
    last_chars(&std::fs::read_to_string(path).unwrap_or_default(), 4000)
}

/// A Medusa peer, its shop owner logged in, and a runtime to drive both
/// from a synchronous test: the [`Peer`] for suites that run on every shop.
pub struct MedusaShop {
    pub peer: MedusaPeer,
    pub admin: MedusaAdmin,
    /// Drops last, after the peer's server and the admin's connections.
    runtime: tokio::runtime::Runtime,
}

impl MedusaShop {
    pub fn start() -> MedusaShop {
        MedusaShop::start_with(PeerOptions::default())
    }

    pub fn start_with(options: PeerOptions) -> MedusaShop {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let peer = runtime.block_on(MedusaPeer::start_with(options));
        let admin = runtime.block_on(peer.admin());
        MedusaShop {
            peer,
            admin,
            runtime,
        }
    }

    /// Runs an admin call (or any future) on the shop's runtime.
    pub fn wait<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Peer for MedusaShop {
    fn kind(&self) -> PeerKind {
        PeerKind::Medusa
    }

    fn channel_args(&self, secret_var: &str) -> Vec<String> {
        [
            "--type",
            "medusa",
            "--base-url",
            &self.peer.base_url,
            "--username",
            ADMIN_EMAIL,
            "--password-env",
            secret_var,
        ]
        .map(str::to_string)
        .to_vec()
    }

    fn secret(&self) -> String {
        ADMIN_PASSWORD.to_string()
    }

    fn currency(&self) -> &'static str {
        "EUR"
    }

    fn request_timeout(&self) -> Duration {
        // Its batch endpoints take seconds on a loaded machine.
        Duration::from_secs(120)
    }

    fn create_steps(&self) -> &'static [&'static str] {
        &["medusa-export-created"]
    }

    fn seed(&self, offers: &[Offer]) {
        let products: Vec<NewProduct> = offers
            .iter()
            .map(|o| {
                assert_eq!(o.currency, "EUR", "{}: the Medusa peer sells in EUR", o.sku);
                NewProduct {
                    sku: o.sku.clone(),
                    title: o.title.clone(),
                    amount: o.price.clone(),
                    quantity: o.quantity,
                }
            })
            .collect();
        self.wait(self.admin.create_products(&products));
    }

    fn change(&self, sku: &str, price: &str, quantity: i64) {
        self.wait(self.admin.set_price(sku, price));
        self.wait(self.admin.set_stock(sku, quantity));
    }

    fn read_back(&self) -> Listing {
        let products = self.wait(self.admin.products());
        Listing {
            products: products
                .into_iter()
                .map(|p| ShopProduct {
                    id: p.id,
                    title: p.title,
                    variants: p
                        .variants
                        .into_iter()
                        .map(|v| ShopVariant {
                            id: v.variant_id,
                            sku: v.sku,
                            title: v.title,
                            prices: v
                                .prices
                                .iter()
                                .map(|(currency, amount)| {
                                    (currency.to_uppercase(), two_decimals(amount))
                                })
                                .collect(),
                            quantity: v.quantity,
                            changed_at: None,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
