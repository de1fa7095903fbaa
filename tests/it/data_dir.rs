//! The data dir checked like `~/.ssh`, through the real binary: no link in
//! place of a store or lock file is followed, a data dir others may write
//! to is refused with the fix, SQLite's temporary data never needs the
//! system's temp dir, and the read-only commands work on a read-only data
//! dir. On PostgreSQL the data dir is not used, so none of this stands in
//! the way there (the `postgres` variants). Both engines hold the same
//! tables and columns.
//!
//! Read-only file systems are real ones: each such command runs in a mount
//! namespace of its own ([`MountNamespace`]), since permission bits do not
//! stop root, which the tests may run as.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use serde_json::Value;

use test_support::catalog::product;
use test_support::mount::MountNamespace;
use test_support::output::{self, describe};
use test_support::peer::SandboxPeer;
use test_support::{ACCOUNT, Backend, TestEnv, both_backends};

const HOURLY_EXPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A JSON Lines product file of `n` products, beside the env's dirs.
fn products_file(env: &TestEnv, name: &str, n: usize) -> PathBuf {
    let lines: String = (0..n)
        .map(|i| format!("{}\n", product(&format!("SKU-{i:07}"), "1.00")))
        .collect();
    env.write_file(name, &lines)
}

fn count_of(stdout: &str) -> u64 {
    let doc: Value = serde_json::from_str(stdout).expect("a JSON document");
    doc["count"].as_u64().expect("count")
}

/// An account exporting to a sandbox, after one run that exported three
/// products: a store with a catalog, history, tokens and a lock file.
fn after_one_run(backend: Backend) -> (TestEnv, SandboxPeer) {
    let shop = SandboxPeer::empty();
    let env = TestEnv::with_channel(backend, &shop, HOURLY_EXPORT);
    env.load_jsonl(
        "products.jsonl",
        &[
            product("A", "1.00"),
            product("B", "2.00"),
            product("C", "3.00"),
        ],
    );
    env.run_once(&[]);
    (env, shop)
}

both_backends!(a_lock_or_store_file_that_is_a_link_is_refused_and_its_target_untouched);
fn a_lock_or_store_file_that_is_a_link_is_refused_and_its_target_untouched(backend: Backend) {
    let shop = SandboxPeer::empty();
    let env = TestEnv::with_channel(backend, &shop, HOURLY_EXPORT);
    let victim = env.write_file("victim", "precious\n");
    let data = env.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    chmod(&data, 0o700);
    let lock = data.join(format!("{ACCOUNT}.lock"));
    symlink(&victim, &lock).unwrap();
    let requests_before = shop.log().len();

    let out = env.run(["run-once"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    match backend {
        Backend::Sqlite => {
            assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
            let stderr = output::stderr(&out);
            assert!(
                stderr.contains(&format!(
                    "lock file `{}` is a symbolic link",
                    lock.display()
                )),
                "{stderr}"
            );
            assert!(stderr.contains("remove it"), "{stderr}");
            assert_eq!(shop.log().len(), requests_before, "no job ran");
        }
        // The data dir is not used: the lock is PostgreSQL's.
        Backend::Postgres => assert!(out.status.success(), "{}", describe(&out)),
    }
    assert!(
        std::fs::symlink_metadata(&lock)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    std::fs::remove_file(&lock).unwrap();

    // The store file: SQLite would turn an empty file into a database.
    let empty = env.write_file("empty-victim", "");
    let db = env.db_path();
    if backend == Backend::Sqlite {
        std::fs::remove_file(&db).unwrap();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
    }
    symlink(&empty, &db).unwrap();
    let file = env.write_file("more.jsonl", &format!("{}\n", product("D", "4.00")));
    let out = env.run(["products", "load", file.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&empty).unwrap(),
        b"",
        "the link's target was written"
    );
    match backend {
        Backend::Sqlite => {
            assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
            let stderr = output::stderr(&out);
            assert!(
                stderr.contains(&format!("store file `{}` is a symbolic link", db.display())),
                "{stderr}"
            );
        }
        Backend::Postgres => {
            assert!(out.status.success(), "{}", describe(&out));
            std::fs::remove_file(&db).unwrap();
        }
    }
}

both_backends!(a_data_dir_others_may_write_to_is_refused_with_the_fix);
fn a_data_dir_others_may_write_to_is_refused_with_the_fix(backend: Backend) {
    let env = TestEnv::with_account(backend);
    let data = env.data_dir();
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o777);
    let file = products_file(&env, "p.jsonl", 3);
    let file = file.to_str().unwrap();

    for args in [
        vec!["products", "load", file],
        vec!["status"],
        vec!["run-once"],
        vec!["products", "count"],
    ] {
        let out = env.run(&args);
        match backend {
            Backend::Sqlite => {
                assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
                let stderr = output::stderr(&out);
                assert!(
                    stderr.contains(&format!(
                        "data dir `{}` is writable by group or others (mode 0777)",
                        data.display()
                    )),
                    "{args:?}: {stderr}"
                );
                assert!(
                    stderr.contains(&format!("run `chmod 700 {}`", data.display())),
                    "{args:?}: {stderr}"
                );
            }
            Backend::Postgres => assert!(out.status.success(), "{args:?}: {}", describe(&out)),
        }
    }
    let left: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
    assert!(left.is_empty(), "nothing is written there: {left:?}");
    assert_eq!(mode(&data), 0o777, "the mode is the user's to change");

    chmod(&data, 0o700);
    env.ok(["products", "load", file]);
    assert_eq!(count_of(&env.ok(["--json", "products", "count"])), 3);
}

/// `products load` of 100,000 lines where no temp dir is writable: the
/// system's temp dirs (`/tmp`, `/var/tmp`), `TMPDIR` and the working
/// directory are read-only, as under systemd's `ProtectSystem=strict` or
/// Kubernetes' `readOnlyRootFilesystem`. (A load this size spills its
/// bookkeeping to disk; SQLite's temp files would have nowhere to go.)
#[test]
fn products_load_needs_no_temp_dir() {
    // Under the build dir, since the namespace hides `/tmp`.
    let env = TestEnv::builder()
        .temp_dir_in(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .account(ACCOUNT)
        .build();
    let file = products_file(&env, "p.jsonl", 100_000);
    let read_only_dir = env.root().join("read-only");
    std::fs::create_dir(&read_only_dir).unwrap();
    let ns = MountNamespace::new()
        .hide(Path::new("/tmp"))
        .hide(Path::new("/var/tmp"))
        .hide(Path::new("/usr/tmp"))
        .read_only(&read_only_dir);
    ns.assert_nothing_writable(&[Path::new("/tmp"), Path::new("/var/tmp"), &read_only_dir]);

    let mut load = env.command(["products", "load", file.to_str().unwrap()]);
    load.env("TMPDIR", &read_only_dir);
    let out = env.run_in(&ns.in_dir(&read_only_dir), load);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        output::stdout(&out).contains("loaded 100000 products"),
        "{}",
        describe(&out)
    );
    assert_eq!(count_of(&env.ok(["--json", "products", "count"])), 100_000);
    assert_eq!(
        env.integrity(),
        "ok",
        "the load's bookkeeping left nothing behind"
    );
    let tables = env
        .store()
        .query(
            ACCOUNT,
            "SELECT name FROM sqlite_master WHERE name LIKE 'scratch%'",
            &[],
        )
        .unwrap();
    assert!(tables.is_empty(), "{tables:?}");
}

both_backends!(read_only_commands_work_on_a_read_only_data_dir);
fn read_only_commands_work_on_a_read_only_data_dir(backend: Backend) {
    let (env, _shop) = after_one_run(backend);
    let data = env.data_dir();
    // On PostgreSQL nothing was put there; it exists so it can be mounted.
    std::fs::create_dir_all(&data).unwrap();
    let db = env.db_path();
    chmod(&data, 0o500);
    if backend == Backend::Sqlite {
        chmod(&db, 0o400);
    }
    let ns = MountNamespace::new().read_only(&data);
    ns.assert_nothing_writable(&[&data]);

    let run = |args: &[&str]| env.run_in(&ns, env.command(args));
    let json = |args: &[&str]| -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = run(&all);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        serde_json::from_str(&output::stdout(&out)).expect("a JSON document")
    };
    assert_eq!(json(&["products", "count"])["count"], 3);
    let listed = json(&["products", "list"]);
    assert_eq!(
        listed["products"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    assert_eq!(json(&["products", "show", "B"])["product"]["price"], "2.00");
    let history = json(&["history"]);
    assert!(
        history["runs"]
            .as_array()
            .is_some_and(|runs| runs.len() >= 2),
        "{history}"
    );
    let status = json(&["status"]);
    assert!(status.to_string().contains("export-products"), "{status}");
    let shown = json(&["channel", "show", "shop"]);
    assert!(shown.to_string().contains("shop"), "{shown}");
    let dry = json(&["run-once", "--dry-run"]);
    assert!(dry.to_string().contains("export-products"), "{dry}");

    // A command that writes says why it cannot, naming the place.
    let file = env.write_file("more.jsonl", &format!("{}\n", product("D", "4.00")));
    let load = run(&["products", "load", file.to_str().unwrap()]);
    match backend {
        Backend::Sqlite => {
            assert_eq!(load.status.code(), Some(2), "{}", describe(&load));
            let stderr = output::stderr(&load);
            assert!(stderr.contains("is not writable"), "{stderr}");
            assert!(stderr.contains("Read-only file system"), "{stderr}");
            assert!(stderr.contains(&data.display().to_string()), "{stderr}");
        }
        Backend::Postgres => assert!(load.status.success(), "{}", describe(&load)),
    }

    // A channel pointed elsewhere by hand: its state cannot be forgotten
    // here, and the command says so instead of failing.
    let account = env.account_file();
    let text_before = std::fs::read_to_string(&account).unwrap();
    std::fs::write(
        &account,
        text_before.replace("http://127.0.0.1", "http://localhost"),
    )
    .unwrap();
    // `status` writes nothing anywhere: it shows the channel fresh.
    let status = run(&["status"]);
    assert!(status.status.success(), "{}", describe(&status));
    assert!(
        output::stdout(&status).contains("never ran"),
        "{}",
        describe(&status)
    );
    // `channel show` would forget the old endpoint's token, and says it
    // cannot here.
    let show = run(&["channel", "show", "shop"]);
    assert!(show.status.success(), "{}", describe(&show));
    if backend == Backend::Sqlite {
        assert!(
            output::stderr(&show).contains("forgotten by the next command that writes"),
            "{}",
            describe(&show)
        );
    }

    chmod(&data, 0o700);
    if backend == Backend::Sqlite {
        chmod(&db, 0o600);
    }
    assert_eq!(env.integrity(), "ok");
}

/// A store whose schema is older than the binary's cannot be upgraded on a
/// read-only data dir: refused, saying what to do, not an obscure SQLite
/// error.
#[test]
fn an_older_store_on_a_read_only_data_dir_says_how_to_upgrade_it() {
    let (env, _shop) = after_one_run(Backend::Sqlite);
    let db = env.db_path();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
    }
    let ns = MountNamespace::new().read_only(&env.data_dir());
    let out = env.run_in(&ns, env.command(["status"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = output::stderr(&out);
    assert!(
        stderr.contains(&format!(
            "store `{}` has schema version 1 and this oms-channels needs version",
            db.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(stderr.contains("oms-channels run-once"), "{stderr}");
}

/// The one migration list gives both engines the same tables with the same
/// columns in the same order (what `store migrate` relies on).
#[test]
fn both_engines_hold_the_same_tables_and_columns() {
    let columns = |backend: Backend, sql: &str| {
        let env = TestEnv::with_account(backend);
        let file = products_file(&env, "p.jsonl", 1);
        env.ok(["products", "load", file.to_str().unwrap()]);
        env.store()
            .query(ACCOUNT, sql, &[])
            .unwrap_or_else(|e| panic!("{backend:?}: {e}"))
    };
    let sqlite = columns(
        Backend::Sqlite,
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
    );
    let postgres = columns(
        Backend::Postgres,
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    );
    assert!(sqlite.len() > 40, "{sqlite:?}");
    assert_eq!(sqlite, postgres);
}
