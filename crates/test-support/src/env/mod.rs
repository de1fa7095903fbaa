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
//! Running commands and reading their output is in `run.rs`; the env's
//! files and read-only looks into its store are in `looks.rs`.
//!
//! [`oms_channels_bin`]: crate::oms_channels_bin

mod looks;
mod run;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::output::describe;
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
    /// Where the env's temp dir goes (the system's temp dir by default).
    temp_base: Option<std::path::PathBuf>,
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

    /// Puts the env's temp dir (config, data, home) under `base` instead of
    /// the system's temp dir: for tests that hide `/tmp` from the binary.
    pub fn temp_dir_in(mut self, base: &std::path::Path) -> Self {
        self.temp_base = Some(base.to_path_buf());
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
        let mut root = tempfile::Builder::new();
        root.prefix("oms-channels-test");
        let root = match &self.temp_base {
            Some(base) => root.tempdir_in(base),
            None => root.tempdir(),
        }
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
            temp_base: None,
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

    /// Account [`ACCOUNT`] on `backend` with one channel, [`CHANNEL`], on
    /// `peer`, with these job periods: where most suites start.
    pub fn with_channel(backend: Backend, peer: &dyn Peer, periods: &[(&str, &str)]) -> TestEnv {
        TestEnv::builder()
            .backend(backend)
            .channel(CHANNEL, peer, periods)
            .build()
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

    /// `channel add <id> --type <channel_type> --base-url <base_url>
    /// <auth...>` with auth-refresh every hour: a channel on a server that
    /// is no [`Peer`] (a [`fake_channel`](crate::fake_channel) script, an
    /// HTTPS server, an address nothing listens on).
    pub fn add_channel_at(&self, id: &str, channel_type: &str, base_url: &str, auth: &[&str]) {
        let mut args = vec![
            "channel",
            "add",
            id,
            "--type",
            channel_type,
            "--base-url",
            base_url,
        ];
        args.extend_from_slice(auth);
        self.ok(&args);
        self.ok(["channel", "set-period", id, "auth-refresh", "1h"]);
    }

    /// `channel login <id>` with `token` on stdin.
    pub fn login(&self, id: &str, token: &str) {
        let out = self.run_with_stdin(["channel", "login", id], token);
        assert!(out.status.success(), "login failed:\n{}", describe(&out));
    }

    /// Stores a refresh token for `account`'s oauth2 `channel`, as an
    /// operator's `channel login` does (validate warns about a refresh grant
    /// without one): for the configuration suites, whose envs name the
    /// account in the args.
    pub fn logged_in(&self, account: &str, channel: &str) -> &TestEnv {
        let out = self.run_with_stdin(
            ["--account", account, "channel", "login", channel],
            "rt-test",
        );
        assert!(out.status.success(), "login failed:\n{}", describe(&out));
        self
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_leave_the_callers_setup_behind() {
        let env = TestEnv::builder().var("EXTRA", "1").build();
        let cmd = env.command(["validate"]);
        let set: BTreeMap<String, Option<String>> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        // Whatever of these the caller has exported is removed.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if ["OMS_CHANNELS_", "PG", "XDG_"]
                .iter()
                .any(|p| name.starts_with(p))
                && !set.contains_key(&name)
            {
                panic!("{name} reaches the command");
            }
        }
        assert_eq!(
            set["HOME"].as_deref(),
            Some(env.home_dir().to_str().unwrap())
        );
        assert_eq!(set["EXTRA"].as_deref(), Some("1"));
        assert_eq!(set["NO_COLOR"].as_deref(), Some("1"));
        assert!(set.get("RUST_LOG").is_none_or(Option::is_none));
        assert!(
            set.get("OMS_CHANNELS_STORE").is_none_or(Option::is_none),
            "SQLite: no store variable"
        );
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--config-dir",
                env.config_dir().to_str().unwrap(),
                "--data-dir",
                env.data_dir().to_str().unwrap(),
                "validate"
            ]
        );
        assert!(env.config_dir().join("accounts").is_dir());
        assert!(!env.data_dir().exists(), "the binary makes it, 0700");
    }

    #[test]
    fn secret_vars_are_named_after_their_channel() {
        assert_eq!(TestEnv::secret_var("shop-eu.2"), "TEST_SECRET_SHOP_EU_2");
    }
}
