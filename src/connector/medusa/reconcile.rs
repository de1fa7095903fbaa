//! What an interrupted export left on Medusa, repaired from the write
//! journal's open intents.
//!
//! Medusa keeps live handles and SKUs unique (unique indexes), and makes a
//! product with its variants and their prices in one call, so a create cut
//! anywhere leaves the whole product, nothing, or (a server that died in
//! the middle of its workflow) a product whose variants lack a price or
//! stock, or a product without variants. For each open intent this:
//!
//! - adopts the product and variants it finds by the intent's handle and
//!   SKUs (their ids go to the store);
//! - deletes a product without variants that the tool made (its id was
//!   recorded, or it was created after the intent started): the product is
//!   still pending, so the export that follows creates it whole;
//! - deletes a variant the tool made twice for one SKU (created after the
//!   intent started, not the adopted one), and reports a SKU held twice by
//!   someone else as a rejection naming both ids.
//!
//! A variant that lacks a price or stock is finished by the export that
//! follows: the product is still pending, and its update writes what the
//! diff finds missing.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::export::item_error;
use super::wire::WireProduct;
use super::{ChannelError, Credential, MedusaClient};
use crate::connector::{OpenIntent, PlatformIds, Resolution};

impl MedusaClient {
    /// Repairs and adopts what `open` may have left; one resolution each.
    pub async fn reconcile(
        &self,
        credential: Credential<'_>,
        open: &[OpenIntent],
    ) -> Result<Vec<Resolution>, ChannelError> {
        let handles: BTreeSet<&str> = open.iter().map(|i| i.handle.as_str()).collect();
        let held = self
            .products_by_handle(credential, &handles.into_iter().collect::<Vec<_>>())
            .await?;
        let skus: BTreeSet<&str> = open
            .iter()
            .flat_map(|i| i.skus.iter().map(String::as_str))
            .collect();
        let variants = self
            .find_variants(credential, &skus.into_iter().collect::<Vec<_>>())
            .await?;
        let mut resolutions = Vec::with_capacity(open.len());
        let mut deleted: BTreeSet<String> = BTreeSet::new();
        for intent in open {
            let mut resolution = Resolution {
                intent: intent.id,
                ids: PlatformIds::new(),
                rejections: Vec::new(),
                settled: true,
            };
            if let Some(product) = held.get(&intent.handle) {
                let live = product.variants.iter().filter(|v| v.deleted_at.is_none());
                if live.count() == 0 {
                    if made_by_tool(product, intent) && !deleted.contains(&product.id) {
                        match self.delete_product_ids(credential, &[&product.id]).await? {
                            Ok(()) => {
                                deleted.insert(product.id.clone());
                            }
                            Err(why) => {
                                tracing::warn!(handle = %intent.handle, %why, "a product without variants could not be deleted; the next run tries again");
                                resolution.settled = false;
                            }
                        }
                    }
                } else {
                    resolution
                        .ids
                        .insert(PlatformIds::PRODUCT, &intent.handle, product.id.clone());
                }
            }
            for sku in &intent.skus {
                let found = variants.get(sku).map(Vec::as_slice).unwrap_or_default();
                let adopted = intent.ids.variant(sku).map(str::to_string).or_else(|| {
                    held.get(&intent.handle).and_then(|p| {
                        p.variants
                            .iter()
                            .find(|v| v.deleted_at.is_none() && v.sku() == Some(sku.as_str()))
                            .map(|v| v.id.clone())
                    })
                });
                let adopted = adopted.or_else(|| match found {
                    [only] => Some(only.id.clone()),
                    _ => None,
                });
                if let Some(id) = &adopted
                    && found.iter().any(|v| &v.id == id)
                {
                    resolution.ids.insert(PlatformIds::VARIANT, sku, id.clone());
                }
                if found.len() < 2 {
                    continue;
                }
                let mut others = Vec::new();
                for variant in found.iter().filter(|v| Some(&v.id) != adopted.as_ref()) {
                    let ours = adopted.is_some()
                        && created_since(variant.created_at.as_deref(), intent.started_at);
                    let Some(product_id) = variant.product_id.as_deref().filter(|_| ours) else {
                        others.push(variant.id.as_str());
                        continue;
                    };
                    let path = format!("admin/products/{product_id}/variants/{}", variant.id);
                    match self.delete(&path, credential).await {
                        Ok(()) | Err(ChannelError::Status { status: 404, .. }) => {}
                        Err(err) => {
                            let why = item_error(err)?;
                            tracing::warn!(%sku, %why, "a variant made twice could not be deleted; the next run tries again");
                            resolution.settled = false;
                        }
                    }
                }
                if !others.is_empty() {
                    let mut ids: Vec<&str> = found.iter().map(|v| v.id.as_str()).collect();
                    ids.sort_unstable();
                    resolution.rejections.push((
                        sku.clone(),
                        format!(
                            "held twice on the shop by variants {}: remove all but one in Medusa",
                            ids.join(" and ")
                        ),
                    ));
                }
            }
            resolutions.push(resolution);
        }
        Ok(resolutions)
    }
}

/// Whether the tool made `product` for `intent`: the intent recorded its
/// id, or it was created at or after the intent started.
fn made_by_tool(product: &WireProduct, intent: &OpenIntent) -> bool {
    intent.ids.product(&intent.handle) == Some(product.id.as_str())
        || created_since(product.created_at.as_deref(), intent.started_at)
}

fn created_since(created_at: Option<&str>, started: Timestamp) -> bool {
    created_at
        .and_then(|t| t.parse::<Timestamp>().ok())
        .is_some_and(|t| t >= started)
}
