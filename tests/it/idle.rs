//! Cron's idle call and its idle stamp: a `run-once` that finds nothing due
//! leaves a stamp the next calls answer from, without parsing the account
//! file or opening the store, and the stamp never hides a job that a
//! period edit, `--force`, a failed run's backoff or another process's
//! commit (another runner on a PostgreSQL store) made due.

use std::process::Output;
use std::time::Duration;

use sandbox::Switches;
use test_support::output::{describe, status_job};
use test_support::peer::SandboxPeer;
use test_support::{Backend, CHANNEL, TestEnv, both_backends};

const AUTH_ONLY: &[(&str, &str)] = &[("auth-refresh", "50m")];

/// An idle call: exit 0 and not a byte on either stream.
fn assert_idle(out: &Output, context: &str) {
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{context}: an idle run-once answered:\n{}",
        describe(out)
    );
}

/// A plain `run-once`, as cron calls it, which may answer from the stamp
/// (`-v` and `--json` show the not-due rows, so they always plan from the
/// store): the `(job, outcome, items)` of the rows of its table, the jobs
/// it ran.
fn cron_tick(env: &TestEnv) -> Vec<(String, String, u64)> {
    let out = env.run(["run-once"]);
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            match cells.as_slice() {
                [channel, job, outcome, items, ..] if *channel == CHANNEL => {
                    Some((job.to_string(), outcome.to_string(), items.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

fn row(job: &str, outcome: &str, items: u64) -> (String, String, u64) {
    (job.to_string(), outcome.to_string(), items)
}

/// A run in which everything it was due for ran; then an idle call, which
/// leaves the stamp.
fn ran_then_idle(env: &TestEnv) {
    let first = env.run(["run-once"]);
    assert!(first.status.success(), "{}", describe(&first));
    assert_idle(&env.run(["run-once"]), "after the first run");
}

#[test]
fn an_idle_call_answers_from_its_stamp_without_opening_the_store() {
    let shop = SandboxPeer::with(3, Switches::default());
    let env = TestEnv::with_channel(Backend::Sqlite, &shop, AUTH_ONLY);
    ran_then_idle(&env);
    // What is not a database any more (same file, other bytes) cannot be
    // opened: the idle call does not try.
    let db = env.data_dir().join("acme.db");
    let kept = std::fs::read(&db).unwrap();
    std::fs::write(&db, vec![b'x'; kept.len()]).unwrap();
    assert_idle(&env.run(["run-once"]), "with the stamp");
    // A call that shows the not-due rows plans from the store, as `status` does.
    let verbose = env.run(["run-once", "-v"]);
    assert!(!verbose.status.success(), "{}", describe(&verbose));
    std::fs::write(&db, &kept).unwrap();
    let verbose = env.ok(["run-once", "-v"]);
    assert!(verbose.contains("not-due"), "{verbose}");
    assert_idle(&env.run(["run-once"]), "store back");
}

both_backends!(a_period_edit_or_force_runs_the_job_the_stamp_said_was_idle);
fn a_period_edit_or_force_runs_the_job_the_stamp_said_was_idle(backend: Backend) {
    let shop = SandboxPeer::with(3, Switches::default());
    let env = TestEnv::with_channel(backend, &shop, AUTH_ONLY);
    ran_then_idle(&env);

    // `--force` plans, whatever the stamp says.
    let forced = env.ok(["run-once", "--force", "--job", "auth-refresh"]);
    assert!(
        forced
            .lines()
            .any(|l| l.starts_with(CHANNEL) && l.contains("auth-refresh") && l.contains(" ran ")),
        "{forced}"
    );
    assert_idle(&env.run(["run-once"]), "after the forced run");

    // A job switched on in the account file is due at once.
    env.ok(["channel", "set-period", CHANNEL, "export-products", "1h"]);
    assert_eq!(cron_tick(&env), [row("export-products", "ran", 0)]);
    assert_idle(&env.run(["run-once"]), "after the export");

    // An edit that makes nothing due is planned again, and quiet.
    env.ok(["channel", "set-period", CHANNEL, "auth-refresh", "1h"]);
    assert_idle(
        &env.run(["run-once"]),
        "after an edit that makes nothing due",
    );
    assert_idle(&env.run(["run-once"]), "stamped again");
}

both_backends!(a_failed_jobs_backoff_runs_it_again_once_due);
fn a_failed_jobs_backoff_runs_it_again_once_due(backend: Backend) {
    let shop = SandboxPeer::with(
        3,
        Switches {
            error_rate: 1.0,
            ..Switches::default()
        },
    );
    let env = TestEnv::builder()
        .backend(backend)
        .var("OMS_CHANNELS_RETRY_BASE_MS", "1")
        .channel(
            CHANNEL,
            &shop,
            &[("auth-refresh", "50m"), ("import-products", "1h")],
        )
        .master(CHANNEL)
        .build();
    let (code, doc, stderr) = env.run_once_any(&[]);
    assert_eq!(code, 69, "{doc:#}\n{stderr}");
    // Quiet until the retry is due: the stamp holds until then.
    assert_idle(&env.run(["run-once"]), "during the backoff");
    assert_idle(&env.run(["run-once"]), "during the backoff, from the stamp");
    let status = env.json(&["status"]);
    let retry: jiff::Timestamp = status_job(&status, CHANNEL, "import-products")["next_due"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    shop.update_switches(|s| s.error_rate = 0.0);
    let wait = jiff::Timestamp::now().duration_until(retry);
    assert!(
        wait <= jiff::SignedDuration::from_secs(61),
        "the first retry is a minute away at most: {retry}"
    );
    if wait.is_positive() {
        std::thread::sleep(Duration::try_from(wait).unwrap() + Duration::from_millis(50));
    }
    assert_eq!(cron_tick(&env), [row("import-products", "ran", 3)]);
}

both_backends!(another_processs_commit_makes_the_stamp_void);
fn another_processs_commit_makes_the_stamp_void(backend: Backend) {
    // Client credentials: a channel whose state is forgotten needs no login.
    let shop = SandboxPeer::with(
        3,
        Switches {
            client_credentials: true,
            ..Switches::default()
        },
    );
    let mut env = TestEnv::with_account(backend);
    env.add_channel_without_login(
        CHANNEL,
        &shop,
        &[("auth-refresh", "50m"), ("import-products", "1h")],
    );
    env.ok(["channel", "set", CHANNEL, "--grant", "client_credentials"]);
    env.set_master(CHANNEL);
    ran_then_idle(&env);
    // Another runner (on PostgreSQL: another host, with a data dir of its
    // own) forgets the channel's state on purpose; nothing in the account
    // file changes.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut reset = env.command(["channel", "reset", CHANNEL]);
    if backend == Backend::Postgres {
        reset.env("OMS_CHANNELS_DATA_DIR", elsewhere.path().join("data"));
    }
    let out = env.finish(reset, None);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        cron_tick(&env),
        [
            row("auth-refresh", "ran", 0),
            row("import-products", "ran", 3)
        ]
    );
    assert_idle(&env.run(["run-once"]), "after the run");
}
