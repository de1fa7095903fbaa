//! `TestEnv`: a throwaway config dir and data dir (never the user's real
//! ones) and a builder for `oms-channels` commands that point at them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// The binary under test, built by cargo for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_oms-channels");

/// The environment variable the fixtures name as their client secret source;
/// every command gets it set, so `missing-secret` appears only where a test
/// removes it.
pub const SECRET_VAR: &str = "OMS_CLI_TEST_SECRET";

/// Variables that would leak the caller's setup into a test.
const CLEARED_ENV: [&str; 4] = [
    "OMS_CHANNELS_ACCOUNT",
    "OMS_CHANNELS_CONFIG_DIR",
    "OMS_CHANNELS_DATA_DIR",
    "RUST_LOG",
];

/// A temp config dir (`config/`) and data dir (`data/`), removed on drop.
pub struct TestEnv {
    root: TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let root = tempfile::Builder::new()
            .prefix("oms-channels-test")
            .tempdir()
            .expect("create temp dir");
        std::fs::create_dir_all(root.path().join("config/accounts")).unwrap();
        std::fs::create_dir_all(root.path().join("data")).unwrap();
        TestEnv { root }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// `<config dir>/accounts/<name>.toml`.
    pub fn account_path(&self, name: &str) -> PathBuf {
        self.config_dir()
            .join("accounts")
            .join(format!("{name}.toml"))
    }

    /// A path under the config dir.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.config_dir().join(relative)
    }

    /// Writes an account file (any bytes, so broken files can be tested too).
    pub fn account(&self, name: &str, contents: impl AsRef<[u8]>) -> &TestEnv {
        std::fs::write(self.account_path(name), contents).expect("write account file");
        self
    }

    /// Writes a file under the config dir (`capabilities.toml`, `config.toml`).
    pub fn file(&self, relative: &str, contents: impl AsRef<[u8]>) -> &TestEnv {
        std::fs::write(self.path(relative), contents).expect("write config file");
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

    /// The text of an account file; panics if it is missing or not UTF-8.
    pub fn read_account(&self, name: &str) -> String {
        std::fs::read_to_string(self.account_path(name)).expect("read account file")
    }

    /// Stores a refresh token for an oauth2 channel, as `channel login` does
    /// (validate warns about a refresh grant without one).
    pub fn login(&self, account: &str, channel: &str) -> &TestEnv {
        self.cmd(["--account", account, "channel", "login", channel])
            .write_stdin("rt-test")
            .assert()
            .success();
        self
    }

    /// `oms-channels --config-dir C --data-dir D <args>`, with no account
    /// chosen by the environment and no colour.
    pub fn cmd<I, S>(&self, args: I) -> assert_cmd::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = assert_cmd::Command::from_std(self.std_cmd(args));
        cmd.timeout(std::time::Duration::from_secs(20));
        cmd
    }

    /// The same command as a plain `std::process::Command`, for spawning
    /// several processes at once.
    pub fn std_cmd<I, S>(&self, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("--config-dir")
            .arg(self.config_dir())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env("NO_COLOR", "1")
            .env(SECRET_VAR, "present-but-never-printed");
        for var in CLEARED_ENV {
            cmd.env_remove(var);
        }
        cmd
    }
}
