//! `products diff <channel>`: the channel's full listing, read and never
//! written, against the catalog: what the catalog has that the channel
//! lacks, what the channel has that the catalog does not, and, for products
//! on both, each field the channel owns that differs (the shop's value ->
//! the catalog's). For an operator before the first export to a live shop,
//! or after someone edited the shop by hand.

use std::collections::HashMap;

use anyhow::Result;
use serde::Serialize;

use super::ChannelRun;
use super::auth::Access;
use crate::catalog::{FieldSet, Product, ProductDiff, diff};
use crate::connector::PageRequest;
use crate::error::{ErrorKind, Failure};

/// A channel whose pagination does not end is stopped here, as import does.
const MAX_PAGES: usize = 100_000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ListingDiff {
    pub channel: String,
    /// Products the channel listed.
    pub listed: u64,
    /// Items of the listing the tool cannot read as products (no SKU, a
    /// price it refuses): left out of the comparison.
    pub unreadable: u64,
    /// Catalog products (by handle) the channel does not list.
    pub missing: Vec<String>,
    /// Listed products (by the channel's handle) the catalog does not have.
    pub extra: Vec<String>,
    /// Products on both whose owned fields differ: `old` is the shop's
    /// value, `new` the catalog's.
    pub changed: Vec<ProductDiff>,
}

impl ListingDiff {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty()
    }
}

/// Every page of the channel's listing, from the first, with no
/// `updated_since`; nothing is stored but the tokens the calls need.
pub async fn read_listing(ch: &ChannelRun) -> Result<(Vec<Product>, u64)> {
    let access = Access::new(ch);
    let mut products = Vec::new();
    let mut unreadable = 0;
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = access
            .call(async |token| {
                ch.connector
                    .fetch_page(
                        token,
                        PageRequest {
                            cursor: cursor.as_deref(),
                            since: None,
                        },
                    )
                    .await
            })
            .await?;
        unreadable += page.skipped.len() as u64;
        products.extend(page.products);
        match page.next_cursor {
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            Some(next) => {
                return Err(Failure::new(
                    ErrorKind::Channel,
                    format!("the channel returned cursor `{next}` twice: stopping instead of looping forever"),
                )
                .into());
            }
            None => return Ok((products, unreadable)),
        }
    }
    Err(Failure::new(
        ErrorKind::Channel,
        format!("stopped after {MAX_PAGES} pages: the channel's pagination does not end"),
    )
    .into())
}

/// Matches the listing to the catalog, by handle, else by any SKU (a shop
/// may name a product its own way), and compares the fields in `fields`.
pub fn compare(
    channel: &str,
    catalog: &[Product],
    listing: &[Product],
    fields: FieldSet,
) -> ListingDiff {
    let by_handle: HashMap<&str, usize> = catalog
        .iter()
        .enumerate()
        .map(|(i, p)| (p.handle.as_str(), i))
        .collect();
    let by_sku: HashMap<&str, usize> = catalog
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.skus().map(move |sku| (sku, i)))
        .collect();
    let mut matched = vec![false; catalog.len()];
    let mut result = ListingDiff {
        channel: channel.to_string(),
        listed: listing.len() as u64,
        ..ListingDiff::default()
    };
    for listed in listing {
        let found = by_handle
            .get(listed.handle.as_str())
            .or_else(|| listed.skus().find_map(|sku| by_sku.get(sku)));
        match found {
            Some(&i) => {
                matched[i] = true;
                let changes = diff(listed, &catalog[i], fields);
                if !changes.is_empty() {
                    result.changed.push(changes);
                }
            }
            None => result.extra.push(listed.handle.clone()),
        }
    }
    result.missing = catalog
        .iter()
        .zip(&matched)
        .filter(|(_, seen)| !**seen)
        .map(|(p, _)| p.handle.clone())
        .collect();
    result.extra.sort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_data::shirt;

    #[test]
    fn missing_extra_and_changed_fields_by_handle_or_sku() {
        let catalog_shirt = shirt();
        let mut other = shirt();
        other.handle = "hoodie".into();
        for (i, v) in other.variants.iter_mut().enumerate() {
            v.sku = format!("HD-{i}");
        }
        let catalog = vec![catalog_shirt.clone(), other];

        // The shop names the shirt its own way and wrote its own title.
        let mut listed_shirt = catalog_shirt.clone();
        listed_shirt.handle = "t-shirt-2".into();
        listed_shirt.title = "Shirt (edited in the shop)".into();
        let mut stranger = shirt();
        stranger.handle = "mystery".into();
        for v in &mut stranger.variants {
            v.sku = format!("X-{}", v.sku);
        }
        let diff = compare("shop", &catalog, &[listed_shirt, stranger], FieldSet::ALL);
        assert_eq!(diff.listed, 2);
        assert_eq!(diff.missing, ["hoodie"]);
        assert_eq!(diff.extra, ["mystery"]);
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(diff.changed[0].changes[0].path, "title");
        assert_eq!(diff.changed[0].changes[0].old, "Shirt (edited in the shop)");

        // A channel that owns only prices does not care about the title.
        let diff = compare(
            "shop",
            &catalog[..1],
            &[{
                let mut p = catalog_shirt.clone();
                p.title = "other".into();
                p
            }],
            FieldSet::parse(&["prices"]).unwrap(),
        );
        assert!(diff.is_empty(), "{diff:?}");
    }
}
