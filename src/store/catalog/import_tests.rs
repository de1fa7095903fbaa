use super::*;
use crate::catalog::test_data::{shirt, variant};
use crate::guard::MaxRemoval;
use crate::store::catalog::test_data::*;
use crate::store::test_util::*;

/// A listing begun after every product's `updated_at` in these tests.
fn listing(since: Option<Timestamp>) -> ImportListing {
    ImportListing {
        since,
        started: at("2026-12-31T00:00:00Z"),
    }
}

#[test]
fn a_listing_yields_no_high_water_past_its_start_even_when_resumed() {
    let (_dir, store) = temp_store();
    let seen = at("2026-05-01T12:00:00Z");
    let started = at("2026-05-01T10:00:00Z");
    let pass = ImportListing {
        since: None,
        started,
    };
    let changed_at = |sku: &str, updated_at: &str| Product {
        updated_at: updated_at.into(),
        ..product(sku, "1.00")
    };
    // Page 1 is read; then product A (on page 1) changes at 10:30, and the
    // listing is resumed after a stop: page 2 shows B changed at 11:00.
    store
        .write(|tx| {
            tx.save_import_page(
                "m",
                true,
                &[changed_at("A", "2026-05-01T09:00:00Z")],
                Some("c2"),
                pass,
                seen,
            )
        })
        .unwrap();
    let saved = store.read(|tx| tx.import_progress("m")).unwrap();
    assert_eq!(saved.listing_started, Some(started), "kept for a resume");
    store
        .write(|tx| {
            tx.save_import_page(
                "m",
                true,
                &[changed_at("B", "2026-05-01T11:00:00Z")],
                None,
                pass,
                seen,
            )?;
            tx.finish_import("m", MaxRemoval::Unlimited)
        })
        .unwrap();
    let done = store.read(|tx| tx.import_progress("m")).unwrap();
    assert_eq!(
        done.high_water,
        Some(started),
        "the next import asks from the listing's start, so A's change at 10:30 is seen"
    );
    assert_eq!(done.listing_started, None);
    assert_eq!(done.cursor, None);
}

#[test]
fn import_progress_and_high_water_compare_as_timestamps() {
    let (_dir, store) = temp_store();
    let seen = at("2026-05-01T00:00:00Z");
    let since = at("2026-04-01T00:00:00Z");
    let with_time = |sku: &str, updated_at: &str| Product {
        updated_at: updated_at.into(),
        ..product(sku, "1.00")
    };
    assert_eq!(
        store.read(|tx| tx.import_progress("m")).unwrap(),
        ImportProgress::default()
    );

    // Page 1: "10:00+02:00" is 08:00Z, earlier than "09:00Z" though it sorts
    // later as text.
    let page1 = [
        with_time("A", "2026-04-10T10:00:00+02:00"),
        with_time("B", "2026-04-10T09:00:00Z"),
    ];
    let c = store
        .write(|tx| tx.save_import_page("m", true, &page1, Some("c2"), listing(Some(since)), seen))
        .unwrap();
    assert_eq!(c, counts(2, 0, 0));
    let p = store.read(|tx| tx.import_progress("m")).unwrap();
    assert_eq!(p.cursor.as_deref(), Some("c2"));
    assert_eq!(p.since_used, Some(since));
    assert_eq!(p.run_high_water, Some(at("2026-04-10T09:00:00Z")));
    assert_eq!(
        p.high_water, None,
        "high water moves only when the import completes"
    );

    // Page 2: older products do not lower the run high water.
    let page2 = [with_time("C", "2026-04-02T00:00:00Z")];
    store
        .write(|tx| tx.save_import_page("m", true, &page2, None, listing(Some(since)), seen))
        .unwrap();
    let p = store.read(|tx| tx.import_progress("m")).unwrap();
    assert_eq!(p.cursor, None);
    assert_eq!(p.run_high_water, Some(at("2026-04-10T09:00:00Z")));
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 3);

    store
        .write(|tx| tx.finish_import("m", MaxRemoval::Unlimited))
        .unwrap();
    let done = ImportProgress {
        high_water: Some(at("2026-04-10T09:00:00Z")),
        ..Default::default()
    };
    assert_eq!(store.read(|tx| tx.import_progress("m")).unwrap(), done);

    // A later import that sees only older products never moves it back;
    // an empty import leaves it alone.
    store
        .write(|tx| {
            tx.save_import_page("m", true, &page2, None, listing(done.high_water), seen)?;
            tx.finish_import("m", MaxRemoval::Unlimited)?;
            tx.finish_import("m", MaxRemoval::Unlimited)
        })
        .unwrap();
    assert_eq!(store.read(|tx| tx.import_progress("m")).unwrap(), done);

    // A non-master import records listings only.
    let page = [with_time("Z", "2026-04-20T00:00:00Z")];
    let c = store
        .write(|tx| tx.save_import_page("other", false, &page, Some("x"), listing(None), seen))
        .unwrap();
    assert_eq!(c, counts(1, 0, 0), "listing counts");
    assert!(store.read(|tx| tx.product(&handle("Z"))).unwrap().is_none());
    assert_eq!(store.read(|tx| tx.listing_count("other")).unwrap(), 1);

    // --full forgets the unfinished run but keeps completed high water.
    store.write(|tx| tx.reset_import("other")).unwrap();
    assert_eq!(
        store.read(|tx| tx.import_progress("other")).unwrap(),
        ImportProgress::default()
    );
    store.write(|tx| tx.reset_import("m")).unwrap();
    assert_eq!(store.read(|tx| tx.import_progress("m")).unwrap(), done);
}

#[test]
fn a_failed_page_commits_nothing() {
    let (_dir, store) = temp_store();
    let seen = at("2026-05-01T00:00:00Z");
    let page = [
        product("A", "1.00"),
        Product {
            updated_at: "yesterday".into(),
            ..product("B", "1.00")
        },
    ];
    let err = store
        .write(|tx| tx.save_import_page("m", true, &page, Some("c"), listing(None), seen))
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("`{}`", handle("B"))),
        "{err}"
    );
    assert_eq!(
        store.read(|tx| tx.import_progress("m")).unwrap(),
        ImportProgress::default()
    );
    assert_eq!(store.read(|tx| tx.listing_count("m")).unwrap(), 0);
}

#[test]
fn a_complete_import_with_pages_of_several_sets_removes_only_what_it_did_not_list() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    let all: Vec<_> = (0..3 * SET_SIZE)
        .map(|i| bare_product(&format!("p{i:04}"), "1"))
        .collect();
    store.write(|tx| tx.upsert_products(&all)).unwrap();
    // Listed: every product but those at 7, SET_SIZE and the last.
    let gone = [7, SET_SIZE, 3 * SET_SIZE - 1];
    let listed: Vec<_> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .map(|(_, p)| p.clone())
        .collect();
    let (first, second) = listed.split_at(SET_SIZE + SET_SIZE / 2);
    let removed = store
        .write(|tx| {
            tx.begin_complete_import("m")?;
            tx.save_import_page("m", true, first, Some("c"), listing(None), t)?;
            tx.save_import_page("m", true, second, None, listing(None), t)?;
            tx.finish_import("m", MaxRemoval::Unlimited)
        })
        .unwrap();
    let expected: Vec<_> = gone.iter().map(|&i| all[i].handle.clone()).collect();
    assert_eq!(removed.removed.removed, expected);
    assert_eq!(
        store.read(|tx| tx.count_products()).unwrap(),
        listed.len() as u64
    );
}

#[test]
fn a_complete_import_removes_what_it_did_not_list_and_an_empty_one_nothing() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    store
        .write(|tx| {
            tx.upsert_products(&[
                bare_product("A", "1"),
                bare_product("B", "1"),
                bare_product("C", "1"),
            ])
        })
        .unwrap();
    store
        .write(|tx| {
            tx.begin_complete_import("m")?;
            tx.save_import_page(
                "m",
                true,
                &[bare_product("A", "1")],
                Some("c"),
                listing(None),
                t,
            )?;
            tx.save_import_page("m", true, &[bare_product("C", "1")], None, listing(None), t)?;
            tx.finish_import("m", MaxRemoval::Unlimited)
        })
        .unwrap();
    assert!(store.read(|tx| tx.product(&handle("B"))).unwrap().is_none());
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 2);
    // An incremental import removes nothing.
    store
        .write(|tx| {
            tx.save_import_page(
                "m",
                true,
                &[bare_product("A", "1")],
                None,
                listing(Some(t)),
                t,
            )?;
            tx.finish_import("m", MaxRemoval::Unlimited)
        })
        .unwrap();
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 2);
    // A complete but empty listing removes nothing either.
    store
        .write(|tx| {
            tx.begin_complete_import("m")?;
            tx.save_import_page("m", true, &[], None, listing(None), t)?;
            tx.finish_import("m", MaxRemoval::Unlimited)
        })
        .unwrap();
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 2);
}

#[test]
fn the_masters_import_replaces_whole_products() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    let mut p = shirt();
    store
        .write(|tx| tx.save_import_page("m", true, &[p.clone()], None, listing(None), t))
        .unwrap();
    // The master drops S and adds XL: S leaves the catalog.
    p.variants.remove(0);
    p.variants.push(variant("TS-XL", &["XL"], "22.00"));
    let c = store
        .write(|tx| tx.save_import_page("m", true, &[p.clone()], None, listing(None), t))
        .unwrap();
    assert_eq!(c, counts(0, 1, 0));
    let stored = store.read(|tx| tx.product("tshirt")).unwrap().unwrap();
    assert_eq!(stored, p);
    assert_eq!(store.read(|tx| tx.handle_of_sku("TS-S")).unwrap(), None);
    assert_eq!(store.read(|tx| tx.count_variants()).unwrap(), 3);
}

#[test]
fn a_complete_import_over_max_removal_removes_nothing_and_the_next_one_is_complete() {
    let (_dir, store) = temp_store();
    let t = at("2026-01-01T00:00:00Z");
    let all: Vec<_> = (0..40)
        .map(|i| bare_product(&format!("P{i}"), "1"))
        .collect();
    store.write(|tx| tx.upsert_products(&all)).unwrap();
    store
        .write(|tx| {
            tx.save_import_page("m", true, &all, None, listing(None), t)?;
            tx.finish_import("m", MaxRemoval::Unlimited)
        })
        .unwrap();
    assert!(
        store
            .read(|tx| tx.import_progress("m"))
            .unwrap()
            .high_water
            .is_some()
    );

    // The master now lists 3 of 40: 37 to remove; "10%" allows 10.
    let finished = store
        .write(|tx| {
            tx.begin_complete_import("m")?;
            tx.save_import_page("m", true, &all[..3], None, listing(None), t)?;
            tx.finish_import("m", crate::guard::DEFAULT)
        })
        .unwrap();
    let held = finished.held_back.expect("held back");
    assert_eq!((held.removing, held.held, held.limit), (37, 40, 10));
    assert!(finished.removed.removed.is_empty());
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 40);
    // No `updated_since` next time: the same complete listing asks again.
    assert_eq!(
        store.read(|tx| tx.import_progress("m")).unwrap().high_water,
        None
    );

    // Allowed once: the removal goes through.
    let finished = store
        .write(|tx| {
            tx.begin_complete_import("m")?;
            tx.save_import_page("m", true, &all[..3], None, listing(None), t)?;
            tx.finish_import("m", MaxRemoval::Unlimited)
        })
        .unwrap();
    assert_eq!(finished.removed.removed.len(), 37);
    assert_eq!(store.read(|tx| tx.count_products()).unwrap(), 3);
}
