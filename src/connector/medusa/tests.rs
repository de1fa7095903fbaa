//! Unit tests of the Medusa mapping: replies parsed from JSON text as the
//! real server sends it, no network.

use std::collections::BTreeMap;

use super::taxonomy::CategoryTree;
use super::wire::{self, MappingContext, Mode, ProductList};
use crate::catalog::ProductStatus;
use crate::connector::Skipped;

const LOCATION: &str = "sloc_1";

fn locations() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("default".to_string(), LOCATION.to_string()),
        ("berlin".to_string(), "sloc_berlin".to_string()),
    ])
}

/// A listing as Medusa 2.21 answers it (shape copied from a real reply).
const LISTING: &str = r#"{"products":[
 {"id":"prod_1","title":"Shirt","handle":"shirt","status":"published","description":"<p>Soft</p>",
  "metadata":{"fabric":"cotton","count":3},"updated_at":"2026-11-27T09:43:41.242Z","unknown_field":1,
  "categories":[{"id":"pcat_3"},{"id":"pcat_2"},{"id":"pcat_gone"}],"tags":[{"value":"soft"},{"value":"new"}],
  "options":[{"id":"opt_d","title":"Default","values":[{"value":"Default"}]}],
  "images":[{"url":"https://img.example/2.jpg","rank":1},{"url":"https://img.example/1.jpg","rank":0}],
  "variants":[{"id":"variant_1","sku":"A1","title":"Shirt","updated_at":"2026-11-27T09:43:49.282Z",
   "options":[{"value":"Default","option_id":"opt_d"}],
   "inventory_items":[{"variant_id":"variant_1","inventory_item_id":"iitem_1","inventory":{"id":"iitem_1",
     "location_levels":[{"location_id":"sloc_other","stocked_quantity":99,"updated_at":"2026-11-27T10:00:00Z"},
                        {"location_id":"sloc_berlin","stocked_quantity":4,"updated_at":"2026-11-27T09:44:00Z"},
                        {"location_id":"sloc_1","stocked_quantity":7,"updated_at":"2026-11-27T09:50:00.123Z"}]}}],
   "prices":[{"id":"price_r","amount":15,"currency_code":"eur","rules":{"region_id":"reg_1"},"updated_at":"2026-11-27T11:00:00Z"},
             {"id":"price_1","amount":0.1,"currency_code":"eur","rules":{},"updated_at":"2026-11-27T09:43:49.308Z"},
             {"id":"price_2","amount":5,"currency_code":"usd","rules":{}}]}]},
 {"id":"prod_2","title":"Mug","handle":"mug","status":"draft","updated_at":"2026-11-27T09:00:00Z",
  "options":[{"id":"opt_s","title":"Size","values":[{"value":"S"},{"value":"L"},{"value":"XL"}]}],
  "variants":[
   {"id":"variant_4","sku":"M-X","title":"Huge","variant_rank":2,"updated_at":"2026-11-27T09:00:00Z","prices":[],
    "options":[{"value":"XL","option_id":"opt_s"}]},
   {"id":"variant_2","sku":"M-S","title":"Small","variant_rank":0,"updated_at":"2026-11-27T09:00:00Z",
     "options":[{"value":"S","option_id":"opt_s"}],
     "prices":[{"id":"p","amount":1234567.89,"currency_code":"EUR","rules":{}}],"inventory_items":[]},
   {"id":"variant_3","sku":null,"title":"Large","variant_rank":1,"updated_at":"2026-11-27T09:00:00Z","prices":[],
    "options":[{"value":"L","option_id":"opt_s"}]}]}
],"count":2,"offset":0,"limit":50}"#;

fn listing(text: &str) -> ProductList {
    serde_json::from_str(text).expect("a real listing parses")
}

fn map(
    text: &str,
    n: usize,
    mode: Mode,
) -> Result<(crate::catalog::Product, Vec<Skipped>), Skipped> {
    let list = listing(text);
    let locations = locations();
    let tree = CategoryTree::of(&[
        ("pcat_1", "Clothing", None),
        ("pcat_2", "Shirts", Some("pcat_1")),
        ("pcat_3", "Summer", None),
    ]);
    let ctx = MappingContext {
        currency: "eur",
        locations: &locations,
        categories: &tree,
    };
    wire::to_catalog(&list.products[n], &ctx, mode)
}

#[test]
fn a_product_maps_whole_with_exact_prices_per_currency_and_stock_per_location() {
    let (product, skipped) = map(LISTING, 0, Mode::Import).expect("maps");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(
        (product.handle.as_str(), product.title.as_str()),
        ("shirt", "Shirt")
    );
    assert_eq!(product.description, "<p>Soft</p>");
    assert_eq!(product.status, ProductStatus::Active);
    assert!(
        product.options.is_empty(),
        "the Default option is no option"
    );
    assert_eq!(
        product
            .images
            .iter()
            .map(|i| i.url.as_str())
            .collect::<Vec<_>>(),
        ["https://img.example/1.jpg", "https://img.example/2.jpg"],
        "images in Medusa's rank order"
    );
    assert_eq!(
        product.attributes,
        BTreeMap::from([("fabric".to_string(), "cotton".to_string())]),
        "string metadata only"
    );
    assert_eq!(
        product.categories,
        ["Clothing > Shirts", "Summer"],
        "paths from the root, sorted; an unknown category is left out"
    );
    assert_eq!(
        product.tags,
        ["new", "soft"],
        "sorted: Medusa keeps no order"
    );
    let [variant] = product.variants.as_slice() else {
        panic!("one variant: {product:?}")
    };
    assert_eq!(variant.sku, "A1");
    assert_eq!(variant.title, "", "the product's title");
    let prices: Vec<String> = variant.prices.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        prices,
        ["0.10 EUR", "5.00 USD"],
        "base prices only, with the currency's digits"
    );
    assert_eq!(
        variant.stock,
        BTreeMap::from([("berlin".to_string(), 4), ("default".to_string(), 7)]),
        "mapped locations only"
    );
    assert_eq!(variant.id.as_deref(), Some("variant_1"));
    assert_eq!(product.id.as_deref(), Some("prod_1"));
    assert_eq!(
        product.updated_at, "2026-11-27T09:50:00.123Z",
        "the latest of product, variant, base prices and mapped levels"
    );
}

#[test]
fn options_and_variant_order_follow_medusa_and_unsellable_variants_say_why() {
    let (mug, skipped) = map(LISTING, 1, Mode::Import).expect("maps");
    assert_eq!(mug.status, ProductStatus::Draft);
    assert_eq!(mug.options, ["Size"]);
    let skus: Vec<&str> = mug.skus().collect();
    assert_eq!(skus, ["M-S"], "the others cannot be sold: {skipped:?}");
    assert_eq!(mug.variants[0].option_values, ["S"]);
    assert_eq!(mug.variants[0].title, "Small");
    assert_eq!(
        mug.variants[0].prices.iter().next().unwrap().amount_text(),
        "1234567.89"
    );
    assert!(mug.variants[0].stock.is_empty(), "no inventory");
    assert_eq!(
        skipped,
        [
            Skipped::NoSku,
            Skipped::NoPrice {
                currency: "EUR".into()
            }
        ]
    );

    // What an update compares against keeps the unpriced variant, so the
    // update writes the price it lacks.
    let (current, _) = map(LISTING, 1, Mode::Current).expect("maps");
    let skus: Vec<&str> = current.skus().collect();
    assert_eq!(skus, ["M-S", "M-X"], "by variant rank");
    assert!(current.variants[1].prices.is_empty());
}

#[test]
fn fractional_stock_is_refused_not_rounded() {
    let text = LISTING.replace(r#""stocked_quantity":7"#, r#""stocked_quantity":7.5"#);
    let (_, skipped) = map(&text, 0, Mode::Import)
        .map(|(p, s)| (Some(p), s))
        .unwrap_or_else(|s| (None, vec![s]));
    assert!(
        matches!(skipped.as_slice(), [Skipped::Refused { key, reason, .. }] if key == "A1" && reason.contains("7.5")),
        "{skipped:?}"
    );
}

#[test]
fn prices_that_break_the_price_rule_are_refused_by_sku() {
    for (amount, expected) in [
        ("-1", "price `-1` is negative"),
        ("1.005", "more decimals than EUR allows"),
    ] {
        let text = LISTING.replace(r#""amount":0.1,"#, &format!(r#""amount":{amount},"#));
        let result = map(&text, 0, Mode::Import);
        assert!(
            matches!(&result, Err(Skipped::Refused { key: sku, reason, .. }) if sku == "A1" && reason.contains(expected)),
            "{amount}: {result:?}"
        );
    }
}
