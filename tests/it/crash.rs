//! Crash and concurrency suites ("loses nothing"): the real binary is killed
//! with SIGKILL at every named crash point and at random moments during a long
//! import, a long export, a rotating token refresh, a config edit and a
//! product load; afterwards the account file, the store and the channel must
//! agree, and the next run must converge. The import and export kills run on
//! every shop (the sandbox on both stores, Vendure, Medusa). Then several
//! processes race.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::process::Output;
use std::time::{Duration, Instant};

use sandbox::Sandbox;
use test_support::catalog;
use test_support::kill::random_delay;
use test_support::output::{assert_no_panic, describe, stderr, stdout};
use test_support::peer::sandbox::{assert_catalog_equals_channel, assert_channel_equals_catalog};
use test_support::peer::{Listing, SandboxPeer};
use test_support::{
    ACCOUNT, Backend, CHANNEL, Case, Offer, Peer, PeerKind, TestEnv, both_backends, on_peers,
};

/// Runs `attempt(i, reach)` for up to `tries` random kills (each kills one
/// run after a random delay within `reach` of the timed run, checks what it
/// left, and returns whether the kill landed mid-run) until `target`
/// landed. Returns how many were tried and how many landed. A kill that
/// came after the run's end halves `reach`: on a busy machine runs take
/// another time than the one measured, and the kills must still land.
fn random_kills(
    target: usize,
    tries: usize,
    mut attempt: impl FnMut(usize, f64) -> bool,
) -> (usize, usize) {
    let (mut tried, mut landed, mut reach) = (0, 0, 1.0);
    for i in 0..tries {
        tried += 1;
        if attempt(i, reach) {
            landed += 1;
        } else {
            reach /= 2.0;
        }
        if landed >= target {
            break;
        }
    }
    (tried, landed)
}

/// What must hold after every kill, whatever was interrupted.
fn assert_sound(env: &TestEnv, account_text: &str, context: &str) {
    assert_eq!(env.integrity(), "ok", "{context}: store integrity");
    // Unchanged: so no token (or anything else) was written into it.
    assert_eq!(
        env.account_text(),
        account_text,
        "{context}: the account file changed"
    );
}

/// The refresh token the channel accepts is the stored one, unless the kill
/// fell into the inherent window (server rotated, reply not yet committed):
/// then the store still marks the refresh as in flight, so the next run can
/// say what happened.
fn token_state_after_kill(env: &TestEnv, sb: &Sandbox, context: &str) -> TokenState {
    let stored = env.stored_refresh_token(CHANNEL);
    if stored.as_deref() == Some(sb.current_refresh_token().as_str()) && !sb.grant_revoked() {
        TokenState::InSync
    } else {
        assert!(
            env.refresh_in_flight(CHANNEL),
            "{context}: the stored refresh token is not the channel's, and no refresh is marked in flight"
        );
        TokenState::LostInWindow
    }
}

#[derive(Debug, PartialEq)]
enum TokenState {
    InSync,
    LostInWindow,
}

/// The next run after a token lost in the window must fail and say that a
/// refresh was interrupted and to run `channel login`; then a fresh login
/// restores service.
fn assert_interrupted_refresh_reported(env: &TestEnv, sb: &Sandbox, args: &[&str], context: &str) {
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(1), "{context}: {}", describe(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("interrupted") && text.contains("channel login"),
        "{context}: the failure does not say that a refresh was interrupted and to run `channel login`:\n{}",
        describe(&out)
    );
    let fresh = sb.mint_refresh_token();
    let login = env.run_with_stdin(["channel", "login", CHANNEL], &fresh);
    assert_eq!(
        login.status.code(),
        Some(0),
        "{context}: {}",
        describe(&login)
    );
}

/// Runs `args` until it exits 0 (at most a few tries: a kill can leave a
/// lost token that needs a login first, handled by the caller).
fn converge(env: &TestEnv, args: &[&str], context: &str) -> Output {
    let out = env.run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{context}: did not converge:\n{}",
        describe(&out)
    );
    out
}

const KILLS_PER_POINT: usize = 10;
const RANDOM_KILLS: usize = 12;

/// A shop for the kill suites: the sandbox rotates refresh tokens with
/// reuse detection and answers after 3 ms, so a kill can land between
/// requests; a real server takes longer than that anyway.
fn shop(case: Case, seeded: u64) -> Box<dyn Peer> {
    match case.peer {
        PeerKind::Sandbox => {
            let mut config = SandboxPeer::rotating(seeded);
            config.switches.latency_ms = 3;
            Box::new(SandboxPeer::start(config))
        }
        kind => test_support::peer::start(kind),
    }
}

/// The catalog holds exactly what the shop offers (on the sandbox: every
/// field, ids and timestamps too).
fn assert_catalog_is_the_shop(env: &TestEnv, peer: &dyn Peer, context: &str) {
    match peer.as_sandbox() {
        Some(sb) => assert_catalog_equals_channel(env, sb, context),
        None => assert_eq!(
            env.catalog_offers(),
            peer.read_back().offers(peer.currency()),
            "{context}: the catalog is not the shop"
        ),
    }
}

/// The shop holds exactly the catalog, each SKU once (on the sandbox:
/// attributes too).
fn assert_shop_is_the_catalog(env: &TestEnv, peer: &dyn Peer, context: &str) -> Listing {
    if let Some(sb) = peer.as_sandbox() {
        assert_channel_equals_catalog(env, sb, context);
    }
    let listing = peer.read_back();
    listing.assert_offers(peer.currency(), &env.catalog_offers(), context);
    listing
}

on_peers!(import_killed_at_named_points_and_at_random_converges: sandbox, sandbox_postgres, vendure, medusa);
fn import_killed_at_named_points_and_at_random_converges(case: Case) {
    let peer = shop(case, 3000);
    if case.peer != PeerKind::Sandbox {
        peer.seed(&Offer::numbered("IK-", 0..300, "5.00", peer.currency()));
    }
    // Periods every shop type offers.
    let env = TestEnv::with_channel(
        case.backend,
        &*peer,
        &[("auth-refresh", "1h"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);
    if case.peer != PeerKind::Sandbox {
        // Three pages, so kills land between pages as on the sandbox's six.
        env.set_channel_key(CHANNEL, "page-size = 100");
    }
    let account = env.account_text();
    let import = ["run-once", "--force", "--job", "import-products"];

    converge(&env, &["run-once"], "first run");
    assert_catalog_is_the_shop(&env, &*peer, "first run");
    let skus: Vec<String> = env.catalog().into_keys().collect();
    // Random kills aim inside the run they kill, so time the two kinds
    // (the first run also made the store and refreshed the token: longer).
    let full: Vec<&str> = import.iter().copied().chain(["--full"]).collect();
    let timed = |args: &[&str], what: &str| {
        let started = Instant::now();
        converge(&env, args, what);
        started.elapsed()
    };
    let full_run = timed(&full, "timed full import");
    let incremental_run = timed(&import, "timed incremental import");

    let mut kills = 0;
    let mut change = 0u32;
    let mut touch_shop = |peer: &dyn Peer| {
        // The shop keeps changing between runs: the import must pick up the latest.
        change += 1;
        let sku = &skus[(change as usize * 397) % skus.len()];
        peer.change(sku, &format!("{change}.99"), i64::from(change % 50));
    };
    let in_sync = |peer: &dyn Peer, context: &str| {
        if let Some(sb) = peer.as_sandbox() {
            assert_eq!(
                token_state_after_kill(&env, sb, context),
                TokenState::InSync
            );
        }
    };
    for point in ["import-page-fetched", "import-page-committed"] {
        for i in 0..case.rounds(KILLS_PER_POINT, 2) {
            touch_shop(&*peer);
            let args: Vec<&str> = if i % 3 == 0 {
                import.iter().copied().chain(["--full"]).collect()
            } else {
                import.to_vec()
            };
            let (died, out) = env.run_killed_at(point, &args);
            assert!(
                died,
                "{point}: the run did not reach the crash point:\n{}",
                describe(&out)
            );
            kills += 1;
            let context = format!("kill #{kills} at {point}");
            assert_sound(&env, &account, &context);
            in_sync(&*peer, &context);
        }
    }
    // An import only reads the shop: a kill anywhere is safe on every shop.
    let target = case.rounds(RANDOM_KILLS, 3);
    let (tries, random_hits) =
        random_kills(target, case.rounds(RANDOM_KILLS * 2, 6), |i, reach| {
            touch_shop(&*peer);
            let args: Vec<&str> = if i % 4 == 0 {
                import.iter().copied().chain(["--full"]).collect()
            } else {
                import.to_vec()
            };
            let run = if i % 4 == 0 {
                full_run
            } else {
                incremental_run
            };
            let (died, _) = env.kill_after(&args, random_delay(run.mul_f64(reach)));
            let context = format!("random kill #{i}");
            assert_sound(&env, &account, &context);
            in_sync(&*peer, &context);
            died
        });
    kills += tries;
    assert!(
        random_hits >= target / 2,
        "too few random kills landed mid-run: {random_hits}"
    );

    converge(&env, &import, "after the kills");
    assert_catalog_is_the_shop(&env, &*peer, "after the kills");
    // A full import agrees as well: nothing the incremental import skipped.
    converge(
        &env,
        &["run-once", "--force", "--full", "--job", "import-products"],
        "full",
    );
    assert_catalog_is_the_shop(&env, &*peer, "after a full import");
    eprintln!(
        "import on {:?}: {kills} kills ({random_hits} random mid-run)",
        case.peer
    );
}

on_peers!(a_concurrent_import_killed_after_its_first_page_resumes_there_and_converges: medusa);
/// Medusa pages by offset, so its import asks for several pages at once
/// (`concurrency`). A kill right after the first page's commit leaves that
/// page alone in the catalog, not the pages that had come back early; the
/// next run goes on from it, and the one after picks up what changed.
fn a_concurrent_import_killed_after_its_first_page_resumes_there_and_converges(case: Case) {
    let peer = shop(case, 3100);
    peer.seed(&Offer::numbered("CI-", 0..250, "5.00", peer.currency()));
    let env = TestEnv::with_channel(
        case.backend,
        &*peer,
        &[("auth-refresh", "1h"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);
    // Five pages, three asked for at once.
    env.set_channel_key(CHANNEL, "page-size = 50");
    env.set_channel_key(CHANNEL, "concurrency = 3");
    let account = env.account_text();

    let (died, out) = env.run_killed_at("import-page-committed", ["run-once"]);
    assert!(
        died,
        "the run did not reach its first commit:\n{}",
        describe(&out)
    );
    assert_sound(&env, &account, "killed after the first page");
    assert_eq!(
        env.catalog_count(),
        50,
        "the catalog holds the first page and nothing that came back after it"
    );
    assert_eq!(
        env.value(
            "SELECT cursor FROM import_progress WHERE channel = ?1",
            &[CHANNEL]
        )
        .as_deref(),
        Some("products:50")
    );

    // The shop changes while the import is stopped.
    peer.change("CI-00007", "7.77", 3);
    let rows = env.run_once(&["--force", "--job", "import-products"]);
    let resumed = rows.get(CHANNEL, "import-products");
    assert_eq!(
        (resumed.outcome.as_str(), resumed.items),
        ("ran", 200),
        "the resumed import reads the four pages after the committed one: {resumed:?}"
    );
    assert_eq!(env.catalog_count(), 250);
    converge(
        &env,
        &["run-once", "--force", "--job", "import-products"],
        "incremental after the resume",
    );
    assert_catalog_is_the_shop(&env, &*peer, "after the resume");
}

on_peers!(export_killed_at_named_points_and_at_random_converges: sandbox, sandbox_postgres, vendure, medusa);
fn export_killed_at_named_points_and_at_random_converges(case: Case) {
    let peer = shop(case, 0);
    let real = case.peer != PeerKind::Sandbox;
    let currency = peer.currency();
    // Periods every shop type offers.
    let env = TestEnv::with_channel(
        case.backend,
        &*peer,
        &[("auth-refresh", "1h"), ("export-products", "1h")],
    );
    let account = env.account_text();
    let export = ["run-once", "--force", "--job", "export-products"];

    let size = if real { 150 } else { 1500 };
    env.load(
        "catalog.jsonl",
        &Offer::numbered("CAT-", 0..size, "10.00", currency),
    );
    converge(&env, &["run-once"], "first export");
    assert_shop_is_the_catalog(&env, &*peer, "first export");
    // Random kills aim inside a whole-catalog export, the kind of run they
    // interrupt: time one (the first run also refreshed the token and, on
    // PostgreSQL, made the store).
    env.load(
        "all.jsonl",
        &Offer::numbered("CAT-", 0..size, "0.75", currency),
    );
    let started = Instant::now();
    converge(&env, &export, "timed full export");
    let full_run = started.elapsed();

    let mut kills = 0;
    let mut version = 0;
    let mut next = size;
    let mut new_version = |env: &TestEnv| {
        version += 1;
        let price = format!("{version}.50");
        let mut changes = if real {
            // Every product changes, and 150 new ones make every create
            // step of the platform run (two batches).
            let mut all = Offer::numbered("CAT-", 0..next, &price, currency);
            all.extend(Offer::numbered("CAT-", next..next + 150, "10.00", currency));
            next += 150;
            all
        } else {
            // Each round changes a different slice of the catalog, so the
            // channel must end with the latest value of every product.
            let start = (version * 131) % 1400;
            Offer::numbered("CAT-", start..start + 100 + version * 7, &price, currency)
        };
        changes.sort();
        env.load("changes.jsonl", &changes);
    };
    let mut points = vec!["export-batch-sent", "export-batch-recorded"];
    points.extend(peer.create_steps());
    for point in points {
        for _ in 0..case.rounds(KILLS_PER_POINT, 1) {
            new_version(&env);
            let (died, out) = env.run_killed_at(point, export);
            assert!(
                died,
                "{point}: the run did not reach the crash point:\n{}",
                describe(&out)
            );
            kills += 1;
            let context = format!("kill #{kills} at {point}");
            assert_sound(&env, &account, &context);
            if let Some(sb) = peer.as_sandbox() {
                assert_eq!(
                    token_state_after_kill(&env, sb, &context),
                    TokenState::InSync
                );
            } else {
                // The next run, at once, finishes what the killed one began.
                converge(&env, &export, &context);
                let listing = assert_shop_is_the_catalog(&env, &*peer, &context);
                report_leftovers(&listing, currency, &context);
            }
        }
    }
    // Random kills, on the sandbox: a full-catalog change before each makes
    // every run as long as the timed one. On a real shop a kill in the
    // middle of a create, with the next run at once, can still leave a SKU
    // twice (issue 16), so its kills stay at the named points for now.
    let mut random_hits = 0;
    if peer.as_sandbox().is_some() {
        let target = case.backend.iterations(RANDOM_KILLS);
        let tries;
        (tries, random_hits) = random_kills(
            target,
            case.backend.iterations(RANDOM_KILLS * 2),
            |i, reach| {
                env.load(
                    "all.jsonl",
                    &Offer::numbered("CAT-", 0..size, &format!("{i}.25"), currency),
                );
                let (died, _) = env.kill_after(export, random_delay(full_run.mul_f64(reach)));
                let context = format!("random kill #{i}");
                assert_sound(&env, &account, &context);
                let sb = peer.as_sandbox().expect("the sandbox");
                assert_eq!(
                    token_state_after_kill(&env, sb, &context),
                    TokenState::InSync
                );
                died
            },
        );
        kills += tries;
        assert!(
            random_hits >= target / 2,
            "too few random kills landed mid-run: {random_hits}"
        );
    }

    converge(&env, &export, "after the kills");
    let listing = assert_shop_is_the_catalog(&env, &*peer, "after the kills");
    report_leftovers(&listing, currency, "after the kills");
    // Nothing is left pending: another export sends nothing.
    let requests = peer.product_requests();
    let run = env.run_once(&export[1..]);
    assert_eq!(
        run.get(CHANNEL, "export-products").items,
        0,
        "an up-to-date catalog was sent again"
    );
    if let Some(sb) = peer.as_sandbox() {
        assert_eq!(
            peer.product_requests(),
            requests,
            "an up-to-date catalog reached the channel: {:?}",
            sb.log()
        );
    }
    eprintln!(
        "export on {:?}: {kills} kills ({random_hits} random mid-run)",
        case.peer
    );
}

#[test]
fn a_sigterm_right_after_a_batch_is_sent_stops_the_export_cleanly_and_the_next_run_finishes_it() {
    // Slow enough that the next batch cannot land before the stop does.
    let mut config = SandboxPeer::rotating(0);
    config.switches.latency_ms = 50;
    let sb = SandboxPeer::start(config);
    let env = TestEnv::with_channel(
        Backend::Sqlite,
        &sb,
        &[("auth-refresh", "50m"), ("export-products", "1h")],
    );
    env.load_jsonl("catalog.jsonl", &catalog::numbered(0..250, "1.00"));
    // As `systemctl stop` landing right after the first batch went out.
    let out = env.run_terminated_at("export-batch-sent", ["run-once"]);
    assert_eq!(out.status.code(), Some(143), "{}", describe(&out));
    assert_eq!(
        env.last_outcome(CHANNEL, "export-products").as_deref(),
        Some("interrupted")
    );
    assert_eq!(env.integrity(), "ok");
    assert!(
        sb.product_count() < 250,
        "the stop did not stop the export: {} exported",
        sb.product_count()
    );
    converge(
        &env,
        &["run-once", "--force", "--job", "export-products"],
        "after the stop",
    );
    assert_channel_equals_catalog(&env, &sb, "after the stop");
}

/// Says what a kill left on the shop that the catalog comparison does not
/// see (products without variants, variants without a price): the shop-side
/// safety work (issue 16) turns these counts into assertions.
fn report_leftovers(listing: &Listing, currency: &str, context: &str) {
    let empty = listing.products_without_variants();
    let unpriced = listing.variants_without_price(currency);
    if !empty.is_empty() || !unpriced.is_empty() {
        eprintln!(
            "{context}: {} products without variants, {} variants without a {currency} price",
            empty.len(),
            unpriced.len()
        );
    }
}

both_backends!(token_refresh_killed_at_each_point_and_at_random_loses_nothing_silently);
fn token_refresh_killed_at_each_point_and_at_random_loses_nothing_silently(backend: Backend) {
    let mut config = SandboxPeer::rotating(10);
    config.switches.latency_ms = 20;
    let sb = SandboxPeer::start(config);
    let env = TestEnv::with_channel(backend, &sb, &[("auth-refresh", "50m")]);
    env.set_master(CHANNEL);
    let account = env.account_text();
    let refresh = ["run-once", "--force", "--job", "auth-refresh"];

    converge(&env, &refresh, "first refresh");
    // Timed apart from the first, which also made the store.
    let started = Instant::now();
    converge(&env, &refresh, "timed refresh");
    let full_run = started.elapsed();

    let mut kills = 0;
    let mut lost_in_window = 0;
    for point in [
        "before-token-request",
        "after-token-reply",
        "after-token-commit",
    ] {
        for _ in 0..backend.iterations(KILLS_PER_POINT) {
            let (died, out) = env.run_killed_at(point, refresh);
            assert!(
                died,
                "{point}: the run did not reach the crash point:\n{}",
                describe(&out)
            );
            kills += 1;
            let context = format!("kill #{kills} at {point}");
            assert_sound(&env, &account, &context);
            let state = token_state_after_kill(&env, &sb, &context);
            if point == "after-token-reply" {
                // The server rotated; the reply died with the process.
                assert_eq!(state, TokenState::LostInWindow, "{context}");
                lost_in_window += 1;
                assert_interrupted_refresh_reported(&env, &sb, &refresh, &context);
            } else {
                assert_eq!(state, TokenState::InSync, "{context}");
            }
            converge(&env, &refresh, &context);
            assert_eq!(
                env.stored_refresh_token(CHANNEL),
                Some(sb.current_refresh_token()),
                "{context}: after the next run"
            );
            assert!(
                !env.refresh_in_flight(CHANNEL),
                "{context}: a finished refresh stays marked in flight"
            );
        }
    }
    let (tries, random_hits) = random_kills(
        backend.iterations(RANDOM_KILLS),
        backend.iterations(RANDOM_KILLS * 3),
        |i, reach| {
            let (died, _) = env.kill_after(refresh, random_delay(full_run.mul_f64(reach)));
            let context = format!("random kill #{i}");
            assert_sound(&env, &account, &context);
            if token_state_after_kill(&env, &sb, &context) == TokenState::LostInWindow {
                lost_in_window += 1;
                assert_interrupted_refresh_reported(&env, &sb, &refresh, &context);
            }
            converge(&env, &refresh, &context);
            assert_eq!(
                env.stored_refresh_token(CHANNEL),
                Some(sb.current_refresh_token()),
                "{context}"
            );
            died
        },
    );
    kills += tries;
    assert!(
        random_hits >= backend.iterations(RANDOM_KILLS) / 2,
        "too few random kills landed mid-run: {random_hits}"
    );
    assert!(!sb.grant_revoked());
    eprintln!("token: {kills} kills, {lost_in_window} in the inherent window");
}

#[test]
fn set_period_killed_mid_write_leaves_the_old_or_the_new_file() {
    let sb = SandboxPeer::start(SandboxPeer::rotating(0));
    let env = TestEnv::with_channel(Backend::Sqlite, &sb, &[]);
    let periods = ["15m", "30m", "1h", "2h"];
    let mut kills = 0;
    for i in 0..KILLS_PER_POINT {
        let old = env.account_text();
        let (died, out) = env.run_killed_at(
            "config-write",
            [
                "channel",
                "set-period",
                CHANNEL,
                "import-products",
                periods[i % 4],
            ],
        );
        assert!(
            died,
            "set-period did not reach config-write:\n{}",
            describe(&out)
        );
        kills += 1;
        assert_eq!(
            env.account_text(),
            old,
            "kill #{kills}: the account file changed"
        );
        assert_no_stray_files(&env);
        // The edit still works afterwards: no stale lock, nothing half-written.
        env.ok([
            "channel",
            "set-period",
            CHANNEL,
            "import-products",
            periods[i % 4],
        ]);
    }
    // A config edit: the store is not involved, so one backend is enough.
    let (tries, random_hits) = random_kills(RANDOM_KILLS, RANDOM_KILLS * 3, |i, reach| {
        let old = env.account_text();
        let new_period = periods[(i + 1) % 4];
        let (died, _) = env.kill_after(
            [
                "channel",
                "set-period",
                CHANNEL,
                "export-products",
                new_period,
            ],
            random_delay(Duration::from_millis(6).mul_f64(reach)),
        );
        let now = env.account_text();
        if now != old {
            // The new version, whole: it parses and says the new period.
            let parsed: toml::Table = now.parse().expect("the account file parses");
            assert_eq!(
                parsed["channels"][CHANNEL]["jobs"]["export-products"].as_str(),
                Some(new_period),
                "random kill #{i}: neither the old nor the new file\n{now}"
            );
        }
        env.ok(["validate"]);
        // A kill between link and rename can leave atomic-write-file's temp
        // file behind; the next edit (here one that changes nothing) removes it.
        env.ok(["channel", "set-period", CHANNEL, "import-products", "none"]);
        assert_no_stray_files(&env);
        died
    });
    kills += tries;
    eprintln!("set-period: {kills} kills ({random_hits} random mid-run)");
}

/// No temp file or half-written sibling is left in the accounts dir.
fn assert_no_stray_files(env: &TestEnv) {
    let names: Vec<String> = std::fs::read_dir(env.config_dir().join("accounts"))
        .expect("accounts dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != &format!("{ACCOUNT}.toml") && n != &format!(".{ACCOUNT}.toml.lock"))
        .collect();
    assert!(names.is_empty(), "stray files after a kill: {names:?}");
}

both_backends!(products_load_killed_mid_write_leaves_the_old_or_the_new_catalog);
fn products_load_killed_mid_write_leaves_the_old_or_the_new_catalog(backend: Backend) {
    let sb = SandboxPeer::start(SandboxPeer::rotating(0));
    let env = TestEnv::with_channel(backend, &sb, &[]);
    let old_products = catalog::numbered(0..2000, "1.00");
    env.load_jsonl("old.jsonl", &old_products);
    let old = env.catalog();
    // The new file changes every old product and adds 500.
    let new_products = catalog::numbered(0..2500, "2.00");
    let mut kills = 0;
    for _ in 0..backend.iterations(KILLS_PER_POINT) {
        let path = env.root().join("new.jsonl");
        let _ = env.try_load("new.jsonl", &[]);
        std::fs::write(
            &path,
            new_products
                .iter()
                .map(|p| serde_json::to_string(p).unwrap() + "\n")
                .collect::<String>(),
        )
        .unwrap();
        let (died, out) = env.run_killed_at(
            "products-load",
            ["products", "load", path.to_str().unwrap()],
        );
        assert!(
            died,
            "products load did not reach products-load:\n{}",
            describe(&out)
        );
        kills += 1;
        assert_eq!(env.integrity(), "ok");
        assert_eq!(
            env.catalog(),
            old,
            "kill #{kills} inside the load transaction changed the catalog"
        );
    }
    // Random kills: loads alternate between two whole versions; after each
    // kill the catalog is entirely one of them.
    let files: Vec<std::path::PathBuf> = ["2.00", "3.00"]
        .iter()
        .map(|price| {
            let name = format!("v{price}.jsonl");
            let _ = env.try_load(&name, &[]);
            let path = env.root().join(&name);
            std::fs::write(
                &path,
                catalog::numbered(0..2500, price)
                    .iter()
                    .map(|p| serde_json::to_string(p).unwrap() + "\n")
                    .collect::<String>(),
            )
            .unwrap();
            path
        })
        .collect();
    let started = Instant::now();
    let out = env.run([
        OsStr::new("products"),
        OsStr::new("load"),
        files[0].as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let load_time = started.elapsed();
    let (tries, random_hits) = random_kills(
        backend.iterations(RANDOM_KILLS),
        backend.iterations(RANDOM_KILLS * 3),
        |i, reach| {
            let file = &files[(i + 1) % 2];
            let (died, _) = env.kill_after(
                ["products", "load", file.to_str().unwrap()],
                random_delay(load_time.mul_f64(reach)),
            );
            assert_eq!(env.integrity(), "ok", "random kill #{i}");
            let now = env.catalog();
            assert_eq!(
                now.len(),
                2500,
                "random kill #{i}: a partial load is visible"
            );
            let prices: BTreeSet<&str> = now.values().map(|r| r.price.as_str()).collect();
            assert_eq!(
                prices.len(),
                1,
                "random kill #{i}: a mix of versions: {prices:?}"
            );
            died
        },
    );
    kills += tries;
    assert!(
        random_hits >= backend.iterations(RANDOM_KILLS) / 2,
        "too few random kills landed mid-load: {random_hits}"
    );
    eprintln!("products load: {kills} kills ({random_hits} random mid-run)");
}

// ---- concurrency ----

fn wait_all(children: Vec<std::process::Child>) -> Vec<Output> {
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("the run finishes");
            assert_no_panic(&out);
            out
        })
        .collect()
}

both_backends!(six_concurrent_run_once_refresh_once_and_fetch_each_product_once);
fn six_concurrent_run_once_refresh_once_and_fetch_each_product_once(backend: Backend) {
    let mut config = SandboxPeer::rotating(2000);
    config.switches.latency_ms = 5;
    let sb = SandboxPeer::start(config);
    let env = TestEnv::with_channel(
        backend,
        &sb,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);
    for round in 0..2 {
        sb.clear_requests();
        // Round 0: everything is due once. Round 1: --force, so every run
        // that gets the lock runs again (one after another, never together).
        let args: Vec<&str> = if round == 0 {
            vec!["run-once"]
        } else {
            vec!["run-once", "--force"]
        };
        let children: Vec<_> = (0..6).map(|_| env.spawn(&args)).collect();
        let outs = wait_all(children);
        let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
        for out in &outs {
            let code = out.status.code();
            assert!(
                matches!(code, Some(0) | Some(75)),
                "round {round}: {}",
                describe(out)
            );
            if code == Some(75) {
                assert!(
                    stderr(out).contains("locked by another run-once"),
                    "{}",
                    describe(out)
                );
            }
        }
        assert!(
            codes.contains(&Some(0)),
            "round {round}: nobody ran: {codes:?}"
        );
        let token_requests = sb.count("/oauth/token");
        let page_requests: Vec<String> = sb
            .requests()
            .into_iter()
            .filter(|r| r.path == "/products")
            .map(|r| r.query)
            .collect();
        let winners = codes.iter().filter(|c| **c == Some(0)).count();
        if round == 0 {
            assert_eq!(
                token_requests, 1,
                "round 0: the token was refreshed {token_requests} times"
            );
            let distinct: BTreeSet<&String> = page_requests.iter().collect();
            assert_eq!(
                distinct.len(),
                page_requests.len(),
                "a page was fetched twice: {page_requests:?}"
            );
            let page_size = crate::beta_rest_page_size();
            assert_eq!(
                page_requests.len(),
                2000usize.div_ceil(page_size),
                "2000 products in pages of {page_size}: {page_requests:?}"
            );
        } else {
            assert_eq!(
                token_requests, winners,
                "round 1: one refresh per run that got the lock"
            );
        }
        assert_catalog_equals_channel(&env, &sb, &format!("round {round}"));
    }
    assert_eq!(
        env.stored_refresh_token(CHANNEL),
        Some(sb.current_refresh_token())
    );
    assert!(!sb.grant_revoked());
}

#[test]
fn eight_concurrent_set_period_on_eight_channels_all_land() {
    let sb = SandboxPeer::start(SandboxPeer::rotating(0));
    let env = TestEnv::with_channel(Backend::Sqlite, &sb, &[]);
    let channels: Vec<String> = (0..8).map(|i| format!("ch{i}")).collect();
    for ch in &channels {
        env.ok([
            "channel",
            "add",
            ch,
            "--type",
            "beta-rest",
            "--base-url",
            &sb.base_url(),
        ]);
    }
    let periods = ["15m", "30m", "1h", "2h", "4h", "6h", "12h", "24h"];
    for round in 0..3 {
        let children: Vec<_> = channels
            .iter()
            .enumerate()
            .map(|(i, ch)| {
                env.spawn([
                    "channel",
                    "set-period",
                    ch,
                    "import-products",
                    periods[(i + round) % 8],
                ])
            })
            .collect();
        for out in wait_all(children) {
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                describe(&out)
            );
        }
        let out = env.ok(["--json", "account", "show"]);
        let shown: serde_json::Value = serde_json::from_str(&out).expect("json");
        let text = env.account_text();
        let parsed: toml::Table = text.parse().expect("the account file parses");
        for (i, ch) in channels.iter().enumerate() {
            let got = parsed["channels"][ch.as_str()]["jobs"]["import-products"].as_str();
            assert_eq!(
                got,
                Some(periods[(i + round) % 8]),
                "round {round}: {ch} lost its edit\n{text}"
            );
        }
        assert!(shown.to_string().contains("ch7"));
    }
}

both_backends!(run_once_and_set_period_at_the_same_time_keep_both_effects);
fn run_once_and_set_period_at_the_same_time_keep_both_effects(backend: Backend) {
    let mut config = SandboxPeer::rotating(1500);
    config.switches.latency_ms = 5;
    let sb = SandboxPeer::start(config);
    let env = TestEnv::with_channel(
        backend,
        &sb,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    env.set_master(CHANNEL);
    let periods = ["30m", "15m", "1h", "50m"];
    for (round, period) in periods.iter().enumerate() {
        sb.update_product("SKU-0000007", |p| p.title = format!("round {round}"));
        let run = env.spawn(["run-once", "--force", "--full"]);
        std::thread::sleep(random_delay(Duration::from_millis(40)));
        let edit = env.spawn(["channel", "set-period", CHANNEL, "auth-refresh", period]);
        let outs = wait_all(vec![run, edit]);
        for out in &outs {
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                describe(out)
            );
        }
        let text = env.account_text();
        let parsed: toml::Table = text.parse().expect("the account file parses");
        assert_eq!(
            parsed["channels"][CHANNEL]["jobs"]["auth-refresh"].as_str(),
            Some(*period),
            "round {round}: the edit was lost"
        );
        assert_catalog_equals_channel(&env, &sb, &format!("round {round}"));
        assert_eq!(
            env.last_outcome(CHANNEL, "import-products").as_deref(),
            Some("success")
        );
        assert_eq!(env.integrity(), "ok");
    }
}
