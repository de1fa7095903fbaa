//! Deletions on Medusa: the variants of a deletion's SKUs, or the whole
//! product when all its live variants go, in batches of [`DELETE_CHUNK`]
//! (Medusa's product deletion slows sharply with batch size).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use super::export::item_error;
use super::{ChannelError, Credential, MedusaClient, Replay};

/// Products deleted per request.
pub const DELETE_CHUNK: usize = 10;

/// What became of one SKU of a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemStatus {
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
    fn deleted(sku: &str) -> ItemOutcome {
        ItemOutcome {
            sku: sku.to_string(),
            status: ItemStatus::Deleted,
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

impl MedusaClient {
    /// Deletes the variants with these SKUs (the whole product when all its
    /// live variants go). A SKU no live variant has counts as deleted.
    pub async fn delete_products(
        &self,
        credential: Credential<'_>,
        skus: &[String],
    ) -> Result<Vec<ItemOutcome>, ChannelError> {
        let wanted: Vec<&str> = skus.iter().map(String::as_str).collect();
        let existing = self.find_variants(credential, &wanted).await?;
        let product_ids: BTreeSet<&str> = existing
            .values()
            .flatten()
            .filter_map(|v| v.product_id.as_deref())
            .collect();
        let shapes = self
            .products_by_id(credential, &product_ids.into_iter().collect::<Vec<_>>())
            .await?;
        let doomed: BTreeSet<&str> = existing.values().flatten().map(|v| v.id.as_str()).collect();
        let mut outcomes: HashMap<&str, ItemOutcome> = HashMap::new();
        // Whole products: every live variant of theirs is deleted.
        let mut whole: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut single: Vec<(&str, &str, &str)> = Vec::new();
        for sku in &wanted {
            let Some(variants) = existing.get(*sku).filter(|v| !v.is_empty()) else {
                outcomes.insert(sku, ItemOutcome::deleted(sku));
                continue;
            };
            for variant in variants {
                let product_id = variant.product_id.as_deref().unwrap_or_default();
                let all_go = shapes.get(product_id).is_some_and(|shape| {
                    shape
                        .variants
                        .iter()
                        .filter(|v| v.deleted_at.is_none())
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
            let error = self.delete_product_ids(credential, &ids).await?.err();
            for sku in chunk.iter().flat_map(|(_, skus)| skus) {
                let outcome = match &error {
                    None => ItemOutcome::deleted(sku),
                    Some(why) => ItemOutcome::error(sku, why.clone()),
                };
                outcomes.insert(sku, outcome);
            }
        }
        for (sku, product_id, variant_id) in single {
            let path = format!("admin/products/{product_id}/variants/{variant_id}");
            let outcome = match self.delete(&path, credential).await {
                Ok(()) => ItemOutcome::deleted(sku),
                Err(ChannelError::Status { status: 404, .. }) => ItemOutcome::deleted(sku),
                Err(err) => ItemOutcome::error(sku, item_error(err)?),
            };
            outcomes.insert(sku, outcome);
        }
        Ok(wanted
            .iter()
            .map(|sku| {
                outcomes
                    .remove(sku)
                    .unwrap_or_else(|| ItemOutcome::deleted(sku))
            })
            .collect())
    }

    /// Deletes products by id (one batch); `Ok(Err(why))` when refused.
    pub(super) async fn delete_product_ids(
        &self,
        credential: Credential<'_>,
        ids: &[&str],
    ) -> Result<Result<(), String>, ChannelError> {
        if ids.is_empty() {
            return Ok(Ok(()));
        }
        // Deleting by id twice deletes once.
        match self
            .post::<serde::de::IgnoredAny>(
                "admin/products/batch",
                &[],
                credential,
                &json!({ "delete": ids }).to_string(),
                Replay::Safe,
            )
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => item_error(err).map(Err),
        }
    }
}
