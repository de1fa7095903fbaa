//! Import: `productVariants` pages sorted by `updatedAt` then `id`; the
//! products of a page's variants are then read whole (options, every
//! variant, prices in every currency) and mapped to catalog products
//! ([`mapping::to_catalog`]). Paging by variant keeps incremental imports
//! right: Vendure bumps a variant's `updatedAt` when its price or stock
//! changes, not its product's. A product whose variants span pages comes
//! in each of them, the same each time.
//!
//! Vendure stores timestamps in microseconds (PostgreSQL) but answers in
//! milliseconds, truncated; rows written in one call share a timestamp. So:
//!
//! - Paging keys on the millisecond: a cursor is "rows updated at or after
//!   millisecond T, skipping the first N of them" (`updatedAt between T and
//!   the end of time`, inclusive, which matches stored microseconds exactly).
//!   Rows that change during an import move past the cursor and are read
//!   again at the end, instead of shifting a whole offset-paged listing.
//! - An incremental import asks for rows from the millisecond after the
//!   previous import's newest one: the rows sharing that millisecond were
//!   read by that import, and asking for them again would re-read a whole
//!   bulk write (a thousand rows created in one call share one timestamp).
//!   The window this leaves: a write that lands in that same millisecond
//!   after the previous import read it. `--full` reads everything.

use jiff::Timestamp;

use std::collections::HashMap;

use super::attributes::{self, AttributeField};
use super::client::{Credential, Replay, VendureClient};
use super::export::{RunMemory, Shop};
use super::mapping::{self, FacetCodes};
use super::wire::{
    DateOperators, DateRange, DateTime, ListedVariant, ProductVariantFilterParameter,
    ProductVariantListOptions, ProductVariantSortParameter, SortOrder, VariantListVariables,
    VariantsPage,
};
use crate::catalog::Product;
use crate::connector::{ChannelError, LocationMap, Skipped};

/// Vendure's stock `adminListQueryLimit`: `take` above it is a USER_INPUT_ERROR.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The end of the `between` range (JavaScript's `Date` takes it).
const END_OF_TIME: &str = "9999-12-31T23:59:59.999Z";

/// Where the next page starts: rows updated at or after `from_ms` (all rows
/// when `None`), in `updatedAt, id` order, skipping the first `skip`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageCursor {
    pub from_ms: Option<i64>,
    pub skip: u32,
}

impl PageCursor {
    /// The first page of an import; `since` is the newest `updated_at` the
    /// previous complete import stored (see the module comment).
    pub fn first(since: Option<Timestamp>) -> PageCursor {
        PageCursor {
            from_ms: since.map(|t| t.as_millisecond() + 1),
            skip: 0,
        }
    }

    /// `v1:<from_ms or ->:<skip>`, the opaque cursor the store keeps between pages.
    pub fn encode(&self) -> String {
        match self.from_ms {
            Some(ms) => format!("v1:{ms}:{}", self.skip),
            None => format!("v1:-:{}", self.skip),
        }
    }

    pub fn decode(text: &str) -> Option<PageCursor> {
        let rest = text.strip_prefix("v1:")?;
        let (from, skip) = rest.split_once(':')?;
        let from_ms = match from {
            "-" => None,
            ms => Some(ms.parse().ok()?),
        };
        Some(PageCursor {
            from_ms,
            skip: skip.parse().ok()?,
        })
    }

    /// The cursor after a full page whose rows were updated at these
    /// milliseconds (ascending). `None` when the page was the last one.
    pub fn next(&self, page_ms: &[i64], take: usize) -> Option<PageCursor> {
        if page_ms.len() < take || page_ms.is_empty() {
            return None;
        }
        let last = *page_ms.last().expect("not empty");
        let at_last = page_ms.iter().rev().take_while(|ms| **ms == last).count() as u32;
        if self.from_ms == Some(last) {
            Some(PageCursor {
                from_ms: Some(last),
                skip: self.skip + at_last,
            })
        } else {
            Some(PageCursor {
                from_ms: Some(last),
                skip: at_last,
            })
        }
    }

    fn options(&self, take: usize) -> ProductVariantListOptions {
        ProductVariantListOptions {
            skip: Some(self.skip as i32),
            take: Some(take as i32),
            sort: Some(ProductVariantSortParameter {
                updated_at: Some(SortOrder::Asc),
                id: Some(SortOrder::Asc),
            }),
            filter: self.from_ms.map(|ms| ProductVariantFilterParameter {
                updated_at: Some(DateOperators {
                    between: Some(DateRange {
                        start: DateTime(iso_millis(ms)),
                        end: DateTime(END_OF_TIME.into()),
                    }),
                    after: None,
                }),
                sku: None,
            }),
        }
    }
}

/// One page of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantPage {
    /// The products of the page's variants, whole, in the order their
    /// first variant came.
    pub products: Vec<Product>,
    /// Variants left out: no SKU, or a value the catalog refuses.
    pub skipped: Vec<Skipped>,
    pub next: Option<PageCursor>,
}

/// Fetches the page at `cursor` (`take` at most [`MAX_PAGE_SIZE`]). A
/// refusal of the page size (a server whose `adminListQueryLimit` is lower)
/// is [`ChannelError::PageSizeRefused`].
pub async fn fetch_page(
    client: &VendureClient,
    credential: Credential<'_>,
    cursor: PageCursor,
    take: usize,
    locations: &LocationMap,
    facets: &FacetCodes,
    attribute_field: Option<&AttributeField>,
) -> Result<VariantPage, ChannelError> {
    use cynic::QueryBuilder;
    let take = take.clamp(1, MAX_PAGE_SIZE);
    let operation = VariantsPage::build(VariantListVariables {
        options: Some(cursor.options(take)),
    });
    let page = client
        .run::<VariantsPage, _>("productVariants", credential, &operation, Replay::Safe)
        .await
        .map_err(|err| match err {
            ChannelError::Refused { url, message, .. }
                if message.to_ascii_lowercase().contains("take") =>
            {
                ChannelError::PageSizeRefused {
                    url,
                    page_size: take,
                    message,
                }
            }
            other => other,
        })?;
    let listed = page_from_items(&page.product_variants.items, cursor, take).map_err(|what| {
        ChannelError::Malformed {
            url: client.shown_url(),
            what: format!("`productVariants`: {what}"),
            excerpt: String::new(),
        }
    })?;
    let mut out = VariantPage {
        products: Vec::with_capacity(listed.product_ids.len()),
        skipped: listed.skipped,
        next: listed.next,
    };
    if listed.product_ids.is_empty() {
        return Ok(out);
    }
    let memory = RunMemory::default();
    let shop = Shop {
        client,
        credential,
        memory: &memory,
        facets,
        attributes: attribute_field,
    };
    let (_, products) = shop
        .products_by(listed.product_ids.clone(), Vec::new())
        .await?;
    let stored = match attribute_field {
        Some(field) => attributes::read(client, credential, field, &listed.product_ids).await?,
        None => HashMap::new(),
    };
    for id in &listed.product_ids {
        // Deleted since the variant page was read: nothing to import.
        let Some(product) = products.iter().find(|p| p.id.inner() == id) else {
            continue;
        };
        let mapped =
            mapping::to_catalog(product, &|_| false, locations, facets).and_then(|mut p| {
                if let Some(s) = stored.get(product.id.inner()) {
                    s.apply(&mut p).map_err(|reason| mapping::Unmappable {
                        key: product.slug.clone(),
                        reason,
                    })?;
                }
                Ok(p)
            });
        match mapped {
            Ok(p) if p.variants.is_empty() => {}
            Ok(p) => out.products.push(p),
            Err(bad) => out.skipped.push(Skipped::Refused {
                key: bad.key,
                handle: product.slug.clone(),
                reason: bad.reason,
            }),
        }
    }
    Ok(out)
}

/// A variant page: its products' ids (first seen first), the variants
/// without a SKU, and the next cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedPage {
    pub product_ids: Vec<String>,
    pub skipped: Vec<Skipped>,
    pub next: Option<PageCursor>,
}

/// Works out a page's products and the next cursor.
pub fn page_from_items(
    items: &[ListedVariant],
    cursor: PageCursor,
    take: usize,
) -> Result<ListedPage, String> {
    let mut product_ids: Vec<String> = Vec::new();
    let mut skipped = Vec::new();
    let mut page_ms = Vec::with_capacity(items.len());
    for item in items {
        // The cursor is built from these: an unreadable one fails the page.
        let updated: Timestamp = item.updated_at.0.parse().map_err(|_| {
            format!(
                "variant {} has an unreadable `updatedAt` `{}`",
                item.id.inner(),
                item.updated_at.0
            )
        })?;
        page_ms.push(updated.as_millisecond());
        if item.sku.trim().is_empty() {
            skipped.push(Skipped::NoSku);
            continue;
        }
        let id = item.product_id.inner();
        if !product_ids.iter().any(|p| p == id) {
            product_ids.push(id.to_string());
        }
    }
    Ok(ListedPage {
        product_ids,
        skipped,
        next: cursor.next(&page_ms, take),
    })
}

/// `2026-11-27T09:43:01.123Z` for a millisecond timestamp.
fn iso_millis(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => END_OF_TIME.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::vendure::wire::Id;

    fn variant(id: u32, sku: &str, product: u32, updated: &str) -> ListedVariant {
        ListedVariant {
            id: Id::new(id.to_string()),
            sku: sku.into(),
            product_id: Id::new(product.to_string()),
            updated_at: DateTime(updated.into()),
        }
    }

    #[test]
    fn a_page_names_its_products_once_and_counts_variants_without_a_sku() {
        let items = [
            variant(1, "A", 7, "2026-11-27T09:43:01.001Z"),
            variant(2, "", 8, "2026-11-27T09:43:01.002Z"),
            variant(3, "  ", 7, "2026-11-27T09:43:01.003Z"),
            variant(4, "B", 9, "2026-11-27T09:43:01.004Z"),
            variant(5, "C", 7, "2026-11-27T09:43:01.005Z"),
        ];
        let page = page_from_items(&items, PageCursor::default(), 10).unwrap();
        assert_eq!(page.product_ids, ["7", "9"]);
        assert_eq!(page.skipped, [Skipped::NoSku, Skipped::NoSku]);
        assert_eq!(page.next, None, "a short page is the last");
    }

    #[test]
    fn an_unreadable_timestamp_fails_the_page_naming_the_variant() {
        let items = [variant(4, "A", 1, "yesterday")];
        let error = page_from_items(&items, PageCursor::default(), 10).unwrap_err();
        assert!(
            error.contains("variant 4") && error.contains("yesterday"),
            "{error}"
        );
    }

    #[test]
    fn the_cursor_keys_on_the_last_millisecond_and_skips_within_it() {
        let start = PageCursor::first(None);
        assert_eq!(
            start,
            PageCursor {
                from_ms: None,
                skip: 0
            }
        );
        // A full page ending with two rows at ms 20: next starts at 20, skipping 2.
        let next = start.next(&[10, 10, 15, 20, 20], 5).unwrap();
        assert_eq!(
            next,
            PageCursor {
                from_ms: Some(20),
                skip: 2
            }
        );
        // A full page entirely at ms 20 (a bulk write): skip grows.
        let next = next.next(&[20, 20, 20, 20, 20], 5).unwrap();
        assert_eq!(
            next,
            PageCursor {
                from_ms: Some(20),
                skip: 7
            }
        );
        // Leaving the bucket resets the skip.
        let next = next.next(&[20, 21, 22, 22, 23], 5).unwrap();
        assert_eq!(
            next,
            PageCursor {
                from_ms: Some(23),
                skip: 1
            }
        );
        assert_eq!(
            next.next(&[23, 24], 5),
            None,
            "a short page ends the import"
        );
        assert_eq!(next.next(&[], 5), None);
    }

    #[test]
    fn an_incremental_import_starts_after_the_previous_newest_millisecond() {
        let since: Timestamp = "2026-11-27T09:43:01.123Z".parse().unwrap();
        let cursor = PageCursor::first(Some(since));
        assert_eq!(cursor.from_ms, Some(since.as_millisecond() + 1));
        let options = cursor.options(100);
        let range = options.filter.unwrap().updated_at.unwrap().between.unwrap();
        assert_eq!(range.start.0, "2026-11-27T09:43:01.124Z");
    }

    #[test]
    fn cursors_round_trip_as_text() {
        for cursor in [
            PageCursor {
                from_ms: None,
                skip: 0,
            },
            PageCursor {
                from_ms: Some(1764236581123),
                skip: 200,
            },
        ] {
            assert_eq!(PageCursor::decode(&cursor.encode()), Some(cursor));
        }
        for bad in ["", "v1:", "v2:-:0", "v1:x:0", "v1:-:-1", "12"] {
            assert_eq!(PageCursor::decode(bad), None, "`{bad}`");
        }
    }
}
