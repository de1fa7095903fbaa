//! A real Medusa v2 server as a test peer: the npm packages pinned by
//! `tests/peers/medusa/package-lock.json`, installed on first use into
//! `target/peers/medusa/<hash>/` (`node.rs`), on a
//! fresh database of the shared throwaway PostgreSQL cluster, listening on
//! 127.0.0.1. It owns that install dir, its databases and the servers it
//! starts; a dropped peer (or a test process that dies) kills its server.
//!
//! `MedusaAdmin` is what a shop owner does through the Admin API: create
//! products, read them back, change a price or a stock level, create a
//! secret API key. It keeps prices as the JSON text Medusa sends, never a
//! float, so tests compare amounts byte for byte.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

mod admin;

pub use admin::{MedusaAdmin, MedusaProduct, NewProduct, PeerLevel, PeerVariant, sample_products};

use super::node::{NodeProject, check, free_port, last_chars, node_env, node_version};
use super::{Listing, Offer, Peer, PeerKind, ShopProduct, ShopVariant, two_decimals};
use crate::pg::PgCluster;
use admin::http_client;

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
/// The second currency every peer's store supports (as a shop owner adds
/// one under Settings → Store).
pub const SECOND_CURRENCY: &str = "usd";

/// Options a test may vary; everything else is Medusa's stock default.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    /// `jwtExpiresIn` (e.g. `"5s"`); `None` keeps Medusa's default (1 day).
    pub jwt_expires_in: Option<String>,
}

/// A running Medusa server with a shop owner, two stock locations linked to
/// the default sales channel, EUR and USD, and nothing else.
pub struct MedusaPeer {
    pub base_url: String,
    /// The peer's database on the shared cluster.
    pub database: String,
    pub sales_channel_id: String,
    pub stock_location_id: String,
    /// A second location linked to the sales channel, created after the
    /// first (so the first stays the connector's default).
    pub second_stock_location_id: String,
    /// How the server was started, to start it again.
    options: PeerOptions,
    port: u16,
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
        let server = spawn_server(&database, port, &options, &log);
        let (watchdog, watchdog_pipe) = spawn_watchdog(server.id());
        let mut peer = MedusaPeer {
            base_url: format!("http://127.0.0.1:{port}"),
            database: database.clone(),
            sales_channel_id: String::new(),
            stock_location_id: String::new(),
            second_stock_location_id: String::new(),
            options,
            port,
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

    /// Kills the server (SIGKILL to its process group: a crash, with
    /// whatever requests it was serving cut off) and starts it again on the
    /// same port and database; returns once it answers `/health`.
    pub async fn restart(&mut self) {
        self.kill_server();
        self.server = spawn_server(&self.database, self.port, &self.options, &self.log);
        let (watchdog, pipe) = spawn_watchdog(self.server.id());
        self.watchdog = watchdog;
        self.watchdog_pipe = Some(pipe);
        self.wait_healthy().await;
    }

    fn kill_server(&mut self) {
        if let Some(group) = rustix::process::Pid::from_raw(self.server.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.server.wait();
        drop(self.watchdog_pipe.take());
        let _ = self.watchdog.wait();
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
    /// linked to the store's default sales channel; and a second currency.
    async fn set_up_shop(&mut self) {
        let admin = self.admin().await;
        let stores = admin
            .get("/admin/stores?fields=id,default_sales_channel_id")
            .await;
        let store_id = stores["stores"][0]["id"].as_str().expect("a store id");
        admin
            .post(
                &format!("/admin/stores/{store_id}"),
                json!({"supported_currencies": [
                    {"currency_code": CURRENCY, "is_default": true},
                    {"currency_code": SECOND_CURRENCY},
                ]}),
            )
            .await;
        self.sales_channel_id = stores["stores"][0]["default_sales_channel_id"]
            .as_str()
            .expect("a fresh store has a default sales channel")
            .to_string();
        let mut ids = Vec::new();
        for name in ["Main warehouse", "Berlin store"] {
            let location = admin
                .post("/admin/stock-locations", json!({ "name": name }))
                .await;
            let id = location["stock_location"]["id"]
                .as_str()
                .expect("stock location id")
                .to_string();
            admin
                .post(
                    &format!("/admin/stock-locations/{id}/sales-channels"),
                    json!({"add": [self.sales_channel_id]}),
                )
                .await;
            ids.push(id);
        }
        self.second_stock_location_id = ids.pop().expect("two locations");
        self.stock_location_id = ids.pop().expect("two locations");
    }

    /// Drops Medusa's unique index on live SKUs, as a store whose schema
    /// was changed by hand (or restored without its indexes) has it: only
    /// then can a SKU be held twice.
    pub fn drop_unique_sku_index(&self) {
        PgCluster::shared().psql(
            &self.database,
            "DROP INDEX IF EXISTS \"IDX_product_variant_sku_unique\"",
        );
    }

    /// The shop owner, logged in.
    pub async fn admin(&self) -> MedusaAdmin {
        MedusaAdmin::login(&self.base_url, self.stock_location_id.clone()).await
    }
}

impl Drop for MedusaPeer {
    fn drop(&mut self) {
        self.kill_server();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `medusa start` on loopback, in a process group of its own (so killing it
/// kills its workers), appending to `log`.
fn spawn_server(database: &str, port: u16, options: &PeerOptions, log: &Path) -> Child {
    let log_file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .expect("open medusa log");
    let mut cmd = medusa_command(
        installed_project(),
        &PgCluster::shared().url(database),
        options,
    );
    cmd.args(["start", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log fd"))
        .stderr(log_file)
        .process_group(0);
    cmd.spawn().expect("spawn `medusa start`")
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

    /// Crashes the Medusa server and starts it again (see
    /// [`MedusaPeer::restart`]).
    pub fn restart_server(&mut self) {
        self.runtime.block_on(self.peer.restart());
    }

    /// The stock location the connector takes by default (the first one
    /// linked to the sales channel).
    pub fn default_stock_location(&self) -> String {
        self.peer.stock_location_id.clone()
    }

    /// The peer's second stock location, linked to the sales channel too.
    pub fn second_stock_location(&self) -> String {
        self.peer.second_stock_location_id.clone()
    }

    /// The stocked quantity of `sku` at `location_id`, read by the shop
    /// owner through Medusa's inventory API; `None`: no level there.
    pub fn stock_level(&self, sku: &str, location_id: &str) -> Option<i64> {
        self.wait(self.admin.stock_level(sku, location_id))
            .map(|l| l.stocked_quantity)
    }

    /// The stocked quantities of these SKUs by (SKU, stock location id).
    pub fn stock_of(&self, skus: &[String]) -> std::collections::BTreeMap<(String, String), i64> {
        self.wait(self.admin.stock_of(skus))
    }

    /// Sets the stocked quantity of `sku` at `location_id` by hand.
    pub fn set_stock_level(&self, sku: &str, location_id: &str, quantity: i64) {
        self.wait(self.admin.set_stock_level(sku, location_id, quantity));
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
        // Every export of new products reaches these; `medusa-variants-created`
        // (new variants of a held product) only a multi-variant catalog
        // does: `tests/it/medusa_shop.rs` stops there.
        &["medusa-export-created", "medusa-export-looked-up"]
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

    fn stock_locations(&self, count: usize) -> Result<Vec<String>, String> {
        let ids = [self.default_stock_location(), self.second_stock_location()];
        crate::peer::first_locations(&ids, count)
    }

    fn set_stock(&self, sku: &str, location: &str, quantity: i64) -> Result<(), String> {
        self.set_stock_level(sku, location, quantity);
        Ok(())
    }

    fn stock_of(
        &self,
        skus: &[String],
    ) -> Result<std::collections::BTreeMap<(String, String), i64>, String> {
        Ok(MedusaShop::stock_of(self, skus))
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
