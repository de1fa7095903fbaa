//! Export: one catalog product is one variant with that SKU. The batch's SKUs
//! are looked up right before anything is written; an existing variant is
//! updated (or left alone when equal), a missing one gets a product of its
//! own with one variant, a deletion removes the variant (and its product
//! when it was the product's only variant).
//!
//! Never a second variant with a SKU that exists: creation happens only for
//! SKUs the look-up just found missing, and a creation is never resent
//! blindly after it may have reached Vendure. A run killed between Vendure's
//! create and the store's commit finds the variant at the next look-up and
//! updates it instead.
//!
//! Vendure answers a JSON body over 100 kB with a bare HTTP 500, so every
//! mutation is split to stay under [`BODY_BUDGET`].

use std::collections::HashMap;

use cynic::{MutationBuilder, QueryBuilder};
use futures_util::StreamExt as _;

use super::client::{Credential, Replay, VendureClient};
use super::money;
use super::wire::{
    Channel, CreateProduct, CreateProductInput, CreateProductVariables, CreateProductVariantInput,
    CreateProductVariantPriceInput, CreateVariants, CreateVariantsVariables, CurrencyCode,
    DeleteProducts, DeleteVariables, DeleteVariants, DeletionResult, ExistingVariant, Id,
    LanguageCode, Money, ProductTranslationInput, ProductVariantFilterParameter,
    ProductVariantListOptions, ProductVariantTranslationInput, StringOperators,
    UpdateProductVariantInput, UpdateProductVariantPriceInput, UpdateVariants,
    UpdateVariantsVariables, VariantListVariables, VariantsBySku,
};
use crate::connector::ChannelError;
use crate::crash;
use crate::product::Product;

/// Vendure's stock JSON body limit (NestJS's default `100kb`).
pub const BODY_LIMIT: usize = 100 * 1024;
/// What one request may carry: the limit less room for headers' worth of slack.
pub const BODY_BUDGET: usize = 90 * 1024;

/// `createProduct` calls in flight at once when a batch creates products.
const PRODUCTS_IN_FLIGHT: usize = 8;
/// Most variants per `createProductVariants` / `updateProductVariants`
/// call: Vendure spends ~30 ms a created variant, so a call stays around a
/// second and a failure loses little.
const VARIANTS_PER_CALL: usize = 25;

/// What Vendure did with one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Deleted,
    /// Refused for this item only (e.g. a currency the channel does not accept).
    Error(String),
}

/// One result per item: the upserts in order, then the deletions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemOutcome {
    pub sku: String,
    pub outcome: Outcome,
}

/// What to do with one upsert, decided from what exists.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    Create(NewVariant),
    Update(UpdateProductVariantInput),
    Unchanged,
    Refuse(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewVariant {
    pub sku: String,
    pub title: String,
    pub currency: String,
    pub minor_units: i64,
    pub quantity: i32,
}

/// Decides what an upsert needs, given the variant that carries its SKU (the
/// oldest one, should Vendure already hold several) and the channel.
pub fn plan_upsert(
    product: &Product,
    existing: Option<&ExistingVariant>,
    channel: &Channel,
) -> Plan {
    let accepted = channel
        .available_currency_codes
        .iter()
        .any(|c| c.as_str() == product.price.currency().code());
    if !accepted {
        let codes: Vec<&str> = channel
            .available_currency_codes
            .iter()
            .map(CurrencyCode::as_str)
            .collect();
        return Plan::Refuse(format!(
            "currency `{}` is not accepted by the Vendure channel (it accepts {}): add it to the channel's available currencies",
            product.price.currency(),
            codes.join(", ")
        ));
    }
    let currency = product.price.currency().code();
    let minor_units = match money::to_minor_units(&product.price) {
        Ok(minor) => minor,
        Err(e) => return Plan::Refuse(e.to_string()),
    };
    let Ok(quantity) = i32::try_from(product.quantity) else {
        return Plan::Refuse(format!(
            "quantity {} is too large for Vendure (at most {})",
            product.quantity,
            i32::MAX
        ));
    };
    let Some(existing) = existing else {
        return Plan::Create(NewVariant {
            sku: product.sku.clone(),
            title: product.title.clone(),
            currency: currency.to_string(),
            minor_units,
            quantity,
        });
    };
    let language = channel.default_language_code.clone();
    let price_now = existing
        .prices
        .iter()
        .find(|p| p.currency_code.as_str() == currency)
        .map(|p| p.price.0);
    let price_changed = price_now != Some(minor_units);
    let in_default = channel.default_currency_code.as_str() == currency;
    let update = UpdateProductVariantInput {
        id: existing.id.clone(),
        translations: (existing.name != product.title).then(|| {
            vec![ProductVariantTranslationInput {
                language_code: language,
                name: Some(product.title.clone()),
            }]
        }),
        // `price` is in the channel's default currency; `prices` for another.
        price: (price_changed && in_default).then_some(Money(minor_units)),
        prices: (price_changed && !in_default).then(|| {
            vec![UpdateProductVariantPriceInput {
                currency_code: CurrencyCode::new(currency),
                price: Money(minor_units),
            }]
        }),
        stock_on_hand: (existing.stock_on_hand != quantity).then_some(quantity),
    };
    if update.translations.is_none()
        && update.price.is_none()
        && update.prices.is_none()
        && update.stock_on_hand.is_none()
    {
        Plan::Unchanged
    } else {
        Plan::Update(update)
    }
}

/// A URL slug for a new product, from its SKU (`"Mug 1/Blue"` -> `"mug-1-blue"`).
pub fn slug(sku: &str) -> String {
    let mut slug = String::with_capacity(sku.len());
    for c in sku.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        "product".into()
    } else {
        slug
    }
}

/// Splits `items` into runs whose serialized size, plus `overhead`, stays
/// within `budget`. An item too large on its own travels alone.
pub fn split_by_size<T: serde::Serialize>(
    items: Vec<T>,
    overhead: usize,
    budget: usize,
) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut size = overhead;
    for item in items {
        let item_size = serde_json::to_vec(&item).map(|v| v.len()).unwrap_or(budget) + 1;
        if !current.is_empty() && size + item_size > budget {
            chunks.push(std::mem::take(&mut current));
            size = overhead;
        }
        size += item_size;
        current.push(item);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Looks up the channel and every variant carrying one of `skus`.
pub async fn look_up(
    client: &VendureClient,
    credential: Credential<'_>,
    skus: &[String],
) -> Result<(Channel, HashMap<String, Vec<ExistingVariant>>), ChannelError> {
    let mut by_sku: HashMap<String, Vec<ExistingVariant>> = HashMap::new();
    let mut channel = None;
    // SKU lists are split like mutations; each is paged to the list limit.
    let overhead = 1024;
    let chunks = if skus.is_empty() {
        vec![Vec::new()]
    } else {
        split_by_size(skus.to_vec(), overhead, BODY_BUDGET)
    };
    for chunk in chunks {
        let mut skip = 0;
        loop {
            let operation = VariantsBySku::build(VariantListVariables {
                options: Some(ProductVariantListOptions {
                    skip: Some(skip),
                    take: Some(super::import::MAX_PAGE_SIZE as i32),
                    sort: None,
                    filter: Some(ProductVariantFilterParameter {
                        updated_at: None,
                        sku: Some(StringOperators {
                            in_: Some(chunk.clone()),
                        }),
                    }),
                }),
            });
            let reply = client
                .run::<VariantsBySku, _>(
                    "productVariants(sku in)",
                    credential,
                    &operation,
                    Replay::Safe,
                )
                .await?;
            channel.get_or_insert(reply.active_channel);
            let count = reply.product_variants.items.len();
            for variant in reply.product_variants.items {
                by_sku.entry(variant.sku.clone()).or_default().push(variant);
            }
            skip += count as i32;
            if count == 0 || skip >= reply.product_variants.total_items || chunk.is_empty() {
                break;
            }
        }
    }
    for variants in by_sku.values_mut() {
        variants.sort_by_key(|v| numeric_id(&v.id));
    }
    Ok((channel.expect("at least one look-up ran"), by_sku))
}

fn numeric_id(id: &Id) -> (u64, String) {
    (
        id.inner().parse().unwrap_or(u64::MAX),
        id.inner().to_string(),
    )
}

/// Sends one export batch. `Err` only when the whole batch failed (the
/// caller may re-login on [`ChannelError::Unauthorized`] and resend: resending
/// is safe because the SKUs are looked up again first).
pub async fn send_batch(
    client: &VendureClient,
    credential: Credential<'_>,
    upserts: &[Product],
    deletions: &[String],
) -> Result<Vec<ItemOutcome>, ChannelError> {
    let skus: Vec<String> = upserts
        .iter()
        .map(|p| p.sku.clone())
        .chain(deletions.iter().cloned())
        .collect();
    let (channel, existing) = look_up(client, credential, &skus).await?;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; upserts.len() + deletions.len()];

    let mut updates: Vec<(usize, UpdateProductVariantInput)> = Vec::new();
    let mut creates: Vec<(usize, NewVariant)> = Vec::new();
    for (i, product) in upserts.iter().enumerate() {
        let current = existing.get(&product.sku).and_then(|v| v.first());
        match plan_upsert(product, current, &channel) {
            Plan::Create(new) => creates.push((i, new)),
            Plan::Update(update) => updates.push((i, update)),
            Plan::Unchanged => outcomes[i] = Some(Outcome::Unchanged),
            Plan::Refuse(why) => outcomes[i] = Some(Outcome::Error(why)),
        }
    }

    update_variants(client, credential, updates, &mut outcomes).await?;
    create_variants(client, credential, &channel, creates, &mut outcomes).await?;

    // Deletions: a product that holds only this variant goes with it.
    let mut product_ids: Vec<(usize, Id)> = Vec::new();
    let mut variant_ids: Vec<(usize, Id)> = Vec::new();
    for (j, sku) in deletions.iter().enumerate() {
        let i = upserts.len() + j;
        match existing.get(sku) {
            None => outcomes[i] = Some(Outcome::Deleted),
            Some(variants) => {
                for v in variants {
                    if v.product.variant_list.total_items <= 1 {
                        product_ids.push((i, v.product_id.clone()));
                    } else {
                        variant_ids.push((i, v.id.clone()));
                    }
                }
            }
        }
    }
    delete(client, credential, product_ids, true, &mut outcomes).await?;
    delete(client, credential, variant_ids, false, &mut outcomes).await?;

    Ok(skus
        .into_iter()
        .zip(outcomes)
        .map(|(sku, outcome)| ItemOutcome {
            sku,
            outcome: outcome
                .unwrap_or_else(|| Outcome::Error("Vendure did not answer for this item".into())),
        })
        .collect())
}

async fn update_variants(
    client: &VendureClient,
    credential: Credential<'_>,
    updates: Vec<(usize, UpdateProductVariantInput)>,
    outcomes: &mut [Option<Outcome>],
) -> Result<(), ChannelError> {
    let overhead = UpdateVariants::build(UpdateVariantsVariables { input: vec![] })
        .query
        .len()
        + 64;
    for chunk in split_by_size_indexed(updates, overhead) {
        let mut pending = vec![chunk];
        // A refused call is split in halves until the refused item is alone.
        while let Some(part) = pending.pop() {
            let input: Vec<UpdateProductVariantInput> =
                part.iter().map(|(_, u)| u.clone()).collect();
            let operation = UpdateVariants::build(UpdateVariantsVariables { input });
            match client
                .run::<UpdateVariants, _>(
                    "updateProductVariants",
                    credential,
                    &operation,
                    Replay::Safe,
                )
                .await
            {
                Ok(reply) => {
                    // Matched by id: Vendure need not answer in input order.
                    let answered: std::collections::HashSet<Id> = reply
                        .update_product_variants
                        .into_iter()
                        .flatten()
                        .map(|v| v.id)
                        .collect();
                    for (i, update) in &part {
                        outcomes[*i] = Some(if answered.contains(&update.id) {
                            Outcome::Updated
                        } else {
                            Outcome::Error(
                                "Vendure did not update this variant (was it deleted meanwhile?)"
                                    .into(),
                            )
                        });
                    }
                }
                Err(ChannelError::Refused { message, .. }) if part.len() == 1 => {
                    outcomes[part[0].0] = Some(Outcome::Error(message));
                }
                Err(ChannelError::Refused { .. }) => {
                    let mut part = part;
                    let back = part.split_off(part.len() / 2);
                    pending.push(part);
                    pending.push(back);
                }
                Err(other) => return Err(other),
            }
        }
    }
    Ok(())
}

async fn create_variants(
    client: &VendureClient,
    credential: Credential<'_>,
    channel: &Channel,
    creates: Vec<(usize, NewVariant)>,
    outcomes: &mut [Option<Outcome>],
) -> Result<(), ChannelError> {
    if creates.is_empty() {
        return Ok(());
    }
    let language = channel.default_language_code.clone();
    // A product per new variant, a few at a time (Vendure creates one
    // product per call). A kill after this leaves empty products (no
    // variant, so no SKU) that the next run does not see: it creates others.
    let product_ids: Vec<Result<Id, ChannelError>> = futures_util::stream::iter(&creates)
        .map(|(_, new)| create_product(client, credential, &language, new))
        .buffered(PRODUCTS_IN_FLIGHT)
        .collect()
        .await;
    let mut inputs: Vec<(usize, CreateProductVariantInput)> = Vec::with_capacity(creates.len());
    for ((i, new), product_id) in creates.into_iter().zip(product_ids) {
        let in_default = channel.default_currency_code.as_str() == new.currency;
        inputs.push((
            i,
            CreateProductVariantInput {
                product_id: product_id?,
                sku: new.sku.clone(),
                translations: vec![ProductVariantTranslationInput {
                    language_code: language.clone(),
                    name: Some(new.title.clone()),
                }],
                price: in_default.then_some(Money(new.minor_units)),
                prices: (!in_default).then(|| {
                    vec![Some(CreateProductVariantPriceInput {
                        currency_code: CurrencyCode::new(&new.currency),
                        price: Money(new.minor_units),
                    })]
                }),
                stock_on_hand: Some(new.quantity),
            },
        ));
    }
    crash::point("vendure-products-created");
    let overhead = CreateVariants::build(CreateVariantsVariables { input: vec![] })
        .query
        .len()
        + 64;
    for chunk in split_by_size_indexed(inputs, overhead) {
        let mut pending = vec![chunk];
        while let Some(part) = pending.pop() {
            let input: Vec<CreateProductVariantInput> =
                part.iter().map(|(_, v)| v.clone()).collect();
            let operation = CreateVariants::build(CreateVariantsVariables { input });
            // Not safe to replay: a timeout may hide a committed create. The
            // look-up at the next send finds what was created.
            match client
                .run::<CreateVariants, _>(
                    "createProductVariants",
                    credential,
                    &operation,
                    Replay::NotSafe,
                )
                .await
            {
                Ok(reply) => {
                    crash::point("vendure-variants-created");
                    // Matched by SKU: Vendure need not answer in input order.
                    let answered: std::collections::HashSet<String> = reply
                        .create_product_variants
                        .into_iter()
                        .flatten()
                        .map(|v| v.sku)
                        .collect();
                    for (i, input) in &part {
                        outcomes[*i] = Some(if answered.contains(&input.sku) {
                            Outcome::Created
                        } else {
                            Outcome::Error("Vendure did not create this variant".into())
                        });
                    }
                }
                // All or nothing per call: a refusal created nothing, so the
                // halves can be sent again.
                Err(ChannelError::Refused { message, .. }) if part.len() == 1 => {
                    outcomes[part[0].0] = Some(Outcome::Error(message));
                }
                Err(ChannelError::Refused { .. }) => {
                    let mut part = part;
                    let back = part.split_off(part.len() / 2);
                    pending.push(part);
                    pending.push(back);
                }
                Err(other) => return Err(other),
            }
        }
    }
    Ok(())
}

async fn create_product(
    client: &VendureClient,
    credential: Credential<'_>,
    language: &LanguageCode,
    new: &NewVariant,
) -> Result<Id, ChannelError> {
    let operation = CreateProduct::build(CreateProductVariables {
        input: CreateProductInput {
            translations: vec![ProductTranslationInput {
                language_code: language.clone(),
                name: Some(new.title.clone()),
                slug: Some(slug(&new.sku)),
                // Vendure's column is NOT NULL.
                description: Some(String::new()),
            }],
        },
    });
    // Not safe to replay: a create whose reply was lost may have made a
    // product, and a second call makes a second one.
    let reply = client
        .run::<CreateProduct, _>("createProduct", credential, &operation, Replay::NotSafe)
        .await?;
    Ok(reply.create_product.id)
}

async fn delete(
    client: &VendureClient,
    credential: Credential<'_>,
    ids: Vec<(usize, Id)>,
    whole_products: bool,
    outcomes: &mut [Option<Outcome>],
) -> Result<(), ChannelError> {
    let overhead = 512;
    for chunk in split_by_size_indexed(ids, overhead) {
        let ids: Vec<Id> = chunk.iter().map(|(_, id)| id.clone()).collect();
        let operation = DeleteVariables { ids };
        let responses = if whole_products {
            let op = DeleteProducts::build(operation);
            client
                .run::<DeleteProducts, _>("deleteProducts", credential, &op, Replay::Safe)
                .await?
                .delete_products
        } else {
            let op = DeleteVariants::build(operation);
            client
                .run::<DeleteVariants, _>("deleteProductVariants", credential, &op, Replay::Safe)
                .await?
                .delete_product_variants
        };
        for ((i, _), response) in chunk.iter().zip(responses) {
            let outcome = match response.result {
                DeletionResult::Deleted => Outcome::Deleted,
                DeletionResult::NotDeleted => Outcome::Error(
                    response
                        .message
                        .unwrap_or_else(|| "Vendure did not delete it".into()),
                ),
            };
            // A SKU with several variants fails if any of them failed.
            if !matches!(outcomes[*i], Some(Outcome::Error(_))) {
                outcomes[*i] = Some(outcome);
            }
        }
    }
    Ok(())
}

fn split_by_size_indexed<T: serde::Serialize>(
    items: Vec<(usize, T)>,
    overhead: usize,
) -> Vec<Vec<(usize, T)>> {
    // The index is not sent; it costs a few bytes of estimate, which is slack.
    split_by_size(items, overhead, BODY_BUDGET)
        .into_iter()
        .flat_map(|chunk| {
            let mut chunk = chunk;
            let mut parts = Vec::new();
            while chunk.len() > VARIANTS_PER_CALL {
                let rest = chunk.split_off(VARIANTS_PER_CALL);
                parts.push(std::mem::replace(&mut chunk, rest));
            }
            parts.push(chunk);
            parts
        })
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::vendure::wire::{VariantCount, VariantPrice, VariantProduct};

    fn channel(currencies: &[&str]) -> Channel {
        Channel {
            id: Id::new("1"),
            default_currency_code: CurrencyCode::new(currencies[0]),
            available_currency_codes: currencies.iter().map(|c| CurrencyCode::new(c)).collect(),
            default_language_code: LanguageCode::En,
        }
    }

    fn product(sku: &str, price: &str, currency: &str, quantity: i64) -> Product {
        Product {
            sku: sku.into(),
            title: format!("Title {sku}"),
            price: crate::price::Price::parse(price, currency).unwrap(),
            quantity,
            attributes: Default::default(),
            updated_at: "2026-11-27T10:00:00Z".into(),
            id: None,
        }
    }

    fn existing(sku: &str, minor: i64, stock: i32) -> ExistingVariant {
        ExistingVariant {
            id: Id::new("11"),
            product_id: Id::new("5"),
            sku: sku.into(),
            name: format!("Title {sku}"),
            stock_on_hand: stock,
            prices: vec![VariantPrice {
                currency_code: CurrencyCode::new("USD"),
                price: Money(minor),
            }],
            product: VariantProduct {
                variant_list: VariantCount { total_items: 1 },
            },
        }
    }

    #[test]
    fn a_missing_sku_is_created_with_exact_minor_units() {
        let plan = plan_upsert(&product("A", "19.99", "USD", 3), None, &channel(&["USD"]));
        assert_eq!(
            plan,
            Plan::Create(NewVariant {
                sku: "A".into(),
                title: "Title A".into(),
                currency: "USD".into(),
                minor_units: 1999,
                quantity: 3,
            })
        );
    }

    #[test]
    fn an_equal_variant_is_unchanged_and_a_different_one_updated_in_what_differs() {
        let ch = channel(&["USD"]);
        let current = existing("A", 1999, 3);
        assert_eq!(
            plan_upsert(&product("A", "19.99", "USD", 3), Some(&current), &ch),
            Plan::Unchanged
        );
        let Plan::Update(update) =
            plan_upsert(&product("A", "19.99", "USD", 4), Some(&current), &ch)
        else {
            panic!("an update");
        };
        assert_eq!(update.stock_on_hand, Some(4));
        assert!(update.price.is_none() && update.prices.is_none() && update.translations.is_none());
        let Plan::Update(update) = plan_upsert(&product("A", "20", "USD", 3), Some(&current), &ch)
        else {
            panic!("an update");
        };
        assert_eq!(update.price, Some(Money(2000)));
    }

    #[test]
    fn a_currency_the_channel_does_not_accept_is_refused_for_that_item() {
        let Plan::Refuse(why) = plan_upsert(
            &product("A", "1", "EUR", 1),
            None,
            &channel(&["USD", "GBP"]),
        ) else {
            panic!("refused");
        };
        assert!(why.contains("`EUR`") && why.contains("USD, GBP"), "{why}");
        let Plan::Refuse(why) = plan_upsert(
            &product("A", "21474836.48", "USD", 1),
            None,
            &channel(&["USD"]),
        ) else {
            panic!("refused");
        };
        assert!(why.contains("too large for Vendure"), "{why}");
    }

    #[test]
    fn slugs_come_from_skus() {
        assert_eq!(slug("MUG-1"), "mug-1");
        assert_eq!(slug("Mug 1/Blue"), "mug-1-blue");
        assert_eq!(slug("--x--"), "x");
        assert_eq!(slug("ÄÖ"), "product");
    }

    #[test]
    fn bodies_are_split_under_the_budget() {
        let items: Vec<String> = (0..1000).map(|i| format!("{i:0>100}")).collect();
        let chunks = split_by_size(items.clone(), 1000, 10_000);
        assert!(chunks.len() > 10);
        assert_eq!(chunks.concat(), items, "nothing lost or reordered");
        for chunk in &chunks {
            let size: usize = 1000 + chunk.iter().map(|s| s.len() + 3).sum::<usize>();
            assert!(size <= 10_000, "{size}");
        }
        let huge = vec!["x".repeat(20_000)];
        assert_eq!(
            split_by_size(huge, 0, 10_000).len(),
            1,
            "an item too large travels alone"
        );
    }
}
