//! The seam for connectors that carry one variant per catalog product, as
//! all did before products had variants (Vendure and Medusa, for now): a
//! batch of whole products becomes flat products and SKUs to delete, and
//! their per-SKU outcomes become per-handle results. A product that a flat
//! product cannot hold (more variants, options, a description, ...), or an
//! export that owns only some fields, is refused for its handle, saying
//! what is not yet carried.

use std::collections::HashMap;

use super::{ExportBatch, ItemResult, ItemStatus};
use crate::catalog::FlatProduct;

/// A batch as a flat connector sends it.
pub(crate) struct Flattened {
    /// The products it carries, in the batch's order.
    pub upserts: Vec<FlatProduct>,
    /// The SKUs to delete.
    pub deletions: Vec<String>,
    /// sku -> handle, for each upsert and deletion.
    upsert_handles: HashMap<String, String>,
    deletion_handles: Vec<(String, Vec<String>)>,
    /// Items refused before sending.
    refused: Vec<ItemResult>,
}

impl Flattened {
    /// `platform` names the connector in refusals ("Vendure").
    pub(crate) fn new(batch: &ExportBatch<'_>, platform: &str) -> Flattened {
        let mut flat = Flattened {
            upserts: Vec::with_capacity(batch.items.len()),
            deletions: Vec::new(),
            upsert_handles: HashMap::with_capacity(batch.items.len()),
            deletion_handles: Vec::new(),
            refused: Vec::new(),
        };
        for item in &batch.items {
            let handle = &item.product.handle;
            let refuse = |what: String| {
                ItemResult::new(
                    handle.clone(),
                    ItemStatus::Error(format!(
                        "not yet carried by the {platform} connector: {what}"
                    )),
                )
            };
            if !item.fields.is_all() {
                flat.refused.push(refuse(format!(
                    "`export-fields` ({}): it writes title, prices and stock whenever they differ",
                    item.fields
                )));
                continue;
            }
            match item.product.as_flat() {
                Ok(product) => {
                    flat.upsert_handles
                        .insert(product.sku.clone(), handle.clone());
                    flat.upserts.push(product);
                }
                Err(beyond) => flat.refused.push(refuse(beyond.join(", "))),
            }
        }
        for deletion in &batch.deletions {
            flat.deletions.extend(deletion.skus.iter().cloned());
            flat.deletion_handles
                .push((deletion.handle.clone(), deletion.skus.clone()));
        }
        flat
    }

    /// One result per handle, from the connector's outcome per SKU
    /// (`None` for a SKU it did not answer). A deletion of several SKUs is
    /// deleted when all are, else the first error.
    pub(crate) fn into_results(
        self,
        outcomes: impl IntoIterator<Item = (String, ItemStatus)>,
    ) -> Vec<ItemResult> {
        let mut by_sku: HashMap<String, ItemStatus> = outcomes.into_iter().collect();
        let mut results = self.refused;
        let unanswered = || ItemStatus::Error("the channel did not answer for this item".into());
        for product in &self.upserts {
            let handle = self.upsert_handles[&product.sku].clone();
            let status = by_sku.remove(&product.sku).unwrap_or_else(unanswered);
            results.push(ItemResult::new(handle, status));
        }
        for (handle, skus) in self.deletion_handles {
            let mut status = ItemStatus::Deleted;
            for sku in &skus {
                match by_sku.remove(sku).unwrap_or_else(unanswered) {
                    ItemStatus::Deleted => {}
                    ItemStatus::Error(why) => {
                        status = ItemStatus::Error(format!("variant `{sku}`: {why}"));
                        break;
                    }
                    other => {
                        status = ItemStatus::Error(format!(
                            "variant `{sku}`: the channel answered `{}` to a deletion",
                            other.as_str()
                        ));
                        break;
                    }
                }
            }
            results.push(ItemResult::new(handle, status));
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_data::shirt;
    use crate::catalog::{FieldSet, derive_handle};
    use crate::connector::{Deletion, ExportItem, LocationMap, PlatformIds};
    use crate::price::Price;

    fn flat(sku: &str) -> crate::catalog::Product {
        FlatProduct {
            sku: sku.into(),
            title: "Mug".into(),
            price: Price::parse("1", "EUR").unwrap(),
            quantity: 1,
            attributes: Default::default(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: None,
        }
        .into_product()
    }

    #[test]
    fn one_variant_products_go_flat_and_the_rest_is_refused_by_handle() {
        let (mug, shirt) = (flat("MUG"), shirt());
        let (known, locations) = (PlatformIds::default(), LocationMap::new());
        let item = |product, fields| ExportItem {
            product,
            fields,
            known: &known,
            locations: &locations,
        };
        let batch = ExportBatch {
            items: vec![
                item(&mug, FieldSet::ALL),
                item(&shirt, FieldSet::ALL),
                item(&mug, FieldSet::parse(&["prices"]).unwrap()),
            ],
            deletions: vec![Deletion {
                handle: "gone".into(),
                known: PlatformIds::default(),
                whole_product: true,
                skus: vec!["G-1".into(), "G-2".into()],
            }],
        };
        let flattened = Flattened::new(&batch, "Vendure");
        assert_eq!(flattened.upserts.len(), 1);
        assert_eq!(flattened.deletions, ["G-1", "G-2"]);
        let results = flattened.into_results([
            ("MUG".to_string(), ItemStatus::Created),
            ("G-1".to_string(), ItemStatus::Deleted),
            ("G-2".to_string(), ItemStatus::Error("locked".into())),
        ]);
        let shown: Vec<(String, String)> = results
            .iter()
            .map(|r| {
                let text = match &r.status {
                    ItemStatus::Error(e) => e.clone(),
                    other => other.as_str().to_string(),
                };
                (r.handle.clone(), text)
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("tshirt".to_string(), "not yet carried by the Vendure connector: 3 variants".to_string()),
                (
                    derive_handle("MUG"),
                    "not yet carried by the Vendure connector: `export-fields` (prices): it writes title, prices and stock whenever they differ".to_string()
                ),
                (derive_handle("MUG"), "created".to_string()),
                ("gone".to_string(), "variant `G-2`: locked".to_string()),
            ]
        );
    }
}
