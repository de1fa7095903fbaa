//! A real Vendure server as a test peer: `tests/peers/vendure/server.js` on
//! its own database of the shared PostgreSQL cluster and its own loopback
//! port, set up as a shop owner would (country, zone, default tax zone, tax
//! category), with a small Admin API client ([`VendurePeer::gql`]); what a
//! shop owner does with it is in `shop.rs`. It owns only its database, its
//! port, its log and the `node` process; several peers can run at once.
//!
//! Node packages install on first use into `target/peers/vendure/<hash>/`
//! (`node.rs`), so reruns take seconds.

use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod assets;
mod shop;

pub use shop::{NewVariant, StockLevel, Variant};

use super::node::{NodeProject, free_port, node_env, node_version};
use crate::pg::PgCluster;

/// The npm project of `tests/peers/vendure`.
const PROJECT: NodeProject = NodeProject {
    name: "vendure",
    files: &["package.json", "package-lock.json"],
    installed_marker: "node_modules/@vendure/core/package.json",
    node_supported: |version| node_version(version).0 >= 20,
    node_wanted: "Node.js 20 or newer",
};

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
    /// The AssetServerPlugin's upload dir, under the peer cache in `target/`.
    _assets: tempfile::TempDir,
    log: tempfile::NamedTempFile,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// The superadmin's bearer token, refreshed by [`VendurePeer::login`].
    token: std::sync::Mutex<Option<String>>,
}

impl VendurePeer {
    /// A fresh server with stock settings, ready for products.
    pub fn start() -> VendurePeer {
        VendurePeer::start_with(PeerOptions::default())
    }

    pub fn start_with(options: PeerOptions) -> VendurePeer {
        let modules = installed_node_modules();
        let source = PROJECT.source_dir();
        let cluster = PgCluster::shared();
        let database = cluster.fresh_database("vendure");
        let port = free_port();
        let log = tempfile::Builder::new()
            .prefix("vendure-peer-")
            .suffix(".log")
            .tempfile()
            .expect("create the peer's log file");
        let assets_root = PROJECT.cache_dir().join("assets");
        std::fs::create_dir_all(&assets_root).expect("create the peer's asset root");
        let assets = tempfile::Builder::new()
            .prefix("assets-")
            .tempdir_in(&assets_root)
            .expect("create the peer's asset dir");
        let mut cmd = Command::new("node");
        cmd.arg("--max-old-space-size=256")
            .arg(source.join("server.js"))
            .env("NODE_PATH", &modules)
            .envs(node_env(&PROJECT.cache_dir()))
            .env("VENDURE_PORT", port.to_string())
            .env("VENDURE_DB_URL", cluster.url(&database))
            .env("VENDURE_SUPERADMIN_USER", SUPERADMIN)
            .env("VENDURE_SUPERADMIN_PASSWORD", SUPERADMIN_PASSWORD)
            .env("VENDURE_EXIT_ON_STDIN_EOF", "1")
            .env("VENDURE_ASSET_DIR", assets.path())
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
            _assets: assets,
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
            .arg(PROJECT.source_dir().join("print-schema.js"))
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
}

impl Drop for VendurePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The peer's `node_modules`, installed once per content of its project.
pub fn installed_node_modules() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED
        .get_or_init(|| PROJECT.install().join("node_modules"))
        .clone()
}
