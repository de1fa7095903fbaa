//! Running the binary in a [`TestEnv`]: to its end within the env's limit
//! (a hung run fails the test instead of hanging it), with stdin, as JSON,
//! as `run-once` rows, or in the background.

use std::ffi::{OsStr, OsString};
use std::io::{Read as _, Write as _};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::TestEnv;
use crate::output::{Rows, assert_no_panic, describe, parse};

impl TestEnv {
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
}

impl TestEnv {
    /// Holds `account`'s run lock the way another `run-once` would (an OS
    /// lock on its lock file, with a note naming this process) until the
    /// file is dropped. SQLite stores only: PostgreSQL holds it in a session.
    pub fn hold_run_lock(&self, account: &str) -> std::fs::File {
        assert_eq!(
            self.store().backend(),
            crate::Backend::Sqlite,
            "the run lock is a file only beside SQLite stores"
        );
        std::fs::create_dir_all(self.data_dir()).expect("create the data dir");
        let mut held = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.data_dir().join(format!("{account}.lock")))
            .expect("open the lock file");
        held.lock().expect("take the run lock");
        writeln!(
            held,
            "pid={} started=2026-11-27T10:00:00Z",
            std::process::id()
        )
        .expect("note the holder");
        held
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
