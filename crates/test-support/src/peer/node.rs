//! The npm projects of the real-server peers (`tests/peers/<name>/`),
//! installed once per content of their files into
//! `target/peers/<name>/<hash>/` (`npm ci` from the committed lockfile into a
//! staging dir renamed into place; a file lock keeps concurrent test
//! processes from installing twice), so reruns take seconds. Nothing is
//! downloaded but npm packages: node-gyp uses the machine's Node headers.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// One peer's npm project.
pub(crate) struct NodeProject {
    /// `vendure`, `medusa`: the dir under `tests/peers/` and `target/peers/`.
    pub name: &'static str,
    /// The project's files; their names and contents key the cache.
    pub files: &'static [&'static str],
    /// A file under the install that exists once `npm ci` finished.
    pub installed_marker: &'static str,
    /// The Node.js versions the server runs on (`node --version`'s text).
    pub node_supported: fn(&str) -> bool,
    /// What to tell a user whose Node.js is not one of them.
    pub node_wanted: &'static str,
}

impl NodeProject {
    /// `tests/peers/<name>` in the source tree.
    pub fn source_dir(&self) -> PathBuf {
        crate::repo_root().join("tests/peers").join(self.name)
    }

    /// `target/peers/<name>`: the installs, their lock, the peers' `HOME`.
    pub fn cache_dir(&self) -> PathBuf {
        crate::target_dir().join("peers").join(self.name)
    }

    /// The installed project dir (its `node_modules` inside), installing it
    /// first when this content was never installed. Panics naming what to
    /// install when node or npm is missing or too old.
    pub fn install(&self) -> PathBuf {
        check_node(self);
        let source = self.source_dir();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for name in self.files {
            let bytes = std::fs::read(source.join(name))
                .unwrap_or_else(|e| panic!("read {}: {e}", source.join(name).display()));
            for byte in name.bytes().chain(bytes) {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        let cache = self.cache_dir();
        std::fs::create_dir_all(&cache).expect("create the peer cache dir");
        let project = cache.join(format!("{hash:016x}"));
        if project.join(self.installed_marker).exists() {
            return project;
        }
        // Other test processes may install at the same time: one at a time.
        let lock = File::create(cache.join("install.lock")).expect("the install lock file");
        lock.lock().expect("lock the peer install");
        if project.join(self.installed_marker).exists() {
            return project;
        }
        let staging = cache.join(format!("{hash:016x}.partial"));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).expect("create the install dir");
        for name in self.files {
            std::fs::copy(source.join(name), staging.join(name)).expect("copy the peer project");
        }
        eprintln!(
            "installing the {} peer into {} (npm ci, once per lockfile)",
            self.name,
            project.display()
        );
        let started = Instant::now();
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&staging)
            .envs(node_env(&cache))
            .stdin(Stdio::null())
            .output()
            .expect("run npm ci");
        check(&out, &format!("npm ci (installing the {} peer)", self.name));
        let _ = std::fs::remove_dir_all(&project);
        std::fs::rename(&staging, &project).expect("move the installed peer into place");
        eprintln!(
            "installed the {} peer in {:.0?}",
            self.name,
            started.elapsed()
        );
        project
    }
}

/// Node's environment for installs and servers: its own `HOME` (npm writes
/// `$HOME/.npm`, Medusa's CLI `$HOME/.config`, swc `$HOME/.cache`), headers
/// from the machine's Node (nothing from nodejs.org), no telemetry.
pub(crate) fn node_env(cache: &Path) -> Vec<(&'static str, String)> {
    let home = cache.join("home");
    std::fs::create_dir_all(&home).expect("create the peer's HOME");
    vec![
        ("HOME", home.display().to_string()),
        ("npm_config_nodedir", "/usr".into()),
        ("npm_config_update_notifier", "false".into()),
        ("VENDURE_DISABLE_TELEMETRY", "true".into()),
        ("MEDUSA_DISABLE_TELEMETRY", "true".into()),
    ]
}

fn check_node(project: &NodeProject) {
    for (tool, package) in [("node", "nodejs"), ("npm", "npm")] {
        let found = Command::new(tool)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "the {} peer needs `{tool}` ({}) on PATH: install it with `apt-get install {package}`",
            project.name, project.node_wanted
        );
    }
    let version = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert!(
        (project.node_supported)(&version),
        "the {} peer needs {}, but `node --version` says `{version}`: install a newer Node.js",
        project.name,
        project.node_wanted
    );
}

/// `(major, minor)` of `node --version`'s `v20.19.1`.
pub(crate) fn node_version(version: &str) -> (u32, u32) {
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

pub(crate) fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed with {}\nstdout (end): {}\nstderr (end): {}",
        out.status,
        last_chars(&String::from_utf8_lossy(&out.stdout), 4000),
        last_chars(&String::from_utf8_lossy(&out.stderr), 4000),
    );
}

pub(crate) fn last_chars(text: &str, n: usize) -> String {
    let start = text.char_indices().rev().nth(n).map_or(0, |(i, _)| i);
    text[start..].to_string()
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}
