use super::*;
use crate::catalog::test_data::shirt;
use crate::store::catalog::test_data::*;
use crate::store::test_util::*;

fn owed(store: &crate::store::Store, channel: &str, variants: bool) -> Vec<(String, Vec<String>)> {
    store
        .read(|tx| tx.pending_deletions(channel, None, 10, variants))
        .unwrap()
        .into_iter()
        .map(|d| (d.handle, d.skus))
        .collect()
}

fn confirm(store: &crate::store::Store, channel: &str, error: Option<&str>, variants: bool) {
    let pending = store
        .read(|tx| tx.pending_deletions(channel, None, 10, variants))
        .unwrap();
    let results: Vec<DeletionResult> = pending
        .into_iter()
        .map(|deletion| DeletionResult {
            deletion,
            error: error.map(Into::into),
        })
        .collect();
    store
        .write(|tx| tx.record_deletions(channel, &results, at("2026-01-01T00:00:00Z")))
        .unwrap();
}

#[test]
fn removed_products_are_deleted_where_they_were_exported() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    let (a, b, c) = (
        bare_product("a", "1"),
        bare_product("b", "1"),
        bare_product("c", "1"),
    );
    store
        .write(|tx| {
            tx.upsert_products(&[a.clone(), b.clone(), c.clone()])?;
            tx.record_export_results("shop", &[result(&a, 1, None), result(&b, 1, None)], t)?;
            tx.record_export_results("web", &[result(&a, 1, None), result(&c, 1, Some("no"))], t)
        })
        .unwrap();
    let removed = store
        .write(|tx| tx.remove(&["a".into(), "c".into(), "z".into()], t))
        .unwrap();
    assert_eq!(removed.removed, ["a", "c"]);
    assert_eq!(removed.missing, ["z"]);
    assert_eq!(
        removed.deletions_pending, 2,
        "a on shop and web; c was never accepted"
    );
    assert_eq!(
        owed(&store, "shop", false),
        [("a".to_string(), vec!["a".to_string()])]
    );
    assert_eq!(
        owed(&store, "web", false),
        [("a".to_string(), vec!["a".to_string()])]
    );
    assert!(store.read(|tx| tx.product("a")).unwrap().is_none());
    assert_eq!(
        store.read(|tx| tx.count_pending_deletions("shop")).unwrap(),
        1
    );

    // shop confirms; web fails and stays pending.
    confirm(&store, "shop", None, false);
    confirm(&store, "web", Some("locked"), false);
    assert!(owed(&store, "shop", false).is_empty());
    assert_eq!(owed(&store, "web", false).len(), 1);
    confirm(&store, "web", None, false);
    assert!(owed(&store, "web", false).is_empty());
    let left: i64 = store
        .read(|tx| {
            Ok(tx
                .db
                .query_one("SELECT count(*) FROM removed_products", params![], |r| {
                    r.get(0)
                })?)
        })
        .unwrap();
    assert_eq!(left, 0, "settled removals are dropped");
}

#[test]
fn a_removed_variant_is_owed_only_where_the_channel_holds_it() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    let mut p = shirt();
    store
        .write(|tx| {
            tx.upsert_products(&[p.clone()])?;
            tx.record_export_results("shop", &[result(&p, 1, None)], t)
        })
        .unwrap();
    // `web` never got the shirt.
    let removed = store.write(|tx| tx.remove(&["TS-S".into()], t)).unwrap();
    assert_eq!(removed.variants_removed, ["TS-S"]);
    assert!(removed.removed.is_empty());
    assert_eq!(removed.deletions_pending, 1);
    assert_eq!(
        owed(&store, "shop", true),
        [("tshirt".to_string(), vec!["TS-S".to_string()])]
    );
    assert!(owed(&store, "web", true).is_empty());
    assert!(owed(&store, "shop", false).is_empty(), "the product stays");
    // The product's new revision is pending too.
    let pending = store
        .read(|tx| tx.pending_exports("shop", None, 10, 3))
        .unwrap();
    assert_eq!(pending[0].revision, 2);
    // A variant that comes back before the deletion is sent is not deleted.
    store.write(|tx| tx.upsert_products(&[p.clone()])).unwrap();
    assert!(owed(&store, "shop", true).is_empty());
    // Removed again, then confirmed: the channel no longer holds it.
    p.variants.remove(0);
    store.write(|tx| tx.upsert_products(&[p.clone()])).unwrap();
    confirm(&store, "shop", Some("busy"), true);
    assert_eq!(
        owed(&store, "shop", true).len(),
        1,
        "a refusal keeps it owed"
    );
    confirm(&store, "shop", None, true);
    assert!(owed(&store, "shop", true).is_empty());
    let left: i64 = store
        .read(|tx| {
            Ok(tx
                .db
                .query_one("SELECT count(*) FROM removed_variants", params![], |r| {
                    r.get(0)
                })?)
        })
        .unwrap();
    assert_eq!(left, 0);
    // Removing the last variants by SKU removes the product, owed whole.
    let removed = store
        .write(|tx| tx.remove(&["TS-M".into(), "TS-L".into()], t))
        .unwrap();
    assert_eq!(removed.variants_removed, ["TS-M"]);
    assert_eq!(removed.removed, ["TS-L"], "named by the key given");
    let whole = owed(&store, "shop", false);
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].0, "tshirt");
    assert!(whole[0].1.contains(&"TS-L".to_string()), "{whole:?}");
}

#[test]
fn a_product_that_comes_back_is_exported_again_and_not_deleted() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    store
        .write(|tx| {
            tx.upsert_products(&[bare_product("a", "1")])?;
            tx.upsert_products(&[bare_product("a", "2")])?;
            tx.record_export_results("shop", &[result(&bare_product("a", "2"), 2, None)], t)?;
            tx.remove(&["a".into()], t)
        })
        .unwrap();
    store
        .write(|tx| tx.upsert_products(&[bare_product("a", "3")]))
        .unwrap();
    assert!(owed(&store, "shop", false).is_empty());
    let pending = store
        .read(|tx| tx.pending_exports("shop", None, 10, 3))
        .unwrap();
    assert_eq!(
        pending.len(),
        1,
        "sent again although its new revision is 1"
    );
    // The channel's ids survive: the next export updates what it holds.
    assert!(store.read(|tx| tx.count_pending_deletions("shop")).unwrap() == 0);
}

#[test]
fn products_coming_back_among_many_new_ones_are_revived_and_only_they() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    let many: Vec<_> = (0..2 * super::super::SET_SIZE + 5)
        .map(|i| bare_product(&format!("n{i:04}"), "1"))
        .collect();
    store
        .write(|tx| {
            let three = [
                bare_product("a", "1"),
                bare_product("b", "1"),
                bare_product("c", "1"),
            ];
            tx.upsert_products(&three)?;
            let accepted: Vec<_> = three.iter().map(|p| result(p, 1, None)).collect();
            tx.record_export_results("shop", &accepted, t)?;
            tx.remove(&["a".into(), "b".into(), "c".into()], t)
        })
        .unwrap();
    // a comes back in the first set, c in the last; b stays removed.
    let mut batch = many.clone();
    batch.insert(3, bare_product("a", "1"));
    batch.push(bare_product("c", "1"));
    let counts = store.write(|tx| tx.upsert_products(&batch)).unwrap();
    assert_eq!(counts.created, batch.len() as u64);
    assert_eq!(
        owed(&store, "shop", false),
        [("b".to_string(), vec!["b".to_string()])]
    );
    let pending = store
        .read(|tx| tx.pending_exports("shop", None, 1000, 3))
        .unwrap();
    assert_eq!(pending.len(), batch.len(), "a and c are sent again");
}
