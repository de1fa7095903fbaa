use super::*;
use crate::catalog::StockLevel;
use crate::store::StockUpdate;
use crate::store::catalog::test_data::product;
use crate::store::test_util::*;

fn store_with_levels(
    levels: &[(&str, &str, i64, i64)],
) -> (tempfile::TempDir, crate::store::Store) {
    let (dir, store) = temp_store();
    let mut skus: Vec<&str> = levels.iter().map(|l| l.0).collect();
    skus.dedup();
    let products: Vec<_> = skus.iter().map(|s| product(s, "1.00")).collect();
    let updates: Vec<StockUpdate> = levels
        .iter()
        .map(|(sku, location, on_hand, reserved)| StockUpdate {
            level: StockLevel::new(sku, location, *on_hand, *reserved),
            counted_at: at("2026-12-01T00:00:00Z"),
            dated: false,
        })
        .collect();
    store
        .write(|tx| {
            tx.upsert_products(&products)?;
            tx.write_stock_levels(&updates)
        })
        .unwrap();
    (dir, store)
}

fn owed(
    store: &crate::store::Store,
    location: &str,
    policy: StockPolicy,
    quarantine_after: u32,
) -> Vec<(String, i64, Option<i64>)> {
    store
        .read(|tx| tx.owed_stock("shop", location, policy, quarantine_after, None, 100))
        .unwrap()
        .into_iter()
        .map(|o| (o.sku, o.available, o.last_sent))
        .collect()
}

fn accepted(sku: &str, location: &str, value: i64) -> SentLevel {
    SentLevel {
        sku: sku.into(),
        location: location.into(),
        value,
        verdict: SentVerdict::Accepted,
    }
}

#[test]
fn owed_levels_are_available_values_that_moved_since_the_last_accepted_one() {
    let (_dir, store) = store_with_levels(&[
        ("A", "north", 10, 3),
        ("B", "north", 2, 5),
        ("C", "north", 50, 0),
        ("A", "south", 7, 0),
    ]);
    let policy = StockPolicy {
        buffer: 2,
        max_listed: Some(20),
    };
    assert_eq!(
        owed(&store, "north", policy, 3),
        [
            ("A".to_string(), 5, None),
            ("B".to_string(), 0, None),
            ("C".to_string(), 20, None)
        ]
    );
    let t = at("2026-12-02T00:00:00Z");
    store
        .write(|tx| {
            tx.record_stock_sent(
                "shop",
                &[
                    accepted("A", "north", 5),
                    accepted("B", "north", 0),
                    accepted("C", "north", 20),
                ],
                t,
            )
        })
        .unwrap();
    assert!(owed(&store, "north", policy, 3).is_empty());
    // Another channel's sends are not this one's.
    assert_eq!(
        owed(&store, "south", policy, 3),
        [("A".to_string(), 5, None)]
    );
    // On hand moves under the cap: nothing owed; a buffer change is.
    store
        .write(|tx| {
            tx.write_stock_levels(&[StockUpdate {
                level: StockLevel::new("C", "north", 60, 0),
                counted_at: t,
                dated: false,
            }])
        })
        .unwrap();
    assert!(owed(&store, "north", policy, 3).is_empty());
    let bigger_buffer = StockPolicy {
        buffer: 4,
        max_listed: Some(20),
    };
    assert_eq!(
        owed(&store, "north", bigger_buffer, 3),
        [("A".to_string(), 3, Some(5))]
    );
}

#[test]
fn a_refused_value_is_retried_then_quarantined_until_it_changes() {
    let (_dir, store) = store_with_levels(&[("A", "default", 10, 0)]);
    let policy = StockPolicy::default();
    let refuse = |value| SentLevel {
        verdict: SentVerdict::Refused("no".into()),
        ..accepted("A", "default", value)
    };
    let t = at("2026-12-02T00:00:00Z");
    for _ in 0..2 {
        store
            .write(|tx| tx.record_stock_sent("shop", &[refuse(10)], t))
            .unwrap();
        assert_eq!(owed(&store, "default", policy, 3).len(), 1);
    }
    store
        .write(|tx| tx.record_stock_sent("shop", &[refuse(10)], t))
        .unwrap();
    assert!(owed(&store, "default", policy, 3).is_empty());
    assert_eq!(
        owed(&store, "default", policy, 0).len(),
        1,
        "0: never quarantined"
    );
    assert_eq!(
        store
            .read(|tx| tx.count_stock_quarantined("shop", 3))
            .unwrap(),
        1
    );
    // A new value is sent again.
    let lower = StockPolicy {
        buffer: 1,
        max_listed: None,
    };
    assert_eq!(
        owed(&store, "default", lower, 3),
        [("A".to_string(), 9, None)]
    );
    store
        .write(|tx| tx.record_stock_sent("shop", &[accepted("A", "default", 9)], t))
        .unwrap();
    assert_eq!(
        store
            .read(|tx| tx.count_stock_quarantined("shop", 3))
            .unwrap(),
        0
    );
    let shown = store.read(|tx| tx.stock_sent_of("A")).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!((shown[0].sent, shown[0].rejections), (Some(9), 0));
    assert_eq!(shown[0].sent_at, Some(t));
}

#[test]
fn drift_noted_makes_a_level_owed_again_and_reconciles_are_remembered() {
    let (_dir, store) = store_with_levels(&[("A", "default", 10, 0), ("B", "default", 4, 0)]);
    let t = at("2026-12-02T00:00:00Z");
    store
        .write(|tx| {
            tx.record_stock_sent(
                "shop",
                &[accepted("A", "default", 10), accepted("B", "default", 4)],
                t,
            )
        })
        .unwrap();
    let locations = vec!["default".to_string()];
    let skus = store
        .read(|tx| tx.stock_sent_skus("shop", &locations, None, 10))
        .unwrap();
    assert_eq!(skus, ["A", "B"]);
    let after_a = store
        .read(|tx| tx.stock_sent_skus("shop", &locations, Some("A"), 10))
        .unwrap();
    assert_eq!(after_a, ["B"]);
    let values = store
        .read(|tx| tx.stock_sent_values("shop", &locations, &["A", "B"]))
        .unwrap();
    assert_eq!(values.len(), 2);
    store
        .write(|tx| {
            tx.note_stock_drift(
                "shop",
                &[SentValue {
                    sku: "B".into(),
                    location: "default".into(),
                    sent: 99,
                }],
            )
        })
        .unwrap();
    assert_eq!(
        owed(&store, "default", StockPolicy::default(), 3),
        [("B".to_string(), 4, Some(99))]
    );
    assert_eq!(
        store.read(|tx| tx.last_stock_reconcile("shop")).unwrap(),
        None
    );
    store
        .write(|tx| tx.set_stock_reconciled("shop", t))
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.last_stock_reconcile("shop")).unwrap(),
        Some(t)
    );
}
