//! Real read-only file systems for one command: a mount namespace of its
//! own (util-linux `unshare`) in which bind mounts make directories
//! read-only and empty read-only tmpfs mounts hide others (`/tmp`), as under
//! systemd's `ProtectSystem=strict` or Kubernetes' `readOnlyRootFilesystem`.
//! Permission bits would not do: they do not stop root, which the tests may
//! run as. Nothing outside the namespace changes.
//!
//! ```ignore
//! let ns = MountNamespace::new().read_only(&env.data_dir());
//! ns.assert_nothing_writable(&[&env.data_dir()]);
//! let out = env.run_in(&ns, env.command(["status"]));
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::TestEnv;
use crate::output::describe;

/// The mounts a command gets, and the directory it starts in.
#[derive(Clone, Debug, Default)]
pub struct MountNamespace {
    /// Shell commands run in the namespace before the command (`set -e`: a
    /// failed mount fails the run).
    setup: Vec<String>,
    cwd: Option<PathBuf>,
}

/// `'text'` for `sh`.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

impl MountNamespace {
    pub fn new() -> MountNamespace {
        MountNamespace::default()
    }

    /// `dir` keeps its contents and becomes read-only.
    pub fn read_only(mut self, dir: &Path) -> MountNamespace {
        let dir = quoted(dir);
        self.setup.push(format!(
            "mount --bind {dir} {dir}; mount -o remount,ro,bind {dir}"
        ));
        self
    }

    /// An empty read-only file system over `dir`, when it is a directory
    /// (not a link to one): what was there is neither seen nor written.
    pub fn hide(mut self, dir: &Path) -> MountNamespace {
        let dir = quoted(dir);
        self.setup.push(format!(
            "if [ -d {dir} ] && [ ! -L {dir} ]; then mount -t tmpfs -o ro tmpfs {dir}; fi"
        ));
        self
    }

    /// The command starts in `dir` (after the mounts).
    pub fn in_dir(mut self, dir: &Path) -> MountNamespace {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// `cmd` as it would run (program, args, environment), inside the
    /// namespace. Root needs no user namespace; anyone else gets one that
    /// maps them to root inside.
    pub fn wrap(&self, cmd: &Command) -> Command {
        let mut ns = Command::new("unshare");
        if !rustix::process::geteuid().is_root() {
            ns.arg("--map-root-user");
        }
        let mut script = vec!["set -e".to_string()];
        script.extend(self.setup.iter().cloned());
        if let Some(dir) = &self.cwd {
            script.push(format!("cd {}", quoted(dir)));
        }
        script.push("exec \"$0\" \"$@\"".to_string());
        ns.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(script.join("; "))
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (name, value) in cmd.get_envs() {
            match value {
                Some(value) => ns.env(name, value),
                None => ns.env_remove(name),
            };
        }
        ns
    }

    /// Fails the test unless nothing can be written into `dirs` inside the
    /// namespace (as a command will run there: same mounts, same user).
    pub fn assert_nothing_writable(&self, dirs: &[&Path]) {
        let targets: Vec<String> = dirs.iter().map(|d| quoted(d)).collect();
        let mut probe = Command::new("sh");
        probe.args([
            "-c",
            &format!(
                "for d in {}; do if touch \"$d/.probe\" 2>/dev/null; then echo \"$d is writable\"; exit 1; fi; done",
                targets.join(" ")
            ),
        ]);
        let out = self.wrap(&probe).output().unwrap_or_else(|e| {
            panic!("these tests need util-linux `unshare` (apt-get install util-linux): {e}")
        });
        assert!(
            out.status.success(),
            "the mount namespace could not make these read-only (needs root, or unprivileged user namespaces): {}",
            describe(&out)
        );
    }
}

impl TestEnv {
    /// Runs a prepared command (from [`TestEnv::command`]) inside `ns`, to
    /// its end within the env's limit; never a panic.
    pub fn run_in(&self, ns: &MountNamespace, cmd: Command) -> Output {
        self.finish(ns.wrap(&cmd), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_command_keeps_its_program_args_and_environment() {
        let mut cmd = Command::new("/bin/echo");
        cmd.arg("it's").env("KEEP", "1").env_remove("DROP");
        let ns = MountNamespace::new()
            .read_only(Path::new("/data dir"))
            .hide(Path::new("/tmp"))
            .in_dir(Path::new("/work"));
        let wrapped = ns.wrap(&cmd);
        assert_eq!(wrapped.get_program(), "unshare");
        let args: Vec<String> = wrapped
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let script = &args[args.iter().position(|a| a == "-c").unwrap() + 1];
        assert!(script.starts_with("set -e; mount --bind '/data dir' '/data dir'; "));
        assert!(script.contains("mount -t tmpfs -o ro tmpfs '/tmp'"));
        assert!(script.ends_with("; cd '/work'; exec \"$0\" \"$@\""));
        assert_eq!(args[args.len() - 2..], ["/bin/echo", "it's"]);
        let envs: Vec<_> = wrapped.get_envs().collect();
        assert!(envs.contains(&("KEEP".as_ref(), Some("1".as_ref()))));
        assert!(envs.contains(&("DROP".as_ref(), None)));
    }
}
