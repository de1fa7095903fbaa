use std::time::Instant;

use jiff::Timestamp;

use super::*;
use crate::catalog::test_data::{price, shirt, variant};
use crate::price::Price;
use crate::store::catalog::test_data::*;
use crate::store::catalog::{ExportResult, ExportStatus, SET_SIZE};
use crate::store::test_util::*;

fn revision(store: &crate::store::Store, handle: &str) -> i64 {
    store
        .read(|tx| tx.product_revision(handle))
        .unwrap()
        .unwrap()
}

#[test]
fn a_whole_product_round_trips_with_its_stock() {
    let (_dir, store) = temp_store();
    let mut p = shirt();
    p.variants[1].stock.insert("berlin".into(), 2);
    p.variants[0].prices.insert(price("21", "USD"));
    let c = store
        .write(|tx| tx.upsert_products(std::slice::from_ref(&p)))
        .unwrap();
    assert_eq!(c, counts(1, 0, 0));
    assert_eq!(
        store.read(|tx| tx.product("tshirt")).unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        store.read(|tx| tx.find_product("TS-M")).unwrap(),
        Some(p.clone())
    );
    assert_eq!(
        store
            .read(|tx| tx.handle_of_sku("TS-L"))
            .unwrap()
            .as_deref(),
        Some("tshirt")
    );
    assert_eq!(store.read(|tx| tx.count_variants()).unwrap(), 3);
    assert!(
        store
            .read(|tx| tx.find_product("nothing"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn the_revision_moves_only_when_content_changes() {
    let (_dir, store) = temp_store();
    let base = shirt();
    store
        .write(|tx| tx.upsert_products(std::slice::from_ref(&base)))
        .unwrap();
    assert_eq!(revision(&store, "tshirt"), 1);
    type Edit = fn(&mut Product);
    let cases: &[(&str, Edit, bool)] = &[
        ("same content", |_| {}, false),
        (
            "newer updated_at",
            |p| p.updated_at = "2026-02-01T00:00:00Z".into(),
            false,
        ),
        ("an id", |p| p.id = Some("ch-1".into()), false),
        (
            "a variant id",
            |p| p.variants[0].id = Some("v-1".into()),
            false,
        ),
        ("the title", |p| p.title = "New".into(), true),
        (
            "the same price spelled differently",
            |p| {
                p.variants[0]
                    .prices
                    .insert(Price::parse("19.900", "EUR").unwrap())
            },
            false,
        ),
        (
            "a price",
            |p| p.variants[0].prices.insert(price("19.91", "EUR")),
            true,
        ),
        (
            "a currency",
            |p| p.variants[0].prices.insert(price("19.90", "USD")),
            true,
        ),
        (
            "stock",
            |p| {
                p.variants[0].stock.insert("default".into(), 6);
            },
            true,
        ),
        ("the description", |p| p.description = "x".into(), true),
        (
            "a variant added",
            |p| p.variants.push(variant("TS-XL", &["XL"], "22")),
            true,
        ),
        (
            "a variant removed",
            |p| {
                p.variants.pop();
            },
            true,
        ),
    ];
    for (what, edit, bumps) in cases {
        store
            .write(|tx| tx.upsert_products(std::slice::from_ref(&base)))
            .unwrap();
        let before = revision(&store, "tshirt");
        let mut p = base.clone();
        edit(&mut p);
        let c = store.write(|tx| tx.upsert_products(&[p.clone()])).unwrap();
        let expected = if *bumps {
            counts(0, 1, 0)
        } else {
            counts(0, 0, 1)
        };
        assert_eq!(c, expected, "{what}");
        assert_eq!(
            revision(&store, "tshirt"),
            before + i64::from(*bumps),
            "{what}"
        );
        let stored = store.read(|tx| tx.product("tshirt")).unwrap().unwrap();
        assert_eq!(stored.variants.len(), p.variants.len(), "{what}");
        assert_eq!(stored.updated_at, p.updated_at, "{what}: updated_at stored");
        assert_eq!(stored.content_digest(), p.content_digest(), "{what}");
    }
    // Ids once given survive upserts without them.
    let stored = store.read(|tx| tx.product("tshirt")).unwrap().unwrap();
    assert_eq!(stored.id.as_deref(), Some("ch-1"));
    assert_eq!(stored.variants[0].id.as_deref(), Some("v-1"));
}

#[test]
fn a_variant_that_leaves_its_product_leaves_the_catalog_and_its_stock_with_it() {
    let (_dir, store) = temp_store();
    let mut p = shirt();
    store.write(|tx| tx.upsert_products(&[p.clone()])).unwrap();
    p.variants.remove(0);
    store.write(|tx| tx.upsert_products(&[p.clone()])).unwrap();
    assert_eq!(store.read(|tx| tx.handle_of_sku("TS-S")).unwrap(), None);
    assert_eq!(store.read(|tx| tx.count_variants()).unwrap(), 2);
    let stock_rows: i64 = store
        .read(|tx| {
            Ok(tx
                .db
                .query_one("SELECT count(*) FROM stock_levels", params![], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(stock_rows, 2);
}

#[test]
fn a_sku_another_product_names_moves_to_it() {
    let (_dir, store) = temp_store();
    let shirt = shirt();
    let mug = product("MUG", "5.00");
    store
        .write(|tx| tx.upsert_products(&[shirt.clone(), mug.clone()]))
        .unwrap();
    // The mug product now carries TS-L; the shirt keeps S and M.
    let mut mug2 = mug.clone();
    mug2.options = vec!["Kind".into()];
    mug2.variants[0].option_values = vec!["Mug".into()];
    let mut taken = shirt.variants[2].clone();
    taken.option_values = vec!["Shirt".into()];
    mug2.variants.push(taken);
    store.write(|tx| tx.upsert_products(&[mug2])).unwrap();
    assert_eq!(
        store
            .read(|tx| tx.handle_of_sku("TS-L"))
            .unwrap()
            .as_deref(),
        Some(mug.handle.as_str())
    );
    let left = store.read(|tx| tx.product("tshirt")).unwrap().unwrap();
    assert_eq!(left.variants.len(), 2);
    assert_eq!(revision(&store, "tshirt"), 2);
    // A product whose only variant moves leaves the catalog.
    let mut single = shirt.clone();
    single.handle = "solo".into();
    single.options.clear();
    single.variants = vec![crate::catalog::Variant {
        sku: "SOLO".into(),
        ..Default::default()
    }];
    let mut taker = single.clone();
    taker.handle = "taker".into();
    store.write(|tx| tx.upsert_products(&[single])).unwrap();
    store.write(|tx| tx.upsert_products(&[taker])).unwrap();
    assert!(store.read(|tx| tx.product("solo")).unwrap().is_none());
    assert_eq!(
        store
            .read(|tx| tx.handle_of_sku("SOLO"))
            .unwrap()
            .as_deref(),
        Some("taker")
    );
}

#[test]
fn a_stored_price_the_rule_refuses_is_named_when_read() {
    let (_dir, store) = temp_store();
    let p = product("NEG", "1.00");
    store
        .write(|tx| tx.upsert_products(std::slice::from_ref(&p)))
        .unwrap();
    store
        .write(|tx| {
            let doc = p.doc_json().replace("\"1.00\"", "\"-1.00\"");
            tx.db.execute(
                "UPDATE products SET doc = ?1 WHERE handle = ?2",
                params![doc, p.handle],
            )?;
            Ok(())
        })
        .unwrap();
    let err = store
        .read(|tx| tx.product(&p.handle))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "stored product `{}`: price `-1.00` is negative",
            p.handle
        )) && err.contains("load or import it again with a valid price, or remove it"),
        "{err}"
    );
}

#[test]
fn upserts_in_sets_count_and_store_as_one_by_one() {
    let before: Vec<_> = (0..2 * SET_SIZE + 17)
        .step_by(3)
        .map(|i| {
            product(
                &format!("s{i:04}"),
                if i % 2 == 0 { "1.00" } else { "9.00" },
            )
        })
        .collect();
    let batch = mixed_batch();
    let (_a, at_once) = temp_store();
    let (_b, one_by_one) = temp_store();
    at_once.write(|tx| tx.upsert_products(&before)).unwrap();
    one_by_one.write(|tx| tx.upsert_products(&before)).unwrap();

    let counts_at_once = at_once.write(|tx| tx.upsert_products(&batch)).unwrap();
    let mut counts_one_by_one = UpsertCounts::default();
    for p in &batch {
        counts_one_by_one += one_by_one
            .write(|tx| tx.upsert_products(std::slice::from_ref(p)))
            .unwrap();
    }
    assert_eq!(counts_at_once, counts_one_by_one);
    assert_eq!(counts_at_once.total(), batch.len() as u64);
    let catalog = |store: &crate::store::Store| {
        store
            .read(|tx| {
                tx.list_products(None, usize::MAX)?
                    .into_iter()
                    .map(|p| Ok((tx.product_revision(&p.handle)?, p)))
                    .collect::<Result<Vec<_>>>()
            })
            .unwrap()
    };
    let stored = catalog(&at_once);
    assert_eq!(stored, catalog(&one_by_one));
    let s2 = stored.iter().find(|(_, p)| p.handle == "s0002").unwrap();
    assert_eq!(
        (
            s2.0,
            s2.1.variants[0].prices.iter().next().unwrap().amount_text(),
            s2.1.id.as_deref()
        ),
        (Some(2), "2.00".to_string(), Some("ch-2"))
    );
}

#[test]
fn invalid_products_are_refused_and_roll_back() {
    let (_dir, store) = temp_store();
    let mut bad = product("BAD", "0");
    bad.title = "Bad\u{1b}[2J".into();
    let err = store
        .write(|tx| tx.upsert_products(&[product("OK", "1.00"), bad.clone()]))
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("`{}`", bad.handle)),
        "{err}"
    );
    assert!(
        err.to_string().contains("control character U+001B"),
        "{err}"
    );
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 0);
}

#[test]
fn products_page_by_handle() {
    let (_dir, store) = temp_store();
    let products: Vec<_> = ["c", "a", "b", "d"]
        .iter()
        .map(|s| product(s, "1.00"))
        .collect();
    store.write(|tx| tx.upsert_products(&products)).unwrap();
    let handles = |after: Option<&str>, n| {
        store
            .read(|tx| tx.list_products(after, n))
            .unwrap()
            .into_iter()
            .map(|p| p.handle)
            .collect::<Vec<_>>()
    };
    assert_eq!(handles(None, 2), ["a", "b"]);
    assert_eq!(handles(Some("b"), 10), ["c", "d"]);
    assert!(handles(Some("d"), 10).is_empty());
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 4);
    assert_eq!(
        store.read(|tx| tx.product("c")).unwrap().unwrap(),
        product("c", "1.00")
    );
}

/// Timing print, not an assertion: `cargo test --lib store -- --nocapture`.
#[test]
fn timing_20k_products() {
    let (_dir, store) = temp_store();
    let products: Vec<_> = (0..20_000)
        .map(|i| product(&format!("sku-{i:06}"), "9.99"))
        .collect();
    let start = Instant::now();
    let c = store.write(|tx| tx.upsert_products(&products)).unwrap();
    let upsert = start.elapsed();
    assert_eq!(c.created, 20_000);
    let results: Vec<_> = products
        .iter()
        .map(|p| ExportResult {
            handle: p.handle.clone(),
            revision: 1,
            status: ExportStatus::Created,
            error: None,
            accepted: Some(p.clone()),
            ids: Default::default(),
        })
        .collect();
    store
        .write(|tx| tx.record_export_results("shop", &results, Timestamp::UNIX_EPOCH))
        .unwrap();
    let start = Instant::now();
    let pending = store
        .read(|tx| tx.pending_exports("shop", None, 100, 3))
        .unwrap();
    let check = start.elapsed();
    assert!(pending.is_empty());
    let start = Instant::now();
    let c = store.write(|tx| tx.upsert_products(&products)).unwrap();
    let reupsert = start.elapsed();
    assert_eq!(c.unchanged, 20_000);
    eprintln!(
        "store timing (debug build): upsert 20k new {upsert:?}, re-upsert 20k unchanged \
         {reupsert:?}, no-op pending_exports over 20k {check:?}"
    );
}
