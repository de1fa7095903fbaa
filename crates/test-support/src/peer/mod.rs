//! The shops a channel can point at, alike to a test: the sandbox
//! ([`SandboxPeer`], in process), a real Vendure ([`VendurePeer`]) and a
//! real Medusa ([`MedusaShop`]), both on loopback on the shared throwaway
//! PostgreSQL cluster. A [`Peer`] says how a channel reaches it, lets a test
//! put products on it as the shop's owner would, and reads back what it
//! holds ([`Listing`]): every product with its variants, so a test sees a
//! SKU held twice, a product without variants, a variant without a price.
//!
//! [`proxy::CountingProxy`] stands between a channel and a real shop to
//! count what the shop received.
//!
//! Suites run one test body on several peers (and store backends) with
//! [`on_peers!`](crate::on_peers), the way [`both_backends!`](crate::both_backends)
//! runs one on both stores.

pub mod medusa;
mod node;
pub mod proxy;
pub mod sandbox;
pub mod vendure;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

pub use medusa::MedusaShop;
pub use sandbox::SandboxPeer;
pub use vendure::VendurePeer;

use crate::Backend;

/// Which shop a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerKind {
    Sandbox,
    Vendure,
    Medusa,
}

/// A shop a channel points at.
pub trait Peer {
    fn kind(&self) -> PeerKind;

    /// The `channel add <id>` arguments that reach this shop (type, base
    /// URL, auth), its secret read from `secret_var`.
    fn channel_args(&self, secret_var: &str) -> Vec<String>;

    /// The secret the channel names (client secret, password or API key).
    fn secret(&self) -> String;

    /// A refresh token for `channel login`, for shops that hand them out.
    fn login_token(&self) -> Option<String> {
        None
    }

    /// The currency of the shop's channel, as the catalog spells it.
    fn currency(&self) -> &'static str;

    /// The longest one request to this shop may take: real servers on two
    /// shared cores take seconds for a batch.
    fn request_timeout(&self) -> Duration;

    /// Crash points inside this platform's multi-step create, besides the
    /// steps every export has (`export-batch-sent`, `export-batch-recorded`).
    fn create_steps(&self) -> &'static [&'static str] {
        &[]
    }

    /// Puts these products on the shop as its owner would (not through
    /// `oms-channels`).
    fn seed(&self, offers: &[Offer]);

    /// Changes a product's price (catalog spelling, e.g. `"7.77"`) and
    /// stock on the shop as its owner would.
    fn change(&self, sku: &str, price: &str, quantity: i64);

    /// Everything the shop holds, through its own API.
    fn read_back(&self) -> Listing;

    /// Product requests the shop received so far, when it can count them
    /// (the sandbox can; a real server cannot).
    fn product_requests(&self) -> Option<usize> {
        None
    }

    /// The sandbox behind this peer, for what only it can show (its request
    /// log, its OAuth grant).
    fn as_sandbox(&self) -> Option<&SandboxPeer> {
        None
    }

    /// The shop's ids of `count` stock locations (made when it has fewer),
    /// for a channel's `[locations]`.
    fn stock_locations(&self, _count: usize) -> Result<Vec<String>, String> {
        Err(not_yet(self.kind(), "stock_locations"))
    }

    /// Sets `sku`'s stock at the shop's location `location` as its owner
    /// would (not through `oms-channels`).
    fn set_stock(&self, _sku: &str, _location: &str, _quantity: i64) -> Result<(), String> {
        Err(not_yet(self.kind(), "set_stock"))
    }

    /// The levels the shop holds of `skus`: (SKU, shop location) to
    /// quantity.
    fn stock_of(&self, _skus: &[String]) -> Result<BTreeMap<(String, String), i64>, String> {
        Err(not_yet(self.kind(), "stock_of"))
    }

    /// Stock levels the shop's stock API received so far (set or not).
    fn stock_levels_received(&self) -> Result<u64, String> {
        Err(not_yet(self.kind(), "stock_levels_received"))
    }
}

/// Why a peer cannot do a stock step: the test fails naming it.
fn not_yet(kind: PeerKind, what: &str) -> String {
    format!("the {kind:?} test peer has no `{what}` (Peer's stock methods)")
}

/// The first `count` of a shop's stock locations, or why it has too few.
fn first_locations(ids: &[String], count: usize) -> Result<Vec<String>, String> {
    ids.get(..count).map(<[String]>::to_vec).ok_or_else(|| {
        format!(
            "the test peer has {} stock locations, not {count}",
            ids.len()
        )
    })
}

/// Starts a fresh, empty shop of `kind` that counts the stock levels it
/// receives: a real server cannot, so it stands behind a
/// [`proxy::CountingProxy`] that the channel points at.
pub fn start_counted(kind: PeerKind) -> Box<dyn Peer> {
    match kind {
        PeerKind::Sandbox => start(kind),
        PeerKind::Vendure | PeerKind::Medusa => Box::new(Counted::new(start(kind))),
    }
}

/// A real shop behind a counting proxy.
struct Counted {
    shop: Box<dyn Peer>,
    proxy: proxy::CountingProxy,
    /// The proxy's base URL, with the shop's API path.
    base_url: String,
    seen: std::cell::RefCell<Vec<proxy::Seen>>,
}

impl Counted {
    fn new(shop: Box<dyn Peer>) -> Counted {
        let args = shop.channel_args("UNUSED");
        let at = args
            .iter()
            .position(|a| a == "--base-url")
            .expect("a peer's channel has a base URL");
        let url = reqwest::Url::parse(&args[at + 1]).expect("the peer's base URL");
        let proxy = proxy::CountingProxy::start(&url.origin().ascii_serialization());
        let base_url = format!("{}{}", proxy.url(), url.path().trim_end_matches('/'));
        Counted {
            shop,
            proxy,
            base_url,
            seen: Default::default(),
        }
    }
}

impl Peer for Counted {
    fn kind(&self) -> PeerKind {
        self.shop.kind()
    }

    fn channel_args(&self, secret_var: &str) -> Vec<String> {
        let mut args = self.shop.channel_args(secret_var);
        if let Some(at) = args.iter().position(|a| a == "--base-url") {
            args[at + 1] = self.base_url.clone();
        }
        args
    }

    fn secret(&self) -> String {
        self.shop.secret()
    }

    fn login_token(&self) -> Option<String> {
        self.shop.login_token()
    }

    fn currency(&self) -> &'static str {
        self.shop.currency()
    }

    fn request_timeout(&self) -> Duration {
        self.shop.request_timeout()
    }

    fn create_steps(&self) -> &'static [&'static str] {
        self.shop.create_steps()
    }

    fn seed(&self, offers: &[Offer]) {
        self.shop.seed(offers)
    }

    fn change(&self, sku: &str, price: &str, quantity: i64) {
        self.shop.change(sku, price, quantity)
    }

    fn read_back(&self) -> Listing {
        self.shop.read_back()
    }

    fn stock_locations(&self, count: usize) -> Result<Vec<String>, String> {
        self.shop.stock_locations(count)
    }

    fn set_stock(&self, sku: &str, location: &str, quantity: i64) -> Result<(), String> {
        self.shop.set_stock(sku, location, quantity)
    }

    fn stock_of(&self, skus: &[String]) -> Result<BTreeMap<(String, String), i64>, String> {
        self.shop.stock_of(skus)
    }

    /// The levels written through the shop's stock calls (Medusa's
    /// location-level batches, Vendure's `updateProductVariants`).
    fn stock_levels_received(&self) -> Result<u64, String> {
        let mut seen = self.seen.borrow_mut();
        seen.extend(self.proxy.take());
        let levels = match self.kind() {
            PeerKind::Medusa => proxy::medusa_levels_written(&seen),
            PeerKind::Vendure => proxy::vendure_levels_written(&seen),
            PeerKind::Sandbox => unreachable!("the sandbox counts for itself"),
        };
        Ok(levels as u64)
    }
}

/// Starts a fresh, empty shop of `kind`.
pub fn start(kind: PeerKind) -> Box<dyn Peer> {
    match kind {
        PeerKind::Sandbox => Box::new(SandboxPeer::empty()),
        PeerKind::Vendure => Box::new(VendurePeer::start()),
        PeerKind::Medusa => Box::new(MedusaShop::start()),
    }
}

/// One test case of a suite that runs on several peers: which shop, which store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    pub peer: PeerKind,
    pub backend: Backend,
}

impl Case {
    pub fn sandbox() -> Case {
        Case {
            peer: PeerKind::Sandbox,
            backend: Backend::Sqlite,
        }
    }

    pub fn sandbox_postgres() -> Case {
        Case {
            peer: PeerKind::Sandbox,
            backend: Backend::Postgres,
        }
    }

    pub fn vendure() -> Case {
        Case {
            peer: PeerKind::Vendure,
            backend: Backend::Sqlite,
        }
    }

    pub fn medusa() -> Case {
        Case {
            peer: PeerKind::Medusa,
            backend: Backend::Sqlite,
        }
    }

    /// How many rounds a long loop runs in this case: all of them on the
    /// sandbox with SQLite, half (at least 1) with PostgreSQL, whose variant
    /// proves the same and would double the time, and `real` on a real
    /// server, where one round takes seconds, not milliseconds.
    pub fn rounds(self, sandbox: usize, real: usize) -> usize {
        match self.peer {
            PeerKind::Sandbox => self.backend.iterations(sandbox),
            PeerKind::Vendure | PeerKind::Medusa => real,
        }
    }
}

/// For each `fn name(case: Case)`, a module `name` with one test per case
/// named (`sandbox`, `sandbox_postgres`, `vendure`, `medusa`): the body is
/// written once and runs on each shop; `cargo test vendure` runs every
/// Vendure case.
///
/// ```ignore
/// fn export_reaches_the_shop(case: Case) { let peer = peer::start(case.peer); ... }
/// on_peers!(export_reaches_the_shop: sandbox, sandbox_postgres, vendure, medusa);
/// ```
#[macro_export]
macro_rules! on_peers {
    ($name:ident: $($case:ident),+ $(,)?) => {
        mod $name {
            $(
                #[test]
                fn $case() {
                    super::$name($crate::Case::$case())
                }
            )+
        }
    };
}

/// One product as a test puts it into the catalog or onto a shop, and as it
/// reads it back: the fields every platform carries.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Offer {
    pub sku: String,
    pub title: String,
    /// Decimal string, as the catalog spells it (`"19.90"`).
    pub price: String,
    /// Upper case, as the catalog spells it (`"EUR"`).
    pub currency: String,
    pub quantity: i64,
}

impl Offer {
    /// `{prefix}{n:05}` for each `n`, titled "Product {prefix}{n:05}", with
    /// this price and currency and a stock derived from `n`.
    pub fn numbered(
        prefix: &str,
        numbers: impl IntoIterator<Item = u32>,
        price: &str,
        currency: &str,
    ) -> Vec<Offer> {
        numbers
            .into_iter()
            .map(|n| Offer {
                sku: format!("{prefix}{n:05}"),
                title: format!("Product {prefix}{n:05}"),
                price: price.to_string(),
                currency: currency.to_string(),
                quantity: i64::from(n % 40),
            })
            .collect()
    }

    /// The offer as a `products load` JSON line.
    pub fn catalog_line(&self) -> Value {
        json!({
            "sku": self.sku,
            "title": self.title,
            "price": self.price,
            "currency": self.currency,
            "quantity": self.quantity,
            "updated_at": "2026-11-27T10:00:00Z",
        })
    }
}

impl From<&::sandbox::Product> for Offer {
    fn from(p: &::sandbox::Product) -> Offer {
        Offer {
            sku: p.sku.clone(),
            title: p.title.clone(),
            price: p.price.clone(),
            currency: p.currency.clone(),
            quantity: p.quantity,
        }
    }
}

/// The offers by SKU (the last of a SKU given twice wins).
pub fn by_sku(offers: &[Offer]) -> BTreeMap<String, Offer> {
    offers.iter().map(|o| (o.sku.clone(), o.clone())).collect()
}

/// What a shop holds, read through its own API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub products: Vec<ShopProduct>,
}

/// A product on a shop, with its variants (a flat catalog product is a
/// product with one variant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopProduct {
    pub id: String,
    pub title: String,
    pub variants: Vec<ShopVariant>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopVariant {
    pub id: String,
    pub sku: Option<String>,
    pub title: String,
    /// Currency (upper case) to the price in the catalog's spelling.
    pub prices: BTreeMap<String, String>,
    /// Stock at the shop's default location, when it keeps one there.
    pub quantity: Option<i64>,
    /// When the shop says the variant last changed, where it says so (the
    /// sandbox, Vendure); `None` where a write of the same values does not
    /// show (Medusa).
    pub changed_at: Option<String>,
}

impl Listing {
    fn variants(&self) -> impl Iterator<Item = (&ShopProduct, &ShopVariant)> {
        self.products
            .iter()
            .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
    }

    /// SKUs on more than one variant, with the variants' ids.
    pub fn skus_held_twice(&self) -> BTreeMap<String, Vec<String>> {
        let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, v) in self.variants() {
            if let Some(sku) = &v.sku {
                ids.entry(sku.clone()).or_default().push(v.id.clone());
            }
        }
        ids.retain(|_, ids| ids.len() > 1);
        ids
    }

    /// Products with no variant at all (ids).
    pub fn products_without_variants(&self) -> Vec<String> {
        self.products
            .iter()
            .filter(|p| p.variants.is_empty())
            .map(|p| p.id.clone())
            .collect()
    }

    /// Variants (SKU or id) with no price in `currency`.
    pub fn variants_without_price(&self, currency: &str) -> Vec<String> {
        self.variants()
            .filter(|(_, v)| !v.prices.contains_key(currency))
            .map(|(_, v)| v.sku.clone().unwrap_or_else(|| v.id.clone()))
            .collect()
    }

    /// Fails the test unless the shop is sound: no SKU twice, no product
    /// without variants, no variant without a price in `currency`.
    pub fn assert_sound(&self, currency: &str, context: &str) {
        let twice = self.skus_held_twice();
        let empty = self.products_without_variants();
        let unpriced = self.variants_without_price(currency);
        assert!(
            twice.is_empty() && empty.is_empty() && unpriced.is_empty(),
            "{context}: the shop holds SKUs twice {twice:?}, products without variants {empty:?}, \
             variants without a {currency} price {unpriced:?}"
        );
    }

    /// When each SKU's variant last changed, where the shop says so.
    pub fn changed_at(&self) -> BTreeMap<String, String> {
        self.variants()
            .filter_map(|(_, v)| Some((v.sku.clone()?, v.changed_at.clone()?)))
            .collect()
    }

    /// Fails the test unless the shop offers exactly `expected` (by SKU),
    /// each SKU on one variant. Products without variants and variants
    /// without a price do not count here: see [`Listing::assert_sound`].
    pub fn assert_offers(&self, currency: &str, expected: &BTreeMap<String, Offer>, context: &str) {
        let twice = self.skus_held_twice();
        assert!(twice.is_empty(), "{context}: SKUs held twice: {twice:?}");
        assert_eq!(
            &self.offers(currency),
            expected,
            "{context}: the shop does not offer the catalog"
        );
    }

    /// What the shop offers, by SKU, in `currency` (variants without a SKU
    /// aside). Fails the test on a SKU held twice.
    pub fn offers(&self, currency: &str) -> BTreeMap<String, Offer> {
        let mut offers = BTreeMap::new();
        for (_, v) in self.variants() {
            let Some(sku) = &v.sku else { continue };
            let offer = Offer {
                sku: sku.clone(),
                title: v.title.clone(),
                price: v.prices.get(currency).cloned().unwrap_or_default(),
                currency: currency.to_string(),
                quantity: v.quantity.unwrap_or(0),
            };
            assert!(
                offers.insert(sku.clone(), offer).is_none(),
                "two variants with SKU {sku} on the shop"
            );
        }
        offers
    }
}

/// A decimal amount as the catalog spells a two-decimal currency: at least
/// two decimals (`"20"` -> `"20.00"`, `"0.1"` -> `"0.10"`); more are kept.
pub fn two_decimals(amount: &str) -> String {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    format!("{whole}.{fraction:0<2}")
}

/// Integer minor units of a two-decimal currency as the catalog spells them.
pub fn from_minor_units(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

/// The catalog's price in a two-decimal currency's minor units.
pub fn to_minor_units(price: &str) -> i64 {
    let (whole, fraction) = price.split_once('.').unwrap_or((price, ""));
    let fraction = format!("{fraction:0<2}");
    assert_eq!(fraction.len(), 2, "more than two decimals in `{price}`");
    whole.parse::<i64>().expect("a decimal price") * 100 + fraction.parse::<i64>().expect("digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(id: &str, sku: Option<&str>, prices: &[(&str, &str)]) -> ShopVariant {
        ShopVariant {
            id: id.into(),
            sku: sku.map(str::to_string),
            title: "t".into(),
            prices: prices
                .iter()
                .map(|(c, p)| (c.to_string(), p.to_string()))
                .collect(),
            quantity: Some(1),
            changed_at: None,
        }
    }

    #[test]
    fn a_listing_names_what_makes_a_shop_unsound() {
        let listing = Listing {
            products: vec![
                ShopProduct {
                    id: "p1".into(),
                    title: "one".into(),
                    variants: vec![variant("v1", Some("A"), &[("EUR", "1.00")])],
                },
                ShopProduct {
                    id: "p2".into(),
                    title: "again".into(),
                    variants: vec![variant("v2", Some("A"), &[("EUR", "1.00")])],
                },
                ShopProduct {
                    id: "p3".into(),
                    title: "empty".into(),
                    variants: vec![],
                },
                ShopProduct {
                    id: "p4".into(),
                    title: "unpriced".into(),
                    variants: vec![variant("v4", Some("B"), &[("USD", "2.00")])],
                },
            ],
        };
        assert_eq!(
            listing.skus_held_twice(),
            BTreeMap::from([("A".to_string(), vec!["v1".to_string(), "v2".to_string()])])
        );
        assert_eq!(listing.products_without_variants(), ["p3"]);
        assert_eq!(listing.variants_without_price("EUR"), ["B"]);
        let sound = Listing {
            products: vec![listing.products[0].clone()],
        };
        sound.assert_sound("EUR", "one product");
        assert_eq!(sound.offers("EUR")["A"].price, "1.00");
    }

    #[test]
    fn prices_convert_between_the_catalog_and_the_wire() {
        assert_eq!(two_decimals("20"), "20.00");
        assert_eq!(two_decimals("0.1"), "0.10");
        assert_eq!(two_decimals("1234567.89"), "1234567.89");
        assert_eq!(from_minor_units(777), "7.77");
        assert_eq!(from_minor_units(5), "0.05");
        assert_eq!(to_minor_units("10.5"), 1050);
        assert_eq!(to_minor_units("7"), 700);
    }
}
