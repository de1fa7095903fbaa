//! A throwaway PostgreSQL cluster for the tests that need a real server (the
//! Vendure and Medusa peers, a PostgreSQL store): the machine's postgresql-15
//! binaries, a data dir in a temp dir, `fsync=off`, listening on 127.0.0.1 on
//! a free port and on a unix socket in the temp dir. It owns only that temp
//! dir and the server it starts.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root the
//! server runs as the `postgres` user (`runuser -u postgres`), which owns the
//! data dir, the socket dir and the log.
//!
//! A watchdog shell process holds the read end of a pipe whose write end
//! lives in the test process: when the cluster is dropped, or the test
//! process exits in any way (statics such as [`PgCluster::shared`] are never
//! dropped), the pipe closes and the watchdog stops the server
//! (`pg_ctl stop -m immediate`) and removes the temp dir.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the server binaries are unless `OMS_TEST_PG_BIN` says otherwise.
pub const DEFAULT_PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The dir of the PostgreSQL server binaries (`OMS_TEST_PG_BIN`, else
/// [`DEFAULT_PG_BIN`]).
pub fn bin_dir() -> PathBuf {
    std::env::var_os("OMS_TEST_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PG_BIN))
}

/// The database superuser of every test cluster (trust auth, loopback only).
pub const SUPERUSER: &str = "postgres";

/// A running PostgreSQL cluster in a temp dir; dropping it stops the server
/// and removes the dir.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// `runuser -u postgres --` when the tests run as root, else empty.
    run_as: Vec<String>,
    /// Closing it tells the watchdog to stop the server and remove `dir`.
    watchdog_pipe: Option<ChildStdin>,
    watchdog: Child,
}

impl PgCluster {
    /// The cluster shared by every test of this process, started on first use.
    /// Give each test its own database ([`PgCluster::create_database`]).
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(PgCluster::start)
    }

    /// Starts a fresh cluster. Panics, naming what to install or what failed,
    /// when PostgreSQL 15 is missing or the server does not start.
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        for tool in ["initdb", "pg_ctl", "postgres", "psql"] {
            assert!(
                bin.join(tool).is_file(),
                "PostgreSQL 15 is required for this test but `{}` is missing: \
                 install it with `apt-get install postgresql-15` \
                 (or set OMS_TEST_PG_BIN to a dir with initdb, pg_ctl, postgres and psql)",
                bin.join(tool).display()
            );
        }
        let run_as = if is_root() {
            vec!["runuser".into(), "-u".into(), SUPERUSER.into(), "--".into()]
        } else {
            Vec::new()
        };
        let dir = fresh_dir();
        let owner = if is_root() {
            Some(postgres_ids())
        } else {
            None
        };
        for sub in ["data", "sock"] {
            std::fs::create_dir(dir.join(sub)).expect("create pg dir");
        }
        std::fs::write(dir.join("log"), b"").expect("create pg log");
        if let Some((uid, gid)) = owner {
            for sub in ["data", "sock", "log"] {
                std::os::unix::fs::chown(dir.join(sub), Some(uid), Some(gid))
                    .expect("chown pg dir to the postgres user");
            }
        }
        std::fs::set_permissions(dir.join("data"), std::fs::Permissions::from_mode(0o700))
            .expect("chmod data dir");

        // The watchdog first, so a failed start still cleans up.
        let mut watchdog = spawn_watchdog(&bin, &dir, &run_as);
        let watchdog_pipe = watchdog.stdin.take();
        let mut cluster = PgCluster {
            bin,
            dir,
            port: 0,
            run_as,
            watchdog_pipe,
            watchdog,
        };

        let data = cluster.dir.join("data");
        let initdb = cluster.run_as_owner("initdb", |cmd| {
            cmd.arg("-D")
                .arg(&data)
                .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8"])
                .args(["--locale=C", "--no-sync"]);
        });
        check(&initdb, "initdb");

        // A free port can be taken between our probe and the server's bind:
        // try a few.
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                port = cluster.port,
                sock = cluster.dir.join("sock").display(),
            );
            let log = cluster.dir.join("log");
            let started = cluster.run_as_owner("pg_ctl", |cmd| {
                cmd.arg("start")
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(&log)
                    .args(["-w", "-t", "60", "-o"])
                    .arg(&options);
            });
            if started.status.success() {
                return cluster;
            }
            last = Some(started);
        }
        let log = std::fs::read_to_string(cluster.dir.join("log")).unwrap_or_default();
        panic!(
            "PostgreSQL did not start in {}:\n{}\nserver log:\n{log}",
            cluster.dir.display(),
            describe(last.as_ref().expect("tried at least once"))
        );
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The dir holding the server's unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// A connection URL for database `db` as the superuser, over loopback TCP.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database `name`. Panics with psql's message on failure.
    pub fn create_database(&self, name: &str) {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "test database names are lower-case letters, digits and `_`: `{name}`"
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
    }

    /// A database name no other test of this run uses, created empty.
    pub fn fresh_database(&self, prefix: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.create_database(&name);
        name
    }

    /// Runs `sql` in database `db` through `psql` and returns its unaligned,
    /// tuples-only output. Panics with psql's message on failure.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg("-d")
            .arg(self.url(db))
            .arg("-c")
            .arg(sql)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("run psql");
        check(&out, &format!("psql `{sql}` on database `{db}`"));
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    fn run_as_owner(&self, tool: &str, args: impl FnOnce(&mut Command)) -> Output {
        let program = self.bin.join(tool);
        let mut cmd = match self.run_as.split_first() {
            Some((first, rest)) => {
                let mut cmd = Command::new(first);
                cmd.args(rest).arg(&program);
                cmd
            }
            None => Command::new(&program),
        };
        args(&mut cmd);
        // pg_ctl's server keeps the stdout/stderr it inherits: give it none,
        // so a test harness reading our output never waits on it.
        cmd.stdin(Stdio::null())
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // EOF on the watchdog's stdin: it stops the server and removes the dir.
        drop(self.watchdog_pipe.take());
        let _ = self.watchdog.wait();
    }
}

/// `sh` reading its stdin until EOF, then stopping the server and removing
/// the dir. Its own process group, so a Ctrl-C aimed at the test run does
/// not kill it before it has cleaned up.
fn spawn_watchdog(bin: &Path, dir: &Path, run_as: &[String]) -> Child {
    let script = r#"
        cat >/dev/null
        if [ -f "$DIR/data/postmaster.pid" ]; then
            $RUN_AS "$BIN/pg_ctl" stop -D "$DIR/data" -m immediate -w -t 30 >/dev/null 2>&1
        fi
        rm -rf "$DIR"
    "#;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env("DIR", dir)
        .env("BIN", bin)
        .env("RUN_AS", run_as.join(" "))
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn the PostgreSQL watchdog (sh)");
    // Nothing is ever written; the pipe only signals our exit by closing.
    let _ = child.stdin.as_mut().expect("watchdog stdin").flush();
    child
}

fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "oms-pg-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create pg temp dir");
    // The postgres user must be able to enter it.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .expect("chmod pg temp dir");
    dir
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The uid and gid of the `postgres` user (the postgresql-15 package makes it).
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, SUPERUSER])
            .output()
            .expect("run id");
        assert!(
            out.status.success(),
            "the tests run as root, so PostgreSQL must run as the `{SUPERUSER}` user, \
             which does not exist: install `postgresql-15` (apt-get install postgresql-15)"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    (id("-u"), id("-g"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

fn check(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed:\n{}", describe(out));
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throwaway_cluster_answers_queries_and_is_gone_after_drop() {
        let cluster = PgCluster::start();
        cluster.create_database("smoke");
        assert_eq!(cluster.psql("smoke", "SELECT 40 + 2"), "42");
        assert_eq!(
            cluster.psql("smoke", "SHOW fsync"),
            "off",
            "a throwaway cluster never fsyncs"
        );
        let port = cluster.port();
        assert!(
            cluster
                .socket_dir()
                .join(format!(".s.PGSQL.{port}"))
                .exists(),
            "the server also listens on a unix socket in its temp dir"
        );
        let dir = cluster.dir.clone();
        drop(cluster);
        assert!(!dir.exists(), "the temp dir {} is removed", dir.display());
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens on port {port} after drop"
        );
    }

    #[test]
    fn the_shared_cluster_gives_each_test_its_own_database() {
        let cluster = PgCluster::shared();
        let a = cluster.fresh_database("pg_shared");
        let b = cluster.fresh_database("pg_shared");
        assert_ne!(a, b);
        cluster.psql(&a, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
        assert_eq!(cluster.psql(&a, "SELECT count(*) FROM t"), "1");
        assert_eq!(
            cluster.psql(&b, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"),
            "0"
        );
    }
}
