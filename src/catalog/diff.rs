//! Field-level differences between two versions of one product: what an
//! update must write, what a dry run shows, what `products diff` prints.
//! One pure function, [`diff`], restricted to the fields a channel owns.
//!
//! Values are JSON (`serde_json::Value`) as the product's own JSON writes
//! them (prices as decimal strings with the currency's minor units), so a
//! change prints and serialises the same way everywhere; `null` is absent.
//! Maps (prices, stock, attributes) differ key by key (`prices.EUR`,
//! `stock.berlin`, `attributes.colour`); lists (images, tags, categories,
//! options, option values) as a whole, since their order is part of them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Field, FieldSet, Prices, Product, Variant};

/// One changed value: `path` is the field's name, or `field.key` inside a map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: Field,
    pub path: String,
    pub old: Value,
    pub new: Value,
}

/// What happened to one variant, by SKU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum VariantDiff {
    /// In the new product only: created whole.
    Added { sku: String },
    /// In the old product only.
    Removed { sku: String },
    /// In both, with these owned fields changed.
    Changed { sku: String, changes: Vec<Change> },
}

/// The differences between two versions of one product.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProductDiff {
    pub handle: String,
    /// Product-level fields.
    pub changes: Vec<Change>,
    /// Variants added, removed or changed, in the new product's order, then
    /// the removed ones in the old product's order.
    pub variants: Vec<VariantDiff>,
}

impl ProductDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.variants.is_empty()
    }

    /// Every field that changed, on the product or on any variant.
    pub fn changed_fields(&self) -> FieldSet {
        let variant_changes = self.variants.iter().flat_map(|v| match v {
            VariantDiff::Changed { changes, .. } => changes.as_slice(),
            _ => &[],
        });
        self.changes
            .iter()
            .chain(variant_changes)
            .map(|c| c.field)
            .collect()
    }

    /// The changes of the variant with `sku`, if it changed.
    pub fn variant_changes(&self, sku: &str) -> Option<&[Change]> {
        self.variants.iter().find_map(|v| match v {
            VariantDiff::Changed { sku: s, changes } if s == sku => Some(changes.as_slice()),
            _ => None,
        })
    }
}

/// The differences from `old` to `new` in the fields of `fields`; variants
/// are matched by SKU, and one added or removed is reported whatever the
/// fields.
pub fn diff(old: &Product, new: &Product, fields: FieldSet) -> ProductDiff {
    let mut changes = Vec::new();
    let mut push = |field: Field, old: Value, new: Value| {
        if fields.contains(field) && old != new {
            changes.push(Change {
                field,
                path: field.as_str().to_string(),
                old,
                new,
            });
        }
    };
    push(Field::Title, text(&old.title), text(&new.title));
    push(
        Field::Description,
        text(&old.description),
        text(&new.description),
    );
    push(
        Field::Status,
        text(old.status.as_str()),
        text(new.status.as_str()),
    );
    push(Field::Images, json(&old.images), json(&new.images));
    push(
        Field::Categories,
        json(&old.categories),
        json(&new.categories),
    );
    push(Field::Tags, json(&old.tags), json(&new.tags));
    push(Field::Options, json(&old.options), json(&new.options));
    if fields.contains(Field::Attributes) {
        map_changes(
            Field::Attributes,
            &strings(&old.attributes),
            &strings(&new.attributes),
            &mut changes,
        );
    }

    let mut variants = Vec::new();
    let new_skus: BTreeSet<&str> = new.skus().collect();
    for variant in &new.variants {
        match old.variant(&variant.sku) {
            None => variants.push(VariantDiff::Added {
                sku: variant.sku.clone(),
            }),
            Some(before) => {
                let changes = variant_changes(before, variant, fields);
                if !changes.is_empty() {
                    variants.push(VariantDiff::Changed {
                        sku: variant.sku.clone(),
                        changes,
                    });
                }
            }
        }
    }
    for sku in old.skus().filter(|s| !new_skus.contains(s)) {
        variants.push(VariantDiff::Removed {
            sku: sku.to_string(),
        });
    }
    ProductDiff {
        handle: new.handle.clone(),
        changes,
        variants,
    }
}

fn variant_changes(old: &Variant, new: &Variant, fields: FieldSet) -> Vec<Change> {
    let mut changes = Vec::new();
    if fields.contains(Field::Title) && old.title != new.title {
        changes.push(Change {
            field: Field::Title,
            path: "title".into(),
            old: text(&old.title),
            new: text(&new.title),
        });
    }
    if fields.contains(Field::Options) && old.option_values != new.option_values {
        changes.push(Change {
            field: Field::Options,
            path: "option_values".into(),
            old: json(&old.option_values),
            new: json(&new.option_values),
        });
    }
    if fields.contains(Field::Prices) {
        map_changes(
            Field::Prices,
            &prices(&old.prices),
            &prices(&new.prices),
            &mut changes,
        );
    }
    if fields.contains(Field::Stock) {
        let stock = |s: &BTreeMap<String, i64>| -> BTreeMap<String, Value> {
            s.iter()
                .map(|(k, v)| (k.clone(), Value::from(*v)))
                .collect()
        };
        map_changes(
            Field::Stock,
            &stock(&old.stock),
            &stock(&new.stock),
            &mut changes,
        );
    }
    if fields.contains(Field::Attributes) {
        map_changes(
            Field::Attributes,
            &strings(&old.attributes),
            &strings(&new.attributes),
            &mut changes,
        );
    }
    changes
}

/// Key-by-key changes of two maps, in key order.
fn map_changes(
    field: Field,
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
    changes: &mut Vec<Change>,
) {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let (before, after) = (old.get(key), new.get(key));
        if before != after {
            changes.push(Change {
                field,
                path: format!("{}.{key}", field.as_str()),
                old: before.cloned().unwrap_or(Value::Null),
                new: after.cloned().unwrap_or(Value::Null),
            });
        }
    }
}

fn text(s: &str) -> Value {
    Value::String(s.to_string())
}

fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("catalog values always serialise")
}

fn strings(map: &BTreeMap<String, String>) -> BTreeMap<String, Value> {
    map.iter().map(|(k, v)| (k.clone(), text(v))).collect()
}

/// By value, with the currency's minor units: `19.9` and `19.90` are equal.
fn prices(prices: &Prices) -> BTreeMap<String, Value> {
    prices
        .iter()
        .map(|p| {
            (
                p.currency().code().to_string(),
                text(&p.with_minor_units().amount_text()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::test_data::*;
    use crate::catalog::{Image, ProductStatus};

    fn change(field: Field, path: &str, old: Value, new: Value) -> Change {
        Change {
            field,
            path: path.into(),
            old,
            new,
        }
    }

    #[test]
    fn changes_are_field_by_field_and_variant_by_variant() {
        type Edit = fn(&mut Product);
        let cases: &[(&str, Edit, Vec<Change>, Vec<VariantDiff>)] = &[
            ("nothing", |_| {}, vec![], vec![]),
            (
                "updated_at is no content",
                |p| p.updated_at = "2027-01-01T00:00:00Z".into(),
                vec![],
                vec![],
            ),
            (
                "the description",
                |p| p.description = "New".into(),
                vec![change(
                    Field::Description,
                    "description",
                    json!("<p>Soft cotton.</p>\n"),
                    json!("New"),
                )],
                vec![],
            ),
            (
                "the status",
                |p| p.status = ProductStatus::Draft,
                vec![change(
                    Field::Status,
                    "status",
                    json!("active"),
                    json!("draft"),
                )],
                vec![],
            ),
            (
                "an image's alt",
                |p| p.images[0].alt = "Back".into(),
                vec![change(
                    Field::Images,
                    "images",
                    json!([{"url": "https://cdn.example/ts.jpg", "alt": "Front"}]),
                    json!([{"url": "https://cdn.example/ts.jpg", "alt": "Back"}]),
                )],
                vec![],
            ),
            (
                "a product attribute added and one changed",
                |p| {
                    p.attributes.insert("brand".into(), "Other".into());
                    p.attributes.insert("care".into(), "30°".into());
                },
                vec![
                    change(
                        Field::Attributes,
                        "attributes.brand",
                        json!("Acme"),
                        json!("Other"),
                    ),
                    change(
                        Field::Attributes,
                        "attributes.care",
                        Value::Null,
                        json!("30°"),
                    ),
                ],
                vec![],
            ),
            (
                "one variant's price",
                |p| p.variants[1].prices.insert(price("18", "EUR")),
                vec![],
                vec![VariantDiff::Changed {
                    sku: "TS-M".into(),
                    changes: vec![change(
                        Field::Prices,
                        "prices.EUR",
                        json!("19.90"),
                        json!("18.00"),
                    )],
                }],
            ),
            (
                "a price spelled differently is no change",
                |p| p.variants[1].prices.insert(price("19.9", "EUR")),
                vec![],
                vec![],
            ),
            (
                "a currency added, stock at a new location",
                |p| {
                    p.variants[0].prices.insert(price("21", "USD"));
                    p.variants[0].stock.insert("berlin".into(), 2);
                },
                vec![],
                vec![VariantDiff::Changed {
                    sku: "TS-S".into(),
                    changes: vec![
                        change(Field::Prices, "prices.USD", Value::Null, json!("21.00")),
                        change(Field::Stock, "stock.berlin", Value::Null, json!(2)),
                    ],
                }],
            ),
            (
                "a variant removed and one added",
                |p| {
                    p.variants.remove(0);
                    p.variants.push(variant("TS-XL", &["XL"], "22"));
                },
                vec![],
                vec![
                    VariantDiff::Added {
                        sku: "TS-XL".into(),
                    },
                    VariantDiff::Removed { sku: "TS-S".into() },
                ],
            ),
            (
                "a variant's title and option value",
                |p| {
                    p.variants[2].title = "Large".into();
                    p.variants[2].option_values = vec!["XL".into()];
                },
                vec![],
                vec![VariantDiff::Changed {
                    sku: "TS-L".into(),
                    changes: vec![
                        change(Field::Title, "title", json!(""), json!("Large")),
                        change(Field::Options, "option_values", json!(["L"]), json!(["XL"])),
                    ],
                }],
            ),
        ];
        for (what, edit, product_changes, variant_diffs) in cases {
            let old = shirt();
            let mut new = shirt();
            edit(&mut new);
            let d = diff(&old, &new, FieldSet::ALL);
            assert_eq!(&d.changes, product_changes, "{what}");
            assert_eq!(&d.variants, variant_diffs, "{what}");
            assert_eq!(
                d.is_empty(),
                product_changes.is_empty() && variant_diffs.is_empty(),
                "{what}"
            );
        }
    }

    #[test]
    fn fields_not_owned_are_not_compared() {
        let old = shirt();
        let mut new = shirt();
        new.description = "Edited on the shop".into();
        new.title = "Tee".into();
        new.images.push(Image {
            url: "https://cdn.example/b.jpg".into(),
            alt: String::new(),
        });
        new.variants[0].prices.insert(price("9.99", "EUR"));
        new.variants[0].stock.insert("default".into(), 1);
        let owned = FieldSet::parse(&["prices", "stock"]).unwrap();
        let d = diff(&old, &new, owned);
        assert!(d.changes.is_empty(), "{d:?}");
        assert_eq!(
            d.variant_changes("TS-S").unwrap(),
            [
                change(Field::Prices, "prices.EUR", json!("19.90"), json!("9.99")),
                change(Field::Stock, "stock.default", json!(5), json!(1)),
            ]
        );
        assert_eq!(d.changed_fields().to_string(), "prices, stock");
        let all = diff(&old, &new, FieldSet::ALL);
        assert_eq!(
            all.changed_fields().to_string(),
            "title, description, images, prices, stock"
        );
        // Added and removed variants show whatever the fields.
        let mut fewer = shirt();
        fewer.variants.pop();
        let d = diff(&old, &fewer, FieldSet::NONE);
        assert_eq!(d.variants, [VariantDiff::Removed { sku: "TS-L".into() }]);
    }

    #[test]
    fn a_diff_serialises_with_kinds_and_paths() {
        let old = shirt();
        let mut new = shirt();
        new.variants[0].prices.insert(price("20", "EUR"));
        let text = serde_json::to_string(&diff(&old, &new, FieldSet::ALL)).unwrap();
        assert_eq!(
            text,
            r#"{"handle":"tshirt","changes":[],"variants":[{"kind":"changed","sku":"TS-S","changes":[{"field":"prices","path":"prices.EUR","old":"19.90","new":"20.00"}]}]}"#
        );
    }
}
