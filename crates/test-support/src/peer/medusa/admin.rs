//! The Medusa Admin API as a shop owner uses it: create products with their
//! price and stock, read them back (prices as the JSON text Medusa sends,
//! never a float), change a price or a stock level, create a secret key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{ADMIN_EMAIL, ADMIN_PASSWORD, CURRENCY};

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

/// An inventory item's level at one stock location.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PeerLevel {
    pub location_id: String,
    pub stocked_quantity: i64,
    /// What Medusa holds back for its orders' reservations.
    pub reserved_quantity: i64,
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

    /// The live product with this handle as Medusa's JSON: options, images,
    /// description, status, variants with their options, prices and stock
    /// levels (`null` when there is none).
    pub async fn product_json(&self, handle: &str) -> Value {
        let fields = "id,title,handle,description,status,metadata,images.url,\
            categories.handle,tags.value,options.title,options.values.value,\
            variants.id,variants.sku,variants.title,variants.variant_rank,variants.metadata,\
            variants.options.value,variants.options.option.title,\
            variants.prices.currency_code,variants.prices.amount,\
            variants.inventory_items.inventory.location_levels.location_id,\
            variants.inventory_items.inventory.location_levels.stocked_quantity";
        let mut reply = self
            .get(&format!("/admin/products?handle={handle}&fields={fields}"))
            .await;
        reply["products"][0].take()
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

    /// The level of the inventory item with this SKU at `location_id`, as
    /// Medusa's inventory API shows it (not through the connector's
    /// variant look-up); `None` when the item has no level there.
    pub async fn stock_level(&self, sku: &str, location_id: &str) -> Option<PeerLevel> {
        let (_, levels) = self.inventory_item(sku).await;
        levels.into_iter().find(|l| l.location_id == location_id)
    }

    /// The stocked quantities of these SKUs, by (SKU, stock location id),
    /// read through the inventory API 50 SKUs a request.
    pub async fn stock_of(&self, skus: &[String]) -> BTreeMap<(String, String), i64> {
        #[derive(Deserialize)]
        struct Items {
            inventory_items: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            sku: String,
            #[serde(default)]
            location_levels: Vec<PeerLevel>,
        }
        let mut held = BTreeMap::new();
        for chunk in skus.chunks(50) {
            let query: String = chunk.iter().map(|sku| format!("&sku[]={sku}")).collect();
            let text = self
                .get_text(&format!(
                    "/admin/inventory-items?limit=100{query}&fields=sku,location_levels.location_id,\
                     location_levels.stocked_quantity,location_levels.reserved_quantity"
                ))
                .await;
            let items: Items = serde_json::from_str(&text).expect("inventory items");
            for item in items.inventory_items {
                for level in item.location_levels {
                    let previous = held.insert(
                        (item.sku.clone(), level.location_id),
                        level.stocked_quantity,
                    );
                    assert!(
                        previous.is_none(),
                        "two inventory items hold SKU {}",
                        item.sku
                    );
                }
            }
        }
        held
    }

    /// Sets the stocked quantity of the item with this SKU at `location_id`
    /// as a shop owner would, creating the level when there is none.
    pub async fn set_stock_level(&self, sku: &str, location_id: &str, quantity: i64) {
        let (item, levels) = self.inventory_item(sku).await;
        if levels.iter().any(|l| l.location_id == location_id) {
            self.post(
                &format!("/admin/inventory-items/{item}/location-levels/{location_id}"),
                json!({"stocked_quantity": quantity}),
            )
            .await;
        } else {
            self.post(
                &format!("/admin/inventory-items/{item}/location-levels"),
                json!({"location_id": location_id, "stocked_quantity": quantity}),
            )
            .await;
        }
    }

    /// Reserves `quantity` of the item with this SKU at `location_id`, as
    /// an order (or the admin's reservation form) does.
    pub async fn reserve(&self, sku: &str, location_id: &str, quantity: i64) {
        let (item, _) = self.inventory_item(sku).await;
        self.post(
            "/admin/reservations",
            json!({"inventory_item_id": item, "location_id": location_id, "quantity": quantity}),
        )
        .await;
    }

    /// The id and levels of the one inventory item with this SKU.
    async fn inventory_item(&self, sku: &str) -> (String, Vec<PeerLevel>) {
        #[derive(Deserialize)]
        struct Items {
            inventory_items: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            id: String,
            #[serde(default)]
            location_levels: Vec<PeerLevel>,
        }
        let text = self
            .get_text(&format!(
                "/admin/inventory-items?sku={sku}&fields=id,location_levels.location_id,\
                 location_levels.stocked_quantity,location_levels.reserved_quantity"
            ))
            .await;
        let mut items: Items = serde_json::from_str(&text).expect("inventory items");
        assert_eq!(
            items.inventory_items.len(),
            1,
            "inventory items with SKU {sku}: {text}"
        );
        let item = items.inventory_items.pop().expect("one");
        (item.id, item.location_levels)
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

pub(super) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client")
}
