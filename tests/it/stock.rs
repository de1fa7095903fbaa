//! Stock through the real binary: `stock load` of CSV and JSON Lines files
//! (levels written, counted, shown by `products show`, `--full` zeroing
//! what a file leaves out), and
//! what it refuses whole: a bad line, a level given twice, SKUs the catalog
//! lacks, a kill in the middle.

use serde_json::{Value, json};

use test_support::{ACCOUNT, Backend, TestEnv, both_backends};

/// A catalog of flat products `skus`, loaded with `products load`.
fn catalog(backend: Backend, skus: &[&str]) -> TestEnv {
    let env = TestEnv::with_account(backend);
    let lines: Vec<Value> = skus
        .iter()
        .map(|sku| {
            json!({"sku": sku, "title": format!("Item {sku}"), "price": "9.90",
                   "currency": "EUR", "quantity": 1})
        })
        .collect();
    env.load_jsonl("catalog.jsonl", &lines);
    env
}

/// Every stored level: (sku, location, on hand, reserved).
fn levels(env: &TestEnv) -> Vec<(String, String, i64, i64)> {
    let rows = env
        .store()
        .query(
            ACCOUNT,
            "SELECT sku, location, on_hand, reserved FROM stock_levels ORDER BY sku, location",
            &[],
        )
        .expect("stock_levels");
    rows.into_iter()
        .map(|r| {
            let cell = |i: usize| r[i].clone().expect("not NULL");
            (
                cell(0),
                cell(1),
                cell(2).parse().unwrap(),
                cell(3).parse().unwrap(),
            )
        })
        .collect()
}

fn level(sku: &str, location: &str, on_hand: i64, reserved: i64) -> (String, String, i64, i64) {
    (sku.into(), location.into(), on_hand, reserved)
}

/// `stock load --json <args>` of `contents` written to `name`; must succeed.
fn stock_load(env: &TestEnv, name: &str, contents: &str, flags: &[&str]) -> Value {
    let path = env.write_file(name, contents);
    let mut args = vec!["stock", "load", path.to_str().unwrap()];
    args.extend_from_slice(flags);
    env.json(&args)
}

/// `stock load` of `contents` that must be refused: exit 1; returns stderr.
fn refused(env: &TestEnv, name: &str, contents: &str) -> String {
    let path = env.write_file(name, contents);
    let (code, _, stderr) = env.json_any(&["stock", "load", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nothing was loaded"), "{stderr}");
    stderr
}

fn a_load_sets_levels_and_full_zeroes_what_the_file_leaves_out(backend: Backend) {
    let env = catalog(backend, &["A-1", "B-2", "C-3"]);
    // `products load` gave each product 1 at `default`.
    let csv = "sku,location,on_hand,reserved\n\
               A-1,berlin,10,2\n\
               A-1,paris,4,\n\
               B-2,berlin,7,7\n\
               C-3,default,1,0\n";
    let first = stock_load(&env, "stock.csv", csv, &[]);
    assert_eq!(
        (
            &first["account"],
            &first["levels"],
            &first["created"],
            &first["unchanged"],
            &first["full"]
        ),
        (
            &json!(ACCOUNT),
            &json!(4),
            &json!(3),
            &json!(1),
            &json!(false)
        )
    );
    assert_eq!(
        levels(&env),
        [
            level("A-1", "berlin", 10, 2),
            level("A-1", "default", 1, 0),
            level("A-1", "paris", 4, 0),
            level("B-2", "berlin", 7, 7),
            level("B-2", "default", 1, 0),
            level("C-3", "default", 1, 0),
        ]
    );

    let shown = env.ok(["products", "show", "A-1"]);
    assert!(
        shown.contains("berlin 10 (2 reserved), default 1, paris 4"),
        "{shown}"
    );
    let shown = env.json(&["products", "show", "A-1"]);
    assert_eq!(
        shown["stock_levels"][0],
        json!({"sku": "A-1", "location": "berlin", "on_hand": 10, "reserved": 2,
               "updated_at": shown["stock_levels"][0]["updated_at"]})
    );

    // The whole stock as JSON Lines: what it leaves out becomes 0, and a
    // count older than the stored one is kept out.
    let jsonl = [
        json!({"sku": "A-1", "location": "berlin", "on_hand": 12, "reserved": 2}),
        json!({"sku": "B-2", "location": "berlin", "on_hand": 3,
               "updated_at": "2001-01-01T00:00:00Z"}),
        json!({"sku": "C-3", "location": "default", "on_hand": 1}),
    ]
    .iter()
    .map(|l| format!("{l}\n"))
    .collect::<String>();
    let full = stock_load(&env, "stock.jsonl", &jsonl, &["--full"]);
    assert_eq!(
        (
            &full["updated"],
            &full["stale"],
            &full["unchanged"],
            &full["zeroed"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(3))
    );
    assert_eq!(
        levels(&env),
        [
            level("A-1", "berlin", 12, 2),
            level("A-1", "default", 0, 0),
            level("A-1", "paris", 0, 0),
            level("B-2", "berlin", 7, 7),
            level("B-2", "default", 0, 0),
            level("C-3", "default", 1, 0),
        ]
    );

    let human = env.ok([
        "stock",
        "load",
        env.write_file("again.csv", "sku,location,on_hand\nC-3,default,2\n")
            .to_str()
            .unwrap(),
    ]);
    assert!(
        human.starts_with("acme: loaded 1 stock level from ")
            && human.ends_with(": 0 created, 1 updated, 0 unchanged\n"),
        "{human}"
    );
}

both_backends!(a_load_sets_levels_and_full_zeroes_what_the_file_leaves_out);

#[test]
fn a_bad_line_a_level_given_twice_or_skus_outside_the_catalog_load_nothing() {
    let env = catalog(Backend::Sqlite, &["A-1", "B-2"]);
    let before = levels(&env);

    let bad = refused(
        &env,
        "bad.csv",
        "sku,location,on_hand,reserved\nA-1,berlin,3,0\nB-2,berlin,-4,0\n",
    );
    assert!(
        bad.contains("bad.csv: line 3: sku `B-2` at `berlin`: on_hand -4 is negative"),
        "{bad}"
    );

    let twice = refused(
        &env,
        "twice.jsonl",
        "{\"sku\":\"A-1\",\"location\":\"berlin\",\"on_hand\":3}\n\n\
         {\"sku\":\"A-1\",\"location\":\"berlin\",\"on_hand\":4}\n",
    );
    assert!(
        twice.contains("line 3: sku `A-1` at `berlin` appears twice in the file (first on line 1)"),
        "{twice}"
    );

    // Every line naming an unknown SKU is named, also after the first.
    let mut csv = String::from("sku,location,on_hand\n");
    for i in 0..1500 {
        csv.push_str(&format!("A-1,loc-{i},{i}\n"));
    }
    csv.push_str("NOPE-1,berlin,1\nB-2,berlin,1\nNOPE-2,berlin,1\n");
    let unknown = refused(&env, "unknown.csv", &csv);
    assert!(
        unknown.contains(
            "2 lines name SKUs not in the catalog (stock is kept only for catalog variants: `products load` them first): line 1502 `NOPE-1`, line 1504 `NOPE-2`"
        ),
        "{unknown}"
    );

    let kind = refused(&env, "stock.txt", "sku,location,on_hand\n");
    assert!(kind.contains("unknown file type `.txt`"), "{kind}");

    assert_eq!(levels(&env), before, "nothing was loaded");
}

#[test]
fn a_load_killed_between_chunks_leaves_every_level_as_it_was() {
    let env = catalog(Backend::Sqlite, &["A-1"]);
    let before = levels(&env);
    let mut csv = String::from("sku,location,on_hand\n");
    for i in 0..2500 {
        csv.push_str(&format!("A-1,loc-{i},{i}\n"));
    }
    let path = env.write_file("big.csv", &csv);
    let (killed, out) = env.run_killed_at(
        "stock-load-chunk",
        ["stock", "load", path.to_str().unwrap()],
    );
    assert!(killed, "{out:?}");
    assert_eq!(levels(&env), before);
    assert_eq!(env.integrity(), "ok");
    // The same file loads whole afterwards.
    let loaded = stock_load(&env, "big.csv", &csv, &[]);
    assert_eq!(loaded["created"], json!(2500));
    assert_eq!(levels(&env).len(), 2501);
}
