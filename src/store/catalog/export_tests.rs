use super::*;
use crate::catalog::test_data::{price, shirt};
use crate::store::catalog::test_data::*;
use crate::store::test_util::*;

fn pending(store: &crate::store::Store, channel: &str) -> Vec<(String, i64)> {
    store
        .read(|tx| tx.pending_exports(channel, None, 100, 3))
        .unwrap()
        .into_iter()
        .map(|p| (p.product.handle, p.revision))
        .collect()
}

#[test]
fn pending_exports_respect_revisions_and_errors() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    let (a, b, c) = (
        product("a", "1.00"),
        product("b", "1.00"),
        product("c", "1.00"),
    );
    store
        .write(|tx| tx.upsert_products(&[a.clone(), b.clone(), c.clone()]))
        .unwrap();
    let mut ids = PlatformIds::default();
    ids.insert(PlatformIds::PRODUCT, "b", "shop-b");
    store.write(|tx| tx.record_ids("shop", &ids)).unwrap();
    let everything = vec![("a".to_string(), 1), ("b".into(), 1), ("c".into(), 1)];
    assert_eq!(pending(&store, "shop"), everything);
    let page = store
        .read(|tx| tx.pending_exports("shop", Some("a"), 1, 3))
        .unwrap();
    assert_eq!(page[0].product.handle, "b");
    assert_eq!(
        page[0].product.variants[0].stock["default"], 5,
        "with stock"
    );
    assert_eq!(
        page[0].known.product("b"),
        Some("shop-b"),
        "the channel's own id"
    );

    store
        .write(|tx| {
            tx.record_export_results(
                "shop",
                &[
                    result(&a, 1, None),
                    ExportResult {
                        status: ExportStatus::Unchanged,
                        ..result(&b, 1, None)
                    },
                    result(&c, 1, Some("price too low")),
                ],
                t,
            )
        })
        .unwrap();
    assert_eq!(pending(&store, "shop"), [("c".to_string(), 1)]);
    assert_eq!(
        store
            .read(|tx| tx.count_pending_exports("shop", 3))
            .unwrap(),
        1
    );
    assert_eq!(
        store.read(|tx| tx.export_errors("shop")).unwrap(),
        [("c".to_string(), "price too low".to_string())]
    );
    // Another channel has its own progress.
    assert_eq!(pending(&store, "web"), everything);

    // A content change makes `a` pending again at revision 2; an unchanged
    // re-upsert of `b` does not.
    let a2 = product("a", "2.00");
    store
        .write(|tx| tx.upsert_products(&[a2.clone(), b.clone()]))
        .unwrap();
    assert_eq!(
        pending(&store, "shop"),
        [("a".to_string(), 2), ("c".into(), 1)]
    );

    // c's error clears when it goes through; an old revision's late success
    // does not undo a newer one, nor its document.
    store
        .write(|tx| {
            tx.record_export_results(
                "shop",
                &[
                    result(&c, 1, None),
                    result(&a2, 2, None),
                    result(&a, 1, None),
                ],
                t,
            )
        })
        .unwrap();
    assert!(pending(&store, "shop").is_empty());
    assert!(
        store
            .read(|tx| tx.export_errors("shop"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.read(|tx| tx.exported_product("shop", "a")).unwrap(),
        Some(a2.clone()),
        "the product as the channel accepted it"
    );
    // A failed re-export keeps the last exported revision.
    store
        .write(|tx| tx.upsert_products(&[product("a", "3.00")]))
        .unwrap();
    store
        .write(|tx| tx.record_export_results("shop", &[result(&a2, 3, Some("no"))], t))
        .unwrap();
    assert_eq!(pending(&store, "shop"), [("a".to_string(), 3)]);
    assert_eq!(
        store.read(|tx| tx.exported_product("shop", "a")).unwrap(),
        Some(a2)
    );
}

#[test]
fn an_accepted_product_keeps_its_ids_and_its_variants_held() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    let mut p = shirt();
    store.write(|tx| tx.upsert_products(&[p.clone()])).unwrap();
    let mut ids = PlatformIds::default();
    ids.insert(PlatformIds::PRODUCT, "tshirt", "p-1");
    ids.insert(PlatformIds::VARIANT, "TS-S", "v-1");
    // What the channel accepted: the prices it takes.
    let mut accepted = p.clone();
    accepted.variants[0]
        .prices
        .remove(price("1", "EUR").currency());
    store
        .write(|tx| {
            tx.record_export_results(
                "shop",
                &[ExportResult {
                    ids: ids.clone(),
                    accepted: Some(accepted.clone()),
                    ..result(&p, 1, None)
                }],
                t,
            )
        })
        .unwrap();
    let next = store
        .read(|tx| tx.pending_exports("shop", None, 10, 3))
        .unwrap();
    assert!(next.is_empty());
    assert_eq!(
        store
            .read(|tx| tx.exported_product("shop", "tshirt"))
            .unwrap(),
        Some(accepted)
    );
    // The channel holds every variant it accepted: removing one owes its deletion.
    p.variants.remove(1);
    store.write(|tx| tx.upsert_products(&[p])).unwrap();
    let owed = store
        .read(|tx| tx.pending_deletions("shop", None, 10, true))
        .unwrap();
    assert_eq!(owed.len(), 1);
    assert_eq!(
        (owed[0].whole_product, owed[0].skus.clone()),
        (false, vec!["TS-M".to_string()])
    );
    assert_eq!(owed[0].known.product("tshirt"), Some("p-1"));
}

#[test]
fn export_status_names_round_trip() {
    for s in ["created", "updated", "unchanged", "error"] {
        assert_eq!(s.parse::<ExportStatus>().unwrap().as_str(), s);
    }
    assert!("ok".parse::<ExportStatus>().is_err());
}
