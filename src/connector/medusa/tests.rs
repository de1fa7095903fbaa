//! Unit tests of the Medusa mapping: replies parsed from JSON text as the
//! real server sends it, no network.

use super::export::handle_for;
use super::wire::{self, MappingContext, ProductList, catalog_title};
use crate::connector::Skipped;

const LOCATION: &str = "sloc_1";

fn ctx() -> MappingContext<'static> {
    MappingContext {
        currency: "eur",
        stock_location_id: LOCATION,
    }
}

/// A listing as Medusa 2.21 answers it (shape copied from a real reply).
const LISTING: &str = r#"{"products":[
 {"id":"prod_1","title":"Shirt","updated_at":"2026-11-27T09:43:41.242Z","unknown_field":1,
  "variants":[{"id":"variant_1","sku":"A1","title":"Shirt","updated_at":"2026-11-27T09:43:49.282Z",
   "inventory_items":[{"variant_id":"variant_1","inventory_item_id":"iitem_1","inventory":{"id":"iitem_1",
     "location_levels":[{"location_id":"sloc_other","stocked_quantity":99,"updated_at":"2026-11-27T10:00:00Z"},
                        {"location_id":"sloc_1","stocked_quantity":7,"updated_at":"2026-11-27T09:50:00.123Z"}]}}],
   "prices":[{"id":"price_r","amount":15,"currency_code":"eur","rules":{"region_id":"reg_1"},"updated_at":"2026-11-27T11:00:00Z"},
             {"id":"price_1","amount":0.1,"currency_code":"eur","rules":{},"updated_at":"2026-11-27T09:43:49.308Z"},
             {"id":"price_2","amount":5,"currency_code":"usd","rules":{}}]}]},
 {"id":"prod_2","title":"Mug","updated_at":"2026-11-27T09:00:00Z",
  "variants":[{"id":"variant_2","sku":"M-S","title":"Small","updated_at":"2026-11-27T09:00:00Z",
     "prices":[{"id":"p","amount":1234567.89,"currency_code":"EUR","rules":{}}],"inventory_items":[]},
   {"id":"variant_3","sku":null,"title":"Large","updated_at":"2026-11-27T09:00:00Z","prices":[]},
   {"id":"variant_4","sku":"M-X","title":"Huge","updated_at":"2026-11-27T09:00:00Z","prices":[]}]}
],"count":2,"offset":0,"limit":50}"#;

fn listing() -> ProductList {
    serde_json::from_str(LISTING).expect("a real listing parses")
}

#[test]
fn a_variant_maps_to_a_catalog_product_with_exact_price_and_located_stock() {
    let list = listing();
    let product =
        wire::variant_to_product(&list.products[0], &list.products[0].variants[0], &ctx())
            .expect("maps");
    assert_eq!(product.sku, "A1");
    assert_eq!(product.title, "Shirt");
    assert_eq!(
        product.price.to_string(),
        "0.10 EUR",
        "the base price, with the currency's two digits"
    );
    assert_eq!(product.quantity, 7, "stock at the chosen location only");
    assert_eq!(product.id.as_deref(), Some("variant_1"));
    assert_eq!(
        product.updated_at, "2026-11-27T09:50:00.123Z",
        "the latest of product, variant, base price and level: the level moved last"
    );
    assert!(product.attributes.is_empty());
}

#[test]
fn variants_without_sku_price_or_stock_level_are_handled() {
    let list = listing();
    let mug = &list.products[1];
    let small = wire::variant_to_product(mug, &mug.variants[0], &ctx()).expect("maps");
    assert_eq!(
        small.title, "Mug / Small",
        "a product with several variants"
    );
    assert_eq!(small.price.amount_text(), "1234567.89");
    assert_eq!(small.quantity, 0, "no inventory: nothing stocked here");
    assert_eq!(
        wire::variant_to_product(mug, &mug.variants[1], &ctx()),
        Err(Skipped::NoSku)
    );
    assert_eq!(
        wire::variant_to_product(mug, &mug.variants[2], &ctx()),
        Err(Skipped::NoPrice {
            currency: "EUR".into()
        })
    );
}

#[test]
fn fractional_stock_is_refused_not_rounded() {
    let text = LISTING.replace(r#""stocked_quantity":7"#, r#""stocked_quantity":7.5"#);
    let list: ProductList = serde_json::from_str(&text).unwrap();
    let result = wire::variant_to_product(&list.products[0], &list.products[0].variants[0], &ctx());
    assert!(
        matches!(result, Err(Skipped::Refused { ref sku, ref reason }) if sku == "A1" && reason.contains("7.5")),
        "{result:?}"
    );
}

#[test]
fn prices_that_break_the_price_rule_are_refused_by_sku() {
    for (amount, expected) in [
        ("-1", "price `-1` is negative"),
        ("1.005", "more decimals than EUR allows"),
    ] {
        let text = LISTING.replace(r#""amount":0.1,"#, &format!(r#""amount":{amount},"#));
        let list: ProductList = serde_json::from_str(&text).unwrap();
        let result =
            wire::variant_to_product(&list.products[0], &list.products[0].variants[0], &ctx());
        assert!(
            matches!(&result, Err(Skipped::Refused { sku, reason }) if sku == "A1" && reason.contains(expected)),
            "{amount}: {result:?}"
        );
    }
}

#[test]
fn catalog_titles_follow_the_variant_count() {
    assert_eq!(catalog_title("Shirt", "Shirt", 1), "Shirt");
    assert_eq!(catalog_title("Shirt", "Default variant", 1), "Shirt");
    assert_eq!(catalog_title("Shirt", "S", 2), "Shirt / S");
    assert_eq!(catalog_title("Shirt", "", 2), "Shirt");
}

#[test]
fn handles_are_unique_per_sku() {
    assert_eq!(handle_for("shirt-1"), "shirt-1");
    let upper = handle_for("SHIRT-1");
    assert!(upper.starts_with("shirt-1-"), "{upper}");
    assert_ne!(handle_for("A.1"), handle_for("A-1"));
    assert_ne!(handle_for("abc"), handle_for("ABC"));
    assert!(handle_for("ÄÖÜ").starts_with("sku-"));
    for sku in ["A.1", "x y", "--", "ÄÖÜ", "P0001"] {
        let handle = handle_for(sku);
        assert!(
            handle
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{handle}"
        );
    }
}
