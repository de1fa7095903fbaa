//! A real Vendure server as a test peer: `tests/peers/vendure/server.js` on
//! its own database of the shared PostgreSQL cluster and its own loopback
//! port, set up as a shop owner would (country, zone, default tax zone, tax
//! category), plus a small Admin API client for the tests to create, read and
//! change variants and to create API keys. It owns only its database, its
//! port, its log and the `node` process; several peers can run at once.
//!
//! Node packages install on first use into `target/peers/vendure/<lock hash>/`
//! (`npm ci` from the committed lockfile), so reruns take seconds.

// Each suite uses a different part of these helpers.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::pg::PgCluster;

pub const SUPERADMIN: &str = "superadmin";
pub const SUPERADMIN_PASSWORD: &str = "superadmin-test-password";
/// Vendure's default channel currency on a fresh server.
pub const CURRENCY: &str = "USD";

/// How a peer is started.
#[derive(Clone, Debug, Default)]
pub struct PeerOptions {
    /// Vendure's `authOptions.sessionDuration` (e.g. `"8s"`); `None` keeps
    /// the stock value (1 year).
    pub session_duration: Option<String>,
}

/// A running Vendure server; dropping it kills the server.
pub struct VendurePeer {
    child: Child,
    /// `server.js` exits when this closes, also if the test process dies.
    _stdin: ChildStdin,
    port: u16,
    database: String,
    log: tempfile::NamedTempFile,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// The superadmin's bearer token, refreshed by [`VendurePeer::login`].
    token: std::sync::Mutex<Option<String>>,
}

/// One variant as the Admin API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub id: String,
    pub product_id: String,
    pub sku: String,
    pub name: String,
    /// Integer minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub stock_on_hand: i64,
    pub enabled: bool,
    pub updated_at: String,
}

/// A variant to create, each on a product of its own.
#[derive(Clone, Debug)]
pub struct NewVariant {
    pub sku: String,
    pub name: String,
    /// Integer minor units of the channel's currency.
    pub price: i64,
    pub stock_on_hand: i64,
}

impl NewVariant {
    /// `SKU-{n:05}`, "Product {n}", a price and stock derived from `n`.
    pub fn numbered(n: u32) -> NewVariant {
        NewVariant {
            sku: format!("SKU-{n:05}"),
            name: format!("Product {n}"),
            price: 1000 + i64::from(n),
            stock_on_hand: i64::from(n % 50),
        }
    }
}

impl VendurePeer {
    /// A fresh server with stock settings, ready for products.
    pub fn start() -> VendurePeer {
        VendurePeer::start_with(PeerOptions::default())
    }

    pub fn start_with(options: PeerOptions) -> VendurePeer {
        let modules = installed_node_modules();
        let cluster = PgCluster::shared();
        let database = cluster.fresh_database("vendure");
        let port = free_port();
        let log = tempfile::Builder::new()
            .prefix("vendure-peer-")
            .suffix(".log")
            .tempfile()
            .expect("create the peer's log file");
        let mut cmd = Command::new("node");
        cmd.arg("--max-old-space-size=256")
            .arg(peer_source_dir().join("server.js"))
            .env("NODE_PATH", &modules)
            .env("VENDURE_DISABLE_TELEMETRY", "true")
            .env("VENDURE_PORT", port.to_string())
            .env("VENDURE_DB_URL", cluster.url(&database))
            .env("VENDURE_SUPERADMIN_USER", SUPERADMIN)
            .env("VENDURE_SUPERADMIN_PASSWORD", SUPERADMIN_PASSWORD)
            .env("VENDURE_EXIT_ON_STDIN_EOF", "1")
            .stdin(Stdio::piped())
            .stdout(log.reopen().expect("log file"))
            .stderr(log.reopen().expect("log file"));
        if let Some(duration) = &options.session_duration {
            cmd.env("VENDURE_SESSION_DURATION", duration);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("could not start `node` for the Vendure peer ({e}): install Node.js 20+ and npm (`apt-get install nodejs npm`)")
        });
        let stdin = child.stdin.take().expect("peer stdin");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let http = {
            // reqwest's timers need the runtime's context.
            let _context = runtime.enter();
            reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                // Below Node's 5 s keep-alive: never reuse a closing connection.
                .pool_idle_timeout(Duration::from_secs(3))
                .build()
                .expect("http client")
        };
        let mut peer = VendurePeer {
            child,
            _stdin: stdin,
            port,
            database,
            log,
            runtime,
            http,
            token: std::sync::Mutex::new(None),
        };
        peer.wait_until_ready();
        peer.login();
        peer.set_up_shop();
        peer
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` (the connector appends `/admin-api`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn admin_api_url(&self) -> String {
        format!("{}/admin-api", self.base_url())
    }

    /// Runs a future on the peer's runtime (for the connector's async calls).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The PostgreSQL database the server keeps its data in.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    fn wait_until_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the peer") {
                panic!(
                    "the Vendure peer exited ({status}) before its Admin API answered; log:\n{}",
                    self.log()
                );
            }
            let answer = self.runtime.block_on(async {
                self.http
                    .post(self.admin_api_url())
                    .json(&json!({"query": "{ __typename }"}))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
            });
            if matches!(&answer, Ok(r) if r.status().is_success()) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "the Vendure peer's Admin API did not answer within 180 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Logs the superadmin in and keeps the bearer token for [`Self::gql`].
    pub fn login(&self) {
        let (token, body) = self.login_as(SUPERADMIN, SUPERADMIN_PASSWORD);
        assert_eq!(
            body["data"]["login"]["__typename"], "CurrentUser",
            "superadmin login: {body}"
        );
        *self.token.lock().unwrap() = Some(token.expect("login returns a vendure-auth-token"));
    }

    /// Runs the `login` mutation; returns the `vendure-auth-token` header and the body.
    pub fn login_as(&self, user: &str, password: &str) -> (Option<String>, Value) {
        let query = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) \
                     { __typename ... on CurrentUser { id } ... on ErrorResult { errorCode message } } }";
        self.runtime.block_on(async {
            let response = self
                .http
                .post(self.admin_api_url())
                .json(&json!({"query": query, "variables": {"u": user, "p": password}}))
                .send()
                .await
                .expect("login request");
            let token = response
                .headers()
                .get("vendure-auth-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (token, response.json().await.expect("login body is JSON"))
        })
    }

    /// Runs an Admin API operation as the superadmin; panics on `errors`.
    pub fn gql(&self, query: &str, variables: Value) -> Value {
        let mut body = self.gql_raw(query, variables.clone());
        if body["errors"][0]["extensions"]["code"] == "FORBIDDEN" {
            // A short `sessionDuration` expires the helper's session too.
            self.login();
            body = self.gql_raw(query, variables);
        }
        assert!(
            body.get("errors").is_none_or(Value::is_null),
            "Admin API errors for {query}: {body}"
        );
        body["data"].clone()
    }

    /// Runs an Admin API operation as the superadmin and returns the whole body.
    pub fn gql_raw(&self, query: &str, variables: Value) -> Value {
        let token = self.token.lock().unwrap().clone();
        self.runtime.block_on(async {
            let mut request = self
                .http
                .post(self.admin_api_url())
                .json(&json!({"query": query, "variables": variables}));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("Admin API request");
            let status = response.status();
            let text = response.text().await.expect("Admin API body");
            assert!(status.is_success(), "Admin API answered {status}: {text}");
            serde_json::from_str(&text).expect("Admin API body is JSON")
        })
    }

    /// The Admin API's SDL as `tests/peers/vendure/print-schema.js` prints it.
    pub fn print_schema(&self) -> String {
        let out = Command::new("node")
            .arg(peer_source_dir().join("print-schema.js"))
            .arg(self.admin_api_url())
            .env("NODE_PATH", installed_node_modules())
            .output()
            .expect("run print-schema.js");
        assert!(
            out.status.success(),
            "print-schema.js failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("SDL is UTF-8")
    }

    /// What a shop owner sets up before the first product: a country, a
    /// zone holding it as the channel's default tax zone, a default tax category.
    fn set_up_shop(&self) {
        let country = self.gql(
            "mutation { createCountry(input: {code: \"US\", enabled: true, \
             translations: [{languageCode: en, name: \"United States\"}]}) { id } }",
            json!({}),
        );
        let country_id = country["createCountry"]["id"].clone();
        let zone = self.gql(
            "mutation($ids: [ID!]) { createZone(input: {name: \"Domestic\", memberIds: $ids}) { id } }",
            json!({"ids": [country_id]}),
        );
        let zone_id = zone["createZone"]["id"].clone();
        let channel = self.gql("{ activeChannel { id } }", json!({}));
        let updated = self.gql(
            "mutation($input: UpdateChannelInput!) { updateChannel(input: $input) \
             { __typename ... on ErrorResult { message } } }",
            json!({"input": {
                "id": channel["activeChannel"]["id"],
                "defaultTaxZoneId": zone_id,
                "defaultShippingZoneId": zone_id,
            }}),
        );
        assert_eq!(
            updated["updateChannel"]["__typename"], "Channel",
            "{updated}"
        );
        self.gql(
            "mutation { createTaxCategory(input: {name: \"Standard\", isDefault: true}) { id } }",
            json!({}),
        );
    }

    /// Adds currencies the channel accepts besides its default (USD).
    pub fn accept_currencies(&self, codes: &[&str]) {
        let channel = self.gql("{ activeChannel { id availableCurrencyCodes } }", json!({}));
        let mut available: Vec<Value> = channel["activeChannel"]["availableCurrencyCodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for code in codes {
            if !available.iter().any(|c| c == code) {
                available.push(json!(code));
            }
        }
        let updated = self.gql(
            "mutation($input: UpdateChannelInput!) { updateChannel(input: $input) \
             { __typename ... on ErrorResult { message } } }",
            json!({"input": {"id": channel["activeChannel"]["id"], "availableCurrencyCodes": available}}),
        );
        assert_eq!(
            updated["updateChannel"]["__typename"], "Channel",
            "{updated}"
        );
    }

    /// Creates each variant on a product of its own; returns the variant ids
    /// in input order. Sent in chunks that stay under the 100 kB body limit.
    pub fn create_variants(&self, variants: &[NewVariant]) -> Vec<String> {
        let mut ids = Vec::with_capacity(variants.len());
        for chunk in variants.chunks(200) {
            let mut query = String::from("mutation {");
            for (i, v) in chunk.iter().enumerate() {
                query.push_str(&format!(
                    " p{i}: createProduct(input: {{translations: [{{languageCode: en, name: {name}, slug: {slug}, description: \"\"}}]}}) {{ id }}",
                    name = json!(v.name),
                    slug = json!(v.sku.to_lowercase()),
                ));
            }
            query.push_str(" }");
            let products = self.gql(&query, json!({}));
            let input: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    json!({
                        "productId": products[format!("p{i}")]["id"],
                        "sku": v.sku,
                        "price": v.price,
                        "stockOnHand": v.stock_on_hand,
                        "translations": [{"languageCode": "en", "name": v.name}],
                    })
                })
                .collect();
            let created = self.gql(
                "mutation($input: [CreateProductVariantInput!]!) { createProductVariants(input: $input) { id sku } }",
                json!({"input": input}),
            );
            // Vendure answers in its own order: match by SKU.
            let by_sku: std::collections::HashMap<&str, &str> = created["createProductVariants"]
                .as_array()
                .expect("list")
                .iter()
                .map(|c| {
                    (
                        c["sku"].as_str().expect("sku"),
                        c["id"].as_str().expect("id"),
                    )
                })
                .collect();
            for v in chunk {
                ids.push(by_sku[v.sku.as_str()].to_string());
            }
        }
        ids
    }

    /// Every variant that is not deleted, by `id` order.
    pub fn variants(&self) -> Vec<Variant> {
        let mut all = Vec::new();
        loop {
            let page = self.gql(
                "query($skip: Int!) { productVariants(options: {take: 1000, skip: $skip, sort: {id: ASC}}) \
                 { totalItems items { id productId sku name price currencyCode stockOnHand enabled updatedAt } } }",
                json!({"skip": all.len()}),
            );
            let list = &page["productVariants"];
            let items = list["items"].as_array().expect("items");
            all.extend(items.iter().map(variant_from_json));
            if items.is_empty() || all.len() as u64 >= list["totalItems"].as_u64().expect("total") {
                return all;
            }
        }
    }

    /// The variants with this SKU (a correct client never makes two).
    pub fn variants_with_sku(&self, sku: &str) -> Vec<Variant> {
        let page = self.gql(
            "query($sku: String!) { productVariants(options: {filter: {sku: {eq: $sku}}}) \
             { items { id productId sku name price currencyCode stockOnHand enabled updatedAt } } }",
            json!({"sku": sku}),
        );
        page["productVariants"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(variant_from_json)
            .collect()
    }

    /// Applies `UpdateProductVariantInput` fields (e.g. `{"price": 1234}`) to a variant.
    pub fn update_variant(&self, id: &str, fields: Value) {
        let mut input = fields;
        input["id"] = json!(id);
        self.gql(
            "mutation($input: [UpdateProductVariantInput!]!) { updateProductVariants(input: $input) { id } }",
            json!({"input": [input]}),
        );
    }

    /// Renames a variant (its English translation).
    pub fn rename_variant(&self, id: &str, name: &str) {
        self.update_variant(
            id,
            json!({"translations": [{"languageCode": "en", "name": name}]}),
        );
    }

    /// Deletes variants (Vendure soft-deletes them; they leave the listings).
    pub fn delete_variants(&self, ids: &[String]) {
        self.gql(
            "mutation($ids: [ID!]!) { deleteProductVariants(ids: $ids) { result message } }",
            json!({"ids": ids}),
        );
    }

    /// A new API key with the SuperAdmin role; returns `<lookupId>:<secret>`.
    pub fn create_api_key(&self, name: &str) -> String {
        let roles = self.gql("{ roles { items { id code } } }", json!({}));
        let superadmin_role = roles["roles"]["items"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["code"] == "__super_admin_role__")
            .expect("the superadmin role")["id"]
            .clone();
        let created = self.gql(
            "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey entityId } }",
            json!({"input": {"roleIds": [superadmin_role], "translations": [{"languageCode": "en", "name": name}]}}),
        );
        created["createApiKey"]["apiKey"]
            .as_str()
            .expect("apiKey")
            .to_string()
    }
}

impl Drop for VendurePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn variant_from_json(v: &Value) -> Variant {
    let text = |field: &str| -> String {
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("variant field `{field}` in {v}"))
            .to_string()
    };
    let int = |field: &str| -> i64 {
        v[field]
            .as_i64()
            .unwrap_or_else(|| panic!("variant field `{field}` in {v}"))
    };
    Variant {
        id: text("id"),
        product_id: text("productId"),
        sku: text("sku"),
        name: text("name"),
        price: int("price"),
        currency: text("currencyCode"),
        stock_on_hand: int("stockOnHand"),
        enabled: v["enabled"].as_bool().expect("enabled"),
        updated_at: text("updatedAt"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// `tests/peers/vendure` in the source tree.
pub fn peer_source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/vendure")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The peer's `node_modules`, installed once per lockfile content: the
/// lockfile's hash names the cache dir, an `npm ci` fills a temp dir that is
/// renamed into place, and a file lock keeps concurrent test processes from
/// installing twice.
pub fn installed_node_modules() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(install).clone()
}

fn install() -> PathBuf {
    let source = peer_source_dir();
    let lock = std::fs::read(source.join("package-lock.json")).expect("read package-lock.json");
    let package = std::fs::read(source.join("package.json")).expect("read package.json");
    let key = format!("{:016x}", fnv1a(&[&lock[..], &package[..]].concat()));
    let cache = target_dir().join("peers/vendure");
    let ready = cache.join(&key);
    let modules = ready.join("node_modules");
    if modules.join("@vendure/core/package.json").is_file() {
        return modules;
    }
    std::fs::create_dir_all(&cache).expect("create target/peers/vendure");
    let lock_file = File::create(cache.join("install.lock")).expect("create the install lock");
    lock_file.lock().expect("lock the peer install");
    if modules.join("@vendure/core/package.json").is_file() {
        return modules;
    }
    for tool in ["node", "npm"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "the Vendure peer needs `{tool}`, which is not on PATH: install Node.js 20+ and npm \
             (`apt-get install nodejs npm`)"
        );
    }
    let version = Command::new("node")
        .arg("--version")
        .output()
        .expect("run node --version");
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "the Vendure peer needs Node.js 20 or newer, found `{version}`: install a newer nodejs"
    );
    let staging = cache.join(format!("{key}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("create the staging dir");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), staging.join(file)).expect("copy package files");
    }
    eprintln!(
        "installing the Vendure peer into {} (npm ci, once per lockfile)",
        ready.display()
    );
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&staging)
        // node-gyp must not download headers: use the system's.
        .env("npm_config_nodedir", "/usr")
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .output()
        .expect("run npm ci");
    assert!(
        out.status.success(),
        "`npm ci` for the Vendure peer failed in {}:\n{}\n{}",
        staging.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&ready);
    std::fs::rename(&staging, &ready).expect("move the install into place");
    modules
}

/// 64-bit FNV-1a: a stable content hash for the cache key.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}
