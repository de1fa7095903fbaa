//! The sandbox beta-rest channel: a strict HTTP server on loopback with seeded
//! products and fault switches, for the quick start, the integration tests and
//! the benchmarks. It owns only its own in-memory state and must not depend on
//! the `oms_channels` library (tests include this file as a module).
//!
//! Seeded products are derived from their index on demand, so a catalog of a
//! million products costs a bitset, not a million structs; only products
//! created or changed through export or the Rust API live in a map.

// Integration tests and the binary each use a different part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Bound;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Seeded product `i` has `updated_at` = this instant + `i` seconds
/// (2025-01-01T00:00:00Z), so seeded products sort by index.
const SEED_BASE_SECOND: i64 = 1_735_689_600;
const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// Export batches above this size are refused with 413, as the protocol says.
const MAX_BATCH: usize = 100;
/// Request bodies above this are refused with 413 before parsing.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The request log keeps at most this many entries (oldest dropped), so a
/// long-running sandbox does not grow without bound.
const MAX_RECORDED: usize = 200_000;
const DEFAULT_LIMIT: u32 = 100;

/// One product as the beta-rest protocol knows it (same shape as the crate's
/// `Product`, copied so this module stands alone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub sku: String,
    pub title: String,
    /// Decimal string such as `"19.90"`, never a float.
    pub price: String,
    pub currency: String,
    pub quantity: i64,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// RFC 3339; the sandbox sets it to "now" on every change.
    pub updated_at: String,
    /// The sandbox's own id: `p-<index>` for seeded products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Fault and behaviour switches; settable at start, from Rust and by
/// `POST /_sandbox/switches` (a partial JSON object of these fields).
///
/// "Protocol requests" are `POST /oauth/token`, `GET /products` and
/// `POST /products/batch`; "product requests" are the latter two.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    /// Delay before answering each protocol request.
    pub latency_ms: u64,
    /// Fraction (0..=1) of product requests answered 500.
    pub error_rate: f64,
    /// The next protocol requests get these statuses, one each, in order.
    pub fail_next: Vec<u16>,
    /// `Retry-After` seconds sent with 429 and 503.
    pub retry_after_secs: u64,
    /// Send `Retry-After` as an HTTP date (now + `retry_after_secs`) instead
    /// of seconds; both forms are legal (RFC 9110 §10.2.3).
    pub retry_after_http_date: bool,
    /// Every Nth product request is answered 429.
    pub rate_limit_every: Option<u32>,
    /// The next N successful product replies are a non-JSON body with 200.
    pub garbage_next: u32,
    /// The next N successful product replies are valid JSON cut in half.
    pub truncate_next: u32,
    /// The next N successful product replies claim `text/html`.
    pub wrong_content_type_next: u32,
    /// Every page returns the cursor it was asked for (or the first page's) as
    /// `next_cursor`, so a client that trusts it loops forever.
    pub repeat_cursor: bool,
    /// The next N successful batch replies leave out the last item's result.
    pub omit_results_next: u32,
    /// These skus get a per-item error in export batches (upserts and deletions).
    pub item_error_skus: Vec<String>,
    /// The next N protocol requests get their TCP connection reset, no reply.
    pub close_next: u32,
    /// The next N protocol requests are fully processed (a refresh token
    /// rotated, a batch stored), then their connection is reset: the reply is
    /// lost, as when a client crashes or times out at the worst moment.
    pub drop_reply_next: u32,
    /// Lifetime of new access tokens; 0 makes them expire at once.
    pub token_lifetime_secs: u64,
    /// Every refresh issues a new refresh token and invalidates the old one.
    pub rotate_refresh_tokens: bool,
    /// Replaying a rotated-out refresh token revokes the grant (RFC 9700 §4.14.2).
    pub reuse_detection: bool,
    /// Whether `grant_type=client_credentials` is allowed.
    pub client_credentials: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            latency_ms: 0,
            error_rate: 0.0,
            fail_next: Vec::new(),
            retry_after_secs: 1,
            retry_after_http_date: false,
            rate_limit_every: None,
            garbage_next: 0,
            truncate_next: 0,
            wrong_content_type_next: 0,
            repeat_cursor: false,
            omit_results_next: 0,
            item_error_skus: Vec::new(),
            close_next: 0,
            drop_reply_next: 0,
            token_lifetime_secs: 3600,
            rotate_refresh_tokens: true,
            reuse_detection: false,
            client_credentials: false,
        }
    }
}

impl Switches {
    /// Refuses values the server could not act on.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "invalid `error_rate` {}: expected a fraction from 0 to 1",
                self.error_rate
            ));
        }
        if let Some(bad) = self.fail_next.iter().find(|s| !(200..=599).contains(*s)) {
            return Err(format!(
                "invalid status {bad} in `fail_next`: expected 200..=599"
            ));
        }
        if self.rate_limit_every == Some(0) {
            return Err("invalid `rate_limit_every` 0: expected at least 1, or null".into());
        }
        Ok(())
    }
}

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub port: u16,
    /// Number of seeded products (`SKU-0000001` ..).
    pub products: u64,
    pub client_id: String,
    pub client_secret: String,
    /// Largest `limit` accepted by `GET /products`.
    pub max_page_size: u32,
    /// The grant's first refresh token; random when `None`.
    pub refresh_token: Option<String>,
    pub switches: Switches,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            port: 0,
            products: 1000,
            client_id: "demo-client".into(),
            client_secret: "demo-secret".into(),
            // The beta-rest protocol's maximum; tests lower it to play a
            // stricter channel.
            max_page_size: 500,
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
    /// Raw body, kept for `POST /products/batch` only.
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
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(
            ResettableListener(listener),
            router.into_make_service_with_connect_info::<ConnHandle>(),
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

    pub fn product(&self, sku: &str) -> Option<Product> {
        read(&self.shared.catalog).current(sku)
    }

    /// Every product in serving order (materialises them: for small seeds).
    pub fn all_products(&self) -> Vec<Product> {
        let catalog = read(&self.shared.catalog);
        catalog
            .items(None, None)
            .map(|item| catalog.materialise(item))
            .collect()
    }

    pub fn product_count(&self) -> u64 {
        read(&self.shared.catalog).count()
    }

    /// Changes an existing product and sets its `updated_at` to now; `None`
    /// when there is no such sku.
    pub fn update_product(&self, sku: &str, change: impl FnOnce(&mut Product)) -> Option<Product> {
        let mut catalog = write(&self.shared.catalog);
        let mut product = catalog.current(sku)?;
        change(&mut product);
        Some(catalog.store(product))
    }

    /// Creates or replaces a product, setting `updated_at` to now (and `id`
    /// when it has none). Returns what is stored.
    pub fn put_product(&self, product: Product) -> Product {
        write(&self.shared.catalog).store(product)
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

// ---------------------------------------------------------------------------
// Shared state

struct Shared {
    client_id: String,
    client_secret: String,
    max_page_size: u32,
    switches: Mutex<Switches>,
    auth: Mutex<AuthState>,
    catalog: RwLock<Catalog>,
    log: Mutex<Vec<RecordedRequest>>,
    token_requests: AtomicU64,
    product_requests: AtomicU64,
    batch_requests: AtomicU64,
    /// Product requests seen by `plan`, for `rate_limit_every`.
    rate_sequence: AtomicU64,
}

/// Poisoning only follows a panic in a test helper; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn new(config: SandboxConfig) -> Shared {
        let refresh = config.refresh_token.unwrap_or_else(|| random_token("rt"));
        Shared {
            client_id: config.client_id,
            client_secret: config.client_secret,
            max_page_size: config.max_page_size.max(1),
            switches: Mutex::new(config.switches),
            auth: Mutex::new(AuthState {
                refresh,
                revoked: false,
                rotated_out: HashSet::new(),
                retired: HashSet::new(),
                access: HashMap::new(),
            }),
            catalog: RwLock::new(Catalog::new(config.products)),
            log: Mutex::new(Vec::new()),
            token_requests: AtomicU64::new(0),
            product_requests: AtomicU64::new(0),
            batch_requests: AtomicU64::new(0),
            rate_sequence: AtomicU64::new(0),
        }
    }

    fn state(&self) -> Value {
        let auth = lock(&self.auth);
        json!({
            "refresh_token": auth.refresh,
            "requests": {
                "token": self.token_requests.load(Ordering::Relaxed),
                "products": self.product_requests.load(Ordering::Relaxed),
                "batch": self.batch_requests.load(Ordering::Relaxed),
            },
            "product_count": read(&self.catalog).count(),
            "grant_revoked": auth.revoked,
        })
    }

    fn record(&self, entry: RecordedRequest) {
        let mut log = lock(&self.log);
        if log.len() >= MAX_RECORDED {
            log.drain(..MAX_RECORDED / 10);
        }
        log.push(entry);
    }
}

fn random_token(prefix: &str) -> String {
    let mut token = String::with_capacity(prefix.len() + 33);
    token.push_str(prefix);
    token.push('-');
    token.extend(std::iter::repeat_with(fastrand::alphanumeric).take(32));
    token
}

// ---------------------------------------------------------------------------
// OAuth

struct AuthState {
    /// The grant's latest refresh token.
    refresh: String,
    revoked: bool,
    /// Tokens this grant rotated out; replaying one is reuse.
    rotated_out: HashSet<String>,
    /// Tokens of earlier grants (after a mint): refused, but not reuse.
    retired: HashSet<String>,
    /// Valid access tokens and when they expire (server clock).
    access: HashMap<String, Instant>,
}

impl AuthState {
    fn mint(&mut self) -> String {
        let old = std::mem::replace(&mut self.refresh, random_token("rt"));
        self.retired.insert(old);
        self.retired.extend(self.rotated_out.drain());
        self.revoked = false;
        self.refresh.clone()
    }

    fn issue_access(&mut self, lifetime: u64) -> String {
        let now = Instant::now();
        self.access.retain(|_, expiry| *expiry > now);
        let token = random_token("at");
        self.access
            .insert(token.clone(), now + Duration::from_secs(lifetime));
        token
    }

    fn access_valid(&self, token: &str) -> bool {
        self.access
            .get(token)
            .is_some_and(|expiry| *expiry > Instant::now())
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json_response(
        status,
        json!({"error": error, "error_description": description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"sandbox\""),
        );
    }
    response
}

/// `POST /oauth/token` (RFC 6749 §4.4, §6; client auth per §2.3.1).
fn token_endpoint(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    if !content_type_is(headers, "application/x-www-form-urlencoded") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be `application/x-www-form-urlencoded`",
        );
    }
    let Some(params) = std::str::from_utf8(body).ok().and_then(parse_form) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "malformed form body or a parameter given twice",
        );
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| strip_scheme(v, "basic"));
    let Some(basic) = basic else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication must use HTTP Basic",
        );
    };
    if params.contains_key("client_secret") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one client authentication method",
        );
    }
    let credentials = base64_decode(basic.trim())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            let (id, secret) = text.split_once(':')?;
            Some((url_decode(id)?, url_decode(secret)?))
        });
    match credentials {
        Some((id, secret)) if id == shared.client_id && secret == shared.client_secret => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or wrong secret",
            );
        }
    }

    let (lifetime, rotate, reuse_detection, client_credentials) = {
        let s = lock(&shared.switches);
        (
            s.token_lifetime_secs,
            s.rotate_refresh_tokens,
            s.reuse_detection,
            s.client_credentials,
        )
    };
    let mut auth = lock(&shared.auth);
    match params.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            let Some(presented) = params.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "missing `refresh_token`",
                );
            };
            if auth.revoked && (*presented == auth.refresh || auth.rotated_out.contains(presented))
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the grant was revoked after a refresh token was reused",
                );
            }
            if *presented != auth.refresh {
                if auth.rotated_out.contains(presented) {
                    if reuse_detection {
                        // RFC 9700 §4.14.2: a replayed rotated token means it
                        // may be stolen, so the whole grant dies.
                        auth.revoked = true;
                        auth.access.clear();
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "refresh token already used; the grant is revoked",
                        );
                    }
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "refresh token already used (it was rotated)",
                    );
                }
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown refresh token",
                );
            }
            let access = auth.issue_access(lifetime);
            let mut reply = json!({
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": lifetime,
            });
            if rotate {
                let new = random_token("rt");
                let old = std::mem::replace(&mut auth.refresh, new.clone());
                auth.rotated_out.insert(old);
                reply["refresh_token"] = Value::String(new);
            }
            no_store(json_response(StatusCode::OK, reply))
        }
        Some("client_credentials") if client_credentials => {
            let access = auth.issue_access(lifetime);
            no_store(json_response(
                StatusCode::OK,
                json!({"access_token": access, "token_type": "Bearer", "expires_in": lifetime}),
            ))
        }
        Some("client_credentials") => oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "`client_credentials` is not enabled for this client",
        ),
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "expected `refresh_token` or `client_credentials`",
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing `grant_type`",
        ),
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `None` when the bearer token is valid, else the 401 to send.
fn check_bearer(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| strip_scheme(v, "bearer"));
    let (error, description) = match token {
        None => ("invalid_request", "missing `Authorization: Bearer` header"),
        Some(token) if lock(&shared.auth).access_valid(token.trim()) => return None,
        Some(_) => ("invalid_token", "access token unknown, expired or revoked"),
    };
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        json!({"error": error, "error_description": description}),
    );
    let challenge = format!("Bearer realm=\"sandbox\", error=\"{error}\"");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("ascii challenge"),
    );
    Some(response)
}

/// The credentials after `scheme ` (case-insensitive scheme, RFC 9110 §11.1).
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

// ---------------------------------------------------------------------------
// Catalog

/// A product created or changed after seeding.
struct Stored {
    product: Product,
    /// `updated_at` in nanoseconds since the Unix epoch: the ordering key.
    nanos: i128,
}

/// Seeded products (by index, derived on demand) plus stored overrides.
/// Serving order is (`updated_at`, `sku`), so a product changed during a
/// pagination moves behind the cursor and a high-water mark never skips it.
struct Catalog {
    seeded: u64,
    /// Bit `i` set: seeded product `i` is replaced by an entry in `stored`.
    shadowed: Vec<u64>,
    stored: HashMap<String, Stored>,
    order: BTreeSet<(i128, String)>,
    next_id: u64,
    /// Last `updated_at` handed out; "now" never goes backwards.
    last_nanos: i128,
}

#[derive(Clone, Copy)]
enum Item<'a> {
    Seeded(u64),
    Stored(&'a Stored),
}

impl Catalog {
    fn new(seeded: u64) -> Catalog {
        Catalog {
            seeded,
            shadowed: vec![0; (seeded / 64 + 1) as usize],
            stored: HashMap::new(),
            order: BTreeSet::new(),
            next_id: seeded + 1,
            last_nanos: 0,
        }
    }

    fn count(&self) -> u64 {
        let shadowed: u64 = self
            .shadowed
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum();
        self.seeded - shadowed + self.stored.len() as u64
    }

    fn is_shadowed(&self, i: u64) -> bool {
        self.shadowed[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    /// The seeded index `sku` names, if it names one.
    fn seed_index(&self, sku: &str) -> Option<u64> {
        let digits = sku.strip_prefix("SKU-")?;
        if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let i: u64 = digits.parse().ok()?;
        // Only the canonical spelling names a seeded product (`SKU-00000001` does not).
        let canonical = digits.len() == 7 || !digits.starts_with('0');
        (canonical && (1..=self.seeded).contains(&i)).then_some(i)
    }

    fn current(&self, sku: &str) -> Option<Product> {
        if let Some(stored) = self.stored.get(sku) {
            return Some(stored.product.clone());
        }
        // A shadowed seed that is not stored was deleted.
        self.seed_index(sku)
            .filter(|&i| !self.is_shadowed(i))
            .map(seeded_product)
    }

    fn now_nanos(&mut self) -> i128 {
        let now = jiff::Timestamp::now().as_nanosecond();
        self.last_nanos = now.max(self.last_nanos + 1);
        self.last_nanos
    }

    /// Stores `product` with `updated_at` = now; keeps an existing id.
    fn store(&mut self, mut product: Product) -> Product {
        let nanos = self.now_nanos();
        product.updated_at = timestamp(nanos);
        let existing_id = match self.stored.get(&product.sku) {
            Some(old) => old.product.id.clone(),
            None => self.seed_index(&product.sku).map(|i| format!("p-{i}")),
        };
        if product.id.is_none() {
            product.id = existing_id.or_else(|| {
                let id = format!("p-{}", self.next_id);
                self.next_id += 1;
                Some(id)
            });
        }
        if let Some(i) = self.seed_index(&product.sku) {
            self.shadowed[(i / 64) as usize] |= 1 << (i % 64);
        }
        if let Some(old) = self.stored.remove(&product.sku) {
            self.order.remove(&(old.nanos, product.sku.clone()));
        }
        self.order.insert((nanos, product.sku.clone()));
        self.stored.insert(
            product.sku.clone(),
            Stored {
                product: product.clone(),
                nanos,
            },
        );
        product
    }

    /// Deletes `sku`; a product that is not there is already deleted.
    fn delete(&mut self, sku: &str) {
        if let Some(i) = self.seed_index(sku) {
            self.shadowed[(i / 64) as usize] |= 1 << (i % 64);
        }
        if let Some(old) = self.stored.remove(sku) {
            self.order.remove(&(old.nanos, sku.to_string()));
        }
    }

    /// Export upsert: stores only when the content differs.
    fn upsert(&mut self, item: BatchItem) -> &'static str {
        let existing = self.current(&item.sku);
        let candidate = Product {
            sku: item.sku,
            title: item.title,
            price: item.price,
            currency: item.currency,
            quantity: item.quantity,
            attributes: item.attributes,
            updated_at: String::new(),
            id: None,
        };
        match existing {
            Some(old)
                if old.title == candidate.title
                    && old.price == candidate.price
                    && old.currency == candidate.currency
                    && old.quantity == candidate.quantity
                    && old.attributes == candidate.attributes =>
            {
                "unchanged"
            }
            Some(_) => {
                self.store(candidate);
                "updated"
            }
            None => {
                self.store(candidate);
                "created"
            }
        }
    }

    fn materialise(&self, item: Item<'_>) -> Product {
        match item {
            Item::Seeded(i) => seeded_product(i),
            Item::Stored(stored) => stored.product.clone(),
        }
    }

    fn key(&self, item: Item<'_>) -> (i128, String) {
        match item {
            Item::Seeded(i) => (seed_nanos(i), seed_sku(i)),
            Item::Stored(stored) => (stored.nanos, stored.product.sku.clone()),
        }
    }

    /// First seeded index whose `updated_at` is at or after `nanos`.
    fn first_seed_from(&self, nanos: i128) -> u64 {
        let offset = nanos - seed_nanos(0);
        let i = if offset <= NANOS_PER_SECOND {
            1
        } else {
            let whole = (offset + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND;
            u64::try_from(whole).unwrap_or(u64::MAX)
        };
        i.min(self.seeded + 1)
    }

    /// Items strictly after `after` (a cursor key) with `updated_at >= since`,
    /// in serving order. Costs O(log n) to start, O(1) per item (plus shadowed
    /// seeds skipped), never a scan of the catalog.
    fn items(&self, after: Option<&(i128, String)>, since: Option<i128>) -> Items<'_> {
        let mut seed = 1;
        if let Some((nanos, sku)) = after {
            seed = self.first_seed_from(*nanos);
            if seed <= self.seeded && seed_nanos(seed) == *nanos && seed_sku(seed) <= *sku {
                seed += 1;
            }
        }
        if let Some(since) = since {
            seed = seed.max(self.first_seed_from(since));
        }
        let lower = match (after, since) {
            (Some(after), Some(since)) if since <= after.0 => Bound::Excluded(after.clone()),
            (Some(after), None) => Bound::Excluded(after.clone()),
            (_, Some(since)) => Bound::Included((since, String::new())),
            (None, None) => Bound::Unbounded,
        };
        Items {
            catalog: self,
            seed,
            stored: self.order.range((lower, Bound::Unbounded)).peekable(),
        }
    }
}

struct Items<'a> {
    catalog: &'a Catalog,
    seed: u64,
    stored: std::iter::Peekable<std::collections::btree_set::Range<'a, (i128, String)>>,
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let catalog = self.catalog;
        while self.seed <= catalog.seeded && catalog.is_shadowed(self.seed) {
            self.seed += 1;
        }
        let seed = (self.seed <= catalog.seeded).then_some(self.seed);
        let take_seed = match (seed, self.stored.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(i), Some((nanos, sku))) => {
                let seed_nanos = seed_nanos(i);
                seed_nanos < *nanos || (seed_nanos == *nanos && seed_sku(i) < *sku)
            }
        };
        if take_seed {
            self.seed += 1;
            Some(Item::Seeded(seed.expect("seed present")))
        } else {
            let (_, sku) = self.stored.next().expect("stored present");
            Some(Item::Stored(&catalog.stored[sku]))
        }
    }
}

// Seeded products: every field is a pure function of the index.

const COLORS: [&str; 6] = ["red", "green", "blue", "black", "white", "yellow"];
const SIZES: [&str; 4] = ["S", "M", "L", "XL"];

fn mix(i: u64) -> u64 {
    // splitmix64: cheap, deterministic, well spread.
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn seed_sku(i: u64) -> String {
    format!("SKU-{i:07}")
}

fn seed_nanos(i: u64) -> i128 {
    (i128::from(SEED_BASE_SECOND) + i128::from(i)) * NANOS_PER_SECOND
}

fn seed_quantity(i: u64) -> i64 {
    ((mix(i) >> 24) % 250) as i64
}

fn seed_color(i: u64) -> &'static str {
    COLORS[((mix(i) >> 32) % COLORS.len() as u64) as usize]
}

fn seed_size(i: u64) -> Option<&'static str> {
    i.is_multiple_of(3)
        .then(|| SIZES[((mix(i) >> 48) % SIZES.len() as u64) as usize])
}

/// The currency of seeded product `i`: prices with three decimals are in
/// Kuwaiti dinar, which has them (ISO 4217), so every seeded price passes the
/// price rule (a third decimal in EUR would not).
fn seed_currency(i: u64) -> &'static str {
    if i % 6 == 5 { "KWD" } else { "EUR" }
}

/// Prices with 0 to 3 decimals, from `0.05` to seven-digit amounts.
struct SeedPrice(u64);

impl fmt::Display for SeedPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = self.0;
        let h = mix(i);
        match i % 6 {
            0 => write!(f, "{}.{:02}", h % 1000, (h >> 16) % 100),
            1 => write!(f, "0.{:02}", (h >> 16) % 99 + 1),
            2 => write!(f, "{}.{:02}", 1_000_000 + h % 9_000_000, (h >> 40) % 100),
            3 => write!(f, "{}", h % 100 + 1),
            4 => write!(f, "{}.{}", h % 500, (h >> 16) % 10),
            _ => write!(f, "{}.{:03}", h % 50, (h >> 16) % 1000),
        }
    }
}

/// Every tenth title has a non-ASCII letter and quotes, so clients must
/// really parse JSON strings.
struct SeedTitle {
    i: u64,
    json_escaped: bool,
}

impl fmt::Display for SeedTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.i % 10 == 7, self.json_escaped) {
            (true, true) => write!(f, "Café \\\"Deluxe\\\" {}", self.i),
            (true, false) => write!(f, "Café \"Deluxe\" {}", self.i),
            (false, _) => write!(f, "Sandbox product {}", self.i),
        }
    }
}

fn seeded_product(i: u64) -> Product {
    let mut attributes = BTreeMap::from([("color".to_string(), seed_color(i).to_string())]);
    if let Some(size) = seed_size(i) {
        attributes.insert("size".into(), size.into());
    }
    Product {
        sku: seed_sku(i),
        title: SeedTitle {
            i,
            json_escaped: false,
        }
        .to_string(),
        price: SeedPrice(i).to_string(),
        currency: seed_currency(i).into(),
        quantity: seed_quantity(i),
        attributes,
        updated_at: timestamp(seed_nanos(i)),
        id: Some(format!("p-{i}")),
    }
}

/// Writes seeded product `i` as JSON without building it (the hot path of a
/// page); must match `serde_json::to_string(&seeded_product(i))`.
fn write_seeded(buf: &mut Vec<u8>, i: u64) {
    let updated_at = jiff::Timestamp::from_second(SEED_BASE_SECOND + i as i64)
        .expect("seeded timestamps are in range");
    let title = SeedTitle {
        i,
        json_escaped: true,
    };
    let _ = write!(
        buf,
        "{{\"sku\":\"SKU-{i:07}\",\"title\":\"{title}\",\"price\":\"{}\",\"currency\":\"{}\",\"quantity\":{},\"attributes\":{{\"color\":\"{}\"",
        SeedPrice(i),
        seed_currency(i),
        seed_quantity(i),
        seed_color(i),
    );
    if let Some(size) = seed_size(i) {
        let _ = write!(buf, ",\"size\":\"{size}\"");
    }
    // Real channels send fields beyond the protocol's; clients must ignore them.
    let _ = write!(
        buf,
        "}},\"updated_at\":\"{updated_at}\",\"id\":\"p-{i}\",\"brand\":\"Acme\",\"channel_meta\":{{\"listed\":true,\"images\":[]}}}}"
    );
}

fn timestamp(nanos: i128) -> String {
    jiff::Timestamp::from_nanosecond(nanos)
        .expect("sandbox timestamps are in range")
        .to_string()
}

// ---------------------------------------------------------------------------
// Products: listing and batch export

struct ListQuery {
    limit: u32,
    after: Option<(i128, String)>,
    /// The cursor as the client sent it (for `repeat_cursor`).
    raw_cursor: Option<String>,
    since: Option<i128>,
}

fn bad_request(description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": description}),
    )
}

fn parse_list_query(raw: &str, max_page_size: u32) -> Result<ListQuery, String> {
    let params = parse_form(raw).ok_or("malformed query string or a parameter given twice")?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !matches!(k.as_str(), "limit" | "cursor" | "updated_since"))
    {
        return Err(format!(
            "unknown query parameter `{unknown}`: expected `limit`, `cursor`, `updated_since`"
        ));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT.min(max_page_size),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=max_page_size).contains(&n) => n,
            _ => {
                return Err(format!(
                    "invalid `limit` `{text}`: expected 1 to {max_page_size}"
                ));
            }
        },
    };
    let after = match params.get("cursor") {
        None => None,
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or("invalid `cursor`: pass back a `next_cursor` exactly as received")?,
        ),
    };
    let since = match params.get("updated_since") {
        None => None,
        Some(text) => Some(
            text.parse::<jiff::Timestamp>()
                .map_err(|_| {
                    format!(
                        "invalid `updated_since` `{text}`: expected RFC 3339 such as `2026-01-31T12:00:00Z`"
                    )
                })?
                .as_nanosecond(),
        ),
    };
    Ok(ListQuery {
        limit,
        after,
        raw_cursor: params.get("cursor").cloned(),
        since,
    })
}

/// Opaque to clients: hex of `<nanos>:<sku>`, the last item's position.
fn encode_cursor(nanos: i128, sku: &str) -> String {
    let text = format!("{nanos}:{sku}");
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        let _ = fmt::Write::write_fmt(&mut out, format_args!("{b:02x}"));
    }
    out
}

fn decode_cursor(cursor: &str) -> Option<(i128, String)> {
    if cursor.is_empty() || !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let text = String::from_utf8(bytes).ok()?;
    let (nanos, sku) = text.split_once(':')?;
    Some((nanos.parse().ok()?, sku.to_string()))
}

/// Builds a page body straight into one buffer.
fn list_page(shared: &Shared, query: &ListQuery, repeat_cursor: bool) -> Vec<u8> {
    let catalog = read(&shared.catalog);
    let mut items = catalog.items(query.after.as_ref(), query.since);
    let mut buf = Vec::with_capacity(64 + query.limit as usize * 240);
    buf.extend_from_slice(b"{\"products\":[");
    let mut last = None;
    for n in 0..query.limit {
        let Some(item) = items.next() else { break };
        if n > 0 {
            buf.push(b',');
        }
        match item {
            Item::Seeded(i) => write_seeded(&mut buf, i),
            Item::Stored(stored) => {
                serde_json::to_writer(&mut buf, &stored.product).expect("product serializes")
            }
        }
        last = Some(item);
    }
    let mut next = match last {
        Some(last) if items.next().is_some() => {
            let (nanos, sku) = catalog.key(last);
            Some(encode_cursor(nanos, &sku))
        }
        _ => None,
    };
    if repeat_cursor && next.is_some() {
        next = query.raw_cursor.clone().or(next);
    }
    buf.extend_from_slice(b"],\"next_cursor\":");
    serde_json::to_writer(&mut buf, &next).expect("cursor serializes");
    buf.push(b'}');
    buf
}

/// An export item after its checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchItem {
    sku: String,
    title: String,
    price: String,
    currency: String,
    quantity: i64,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    /// Accepted and ignored: the channel sets its own `updated_at` and `id`.
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Serialize)]
struct ItemResult {
    sku: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Why a channel refuses an export item; `None` when it accepts it.
fn item_problem(item: &Value) -> Option<String> {
    let Some(object) = item.as_object() else {
        return Some("item is not a JSON object".into());
    };
    match object.get("price") {
        Some(Value::String(price)) if !is_decimal(price) => {
            return Some(format!(
                "invalid `price` `{price}`: expected digits with an optional `.` such as \"19.90\""
            ));
        }
        Some(Value::String(_)) | None => {}
        Some(other) => {
            return Some(format!(
                "invalid `price` {other}: must be a JSON string such as \"19.90\", not a number"
            ));
        }
    }
    if let Some(Value::String(sku)) = object.get("sku")
        && sku.trim().is_empty()
    {
        return Some("empty `sku`".into());
    }
    if let Some(Value::String(currency)) = object.get("currency")
        && (currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Some(format!(
            "invalid `currency` `{currency}`: expected three upper-case letters such as `EUR`"
        ));
    }
    if let Some(quantity) = object.get("quantity").and_then(Value::as_i64)
        && quantity < 0
    {
        return Some(format!(
            "invalid `quantity` {quantity}: must not be negative"
        ));
    }
    None
}

fn is_decimal(price: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match price.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(price),
    }
}

fn batch(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    if !content_type_is(headers, "application/json") {
        return json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"error": "invalid_request", "error_description": "the body must be `application/json`"}),
        );
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        #[serde(default)]
        products: Vec<Value>,
        /// Skus to delete; each gets a `deleted` (or `error`) result.
        #[serde(default)]
        delete: Vec<String>,
    }
    let batch: Batch = match serde_json::from_slice(body) {
        Ok(batch) => batch,
        Err(err) => {
            return bad_request(&format!(
                "body is not `{{\"products\":[...],\"delete\":[...]}}` JSON: {err}"
            ));
        }
    };
    let items = batch.products.len() + batch.delete.len();
    if items > MAX_BATCH {
        return json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({
                "error": "batch_too_large",
                "error_description": format!("{items} products in one batch: at most {MAX_BATCH}"),
            }),
        );
    }
    let error_skus = lock(&shared.switches).item_error_skus.clone();
    let mut catalog = write(&shared.catalog);
    let results: Vec<ItemResult> = batch
        .products
        .into_iter()
        .map(|value| {
            let sku = value
                .get("sku")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let error = |error: String| ItemResult {
                sku: sku.clone(),
                status: "error",
                error: Some(error),
            };
            if let Some(problem) = item_problem(&value) {
                return error(problem);
            }
            let item = match serde_json::from_value::<BatchItem>(value) {
                Ok(item) => item,
                Err(err) => return error(format!("invalid product: {err}")),
            };
            if error_skus.contains(&item.sku) {
                return error("refused by the channel (sandbox `item_error_skus`)".into());
            }
            ItemResult {
                status: catalog.upsert(item),
                sku: sku.clone(),
                error: None,
            }
        })
        .collect();
    let mut results = results;
    for sku in batch.delete {
        let result = if sku.trim().is_empty() {
            ItemResult {
                sku,
                status: "error",
                error: Some("empty `sku` in `delete`".into()),
            }
        } else if error_skus.contains(&sku) {
            ItemResult {
                sku,
                status: "error",
                error: Some("refused by the channel (sandbox `item_error_skus`)".into()),
            }
        } else {
            catalog.delete(&sku);
            ItemResult {
                sku,
                status: "deleted",
                error: None,
            }
        };
        results.push(result);
    }
    drop(catalog);
    if !results.is_empty() && take_one(&mut lock(&shared.switches).omit_results_next) {
        results.pop();
    }
    json_response(StatusCode::OK, json!({ "results": results }))
}

// ---------------------------------------------------------------------------
// HTTP dispatch

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Token,
    Products,
    Batch,
}

/// What the switches decided for one protocol request, taken atomically.
struct Plan {
    latency: Duration,
    close: bool,
    drop_reply: bool,
    fail: Option<u16>,
    rate_limited: bool,
    server_error: bool,
    retry_after: u64,
    retry_after_http_date: bool,
}

fn take_one(counter: &mut u32) -> bool {
    let hit = *counter > 0;
    *counter = counter.saturating_sub(1);
    hit
}

fn plan(shared: &Shared, endpoint: Endpoint) -> Plan {
    let mut s = lock(&shared.switches);
    let close = take_one(&mut s.close_next);
    let fail = (!close && !s.fail_next.is_empty()).then(|| s.fail_next.remove(0));
    let drop_reply = !close && fail.is_none() && take_one(&mut s.drop_reply_next);
    let mut rate_limited = false;
    let mut server_error = false;
    if endpoint != Endpoint::Token {
        let n = shared.rate_sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let undecided = !close && !drop_reply && fail.is_none();
        rate_limited = undecided
            && s.rate_limit_every
                .is_some_and(|k| n.is_multiple_of(u64::from(k)));
        server_error =
            undecided && !rate_limited && s.error_rate > 0.0 && fastrand::f64() < s.error_rate;
    }
    Plan {
        latency: Duration::from_millis(s.latency_ms),
        close,
        drop_reply,
        fail,
        rate_limited,
        server_error,
        retry_after: s.retry_after_secs,
        retry_after_http_date: s.retry_after_http_date,
    }
}

fn json_response(status: StatusCode, value: Value) -> Response {
    bytes_response(status, serde_json::to_vec(&value).expect("json serializes"))
}

fn bytes_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn with_retry_after(mut response: Response, plan: &Plan) -> Response {
    let value = if plan.retry_after_http_date {
        let at = std::time::SystemTime::now() + Duration::from_secs(plan.retry_after);
        HeaderValue::from_str(&httpdate::fmt_http_date(at)).expect("http dates are ascii")
    } else {
        HeaderValue::from(plan.retry_after)
    };
    response.headers_mut().insert(header::RETRY_AFTER, value);
    response
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    request: Request,
) -> Response {
    let path = request.uri().path().to_string();
    if let Some(control_path) = path.strip_prefix("/_sandbox/") {
        return control(&shared, control_path, request).await;
    }
    let method = request.method().clone();
    let query = request.uri().query().unwrap_or_default().to_string();
    let authorization_present = request.headers().contains_key(header::AUTHORIZATION);
    let endpoint = match (path.as_str(), &method) {
        ("/oauth/token", &Method::POST) => Some(Endpoint::Token),
        ("/products", &Method::GET) => Some(Endpoint::Products),
        ("/products/batch", &Method::POST) => Some(Endpoint::Batch),
        _ => None,
    };
    let mut entry = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        status: 0,
        authorization_present,
        body: None,
    };
    let Some(endpoint) = endpoint else {
        let response = match path.as_str() {
            "/oauth/token" | "/products/batch" => method_not_allowed("POST"),
            "/products" => method_not_allowed("GET"),
            _ => json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "error_description": format!("no resource `{path}`")}),
            ),
        };
        entry.status = response.status().as_u16();
        shared.record(entry);
        return response;
    };

    let plan = plan(&shared, endpoint);
    match endpoint {
        Endpoint::Token => &shared.token_requests,
        Endpoint::Products => &shared.product_requests,
        Endpoint::Batch => &shared.batch_requests,
    }
    .fetch_add(1, Ordering::Relaxed);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let response = json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "invalid_request", "error_description": "body too large or unreadable"}),
            );
            entry.status = response.status().as_u16();
            shared.record(entry);
            return response;
        }
    };
    if endpoint == Endpoint::Batch {
        entry.body = Some(String::from_utf8_lossy(&body).into_owned());
    }
    let response = respond(&shared, endpoint, &plan, &parts.headers, &query, &body);
    let response = if plan.close || plan.drop_reply {
        conn.reset.store(true, Ordering::SeqCst);
        entry.status = 0;
        response
    } else {
        let response = if endpoint != Endpoint::Token && response.status().is_success() {
            distort(&shared, response).await
        } else {
            response
        };
        entry.status = response.status().as_u16();
        response
    };
    shared.record(entry);
    response
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"error": "method_not_allowed", "error_description": format!("use {allow}")}),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn respond(
    shared: &Shared,
    endpoint: Endpoint,
    plan: &Plan,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Response {
    if plan.close {
        // Never written: the connection is reset instead.
        return Response::new(Body::empty());
    }
    if let Some(status) = plan.fail {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let response = json_response(
            status,
            json!({"error": "sandbox_fail_next", "error_description": "failure injected by `fail_next`"}),
        );
        return if matches!(status.as_u16(), 429 | 503) {
            with_retry_after(response, plan)
        } else {
            response
        };
    }
    if plan.rate_limited {
        return with_retry_after(
            json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "rate_limited", "error_description": "too many requests"}),
            ),
            plan,
        );
    }
    if plan.server_error {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "server_error", "error_description": "failure injected by `error_rate`"}),
        );
    }
    match endpoint {
        Endpoint::Token => token_endpoint(shared, headers, body),
        Endpoint::Products => {
            if let Some(unauthorized) = check_bearer(shared, headers) {
                return unauthorized;
            }
            match parse_list_query(query, shared.max_page_size) {
                Ok(query) => {
                    let repeat = lock(&shared.switches).repeat_cursor;
                    bytes_response(StatusCode::OK, list_page(shared, &query, repeat))
                }
                Err(description) => bad_request(&description),
            }
        }
        Endpoint::Batch => {
            if let Some(unauthorized) = check_bearer(shared, headers) {
                return unauthorized;
            }
            batch(shared, headers, body)
        }
    }
}

/// Applies `garbage_next`, `truncate_next`, `wrong_content_type_next` to a
/// successful product reply (the request itself was fully processed).
async fn distort(shared: &Shared, response: Response) -> Response {
    let (garbage, truncate, wrong_type) = {
        let mut s = lock(&shared.switches);
        let garbage = take_one(&mut s.garbage_next);
        let truncate = !garbage && take_one(&mut s.truncate_next);
        let wrong_type = !garbage && !truncate && take_one(&mut s.wrong_content_type_next);
        (garbage, truncate, wrong_type)
    };
    if garbage {
        return bytes_response(
            StatusCode::OK,
            b"<html><body><h1>502 Bad Gateway</h1> upstream hiccup</body></html>".to_vec(),
        );
    }
    if truncate {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let mut response = Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)));
        response.headers_mut().remove(header::CONTENT_LENGTH);
        return response;
    }
    if wrong_type {
        let mut response = response;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return response;
    }
    response
}

/// `/_sandbox/*`: switches, state, fresh refresh tokens. Not recorded, no faults.
async fn control(shared: &Shared, path: &str, request: Request) -> Response {
    let method = request.method().clone();
    match (path, method) {
        ("switches", Method::GET) => json_response(
            StatusCode::OK,
            serde_json::to_value(&*lock(&shared.switches)).expect("switches serialize"),
        ),
        ("switches", Method::POST) => {
            let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await else {
                return bad_request("unreadable body");
            };
            let patch: serde_json::Map<String, Value> = match serde_json::from_slice(&body) {
                Ok(patch) => patch,
                Err(err) => {
                    return bad_request(&format!("expected a JSON object of switches: {err}"));
                }
            };
            let mut switches = lock(&shared.switches);
            let mut merged = serde_json::to_value(&*switches).expect("switches serialize");
            for (key, value) in patch {
                if merged.get(&key).is_none() {
                    return bad_request(&format!("unknown switch `{key}`"));
                }
                merged[key] = value;
            }
            let next: Switches = match serde_json::from_value(merged) {
                Ok(next) => next,
                Err(err) => return bad_request(&format!("invalid switches: {err}")),
            };
            if let Err(msg) = next.check() {
                return bad_request(&msg);
            }
            *switches = next;
            json_response(
                StatusCode::OK,
                serde_json::to_value(&*switches).expect("switches serialize"),
            )
        }
        ("state", Method::GET) => json_response(StatusCode::OK, shared.state()),
        ("refresh-token", Method::POST) => {
            let token = lock(&shared.auth).mint();
            json_response(StatusCode::OK, json!({ "refresh_token": token }))
        }
        ("switches", _) => method_not_allowed("GET, POST"),
        ("state", _) => method_not_allowed("GET"),
        ("refresh-token", _) => method_not_allowed("POST"),
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "error_description": format!("no resource `/_sandbox/{path}`")}),
        ),
    }
}

// ---------------------------------------------------------------------------
// Form and Basic decoding (no extra crates)

/// `application/x-www-form-urlencoded` pairs; `None` when malformed or a
/// name repeats (RFC 6749 §3.2 forbids repeated parameters).
fn parse_form(text: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if params
            .insert(url_decode(name)?, url_decode(value)?)
            .is_some()
        {
            return None;
        }
    }
    Some(params)
}

fn url_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (n, chunk) in text.chunks(4).enumerate() {
        let last = n + 1 == text.len() / 4;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = (acc << 6) | value(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// A listener whose connections a handler can reset (for `close_next`)

/// Accepts TCP connections that carry a reset flag.
struct ResettableListener(TcpListener);

/// Handed to handlers through `ConnectInfo`: setting `reset` makes the
/// connection fail its next read or write, so hyper drops it unanswered.
#[derive(Clone, Debug)]
struct ConnHandle {
    reset: Arc<AtomicBool>,
}

struct ResettableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    // Small replies must not wait for Nagle + delayed ACK.
                    let _ = stream.set_nodelay(true);
                    let reset = Arc::new(AtomicBool::new(false));
                    let handle = ConnHandle {
                        reset: reset.clone(),
                    };
                    return (ResettableStream { stream, reset }, handle);
                }
                // Out of file descriptors or similar: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(ConnHandle {
            reset: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

impl ResettableStream {
    fn check(&self) -> std::io::Result<()> {
        if self.reset.load(Ordering::SeqCst) {
            // Zero linger turns the close into a TCP RST, as a crashed peer would.
            let _ = self.stream.set_zero_linger();
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "sandbox close_next",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start(products: u64, switches: Switches) -> Sandbox {
        Sandbox::start(SandboxConfig {
            products,
            switches,
            ..SandboxConfig::default()
        })
        .await
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    async fn token(sb: &Sandbox, http: &reqwest::Client, form: &[(&str, &str)]) -> (u16, Value) {
        let reply = http
            .post(sb.token_url())
            .basic_auth(sb.client_id(), Some(sb.client_secret()))
            .form(form)
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.json().await.unwrap())
    }

    async fn refresh(sb: &Sandbox, http: &reqwest::Client, refresh_token: &str) -> (u16, Value) {
        token(
            sb,
            http,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    async fn access_token(sb: &Sandbox, http: &reqwest::Client) -> String {
        let (status, reply) = refresh(sb, http, &sb.current_refresh_token()).await;
        assert_eq!(status, 200, "{reply}");
        reply["access_token"].as_str().unwrap().to_string()
    }

    async fn get(http: &reqwest::Client, url: String, access: &str) -> reqwest::Response {
        http.get(url).bearer_auth(access).send().await.unwrap()
    }

    async fn page(sb: &Sandbox, http: &reqwest::Client, access: &str, query: &str) -> (u16, Value) {
        let reply = get(http, format!("{}/products?{query}", sb.base_url()), access).await;
        (reply.status().as_u16(), reply.json().await.unwrap())
    }

    async fn export(
        sb: &Sandbox,
        http: &reqwest::Client,
        access: &str,
        body: Value,
    ) -> (u16, Value) {
        let reply = http
            .post(format!("{}/products/batch", sb.base_url()))
            .bearer_auth(access)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    fn product_json(sku: &str, price: Value) -> Value {
        json!({"sku": sku, "title": "T", "price": price, "currency": "EUR", "quantity": 1,
               "attributes": {}, "updated_at": "2026-01-01T00:00:00Z"})
    }

    fn skus(reply: &Value) -> Vec<String> {
        reply["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_string())
            .collect()
    }

    /// Follows `next_cursor` to the end; returns every sku in order.
    async fn import_all(
        sb: &Sandbox,
        http: &reqwest::Client,
        access: &str,
        since: Option<&str>,
    ) -> Vec<String> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url =
                reqwest::Url::parse(&format!("{}/products?limit=500", sb.base_url())).unwrap();
            if let Some(since) = since {
                url.query_pairs_mut().append_pair("updated_since", since);
            }
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let reply = get(http, url.to_string(), access).await;
            assert_eq!(reply.status(), 200);
            let reply: Value = reply.json().await.unwrap();
            all.extend(skus(&reply));
            match reply["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return all,
            }
        }
    }

    #[tokio::test]
    async fn batch_delete_removes_seeded_and_stored_products() {
        let sb = start(5, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let (status, _) = export(
            &sb,
            &http,
            &access,
            json!({"products": [product_json("NEW-1", json!("1.00"))]}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(sb.product_count(), 6);
        sb.update_switches(|s| s.item_error_skus = vec!["SKU-0000003".into()]);
        let (status, reply) = export(
            &sb,
            &http,
            &access,
            json!({"delete": ["SKU-0000001", "NEW-1", "GONE-9", "SKU-0000003"]}),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        let statuses: Vec<(&str, &str)> = reply["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["sku"].as_str().unwrap(), r["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("SKU-0000001", "deleted"),
                ("NEW-1", "deleted"),
                ("GONE-9", "deleted"),
                ("SKU-0000003", "error")
            ]
        );
        assert_eq!(sb.product_count(), 4);
        assert!(sb.product("SKU-0000001").is_none());
        assert!(sb.product("NEW-1").is_none());
        assert!(sb.product("SKU-0000003").is_some());
        let listed = import_all(&sb, &http, &access, None).await;
        assert_eq!(
            listed,
            ["SKU-0000002", "SKU-0000003", "SKU-0000004", "SKU-0000005"]
        );
        // A deleted product can come back.
        let (_, reply) = export(
            &sb,
            &http,
            &access,
            json!({"products": [product_json("SKU-0000001", json!("2.00"))], "delete": []}),
        )
        .await;
        assert_eq!(reply["results"][0]["status"], "created");
        // Upserts and deletions count together against the batch limit.
        let products: Vec<Value> = (0..60)
            .map(|i| product_json(&format!("B-{i}"), json!("1")))
            .collect();
        let delete: Vec<String> = (0..41).map(|i| format!("D-{i}")).collect();
        let (status, _) = export(
            &sb,
            &http,
            &access,
            json!({"products": products, "delete": delete}),
        )
        .await;
        assert_eq!(status, 413);
    }

    #[tokio::test]
    async fn rotation_issues_new_refresh_tokens_and_refuses_old_ones() {
        let sb = start(1, Switches::default()).await;
        let http = client();
        let first = sb.current_refresh_token();
        let (status, reply) = refresh(&sb, &http, &first).await;
        assert_eq!(status, 200);
        assert_eq!(reply["token_type"], "Bearer");
        assert_eq!(reply["expires_in"], 3600);
        let second = reply["refresh_token"].as_str().unwrap().to_string();
        assert_ne!(second, first);
        assert_eq!(sb.current_refresh_token(), second);

        let (status, reply) = refresh(&sb, &http, &first).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        // Without reuse detection the replay costs nothing else.
        assert!(!sb.grant_revoked());
        assert_eq!(refresh(&sb, &http, &second).await.0, 200);

        sb.update_switches(|s| s.rotate_refresh_tokens = false);
        let current = sb.current_refresh_token();
        let (status, reply) = refresh(&sb, &http, &current).await;
        assert_eq!(status, 200);
        assert!(reply.get("refresh_token").is_none(), "{reply}");
        assert_eq!(refresh(&sb, &http, &current).await.0, 200);
    }

    #[tokio::test]
    async fn reuse_of_a_rotated_token_revokes_the_whole_grant() {
        let sb = start(
            5,
            Switches {
                reuse_detection: true,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        let old = sb.current_refresh_token();
        let (_, reply) = refresh(&sb, &http, &old).await;
        let access = reply["access_token"].as_str().unwrap().to_string();
        let current = reply["refresh_token"].as_str().unwrap().to_string();
        assert_eq!(page(&sb, &http, &access, "limit=1").await.0, 200);

        assert_eq!(refresh(&sb, &http, &old).await.1["error"], "invalid_grant");
        assert!(sb.grant_revoked());
        assert_eq!(
            refresh(&sb, &http, &current).await.1["error"],
            "invalid_grant"
        );
        assert_eq!(page(&sb, &http, &access, "limit=1").await.0, 401);

        // A freshly minted grant works again (what `channel login` would store).
        let minted: Value = http
            .post(format!("{}/_sandbox/refresh-token", sb.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!sb.grant_revoked());
        let minted = minted["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&sb, &http, minted).await.0, 200);
        // ... and the old grant's tokens stay dead without revoking the new one.
        assert_eq!(refresh(&sb, &http, &old).await.0, 400);
        assert!(!sb.grant_revoked());
    }

    /// Base64 with RFC 6749 §2.3.1 form-encoding first, as a careful client does.
    fn basic(id: &str, secret: &str) -> String {
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".into(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let raw = format!("{}:{}", enc(id), enc(secret)).into_bytes();
        let mut out = String::new();
        for chunk in raw.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from_be_bytes([0, b[0], b[1], b[2]]);
            for k in 0..4 {
                if k <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        format!("Basic {out}")
    }

    #[tokio::test]
    async fn client_authentication_is_http_basic_only() {
        let sb = Sandbox::start(SandboxConfig {
            products: 1,
            client_id: "shop eu:1".into(),
            client_secret: "s&cr=t/ü".into(),
            switches: Switches {
                client_credentials: true,
                ..Switches::default()
            },
            ..SandboxConfig::default()
        })
        .await;
        let http = client();
        let good = basic("shop eu:1", "s&cr=t/ü");
        let form = "grant_type=client_credentials";
        // (case, Authorization header, body, content type, status, error code)
        type Case<'a> = (&'a str, Option<String>, &'a str, &'a str, u16, &'a str);
        let cases: &[Case] = &[
            (
                "encoded basic",
                Some(good.clone()),
                form,
                "application/x-www-form-urlencoded",
                200,
                "",
            ),
            (
                "wrong secret",
                Some(basic("shop eu:1", "nope")),
                form,
                "application/x-www-form-urlencoded",
                401,
                "invalid_client",
            ),
            (
                "no auth",
                None,
                form,
                "application/x-www-form-urlencoded",
                401,
                "invalid_client",
            ),
            (
                "secret in body only",
                None,
                "grant_type=client_credentials&client_id=shop+eu%3A1&client_secret=s%26cr%3Dt%2F%C3%BC",
                "application/x-www-form-urlencoded",
                401,
                "invalid_client",
            ),
            (
                "two methods",
                Some(good.clone()),
                "grant_type=client_credentials&client_secret=x",
                "application/x-www-form-urlencoded",
                400,
                "invalid_request",
            ),
            (
                "json body",
                Some(good.clone()),
                r#"{"grant_type":"client_credentials"}"#,
                "application/json",
                400,
                "invalid_request",
            ),
            (
                "no grant",
                Some(good.clone()),
                "scope=x",
                "application/x-www-form-urlencoded",
                400,
                "invalid_request",
            ),
            (
                "odd grant",
                Some(good.clone()),
                "grant_type=password",
                "application/x-www-form-urlencoded",
                400,
                "unsupported_grant_type",
            ),
            (
                "unknown refresh",
                Some(good.clone()),
                "grant_type=refresh_token&refresh_token=x",
                "application/x-www-form-urlencoded",
                400,
                "invalid_grant",
            ),
        ];
        for (name, auth, body, content_type, status, error) in cases {
            let mut request = http
                .post(sb.token_url())
                .header("content-type", *content_type)
                .body(body.to_string());
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let reply = request.send().await.unwrap();
            assert_eq!(reply.status().as_u16(), *status, "{name}");
            assert_eq!(
                reply.headers()["content-type"],
                "application/json",
                "{name}"
            );
            let reply: Value = reply.json().await.unwrap();
            if *status == 200 {
                assert!(reply["access_token"].is_string(), "{name}");
                assert!(reply.get("refresh_token").is_none(), "{name}");
            } else {
                assert_eq!(reply["error"], *error, "{name}: {reply}");
            }
        }
        sb.update_switches(|s| s.client_credentials = false);
        let reply = http
            .post(sb.token_url())
            .header("authorization", &good)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400);
        assert_eq!(
            reply.json::<Value>().await.unwrap()["error"],
            "unauthorized_client"
        );
    }

    #[tokio::test]
    async fn product_requests_need_a_live_bearer_token() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let url = format!("{}/products", sb.base_url());
        assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
        assert_eq!(get(&http, url.clone(), "made-up").await.status(), 401);
        let access = access_token(&sb, &http).await;
        assert_eq!(get(&http, url.clone(), &access).await.status(), 200);
        sb.expire_access_tokens();
        let reply = get(&http, url.clone(), &access).await;
        assert_eq!(reply.status(), 401);
        assert!(
            reply.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );

        sb.update_switches(|s| s.token_lifetime_secs = 0);
        let access = access_token(&sb, &http).await;
        assert_eq!(
            get(&http, url, &access).await.status(),
            401,
            "lifetime 0 expires at once"
        );
        assert!(
            sb.requests()
                .iter()
                .all(|r| r.path != "/products" || r.status != 200 || r.authorization_present)
        );
    }

    #[tokio::test]
    async fn pagination_returns_every_seeded_sku_exactly_once() {
        let sb = start(2500, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let all = import_all(&sb, &http, &access, None).await;
        let expected: Vec<String> = (1..=2500).map(seed_sku).collect();
        assert_eq!(all, expected);
        assert_eq!(sb.count("/products"), 5);
        let queries: Vec<String> = sb
            .requests()
            .into_iter()
            .filter(|r| r.path == "/products")
            .map(|r| r.query)
            .collect();
        assert_eq!(queries[0], "limit=500");
        assert!(queries[1].contains("cursor="));
    }

    #[tokio::test]
    async fn list_parameters_are_checked() {
        let sb = start(150, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let cases: &[(&str, u16, usize)] = &[
            ("", 200, 100),
            ("limit=1", 200, 1),
            ("limit=500", 200, 150),
            ("limit=0", 400, 0),
            ("limit=501", 400, 0),
            ("limit=ten", 400, 0),
            ("limit=5&limit=6", 400, 0),
            ("limit=5&page=2", 400, 0),
            ("cursor=zz", 400, 0),
            ("updated_since=yesterday", 400, 0),
            // An unencoded `+` is a space: a client must percent-encode offsets.
            ("updated_since=2025-01-01T01:00:00+01:00", 400, 0),
            (
                "updated_since=2025-01-01T01:00:00%2B01:00&limit=500",
                200,
                150,
            ),
        ];
        for (query, status, count) in cases {
            let (got, reply) = page(&sb, &http, &access, query).await;
            assert_eq!(got, *status, "{query}: {reply}");
            if *status == 200 {
                assert_eq!(skus(&reply).len(), *count, "{query}");
            } else {
                assert_eq!(reply["error"], "invalid_request", "{query}");
            }
        }
    }

    #[tokio::test]
    async fn updated_since_is_inclusive_and_filters() {
        let sb = start(2500, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let since = timestamp(seed_nanos(2001));
        let got = import_all(&sb, &http, &access, Some(&since)).await;
        assert_eq!(got, (2001..=2500).map(seed_sku).collect::<Vec<_>>());
        let between = timestamp(seed_nanos(2400) + 1);
        let got = import_all(&sb, &http, &access, Some(&between)).await;
        assert_eq!(got.first().map(String::as_str), Some("SKU-0002401"));
        let later = timestamp(seed_nanos(2501));
        assert!(
            import_all(&sb, &http, &access, Some(&later))
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn exported_changes_show_up_in_the_next_incremental_page() {
        let sb = start(2500, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let (_, last) = page(
            &sb,
            &http,
            &access,
            "limit=1&updated_since=2025-01-01T00:41:40Z",
        )
        .await;
        let high_water = last["products"][0]["updated_at"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(last["products"][0]["sku"], "SKU-0002500");

        let mut changed = serde_json::to_value(sb.product("SKU-0000005").unwrap()).unwrap();
        changed["price"] = json!("7.77");
        let (status, reply) = export(
            &sb,
            &http,
            &access,
            json!({"products": [changed, product_json("NEW-1", json!("1.00"))]}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            reply["results"][0],
            json!({"sku": "SKU-0000005", "status": "updated"})
        );
        assert_eq!(
            reply["results"][1],
            json!({"sku": "NEW-1", "status": "created"})
        );

        let got = import_all(&sb, &http, &access, Some(&high_water)).await;
        assert_eq!(got, ["SKU-0002500", "SKU-0000005", "NEW-1"]);
        let stored = sb.product("SKU-0000005").unwrap();
        assert_eq!(
            (stored.price.as_str(), stored.id.as_deref()),
            ("7.77", Some("p-5"))
        );
        assert!(stored.updated_at > high_water);
        assert_eq!(sb.product_count(), 2501);
        // A full import still sees every sku once, the changed one at the end.
        let all = import_all(&sb, &http, &access, None).await;
        assert_eq!(all.len(), 2501);
        assert_eq!(all.iter().filter(|s| *s == "SKU-0000005").count(), 1);
        assert_eq!(all.last().unwrap(), "NEW-1");

        // Rust-side changes behave the same way.
        sb.update_product("SKU-0000001", |p| p.quantity = 0)
            .unwrap();
        let got = import_all(&sb, &http, &access, Some(&high_water)).await;
        assert_eq!(got.last().unwrap(), "SKU-0000001");
    }

    #[tokio::test]
    async fn batch_limits_and_per_item_errors() {
        let sb = start(10, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;

        let too_many: Vec<Value> = (0..101)
            .map(|i| product_json(&format!("X{i}"), json!("1")))
            .collect();
        assert_eq!(
            export(&sb, &http, &access, json!({ "products": too_many }))
                .await
                .0,
            413
        );
        let hundred: Vec<Value> = (0..100)
            .map(|i| product_json(&format!("X{i}"), json!("1")))
            .collect();
        assert_eq!(
            export(&sb, &http, &access, json!({ "products": hundred }))
                .await
                .0,
            200
        );

        let not_json = http
            .post(format!("{}/products/batch", sb.base_url()))
            .bearer_auth(&access)
            .header("content-type", "application/json")
            .body("{products: oops")
            .send()
            .await
            .unwrap();
        assert_eq!(not_json.status(), 400);

        sb.update_switches(|s| s.item_error_skus = vec!["REFUSED".into()]);
        let unchanged = serde_json::to_value(sb.product("SKU-0000002").unwrap()).unwrap();
        let mut bad_currency = product_json("B2", json!("1.00"));
        bad_currency["currency"] = json!("eur");
        let mut negative = product_json("B3", json!("1.00"));
        negative["quantity"] = json!(-1);
        let mut extra = product_json("B4", json!("1.00"));
        extra["colour"] = json!("red");
        let items = json!({"products": [
            product_json("FLOAT", json!(19.9)),
            product_json("OK-1", json!("19.90")),
            bad_currency,
            negative,
            product_json("", json!("1")),
            product_json("B5", json!("1.2.3")),
            product_json("B6", json!("-5")),
            extra,
            product_json("REFUSED", json!("1")),
            unchanged,
            "not an object",
        ]});
        let (status, reply) = export(&sb, &http, &access, items).await;
        assert_eq!(status, 200, "{reply}");
        let results = reply["results"].as_array().unwrap();
        let got: Vec<(&str, &str)> = results
            .iter()
            .map(|r| (r["sku"].as_str().unwrap(), r["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("FLOAT", "error"),
                ("OK-1", "created"),
                ("B2", "error"),
                ("B3", "error"),
                ("", "error"),
                ("B5", "error"),
                ("B6", "error"),
                ("B4", "error"),
                ("REFUSED", "error"),
                ("SKU-0000002", "unchanged"),
                ("", "error"),
            ]
        );
        assert!(
            results[0]["error"]
                .as_str()
                .unwrap()
                .contains("not a number")
        );
        assert!(
            results
                .iter()
                .all(|r| (r["status"] == "error") == r.get("error").is_some())
        );
        assert!(sb.product("FLOAT").is_none());
        assert_eq!(sb.product("OK-1").unwrap().price, "19.90");
        let recorded = sb
            .requests()
            .into_iter()
            .rfind(|r| r.path == "/products/batch")
            .unwrap();
        assert!(recorded.body.unwrap().contains("\"FLOAT\""));
    }

    #[tokio::test]
    async fn fail_next_then_normal_service_with_retry_after() {
        let sb = start(
            3,
            Switches {
                fail_next: vec![500, 503],
                retry_after_secs: 7,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        // The token request is a protocol request too: it takes the first status.
        let (status, _) = refresh(&sb, &http, &sb.current_refresh_token()).await;
        assert_eq!(status, 500);
        // Faults come before authentication, as from an overloaded front end.
        let url = format!("{}/products", sb.base_url());
        let reply = get(&http, url.clone(), "not-checked").await;
        let retry_after = reply
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            (reply.status().as_u16(), retry_after.as_deref()),
            (503, Some("7"))
        );
        let access = access_token(&sb, &http).await;
        assert_eq!(get(&http, url.clone(), &access).await.status(), 200);
        let statuses: Vec<u16> = sb.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [500, 503, 200, 200]);
    }

    #[tokio::test]
    async fn reply_distortions_hit_only_the_next_successful_product_replies() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let url = format!("{}/products?limit=2", sb.base_url());
        type Check = fn(&str, &str) -> bool;
        let cases: &[(&str, Check)] = &[
            ("garbage_next", |ct, body| {
                ct == "application/json" && serde_json::from_str::<Value>(body).is_err()
            }),
            ("truncate_next", |_, body| {
                serde_json::from_str::<Value>(body).is_err() && body.starts_with("{\"products\":[")
            }),
            ("wrong_content_type_next", |ct, body| {
                ct.starts_with("text/html") && serde_json::from_str::<Value>(body).is_ok()
            }),
        ];
        for (switch, check) in cases {
            let patch = http
                .post(format!("{}/_sandbox/switches", sb.base_url()))
                .json(&json!({ *switch: 1 }))
                .send()
                .await
                .unwrap();
            assert_eq!(patch.status(), 200, "{switch}");
            let reply = get(&http, url.clone(), &access).await;
            assert_eq!(reply.status(), 200, "{switch}");
            let content_type = reply.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            let body = reply.text().await.unwrap();
            assert!(
                check(&content_type, &body),
                "{switch}: {content_type} {body}"
            );
            let again = get(&http, url.clone(), &access).await;
            assert!(again.json::<Value>().await.is_ok(), "{switch} applies once");
        }
        let bad = http
            .post(format!("{}/_sandbox/switches", sb.base_url()))
            .json(&json!({"no_such_switch": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }

    #[tokio::test]
    async fn rate_limit_repeat_cursor_and_omitted_results() {
        let sb = start(
            10,
            Switches {
                rate_limit_every: Some(3),
                retry_after_secs: 0,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(page(&sb, &http, &access, "limit=2").await.0);
        }
        assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);

        sb.update_switches(|s| {
            s.rate_limit_every = None;
            s.repeat_cursor = true;
        });
        let (_, first) = page(&sb, &http, &access, "limit=2").await;
        let cursor = first["next_cursor"].as_str().unwrap().to_string();
        let (_, second) = page(&sb, &http, &access, &format!("limit=2&cursor={cursor}")).await;
        assert_eq!(second["next_cursor"], cursor.as_str());
        assert_ne!(skus(&first), skus(&second));

        sb.update_switches(|s| {
            s.repeat_cursor = false;
            s.omit_results_next = 1;
        });
        let body =
            json!({"products": [product_json("A", json!("1")), product_json("B", json!("2"))]});
        let (_, reply) = export(&sb, &http, &access, body.clone()).await;
        assert_eq!(reply["results"].as_array().unwrap().len(), 1);
        assert!(
            sb.product("B").is_some(),
            "the omitted item was still stored"
        );
        let (_, reply) = export(&sb, &http, &access, body).await;
        assert_eq!(reply["results"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn close_next_resets_the_connection_without_a_reply() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        sb.update_switches(|s| s.close_next = 1);
        let url = format!("{}/products", sb.base_url());
        let err = http.get(&url).bearer_auth(&access).send().await;
        let err = err
            .map(|r| r.status())
            .expect_err("close_next must not reply");
        assert!(!err.is_timeout(), "a reset, not a hang: {err:?}");
        assert_eq!(get(&http, url, &access).await.status(), 200);
        let statuses: Vec<u16> = sb.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 0, 200]);
    }

    #[tokio::test]
    async fn drop_reply_next_rotates_but_the_client_never_hears() {
        let sb = start(3, Switches::default()).await;
        let http = client();
        let before = sb.current_refresh_token();
        sb.update_switches(|s| s.drop_reply_next = 1);
        let lost = http
            .post(sb.token_url())
            .basic_auth(sb.client_id(), Some(sb.client_secret()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", before.as_str()),
            ])
            .send()
            .await;
        assert!(lost.is_err(), "the reply must be lost");
        assert_ne!(
            sb.current_refresh_token(),
            before,
            "the server rotated anyway"
        );
        assert_eq!(
            refresh(&sb, &http, &before).await.1["error"],
            "invalid_grant"
        );
        assert_eq!(sb.requests()[0].status, 0);
    }

    #[tokio::test]
    async fn state_and_error_rate() {
        let sb = start(
            4,
            Switches {
                error_rate: 1.0,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        let access = access_token(&sb, &http).await;
        assert_eq!(page(&sb, &http, &access, "").await.0, 500);
        let state: Value = http
            .get(format!("{}/_sandbox/state", sb.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            state,
            json!({
                "refresh_token": sb.current_refresh_token(),
                "requests": {"token": 1, "products": 1, "batch": 0},
                "product_count": 4,
                "grant_revoked": false,
            })
        );
        assert_eq!(sb.count("/oauth/token"), 1);
        sb.clear_requests();
        assert!(sb.requests().is_empty());
        sb.shutdown().await;
    }

    #[tokio::test]
    async fn retry_after_can_be_an_http_date() {
        let sb = start(
            1,
            Switches {
                rate_limit_every: Some(1),
                retry_after_secs: 120,
                retry_after_http_date: true,
                ..Switches::default()
            },
        )
        .await;
        let http = client();
        let access = access_token(&sb, &http).await;
        let reply = get(&http, format!("{}/products", sb.base_url()), &access).await;
        assert_eq!(reply.status(), 429);
        let date =
            httpdate::parse_http_date(reply.headers()["retry-after"].to_str().unwrap()).unwrap();
        let wait = date.duration_since(std::time::SystemTime::now()).unwrap();
        assert!(
            (Duration::from_secs(110)..=Duration::from_secs(120)).contains(&wait),
            "{wait:?}"
        );
    }

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

    #[test]
    fn seeded_json_matches_the_product_it_stands_for() {
        let catalog = Catalog::new(40);
        for i in 1..=40 {
            let mut buf = Vec::new();
            write_seeded(&mut buf, i);
            // The protocol's fields, then the extras a real channel adds.
            let mut value: Value = serde_json::from_slice(&buf).unwrap();
            let extras = value.as_object_mut().unwrap();
            assert_eq!(extras.remove("brand"), Some(Value::from("Acme")));
            assert!(extras.remove("channel_meta").is_some());
            let parsed: Product = serde_json::from_value(value).unwrap();
            assert_eq!(
                parsed,
                seeded_product(i),
                "{}",
                String::from_utf8_lossy(&buf)
            );
            assert!(is_decimal(&parsed.price), "{}", parsed.price);
            assert_eq!(catalog.seed_index(&parsed.sku), Some(i));
        }
        assert_eq!(seeded_product(1).updated_at, "2025-01-01T00:00:01Z");
        assert_eq!(seeded_product(7).title, "Café \"Deluxe\" 7");
        for sku in [
            "SKU-0000000",
            "SKU-0000041",
            "SKU-00000001",
            "SKU-1",
            "sku-0000001",
        ] {
            assert_eq!(catalog.seed_index(sku), None, "{sku}");
        }
    }

    #[test]
    fn decoders() {
        assert_eq!(base64_decode("ZGVtbzpzZWNyZXQ=").unwrap(), b"demo:secret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        for bad in ["YQ=", "Y===", "YQ==YQ==", "Y!==", "@@@@"] {
            assert!(base64_decode(bad).is_none(), "{bad}");
        }
        assert_eq!(url_decode("a+b%2Bc%C3%BC").unwrap(), "a b+cü");
        for bad in ["%", "%4", "%zz", "%FF"] {
            assert!(url_decode(bad).is_none(), "{bad}");
        }
        let cursor = encode_cursor(-5, "SKU:1 ü");
        assert_eq!(decode_cursor(&cursor), Some((-5, "SKU:1 ü".to_string())));
    }

    /// Prints (does not assert) the cost of serving 100,000 products in pages
    /// of 1000 to a bare reqwest client, both in this debug build.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn print_time_to_fetch_100k_products() {
        let sb = start(100_000, Switches::default()).await;
        let http = client();
        let access = access_token(&sb, &http).await;
        #[derive(Deserialize)]
        struct Page {
            products: Vec<serde::de::IgnoredAny>,
            next_cursor: Option<String>,
        }
        let started = Instant::now();
        let (mut count, mut bytes, mut cursor) = (0, 0, None::<String>);
        loop {
            let mut url = format!("{}/products?limit=500", sb.base_url());
            if let Some(cursor) = &cursor {
                url.push_str("&cursor=");
                url.push_str(cursor);
            }
            let body = get(&http, url, &access).await.bytes().await.unwrap();
            bytes += body.len();
            let page: Page = serde_json::from_slice(&body).unwrap();
            count += page.products.len();
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(count, 100_000);
        eprintln!(
            "fetched {count} products ({} MB) in 200 pages in {:?} (debug build)",
            bytes / 1_000_000,
            started.elapsed()
        );
    }
}
