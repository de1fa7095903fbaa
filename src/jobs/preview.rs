//! What a channel's next export would do, from the store alone, with no
//! request (`run-once --dry-run --diff`): the products it would create, the
//! fields it would change on the ones the channel holds (old -> new, from
//! the product as the channel last accepted it, restricted to the fields
//! the channel owns), and what it would delete.

use serde::Serialize;

use crate::catalog::{FieldSet, Product, ProductDiff, diff};
use crate::store::{PendingDeletion, Store, Tx};

/// Rows read per query; the preview holds them all, like the report it feeds.
const PAGE: usize = 500;

#[derive(Clone, Debug, Default, Serialize)]
pub struct ExportPreview {
    pub channel: String,
    pub create: Vec<Created>,
    pub update: Vec<ProductDiff>,
    pub delete: Vec<Deleted>,
}

/// A product the channel does not hold yet, sent whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Created {
    pub handle: String,
    pub skus: Vec<String>,
}

/// A product (or some of its variants) the channel is owed the deletion of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deleted {
    pub handle: String,
    pub whole_product: bool,
    pub skus: Vec<String>,
}

impl ExportPreview {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// What the next export of `channel` would send: every pending product (not
/// quarantined) and every owed deletion, as the export job reads them.
pub fn preview(
    store: &Store,
    channel: &str,
    fields: FieldSet,
    quarantine_after: u32,
) -> crate::store::Result<ExportPreview> {
    store.read(|tx| {
        let mut preview = ExportPreview {
            channel: channel.to_string(),
            ..ExportPreview::default()
        };
        let mut after: Option<String> = None;
        loop {
            let page = tx.pending_exports(channel, after.as_deref(), PAGE, quarantine_after)?;
            let Some(last) = page.last() else { break };
            after = Some(last.product.handle.clone());
            for pending in page {
                let held = tx.exported_product(channel, &pending.product.handle)?;
                preview.add(held.as_ref(), &pending.product, fields);
            }
        }
        preview.delete = owed_deletions(tx, channel)?
            .into_iter()
            .map(|d| Deleted {
                handle: d.handle,
                whole_product: d.whole_product,
                skus: d.skus,
            })
            .collect();
        Ok(preview)
    })
}

impl ExportPreview {
    /// One pending product: a create when the channel holds none of it, an
    /// update of the owned fields that differ, nothing when none does (an
    /// export would find it unchanged).
    fn add(&mut self, held: Option<&Product>, desired: &Product, fields: FieldSet) {
        match held {
            None => self.create.push(Created {
                handle: desired.handle.clone(),
                skus: desired.skus().map(str::to_string).collect(),
            }),
            Some(held) => {
                let changes = diff(held, desired, fields);
                if !changes.is_empty() {
                    self.update.push(changes);
                }
            }
        }
    }
}

fn owed_deletions(tx: &Tx<'_>, channel: &str) -> crate::store::Result<Vec<PendingDeletion>> {
    let mut owed = Vec::new();
    for variants in [false, true] {
        let mut after: Option<String> = None;
        loop {
            let page = tx.pending_deletions(channel, after.as_deref(), PAGE, variants)?;
            let Some(last) = page.last() else { break };
            after = Some(last.handle.clone());
            owed.extend(page);
        }
    }
    Ok(owed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_data::shirt;
    use crate::catalog::{Field, VariantDiff};

    #[test]
    fn a_product_the_channel_lacks_is_a_create_and_one_it_holds_an_update_of_owned_fields() {
        let mut preview = ExportPreview::default();
        let desired = shirt();
        preview.add(None, &desired, FieldSet::ALL);
        assert_eq!(preview.create[0].handle, desired.handle);
        assert_eq!(preview.create[0].skus.len(), desired.variants.len());

        let mut held = desired.clone();
        held.description = "old words".into();
        let sku = held.variants[0].sku.clone();
        let currency = held.variants[0].prices.currencies().next().unwrap();
        held.variants[0].prices.remove(currency);
        preview.add(Some(&held), &desired, FieldSet::ALL);
        let update = &preview.update[0];
        assert_eq!(update.changes[0].path, "description");
        assert!(
            update.variants.iter().any(
                |v| matches!(v, VariantDiff::Changed { sku: s, changes } if *s == sku
                    && changes.iter().any(|c| c.field == Field::Prices))
            ),
            "{update:?}"
        );

        // A channel that owns only prices sees no description change, and a
        // product whose owned fields match is left out.
        let mut preview = ExportPreview::default();
        let prices_only = FieldSet::parse(&["prices"]).unwrap();
        held.variants[0].prices = desired.variants[0].prices.clone();
        preview.add(Some(&held), &desired, prices_only);
        assert!(preview.is_empty(), "{preview:?}");
    }
}
