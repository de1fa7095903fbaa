//! The data dir checked like `~/.ssh`, through the real binary: no link in
//! place of a store or lock file is followed, a data dir others may write
//! to is refused with the fix, SQLite's temporary data never needs the
//! system's temp dir, and the read-only commands work on a read-only data
//! dir. On PostgreSQL the data dir is not used, so none of this stands in
//! the way there (the `postgres` variants). Both engines hold the same
//! tables and columns.
//!
//! Read-only file systems are real ones: each such command runs in a mount
//! namespace of its own (util-linux `unshare`) where a bind mount makes the
//! directory read-only, since permission bits do not stop root, which the
//! tests may run as.

use std::ffi::OsStr;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

use crate::both_backends;
use crate::sandbox::{Sandbox, Switches};
use crate::support::backend::{Backend, TestStore};
use crate::support::env::BIN;
use crate::support::run_env::{RunEnv, log, product};

const ACCOUNT: &str = "acme";
const HOURLY_EXPORT: &[(&str, &str)] = &[("auth-refresh", "50m"), ("export-products", "1h")];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `'text'` for `sh`.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// `cmd` as it would run, but in a mount namespace of its own where the
/// shell commands `setup` ran first (`set -e`: a failed mount fails the
/// run), then `cd` into `cwd` when given. Root needs no user namespace;
/// anyone else gets one that maps them to root inside.
fn in_mount_namespace(cmd: &Command, setup: &str, cwd: Option<&Path>) -> Output {
    let mut ns = Command::new("unshare");
    if !rustix::process::geteuid().is_root() {
        ns.arg("--map-root-user");
    }
    let cd = cwd.map_or_else(String::new, |dir| format!("cd {}; ", quoted(dir)));
    ns.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(format!("set -e; {setup}; {cd}exec \"$0\" \"$@\""))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => ns.env(name, value),
            None => ns.env_remove(name),
        };
    }
    ns.output().unwrap_or_else(|e| {
        panic!("these tests need util-linux `unshare` (apt-get install util-linux): {e}")
    })
}

/// Shell commands that make `dir` read-only in the namespace.
fn read_only(dir: &Path) -> String {
    let dir = quoted(dir);
    format!("mount --bind {dir} {dir}; mount -o remount,ro,bind {dir}")
}

/// Fails the test unless nothing can be written into `dirs` (as the
/// commands will run: same namespace setup, same user).
fn assert_nothing_writable(setup: &str, dirs: &[&Path]) {
    let mut probe = Command::new("sh");
    let targets: Vec<String> = dirs.iter().map(|d| quoted(d)).collect();
    probe.args([
        "-c",
        &format!(
            "for d in {}; do if touch \"$d/.probe\" 2>/dev/null; then echo \"$d is writable\"; exit 1; fi; done",
            targets.join(" ")
        ),
    ]);
    let out = in_mount_namespace(&probe, setup, None);
    assert!(
        out.status.success(),
        "the mount namespace could not make these read-only (needs root, or unprivileged user namespaces): {}",
        describe(&out)
    );
}

/// A config dir and a data dir (under `base`, default the system's temp
/// dir) with account `acme`, on `backend`, for the tests that need no
/// channel.
struct Dirs {
    store: TestStore,
    root: TempDir,
}

impl Dirs {
    fn new(backend: Backend, base: Option<&Path>) -> Dirs {
        let mut builder = tempfile::Builder::new();
        builder.prefix("oms-channels-data-dir");
        let root = match base {
            Some(base) => builder.tempdir_in(base),
            None => builder.tempdir(),
        }
        .expect("temp dir");
        let store = TestStore::new(backend, &root.path().join("data"));
        let dirs = Dirs { store, root };
        let out = dirs.command(&["account", "add", ACCOUNT]).output().unwrap();
        assert!(out.status.success(), "account add: {}", describe(&out));
        dirs
    }

    fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// The binary with these dirs and this store, nothing from the caller's
    /// environment that would choose another account, dir or store.
    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config-dir")
            .arg(self.config_dir())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("OMS_CHANNELS_ACCOUNT")
            .env_remove("OMS_CHANNELS_CONFIG_DIR")
            .env_remove("OMS_CHANNELS_DATA_DIR")
            .env_remove("RUST_LOG");
        self.store.apply(&mut cmd);
        cmd
    }

    /// `--account acme <args>`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut all = vec!["--account", ACCOUNT];
        all.extend_from_slice(args);
        self.command(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        text(&out.stdout)
    }

    /// A JSON Lines product file of `n` products.
    fn products_file(&self, name: &str, n: usize) -> PathBuf {
        let path = self.path(name);
        let lines: String = (0..n)
            .map(|i| format!("{}\n", product(&format!("SKU-{i:07}"), "1.00")))
            .collect();
        std::fs::write(&path, lines).unwrap();
        path
    }
}

fn count_of(stdout: &str) -> u64 {
    let doc: Value = serde_json::from_str(stdout).expect("a JSON document");
    doc["count"].as_u64().expect("count")
}

/// An account exporting to a sandbox, after one run that exported three
/// products: a store with a catalog, history, tokens and a lock file.
fn after_one_run(backend: Backend) -> (RunEnv, Sandbox) {
    let mut env = RunEnv::with(backend);
    let shop = env.sandbox(0, Switches::default());
    env.add_channel("shop", &shop, HOURLY_EXPORT);
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
    let mut env = RunEnv::with(backend);
    let shop = env.sandbox(0, Switches::default());
    env.add_channel("shop", &shop, HOURLY_EXPORT);
    let victim = env.write_file("victim", "precious\n");
    let data = env.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    chmod(&data, 0o700);
    let lock = data.join(format!("{ACCOUNT}.lock"));
    symlink(&victim, &lock).unwrap();
    let requests_before = log(&shop).len();

    let out = env.output(&["run-once"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    match backend {
        Backend::Sqlite => {
            assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains(&format!(
                    "lock file `{}` is a symbolic link",
                    lock.display()
                )),
                "{stderr}"
            );
            assert!(stderr.contains("remove it"), "{stderr}");
            assert_eq!(log(&shop).len(), requests_before, "no job ran");
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
    let out = env.output(&["products", "load", file.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&empty).unwrap(),
        b"",
        "the link's target was written"
    );
    match backend {
        Backend::Sqlite => {
            assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
            let stderr = text(&out.stderr);
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
    let dirs = Dirs::new(backend, None);
    let data = dirs.data_dir();
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o777);
    let file = dirs.products_file("p.jsonl", 3);
    let file = file.to_str().unwrap();

    for args in [
        vec!["products", "load", file],
        vec!["status"],
        vec!["run-once"],
        vec!["products", "count"],
    ] {
        let out = dirs.cmd(&args).output().unwrap();
        match backend {
            Backend::Sqlite => {
                assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
                let stderr = text(&out.stderr);
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
    dirs.ok(&["products", "load", file]);
    assert_eq!(count_of(&dirs.ok(&["--json", "products", "count"])), 3);
}

/// `products load` of 100,000 lines where no temp dir is writable: the
/// system's temp dirs (`/tmp`, `/var/tmp`), `TMPDIR` and the working
/// directory are read-only, as under systemd's `ProtectSystem=strict` or
/// Kubernetes' `readOnlyRootFilesystem`. (A load this size spills its
/// bookkeeping to disk; SQLite's temp files would have nowhere to go.)
#[test]
fn products_load_needs_no_temp_dir() {
    // Under the build dir, since the namespace hides `/tmp`.
    let dirs = Dirs::new(
        Backend::Sqlite,
        Some(Path::new(env!("CARGO_TARGET_TMPDIR"))),
    );
    let file = dirs.products_file("p.jsonl", 100_000);
    let read_only_dir = dirs.path("read-only");
    std::fs::create_dir(&read_only_dir).unwrap();
    let setup = [
        "mount -t tmpfs -o ro tmpfs /tmp".to_string(),
        "mount -t tmpfs -o ro tmpfs /var/tmp".to_string(),
        "if [ -d /usr/tmp ] && [ ! -L /usr/tmp ]; then mount -t tmpfs -o ro tmpfs /usr/tmp; fi"
            .to_string(),
        read_only(&read_only_dir),
    ];
    let setup_text = setup.join("; ");
    assert_nothing_writable(
        &setup_text,
        &[Path::new("/tmp"), Path::new("/var/tmp"), &read_only_dir],
    );

    let mut load = dirs.cmd(&["products", "load", file.to_str().unwrap()]);
    load.env("TMPDIR", &read_only_dir);
    let out = in_mount_namespace(&load, &setup_text, Some(&read_only_dir));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stdout).contains("loaded 100000 products"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        count_of(&dirs.ok(&["--json", "products", "count"])),
        100_000
    );
    assert_eq!(
        dirs.store.integrity(ACCOUNT),
        "ok",
        "the load's bookkeeping left nothing behind"
    );
    let tables = dirs
        .store
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
    let setup = read_only(&data);
    assert_nothing_writable(&setup, &[&data]);

    let run = |args: &[&str]| in_mount_namespace(&env.std_cmd(args), &setup, None);
    let json = |args: &[&str]| -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = run(&all);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        serde_json::from_str(&text(&out.stdout)).expect("a JSON document")
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
            let stderr = text(&load.stderr);
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
        text(&status.stdout).contains("never ran"),
        "{}",
        describe(&status)
    );
    // `channel show` would forget the old endpoint's token, and says it
    // cannot here.
    let show = run(&["channel", "show", "shop"]);
    assert!(show.status.success(), "{}", describe(&show));
    if backend == Backend::Sqlite {
        assert!(
            text(&show.stderr).contains("forgotten by the next command that writes"),
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
    let data = env.data_dir();
    let setup = read_only(&data);
    let out = in_mount_namespace(&env.std_cmd(&["status"]), &setup, None);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = text(&out.stderr);
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
        let dirs = Dirs::new(backend, None);
        let file = dirs.products_file("p.jsonl", 1);
        dirs.ok(&["products", "load", file.to_str().unwrap()]);
        dirs.store
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
