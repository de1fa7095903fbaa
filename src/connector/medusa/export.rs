//! Export: catalog products to Medusa variants, keyed by SKU.
//!
//! - A SKU that a live variant has is updated in place through the
//!   per-variant endpoints (`/admin/products/{id}/variants/batch`): a product
//!   update would replace the product's whole variant list, wiping variants
//!   the catalog does not know. Its other prices (other currencies, region
//!   prices) are sent back by id, because a variant's `prices` replace them.
//! - A SKU no live variant has becomes a product with one variant, its
//!   price and its stock at the stock location, in the sales channel.
//!   Variants are looked up by SKU right before creating, so a run killed
//!   after Medusa's create and before our commit updates the variant next
//!   time instead of creating a second one (Medusa's own unique index on
//!   live SKUs backs this up).
//! - Deletions remove the variant, or the whole product when the catalog
//!   deletes all its variants, in batches of [`DELETE_CHUNK`] (Medusa's
//!   product deletion slows sharply with batch size).
//!
//! A request the server refuses (4xx) becomes an error on the SKUs it
//! carried; anything else (401, network, 5xx after retries) fails the call,
//! and the caller resends the whole batch later: every step is an upsert.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::amount;
use super::import::StoreContext;
use super::wire::{self, WireVariant};
use super::{ChannelError, Credential, MedusaClient, Replay};
use crate::crash;
use crate::product::Product;

/// Products deleted per request.
pub const DELETE_CHUNK: usize = 10;
/// SKUs looked up per request (keeps the query string short).
const LOOKUP_CHUNK: usize = 100;

/// What became of one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemStatus {
    Created,
    Updated,
    Unchanged,
    Deleted,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    pub sku: String,
    pub status: ItemStatus,
    /// Why, for [`ItemStatus::Error`].
    pub error: Option<String>,
}

impl ItemOutcome {
    fn ok(sku: &str, status: ItemStatus) -> ItemOutcome {
        ItemOutcome {
            sku: sku.to_string(),
            status,
            error: None,
        }
    }

    fn error(sku: &str, error: impl Into<String>) -> ItemOutcome {
        ItemOutcome {
            sku: sku.to_string(),
            status: ItemStatus::Error,
            error: Some(error.into()),
        }
    }
}

/// A 4xx on a request is the items' fault: it becomes their error. Anything
/// else fails the whole call.
fn item_error(err: ChannelError) -> Result<String, ChannelError> {
    match err {
        ChannelError::Status {
            status, excerpt, ..
        } if (400..500).contains(&status) && !matches!(status, 408 | 429) => {
            Ok(format!("Medusa refused it (HTTP {status}): {excerpt}"))
        }
        other => Err(other),
    }
}

#[derive(Deserialize)]
struct VariantList {
    variants: Vec<WireVariant>,
}

#[derive(Deserialize)]
struct ProductShapes {
    products: Vec<ProductShape>,
}

#[derive(Deserialize)]
struct ProductShape {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    variants: Vec<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

const VARIANT_FIELDS: &str = "id,sku,title,product_id,\
prices.id,prices.currency_code,prices.amount,prices.rules,\
inventory_items.inventory_item_id,\
inventory_items.inventory.location_levels.location_id,\
inventory_items.inventory.location_levels.stocked_quantity";

#[derive(Serialize)]
struct PriceOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct VariantUpdate<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prices: Option<Vec<PriceOut<'a>>>,
}

#[derive(Serialize)]
struct LevelOut<'a> {
    inventory_item_id: &'a str,
    location_id: &'a str,
    stocked_quantity: i64,
}

/// One SKU's planned update.
struct Plan<'a> {
    product: &'a Product,
    /// The product's currency as Medusa writes it (lower case).
    currency: String,
    amount: Box<RawValue>,
    variant: &'a WireVariant,
    product_id: &'a str,
    /// New variant title, when it changes.
    variant_title: Option<String>,
    /// New product title (single-variant products only), when it changes.
    product_title: Option<String>,
    /// New base price in the product's currency, when it changes.
    price_changes: bool,
    stock: Option<StockChange<'a>>,
}

enum StockChange<'a> {
    Create { item: &'a str },
    Update { item: &'a str },
}

impl MedusaClient {
    /// Exports these catalog products (one batch, unique SKUs) and returns
    /// one outcome per product, in input order.
    pub async fn export_products(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        products: &[Product],
    ) -> Result<Vec<ItemOutcome>, ChannelError> {
        let mut outcomes: HashMap<String, ItemOutcome> = HashMap::new();
        let mut valid: Vec<(&Product, Box<RawValue>)> = Vec::new();
        for product in products {
            match check_for_export(product, ctx) {
                Ok(amount) => valid.push((product, amount)),
                Err(why) => {
                    outcomes.insert(product.sku.clone(), ItemOutcome::error(&product.sku, why));
                }
            }
        }
        let skus: Vec<&str> = valid.iter().map(|(p, _)| p.sku.as_str()).collect();
        let existing = self.find_variants(credential, &skus).await?;
        let shapes = self
            .product_shapes(
                credential,
                existing
                    .values()
                    .flatten()
                    .filter_map(|v| v.product_id.as_deref()),
            )
            .await?;

        let mut plans: Vec<Plan<'_>> = Vec::new();
        let mut creates: Vec<(&Product, Box<RawValue>)> = Vec::new();
        for (product, amount) in valid {
            match existing.get(product.sku.as_str()).map(Vec::as_slice) {
                None | Some([]) => creates.push((product, amount)),
                Some([variant]) => {
                    let Some(shape) = variant.product_id.as_deref().and_then(|id| shapes.get(id))
                    else {
                        outcomes.insert(
                            product.sku.clone(),
                            ItemOutcome::error(
                                &product.sku,
                                "the variant's product could not be read",
                            ),
                        );
                        continue;
                    };
                    match plan_update(product, amount, variant, shape, ctx) {
                        Ok(plan) => plans.push(plan),
                        Err(why) => {
                            outcomes
                                .insert(product.sku.clone(), ItemOutcome::error(&product.sku, why));
                        }
                    }
                }
                Some(many) => {
                    outcomes.insert(
                        product.sku.clone(),
                        ItemOutcome::error(
                            &product.sku,
                            format!(
                                "Medusa has {} live variants with this SKU; remove all but one",
                                many.len()
                            ),
                        ),
                    );
                }
            }
        }

        self.apply_updates(credential, ctx, &plans, &mut outcomes)
            .await?;
        self.create_products(credential, ctx, &creates, &mut outcomes)
            .await?;

        Ok(products
            .iter()
            .map(|p| {
                outcomes.remove(&p.sku).unwrap_or_else(|| {
                    ItemOutcome::error(&p.sku, "the same SKU twice in one batch")
                })
            })
            .collect())
    }

    async fn apply_updates(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        plans: &[Plan<'_>],
        outcomes: &mut HashMap<String, ItemOutcome>,
    ) -> Result<(), ChannelError> {
        let mut failed: BTreeMap<String, String> = BTreeMap::new();

        // Variant titles and prices, one request per product.
        let mut by_product: BTreeMap<&str, Vec<&Plan<'_>>> = BTreeMap::new();
        for plan in plans
            .iter()
            .filter(|p| p.variant_title.is_some() || p.price_changes)
        {
            by_product.entry(plan.product_id).or_default().push(plan);
        }
        for (product_id, group) in by_product {
            let updates: Vec<VariantUpdate<'_>> =
                group.iter().map(|plan| variant_update(plan)).collect();
            let body = format!(
                r#"{{"update":{}}}"#,
                serde_json::to_string(&updates).expect("variant updates serialize")
            );
            let path = format!("admin/products/{product_id}/variants/batch");
            // Sets titles and prices of variants by id: safe to apply twice.
            if let Err(err) = self
                .post::<serde::de::IgnoredAny>(
                    &path,
                    &[("fields", "id")],
                    credential,
                    &body,
                    Replay::Safe,
                )
                .await
            {
                let why = item_error(err)?;
                for plan in group {
                    failed.insert(plan.product.sku.clone(), why.clone());
                }
            }
        }

        // Product titles of single-variant products, one batch.
        let titled: Vec<&Plan<'_>> = plans
            .iter()
            .filter(|p| p.product_title.is_some() && !failed.contains_key(&p.product.sku))
            .collect();
        if !titled.is_empty() {
            let updates: Vec<serde_json::Value> = titled
                .iter()
                .map(|p| serde_json::json!({"id": p.product_id, "title": p.product_title}))
                .collect();
            let body = serde_json::json!({"update": updates}).to_string();
            // Sets product titles by id: safe to apply twice.
            if let Err(err) = self
                .post::<serde::de::IgnoredAny>(
                    "admin/products/batch",
                    &[],
                    credential,
                    &body,
                    Replay::Safe,
                )
                .await
            {
                let why = item_error(err)?;
                for plan in titled {
                    failed.insert(plan.product.sku.clone(), why.clone());
                }
            }
        }

        // Stock levels at the location, one batch.
        let stocked: Vec<&Plan<'_>> = plans
            .iter()
            .filter(|p| p.stock.is_some() && !failed.contains_key(&p.product.sku))
            .collect();
        let mut create = Vec::new();
        let mut update = Vec::new();
        for plan in &stocked {
            let (list, item) = match plan.stock.as_ref().expect("filtered") {
                StockChange::Create { item } => (&mut create, *item),
                StockChange::Update { item } => (&mut update, *item),
            };
            list.push(LevelOut {
                inventory_item_id: item,
                location_id: &ctx.stock_location_id,
                stocked_quantity: plan.product.quantity,
            });
        }
        if let Err(why) = self.write_levels(credential, &create, &update).await? {
            for plan in stocked {
                failed.insert(plan.product.sku.clone(), why.clone());
            }
        }

        for plan in plans {
            let sku = &plan.product.sku;
            let outcome = match failed.remove(sku) {
                Some(why) => ItemOutcome::error(sku, why),
                None if plan.variant_title.is_some()
                    || plan.product_title.is_some()
                    || plan.price_changes
                    || plan.stock.is_some() =>
                {
                    ItemOutcome::ok(sku, ItemStatus::Updated)
                }
                None => ItemOutcome::ok(sku, ItemStatus::Unchanged),
            };
            outcomes.insert(sku.clone(), outcome);
        }
        Ok(())
    }

    /// Creates products with one variant each, then their stock. Falls back
    /// to one request per product when the batch is refused, so one bad
    /// product does not block the others.
    async fn create_products(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        creates: &[(&Product, Box<RawValue>)],
        outcomes: &mut HashMap<String, ItemOutcome>,
    ) -> Result<(), ChannelError> {
        if creates.is_empty() {
            return Ok(());
        }
        let bodies: Vec<String> = creates
            .iter()
            .map(|(product, amount)| create_body(product, amount, ctx))
            .collect();
        let batch = format!(r#"{{"create":[{}]}}"#, bodies.join(","));
        let mut created: Vec<&Product> = Vec::new();
        // Creates are not safe to send twice: a lost reply may hide products
        // Medusa made. An unknown outcome fails the batch; the next export
        // looks the SKUs up before creating anything.
        match self
            .post::<serde::de::IgnoredAny>(
                "admin/products/batch",
                &[],
                credential,
                &batch,
                Replay::NotSafe,
            )
            .await
        {
            Ok(_) => created.extend(creates.iter().map(|(p, _)| *p)),
            Err(err) => {
                item_error(err)?;
                for ((product, _), body) in creates.iter().zip(&bodies) {
                    match self
                        .post::<serde::de::IgnoredAny>(
                            "admin/products",
                            &[("fields", "id")],
                            credential,
                            body,
                            Replay::NotSafe,
                        )
                        .await
                    {
                        Ok(_) => created.push(product),
                        Err(err) => {
                            let why = item_error(err)?;
                            outcomes
                                .insert(product.sku.clone(), ItemOutcome::error(&product.sku, why));
                        }
                    }
                }
            }
        }
        // A kill here leaves variants without stock: the next export finds
        // them by SKU and writes the stock as an update.
        crash::point("medusa-export-created");

        let skus: Vec<&str> = created.iter().map(|p| p.sku.as_str()).collect();
        let found = self.find_variants(credential, &skus).await?;
        let mut levels = Vec::new();
        let mut stocked: Vec<&Product> = Vec::new();
        for product in &created {
            let item = found
                .get(product.sku.as_str())
                .and_then(|v| v.first())
                .and_then(|v| v.inventory_items.first())
                .map(|link| link.inventory_item_id.as_str());
            match item {
                Some(item) => {
                    levels.push(LevelOut {
                        inventory_item_id: item,
                        location_id: &ctx.stock_location_id,
                        stocked_quantity: product.quantity,
                    });
                    stocked.push(product);
                }
                None => {
                    outcomes.insert(
                        product.sku.clone(),
                        ItemOutcome::error(
                            &product.sku,
                            "created, but Medusa made no inventory item for it",
                        ),
                    );
                }
            }
        }
        let result = self.write_levels(credential, &levels, &[]).await?;
        for product in stocked {
            let outcome = match &result {
                Ok(()) => ItemOutcome::ok(&product.sku, ItemStatus::Created),
                Err(why) => {
                    ItemOutcome::error(&product.sku, format!("created without stock: {why}"))
                }
            };
            outcomes.insert(product.sku.clone(), outcome);
        }
        Ok(())
    }

    /// One location-levels batch; `Ok(Err(why))` when Medusa refused it.
    async fn write_levels(
        &self,
        credential: Credential<'_>,
        create: &[LevelOut<'_>],
        update: &[LevelOut<'_>],
    ) -> Result<Result<(), String>, ChannelError> {
        if create.is_empty() && update.is_empty() {
            return Ok(Ok(()));
        }
        let body = serde_json::json!({"create": create, "update": update}).to_string();
        match self
            .post::<serde::de::IgnoredAny>(
                "admin/inventory-items/location-levels/batch",
                &[],
                credential,
                &body,
                // Absolute levels, one per item and location: applying
                // twice leaves the same level (a second create is refused,
                // never a second level).
                Replay::Safe,
            )
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => item_error(err).map(Err),
        }
    }

    /// Deletes the variants with these SKUs (the whole product when all its
    /// live variants go). A SKU no live variant has counts as deleted.
    pub async fn delete_products(
        &self,
        credential: Credential<'_>,
        skus: &[String],
    ) -> Result<Vec<ItemOutcome>, ChannelError> {
        let wanted: Vec<&str> = skus.iter().map(String::as_str).collect();
        let existing = self.find_variants(credential, &wanted).await?;
        let shapes = self
            .product_shapes(
                credential,
                existing
                    .values()
                    .flatten()
                    .filter_map(|v| v.product_id.as_deref()),
            )
            .await?;
        let doomed: BTreeSet<&str> = existing.values().flatten().map(|v| v.id.as_str()).collect();
        let mut outcomes: HashMap<&str, ItemOutcome> = HashMap::new();
        // Whole products: every live variant of theirs is deleted.
        let mut whole: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut single: Vec<(&str, &str, &str)> = Vec::new();
        for sku in &wanted {
            let Some(variants) = existing.get(*sku).filter(|v| !v.is_empty()) else {
                outcomes.insert(sku, ItemOutcome::ok(sku, ItemStatus::Deleted));
                continue;
            };
            for variant in variants {
                let product_id = variant.product_id.as_deref().unwrap_or_default();
                let all_go = shapes.get(product_id).is_some_and(|shape| {
                    shape
                        .variants
                        .iter()
                        .all(|v| doomed.contains(v.id.as_str()))
                });
                if all_go {
                    whole.entry(product_id).or_default().push(sku);
                } else {
                    single.push((sku, product_id, &variant.id));
                }
            }
        }
        let products: Vec<(&str, Vec<&str>)> = whole.into_iter().collect();
        for chunk in products.chunks(DELETE_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|(id, _)| *id).collect();
            let body = serde_json::json!({"delete": ids}).to_string();
            // Deleting by id twice deletes once.
            let result = self
                .post::<serde::de::IgnoredAny>(
                    "admin/products/batch",
                    &[],
                    credential,
                    &body,
                    Replay::Safe,
                )
                .await;
            let error = match result {
                Ok(_) => None,
                Err(err) => Some(item_error(err)?),
            };
            for sku in chunk.iter().flat_map(|(_, skus)| skus) {
                let outcome = match &error {
                    None => ItemOutcome::ok(sku, ItemStatus::Deleted),
                    Some(why) => ItemOutcome::error(sku, why.clone()),
                };
                outcomes.insert(sku, outcome);
            }
        }
        for (sku, product_id, variant_id) in single {
            let path = format!("admin/products/{product_id}/variants/{variant_id}");
            let outcome = match self.delete(&path, credential).await {
                Ok(()) => ItemOutcome::ok(sku, ItemStatus::Deleted),
                Err(ChannelError::Status { status: 404, .. }) => {
                    ItemOutcome::ok(sku, ItemStatus::Deleted)
                }
                Err(err) => ItemOutcome::error(sku, item_error(err)?),
            };
            outcomes.insert(sku, outcome);
        }
        Ok(wanted
            .iter()
            .map(|sku| {
                outcomes
                    .remove(sku)
                    .unwrap_or_else(|| ItemOutcome::ok(sku, ItemStatus::Deleted))
            })
            .collect())
    }

    /// The live variants with these SKUs, by SKU.
    async fn find_variants(
        &self,
        credential: Credential<'_>,
        skus: &[&str],
    ) -> Result<HashMap<String, Vec<WireVariant>>, ChannelError> {
        let mut found: HashMap<String, Vec<WireVariant>> = HashMap::new();
        for chunk in skus.chunks(LOOKUP_CHUNK) {
            let mut query: Vec<(&str, &str)> = chunk.iter().map(|s| ("sku[]", *s)).collect();
            // Medusa keeps live SKUs unique; twice the count still shows a
            // duplicate should one exist.
            let limit = (chunk.len() * 2).to_string();
            query.push(("limit", &limit));
            query.push(("fields", VARIANT_FIELDS));
            let list: VariantList = self
                .get("admin/product-variants", &query, credential)
                .await?;
            for variant in list.variants {
                if let Some(sku) = variant.sku.clone() {
                    found.entry(sku).or_default().push(variant);
                }
            }
        }
        Ok(found)
    }

    /// Title and live variant ids of these products, by id.
    async fn product_shapes<'a>(
        &self,
        credential: Credential<'_>,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<HashMap<String, ProductShape>, ChannelError> {
        let ids: BTreeSet<&str> = ids.collect();
        let ids: Vec<&str> = ids.into_iter().collect();
        let mut shapes = HashMap::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let mut query: Vec<(&str, &str)> = chunk.iter().map(|id| ("id[]", *id)).collect();
            let limit = chunk.len().to_string();
            query.push(("limit", &limit));
            query.push(("fields", "id,title,variants.id"));
            let list: ProductShapes = self.get("admin/products", &query, credential).await?;
            shapes.extend(list.products.into_iter().map(|p| (p.id.clone(), p)));
        }
        Ok(shapes)
    }
}

/// The amount to send, or why the product cannot go to this store.
fn check_for_export(product: &Product, ctx: &StoreContext) -> Result<Box<RawValue>, String> {
    if product.sku.trim().is_empty() {
        return Err("empty SKU".into());
    }
    let currency = product.price.currency().code().to_ascii_lowercase();
    if !ctx.currencies.contains_key(&currency) {
        return Err(format!(
            "currency {} is not one of the store's currencies ({}): add it in Medusa under Settings → Store",
            product.price.currency(),
            ctx.currencies
                .keys()
                .map(|c| c.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if product.quantity < 0 {
        return Err(format!("negative quantity {}", product.quantity));
    }
    let amount = amount::price_to_amount(&product.price);
    Ok(RawValue::from_string(amount).expect("a price's text is a JSON number"))
}

fn plan_update<'a>(
    product: &'a Product,
    amount: Box<RawValue>,
    variant: &'a WireVariant,
    shape: &'a ProductShape,
    ctx: &'a StoreContext,
) -> Result<Plan<'a>, String> {
    let currency = product.price.currency().code().to_ascii_lowercase();
    let variants = shape.variants.len();
    let variant_title = variant.title.as_deref().unwrap_or_default();
    let current = wire::catalog_title(&shape.title, variant_title, variants);
    let (new_variant_title, new_product_title) = if current == product.title {
        (None, None)
    } else if variants <= 1 {
        (Some(product.title.clone()), Some(product.title.clone()))
    } else {
        // `product / variant` on import: the part after the product's title
        // is the variant's own title.
        let own = product
            .title
            .strip_prefix(&format!("{} / ", shape.title))
            .unwrap_or(&product.title);
        (Some(own.to_string()).filter(|t| t != variant_title), None)
    };
    let price_changes = variant
        .base_price(&currency)
        .is_none_or(|p| !amount::same_amount(p.amount.get(), &product.price));
    let stock = match variant.inventory_items.first() {
        None => {
            return Err(
                "the variant does not manage inventory, so its stock cannot be set: turn on \"Manage inventory\" in Medusa"
                    .into(),
            );
        }
        Some(link) => match variant.level_at(&ctx.stock_location_id) {
            None => Some(StockChange::Create {
                item: &link.inventory_item_id,
            }),
            Some(level) if level.stocked_quantity.as_i64() != Some(product.quantity) => {
                Some(StockChange::Update {
                    item: &link.inventory_item_id,
                })
            }
            Some(_) => None,
        },
    };
    Ok(Plan {
        product,
        currency,
        amount,
        variant,
        product_id: variant.product_id.as_deref().unwrap_or(&shape.id),
        variant_title: new_variant_title,
        product_title: new_product_title,
        price_changes,
        stock,
    })
}

/// A variant update; its prices, when they change, list every existing
/// price (an id alone keeps it as it is) with the base price in the
/// product's currency set, because the list replaces the variant's prices.
fn variant_update<'a>(plan: &'a Plan<'a>) -> VariantUpdate<'a> {
    let prices = plan.price_changes.then(|| {
        let target = plan
            .variant
            .base_price(&plan.currency)
            .and_then(|p| p.id.as_deref());
        let mut prices: Vec<PriceOut<'a>> = plan
            .variant
            .prices
            .iter()
            .filter_map(|p| p.id.as_deref())
            .map(|id| {
                // Medusa drops a price updated without its currency code.
                let is_target = Some(id) == target;
                PriceOut {
                    id: Some(id),
                    currency_code: is_target.then_some(plan.currency.as_str()),
                    amount: is_target.then_some(&*plan.amount),
                }
            })
            .collect();
        if target.is_none() {
            prices.push(PriceOut {
                id: None,
                currency_code: Some(&plan.currency),
                amount: Some(&plan.amount),
            });
        }
        prices
    });
    VariantUpdate {
        id: &plan.variant.id,
        title: plan.variant_title.as_deref(),
        prices,
    }
}

/// The JSON body creating a product with one variant (amount as its text).
fn create_body(product: &Product, amount: &RawValue, ctx: &StoreContext) -> String {
    let title = serde_json::to_string(&product.title).expect("string");
    format!(
        r#"{{"title":{title},"handle":{handle},"status":"published","options":[{{"title":"Default","values":["Default"]}}],"sales_channels":[{{"id":{channel}}}],"variants":[{{"title":{title},"sku":{sku},"manage_inventory":true,"options":{{"Default":"Default"}},"prices":[{{"currency_code":{currency},"amount":{amount}}}]}}]}}"#,
        handle = serde_json::to_string(&handle_for(&product.sku)).expect("string"),
        channel = serde_json::to_string(&ctx.sales_channel_id).expect("string"),
        sku = serde_json::to_string(&product.sku).expect("string"),
        currency = serde_json::to_string(&product.price.currency().code().to_ascii_lowercase())
            .expect("string"),
        amount = amount.get(),
    )
}

/// A product handle (URL slug) derived from the SKU. Handles are unique
/// among live products; a SKU that does not map to a slug one to one
/// (upper case, punctuation) gets a short hash of itself appended, so two
/// SKUs never share a handle.
pub(super) fn handle_for(sku: &str) -> String {
    let slug: String = sku
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-').to_string();
    let lossless = !slug.is_empty() && slug == sku && !slug.contains("--");
    if lossless {
        slug
    } else {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in sku.bytes() {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
        if slug.is_empty() {
            format!("sku-{hash:08x}")
        } else {
            format!("{slug}-{hash:08x}")
        }
    }
}
