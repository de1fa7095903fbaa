//! Look-ups on Medusa: live variants by SKU, live products by handle or id,
//! read whole (with [`wire::PRODUCT_FIELDS`]); for export, deletions and
//! reconcile.

use std::collections::HashMap;

use serde::Deserialize;

use super::wire::{self, WireProduct, WireVariant};
use super::{ChannelError, Credential, MedusaClient};

/// Handles or ids looked up per request (keeps the query string short).
const LOOKUP_CHUNK: usize = 50;
/// The most bytes of SKUs one look-up's query string carries: well under
/// Node's 16 kB request head, with room for `fields`.
const SKU_QUERY_BYTES: usize = 6000;

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
        self.variants_by_sku(credential, skus, VARIANT_FIELDS).await
    }

    /// The live variants with these SKUs (each asked once), read with
    /// `fields`, by SKU; as few requests as the query string allows.
    pub(super) async fn variants_by_sku(
        &self,
        credential: Credential<'_>,
        skus: &[&str],
        fields: &str,
    ) -> Result<HashMap<String, Vec<WireVariant>>, ChannelError> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&str> = skus.iter().copied().filter(|s| seen.insert(*s)).collect();
        let mut found: HashMap<String, Vec<WireVariant>> = HashMap::new();
        for chunk in sku_chunks(&unique) {
            let mut query: Vec<(&str, &str)> = chunk.iter().map(|s| ("sku[]", *s)).collect();
            // Twice the count still shows a SKU held twice.
            let limit = (chunk.len() * 2).to_string();
            query.push(("limit", &limit));
            query.push(("fields", fields));
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

/// `skus` cut so that each chunk's `sku[]=` pairs (percent-encoded at
/// worst, three bytes a byte) stay under [`SKU_QUERY_BYTES`].
fn sku_chunks<'a>(skus: &'a [&'a str]) -> Vec<&'a [&'a str]> {
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, sku) in skus.iter().enumerate() {
        let bytes = "&sku%5B%5D=".len() + 3 * sku.len();
        if i > start && size + bytes > SKU_QUERY_BYTES {
            chunks.push(&skus[start..i]);
            (start, size) = (i, 0);
        }
        size += bytes;
    }
    if start < skus.len() {
        chunks.push(&skus[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_look_ups_are_cut_by_query_length_not_count() {
        let short: Vec<String> = (0..100).map(|i| format!("SKU-{i:04}")).collect();
        let short: Vec<&str> = short.iter().map(String::as_str).collect();
        assert_eq!(
            sku_chunks(&short).len(),
            1,
            "a stock batch of 100 SKUs: one look-up"
        );
        let long: Vec<String> = (0..100).map(|i| format!("{i:0>200}")).collect();
        let long: Vec<&str> = long.iter().map(String::as_str).collect();
        let chunks = sku_chunks(&long);
        assert!(chunks.len() > 1);
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 100);
        assert!(sku_chunks(&[]).is_empty());
    }
}
