//! Shared by the crash/concurrency suite (`tests/it/crash.rs`) and the fault
//! suite (`tests/it/faults.rs`): a throwaway config and data dir, the real binary
//! run against it, a sandbox runtime, and read-only looks into the store.
//! Included with `#[path]`, next to `mod sandbox`, so `crate::sandbox` is there.

// Each suite uses a different part of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::sandbox::{Sandbox, SandboxConfig};
use crate::support::backend::{Backend, TestStore};

pub const ACCOUNT: &str = "acme";
pub const CHANNEL: &str = "shop";
/// Name of the environment variable the account file points the client secret at.
pub const SECRET_ENV: &str = "CRASHTEST_SHOP_SECRET";

/// A multi-thread runtime owned by the test, serving the sandbox while the
/// test thread blocks on child processes.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Starts a sandbox on `rt` (it keeps serving after `block_on` returns).
pub fn start_sandbox(rt: &tokio::runtime::Runtime, config: SandboxConfig) -> Sandbox {
    rt.block_on(Sandbox::start(config))
}

/// One row of the catalog as stored: everything but the revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub title: String,
    pub price: String,
    pub currency: String,
    pub quantity: i64,
    pub attributes: BTreeMap<String, String>,
    pub updated_at: String,
    pub id: Option<String>,
}

impl Row {
    /// The content a channel compares (no timestamps, no ids).
    pub fn content(&self) -> (String, String, String, i64, BTreeMap<String, String>) {
        (
            self.title.clone(),
            self.price.clone(),
            self.currency.clone(),
            self.quantity,
            self.attributes.clone(),
        )
    }
}

/// A config dir, a data dir (not created: the binary must create it 0700) and
/// the secret the account's channel reads from [`SECRET_ENV`].
pub struct Env {
    /// Where the commands keep state, and the looks into it. Drops first,
    /// while the data dir it checks is still there.
    pub store: TestStore,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub data: PathBuf,
    pub secret: String,
    /// Extra environment for every command (crash points, knobs).
    pub vars: Vec<(String, String)>,
}

impl Env {
    /// An env on the default store (SQLite files in the data dir).
    pub fn new() -> Env {
        Env::with(Backend::Sqlite)
    }

    /// An env whose commands keep state in `backend`.
    pub fn with(backend: Backend) -> Env {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = dir.path().join("config");
        let data = dir.path().join("data");
        let store = TestStore::new(backend, &data);
        Env {
            dir,
            config,
            data,
            store,
            secret: "demo-secret".into(),
            vars: vec![
                // Tiny backoffs and timeouts: every retry path finishes in milliseconds.
                ("OMS_CHANNELS_RETRY_BASE_MS".into(), "2".into()),
                ("OMS_CHANNELS_REQUEST_TIMEOUT_MS".into(), "3000".into()),
            ],
        }
    }

    pub fn set_var(&mut self, name: &str, value: &str) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.into(), value.into()));
    }

    /// The binary with `--config-dir/--data-dir/--account` and a clean environment.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oms-channels"));
        cmd.arg("--config-dir")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--account")
            .arg(ACCOUNT)
            .args(args)
            .env_remove("OMS_CHANNELS_ACCOUNT")
            .env_remove("OMS_CHANNELS_CONFIG_DIR")
            .env_remove("OMS_CHANNELS_DATA_DIR")
            .env_remove("OMS_CHANNELS_TEST_CRASH_AT")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env(SECRET_ENV, &self.secret)
            .stdin(Stdio::null());
        self.store.apply(&mut cmd);
        for (name, value) in &self.vars {
            cmd.env(name, value);
        }
        cmd
    }

    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let out = self.command(args).output().expect("the binary runs");
        assert_no_panic(&out);
        out
    }

    /// Runs and asserts exit 0.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} failed:\n{}",
            describe(&out),
            args = args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        );
        out
    }

    /// Runs with `OMS_CHANNELS_TEST_CRASH_AT=<point>`; returns whether the
    /// process died by SIGKILL (false: it finished without reaching the point).
    pub fn run_crashing_at<S: AsRef<OsStr>>(&self, point: &str, args: &[S]) -> (bool, Output) {
        let out = self
            .command(args)
            .env("OMS_CHANNELS_TEST_CRASH_AT", point)
            .output()
            .expect("the binary runs");
        assert_no_panic(&out);
        (killed(&out), out)
    }

    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts")
    }

    /// Runs with `stdin` as input.
    pub fn run_with_stdin<S: AsRef<OsStr>>(&self, args: &[S], stdin: &str) -> Output {
        use std::io::Write as _;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin takes the token");
        let out = child.wait_with_output().expect("the binary finishes");
        assert_no_panic(&out);
        out
    }

    pub fn account_file(&self) -> PathBuf {
        self.config.join("accounts").join(format!("{ACCOUNT}.toml"))
    }

    pub fn account_text(&self) -> String {
        std::fs::read_to_string(self.account_file()).expect("the account file reads")
    }

    pub fn db_path(&self) -> PathBuf {
        self.data.join(format!("{ACCOUNT}.db"))
    }

    /// `PRAGMA integrity_check` on SQLite, the equivalent checks on
    /// PostgreSQL ([`TestStore::integrity`]): `ok` for a sound store.
    pub fn integrity(&self) -> String {
        self.store.integrity(ACCOUNT)
    }

    /// A `SELECT count(*) ...` on the account's store (same SQL on both).
    pub fn count(&self, sql: &str) -> i64 {
        self.store.count(ACCOUNT, sql, &[])
    }

    fn token_column(&self, column: &str) -> Option<String> {
        self.store.value(
            ACCOUNT,
            &format!("SELECT {column} FROM tokens WHERE channel = ?1"),
            &[CHANNEL],
        )
    }

    pub fn stored_refresh_token(&self) -> Option<String> {
        self.token_column("refresh_token")
    }

    pub fn stored_access_token(&self) -> Option<String> {
        self.token_column("access_token")
    }

    pub fn refresh_in_flight(&self) -> bool {
        self.token_column("refresh_in_flight_since").is_some()
    }

    /// The whole catalog by SKU.
    pub fn catalog(&self) -> BTreeMap<String, Row> {
        let rows = self
            .store
            .query(
                ACCOUNT,
                "SELECT sku, title, price, currency, quantity, attributes, updated_at, id FROM catalog",
                &[],
            )
            .unwrap_or_else(|e| panic!("catalog query: {e}"));
        let text = |cell: &Option<String>| cell.clone().expect("a NOT NULL column");
        rows.iter()
            .map(|r| {
                (
                    text(&r[0]),
                    Row {
                        title: text(&r[1]),
                        price: text(&r[2]),
                        currency: text(&r[3]),
                        quantity: text(&r[4]).parse().expect("quantity is an integer"),
                        attributes: serde_json::from_str(&text(&r[5]))
                            .expect("attributes are JSON"),
                        updated_at: text(&r[6]),
                        id: r[7].clone(),
                    },
                )
            })
            .collect()
    }

    /// Outcome of the last recorded run of `job` (`success`, `failed`, ...).
    pub fn last_outcome(&self, job: &str) -> Option<String> {
        self.store.value(
            ACCOUNT,
            "SELECT outcome FROM run_history WHERE channel = ?1 AND job = ?2 ORDER BY id DESC LIMIT 1",
            &[CHANNEL, job],
        )
    }

    /// Every regular file under the config dir and its bytes.
    pub fn config_files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(&self.config)
    }

    /// Sets up account `acme` with channel `shop` on `sandbox`, the given job
    /// periods, and the sandbox's refresh token stored by `channel login`.
    /// With `master`, the channel is the master product source.
    pub fn setup(&mut self, sandbox: &Sandbox, periods: &[(&str, &str)], master: bool) {
        self.secret = sandbox.client_secret();
        self.ok(&["account", "add", ACCOUNT, "--master-product-source", "oms"]);
        self.ok(&[
            "channel",
            "add",
            CHANNEL,
            "--type",
            "beta-rest",
            "--base-url",
            &sandbox.base_url(),
            "--token-url",
            &sandbox.token_url(),
            "--client-id",
            &sandbox.client_id(),
            "--client-secret-env",
            SECRET_ENV,
        ]);
        if master {
            self.ok(&["account", "set-master-source", CHANNEL]);
        }
        for (job, period) in periods {
            self.ok(&["channel", "set-period", CHANNEL, job, period]);
        }
        let login = self.run_with_stdin(
            &["channel", "login", CHANNEL],
            &sandbox.current_refresh_token(),
        );
        assert_eq!(login.status.code(), Some(0), "login: {}", describe(&login));
    }

    /// Loads `products` (JSON Lines) into the catalog with `products load`.
    pub fn load_products(&self, name: &str, products: &[crate::sandbox::Product]) -> Output {
        let path = self.dir.path().join(name);
        let text: String = products
            .iter()
            .map(|p| serde_json::to_string(p).expect("a product serialises") + "\n")
            .collect();
        std::fs::write(&path, text).expect("the product file writes");
        self.run(&[OsStr::new("products"), OsStr::new("load"), path.as_os_str()])
    }
}

pub fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files.insert(path, bytes);
            }
        }
    }
    files
}

/// Whether the process was ended by SIGKILL.
pub fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    out.status.signal() == Some(libc_sigkill())
}

fn libc_sigkill() -> i32 {
    9
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

pub fn assert_no_panic(out: &Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked"),
        "the binary panicked:\n{}",
        describe(out)
    );
}

/// `n` seeded-looking products with the given price, for `products load`.
pub fn products(range: std::ops::Range<u32>, price: &str) -> Vec<crate::sandbox::Product> {
    range
        .map(|i| crate::sandbox::Product {
            sku: format!("CAT-{i:05}"),
            title: format!("Catalog product {i}"),
            price: price.into(),
            currency: "EUR".into(),
            quantity: i64::from(i % 17),
            attributes: BTreeMap::from([("colour".into(), format!("c{}", i % 5))]),
            updated_at: "2026-01-01T00:00:00Z".into(),
            id: None,
        })
        .collect()
}

/// The default sandbox for these suites: `n` seeded products, rotating
/// refresh tokens with reuse detection.
pub fn sandbox_config(n: u64) -> SandboxConfig {
    let mut config = SandboxConfig {
        products: n,
        ..SandboxConfig::default()
    };
    config.switches.rotate_refresh_tokens = true;
    config.switches.reuse_detection = true;
    config
}
