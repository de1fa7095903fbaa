//! Export of whole products: a product is found by the ids the store holds,
//! by the SKUs of its variants, or by its slug (the handle); an existing one
//! is read, mapped to a catalog product ([`mapping::to_catalog`]), diffed
//! against the desired one in the fields the channel owns and Vendure
//! carries, and only what changed is written; a missing one is created
//! whole.
//!
//! Vendure has no call that makes a product with its variants, so a create
//! is several calls: `createProduct`, an option group per option
//! (`createProductOptionGroup`, `addOptionGroupToProduct`),
//! `createProductVariants` (price in the channel's default currency; the
//! create ignores other currencies), then `updateProductVariants` for the
//! other currencies. Each run of creating calls is journalled first
//! ([`Journal::intent`]) and its ids recorded as they come back, so a run
//! cut anywhere leaves the next one an intent to [`reconcile`]: it adopts
//! what was made, deletes what the tool made twice (a second product for
//! the handle, a second variant for a SKU) and products left without
//! variants, and reports a SKU held twice by someone else, naming both ids.
//! The repairs wait [`REPAIR_AFTER`] from the intent's start: until then
//! the server may still be carrying out a dead run's create.
//!
//! A SKU held by two variants is never updated one copy at a time: the item
//! is refused naming both, unless the copies are the tool's own from an
//! intent still open (then the copy [`reconcile`] will keep is updated, and
//! the other goes when the intent settles).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use cynic::{MutationBuilder, QueryBuilder};
use futures_util::StreamExt as _;
use jiff::{SignedDuration, Timestamp};

use super::assets::{self, Images};
use super::attributes::{self, AttributeField, Stored};
use super::client::{Credential, Replay, VendureClient};
use super::facets::{self, Links};
use super::mapping::{self, Desired, FacetCodes, id_order, slug};
use super::money;
use super::wire::{
    AddOptionGroup, AddOptionGroupVariables, Channel, CreateGroupOptionInput, CreateOption,
    CreateOptionGroup, CreateOptionGroupVariables, CreateOptionVariables, CreateProduct,
    CreateProductInput, CreateProductOptionGroupInput, CreateProductOptionInput,
    CreateProductVariables, CreateProductVariantInput, CreateVariants, CreateVariantsVariables,
    CurrencyCode, DateOperators, DateTime, DeleteProducts, DeleteVariables, DeleteVariants,
    DeletionResult, Id, IdOperators, LanguageCode, LogicalOperator, Money, OptionGroup,
    ProductFilterParameter, ProductListOptions, ProductListVariables,
    ProductOptionGroupTranslationInput, ProductSortParameter, ProductTranslationInput,
    ProductVariantFilterParameter, ProductVariantListOptions, ProductVariantTranslationInput,
    ProductsQuery, SkuHolder, SkuHolders, StringOperators, UpdateProduct, UpdateProductInput,
    UpdateProductVariables, UpdateProductVariantInput, UpdateProductVariantPriceInput,
    UpdateVariants, UpdateVariantsVariables, VariantListVariables, WholeProduct,
};
use crate::catalog::{Field, Product, ProductStatus, VariantDiff, diff, take_order};
use crate::connector::{
    ChannelError, Deletion, ExportBatch, ExportItem, IntentId, ItemResult, ItemStatus, Journal,
    LocationMap, OpenIntent, PlatformIds, Resolution,
};
use crate::crash;

/// Vendure's stock JSON body limit (NestJS's default `100kb`).
pub const BODY_LIMIT: usize = 100 * 1024;
/// What one request may carry: the limit less room for the query text.
pub const BODY_BUDGET: usize = 90 * 1024;
/// How long after an intent started its repairs wait: a look-up cannot see
/// a create the server is still carrying out for a client that went away.
/// The capability list's default `settle`.
pub const REPAIR_AFTER: Duration = Duration::from_secs(20);
/// How far Vendure's clock (its `createdAt`) may be from ours.
const CLOCK_SLACK: SignedDuration = SignedDuration::from_secs(60);
/// Products written at once.
const PRODUCTS_IN_FLIGHT: usize = 6;
/// Variants per `createProductVariants` / `updateProductVariants` call.
const VARIANTS_PER_CALL: usize = 25;
/// SKUs per look-up.
const SKUS_PER_LOOKUP: usize = 200;
/// Products per listing page (each with all its variants).
const PRODUCTS_PER_PAGE: usize = 100;

/// What one run of the connector knows besides the store: the ids it made
/// or chose to keep (a reconcile keeps those), and the handles with intents
/// still open (their SKUs may be held twice by the tool itself for a while).
#[derive(Default, Debug)]
pub struct RunMemory {
    ours: RefCell<HashSet<String>>,
    open_handles: RefCell<HashSet<String>>,
}

impl RunMemory {
    /// `kind` is [`PlatformIds::PRODUCT`] or [`PlatformIds::VARIANT`]:
    /// Vendure numbers products and variants separately.
    fn keep(&self, kind: &str, id: &str) {
        self.ours.borrow_mut().insert(format!("{kind}:{id}"));
    }

    fn is_ours(&self, kind: &str, id: &str) -> bool {
        self.ours.borrow().contains(&format!("{kind}:{id}"))
    }
}

/// One session's view of the shop: the client, the credential, the
/// channel's currencies and language.
pub struct Shop<'a> {
    pub client: &'a VendureClient,
    pub credential: Credential<'a>,
    pub memory: &'a RunMemory,
    /// Where categories and tags live.
    pub facets: &'a FacetCodes,
    /// The custom field attributes live in (`attributes-field`), if any.
    pub attributes: Option<&'a AttributeField>,
}

/// The products and SKU holders a batch looks at.
struct Found {
    channel: Channel,
    by_id: HashMap<String, WholeProduct>,
    by_slug: HashMap<String, String>,
    holders: HashMap<String, Vec<SkuHolder>>,
    /// The stored attributes of `by_id`'s products (with `attributes-field`).
    attributes: HashMap<String, Stored>,
}

/// What a batch looked up, or made, before writing its products.
#[derive(Clone, Copy)]
struct Prepared<'a> {
    links: &'a Links,
    images: &'a Images,
    attributes: &'a HashMap<String, Stored>,
}

/// The variants holding `skus`, by SKU, each list in id order: pages of
/// `productVariants` for [`SKUS_PER_LOOKUP`] SKUs at a time.
pub(super) async fn sku_holders(
    client: &VendureClient,
    credential: Credential<'_>,
    skus: &[String],
) -> Result<HashMap<String, Vec<SkuHolder>>, ChannelError> {
    let mut holders: HashMap<String, Vec<SkuHolder>> = HashMap::new();
    for chunk in skus.chunks(SKUS_PER_LOOKUP) {
        let mut skip = 0;
        loop {
            let operation = SkuHolders::build(VariantListVariables {
                options: Some(ProductVariantListOptions {
                    skip: Some(skip),
                    take: Some(1000),
                    sort: None,
                    filter: Some(ProductVariantFilterParameter {
                        sku: Some(StringOperators {
                            in_: Some(chunk.to_vec()),
                        }),
                        updated_at: None,
                    }),
                }),
            });
            let reply = client
                .run::<SkuHolders, _>("productVariants", credential, &operation, Replay::Safe)
                .await?;
            let list = reply.product_variants;
            let got = list.items.len() as i32;
            for holder in list.items {
                holders.entry(holder.sku.clone()).or_default().push(holder);
            }
            skip += got;
            if got == 0 || skip >= list.total_items {
                break;
            }
        }
    }
    for list in holders.values_mut() {
        list.sort_by_key(|h| id_order(h.id.inner()));
    }
    Ok(holders)
}

impl Shop<'_> {
    async fn sku_holders(
        &self,
        skus: &[String],
    ) -> Result<HashMap<String, Vec<SkuHolder>>, ChannelError> {
        sku_holders(self.client, self.credential, skus).await
    }

    /// Every product matching `filter` (any of its fields), with the channel.
    async fn products(
        &self,
        filter: ProductFilterParameter,
    ) -> Result<(Channel, Vec<WholeProduct>), ChannelError> {
        let mut all = Vec::new();
        loop {
            let operation = ProductsQuery::build(ProductListVariables {
                options: Some(ProductListOptions {
                    skip: Some(all.len() as i32),
                    take: Some(PRODUCTS_PER_PAGE as i32),
                    sort: Some(ProductSortParameter {
                        id: Some(super::wire::SortOrder::Asc),
                    }),
                    filter: Some(filter.clone()),
                    filter_operator: Some(LogicalOperator::Or),
                }),
            });
            let reply = self
                .client
                .run::<ProductsQuery, _>("products", self.credential, &operation, Replay::Safe)
                .await?;
            let total = reply.products.total_items as usize;
            let got = reply.products.items.len();
            all.extend(reply.products.items);
            if got == 0 || all.len() >= total {
                return Ok((reply.active_channel, all));
            }
        }
    }

    /// Products by id or slug (an empty list of either is left out).
    pub(super) async fn products_by(
        &self,
        ids: Vec<String>,
        slugs: Vec<String>,
    ) -> Result<(Channel, Vec<WholeProduct>), ChannelError> {
        let mut filter = ProductFilterParameter {
            // An empty `in` matches nothing, which an OR with the other is fine with.
            id: Some(IdOperators {
                in_: Some(if ids.is_empty() {
                    vec!["0".into()]
                } else {
                    ids
                }),
            }),
            ..Default::default()
        };
        if !slugs.is_empty() {
            filter.slug = Some(StringOperators { in_: Some(slugs) });
        }
        self.products(filter).await
    }

    async fn find(
        &self,
        skus: Vec<String>,
        known_products: Vec<String>,
        handles: Vec<String>,
    ) -> Result<Found, ChannelError> {
        let holders = self.sku_holders(&skus).await?;
        let mut ids: Vec<String> = known_products;
        ids.extend(
            holders
                .values()
                .flatten()
                .map(|h| h.product_id.inner().to_string()),
        );
        ids.sort();
        ids.dedup();
        let (channel, products) = self.products_by(ids, handles).await?;
        let attributes = match self.attributes {
            Some(field) => {
                let ids: Vec<String> = products.iter().map(|p| p.id.inner().to_string()).collect();
                attributes::read(self.client, self.credential, field, &ids).await?
            }
            None => HashMap::new(),
        };
        let by_slug = products
            .iter()
            .map(|p| (p.slug.clone(), p.id.inner().to_string()))
            .collect();
        let by_id = products
            .into_iter()
            .map(|p| (p.id.inner().to_string(), p))
            .collect();
        Ok(Found {
            channel,
            by_id,
            by_slug,
            holders,
            attributes,
        })
    }
}

/// Writes the batch's products and carries out its deletions: one result
/// per item, then one per deletion.
pub async fn send_batch(
    shop: &Shop<'_>,
    batch: &ExportBatch<'_>,
    journal: &dyn Journal,
) -> Result<Vec<ItemResult>, ChannelError> {
    let mut skus: Vec<String> = Vec::new();
    let mut known = Vec::new();
    let mut handles = Vec::new();
    for item in &batch.items {
        skus.extend(item.product.skus().map(str::to_string));
        known.extend(item.known.product(&item.product.handle).map(str::to_string));
        handles.push(item.product.handle.clone());
    }
    for deletion in &batch.deletions {
        skus.extend(deletion.skus.iter().cloned());
        known.extend(deletion.known.product(&deletion.handle).map(str::to_string));
    }
    let found = shop.find(skus, known, handles).await?;
    let products: Vec<&Product> = batch.items.iter().map(|i| i.product).collect();
    let links = facets::links(shop, &found.channel, &products).await?;
    // A create sends every field; an update touches images only when the
    // export owns them.
    let with_images: Vec<&Product> = batch
        .items
        .iter()
        .filter(|i| i.fields.contains(Field::Images) || matches!(target(shop, &found, i), Ok(None)))
        .map(|i| i.product)
        .collect();
    let images = assets::images(shop, &found.channel, &with_images).await?;
    let prepared = Prepared {
        links: &links,
        images: &images,
        attributes: &found.attributes,
    };
    let results: Vec<Result<ItemResult, ChannelError>> = futures_util::stream::iter(&batch.items)
        .map(|item| export_item(shop, &found, prepared, item, journal))
        .buffered(PRODUCTS_IN_FLIGHT)
        .collect()
        .await;
    let mut out = Vec::with_capacity(batch.len());
    for result in results {
        out.push(result?);
    }
    for deletion in &batch.deletions {
        out.push(delete(shop, &found, deletion).await?);
    }
    Ok(out)
}

fn error(handle: &str, why: String) -> ItemResult {
    ItemResult::new(handle, ItemStatus::Error(why))
}

/// Which product an item is, on Vendure: `Ok(None)` to create it.
fn target<'f>(
    shop: &Shop<'_>,
    found: &'f Found,
    item: &ExportItem<'_>,
) -> Result<Option<&'f WholeProduct>, String> {
    let handle = &item.product.handle;
    let open = shop.memory.open_handles.borrow().contains(handle);
    // Products holding the item's SKUs, with how many.
    let mut holding: BTreeMap<(u64, String), usize> = BTreeMap::new();
    for sku in item.product.skus() {
        let holders = found.holders.get(sku).map(Vec::as_slice).unwrap_or(&[]);
        if holders.len() > 1 && !open {
            return Err(held_twice(sku, holders));
        }
        for h in holders {
            *holding.entry(id_order(h.product_id.inner())).or_default() += 1;
        }
    }
    let known = item
        .known
        .product(handle)
        .and_then(|id| found.by_id.get(id));
    let chosen = match known {
        Some(p) => Some(p),
        None => holding
            .iter()
            .max_by_key(|((order, _), count)| (**count, std::cmp::Reverse(*order)))
            .and_then(|((_, id), _)| found.by_id.get(id))
            .or_else(|| {
                // A product of this slug whose variants are all the item's
                // (or none: a create a cut left half-made) is this product.
                found
                    .by_slug
                    .get(handle)
                    .and_then(|id| found.by_id.get(id))
                    .filter(|p| {
                        p.variants
                            .iter()
                            .all(|v| item.product.variant(&v.sku).is_some())
                    })
            }),
    };
    let Some(product) = chosen else {
        return Ok(None);
    };
    for (_, id) in holding.keys() {
        if id != product.id.inner() && !open {
            let skus: Vec<&str> =
                item.product
                    .skus()
                    .filter(|sku| {
                        found.holders.get(*sku).is_some_and(|hs| {
                            hs.iter().any(|h| h.product_id.inner() == id.as_str())
                        })
                    })
                    .collect();
            return Err(format!(
                "variant(s) {} are on another Vendure product (id {id}) than product {} (`{}`): move them on the shop, or give them other SKUs",
                skus.join(", "),
                product.id.inner(),
                product.slug
            ));
        }
    }
    Ok(Some(product))
}

pub(super) fn held_twice(sku: &str, holders: &[SkuHolder]) -> String {
    let ids: Vec<String> = holders
        .iter()
        .map(|h| format!("{} (product {})", h.id.inner(), h.product_id.inner()))
        .collect();
    format!(
        "SKU `{sku}` is held by {} variants on the channel: {}; the tool updates neither: delete all but one on the shop",
        holders.len(),
        ids.join(" and ")
    )
}

async fn export_item(
    shop: &Shop<'_>,
    found: &Found,
    prepared: Prepared<'_>,
    item: &ExportItem<'_>,
    journal: &dyn Journal,
) -> Result<ItemResult, ChannelError> {
    let handle = &item.product.handle;
    let desired = match mapping::desired(
        item.product,
        &found.channel,
        item.locations,
        shop.attributes.is_some(),
    ) {
        Ok(d) => d,
        Err(why) => return Ok(error(handle, why)),
    };
    let product = match target(shop, found, item) {
        Ok(p) => p,
        Err(why) => return Ok(error(handle, why)),
    };
    let outcome = match product {
        None => {
            create(
                shop,
                &found.channel,
                prepared,
                &desired,
                item.locations,
                journal,
            )
            .await
        }
        Some(current) => {
            update(
                shop,
                &found.channel,
                prepared,
                current,
                item,
                &desired,
                journal,
            )
            .await
        }
    };
    match outcome {
        Ok(mut result) => {
            result.dropped_currencies = desired.dropped;
            Ok(result)
        }
        // Refused for this product alone: the rest of the batch goes on.
        Err(ChannelError::Refused { message, .. }) => Ok(error(handle, message)),
        Err(other) => Err(other),
    }
}

fn language(channel: &Channel) -> LanguageCode {
    channel.default_language_code.clone()
}

fn minor(price: &crate::price::Price) -> Money {
    Money(money::to_minor_units(price).expect("checked by mapping::desired"))
}

/// Creates the whole product, journalled, and returns it created.
async fn create(
    shop: &Shop<'_>,
    channel: &Channel,
    prepared: Prepared<'_>,
    desired: &Desired,
    locations: &LocationMap,
    journal: &dyn Journal,
) -> Result<ItemResult, ChannelError> {
    let product = &desired.product;
    let handle = &product.handle;
    let facet_value_ids = match prepared.links.ids_of(product) {
        Ok(ids) => ids,
        Err(why) => return Ok(error(handle, why)),
    };
    let asset_ids = match prepared.images.ids_of(product) {
        Ok(ids) => ids,
        Err(why) => return Ok(error(handle, why)),
    };
    let skus: Vec<String> = product.skus().map(str::to_string).collect();
    let intent = journal.intent(handle, "create-product", &skus)?;
    let operation = CreateProduct::build(CreateProductVariables {
        input: CreateProductInput {
            translations: vec![ProductTranslationInput {
                language_code: language(channel),
                name: Some(product.title.clone()),
                slug: Some(handle.clone()),
                description: Some(product.description.clone()),
            }],
            enabled: Some(product.status == ProductStatus::Active),
            facet_value_ids: (!facet_value_ids.is_empty()).then_some(facet_value_ids),
            featured_asset_id: asset_ids.first().cloned(),
            asset_ids: (!asset_ids.is_empty()).then_some(asset_ids),
        },
    });
    // Not safe to resend: a lost reply may hide a made product.
    let product_id = shop
        .client
        .run::<CreateProduct, _>(
            "createProduct",
            shop.credential,
            &operation,
            Replay::NotSafe,
        )
        .await?
        .create_product
        .id;
    crash::point("vendure-products-created");
    let mut ids = PlatformIds::new();
    ids.insert(PlatformIds::PRODUCT, handle, product_id.inner());
    journal.ids(intent, &ids)?;
    shop.memory.keep(PlatformIds::PRODUCT, product_id.inner());

    let made = async {
        let mut groups = Vec::with_capacity(product.options.len());
        for (index, name) in product.options.iter().enumerate() {
            let mut values: Vec<&str> = Vec::new();
            for v in &product.variants {
                let value = v.option_values[index].as_str();
                if !values.contains(&value) {
                    values.push(value);
                }
            }
            groups.push(add_option_group(shop, channel, &product_id, handle, name, &values).await?);
        }
        create_variants(
            shop,
            channel,
            &product_id,
            &groups,
            product.variants.iter().collect(),
            locations,
            (intent, journal),
            &mut ids,
        )
        .await?;
        // A run cut before this leaves the attributes to the next export's
        // update, which sees them differ.
        match shop.attributes {
            Some(field) => {
                let variants: Vec<(Id, &attributes::Attributes)> = product
                    .variants
                    .iter()
                    .filter(|v| !v.attributes.is_empty())
                    .filter_map(|v| Some((Id::new(ids.variant(&v.sku)?), &v.attributes)))
                    .collect();
                let whole = !product.attributes.is_empty();
                if whole || !variants.is_empty() {
                    attributes::write(
                        shop.client,
                        shop.credential,
                        field,
                        &product_id,
                        whole.then_some(&product.attributes),
                        &variants,
                    )
                    .await?;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }
    .await;
    if let Err(err) = made {
        if let ChannelError::Refused { .. } = err {
            // Refused whole: nothing half-made is left behind.
            delete_ids(shop, vec![product_id], true).await?;
            journal.done(intent)?;
        }
        return Err(err);
    }
    journal.done(intent)?;
    let mut result = ItemResult::new(handle.clone(), ItemStatus::Created);
    result.ids = ids;
    Ok(result)
}

async fn add_option_group(
    shop: &Shop<'_>,
    channel: &Channel,
    product_id: &Id,
    handle: &str,
    name: &str,
    values: &[&str],
) -> Result<OptionGroup, ChannelError> {
    let translation = |name: &str| {
        vec![ProductOptionGroupTranslationInput {
            language_code: language(channel),
            name: Some(name.to_string()),
        }]
    };
    let operation = CreateOptionGroup::build(CreateOptionGroupVariables {
        input: CreateProductOptionGroupInput {
            code: format!("{handle}-{}", slug(name)),
            translations: translation(name),
            options: Some(
                values
                    .iter()
                    .map(|value| CreateGroupOptionInput {
                        code: slug(value),
                        translations: translation(value),
                    })
                    .collect(),
            ),
        },
    });
    // A group made twice is an unused group, not a wrong product: the
    // product's journal covers it.
    let group = shop
        .client
        .run::<CreateOptionGroup, _>(
            "createProductOptionGroup",
            shop.credential,
            &operation,
            Replay::NotSafe,
        )
        .await?
        .create_product_option_group;
    let operation = AddOptionGroup::build(AddOptionGroupVariables {
        product_id: product_id.clone(),
        option_group_id: group.id.clone(),
    });
    shop.client
        .run::<AddOptionGroup, _>(
            "addOptionGroupToProduct",
            shop.credential,
            &operation,
            Replay::Safe,
        )
        .await?;
    Ok(group)
}

/// The option ids of `variant`'s values in `groups` (one group per product
/// option, in order); a value the group lacks is created in it.
async fn option_ids(
    shop: &Shop<'_>,
    channel: &Channel,
    groups: &mut [OptionGroup],
    variant: &crate::catalog::Variant,
) -> Result<Vec<Id>, ChannelError> {
    let mut ids = Vec::with_capacity(groups.len());
    for (group, value) in groups.iter_mut().zip(&variant.option_values) {
        if let Some(option) = group.options.iter().find(|o| &o.name == value) {
            ids.push(option.id.clone());
            continue;
        }
        let operation = CreateOption::build(CreateOptionVariables {
            input: CreateProductOptionInput {
                product_option_group_id: group.id.clone(),
                code: slug(value),
                translations: vec![ProductOptionGroupTranslationInput {
                    language_code: language(channel),
                    name: Some(value.clone()),
                }],
            },
        });
        let option = shop
            .client
            .run::<CreateOption, _>(
                "createProductOption",
                shop.credential,
                &operation,
                Replay::NotSafe,
            )
            .await?
            .create_product_option;
        ids.push(option.id.clone());
        group.options.push(option);
    }
    Ok(ids)
}

/// Creates `variants` on `product_id` under `intent`, then sets their prices
/// in the channel's other currencies; records the ids in `ids`.
#[allow(clippy::too_many_arguments)]
async fn create_variants(
    shop: &Shop<'_>,
    channel: &Channel,
    product_id: &Id,
    groups: &[OptionGroup],
    variants: Vec<&crate::catalog::Variant>,
    locations: &LocationMap,
    (intent, journal): (IntentId, &dyn Journal),
    ids: &mut PlatformIds,
) -> Result<(), ChannelError> {
    let mut groups = groups.to_vec();
    let default_currency = channel.default_currency_code.as_str().to_string();
    let mut inputs = Vec::with_capacity(variants.len());
    for v in &variants {
        let option_ids = option_ids(shop, channel, &mut groups, v).await?;
        let (stock_on_hand, stock_levels) = mapping::stock_input(v, locations);
        let default_price = v
            .prices
            .iter()
            .find(|p| p.currency().code() == default_currency)
            .expect("checked by mapping::desired");
        inputs.push(CreateProductVariantInput {
            product_id: product_id.clone(),
            sku: v.sku.clone(),
            translations: vec![ProductVariantTranslationInput {
                language_code: language(channel),
                name: Some(v.title.clone()),
            }],
            price: Some(minor(default_price)),
            stock_on_hand,
            stock_levels,
            option_ids: (!option_ids.is_empty()).then_some(option_ids),
            enabled: Some(true),
        });
    }
    let overhead = CreateVariants::build(CreateVariantsVariables { input: vec![] })
        .query
        .len()
        + 64;
    let mut made: HashMap<String, Id> = HashMap::new();
    for chunk in split(inputs, overhead) {
        let operation = CreateVariants::build(CreateVariantsVariables { input: chunk });
        // Not safe to resend: a lost reply may hide made variants; the
        // intent lets the next run find them.
        let reply = shop
            .client
            .run::<CreateVariants, _>(
                "createProductVariants",
                shop.credential,
                &operation,
                Replay::NotSafe,
            )
            .await?;
        crash::point("vendure-variants-created");
        let mut got = PlatformIds::new();
        for v in reply.create_product_variants.into_iter().flatten() {
            got.insert(PlatformIds::VARIANT, &v.sku, v.id.inner());
            shop.memory.keep(PlatformIds::VARIANT, v.id.inner());
            made.insert(v.sku, v.id);
        }
        journal.ids(intent, &got)?;
        ids.extend(&got);
    }
    // The other currencies: an update, safe to resend.
    let mut prices = Vec::new();
    for v in &variants {
        let others: Vec<UpdateProductVariantPriceInput> = v
            .prices
            .iter()
            .filter(|p| p.currency().code() != default_currency)
            .map(|p| UpdateProductVariantPriceInput {
                currency_code: CurrencyCode::new(p.currency().code()),
                price: minor(p),
                delete: None,
            })
            .collect();
        if let (false, Some(id)) = (others.is_empty(), made.get(&v.sku)) {
            prices.push(UpdateProductVariantInput {
                id: id.clone(),
                translations: None,
                price: None,
                prices: Some(others),
                stock_on_hand: None,
                stock_levels: None,
                option_ids: None,
            });
        }
    }
    update_variants(shop, prices).await
}

async fn update_variants(
    shop: &Shop<'_>,
    updates: Vec<UpdateProductVariantInput>,
) -> Result<(), ChannelError> {
    let overhead = UpdateVariants::build(UpdateVariantsVariables { input: vec![] })
        .query
        .len()
        + 64;
    for chunk in split(updates, overhead) {
        let operation = UpdateVariants::build(UpdateVariantsVariables { input: chunk });
        shop.client
            .run::<UpdateVariants, _>(
                "updateProductVariants",
                shop.credential,
                &operation,
                Replay::Safe,
            )
            .await?;
    }
    Ok(())
}

/// Writes what differs between `current` (on Vendure) and the desired
/// product, in the owned fields.
#[allow(clippy::too_many_arguments)]
async fn update(
    shop: &Shop<'_>,
    channel: &Channel,
    prepared: Prepared<'_>,
    current: &WholeProduct,
    item: &ExportItem<'_>,
    desired: &Desired,
    journal: &dyn Journal,
) -> Result<ItemResult, ChannelError> {
    let handle = &item.product.handle;
    let want = &desired.product;
    let keep = |id: &str| shop.memory.is_ours(PlatformIds::VARIANT, id);
    let mut now = match mapping::to_catalog(current, &keep, item.locations, shop.facets) {
        Ok(p) => p,
        Err(bad) => {
            return Ok(error(
                handle,
                format!(
                    "Vendure product {} holds a value the catalog refuses (`{}`: {}): fix it on the shop",
                    current.id.inner(),
                    bad.key,
                    bad.reason
                ),
            ));
        }
    };
    if let Some(stored) = prepared.attributes.get(current.id.inner())
        && let Err(why) = stored.apply(&mut now)
    {
        return Ok(error(
            handle,
            format!(
                "Vendure product {} holds attributes the catalog cannot read ({why}): fix them on the shop",
                current.id.inner()
            ),
        ));
    }
    // Vendure keeps no order of facet values.
    take_order(&mut now.categories, &want.categories);
    take_order(&mut now.tags, &want.tags);
    // Stock at a location the catalog does not name is not compared.
    for v in &mut now.variants {
        if let Some(w) = want.variant(&v.sku) {
            v.stock.retain(|location, _| w.stock.contains_key(location));
        }
    }
    let mut carried = mapping::carried();
    if shop.attributes.is_some() {
        carried = carried.with(Field::Attributes);
    }
    let fields = item
        .fields
        .iter()
        .filter(|f| carried.contains(*f))
        .collect();
    let changes = diff(&now, want, fields);
    let mut wrote = false;

    // The product's own fields; the slug always follows the handle (a
    // product a cut left may carry `handle-2`).
    let title = changes.changes.iter().any(|c| c.field == Field::Title);
    let description = changes
        .changes
        .iter()
        .any(|c| c.field == Field::Description);
    let status = changes.changes.iter().any(|c| c.field == Field::Status);
    let categories = changes.changes.iter().any(|c| c.field == Field::Categories);
    let tags = changes.changes.iter().any(|c| c.field == Field::Tags);
    let facet_value_ids = if categories || tags {
        match prepared
            .links
            .replacing(current, want, shop.facets, categories, tags)
        {
            Ok(ids) => Some(ids),
            Err(why) => return Ok(error(handle, why)),
        }
    } else {
        None
    };
    let asset_ids = if changes.changes.iter().any(|c| c.field == Field::Images) {
        match prepared.images.ids_of(want) {
            Ok(ids) => Some(ids),
            Err(why) => return Ok(error(handle, why)),
        }
    } else {
        None
    };
    let slug_moved = current.slug != *handle;
    if title
        || description
        || slug_moved
        || status
        || facet_value_ids.is_some()
        || asset_ids.is_some()
    {
        let operation = UpdateProduct::build(UpdateProductVariables {
            input: UpdateProductInput {
                id: current.id.clone(),
                enabled: status.then_some(want.status == ProductStatus::Active),
                translations: (title || description || slug_moved).then(|| {
                    vec![ProductTranslationInput {
                        language_code: language(channel),
                        name: title.then(|| want.title.clone()),
                        slug: slug_moved.then(|| handle.clone()),
                        description: description.then(|| want.description.clone()),
                    }]
                }),
                facet_value_ids,
                featured_asset_id: asset_ids.as_ref().and_then(|ids| ids.first().cloned()),
                asset_ids,
            },
        });
        shop.client
            .run::<UpdateProduct, _>("updateProduct", shop.credential, &operation, Replay::Safe)
            .await?;
        wrote = true;
    }

    let mut groups: Vec<OptionGroup> = current.option_groups.clone();
    groups.sort_by_key(|g| id_order(g.id.inner()));
    let group_names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    if group_names != want.options {
        if !now.variants.is_empty() {
            return Ok(error(
                handle,
                format!(
                    "options differ: Vendure product {} has [{}], the catalog [{}]; Vendure cannot change the option groups of a product that has variants: change them on the shop",
                    current.id.inner(),
                    group_names.join(", "),
                    want.options.join(", ")
                ),
            ));
        }
        // A product a cut left without variants gets its groups now.
        for (index, name) in want.options.iter().enumerate().skip(groups.len()) {
            let mut values: Vec<&str> = Vec::new();
            for v in &want.variants {
                if !values.contains(&v.option_values[index].as_str()) {
                    values.push(&v.option_values[index]);
                }
            }
            groups.push(add_option_group(shop, channel, &current.id, handle, name, &values).await?);
        }
        wrote = true;
    }

    let mut ids = PlatformIds::new();
    ids.insert(PlatformIds::PRODUCT, handle, current.id.inner());
    shop.memory.keep(PlatformIds::PRODUCT, current.id.inner());
    let mut added = Vec::new();
    let mut updates = Vec::new();
    let mut removed = Vec::new();
    let default_currency = channel.default_currency_code.as_str();
    for change in &changes.variants {
        match change {
            VariantDiff::Added { sku } => added.push(want.variant(sku).expect("in want")),
            VariantDiff::Removed { sku } => {
                // Only a variant the tool exported is the tool's to delete.
                if item.known.variant(sku).is_some() {
                    removed.push(sku.clone());
                }
            }
            VariantDiff::Changed { sku, changes } => {
                let (old, new) = (
                    now.variant(sku).expect("in now"),
                    want.variant(sku).expect("in want"),
                );
                let id = Id::new(old.id.clone().expect("read from Vendure"));
                let has = |field: Field| changes.iter().any(|c| c.field == field);
                let mut prices = None;
                let mut price = None;
                if has(Field::Prices) {
                    let mut list = Vec::new();
                    for p in new.prices.iter() {
                        if old.prices.get(p.currency()).map(|o| o.minor_units())
                            == Some(p.minor_units())
                        {
                            continue;
                        }
                        if p.currency().code() == default_currency {
                            price = Some(minor(p));
                        } else {
                            list.push(UpdateProductVariantPriceInput {
                                currency_code: CurrencyCode::new(p.currency().code()),
                                price: minor(p),
                                delete: None,
                            });
                        }
                    }
                    for p in old.prices.iter() {
                        if new.prices.get(p.currency()).is_none() {
                            list.push(UpdateProductVariantPriceInput {
                                currency_code: CurrencyCode::new(p.currency().code()),
                                price: minor(p),
                                delete: Some(true),
                            });
                        }
                    }
                    prices = (!list.is_empty()).then_some(list);
                }
                let (stock_on_hand, stock_levels) = if has(Field::Stock) {
                    mapping::stock_input(new, item.locations)
                } else {
                    (None, None)
                };
                let option_ids = if has(Field::Options) {
                    Some(option_ids(shop, channel, &mut groups, new).await?)
                } else {
                    None
                };
                updates.push(UpdateProductVariantInput {
                    id,
                    translations: has(Field::Title).then(|| {
                        vec![ProductVariantTranslationInput {
                            language_code: language(channel),
                            name: Some(new.title.clone()),
                        }]
                    }),
                    price,
                    prices,
                    stock_on_hand,
                    stock_levels,
                    option_ids,
                });
            }
        }
    }
    for v in &now.variants {
        if want.variant(&v.sku).is_some()
            && let Some(id) = &v.id
        {
            ids.insert(PlatformIds::VARIANT, &v.sku, id.clone());
            shop.memory.keep(PlatformIds::VARIANT, id);
        }
    }
    if !updates.is_empty() {
        update_variants(shop, updates).await?;
        wrote = true;
    }
    if !removed.is_empty() {
        let doomed: Vec<Id> = removed
            .iter()
            .filter_map(|sku| now.variant(sku).and_then(|v| v.id.clone()))
            .map(Id::new)
            .collect();
        delete_ids(shop, doomed, false).await?;
        wrote = true;
    }
    if !added.is_empty() {
        let skus: Vec<String> = added.iter().map(|v| v.sku.clone()).collect();
        let intent = journal.intent(handle, "create-variants", &skus)?;
        journal.ids(intent, &ids)?;
        create_variants(
            shop,
            channel,
            &current.id,
            &groups,
            added,
            item.locations,
            (intent, journal),
            &mut ids,
        )
        .await?;
        journal.done(intent)?;
        wrote = true;
    }
    if let Some(field) = shop.attributes {
        let product_changed = changes.changes.iter().any(|c| c.field == Field::Attributes);
        let mut variants: Vec<(Id, &attributes::Attributes)> = Vec::new();
        for change in &changes.variants {
            let sku = match change {
                VariantDiff::Changed { sku, changes }
                    if changes.iter().any(|c| c.field == Field::Attributes) =>
                {
                    sku
                }
                VariantDiff::Added { sku } => sku,
                _ => continue,
            };
            let wanted = &want.variant(sku).expect("in want").attributes;
            if let Some(id) = ids.variant(sku)
                && !(wanted.is_empty() && matches!(change, VariantDiff::Added { .. }))
            {
                variants.push((Id::new(id), wanted));
            }
        }
        if product_changed || !variants.is_empty() {
            attributes::write(
                shop.client,
                shop.credential,
                field,
                &current.id,
                product_changed.then_some(&want.attributes),
                &variants,
            )
            .await?;
            wrote = true;
        }
    }
    let mut result = ItemResult::new(
        handle.clone(),
        if wrote {
            ItemStatus::Updated
        } else {
            ItemStatus::Unchanged
        },
    );
    result.ids = ids;
    Ok(result)
}

/// Deletes what a [`Deletion`] names: the product the store knows, or the
/// variants holding its SKUs on it; a product left without variants goes
/// too.
async fn delete(
    shop: &Shop<'_>,
    found: &Found,
    deletion: &Deletion,
) -> Result<ItemResult, ChannelError> {
    let handle = &deletion.handle;
    let product = deletion
        .known
        .product(handle)
        .and_then(|id| found.by_id.get(id))
        .or_else(|| {
            deletion
                .skus
                .iter()
                .filter_map(|sku| found.holders.get(sku)?.first())
                .find_map(|h| found.by_id.get(h.product_id.inner()))
        });
    let Some(product) = product else {
        // Gone already.
        return Ok(ItemResult::new(handle.clone(), ItemStatus::Deleted));
    };
    let doomed: Vec<Id> = product
        .variants
        .iter()
        .filter(|v| deletion.skus.contains(&v.sku))
        .map(|v| v.id.clone())
        .collect();
    let whole = deletion.whole_product || doomed.len() == product.variants.len();
    let outcome = if whole {
        delete_ids(shop, vec![product.id.clone()], true).await
    } else {
        delete_ids(shop, doomed, false).await
    };
    Ok(match outcome {
        Ok(()) => ItemResult::new(handle.clone(), ItemStatus::Deleted),
        Err(ChannelError::Refused { message, .. }) => error(handle, message),
        Err(other) => return Err(other),
    })
}

async fn delete_ids(
    shop: &Shop<'_>,
    ids: Vec<Id>,
    whole_products: bool,
) -> Result<(), ChannelError> {
    if ids.is_empty() {
        return Ok(());
    }
    let operation = DeleteVariables { ids };
    let responses = if whole_products {
        let op = DeleteProducts::build(operation);
        shop.client
            .run::<DeleteProducts, _>("deleteProducts", shop.credential, &op, Replay::Safe)
            .await?
            .delete_products
    } else {
        let op = DeleteVariants::build(operation);
        shop.client
            .run::<DeleteVariants, _>("deleteProductVariants", shop.credential, &op, Replay::Safe)
            .await?
            .delete_product_variants
    };
    for response in responses {
        if response.result == DeletionResult::NotDeleted {
            return Err(ChannelError::Refused {
                url: shop.client.shown_url(),
                message: response
                    .message
                    .unwrap_or_else(|| "Vendure did not delete it".into()),
                code: None,
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- reconcile

/// Settles open intents: see the module comment. Per handle: the products
/// made for it since its first intent (slug = the handle or Vendure's
/// `handle-N`, variants all among the intents' SKUs) are the tool's; one is
/// kept (one this run made or chose, else one an intent recorded, else the
/// one with most variants, else the oldest) and the others deleted; of a
/// SKU on several of the tool's variants one is kept the same way; a SKU
/// also held by a variant the tool did not make is a rejection naming all;
/// a kept product left without variants is deleted (the export makes it
/// again whole).
pub async fn reconcile(
    shop: &Shop<'_>,
    open: &[OpenIntent],
) -> Result<Vec<Resolution>, ChannelError> {
    let now = Timestamp::now();
    let mut by_handle: BTreeMap<&str, Vec<&OpenIntent>> = BTreeMap::new();
    for intent in open {
        by_handle.entry(&intent.handle).or_default().push(intent);
        shop.memory
            .open_handles
            .borrow_mut()
            .insert(intent.handle.clone());
    }
    let Some(earliest) = open.iter().map(|i| i.started_at).min() else {
        return Ok(Vec::new());
    };
    let since = earliest.saturating_sub(CLOCK_SLACK).unwrap_or(earliest);
    let mut skus: Vec<String> = open.iter().flat_map(|i| i.skus.iter().cloned()).collect();
    skus.sort();
    skus.dedup();
    let holders = shop.sku_holders(&skus).await?;
    let mut ids: Vec<String> = holders
        .values()
        .flatten()
        .map(|h| h.product_id.inner().to_string())
        .collect();
    ids.extend(
        open.iter()
            .flat_map(|i| i.ids.iter())
            .filter(|(kind, _, _)| *kind == PlatformIds::PRODUCT)
            .map(|(_, _, id)| id.to_string()),
    );
    ids.sort();
    ids.dedup();
    let (channel, mut products) = shop.products_by(ids, Vec::new()).await?;
    let (_, recent) = shop
        .products(ProductFilterParameter {
            created_at: Some(DateOperators {
                between: None,
                after: Some(DateTime(millis(since))),
            }),
            ..Default::default()
        })
        .await?;
    for p in recent {
        if !products.iter().any(|q| q.id == p.id) {
            products.push(p);
        }
    }

    let open_handles: HashSet<&str> = by_handle.keys().copied().collect();
    let mut resolutions = Vec::new();
    for (handle, intents) in &by_handle {
        let handle: &str = handle;
        let first = intents.iter().map(|i| i.started_at).min().expect("one");
        let last = intents.iter().map(|i| i.started_at).max().expect("one");
        let repairable = now.duration_since(last)
            >= SignedDuration::try_from(REPAIR_AFTER).unwrap_or(SignedDuration::MAX);
        let window = first.saturating_sub(CLOCK_SLACK).unwrap_or(first);
        let intent_skus: HashSet<&str> = intents
            .iter()
            .flat_map(|i| i.skus.iter().map(String::as_str))
            .collect();
        let recorded = |kind: &str, id: &str| {
            intents
                .iter()
                .any(|i| i.ids.iter().any(|(k, _, v)| k == kind && v == id))
        };
        let made_since =
            |created: &DateTime| created.0.parse::<Timestamp>().is_ok_and(|t| t >= window);
        // The tool's products for this handle: made in the window, slug
        // the handle's, variants all the intents'.
        let tools: Vec<&WholeProduct> = products
            .iter()
            .filter(|p| {
                recorded(PlatformIds::PRODUCT, p.id.inner())
                    || (made_since(&p.created_at)
                        && slug_of_handle(&p.slug, handle)
                        // `shirt-2` may be a catalog handle of its own.
                        && (p.slug == handle || !open_handles.contains(p.slug.as_str()))
                        && p.variants.iter().all(|v| intent_skus.contains(v.sku.as_str())))
            })
            .collect();
        let keeper = tools.iter().copied().max_by_key(|p| {
            (
                shop.memory.is_ours(PlatformIds::PRODUCT, p.id.inner()),
                recorded(PlatformIds::PRODUCT, p.id.inner()),
                p.variants.len(),
                std::cmp::Reverse(id_order(p.id.inner())),
            )
        });
        let mut resolution = Resolution {
            intent: 0,
            ids: PlatformIds::new(),
            rejections: Vec::new(),
            settled: repairable,
        };
        let mut doomed_products: Vec<Id> = Vec::new();
        let mut doomed_variants: Vec<Id> = Vec::new();
        for p in &tools {
            let is_keeper = keeper.is_some_and(|k| k.id == p.id);
            if !is_keeper && made_since(&p.created_at) {
                doomed_products.push(p.id.clone());
            }
        }
        let on_tool = |product: &Id| tools.iter().any(|p| &p.id == product);
        let mut kept_variants = 0;
        let mut intent_skus_sorted: Vec<&str> = intent_skus.iter().copied().collect();
        intent_skus_sorted.sort();
        for sku in intent_skus_sorted {
            let list = holders.get(sku).map(Vec::as_slice).unwrap_or(&[]);
            let foreign = list
                .iter()
                .any(|h| !(on_tool(&h.product_id) && made_since(&h.created_at)));
            if list.len() > 1 && foreign {
                resolution
                    .rejections
                    .push((sku.to_string(), held_twice(sku, list)));
                continue;
            }
            // The tool's copies on the kept product; those on doomed
            // products go with them.
            let on_keeper: Vec<&SkuHolder> = list
                .iter()
                .filter(|h| keeper.is_some_and(|k| k.id == h.product_id))
                .collect();
            let keep = on_keeper.iter().copied().max_by_key(|h| {
                (
                    shop.memory.is_ours(PlatformIds::VARIANT, h.id.inner()),
                    recorded(PlatformIds::VARIANT, h.id.inner()),
                    std::cmp::Reverse(id_order(h.id.inner())),
                )
            });
            if let Some(keep) = keep {
                kept_variants += 1;
                resolution
                    .ids
                    .insert(PlatformIds::VARIANT, sku, keep.id.inner());
                doomed_variants.extend(
                    on_keeper
                        .iter()
                        .filter(|h| h.id != keep.id)
                        .map(|h| h.id.clone()),
                );
            }
        }
        if let Some(k) = keeper {
            let others = k
                .variants
                .iter()
                .filter(|v| !intent_skus.contains(v.sku.as_str()))
                .count();
            if kept_variants + others == 0 && made_since(&k.created_at) {
                doomed_products.push(k.id.clone());
            } else {
                resolution
                    .ids
                    .insert(PlatformIds::PRODUCT, handle, k.id.inner());
            }
        }
        if repairable {
            let keeper_stays = keeper.filter(|k| !doomed_products.contains(&k.id));
            delete_ids(shop, doomed_products, true).await?;
            delete_ids(shop, doomed_variants, false).await?;
            // A product made while a twin held the slug got `handle-N`;
            // with the twin gone it takes the handle back.
            if let Some(k) = keeper_stays
                && k.slug != handle
            {
                let operation = UpdateProduct::build(UpdateProductVariables {
                    input: UpdateProductInput {
                        id: k.id.clone(),
                        enabled: None,
                        translations: Some(vec![ProductTranslationInput {
                            language_code: language(&channel),
                            name: None,
                            slug: Some(handle.to_string()),
                            description: None,
                        }]),
                        facet_value_ids: None,
                        asset_ids: None,
                        featured_asset_id: None,
                    },
                });
                shop.client
                    .run::<UpdateProduct, _>(
                        "updateProduct",
                        shop.credential,
                        &operation,
                        Replay::Safe,
                    )
                    .await?;
            }
        }
        for intent in intents {
            resolutions.push(Resolution {
                intent: intent.id,
                ..resolution.clone()
            });
        }
    }
    Ok(resolutions)
}

/// Whether `slug` is `handle` or Vendure's `handle-N` for a taken slug.
fn slug_of_handle(slug: &str, handle: &str) -> bool {
    slug == handle
        || slug
            .strip_prefix(handle)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn millis(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// About the largest request `product` needs: the product's create (name,
/// slug, description) or one variant's, with the query text around it.
pub fn request_bytes(product: &Product) -> usize {
    const QUERY_TEXT: usize = 2048;
    let own = product.title.len() + product.handle.len() + product.description.len();
    let variant = product
        .variants
        .iter()
        .map(|v| v.sku.len() + v.title.len() + 64 * (v.prices.len() + v.option_values.len()))
        .max()
        .unwrap_or(0);
    QUERY_TEXT + own.max(variant)
}

/// Cuts `items` into calls of at most [`VARIANTS_PER_CALL`] under
/// [`BODY_BUDGET`].
pub(super) fn split<T: serde::Serialize>(items: Vec<T>, overhead: usize) -> Vec<Vec<T>> {
    split_by_size(items, overhead, BODY_BUDGET)
        .into_iter()
        .flat_map(|mut chunk| {
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

/// Splits `items` into chunks whose JSON, plus `overhead`, stays under
/// `budget`; an item too large alone travels alone.
pub fn split_by_size<T: serde::Serialize>(
    items: Vec<T>,
    overhead: usize,
    budget: usize,
) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut size = overhead;
    for item in items {
        let bytes = serde_json::to_vec(&item).map(|v| v.len()).unwrap_or(0) + 3;
        if !current.is_empty() && size + bytes > budget {
            chunks.push(std::mem::take(&mut current));
            size = overhead;
        }
        size += bytes;
        current.push(item);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendures_renamed_slugs_belong_to_their_handle() {
        assert!(slug_of_handle("tshirt", "tshirt"));
        assert!(slug_of_handle("tshirt-2", "tshirt"));
        assert!(slug_of_handle("tshirt-13", "tshirt"));
        assert!(!slug_of_handle("tshirt-blue", "tshirt"));
        assert!(!slug_of_handle("tshirt-", "tshirt"));
        assert!(!slug_of_handle("tshirts", "tshirt"));
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
        let many: Vec<u32> = (0..60).collect();
        let calls = split(many, 0);
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [25, 25, 10]);
    }

    #[test]
    fn a_long_description_makes_a_large_request() {
        let mut p = crate::catalog::test_data::shirt();
        let small = request_bytes(&p);
        assert!(small < 4096, "{small}");
        p.description = "\u{1D11E}".repeat(50_000);
        assert!(request_bytes(&p) > 200_000);
    }
}
