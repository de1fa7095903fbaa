//! The test environment for `run-once` and the job commands: a temp config
//! and data dir, one account, sandbox channels on a tokio runtime the test
//! owns, and helpers that drive the real binary and read its `--json` output.
//! It owns nothing outside its temp dir and talks only to 127.0.0.1.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use crate::sandbox::{Sandbox, SandboxConfig, Switches};
use crate::support::backend::{Backend, TestStore};

/// The account every test acts on.
pub const ACCOUNT: &str = "acme";

/// A config dir, a data dir, one account and the env each command runs with.
pub struct RunEnv {
    /// Where the commands keep state, and the looks into it. Drops first,
    /// while the data dir it checks is still there.
    store: TestStore,
    dir: TempDir,
    /// Secret env vars (one per channel) set on every command.
    secrets: BTreeMap<String, String>,
    /// Drops last: sandboxes started on it are stopped with it.
    runtime: tokio::runtime::Runtime,
}

impl RunEnv {
    /// A fresh account `acme` with master product source `oms`, on the
    /// default store (SQLite files in the data dir).
    pub fn new() -> RunEnv {
        RunEnv::with(Backend::Sqlite)
    }

    /// The same on `backend`.
    pub fn with(backend: Backend) -> RunEnv {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = TestStore::new(backend, &dir.path().join("data"));
        let env = RunEnv {
            dir,
            secrets: BTreeMap::new(),
            store,
            runtime,
        };
        // Not through `cmd`: `account add` refuses the global `--account`
        // (the positional shares its clap id).
        let mut add = Command::cargo_bin("oms-channels").expect("binary built");
        add.arg("--config-dir")
            .arg(env.config_dir())
            .arg("--data-dir")
            .arg(env.data_dir())
            .args(["account", "add", ACCOUNT])
            .env_remove("OMS_CHANNELS_ACCOUNT");
        env.store.apply_assert(&mut add);
        add.assert().success();
        env
    }

    /// Starts a sandbox with `products` seeded products and these switches.
    pub fn sandbox(&self, products: u64, switches: Switches) -> Sandbox {
        self.runtime.block_on(Sandbox::start(SandboxConfig {
            products,
            switches,
            ..SandboxConfig::default()
        }))
    }

    /// Starts a sandbox from a whole config (page cap, credentials, ...).
    pub fn sandbox_with(&self, config: SandboxConfig) -> Sandbox {
        self.runtime.block_on(Sandbox::start(config))
    }

    /// The account file's path and text.
    pub fn account_file(&self) -> PathBuf {
        self.config_dir()
            .join("accounts")
            .join(format!("{ACCOUNT}.toml"))
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The account's SQLite store file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir().join(format!("{ACCOUNT}.db"))
    }

    /// Whether the account's store exists (its SQLite file or PostgreSQL schema).
    pub fn store_exists(&self) -> bool {
        self.store.exists(ACCOUNT)
    }

    /// `ok` for a sound store ([`TestStore::integrity`]).
    pub fn integrity(&self) -> String {
        self.store.integrity(ACCOUNT)
    }

    /// A file in the temp dir with these contents.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// The binary with this env's dirs, secrets and tiny timeouts/backoffs.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("oms-channels").expect("binary built");
        self.prepare(cmd.args(args));
        cmd
    }

    /// The same settings on a `std` command, for a run the test must not wait on.
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("oms-channels"));
        cmd.arg("--config-dir")
            .arg(self.config_dir())
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--account")
            .arg(ACCOUNT)
            .args(args)
            .env_remove("OMS_CHANNELS_ACCOUNT")
            .env_remove("OMS_CHANNELS_CONFIG_DIR")
            .env_remove("OMS_CHANNELS_DATA_DIR")
            .env("OMS_CHANNELS_RETRY_BASE_MS", "5")
            .env("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "5000")
            .env("NO_COLOR", "1")
            .envs(&self.secrets);
        self.store.apply(&mut cmd);
        cmd
    }

    fn prepare(&self, cmd: &mut Command) {
        cmd.arg("--config-dir")
            .arg(self.config_dir())
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--account")
            .arg(ACCOUNT)
            .env_remove("OMS_CHANNELS_ACCOUNT")
            .env_remove("OMS_CHANNELS_CONFIG_DIR")
            .env_remove("OMS_CHANNELS_DATA_DIR")
            .env("OMS_CHANNELS_RETRY_BASE_MS", "5")
            .env("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "5000")
            .env("NO_COLOR", "1")
            .envs(&self.secrets)
            .timeout(Duration::from_secs(30));
        self.store.apply_assert(cmd);
    }

    /// Runs a command and returns its raw output, whatever the exit status.
    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run oms-channels")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "`oms-channels {}` failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs `--json <args>` that must succeed; returns the document.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        parse(&self.ok(&all))
    }

    /// Runs `--json <args>`; returns exit code, document (Null when stdout is
    /// empty) and stderr.
    pub fn json_any(&self, args: &[&str]) -> (i32, Value, String) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.output(&all);
        let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
        let doc = if stdout.trim().is_empty() {
            Value::Null
        } else {
            parse(&stdout)
        };
        (
            out.status.code().expect("exited, not killed"),
            doc,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `run-once --json <args>` that must exit 0; returns the job rows.
    pub fn run_once(&self, args: &[&str]) -> Rows {
        let (code, doc, stderr) = self.run_once_any(args);
        assert_eq!(
            code, 0,
            "run-once {args:?} exited {code}\n{doc:#}\n{stderr}"
        );
        rows(&doc)
    }

    /// `run-once --json <args>`, any exit status.
    pub fn run_once_any(&self, args: &[&str]) -> (i32, Value, String) {
        let mut all = vec!["run-once"];
        all.extend_from_slice(args);
        self.json_any(&all)
    }

    /// Adds channel `id` pointing at `sandbox`, sets the given periods and
    /// logs in with the sandbox's current refresh token.
    pub fn add_channel(&mut self, id: &str, sandbox: &Sandbox, periods: &[(&str, &str)]) {
        self.add_channel_without_login(id, sandbox, periods);
        self.login(id, &sandbox.current_refresh_token());
    }

    /// Like [`RunEnv::add_channel`] but stores no refresh token.
    pub fn add_channel_without_login(
        &mut self,
        id: &str,
        sandbox: &Sandbox,
        periods: &[(&str, &str)],
    ) {
        let var = format!("TEST_SECRET_{}", id.to_uppercase().replace('-', "_"));
        self.secrets.insert(var.clone(), sandbox.client_secret());
        self.ok(&[
            "channel",
            "add",
            id,
            "--type",
            "beta-rest",
            "--base-url",
            &sandbox.base_url(),
            "--token-url",
            &sandbox.token_url(),
            "--client-id",
            &sandbox.client_id(),
            "--client-secret-env",
            &var,
        ]);
        for (job, period) in periods {
            self.ok(&["channel", "set-period", id, job, period]);
        }
    }

    /// `channel login <id>` with `token` on stdin.
    pub fn login(&self, id: &str, token: &str) {
        let out = self
            .cmd(&["channel", "login", id])
            .write_stdin(token.to_string())
            .output()
            .expect("run login");
        assert!(
            out.status.success(),
            "login failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn set_master(&self, source: &str) {
        self.ok(&["account", "set-master-source", source]);
    }

    /// The refresh token in the store, read straight from its tables.
    pub fn stored_refresh_token(&self, channel: &str) -> Option<String> {
        let rows = self
            .store
            .query(
                ACCOUNT,
                "SELECT refresh_token FROM tokens WHERE channel = ?1",
                &[channel],
            )
            .unwrap_or_else(|e| panic!("read the stored token: {e}"));
        assert_eq!(rows.len(), 1, "one tokens row for {channel}: {rows:?}");
        rows[0][0].clone()
    }

    /// `products count --json`.
    pub fn catalog_count(&self) -> u64 {
        self.json(&["products", "count"])["count"]
            .as_u64()
            .expect("count")
    }

    /// `products show <sku> --json`.
    pub fn show(&self, sku: &str) -> Value {
        self.json(&["products", "show", sku])
    }

    /// `products load <file>` of these JSON Lines; must succeed.
    pub fn load_jsonl(&self, name: &str, lines: &[Value]) -> Value {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let path = self.write_file(name, &text);
        self.json(&["products", "load", path.to_str().expect("utf-8 path")])
    }
}

/// A JSON document from stdout.
pub fn parse(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

/// One run-once row: what a user reads in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub channel: String,
    pub job: String,
    pub outcome: String,
    pub items: u64,
    pub detail: String,
    pub next_due: Option<String>,
}

/// The rows of a run-once report (all accounts).
#[derive(Clone, Debug)]
pub struct Rows(pub Vec<Row>);

impl Rows {
    /// The row of `channel`/`job`; panics when there is none.
    pub fn get(&self, channel: &str, job: &str) -> &Row {
        self.0
            .iter()
            .find(|r| r.channel == channel && r.job == job)
            .unwrap_or_else(|| panic!("no row {channel}/{job} in {:#?}", self.0))
    }

    /// `(channel, job, outcome)` of every row.
    pub fn outcomes(&self) -> Vec<(String, String, String)> {
        self.0
            .iter()
            .map(|r| (r.channel.clone(), r.job.clone(), r.outcome.clone()))
            .collect()
    }
}

pub fn rows(doc: &Value) -> Rows {
    let accounts = doc["accounts"].as_array().expect("accounts array");
    Rows(
        accounts
            .iter()
            .flat_map(|a| a["rows"].as_array().expect("rows array").iter())
            .map(|r| Row {
                channel: r["channel"].as_str().expect("channel").to_string(),
                job: r["job"].as_str().expect("job").to_string(),
                outcome: r["outcome"].as_str().expect("outcome").to_string(),
                items: r["items"].as_u64().expect("items"),
                detail: r["detail"].as_str().unwrap_or_default().to_string(),
                next_due: r["next_due"].as_str().map(str::to_string),
            })
            .collect(),
    )
}

/// `(channel, job, outcome)` triples for a table-driven comparison.
pub fn expect(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(c, j, o)| (c.to_string(), j.to_string(), o.to_string()))
        .collect()
}

/// A catalog product as a `products load` JSON line.
pub fn product(sku: &str, price: &str) -> Value {
    serde_json::json!({
        "sku": sku,
        "title": format!("Product {sku}"),
        "price": price,
        "currency": "EUR",
        "quantity": 5,
        "attributes": {"color": "red"},
        "updated_at": "2026-01-31T12:00:00Z",
    })
}

/// Export batches the sandbox received: the skus of each, in order.
pub fn batches(sandbox: &Sandbox) -> Vec<Vec<String>> {
    sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/products/batch")
        .map(|r| {
            let body: Value = serde_json::from_str(r.body.as_deref().expect("batch body recorded"))
                .expect("batch body is JSON");
            body["products"]
                .as_array()
                .expect("products array")
                .iter()
                .map(|p| p["sku"].as_str().expect("sku").to_string())
                .collect()
        })
        .collect()
}

/// `(method path, status)` of every recorded request, in order.
pub fn log(sandbox: &Sandbox) -> Vec<(String, u16)> {
    sandbox
        .requests()
        .into_iter()
        .map(|r| (format!("{} {}", r.method, r.path), r.status))
        .collect()
}

/// Waits (at most `limit`) until `ready` holds.
pub fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ready()
}
