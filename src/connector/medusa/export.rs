//! Export: whole catalog products to Medusa products, keyed by handle.
//!
//! - A product Medusa does not hold (by handle, nor by any of its SKUs) is
//!   created whole in one call: product, options, variants and their
//!   prices (`POST /admin/products/batch`), then its stock levels. The call
//!   is journalled first (an intent per product) and the ids are recorded
//!   when they come back; a create Medusa refuses because a dead run's
//!   create of the same handle or SKU landed meanwhile (Medusa keeps live
//!   handles and SKUs unique) is looked up again and becomes an update.
//! - A product Medusa holds is read, mapped to a catalog product with the
//!   import's mapping ([`wire::to_catalog`]), diffed against the desired
//!   one in the fields the channel owns, and only what changed is written:
//!   product fields in one batch, variants per product
//!   (`/admin/products/{id}/variants/batch`: updates and deletions, then
//!   journalled creates), stock levels in one batch. A variant without a
//!   price in a currency gets it (the diff shows the price as added).
//! - A variant the store knows the tool exported, and the desired product
//!   lacks, is deleted; a variant the tool never made is left alone.
//! - Deletions remove the variant, or the whole product when all its live
//!   variants go, in batches of [`DELETE_CHUNK`] (Medusa's product deletion
//!   slows sharply with batch size).
//!
//! A request the server refuses (4xx) becomes an error on the products it
//! carried; anything else (401, network, 5xx after retries) fails the call.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::bodies::{create_body, images, metadata, variant_create, variant_update};
use super::import::StoreContext;
use super::options::options_carried;
use super::stock::Levels;
use super::taxonomy::CategoryTree;
use super::wire::{self, Mode, WireProduct, WireVariant};
use super::{ChannelError, Credential, MedusaClient, Replay};
use crate::catalog::{Field, FieldSet, Product, Variant, VariantDiff, diff};
use crate::connector::{ExportItem, ItemResult, ItemStatus as SeamStatus, Journal, PlatformIds};
use crate::crash;
use crate::price::Currency;

/// A 4xx on a request is the items' fault: it becomes their error. Anything
/// else fails the whole call.
pub(super) fn item_error(err: ChannelError) -> Result<String, ChannelError> {
    match err {
        ChannelError::Status {
            status, excerpt, ..
        } if (400..500).contains(&status) && !matches!(status, 408 | 429) => {
            Ok(format!("Medusa refused it (HTTP {status}): {excerpt}"))
        }
        other => Err(other),
    }
}

/// Why nothing is written for a SKU that several live variants hold.
pub(super) fn held_twice(sku: &str, variants: &[WireVariant]) -> String {
    let ids: Vec<&str> = variants.iter().map(|v| v.id.as_str()).collect();
    format!(
        "sku `{sku}` is held twice on the shop ({}): remove all but one in Medusa",
        ids.join(" and ")
    )
}

/// One product of a batch, as the export sees it.
struct Job<'a> {
    item: &'a ExportItem<'a>,
    /// The desired product with only the prices the store can take.
    desired: Product,
    dropped: Vec<Currency>,
}

/// What the export decided for one product.
enum Plan<'w> {
    Create,
    Update(&'w WireProduct),
    Refuse(String),
}

impl MedusaClient {
    /// Writes these products (one batch, unique handles and SKUs) and
    /// returns one result per product, in input order.
    pub async fn export_items(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        items: &[ExportItem<'_>],
        journal: &dyn Journal,
    ) -> Result<Vec<ItemResult>, ChannelError> {
        let jobs: Vec<Job<'_>> = items.iter().map(|item| job(item, ctx)).collect();
        let mut results: HashMap<String, ItemResult> = HashMap::new();

        let handles: Vec<&str> = jobs.iter().map(|j| j.desired.handle.as_str()).collect();
        let held = self.products_by_handle(credential, &handles).await?;
        let mut again: HashMap<String, WireProduct> = HashMap::new();
        let skus: Vec<&str> = jobs.iter().flat_map(|j| j.desired.skus()).collect();
        let variants = self.find_variants(credential, &skus).await?;
        // Products holding a desired SKU under another handle: adopted when
        // they hold no other product's SKUs (a shop owner's product, or one
        // an older release made with the SKU's handle).
        let foreign: BTreeSet<&str> = variants
            .values()
            .flatten()
            .filter_map(|v| v.product_id.as_deref())
            .filter(|id| !held.values().any(|p| p.id == *id))
            .collect();
        let by_id = self
            .products_by_id(credential, &foreign.into_iter().collect::<Vec<_>>())
            .await?;

        let links = self.links(credential, &jobs, &held).await?;

        let mut creates: Vec<&Job<'_>> = Vec::new();
        let mut updates: Vec<(&Job<'_>, &WireProduct)> = Vec::new();
        for job in &jobs {
            let plan = match links.missing(&job.desired) {
                Some(why) => Plan::Refuse(why),
                None => plan(job, &held, &by_id, &variants),
            };
            match plan {
                Plan::Create => creates.push(job),
                Plan::Update(product) => updates.push((job, product)),
                Plan::Refuse(why) => {
                    let result = job.result(SeamStatus::Error(why));
                    results.insert(job.desired.handle.clone(), result);
                }
            }
        }

        // Creates first: one that a dead run's create beat is read again
        // and updated below.
        let refused = self
            .create_products(credential, ctx, &links, &creates, journal, &mut results)
            .await?;
        let mut late: Vec<&Job<'_>> = Vec::new();
        if !refused.is_empty() {
            let handles: Vec<&str> = refused.iter().map(|j| j.desired.handle.as_str()).collect();
            again = self.products_by_handle(credential, &handles).await?;
            for job in refused {
                if again.contains_key(&job.desired.handle) {
                    results.remove(&job.desired.handle);
                    late.push(job);
                }
            }
        }
        for job in late {
            updates.push((job, &again[&job.desired.handle]));
        }
        self.update_products(credential, ctx, &links, &updates, journal, &mut results)
            .await?;

        Ok(jobs
            .iter()
            .map(|job| {
                results.remove(&job.desired.handle).unwrap_or_else(|| {
                    job.result(SeamStatus::Error(
                        "the same handle twice in one batch".into(),
                    ))
                })
            })
            .collect())
    }

    /// Creates these products whole, journalled, then their stock.
    /// Returns the jobs Medusa refused (4xx), whose results say why.
    async fn create_products<'a, 'j>(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        links: &Links,
        creates: &[&'j Job<'a>],
        journal: &dyn Journal,
        results: &mut HashMap<String, ItemResult>,
    ) -> Result<Vec<&'j Job<'a>>, ChannelError> {
        if creates.is_empty() {
            return Ok(Vec::new());
        }
        let mut intents = Vec::with_capacity(creates.len());
        for job in creates {
            let skus: Vec<String> = job.desired.skus().map(str::to_string).collect();
            intents.push(journal.intent(&job.desired.handle, "create-product", &skus)?);
        }
        let bodies: Vec<Value> = creates
            .iter()
            .map(|job| create_body(&job.desired, ctx, links))
            .collect();
        let mut created: Vec<usize> = Vec::new();
        let mut refused = Vec::new();
        // Not safe to resend: a lost reply may hide products Medusa made.
        // An unknown outcome fails the call and leaves the intents open.
        match self
            .post::<serde::de::IgnoredAny>(
                "admin/products/batch",
                &[("fields", "id")],
                credential,
                &json!({ "create": bodies }).to_string(),
                Replay::NotSafe,
            )
            .await
        {
            Ok(_) => created.extend(0..creates.len()),
            Err(err) => {
                item_error(err)?;
                // The batch is all or nothing: one at a time, so one bad
                // product does not block the others.
                for (i, body) in bodies.iter().enumerate() {
                    match self
                        .post::<serde::de::IgnoredAny>(
                            "admin/products/batch",
                            &[("fields", "id")],
                            credential,
                            &json!({ "create": [body] }).to_string(),
                            Replay::NotSafe,
                        )
                        .await
                    {
                        Ok(_) => created.push(i),
                        Err(err) => {
                            let why = item_error(err)?;
                            // Refused: nothing was made.
                            journal.done(intents[i])?;
                            let job = creates[i];
                            results.insert(
                                job.desired.handle.clone(),
                                job.result(SeamStatus::Error(why)),
                            );
                            refused.push(job);
                        }
                    }
                }
            }
        }
        crash::point("medusa-export-created");

        let handles: Vec<&str> = created
            .iter()
            .map(|i| creates[*i].desired.handle.as_str())
            .collect();
        let made = self.products_by_handle(credential, &handles).await?;
        let mut levels = Levels::default();
        let mut stocked = Vec::new();
        for i in created {
            let job = creates[i];
            let Some(product) = made.get(&job.desired.handle) else {
                // Medusa said yes but shows nothing yet: the intent stays
                // open, and the next run adopts or redoes it.
                results.insert(
                    job.desired.handle.clone(),
                    job.result(SeamStatus::Error(
                        "created, but Medusa does not show it yet; the next run checks".into(),
                    )),
                );
                continue;
            };
            let ids = ids_of(product);
            journal.ids(intents[i], &ids)?;
            let mut result = job.result(SeamStatus::Created);
            result.ids = ids;
            for variant in &job.desired.variants {
                let Some(wire) = product
                    .variants
                    .iter()
                    .find(|v| v.sku() == Some(variant.sku.as_str()))
                else {
                    result
                        .variant_errors
                        .push((variant.sku.clone(), "Medusa did not create it".into()));
                    continue;
                };
                if let Err(why) = levels.plan(variant, wire, ctx) {
                    result.variant_errors.push((variant.sku.clone(), why));
                }
            }
            stocked.push((intents[i], result));
        }
        crash::point("medusa-export-looked-up");
        let stock = levels.write(self, credential).await?;
        for (intent, mut result) in stocked {
            if let Err(why) = &stock {
                result.status = SeamStatus::Error(format!("created without stock: {why}"));
            }
            journal.done(intent)?;
            results.insert(result.handle.clone(), result);
        }
        Ok(refused)
    }

    /// Writes what differs between each held product and its desired one.
    async fn update_products(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        links: &Links,
        updates: &[(&Job<'_>, &WireProduct)],
        journal: &dyn Journal,
        results: &mut HashMap<String, ItemResult>,
    ) -> Result<(), ChannelError> {
        let mapping = ctx.mapping(&links.tree);
        let mut product_updates: Vec<(usize, Value)> = Vec::new();
        let mut levels = Levels::default();
        let mut touched: BTreeSet<usize> = BTreeSet::new();
        let mut failed: BTreeMap<usize, String> = BTreeMap::new();
        let mut partial: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
        let mut ids: BTreeMap<usize, PlatformIds> = BTreeMap::new();

        for (n, (job, held)) in updates.iter().enumerate() {
            let levels_before = levels.len();
            let current = match wire::to_catalog(held, &mapping, Mode::Current) {
                Ok((current, _)) => current,
                Err(_) => {
                    failed.insert(n, "Medusa's product could not be read".into());
                    continue;
                }
            };
            let mut desired = job.desired.clone();
            comparable(&mut desired, &current);
            let changes = diff(&current, &desired, job.item.fields);
            ids.insert(n, ids_of(held));
            if changes.is_empty() {
                continue;
            }
            // Product fields, one batch for all products.
            let mut fields = serde_json::Map::new();
            for change in &changes.changes {
                match change.field {
                    Field::Title => {
                        fields.insert("title".into(), json!(desired.title));
                    }
                    Field::Description => {
                        fields.insert("description".into(), json!(desired.description));
                    }
                    Field::Status => {
                        fields.insert("status".into(), json!(wire::status_out(desired.status)));
                    }
                    Field::Attributes => {
                        fields.insert(
                            "metadata".into(),
                            metadata(&current.attributes, &desired.attributes),
                        );
                    }
                    Field::Images => {
                        fields.insert("images".into(), images(&desired));
                    }
                    Field::Categories => {
                        fields.insert("categories".into(), links.categories_of(&desired));
                    }
                    Field::Tags => {
                        fields.insert("tags".into(), links.tags_of(&desired));
                    }
                    Field::Options => {
                        if let Err(why) = options_carried(&current, &desired) {
                            failed.insert(n, why);
                        }
                    }
                    _ => {}
                }
            }
            if failed.contains_key(&n) {
                continue;
            }
            if !fields.is_empty() {
                fields.insert("id".into(), json!(held.id));
                product_updates.push((n, Value::Object(fields)));
            }

            // Variants: updates and deletions in one safe call, creates in
            // a journalled one.
            let mut variant_updates = Vec::new();
            let mut deletes = Vec::new();
            let mut added: Vec<&Variant> = Vec::new();
            // Existing variants given another option value.
            let mut revalued: Vec<&Variant> = Vec::new();
            for change in &changes.variants {
                match change {
                    VariantDiff::Added { sku } => {
                        added.extend(desired.variant(sku));
                    }
                    VariantDiff::Removed { sku } => {
                        // Only what the tool made: the store knows its id.
                        if let Some(id) = job.item.known.variant(sku)
                            && let Some(wire) = live_variant(held, sku)
                            && wire.id == id
                        {
                            deletes.push(wire.id.clone());
                        }
                    }
                    VariantDiff::Changed { sku, changes } => {
                        let (Some(variant), Some(wire)) =
                            (desired.variant(sku), live_variant(held, sku))
                        else {
                            continue;
                        };
                        let owned: FieldSet = changes.iter().map(|c| c.field).collect();
                        if owned.contains(Field::Options) {
                            revalued.push(variant);
                        }
                        if let Some(update) = variant_update(&desired, variant, wire, owned) {
                            variant_updates.push(update);
                        }
                        if owned.contains(Field::Stock)
                            && let Err(why) = levels.plan(variant, wire, ctx)
                        {
                            partial.entry(n).or_default().push((sku.clone(), why));
                        }
                    }
                }
            }
            // The option values new and revalued variants use must exist
            // on the product's options first.
            let valued: Vec<&Variant> = added.iter().chain(&revalued).copied().collect();
            if !valued.is_empty()
                && let Err(why) = self
                    .add_option_values(credential, &desired, held, &valued)
                    .await?
            {
                failed.insert(n, why);
                continue;
            }
            if !variant_updates.is_empty() || !deletes.is_empty() {
                touched.insert(n);
                let body = json!({"update": variant_updates, "delete": deletes}).to_string();
                let path = format!("admin/products/{}/variants/batch", held.id);
                // Sets variants by id and deletes by id: safe to apply twice.
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
                    failed.insert(n, item_error(err)?);
                    continue;
                }
                if !revalued.is_empty()
                    && let Err(why) = self
                        .remove_unused_values(credential, &desired, held)
                        .await?
                {
                    failed.insert(n, why);
                    continue;
                }
            }
            if !added.is_empty() {
                touched.insert(n);
                match self
                    .add_variants(credential, ctx, job, held, &added, journal, &mut levels)
                    .await?
                {
                    Ok((new_ids, errors)) => {
                        ids.entry(n).or_default().extend(&new_ids);
                        partial.entry(n).or_default().extend(errors);
                    }
                    Err(why) => {
                        failed.insert(n, why);
                        continue;
                    }
                }
            }
            if levels.len() > levels_before {
                touched.insert(n);
            }
        }

        if !product_updates.is_empty() {
            touched.extend(product_updates.iter().map(|(n, _)| *n));
            let all: Vec<&Value> = product_updates.iter().map(|(_, v)| v).collect();
            // Sets product fields by id: safe to apply twice.
            if let Err(err) = self
                .post::<serde::de::IgnoredAny>(
                    "admin/products/batch",
                    &[("fields", "id")],
                    credential,
                    &json!({ "update": all }).to_string(),
                    Replay::Safe,
                )
                .await
            {
                item_error(err)?;
                for (n, update) in &product_updates {
                    if let Err(err) = self
                        .post::<serde::de::IgnoredAny>(
                            "admin/products/batch",
                            &[("fields", "id")],
                            credential,
                            &json!({ "update": [update] }).to_string(),
                            Replay::Safe,
                        )
                        .await
                    {
                        failed.insert(*n, item_error(err)?);
                    }
                }
            }
        }
        let stock = levels.write(self, credential).await?;

        for (n, (job, _)) in updates.iter().enumerate() {
            let status = match failed.remove(&n) {
                Some(why) => SeamStatus::Error(why),
                None => match (&stock, touched.contains(&n)) {
                    (Err(why), true) => SeamStatus::Error(format!("stock not written: {why}")),
                    (_, true) => SeamStatus::Updated,
                    (_, false) => SeamStatus::Unchanged,
                },
            };
            let mut result = job.result(status);
            result.ids = ids.remove(&n).unwrap_or_default();
            result.variant_errors = partial.remove(&n).unwrap_or_default();
            results.insert(job.desired.handle.clone(), result);
        }
        Ok(())
    }

    /// Adds variants to a held product (whose options have the values they
    /// need): one journalled create. `Ok(Err(why))` when Medusa refused.
    #[allow(clippy::too_many_arguments)]
    async fn add_variants(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        job: &Job<'_>,
        held: &WireProduct,
        added: &[&Variant],
        journal: &dyn Journal,
        levels: &mut Levels,
    ) -> Result<Result<(PlatformIds, Vec<(String, String)>), String>, ChannelError> {
        let skus: Vec<String> = added.iter().map(|v| v.sku.clone()).collect();
        let intent = journal.intent(&job.desired.handle, "create-variants", &skus)?;
        let creates: Vec<Value> = added
            .iter()
            .map(|v| variant_create(&job.desired, v))
            .collect();
        let path = format!("admin/products/{}/variants/batch", held.id);
        // Not safe to resend: a lost reply may hide variants Medusa made.
        let refused = match self
            .post::<serde::de::IgnoredAny>(
                &path,
                &[("fields", "id")],
                credential,
                &json!({ "create": creates }).to_string(),
                Replay::NotSafe,
            )
            .await
        {
            Ok(_) => None,
            Err(err) => Some(item_error(err)?),
        };
        crash::point("medusa-variants-created");
        let made = self.products_by_id(credential, &[held.id.as_str()]).await?;
        if let Some(why) = refused {
            // Refused because a dead run's create of the same SKUs landed
            // meanwhile (Medusa keeps live SKUs unique): adopt them.
            let landed = made
                .get(&held.id)
                .is_some_and(|p| added.iter().all(|v| live_variant(p, &v.sku).is_some()));
            if !landed {
                journal.done(intent)?;
                return Ok(Err(why));
            }
        }
        let mut ids = PlatformIds::new();
        let mut errors = Vec::new();
        if let Some(product) = made.get(&held.id) {
            ids = ids_of(product);
            journal.ids(intent, &ids)?;
            for variant in added {
                match live_variant(product, &variant.sku) {
                    Some(wire) => {
                        if let Err(why) = levels.plan(variant, wire, ctx) {
                            errors.push((variant.sku.clone(), why));
                        }
                    }
                    None => errors.push((variant.sku.clone(), "Medusa did not create it".into())),
                }
            }
        }
        journal.done(intent)?;
        Ok(Ok((ids, errors)))
    }
}

impl Job<'_> {
    fn result(&self, status: SeamStatus) -> ItemResult {
        let mut result = ItemResult::new(self.desired.handle.clone(), status);
        result.dropped_currencies = self.dropped.clone();
        result
    }
}

/// The desired product with the prices the store takes; the others are
/// left out and reported.
fn job<'a>(item: &'a ExportItem<'a>, ctx: &StoreContext) -> Job<'a> {
    let mut desired = item.product.clone();
    let mut dropped = BTreeSet::new();
    for variant in &mut desired.variants {
        variant.prices.retain(|price| {
            let takes = ctx
                .currencies
                .contains_key(&price.currency().code().to_ascii_lowercase());
            if !takes {
                dropped.insert(price.currency());
            }
            takes
        });
    }
    Job {
        item,
        desired,
        dropped: dropped.into_iter().collect(),
    }
}

/// Create, update (which product), or refuse, by what the shop holds.
fn plan<'w>(
    job: &Job<'_>,
    held: &'w HashMap<String, WireProduct>,
    by_id: &'w HashMap<String, WireProduct>,
    variants: &HashMap<String, Vec<WireVariant>>,
) -> Plan<'w> {
    let desired = &job.desired;
    if desired.variants.iter().any(|v| v.prices.is_empty()) {
        return Plan::Refuse(
            "a variant has no price in a currency the Medusa store takes: add one of its currencies to the store, or a price in one of the store's".into(),
        );
    }
    let mut owners: BTreeSet<&str> = BTreeSet::new();
    for sku in desired.skus() {
        match variants.get(sku).map(Vec::as_slice) {
            None | Some([]) => {}
            Some([one]) => owners.extend(one.product_id.as_deref()),
            Some(many) => return Plan::Refuse(held_twice(sku, many)),
        }
    }
    let product = match held.get(&desired.handle) {
        Some(product) => product,
        None => match owners.iter().collect::<Vec<_>>().as_slice() {
            [] => return Plan::Create,
            [one] => match by_id.get(**one) {
                Some(product) => product,
                None => {
                    return Plan::Refuse("the product holding its SKUs could not be read".into());
                }
            },
            _ => {
                return Plan::Refuse(format!(
                    "its SKUs are on {} different Medusa products ({}): merge them in Medusa",
                    owners.len(),
                    owners.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
        },
    };
    if let Some(other) = owners.iter().find(|id| **id != product.id) {
        let sku = desired
            .skus()
            .find(|sku| {
                variants
                    .get(*sku)
                    .is_some_and(|v| v.iter().any(|v| v.product_id.as_deref() == Some(*other)))
            })
            .unwrap_or_default();
        return Plan::Refuse(format!(
            "sku `{sku}` is on another Medusa product ({other}) than the one with handle `{}` ({})",
            desired.handle, product.id
        ));
    }
    Plan::Update(product)
}

/// The product's id and its live variants' ids.
fn ids_of(product: &WireProduct) -> PlatformIds {
    let mut ids = PlatformIds::new();
    if let Some(handle) = &product.handle {
        ids.insert(PlatformIds::PRODUCT, handle, product.id.clone());
    }
    for variant in product.variants.iter().filter(|v| v.deleted_at.is_none()) {
        if let Some(sku) = variant.sku() {
            ids.insert(PlatformIds::VARIANT, sku, variant.id.clone());
        }
    }
    ids
}

fn live_variant<'w>(product: &'w WireProduct, sku: &str) -> Option<&'w WireVariant> {
    product
        .variants
        .iter()
        .find(|v| v.deleted_at.is_none() && v.sku() == Some(sku))
}

/// Makes `desired` comparable with what Medusa can hold: a variant title
/// equal to the product's is the product's (""), image alt texts are not
/// carried, option order follows the shop's when it is the same set, and
/// so does the order of categories and tags (Medusa keeps none).
fn comparable(desired: &mut Product, current: &Product) {
    for variant in &mut desired.variants {
        if variant.title == desired.title {
            variant.title.clear();
        }
    }
    for image in &mut desired.images {
        image.alt.clear();
    }
    if same_set(&desired.options, &current.options)
        && desired.options.len() == current.options.len()
        && desired.options != current.options
    {
        let order: Vec<usize> = current
            .options
            .iter()
            .map(|name| {
                desired
                    .options
                    .iter()
                    .position(|o| o == name)
                    .expect("same set")
            })
            .collect();
        desired.options = current.options.clone();
        for variant in &mut desired.variants {
            let values = std::mem::take(&mut variant.option_values);
            variant.option_values = order
                .iter()
                .map(|i| values.get(*i).cloned().unwrap_or_default())
                .collect();
        }
    }
    // Medusa keeps no order of categories or tags.
    desired.follow_unordered(current);
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let a: BTreeSet<&String> = a.iter().collect();
    let b: BTreeSet<&String> = b.iter().collect();
    a == b
}

/// The categories and tags a batch links its products to, by path and by
/// value, found or created before the products are written.
pub(super) struct Links {
    tree: CategoryTree,
    categories: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    /// Why some could not be made: the products using them are refused.
    failed: Option<String>,
}

impl Links {
    fn missing(&self, product: &Product) -> Option<String> {
        let lacks = product
            .categories
            .iter()
            .any(|c| !self.categories.contains_key(c))
            || product.tags.iter().any(|t| !self.tags.contains_key(t));
        lacks.then(|| {
            self.failed
                .clone()
                .unwrap_or_else(|| "its categories or tags could not be made".into())
        })
    }

    pub(super) fn categories_of(&self, product: &Product) -> Value {
        Value::Array(
            product
                .categories
                .iter()
                .filter_map(|c| self.categories.get(c))
                .map(|id| json!({ "id": id }))
                .collect(),
        )
    }

    pub(super) fn tags_of(&self, product: &Product) -> Value {
        Value::Array(
            product
                .tags
                .iter()
                .filter_map(|t| self.tags.get(t))
                .map(|id| json!({ "id": id }))
                .collect(),
        )
    }
}

impl MedusaClient {
    /// Finds (or creates) the categories and tags these products use; the
    /// category tree also names the held products' categories.
    async fn links(
        &self,
        credential: Credential<'_>,
        jobs: &[Job<'_>],
        held: &HashMap<String, WireProduct>,
    ) -> Result<Links, ChannelError> {
        let paths: BTreeSet<&str> = jobs
            .iter()
            .flat_map(|j| j.desired.categories.iter().map(String::as_str))
            .collect();
        let values: BTreeSet<&str> = jobs
            .iter()
            .flat_map(|j| j.desired.tags.iter().map(String::as_str))
            .collect();
        let any_held = held.values().any(|p| !p.categories.is_empty());
        let mut links = Links {
            tree: CategoryTree::default(),
            categories: BTreeMap::new(),
            tags: BTreeMap::new(),
            failed: None,
        };
        if !paths.is_empty() || any_held {
            links.tree = self.category_tree(credential).await?;
        }
        if !paths.is_empty() {
            match self
                .category_ids(credential, &mut links.tree, &paths)
                .await?
            {
                Ok(ids) => links.categories = ids,
                Err(why) => links.failed = Some(why),
            }
        }
        if !values.is_empty() {
            match self.tag_ids(credential, &values).await? {
                Ok(ids) => links.tags = ids,
                Err(why) => links.failed = Some(why),
            }
        }
        Ok(links)
    }
}
