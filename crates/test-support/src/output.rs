//! What a run printed, as a user reads it: the exit status, stdout and
//! stderr of an [`Output`], `run-once` rows from its `--json` document, and
//! the checks every run must pass (no panic).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A JSON document from stdout; panics, showing the text, when it is none.
pub fn parse(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Status, stdout and stderr, for an assertion message.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// A panic is never an answer, whatever the input.
pub fn assert_no_panic(out: &Output) {
    assert!(
        !stderr(out).contains("panicked"),
        "the binary panicked:\n{}",
        describe(out)
    );
}

/// Whether the process was ended by SIGKILL.
pub fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    out.status.signal() == Some(rustix::process::Signal::KILL.as_raw())
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
    /// The rows of a `run-once --json` document.
    pub fn of(doc: &Value) -> Rows {
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

/// The `channel`/`job` entry of a `status --json` document; panics when
/// there is none.
pub fn status_job<'a>(doc: &'a Value, channel: &str, job: &str) -> &'a Value {
    doc["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["channel"] == channel && j["job"] == job)
        .unwrap_or_else(|| panic!("no {channel}/{job} in {doc:#}"))
}

/// `(channel, job, outcome)` triples for a table-driven comparison.
pub fn expect(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(c, j, o)| (c.to_string(), j.to_string(), o.to_string()))
        .collect()
}

/// Waits (at most `limit`) until `ready` holds; whether it did.
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

/// Every regular file under `dir` and its bytes (none when `dir` is missing).
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
