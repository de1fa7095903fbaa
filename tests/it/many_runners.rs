//! Several runners sharing one store, as on several hosts sharing one
//! PostgreSQL (design §Many machines; the first two also run on SQLite, as
//! several runners on one host): four `run-once --all-accounts` started at
//! the same moment on 40 accounts run each due job exactly once, counted at
//! the sandbox channels; a SIGKILLed runner's import is resumed by the next
//! runner after its last committed page; `store migrate` moves populated
//! SQLite stores to PostgreSQL without changing what is due; and a store
//! that is down or a URL with a password stops the run before any job.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::process::Output;
use std::sync::Barrier;
use std::time::Duration;

use sandbox::{Sandbox, Switches};
use serde_json::Value;
use test_support::catalog;
use test_support::output::{assert_no_panic, describe, killed, parse, stderr, stdout, wait_until};
use test_support::peer::SandboxPeer;
use test_support::store::{literal, schema_of};
use test_support::{Backend, TestEnv, TestStore, both_backends};

/// A channel of a hand-written account file: id, its sandbox, job periods
/// (the jobs not named are `none`).
type ChannelSpec<'a> = (&'a str, &'a Sandbox, &'a [(&'a str, &'a str)]);

/// Many accounts in one env, on one store; each command names its account
/// (or none, for `--all-accounts`).
struct Fleet {
    env: TestEnv,
}

impl Fleet {
    fn new(backend: Backend) -> Fleet {
        let mut env = TestEnv::builder()
            .backend(backend)
            .var("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "10000")
            .build();
        // Four runners on forty accounts share two cores.
        env.set_run_limit(Duration::from_secs(300));
        Fleet { env }
    }

    fn store(&self) -> &TestStore {
        self.env.store()
    }

    fn sandbox(&self, products: u64, latency_ms: u64) -> SandboxPeer {
        SandboxPeer::with(
            products,
            Switches {
                latency_ms,
                ..Switches::default()
            },
        )
    }

    fn account_file(&self, account: &str) -> std::path::PathBuf {
        self.env.account_path(account)
    }

    /// `[--account A] <args>`.
    fn args<S: AsRef<OsStr>>(account: Option<&str>, args: &[S]) -> Vec<OsString> {
        let mut all: Vec<OsString> = Vec::new();
        if let Some(account) = account {
            all.extend(["--account".into(), account.into()]);
        }
        all.extend(args.iter().map(|a| a.as_ref().to_owned()));
        all
    }

    fn run<S: AsRef<OsStr>>(&self, account: Option<&str>, args: &[S]) -> Output {
        self.env.run(Fleet::args(account, args))
    }

    /// Runs a command that must exit 0; returns its stdout.
    fn ok<S: AsRef<OsStr>>(&self, account: Option<&str>, args: &[S]) -> String {
        self.env.ok(Fleet::args(account, args))
    }

    /// `--json <args>` that must exit 0; the document.
    fn json(&self, account: Option<&str>, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        parse(&self.ok(account, &all))
    }

    /// Writes `account`'s file by hand (as a config map would deliver it):
    /// master `oms`, and each channel `(id, sandbox, periods)` with its
    /// secret in its own env var.
    fn write_account(&mut self, account: &str, channels: &[ChannelSpec<'_>]) {
        let mut text = format!("display-name = \"{account}\"\nmaster-product-source = \"oms\"\n");
        for (id, sandbox, periods) in channels {
            let var = format!(
                "FLEET_SECRET_{}_{}",
                account.to_uppercase(),
                id.to_uppercase()
            );
            self.env.set_var(&var, &sandbox.client_secret());
            text.push_str(&format!(
                "\n[channels.{id}]\ntype = \"beta-rest\"\nbase-url = \"{}\"\n\n\
                 [channels.{id}.auth]\ntoken-url = \"{}\"\ngrant = \"refresh_token\"\n\
                 client-id = \"{}\"\nclient-secret-env = \"{var}\"\n\n[channels.{id}.jobs]\n",
                sandbox.base_url(),
                sandbox.token_url(),
                sandbox.client_id(),
            ));
            for job in [
                "auth-refresh",
                "import-products",
                "export-products",
                "export-stock",
            ] {
                let period = periods
                    .iter()
                    .find(|(j, _)| *j == job)
                    .map_or("none", |(_, p)| p);
                text.push_str(&format!("{job} = \"{period}\"\n"));
            }
        }
        self.env.account(account, text);
    }

    /// `channel login <id>` with the sandbox's current refresh token on stdin.
    fn login(&self, account: &str, id: &str, sandbox: &Sandbox) {
        let out = self.env.run_with_stdin(
            Fleet::args(Some(account), &["channel", "login", id]),
            &sandbox.current_refresh_token(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "login {account}/{id}:\n{}",
            describe(&out)
        );
    }

    /// `products load` of `n` catalog products into `account`.
    fn load_catalog(&self, account: &str, n: u32) {
        let path = self.env.write_file(
            &format!("{account}-catalog.jsonl"),
            &catalog::jsonl(&catalog::numbered(0..n, "9.99")),
        );
        self.ok(
            Some(account),
            &[OsStr::new("products"), OsStr::new("load"), path.as_os_str()],
        );
    }

    /// Starts `runners` copies of `args` at the same moment (threads released
    /// by one barrier) and waits for all of them.
    fn race(&self, runners: usize, args: &[&str]) -> Vec<Output> {
        let barrier = Barrier::new(runners);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..runners)
                .map(|_| {
                    let cmd = self.env.command(args);
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        self.env.finish(cmd, None)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("runner thread"))
                .collect()
        })
    }
}

/// The `cursor` query parameter of a recorded page request (`None` for the
/// first page).
fn cursor_of(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("cursor="))
        .map(str::to_string)
}

/// The cursors of every `GET /products` the sandbox answered, in order.
fn page_cursors(sandbox: &Sandbox) -> Vec<Option<String>> {
    sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/products")
        .map(|r| cursor_of(&r.query))
        .collect()
}

/// Every sku the sandbox received in export batches, in order.
fn exported_skus(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/products/batch")
        .flat_map(|r| {
            let body: Value = serde_json::from_str(r.body.as_deref().expect("batch body"))
                .expect("batch body is JSON");
            body["products"]
                .as_array()
                .expect("products")
                .iter()
                .flat_map(|p| p["variants"].as_array().expect("variants").iter())
                .map(|v| v["sku"].as_str().expect("sku").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One runner's report: `(account, channel, job) -> outcome` of the
/// accounts it ran, and `(account, busy, message)` of those it could not.
struct Report {
    rows: BTreeMap<(String, String, String), String>,
    ran_accounts: BTreeSet<String>,
    errors: Vec<(String, bool, String)>,
}

fn report(doc: &Value) -> Report {
    let mut rows = BTreeMap::new();
    let mut ran_accounts = BTreeSet::new();
    for account in doc["accounts"].as_array().expect("accounts") {
        let name = account["account"].as_str().expect("account").to_string();
        ran_accounts.insert(name.clone());
        for row in account["rows"].as_array().expect("rows") {
            rows.insert(
                (
                    name.clone(),
                    row["channel"].as_str().unwrap().to_string(),
                    row["job"].as_str().unwrap().to_string(),
                ),
                row["outcome"].as_str().unwrap().to_string(),
            );
        }
    }
    let errors = doc["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["account"].as_str().unwrap().to_string(),
                e["busy"].as_bool().unwrap(),
                e["error"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Report {
        rows,
        ran_accounts,
        errors,
    }
}

const ACCOUNTS: usize = 40;
const RUNNERS: usize = 4;
/// Products on each importing channel: two pages at the beta-rest page size.
fn shop_products() -> u64 {
    crate::beta_rest_page_size() as u64 + 100
}
/// Catalog products each account exports: two batches (100 + 50).
const CATALOG: u32 = 150;

const SHOP_JOBS: &[(&str, &str)] = &[("auth-refresh", "50m"), ("import-products", "1h")];
const OUTLET_JOBS: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];

both_backends!(four_runners_on_forty_accounts_run_each_due_job_exactly_once);
fn four_runners_on_forty_accounts_run_each_due_job_exactly_once(backend: Backend) {
    let mut fleet = Fleet::new(backend);
    let names: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct{i:02}")).collect();
    // Each account: `shop` (listings imported, two pages) and `outlet`
    // (the catalog exported, two batches), each its own sandbox, so every
    // request is counted per channel. A little latency, so runners overlap.
    let mut sandboxes: BTreeMap<(String, &str), SandboxPeer> = BTreeMap::new();
    for name in &names {
        let shop = fleet.sandbox(shop_products(), 15);
        let outlet = fleet.sandbox(0, 15);
        fleet.write_account(
            name,
            &[("shop", &shop, SHOP_JOBS), ("outlet", &outlet, OUTLET_JOBS)],
        );
        sandboxes.insert((name.clone(), "shop"), shop);
        sandboxes.insert((name.clone(), "outlet"), outlet);
    }
    for name in &names {
        fleet.login(name, "shop", &sandboxes[&(name.clone(), "shop")]);
        fleet.login(name, "outlet", &sandboxes[&(name.clone(), "outlet")]);
        fleet.load_catalog(name, CATALOG);
    }
    for sandbox in sandboxes.values() {
        sandbox.clear_requests();
    }

    let outs = fleet.race(RUNNERS, &["--json", "run-once", "--all-accounts"]);
    let mut reports = Vec::new();
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(out.status.code(), Some(0), "runner {i}:\n{}", describe(out));
        reports.push(report(&parse(&stdout(out))));
    }

    // Every runner went over every account: it ran it, or found it busy.
    let all: BTreeSet<String> = names.iter().cloned().collect();
    for (i, r) in reports.iter().enumerate() {
        for (account, busy, message) in &r.errors {
            assert!(
                *busy,
                "runner {i}: `{account}` failed instead of being busy: {message}"
            );
            assert!(
                !r.ran_accounts.contains(account),
                "runner {i}: `{account}` both ran and was busy"
            );
        }
        let busy: BTreeSet<String> = r.errors.iter().map(|e| e.0.clone()).collect();
        let seen: BTreeSet<String> = r.ran_accounts.union(&busy).cloned().collect();
        assert_eq!(seen, all, "runner {i} did not report every account");
    }

    // Each due job ran on exactly one runner; the rest saw it not due.
    let mut ran_by: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        for (key, outcome) in &r.rows {
            match outcome.as_str() {
                "ran" => ran_by.entry(key.clone()).or_default().push(i),
                "not-due" => {}
                other => panic!("runner {i}: {key:?} ended `{other}`"),
            }
        }
    }
    for name in &names {
        for (channel, jobs) in [("shop", SHOP_JOBS), ("outlet", OUTLET_JOBS)] {
            for (job, _) in jobs {
                let key = (name.clone(), channel.to_string(), job.to_string());
                assert_eq!(
                    ran_by.get(&key).map(Vec::len),
                    Some(1),
                    "{key:?} ran on runners {:?}",
                    ran_by.get(&key)
                );
            }
        }
    }
    let working: BTreeSet<usize> = ran_by.values().flatten().copied().collect();
    assert!(
        working.len() >= 2,
        "the runners did not share the work: only runner(s) {working:?} ran jobs"
    );
    let busy_reports: usize = reports.iter().map(|r| r.errors.len()).sum();

    // At the channels: one token refresh per channel, every page once,
    // every catalog product exported once.
    let page_size = crate::beta_rest_page_size();
    for name in &names {
        let shop = &sandboxes[&(name.clone(), "shop")];
        let outlet = &sandboxes[&(name.clone(), "outlet")];
        assert_eq!(shop.count("/oauth/token"), 1, "{name}/shop token refreshes");
        assert_eq!(
            outlet.count("/oauth/token"),
            1,
            "{name}/outlet token refreshes"
        );
        let cursors = page_cursors(shop);
        let distinct: BTreeSet<&Option<String>> = cursors.iter().collect();
        assert_eq!(
            distinct.len(),
            cursors.len(),
            "{name}/shop: a page was fetched twice: {cursors:?}"
        );
        assert_eq!(
            cursors.len(),
            (shop_products() as usize).div_ceil(page_size),
            "{name}/shop: one import listing pass: {cursors:?}"
        );
        assert_eq!(cursors[0], None, "{name}/shop starts at the first page");
        let sent = exported_skus(outlet);
        let distinct: BTreeSet<&String> = sent.iter().collect();
        assert_eq!(
            (sent.len(), distinct.len()),
            (CATALOG as usize, CATALOG as usize),
            "{name}/outlet: every catalog product exported exactly once"
        );
        assert_eq!(outlet.count("/products/batch"), 2, "{name}/outlet batches");
        // The store agrees: one successful run of each job.
        for (channel, job) in [
            ("shop", "auth-refresh"),
            ("shop", "import-products"),
            ("outlet", "auth-refresh"),
            ("outlet", "export-products"),
        ] {
            assert_eq!(
                fleet.store().count(
                    name,
                    "SELECT count(*) FROM run_history WHERE channel = ?1 AND job = ?2",
                    &[channel, job]
                ),
                1,
                "{name}: {channel}/{job} runs recorded"
            );
        }
    }
    // Every runner has exited: no lock is left behind.
    assert!(
        wait_until(Duration::from_secs(5), || fleet
            .store()
            .advisory_locks()
            .is_empty()),
        "locks outlived their runners: {:?}",
        fleet.store().advisory_locks()
    );

    // The next tick, with nothing due: nothing reaches any channel, and
    // nothing is recorded.
    for sandbox in sandboxes.values() {
        sandbox.clear_requests();
    }
    let history: i64 = names
        .iter()
        .map(|n| {
            fleet
                .store()
                .count(n, "SELECT count(*) FROM run_history", &[])
        })
        .sum();
    let outs = fleet.race(RUNNERS, &["--json", "run-once", "--all-accounts"]);
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(
            out.status.code(),
            Some(0),
            "idle runner {i}:\n{}",
            describe(out)
        );
        let r = report(&parse(&stdout(out)));
        for (key, outcome) in &r.rows {
            assert_eq!(outcome, "not-due", "idle runner {i}: {key:?}");
        }
        for (account, busy, message) in &r.errors {
            assert!(*busy, "idle runner {i}: `{account}`: {message}");
        }
    }
    for ((name, channel), sandbox) in &sandboxes {
        assert_eq!(
            sandbox.requests(),
            vec![],
            "{name}/{channel}: a tick with nothing due sent requests"
        );
    }
    let after: i64 = names
        .iter()
        .map(|n| {
            fleet
                .store()
                .count(n, "SELECT count(*) FROM run_history", &[])
        })
        .sum();
    assert_eq!(after, history, "an idle tick recorded runs");
    eprintln!(
        "four runners: jobs ran on runners {working:?}; {busy_reports} busy accounts skipped"
    );
}

both_backends!(a_sigkilled_runners_import_is_resumed_by_the_next_runner_after_its_last_page);
fn a_sigkilled_runners_import_is_resumed_by_the_next_runner_after_its_last_page(backend: Backend) {
    let mut fleet = Fleet::new(backend);
    let page_size = crate::beta_rest_page_size();
    let total = 8 * page_size as u64;
    // Slow pages: the import takes seconds, so the kill lands mid-import.
    let shop = fleet.sandbox(total, 250);
    let other = fleet.sandbox(0, 0);
    fleet.write_account("acme", &[("shop", &shop, SHOP_JOBS)]);
    let text = std::fs::read_to_string(fleet.account_file("acme")).unwrap();
    std::fs::write(
        fleet.account_file("acme"),
        text.replace(
            "master-product-source = \"oms\"",
            "master-product-source = \"shop\"",
        ),
    )
    .unwrap();
    fleet.write_account("beta", &[("outlet", &other, OUTLET_JOBS)]);
    fleet.login("acme", "shop", &shop);
    fleet.login("beta", "outlet", &other);
    shop.clear_requests();

    let mut first = fleet.env.spawn(["--json", "run-once", "--all-accounts"]);
    // Kill it once two pages are committed (and before the last).
    let catalog = |fleet: &Fleet| {
        fleet
            .store()
            .value("acme", "SELECT count(*) FROM products", &[])
            .map_or(0, |n| n.parse::<u64>().unwrap())
    };
    let committed = wait_until(Duration::from_secs(60), || {
        catalog(&fleet) >= 2 * page_size as u64
    });
    assert!(committed, "the first runner never committed two pages");
    first.kill().expect("SIGKILL the first runner");
    let out = first.wait_with_output().expect("reap the first runner");
    assert_no_panic(&out);
    assert!(
        killed(&out),
        "the first runner finished before the kill:\n{}",
        describe(&out)
    );
    let kept = catalog(&fleet);
    assert!(kept < total, "the import finished before the kill: {kept}");
    assert_eq!(kept % page_size as u64, 0, "a page is committed whole");
    let resume_point = fleet
        .store()
        .value(
            "acme",
            "SELECT cursor FROM import_progress WHERE channel = ?1",
            &["shop"],
        )
        .expect("the committed pages left a resume cursor");
    let before_kill = page_cursors(&shop);
    let committed_pages = (kept as usize) / page_size;
    assert!(before_kill.len() >= committed_pages);
    // Pages before the resume point: the ones the first runner committed.
    let done: Vec<Option<String>> = before_kill[..committed_pages].to_vec();
    assert!(!done.contains(&Some(resume_point.clone())));
    shop.clear_requests();

    // At once, no lock timeout to wait for: the next runner gets the account.
    shop.update_switches(|s| s.latency_ms = 0);
    let out = fleet.run(None, &["--json", "run-once", "--all-accounts"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let r = report(&parse(&stdout(&out)));
    assert!(
        r.errors.is_empty(),
        "the killed runner's accounts are free at once: {:?}",
        r.errors
    );
    assert_eq!(
        r.rows[&(
            "acme".to_string(),
            "shop".to_string(),
            "import-products".to_string()
        )],
        "ran"
    );
    let after = page_cursors(&shop);
    assert_eq!(
        after.first(),
        Some(&Some(resume_point.clone())),
        "the import resumes at the last committed page's cursor: {after:?}"
    );
    for page in &done {
        assert!(
            !after.contains(page),
            "page {page:?}, committed before the kill, was fetched again: {after:?}"
        );
    }
    let distinct: BTreeSet<&Option<String>> = after.iter().collect();
    assert_eq!(
        distinct.len(),
        after.len(),
        "a page fetched twice: {after:?}"
    );
    // The catalog is complete and the channel's.
    assert_eq!(catalog(&fleet), total);
    let stored: BTreeMap<String, String> = fleet
        .store()
        .query(
            "acme",
            "SELECT v.sku, p.doc FROM variants v JOIN products p ON p.handle = v.handle",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| {
            let doc: Value = serde_json::from_str(r[1].as_deref().unwrap()).unwrap();
            let prices = &doc["variants"][0]["prices"];
            let price = prices.as_object().unwrap().values().next().unwrap();
            (r[0].clone().unwrap(), price.as_str().unwrap().to_string())
        })
        .collect();
    let channel: BTreeMap<String, String> = shop
        .all_products()
        .into_iter()
        .map(|p| (p.sku, p.price))
        .collect();
    assert_eq!(stored, channel, "the catalog is the channel's");
    assert_eq!(fleet.store().integrity("acme"), "ok");
}

/// `(channel, job) -> the fields a user plans by` from `status --json`.
fn schedule(doc: &Value) -> BTreeMap<(String, String), Value> {
    doc["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| {
            (
                (
                    j["channel"].as_str().unwrap().to_string(),
                    j["job"].as_str().unwrap().to_string(),
                ),
                serde_json::json!({
                    "due": j["due"],
                    "next_due": j["next_due"],
                    "last_success": j["last_success"],
                    "last_attempt": j["last_attempt"],
                    "last_outcome": j["last_outcome"],
                    "consecutive_failures": j["consecutive_failures"],
                    "why": j["why"],
                }),
            )
        })
        .collect()
}

/// `(account, channel, job)` of the rows a dry run would run at `now`.
fn would_run(fleet: &Fleet, store: Option<&str>, now: &str) -> BTreeSet<(String, String, String)> {
    let mut args = Vec::new();
    if let Some(url) = store {
        args.extend(["--store", url]);
    }
    args.extend(["run-once", "--all-accounts", "--dry-run", "--now", now]);
    let doc = fleet.json(None, &args);
    let r = report(&doc);
    assert!(r.errors.is_empty(), "{doc:#}");
    r.rows
        .into_iter()
        .filter(|(_, outcome)| outcome == "would-run")
        .map(|(key, _)| key)
        .collect()
}

#[test]
fn store_migrate_moves_sqlite_stores_and_refuses_to_overwrite_newer_state() {
    // Built on SQLite, with the real binary; the PostgreSQL database is the
    // target only.
    let mut fleet = Fleet::new(Backend::Sqlite);
    let pg = TestStore::new(Backend::Postgres, &fleet.env.root().join("unused"));
    let url = pg.url().unwrap().to_string();
    let shop = fleet.sandbox(1200, 0);
    let outlet = fleet.sandbox(0, 0);
    let spare = fleet.sandbox(0, 0);
    // The outlet exports stock too: its sent levels and reconcile time move.
    let outlet_jobs = [OUTLET_JOBS, &[("export-stock", "5m")]].concat();
    fleet.write_account(
        "acme",
        &[
            ("shop", &shop, SHOP_JOBS),
            ("outlet", &outlet, &outlet_jobs),
        ],
    );
    fleet.write_account("beta", &[("spare", &spare, &[("auth-refresh", "2h")])]);
    fleet.login("acme", "shop", &shop);
    fleet.login("acme", "outlet", &outlet);
    fleet.login("beta", "spare", &spare);
    fleet.load_catalog("acme", CATALOG);
    let stock: String = (0..CATALOG)
        .map(|i| format!("CAT-{i:05},default,{},{}\n", i % 23, i % 3))
        .collect();
    let stock_file = fleet.env.write_file(
        "acme-stock.csv",
        &format!("sku,location,on_hand,reserved\n{stock}"),
    );
    fleet.ok(
        Some("acme"),
        &["stock", "load", stock_file.to_str().unwrap()],
    );
    // Tokens, import progress and listings, export state, history, and a
    // failure with its backoff.
    fleet.ok(None, &["run-once", "--all-accounts"]);
    shop.update_switches(|s| s.fail_next = vec![400]);
    let out = fleet.run(
        Some("acme"),
        &["run-once", "--force", "--job", "import-products"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));

    let now = jiff::Timestamp::now();
    let instants: Vec<String> = [0, 61, 121, 24 * 60]
        .iter()
        .map(|m| (now + jiff::SignedDuration::from_mins(*m)).to_string())
        .collect();
    let on_sqlite: Vec<(Value, Value, Value)> = ["acme", "beta"]
        .iter()
        .map(|a| {
            (
                fleet.json(Some(a), &["status", "--now", &instants[0]]),
                fleet.json(Some(a), &["history"]),
                fleet.json(Some(a), &["products", "count"]),
            )
        })
        .collect();
    let due_on_sqlite: Vec<_> = instants
        .iter()
        .map(|t| would_run(&fleet, None, t))
        .collect();

    let migrate = ["store", "migrate", "--to", url.as_str()];
    let out = fleet.run(None, &migrate);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let first = dump_store(&pg, &["acme", "beta"]);

    // The same schedule, history and catalog through the PostgreSQL store.
    for (i, account) in ["acme", "beta"].iter().enumerate() {
        let status = fleet.json(
            Some(account),
            &["--store", &url, "status", "--now", &instants[0]],
        );
        assert_eq!(
            schedule(&status),
            schedule(&on_sqlite[i].0),
            "{account}: status after migrate\n{}",
            describe(&out)
        );
        assert_eq!(
            fleet.json(Some(account), &["--store", &url, "history"]),
            on_sqlite[i].1,
            "{account}: history after migrate"
        );
        assert_eq!(
            fleet.json(Some(account), &["--store", &url, "products", "count"]),
            on_sqlite[i].2,
            "{account}: catalog after migrate"
        );
    }
    for (t, due) in instants.iter().zip(&due_on_sqlite) {
        let on_pg = would_run(&fleet, Some(&url), t);
        let extra: Vec<_> = on_pg.difference(due).collect();
        assert!(
            extra.is_empty(),
            "at {t}, due on PostgreSQL but not on SQLite: {extra:?}"
        );
        assert_eq!(&on_pg, due, "at {t}: the same jobs are due");
    }
    // The stock sent and the last reconcile moved row for row.
    for sql in [
        "SELECT channel, sku, location, sent, sent_at, rejections FROM stock_sent \
         ORDER BY channel, sku, location",
        "SELECT channel, reconciled_at FROM stock_reconciles ORDER BY channel",
    ] {
        let on_sqlite = fleet.env.store().query("acme", sql, &[]).unwrap();
        assert!(!on_sqlite.is_empty(), "nothing to migrate: {sql}");
        assert_eq!(pg.query("acme", sql, &[]).unwrap(), on_sqlite, "{sql}");
    }
    // The migrated token is the channel's latest (the next refresh works).
    assert_eq!(
        pg.value(
            "acme",
            "SELECT refresh_token FROM tokens WHERE channel = ?1",
            &["shop"]
        ),
        Some(shop.current_refresh_token())
    );

    // Again: the same result.
    fleet.ok(None, &migrate);
    assert_eq!(
        dump_store(&pg, &["acme", "beta"]),
        first,
        "a second migrate changed PostgreSQL"
    );

    // A run on PostgreSQL makes it newer than the SQLite files; migrating
    // them again is refused and changes nothing.
    shop.update_switches(|s| s.fail_next = vec![]);
    let out = fleet.run(Some("acme"), &["--store", &url, "run-once", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let newer = dump_store(&pg, &["acme", "beta"]);
    assert_ne!(newer, first);
    let out = fleet.run(None, &migrate);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("acme") && text.contains("newer"),
        "the refusal does not say which account is newer on PostgreSQL:\n{}",
        describe(&out)
    );
    assert_eq!(
        dump_store(&pg, &["acme", "beta"]),
        newer,
        "a refused migrate changed PostgreSQL"
    );
}

/// Every table of the accounts' schemas and of the registry, each row as
/// JSON, sorted: equal dumps mean equal stores.
fn dump_store(store: &TestStore, accounts: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut schemas: Vec<String> = accounts.iter().map(|a| schema_of(a)).collect();
    schemas.push("oms_channels".into());
    let mut out = BTreeMap::new();
    for schema in schemas {
        let tables = store
            .query(
                accounts[0],
                &format!(
                    "SELECT table_name FROM information_schema.tables \
                     WHERE table_schema = {} AND table_type = 'BASE TABLE' ORDER BY 1",
                    literal(&schema)
                ),
                &[],
            )
            .unwrap();
        assert!(!tables.is_empty(), "no tables in schema {schema}");
        for table in tables {
            let table = table[0].clone().unwrap();
            let rows = store
                .query(
                    accounts[0],
                    &format!(
                        "SELECT row_to_json(t)::text FROM \"{schema}\".\"{table}\" t ORDER BY 1"
                    ),
                    &[],
                )
                .unwrap();
            out.insert(
                format!("{schema}.{table}"),
                rows.into_iter().map(|r| r[0].clone().unwrap()).collect(),
            );
        }
    }
    out
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

#[test]
fn a_store_that_is_down_or_a_password_in_the_url_stops_the_run_before_any_job() {
    // Set up on SQLite (login needs a store); then point the runs elsewhere.
    let mut fleet = Fleet::new(Backend::Sqlite);
    let shop = fleet.sandbox(10, 0);
    fleet.write_account("acme", &[("shop", &shop, SHOP_JOBS)]);
    fleet.login("acme", "shop", &shop);
    shop.clear_requests();

    let down = format!("postgres://oms@127.0.0.1:{}/oms", closed_port());
    for args in [
        &["--store", &down, "run-once"][..],
        &["--store", &down, "run-once", "--all-accounts"],
        &["--store", &down, "run-once", "--force"],
    ] {
        let out = fleet.run(Some("acme"), args);
        assert_eq!(out.status.code(), Some(75), "{args:?}:\n{}", describe(&out));
        assert!(
            stderr(&out).contains(&down),
            "{args:?}: the message does not name the store:\n{}",
            describe(&out)
        );
    }
    let mut json = vec!["--json"];
    json.extend(["--store", down.as_str(), "run-once"]);
    let out = fleet.run(Some("acme"), &json);
    assert_eq!(out.status.code(), Some(75), "{}", describe(&out));
    let doc = parse(&stdout(&out));
    assert_eq!(doc["error"]["exit"], 75, "{doc:#}");
    assert_eq!(doc["error"]["code"], "store-unavailable", "{doc:#}");
    // What failed is the message; why (the store, by its URL) is a cause.
    assert!(
        doc["error"]["causes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|cause| cause.as_str().unwrap_or_default().contains(&down)),
        "{doc:#}"
    );
    // The same store named by the environment.
    let out = fleet
        .env
        .command(Fleet::args(Some("acme"), &["run-once"]))
        .env("OMS_CHANNELS_STORE", &down)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", describe(&out));
    assert_eq!(shop.requests(), vec![], "a job ran without its store");

    // A password in the URL: a usage error, and the password is not echoed.
    let password = "Pw-never-echoed-7Qx";
    let with_password = format!("postgres://oms:{password}@127.0.0.1:{}/oms", closed_port());
    for json in [false, true] {
        let mut args = Vec::new();
        if json {
            args.push("--json");
        }
        args.extend(["--store", with_password.as_str(), "run-once"]);
        let out = fleet.run(Some("acme"), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{}", describe(&out));
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !text.contains(password),
            "the password was printed:\n{text}"
        );
        assert!(
            text.contains("PGPASSWORD"),
            "the refusal does not say where the password goes:\n{text}"
        );
    }
    let out = fleet
        .env
        .command(Fleet::args(Some("acme"), &["run-once"]))
        .env("OMS_CHANNELS_STORE", &with_password)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !text.contains(password),
        "the password was printed:\n{text}"
    );
    assert_eq!(shop.requests(), vec![], "a job ran with a refused store");
}
