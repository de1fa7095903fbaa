//! Crash suite for the store's own state: SIGKILL during `channel reset`,
//! during an export that deletes, and during a streamed `products load`, at
//! named points (`OMS_CHANNELS_TEST_CRASH_AT`) and at random moments. After
//! each kill nothing is half-applied, and the next run converges.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::Instant;

use sandbox::Sandbox;
use test_support::catalog;
use test_support::kill::random_delay;
use test_support::output::describe;
use test_support::peer::SandboxPeer;
use test_support::{Backend, CHANNEL, TestEnv, both_backends};

fn count(env: &TestEnv, sql: &str) -> i64 {
    env.count(sql)
}

fn export(env: &TestEnv) -> Output {
    env.run(["run-once", "--force", "--job", "export-products"])
}

/// The channel holds exactly the catalog's skus.
fn assert_channel_holds_the_catalog(env: &TestEnv, sb: &Sandbox, context: &str) {
    let channel: BTreeSet<String> = sb.all_products().into_iter().map(|p| p.sku).collect();
    let catalog: BTreeSet<String> = env.catalog().into_keys().collect();
    assert_eq!(channel, catalog, "{context}");
}

fn login(env: &TestEnv, sb: &Sandbox) {
    let out = env.run_with_stdin(["channel", "login", CHANNEL], &sb.current_refresh_token());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Either the reset happened whole (no token, no export state) or not at all.
fn reset_state(env: &TestEnv, exported: i64) -> &'static str {
    let exports = count(env, "SELECT count(*) FROM exports");
    let tokens = count(env, "SELECT count(*) FROM tokens");
    let jobs = count(env, "SELECT count(*) FROM job_state");
    match (exports, tokens, jobs) {
        (n, 1, j) if n == exported && j > 0 => "before",
        (0, 0, 0) => "after",
        other => panic!("a half-applied reset: (exports, tokens, job states) = {other:?}"),
    }
}

both_backends!(channel_reset_killed_is_all_or_nothing_and_the_next_run_converges);
fn channel_reset_killed_is_all_or_nothing_and_the_next_run_converges(backend: Backend) {
    let sb = SandboxPeer::start(SandboxPeer::rotating(0));
    let env = TestEnv::with_channel(
        backend,
        &sb,
        &[("auth-refresh", "50m"), ("export-products", "1h")],
    );
    env.load_jsonl("catalog.jsonl", &catalog::numbered(0..500, "1.00"));
    assert_eq!(export(&env).status.code(), Some(0));
    assert_eq!(sb.product_count(), 500);

    for kill in 0..backend.iterations(5) {
        let (died, out) = env.run_killed_at("channel-reset", ["channel", "reset", CHANNEL]);
        assert!(
            died,
            "reset did not reach its crash point:\n{}",
            describe(&out)
        );
        assert_eq!(env.integrity(), "ok");
        assert_eq!(reset_state(&env, 500), "before", "kill #{kill}");
    }
    // Random kills: each leaves the reset whole or undone.
    let started = Instant::now();
    let out = env.run(["channel", "reset", CHANNEL, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let reset_time = started.elapsed();
    assert_eq!(reset_state(&env, 500), "after");
    let mut landed = 0;
    for i in 0..backend.iterations(12) {
        if reset_state(&env, 500) == "after" {
            login(&env, &sb);
            assert_eq!(export(&env).status.code(), Some(0), "re-export #{i}");
        }
        let (died, _) = env.kill_after(["channel", "reset", CHANNEL], random_delay(reset_time * 2));
        landed += usize::from(died);
        assert_eq!(env.integrity(), "ok", "random kill #{i}");
        reset_state(&env, 500);
    }
    eprintln!("channel reset: {landed} random kills landed mid-run");
    // Converges: the reset completes, and after a login the next export
    // sends every product again.
    env.ok(["channel", "reset", CHANNEL]);
    login(&env, &sb);
    sb.clear_requests();
    let out = export(&env);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let sent: usize = sb
        .requests()
        .iter()
        .filter(|r| r.path == "/products/batch")
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
            body["products"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(sent, 500, "a full export after the reset");
}

both_backends!(an_export_that_deletes_killed_anywhere_converges);
fn an_export_that_deletes_killed_anywhere_converges(backend: Backend) {
    let mut config = SandboxPeer::rotating(0);
    config.switches.latency_ms = 3;
    let sb = SandboxPeer::start(config);
    let env = TestEnv::with_channel(
        backend,
        &sb,
        &[("auth-refresh", "50m"), ("export-products", "1h")],
    );
    env.load_jsonl("catalog.jsonl", &catalog::numbered(0..1500, "1.00"));
    assert_eq!(export(&env).status.code(), Some(0));
    assert_eq!(sb.product_count(), 1500);

    let remove = |env: &TestEnv, range: std::ops::Range<u32>| {
        let list: String = range.map(|i| format!("CAT-{i:05}\n")).collect();
        let path = env.root().join("remove.txt");
        std::fs::write(&path, list).unwrap();
        let out = env.run(["products", "remove", "--file", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    };
    let mut removed = 0;
    for point in ["delete-batch-sent", "delete-batch-recorded"] {
        for kill in 0..3 {
            remove(&env, removed..removed + 100);
            removed += 100;
            let (died, out) =
                env.run_killed_at(point, ["run-once", "--force", "--job", "export-products"]);
            assert!(died, "{point}: not reached:\n{}", describe(&out));
            assert_eq!(env.integrity(), "ok", "{point} #{kill}");
            // A deletion is forgotten only once the channel confirmed it.
            let pending = count(
                &env,
                "SELECT count(*) FROM exports e JOIN removed_products r ON r.sku = e.sku",
            );
            let catalog = env.catalog();
            let on_channel_not_in_catalog = sb
                .all_products()
                .iter()
                .filter(|p| !catalog.contains_key(&p.sku))
                .count() as i64;
            assert!(
                pending >= on_channel_not_in_catalog,
                "{point} #{kill}: {on_channel_not_in_catalog} removed products on the channel, only {pending} deletions pending"
            );
        }
    }
    // Random kills over long deletion runs.
    let started = Instant::now();
    remove(&env, removed..removed + 100);
    removed += 100;
    assert_eq!(export(&env).status.code(), Some(0));
    let one_run = started.elapsed();
    let mut landed = 0;
    for i in 0..backend.iterations(6) {
        remove(&env, removed..removed + 100);
        removed += 100;
        let (died, _) = env.kill_after(
            ["run-once", "--force", "--job", "export-products"],
            random_delay(one_run),
        );
        landed += usize::from(died);
        assert_eq!(env.integrity(), "ok", "random kill #{i}");
    }
    eprintln!("deletion export: {landed} random kills landed mid-run");
    let out = export(&env);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_channel_holds_the_catalog(&env, &sb, "after the kills");
    assert_eq!(env.catalog().len(), 1500 - removed as usize);
    assert_eq!(count(&env, "SELECT count(*) FROM removed_products"), 0);
    sb.clear_requests();
    assert_eq!(export(&env).status.code(), Some(0));
    assert_eq!(sb.count("/products/batch"), 0, "nothing left to send");
}

both_backends!(a_streamed_products_load_killed_mid_file_loads_nothing);
fn a_streamed_products_load_killed_mid_file_loads_nothing(backend: Backend) {
    let sb = SandboxPeer::start(SandboxPeer::rotating(0));
    let env = TestEnv::with_channel(backend, &sb, &[]);
    let old = catalog::numbered(0..3000, "1.00");
    env.load_jsonl("old.jsonl", &old);
    let before = env.catalog();
    // Many chunks: the kill lands after some of them were written.
    let write = |name: &str, price: &str| {
        let path = env.root().join(name);
        let text: String = catalog::numbered(0..20_000, price)
            .iter()
            .map(|p| serde_json::to_string(p).unwrap() + "\n")
            .collect();
        std::fs::write(&path, text).unwrap();
        path
    };
    let new = write("new.jsonl", "2.00");
    for kill in 0..backend.iterations(5) {
        let (died, out) = env.run_killed_at(
            "products-load-chunk",
            ["products", "load", new.to_str().unwrap()],
        );
        assert!(died, "not reached:\n{}", describe(&out));
        assert_eq!(env.integrity(), "ok");
        assert_eq!(env.catalog(), before, "kill #{kill} changed the catalog");
    }
    let other = write("other.jsonl", "3.00");
    let started = Instant::now();
    let out = env.run(["products", "load", new.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let load_time = started.elapsed();
    let mut landed = 0;
    for i in 0..backend.iterations(10) {
        let file = if i % 2 == 0 { &other } else { &new };
        let (died, _) = env.kill_after(
            ["products", "load", file.to_str().unwrap()],
            random_delay(load_time),
        );
        landed += usize::from(died);
        assert_eq!(env.integrity(), "ok");
        let now = env.catalog();
        assert_eq!(now.len(), 20_000, "random kill #{i}");
        let prices: BTreeSet<&str> = now.values().map(|r| r.price.as_str()).collect();
        assert_eq!(prices.len(), 1, "random kill #{i}: a mix of versions");
    }
    eprintln!("streamed load: {landed} random kills landed mid-load");
    // The next load converges.
    let out = env.run(["products", "load", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(env.catalog().values().all(|r| r.price == "3.00"));
}
