//! `run-once` as cron drives it: silence when idle, deadlines for hung
//! channels, busy accounts under `--all-accounts`, a clean stop on SIGTERM,
//! JSON error documents, and the help, man page and completions.

use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sandbox::{Sandbox, Switches};
use crate::support::run_env::{self, RunEnv, parse, wait_until};

const HOURLY_IMPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("import-products", "1h")];

fn master_shop(products: u64, switches: Switches) -> (RunEnv, Sandbox) {
    let mut env = RunEnv::new();
    let shop = env.sandbox(products, switches);
    env.add_channel("shop", &shop, HOURLY_IMPORT);
    env.set_master("shop");
    (env, shop)
}

/// Adds `line` to channel `id`'s table in the account file, as an operator would.
fn edit_channel(env: &RunEnv, id: &str, line: &str) {
    let file = env.config_dir().join("accounts/acme.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let header = format!("[channels.{id}]\n");
    assert!(text.contains(&header), "{text}");
    std::fs::write(
        &file,
        text.replacen(&header, &format!("{header}{line}\n"), 1),
    )
    .unwrap();
}

fn job_row<'a>(doc: &'a Value, channel: &str, job: &str) -> &'a Value {
    doc["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["channel"] == channel && j["job"] == job)
        .unwrap_or_else(|| panic!("no {channel}/{job} in {doc:#}"))
}

#[test]
fn an_idle_run_once_prints_nothing_on_either_stream() {
    let (env, _shop) = master_shop(5, Switches::default());
    let first = env.output(&["run-once"]);
    assert!(first.status.success());
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("ran"),
        "a run that did something says so"
    );

    for args in [&["run-once"][..], &["run-once", "-q"][..]] {
        let idle = env.output(args);
        assert_eq!(idle.status.code(), Some(0), "{args:?}");
        assert_eq!(
            (idle.stdout.len(), idle.stderr.len()),
            (0, 0),
            "{args:?} printed:\n{}{}",
            String::from_utf8_lossy(&idle.stdout),
            String::from_utf8_lossy(&idle.stderr)
        );
    }
    // -v and --json show the not-due rows; status always shows everything.
    let verbose = String::from_utf8(env.output(&["run-once", "-v"]).stdout).unwrap();
    assert!(verbose.contains("not-due"), "{verbose}");
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("shop", "import-products").outcome, "not-due");
    let status = env.ok(&["status"]);
    assert!(status.contains("import-products"), "{status}");
}

#[test]
fn a_hung_channel_costs_its_deadline_and_the_other_channel_finishes_on_time() {
    let mut env = RunEnv::new();
    let healthy = env.sandbox(5, Switches::default());
    // Never answers (within this test): every request waits ten minutes.
    let hung = env.sandbox(
        5,
        Switches {
            latency_ms: 600_000,
            ..Switches::default()
        },
    );
    env.add_channel("healthy", &healthy, HOURLY_IMPORT);
    env.add_channel("hung", &hung, HOURLY_IMPORT);
    env.set_master("healthy");
    edit_channel(&env, "hung", "deadline = \"2s\"");

    let started = Instant::now();
    let (code, doc, stderr) = env.run_once_any(&[]);
    let wall = started.elapsed();
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    let rows = run_env::rows(&doc);
    let healthy_import = rows.get("healthy", "import-products");
    assert_eq!(healthy_import.outcome, "ran", "{doc:#}");
    assert_eq!(healthy_import.items, 5);

    let hung_auth = rows.get("hung", "auth-refresh");
    assert_eq!(hung_auth.outcome, "failed", "{doc:#}");
    assert!(
        hung_auth
            .detail
            .starts_with("deadline exceeded: auth-refresh did not finish within 2s"),
        "{}",
        hung_auth.detail
    );
    let skipped = rows.get("hung", "import-products");
    assert_eq!(skipped.outcome, "skipped");
    assert!(
        skipped.detail.contains("exceeded its deadline"),
        "{}",
        skipped.detail
    );

    // The healthy channel did not wait for the hung one, and the hung one
    // cost its deadline, not the request timeout (5 s here) times the retries.
    let durations: Vec<(String, u64)> = doc["accounts"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            Some((
                format!("{}/{}", r["channel"].as_str()?, r["job"].as_str()?),
                r["duration_ms"].as_u64()?,
            ))
        })
        .collect();
    for (job, ms) in &durations {
        match job.as_str() {
            "hung/auth-refresh" => assert!((2000..4000).contains(ms), "{durations:?}"),
            _ => assert!(*ms < 2000, "{durations:?}"),
        }
    }
    assert!(wall < Duration::from_secs(15), "{wall:?}");

    let history = env.json(&["history", "--channel", "hung"]);
    let latest = &history["runs"].as_array().unwrap()[1];
    assert_eq!(latest["job"], "auth-refresh", "{history:#}");
    assert_eq!(latest["outcome"], "failed", "{history:#}");
    // The lock was released: the next run is not refused.
    let (code, _, stderr) = env.run_once_any(&["--channel", "healthy"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_channel_deadline_longer_than_its_types_is_a_warning() {
    let (env, _shop) = master_shop(1, Switches::default());
    edit_channel(&env, "shop", "deadline = \"1h\"");
    let out = env.output(&["validate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("warning[deadline-above-type]") && stdout.contains("so 5m applies"),
        "{stdout}"
    );
}

#[test]
fn all_accounts_skips_a_busy_account_and_carries_on() {
    let (env, _shop) = master_shop(5, Switches::default());
    env.ok(&["account", "add", "beta"]);
    // Another run holds `beta`.
    let _beta = hold_lock(&env, "beta");

    let (code, doc, stderr) = env.run_once_any(&["--all-accounts"]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(
        run_env::rows(&doc).get("shop", "import-products").outcome,
        "ran"
    );
    assert_eq!(doc["errors"][0]["account"], "beta", "{doc:#}");
    assert_eq!(doc["errors"][0]["busy"], true, "{doc:#}");

    let human = env.output(&["run-once", "--all-accounts"]);
    assert_eq!(human.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&human.stdout);
    assert!(
        stdout.contains("beta: busy, skipped: account `beta` is locked"),
        "{stdout}"
    );

    // Named on its own, a busy account still exits 75 so cron retries.
    let acme = hold_lock(&env, "acme");
    let (code, doc, _) = env.run_once_any(&[]);
    assert_eq!(code, 75, "{doc:#}");
    assert_eq!(doc["error"]["code"], "busy", "{doc:#}");
    drop(acme);
}

/// Holds `account`'s run lock the way another run-once would (an OS lock on
/// its lock file, with a note naming this process) until dropped.
fn hold_lock(env: &RunEnv, account: &str) -> std::fs::File {
    std::fs::create_dir_all(env.data_dir()).unwrap();
    let mut held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.data_dir().join(format!("{account}.lock")))
        .unwrap();
    held.lock().unwrap();
    writeln!(
        held,
        "pid={} started=2026-11-27T10:00:00Z",
        std::process::id()
    )
    .unwrap();
    held
}

#[test]
fn sigterm_stops_an_import_cleanly_and_the_next_run_converges() {
    let (env, shop) = master_shop(
        4000,
        Switches {
            latency_ms: 400,
            ..Switches::default()
        },
    );
    let child = env
        .std_cmd(&["run-once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start run-once");
    let pid = child.id();
    // The import is under way once its first page is committed.
    let importing = wait_until(Duration::from_secs(20), || env.catalog_count() > 0);
    assert!(importing, "the import never committed a page");

    // A live run is running, with its pid, never "interrupted".
    let status = env.json(&["status"]);
    let import = job_row(&status, "shop", "import-products");
    assert_eq!(import["last_outcome"], "running", "{import:#}");
    assert_eq!(import["running_pid"], pid, "{import:#}");
    assert_eq!(import["due"], false, "{import:#}");
    assert_eq!(
        import["why"],
        format!("running now (pid {pid})"),
        "{import:#}"
    );
    let human = env.ok(&["status"]);
    assert!(human.contains(&format!("running (pid {pid})")), "{human}");

    // SAFETY: signals the child this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stdout}\n{stderr}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert!(stdout.contains("stopped by SIGTERM"), "{stdout}");
    let partial = env.catalog_count();
    assert!(
        partial < 4000,
        "the import finished before the signal: {partial}"
    );

    let history = env.json(&["history", "--channel", "shop"]);
    let latest = &history["runs"].as_array().unwrap()[0];
    assert_eq!(
        (latest["job"].as_str(), latest["outcome"].as_str()),
        (Some("import-products"), Some("interrupted")),
        "{history:#}"
    );
    let status = env.json(&["status"]);
    let import = job_row(&status, "shop", "import-products");
    assert_eq!(import["last_outcome"], "interrupted", "{import:#}");
    assert_eq!(import["due"], true, "{import:#}");

    // The lock died with the run; the next run resumes and converges.
    shop.update_switches(|s| s.latency_ms = 0);
    let rows = env.run_once(&[]);
    assert_eq!(rows.get("shop", "import-products").outcome, "ran");
    assert_eq!(env.catalog_count(), 4000);
    let integrity = rusqlite::Connection::open(env.db_path())
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn json_errors_are_documents_on_stdout_with_the_exit_code() {
    let (env, _shop) = master_shop(1, Switches::default());
    let cases: &[(&[&str], i32, &str, &str)] = &[
        (&["channel", "show", "nope"], 1, "refused", "nope"),
        (
            &["run-once", "--now", "yesterday"],
            2,
            "usage",
            "invalid --now",
        ),
        (&["run-once", "--channel", "nope"], 2, "usage", "`nope`"),
        (&["no-such-command"], 2, "usage", "no-such-command"),
        (&["run-once", "--concurrency", "0"], 2, "usage", "0"),
    ];
    for (args, exit, code, needle) in cases {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = env.output(&all);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(*exit), "{args:?}: {stdout}");
        let doc = parse(&stdout);
        assert_eq!(doc["error"]["code"], *code, "{args:?}: {doc:#}");
        assert_eq!(doc["error"]["exit"], *exit, "{args:?}: {doc:#}");
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{args:?}: {message}");
    }
    // A broken account file is a config error (2) naming the file.
    std::fs::write(
        env.config_dir().join("accounts/acme.toml"),
        "channels = 3\n",
    )
    .unwrap();
    let out = env.output(&["--json", "status"]);
    assert_eq!(out.status.code(), Some(2));
    let doc = parse(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(doc["error"]["code"], "config", "{doc:#}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("acme.toml"),
        "{doc:#}"
    );
}
