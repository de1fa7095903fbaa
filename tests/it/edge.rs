//! What the command edge shows, through the real binary: every exit code of
//! the README's table, each from a real situation; an error's message, its
//! causes (one per line under "Caused by:") and its hints, on stderr and in
//! the `--json` error document; and `status`, which only reads the store.

use std::collections::BTreeSet;
use std::time::Duration;

use rustix::io::Errno;
use rustix::process::Signal;
use serde_json::{Value, json};

use sandbox::Switches;
use test_support::catalog::product;
use test_support::output::{parse, status_job, wait_until};
use test_support::peer::SandboxPeer;
use test_support::{ACCOUNT, Backend, Rows, TestEnv};

const HOURLY_EXPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];
const HOURLY_IMPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("import-products", "1h")];

/// The codes in the first column of the README's "Exit codes" table.
fn readme_exit_codes() -> BTreeSet<i32> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Exit codes\n")
        .nth(1)
        .expect("the README has an Exit codes section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|row| row.split(" |").next())
        .flat_map(|cell| cell.split(", "))
        .filter_map(|code| code.trim().parse().ok())
        .collect()
}

/// The `--json` error document's `error` object.
fn error_of(doc: &Value) -> &Value {
    assert!(doc["error"].is_object(), "not an error document: {doc:#}");
    &doc["error"]
}

fn failed_row_kinds(doc: &Value) -> Vec<String> {
    doc["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .flat_map(|a| a["rows"].as_array().expect("rows").iter())
        .filter(|r| r["outcome"] == "failed")
        .map(|r| r["kind"].as_str().unwrap_or("-").to_string())
        .collect()
}

/// Starts `run-once` against a slow import, waits until it is under way,
/// sends it `signal` and returns its exit code.
fn run_once_stopped_by(signal: Signal) -> i32 {
    let shop = SandboxPeer::with(
        2000,
        Switches {
            latency_ms: 300,
            ..Switches::default()
        },
    );
    let env = TestEnv::with_channel(Backend::Sqlite, &shop, HOURLY_IMPORT);
    env.set_master("shop");
    let child = env.spawn(["run-once"]);
    let importing = wait_until(Duration::from_secs(20), || {
        shop.state()["requests"]["products"].as_u64() >= Some(1)
    });
    assert!(importing, "the import never started");
    // Not reaped yet, so the pid is still this child's.
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), signal)
        .expect("signal run-once");
    let out = child.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("interrupted"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out.status.code().expect("exited, not killed")
}

#[test]
fn every_exit_code_in_the_readme_table_comes_out_of_the_binary() {
    let mut seen = BTreeSet::new();
    let mut saw = |code: i32, what: &str, expected: i32| {
        assert_eq!(code, expected, "{what}");
        seen.insert(code);
    };

    // 0: success.
    let shop = SandboxPeer::with(
        0,
        Switches {
            item_error_skus: vec!["P-2".into()],
            ..Switches::default()
        },
    );
    let env = TestEnv::with_channel(Backend::Sqlite, &shop, HOURLY_EXPORT);
    let (code, _, stderr) = env.json_any(&["validate"]);
    saw(code, &format!("a clean validate: {stderr}"), 0);

    // 3: the channel rejected an item; nothing failed.
    env.load_jsonl(
        "catalog.jsonl",
        &[product("P-1", "1.00"), product("P-2", "2.00")],
    );
    let (code, doc, stderr) = env.run_once_any(&[]);
    saw(code, &format!("a partial export: {doc:#}\n{stderr}"), 3);

    // 1: a refused request, kind refused.
    let (code, doc, _) = env.json_any(&["channel", "show", "nope"]);
    saw(code, &format!("an unknown channel: {doc:#}"), 1);
    assert_eq!(error_of(&doc)["kind"], "refused", "{doc:#}");
    assert_eq!(error_of(&doc)["code"], "refused", "{doc:#}");

    // 2: a usage error, and a file that cannot be parsed.
    let (code, doc, _) = env.json_any(&["run-once", "--now", "yesterday"]);
    saw(code, &format!("a bad --now: {doc:#}"), 2);
    assert_eq!(error_of(&doc)["kind"], "usage", "{doc:#}");
    let capabilities = env.config_dir().join("capabilities.toml");
    std::fs::write(&capabilities, "[types.x\n").unwrap();
    let (code, doc, _) = env.json_any(&["status"]);
    saw(code, &format!("a broken capabilities.toml: {doc:#}"), 2);
    assert_eq!(error_of(&doc)["kind"], "config", "{doc:#}");
    std::fs::remove_file(&capabilities).unwrap();

    // 75: another run holds the account's lock; the hint says what happens.
    let held = env.hold_run_lock(ACCOUNT);
    let (code, doc, stderr) = env.run_once_any(&["--force"]);
    saw(code, &format!("a held lock: {doc:#}\n{stderr}"), 75);
    let error = error_of(&doc);
    assert_eq!(
        (&error["kind"], &error["code"], &error["exit"]),
        (&json!("busy"), &json!("busy"), &json!(75)),
        "{doc:#}"
    );
    assert_eq!(
        error["hints"],
        json!(["exiting with 75 so cron retries next time"])
    );
    assert!(
        stderr.ends_with("\nhint: exiting with 75 so cron retries next time\n"),
        "{stderr}"
    );
    drop(held);

    // 1: a job failed for a reason a setting must fix (a dead refresh token).
    let refusing = SandboxPeer::with(1, Switches::default());
    let mut env = TestEnv::with_account(Backend::Sqlite);
    env.add_channel_without_login("shop", &refusing, HOURLY_IMPORT);
    env.set_master("shop");
    env.login("shop", "a-token-the-channel-never-issued");
    let (code, doc, stderr) = env.run_once_any(&[]);
    saw(code, &format!("a rejected token: {doc:#}\n{stderr}"), 1);
    let kinds = failed_row_kinds(&doc);
    assert_eq!(kinds.len(), 1, "{doc:#}");
    assert_ne!(kinds[0], "transient", "{doc:#}");

    // 69: the only failure is a channel that does not answer in time.
    let hung = SandboxPeer::with(
        1,
        Switches {
            latency_ms: 600_000,
            ..Switches::default()
        },
    );
    let mut env = TestEnv::with_account(Backend::Sqlite);
    env.add_channel("hung", &hung, HOURLY_IMPORT);
    env.set_channel_key("hung", "deadline = \"2s\"");
    let (code, doc, stderr) = env.run_once_any(&[]);
    saw(code, &format!("a hung channel: {doc:#}\n{stderr}"), 69);
    assert_eq!(failed_row_kinds(&doc), ["transient"], "{doc:#}");

    // 70: the store holds a value the tool never writes (a broken invariant).
    let db = env.db_path();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let changed = conn
        .execute(
            "UPDATE job_state SET last_attempt_start = 'garbage' WHERE channel = 'hung'",
            [],
        )
        .unwrap();
    assert!(changed > 0, "the run recorded its attempts");
    drop(conn);
    let (code, doc, stderr) = env.json_any(&["status"]);
    saw(code, &format!("a damaged store: {doc:#}\n{stderr}"), 70);
    let error = error_of(&doc);
    assert_eq!(
        (&error["kind"], &error["code"]),
        (&json!("internal"), &json!("error")),
        "{doc:#}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&db.display().to_string()),
        "the message names the store: {doc:#}"
    );

    // 130 and 143: stopped by SIGINT or SIGTERM.
    saw(run_once_stopped_by(Signal::INT), "SIGINT", 130);
    saw(run_once_stopped_by(Signal::TERM), "SIGTERM", 143);

    assert_eq!(
        seen,
        readme_exit_codes(),
        "the README's table and the codes this test saw differ"
    );
}

#[test]
fn an_error_prints_its_message_then_each_cause_then_its_hints() {
    let env = TestEnv::with_account(Backend::Sqlite);
    let missing = env.config_dir().join("missing.jsonl");
    let missing_text = missing.display().to_string();
    let out = env.run(["products", "load", &missing_text]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "oms-channels: cannot read `{missing_text}`\nCaused by:\n  {}\n",
            std::io::Error::from(Errno::NOENT)
        )
    );
    let (code, doc, _) = env.json_any(&["products", "load", &missing_text]);
    assert_eq!(code, 2);
    let error = error_of(&doc);
    assert_eq!(
        error,
        &json!({
            "kind": "config",
            "exit": 2,
            "code": "config",
            "message": format!("cannot read `{missing_text}`"),
            "causes": [std::io::Error::from(Errno::NOENT).to_string()],
            "hints": [],
        })
    );

    // No account chosen anywhere: a usage error whose hint says how to choose.
    let bare = TestEnv::new();
    let out = bare.cmd(["--json", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut lines = stderr.lines();
    assert_eq!(lines.next(), Some("oms-channels: no account selected"));
    let hint = lines.next().unwrap_or_default();
    assert!(
        hint.starts_with("hint: pass --account <ACCOUNT>, set OMS_CHANNELS_ACCOUNT"),
        "{stderr}"
    );
    assert_eq!(lines.next(), None, "{stderr}");
    let doc = parse(&String::from_utf8_lossy(&out.stdout));
    let error = error_of(&doc);
    assert_eq!(error["kind"], "usage");
    assert_eq!(error["message"], "no account selected");
    assert_eq!(error["causes"], json!([]));
    assert_eq!(
        format!("hint: {}", error["hints"][0].as_str().unwrap()),
        hint
    );

    // A command line clap refuses: the same document, clap's tip as a hint.
    let (code, doc, _) = env.json_any(&["run-once", "--forse"]);
    assert_eq!(code, 2);
    let error = error_of(&doc);
    assert_eq!(error["kind"], "usage", "{doc:#}");
    assert!(
        error["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("--force")),
        "{doc:#}"
    );
}

/// How many tokens rows the store holds for `channel`, read without the tool.
fn stored_tokens(env: &TestEnv, channel: &str) -> i64 {
    env.store().count(
        ACCOUNT,
        "SELECT count(*) FROM tokens WHERE channel = ?1",
        &[channel],
    )
}

#[test]
fn status_shows_a_re_pointed_channel_fresh_and_writes_nothing() {
    let first = SandboxPeer::empty();
    let mut env = TestEnv::with_account(Backend::Sqlite);
    env.add_channel("out", &first, HOURLY_EXPORT);
    env.load_jsonl("catalog.jsonl", &[product("P-1", "1.00")]);
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("out", "export-products").outcome, "ran");
    let before = env.json(&["status"]);
    let export = status_job(&before, "out", "export-products");
    assert_eq!(export["due"], false, "{export:#}");
    assert!(export["last_success"].is_string(), "{export:#}");

    // Point the channel at another shop by hand.
    let other = SandboxPeer::empty();
    let file = env.account_file();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace(&first.base_url(), &other.base_url())).unwrap();
    let db_before = std::fs::read(env.db_path()).unwrap();

    // status shows what the next run will see: a channel that never ran.
    let after = env.json(&["status"]);
    for job in ["auth-refresh", "export-products"] {
        let row = status_job(&after, "out", job);
        assert_eq!(row["last_success"], Value::Null, "{row:#}");
        assert_eq!(row["last_attempt"], Value::Null, "{row:#}");
        assert_eq!(row["due"], true, "{row:#}");
    }
    // ... and so does a dry run, from the same inputs.
    let (code, doc, stderr) = env.run_once_any(&["--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    let dry = Rows::of(&doc);
    assert_eq!(dry.get("out", "export-products").outcome, "would-run");

    // Neither wrote anything: the old endpoint's token is still stored.
    assert_eq!(stored_tokens(&env, "out"), 1);
    assert!(
        std::fs::read(env.db_path()).unwrap() == db_before,
        "status or the dry run changed the store file"
    );

    // The next real run forgets it, as status said.
    let (_, doc, _) = env.run_once_any(&[]);
    assert_eq!(
        Rows::of(&doc).get("out", "auth-refresh").outcome,
        "failed",
        "no token for the new shop: {doc:#}"
    );
    assert_eq!(stored_tokens(&env, "out"), 0);
}
