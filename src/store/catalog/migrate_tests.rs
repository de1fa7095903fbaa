use super::*;
use crate::catalog::FlatProduct;
use crate::store::schema::STEPS;
use crate::store::{Store, StoreSpec};

/// A store as version 3 (the last flat one) left it: three products, one
/// of them with a price an earlier version took and the rule refuses;
/// exports to two channels (current on one), a removal owed, a listing
/// with the channel's id, a complete import under way.
fn flat_store(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("acme.db")).unwrap();
    for step in &STEPS[..3] {
        conn.execute_batch(step.sqlite).unwrap();
    }
    conn.pragma_update(None, "user_version", 3).unwrap();
    conn.execute_batch(
        r#"
        INSERT INTO catalog VALUES ('MUG-1', 'Mug', '19.9', 'EUR', 3, '{"color":"red"}', '2026-01-01T00:00:00Z', 'm-1', 2);
        INSERT INTO catalog VALUES ('mug-2', 'Cup', '5', 'USD', 0, '{}', '2026-01-02T00:00:00Z', NULL, 1);
        INSERT INTO catalog VALUES ('NEG', 'Bad', '-1.00', 'EUR', 1, '{}', '2026-01-03T00:00:00Z', NULL, 1);
        INSERT INTO exports (channel, sku, exported_revision, last_status, attempted_at) VALUES
            ('shop', 'MUG-1', 2, 'updated', 1), ('shop', 'mug-2', 1, 'created', 1),
            ('shop', 'NEG', 1, 'created', 1), ('shop', 'GONE', 4, 'created', 1),
            ('web', 'MUG-1', 1, 'created', 1);
        INSERT INTO exports (channel, sku, exported_revision, last_status, last_error, attempted_at, rejections, rejected_revision)
            VALUES ('web', 'mug-2', NULL, 'error', 'no USD', 1, 2, 1);
        INSERT INTO removed_products VALUES ('GONE', 1);
        INSERT INTO listings VALUES ('web', 'MUG-1', 'w-7', 'Mug', '19.90', 'EUR', 1, '{}', '2026-01-01T00:00:00Z', 5);
        INSERT INTO import_seen VALUES ('m', 'MUG-1');
        INSERT INTO import_complete VALUES ('m');
        "#,
    )
    .unwrap();
}

fn mug() -> Product {
    FlatProduct {
        sku: "MUG-1".into(),
        title: "Mug".into(),
        price: Price::parse("19.90", "EUR").unwrap(),
        quantity: 3,
        attributes: BTreeMap::from([("color".to_string(), "red".to_string())]),
        updated_at: "2026-01-01T00:00:00Z".into(),
        id: Some("m-1".into()),
    }
    .into_product()
}

#[test]
fn a_flat_store_migrates_to_products_and_exports_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    flat_store(dir.path());
    let store = Store::open(&StoreSpec::files(dir.path()), "acme").unwrap();
    let mug = mug();
    let handle = derive_handle("MUG-1");
    assert_eq!(
        store.read(|tx| tx.product(&handle)).unwrap(),
        Some(mug.clone())
    );
    assert_eq!(
        store.read(|tx| tx.product_revision(&handle)).unwrap(),
        Some(2)
    );
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 3);
    // Nothing new for the channel whose exports were current; the other
    // gets what it had not taken (its rejected one stays rejected).
    assert!(
        store
            .read(|tx| tx.pending_exports("shop", None, 10, 3))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.read(|tx| tx.count_pending_exports("web", 3)).unwrap(),
        3
    );
    assert_eq!(
        store
            .read(|tx| tx.exported_product("shop", &handle))
            .unwrap(),
        Some(mug.clone())
    );
    assert_eq!(
        store
            .read(|tx| tx.exported_product("web", &handle))
            .unwrap(),
        None
    );
    let states = store.read(|tx| tx.export_states("mug-2", &|_| 3)).unwrap();
    let web = states.iter().find(|s| s.channel == "web").unwrap();
    assert_eq!(
        (web.rejections, web.last_error.as_deref()),
        (2, Some("no USD"))
    );
    // The removal owed moved to the product, with its SKU to delete.
    let owed = store
        .read(|tx| tx.pending_deletions("shop", None, 10, false))
        .unwrap();
    assert_eq!(owed.len(), 1);
    assert_eq!(
        (owed[0].handle.clone(), owed[0].skus.clone()),
        (derive_handle("GONE"), vec!["GONE".to_string()])
    );
    // Exported variants are held: removing one owes its deletion.
    let removed = store
        .write(|tx| tx.remove(&["mug-2".to_string()], jiff::Timestamp::now()))
        .unwrap();
    assert_eq!(removed.deletions_pending, 1);
    // The listing, with the channel's id, which is the channel's product id.
    let listings = store.read(|tx| tx.listings_for(&handle, &[])).unwrap();
    assert_eq!(listings[0].product.id.as_deref(), Some("w-7"));
    assert_eq!(listings[0].product.variants[0].stock["default"], 1);
    let known = store
        .read(|tx| tx.known_ids("web", &handle, std::iter::empty()))
        .unwrap();
    assert_eq!(known.product(&handle), Some("w-7"));
    // The complete import under way counts the product as seen.
    let seen: Vec<String> = store
        .read(|tx| {
            Ok(tx
                .db
                .query("SELECT handle FROM import_seen", params![], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(seen, std::slice::from_ref(&handle));
    // A stored price the rule refuses is named when read.
    let err = store
        .read(|tx| tx.product(&derive_handle("NEG")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("price `-1.00` is negative"), "{err}");
    // Loading the same flat product again changes nothing.
    let c = store.write(|tx| tx.upsert_products(&[mug])).unwrap();
    assert_eq!(c.unchanged, 1);
    let tables = store.read(|tx| Ok(tx.db.engine().tables()?)).unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert!(!names.contains(&"catalog"), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with("_v2")), "{names:?}");
    assert_eq!(store.integrity_check().unwrap(), "ok");
}
