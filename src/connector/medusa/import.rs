//! Import: which store, sales channel, currency and stock location the
//! connector works with, and the pages of an import.
//!
//! A full import pages `/admin/products` by offset in Medusa's default
//! order (`id`, the only one that pages reliably: rows created in one batch
//! share `updated_at`). An incremental one (`since` given) runs three
//! phases, each resumable from its cursor:
//!
//! 1. `products`: products whose own or whose variants' `updated_at` is
//!    after `since` (a price change through the variant endpoints moves the
//!    variant's `updated_at`, not the product's);
//! 2. `stock`: a scan of the inventory items at the stock location, keeping
//!    those whose level changed after `since` (a stock change moves neither
//!    the product nor the variant, and Medusa filters no listing by a
//!    level's `updated_at`), then their products;
//! 3. `deleted`: soft-deleted products and variants (`with_deleted=true`),
//!    minus SKUs that live again on another variant.
//!
//! `since` is moved back by [`OVERLAP`], so a change committed with a
//! slightly older timestamp than one already seen is not missed; rows seen
//! twice are harmless upserts.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::taxonomy::CategoryTree;
use super::wire::{self, MappingContext, Mode, PRODUCT_FIELDS, ProductList};
use super::{ChannelError, Credential, MedusaClient};
use crate::catalog::Product;
use crate::connector::{LocationMap, Skipped};

/// How far back an incremental import looks before its `since`.
pub const OVERLAP: SignedDuration = SignedDuration::from_secs(60);

/// Ids named in the channel's table (`sales-channel-id`,
/// `stock-location-id`); `None` takes the store's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOverrides {
    pub sales_channel_id: Option<String>,
    pub stock_location_id: Option<String>,
    /// `[channels.x.locations]`: catalog location name -> Medusa stock
    /// location id; empty: the stock location takes location `default`.
    pub locations: LocationMap,
}

/// The store as the connector uses it, read once per job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreContext {
    /// Where exported products are published.
    pub sales_channel_id: String,
    /// Where stock is read and written.
    pub stock_location_id: String,
    /// The store's default currency, lower case (`eur`): imported prices.
    pub default_currency: String,
    /// Every currency the store supports (lower case) and its exponent.
    pub currencies: BTreeMap<String, u32>,
    /// Catalog location name -> Medusa stock location id.
    pub locations: LocationMap,
}

impl StoreContext {
    pub(super) fn mapping<'a>(&'a self, categories: &'a CategoryTree) -> MappingContext<'a> {
        MappingContext {
            currency: &self.default_currency,
            locations: &self.locations,
            categories,
        }
    }
}

/// Where an import stands; encoded into the job's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportCursor {
    Products { offset: u64 },
    Stock { offset: u64 },
    Deleted { offset: u64 },
}

impl ImportCursor {
    pub fn encode(self) -> String {
        match self {
            ImportCursor::Products { offset } => format!("products:{offset}"),
            ImportCursor::Stock { offset } => format!("stock:{offset}"),
            ImportCursor::Deleted { offset } => format!("deleted:{offset}"),
        }
    }

    pub fn decode(text: &str) -> Result<ImportCursor, ChannelError> {
        let bad = || ChannelError::BadCursor {
            cursor: text.to_string(),
            why: "not a Medusa import cursor".into(),
        };
        let (phase, offset) = text.split_once(':').ok_or_else(bad)?;
        let offset: u64 = offset.parse().map_err(|_| bad())?;
        match phase {
            "products" => Ok(ImportCursor::Products { offset }),
            "stock" => Ok(ImportCursor::Stock { offset }),
            "deleted" => Ok(ImportCursor::Deleted { offset }),
            _ => Err(bad()),
        }
    }

    /// The phase after this one's last page; `None` ends the import. A full
    /// import has only the products phase.
    fn after_phase(self, incremental: bool) -> Option<ImportCursor> {
        match self {
            ImportCursor::Products { .. } if incremental => Some(ImportCursor::Stock { offset: 0 }),
            ImportCursor::Stock { .. } => Some(ImportCursor::Deleted { offset: 0 }),
            _ => None,
        }
    }
}

/// One page of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPage {
    /// Whole products.
    pub products: Vec<Product>,
    /// SKUs deleted on the server since `since` (incremental imports only).
    pub deleted_skus: Vec<String>,
    /// Variants left out, with why (no SKU, no base price in the default
    /// currency, a fractional stock, ...).
    pub skipped: Vec<Skipped>,
    /// `None` ends the import.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct StoreList {
    stores: Vec<WireStore>,
}

#[derive(Deserialize)]
struct WireStore {
    default_sales_channel_id: Option<String>,
    #[serde(default)]
    supported_currencies: Vec<WireStoreCurrency>,
}

#[derive(Deserialize)]
struct WireStoreCurrency {
    currency_code: String,
    #[serde(default)]
    is_default: bool,
    #[serde(default)]
    currency: Option<WireCurrency>,
}

#[derive(Deserialize)]
struct WireCurrency {
    decimal_digits: Option<u32>,
}

#[derive(Deserialize)]
struct IdList<T> {
    #[serde(
        alias = "stock_locations",
        alias = "inventory_items",
        alias = "variants"
    )]
    items: Vec<T>,
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Deserialize)]
struct WireId {
    id: String,
}

#[derive(Deserialize)]
struct WireInventoryItem {
    #[serde(default)]
    location_levels: Vec<wire::WireLevel>,
    #[serde(default)]
    variants: Vec<WireVariantRef>,
}

#[derive(Deserialize)]
struct WireVariantRef {
    #[serde(default)]
    product_id: Option<String>,
}

#[derive(Deserialize)]
struct WireSku {
    sku: Option<String>,
}

impl MedusaClient {
    /// Reads the store's default sales channel, currencies and the stock
    /// location: the configured one, else the first location (oldest)
    /// linked to the sales channel.
    pub async fn store_context(
        &self,
        credential: Credential<'_>,
        overrides: &StoreOverrides,
    ) -> Result<StoreContext, ChannelError> {
        let stores: StoreList = self
            .get(
                "admin/stores",
                &[(
                    "fields",
                    "id,default_sales_channel_id,supported_currencies.currency_code,\
                     supported_currencies.is_default,supported_currencies.currency.decimal_digits",
                )],
                credential,
            )
            .await?;
        let store = stores
            .stores
            .into_iter()
            .next()
            .ok_or_else(|| ChannelError::ShopSetup {
                message: "the Medusa server has no store: run its migrations".into(),
            })?;
        let currencies: BTreeMap<String, u32> = store
            .supported_currencies
            .iter()
            .map(|c| {
                (
                    c.currency_code.to_ascii_lowercase(),
                    c.currency
                        .as_ref()
                        .and_then(|c| c.decimal_digits)
                        .unwrap_or(2),
                )
            })
            .collect();
        let default_currency = store
            .supported_currencies
            .iter()
            .find(|c| c.is_default)
            .map(|c| c.currency_code.to_ascii_lowercase())
            .ok_or_else(|| ChannelError::ShopSetup {
                message: "the Medusa store has no default currency: set one under Settings → Store"
                    .into(),
            })?;
        let sales_channel_id = match &overrides.sales_channel_id {
            Some(id) => {
                let _: serde::de::IgnoredAny = self
                    .get(&format!("admin/sales-channels/{id}"), &[("fields", "id")], credential)
                    .await
                    .map_err(|e| not_found(e, format!("sales channel `{id}` (`sales-channel-id`)")))?;
                id.clone()
            }
            None => store.default_sales_channel_id.ok_or_else(|| {
                ChannelError::ShopSetup {
                    message: "the Medusa store has no default sales channel: set one, or name one with `sales-channel-id`".into(),
                }
            })?,
        };
        let stock_location_id =
            match &overrides.stock_location_id {
                Some(id) => {
                    let _: serde::de::IgnoredAny = self
                        .get(
                            &format!("admin/stock-locations/{id}"),
                            &[("fields", "id")],
                            credential,
                        )
                        .await
                        .map_err(|e| {
                            not_found(e, format!("stock location `{id}` (`stock-location-id`)"))
                        })?;
                    id.clone()
                }
                None => {
                    let linked: IdList<WireId> = self
                        .get(
                            "admin/stock-locations",
                            &[
                                ("sales_channel_id[]", sales_channel_id.as_str()),
                                ("order", "created_at"),
                                ("limit", "1"),
                                ("fields", "id"),
                            ],
                            credential,
                        )
                        .await?;
                    linked.items.into_iter().next().map(|l| l.id).ok_or_else(|| {
                    ChannelError::ShopSetup { message: format!(
                        "no stock location is linked to sales channel `{sales_channel_id}`: \
                         link one in Medusa (Settings → Locations → Sales channels), \
                         or name one with `stock-location-id`"
                    ) }
                })?
                }
            };
        let locations = if overrides.locations.is_empty() {
            LocationMap::from([("default".to_string(), stock_location_id.clone())])
        } else {
            overrides.locations.clone()
        };
        Ok(StoreContext {
            sales_channel_id,
            stock_location_id,
            default_currency,
            currencies,
            locations,
        })
    }

    /// One page of an import. `cursor` is `None` for the first page;
    /// `since` (the last complete import's high-water mark) makes it
    /// incremental. `limit` is the page size from the capability list.
    pub async fn fetch_import_page(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        limit: usize,
        cursor: Option<&str>,
        since: Option<Timestamp>,
    ) -> Result<ImportPage, ChannelError> {
        let cursor = match cursor {
            Some(text) => ImportCursor::decode(text)?,
            None => ImportCursor::Products { offset: 0 },
        };
        let since = since.map(|t| t.checked_sub(OVERLAP).unwrap_or(t));
        let incremental = since.is_some();
        let limit = limit.max(1);
        let (mut page, next_offset) = match (cursor, since) {
            (ImportCursor::Products { offset }, _) => {
                self.products_page(credential, ctx, limit, offset, since)
                    .await?
            }
            (ImportCursor::Stock { offset }, Some(since)) => {
                self.stock_page(credential, ctx, limit, offset, since)
                    .await?
            }
            (ImportCursor::Deleted { offset }, Some(since)) => {
                self.deleted_page(credential, limit, offset, since).await?
            }
            (other, None) => {
                return Err(ChannelError::BadCursor {
                    cursor: other.encode(),
                    why: "an incremental import's cursor, for a full import".into(),
                });
            }
        };
        page.next_cursor = match next_offset {
            Some(offset) => Some(
                match cursor {
                    ImportCursor::Products { .. } => ImportCursor::Products { offset },
                    ImportCursor::Stock { .. } => ImportCursor::Stock { offset },
                    ImportCursor::Deleted { .. } => ImportCursor::Deleted { offset },
                }
                .encode(),
            ),
            None => cursor.after_phase(incremental).map(ImportCursor::encode),
        };
        Ok(page)
    }

    async fn products_page(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        limit: usize,
        offset: u64,
        since: Option<Timestamp>,
    ) -> Result<(ImportPage, Option<u64>), ChannelError> {
        let (limit_text, offset_text) = (limit.to_string(), offset.to_string());
        let since_text = since.map(|t| t.to_string());
        let mut query = vec![
            ("limit", limit_text.as_str()),
            ("offset", offset_text.as_str()),
            ("fields", PRODUCT_FIELDS),
        ];
        if let Some(since) = &since_text {
            query.push(("$or[0][updated_at][$gt]", since));
            query.push(("$or[1][variants][updated_at][$gt]", since));
        }
        let list: ProductList = self.get("admin/products", &query, credential).await?;
        let next = next_offset(offset, list.products.len(), list.count, limit);
        let tree = self.tree_for(credential, &list.products).await?;
        Ok((map_products(&list.products, ctx, &tree), next))
    }

    async fn stock_page(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        limit: usize,
        offset: u64,
        since: Timestamp,
    ) -> Result<(ImportPage, Option<u64>), ChannelError> {
        let (limit_text, offset_text) = (limit.to_string(), offset.to_string());
        let items: IdList<WireInventoryItem> = self
            .get(
                "admin/inventory-items",
                &[
                    ("limit", limit_text.as_str()),
                    ("offset", offset_text.as_str()),
                    (
                        "fields",
                        "id,location_levels.location_id,location_levels.stocked_quantity,\
                         location_levels.updated_at,variants.product_id",
                    ),
                ],
                credential,
            )
            .await?;
        let next = next_offset(offset, items.items.len(), items.count, limit);
        let changed_items: Vec<&WireInventoryItem> = items
            .items
            .iter()
            .filter(|item| {
                item.location_levels.iter().any(|level| {
                    ctx.locations.values().any(|id| *id == level.location_id)
                        && wire::latest(level.updated_at.as_deref()).is_some_and(|t| t > since)
                })
            })
            .collect();
        let changed: BTreeSet<&str> = changed_items
            .iter()
            .flat_map(|item| item.variants.iter().filter_map(|v| v.product_id.as_deref()))
            .collect();
        if changed.is_empty() {
            return Ok((ImportPage::default(), next));
        }
        let mut query: Vec<(&str, &str)> = changed.iter().map(|id| ("id[]", *id)).collect();
        let count = changed.len().to_string();
        query.push(("limit", &count));
        query.push(("fields", PRODUCT_FIELDS));
        let list: ProductList = self.get("admin/products", &query, credential).await?;
        // Whole products: the import replaces a product with what it gets.
        let tree = self.tree_for(credential, &list.products).await?;
        Ok((map_products(&list.products, ctx, &tree), next))
    }

    async fn deleted_page(
        &self,
        credential: Credential<'_>,
        limit: usize,
        offset: u64,
        since: Timestamp,
    ) -> Result<(ImportPage, Option<u64>), ChannelError> {
        let (limit_text, offset_text, since_text) =
            (limit.to_string(), offset.to_string(), since.to_string());
        let list: ProductList = self
            .get(
                "admin/products",
                &[
                    ("limit", limit_text.as_str()),
                    ("offset", offset_text.as_str()),
                    ("with_deleted", "true"),
                    ("$or[0][deleted_at][$gt]", since_text.as_str()),
                    ("$or[1][variants][deleted_at][$gt]", since_text.as_str()),
                    (
                        "fields",
                        "id,deleted_at,variants.id,variants.sku,variants.deleted_at",
                    ),
                ],
                credential,
            )
            .await?;
        let next = next_offset(offset, list.products.len(), list.count, limit);
        let after =
            |stamp: &Option<String>| wire::latest(stamp.as_deref()).is_some_and(|t| t > since);
        let mut deleted: BTreeSet<String> = BTreeSet::new();
        for product in &list.products {
            for variant in &product.variants {
                if (after(&product.deleted_at) || after(&variant.deleted_at))
                    && let Some(sku) = variant.sku.as_deref().filter(|s| !s.trim().is_empty())
                {
                    deleted.insert(sku.to_string());
                }
            }
        }
        // A SKU deleted and then created again lives on: keep it.
        for live in self.live_skus(credential, &deleted).await? {
            deleted.remove(&live);
        }
        Ok((
            ImportPage {
                deleted_skus: deleted.into_iter().collect(),
                ..ImportPage::default()
            },
            next,
        ))
    }

    /// Which of these SKUs a live variant has.
    async fn live_skus(
        &self,
        credential: Credential<'_>,
        skus: &BTreeSet<String>,
    ) -> Result<Vec<String>, ChannelError> {
        let mut live = Vec::new();
        let skus: Vec<&String> = skus.iter().collect();
        for chunk in skus.chunks(100) {
            let mut query: Vec<(&str, &str)> =
                chunk.iter().map(|s| ("sku[]", s.as_str())).collect();
            let limit = (chunk.len() * 2).to_string();
            query.push(("limit", &limit));
            query.push(("fields", "id,sku"));
            let variants: IdList<WireSku> = self
                .get("admin/product-variants", &query, credential)
                .await?;
            live.extend(variants.items.into_iter().filter_map(|v| v.sku));
        }
        Ok(live)
    }
}

/// The cursor of the page after the page at `cursor` (`limit` a page) as
/// it is while the listing goes on: that page full. Only the page can say
/// that the listing (or its phase) ends, or that it came back short.
pub fn cursor_after(cursor: Option<&str>, limit: usize) -> Option<String> {
    let step = limit.max(1) as u64;
    let after = match cursor.map(ImportCursor::decode).transpose().ok()? {
        None => ImportCursor::Products { offset: step },
        Some(ImportCursor::Products { offset }) => ImportCursor::Products {
            offset: offset + step,
        },
        Some(ImportCursor::Stock { offset }) => ImportCursor::Stock {
            offset: offset + step,
        },
        Some(ImportCursor::Deleted { offset }) => ImportCursor::Deleted {
            offset: offset + step,
        },
    };
    Some(after.encode())
}

/// The offset of the next page, or `None` after the last one.
fn next_offset(offset: u64, got: usize, count: Option<u64>, limit: usize) -> Option<u64> {
    let next = offset + got as u64;
    let more = match count {
        Some(count) => next < count,
        None => got >= limit,
    };
    (got > 0 && more).then_some(next)
}

impl MedusaClient {
    /// The store's categories when one of `products` has any (else none:
    /// a page without categories costs no request).
    pub(super) async fn tree_for(
        &self,
        credential: Credential<'_>,
        products: &[wire::WireProduct],
    ) -> Result<CategoryTree, ChannelError> {
        if products.iter().any(|p| !p.categories.is_empty()) {
            self.category_tree(credential).await
        } else {
            Ok(CategoryTree::default())
        }
    }
}

/// Maps these products whole; counts and explains the variants (or
/// products) left out.
fn map_products(
    products: &[wire::WireProduct],
    ctx: &StoreContext,
    categories: &CategoryTree,
) -> ImportPage {
    let mapping = ctx.mapping(categories);
    let mut page = ImportPage::default();
    for product in products.iter().filter(|p| p.deleted_at.is_none()) {
        match wire::to_catalog(product, &mapping, Mode::Import) {
            Ok((mapped, skipped)) => {
                page.products.push(mapped);
                page.skipped.extend(skipped);
            }
            Err(skipped) => page.skipped.push(skipped),
        }
    }
    page
}

/// Maps a Medusa "not found" to a message naming the configured id.
fn not_found(err: ChannelError, what: String) -> ChannelError {
    match err {
        ChannelError::Status { status: 404, .. } => ChannelError::ShopSetup {
            message: format!("{what} does not exist on this Medusa server"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_foreign_text() {
        for cursor in [
            ImportCursor::Products { offset: 0 },
            ImportCursor::Stock { offset: 400 },
            ImportCursor::Deleted { offset: 7 },
        ] {
            assert_eq!(ImportCursor::decode(&cursor.encode()).unwrap(), cursor);
        }
        for bad in ["", "products", "products:x", "nope:1", "abc123", "stock:-1"] {
            assert!(ImportCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_full_import_has_one_phase_an_incremental_three() {
        let products = ImportCursor::Products { offset: 10 };
        assert_eq!(products.after_phase(false), None);
        assert_eq!(
            products.after_phase(true),
            Some(ImportCursor::Stock { offset: 0 })
        );
        assert_eq!(
            ImportCursor::Stock { offset: 3 }.after_phase(true),
            Some(ImportCursor::Deleted { offset: 0 })
        );
        assert_eq!(ImportCursor::Deleted { offset: 3 }.after_phase(true), None);
    }

    #[test]
    fn the_page_after_a_full_page_is_known_ahead_in_every_phase() {
        assert_eq!(cursor_after(None, 200).as_deref(), Some("products:200"));
        assert_eq!(
            cursor_after(Some("products:400"), 200).as_deref(),
            Some("products:600")
        );
        assert_eq!(
            cursor_after(Some("stock:0"), 50).as_deref(),
            Some("stock:50")
        );
        assert_eq!(
            cursor_after(Some("deleted:10"), 5).as_deref(),
            Some("deleted:15")
        );
        assert_eq!(cursor_after(Some("nope"), 5), None);
        // Each guess is what a full page's own next cursor is.
        let offset = next_offset(400, 200, Some(1000), 200).unwrap();
        assert_eq!(
            cursor_after(Some("products:400"), 200),
            Some(ImportCursor::Products { offset }.encode())
        );
    }

    #[test]
    fn offsets_stop_at_the_count_or_a_short_page() {
        assert_eq!(next_offset(0, 200, Some(450), 200), Some(200));
        assert_eq!(next_offset(400, 50, Some(450), 200), None);
        assert_eq!(
            next_offset(0, 0, Some(450), 200),
            None,
            "an empty page ends it"
        );
        assert_eq!(next_offset(0, 200, None, 200), Some(200));
        assert_eq!(next_offset(200, 10, None, 200), None);
    }
}
