use super::*;
use crate::store::catalog::test_data::*;
use crate::store::test_util::*;

#[test]
fn export_states_of_a_removed_product_that_was_rejected_show_the_pending_deletion() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    store
        .write(|tx| {
            tx.upsert_products(&[bare_product("a", "1")])?;
            tx.record_export_results("shop", &[result(&bare_product("a", "1"), 1, None)], t)?;
            tx.upsert_products(&[bare_product("a", "2")])?;
            tx.record_export_results("shop", &[result(&bare_product("a", "2"), 2, Some("no"))], t)?;
            tx.remove(&["a".into()], t)
        })
        .unwrap();
    let states = store.read(|tx| tx.export_states("a", &|_| 3)).unwrap();
    assert_eq!(
        states,
        [ExportState {
            channel: "shop".into(),
            exported_revision: Some(1),
            last_status: "error".into(),
            last_error: Some("no".into()),
            rejections: 1,
            quarantined: false,
            deletion_pending: true,
        }]
    );
}

#[test]
fn three_rejections_of_one_revision_quarantine_it_until_it_changes_or_is_released() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    store
        .write(|tx| tx.upsert_products(&[bare_product("a", "1")]))
        .unwrap();
    let pending = || {
        store
            .read(|tx| tx.pending_exports("shop", None, 10, 3))
            .unwrap()
            .len()
    };
    let q = |_: &str| 3;
    for n in 1..=3 {
        assert_eq!(pending(), 1, "still sent before rejection {n}");
        store
            .write(|tx| {
                tx.record_export_results(
                    "shop",
                    &[result(&bare_product("a", "1"), 1, Some("bad"))],
                    t,
                )
            })
            .unwrap();
    }
    assert_eq!(pending(), 0, "quarantined after 3");
    let quarantined = store.read(|tx| tx.quarantined(None, &q)).unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].rejections, 3);
    assert_eq!(
        store
            .read(|tx| tx.count_pending_exports("shop", 3))
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .read(|tx| tx.count_pending_exports("shop", 0))
            .unwrap(),
        1,
        "0: never"
    );
    // Released: sent again.
    assert_eq!(
        store.write(|tx| tx.release_quarantine("a", None)).unwrap(),
        1
    );
    assert_eq!(pending(), 1);
    // Quarantined again, then a content change frees it.
    for _ in 0..3 {
        store
            .write(|tx| {
                tx.record_export_results(
                    "shop",
                    &[result(&bare_product("a", "1"), 1, Some("bad"))],
                    t,
                )
            })
            .unwrap();
    }
    assert_eq!(pending(), 0);
    store
        .write(|tx| tx.upsert_products(&[bare_product("a", "2")]))
        .unwrap();
    assert_eq!(pending(), 1);
    assert!(
        store
            .read(|tx| tx.quarantined(None, &q))
            .unwrap()
            .is_empty()
    );
}
