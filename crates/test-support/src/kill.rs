//! Stopping a run on purpose, the way the world stops it: at a named crash
//! point inside the binary (`OMS_CHANNELS_TEST_CRASH_AT`, see `src/crash.rs`:
//! SIGKILL there, or SIGTERM with `<point>:term`), or from outside at a
//! random moment, with SIGKILL or SIGTERM. A loop stops a run, starts the
//! next one at once, and reads back what the store and the shop hold:
//!
//! ```ignore
//! for i in 0..10 {
//!     let stop = if i % 2 == 0 { Stop::Kill } else { Stop::Term };
//!     env.stop_after(&export, random_delay(run_time), stop);
//!     let listing = peer.read_back();
//!     listing.assert_sound(peer.currency(), &format!("stop #{i}"));
//! }
//! ```

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt as _;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::TestEnv;
use crate::output::{assert_no_panic, killed};

/// The variable that makes the binary stop itself at a named point.
pub const CRASH_AT: &str = "OMS_CHANNELS_TEST_CRASH_AT";

/// How a run is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL: nothing of the process runs after it (OOM killer, power cut).
    Kill,
    /// SIGTERM: the clean stop of `systemctl stop`, a deadline or Ctrl-C.
    Term,
}

impl Stop {
    fn signal(self) -> rustix::process::Signal {
        match self {
            Stop::Kill => rustix::process::Signal::KILL,
            Stop::Term => rustix::process::Signal::TERM,
        }
    }
}

/// What a stop left behind.
#[derive(Debug)]
pub struct Stopped {
    pub output: Output,
    /// Whether the run was still going when the stop arrived (false: it had
    /// finished, and the stop changed nothing).
    pub mid_run: bool,
}

impl Stopped {
    /// Whether the process ended by the stop's signal (a SIGTERM'd run that
    /// stops cleanly exits 143 instead: see [`Stopped::mid_run`]).
    pub fn by_signal(&self) -> bool {
        self.output.status.signal().is_some()
    }
}

/// A random delay in `0..max`.
pub fn random_delay(max: Duration) -> Duration {
    Duration::from_micros(fastrand::u64(0..max.as_micros().max(1) as u64))
}

impl TestEnv {
    /// Runs `args` with the crash point `point` set: the binary SIGKILLs
    /// itself there. Returns whether it died there (false: it finished
    /// without reaching the point) and what it printed.
    pub fn run_killed_at<I, S>(&self, point: &str, args: I) -> (bool, Output)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(args);
        cmd.env(CRASH_AT, point);
        let out = self.finish(cmd, None);
        (killed(&out), out)
    }

    /// Runs `args` with SIGTERM sent to itself at `point` (once): the run
    /// stops there as cleanly as it can.
    pub fn run_terminated_at<I, S>(&self, point: &str, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(args);
        cmd.env(CRASH_AT, format!("{point}:term"));
        self.finish(cmd, None)
    }

    /// SIGKILLs a run after `delay`; returns whether the kill landed
    /// mid-run (false: it had already finished) and what it printed.
    pub fn kill_after<I, S>(&self, args: I, delay: Duration) -> (bool, Output)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let stopped = self.stop_after(args, delay, Stop::Kill);
        (stopped.mid_run && killed(&stopped.output), stopped.output)
    }

    /// Starts `args`, stops it with `stop` after `delay`, and waits for it
    /// to end. A SIGTERM'd run gets the env's run limit to stop cleanly.
    pub fn stop_after<I, S>(&self, args: I, delay: Duration, stop: Stop) -> Stopped
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = self.spawn(args);
        let started = Instant::now();
        let mut mid_run = true;
        while started.elapsed() < delay {
            if matches!(child.try_wait(), Ok(Some(_))) {
                mid_run = false;
                break;
            }
            let left = delay.saturating_sub(started.elapsed());
            std::thread::sleep(left.min(Duration::from_millis(2)));
        }
        if mid_run && matches!(child.try_wait(), Ok(None)) {
            // Not reaped yet, so the pid is still this child's.
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, stop.signal());
        } else {
            mid_run = false;
        }
        let output = child.wait_with_output().expect("the stopped run is reaped");
        assert_no_panic(&output);
        Stopped { output, mid_run }
    }
}
