//! What a shop owner does on the Vendure peer through its Admin API:
//! create variants (each on a product of its own), read them back, change
//! them, delete them, create API keys; and the peer as a [`Peer`].

use std::time::Duration;

use serde_json::{Value, json};

use super::{CURRENCY, SUPERADMIN, SUPERADMIN_PASSWORD, VendurePeer};
use crate::peer::{Listing, Offer, Peer, PeerKind, ShopProduct, ShopVariant, from_minor_units};

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

/// A variant's stock at one stock location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockLevel {
    pub on_hand: i64,
    /// What Vendure holds for its orders: never written by the tool.
    pub allocated: i64,
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

    /// The variant with this SKU (one of them, if a test made two).
    pub fn variant_with_sku(&self, sku: &str) -> Variant {
        self.variants_with_sku(sku)
            .pop()
            .unwrap_or_else(|| panic!("no variant {sku} on Vendure"))
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
    /// The id of Vendure's default stock location (the oldest one).
    pub fn default_stock_location(&self) -> String {
        let found = self.gql(
            "{ stockLocations(options: {take: 1, sort: {id: ASC}}) { items { id } } }",
            json!({}),
        );
        found["stockLocations"]["items"][0]["id"]
            .as_str()
            .expect("a Vendure server has a default stock location")
            .to_string()
    }

    /// A second stock location (`Second warehouse`), made on first use.
    pub fn second_stock_location(&self) -> String {
        const NAME: &str = "Second warehouse";
        let found = self.gql(
            "query($name: String!) { stockLocations(options: {filter: {name: {eq: $name}}}) { items { id } } }",
            json!({"name": NAME}),
        );
        if let Some(id) = found["stockLocations"]["items"][0]["id"].as_str() {
            return id.to_string();
        }
        let made = self.gql(
            "mutation($name: String!) { createStockLocation(input: {name: $name}) { id } }",
            json!({"name": NAME}),
        );
        made["createStockLocation"]["id"]
            .as_str()
            .expect("a new stock location's id")
            .to_string()
    }

    /// The on-hand stock of the variant with `sku` at `location_id`, read
    /// through the Admin API; `None`: no level there. Panics unless
    /// exactly one variant has the SKU.
    pub fn stock_level(&self, sku: &str, location_id: &str) -> Option<i64> {
        self.stock_levels(sku)
            .into_iter()
            .find(|(id, _)| id == location_id)
            .map(|(_, level)| level.on_hand)
    }

    /// The on-hand levels of these SKUs, by (SKU, stock location id), read
    /// through the Admin API 100 SKUs a request.
    pub fn stock_of(&self, skus: &[String]) -> std::collections::BTreeMap<(String, String), i64> {
        let mut held = std::collections::BTreeMap::new();
        for chunk in skus.chunks(100) {
            let found = self.gql(
                "query($skus: [String!]!, $take: Int!) { productVariants(options: {take: $take, filter: {sku: {in: $skus}}}) \
                 { items { sku stockLevels { stockLocationId stockOnHand } } } }",
                json!({"skus": chunk, "take": chunk.len() * 2}),
            );
            for variant in found["productVariants"]["items"].as_array().expect("items") {
                let sku = variant["sku"].as_str().expect("sku");
                for level in variant["stockLevels"].as_array().expect("stock levels") {
                    let location = level["stockLocationId"].as_str().expect("id");
                    let previous = held.insert(
                        (sku.to_string(), location.to_string()),
                        level["stockOnHand"].as_i64().expect("on hand"),
                    );
                    assert!(previous.is_none(), "two variants hold SKU {sku}");
                }
            }
        }
        held
    }

    /// Each stock location id the variant with `sku` has a level at, with
    /// the level (on hand and allocated), by location id.
    pub fn stock_levels(&self, sku: &str) -> Vec<(String, StockLevel)> {
        let found = self.gql(
            "query($sku: String!) { productVariants(options: {filter: {sku: {eq: $sku}}}) \
             { items { stockLevels { stockLocationId stockOnHand stockAllocated } } } }",
            json!({"sku": sku}),
        );
        let items = found["productVariants"]["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "variants with SKU {sku}: {found}");
        let mut levels: Vec<(String, StockLevel)> = items[0]["stockLevels"]
            .as_array()
            .expect("stock levels")
            .iter()
            .map(|l| {
                (
                    l["stockLocationId"].as_str().expect("id").to_string(),
                    StockLevel {
                        on_hand: l["stockOnHand"].as_i64().expect("on hand"),
                        allocated: l["stockAllocated"].as_i64().expect("allocated"),
                    },
                )
            })
            .collect();
        levels.sort_by(|a, b| a.0.cmp(&b.0));
        levels
    }

    /// Sets the on-hand stock of the variant with `sku` at `location_id`
    /// by hand (Vendure makes the level when there is none).
    pub fn set_stock_level(&self, sku: &str, location_id: &str, quantity: i64) {
        let variant = self.variant_with_sku(sku);
        self.update_variant(
            &variant.id,
            json!({"stockLevels": [{"stockLocationId": location_id, "stockOnHand": quantity}]}),
        );
    }

    /// Every product that is not deleted, with its variants and their
    /// prices in every currency, by `id` order.
    pub fn products(&self) -> Vec<ShopProduct> {
        let mut all = Vec::new();
        loop {
            let page = self.gql(
                "query($skip: Int!) { products(options: {take: 100, skip: $skip, sort: {id: ASC}}) \
                 { totalItems items { id name variants { id sku name stockOnHand updatedAt prices { currencyCode price } } } } }",
                json!({"skip": all.len()}),
            );
            let list = &page["products"];
            let items = list["items"].as_array().expect("items");
            all.extend(items.iter().map(|p| {
                ShopProduct {
                    id: p["id"].as_str().expect("product id").to_string(),
                    title: p["name"].as_str().expect("product name").to_string(),
                    variants: p["variants"]
                        .as_array()
                        .expect("variants")
                        .iter()
                        .map(|v| ShopVariant {
                            id: v["id"].as_str().expect("variant id").to_string(),
                            sku: v["sku"]
                                .as_str()
                                .filter(|s| !s.is_empty())
                                .map(str::to_string),
                            title: v["name"].as_str().expect("variant name").to_string(),
                            prices: v["prices"]
                                .as_array()
                                .expect("prices")
                                .iter()
                                .map(|p| {
                                    (
                                        p["currencyCode"].as_str().expect("currency").to_string(),
                                        from_minor_units(
                                            p["price"].as_i64().expect("integer price"),
                                        ),
                                    )
                                })
                                .collect(),
                            quantity: v["stockOnHand"].as_i64(),
                            changed_at: v["updatedAt"].as_str().map(str::to_string),
                        })
                        .collect(),
                }
            }));
            if items.is_empty() || all.len() as u64 >= list["totalItems"].as_u64().expect("total") {
                return all;
            }
        }
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

impl Peer for VendurePeer {
    fn kind(&self) -> PeerKind {
        PeerKind::Vendure
    }

    fn channel_args(&self, secret_var: &str) -> Vec<String> {
        [
            "--type",
            "vendure",
            "--base-url",
            &self.admin_api_url(),
            "--auth-method",
            "login",
            "--username",
            SUPERADMIN,
            "--password-env",
            secret_var,
        ]
        .map(str::to_string)
        .to_vec()
    }

    fn secret(&self) -> String {
        SUPERADMIN_PASSWORD.to_string()
    }

    fn currency(&self) -> &'static str {
        CURRENCY
    }

    fn request_timeout(&self) -> Duration {
        // Vendure on two shared cores creates a few products a second.
        Duration::from_secs(60)
    }

    fn create_steps(&self) -> &'static [&'static str] {
        &["vendure-products-created", "vendure-variants-created"]
    }

    fn seed(&self, offers: &[Offer]) {
        let variants: Vec<NewVariant> = offers
            .iter()
            .map(|o| {
                assert_eq!(
                    o.currency, CURRENCY,
                    "{}: Vendure's channel sells in {CURRENCY}",
                    o.sku
                );
                NewVariant {
                    sku: o.sku.clone(),
                    name: o.title.clone(),
                    price: crate::peer::to_minor_units(&o.price),
                    stock_on_hand: o.quantity,
                }
            })
            .collect();
        self.create_variants(&variants);
    }

    fn change(&self, sku: &str, price: &str, quantity: i64) {
        let variant = self.variant_with_sku(sku);
        self.update_variant(
            &variant.id,
            json!({"price": crate::peer::to_minor_units(price), "stockOnHand": quantity}),
        );
    }

    fn read_back(&self) -> Listing {
        Listing {
            products: self.products(),
        }
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
        Ok(VendurePeer::stock_of(self, skus))
    }
}
