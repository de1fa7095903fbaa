//! What the kernel counted for one child (exit, wall time, peak RSS, CPU),
//! without unsafe code: the bench starts each timed child through a copy of
//! itself (`bench --measure <report> -- <program> <args>`), the measurer. It
//! has that one child only, so `getrusage(RUSAGE_CHILDREN)` once the child
//! is reaped is exactly the child's; it writes that to the report file and
//! exits. Its wall time runs from spawning the child to reaping it, so the
//! measurer's own start costs no figure anything.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Child, Command, ExitCode};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};

/// The measurer's first argument.
const FLAG: &str = "--measure";

/// How a child ended, from the kernel's accounting.
pub struct Exit {
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    /// From spawning the child to reaping it.
    pub wall: Duration,
    pub max_rss_kb: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
}

/// `command` (program, arguments, environment, working dir) run through
/// the measurer, which reports to `report`; give it stdio as `command`'s.
pub fn wrap(command: &Command, report: &Path) -> Result<Command> {
    let me = std::env::current_exe().context("cannot find the bench's own path")?;
    let mut measured = Command::new(me);
    measured
        .arg(FLAG)
        .arg(report)
        .arg("--")
        .arg(command.get_program())
        .args(command.get_args())
        // Its own process group, so a deadline kills the child with it.
        .process_group(0);
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => measured.env(name, value),
            None => measured.env_remove(name),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        measured.current_dir(dir);
    }
    Ok(measured)
}

/// When this process was started as the measurer: runs the child and
/// returns the exit code to leave with.
pub fn measurer(args: &[OsString]) -> Option<ExitCode> {
    let (flag, rest) = args.split_first()?;
    if flag != FLAG {
        return None;
    }
    Some(match measure(rest) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("bench --measure: {err:#}");
            ExitCode::from(125)
        }
    })
}

fn measure(args: &[OsString]) -> Result<ExitCode> {
    let [report, dashes, program, rest @ ..] = args else {
        bail!("usage: bench --measure <report> -- <program> [args...]");
    };
    ensure!(dashes == "--", "expected `--` after the report path");
    let started = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .status()
        .with_context(|| format!("cannot start `{}`", program.to_string_lossy()))?;
    let wall = started.elapsed();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .context("getrusage")?;
    let micros = |t: nix::sys::time::TimeVal| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec()).unwrap_or(0)
    };
    let code = status
        .code()
        .map_or("signal".to_string(), |c| c.to_string());
    std::fs::write(
        report,
        format!(
            "{code} {} {} {}\n",
            wall.as_micros(),
            usage.max_rss(),
            micros(usage.user_time()) + micros(usage.system_time())
        ),
    )
    .context("cannot write the report")?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::from(128 + u8::try_from(status.signal().unwrap_or(0)).unwrap_or(0)),
    })
}

/// Waits for a measurer started from [`wrap`], killing its process group
/// after `deadline`; returns what it reported.
pub fn wait(child: Child, report: &Path, deadline: Duration) -> Result<Exit> {
    let pid = rustix::process::Pid::from_child(&child);
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(deadline) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!("bench: a child ran past {deadline:?}; killing it");
            // Not reaped before this thread is joined: the group is still ours.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    });
    // Wait without reaping, so the pid stays ours until the watchdog is gone.
    let options = rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT;
    loop {
        match rustix::process::waitid(rustix::process::WaitId::Pid(pid), options) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => bail!("waitid: {err}"),
        }
    }
    drop(done);
    let _ = watchdog.join();
    let mut child = child;
    let status = child.wait().context("reap the measurer")?;
    let text = std::fs::read_to_string(report).with_context(|| {
        format!(
            "the measurer ({status}) wrote no report to {}",
            report.display()
        )
    })?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [code, wall_us, max_rss_kb, cpu_us] = fields[..] else {
        bail!("unexpected measurer report: {text:?}");
    };
    let number = |field: &str| -> Result<u64> {
        field
            .parse()
            .with_context(|| format!("unexpected measurer report: {text:?}"))
    };
    Ok(Exit {
        code: code.parse().ok(),
        wall: Duration::from_micros(number(wall_us)?),
        max_rss_kb: number(max_rss_kb)?,
        cpu: Duration::from_micros(number(cpu_us)?),
    })
}
