//! Look-ups on Medusa: live variants by SKU, live products by handle or id,
//! read whole (with [`wire::PRODUCT_FIELDS`]); for export, deletions and
//! reconcile.

use std::collections::HashMap;

use serde::Deserialize;

use super::wire::{self, WireProduct, WireVariant};
use super::{ChannelError, Credential, MedusaClient};

/// Handles, ids or SKUs looked up per request (keeps the query string short).
const LOOKUP_CHUNK: usize = 50;

#[derive(Deserialize)]
struct VariantList {
    variants: Vec<WireVariant>,
}

const VARIANT_FIELDS: &str = "id,sku,product_id,created_at";

impl MedusaClient {
    /// The live variants with these SKUs, by SKU (more than one for a SKU
    /// only on a store whose unique index on SKUs was removed).
    pub(super) async fn find_variants(
        &self,
        credential: Credential<'_>,
        skus: &[&str],
    ) -> Result<HashMap<String, Vec<WireVariant>>, ChannelError> {
        let mut found: HashMap<String, Vec<WireVariant>> = HashMap::new();
        for chunk in skus.chunks(LOOKUP_CHUNK) {
            let mut query: Vec<(&str, &str)> = chunk.iter().map(|s| ("sku[]", *s)).collect();
            // Twice the count still shows a SKU held twice.
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

    /// Live products with these handles, whole, by handle.
    pub(super) async fn products_by_handle(
        &self,
        credential: Credential<'_>,
        handles: &[&str],
    ) -> Result<HashMap<String, WireProduct>, ChannelError> {
        let products = self.products_where(credential, "handle[]", handles).await?;
        Ok(products
            .into_iter()
            .filter_map(|p| Some((p.handle.clone()?, p)))
            .collect())
    }

    /// Live products with these ids, whole, by id.
    pub(super) async fn products_by_id(
        &self,
        credential: Credential<'_>,
        ids: &[&str],
    ) -> Result<HashMap<String, WireProduct>, ChannelError> {
        let products = self.products_where(credential, "id[]", ids).await?;
        Ok(products.into_iter().map(|p| (p.id.clone(), p)).collect())
    }

    async fn products_where(
        &self,
        credential: Credential<'_>,
        key: &str,
        values: &[&str],
    ) -> Result<Vec<WireProduct>, ChannelError> {
        let mut all = Vec::new();
        for chunk in values.chunks(LOOKUP_CHUNK) {
            let mut query: Vec<(&str, &str)> = chunk.iter().map(|v| (key, *v)).collect();
            let limit = chunk.len().to_string();
            query.push(("limit", &limit));
            query.push(("fields", wire::PRODUCT_FIELDS));
            let list: wire::ProductList = self.get("admin/products", &query, credential).await?;
            all.extend(list.products);
        }
        Ok(all)
    }
}
