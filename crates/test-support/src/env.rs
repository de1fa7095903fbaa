//! [`TestEnv`]: a throwaway config dir, data dir and `HOME`, the store
//! backend the commands use, channels on shop peers, and the real binary run
//! against all of it. Every command of every suite is made by
//! [`TestEnv::command`]: the binary found one way ([`oms_channels_bin`]),
//! `--config-dir`/`--data-dir` (and `--account` when the env has one), and
//! an environment from which every `OMS_CHANNELS_*`, `PG*`, `XDG_*` and
//! `RUST_LOG` of the caller's is removed, so a developer's exported store or
//! account never leaks into a test, and nothing reaches the real config dir.
//!
//! ```ignore
//! let shop = SandboxPeer::start(SandboxConfig::default());
//! let env = TestEnv::builder()
//!     .backend(Backend::Postgres)
//!     .channel("shop", &shop, &[("auth-refresh", "50m"), ("import-products", "1h")])
//!     .master("shop")
//!     .build();
//! let rows = env.run_once(&[]);
//! assert_eq!(rows.get("shop", "import-products").outcome, "ran");
//! ```
//!
//! [`oms_channels_bin`]: crate::oms_channels_bin

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::output::{Rows, assert_no_panic, describe, files_under, parse};
use crate::peer::{Offer, Peer};
use crate::store::{Backend, TestStore};

/// The account an env with channels acts on.
pub const ACCOUNT: &str = "acme";

/// The channel of the suites that need only one.
pub const CHANNEL: &str = "shop";

/// The variable that selects the store for every command.
const STORE_VAR: &str = "OMS_CHANNELS_STORE";

/// Variables of the caller's that would leak its setup into a test: its
/// store, account, dirs, crash point, logging, PostgreSQL login, XDG dirs.
const CLEARED_PREFIXES: [&str; 3] = ["OMS_CHANNELS_", "PG", "XDG_"];
const CLEARED: [&str; 1] = ["RUST_LOG"];

/// What every command gets unless a test says otherwise: tiny retry
/// backoffs and request timeouts, so every retry path ends in milliseconds.
const DEFAULT_VARS: [(&str, &str); 3] = [
    ("OMS_CHANNELS_RETRY_BASE_MS", "2"),
    ("OMS_CHANNELS_REQUEST_TIMEOUT_MS", "5000"),
    ("NO_COLOR", "1"),
];

/// How long one command may run before the test fails instead of hanging.
const DEFAULT_RUN_LIMIT: Duration = Duration::from_secs(120);

/// A temp config dir (`config/`), data dir (`data/`, made by the binary as
/// on a fresh machine) and `HOME` (`home/`), removed on drop, and the
/// commands that run in them.
pub struct TestEnv {
    /// Where the commands keep state, and the looks into it. Drops first,
    /// while the data dir it checks is still there.
    store: TestStore,
    root: TempDir,
    /// `--account` on every command, when set.
    account: Option<String>,
    /// Set on every command (secrets the channels name, knobs).
    vars: BTreeMap<String, String>,
    run_limit: Duration,
}

/// A channel the builder adds: its id, its shop, its job periods.
struct ChannelSpec<'a> {
    id: String,
    peer: &'a dyn Peer,
    periods: Vec<(String, String)>,
}

/// Builds a [`TestEnv`]: the store backend, an account, channels on peers.
pub struct TestEnvBuilder<'a> {
    backend: Backend,
    account: Option<String>,
    vars: Vec<(String, String)>,
    channels: Vec<ChannelSpec<'a>>,
    master: Option<String>,
}

impl<'a> TestEnvBuilder<'a> {
    /// Where the commands keep state (SQLite files by default).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Creates `name` (`account add`) and names it on every command.
    pub fn account(mut self, name: &str) -> Self {
        self.account = Some(name.to_string());
        self
    }

    /// Sets a variable on every command.
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_string(), value.to_string()));
        self
    }

    /// A channel `id` on `peer` with these job periods (the others `none`),
    /// logged in when the peer hands out refresh tokens. Implies the
    /// account [`ACCOUNT`] when none was named.
    pub fn channel(mut self, id: &str, peer: &'a dyn Peer, periods: &[(&str, &str)]) -> Self {
        let periods = periods
            .iter()
            .map(|(job, period)| (job.to_string(), period.to_string()))
            .collect();
        self.channels.push(ChannelSpec {
            id: id.to_string(),
            peer,
            periods,
        });
        self
    }

    /// Makes `source` (a channel id or `oms`) the account's master product source.
    pub fn master(mut self, source: &str) -> Self {
        self.master = Some(source.to_string());
        self
    }

    pub fn build(self) -> TestEnv {
        let root = tempfile::Builder::new()
            .prefix("oms-channels-test")
            .tempdir()
            .expect("create a temp dir");
        for dir in ["config/accounts", "home"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("create a test dir");
        }
        let store = TestStore::new(self.backend, &root.path().join("data"));
        let mut vars: BTreeMap<String, String> = DEFAULT_VARS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.extend(self.vars);
        let account = self
            .account
            .or_else(|| (!self.channels.is_empty()).then(|| ACCOUNT.to_string()));
        let mut env = TestEnv {
            store,
            root,
            account: None,
            vars,
            run_limit: DEFAULT_RUN_LIMIT,
        };
        if let Some(account) = account {
            // Without `--account`: `account add` takes the name as its argument.
            env.ok(["account", "add", &account]);
            env.account = Some(account);
        }
        for channel in self.channels {
            let periods: Vec<(&str, &str)> = channel
                .periods
                .iter()
                .map(|(j, p)| (j.as_str(), p.as_str()))
                .collect();
            env.add_channel(&channel.id, channel.peer, &periods);
        }
        if let Some(master) = self.master {
            env.set_master(&master);
        }
        env
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

impl TestEnv {
    pub fn builder<'a>() -> TestEnvBuilder<'a> {
        TestEnvBuilder {
            backend: Backend::Sqlite,
            account: None,
            vars: Vec::new(),
            channels: Vec::new(),
            master: None,
        }
    }

    /// No account, SQLite: for the configuration commands, whose tests
    /// write account files themselves and name the account in the args.
    pub fn new() -> TestEnv {
        TestEnv::builder().build()
    }

    /// Account [`ACCOUNT`] (master `oms`) on `backend`, no channels yet.
    pub fn with_account(backend: Backend) -> TestEnv {
        TestEnv::builder().backend(backend).account(ACCOUNT).build()
    }

    // ---- commands ----

    /// The binary with this env's dirs, account, variables and a clean
    /// environment; stdin is empty unless the caller sets it.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.bare_command();
        cmd.arg("--config-dir")
            .arg(self.config_dir())
            .arg("--data-dir")
            .arg(self.data_dir());
        if let Some(account) = &self.account {
            cmd.arg("--account").arg(account);
        }
        cmd.args(args);
        cmd
    }

    /// The binary with the clean environment and the store, but no dir or
    /// account flags: for tests of where flags and variables may go.
    pub fn bare_command(&self) -> Command {
        let mut cmd = Command::new(crate::oms_channels_bin());
        self.clean_env(&mut cmd);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Another program (a shell, `script`, a shipped script) in the clean
    /// environment, with `OMS_CHANNELS` naming the binary.
    pub fn tool(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.clean_env(&mut cmd);
        cmd.env("OMS_CHANNELS", crate::oms_channels_bin())
            .stdin(Stdio::null());
        cmd
    }

    /// Removes the caller's variables, sets `HOME`, the store and this env's
    /// variables.
    fn clean_env(&self, cmd: &mut Command) {
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if CLEARED_PREFIXES.iter().any(|p| text.starts_with(p))
                || CLEARED.contains(&text.as_ref())
            {
                cmd.env_remove(&name);
            }
        }
        cmd.env("HOME", self.home_dir());
        if let Some(url) = self.store.url() {
            cmd.env(STORE_VAR, url);
        }
        cmd.envs(&self.vars);
    }

    /// The same command as an `assert_cmd` one (30 s limit), for assertions
    /// with `predicates`.
    pub fn cmd<I, S>(&self, args: I) -> assert_cmd::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = assert_cmd::Command::from_std(self.command(args));
        cmd.timeout(Duration::from_secs(30));
        cmd
    }

    /// Runs a command to its end (failing the test if it outlives the env's
    /// limit), whatever its exit status; never a panic.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.finish(self.command(args), None)
    }

    /// Runs a command with `input` on stdin.
    pub fn run_with_stdin<I, S>(&self, args: I, input: &str) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.finish(self.command(args), Some(input))
    }

    /// Runs a prepared command (from [`TestEnv::command`], with extra
    /// variables) to its end, within the env's limit; never a panic.
    pub fn finish(&self, mut cmd: Command, input: Option<&str>) -> Output {
        let mut child = cmd
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oms-channels");
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            // A command that exits before reading all of it is not an error here.
            let _ = stdin.write_all(input.as_bytes());
        }
        let out = wait_within(child, self.run_limit);
        assert_no_panic(&out);
        out
    }

    /// Runs a command that must exit 0; returns its stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "`oms-channels {}` failed:\n{}",
            shown(&args),
            describe(&out)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs `--json <args>` that must exit 0; returns the document.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        parse(&self.ok(&all))
    }

    /// Runs `--json <args>`; returns exit code, document (Null when stdout
    /// is empty) and stderr.
    pub fn json_any(&self, args: &[&str]) -> (i32, Value, String) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
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
        Rows::of(&doc)
    }

    /// `run-once --json <args>`, any exit status.
    pub fn run_once_any(&self, args: &[&str]) -> (i32, Value, String) {
        let mut all = vec!["run-once"];
        all.extend_from_slice(args);
        self.json_any(&all)
    }

    /// Starts a command without waiting; stdout and stderr are piped.
    pub fn spawn<I, S>(&self, args: I) -> Child
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oms-channels")
    }

    // ---- setup ----

    /// Sets a variable on every later command.
    pub fn set_var(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_string(), value.to_string());
    }

    /// The value of a variable this env sets on every command.
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// Removes a variable this env sets (the defaults included).
    pub fn remove_var(&mut self, name: &str) {
        self.vars.remove(name);
    }

    /// How long any one command may run from now on (default 2 minutes).
    pub fn set_run_limit(&mut self, limit: Duration) {
        self.run_limit = limit;
    }

    /// The variable a channel's secret is read from: `TEST_SECRET_<ID>`.
    pub fn secret_var(channel: &str) -> String {
        format!(
            "TEST_SECRET_{}",
            channel.to_uppercase().replace(['-', '.'], "_")
        )
    }

    /// Adds channel `id` on `peer` (`channel add`), sets these periods and,
    /// when the peer hands out refresh tokens, logs in with the current one.
    /// Raises the request timeout and the run limit to what the peer needs.
    pub fn add_channel(&mut self, id: &str, peer: &dyn Peer, periods: &[(&str, &str)]) {
        self.add_channel_without_login(id, peer, periods);
        if let Some(token) = peer.login_token() {
            self.login(id, &token);
        }
    }

    /// Like [`TestEnv::add_channel`] but stores no refresh token.
    pub fn add_channel_without_login(
        &mut self,
        id: &str,
        peer: &dyn Peer,
        periods: &[(&str, &str)],
    ) {
        let var = TestEnv::secret_var(id);
        self.vars.insert(var.clone(), peer.secret());
        let timeout = peer.request_timeout();
        let current = self
            .vars
            .get("OMS_CHANNELS_REQUEST_TIMEOUT_MS")
            .and_then(|v| v.parse::<u128>().ok())
            .unwrap_or(0);
        if timeout.as_millis() > current {
            self.set_var(
                "OMS_CHANNELS_REQUEST_TIMEOUT_MS",
                &timeout.as_millis().to_string(),
            );
            // A run may take several requests of that length.
            self.run_limit = self.run_limit.max(timeout * 5);
        }
        let mut args = vec!["channel".to_string(), "add".into(), id.into()];
        args.extend(peer.channel_args(&var));
        self.ok(&args);
        for (job, period) in periods {
            self.ok(["channel", "set-period", id, job, period]);
        }
    }

    /// `channel login <id>` with `token` on stdin.
    pub fn login(&self, id: &str, token: &str) {
        let out = self.run_with_stdin(["channel", "login", id], token);
        assert!(out.status.success(), "login failed:\n{}", describe(&out));
    }

    pub fn set_master(&self, source: &str) {
        self.ok(["account", "set-master-source", source]);
    }

    /// `products load` of these JSON Lines (in a file named `name`); must
    /// succeed; the command's `--json` document.
    pub fn load_jsonl(&self, name: &str, lines: &[Value]) -> Value {
        let path = self.write_file(name, &crate::catalog::jsonl(lines));
        self.json(&["products", "load", path.to_str().expect("utf-8 path")])
    }

    /// `products load` of these JSON Lines (in a file named `name`), any
    /// exit status.
    pub fn try_load(&self, name: &str, lines: &[Value]) -> Output {
        let path = self.write_file(name, &crate::catalog::jsonl(lines));
        self.run([OsStr::new("products"), OsStr::new("load"), path.as_os_str()])
    }

    /// `products load` of these offers; must succeed.
    pub fn load(&self, name: &str, offers: &[Offer]) -> Value {
        let lines: Vec<Value> = offers.iter().map(Offer::catalog_line).collect();
        self.load_jsonl(name, &lines)
    }

    /// Adds `line` (e.g. `page-size = 100`) to a channel's table of the
    /// env's account file, as an operator edits it by hand.
    pub fn set_channel_key(&self, channel: &str, line: &str) {
        let path = self.account_file();
        let text = std::fs::read_to_string(&path).expect("read the account file");
        let header = format!("[channels.{channel}]\n");
        let edited = text.replacen(&header, &format!("{header}{line}\n"), 1);
        assert_ne!(edited, text, "no [channels.{channel}] table");
        std::fs::write(&path, edited).expect("write the account file");
    }

    // ---- files ----

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn home_dir(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// A path under the config dir.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.config_dir().join(relative)
    }

    /// `<config dir>/accounts/<name>.toml`.
    pub fn account_path(&self, name: &str) -> PathBuf {
        self.config_dir()
            .join("accounts")
            .join(format!("{name}.toml"))
    }

    /// The file of the env's account (or [`ACCOUNT`]).
    pub fn account_file(&self) -> PathBuf {
        self.account_path(self.account.as_deref().unwrap_or(ACCOUNT))
    }

    /// The text of the env's account file.
    pub fn account_text(&self) -> String {
        std::fs::read_to_string(self.account_file()).expect("read the account file")
    }

    /// The text of an account file; panics if it is missing or not UTF-8.
    pub fn read_account(&self, name: &str) -> String {
        std::fs::read_to_string(self.account_path(name)).expect("read account file")
    }

    /// Writes an account file (any bytes, so broken files can be tested too).
    pub fn account(&self, name: &str, contents: impl AsRef<[u8]>) -> &TestEnv {
        std::fs::write(self.account_path(name), contents).expect("write account file");
        self
    }

    /// Writes a file under the config dir (`capabilities.toml`, `config.toml`).
    pub fn file(&self, relative: &str, contents: impl AsRef<[u8]>) -> &TestEnv {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the file's dir");
        }
        std::fs::write(path, contents).expect("write config file");
        self
    }

    /// Makes `name` the current account through `config.toml`.
    pub fn current(&self, name: &str) -> &TestEnv {
        self.file("config.toml", format!("current-account = \"{name}\"\n"))
    }

    /// The bytes of a file, or `None` if it does not exist.
    pub fn bytes(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        match std::fs::read(path.as_ref()) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => panic!("read {}: {err}", path.as_ref().display()),
        }
    }

    /// A file in the temp dir (beside config and data) with these contents.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.root.path().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// Every regular file under the config dir and its bytes.
    pub fn config_files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(&self.config_dir())
    }

    // ---- the store ----

    pub fn store(&self) -> &TestStore {
        &self.store
    }

    fn account_name(&self) -> &str {
        self.account.as_deref().unwrap_or(ACCOUNT)
    }

    /// The account's SQLite store file.
    pub fn db_path(&self) -> PathBuf {
        self.store.sqlite_path(self.account_name())
    }

    /// Whether the account's store exists (its SQLite file or PostgreSQL schema).
    pub fn store_exists(&self) -> bool {
        self.store.exists(self.account_name())
    }

    /// `ok` for a sound store ([`TestStore::integrity`]).
    pub fn integrity(&self) -> String {
        self.store.integrity(self.account_name())
    }

    /// A `SELECT count(*) ...` on the account's store (same SQL on both).
    pub fn count(&self, sql: &str) -> i64 {
        self.store.count(self.account_name(), sql, &[])
    }

    /// The first cell of a query on the account's store ([`TestStore::value`]).
    pub fn value(&self, sql: &str, params: &[&str]) -> Option<String> {
        self.store.value(self.account_name(), sql, params)
    }

    fn token_column(&self, channel: &str, column: &str) -> Option<String> {
        self.value(
            &format!("SELECT {column} FROM tokens WHERE channel = ?1"),
            &[channel],
        )
    }

    /// The refresh token in the store, read straight from its tables.
    pub fn stored_refresh_token(&self, channel: &str) -> Option<String> {
        self.token_column(channel, "refresh_token")
    }

    pub fn stored_access_token(&self, channel: &str) -> Option<String> {
        self.token_column(channel, "access_token")
    }

    /// Whether a token refresh of `channel` is marked as sent and unanswered.
    pub fn refresh_in_flight(&self, channel: &str) -> bool {
        self.token_column(channel, "refresh_in_flight_since")
            .is_some()
    }

    /// Outcome of the last recorded run of `job` (`success`, `failed`, ...).
    pub fn last_outcome(&self, channel: &str, job: &str) -> Option<String> {
        self.value(
            "SELECT outcome FROM run_history WHERE channel = ?1 AND job = ?2 ORDER BY id DESC LIMIT 1",
            &[channel, job],
        )
    }

    /// The whole catalog as stored, by SKU, each row as the protocol's product.
    pub fn catalog(&self) -> BTreeMap<String, sandbox::Product> {
        let rows = self
            .store
            .query(
                self.account_name(),
                "SELECT sku, title, price, currency, quantity, attributes, updated_at, id FROM catalog",
                &[],
            )
            .unwrap_or_else(|e| panic!("catalog query: {e}"));
        let text = |cell: &Option<String>| cell.clone().expect("a NOT NULL column");
        rows.iter()
            .map(|r| {
                let product = sandbox::Product {
                    sku: text(&r[0]),
                    title: text(&r[1]),
                    price: text(&r[2]),
                    currency: text(&r[3]),
                    quantity: text(&r[4]).parse().expect("quantity is an integer"),
                    attributes: serde_json::from_str(&text(&r[5])).expect("attributes are JSON"),
                    updated_at: text(&r[6]),
                    id: r[7].clone(),
                };
                (product.sku.clone(), product)
            })
            .collect()
    }

    /// The catalog as the offers a shop is compared with, by SKU.
    pub fn catalog_offers(&self) -> BTreeMap<String, Offer> {
        self.catalog()
            .into_values()
            .map(|p| (p.sku.clone(), Offer::from(&p)))
            .collect()
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
}

/// The args as a user would type them, for messages.
fn shown(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits for `child` (stdout and stderr piped) at most `limit`, reading its
/// output meanwhile; kills it and fails the test when it takes longer: a
/// hung run must not hang the suite.
fn wait_within(mut child: Child, limit: Duration) -> Output {
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let mut late = None;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().expect("poll oms-channels") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            late = Some(started.elapsed());
            break child.wait().expect("reap oms-channels");
        }
        // Short runs are polled often; long ones cost little either way.
        let pause =
            (started.elapsed() / 20).clamp(Duration::from_micros(200), Duration::from_millis(20));
        std::thread::sleep(pause);
    };
    let out = Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    if let Some(after) = late {
        panic!(
            "oms-channels did not finish within {limit:?} (killed after {after:?}):\n{}",
            describe(&out)
        );
    }
    out
}
