//! The one mapping between a Vendure product and a catalog product, used by
//! import (Vendure -> catalog) and by export (the current product read back
//! before an update, and the desired one restricted to what Vendure carries).
//!
//! | catalog            | Vendure                                              |
//! |--------------------|------------------------------------------------------|
//! | handle             | product `slug`                                       |
//! | title              | product `name` (the channel's default language)      |
//! | description        | product `description`                                |
//! | status             | product `enabled` (active = true, draft = false)     |
//! | options            | the product's option groups' names, in id order      |
//! | variant sku, title | variant `sku`, `name`                                |
//! | option values      | the variant's options' names, one per group          |
//! | prices             | variant `prices` (currency -> integer minor units)   |
//! | stock `default`    | variant `stockOnHand` (the default stock location)   |
//! | stock `<name>`     | the variant's stock level at the location that       |
//! |                    | `[channels.x.locations]` maps `<name>` to (when set) |
//! | categories         | the product's values of the facet `category-facet`   |
//! |                    | (default [`CATEGORY_FACET`]), by name = the path     |
//! | tags               | its values of the facet `tag-facet` ([`TAG_FACET`])  |
//!
//! Facets rather than collections: a facet value is assigned to a product
//! by the product's own update and read back with it, while a collection's
//! members are computed from filters by Vendure's job queue, later. Vendure
//! keeps no order of a product's facet values: categories and tags read in
//! facet value id order, and the same set is no change.
//!
//! Images and attributes are not carried yet (README).

use std::collections::{BTreeMap, BTreeSet};

use super::wire::{
    Channel, Id, ProductAsset, ProductFacetValue, StockLevel, StockLevelInput, WholeProduct,
    WholeVariant,
};
use super::{assets, money};
use crate::catalog::{Field, FieldSet, Image, Prices, Product, ProductStatus, Variant};
use crate::connector::LocationMap;
use crate::price::Currency;

/// The catalog location Vendure's default stock location holds.
pub const DEFAULT_LOCATION: &str = "default";
/// The facet whose values are categories, unless `category-facet` says.
pub const CATEGORY_FACET: &str = "category";
/// The facet whose values are tags, unless `tag-facet` says.
pub const TAG_FACET: &str = "tag";

/// The codes of the two facets the catalog's categories and tags live in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacetCodes {
    pub category: String,
    pub tag: String,
}

impl Default for FacetCodes {
    fn default() -> FacetCodes {
        FacetCodes {
            category: CATEGORY_FACET.to_string(),
            tag: TAG_FACET.to_string(),
        }
    }
}

impl FacetCodes {
    /// The channel's settings, each defaulted.
    pub fn new(category: Option<String>, tag: Option<String>) -> FacetCodes {
        FacetCodes {
            category: category.unwrap_or_else(|| CATEGORY_FACET.to_string()),
            tag: tag.unwrap_or_else(|| TAG_FACET.to_string()),
        }
    }

    /// The names of `product`'s values of facet `code`, in facet value id
    /// order (Vendure keeps no other), each once.
    pub fn values_of(product: &WholeProduct, code: &str) -> Vec<String> {
        let mut values: Vec<&ProductFacetValue> = product
            .facet_values
            .iter()
            .filter(|v| v.facet.code == code)
            .collect();
        values.sort_by_key(|v| id_order(v.id.inner()));
        let mut names: Vec<String> = Vec::with_capacity(values.len());
        for v in values {
            if !names.contains(&v.name) {
                names.push(v.name.clone());
            }
        }
        names
    }
}

/// The fields this connector writes and reads; an export owns at most these.
pub fn carried() -> FieldSet {
    [
        Field::Title,
        Field::Description,
        Field::Status,
        Field::Options,
        Field::Prices,
        Field::Stock,
        Field::Categories,
        Field::Tags,
        Field::Images,
    ]
    .into_iter()
    .collect()
}

/// Numeric order of Vendure's ids (they are decimal strings on its stock
/// ID strategy; anything else sorts after, as text).
pub fn id_order(id: &str) -> (u64, String) {
    (id.parse().unwrap_or(u64::MAX), id.to_string())
}

/// Why a Vendure product cannot be a catalog product: `key` names it (a SKU,
/// or the slug).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmappable {
    pub key: String,
    pub reason: String,
}

/// A Vendure product as a catalog product: variants in id order, those
/// without a SKU left out; one variant per SKU (the one `keep` prefers,
/// else the oldest), so a SKU held twice reads as one.
pub fn to_catalog(
    product: &WholeProduct,
    keep: &dyn Fn(&str) -> bool,
    locations: &LocationMap,
    facets: &FacetCodes,
) -> Result<Product, Unmappable> {
    let mut groups: Vec<_> = product.option_groups.iter().collect();
    groups.sort_by_key(|g| id_order(g.id.inner()));
    let mut variants: Vec<&WholeVariant> = product
        .variants
        .iter()
        .filter(|v| !v.sku.trim().is_empty())
        .collect();
    variants.sort_by_key(|v| id_order(v.id.inner()));
    let mut chosen: BTreeMap<&str, &WholeVariant> = BTreeMap::new();
    for v in &variants {
        match chosen.get(v.sku.as_str()) {
            Some(first) if keep(first.id.inner()) || !keep(v.id.inner()) => {}
            _ => {
                chosen.insert(&v.sku, v);
            }
        }
    }
    let mut updated_at = product.updated_at.0.clone();
    let mut out = Vec::with_capacity(chosen.len());
    for v in variants
        .into_iter()
        .filter(|v| chosen.get(v.sku.as_str()).is_some_and(|c| c.id == v.id))
    {
        if v.updated_at.0 > updated_at {
            updated_at = v.updated_at.0.clone();
        }
        let refused = |reason: String| Unmappable {
            key: v.sku.clone(),
            reason,
        };
        let mut prices = Prices::new();
        for p in &v.prices {
            prices.insert(
                money::from_minor_units(p.price.0, p.currency_code.as_str())
                    .map_err(|e| refused(e.to_string()))?,
            );
        }
        let option_values = groups
            .iter()
            .map(|g| {
                v.options
                    .iter()
                    .find(|o| o.group_id == g.id)
                    .map(|o| o.name.clone())
                    .ok_or_else(|| refused(format!("no value for option `{}`", g.name)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Variant {
            sku: v.sku.clone(),
            title: v.name.clone(),
            option_values,
            prices,
            stock: stock_of(v, locations),
            attributes: BTreeMap::new(),
            id: Some(v.id.inner().to_string()),
        });
    }
    Ok(Product {
        handle: product.slug.clone(),
        title: product.name.clone(),
        description: product.description.clone(),
        status: if product.enabled {
            ProductStatus::Active
        } else {
            ProductStatus::Draft
        },
        categories: FacetCodes::values_of(product, &facets.category),
        tags: FacetCodes::values_of(product, &facets.tag),
        images: images_of(product),
        options: groups.iter().map(|g| g.name.clone()).collect(),
        attributes: BTreeMap::new(),
        variants: out,
        updated_at,
        id: Some(product.id.inner().to_string()),
    })
}

/// A product's images: its assets in order, the featured asset first
/// (Vendure keeps it apart; the tool writes the first image as it). No alt
/// text: Vendure has no place for it.
fn images_of(product: &WholeProduct) -> Vec<Image> {
    let mut assets: Vec<&ProductAsset> = product.featured_asset.iter().collect();
    assets.extend(
        product
            .assets
            .iter()
            .filter(|a| product.featured_asset.as_ref().is_none_or(|f| f.id != a.id)),
    );
    let mut images: Vec<Image> = Vec::with_capacity(assets.len());
    for asset in assets {
        let url = assets::image_url(asset);
        if !images.iter().any(|i| i.url == url) {
            images.push(Image {
                url,
                alt: String::new(),
            });
        }
    }
    images
}

/// A variant's stock by catalog location: Vendure's default location as
/// `default` when no location is mapped, else each mapped location the
/// variant has a stock level at.
fn stock_of(variant: &WholeVariant, locations: &LocationMap) -> BTreeMap<String, i64> {
    stock_at(variant.stock_on_hand, &variant.stock_levels, locations)
}

/// [`stock_of`] from a variant's `stockOnHand` (at the default location)
/// and its `stockLevels`, however they were read.
pub fn stock_at(
    stock_on_hand: i32,
    stock_levels: &[StockLevel],
    locations: &LocationMap,
) -> BTreeMap<String, i64> {
    if locations.is_empty() {
        return BTreeMap::from([(
            DEFAULT_LOCATION.to_string(),
            i64::from(stock_on_hand.max(0)),
        )]);
    }
    locations
        .iter()
        .filter_map(|(name, id)| {
            let level = stock_levels
                .iter()
                .find(|l| l.stock_location_id.inner() == id)?;
            Some((name.clone(), i64::from(level.stock_on_hand.max(0))))
        })
        .collect()
}

/// How a variant's stock is written: `stockOnHand` at the default location
/// when no location is mapped, else a stock level per mapped location.
pub fn stock_input(
    variant: &crate::catalog::Variant,
    locations: &LocationMap,
) -> (Option<i32>, Option<Vec<StockLevelInput>>) {
    stock_input_of(&variant.stock, locations)
}

/// [`stock_input`] for `stock` (catalog location -> quantity, each checked
/// to fit Vendure's `Int`): only the locations `stock` names are written.
pub fn stock_input_of(
    stock: &BTreeMap<String, i64>,
    locations: &LocationMap,
) -> (Option<i32>, Option<Vec<StockLevelInput>>) {
    let quantity = |q: &i64| i32::try_from(*q).expect("checked by the caller");
    if locations.is_empty() {
        return (stock.get(DEFAULT_LOCATION).map(quantity), None);
    }
    let levels: Vec<StockLevelInput> = locations
        .iter()
        .filter_map(|(name, id)| {
            Some(StockLevelInput {
                stock_location_id: Id::new(id.clone()),
                stock_on_hand: quantity(stock.get(name)?),
            })
        })
        .collect();
    (None, (!levels.is_empty()).then_some(levels))
}

/// A catalog product as Vendure can hold it on `channel`.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The product with explicit variant titles, prices in the currencies
    /// the channel accepts, and only the stock Vendure's default location
    /// holds.
    pub product: Product,
    /// Currencies the channel does not accept, whose prices were left out.
    pub dropped: Vec<Currency>,
}

/// Restricts `product` to what Vendure carries on `channel` (attributes
/// only `with_attributes`: a channel with `attributes-field`), or says why it
/// cannot go there at all (a variant without a price in the channel's
/// default currency, which Vendure gives every variant, 0 if not told).
pub fn desired(
    product: &Product,
    channel: &Channel,
    locations: &LocationMap,
    with_attributes: bool,
) -> Result<Desired, String> {
    let accepted: BTreeSet<&str> = channel
        .available_currency_codes
        .iter()
        .map(|c| c.as_str())
        .collect();
    let default_currency = channel.default_currency_code.as_str();
    let mut dropped = BTreeSet::new();
    let mut out = product.clone();
    for variant in &mut out.variants {
        variant.title = product.variant_title(variant).to_string();
        variant.prices.retain(|p| {
            let keep = accepted.contains(p.currency().code());
            if !keep {
                dropped.insert(p.currency());
            }
            keep
        });
        if !variant
            .prices
            .currencies()
            .any(|c| c.code() == default_currency)
        {
            return Err(format!(
                "variant `{}` has no {default_currency} price: Vendure gives every variant a price in the channel's default currency ({default_currency}), so the catalog must have one",
                variant.sku
            ));
        }
        for price in variant.prices.iter() {
            money::to_minor_units(price).map_err(|e| format!("variant `{}`: {e}", variant.sku))?;
        }
        variant.stock.retain(|location, _| {
            if locations.is_empty() {
                location == DEFAULT_LOCATION
            } else {
                locations.contains_key(location)
            }
        });
        for (location, quantity) in &variant.stock {
            if i32::try_from(*quantity).is_err() {
                return Err(format!(
                    "variant `{}`: stock {quantity} at `{location}` is too large for Vendure (at most {})",
                    variant.sku,
                    i32::MAX
                ));
            }
        }
        if !with_attributes {
            variant.attributes.clear();
        }
    }
    // One asset per URL; alt text has no place on Vendure.
    let mut images: Vec<Image> = Vec::with_capacity(out.images.len());
    for image in out.images.drain(..) {
        if !images.iter().any(|i| i.url == image.url) {
            images.push(Image {
                url: image.url,
                alt: String::new(),
            });
        }
    }
    out.images = images;
    if !with_attributes {
        out.attributes.clear();
    }
    Ok(Desired {
        product: out,
        dropped: dropped.into_iter().collect(),
    })
}

/// `Mug 1/Blue` -> `mug-1-blue`: the code of an option group or option
/// (the catalog's slug, never empty: Vendure needs a code).
pub fn slug(text: &str) -> String {
    let slug = crate::catalog::slug(text);
    if slug.is_empty() {
        "option".to_string()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_data::{price, shirt};
    use crate::connector::vendure::wire::{
        CurrencyCode, DateTime, FacetCode, LanguageCode, Money, OptionGroup, OptionValue,
        StockLevel, VariantPrice,
    };

    fn channel(currencies: &[&str]) -> Channel {
        Channel {
            id: Id::new("1"),
            default_currency_code: CurrencyCode::new(currencies[0]),
            available_currency_codes: currencies.iter().map(|c| CurrencyCode::new(c)).collect(),
            default_language_code: LanguageCode::En,
        }
    }

    fn option(id: &str, group: &str, name: &str) -> OptionValue {
        OptionValue {
            id: Id::new(id),
            code: slug(name),
            name: name.into(),
            group_id: Id::new(group),
        }
    }

    fn variant(id: &str, sku: &str, size: &str, usd: i64, eur: i64) -> WholeVariant {
        WholeVariant {
            id: Id::new(id),
            created_at: DateTime("2026-01-01T00:00:00.000Z".into()),
            updated_at: DateTime(format!("2026-01-01T00:00:0{id}.000Z")),
            sku: sku.into(),
            name: format!("T-Shirt {size}"),
            enabled: true,
            stock_on_hand: 4,
            stock_levels: vec![
                StockLevel {
                    stock_location_id: Id::new("1"),
                    stock_on_hand: 4,
                },
                StockLevel {
                    stock_location_id: Id::new("2"),
                    stock_on_hand: 9,
                },
            ],
            prices: vec![
                VariantPrice {
                    currency_code: CurrencyCode::new("USD"),
                    price: Money(usd),
                },
                VariantPrice {
                    currency_code: CurrencyCode::new("EUR"),
                    price: Money(eur),
                },
            ],
            options: vec![option(&format!("o{id}"), "g1", size)],
        }
    }

    fn facet_value(id: &str, facet: &str, name: &str) -> ProductFacetValue {
        ProductFacetValue {
            id: Id::new(id),
            name: name.into(),
            facet: FacetCode { code: facet.into() },
        }
    }

    fn vendure_shirt() -> WholeProduct {
        WholeProduct {
            id: Id::new("7"),
            created_at: DateTime("2026-01-01T00:00:00.000Z".into()),
            updated_at: DateTime("2026-01-01T00:00:00.000Z".into()),
            name: "T-Shirt".into(),
            slug: "tshirt".into(),
            description: "<p>Soft.</p>".into(),
            enabled: false,
            facet_values: vec![
                facet_value("12", "category", "Clothing > Shirts"),
                facet_value("4", "brand", "Acme"),
                facet_value("5", "category", "Summer"),
                facet_value("6", "tag", "cotton"),
            ],
            option_groups: vec![OptionGroup {
                id: Id::new("g1"),
                code: "tshirt-size".into(),
                name: "Size".into(),
                options: vec![],
            }],
            variants: vec![
                variant("3", "TS-L", "L", 2100, 1900),
                variant("1", "TS-S", "S", 1990, 1790),
                variant("2", "", "M", 1990, 1790),
            ],
            featured_asset: None,
            assets: vec![],
        }
    }

    fn asset(id: &str, name: &str) -> ProductAsset {
        ProductAsset {
            id: Id::new(id),
            name: name.into(),
            source: format!("http://shop.example/assets/source/{id}.jpg"),
        }
    }

    #[test]
    fn attributes_are_kept_only_for_a_channel_that_names_their_field() {
        let mut p = shirt();
        p.variants[0].attributes.insert("fit".into(), "slim".into());
        let channel = channel(&["USD", "EUR"]);
        for v in &mut p.variants {
            v.prices.insert(price("25.00", "USD"));
        }
        let with = desired(&p, &channel, &LocationMap::new(), true).unwrap();
        assert_eq!(with.product.attributes["brand"], "Acme");
        assert_eq!(with.product.variants[0].attributes["fit"], "slim");
        let without = desired(&p, &channel, &LocationMap::new(), false).unwrap();
        assert!(without.product.attributes.is_empty());
        assert!(
            without
                .product
                .variants
                .iter()
                .all(|v| v.attributes.is_empty())
        );
    }

    #[test]
    fn images_are_the_assets_in_order_with_the_featured_one_first() {
        let mut p = vendure_shirt();
        p.assets = vec![
            asset("3", "https://img.example/back.jpg"),
            asset("5", "side.jpg"),
            asset("4", "https://img.example/front.jpg"),
        ];
        p.featured_asset = Some(asset("4", "https://img.example/front.jpg"));
        let urls: Vec<String> =
            to_catalog(&p, &|_| false, &LocationMap::new(), &FacetCodes::default())
                .unwrap()
                .images
                .into_iter()
                .map(|i| i.url)
                .collect();
        assert_eq!(
            urls,
            [
                "https://img.example/front.jpg",
                "https://img.example/back.jpg",
                "http://shop.example/assets/source/5.jpg"
            ]
        );
    }

    fn shirt_in_catalog(facets: &FacetCodes) -> Product {
        to_catalog(&vendure_shirt(), &|_| false, &LocationMap::new(), facets).unwrap()
    }

    #[test]
    fn a_vendure_product_maps_to_a_catalog_product_with_its_options_and_prices() {
        let product = shirt_in_catalog(&FacetCodes::default());
        assert_eq!(
            (
                product.handle.as_str(),
                product.title.as_str(),
                product.status
            ),
            ("tshirt", "T-Shirt", ProductStatus::Draft)
        );
        assert_eq!(product.options, ["Size"]);
        assert_eq!(product.updated_at, "2026-01-01T00:00:03.000Z");
        let skus: Vec<&str> = product.skus().collect();
        assert_eq!(skus, ["TS-S", "TS-L"], "id order, no SKU left out");
        let small = &product.variants[0];
        assert_eq!(small.option_values, ["S"]);
        assert_eq!(
            small.prices.get(Currency::from_code("EUR").unwrap()),
            Some(&price("17.90", "EUR"))
        );
        assert_eq!(small.stock, BTreeMap::from([("default".to_string(), 4)]));
    }

    #[test]
    fn categories_and_tags_are_the_values_of_the_channels_facets_in_id_order() {
        let product = shirt_in_catalog(&FacetCodes::default());
        assert_eq!(product.categories, ["Summer", "Clothing > Shirts"]);
        assert_eq!(product.tags, ["cotton"], "the brand facet is not a tag");
        let product = shirt_in_catalog(&FacetCodes::new(
            Some("brand".into()),
            Some("category".into()),
        ));
        assert_eq!(product.categories, ["Acme"]);
        assert_eq!(product.tags, ["Summer", "Clothing > Shirts"]);
    }

    #[test]
    fn a_sku_held_twice_reads_as_the_variant_preferred_else_the_oldest() {
        let mut p = vendure_shirt();
        p.variants.push(variant("9", "TS-S", "S", 500, 500));
        let oldest =
            to_catalog(&p, &|_| false, &LocationMap::new(), &FacetCodes::default()).unwrap();
        assert_eq!(oldest.variants[0].id.as_deref(), Some("1"));
        let preferred = to_catalog(
            &p,
            &|id| id == "9",
            &LocationMap::new(),
            &FacetCodes::default(),
        )
        .unwrap();
        let small = preferred.variant("TS-S").unwrap();
        assert_eq!(small.id.as_deref(), Some("9"));
        assert_eq!(preferred.variants.len(), 2);
    }

    #[test]
    fn the_desired_product_keeps_what_the_channel_takes_and_says_what_it_dropped() {
        let mut p = shirt();
        for v in &mut p.variants {
            v.prices.insert(price("25.00", "USD"));
            v.prices.insert(price("3000", "JPY"));
            v.stock.insert("berlin".into(), 3);
        }
        let d = desired(&p, &channel(&["USD", "EUR"]), &LocationMap::new(), false).unwrap();
        assert_eq!(d.dropped, [Currency::from_code("JPY").unwrap()]);
        let small = &d.product.variants[0];
        assert_eq!(small.title, "T-Shirt", "explicit title");
        assert_eq!(small.prices.len(), 2);
        assert_eq!(small.stock, BTreeMap::from([("default".to_string(), 5)]));
        assert_eq!(
            d.product.images,
            [Image {
                url: "https://cdn.example/ts.jpg".into(),
                alt: String::new()
            }],
            "images without their alt text"
        );
        assert_eq!(
            (d.product.categories, d.product.tags),
            (p.categories, p.tags),
            "categories and tags are carried"
        );

        let why = desired(
            &shirt(),
            &channel(&["USD", "EUR"]),
            &LocationMap::new(),
            false,
        )
        .unwrap_err();
        assert!(
            why.contains("no USD price") && why.contains("TS-S"),
            "{why}"
        );
    }

    #[test]
    fn mapped_locations_read_and_write_stock_levels_by_name() {
        let locations = LocationMap::from([
            ("berlin".to_string(), "2".to_string()),
            ("paris".to_string(), "3".to_string()),
        ]);
        let product = to_catalog(
            &vendure_shirt(),
            &|_| false,
            &locations,
            &FacetCodes::default(),
        )
        .unwrap();
        assert_eq!(
            product.variants[0].stock,
            BTreeMap::from([("berlin".to_string(), 9)]),
            "a level at each mapped location there is one at"
        );
        let mut p = shirt();
        for v in &mut p.variants {
            v.prices.insert(price("25.00", "USD"));
        }
        p.variants[0].stock = BTreeMap::from([
            ("berlin".to_string(), 7),
            ("default".to_string(), 5),
            ("paris".to_string(), 1),
        ]);
        let d = desired(&p, &channel(&["EUR"]), &locations, false).unwrap();
        let (on_hand, levels) = stock_input(&d.product.variants[0], &locations);
        assert_eq!(on_hand, None);
        let levels: Vec<(&str, i32)> = levels
            .as_deref()
            .unwrap()
            .iter()
            .map(|l| (l.stock_location_id.inner(), l.stock_on_hand))
            .collect();
        assert_eq!(
            levels,
            [("2", 7), ("3", 1)],
            "unmapped `default` is not written"
        );
        let (on_hand, levels) = stock_input(&p.variants[0], &LocationMap::new());
        assert_eq!((on_hand, levels), (Some(5), None));
    }

    #[test]
    fn slugs_and_codes_are_lower_case_words() {
        assert_eq!(slug("MUG-1"), "mug-1");
        assert_eq!(slug("Mug 1/Blue"), "mug-1-blue");
        assert_eq!(slug("--x--"), "x");
        assert_eq!(slug("ÄÖ"), "option");
    }
}
