use super::*;
use crate::store::catalog::test_data::product;
use crate::store::test_util::*;

fn update(level: StockLevel, counted_at: &str, dated: bool) -> StockUpdate {
    StockUpdate {
        level,
        counted_at: at(counted_at),
        dated,
    }
}

fn with_catalog(skus: &[&str]) -> (tempfile::TempDir, crate::store::Store) {
    let (dir, store) = temp_store();
    let products: Vec<_> = skus.iter().map(|s| product(s, "1.00")).collect();
    store.write(|tx| tx.upsert_products(&products)).unwrap();
    (dir, store)
}

fn levels(store: &crate::store::Store, skus: &[&str]) -> Vec<(String, String, i64, i64)> {
    store
        .read(|tx| tx.stock_levels(skus))
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.level.sku,
                s.level.location,
                s.level.on_hand,
                s.level.reserved,
            )
        })
        .collect()
}

#[test]
fn a_load_creates_updates_and_leaves_levels_and_a_dated_older_count_is_stale() {
    let (_dir, store) = with_catalog(&["A", "B"]);
    let first = store
        .write(|tx| {
            tx.write_stock_levels(&[
                update(
                    StockLevel::new("A", "berlin", 10, 2),
                    "2026-03-01T10:00:00Z",
                    true,
                ),
                update(
                    StockLevel::new("B", "paris", 3, 0),
                    "2026-03-01T10:00:00Z",
                    false,
                ),
            ])
        })
        .unwrap();
    assert_eq!((first.created, first.total()), (2, 2));
    let second = store
        .write(|tx| {
            tx.write_stock_levels(&[
                // Counted before the stored count: left alone.
                update(
                    StockLevel::new("A", "berlin", 99, 0),
                    "2026-03-01T09:00:00Z",
                    true,
                ),
                update(
                    StockLevel::new("B", "paris", 3, 0),
                    "2026-03-02T10:00:00Z",
                    false,
                ),
                // Every test product has 5 at `default`.
                update(
                    StockLevel::new("B", "default", 7, 1),
                    "2026-03-02T10:00:00Z",
                    false,
                ),
                // The load's own time, even an earlier one, always writes.
                update(
                    StockLevel::new("A", "default", 1, 0),
                    "2026-03-02T10:00:00Z",
                    false,
                ),
            ])
        })
        .unwrap();
    assert_eq!(
        second,
        StockCounts {
            created: 0,
            updated: 2,
            unchanged: 1,
            stale: 1,
            zeroed: 0
        }
    );
    assert_eq!(
        levels(&store, &["A", "B"]),
        [
            ("A".into(), "berlin".into(), 10, 2),
            ("A".into(), "default".into(), 1, 0),
            ("B".into(), "default".into(), 7, 1),
            ("B".into(), "paris".into(), 3, 0),
        ]
    );
}

#[test]
fn a_full_load_zeroes_exactly_the_levels_it_does_not_list() {
    let (_dir, store) = with_catalog(&["A", "B"]);
    store
        .write(|tx| {
            tx.write_stock_levels(&[
                update(
                    StockLevel::new("A", "berlin", 10, 2),
                    "2026-03-01T10:00:00Z",
                    false,
                ),
                update(
                    StockLevel::new("B", "berlin", 4, 4),
                    "2026-03-01T10:00:00Z",
                    false,
                ),
            ])
        })
        .unwrap();
    let zeroed = store
        .write(|tx| {
            tx.begin_stock_load()?;
            assert_eq!(tx.first_stock_line("A", "berlin", 2)?, None);
            assert_eq!(tx.first_stock_line("A", "default", 3)?, None);
            assert_eq!(tx.first_stock_line("A", "berlin", 9)?, Some(2));
            let zeroed = tx.zero_unlisted_stock(at("2026-03-02T00:00:00Z"))?;
            tx.end_stock_load()?;
            Ok(zeroed)
        })
        .unwrap();
    // B at berlin and B at default; A's listed levels are kept.
    assert_eq!(zeroed, 2);
    assert_eq!(
        levels(&store, &["A", "B"]),
        [
            ("A".into(), "berlin".into(), 10, 2),
            ("A".into(), "default".into(), 5, 0),
            ("B".into(), "berlin".into(), 0, 0),
            ("B".into(), "default".into(), 0, 0),
        ]
    );
}

#[test]
fn skus_outside_the_catalog_are_found_in_any_number() {
    let (_dir, store) = with_catalog(&["A", "B"]);
    let mut asked: Vec<String> = (0..250).map(|i| format!("X{i}")).collect();
    asked.push("A".into());
    asked.push("B".into());
    let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
    let missing = store.read(|tx| tx.skus_not_in_catalog(&asked)).unwrap();
    assert_eq!(missing.len(), 250);
    assert!(!missing.contains("A") && missing.contains("X249"));
}

#[test]
fn a_product_update_sets_on_hand_and_keeps_reserved_where_the_location_stays() {
    let (_dir, store) = with_catalog(&["A"]);
    store
        .write(|tx| {
            tx.write_stock_levels(&[
                update(
                    StockLevel::new("A", "default", 5, 3),
                    "2026-03-01T10:00:00Z",
                    false,
                ),
                update(
                    StockLevel::new("A", "paris", 8, 1),
                    "2026-03-01T10:00:00Z",
                    false,
                ),
            ])
        })
        .unwrap();
    // The product file changes the title and on hand at `default` and no
    // longer lists `paris`.
    let mut changed = product("A", "1.00");
    changed.title = "Renamed".into();
    changed.variants[0].stock.insert("default".into(), 9);
    store
        .write(|tx| tx.upsert_products(std::slice::from_ref(&changed)))
        .unwrap();
    assert_eq!(
        levels(&store, &["A"]),
        [("A".into(), "default".into(), 9, 3)]
    );
}
