//! The state one sandbox shares between its handlers and its [`Sandbox`]
//! handle, and the request log.
//!
//! [`Sandbox`]: crate::Sandbox

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use serde_json::{Value, json};

use crate::auth::AuthState;
use crate::catalog::Catalog;
use crate::{RecordedRequest, SandboxConfig, Switches};

/// The request log keeps at most this many entries (oldest dropped), so a
/// long-running sandbox does not grow without bound.
const MAX_RECORDED: usize = 200_000;

/// Everything a running sandbox knows, shared by its handlers and its handle.
pub(crate) struct Shared {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) max_page_size: u32,
    pub(crate) switches: Mutex<Switches>,
    pub(crate) auth: Mutex<AuthState>,
    pub(crate) catalog: RwLock<Catalog>,
    pub(crate) log: Mutex<Vec<RecordedRequest>>,
    pub(crate) token_requests: AtomicU64,
    pub(crate) product_requests: AtomicU64,
    pub(crate) batch_requests: AtomicU64,
    /// Requests to `/stock/*`.
    pub(crate) stock_requests: AtomicU64,
    /// Levels received by `/stock/batch` (within its limit).
    pub(crate) stock_levels_received: AtomicU64,
    /// Largest `/stock/batch` (levels) and `/stock/read` (SKUs) accepted.
    pub(crate) max_stock_batch: usize,
    /// Product requests seen by `plan`, for `rate_limit_every`.
    pub(crate) rate_sequence: AtomicU64,
    /// The enforced rate's bucket, made (full) when a rate is switched on.
    pub(crate) rate: Mutex<Option<crate::rate::Bucket>>,
    /// Requests refused for going past the enforced rate.
    pub(crate) rate_refusals: AtomicU64,
}

/// Poisoning only follows a panic in a test helper; the data is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig) -> Shared {
        let refresh = config.refresh_token.unwrap_or_else(|| random_token("rt"));
        Shared {
            client_id: config.client_id,
            client_secret: config.client_secret,
            max_page_size: config.max_page_size.max(1),
            switches: Mutex::new(config.switches),
            auth: Mutex::new(AuthState::new(refresh)),
            catalog: RwLock::new(Catalog::new(config.products, config.variants_per_product)),
            log: Mutex::new(Vec::new()),
            token_requests: AtomicU64::new(0),
            product_requests: AtomicU64::new(0),
            batch_requests: AtomicU64::new(0),
            stock_requests: AtomicU64::new(0),
            stock_levels_received: AtomicU64::new(0),
            max_stock_batch: config.max_stock_batch.max(1),
            rate_sequence: AtomicU64::new(0),
            rate: Mutex::new(None),
            rate_refusals: AtomicU64::new(0),
        }
    }

    pub(crate) fn state(&self) -> Value {
        let auth = lock(&self.auth);
        json!({
            "refresh_token": auth.refresh,
            "requests": {
                "token": self.token_requests.load(Ordering::Relaxed),
                "products": self.product_requests.load(Ordering::Relaxed),
                "batch": self.batch_requests.load(Ordering::Relaxed),
                "stock": self.stock_requests.load(Ordering::Relaxed),
            },
            "stock_levels_received": self.stock_levels_received.load(Ordering::Relaxed),
            "product_count": read(&self.catalog).count(),
            "grant_revoked": auth.revoked,
            "refused_for_rate": self.rate_refusals.load(Ordering::Relaxed),
        })
    }

    pub(crate) fn record(&self, entry: RecordedRequest) {
        let mut log = lock(&self.log);
        if log.len() >= MAX_RECORDED {
            log.drain(..MAX_RECORDED / 10);
        }
        log.push(entry);
    }
}

pub(crate) fn random_token(prefix: &str) -> String {
    let mut token = String::with_capacity(prefix.len() + 33);
    token.push_str(prefix);
    token.push('-');
    token.extend(std::iter::repeat_with(fastrand::alphanumeric).take(32));
    token
}
